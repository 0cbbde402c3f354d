//! FHIR search over HTTP: GET and POST, type, system, compartment and
//! `$everything`, result parameters, paging links, and one test per error case
//! (unsupported parameter lenient/strict, malformed values, bad result parameters).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

struct T {
    _dir: tempfile::TempDir,
    state: server::AppState,
}

async fn send(t: &T, req: Request<Body>) -> (StatusCode, Value) {
    let res = server::app(t.state.clone()).oneshot(req).await.expect("infallible");
    let status = res.status();
    let raw = res.into_body().collect().await.expect("body").to_bytes().to_vec();
    assert!(!status.is_server_error(), "{status}: {}", String::from_utf8_lossy(&raw));
    (status, serde_json::from_slice(&raw).unwrap_or(Value::Null))
}

async fn get(t: &T, uri: &str) -> (StatusCode, Value) {
    send(t, Request::get(uri).header("host", "test").body(Body::empty()).expect("req")).await
}

async fn get_ok(t: &T, uri: &str) -> Value {
    let (s, b) = get(t, uri).await;
    assert_eq!(s, StatusCode::OK, "{uri}: {b}");
    b
}

fn ids(b: &Value, mode: &str) -> Vec<String> {
    let mut v: Vec<String> = b["entry"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or(&[])
        .iter()
        .filter(|e| e["search"]["mode"] == mode)
        .map(|e| format!("{}/{}", e["resource"]["resourceType"].as_str().unwrap_or(""), e["resource"]["id"].as_str().unwrap_or("")))
        .collect();
    v.sort();
    v
}

fn link(b: &Value, rel: &str) -> Option<String> {
    b["link"].as_array()?.iter().find(|l| l["relation"] == rel).and_then(|l| l["url"].as_str()).map(|u| u.trim_start_matches("http://test").to_string())
}

async fn setup() -> T {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store::SqliteStore::open(dir.path(), store::SqliteOptions { synchronous: store::Synchronous::Normal, ..Default::default() })
        .expect("open");
    let t = T { _dir: dir, state: server::AppState::new(Arc::new(store), server::Config::default()) };
    let put = |r: Value| {
        let uri = format!("/fhir/{}/{}", r["resourceType"].as_str().expect("t"), r["id"].as_str().expect("id"));
        Request::put(uri).header("host", "test").header(header::CONTENT_TYPE, "application/fhir+json").body(Body::from(r.to_string())).expect("req")
    };
    let resources = vec![
        json!({"resourceType": "Organization", "id": "o1", "name": "Tokyo General"}),
        json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "山田", "given": ["太郎"]}, {"family": "ヤマダ", "given": ["タロウ"]}],
            "gender": "male", "birthDate": "1960-04-01", "managingOrganization": {"reference": "Organization/o1"},
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">山田 太郎</div>"}}),
        json!({"resourceType": "Patient", "id": "p2", "name": [{"family": "鈴木"}, {"family": "スズキ"}], "gender": "female", "birthDate": "1975-01-20"}),
        json!({"resourceType": "Observation", "id": "a", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2021-05-01", "valueQuantity": {"value": 100, "system": "http://unitsofmeasure.org", "code": "mg/dL"}}),
        json!({"resourceType": "Observation", "id": "b", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2019-05-01", "valueQuantity": {"value": 140, "system": "http://unitsofmeasure.org", "code": "mg/dL"}}),
        json!({"resourceType": "Observation", "id": "c", "status": "final", "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
            "subject": {"reference": "Patient/p2"}, "effectiveDateTime": "2022-05-01"}),
        json!({"resourceType": "Condition", "id": "k1", "subject": {"reference": "Patient/p2"}, "code": {"text": "糖尿病"}}),
    ];
    for r in resources {
        let (s, b) = send(&t, put(r)).await;
        assert!(s.is_success(), "{b}");
    }
    t
}

#[tokio::test]
async fn patient_centric_search_with_and_or() {
    let t = setup().await;
    let b = get_ok(&t, "/fhir/Observation?subject=Patient/p1&code=http://loinc.org|2345-7&date=ge2020").await;
    assert_eq!(ids(&b, "match"), ["Observation/a"]);
    assert_eq!(b["total"], 1);
    let b = get_ok(&t, "/fhir/Observation?subject=Patient/p1,Patient/p2&date=lt2022").await;
    assert_eq!(ids(&b, "match"), ["Observation/a", "Observation/b"]);
    // An absolute reference to this server is the same as a relative one.
    let b = get_ok(&t, "/fhir/Observation?subject=http://test/fhir/Patient/p2").await;
    assert_eq!(ids(&b, "match"), ["Observation/c"]);
    let b = get_ok(&t, "/fhir/Observation?value-quantity=gt1.2|http://unitsofmeasure.org|g/L").await;
    assert_eq!(ids(&b, "match"), ["Observation/b"], "140 mg/dL is 1.4 g/L");
    let b = get_ok(&t, "/fhir/Patient?family=やまだ").await;
    assert_eq!(ids(&b, "match"), ["Patient/p1"]);
    let b = get_ok(&t, "/fhir/Patient?family=%EF%BD%BD%EF%BD%BD%EF%BE%9E%EF%BD%B7").await; // ｽｽﾞｷ
    assert_eq!(ids(&b, "match"), ["Patient/p2"]);
    let b = get_ok(&t, "/fhir/Observation?patient.gender=female").await;
    assert_eq!(ids(&b, "match"), ["Observation/c"]);
    let b = get_ok(&t, "/fhir/Patient?_has:Observation:subject:date=lt2020").await;
    assert_eq!(ids(&b, "match"), ["Patient/p1"]);
    let b = get_ok(&t, "/fhir/Patient?family=nobody").await;
    assert_eq!(b["total"], 0);
    assert!(b.get("entry").is_none());
}

#[tokio::test]
async fn post_search_and_system_search() {
    let t = setup().await;
    let req = |uri: &str, form: &str| {
        Request::post(uri)
            .header("host", "test")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.to_string()))
            .expect("req")
    };
    let (s, b) = send(&t, req("/fhir/Observation/_search", "subject=Patient/p1&date=ge2020")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ids(&b, "match"), ["Observation/a"]);
    let b = get_ok(&t, "/fhir?_type=Patient,Organization&_id=p2,o1").await;
    assert_eq!(ids(&b, "match"), ["Organization/o1", "Patient/p2"]);
    let (s, b) = send(&t, req("/fhir/_search", "_type=Observation,Condition&patient=p2")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ids(&b, "match"), ["Condition/k1", "Observation/c"]);
    let (s, b) = get(&t, "/fhir?_type=Nope").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
}

#[tokio::test]
async fn compartment_search_and_everything() {
    let t = setup().await;
    let b = get_ok(&t, "/fhir/Patient/p1/Observation?date=ge2020").await;
    assert_eq!(ids(&b, "match"), ["Observation/a"]);
    let b = get_ok(&t, "/fhir/Patient/p2/Condition").await;
    assert_eq!(ids(&b, "match"), ["Condition/k1"]);
    let b = get_ok(&t, "/fhir/Patient/p1/$everything").await;
    assert_eq!(ids(&b, "match"), ["Observation/a", "Observation/b", "Patient/p1"]);
    let (s, _) = get(&t, "/fhir/Patient/nobody/$everything").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = get(&t, "/fhir/Patient/p1/Organization").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "Organization is not in the Patient compartment");
    let (s, _) = get(&t, "/fhir/Encounter/e1/Observation").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "only the Patient compartment");
}

#[tokio::test]
async fn result_parameters() {
    let t = setup().await;
    // _summary=count: no entries, a total.
    let b = get_ok(&t, "/fhir/Observation?code=2345-7&_summary=count").await;
    assert_eq!(b["total"], 3);
    assert!(b.get("entry").is_none());
    // _include and _revinclude.
    let b = get_ok(&t, "/fhir/Observation?_id=a&_include=Observation:subject&_include:iterate=Patient:organization").await;
    assert_eq!(ids(&b, "match"), ["Observation/a"]);
    assert_eq!(ids(&b, "include"), ["Organization/o1", "Patient/p1"]);
    let b = get_ok(&t, "/fhir/Patient?_id=p2&_revinclude=Observation:subject&_revinclude=Condition:subject").await;
    assert_eq!(ids(&b, "include"), ["Condition/k1", "Observation/c"]);
    // _sort with several keys, descending.
    let b = get_ok(&t, "/fhir/Observation?_sort=-date").await;
    let order: Vec<&str> = b["entry"].as_array().expect("e").iter().map(|e| e["resource"]["id"].as_str().unwrap_or("")).collect();
    assert_eq!(order, ["c", "a", "b"]);
    let b = get_ok(&t, "/fhir/Observation?_sort=subject,-date").await;
    let order: Vec<&str> = b["entry"].as_array().expect("e").iter().map(|e| e["resource"]["id"].as_str().unwrap_or("")).collect();
    assert_eq!(order, ["a", "b", "c"]);
    // _elements and _summary shape the resources and mark them SUBSETTED.
    let b = get_ok(&t, "/fhir/Patient?_id=p1&_elements=gender").await;
    let p = &b["entry"][0]["resource"];
    assert_eq!(p["gender"], "male");
    assert!(p.get("name").is_none() && p.get("birthDate").is_none());
    assert_eq!(p["meta"]["tag"][0]["code"], "SUBSETTED");
    let b = get_ok(&t, "/fhir/Patient?_id=p1&_summary=text").await;
    let p = &b["entry"][0]["resource"];
    assert!(p.get("text").is_some() && p.get("gender").is_none());
    let b = get_ok(&t, "/fhir/Patient?_id=p1&_summary=data").await;
    let p = &b["entry"][0]["resource"];
    assert!(p.get("text").is_none() && p.get("gender").is_some());
    let b = get_ok(&t, "/fhir/Patient?_id=p1&_summary=true").await;
    let p = &b["entry"][0]["resource"];
    assert!(p.get("text").is_none() && p.get("name").is_some() && p.get("birthDate").is_some());
    // _total.
    let b = get_ok(&t, "/fhir/Observation?_total=none").await;
    assert!(b.get("total").is_none());
    let b = get_ok(&t, "/fhir/Observation?_total=estimate").await;
    assert_eq!(b["total"], 3);
}

#[tokio::test]
async fn paging_links_next_previous_self() {
    let t = setup().await;
    let p1 = get_ok(&t, "/fhir/Observation?code=2345-7&_count=2").await;
    assert_eq!(p1["total"], 3);
    assert!(link(&p1, "previous").is_none());
    let next = link(&p1, "next").expect("next");
    let p2 = get_ok(&t, &next).await;
    assert!(p2.get("total").is_none(), "later pages do not recount by default");
    assert_eq!(p2["entry"].as_array().expect("e").len(), 1);
    assert!(link(&p2, "next").is_none());
    assert_eq!(link(&p2, "self").expect("self"), next);
    let prev = link(&p2, "previous").expect("previous");
    let back = get_ok(&t, &prev).await;
    assert_eq!(ids(&back, "match"), ids(&p1, "match"));
    // A sorted search pages with its own cursor.
    let s1 = get_ok(&t, "/fhir/Observation?_sort=-date&_count=1").await;
    let s2 = get_ok(&t, &link(&s1, "next").expect("next")).await;
    assert_eq!(s2["entry"][0]["resource"]["id"], "a");
}

#[tokio::test]
async fn unsupported_parameters_lenient_and_strict() {
    let t = setup().await;
    let b = get_ok(&t, "/fhir/Patient?nonsense=1&gender=male").await;
    assert_eq!(ids(&b, "match"), ["Patient/p1"]);
    let outcome = b["entry"].as_array().expect("e").iter().find(|e| e["search"]["mode"] == "outcome").expect("outcome entry");
    assert!(outcome["resource"]["issue"][0]["diagnostics"].as_str().expect("d").contains("nonsense=1"));
    assert!(!link(&b, "self").expect("self").contains("nonsense"), "the self link shows what was applied");
    let (s, b) = send(&t, Request::get("/fhir/Patient?nonsense=1").header("prefer", "handling=strict").body(Body::empty()).expect("req")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(b["issue"][0]["expression"][0], "nonsense");
    // Unknown modifiers and unsupported result parameters are reported the same way.
    let b = get_ok(&t, "/fhir/Patient?family:sounds-like=x&_contained=true").await;
    let outcome = b["entry"].as_array().expect("e").iter().find(|e| e["search"]["mode"] == "outcome").expect("outcome");
    let d = outcome["resource"]["issue"].to_string();
    assert!(d.contains("family:sounds-like=x") && d.contains("_contained=true"), "{d}");
    let (s, _) = send(&t, Request::get("/fhir/Patient?_text=x").header("prefer", "handling=strict").body(Body::empty()).expect("req")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn malformed_values_are_400_naming_parameter_and_value() {
    let t = setup().await;
    for (uri, name, value) in [
        ("/fhir/Patient?birthdate=1960-13", "birthdate", "1960-13"),
        ("/fhir/Patient?birthdate=xx1960", "birthdate", "xx1960"),
        ("/fhir/Observation?value-quantity=abc", "value-quantity", "abc"),
        ("/fhir/Patient?_lastUpdated=2024-02-30", "_lastUpdated", "2024-02-30"),
        ("/fhir/Patient?gender:missing=perhaps", "gender:missing", "perhaps"),
        ("/fhir/Patient?_count=many", "_count", "many"),
        ("/fhir/Patient?_sort=nonsense", "_sort", "nonsense"),
        ("/fhir/Patient?_total=some", "_total", "some"),
        ("/fhir/Patient?_summary=maybe", "_summary", "maybe"),
        ("/fhir/Patient?_include=Patient:gender", "_include", "Patient:gender"),
        ("/fhir/Patient?_cursor=garbage", "_cursor", "garbage"),
        ("/fhir/Observation?subject=not%20a%20ref", "subject", "not a ref"),
    ] {
        let (s, b) = get(&t, uri).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}: {b}");
        assert_eq!(b["resourceType"], "OperationOutcome");
        assert_eq!(b["issue"][0]["expression"][0], name, "{uri}: {b}");
        assert!(b["issue"][0]["diagnostics"].as_str().unwrap_or("").contains(value), "{uri}: {b}");
    }
    // Even under lenient handling, a malformed value is an error.
    let (s, _) = send(&t, Request::get("/fhir/Patient?birthdate=1960-13").header("prefer", "handling=lenient").body(Body::empty()).expect("req")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn conditional_operations_use_every_parameter() {
    let t = setup().await;
    let body = json!({"resourceType": "Patient", "name": [{"family": "山田"}], "gender": "male"});
    // If-None-Exist on a string + date parameter finds p1 and creates nothing.
    let (s, _) = send(
        &t,
        Request::post("/fhir/Patient")
            .header("host", "test")
            .header(header::CONTENT_TYPE, "application/fhir+json")
            .header("if-none-exist", "family=%E3%82%84%E3%81%BE%E3%81%A0&birthdate=1960") // family=やまだ
            .body(Body::from(body.to_string()))
            .expect("req"),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Conditional update by token and reference.
    let upd = json!({"resourceType": "Observation", "status": "amended", "code": {"text": "x"}, "subject": {"reference": "Patient/p2"}});
    let (s, b) = send(
        &t,
        Request::put("/fhir/Observation?subject=Patient/p2&code=2345-7")
            .header("host", "test")
            .header(header::CONTENT_TYPE, "application/fhir+json")
            .body(Body::from(upd.to_string()))
            .expect("req"),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(get_ok(&t, "/fhir/Observation/c").await["status"], "amended");
    // Conditional delete with a chain.
    let (s, _) = send(&t, Request::delete("/fhir/Condition?subject:Patient.gender=female").header("host", "test").body(Body::empty()).expect("req")).await;
    assert!(s.is_success());
    assert_eq!(get_ok(&t, "/fhir/Condition?_summary=count").await["total"], 0);
    // More than one match is a 412.
    let (s, _) = send(
        &t,
        Request::put("/fhir/Observation?code=2345-7")
            .header("host", "test")
            .header(header::CONTENT_TYPE, "application/fhir+json")
            .body(Body::from(upd.to_string()))
            .expect("req"),
    )
    .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
}
