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

/// What search supports, stated once for the whole server.
const SEARCH_DOC: &str = "Search: every R4 search parameter of every resource type (string, token, date, number, quantity, \
reference, uri, composite) with the modifiers :exact, :contains, :missing, :not, :text, :of-type, :identifier, \
:[type], :below, :above; prefixes eq ne gt lt ge le sa eb ap; chaining (multi-level, with :[type]) and _has (nestable); \
_sort (several keys, - for descending), _count (default 20), _include/_revinclude (with :iterate and *), \
_summary (true, text, data, count, false), _elements. Paging uses keyset cursors (next/previous/self links). \
_total defaults to accurate on the first page and none on later pages (ask _total=accurate to count every page); \
estimate is computed exactly. Unknown parameters are reported in an OperationOutcome entry (search mode outcome), \
or rejected with 400 under Prefer: handling=strict. Search by GET and POST _search at type, system (_type) and \
Patient compartment level, and Patient/[id]/$everything.";

/// The CapabilityStatement.
pub(crate) fn capability_statement(_state: &AppState) -> Value {
    let cat = store::index::catalog();
    let resources: Vec<Value> = fhir::definitions::r4()
        .resource_types()
        .iter()
        .map(|t| {
            let mut params = Vec::new();
            for p in cat.for_type(t) {
                if !p.supported() {
                    continue;
                }
                let doc = match p.code.as_str() {
                    "_id" => "Logical id of the resource".to_string(),
                    "_lastUpdated" => "When the resource last changed (all prefixes; implicit precision ranges)".to_string(),
                    _ => p.def.description.clone(),
                };
                params.push(json!({
                    "name": p.code,
                    "definition": p.def.url,
                    "type": p.kind.as_str(),
                    "documentation": doc,
                }));
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
                "searchInclude": ["*"],
                "searchRevInclude": ["*"],
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
            "documentation": SEARCH_DOC,
            "resource": resources,
            "interaction": [{"code": "transaction"}, {"code": "batch"}, {"code": "search-system"}, {"code": "history-system"}],
            "operation": std::iter::once(json!({"name": "everything", "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}))
                .chain(crate::operations::capability_operations())
                .collect::<Vec<Value>>(),
        }],
    })
}
