//! Search semantics against hand-computed result sets: every parameter type,
//! prefix and modifier, with the edge cases of dates, missing and multiple
//! values, AND/OR, chaining, `_has`, composites, sorting and paging.

use super::*;
use crate::{SqliteStore, Store};
use serde_json::{Value, json};

fn store(resources: Vec<Value>) -> SqliteStore {
    let s = SqliteStore::open_in_memory().expect("open");
    s.transact(&mut |tx| {
        for r in &resources {
            let t = r["resourceType"].as_str().expect("type");
            let id = r["id"].as_str().expect("id");
            tx.put(t, id, r.clone(), None, false)?;
        }
        Ok(())
    })
    .expect("load");
    s
}

fn pairs(q: &str) -> Vec<(String, String)> {
    q.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').expect("k=v");
        (k.to_string(), v.to_string())
    }).collect()
}

/// The sorted ids matching `q` on `rt`.
fn ids(s: &SqliteStore, rt: &str, q: &str) -> Vec<String> {
    let conds = parse_conditions(rt, &pairs(q)).unwrap_or_else(|e| panic!("{q}: {e}"));
    let query = SearchQuery {
        resource_types: vec![rt.into()],
        conditions: vec![conds],
        count: 1000,
        total: TotalMode::Accurate,
        ..Default::default()
    };
    let r = s.search(&query).unwrap_or_else(|e| panic!("{q}: {e}"));
    let mut out: Vec<String> = r.entries.iter().map(|e| e.meta.id.clone()).collect();
    assert_eq!(r.total, Some(out.len() as u64), "{q}: total agrees with the page");
    out.sort();
    out
}

fn err(rt: &str, q: &str) -> Error {
    parse_conditions(rt, &pairs(q)).expect_err(q)
}

fn patients() -> SqliteStore {
    store(vec![
        json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Yamada", "given": ["Taro"]},
            {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "SYL"}],
             "family": "ヤマダ", "given": ["タロウ"]}],
            "gender": "male", "birthDate": "1980-04-01", "active": true,
            "identifier": [{"system": "urn:oid:1.2.392.100495.20.3.51.11312345670", "value": "00001",
                "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}}],
            "telecom": [{"system": "phone", "value": "03-1234-5678"}],
            "address": [{"city": "新宿区", "postalCode": "160-0022"}]}),
        json!({"resourceType": "Patient", "id": "p2", "name": [{"family": "Renée", "given": ["Müller"]}],
            "gender": "female", "birthDate": "1980-04", "active": false,
            "identifier": [{"system": "urn:x", "value": "00001"}]}),
        json!({"resourceType": "Patient", "id": "p3", "name": [{"family": "Yamamoto", "given": ["Hanako"]}],
            "gender": "female", "birthDate": "1979-12-31",
            "generalPractitioner": [{"reference": "Practitioner/dr1"}],
            "managingOrganization": {"reference": "Organization/o1"}}),
        json!({"resourceType": "Patient", "id": "p4", "gender": "unknown",
            "link": [{"other": {"reference": "Patient/p1"}, "type": "seealso"}]}),
        json!({"resourceType": "Practitioner", "id": "dr1", "name": [{"family": "Sato"}]}),
        json!({"resourceType": "Organization", "id": "o1", "name": "Tokyo General", "partOf": {"reference": "Organization/o2"}}),
        json!({"resourceType": "Organization", "id": "o2", "name": "Tokyo Health Group"}),
    ])
}

#[test]
fn string_prefix_exact_contains_and_kana() {
    let s = patients();
    assert_eq!(ids(&s, "Patient", "family=yama"), ["p1", "p3"]);
    assert_eq!(ids(&s, "Patient", "family=YAMADA"), ["p1"]);
    assert_eq!(ids(&s, "Patient", "family=renee"), ["p2"], "accents fold");
    assert_eq!(ids(&s, "Patient", "family:exact=Renée"), ["p2"]);
    assert_eq!(ids(&s, "Patient", "family:exact=renée"), Vec::<String>::new(), ":exact is case-sensitive");
    assert_eq!(ids(&s, "Patient", "family:contains=amo"), ["p3"]);
    assert_eq!(ids(&s, "Patient", "name=hanako"), ["p3"]);
    assert_eq!(ids(&s, "Patient", "given=muller"), ["p2"]);
    // Kana names: katakana, hiragana and half-width all find the SYL name.
    assert_eq!(ids(&s, "Patient", "family=ヤマダ"), ["p1"]);
    assert_eq!(ids(&s, "Patient", "family=やまだ"), ["p1"]);
    assert_eq!(ids(&s, "Patient", "family=ﾔﾏﾀﾞ"), ["p1"]);
    assert_eq!(ids(&s, "Patient", "given=たろ"), ["p1"], "prefix as the user types");
    assert_eq!(ids(&s, "Patient", "address-city=新宿"), ["p1"]);
    assert_eq!(ids(&s, "Patient", "address-postalcode=160"), ["p1"]);
    assert_eq!(ids(&s, "Patient", "family=nobody"), Vec::<String>::new());
    // OR and AND.
    assert_eq!(ids(&s, "Patient", "family=renee,yamamoto"), ["p2", "p3"]);
    assert_eq!(ids(&s, "Patient", "family=yama&given=hana"), ["p3"]);
}

#[test]
fn token_forms_and_modifiers() {
    let s = patients();
    assert_eq!(ids(&s, "Patient", "gender=female"), ["p2", "p3"]);
    assert_eq!(ids(&s, "Patient", "gender:not=female"), ["p1", "p4"]);
    assert_eq!(ids(&s, "Patient", "gender=male,unknown"), ["p1", "p4"]);
    assert_eq!(ids(&s, "Patient", "identifier=00001"), ["p1", "p2"]);
    assert_eq!(ids(&s, "Patient", "identifier=urn:x|00001"), ["p2"]);
    assert_eq!(ids(&s, "Patient", "identifier=urn:x|"), ["p2"]);
    assert_eq!(ids(&s, "Patient", "identifier=|00001"), Vec::<String>::new(), "both identifiers have a system");
    assert_eq!(
        ids(&s, "Patient", "identifier:of-type=http://terminology.hl7.org/CodeSystem/v2-0203|MR|00001"),
        ["p1"]
    );
    assert_eq!(ids(&s, "Patient", "active=true"), ["p1"]);
    assert_eq!(ids(&s, "Patient", "active=false"), ["p2"]);
    assert_eq!(ids(&s, "Patient", "active:missing=true"), ["p3", "p4"]);
    assert_eq!(ids(&s, "Patient", "active:missing=false"), ["p1", "p2"]);
    assert_eq!(ids(&s, "Patient", "phone=03-1234-5678"), ["p1"]);
    assert_eq!(ids(&s, "Patient", "_id=p1,p3"), ["p1", "p3"]);
    assert_eq!(ids(&s, "Patient", "_id=p1&gender=female"), Vec::<String>::new());
}

#[test]
fn token_text_on_codeable_concepts() {
    let s = store(vec![
        json!({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "22298006", "display": "Myocardial infarction"}], "text": "心筋梗塞"}}),
        json!({"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I50.9"}], "text": "Heart failure"}}),
    ]);
    assert_eq!(ids(&s, "Condition", "code:text=infarction"), ["c1"]);
    assert_eq!(ids(&s, "Condition", "code:text=心筋"), ["c1"]);
    assert_eq!(ids(&s, "Condition", "code:text=heart"), ["c2"]);
    assert_eq!(ids(&s, "Condition", "code=http://snomed.info/sct|22298006"), ["c1"]);
    assert_eq!(ids(&s, "Condition", "code=http://snomed.info/sct|"), ["c1"]);
    assert_eq!(ids(&s, "Condition", "code:not=I50.9"), ["c1"]);
}

#[test]
fn date_prefixes_and_precision() {
    let s = patients();
    // p1 1980-04-01 (a day), p2 1980-04 (a month), p3 1979-12-31, p4 none.
    assert_eq!(ids(&s, "Patient", "birthdate=1980"), ["p1", "p2"]);
    assert_eq!(ids(&s, "Patient", "birthdate=1980-04"), ["p1", "p2"]);
    assert_eq!(ids(&s, "Patient", "birthdate=1980-04-01"), ["p1"], "the month p2 is not inside one day");
    assert_eq!(ids(&s, "Patient", "birthdate=eq1980-04-01"), ["p1"]);
    assert_eq!(ids(&s, "Patient", "birthdate=ne1980-04-01"), ["p2", "p3"]);
    assert_eq!(ids(&s, "Patient", "birthdate=gt1980-04-01"), ["p2"], "p2's month extends past the day");
    assert_eq!(ids(&s, "Patient", "birthdate=lt1980-04-01"), ["p3"]);
    assert_eq!(ids(&s, "Patient", "birthdate=ge1980-04-01"), ["p1", "p2"]);
    assert_eq!(ids(&s, "Patient", "birthdate=le1980-04-01"), ["p1", "p3"]);
    assert_eq!(ids(&s, "Patient", "birthdate=sa1979-12-31"), ["p1", "p2"]);
    assert_eq!(ids(&s, "Patient", "birthdate=eb1980-04-01"), ["p3"]);
    assert_eq!(ids(&s, "Patient", "birthdate=ge1980&birthdate=lt1981"), ["p1", "p2"]);
    assert_eq!(ids(&s, "Patient", "birthdate=1979,1980-04-01"), ["p1", "p3"]);
    assert_eq!(ids(&s, "Patient", "birthdate:missing=true"), ["p4"]);
    assert_eq!(ids(&s, "Patient", "birthdate=ap1980-04-01"), ["p1", "p2", "p3"], "within 10% of the distance from now");
}

#[test]
fn dates_with_time_zones_periods_and_timing() {
    let s = store(vec![
        // 2024-01-01T23:30+09:00 is 2024-01-01T14:30Z.
        json!({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}, "effectiveDateTime": "2024-01-01T23:30:00+09:00"}),
        json!({"resourceType": "Observation", "id": "o2", "status": "final", "code": {"text": "x"}, "effectivePeriod": {"start": "2024-01-01", "end": "2024-01-03"}}),
        json!({"resourceType": "Observation", "id": "o3", "status": "final", "code": {"text": "x"}, "effectivePeriod": {"start": "2024-01-02"}}),
        json!({"resourceType": "Observation", "id": "o4", "status": "final", "code": {"text": "x"}, "effectiveInstant": "2024-01-02T00:00:00.000Z"}),
        json!({"resourceType": "MedicationRequest", "id": "m1", "status": "active", "intent": "order", "subject": {"reference": "Patient/p1"},
            "medicationCodeableConcept": {"text": "x"},
            "dosageInstruction": [{"timing": {"event": ["2024-03-01T08:00:00Z", "2024-03-05T08:00:00Z"]}}]}),
    ]);
    assert_eq!(ids(&s, "Observation", "date=2024-01-01"), ["o1"]);
    assert_eq!(ids(&s, "Observation", "date=2024-01-01T23:30:00%2B09:00".replace("%2B", "+").as_str()), ["o1"]);
    assert_eq!(ids(&s, "Observation", "date=2024-01-01T14:30:00Z"), ["o1"]);
    assert_eq!(ids(&s, "Observation", "date=2024-01"), ["o1", "o2", "o4"], "o3 has an open end");
    assert_eq!(ids(&s, "Observation", "date=gt2024-01-02"), ["o2", "o3"]);
    assert_eq!(ids(&s, "Observation", "date=lt2024-01-02"), ["o1", "o2"]);
    assert_eq!(ids(&s, "Observation", "date=ge2024-01-02"), ["o2", "o3", "o4"]);
    assert_eq!(ids(&s, "Observation", "date=sa2024-01-01"), ["o3", "o4"]);
    assert_eq!(ids(&s, "Observation", "date=eb2024-01-02"), ["o1"]);
    assert_eq!(ids(&s, "MedicationRequest", "authoredon:missing=true"), ["m1"]);
}

#[test]
fn numbers_and_quantities_with_ucum() {
    let s = store(vec![
        json!({"resourceType": "Observation", "id": "g1", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "15074-8"}]},
            "valueQuantity": {"value": 5.4, "unit": "mmol/L", "system": "http://unitsofmeasure.org", "code": "mmol/L"}}),
        json!({"resourceType": "Observation", "id": "g2", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "15074-8"}]},
            "valueQuantity": {"value": 7000, "unit": "µmol/L", "system": "http://unitsofmeasure.org", "code": "umol/L"}}),
        json!({"resourceType": "Observation", "id": "w1", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "valueQuantity": {"value": 100, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}),
        json!({"resourceType": "Observation", "id": "w2", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
            "valueQuantity": {"value": 99.6, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}}),
        json!({"resourceType": "RiskAssessment", "id": "r1", "status": "final", "subject": {"reference": "Patient/p1"}, "prediction": [{"probabilityDecimal": 0.25}]}),
        json!({"resourceType": "RiskAssessment", "id": "r2", "status": "final", "subject": {"reference": "Patient/p1"}, "prediction": [{"probabilityDecimal": 0.7}]}),
    ]);
    assert_eq!(ids(&s, "Observation", "value-quantity=5.4|http://unitsofmeasure.org|mmol/L"), ["g1"]);
    assert_eq!(ids(&s, "Observation", "value-quantity=7|http://unitsofmeasure.org|mmol/L"), ["g2"], "7000 umol/L is 7 mmol/L");
    assert_eq!(ids(&s, "Observation", "value-quantity=gt6|http://unitsofmeasure.org|mmol/L"), ["g2"]);
    assert_eq!(ids(&s, "Observation", "value-quantity=100000|http://unitsofmeasure.org|g"), ["w1"], "100 kg is 100000 g; 99.6 kg is not");
    assert_eq!(ids(&s, "Observation", "value-quantity=100"), ["w1", "w2"], "100 means [99.5, 100.5)");
    assert_eq!(ids(&s, "Observation", "value-quantity=100.0"), ["w1"], "100.0 means [99.95, 100.05)");
    assert_eq!(ids(&s, "Observation", "value-quantity=100||kg"), ["w1", "w2"]);
    assert_eq!(ids(&s, "Observation", "value-quantity=lt100||kg"), ["w2"]);
    assert_eq!(ids(&s, "Observation", "value-quantity=ne100.0||kg"), ["w2"]);
    assert_eq!(ids(&s, "Observation", "value-quantity=le5.4,ge7000"), ["g1", "g2"]);
    assert_eq!(ids(&s, "RiskAssessment", "probability=0.25"), ["r1"]);
    assert_eq!(ids(&s, "RiskAssessment", "probability=gt0.5"), ["r2"]);
    assert_eq!(ids(&s, "RiskAssessment", "probability=ap0.26"), ["r1"]);
    assert_eq!(ids(&s, "RiskAssessment", "probability=ge0.25&probability=le0.25"), ["r1"]);
    // Composite: code and value from the same observation.
    assert_eq!(ids(&s, "Observation", "code-value-quantity=http://loinc.org|29463-7$gt99.8|http://unitsofmeasure.org|kg"), ["w1"]);
    assert_eq!(ids(&s, "Observation", "code-value-quantity=http://loinc.org|15074-8$gt99.8|http://unitsofmeasure.org|kg"), Vec::<String>::new());
}


#[test]
fn composites_match_within_one_component() {
    let s = store(vec![
        json!({"resourceType": "Observation", "id": "bp1", "status": "final", "code": {"text": "BP"}, "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 150, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 90, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]}),
        json!({"resourceType": "Observation", "id": "bp2", "status": "final", "code": {"text": "BP"}, "component": [
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": {"value": 118, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": {"value": 145, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}]}),
    ]);
    // bp2 has a value above 140 but not in its systolic component.
    assert_eq!(ids(&s, "Observation", "component-code-value-quantity=http://loinc.org|8480-6$gt140"), ["bp1"]);
    assert_eq!(ids(&s, "Observation", "component-code-value-quantity=http://loinc.org|8462-4$gt140"), ["bp2"]);
    assert_eq!(ids(&s, "Observation", "component-code-value-quantity=8480-6$lt120,8462-4$lt100"), ["bp1", "bp2"]);
    assert_eq!(ids(&s, "Observation", "component-value-quantity=gt140"), ["bp1", "bp2"]);
    assert_eq!(ids(&s, "Observation", "component-code=8462-4"), ["bp1", "bp2"]);
}

#[test]
fn references_chains_and_has() {
    let s = patients();
    let obs = |id: &str, subj: &str, code: &str| {
        json!({"resourceType": "Observation", "id": id, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]}, "subject": {"reference": subj}})
    };
    s.transact(&mut |tx| {
        for o in [obs("a", "Patient/p1", "1"), obs("b", "Patient/p3", "1"), obs("c", "Patient/p3", "2"), obs("d", "Patient/p1/_history/1", "2")] {
            let id = o["id"].as_str().expect("id").to_string();
            tx.put("Observation", &id, o, None, false)?;
        }
        tx.put("Observation", "e", json!({"resourceType": "Observation", "id": "e", "status": "final", "code": {"text": "x"},
            "subject": {"reference": "http://other.example/fhir/Patient/p1"}, "performer": [{"identifier": {"system": "urn:staff", "value": "42"}}]}), None, false)?;
        Ok(())
    })
    .expect("obs");
    assert_eq!(ids(&s, "Observation", "subject=Patient/p1"), ["a", "d"], "versioned references match the resource");
    assert_eq!(ids(&s, "Observation", "subject=Patient/p1/_history/1"), ["d"]);
    assert_eq!(ids(&s, "Observation", "subject=p3"), ["b", "c"]);
    assert_eq!(ids(&s, "Observation", "subject:Patient=p3"), ["b", "c"]);
    assert_eq!(ids(&s, "Observation", "patient=p3"), ["b", "c"]);
    assert_eq!(ids(&s, "Observation", "subject=http://other.example/fhir/Patient/p1"), ["e"]);
    assert_eq!(ids(&s, "Observation", "performer:identifier=urn:staff|42"), ["e"]);
    assert_eq!(ids(&s, "Observation", "subject:missing=true"), Vec::<String>::new());
    assert_eq!(ids(&s, "Observation", "subject=Patient/p3&code=2"), ["c"]);
    assert_eq!(ids(&s, "Observation", "subject=Patient/p1,Patient/p3&code=1"), ["a", "b"]);
    // Forward chains, one and two levels, with and without a type.
    assert_eq!(ids(&s, "Observation", "subject:Patient.family=yamamoto"), ["b", "c"]);
    assert_eq!(ids(&s, "Observation", "subject.gender=male"), ["a", "d"]);
    assert_eq!(ids(&s, "Observation", "subject:Patient.organization.name=tokyo"), ["b", "c"]);
    assert_eq!(ids(&s, "Observation", "subject:Patient.organization.partof.name=tokyo health"), ["b", "c"]);
    assert_eq!(ids(&s, "Patient", "general-practitioner:Practitioner.family=sato"), ["p3"]);
    // Reverse chains, nested.
    assert_eq!(ids(&s, "Patient", "_has:Observation:subject:code=2"), ["p1", "p3"]);
    assert_eq!(ids(&s, "Patient", "_has:Observation:patient:code=1&gender=female"), ["p3"]);
    assert_eq!(ids(&s, "Patient", "_has:Patient:link:gender=unknown"), ["p1"], "p4 links to p1");
    assert_eq!(ids(&s, "Patient", "_has:Patient:link:_has:Observation:subject:code=1"), Vec::<String>::new(), "p4 has no observations");
    assert_eq!(ids(&s, "Organization", "_has:Patient:organization:_has:Observation:subject:code=2"), ["o1"]);
    // Deleted targets do not match chains.
    s.transact(&mut |tx| tx.delete("Practitioner", "dr1", None).map(|_| ())).expect("delete");
    assert_eq!(ids(&s, "Patient", "general-practitioner:Practitioner.family=sato"), Vec::<String>::new());
}

#[test]
fn uri_below_above_and_meta_params() {
    let s = store(vec![
        json!({"resourceType": "ValueSet", "id": "v1", "status": "active", "url": "http://example.org/fhir/ValueSet/a"}),
        json!({"resourceType": "ValueSet", "id": "v2", "status": "active", "url": "http://example.org/fhir/ValueSet/a/b"}),
        json!({"resourceType": "ValueSet", "id": "v3", "status": "active", "url": "http://example.org/other"}),
        json!({"resourceType": "Patient", "id": "t1", "meta": {"tag": [{"system": "urn:t", "code": "study"}],
            "profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"], "security": [{"system": "urn:s", "code": "R"}],
            "source": "urn:src:ssmix2"}}),
        json!({"resourceType": "Patient", "id": "t2"}),
    ]);
    assert_eq!(ids(&s, "ValueSet", "url=http://example.org/fhir/ValueSet/a"), ["v1"]);
    assert_eq!(ids(&s, "ValueSet", "url:below=http://example.org/fhir"), ["v1", "v2"]);
    assert_eq!(ids(&s, "ValueSet", "url:above=http://example.org/fhir/ValueSet/a/b/c"), ["v1", "v2"]);
    assert_eq!(ids(&s, "Patient", "_tag=urn:t|study"), ["t1"]);
    assert_eq!(ids(&s, "Patient", "_profile=http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"), ["t1"]);
    assert_eq!(ids(&s, "Patient", "_security=R"), ["t1"]);
    assert_eq!(ids(&s, "Patient", "_source=urn:src:ssmix2"), ["t1"]);
    assert_eq!(ids(&s, "Patient", "_tag:missing=true"), ["t2"]);
    assert_eq!(ids(&s, "Patient", "_lastUpdated=gt2000-01-01"), ["t1", "t2"]);
    assert_eq!(ids(&s, "Patient", "_lastUpdated=lt2000-01-01"), Vec::<String>::new());
}

#[test]
fn updates_and_deletes_refresh_the_index() {
    let s = patients();
    assert_eq!(ids(&s, "Patient", "family=yamamoto"), ["p3"]);
    s.transact(&mut |tx| {
        tx.put("Patient", "p3", json!({"resourceType": "Patient", "name": [{"family": "Suzuki"}]}), None, false)?;
        tx.delete("Patient", "p2", None)?;
        Ok(())
    })
    .expect("write");
    assert_eq!(ids(&s, "Patient", "family=yamamoto"), Vec::<String>::new());
    assert_eq!(ids(&s, "Patient", "family=suzuki"), ["p3"]);
    assert_eq!(ids(&s, "Patient", "gender=female"), Vec::<String>::new());
    assert_eq!(ids(&s, "Patient", "identifier=00001"), ["p1"]);
}

fn run(s: &SqliteStore, rt: &str, q: &str, sort: &str, count: usize, cursor: Option<String>) -> SearchResult {
    let query = SearchQuery {
        resource_types: vec![rt.into()],
        conditions: vec![parse_conditions(rt, &pairs(q)).expect("parse")],
        sort: if sort.is_empty() { Vec::new() } else { parse_sort(rt, sort).expect("sort") },
        count,
        cursor,
        total: TotalMode::Accurate,
        ..Default::default()
    };
    s.search(&query).expect("search")
}

fn all_pages(s: &SqliteStore, rt: &str, q: &str, sort: &str, count: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let r = run(s, rt, q, sort, count, cursor.take());
        out.extend(r.entries.iter().map(|e| e.meta.id.clone()));
        match r.next_cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
}

#[test]
fn sort_is_stable_and_pages_with_cursors() {
    let s = patients();
    assert_eq!(all_pages(&s, "Patient", "", "birthdate", 1), ["p3", "p1", "p2", "p4"], "p1 and p2 start together (rid breaks the tie); missing last");
    assert_eq!(all_pages(&s, "Patient", "", "-birthdate", 2), ["p2", "p1", "p3", "p4"]);
    assert_eq!(all_pages(&s, "Patient", "", "gender,-_id", 1), ["p3", "p2", "p1", "p4"]);
    assert_eq!(all_pages(&s, "Patient", "", "family", 3), ["p2", "p1", "p3", "p4"]);
    assert_eq!(all_pages(&s, "Patient", "gender=female", "_id", 1), ["p2", "p3"]);
    // Unsorted pages: storage order, next and previous.
    let p1 = run(&s, "Patient", "", "", 2, None);
    assert_eq!(p1.total, Some(4));
    assert!(p1.prev_cursor.is_none());
    let p2 = run(&s, "Patient", "", "", 2, p1.next_cursor.clone());
    assert!(p2.next_cursor.is_none());
    let back = run(&s, "Patient", "", "", 2, p2.prev_cursor.clone());
    let ids1: Vec<_> = p1.entries.iter().map(|e| e.meta.id.clone()).collect();
    let back_ids: Vec<_> = back.entries.iter().map(|e| e.meta.id.clone()).collect();
    assert_eq!(ids1, back_ids);
    assert_eq!(all_pages(&s, "Patient", "", "", 3), ["p1", "p2", "p3", "p4"]);
    // Count only.
    let c = run(&s, "Patient", "gender=female", "", 0, None);
    assert!(c.entries.is_empty());
    assert_eq!(c.total, Some(2));
}

#[test]
fn includes_and_revincludes() {
    let s = patients();
    s.transact(&mut |tx| {
        tx.put("Observation", "a", json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p3"}}), None, false)?;
        Ok(())
    })
    .expect("obs");
    let q = |inc: Vec<Include>, rev: Vec<Include>, rt: &str, cond: &str| {
        let query = SearchQuery {
            resource_types: vec![rt.into()],
            conditions: vec![parse_conditions(rt, &pairs(cond)).expect("parse")],
            count: 10,
            include: inc,
            revinclude: rev,
            ..Default::default()
        };
        let mut v: Vec<String> = s.search(&query).expect("search").included.iter().map(|e| format!("{}/{}", e.meta.resource_type, e.meta.id)).collect();
        v.sort();
        v
    };
    let inc = |n: &str, v: &str| parse_include(n, v).expect("include");
    assert_eq!(q(vec![inc("_include", "Observation:subject")], vec![], "Observation", ""), ["Patient/p3"]);
    assert_eq!(q(vec![inc("_include", "Observation:subject:Practitioner")], vec![], "Observation", ""), Vec::<String>::new());
    assert_eq!(
        q(vec![inc("_include", "Observation:subject"), inc("_include:iterate", "Patient:organization")], vec![], "Observation", ""),
        ["Organization/o1", "Patient/p3"]
    );
    assert_eq!(q(vec![inc("_include", "*")], vec![], "Patient", "_id=p3"), ["Organization/o1", "Practitioner/dr1"]);
    assert_eq!(q(vec![], vec![inc("_revinclude", "Observation:subject")], "Patient", "_id=p3"), ["Observation/a"]);
    assert_eq!(
        q(vec![inc("_include:iterate", "Organization:partof")], vec![inc("_revinclude", "Patient:organization")], "Organization", "_id=o1"),
        ["Organization/o2", "Patient/p3"]
    );
}

#[test]
fn errors_name_the_parameter_and_value() {
    let e = err("Patient", "birthdate=xx2024");
    assert!(e.to_string().contains("birthdate") && e.to_string().contains("xx2024"), "{e}");
    let e = err("Patient", "birthdate=2024-13");
    assert!(matches!(e, Error::InvalidParameter { .. }) && e.to_string().contains("2024-13"), "{e}");
    assert!(matches!(err("Patient", "_lastUpdated=zz2024"), Error::InvalidParameter { .. }));
    assert!(matches!(err("RiskAssessment", "probability=abc"), Error::InvalidParameter { .. }));
    assert!(matches!(err("Observation", "value-quantity=1|2"), Error::InvalidParameter { .. }));
    assert!(matches!(err("Patient", "active:missing=maybe"), Error::InvalidParameter { .. }));
    assert!(matches!(err("Patient", "identifier:of-type=a|b"), Error::InvalidParameter { .. }));
    assert!(matches!(err("Observation", "subject=not a ref"), Error::InvalidParameter { .. }));
    assert!(matches!(err("Observation", "code-value-quantity=a"), Error::InvalidParameter { .. }));
    assert!(matches!(err("Patient", "gender.name=x"), Error::InvalidParameter { .. }), "a token cannot be chained");
    let e = err("Patient", "nonsense=1");
    assert_eq!(e.to_string(), "unsupported search parameter 'nonsense' for Patient");
    assert!(matches!(err("Patient", "family:below=x"), Error::UnsupportedParameter { .. }), "unknown modifier");
    assert!(matches!(err("Patient", "_text=x"), Error::UnsupportedParameter { .. }));
    assert!(matches!(err("Observation", "code-value-quantity:missing=true"), Error::UnsupportedParameter { .. }));
    assert!(matches!(err("Patient", "family="), Error::InvalidParameter { .. }));
    assert!(parse_sort("Patient", "nonsense").is_err());
    assert!(parse_include("_include", "Patient:gender").is_err());
    assert!(parse_include("_include", "Nope:x").is_err());
}

#[test]
fn conditional_find_uses_every_parameter() {
    let s = patients();
    let mut found = Vec::new();
    s.transact(&mut |tx| {
        found = tx.find("Patient", &parse_conditions("Patient", &pairs("family=yama&birthdate=1979"))?, 2)?;
        Ok(())
    })
    .expect("find");
    assert_eq!(found, ["p3"]);
}

#[test]
fn system_search_merges_types_in_storage_order() {
    let s = patients();
    let query = SearchQuery {
        resource_types: vec!["Patient".into(), "Organization".into()],
        conditions: vec![
            parse_conditions("Patient", &pairs("_id=p1,o1")).expect("p"),
            parse_conditions("Organization", &pairs("_id=p1,o1")).expect("o"),
        ],
        count: 1,
        total: TotalMode::Accurate,
        ..Default::default()
    };
    let r = s.search(&query).expect("search");
    assert_eq!(r.total, Some(2));
    assert_eq!(r.entries[0].meta.id, "p1");
    let r2 = s.search(&SearchQuery { cursor: r.next_cursor, ..query }).expect("page 2");
    assert_eq!(r2.entries[0].meta.id, "o1");
    assert!(r2.next_cursor.is_none());
}

#[test]
fn compartment_condition() {
    let s = patients();
    s.transact(&mut |tx| {
        tx.put("Observation", "a", json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p3"}}), None, false)?;
        tx.put("Observation", "b", json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "performer": [{"reference": "Patient/p3"}]}), None, false)?;
        tx.put("Observation", "c", json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "subject": {"reference": "Patient/p1"}}), None, false)?;
        Ok(())
    })
    .expect("obs");
    let c = patient_compartment("Observation", "p3").expect("in compartment");
    let query = SearchQuery { resource_types: vec!["Observation".into()], conditions: vec![vec![c]], count: 10, ..Default::default() };
    let mut got: Vec<String> = s.search(&query).expect("s").entries.iter().map(|e| e.meta.id.clone()).collect();
    got.sort();
    assert_eq!(got, ["a", "b"]);
    assert!(patient_compartment("Organization", "p3").is_none());
}

#[test]
fn pre_extracted_index_rows_are_used() {
    let s = SqliteStore::open_in_memory().expect("open");
    let p = json!({"resourceType": "Patient", "name": [{"family": "Kato"}]});
    let rows = crate::index::extract("Patient", &p).0;
    s.transact(&mut |tx| tx.put_indexed("Patient", "k", p.clone(), None, false, rows.clone()).map(|_| ())).expect("put");
    assert_eq!(ids(&s, "Patient", "family=kato"), ["k"]);
    // The rows given are the rows written: an empty list indexes nothing.
    s.transact(&mut |tx| tx.put_indexed("Patient", "k2", p.clone(), None, false, Vec::new()).map(|_| ())).expect("put");
    assert_eq!(ids(&s, "Patient", "family=kato"), ["k"]);
}

#[test]
fn index_is_rebuilt_when_missing_or_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let s = SqliteStore::open(dir.path(), crate::SqliteOptions::default()).expect("open");
        s.transact(&mut |tx| tx.put("Patient", "a", json!({"resourceType": "Patient", "name": [{"family": "Ito"}]}), None, false).map(|_| ()))
            .expect("put");
    }
    // Simulate a database written by schema version 1 (no search index).
    {
        let c = rusqlite::Connection::open(dir.path().join("medtwin.db")).expect("raw");
        c.execute_batch("DELETE FROM sp_string; DELETE FROM sp_token; DELETE FROM meta WHERE key = 'index'; UPDATE meta SET value = '1' WHERE key = 'schema';")
            .expect("downgrade");
    }
    let s = SqliteStore::open(dir.path(), crate::SqliteOptions::default()).expect("reopen");
    assert_eq!(ids(&s, "Patient", "family=ito"), ["a"]);
}

fn value_indexes(dir: &std::path::Path) -> Vec<String> {
    let c = rusqlite::Connection::open(dir.join("medtwin.db")).expect("raw");
    let mut stmt = c.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'sp\\_%' ESCAPE '\\' ORDER BY name").expect("q");
    stmt.query_map([], |r| r.get::<_, String>(0)).expect("rows").collect::<rusqlite::Result<_>>().expect("names")
}

fn put_prepared_all(s: &SqliteStore, resources: &[Value]) -> Vec<crate::Written> {
    let prepared: Vec<crate::Prepared> = resources
        .iter()
        .map(|r| crate::prepare(r["resourceType"].as_str().expect("type"), r["id"].as_str().expect("id"), r.clone()).expect("prepare"))
        .collect();
    let mut out = Vec::new();
    s.transact(&mut |tx| {
        for p in &prepared {
            out.push(tx.put_prepared(p, None, true)?);
        }
        Ok(())
    })
    .expect("write");
    out
}

/// A bulk load drops the value indexes and builds them at the end; searches
/// give the same answers with and without them, and a load that is killed
/// before its end leaves indexes that the next open builds.
#[test]
fn bulk_load_defers_value_indexes_and_heals_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let all = [
        "sp_date_v", "sp_number_v", "sp_quantity_v", "sp_reference_u", "sp_reference_v", "sp_string_v", "sp_token_v",
    ];
    let obs = |i: u32| {
        json!({"resourceType": "Observation", "id": format!("o{i}"), "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": if i % 2 == 0 { "a" } else { "b" }}]},
            "subject": {"reference": format!("Patient/p{}", i % 3)}, "valueQuantity": {"value": i, "system": "http://unitsofmeasure.org", "code": "mg"}})
    };
    {
        let s = SqliteStore::open(dir.path(), crate::SqliteOptions::default()).expect("open");
        assert_eq!(value_indexes(dir.path()), all);
        assert!(s.begin_bulk_load(10).expect("begin"), "an empty store defers its indexes");
        assert!(value_indexes(dir.path()).is_empty());
        put_prepared_all(&s, &(0..10).map(obs).collect::<Vec<_>>());
        // Searches are correct without the value indexes.
        assert_eq!(ids(&s, "Observation", "code=a&subject=Patient/p0"), ["o0", "o6"]);
        assert_eq!(ids(&s, "Observation", "value-quantity=gt7"), ["o8", "o9"]);
        s.end_bulk_load().expect("end");
        assert_eq!(value_indexes(dir.path()), all);
        assert_eq!(ids(&s, "Observation", "code=a&subject=Patient/p0"), ["o0", "o6"]);
        // A store that holds more than the expected load keeps its indexes.
        assert!(!s.begin_bulk_load(5).expect("begin"));
        assert_eq!(value_indexes(dir.path()), all);
        // Killed in the middle: begin, write, and never end.
        assert!(s.begin_bulk_load(100).expect("begin"));
        put_prepared_all(&s, &(10..20).map(obs).collect::<Vec<_>>());
    }
    assert!(value_indexes(dir.path()).is_empty());
    let s = SqliteStore::open(dir.path(), crate::SqliteOptions::default()).expect("reopen");
    assert_eq!(value_indexes(dir.path()), all, "open builds the missing indexes");
    assert_eq!(ids(&s, "Observation", "code=a&subject=Patient/p1"), ["o10", "o16", "o4"]);
    let plan = s.explain("Observation", &parse_conditions("Observation", &pairs("code=a")).expect("parse")).expect("plan");
    assert!(plan.contains("sp_token_v"), "{plan}");
}

/// `put_prepared` stores what `put` stores and reports what it did.
#[test]
fn put_prepared_matches_put() {
    let a = SqliteStore::open_in_memory().expect("open");
    let b = SqliteStore::open_in_memory().expect("open");
    let p = json!({"resourceType": "Patient", "id": "k", "meta": {"versionId": "9", "profile": ["x"]}, "name": [{"family": "Kato"}]});
    a.transact(&mut |tx| tx.put("Patient", "k", p.clone(), None, true).map(|_| ())).expect("put");
    let w = put_prepared_all(&b, std::slice::from_ref(&p));
    assert_eq!(w, [crate::Written { version: 1, created: true, unchanged: false }]);
    let (ra, rb) = (a.read("Patient", "k").expect("a").expect("a"), b.read("Patient", "k").expect("b").expect("b"));
    let strip = |s: &str| s.replace(&ra.meta.last_updated.to_fhir(), "T").replace(&rb.meta.last_updated.to_fhir(), "T");
    assert_eq!(strip(ra.body.as_deref().expect("a")), strip(rb.body.as_deref().expect("b")));
    assert_eq!((ra.meta.version, ra.meta.seq), (rb.meta.version, rb.meta.seq));
    assert_eq!(ids(&b, "Patient", "family=kato"), ["k"]);
    // Unchanged content (server meta differs): no new version.
    let mut same = p.clone();
    same["meta"]["versionId"] = json!("1");
    assert_eq!(put_prepared_all(&b, &[same]), [crate::Written { version: 1, created: false, unchanged: true }]);
    // Changed: version 2 replaces the index rows.
    let changed = json!({"resourceType": "Patient", "id": "k", "name": [{"family": "Sato"}]});
    assert_eq!(put_prepared_all(&b, &[changed]), [crate::Written { version: 2, created: false, unchanged: false }]);
    assert!(ids(&b, "Patient", "family=kato").is_empty());
    assert_eq!(ids(&b, "Patient", "family=sato"), ["k"]);
    let v2 = b.read("Patient", "k").expect("r").expect("r");
    assert_eq!((v2.meta.version, v2.meta.seq), (2, 2));
    let body: Value = serde_json::from_str(v2.body.as_deref().expect("body")).expect("json");
    assert_eq!(body["meta"]["versionId"], "2");
    // If-Match is checked.
    let prepared = crate::prepare("Patient", "k", json!({"resourceType": "Patient"})).expect("prepare");
    let r = b.transact(&mut |tx| tx.put_prepared(&prepared, Some(1), false).map(|_| ()));
    assert!(matches!(r, Err(crate::Error::VersionConflict { current: 2, .. })), "{r:?}");
}

/// Token and quantity systems are stored as ids: a system first seen in a
/// transaction that rolls back is forgotten with it and gets a working id
/// later; tokens without a system match `|code`; an unknown system matches
/// nothing.
#[test]
fn token_systems_survive_rollbacks() {
    let s = store(vec![json!({"resourceType": "Observation", "id": "o0", "status": "final",
        "code": {"coding": [{"code": "nosys"}]}})]);
    let failed = s.transact(&mut |tx| {
        tx.put("Observation", "o1", json!({"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": "urn:new", "code": "a"}]},
            "valueQuantity": {"value": 5, "system": "urn:units", "code": "u"}}), None, false)?;
        Err(crate::Error::Aborted("on purpose".into()))
    });
    assert!(failed.is_err());
    assert_eq!(ids(&s, "Observation", "code=urn:new|a"), Vec::<String>::new());
    s.transact(&mut |tx| {
        tx.put("Observation", "o2", json!({"resourceType": "Observation", "id": "o2", "status": "final",
            "code": {"coding": [{"system": "urn:new", "code": "a"}]},
            "valueQuantity": {"value": 5, "system": "urn:units", "code": "u"}}), None, false)
            .map(|_| ())
    })
    .expect("write");
    assert_eq!(ids(&s, "Observation", "code=urn:new|a"), ["o2"]);
    assert_eq!(ids(&s, "Observation", "code=urn:new|"), ["o2"]);
    assert_eq!(ids(&s, "Observation", "value-quantity=5|urn:units|u"), ["o2"]);
    assert_eq!(ids(&s, "Observation", "value-quantity=5|urn:other|u"), Vec::<String>::new());
    assert_eq!(ids(&s, "Observation", "code=|nosys"), ["o0"]);
    assert_eq!(ids(&s, "Observation", "code=urn:unknown|a"), Vec::<String>::new());
}

/// Plans never depend on bound values (the store enables SQLite's query
/// planner stability), so a search by absolute reference URL must still find
/// the partial url index through the predicate's text.
#[test]
fn absolute_reference_searches_use_the_url_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = SqliteStore::open(dir.path(), crate::SqliteOptions::default()).expect("open");
    let obs = |id: &str, subject: &str| json!({"resourceType": "Observation", "id": id, "status": "final",
        "code": {"text": "x"}, "subject": {"reference": subject}});
    put_prepared_all(&s, &[obs("a", "http://other.example/fhir/Patient/9"), obs("b", "Patient/9"), obs("c", "http://other.example/fhir/Patient/8")]);
    assert_eq!(ids(&s, "Observation", "subject=http://other.example/fhir/Patient/9"), ["a"]);
    assert_eq!(ids(&s, "Observation", "subject=http://other.example/fhir/Patient/8"), ["c"]);
    assert_eq!(ids(&s, "Observation", "subject=Patient/9"), ["b"]);
    let conds = parse_conditions("Observation", &pairs("subject=http://other.example/fhir/Patient/9")).expect("parse");
    let plan = s.explain("Observation", &conds).expect("plan");
    assert!(plan.contains("sp_reference_u"), "{plan}");
}

/// A coarse token (`gender`) never drives a search that has a better
/// condition: the name prefix does, and the token is checked per match.
#[test]
fn coarse_tokens_do_not_drive() {
    let s = SqliteStore::open_in_memory().expect("open");
    let pat = |id: &str, family: &str, gender: &str| json!({"resourceType": "Patient", "id": id, "gender": gender, "name": [{"family": family}]});
    put_prepared_all(&s, &[pat("a", "Yamada", "male"), pat("b", "Yamada", "female"), pat("c", "Sato", "male")]);
    assert_eq!(ids(&s, "Patient", "family=yama&gender=male"), ["a"]);
    assert_eq!(ids(&s, "Patient", "gender=male"), ["a", "c"]);
    let plan = s.explain("Patient", &parse_conditions("Patient", &pairs("gender=male&family=yama")).expect("parse")).expect("plan");
    assert!(plan.starts_with("SELECT d.rid AS rid FROM sp_string d"), "{plan}");
}

/// A search driven by an index still applies `_lastUpdated` and `_id`,
/// which read the resources row (the only conditions that join it).
#[test]
fn driven_searches_apply_resource_row_conditions() {
    let s = SqliteStore::open_in_memory().expect("open");
    let obs = |id: &str| json!({"resourceType": "Observation", "id": id, "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]}, "subject": {"reference": "Patient/p"}});
    put_prepared_all(&s, &[obs("a"), obs("b")]);
    assert_eq!(ids(&s, "Observation", "code=2345-7&_lastUpdated=gt2000-01-01"), ["a", "b"]);
    assert!(ids(&s, "Observation", "code=2345-7&_lastUpdated=lt2000-01-01").is_empty());
    assert_eq!(ids(&s, "Observation", "subject=Patient/p&_id=b"), ["b"]);
    assert_eq!(ids(&s, "Observation", "subject=Patient/p&code=2345-7"), ["a", "b"]);
}
