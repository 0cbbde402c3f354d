//! View runner beyond the official suite: every output format (Parquet
//! read back and compared), validation messages, `$viewdefinition-run`
//! filters, deterministic parallel output, the JP Core view library under
//! `views/` on a handwritten JP Core sample, and SQL over views and Parquet.

use std::path::{Path, PathBuf};

#[cfg(feature = "sql")]
use analytics::sql::{SqlFormat, SqlSession, Table, write_result};
use analytics::view::{
    self, Format, RunOptions, ViewDefinition, load_views_dir, read_parquet, write_batches, write_file,
};
use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
#[cfg(feature = "sql")]
use arrow::datatypes::{Float64Type, Int64Type};
use serde_json::{Value, json};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data/views")
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sof_views").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

fn patients() -> Vec<Value> {
    vec![
        json!({"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1950-01-02", "active": true,
               "name": [{"family": "Yamada", "given": ["Hanako", "H."]}, {"family": "山田"}],
               "meta": {"lastUpdated": "2024-03-01T00:00:00Z"}}),
        json!({"resourceType": "Patient", "id": "p2", "gender": "male", "multipleBirthInteger": 2,
               "name": [{"family": "Sato, \"Jr\"", "given": ["Ichiro"]}],
               "meta": {"lastUpdated": "2023-03-01T00:00:00Z"}}),
        json!({"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
               "subject": {"reference": "Patient/p1"}}),
    ]
}

fn names_view() -> ViewDefinition {
    ViewDefinition::from_json(&json!({
        "resourceType": "ViewDefinition", "name": "names", "resource": "Patient",
        "select": [
            {"column": [
                {"name": "id", "path": "getResourceKey()"},
                {"name": "gender", "path": "gender"},
                {"name": "active", "path": "active"},
                {"name": "births", "path": "multipleBirth.ofType(integer)"},
                {"name": "n_names", "path": "name.count()"}
            ]},
            {"forEachOrNull": "name", "column": [
                {"name": "family", "path": "family"},
                {"name": "given", "path": "given", "collection": true},
                {"name": "idx", "path": "%rowIndex"}
            ]}
        ]
    }))
    .expect("valid view")
}

#[test]
fn schema_types_are_inferred_from_fhir_definitions() {
    let v = names_view();
    let s = v.schema();
    let ty = |n: &str| s.field_with_name(n).expect("field").data_type().clone();
    assert_eq!(ty("id"), DataType::Utf8);
    assert_eq!(ty("active"), DataType::Boolean);
    assert_eq!(ty("births"), DataType::Int64);
    assert_eq!(ty("n_names"), DataType::Int64);
    assert_eq!(ty("idx"), DataType::Int64);
    assert!(matches!(ty("given"), DataType::List(_)));
    assert_eq!(s.field_with_name("gender").expect("field").metadata().get("fhir_type").map(String::as_str), Some("code"));
}

#[test]
fn every_format_round_trips() {
    let v = names_view();
    let data = patients();
    let batch = v.run_values(&data).expect("run");
    assert_eq!(batch.num_rows(), 3, "p1 has two names, p2 one; the Observation is skipped");

    let csv = String::from_utf8(write_batches(Format::Csv, v.schema(), &[batch.clone()], Vec::new()).expect("csv")).expect("utf8");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "id,gender,active,births,n_names,family,given,idx");
    assert_eq!(lines[1], r#"p1,female,true,,2,Yamada,"[""Hanako"",""H.""]",0"#);
    assert_eq!(lines[2], r#"p1,female,true,,2,山田,[],1"#);
    assert_eq!(lines[3], r#"p2,male,,2,1,"Sato, ""Jr""","[""Ichiro""]",0"#);

    let nd = String::from_utf8(write_batches(Format::Ndjson, v.schema(), &[batch.clone()], Vec::new()).expect("nd")).expect("utf8");
    let rows: Vec<Value> = nd.lines().map(|l| serde_json::from_str(l).expect("json line")).collect();
    assert_eq!(rows[0], json!({"id": "p1", "gender": "female", "active": true, "births": null, "n_names": 2,
                                "family": "Yamada", "given": ["Hanako", "H."], "idx": 0}));
    assert_eq!(rows[2]["births"], json!(2));

    let js: Value = serde_json::from_slice(&write_batches(Format::Json, v.schema(), &[batch.clone()], Vec::new()).expect("json")).expect("parse");
    assert_eq!(js.as_array().map(Vec::len), Some(3));
    assert_eq!(js[1]["family"], json!("山田"));
    let empty: Value = serde_json::from_slice(&write_batches(Format::Json, v.schema(), &[], Vec::new()).expect("json")).expect("parse");
    assert_eq!(empty, json!([]));

    let dir = tmp("formats");
    let pq = dir.join("names.parquet");
    write_file(&pq, Format::Parquet, v.schema(), &[batch.clone()]).expect("parquet");
    let back = read_parquet(&pq).expect("read back");
    let back = arrow::compute::concat_batches(&back[0].schema(), &back).expect("concat");
    assert_eq!(back.num_rows(), 3);
    assert_eq!(back.schema().fields(), batch.schema().fields(), "types and FHIR metadata survive Parquet");
    for c in 0..batch.num_columns() {
        assert_eq!(back.column(c).as_ref(), batch.column(c).as_ref(), "column {c}");
    }
}

#[test]
fn validation_errors_name_the_problem() {
    let err = |v: Value| ViewDefinition::from_json(&v).expect_err("must be refused").to_string();
    let e = err(json!({"resource": "Patient", "select": [{"column": [{"name": "1bad", "path": "id"}]}]}));
    assert!(e.contains("select[0].column[0].name") && e.contains("1bad"), "{e}");
    let e = err(json!({"select": [{"column": [{"name": "id", "path": "id"}]}]}));
    assert!(e.contains("resource") && e.contains("missing"), "{e}");
    let e = err(json!({"resource": "Patinet", "select": [{"column": [{"name": "id", "path": "id"}]}]}));
    assert!(e.contains("Patinet"), "{e}");
    let e = err(json!({"resource": "Patient", "select": [{"unionAll": [
        {"column": [{"name": "a", "path": "id"}]}, {"column": [{"name": "b", "path": "id"}]}]}]}));
    assert!(e.contains("unionAll[1]") && e.contains("[a] vs [b]"), "{e}");
    let e = err(json!({"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}],
                       "where": [{"path": "name.family"}]}));
    assert!(e.contains("where[0].path") && e.contains("boolean"), "{e}");
    let e = err(json!({"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}, {"name": "id", "path": "gender"}]}]}));
    assert!(e.contains("more than once"), "{e}");
    let e = err(json!({"resource": "Patient", "select": [{"column": [{"name": "x", "path": "name.where("}]}]}));
    assert!(e.contains("select[0].column[0].path"), "{e}");
    let e = err(json!({"resource": "Patient", "select": [{"column": [{"name": "x", "path": "name.where(use = %nope)"}]}]}));
    assert!(e.contains("%nope"), "{e}");
    // A nameless view runs, but cannot become a table.
    let v = ViewDefinition::from_json(&json!({"resource": "Patient", "select": [{"column": [{"name": "id", "path": "id"}]}]})).expect("valid");
    assert!(v.require_name().expect_err("no name").to_string().contains("name"));
}

#[test]
fn runtime_errors_name_the_resource() {
    let v = ViewDefinition::from_json(&json!({"resource": "Patient", "select": [{"column": [{"name": "family", "path": "name.family"}]}]})).expect("valid");
    let e = v.run_values(&patients()).expect_err("p1 has two families").to_string();
    assert!(e.contains("Patient/p1") && e.contains("collection"), "{e}");
    let bad = vec![Ok("{\"resourceType\": \"Patient\"".to_string())];
    let e = v.run_lines(bad, RunOptions::default(), |_| Ok(())).expect_err("bad json").to_string();
    assert!(e.contains("input:1"), "{e}");
}

#[test]
fn parallel_output_is_in_input_order() {
    let v = names_view();
    let lines: Vec<String> = (0..5000)
        .map(|i| json!({"resourceType": "Patient", "id": format!("p{i:05}"), "name": [{"family": format!("F{i}")}, {"family": "x"}]}).to_string())
        .collect();
    let mut ids = Vec::new();
    let stats = v
        .run_lines(lines.iter().cloned().map(Ok), RunOptions { chunk_size: 700, ..Default::default() }, |b| {
            let col = b.column_by_name("id").expect("id").as_string::<i32>().clone();
            ids.extend((0..col.len()).map(|i| col.value(i).to_string()));
            Ok(())
        })
        .expect("run");
    assert_eq!(stats.rows, 10_000);
    let want: Vec<String> = (0..5000).flat_map(|i| [format!("p{i:05}"), format!("p{i:05}")]).collect();
    assert_eq!(ids, want);
}

#[test]
fn run_parameters_filters_apply() {
    let v = names_view();
    let lines = || patients().into_iter().map(|r| Ok(r.to_string()));
    let count = |opts: RunOptions| {
        let mut n = 0;
        v.run_lines(lines(), opts, |b| {
            n += b.num_rows();
            Ok(())
        })
        .expect("run");
        n
    };
    assert_eq!(count(RunOptions::default()), 3);
    assert_eq!(count(RunOptions { limit: Some(1), ..Default::default() }), 1);
    assert_eq!(count(RunOptions { patient: Some("p2".into()), ..Default::default() }), 1);
    assert_eq!(count(RunOptions { since: Some("2024-01-01T00:00:00Z".into()), ..Default::default() }), 2);
    assert!(view::in_patient_compartment(&patients()[2], "Patient/p1"));
    assert!(!view::in_patient_compartment(&patients()[2], "p2"));
}

#[test]
fn jp_core_view_library_runs_on_sample() {
    let views = load_views_dir(&repo_root().join("views")).expect("all views in views/ are valid");
    let names: Vec<&str> = views.iter().map(|(_, v)| v.name.as_deref().unwrap_or("")).collect();
    for want in ["patients", "facilities", "encounters", "conditions", "lab_results", "prescriptions", "claims", "claim_items"] {
        assert!(names.contains(&want), "views/ lacks {want}: {names:?}");
    }
    let dir = tmp("library");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    // Split the sample into per-type files as `medtwin synth` writes them.
    let text = std::fs::read_to_string(sample_dir().join("jpcore_sample.ndjson")).expect("sample");
    let mut by_type: std::collections::BTreeMap<String, String> = Default::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("json");
        let t = v["resourceType"].as_str().expect("type").to_string();
        by_type.entry(t).or_default().push_str(&format!("{line}\n"));
    }
    for (t, body) in &by_type {
        std::fs::write(data.join(format!("{t}.ndjson")), body).expect("write");
    }
    let out = dir.join("parquet");
    let vs: Vec<ViewDefinition> = views.into_iter().map(|(_, v)| v).collect();
    let counts = view::materialize_ndjson(&vs, &data, &out).expect("materialize");
    let rows = |n: &str| counts.iter().find(|(name, _)| name == n).map(|(_, r)| *r);
    assert_eq!(rows("patients"), Some(2));
    assert_eq!(rows("lab_results"), Some(1), "vital signs are filtered out");
    assert_eq!(rows("claim_items"), Some(2));
    let pts = read_parquet(&out.join("patients.parquet")).expect("read back");
    let b = &pts[0];
    assert_eq!(b.column_by_name("municipality_code").expect("col").as_string::<i32>().value(0), "131016");
    assert_eq!(b.column_by_name("area_code").expect("col").as_string::<i32>().value(0), "1301");
    assert!(b.column_by_name("area_code").expect("col").is_null(1), "P000002 has no address");
    #[cfg(feature = "sql")]
    sql_over_library(&out, counts.len());
}

#[cfg(feature = "sql")]
fn sql_over_library(out: &Path, n_views: usize) {
    let sql = SqlSession::new();
    let tables = sql.register_parquet_dir(out).expect("register");
    assert_eq!(tables.len(), n_views);
    let r = sql
        .query(
            "SELECT p.sex, p.municipality_code, f.area_code AS facility_area, e.class, c.icd10, l.jlac10, l.value, l.unit, \
                    m.yj_code, m.days_supply, cl.total_points \
             FROM encounters e \
             JOIN patients p ON p.patient_id = e.patient_id \
             JOIN facilities f ON f.facility_id = e.facility_id \
             JOIN conditions c ON c.condition_id = e.primary_condition_id \
             JOIN lab_results l ON l.encounter_id = e.encounter_id \
             JOIN prescriptions m ON m.encounter_id = e.encounter_id \
             JOIN claims cl ON cl.patient_id = p.patient_id",
        )
        .expect("join query");
    let json = String::from_utf8(write_result(&r, SqlFormat::Json, Vec::new()).expect("json")).expect("utf8");
    let got: Value = serde_json::from_str(&json).expect("parse");
    assert_eq!(
        got,
        json!([{"sex": "male", "municipality_code": "131016", "facility_area": "1301", "class": "IMP", "icd10": "I219",
                "jlac10": "3F015000002327101", "value": 7.4, "unit": "%", "yj_code": "3399007H1021", "days_supply": 28.0,
                "total_points": 17048}])
    );
    let r = sql.query("SELECT patient_id, age, deceased, deceased_date FROM patients ORDER BY patient_id").expect("query");
    let b = &r.batches[0];
    let age = b.column_by_name("age").expect("age").as_primitive::<Int64Type>();
    assert!(age.value(0) >= 73, "born 1950-04-01, the view is run in 2024 or later");
    assert!(b.column_by_name("deceased").expect("col").as_boolean().value(1));
    let r = sql.query("SELECT sum(net_points) AS pts FROM claim_items").expect("query");
    assert_eq!(r.batches[0].column(0).as_primitive::<Int64Type>().value(0), 17048);
    let r = sql.query("SELECT avg(value) AS v FROM lab_results").expect("query");
    assert!((r.batches[0].column(0).as_primitive::<Float64Type>().value(0) - 7.4).abs() < 1e-12);
}

#[cfg(feature = "sql")]
#[test]
fn sql_over_in_memory_views_and_formats() {
    let v = names_view();
    let batch = v.run_values(&patients()).expect("run");
    let r = analytics::sql::run(
        "SELECT gender, count(*) AS n FROM names GROUP BY gender ORDER BY gender",
        vec![("names".into(), Table::Batches(v.schema(), vec![batch]))],
    )
    .expect("sql");
    let csv = String::from_utf8(write_result(&r, SqlFormat::Csv, Vec::new()).expect("csv")).expect("utf8");
    assert_eq!(csv, "gender,n\nfemale,2\nmale,1\n");
    let table = analytics::sql::format_table(&r).expect("table");
    assert!(table.contains("| female | 2 |"), "{table}");
    let e = analytics::sql::run("SELECT nope FROM names", vec![("names".into(), Table::Batches(v.schema(), vec![]))])
        .expect_err("unknown column");
    assert!(e.to_string().contains("nope"), "{e}");
    let r = analytics::sql::run("SELECT count(*) AS n FROM names", vec![("names".into(), Table::Batches(v.schema(), vec![]))])
        .expect("empty table");
    assert_eq!(r.num_rows(), 1);
}

mod no_panics {
    use super::*;
    use proptest::prelude::*;

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-zA-Z%$()'.\\[\\]=<> 0-9@_`-]{0,24}".prop_map(Value::from),
            prop_oneof![
                Just("name"), Just("id"), Just("getResourceKey()"), Just("subject.getReferenceKey(Patient)"),
                Just("%rowIndex"), Just("Patient"), Just("forEach"), Just("column"), Just("select"), Just("unionAll"),
                Just("path"), Just("resource"), Just("where"), Just("constant"), Just("collection"), Just("repeat")
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(
                    (prop_oneof![
                        Just("resource".to_string()), Just("select".to_string()), Just("column".to_string()),
                        Just("name".to_string()), Just("path".to_string()), Just("forEach".to_string()),
                        Just("forEachOrNull".to_string()), Just("unionAll".to_string()), Just("where".to_string()),
                        Just("constant".to_string()), Just("valueString".to_string()), Just("collection".to_string()),
                        Just("repeat".to_string()), Just("type".to_string()), "[a-z]{1,6}"
                    ], inner),
                    0..5
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_views_never_panic(v in arb_json()) {
            if let Ok(view) = ViewDefinition::from_json(&v) {
                let _ = view.run_values(&patients());
            }
        }

        #[test]
        fn arbitrary_paths_never_panic(path in "[a-zA-Z%$()'.\\[\\]=<> 0-9@_`/*\"\\\\-]{0,40}") {
            let v = json!({"resource": "Patient", "constant": [{"name": "c", "valueDate": "2020-01-01"}],
                           "select": [{"column": [{"name": "x", "path": path, "collection": true}]}],
                           "where": [{"path": path}]});
            if let Ok(view) = ViewDefinition::from_json(&v) {
                let _ = view.run_values(&patients());
            }
        }
    }
}
