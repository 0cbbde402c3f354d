//! `$viewdefinition-run` end to end: real requests against the real router
//! over a real SQLite store; every output format (Parquet read back and
//! compared with the CSV answer), the run options and every error path.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

struct TestApp {
    dir: tempfile::TempDir,
    state: server::AppState,
}

struct Resp {
    status: StatusCode,
    content_type: String,
    raw: Vec<u8>,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.raw).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.raw).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    /// Asserts an OperationOutcome with `status`, returns its first diagnostics.
    fn outcome(&self, status: StatusCode) -> String {
        assert_eq!(self.status, status, "{}", self.text());
        let b = self.json();
        assert_eq!(b["resourceType"], "OperationOutcome", "{b}");
        assert!(self.content_type.starts_with("application/fhir+json"), "{}", self.content_type);
        b["issue"][0]["diagnostics"].as_str().unwrap_or("").to_string()
    }
}

fn app() -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store::SqliteStore::open(dir.path(), store::SqliteOptions { synchronous: store::Synchronous::Normal, ..Default::default() })
        .expect("open");
    TestApp { dir, state: server::AppState::new(Arc::new(store), server::Config::default()) }
}

impl TestApp {
    async fn send(&self, method: &str, uri: &str, body: String, headers: &[(&str, &str)]) -> Resp {
        let mut b = Request::builder().method(method).uri(uri).header("host", "test").header(header::CONTENT_TYPE, "application/fhir+json");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let res = server::app(self.state.clone()).oneshot(b.body(Body::from(body)).expect("req")).await.expect("infallible");
        let status = res.status();
        let content_type = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let raw = res.into_body().collect().await.expect("body").to_bytes().to_vec();
        assert!(!status.is_server_error(), "server error {status}: {}", String::from_utf8_lossy(&raw));
        Resp { status, content_type, raw }
    }

    async fn run(&self, params: Value) -> Resp {
        self.send("POST", "/fhir/ViewDefinition/$viewdefinition-run", params.to_string(), &[]).await
    }

    async fn seed(&self) {
        let patients = [("p1", "female", "1950-01-02", "2024-03-01"), ("p2", "male", "1980-07-01", "2024-05-01"), ("p3", "female", "2001-12-31", "2024-05-02")];
        for (id, g, born, _) in patients {
            let p = json!({"resourceType": "Patient", "id": id, "gender": g, "birthDate": born,
                "name": [{"family": format!("F{id}"), "given": ["A", "B"]}]});
            let r = self.send("PUT", &format!("/fhir/Patient/{id}"), p.to_string(), &[]).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        }
        for (i, (pid, v)) in [("p1", 6.1), ("p1", 7.3), ("p2", 5.2)].iter().enumerate() {
            let o = json!({"resourceType": "Observation", "id": format!("o{i}"), "status": "final",
                "code": {"coding": [{"system": "http://medis.or.jp/CodeSystem/master-JLAC10-17digits", "code": "3F015000002327101"}]},
                "subject": {"reference": format!("Patient/{pid}")},
                "valueQuantity": {"value": v, "unit": "%"}});
            let r = self.send("PUT", &format!("/fhir/Observation/o{i}"), o.to_string(), &[]).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
        }
    }
}

fn obs_view() -> Value {
    json!({"resourceType": "ViewDefinition", "name": "hba1c", "resource": "Observation", "select": [{"column": [
        {"name": "id", "path": "getResourceKey()"},
        {"name": "patient_id", "path": "subject.getReferenceKey(Patient)"},
        {"name": "value", "path": "value.ofType(Quantity).value", "type": "decimal"},
        {"name": "unit", "path": "value.ofType(Quantity).unit"}]}]})
}

fn params(view: Value, extra: &[Value]) -> Value {
    let mut p = vec![json!({"name": "viewResource", "resource": view})];
    p.extend(extra.iter().cloned());
    json!({"resourceType": "Parameters", "parameter": p})
}

fn format(f: &str) -> Value {
    json!({"name": "_format", "valueCode": f})
}

const CSV: &str = "id,patient_id,value,unit\no0,p1,6.1,%\no1,p1,7.3,%\no2,p2,5.2,%\n";

#[tokio::test]
async fn every_format_with_its_content_type() {
    let t = app();
    t.seed().await;
    let r = t.run(params(obs_view(), &[format("csv")])).await;
    assert_eq!((r.status, r.content_type.as_str()), (StatusCode::OK, "text/csv; charset=utf-8"));
    assert_eq!(r.text(), CSV);
    let r = t.run(params(obs_view(), &[format("csv"), json!({"name": "header", "valueBoolean": false})])).await;
    assert_eq!(r.text(), CSV.split_once('\n').expect("header").1);

    let r = t.run(params(obs_view(), &[format("ndjson")])).await;
    assert_eq!((r.status, r.content_type.as_str()), (StatusCode::OK, "application/x-ndjson"));
    let lines: Vec<Value> = r.text().lines().map(|l| serde_json::from_str(l).expect("line")).collect();
    assert_eq!(lines[2], json!({"id": "o2", "patient_id": "p2", "value": 5.2, "unit": "%"}));
    assert_eq!(lines.len(), 3);

    // JSON is the default.
    let r = t.run(params(obs_view(), &[])).await;
    assert_eq!((r.status, r.content_type.as_str()), (StatusCode::OK, "application/json; charset=utf-8"));
    assert_eq!(r.json().as_array().map(Vec::len), Some(3));
    assert_eq!(r.json()[1]["value"], json!(7.3));

    let r = t.run(params(obs_view(), &[format("parquet")])).await;
    assert_eq!((r.status, r.content_type.as_str()), (StatusCode::OK, "application/vnd.apache.parquet"));
    assert!(r.raw.starts_with(b"PAR1") && r.raw.ends_with(b"PAR1"));
    let f = t.dir.path().join("out.parquet");
    std::fs::write(&f, &r.raw).expect("write");
    let batches = analytics::view::read_parquet(&f).expect("read back");
    let schema = batches[0].schema();
    assert_eq!(format!("{:?}", schema.field(2).data_type()), "Float64", "a decimal column stays a float in Parquet");
    let csv = analytics::view::write_batches(analytics::view::Format::Csv, schema, &batches, Vec::new()).expect("csv");
    assert_eq!(String::from_utf8(csv).expect("utf8"), CSV, "Parquet read back equals the CSV answer");

    // The URL's _format wins over the body's; Accept is used when neither names one.
    let r = t.send("POST", "/fhir/ViewDefinition/$viewdefinition-run?_format=ndjson", params(obs_view(), &[format("csv")]).to_string(), &[]).await;
    assert_eq!(r.content_type, "application/x-ndjson");
    let r = t.send("POST", "/fhir/ViewDefinition/$viewdefinition-run", params(obs_view(), &[]).to_string(), &[("accept", "text/csv")]).await;
    assert_eq!(r.text(), CSV);
    // System level too (R4 servers have no ViewDefinition type).
    let r = t.send("POST", "/fhir/$viewdefinition-run", params(obs_view(), &[format("csv")]).to_string(), &[]).await;
    assert_eq!(r.text(), CSV);
}

#[tokio::test]
async fn patient_since_limit_and_inline_resources() {
    let t = app();
    t.seed().await;
    let patient = json!({"name": "patient", "valueReference": {"reference": "Patient/p1"}});
    let r = t.run(params(obs_view(), &[format("csv"), patient])).await;
    assert_eq!(r.text(), "id,patient_id,value,unit\no0,p1,6.1,%\no1,p1,7.3,%\n");
    let r = t.run(params(obs_view(), &[format("csv"), json!({"name": "_limit", "valueInteger": 2})])).await;
    assert_eq!(r.text().lines().count(), 3, "{}", r.text());
    // Everything was written just now; nothing is newer than the far future.
    let r = t.run(params(obs_view(), &[format("csv"), json!({"name": "_since", "valueInstant": "2999-01-01T00:00:00Z"})])).await;
    assert_eq!(r.text(), "id,patient_id,value,unit\n");
    let r = t.run(params(obs_view(), &[format("csv"), json!({"name": "_since", "valueInstant": "2000-01-01T00:00:00Z"})])).await;
    assert_eq!(r.text(), CSV);
    // forEach over names, from the store.
    let names = json!({"resourceType": "ViewDefinition", "name": "n", "resource": "Patient", "select": [
        {"column": [{"name": "id", "path": "getResourceKey()"}]},
        {"forEach": "name.given", "column": [{"name": "given", "path": "$this"}]}]});
    let r = t.run(params(names.clone(), &[format("csv"), json!({"name": "patient", "valueReference": {"reference": "Patient/p3"}})])).await;
    assert_eq!(r.text(), "id,given\np3,A\np3,B\n");
    // Resources sent with the request replace the store.
    let inline = json!({"name": "resource", "resource": {"resourceType": "Patient", "id": "x9", "name": [{"given": ["Z"]}]}});
    let r = t.run(params(names, &[format("csv"), inline])).await;
    assert_eq!(r.text(), "id,given\nx9,Z\n");
}

#[tokio::test]
async fn errors_are_operation_outcomes() {
    let t = app();
    t.seed().await;
    // Malformed requests: 400.
    let d = t.send("POST", "/fhir/ViewDefinition/$viewdefinition-run", "{".into(), &[]).await.outcome(StatusCode::BAD_REQUEST);
    assert!(d.contains("malformed JSON"), "{d}");
    let d = t.run(json!({"resourceType": "Patient"})).await.outcome(StatusCode::BAD_REQUEST);
    assert!(d.contains("Parameters"), "{d}");
    let d = t.run(json!({"resourceType": "Parameters", "parameter": []})).await.outcome(StatusCode::BAD_REQUEST);
    assert!(d.contains("viewResource"), "{d}");
    let d = t.run(params(obs_view(), &[format("xlsx")])).await.outcome(StatusCode::BAD_REQUEST);
    assert!(d.contains("xlsx"), "{d}");
    let d = t.run(params(obs_view(), &[json!({"name": "_limit", "valueString": "ten"})])).await.outcome(StatusCode::BAD_REQUEST);
    assert!(d.contains("_limit"), "{d}");
    let d = t.run(params(obs_view(), &[json!({"name": "_since", "valueInstant": "yesterday"})])).await.outcome(StatusCode::BAD_REQUEST);
    assert!(d.contains("yesterday"), "{d}");
    // Views that are invalid or fail on the data: 422.
    let mut bad = obs_view();
    bad["select"][0]["column"][0]["name"] = json!("1 bad");
    let d = t.run(params(bad, &[])).await.outcome(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(d.contains("1 bad"), "{d}");
    let mut bad = obs_view();
    bad["select"][0]["column"][0]["path"] = json!("id.(");
    let d = t.run(params(bad, &[])).await.outcome(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(d.contains("FHIRPath"), "{d}");
    let many = json!({"resourceType": "ViewDefinition", "name": "m", "resource": "Patient",
        "select": [{"column": [{"name": "given", "path": "name.given"}]}]});
    let d = t.run(params(many, &[])).await.outcome(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(d.contains("collection"), "{d}");
    let mut other = obs_view();
    other["resource"] = json!("Spaceship");
    let d = t.run(params(other, &[])).await.outcome(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(d.contains("Spaceship"), "{d}");
    let d = t
        .run(json!({"resourceType": "Parameters", "parameter": [{"name": "viewReference", "valueReference": {"reference": "ViewDefinition/x"}}]}))
        .await
        .outcome(StatusCode::UNPROCESSABLE_ENTITY);
    assert!(d.contains("viewResource"), "{d}");
    let r = t.send("GET", "/fhir/ViewDefinition/$viewdefinition-run", String::new(), &[]).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.text());
}

#[tokio::test]
async fn capability_statement_lists_the_operation() {
    let t = app();
    let r = t.send("GET", "/fhir/metadata", String::new(), &[]).await;
    let ops = r.json()["rest"][0]["operation"].clone();
    let op = ops.as_array().expect("operations").iter().find(|o| o["name"] == "viewdefinition-run").cloned().expect("listed");
    assert_eq!(op["definition"], "http://sql-on-fhir.org/OperationDefinition/$viewdefinition-run");
}
