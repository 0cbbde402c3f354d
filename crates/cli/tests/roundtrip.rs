//! Round trip through the conversion adapter: `synth` writes the same people
//! and events as FHIR (`fhir/`), SS-MIX2 (`ssmix2/`) and UKE claims (`uke/`);
//! converting the SS-MIX2 and UKE outputs with `ingest` must give the same
//! clinical content as the FHIR output, compared field by field.
//!
//! The synth ids and the converter ids differ by design, so records are
//! matched by source identifiers: facility code and patient id, visit number,
//! dates and codes. Every comparison builds two maps `key → fields` (what the
//! FHIR output says, what the conversion says) and the test fails with a
//! diff listing missing, extra and different records.
//!
//! What does not round trip, and why (not compared):
//! - SS-MIX2 holds only hospital data: synth's clinics and dental clinics keep
//!   no SS-MIX2 storage, and synth's hospitals see only inpatient stays, so
//!   the SS-MIX2 side is compared for hospital stays only. Vital signs are not
//!   written to SS-MIX2.
//! - SS-MIX2 patient names carry family and given names (compared); the
//!   `text` joins them with an ideographic space in the converter and a plain
//!   space in synth (formatting only, not compared).
//! - UKE has no family/given split (one name field with an ideographic space)
//!   and no ICD-10 code: synth writes diagnoses as uncoded names (傷病名コード
//!   0000999) with the start date, so UKE diagnoses are compared by name and date.
//! - UKE claims are per facility, month and in/outpatient; synth's FHIR
//!   Claims are per encounter. Outpatient points are compared per facility,
//!   patient and month; inpatient points per facility and patient over all
//!   stays. Both count 入院基本料 per calendar day of the stay, the day of
//!   discharge included (end − start + 1, as claims are billed).
//! - Coverage (insurer numbers, symbols) is not compared: UKE writes symbol and
//!   number in full-width digits, as the claims format requires.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// Everything produced once for all comparisons.
struct Data {
    /// Synth FHIR resources by type.
    fhir: BTreeMap<String, Vec<Value>>,
    /// Converted from `ssmix2/` (the last version of each resource id).
    ssmix2: Vec<Value>,
    /// Converted from `uke/`.
    uke: Vec<Value>,
    /// 10-digit codes of synth's hospitals.
    hospitals: BTreeSet<String>,
}

fn read_ndjson(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("synth writes valid JSON lines")).collect()
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).expect("list").map(|e| e.expect("entry").path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, out);
        } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("uke")) {
            out.push(p);
        }
    }
}

/// Keeps the last version of each `resourceType/id` (a later message of the
/// same record updates the resource, e.g. discharge after admission).
fn last_versions(all: Vec<Value>) -> Vec<Value> {
    let mut order: Vec<String> = Vec::new();
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    for r in all {
        let key = format!("{}/{}", s(&r["resourceType"]), s(&r["id"]));
        if by_id.insert(key.clone(), r).is_none() {
            order.push(key);
        }
    }
    order.into_iter().filter_map(|k| by_id.remove(&k)).collect()
}

fn data() -> &'static Data {
    static DATA: std::sync::OnceLock<Data> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        // Cargo's per-target temporary directory, emptied first: a `static`
        // is never dropped, so nothing would remove a per-run directory.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("roundtrip-synth");
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = synth::Config { patients: 300, seed: 7, out: dir.clone(), ..synth::Config::default() };
        synth::generate(&cfg, &mut |_| {}).expect("synth runs");

        let mut fhir = BTreeMap::new();
        for t in ["Patient", "Organization", "Encounter", "Condition", "Observation", "MedicationRequest", "Claim"] {
            fhir.insert(t.to_string(), read_ndjson(&dir.join("fhir").join(format!("{t}.ndjson"))));
        }
        let hospitals = fhir["Organization"]
            .iter()
            .filter(|o| s(&o["type"][0]["text"]) == "病院")
            .map(|o| s(&o["identifier"][0]["value"]).to_string())
            .collect();

        let mut ssmix2 = Vec::new();
        let mut roots: Vec<PathBuf> = std::fs::read_dir(dir.join("ssmix2")).expect("ssmix2/").map(|e| e.expect("entry").path()).collect();
        roots.sort();
        for root in roots {
            let code = root.file_name().and_then(|n| n.to_str()).expect("facility folder").to_string();
            let report = ingest::ssmix2::convert_tree(&root, &ingest::Options { facility_code: Some(code) }, &mut |r| ssmix2.push(r)).expect("storage readable");
            assert!(!report.has_rejections(), "SS-MIX2 conversion rejected input: {:#}", report.to_json());
            assert!(report.unsupported.is_empty(), "unsupported message types: {:?}", report.unsupported);
        }
        let mut files = Vec::new();
        files_under(&dir.join("uke"), &mut files);
        let mut uke = Vec::new();
        let report = ingest::uke::convert_files(&files, &uke::master::Master::new(), &mut |r| uke.push(r));
        assert!(!report.has_rejections(), "UKE conversion rejected input: {:#}", report.to_json());
        let _ = std::fs::remove_dir_all(&dir);
        Data { fhir, ssmix2: last_versions(ssmix2), uke, hospitals }
    })
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The part of a reference after the last `/`.
fn ref_id(v: &Value) -> &str {
    s(&v["reference"]).rsplit('/').next().unwrap_or("")
}

/// A number as text, so that `1`, `1.0` and `"1"` compare equal.
fn num(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => format!("{x}"),
        None => format!("{v}"),
    }
}

fn date10(v: &Value) -> &str {
    let t = s(v);
    t.get(..10).unwrap_or(t)
}

/// Compares two `key → fields` maps; returns the differences, readable.
fn diff(what: &str, expected: &BTreeMap<String, String>, actual: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, e) in expected {
        match actual.get(k) {
            None => out.push(format!("{what} {k}: missing from the conversion (expected {e})")),
            Some(a) if a != e => out.push(format!("{what} {k}:\n    FHIR output: {e}\n    converted:   {a}")),
            _ => {}
        }
    }
    for (k, a) in actual {
        if !expected.contains_key(k) {
            out.push(format!("{what} {k}: in the conversion but not in the FHIR output ({a})"));
        }
    }
    out
}

fn check(what: &str, expected: BTreeMap<String, String>, actual: BTreeMap<String, String>, min: usize) {
    let d = diff(what, &expected, &actual);
    let shown: Vec<&String> = d.iter().take(25).collect();
    assert!(
        d.is_empty(),
        "{} of {} {what} records differ:\n{}\n{}",
        d.len(),
        expected.len(),
        shown.iter().map(|x| x.as_str()).collect::<Vec<_>>().join("\n"),
        if d.len() > 25 { "..." } else { "" }
    );
    assert!(expected.len() >= min, "only {} {what} records to compare (at least {min} expected): the data set is too small to mean anything", expected.len());
}

/// Insert, failing on a duplicate key (a key must identify one record).
fn put(map: &mut BTreeMap<String, String>, what: &str, key: String, value: String) {
    if let Some(old) = map.insert(key.clone(), value.clone()) {
        assert_eq!(old, value, "{what}: two records with key {key}");
    }
}

/// Synth encounters at hospitals (the ones SS-MIX2 describes), by id.
fn hospital_encounters(d: &Data) -> BTreeMap<&str, (&Value, String)> {
    d.fhir["Encounter"]
        .iter()
        .filter_map(|e| {
            let fac = ref_id(&e["serviceProvider"]).trim_start_matches("org-").to_string();
            d.hospitals.contains(&fac).then(|| (s(&e["id"]), (e, fac)))
        })
        .collect()
}

/// The facility code and patient id in a converter patient reference
/// (`Patient/pat.<facility>.<pid>`, `Patient/uke-pat.<facility>.<pid>`).
fn conv_patient(r: &Value) -> (String, String) {
    let id = ref_id(r);
    let mut parts = id.split('.');
    let _prefix = parts.next();
    let fac = parts.next().unwrap_or("").to_string();
    let pid = parts.next().unwrap_or("").to_string();
    (fac, pid)
}

fn synth_patients(d: &Data) -> BTreeMap<&str, &Value> {
    d.fhir["Patient"].iter().map(|p| (s(&p["id"]), p)).collect()
}

/// (kanji family, kanji given, kana family, kana given) from the IDE/SYL names.
fn names(p: &Value) -> [String; 4] {
    let mut out: [String; 4] = Default::default();
    for n in p["name"].as_array().into_iter().flatten() {
        let rep = s(&n["extension"][0]["valueCode"]);
        let i = match rep {
            "IDE" => 0,
            "SYL" => 2,
            _ => continue,
        };
        out[i] = s(&n["family"]).to_string();
        out[i + 1] = s(&n["given"][0]).to_string();
    }
    out
}

#[test]
fn ssmix2_patients() {
    let d = data();
    let people = synth_patients(d);
    let mut expected = BTreeMap::new();
    for (e, fac) in hospital_encounters(d).values() {
        let pid = ref_id(&e["subject"]);
        let p = people[pid];
        let n = names(p);
        put(&mut expected, "patient", format!("{fac}/{pid}"), format!("kanji={} {} kana={} {} birth={} sex={}", n[0], n[1], n[2], n[3], s(&p["birthDate"]), s(&p["gender"])));
    }
    let mut actual = BTreeMap::new();
    for p in d.ssmix2.iter().filter(|r| r["resourceType"] == "Patient") {
        let system = s(&p["identifier"][0]["system"]);
        let fac = system.strip_prefix("urn:oid:1.2.392.100495.20.3.51.1").unwrap_or(system);
        let n = names(p);
        put(&mut actual, "patient", format!("{fac}/{}", s(&p["identifier"][0]["value"])), format!("kanji={} {} kana={} {} birth={} sex={}", n[0], n[1], n[2], n[3], s(&p["birthDate"]), s(&p["gender"])));
    }
    check("SS-MIX2 patient", expected, actual, 20);
}

#[test]
fn ssmix2_encounters() {
    let d = data();
    let mut expected = BTreeMap::new();
    for (e, fac) in hospital_encounters(d).values() {
        // Synth visit identifier `pid-seq`; SS-MIX2 PV1-19 visit number `pid` + 5-digit seq.
        let (pid, seq) = s(&e["identifier"][0]["value"]).split_once('-').expect("pid-seq");
        let seq: u32 = seq.parse().expect("seq");
        put(
            &mut expected,
            "encounter",
            format!("{fac}/{pid}/{pid}{seq:05}"),
            format!("class={} start={} end={} dept={}", s(&e["class"]["code"]), date10(&e["period"]["start"]), date10(&e["period"]["end"]), s(&e["serviceType"]["coding"][0]["code"])),
        );
    }
    let mut actual = BTreeMap::new();
    for e in d.ssmix2.iter().filter(|r| r["resourceType"] == "Encounter") {
        let (fac, pid) = conv_patient(&e["subject"]);
        put(
            &mut actual,
            "encounter",
            format!("{fac}/{pid}/{}", s(&e["identifier"][0]["value"])),
            format!("class={} start={} end={} dept={}", s(&e["class"]["code"]), date10(&e["period"]["start"]), date10(&e["period"]["end"]), s(&e["serviceType"]["coding"][0]["code"])),
        );
    }
    check("SS-MIX2 encounter", expected, actual, 20);
}

#[test]
fn ssmix2_diagnoses() {
    let d = data();
    let conditions: BTreeMap<&str, &Value> = d.fhir["Condition"].iter().map(|c| (s(&c["id"]), c)).collect();
    let mut expected = BTreeMap::new();
    for (e, fac) in hospital_encounters(d).values() {
        let pid = ref_id(&e["subject"]);
        for dx in e["diagnosis"].as_array().into_iter().flatten() {
            let c = conditions[ref_id(&dx["condition"])];
            let coding = &c["code"]["coding"][0];
            // A chronic condition is recorded again at every stay: the stay's date is part of the key.
            put(
                &mut expected,
                "diagnosis",
                format!("{fac}/{pid}/{}/{}/{}", s(&coding["code"]), date10(&c["onsetDateTime"]), date10(&e["period"]["start"])),
                format!("system={} name={}", s(&coding["system"]), s(&coding["display"])),
            );
        }
    }
    let mut actual = BTreeMap::new();
    for c in d.ssmix2.iter().filter(|r| r["resourceType"] == "Condition") {
        let (fac, pid) = conv_patient(&c["subject"]);
        let coding = &c["code"]["coding"][0];
        put(
            &mut actual,
            "diagnosis",
            format!("{fac}/{pid}/{}/{}/{}", s(&coding["code"]), date10(&c["onsetDateTime"]), date10(&c["recordedDate"])),
            format!("system={} name={}", s(&coding["system"]), s(&coding["display"])),
        );
    }
    check("SS-MIX2 diagnosis", expected, actual, 20);
}

fn lab_fields(o: &Value) -> String {
    let q = &o["valueQuantity"];
    let coding = &o["code"]["coding"][0];
    format!("system={} name={} value={} unit={} ucum={} {}", s(&coding["system"]), s(&coding["display"]), num(&q["value"]), s(&q["unit"]), s(&q["system"]), s(&q["code"]))
}

#[test]
fn ssmix2_lab_results() {
    let d = data();
    let hosp = hospital_encounters(d);
    let mut expected = BTreeMap::new();
    for o in d.fhir["Observation"].iter().filter(|o| o["category"][0]["coding"][0]["code"] == "laboratory") {
        let Some((_, fac)) = hosp.get(ref_id(&o["encounter"])) else { continue };
        let key = format!("{fac}/{}/{}/{}", ref_id(&o["subject"]), s(&o["effectiveDateTime"]), s(&o["code"]["coding"][0]["code"]));
        put(&mut expected, "lab", key, lab_fields(o));
    }
    let mut actual = BTreeMap::new();
    for o in d.ssmix2.iter().filter(|r| r["resourceType"] == "Observation") {
        let (fac, pid) = conv_patient(&o["subject"]);
        let key = format!("{fac}/{pid}/{}/{}", s(&o["effectiveDateTime"]), s(&o["code"]["coding"][0]["code"]));
        put(&mut actual, "lab", key, lab_fields(o));
    }
    check("SS-MIX2 lab result", expected, actual, 100);
}

fn med_fields(m: &Value) -> String {
    let coding = &m["medicationCodeableConcept"]["coding"][0];
    let dose = &m["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"];
    let days = &m["dosageInstruction"][0]["timing"]["repeat"]["boundsDuration"];
    let qty = &m["dispenseRequest"]["quantity"];
    format!(
        "system={} name={} dose={} {} days={} {} quantity={} {} route={}",
        s(&coding["system"]),
        s(&coding["display"]),
        num(&dose["value"]),
        s(&dose["unit"]),
        num(&days["value"]),
        s(&days["code"]),
        num(&qty["value"]),
        s(&qty["unit"]),
        s(&m["dosageInstruction"][0]["route"]["coding"][0]["code"]),
    )
}

#[test]
fn ssmix2_prescriptions() {
    let d = data();
    let hosp = hospital_encounters(d);
    let mut expected = BTreeMap::new();
    for m in &d.fhir["MedicationRequest"] {
        let Some((_, fac)) = hosp.get(ref_id(&m["encounter"])) else { continue };
        let key = format!("{fac}/{}/{}/{}", ref_id(&m["subject"]), date10(&m["authoredOn"]), s(&m["medicationCodeableConcept"]["coding"][0]["code"]));
        put(&mut expected, "prescription", key, med_fields(m));
    }
    let mut actual = BTreeMap::new();
    for m in d.ssmix2.iter().filter(|r| r["resourceType"] == "MedicationRequest") {
        let (fac, pid) = conv_patient(&m["subject"]);
        let key = format!("{fac}/{pid}/{}/{}", date10(&m["authoredOn"]), s(&m["medicationCodeableConcept"]["coding"][0]["code"]));
        put(&mut actual, "prescription", key, med_fields(m));
    }
    check("SS-MIX2 prescription", expected, actual, 20);
}

/// Synth claims with their facility and patient.
fn synth_claims(d: &Data) -> Vec<(&Value, String, String)> {
    d.fhir["Claim"].iter().map(|c| (c, ref_id(&c["provider"]).trim_start_matches("org-").to_string(), ref_id(&c["patient"]).to_string())).collect()
}

#[test]
fn uke_patients() {
    let d = data();
    let people = synth_patients(d);
    let mut expected = BTreeMap::new();
    for (_, fac, pid) in synth_claims(d) {
        let p = people[pid.as_str()];
        let n = names(p);
        // UKE has one name field: family and given joined by an ideographic space.
        put(&mut expected, "patient", format!("{fac}/{pid}"), format!("name={}　{} kana={}　{} birth={} sex={}", n[0], n[1], n[2], n[3], s(&p["birthDate"]), s(&p["gender"])));
    }
    let mut actual = BTreeMap::new();
    for p in d.uke.iter().filter(|r| r["resourceType"] == "Patient") {
        let system = s(&p["identifier"][0]["system"]);
        let fac = system.strip_prefix("urn:oid:1.2.392.100495.20.3.51.1").unwrap_or(system);
        let text = |rep: &str| p["name"].as_array().into_iter().flatten().find(|n| n["extension"][0]["valueCode"] == rep).map(|n| s(&n["text"]).to_string()).unwrap_or_default();
        put(&mut actual, "patient", format!("{fac}/{}", s(&p["identifier"][0]["value"])), format!("name={} kana={} birth={} sex={}", text("IDE"), text("SYL"), s(&p["birthDate"]), s(&p["gender"])));
    }
    check("UKE patient", expected, actual, 100);
}

#[test]
fn uke_diagnoses() {
    let d = data();
    let conditions: BTreeMap<&str, &Value> = d.fhir["Condition"].iter().map(|c| (s(&c["id"]), c)).collect();
    // Every diagnosis of an encounter is listed (SY) on the claims of that
    // encounter's facility; compared as the set per facility and patient.
    let mut expected = BTreeMap::new();
    for e in &d.fhir["Encounter"] {
        let fac = ref_id(&e["serviceProvider"]).trim_start_matches("org-");
        let pid = ref_id(&e["subject"]);
        for dx in e["diagnosis"].as_array().into_iter().flatten() {
            let c = conditions[ref_id(&dx["condition"])];
            put(&mut expected, "diagnosis", format!("{fac}/{pid}/{}/{}", s(&c["code"]["text"]), date10(&c["onsetDateTime"])), "listed".into());
        }
    }
    let mut actual = BTreeMap::new();
    for c in d.uke.iter().filter(|r| r["resourceType"] == "Condition") {
        let (fac, pid) = conv_patient(&c["subject"]);
        put(&mut actual, "diagnosis", format!("{fac}/{pid}/{}/{}", s(&c["code"]["text"]), date10(&c["onsetDateTime"])), "listed".into());
    }
    check("UKE diagnosis", expected, actual, 100);
}

#[test]
fn uke_claim_points() {
    let d = data();
    let encounters: BTreeMap<&str, &Value> = d.fhir["Encounter"].iter().map(|e| (s(&e["id"]), e)).collect();
    // Outpatient: points per facility, patient and month. Inpatient: per
    // facility and patient over all stays (UKE splits a stay by month).
    let mut out_exp: BTreeMap<String, u64> = BTreeMap::new();
    let mut in_exp: BTreeMap<String, u64> = BTreeMap::new();
    for (c, fac, pid) in synth_claims(d) {
        let yen = c["total"]["value"].as_f64().expect("Claim.total");
        let points = (yen / 10.0).round() as u64;
        // Synth Claim `claim-<pid>-<seq>` bills encounter `enc-<pid>-<seq>`.
        let enc_id = s(&c["id"]).replacen("claim-", "enc-", 1);
        let inpatient = encounters.get(enc_id.as_str()).is_some_and(|e| e["class"]["code"] == "IMP");
        if inpatient {
            *in_exp.entry(format!("{fac}/{pid}")).or_default() += points;
        } else {
            let month = s(&c["billablePeriod"]["start"]).get(..7).unwrap_or("").to_string();
            *out_exp.entry(format!("{fac}/{pid}/{month}")).or_default() += points;
        }
    }
    let mut out_act: BTreeMap<String, u64> = BTreeMap::new();
    let mut in_act: BTreeMap<String, u64> = BTreeMap::new();
    for c in d.uke.iter().filter(|r| r["resourceType"] == "Claim") {
        let fac = s(&c["provider"]["identifier"]["value"]);
        let (_, pid) = conv_patient(&c["patient"]);
        let points = c["extension"].as_array().into_iter().flatten().find(|x| x["url"] == ingest::uke::urn::POINTS).and_then(|x| x["valueDecimal"].as_f64()).expect("claim points") as u64;
        // レセプト種別: the 4th digit is odd for inpatient claims.
        let kind = s(&c["subType"]["coding"][0]["code"]);
        let inpatient = kind.as_bytes().get(3).is_some_and(|b| (b - b'0') % 2 == 1);
        // Item points add up to the claim total.
        let items: f64 = c["item"].as_array().into_iter().flatten().flat_map(|i| i["extension"].as_array().into_iter().flatten()).filter(|x| x["url"] == ingest::uke::urn::POINTS).filter_map(|x| x["valueDecimal"].as_f64()).sum();
        assert!(items > 0.0, "claim {} has no item points", s(&c["id"]));
        if inpatient {
            *in_act.entry(format!("{fac}/{pid}")).or_default() += points;
        } else {
            *out_act.entry(format!("{fac}/{pid}/{}", s(&c["billablePeriod"]["start"]))).or_default() += points;
        }
    }
    let text = |m: BTreeMap<String, u64>| -> BTreeMap<String, String> { m.into_iter().map(|(k, v)| (k, format!("{v} points"))).collect() };
    check("UKE outpatient claim", text(out_exp), text(out_act), 100);
    check("UKE inpatient claim", text(in_exp), text(in_act), 10);
}
