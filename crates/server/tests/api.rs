//! The FHIR REST API end to end: real HTTP requests against the real router
//! (in process, `oneshot`) over a real SQLite store in a temporary directory.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

struct TestApp {
    _dir: tempfile::TempDir,
    state: server::AppState,
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
    raw: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    /// The diagnostics of the OperationOutcome's first issue.
    fn diag(&self) -> String {
        assert_eq!(self.body["resourceType"], "OperationOutcome", "{}", self.body);
        self.body["issue"][0]["diagnostics"].as_str().unwrap_or("").to_string()
    }
    fn expr(&self) -> String {
        self.body["issue"][0]["expression"][0].as_str().unwrap_or("").to_string()
    }
}

fn app_with(config: server::Config) -> TestApp {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store::SqliteStore::open(dir.path(), store::SqliteOptions { synchronous: store::Synchronous::Normal, ..Default::default() })
        .expect("open");
    TestApp { _dir: dir, state: server::AppState::new(Arc::new(store), config) }
}

fn app() -> TestApp {
    app_with(server::Config::default())
}

impl TestApp {
    async fn send(&self, req: Request<Body>) -> Resp {
        let res = server::app(self.state.clone()).oneshot(req).await.expect("infallible");
        let status = res.status();
        let headers = res.headers().clone();
        let raw = res.into_body().collect().await.expect("body").to_bytes().to_vec();
        let body = if raw.is_empty() { Value::Null } else { serde_json::from_slice(&raw).unwrap_or(Value::Null) };
        if status.is_server_error() {
            panic!("server error {status}: {}", String::from_utf8_lossy(&raw));
        }
        Resp { status, headers, body, raw }
    }

    async fn get(&self, uri: &str) -> Resp {
        self.send(Request::get(uri).header("host", "test").body(Body::empty()).expect("req")).await
    }

    async fn with_body(&self, method: &str, uri: &str, body: &Value, headers: &[(&str, &str)]) -> Resp {
        let mut b = Request::builder().method(method).uri(uri).header("host", "test").header(header::CONTENT_TYPE, "application/fhir+json");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        self.send(b.body(Body::from(body.to_string())).expect("req")).await
    }

    async fn post(&self, uri: &str, body: &Value) -> Resp {
        self.with_body("POST", uri, body, &[]).await
    }

    async fn put(&self, uri: &str, body: &Value) -> Resp {
        self.with_body("PUT", uri, body, &[]).await
    }

    async fn delete(&self, uri: &str) -> Resp {
        self.send(Request::delete(uri).header("host", "test").body(Body::empty()).expect("req")).await
    }
}

fn patient(family: &str) -> Value {
    json!({"resourceType": "Patient", "name": [{"family": family, "given": ["太郎"]}], "gender": "male", "birthDate": "1960-04-01"})
}

#[tokio::test]
async fn create_read_vread_update_delete() {
    let t = app();
    let c = t.post("/fhir/Patient", &patient("山田")).await;
    assert_eq!(c.status, StatusCode::CREATED);
    let id = c.body["id"].as_str().expect("id").to_string();
    assert!(fhir::id::is_valid_id(&id));
    assert_eq!(c.header("location"), format!("http://test/fhir/Patient/{id}/_history/1"));
    assert_eq!(c.header("etag"), "W/\"1\"");
    assert!(c.header("last-modified").ends_with("GMT"), "{}", c.header("last-modified"));
    assert!(c.header("content-type").starts_with("application/fhir+json"));
    assert_eq!(c.body["meta"]["versionId"], "1");
    assert!(fhir::validate::is_instant(c.body["meta"]["lastUpdated"].as_str().expect("lastUpdated")));

    let r = t.get(&format!("/fhir/Patient/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, c.body);
    assert_eq!(r.header("etag"), "W/\"1\"");

    let mut upd = r.body.clone();
    upd["gender"] = json!("female");
    let u = t.put(&format!("/fhir/Patient/{id}"), &upd).await;
    assert_eq!(u.status, StatusCode::OK);
    assert_eq!(u.body["meta"]["versionId"], "2");
    assert_eq!(u.header("etag"), "W/\"2\"");

    let v1 = t.get(&format!("/fhir/Patient/{id}/_history/1")).await;
    assert_eq!(v1.body["gender"], "male");
    let v2 = t.get(&format!("/fhir/Patient/{id}/_history/2")).await;
    assert_eq!(v2.body["gender"], "female");
    assert_eq!(t.get(&format!("/fhir/Patient/{id}/_history/3")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.get(&format!("/fhir/Patient/{id}/_history/x")).await.status, StatusCode::BAD_REQUEST);

    let d = t.delete(&format!("/fhir/Patient/{id}")).await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    assert_eq!(d.header("etag"), "W/\"3\"");
    let g = t.get(&format!("/fhir/Patient/{id}")).await;
    assert_eq!(g.status, StatusCode::GONE);
    assert_eq!(g.body["issue"][0]["code"], "deleted");
    assert_eq!(t.get(&format!("/fhir/Patient/{id}/_history/3")).await.status, StatusCode::GONE);
    // The old versions are still there.
    assert_eq!(t.get(&format!("/fhir/Patient/{id}/_history/2")).await.status, StatusCode::OK);
    // Deleting again is fine and writes nothing.
    let d2 = t.delete(&format!("/fhir/Patient/{id}")).await;
    assert_eq!(d2.status, StatusCode::NO_CONTENT);
    let h = t.get(&format!("/fhir/Patient/{id}/_history")).await;
    assert_eq!(h.body["total"], 3);
    let methods: Vec<&str> = h.body["entry"].as_array().expect("entries").iter().map(|e| e["request"]["method"].as_str().unwrap_or("")).collect();
    assert_eq!(methods, ["DELETE", "PUT", "POST"]);
    assert!(h.body["entry"][0].get("resource").is_none());

    assert_eq!(t.get("/fhir/Patient/nope").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn update_as_create_and_unchanged() {
    let t = app();
    let mut p = patient("佐藤");
    p["id"] = json!("pat-1");
    let c = t.put("/fhir/Patient/pat-1", &p).await;
    assert_eq!(c.status, StatusCode::CREATED);
    assert_eq!(c.header("location"), "http://test/fhir/Patient/pat-1/_history/1");
    let u = t.put("/fhir/Patient/pat-1", &p).await;
    assert_eq!(u.status, StatusCode::OK);
    // An update through the API always makes a version (import skips unchanged ones).
    assert_eq!(u.body["meta"]["versionId"], "2");
}

#[tokio::test]
async fn if_match_and_prefer() {
    let t = app();
    let mut p = patient("鈴木");
    p["id"] = json!("p1");
    t.put("/fhir/Patient/p1", &p).await;
    let stale = t.with_body("PUT", "/fhir/Patient/p1", &p, &[("if-match", "W/\"7\"")]).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert!(stale.diag().contains("expected version 7, current is 1"), "{}", stale.diag());
    let ok = t.with_body("PUT", "/fhir/Patient/p1", &p, &[("if-match", "W/\"1\"")]).await;
    assert_eq!(ok.status, StatusCode::OK);
    let bad = t.with_body("PUT", "/fhir/Patient/p1", &p, &[("if-match", "yesterday")]).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let gone = t.send(Request::delete("/fhir/Patient/p1").header("if-match", "W/\"1\"").body(Body::empty()).expect("req")).await;
    assert_eq!(gone.status, StatusCode::PRECONDITION_FAILED);

    let min = t.with_body("POST", "/fhir/Patient", &patient("田中"), &[("prefer", "return=minimal")]).await;
    assert_eq!(min.status, StatusCode::CREATED);
    assert!(min.raw.is_empty());
    assert!(min.header("location").contains("/_history/1"));
    let oo = t.with_body("POST", "/fhir/Patient", &patient("田中"), &[("prefer", "return=OperationOutcome")]).await;
    assert_eq!(oo.body["resourceType"], "OperationOutcome");
    assert_eq!(oo.body["issue"][0]["severity"], "information");
    let rep = t.with_body("POST", "/fhir/Patient", &patient("田中"), &[("prefer", "return=representation")]).await;
    assert_eq!(rep.body["resourceType"], "Patient");
    // If-None-Match on read.
    let r = t.send(Request::get("/fhir/Patient/p1").header("if-none-match", "W/\"2\"").body(Body::empty()).expect("req")).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn conditional_create_update_delete() {
    let t = app();
    let mut p = patient("高橋");
    p["identifier"] = json!([{"system": "urn:oid:1.2.392.100495.20.3.51.11312345670", "value": "000123"}]);
    let hdr = [("if-none-exist", "identifier=urn:oid:1.2.392.100495.20.3.51.11312345670|000123")];
    let a = t.with_body("POST", "/fhir/Patient", &p, &hdr).await;
    assert_eq!(a.status, StatusCode::CREATED);
    let b = t.with_body("POST", "/fhir/Patient", &p, &hdr).await;
    assert_eq!(b.status, StatusCode::OK, "second conditional create finds the first");
    assert_eq!(b.body["id"], a.body["id"]);
    // Conditional update: one match updates it.
    let mut p2 = p.clone();
    p2["gender"] = json!("other");
    let u = t.put("/fhir/Patient?identifier=urn:oid:1.2.392.100495.20.3.51.11312345670|000123", &p2).await;
    assert_eq!(u.status, StatusCode::OK);
    assert_eq!(u.body["id"], a.body["id"]);
    assert_eq!(u.body["meta"]["versionId"], "2");
    // No match creates.
    let u2 = t.put("/fhir/Patient?identifier=urn:x|new", &json!({"resourceType": "Patient", "identifier": [{"system": "urn:x", "value": "new"}]})).await;
    assert_eq!(u2.status, StatusCode::CREATED);
    // Two matches: 412 for create, update and delete.
    t.post("/fhir/Patient", &json!({"resourceType": "Patient", "identifier": [{"system": "urn:dup", "value": "1"}]})).await;
    t.post("/fhir/Patient", &json!({"resourceType": "Patient", "identifier": [{"system": "urn:dup", "value": "1"}]})).await;
    let m = t.with_body("POST", "/fhir/Patient", &patient("x"), &[("if-none-exist", "identifier=urn:dup|1")]).await;
    assert_eq!(m.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(t.put("/fhir/Patient?identifier=urn:dup|1", &patient("x")).await.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(t.delete("/fhir/Patient?identifier=urn:dup|1").await.status, StatusCode::PRECONDITION_FAILED);
    // One match deletes.
    let d = t.delete("/fhir/Patient?identifier=urn:x|new").await;
    assert_eq!(d.status, StatusCode::NO_CONTENT);
    let s = t.get("/fhir/Patient?identifier=urn:x|new").await;
    assert_eq!(s.body["total"], 0);
    // Criteria the server cannot evaluate are refused, never ignored (`name` is
    // supported since the search issue; `nonsense` is not).
    let bad = t.put("/fhir/Patient?nonsense=x", &patient("x")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.expr(), "nonsense");
    let bad = t.delete("/fhir/Patient?_lastUpdated=2024-13").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.diag().contains("2024-13"));
}

#[tokio::test]
async fn history_levels_since_and_paging() {
    let t = app();
    for i in 0..5 {
        t.post("/fhir/Patient", &patient(&format!("p{i}"))).await;
    }
    t.post("/fhir/Observation", &json!({"resourceType": "Observation", "status": "final", "code": {"text": "HbA1c"}})).await;
    let sys = t.get("/fhir/_history?_count=4").await;
    assert_eq!(sys.body["type"], "history");
    assert_eq!(sys.body["total"], 6);
    assert_eq!(sys.body["entry"].as_array().expect("entries").len(), 4);
    assert_eq!(sys.body["entry"][0]["resource"]["resourceType"], "Observation");
    let next = sys.body["link"].as_array().expect("links").iter().find(|l| l["relation"] == "next").expect("next")["url"].as_str().expect("url").to_string();
    let next = next.trim_start_matches("http://test");
    let page2 = t.get(next).await;
    assert_eq!(page2.body["entry"].as_array().expect("entries").len(), 2);
    assert!(page2.body["link"].as_array().expect("links").iter().all(|l| l["relation"] != "next"));
    let ty = t.get("/fhir/Patient/_history").await;
    assert_eq!(ty.body["total"], 5);
    let last = ty.body["entry"][0]["response"]["lastModified"].as_str().expect("lastModified").to_string();
    let since = t.get(&format!("/fhir/Patient/_history?_since={last}")).await;
    assert_eq!(since.body["total"], 1);
    let bad = t.get("/fhir/_history?_since=yesterday").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.expr(), "_since");
    assert_eq!(t.get("/fhir/_history?_count=abc").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(t.get("/fhir/Patient/none/_history").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn search_reports_unsupported_parameters() {
    let t = app();
    t.post("/fhir/Patient", &patient("a")).await;
    t.post("/fhir/Patient", &patient("b")).await;
    t.post("/fhir/Patient", &patient("c")).await;
    // `name` became a supported parameter with the search issue; `nonsense` keeps
    // exercising the unsupported-parameter path.
    let s = t.get("/fhir/Patient?_count=2&nonsense=a").await;
    assert_eq!(s.status, StatusCode::OK);
    assert_eq!(s.body["total"], 3);
    let entries = s.body["entry"].as_array().expect("entries");
    assert_eq!(entries.len(), 3, "two matches and one outcome");
    assert_eq!(entries[2]["search"]["mode"], "outcome");
    assert!(entries[2]["resource"]["issue"][0]["diagnostics"].as_str().expect("diag").contains("nonsense=a"));
    let strict = t.send(Request::get("/fhir/Patient?nonsense=a").header("prefer", "handling=strict").body(Body::empty()).expect("req")).await;
    assert_eq!(strict.status, StatusCode::BAD_REQUEST);
    assert_eq!(strict.expr(), "nonsense");
    // Keyset paging through all three.
    let p1 = t.get("/fhir/Patient?_count=2").await;
    let next = p1.body["link"].as_array().expect("links").iter().find(|l| l["relation"] == "next").expect("next")["url"].as_str().expect("url").to_string();
    let p2 = t.get(next.trim_start_matches("http://test")).await;
    assert_eq!(p2.body["entry"].as_array().expect("entries").len(), 1);
    let mut ids: Vec<String> = p1.body["entry"].as_array().expect("e").iter().chain(p2.body["entry"].as_array().expect("e")).map(|e| e["resource"]["id"].as_str().expect("id").to_string()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 3);
    let post = t
        .send(
            Request::post("/fhir/Patient/_search")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("_id={}", ids[0])))
                .expect("req"),
        )
        .await;
    assert_eq!(post.body["total"], 1);
}

#[tokio::test]
async fn transaction_resolves_urn_uuid_and_orders_entries() {
    let t = app();
    let mut old = patient("old");
    old["id"] = json!("old");
    t.put("/fhir/Patient/old", &old).await;
    let mut keep = patient("keep");
    keep["id"] = json!("keep");
    t.put("/fhir/Patient/keep", &keep).await;
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
             "resource": {"resourceType": "Observation", "status": "final", "code": {"text": "LDL-C"},
                          "subject": {"reference": "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059"}},
             "request": {"method": "POST", "url": "Observation"}},
            {"fullUrl": "urn:uuid:88f151c0-a954-468a-88bd-5ae15c08e059",
             "resource": {"resourceType": "Patient", "name": [{"family": "伊藤"}]},
             "request": {"method": "POST", "url": "Patient"}},
            {"request": {"method": "GET", "url": "Patient/keep"}},
            {"request": {"method": "DELETE", "url": "Patient/old"}}
        ]
    });
    let r = t.post("/fhir", &bundle).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["type"], "transaction-response");
    let e = r.body["entry"].as_array().expect("entries");
    assert_eq!(e.len(), 4);
    assert_eq!(e[0]["response"]["status"], "201 Created");
    assert_eq!(e[1]["response"]["status"], "201 Created");
    assert_eq!(e[3]["response"]["status"], "204 No Content");
    assert_eq!(e[2]["resource"]["name"][0]["family"], "keep");
    assert_eq!(t.get("/fhir/Patient/old").await.status, StatusCode::GONE);
    let obs_loc = e[0]["response"]["location"].as_str().expect("location");
    let pat_loc = e[1]["response"]["location"].as_str().expect("location");
    let obs = t.get(&format!("/fhir/{}", obs_loc.split("/_history").next().expect("path"))).await;
    let pat_ref = pat_loc.split("/_history").next().expect("path");
    assert_eq!(obs.body["subject"]["reference"], pat_ref);
    // Entries run DELETE first, then POST, PUT, GET: a GET of a resource the same
    // transaction deletes fails, and the whole transaction is rolled back.
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"request": {"method": "GET", "url": "Patient/keep"}},
        {"request": {"method": "DELETE", "url": "Patient/keep"}}]});
    let r = t.post("/fhir", &bundle).await;
    assert_eq!(r.status, StatusCode::GONE);
    assert_eq!(r.expr(), "Bundle.entry[0]");
    assert_eq!(t.get("/fhir/Patient/keep").await.status, StatusCode::OK);
}

#[tokio::test]
async fn transaction_is_all_or_nothing() {
    let t = app();
    let before = t.get("/fhir/Patient?_count=0").await.body["total"].clone();
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"resource": {"resourceType": "Patient", "name": [{"family": "ok"}]}, "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Patient", "id": "x1"}, "request": {"method": "PUT", "url": "Patient/x1"}, },
            {"resource": {"resourceType": "Patient", "id": "x1"}, "request": {"method": "PUT", "url": "Patient/x1", "ifMatch": "W/\"4\""}}
        ]
    });
    let r = t.post("/fhir", &bundle).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.diag().contains("more than one entry"), "{}", r.diag());
    // A failure in the middle (If-Match on a missing resource) rolls back the earlier writes.
    let bundle = json!({
        "resourceType": "Bundle", "type": "transaction",
        "entry": [
            {"resource": {"resourceType": "Patient", "name": [{"family": "ok"}]}, "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Patient", "id": "x2"}, "request": {"method": "PUT", "url": "Patient/x2", "ifMatch": "W/\"4\""}}
        ]
    });
    let r = t.post("/fhir", &bundle).await;
    assert_eq!(r.status, StatusCode::PRECONDITION_FAILED, "{}", r.body);
    assert_eq!(r.expr(), "Bundle.entry[1]");
    assert_eq!(t.get("/fhir/Patient?_count=0").await.body["total"], before);
    // An invalid resource inside names its entry.
    let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Patient", "birthDate": "1990-02-30"}, "request": {"method": "POST", "url": "Patient"}}]});
    let r = t.post("/fhir", &bundle).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.expr(), "Bundle.entry[0].resource.Patient.birthDate");
}

#[tokio::test]
async fn transaction_conditional_entries() {
    let t = app();
    let ident = json!([{"system": "urn:mrn", "value": "42"}]);
    let bundle = |family: &str| {
        json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:aaaaaaaa-0000-4000-8000-000000000001",
             "resource": {"resourceType": "Patient", "identifier": ident, "name": [{"family": family}]},
             "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=urn:mrn|42"}},
            {"resource": {"resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
                          "subject": {"reference": "urn:uuid:aaaaaaaa-0000-4000-8000-000000000001"}},
             "request": {"method": "POST", "url": "Encounter"}}
        ]})
    };
    let r1 = t.post("/fhir", &bundle("一")).await;
    assert_eq!(r1.status, StatusCode::OK, "{}", r1.body);
    let r2 = t.post("/fhir", &bundle("二")).await;
    assert_eq!(r2.status, StatusCode::OK, "{}", r2.body);
    assert_eq!(r2.body["entry"][0]["response"]["status"], "200 OK");
    let pats = t.get("/fhir/Patient?identifier=urn:mrn|42").await;
    assert_eq!(pats.body["total"], 1);
    let pid = pats.body["entry"][0]["resource"]["id"].as_str().expect("id").to_string();
    let encs = t.get("/fhir/Encounter").await;
    assert_eq!(encs.body["total"], 2);
    for e in encs.body["entry"].as_array().expect("entries") {
        assert_eq!(e["resource"]["subject"]["reference"], format!("Patient/{pid}"));
    }
    // Conditional references resolve against what is stored (exactly one match).
    let cond = |q: &str| json!({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": {"resourceType": "Condition", "subject": {"reference": format!("Patient?{q}")}},
         "request": {"method": "POST", "url": "Condition"}}]});
    let none = t.post("/fhir", &cond("identifier=urn:mrn|43")).await;
    assert_eq!(none.status, StatusCode::PRECONDITION_FAILED);
    assert!(none.diag().contains("matches 0 resources"));
    assert_eq!(t.post("/fhir", &cond("identifier=urn:mrn|42")).await.status, StatusCode::OK);
    let conds = t.get("/fhir/Condition").await;
    assert_eq!(conds.body["entry"][0]["resource"]["subject"]["reference"], format!("Patient/{pid}"));
}

#[tokio::test]
async fn batch_entries_are_independent() {
    let t = app();
    let bundle = json!({"resourceType": "Bundle", "type": "batch", "entry": [
        {"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "GET", "url": "Patient/missing"}},
        {"resource": {"resourceType": "Patient", "gender": 3}, "request": {"method": "POST", "url": "Patient"}},
        {"request": {"method": "PATCH", "url": "Patient/x"}}
    ]});
    let r = t.post("/fhir", &bundle).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["type"], "batch-response");
    let e = r.body["entry"].as_array().expect("entries");
    assert_eq!(e[0]["response"]["status"], "201 Created");
    assert_eq!(e[1]["response"]["status"], "404 Not Found");
    assert_eq!(e[2]["response"]["status"], "400 Bad Request");
    assert_eq!(e[2]["response"]["outcome"]["issue"][0]["expression"][0], "Bundle.entry[2].resource.Patient.gender");
    assert_eq!(e[3]["response"]["status"], "400 Bad Request");
    assert_eq!(t.get("/fhir/Patient").await.body["total"], 1);
}

#[tokio::test]
async fn bad_input_gets_operation_outcomes() {
    let t = app();
    let raw = |method: &str, uri: &str, ct: Option<&str>, body: &str| {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(ct) = ct {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        b.body(Body::from(body.to_string())).expect("req")
    };
    let j = Some("application/fhir+json");
    let r = t.send(raw("POST", "/fhir/Patient", j, "{\"resourceType\": \"Patient\",")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.diag().starts_with("malformed JSON at line 1 column"), "{}", r.diag());
    let r = t.send(raw("POST", "/fhir/Patient", j, "[1,2]")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.diag().contains("JSON object"));
    let r = t.send(raw("POST", "/fhir/Patient", j, "")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t.send(raw("POST", "/fhir/Patient", j, "{\"resourceType\": \"Observation\"}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.expr(), "resourceType");
    let r = t.send(raw("POST", "/fhir/Patient", j, "{\"name\": []}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.body["issue"][0]["code"], "required");
    let r = t.send(raw("POST", "/fhir/Patien", j, "{\"resourceType\": \"Patien\"}")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.diag().contains("unknown resource type 'Patien'"));
    let r = t.send(raw("PUT", "/fhir/Patient/a", j, "{\"resourceType\": \"Patient\", \"id\": \"b\"}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.expr(), "id");
    let r = t.send(raw("PUT", "/fhir/Patient/a", j, "{\"resourceType\": \"Patient\"}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.expr(), "id");
    let r = t.send(raw("PUT", "/fhir/Patient/a_b", j, "{\"resourceType\": \"Patient\", \"id\": \"a_b\"}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.diag().contains("not a valid FHIR id"));
    let r = t.send(raw("POST", "/fhir/Patient", j, "{\"resourceType\": \"Patient\", \"birthDate\": 19600401, \"active\": \"yes\"}")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let exprs: Vec<&str> = r.body["issue"].as_array().expect("issues").iter().map(|i| i["expression"][0].as_str().unwrap_or("")).collect();
    assert_eq!(exprs, ["Patient.birthDate", "Patient.active"]);
    // XML: 415 for a body, 406 for a response format.
    let r = t.send(raw("POST", "/fhir/Patient", Some("application/fhir+xml"), "<Patient/>")).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(r.body["resourceType"], "OperationOutcome");
    let r = t.send(Request::get("/fhir/metadata").header("accept", "application/fhir+xml").body(Body::empty()).expect("req")).await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(t.get("/fhir/metadata?_format=xml").await.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(t.get("/fhir/metadata?_format=json").await.status, StatusCode::OK);
    let r = t.send(raw("POST", "/fhir/Patient", None, "{}")).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Broken Bundles.
    let r = t.post("/fhir", &json!({"resourceType": "Bundle", "type": "collection"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.expr(), "Bundle.type");
    let r = t.post("/fhir", &json!({"resourceType": "Patient"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = t.post("/fhir", &json!({"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {"resourceType": "Patient"}}]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.expr(), "Bundle.entry[0]");
    let r = t.post("/fhir", &json!({"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Observation"}}]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Unknown endpoints and methods.
    assert_eq!(t.get("/nope").await.status, StatusCode::NOT_FOUND);
    let r = t.send(Request::patch("/fhir/Patient/x").body(Body::empty()).expect("req")).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.body["resourceType"], "OperationOutcome");
    // Nothing partial was stored.
    assert_eq!(t.get("/fhir/Patient").await.body["total"], 0);
}

#[tokio::test]
async fn oversized_body_is_413() {
    let t = app_with(server::Config { max_body_bytes: 1000, ..Default::default() });
    let big = json!({"resourceType": "Patient", "name": [{"text": "x".repeat(2000)}]});
    let r = t.post("/fhir/Patient", &big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.diag().contains("1000 bytes"));
    let small = t.post("/fhir/Patient", &patient("ok")).await;
    assert_eq!(small.status, StatusCode::CREATED);
}

#[tokio::test]
async fn capability_statement_states_what_is_supported() {
    let t = app();
    let r = t.get("/fhir/metadata").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["resourceType"], "CapabilityStatement");
    assert_eq!(r.body["fhirVersion"], "4.0.1");
    assert!(fhir::validate::validate_resource(&r.body).is_empty(), "{:?}", fhir::validate::validate_resource(&r.body));
    let rest = &r.body["rest"][0];
    let pat = rest["resource"].as_array().expect("resources").iter().find(|x| x["type"] == "Patient").expect("Patient");
    let params: Vec<&str> = pat["searchParam"].as_array().expect("params").iter().map(|p| p["name"].as_str().unwrap_or("")).collect();
    for p in ["_id", "_lastUpdated", "identifier", "name", "family", "birthdate", "_tag", "_profile", "organization"] {
        assert!(params.contains(&p), "Patient lacks {p}: {params:?}");
    }
    assert!(!params.contains(&"_text"), "unsupported parameters are not listed");
    let birthdate = pat["searchParam"].as_array().expect("p").iter().find(|p| p["name"] == "birthdate").expect("birthdate");
    assert_eq!(birthdate["type"], "date");
    assert!(!birthdate["documentation"].as_str().unwrap_or("").is_empty());
    assert!(rest["documentation"].as_str().expect("doc").contains("_total defaults to accurate on the first page"));
    assert_eq!(pat["conditionalDelete"], "single");
    let sys: Vec<&str> = rest["interaction"].as_array().expect("i").iter().map(|i| i["code"].as_str().unwrap_or("")).collect();
    assert_eq!(sys, ["transaction", "batch", "search-system", "history-system"]);
}

#[tokio::test]
async fn request_ids_are_echoed() {
    let t = app();
    let r = t.send(Request::get("/fhir/metadata").header("x-request-id", "abc-123").body(Body::empty()).expect("req")).await;
    assert_eq!(r.header("x-request-id"), "abc-123");
    let r = t.get("/fhir/metadata").await;
    assert!(!r.header("x-request-id").is_empty());
}

/// Two writers with the same If-Match: exactly one wins, over real loopback HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_if_match_exactly_one_wins() {
    let t = app();
    let mut p = patient("並行");
    p["id"] = json!("race");
    t.put("/fhir/Patient/race", &p).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve_on(t.state.clone(), listener, async {
        let _ = stop_rx.await;
    }));
    for round in 0..10 {
        let version = round + 1;
        let mut tasks = Vec::new();
        for w in 0..2 {
            let mut body = p.clone();
            body["gender"] = json!(if w == 0 { "male" } else { "female" });
            tasks.push(tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
                let text = body.to_string();
                let req = format!(
                    "PUT /fhir/Patient/race HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\nIf-Match: W/\"{version}\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                    text.len()
                );
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                s.write_all(req.as_bytes()).await.expect("write");
                let mut out = String::new();
                s.read_to_string(&mut out).await.expect("read");
                out.split_whitespace().nth(1).unwrap_or("").to_string()
            }));
        }
        let mut statuses = Vec::new();
        for task in tasks {
            statuses.push(task.await.expect("join"));
        }
        statuses.sort();
        assert_eq!(statuses, ["200", "412"], "round {round}");
    }
    let _ = stop_tx.send(());
    server.await.expect("join").expect("serve");
    assert_eq!(t.get("/fhir/Patient/race").await.body["meta"]["versionId"], "11");
}

/// Random and mutated JSON at the entry points never makes the server fail (no 5xx, no panic).
#[tokio::test]
async fn fuzz_json_entry_points() {
    let t = app();
    let seeds = [
        json!({"resourceType": "Patient", "name": [{"family": "x", "given": ["y"]}], "birthDate": "2000-01-01"}).to_string(),
        json!({"resourceType": "Bundle", "type": "transaction", "entry": [{"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient"}, "request": {"method": "POST", "url": "Patient"}}]}).to_string(),
        json!({"resourceType": "Observation", "status": "final", "code": {"coding": [{"system": "s", "code": "c"}]}, "valueQuantity": {"value": 1.5, "unit": "%"}}).to_string(),
    ];
    let alphabet: &[u8] = b"{}[]\":,0123456789.-eE truefalsnul\\u00e9\xe6\x97\xa5resourceTypePatientBundleentryidmeta";
    let mut rng: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for i in 0..1500 {
        let seed = seeds[i % seeds.len()].as_bytes();
        let mut bytes = seed.to_vec();
        for _ in 0..(1 + next() % 4) {
            let pos = (next() as usize) % bytes.len().max(1);
            match next() % 3 {
                0 => bytes[pos] = alphabet[(next() as usize) % alphabet.len()],
                1 => {
                    bytes.remove(pos);
                }
                _ => bytes.insert(pos, alphabet[(next() as usize) % alphabet.len()]),
            }
        }
        let uri = match i % 3 {
            0 => "/fhir/Patient",
            1 => "/fhir",
            _ => "/fhir/Observation",
        };
        let req = Request::post(uri).header(header::CONTENT_TYPE, "application/fhir+json").body(Body::from(bytes)).expect("req");
        // `send` panics on any 5xx.
        let r = t.send(req).await;
        assert!(r.status.is_success() || r.status.is_client_error());
        if r.status.is_client_error() {
            assert_eq!(r.body["resourceType"], "OperationOutcome");
        }
    }
}
