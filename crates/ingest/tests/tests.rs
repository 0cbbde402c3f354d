//! Integration tests of the ingest crate: golden files (input message or
//! claims file → expected FHIR JSON plus report), the storage-tree walk, and
//! determinism. `UPDATE_EXPECT=1 cargo test -p medtwin-ingest` rewrites the
//! expected files; a missing expected file is created (and the test fails,
//! so that a new golden file is always looked at).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hl7v2::ssmix2::FileName;
use ingest::{Level, Options, Report};
use serde_json::{Value, json};

fn data(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data").join(p)
}

fn opts() -> Options {
    Options { facility_code: Some("1312345670".into()) }
}

/// Every produced resource must be structurally valid FHIR R4 and carry a
/// profile (except Claim) and a source.
fn assert_valid(resources: &[Value]) {
    for r in resources {
        let issues = fhir::validate::validate_resource(r);
        assert!(issues.is_empty(), "{} {}: {:?}", r["resourceType"], r["id"], issues);
        assert!(r["meta"]["source"].as_str().is_some_and(|s| !s.is_empty()), "no meta.source: {r}");
        if r["resourceType"] != "Claim" {
            assert!(r["meta"]["profile"][0].as_str().is_some_and(|p| p.starts_with("http://jpfhir.jp/fhir/core/StructureDefinition/JP_")), "no JP Core profile: {r}");
        }
    }
}

fn check_golden(input: &Path, actual: &Value) {
    let expected_path = input.with_extension("expected.json");
    let text = serde_json::to_string_pretty(actual).expect("serialises") + "\n";
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_path, &text).expect("writes expected file");
        return;
    }
    match std::fs::read_to_string(&expected_path) {
        Ok(exp) => {
            if exp != text {
                let diff_at = exp.lines().zip(text.lines()).position(|(a, b)| a != b).unwrap_or(0);
                panic!(
                    "{} differs from the conversion at line {} (rerun with UPDATE_EXPECT=1 to accept):\nexpected: {}\nactual:   {}",
                    expected_path.display(),
                    diff_at + 1,
                    exp.lines().nth(diff_at).unwrap_or(""),
                    text.lines().nth(diff_at).unwrap_or("")
                );
            }
        }
        Err(_) => {
            std::fs::write(&expected_path, &text).expect("writes expected file");
            panic!("{} did not exist and was created; check it and rerun", expected_path.display());
        }
    }
}

fn manifest() -> Vec<(String, String)> {
    std::fs::read_to_string(data("ssmix2/MANIFEST.tsv"))
        .expect("manifest")
        .lines()
        .filter_map(|l| l.split_once('\t').map(|(a, b)| (a.to_string(), b.to_string())))
        .collect()
}

fn convert_one(file: &str, original: &str) -> (Vec<Value>, Report) {
    let bytes = std::fs::read(data(&format!("ssmix2/{file}"))).expect("reads sample");
    let name = original.rsplit('/').next().and_then(|n| FileName::parse(n).ok());
    let mut out = Vec::new();
    let mut report = Report::default();
    let label = if original == "-" { file.to_string() } else { original.to_string() };
    ingest::ssmix2::convert_bytes(&bytes, Some(&label), name.as_ref(), &opts(), &mut report, &mut |r| out.push(r));
    (out, report)
}

#[test]
fn ssmix2_golden_files() {
    let mut types_seen = BTreeSet::new();
    for (file, original) in manifest() {
        let (resources, report) = convert_one(&file, &original);
        assert_valid(&resources);
        for r in &resources {
            types_seen.insert(r["resourceType"].as_str().unwrap_or("").to_string());
        }
        check_golden(&data(&format!("ssmix2/{file}")), &json!({ "resources": resources, "report": report.to_json() }));
    }
    for t in ["Patient", "Coverage", "AllergyIntolerance", "Observation", "Encounter", "Condition", "MedicationRequest", "MedicationAdministration", "ServiceRequest", "DiagnosticReport", "Specimen"] {
        assert!(types_seen.contains(t), "no {t} produced by any golden file");
    }
}

fn by_type<'a>(rs: &'a [Value], t: &str) -> Vec<&'a Value> {
    rs.iter().filter(|r| r["resourceType"] == t).collect()
}

#[test]
fn adt00_patient_details() {
    let (rs, report) = convert_one("0001_adt-00.hl7", "999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1");
    assert!(!report.has_rejections(), "{:?}", report.entries);
    let p = by_type(&rs, "Patient")[0];
    assert_eq!(p["identifier"][0], json!({ "system": "urn:oid:1.2.392.100495.20.3.51.11312345670", "value": "9999013" }));
    assert_eq!(p["name"][0]["family"], "患者");
    assert_eq!(p["name"][0]["extension"][0]["valueCode"], "IDE");
    assert_eq!(p["name"][1]["family"], "カンジャ");
    assert_eq!(p["name"][1]["extension"][0]["valueCode"], "SYL");
    assert_eq!(p["gender"], "male");
    assert_eq!(p["birthDate"], "1948-04-05");
    assert_eq!(p["address"][0]["postalCode"], "422-8033");
    assert!(p["meta"]["source"].as_str().expect("source").ends_with("#20111220000001"));
    let obs = by_type(&rs, "Observation");
    assert_eq!(obs.len(), 3);
    assert_eq!(obs[0]["valueQuantity"]["value"], json!(167.8));
    assert_eq!(obs[0]["code"]["coding"][0]["system"], "http://medis.or.jp/CodeSystem/master-JLAC10-17digits");
    let cov = by_type(&rs, "Coverage")[0];
    assert_eq!(cov["payor"][0]["identifier"]["value"], "67999991");
    let alg = by_type(&rs, "AllergyIntolerance")[0];
    assert_eq!(alg["category"][0], "medication");
    // Segments are counted, and the unmapped ones (EVN, PV1 in ADT-00) say so.
    let seg = report.to_json()["segments"].clone();
    assert_eq!(seg["OBX"], json!({ "seen": 3, "mapped": 3 }));
    assert_eq!(seg["PV1"]["mapped"], 0);
}

#[test]
fn bad_inputs_are_reported_with_positions() {
    let (rs, report) = convert_one("0020_bad_missing_pid3.hl7", "-");
    assert!(rs.is_empty());
    let e = &report.entries[0];
    assert_eq!((e.level, e.message.as_deref(), e.segment.as_deref(), e.field), (Level::Rejected, Some("BAD0001"), Some("PID[2]"), Some(3)));

    let (rs, report) = convert_one("0021_bad_lab_values.hl7", "-");
    // Two OBX are rejected (non-numeric value, missing code); the rest converts.
    assert_eq!(by_type(&rs, "Observation").len(), 2);
    assert_eq!(by_type(&rs, "DiagnosticReport")[0]["result"].as_array().map(Vec::len), Some(2));
    let rejected: Vec<_> = report.entries.iter().filter(|e| e.level == Level::Rejected).map(|e| (e.segment.clone().unwrap_or_default(), e.field)).collect();
    assert_eq!(rejected, vec![("OBX[7]".to_string(), Some(5)), ("OBX[8]".to_string(), Some(3))]);

    // Shift_JIS bytes under an ISO-2022-JP declaration: recovered with a warning.
    let (rs, report) = convert_one("0022_wrong_encoding_sjis.hl7", "-");
    assert_eq!(by_type(&rs, "Patient")[0]["name"][0]["family"], "患者");
    assert!(!report.has_rejections());
    assert!(report.entries.iter().any(|e| e.reason.contains("declares ISO-2022-JP")), "{:?}", report.entries);

    // Bytes that are invalid in every candidate encoding: rejected.
    let (rs, report) = convert_one("0023_undecodable_bytes.hl7", "-");
    assert!(rs.is_empty());
    assert!(report.has_rejections());

    // A message type with no mapping is reported, not dropped silently.
    let (rs, report) = convert_one("0024_unsupported_type.hl7", "-");
    assert!(rs.is_empty());
    assert_eq!(report.unsupported.get("ADT^A31"), Some(&1));
}

#[test]
fn storage_tree_conversion() {
    let root = data("ssmix2/storage");
    let mut first = Vec::new();
    let report = ingest::ssmix2::convert_tree(&root, &opts(), &mut |r| first.push(r)).expect("root is readable");
    assert_valid(&first);
    // No duplicate ids: every (type, id) once.
    let keys: BTreeSet<_> = first.iter().map(|r| format!("{}/{}", r["resourceType"], r["id"])).collect();
    assert_eq!(keys.len(), first.len(), "duplicate resources");
    assert_eq!(report.files_seen, 22);
    // The withdrawn (flag 0) OMP-11 order of patient 0000001.
    assert!(report.withdrawn.iter().any(|w| w.starts_with("0000001/20000401/OMP-11/123456789012346")), "{:?}", report.withdrawn);
    // The junk file stored in the wrong directory is reported and rejected.
    assert!(report.entries.iter().any(|e| e.level == Level::Rejected
        && e.reason.contains("is stored in")
        && e.file.as_deref().is_some_and(|f| f.contains("ADT-31"))));
    assert_eq!(report.unsupported.get("OMD"), Some(&1));
    // Deterministic: a second run gives exactly the same resources.
    let mut second = Vec::new();
    let report2 = ingest::ssmix2::convert_tree(&root, &opts(), &mut |r| second.push(r)).expect("root is readable");
    assert_eq!(first, second);
    assert_eq!(report, report2);
    // The same on one thread and on four: the order does not depend on the pool.
    for threads in [1, 4] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        let mut again = Vec::new();
        let r = pool.install(|| ingest::ssmix2::convert_tree(&root, &opts(), &mut |r| again.push(r))).expect("root is readable");
        assert_eq!(first, again, "{threads} thread(s)");
        assert_eq!(report, r, "{threads} thread(s)");
    }
    let j = report.to_json();
    // 2 + 2 RXA of patient 9999013, 2 + an empty "RXA" line in 0000001's valid OMP-11 file.
    assert_eq!(j["segments"]["RXA"]["seen"], 7);
    assert_eq!(j["segments"]["RXA"]["mapped"], 6);
    assert!(j["rejected"].as_u64().is_some_and(|n| n >= 1));
}

#[test]
fn later_file_supersedes_earlier_and_updates_resource() {
    let tmp = std::env::temp_dir().join(format!("medtwin-ingest-supersede-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let src = data("ssmix2/0001_adt-00.hl7");
    let bytes = std::fs::read(&src).expect("reads");
    let dir = tmp.join("999/901/9999013/-/ADT-00");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("9999013_-_ADT-00_999999999999999_20111220224447339_-_1"), &bytes).expect("writes");
    // A later version with a changed weight.
    let (mut msg, _) = hl7v2::Message::parse(&bytes).expect("parses");
    let text = msg.to_hl7_string().replace("||63.5|kg", "||64.0|kg");
    msg = hl7v2::Message::parse_str(&text).expect("parses").0;
    msg.set_charset(hl7v2::Charset::Iso2022Jp);
    std::fs::write(dir.join("9999013_-_ADT-00_999999999999999_20120105090000000_-_1"), msg.encode().expect("encodes")).expect("writes");
    let mut out = Vec::new();
    let report = ingest::ssmix2::convert_tree(&tmp, &opts(), &mut |r| out.push(r)).expect("readable");
    assert_eq!(report.superseded, 1);
    let weights: Vec<_> = out.iter().filter(|r| r["code"]["text"] == "体重").collect();
    assert_eq!(weights.len(), 1);
    assert_eq!(weights[0]["valueQuantity"]["value"], json!(64.0));
    // Same id as the earlier version would have had.
    let (old, _) = convert_one("0001_adt-00.hl7", "999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1");
    let old_w = old.iter().find(|r| r["code"]["text"] == "体重").expect("weight");
    assert_eq!(old_w["id"], weights[0]["id"]);
    // A flag-0 file withdraws the record and names the resources to delete.
    std::fs::write(dir.join("9999013_-_ADT-00_999999999999999_20120201090000000_-_0"), b"").expect("writes");
    let mut out = Vec::new();
    let report = ingest::ssmix2::convert_tree(&tmp, &opts(), &mut |r| out.push(r)).expect("readable");
    assert!(out.is_empty());
    assert!(report.withdrawn.iter().any(|w| w.ends_with(&format!("Observation/{}", old_w["id"].as_str().expect("id")))), "{:?}", report.withdrawn);
    let _ = std::fs::remove_dir_all(&tmp);
}

fn masters() -> uke::master::Master {
    let (m, r) = ingest::uke::load_masters(&data("uke/masters"));
    assert!(r.entries.is_empty(), "{:?}", r.entries);
    m
}

#[test]
fn uke_golden_excerpt() {
    let input = data("uke/0001_gairai_excerpt.uke");
    let m = masters();
    let mut out = Vec::new();
    let report = ingest::uke::convert_files(std::slice::from_ref(&input), &m, &mut |r| out.push(r));
    assert_valid(&out);
    let report_json = report.to_json();
    // Make the golden file independent of where the repository is checked out.
    let text = serde_json::to_string(&json!({ "resources": out, "report": report_json })).expect("json")
        .replace(&input.display().to_string(), "0001_gairai_excerpt.uke");
    check_golden(&input, &serde_json::from_str(&text).expect("json"));
}

#[test]
fn uke_full_sample() {
    let input = data("uke/RECEIPTC_GAIRAI_SAMPLE.UKE");
    let m = masters();
    let mut out = Vec::new();
    let report = ingest::uke::convert_files(std::slice::from_ref(&input), &m, &mut |r| out.push(r));
    assert_valid(&out);
    assert!(!report.has_rejections(), "{:?}", report.entries.iter().filter(|e| e.level == Level::Rejected).collect::<Vec<_>>());
    assert_eq!(by_type(&out, "Claim").len(), 75);
    assert_eq!(report.resources.get("Condition"), Some(&9));
    let items: usize = by_type(&out, "Claim").iter().map(|c| c["item"].as_array().map(Vec::len).unwrap_or(0)).sum();
    assert_eq!(items, 320 + 32, "every SI and IY line is an item");
    // The master gives the name and ICD-10 of a coded diagnosis.
    let cond = by_type(&out, "Condition");
    assert!(cond.iter().any(|c| c["code"]["coding"][0]["code"] == "0000999" && c["code"]["text"] == "テスト"));
    // Every record type was seen; SN (eligibility) is not mapped and says so.
    let seg = report.to_json()["segments"].clone();
    assert_eq!(seg["SI"], json!({ "seen": 320, "mapped": 320 }));
    assert_eq!(seg["SN"]["mapped"], 0);
    let ids: BTreeSet<_> = out.iter().map(|r| format!("{}/{}", r["resourceType"], r["id"])).collect();
    // Patients and coverages recur across claims of the same person; claims never do.
    assert_eq!(by_type(&out, "Claim").iter().map(|c| c["id"].to_string()).collect::<BTreeSet<_>>().len(), 75);
    assert!(ids.len() <= out.len());
    // Several files at once (converted in parallel) come out in file order,
    // the same on any number of threads, with a prepare step on the workers.
    let files = vec![input.clone(), input.clone(), input];
    let mut seq = Vec::new();
    for f in &files {
        ingest::uke::convert_files(std::slice::from_ref(f), &m, &mut |r| seq.push(r.to_string()));
    }
    for threads in [1, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
        let mut par = Vec::new();
        let rep = pool.install(|| ingest::uke::convert_files_with(&files, &m, &|r| r.to_string(), &mut |l| par.push(l)));
        assert_eq!(seq, par, "{threads} thread(s)");
        assert_eq!(rep.files_seen, 3);
    }
}

#[test]
fn uke_without_masters_keeps_codes() {
    let input = data("uke/0001_gairai_excerpt.uke");
    let mut out = Vec::new();
    let report = ingest::uke::convert_files(std::slice::from_ref(&input), &uke::master::Master::new(), &mut |r| out.push(r));
    assert!(!report.has_rejections());
    let claim = by_type(&out, "Claim")[0];
    assert_eq!(claim["item"][0]["productOrService"]["coding"][0]["code"], "111000110");
    assert!(claim["item"][0]["productOrService"]["coding"][0].get("display").is_none());
}
