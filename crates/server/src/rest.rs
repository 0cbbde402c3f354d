//! The instance and type interactions: create, read, vread, update, delete,
//! and their conditional forms (whose criteria may use every search parameter;
//! search itself is in `search.rs`).

use crate::fhir_http::{
    Return, base_url, check_accept, check_type, if_match, json_response, prefer, query_pairs, read_resource, validate,
    version_headers, write_response,
};
use crate::{ApiError, AppState};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use fhir::IssueCode;
use serde_json::{Value, json};
use store::{Condition, Stored};


fn gone(stored: &Stored) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::GONE,
        "store.deleted",
        IssueCode::Deleted,
        format!("{}/{} was deleted (version {})", stored.meta.resource_type, stored.meta.id, stored.meta.version),
    );
    e.internal = None;
    e
}

pub(crate) async fn read(
    State(state): State<AppState>,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    check_accept(&headers, &query_pairs(uri.query()))?;
    check_type(&rtype)?;
    let (t, i) = (rtype.clone(), id.clone());
    let stored = state.blocking(move |s| Ok(s.read(&t, &i)?)).await?;
    let Some(stored) = stored else { return Err(ApiError::not_found(format!("{rtype}/{id} not found"))) };
    let Some(body) = &stored.body else {
        let mut res = axum::response::IntoResponse::into_response(gone(&stored));
        version_headers(&mut res, &stored.meta);
        return Ok(res);
    };
    // If-None-Match: answer 304 when the client has the current version.
    if let Some(v) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok())
        && crate::fhir_http::parse_etag(v) == Some(stored.meta.version)
    {
        let mut res = axum::response::IntoResponse::into_response(StatusCode::NOT_MODIFIED);
        version_headers(&mut res, &stored.meta);
        return Ok(res);
    }
    let mut res = json_response(StatusCode::OK, body.as_bytes().to_vec());
    version_headers(&mut res, &stored.meta);
    Ok(res)
}

pub(crate) async fn vread(
    State(state): State<AppState>,
    Path((rtype, id, vid)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    check_accept(&headers, &query_pairs(uri.query()))?;
    check_type(&rtype)?;
    let version: u64 = vid
        .parse()
        .map_err(|_| ApiError::bad_request("http.bad_version", format!("version '{vid}' is not a whole number")))?;
    let (t, i) = (rtype.clone(), id.clone());
    let stored = state.blocking(move |s| Ok(s.vread(&t, &i, version)?)).await?;
    let Some(stored) = stored else {
        return Err(ApiError::not_found(format!("{rtype}/{id} has no version {version}")));
    };
    let Some(body) = &stored.body else {
        let mut res = axum::response::IntoResponse::into_response(gone(&stored));
        version_headers(&mut res, &stored.meta);
        return Ok(res);
    };
    let mut res = json_response(StatusCode::OK, body.as_bytes().to_vec());
    version_headers(&mut res, &stored.meta);
    Ok(res)
}

fn check_body_type(resource: &Value, rtype: &str) -> Result<(), ApiError> {
    match resource.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == rtype => Ok(()),
        Some(t) => Err(ApiError::bad_request(
            "fhir.type_mismatch",
            format!("the body is a {t} but the URL names {rtype}"),
        )
        .at("resourceType")),
        None => Err(ApiError::new(StatusCode::BAD_REQUEST, "fhir.no_resource_type", IssueCode::Required, "missing resourceType")
            .at("resourceType")),
    }
}

/// The conditions of a conditional interaction's query (400 on anything the
/// store cannot evaluate: a conditional write must never match more than asked).
fn conditions(rtype: &str, pairs: &[(String, String)]) -> Result<Vec<Condition>, ApiError> {
    let params: Vec<(String, String)> = pairs.iter().filter(|(k, _)| k != "_format" && k != "_pretty").cloned().collect();
    Ok(store::parse_conditions(rtype, &params)?)
}

/// The checks every conditional update and delete starts with: JSON accepted,
/// a known type, and search criteria the store can evaluate (405 without any).
fn conditional_criteria(rtype: &str, headers: &HeaderMap, uri: &Uri, verb: &str, what: &str) -> Result<Vec<Condition>, ApiError> {
    let pairs = query_pairs(uri.query());
    check_accept(headers, &pairs)?;
    check_type(rtype)?;
    let cond = conditions(rtype, &pairs)?;
    if cond.is_empty() {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "http.method_not_allowed",
            IssueCode::NotSupported,
            format!("{verb} {rtype} needs search criteria ({what}) or an id ({verb} {rtype}/[id])"),
        ));
    }
    Ok(cond)
}

pub(crate) async fn create(
    State(state): State<AppState>,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    check_accept(&headers, &query_pairs(uri.query()))?;
    check_type(&rtype)?;
    let pref = prefer(&headers);
    let mut resource = read_resource(&state, &headers, body).await?;
    check_body_type(&resource, &rtype)?;
    // A client-supplied id is ignored on create (the server assigns one).
    if let Some(o) = resource.as_object_mut() {
        o.remove("id");
    }
    validate(&resource)?;
    let if_none_exist = match headers.get("if-none-exist") {
        Some(v) => {
            let q = v.to_str().map_err(|_| ApiError::bad_request("http.bad_header", "If-None-Exist is not valid text"))?;
            let q = q.split_once('?').map(|(_, q)| q).unwrap_or(q);
            let c = conditions(&rtype, &query_pairs(Some(q)))?;
            if c.is_empty() {
                return Err(ApiError::bad_request("http.bad_header", "If-None-Exist has no search criteria"));
            }
            Some(c)
        }
        None => None,
    };
    let base = base_url(&state, &headers);
    let t = rtype.clone();
    let (stored, created) = state
        .blocking(move |s| {
            let mut out = None;
            s.transact(&mut |tx| {
                if let Some(c) = &if_none_exist {
                    let found = tx.find(&t, c, 2)?;
                    match found.len() {
                        0 => {}
                        1 => {
                            out = Some((tx.read(&t, &found[0])?, false));
                            return Ok(());
                        }
                        _ => return Err(store::Error::Aborted("multiple".into())),
                    }
                }
                out = Some((Some(tx.create(&t, resource.clone())?), true));
                Ok(())
            })
            .map_err(|e| match e {
                store::Error::Aborted(_) => ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "fhir.multiple_matches",
                    IssueCode::MultipleMatches,
                    "If-None-Exist matches more than one resource",
                ),
                other => other.into(),
            })?;
            let (stored, created) = out.ok_or_else(|| ApiError::internal("transaction produced no result"))?;
            Ok((stored.ok_or_else(|| ApiError::internal("matched resource vanished"))?, created))
        })
        .await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(write_response(status, &stored, &base, pref.ret, created))
}

pub(crate) async fn update(
    State(state): State<AppState>,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    check_accept(&headers, &query_pairs(uri.query()))?;
    check_type(&rtype)?;
    if !fhir::id::is_valid_id(&id) {
        return Err(ApiError::bad_request("fhir.invalid_id", format!("'{id}' is not a valid FHIR id")));
    }
    let pref = prefer(&headers);
    let expected = if_match(&headers)?;
    let resource = read_resource(&state, &headers, body).await?;
    check_body_type(&resource, &rtype)?;
    match resource.get("id").and_then(Value::as_str) {
        Some(bid) if bid == id => {}
        Some(bid) => {
            return Err(ApiError::bad_request("fhir.id_mismatch", format!("the body has id '{bid}' but the URL has '{id}'")).at("id"));
        }
        None => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "fhir.missing_id",
                IssueCode::Required,
                format!("an update must carry the id from the URL ('{id}') in the body"),
            )
            .at("id"));
        }
    }
    validate(&resource)?;
    let base = base_url(&state, &headers);
    let t = rtype.clone();
    let outcome = state
        .blocking(move |s| {
            let mut out = None;
            s.transact(&mut |tx| {
                out = Some(tx.put(&t, &id, resource.clone(), expected, false)?);
                Ok(())
            })?;
            out.ok_or_else(|| ApiError::internal("transaction produced no result"))
        })
        .await?;
    let status = if outcome.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(write_response(status, &outcome.stored, &base, pref.ret, outcome.created))
}

pub(crate) async fn conditional_update(
    State(state): State<AppState>,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let cond = conditional_criteria(&rtype, &headers, &uri, "PUT", "conditional update")?;
    let pref = prefer(&headers);
    let expected = if_match(&headers)?;
    let resource = read_resource(&state, &headers, body).await?;
    check_body_type(&resource, &rtype)?;
    validate(&resource)?;
    let body_id = resource.get("id").and_then(Value::as_str).map(str::to_string);
    let base = base_url(&state, &headers);
    let t = rtype.clone();
    let outcome = state
        .blocking(move |s| {
            let mut out: Option<Result<store::PutOutcome, ApiError>> = None;
            s.transact(&mut |tx| {
                let found = tx.find(&t, &cond, 2)?;
                let id = match (found.len(), &body_id) {
                    (0, Some(b)) => {
                        // No match: create with the body's id, unless that id exists (it did not match).
                        if tx.read(&t, b)?.is_some_and(|r| !r.meta.deleted()) {
                            out = Some(Err(ApiError::bad_request(
                                "fhir.id_mismatch",
                                format!("{t}/{b} exists but does not match the search criteria"),
                            )));
                            return Ok(());
                        }
                        b.clone()
                    }
                    (0, None) => {
                        let created = tx.create(&t, resource.clone())?;
                        out = Some(Ok(store::PutOutcome { stored: created, created: true, unchanged: false }));
                        return Ok(());
                    }
                    (1, Some(b)) if *b != found[0] => {
                        out = Some(Err(ApiError::bad_request(
                            "fhir.id_mismatch",
                            format!("the body has id '{b}' but the criteria match {t}/{}", found[0]),
                        )));
                        return Ok(());
                    }
                    (1, _) => found[0].clone(),
                    _ => {
                        out = Some(Err(ApiError::new(
                            StatusCode::PRECONDITION_FAILED,
                            "fhir.multiple_matches",
                            IssueCode::MultipleMatches,
                            "the search criteria match more than one resource",
                        )));
                        return Ok(());
                    }
                };
                let mut r = resource.clone();
                r["id"] = json!(id);
                out = Some(Ok(tx.put(&t, &id, r, expected, false)?));
                Ok(())
            })?;
            out.ok_or_else(|| ApiError::internal("transaction produced no result"))?
        })
        .await?;
    let status = if outcome.created { StatusCode::CREATED } else { StatusCode::OK };
    Ok(write_response(status, &outcome.stored, &base, pref.ret, outcome.created))
}

fn delete_response(stored: Option<Stored>, ret: Return, what: String) -> Response {
    let mut res = match ret {
        Return::OperationOutcome | Return::Representation => {
            let msg = if stored.is_some() { format!("deleted {what}") } else { format!("{what}: nothing to delete") };
            json_response(StatusCode::OK, serde_json::to_vec(&crate::error::info_outcome(msg)).unwrap_or_default())
        }
        Return::Minimal => axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT),
    };
    if let Some(s) = &stored {
        version_headers(&mut res, &s.meta);
    }
    res
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    Path((rtype, id)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    check_accept(&headers, &query_pairs(uri.query()))?;
    check_type(&rtype)?;
    let pref = prefer(&headers);
    let expected = if_match(&headers)?;
    let (t, i) = (rtype.clone(), id.clone());
    let stored = state
        .blocking(move |s| {
            let mut out = None;
            s.transact(&mut |tx| {
                out = tx.delete(&t, &i, expected)?;
                Ok(())
            })?;
            Ok(out)
        })
        .await?;
    // Plain DELETE answers 204 unless the client asked for an OperationOutcome.
    let ret = if pref.ret == Return::OperationOutcome { Return::OperationOutcome } else { Return::Minimal };
    Ok(delete_response(stored, ret, format!("{rtype}/{id}")))
}

pub(crate) async fn conditional_delete(
    State(state): State<AppState>,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let cond = conditional_criteria(&rtype, &headers, &uri, "DELETE", "conditional delete")?;
    let pref = prefer(&headers);
    let t = rtype.clone();
    let stored = state
        .blocking(move |s| {
            let mut out: Option<Result<Option<Stored>, ApiError>> = None;
            s.transact(&mut |tx| {
                let found = tx.find(&t, &cond, 2)?;
                out = Some(match found.len() {
                    0 => Ok(None),
                    1 => Ok(tx.delete(&t, &found[0], None)?),
                    _ => Err(ApiError::new(
                        StatusCode::PRECONDITION_FAILED,
                        "fhir.multiple_matches",
                        IssueCode::MultipleMatches,
                        "the search criteria match more than one resource",
                    )),
                });
                Ok(())
            })?;
            out.ok_or_else(|| ApiError::internal("transaction produced no result"))?
        })
        .await?;
    let ret = if pref.ret == Return::OperationOutcome { Return::OperationOutcome } else { Return::Minimal };
    Ok(delete_response(stored, ret, format!("{rtype}?{}", uri.query().unwrap_or(""))))
}

pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("no such endpoint: {}", uri.path()))
}

pub(crate) async fn method_not_allowed(method: axum::http::Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "http.method_not_allowed",
        IssueCode::NotSupported,
        format!("{method} is not allowed on {}", uri.path()),
    )
}
