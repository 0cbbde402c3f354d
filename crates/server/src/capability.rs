//! `GET /fhir/metadata`: a CapabilityStatement stating exactly what this
//! server supports, built from the same tables the handlers use.

use crate::fhir_http::{check_accept, json_response, query_pairs};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::OnceLock;

pub(crate) async fn metadata(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Result<Response, ApiError> {
    check_accept(&headers, &query_pairs(uri.query()))?;
    static BODY: OnceLock<Vec<u8>> = OnceLock::new();
    let body = BODY.get_or_init(|| serde_json::to_vec(&capability_statement(&state)).unwrap_or_default());
    Ok(json_response(StatusCode::OK, body.clone()))
}

fn search_param(code: &str, ty: &str, doc: &str) -> Value {
    json!({"name": code, "type": ty, "documentation": doc})
}

/// The CapabilityStatement.
pub(crate) fn capability_statement(_state: &AppState) -> Value {
    let sp = fhir::search_params::r4();
    let resources: Vec<Value> = fhir::definitions::r4()
        .resource_types()
        .iter()
        .map(|t| {
            let mut params = vec![
                search_param("_id", "token", "Logical id of the resource"),
                search_param("_lastUpdated", "date", "When the resource last changed (all prefixes; implicit precision ranges)"),
            ];
            if let Some(d) = sp.get(t, "identifier") {
                params.push(search_param("identifier", "token", &format!("{} (system|value, |value, value, system|)", d.description)));
            }
            let interactions: Vec<Value> =
                ["read", "vread", "update", "delete", "history-instance", "history-type", "create", "search-type"]
                    .iter()
                    .map(|c| json!({"code": c}))
                    .collect();
            json!({
                "type": t,
                "interaction": interactions,
                "versioning": "versioned-update",
                "readHistory": true,
                "updateCreate": true,
                "conditionalCreate": true,
                "conditionalRead": "not-supported",
                "conditionalUpdate": true,
                "conditionalDelete": "single",
                "referencePolicy": ["literal", "local"],
                "searchParam": params,
            })
        })
        .collect();
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-29",
        "kind": "instance",
        "software": {"name": "medtwin", "version": env!("CARGO_PKG_VERSION")},
        "implementation": {"description": "medtwin FHIR R4 server (JP Core aware)"},
        "fhirVersion": "4.0.1",
        "format": ["json", "application/fhir+json"],
        "rest": [{
            "mode": "server",
            "documentation": "Search supports _id, identifier and _lastUpdated with keyset paging (_count, default 20); \
                              other parameters are reported in an OperationOutcome entry (or rejected with Prefer: handling=strict). \
                              _total defaults to accurate.",
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "history-system"}],
        }],
    })
}
