//! Benchmark driver for `bench/fhirpath/run.sh` (not a test).
//!
//! `fhirpath_bench emit SPEC.json` writes the workload: 20 common R4
//! search-parameter expressions (taken verbatim from
//! `fhir::search_params::r4()`) plus one simple path, and a deterministic set
//! of realistic synthetic resources (Patient, Observation, Encounter,
//! Condition, MedicationRequest).
//!
//! `fhirpath_bench run SPEC.json RUNS [JS_RESULTS.json]` measures evaluations
//! per second of each expression over the resources of its type, single
//! threaded, takes the median of RUNS runs, and prints a table next to the
//! fhirpath.js figures when given.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// (resource type, search parameter code); `None` code = the simple path row.
const PARAMS: &[(&str, &str)] = &[
    ("Patient", "birthdate"),
    ("Patient", "gender"),
    ("Patient", "name"),
    ("Patient", "family"),
    ("Patient", "given"),
    ("Patient", "identifier"),
    ("Patient", "telecom"),
    ("Patient", "address-city"),
    ("Patient", "_id"),
    ("Patient", "_lastUpdated"),
    ("Observation", "code"),
    ("Observation", "patient"),
    ("Observation", "date"),
    ("Observation", "value-quantity"),
    ("Observation", "category"),
    ("Observation", "status"),
    ("Encounter", "date"),
    ("Encounter", "class"),
    ("Condition", "clinical-status"),
    ("MedicationRequest", "code"),
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<'s>(&mut self, xs: &[&'s str]) -> &'s str {
        xs[(self.next() as usize) % xs.len()]
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn meta(rng: &mut Rng) -> Value {
    json!({"versionId": "1", "lastUpdated": format!("2024-{:02}-{:02}T09:{:02}:00.000+09:00", rng.range(1, 12), rng.range(1, 28), rng.range(0, 59))})
}

fn resources() -> Vec<Value> {
    let mut rng = Rng(20_240_401);
    let families = [("山田", "ヤマダ", "Yamada"), ("佐藤", "サトウ", "Sato"), ("鈴木", "スズキ", "Suzuki"), ("高橋", "タカハシ", "Takahashi")];
    let givens = [("太郎", "タロウ", "Taro"), ("花子", "ハナコ", "Hanako"), ("一郎", "イチロウ", "Ichiro"), ("美咲", "ミサキ", "Misaki")];
    let cities = ["新宿区", "札幌市", "大阪市", "福岡市", "那覇市"];
    let mut out = Vec::new();
    for i in 0..200 {
        let f = families[(rng.next() as usize) % families.len()];
        let g = givens[(rng.next() as usize) % givens.len()];
        out.push(json!({
            "resourceType": "Patient",
            "id": format!("pat-{i}"),
            "meta": meta(&mut rng),
            "identifier": [
                {"system": "urn:oid:1.2.392.100495.20.3.51.11311234567", "value": format!("{:08}", 10_000 + i)},
                {"use": "official", "system": "http://jpfhir.jp/fhir/ccs/Idsysmem/JP_Insurance_member", "value": format!("00012345:あいう:{i}:01")}
            ],
            "active": true,
            "name": [
                {"use": "official", "text": format!("{} {}", f.0, g.0), "family": f.0, "given": [g.0],
                 "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "IDE"}]},
                {"use": "official", "text": format!("{} {}", f.1, g.1), "family": f.1, "given": [g.1],
                 "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "SYL"}]},
                {"use": "usual", "family": f.2, "given": [g.2]}
            ],
            "telecom": [{"system": "phone", "value": format!("03-{:04}-{:04}", rng.range(1000, 9999), rng.range(1000, 9999)), "use": "home"}],
            "gender": rng.pick(&["male", "female"]),
            "birthDate": format!("{}-{:02}-{:02}", rng.range(1930, 2020), rng.range(1, 12), rng.range(1, 28)),
            "address": [{"use": "home", "text": "東京都新宿区西新宿2-8-1", "line": ["西新宿2-8-1"], "city": rng.pick(&cities), "state": "東京都", "postalCode": "163-8001", "country": "JP"}]
        }));
    }
    let vitals = [
        ("8480-6", "Systolic blood pressure", "mm[Hg]", 90, 180),
        ("8462-4", "Diastolic blood pressure", "mm[Hg]", 50, 110),
        ("29463-7", "Body weight", "kg", 40, 110),
        ("8867-4", "Heart rate", "/min", 50, 120),
        ("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 70, 250),
    ];
    for i in 0..400 {
        let v = vitals[(rng.next() as usize) % vitals.len()];
        let cat = if v.0 == "2339-0" { "laboratory" } else { "vital-signs" };
        out.push(json!({
            "resourceType": "Observation",
            "id": format!("obs-{i}"),
            "meta": meta(&mut rng),
            "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": cat}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": v.0, "display": v.1}], "text": v.1},
            "subject": {"reference": format!("Patient/pat-{}", rng.range(0, 199))},
            "encounter": {"reference": format!("Encounter/enc-{}", rng.range(0, 199))},
            "effectiveDateTime": format!("2024-{:02}-{:02}T{:02}:30:00+09:00", rng.range(1, 12), rng.range(1, 28), rng.range(8, 18)),
            "issued": "2024-06-01T10:00:00.000+09:00",
            "valueQuantity": {"value": rng.range(v.3, v.4), "unit": v.2, "system": "http://unitsofmeasure.org", "code": v.2}
        }));
    }
    for i in 0..200 {
        out.push(json!({
            "resourceType": "Encounter",
            "id": format!("enc-{i}"),
            "meta": meta(&mut rng),
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": rng.pick(&["AMB", "IMP", "EMER"])},
            "subject": {"reference": format!("Patient/pat-{}", rng.range(0, 199))},
            "period": {"start": format!("2024-{:02}-{:02}T09:00:00+09:00", rng.range(1, 12), rng.range(1, 28)), "end": "2024-12-31T17:00:00+09:00"}
        }));
    }
    for i in 0..200 {
        out.push(json!({
            "resourceType": "Condition",
            "id": format!("cond-{i}"),
            "meta": meta(&mut rng),
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": rng.pick(&["active", "resolved"])}]},
            "verificationStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": rng.pick(&["E11.9", "I10", "J45.9"])}]},
            "subject": {"reference": format!("Patient/pat-{}", rng.range(0, 199))},
            "onsetDateTime": format!("20{:02}-{:02}-01", rng.range(0, 23), rng.range(1, 12))
        }));
    }
    for i in 0..200 {
        out.push(json!({
            "resourceType": "MedicationRequest",
            "id": format!("mr-{i}"),
            "meta": meta(&mut rng),
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"coding": [{"system": "urn:oid:1.2.392.200119.4.403.1", "code": "103835401", "display": "ムコダイン錠２５０ｍｇ"}]},
            "subject": {"reference": format!("Patient/pat-{}", rng.range(0, 199))},
            "authoredOn": "2024-05-01",
            "dosageInstruction": [{"text": "1回1錠 1日3回 毎食後", "timing": {"code": {"text": "毎食後"}}}]
        }));
    }
    out
}

fn emit(path: &str) {
    let sp = fhir::search_params::r4();
    let mut exprs = vec![json!({"type": "Patient", "name": "simple path", "expression": "Patient.birthDate"})];
    for (ty, code) in PARAMS {
        let p = sp.get(ty, code).unwrap_or_else(|| panic!("no search parameter {ty}.{code}"));
        exprs.push(json!({"type": ty, "name": format!("{ty}.{code}"), "expression": p.expression}));
    }
    let spec = json!({"expressions": exprs, "resources": resources()});
    std::fs::write(path, serde_json::to_string(&spec).expect("serialise")).expect("write spec");
}

/// Evaluations per second of `expr` over `resources`, measured for ~`budget`.
fn measure(expr: &fhirpath::Expr, resources: &[&Value], env: &fhirpath::Env, budget: Duration) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    let mut sink = 0usize;
    while start.elapsed() < budget {
        for r in resources {
            sink += expr.evaluate(r, env).map(|c| c.len()).unwrap_or(0);
        }
        n += resources.len() as u64;
    }
    std::hint::black_box(sink);
    n as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One fhirpath.js figure, or the error it raised.
enum JsResult {
    Ok { evals_per_sec: f64, found: usize },
    Err(String),
}

fn run(path: &str, runs: usize, js: Option<&str>) {
    let spec: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read spec")).expect("parse spec");
    let js: BTreeMap<String, JsResult> = js
        .map(|p| {
            let v: Value = serde_json::from_str(&std::fs::read_to_string(p).expect("read js results")).expect("parse js results");
            v.as_object()
                .expect("js results object")
                .iter()
                .map(|(k, r)| {
                    let res = match r["error"].as_str() {
                        Some(e) => JsResult::Err(e.to_string()),
                        None => JsResult::Ok {
                            evals_per_sec: r["evals_per_sec"].as_f64().expect("evals_per_sec"),
                            found: r["found"].as_u64().expect("found") as usize,
                        },
                    };
                    (k.clone(), res)
                })
                .collect()
        })
        .unwrap_or_default();
    let resources = spec["resources"].as_array().expect("resources");
    let env = fhirpath::Env::new();
    println!(
        "{:<30} {:>15} {:>15} {:>8} {:>14}   expression",
        "search parameter", "medtwin evals/s", "fhirpath.js", "ratio", "results"
    );
    let mut ratios = Vec::new();
    for e in spec["expressions"].as_array().expect("expressions") {
        let ty = e["type"].as_str().expect("type");
        let name = e["name"].as_str().expect("name");
        let src = e["expression"].as_str().expect("expression");
        let expr = fhirpath::Expr::compile(src).expect("compiles");
        let rs: Vec<&Value> = resources.iter().filter(|r| r["resourceType"] == ty).collect();
        // Results must be non-trivial: each expression finds values in the data.
        let found: usize = rs.iter().map(|r| expr.evaluate(r, &env).map(|c| c.len()).unwrap_or(0)).sum();
        assert!(found > 0, "{name} finds nothing in the benchmark data");
        let per_run: Vec<f64> = (0..runs).map(|_| measure(&expr, &rs, &env, Duration::from_millis(300))).collect();
        let ours = median(per_run);
        let (theirs, ratio, results) = match js.get(name) {
            Some(JsResult::Ok { evals_per_sec, found: f }) => {
                let ratio = ours / evals_per_sec;
                // Only rows where both engines return the same number of items
                // count towards the summary ratio.
                if *f == found {
                    ratios.push(ratio);
                }
                let results = if *f == found { format!("same ({found})") } else { format!("{found} vs {f}") };
                (format!("{evals_per_sec:.0}"), format!("{ratio:.1}x"), results)
            }
            Some(JsResult::Err(e)) => ("error".to_string(), "-".to_string(), format!("js: {}", e.chars().take(28).collect::<String>())),
            None => ("-".to_string(), "-".to_string(), format!("{found}")),
        };
        let short: String = if src.chars().count() > 60 { format!("{}…", src.chars().take(59).collect::<String>()) } else { src.to_string() };
        println!(
            "{:<30} {:>15.0} {:>15} {:>8} {:>14}   {}",
            name,
            ours,
            theirs,
            ratio,
            results,
            short
        );
    }
    if !ratios.is_empty() {
        println!(
            "median ratio over the {} expressions where both engines return the same results: {:.1}x (min {:.1}x)",
            ratios.len(),
            median(ratios.clone()),
            ratios.iter().copied().fold(f64::INFINITY, f64::min)
        );
    }
    println!("(single thread, median of {runs} runs of ~300 ms each)");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("emit") => emit(args.get(2).expect("usage: emit SPEC.json")),
        Some("run") => run(
            args.get(2).expect("usage: run SPEC.json RUNS [JS.json]"),
            args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5),
            args.get(4).map(String::as_str),
        ),
        _ => eprintln!("usage: fhirpath_bench emit SPEC.json | run SPEC.json RUNS [JS_RESULTS.json]"),
    }
}
