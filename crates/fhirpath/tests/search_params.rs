//! Every expression of the R4 search-parameter definitions
//! (`fhir::search_params::r4().all()`) compiles, and evaluates without error
//! on resources of each of its base types: the suite's R4 example resources
//! where the type matches, otherwise a resource generated from the R4 type
//! definitions with every element filled in (depth-limited). Composite
//! components are evaluated on the values the composite expression yields.

use std::collections::HashMap;
use std::path::Path;

use fhir::definitions::Definitions;
use fhirpath::{Env, Expr, Item};
use serde_json::{Map, Value, json};

fn sample_primitive(ty: &str, n: usize) -> Value {
    match ty {
        "boolean" => json!(n.is_multiple_of(2)),
        "integer" | "unsignedInt" | "positiveInt" => json!(n as i64 + 1),
        "decimal" => json!(1.5 + n as f64),
        "date" => json!("2020-02-29"),
        "dateTime" => json!("2021-03-04T05:06:07+09:00"),
        "instant" => json!("2021-03-04T05:06:07.123Z"),
        "time" => json!("10:20:30"),
        "uri" | "url" | "canonical" => json!(format!("http://example.org/x/{n}")),
        "uuid" => json!("urn:uuid:79a14950-442c-11ed-b878-0242ac120002"),
        "oid" => json!("urn:oid:1.2.3"),
        "id" => json!(format!("id{n}")),
        "base64Binary" => json!("aGVsbG8="),
        _ => json!(format!("value {n}")),
    }
}

/// Builds an instance of `ty` with every element present (choice elements
/// take their `pick`-th option), up to `depth` levels of complex types.
fn generate(defs: &Definitions, ty: &str, depth: usize, pick: usize) -> Value {
    if defs.is_primitive(ty) {
        return sample_primitive(ty, pick);
    }
    let mut o = Map::new();
    if defs.is_resource_type(ty) {
        o.insert("resourceType".into(), json!(ty));
    }
    if ty == "Reference" {
        o.insert("reference".into(), json!("Patient/example"));
        o.insert("display".into(), json!("a reference"));
        return Value::Object(o);
    }
    if depth == 0 {
        return Value::Object(o);
    }
    for el in defs.children(ty) {
        if matches!(el.name.as_str(), "extension" | "modifierExtension" | "contained" | "id") && !defs.is_resource_type(ty) {
            continue;
        }
        if matches!(el.name.as_str(), "contained" | "extension" | "modifierExtension") {
            continue;
        }
        let (key, t) = match el.name.strip_suffix("[x]") {
            Some(stem) => {
                let t = &el.types[pick % el.types.len()];
                let mut c = t.chars();
                let upper: String = c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default();
                (format!("{stem}{upper}"), t.clone())
            }
            None => match el.types.first() {
                Some(t) => (el.name.clone(), t.clone()),
                None => continue,
            },
        };
        let v = if t == "Resource" {
            json!({"resourceType": "Patient", "id": "inner", "gender": "female"})
        } else if defs.is_primitive(&t) {
            sample_primitive(&t, pick)
        } else if depth > 1 || t == "Reference" || t == "Coding" || t == "CodeableConcept" {
            generate(defs, &t, depth - 1, pick)
        } else {
            continue;
        };
        o.insert(key, if el.is_list { Value::Array(vec![v]) } else { v });
    }
    Value::Object(o)
}

fn example_resources() -> HashMap<String, Vec<Value>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/spec/input");
    let mut out: HashMap<String, Vec<Value>> = HashMap::new();
    for entry in std::fs::read_dir(&dir).expect("read test_data/spec/input") {
        let path = entry.expect("dir entry").path();
        let text = std::fs::read_to_string(&path).expect("read example");
        let v: Value = serde_json::from_str(&text).expect("example is JSON");
        let rt = v["resourceType"].as_str().expect("example has resourceType").to_string();
        out.entry(rt).or_default().push(v);
    }
    out
}

fn values(resource_type: &str, code: &str, resource: &Value) -> Vec<Value> {
    let p = fhir::search_params::r4().get(resource_type, code).expect("search parameter exists");
    let e = Expr::compile(&p.expression).expect("compiles");
    e.evaluate(resource, &Env::new()).expect("evaluates").iter().map(Item::to_json).collect()
}

#[test]
fn search_parameter_values_on_examples() {
    let ex = example_resources();
    let patient = &ex["Patient"].iter().find(|p| p["id"] == "example").expect("patient-example");
    assert_eq!(values("Patient", "birthdate", patient), vec![json!("1974-12-25")]);
    assert_eq!(values("Patient", "gender", patient), vec![json!("male")]);
    assert_eq!(values("Patient", "family", patient), vec![json!("Chalmers"), json!("Windsor")]);
    assert_eq!(values("Patient", "organization", patient), vec![json!({"reference": "Organization/1"})]);
    let obs = &ex["Observation"][0];
    assert_eq!(values("Observation", "value-quantity", obs)[0]["value"], json!(185));
    assert_eq!(values("Observation", "patient", obs), vec![json!({"reference": "Patient/example"})]);
    assert_eq!(values("Observation", "code", obs).len(), 1);
    // `subject.where(resolve() is Patient)`: an unresolvable reference still
    // resolves to its type, so the Patient-only parameter finds it.
    assert_eq!(values("Observation", "subject", obs).len(), 1);
}

#[test]
fn every_r4_search_parameter_expression_compiles_and_evaluates() {
    let defs = fhir::definitions::r4();
    let params = fhir::search_params::r4();
    let examples = example_resources();
    let env = Env::new();
    let mut compiled = 0;
    let mut evaluations = 0;
    let mut non_empty = 0;
    let mut failures = Vec::new();
    let mut generated: HashMap<(String, usize), Value> = HashMap::new();
    for p in params.all() {
        if p.expression.is_empty() {
            // `_text`, `_content` and friends have no FHIRPath expression.
            continue;
        }
        let expr = match Expr::compile(&p.expression) {
            Ok(e) => e,
            Err(e) => {
                failures.push(format!("{}: compile: {e}", p.url));
                continue;
            }
        };
        compiled += 1;
        let components: Vec<(String, Expr)> = p
            .components
            .iter()
            .filter_map(|(code, ce)| match Expr::compile(ce) {
                Ok(e) => Some((code.clone(), e)),
                Err(e) => {
                    failures.push(format!("{} component {code}: compile: {e}", p.url));
                    None
                }
            })
            .collect();
        let bases: Vec<String> = p
            .bases
            .iter()
            .flat_map(|b| {
                if defs.is_resource_type(b) { vec![b.clone()] } else { defs.resource_types().to_vec() }
            })
            .collect();
        for base in bases {
            let mut resources: Vec<&Value> = examples.get(&base).map(|v| v.iter().collect()).unwrap_or_default();
            for pick in 0..2 {
                generated.entry((base.clone(), pick)).or_insert_with(|| generate(defs, &base, 3, pick));
            }
            let gen0 = &generated[&(base.clone(), 0)];
            let gen1 = &generated[&(base.clone(), 1)];
            resources.push(gen0);
            resources.push(gen1);
            for r in resources {
                evaluations += 1;
                match expr.evaluate(r, &env) {
                    Ok(values) => {
                        if !values.is_empty() {
                            non_empty += 1;
                        }
                        for (code, ce) in &components {
                            for v in &values {
                                if !matches!(v, Item::Element(_)) {
                                    continue;
                                }
                                // Components are evaluated with the composite value as the focus.
                                if let Err(e) = ce.evaluate_on(v, r, &env) {
                                    failures.push(format!("{} component {code} on {base}: {e}", p.url));
                                }
                            }
                        }
                    }
                    Err(e) => failures.push(format!("{} on {base}: {e} [{}]", p.url, p.expression)),
                }
            }
        }
    }
    println!("{compiled} search-parameter expressions compiled, {evaluations} evaluations, {non_empty} non-empty");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(compiled > 1000, "expected the R4 definitions to hold over 1000 expressions, got {compiled}");
    // The generated resources fill every element, so most expressions must find values.
    assert!(non_empty * 2 > evaluations, "only {non_empty} of {evaluations} evaluations found values");
}
