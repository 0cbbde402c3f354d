//! The FHIR output of a small run: every line is valid R4, carries its JP Core
//! profile and identifier systems, and every reference resolves within the
//! data set. Also checks determinism across thread counts and chunk sizes.

mod common;

use serde_json::Value;
use std::collections::HashSet;

const JP: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/";

fn collect_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "reference" {
                    if let Some(s) = x.as_str() {
                        out.push(s.to_string());
                    }
                } else {
                    collect_refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_refs(x, out)),
        _ => {}
    }
}

#[test]
fn every_resource_is_valid_profiled_and_references_resolve() {
    let (dir, summary) = common::generate("fhir", 150, 7, "fhir", 64);
    assert!(summary.resources > 3_000, "{summary:?}");
    let mut ids: HashSet<String> = HashSet::new();
    let mut all: Vec<Value> = Vec::new();
    for t in synth::fhir_out::TYPES {
        let rs = common::read_type(&dir, t);
        assert!(!rs.is_empty(), "no {t} resources");
        for r in rs {
            assert_eq!(r["resourceType"], *t);
            let issues = fhir::validate::validate_resource(&r);
            assert!(issues.is_empty(), "{t} {}: {issues:?}", r["id"]);
            let id = r["id"].as_str().expect("id").to_string();
            assert!(ids.insert(format!("{t}/{id}")), "duplicate {t}/{id}");
            if *t != "Claim" {
                let prof = r["meta"]["profile"][0].as_str().unwrap_or_default();
                assert!(prof.starts_with(JP), "{t}/{id} lacks a JP Core profile");
            }
            all.push(r);
        }
    }
    let mut dangling = Vec::new();
    for r in &all {
        let mut refs = Vec::new();
        collect_refs(r, &mut refs);
        for x in refs {
            if !ids.contains(&x) {
                dangling.push(format!("{}/{} -> {x}", r["resourceType"], r["id"]));
            }
        }
    }
    assert!(dangling.is_empty(), "{} dangling references, e.g. {:?}", dangling.len(), &dangling[..dangling.len().min(5)]);

    // Identifier systems and codes.
    for p in common::read_type(&dir, "Patient") {
        let systems: Vec<&str> = p["identifier"].as_array().expect("ids").iter().filter_map(|i| i["system"].as_str()).collect();
        assert!(systems.contains(&synth::codes::system::MEDTWIN_PERSON));
        assert!(systems.iter().any(|s| s.starts_with("urn:oid:1.2.392.100495.20.3.51.1") && s.len() == "urn:oid:1.2.392.100495.20.3.51.1".len() + 10));
        let ext = &p["address"][0]["extension"];
        let muni = ext.as_array().expect("ext").iter().find(|e| e["url"] == synth::codes::system::EXT_MUNICIPALITY).expect("municipality code");
        let code = muni["valueCode"].as_str().expect("code");
        assert!(code.len() == 6 && code.starts_with("24"), "{code}");
        let kana = &p["name"][1];
        assert_eq!(kana["extension"][0]["valueCode"], "SYL");
    }
    for o in common::read_type(&dir, "Organization") {
        let id = &o["identifier"][0];
        assert_eq!(id["system"], synth::codes::system::MEDICAL_INSTITUTION);
        assert_eq!(id["value"].as_str().expect("code").len(), 10);
    }
    let labs: Vec<Value> = common::read_type(&dir, "Observation").into_iter().filter(|o| o["category"][0]["coding"][0]["code"] == "laboratory").collect();
    assert!(!labs.is_empty());
    for o in &labs {
        let c = &o["code"]["coding"][0];
        assert_eq!(c["system"], synth::codes::system::JLAC10);
        assert_eq!(c["code"].as_str().expect("code").len(), 17);
    }
    for m in common::read_type(&dir, "MedicationRequest") {
        let c = &m["medicationCodeableConcept"]["coding"][0];
        assert_eq!(c["system"], synth::codes::system::YJ);
        assert_eq!(c["code"].as_str().expect("yj").len(), 12);
    }
    for c in common::read_type(&dir, "Condition") {
        assert_eq!(c["code"]["coding"][0]["system"], synth::codes::system::ICD10);
    }
    let docs = common::read_type(&dir, "DocumentReference");
    let text = docs.iter().map(|d| d["content"][0]["attachment"]["data"].as_str().expect("data").len()).sum::<usize>();
    assert!(text > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_is_identical_whatever_the_threads_and_chunks() {
    let run = |threads: usize, chunk: usize, name: &str| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        pool.install(|| common::generate(name, 60, 99, "fhir,ssmix2,uke", chunk))
    };
    let (a, _) = run(1, 7, "det-a");
    let (b, _) = run(3, 50, "det-b");
    let fa = common::all_files(&a);
    let fb = common::all_files(&b);
    assert!(fa.len() > 20);
    assert_eq!(fa.len(), fb.len());
    for (x, y) in fa.iter().zip(&fb) {
        assert_eq!(x.0, y.0);
        assert!(x.1 == y.1, "{} differs", x.0);
    }
    let (e, _) = {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
        pool.install(|| common::generate("det-e", 60, 100, "fhir", 50))
    };
    let fe = common::all_files(&e);
    assert_ne!(
        fa.iter().find(|f| f.0.ends_with("Patient.ndjson")).map(|f| &f.1),
        fe.iter().find(|f| f.0.ends_with("Patient.ndjson")).map(|f| &f.1),
        "a different seed must give different people"
    );
    for d in [a, b, e] {
        let _ = std::fs::remove_dir_all(d);
    }
}
