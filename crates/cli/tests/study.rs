//! `medtwin study run` end to end: synthetic data with known effects, the
//! shipped studies, the report files, and clear errors for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

fn medtwin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_medtwin"));
    c.env_remove("MEDTWIN_DATA").env("MEDTWIN_SYNC", "normal");
    c
}

fn run(args: &[&str]) -> Output {
    medtwin().args(args).output().expect("run medtwin")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// Synthetic parameters that make the PCI cohort and heart-failure admissions
/// large enough for useful intervals in a test-sized population, and the data
/// small: only people aged 45 or more, coronary events 12 times and heart
/// failure 4 times as frequent, every PCI patient on a statin (so the first
/// PCI with a statin in the data is the cohort's index), one follow-up visit a
/// year, no minor or dental visits and no case reports. The outcome model
/// (baseline rates, covariate effects, true hazard ratios 0.75 for MI and
/// 1.30 for stroke) stays the generator's default. Starts from the
/// generator's own defaults, read from the `truth.json` of a one-person run.
fn test_params(defaults: &Value) -> Value {
    let mut p = defaults.clone();
    for (k, group) in p["age_pyramid"].as_array_mut().expect("pyramid").iter_mut().enumerate() {
        if k < 9 {
            *group = serde_json::json!([0.0, 0.0]);
        }
    }
    for inc in p["incidence"].as_array_mut().expect("incidence") {
        let boost = match inc["cond"].as_str().expect("cond") {
            "acs" | "ccs" => 12.0,
            "heart_failure" => 4.0,
            _ => 1.0,
        };
        for sex in ["male", "female"] {
            for r in inc["per_1000_py"][sex].as_array_mut().expect("rates") {
                *r = serde_json::json!(r.as_f64().expect("rate") * boost);
            }
        }
    }
    p["pci"]["statin_prescribed"] = serde_json::json!(1.0);
    for k in ["minor_visits_per_year", "dental_visits_per_year", "other_acute_per_1000_py", "case_report_fraction"] {
        p[k] = serde_json::json!(0.0);
    }
    p["followup_interval_months"] = serde_json::json!(12);
    p
}

/// One synthetic data set shared by the tests of this file (generated once).
/// It lives in Cargo's per-target temporary directory, emptied at the start of
/// each run: a `static` is never dropped, so a `TempDir` here would leave a
/// copy of the data set in /tmp after every run.
fn synth_data() -> &'static PathBuf {
    static DATA: OnceLock<PathBuf> = OnceLock::new();
    DATA.get_or_init(|| {
        let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("study-synth");
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("fixture dir");
        let probe = d.join("probe");
        let o = run(&["synth", "--patients", "1", "--formats", "fhir", "--out", s(&probe)]);
        assert!(o.status.success(), "synth: {}", text(&o.stderr));
        let truth: Value = serde_json::from_str(&std::fs::read_to_string(probe.join("truth.json")).expect("truth")).expect("json");
        let params = d.join("params.json");
        std::fs::write(&params, test_params(&truth["params"]).to_string()).expect("params");
        let out = d.join("synth");
        let o = run(&[
            "synth", "--patients", PATIENTS, "--seed", SEED, "--years", "2013-2024", "--formats", "fhir",
            "--params", s(&params), "--out", s(&out),
        ]);
        assert!(o.status.success(), "synth: {}", text(&o.stderr));
        eprintln!("{}", text(&o.stdout));
        out
    })
}

/// The seed of the shared data set. Any seed gives a data set in which the
/// truth lies inside a 95% interval with probability 0.95 per estimate; with
/// seed 11, for example, even a Cox model on the generator's own per-patient
/// truth (`truth_pci_cohort.ndjson`, every true covariate) puts the stroke HR
/// at 1.74 (1.36-2.23), so that data set cannot show recovery. Seed 12 is one
/// where the truth-file model covers both true HRs.
const SEED: &str = "12";

/// People in the shared synthetic data set (about 3,000 PCI patients and
/// 3,000 heart-failure admissions with [`test_params`]).
const PATIENTS: &str = "6000";

fn study_file(name: &str) -> PathBuf {
    repo().join("studies").join(name)
}

fn results(dir: &Path) -> Value {
    let t = std::fs::read_to_string(dir.join("results.json")).expect("results.json");
    serde_json::from_str(&t).expect("results.json is JSON")
}

#[test]
fn statin_study_recovers_the_configured_hazard_ratios_and_the_naive_comparison_does_not() {
    let data = synth_data();
    let out = tempfile::tempdir().expect("tmp");
    let o = run(&[
        "study", "run", s(&study_file("statin-intensity.json")), "--input", s(&data.join("fhir")),
        "--out", s(out.path()), "--write-table",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r = results(out.path());
    let truth: Value = serde_json::from_str(&std::fs::read_to_string(data.join("truth.json")).expect("truth")).expect("json");
    let hr_truth = &truth["studies"]["pci_cohort"]["true_hazard_ratio_high_vs_moderate"];
    eprintln!("{}", text(&o.stdout));
    for (name, key) in [("mi", "myocardial_infarction"), ("stroke", "stroke")] {
        let want = hr_truth[key].as_f64().expect("true HR");
        let o = r["outcomes"].as_array().expect("outcomes").iter().find(|o| o["name"] == name).expect("outcome");
        let ci = |m: &str| {
            let c = &o["hazard_ratio"][m]["ci"];
            (c[0].as_f64().expect("lo"), c[1].as_f64().expect("hi"))
        };
        let (lo, hi) = ci("adjusted");
        assert!(lo <= want && want <= hi, "{name}: matched HR CI {lo:.3}-{hi:.3} should contain {want}");
        let (lo, hi) = ci("unadjusted");
        assert!(!(lo <= want && want <= hi), "{name}: naive HR CI {lo:.3}-{hi:.3} should miss {want} (confounding)");
    }
    // Matching balanced the confounders.
    for b in r["balance"].as_array().expect("balance") {
        let after = b["after"]["smd"].as_f64().expect("smd").abs();
        assert!(after < 0.1, "{}: SMD after matching {after}", b["covariate"]);
    }
    assert!(r["balance"].as_array().expect("balance").iter().any(|b| b["before"]["smd"].as_f64().expect("smd").abs() > 0.2));
    // The cohort agrees with the generator's list of PCI cohort members.
    let members = truth["studies"]["pci_cohort"]["members"].as_u64().expect("members");
    let rows = r["rows"].as_u64().expect("rows");
    assert!(rows as f64 > 0.97 * members as f64 && rows <= members, "{rows} rows vs {members} cohort members");

    // The report: every file, Japanese labels, the plots and the same numbers as results.json.
    for f in ["report.html", "results.json", "balance.csv", "hazard_ratios.csv", "km_mi.csv", "km_stroke.csv", "at_risk_mi.csv", "cohort.csv"] {
        assert!(out.path().join(f).is_file(), "{f} missing");
    }
    let html = std::fs::read_to_string(out.path().join("report.html")).expect("html");
    assert!(html.contains("<html lang=\"ja\">") && html.contains("ハザード比") && html.contains("リスク集合の人数"));
    assert_eq!(html.matches("class=\"km-curve\"").count(), 4, "two curves per outcome");
    assert!(html.contains("class=\"censor\"") && html.contains("id=\"love-plot\""));
    let mi = &r["outcomes"][0];
    let hr = mi["hazard_ratio"]["adjusted"]["hr"].as_f64().expect("hr");
    assert!(html.contains(&format!("{hr:.2} (95% CI")), "adjusted HR {hr:.2} in the page");
    // Numbers at risk per year under the plot: year 0 is the matched group size.
    let n0 = mi["km"][0]["at_risk"][0]["at_risk"].as_f64().expect("n at risk");
    assert_eq!(n0 as u64, r["cohort"]["adjusted"]["reference"].as_u64().expect("n"));
    assert!(html.contains(&format!("class=\"at-risk\">{}</text>", n0 as u64)));
    assert_eq!(mi["km"][0]["at_risk"].as_array().expect("years").len(), 6, "years 0-5");
    let csv = std::fs::read_to_string(out.path().join("hazard_ratios.csv")).expect("csv");
    assert!(csv.lines().any(|l| l.starts_with("mi,adjusted,") && l.contains(&format!("{hr}"))), "{csv}");
}

#[test]
fn heart_failure_mortality_by_nyha_class_matches_the_configured_rates() {
    let data = synth_data();
    let out = tempfile::tempdir().expect("tmp");
    let o = run(&[
        "study", "run", s(&study_file("heart-failure-mortality.json")), "--input", s(&data.join("fhir")),
        "--out", s(out.path()), "--lang", "en",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r = results(out.path());
    // Expected: the mean model probability of the admissions in each class
    // (they depend on age); also the realised in-hospital deaths.
    let truth = std::fs::read_to_string(data.join("truth_hf_admissions.ndjson")).expect("truth");
    let mut expect = [[0.0f64; 3]; 4];
    let mut died_in_hospital = [0u64; 4];
    for line in truth.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("json");
        let v = &v["truth"];
        let k = v["nyha"].as_u64().expect("nyha") as usize - 1;
        expect[k][0] += 1.0;
        expect[k][1] += v["p_in_hospital"].as_f64().expect("p");
        expect[k][2] += v["p_30d"].as_f64().expect("p");
        died_in_hospital[k] += u64::from(v["died_in_hospital"].as_bool().expect("died"));
    }
    let classes = ["I", "II", "III", "IV"];
    for (oi, name) in [(1, "in_hospital"), (2, "death_30d")] {
        let o = r["outcomes"].as_array().expect("outcomes").iter().find(|o| o["name"] == name).expect("outcome");
        let rows = o["rates"].as_array().expect("rates");
        let mut props = Vec::new();
        for (k, c) in classes.iter().enumerate() {
            let row = rows.iter().find(|x| x["group"] == *c).expect("class row");
            let want = expect[k][oi] / expect[k][0];
            let (lo, hi) = (row["ci"][0].as_f64().expect("lo"), row["ci"][1].as_f64().expect("hi"));
            let n = row["n"].as_f64().expect("n");
            assert!((n - expect[k][0]).abs() <= 0.02 * expect[k][0] + 2.0, "{name} NYHA {c}: {n} admissions vs {} in the truth", expect[k][0]);
            assert!(lo <= want && want <= hi, "{name} NYHA {c}: expected {want:.4} outside the CI {lo:.4}-{hi:.4}");
            if name == "in_hospital" {
                // The data stage finds exactly the admissions that ended in death.
                assert_eq!(row["events"].as_u64(), Some(died_in_hospital[k]), "NYHA {c}: in-hospital deaths");
            }
            props.push(row["proportion"].as_f64().expect("p"));
        }
        assert!(props.windows(2).all(|w| w[0] < w[1]) || props[3] > 2.0 * props[0], "{name}: mortality rises with class {props:?}");
    }
    let html = std::fs::read_to_string(out.path().join("report.html")).expect("html");
    assert!(html.contains("<html lang=\"en\">") && html.contains("NYHA class") && html.contains("In-hospital death"));
    assert!(out.path().join("rates.csv").is_file());
}

/// A one-patient input and a study whose table comes from SQL `VALUES`, so each
/// error case controls its table exactly.
fn error_case(table_sql: &str, covariates: &[&str], expect: &str) {
    let d = tempfile::tempdir().expect("tmp");
    let input = d.path().join("fhir");
    std::fs::create_dir(&input).expect("input");
    std::fs::write(input.join("Patient.ndjson"), r#"{"resourceType":"Patient","id":"p1","gender":"male"}"#).expect("input");
    let covs: Vec<String> = covariates.iter().map(|c| format!(r#"{{"column": "{c}"}}"#)).collect();
    let study = format!(
        r#"{{"name": "err", "title": "E",
          "data": {{"views": [{{"resourceType": "ViewDefinition", "name": "pts", "resource": "Patient",
                               "select": [{{"column": [{{"name": "id", "path": "id"}}]}}]}}],
                   "sql": {sql}}},
          "exposure": {{"column": "x", "label": "X", "reference_label": "Y"}},
          "outcomes": [{{"name": "o", "label": "O", "time": "t", "event": "e"}}],
          "covariates": [{covs}], "design": {{"type": "matching"}}}}"#,
        sql = serde_json::to_string(table_sql).expect("sql"),
        covs = covs.join(", ")
    );
    let path = d.path().join("study.json");
    std::fs::write(&path, study).expect("study");
    let o = run(&["study", "run", s(&path), "--input", s(&input), "--out", s(&d.path().join("out"))]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(expect), "expected `{expect}` in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// `n` rows of (x, a, b, t, e) with x alternating, a and b varied, t = 10..,
/// e = 1 every third row.
fn values(n: usize, f: impl Fn(usize) -> String) -> String {
    let rows: Vec<String> = (0..n).map(f).collect();
    format!("SELECT column1 AS x, column2 AS a, column3 AS b, column4 AS t, column5 AS e FROM (VALUES {})", rows.join(", "))
}

#[test]
fn errors_name_the_problem() {
    let ok = |i: usize| format!("({}, {}, {}, {}, {})", i % 2, (i * 7) % 5, (i * 3) % 4, 10 + i, u8::from(i.is_multiple_of(3)));
    // Unknown column, with the columns that exist.
    error_case(&values(40, ok), &["a", "nope"], "unknown column `nope` (available: x, a, b, t, e)");
    // A non-numeric value, with its row.
    let bad = |i: usize| if i == 6 { "(0, 'abc', 1, 16, 0)".to_string() } else { format!("({}, '{}', 1, {}, {})", i % 2, i % 5, 10 + i, u8::from(i.is_multiple_of(3))) };
    error_case(&values(40, bad), &["a"], "non-numeric value `abc` in column `a` at row 7");
    // No events.
    let none = |i: usize| format!("({}, {}, {}, {}, 0)", i % 2, (i * 7) % 5, (i * 3) % 4, 10 + i);
    error_case(&values(40, none), &["a"], "no events");
    // Perfect separation: the covariate predicts the exposure exactly.
    let sep = |i: usize| format!("({0}, {0}, {1}, {2}, {3})", i % 2, (i * 3) % 4, 10 + i, u8::from(i.is_multiple_of(3)));
    error_case(&values(40, sep), &["a", "b"], "perfect separation");
    // A singular design: b is a copy of a.
    let dup = |i: usize| format!("({0}, {1}, {1}, {2}, {3})", i % 2, (i * 7) % 5, 10 + i, u8::from(i.is_multiple_of(3)));
    error_case(&values(40, dup), &["a", "b"], "singular");
}
