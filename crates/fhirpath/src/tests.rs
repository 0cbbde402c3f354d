//! Unit tests for the engine through its public API, one `check` helper.

use serde_json::{Value, json};

use crate::{Env, Error, Expr, evaluate_to_json};

fn patient() -> Value {
    json!({
        "resourceType": "Patient",
        "id": "p1",
        "active": true,
        "name": [
            {"use": "official", "family": "Yamada", "given": ["Taro", "Ichiro"]},
            {"use": "nickname", "given": ["Tarochan"]}
        ],
        "birthDate": "1980-04-01",
        "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime", "valueDateTime": "1980-04-01T10:00:00+09:00"}]},
        "gender": "male",
        "deceasedBoolean": false
    })
}

fn check(expr: &str, resource: &Value, expected: Value) {
    let got = evaluate_to_json(expr, resource, &Env::new()).unwrap_or_else(|e| panic!("{expr}: {e}"));
    assert_eq!(Value::Array(got), expected, "{expr}");
}

#[test]
fn paths_and_filters() {
    let p = patient();
    check("Patient.name.given", &p, json!(["Taro", "Ichiro", "Tarochan"]));
    check("name.where(use = 'official').family", &p, json!(["Yamada"]));
    check("Patient.name[1].given.first()", &p, json!(["Tarochan"]));
    check("Observation.status", &p, json!([]));
    check("Patient.deceased", &p, json!([false]));
    check("Patient.deceased.ofType(boolean)", &p, json!([false]));
    check("Patient.deceasedBoolean", &p, json!([false]));
    check("birthDate.extension('http://hl7.org/fhir/StructureDefinition/patient-birthTime').value", &p, json!(["1980-04-01T10:00:00+09:00"]));
    check("birthDate.hasValue()", &p, json!([true]));
    check("name.given.count() = 3 and active", &p, json!([true]));
}

#[test]
fn operators_and_rendering() {
    let p = patient();
    check("1 + 2 * 3", &p, json!([7]));
    check("7 / 2", &p, json!([3.5]));
    check("7 div 2 + 7 mod 2", &p, json!([4]));
    check("'a' & {} & 'b'", &p, json!(["ab"]));
    check("{} = 1", &p, json!([]));
    check("(true or {}) and ({} or true)", &p, json!([true]));
    check("birthDate + 1 year", &p, json!(["1981-04-01"]));
    check("@2012-01-31 + 1 month", &p, json!(["2012-02-29"]));
    check("birthDate < @1990", &p, json!([true]));
    check("@2012 = @2012-01", &p, json!([]));
    check("@2012 ~ @2012-01", &p, json!([false]));
    check("1 'kg' = 1000 'g'", &p, json!([true]));
    check("100 'mg/dL' > 0.5 'g/L'", &p, json!([true]));
    check("5.5 'mg'", &p, json!([{"value": 5.5, "unit": "mg", "system": "http://unitsofmeasure.org", "code": "mg"}]));
    check("1.0 = 1", &p, json!([true]));
    check("'Abc  d' ~ 'abc d'", &p, json!([true]));
}

#[test]
fn errors() {
    let p = patient();
    let env = Env::new();
    match Expr::compile("name.where(use = 'official'") {
        Err(Error::Syntax { offset, .. }) => assert_eq!(offset, 27),
        other => panic!("expected a syntax error, got {other:?}"),
    }
    match Expr::compile("1 +\n  * 2") {
        Err(Error::Syntax { line, column, .. }) => assert_eq!((line, column), (2, 3)),
        other => panic!("expected a syntax error, got {other:?}"),
    }
    assert!(matches!(Expr::compile("name.foo()"), Err(Error::Semantic { .. })));
    assert!(matches!(Expr::compile("name.first(1)"), Err(Error::Semantic { .. })));
    let e = Expr::compile("'a' + 1").expect("compiles");
    assert!(matches!(e.evaluate(&p, &env), Err(Error::Type { .. })));
    let e = Expr::compile("name.single()").expect("compiles");
    assert!(matches!(e.evaluate(&p, &env), Err(Error::Execution { .. })));
    let e = Expr::compile("%nope").expect("compiles");
    assert!(matches!(e.evaluate(&p, &env), Err(Error::UndefinedVariable { .. })));
}

#[test]
fn variables_and_resolve() {
    let bundle = json!({
        "resourceType": "Bundle",
        "entry": [
            {"fullUrl": "http://x/Patient/1", "resource": {"resourceType": "Patient", "id": "1", "gender": "female"}},
            {"fullUrl": "http://x/Observation/o", "resource": {"resourceType": "Observation", "id": "o", "status": "final",
              "subject": {"reference": "Patient/1"}, "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}}}
        ]
    });
    check("entry.resource.ofType(Observation).subject.resolve().gender", &bundle, json!(["female"]));
    check("entry.resource.ofType(Observation).value > 15 'kPa'", &bundle, json!([true]));
    let env = Env::new().with("limit", json!(100));
    let out = evaluate_to_json("entry.resource.ofType(Observation).value.value > %limit", &bundle, &env).expect("evaluates");
    assert_eq!(out, vec![json!(true)]);
}

struct MapResolver(Value);

impl crate::Resolver for MapResolver {
    fn resolve(&self, reference: &str) -> Option<&Value> {
        (reference == "Patient/p1").then_some(&self.0)
    }
}

#[test]
fn resolver_focus_and_context() {
    let obs = json!({"resourceType": "Observation", "status": "final", "subject": {"reference": "Patient/p1"},
        "component": [{"code": {"text": "sys"}, "valueQuantity": {"value": 120, "unit": "mmHg"}}]});
    let env = Env::new().with_resolver(std::sync::Arc::new(MapResolver(patient())));
    let e = Expr::compile("subject.resolve().name.family").expect("compiles");
    let out: Vec<Value> = e.evaluate(&obs, &env).expect("evaluates").iter().map(crate::Item::to_json).collect();
    assert_eq!(out, vec![json!("Yamada")]);
    // Without a resolver the reference still resolves to its type.
    check("subject.where(resolve() is Patient).reference", &obs, json!(["Patient/p1"]));
    check("subject.where(resolve() is Group).reference", &obs, json!([]));
    // A component evaluated as the focus keeps its type (choice `value`).
    let env = Env::new();
    let comp = Expr::compile("Observation.component").expect("compiles");
    let comps = comp.evaluate(&obs, &env).expect("evaluates");
    let value = Expr::compile("value.ofType(Quantity).value + %resource.component.count() + %context.value.value")
        .expect("compiles");
    let out = value.evaluate_on(&comps[0], &obs, &env).expect("evaluates");
    assert_eq!(out[0].to_json(), json!(241));
}

#[test]
fn expr_is_send_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Expr>();
    assert_send_sync::<Env>();
}

mod robustness {
    //! The parser and evaluator never panic on arbitrary input.

    use proptest::prelude::*;

    use super::patient;
    use crate::{Env, Expr};

    const PIECES: &[&str] = &[
        "Patient", "name", "given", "birthDate", ".", "(", ")", "[", "]", "0", "1.5", "'x'", "@2020", "@T10:00",
        "+", "-", "*", "/", "|", "=", "~", "<", "and", "or", "implies", "where(", "select(", "exists()", "$this",
        "%resource", "{}", ",", "is", "as", "Quantity", "5 'mg'", "first()", "count()", "iif(", "repeat(",
        "aggregate(", "$total", "extension(", "ofType(", "toString()", "substring(", " ",
    ];

    proptest! {
        #[test]
        fn compile_never_panics(s in "\\PC{0,40}") {
            let _ = Expr::compile(&s);
        }

        #[test]
        fn token_soup_never_panics(idx in proptest::collection::vec(0..PIECES.len(), 0..16)) {
            let src: String = idx.iter().map(|&i| PIECES[i]).collect();
            if let Ok(e) = Expr::compile(&src) {
                let _ = e.evaluate(&patient(), &Env::new());
            }
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
        assert!(Expr::compile(&deep).is_err());
        let minus = format!("{}1", "-".repeat(100_000));
        assert!(Expr::compile(&minus).is_err());
        let path = format!("name{}", ".given".repeat(100_000));
        assert!(Expr::compile(&path).is_err());
        let sum = format!("1{}", " + 1".repeat(100_000));
        assert!(Expr::compile(&sum).is_err());
        let union = format!("1{}", " | 1".repeat(10_000));
        assert!(Expr::compile(&union).is_ok(), "unions are flattened, not nested");
    }
}

#[test]
fn dates_and_times_render_in_fhir_form() {
    use crate::{DateTimeVal, Kind};
    for (text, want) in [
        ("2024-07-03T09:30:00+09:00", "2024-07-03T09:30:00+09:00"),
        ("2024-07-03T09:30:00.5-03:30", "2024-07-03T09:30:00.500-03:30"),
        ("2024-07-03T00:00:00Z", "2024-07-03T00:00:00Z"),
        ("2024-07-03T09:30", "2024-07-03T09:30"),
        ("0987-01", "0987-01"),
        ("2024", "2024"),
    ] {
        let d = DateTimeVal::parse_datetime(text).expect(text);
        assert_eq!(d.render(Kind::DateTime), want, "{text}");
    }
    let d = DateTimeVal::parse_date("2024-02-29").expect("date");
    assert_eq!(d.render(Kind::Date), "2024-02-29");
    let t = DateTimeVal::parse_time("07:05:03.042").expect("time");
    assert_eq!(t.render(Kind::Time), "07:05:03.042");
}
