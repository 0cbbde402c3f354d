//! The history interactions at instance, type and system level, with `_count`,
//! `_since` and keyset paging (`_cursor` is the sequence number of the last
//! entry of the previous page).

use crate::bundle_json::{BundleWriter, EntryResource};
use crate::fhir_http::{base_url, check_accept, check_type, json_response, query_pairs};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::json;
use store::{HistoryQuery, Instant};

pub(crate) async fn system_history(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Result<Response, ApiError> {
    history(state, headers, uri, None, None).await
}

pub(crate) async fn type_history(
    State(state): State<AppState>,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    check_type(&rtype)?;
    history(state, headers, uri, Some(rtype), None).await
}

pub(crate) async fn instance_history(
    State(state): State<AppState>,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    check_type(&rtype)?;
    history(state, headers, uri, Some(rtype), Some(id)).await
}

async fn history(
    state: AppState,
    headers: HeaderMap,
    uri: Uri,
    rtype: Option<String>,
    id: Option<String>,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(uri.query());
    check_accept(&headers, &pairs)?;
    let mut q = HistoryQuery { resource_type: rtype.clone(), id: id.clone(), count: state.config.default_count, ..Default::default() };
    for (k, v) in &pairs {
        match k.as_str() {
            "_count" => {
                q.count = v
                    .parse::<usize>()
                    .map_err(|_| ApiError::bad_request("history.invalid_count", format!("_count must be a whole number, got '{v}'")).at("_count"))?
                    .clamp(1, state.config.max_count);
            }
            "_since" => {
                if !fhir::validate::is_instant(v) {
                    return Err(ApiError::bad_request(
                        "history.invalid_since",
                        format!("_since must be an instant with a time zone such as 2024-01-01T00:00:00Z, got '{v}'"),
                    )
                    .at("_since"));
                }
                q.since = Instant::parse(v);
            }
            "_cursor" => {
                q.before_seq = Some(v.parse().map_err(|_| ApiError::bad_request("history.invalid_cursor", format!("bad _cursor '{v}'")))?);
            }
            "_format" | "_pretty" => {}
            "_at" | "_list" | "_sort" => {
                return Err(ApiError::bad_request("history.unsupported", format!("history parameter {k} is not supported")).at(k.clone()));
            }
            other => {
                return Err(ApiError::bad_request("history.unknown_parameter", format!("unknown history parameter '{other}'")).at(other.to_string()));
            }
        }
    }
    let q2 = q.clone();
    let page = state.blocking(move |s| Ok(s.history(&q2)?)).await?;
    let base = base_url(&state, &headers);
    let path = match (&rtype, &id) {
        (Some(t), Some(i)) => format!("{base}/{t}/{i}/_history"),
        (Some(t), None) => format!("{base}/{t}/_history"),
        _ => format!("{base}/_history"),
    };
    let link = |cursor: Option<i64>| -> String {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        ser.append_pair("_count", &q.count.to_string());
        if let Some((_, since)) = pairs.iter().find(|(k, _)| k == "_since") {
            ser.append_pair("_since", since);
        }
        if let Some(c) = cursor {
            ser.append_pair("_cursor", &c.to_string());
        }
        format!("{path}?{}", ser.finish())
    };
    let mut links = vec![("self", link(q.before_seq))];
    if let Some(n) = page.next_before_seq {
        links.push(("next", link(Some(n))));
    }
    let bytes: usize = page.entries.iter().map(|e| e.body.as_ref().map_or(0, |b| b.len() + 300)).sum();
    let mut out = BundleWriter::new("history", Some(page.total), &links, bytes + 1024);
    for e in &page.entries {
        let m = &e.meta;
        let (url, status) = match m.method {
            store::Method::Create => (m.resource_type.clone(), "201 Created"),
            store::Method::Update => (format!("{}/{}", m.resource_type, m.id), "200 OK"),
            store::Method::Delete => (format!("{}/{}", m.resource_type, m.id), "204 No Content"),
        };
        out.entry(
            Some(&format!("{base}/{}/{}", m.resource_type, m.id)),
            e.body.as_deref().map(EntryResource::Text),
            &[
                ("request", json!({"method": m.method.http_verb(), "url": url})),
                ("response", json!({"status": status, "etag": m.etag(), "lastModified": m.last_updated.to_fhir()})),
            ],
        );
    }
    Ok(json_response(StatusCode::OK, out.finish()))
}
