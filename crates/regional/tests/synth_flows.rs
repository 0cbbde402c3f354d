//! On a small synthetic 三重県 data set, the inter-area acute-care flows that
//! `regional` computes agree with the rates the generator was configured with
//! (`truth.json`, `geography.acute_flow[].probability`, which come from the
//! MHLW NDB outflow rates).
//!
//! Every admission's destination 構想区域 is an independent draw from its
//! residence zone's distribution, so for a zone with n admissions the observed
//! share of a destination is binomial: the test allows 4 standard errors
//! (√(p(1−p)/n)) plus 1/n for discreteness, which a correct implementation
//! fails by chance with probability below 1e-4 per comparison.
//!
//! The same raw matrix is also computed independently with pandas
//! (`crosscheck_flows.py`) and must agree cell by cell; a missing python3 or
//! pandas is a failure (scripts/test.sh installs them).

use std::collections::HashMap;
use std::io::BufRead;

use regional::measure::{self, Filter, Setting, Source};
use regional::{AreaModel, Count, Dataset, DiseaseGroup, Level, Policy, Tables};

#[test]
fn synthetic_acute_flows_match_the_configured_rates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = synth::Config {
        patients: 2_000,
        seed: 11,
        out: dir.path().to_path_buf(),
        years: (2016, 2024),
        formats: "fhir".parse().expect("formats"),
        ..synth::Config::default()
    };
    synth::generate(&cfg, &mut |_| {}).expect("generate");
    let fhir = dir.path().join("fhir");
    let tables = Tables::from_resources(&mut |ty, push| {
        let p = fhir.join(format!("{ty}.ndjson"));
        if !p.exists() {
            return Ok(());
        }
        let f = std::fs::File::open(&p).map_err(|e| regional::Error::Invalid(e.to_string()))?;
        for line in std::io::BufReader::new(f).lines() {
            push(line.map_err(|e| regional::Error::Invalid(e.to_string()))?)?;
        }
        Ok(())
    })
    .expect("views");
    let model = AreaModel::mie().expect("model");
    let ds = Dataset::build(&tables, &model).expect("dataset");
    assert_eq!(ds.residence_resolution.unknown, 0, "synth addresses all carry the municipality code");
    let filter = Filter { disease: DiseaseGroup::parse("all").expect("all"), setting: Setting::Inpatient, from: None, to: None };
    // Internal check on raw counts (threshold 1).
    let r = measure::flows(&ds, &model, Level::Kosoku, &filter, Source::Encounters, Policy { threshold: 1 });
    assert_eq!(r.unknown.residence_records, Count::Value(0));
    assert_eq!(r.unknown.facility_records, Count::Value(0));

    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).expect("truth")).expect("json");
    let mut expected: HashMap<(String, String), f64> = HashMap::new();
    for f in truth["geography"]["acute_flow"].as_array().expect("flows") {
        let p = f["probability"].as_f64().expect("p");
        expected.insert((f["from"].as_str().expect("from").into(), f["to"].as_str().expect("to").into()), p);
    }
    let nc = r.cols.len();
    let mut compared = 0;
    let mut admissions = 0;
    for (i, row) in r.rows.iter().enumerate() {
        let n = r.records.row_totals[i].value().expect("raw");
        if n == 0 {
            continue;
        }
        admissions += n;
        let n = n as f64;
        for (j, col) in r.cols.iter().enumerate() {
            let k = r.records.cells[i * nc + j].value().expect("raw") as f64;
            let p = expected.get(&(row.code.clone(), col.code.clone())).copied().unwrap_or(0.0);
            let tol = 4.0 * (p * (1.0 - p) / n).sqrt() + 1.0 / n;
            assert!((k / n - p).abs() <= tol, "{} → {}: observed {k}/{n} = {:.4}, configured {p:.4}, tolerance {tol:.4}", row.name, col.name, k / n);
            compared += 1;
        }
        // And every configured destination was seen as a column.
        for ((from, to), p) in &expected {
            if *from == row.code && *p > 0.0 {
                assert!(r.cols.iter().any(|c| c.code == *to) || *p * n < 3.0, "{from} → {to} never seen with p = {p}");
            }
        }
    }
    assert!(admissions > 300, "too few admissions for the check: {admissions}");
    assert!(compared >= 8 * 8, "{compared}");
    // The zone with the largest outflow in the published data (東紀州 → 新宮 and others)
    // really flows out: 自給率 below 1.
    let hk = r.records.areas.iter().find(|a| a.area.code == "2412").expect("東紀州");
    assert!(hk.self_sufficiency.expect("rate") < 0.95);

    // Independent implementation (pandas): every cell, patients and encounters.
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/crosscheck_flows.py");
    let table = dir.path().join("mie.csv");
    std::fs::write(&table, areas::MIE_AREA_MUNICIPALITIES).expect("table");
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
    let out = std::process::Command::new(&python)
        .arg(script)
        .arg(&fhir)
        .arg(&table)
        .output()
        .unwrap_or_else(|e| panic!("FAILED to run `{python}` ({e}); the cross-check needs python3 with pandas (scripts/test.sh installs it)"));
    assert!(out.status.success(), "cross-check script failed: {}", String::from_utf8_lossy(&out.stderr));
    let cells: Vec<(String, String, u64, u64)> = serde_json::from_slice(&out.stdout).expect("script output");
    let mut checked = 0;
    for (res, care, patients, encounters) in &cells {
        let i = r.rows.iter().position(|x| x.code == *res).unwrap_or_else(|| panic!("row {res}"));
        let j = r.cols.iter().position(|x| x.code == *care).unwrap_or_else(|| panic!("col {care}"));
        assert_eq!(r.patients.cells[i * nc + j], Count::Value(*patients), "{res} → {care} patients");
        assert_eq!(r.records.cells[i * nc + j], Count::Value(*encounters), "{res} → {care} encounters");
        checked += 1;
    }
    let nonzero = r.records.cells.iter().filter(|c| c.value() != Some(0)).count();
    assert_eq!(checked, nonzero, "pandas and regional see the same non-empty cells");
}
