//! Index extraction: the catalogue covers every R4 parameter, expressions
//! compile, and one resource yields the rows a search needs.

use super::*;
use serde_json::json;

#[test]
fn catalogue_covers_r4() {
    let cat = catalog();
    let patient: Vec<&str> = cat.for_type("Patient").iter().map(|p| p.code.as_str()).collect();
    for code in ["_id", "_lastUpdated", "_tag", "_profile", "_security", "_source", "name", "family", "given", "birthdate", "identifier", "organization", "link"] {
        assert!(patient.contains(&code), "Patient lacks {code}: {patient:?}");
    }
    let unsupported: Vec<String> = cat
        .all()
        .iter()
        .filter(|p| !p.supported())
        .map(|p| format!("{}.{}: {}", p.resource_type, p.code, p.unsupported.as_deref().unwrap_or("")))
        .collect();
    // Only parameters without an expression or of type special are not indexed.
    for u in &unsupported {
        assert!(
            u.contains("no FHIRPath expression") || u.contains("special parameter") || u.contains("no expression branch"),
            "unexpected: {u}"
        );
    }
    assert!(cat.all().len() > 3000, "{} (type, parameter) pairs", cat.all().len());
    assert_eq!(cat.fingerprint(), catalog().fingerprint());
}

#[test]
fn as_becomes_of_type() {
    assert_eq!(as_to_of_type("(Observation.component.value as Quantity)"), "(Observation.component.value.ofType(Quantity))");
    assert_eq!(as_to_of_type("Condition.onset.as(Age) | Condition.onset.as(Range)"), "Condition.onset.ofType(Age) | Condition.onset.ofType(Range)");
}

#[test]
fn union_expressions_are_split_per_type() {
    assert_eq!(split_union("Patient.birthDate | Person.birthDate"), ["Patient.birthDate", "Person.birthDate"]);
    assert_eq!(split_union("a.where(x = 'a|b') | (b.c | d)"), ["a.where(x = 'a|b')", "(b.c | d)"]);
    let p = catalog().get("Patient", "birthdate").expect("birthdate");
    assert_eq!(p.branches.len(), 1);
    assert_eq!(p.branches[0].expr.source(), "Patient.birthDate");
    assert_eq!(p.branches[0].first.as_deref(), Some("birthDate"));
}

#[test]
fn extracts_rows_of_each_kind() {
    let obs = json!({"resourceType": "Observation", "id": "o", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7", "display": "Glucose"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2024-01-02",
        "valueQuantity": {"value": 100, "unit": "mg/dL", "system": "http://unitsofmeasure.org", "code": "mg/dL"}});
    let (rows, failed) = extract("Observation", &obs);
    assert!(failed.is_empty(), "{failed:?}");
    let code = catalog().get("Observation", "code").expect("code").pid;
    let subject = catalog().get("Observation", "subject").expect("subject").pid;
    let value = catalog().get("Observation", "value-quantity").expect("vq").pid;
    let date = catalog().get("Observation", "date").expect("date").pid;
    assert!(rows.contains(&Row::Token { pid: code, system: "http://loinc.org".into(), code: "2345-7".into() }));
    assert!(rows.contains(&Row::Str { pid: code + TEXT, norm: "glucose".into(), raw: "Glucose".into() }));
    assert!(rows.contains(&Row::Reference {
        pid: subject,
        target_type: Some("Patient".into()),
        target_id: Some("p1".into()),
        version: None,
        url: None
    }));
    assert!(rows.contains(&Row::Quantity { pid: value, value: 100.0, system: "http://unitsofmeasure.org".into(), code: "mg/dL".into() }));
    assert!(rows.contains(&Row::Quantity { pid: value + CANON, value: 1.0, system: "http://unitsofmeasure.org".into(), code: "g/L".into() }), "canonical UCUM row");
    let day = crate::search::value::precision_range("2024-01-02").expect("range");
    assert!(rows.contains(&Row::Date { pid: date, lo: day.0.0, hi: day.1.0 }));
    // Duplicates are removed.
    let mut sorted: Vec<String> = rows.iter().map(|r| format!("{r:?}")).collect();
    let n = sorted.len();
    sorted.dedup();
    assert_eq!(sorted.len(), n);
}

#[test]
fn every_expression_runs_on_an_empty_resource() {
    // An expression that errors on a minimal resource would drop index rows silently.
    for t in fhir::definitions::r4().resource_types() {
        let (_, failed) = extract(t, &json!({"resourceType": t, "id": "x"}));
        assert!(failed.is_empty(), "{t}: {failed:?}");
    }
}

/// Tokens over `code`/`boolean` elements are marked coarse (few values);
/// tokens over codings and identifiers are not.
#[test]
fn coarse_tokens() {
    let c = catalog();
    let coarse = |t: &str, code: &str| c.get(t, code).unwrap_or_else(|| panic!("{t}.{code}")).coarse;
    assert!(coarse("Patient", "gender"));
    assert!(coarse("Patient", "active"));
    assert!(coarse("Observation", "status"));
    assert!(!coarse("Observation", "code"));
    assert!(!coarse("Patient", "identifier"));
    assert!(!coarse("Condition", "clinical-status"));
    assert!(!coarse("Patient", "family"));
    let p = c.get("Patient", "gender").expect("gender");
    assert_eq!(c.by_pid(p.pid).map(|q| q.code.as_str()), Some("gender"));
}
