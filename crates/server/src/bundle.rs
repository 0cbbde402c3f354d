//! `POST /fhir` with a batch or transaction Bundle.
//!
//! A transaction runs in one store transaction: entries are processed in the
//! order the spec requires (DELETE, POST, PUT, GET), `urn:uuid:` full URLs of
//! created resources are given ids first and every reference to them is
//! rewritten, conditional entries are resolved inside the transaction, and any
//! failure rolls everything back. A batch runs each entry on its own.

use crate::fhir_http::{Prefer, Return, base_url, check_accept, parse_etag, prefer, query_pairs, read_resource};
use crate::{ApiError, AppState};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use fhir::IssueCode;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use store::{Stored, StoreTx};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verb {
    Delete,
    Post,
    Put,
    Get,
}

/// One parsed entry.
#[derive(Debug, Clone)]
struct Entry {
    index: usize,
    verb: Verb,
    rtype: String,
    id: Option<String>,
    version: Option<u64>,
    query: Option<String>,
    full_url: Option<String>,
    resource: Option<Value>,
    if_match: Option<u64>,
    if_none_exist: Option<String>,
}

fn entry_error(index: usize, status: StatusCode, code: &'static str, msg: impl Into<String>) -> ApiError {
    ApiError::new(status, code, IssueCode::Invalid, msg).at(format!("Bundle.entry[{index}]"))
}

fn parse_entry(index: usize, e: &Value, is_transaction: bool) -> Result<Entry, ApiError> {
    let bad = |msg: String| entry_error(index, StatusCode::BAD_REQUEST, "bundle.invalid_entry", msg);
    let req = e.get("request").ok_or_else(|| bad("entry has no request".into()))?;
    let method = req.get("method").and_then(Value::as_str).ok_or_else(|| bad("entry.request has no method".into()))?;
    let url = req.get("url").and_then(Value::as_str).ok_or_else(|| bad("entry.request has no url".into()))?;
    let verb = match method {
        "GET" | "HEAD" => Verb::Get,
        "POST" => Verb::Post,
        "PUT" => Verb::Put,
        "DELETE" => Verb::Delete,
        "PATCH" => return Err(bad("PATCH is not supported".into())),
        other => return Err(bad(format!("unknown method '{other}'"))),
    };
    let (path, query) = match url.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (url, None),
    };
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rtype = parts.first().copied().unwrap_or("").to_string();
    if !fhir::definitions::r4().is_resource_type(&rtype) {
        return Err(bad(format!("request url '{url}' does not start with a resource type")));
    }
    let id = parts.get(1).map(|s| s.to_string());
    let version = match (parts.get(2), parts.get(3)) {
        (Some(&"_history"), Some(v)) => Some(v.parse().map_err(|_| bad(format!("bad version in '{url}'")))?),
        (None, None) => None,
        _ => return Err(bad(format!("unsupported request url '{url}'"))),
    };
    let resource = e.get("resource").cloned();
    if matches!(verb, Verb::Post | Verb::Put) {
        let r = resource.as_ref().ok_or_else(|| bad(format!("{method} entry has no resource")))?;
        match r.get("resourceType").and_then(Value::as_str) {
            Some(t) if t == rtype => {}
            Some(t) => return Err(bad(format!("entry resource is a {t} but the request url names {rtype}"))),
            None => return Err(bad("entry resource has no resourceType".into())),
        }
        let issues = fhir::validate::validate_resource(r);
        if issues.iter().any(fhir::Issue::is_error) {
            let mut err = ApiError::invalid(
                issues
                    .into_iter()
                    .map(|mut i| {
                        i.expression = Some(format!("Bundle.entry[{index}].resource.{}", i.expression.as_deref().unwrap_or("")));
                        i
                    })
                    .collect(),
            );
            err.code = "bundle.invalid_resource";
            return Err(err);
        }
    }
    if verb == Verb::Put && id.is_none() && query.is_none() {
        return Err(bad("PUT entry needs an id or search criteria in its url".into()));
    }
    if verb == Verb::Delete && id.is_none() && query.is_none() {
        return Err(bad("DELETE entry needs an id or search criteria in its url".into()));
    }
    let if_match = match req.get("ifMatch").and_then(Value::as_str) {
        Some(s) => Some(parse_etag(s).ok_or_else(|| bad(format!("bad ifMatch '{s}'")))?),
        None => None,
    };
    let _ = is_transaction;
    Ok(Entry {
        index,
        verb,
        rtype,
        id,
        version,
        query,
        full_url: e.get("fullUrl").and_then(Value::as_str).map(str::to_string),
        resource,
        if_match,
        if_none_exist: req.get("ifNoneExist").and_then(Value::as_str).map(str::to_string),
    })
}

/// Collects conditional references (`Patient?identifier=...`).
fn conditional_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, child) in o {
                if k == "reference"
                    && let Value::String(s) = child
                    && s.contains('?')
                    && !s.starts_with("urn:")
                {
                    out.push(s.clone());
                } else {
                    conditional_refs(child, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| conditional_refs(x, out)),
        _ => {}
    }
}

/// The outcome of one entry.
struct EntryResult {
    status: &'static str,
    stored: Option<Stored>,
    location: bool,
    /// For GET entries: the resource or search Bundle.
    body: Option<Value>,
}

fn find_one(tx: &mut dyn StoreTx, rtype: &str, query: &str, index: usize) -> Result<Vec<String>, ApiError> {
    let pairs: Vec<(String, String)> = query_pairs(Some(query)).into_iter().filter(|(k, _)| k != "_format").collect();
    let c = store::parse_conditions(rtype, &pairs).map_err(|e| ApiError::from(e).at(format!("Bundle.entry[{index}].request.url")))?;
    if c.is_empty() {
        return Err(entry_error(index, StatusCode::BAD_REQUEST, "bundle.no_criteria", "conditional entry has no search criteria"));
    }
    Ok(tx.find(rtype, &c, 2)?)
}

fn multiple(index: usize) -> ApiError {
    let mut e = entry_error(index, StatusCode::PRECONDITION_FAILED, "fhir.multiple_matches", "the search criteria match more than one resource");
    if let Some(i) = e.issues.first_mut() {
        i.code = IssueCode::MultipleMatches;
    }
    e
}

fn run_entry(tx: &mut dyn StoreTx, e: &Entry, assigned: &HashMap<usize, String>) -> Result<EntryResult, ApiError> {
    let at = |err: store::Error| ApiError::from(err).at(format!("Bundle.entry[{}]", e.index));
    match e.verb {
        Verb::Delete => {
            let id = match (&e.id, &e.query) {
                (Some(id), _) => Some(id.clone()),
                (None, Some(q)) => {
                    let found = find_one(tx, &e.rtype, q, e.index)?;
                    match found.len() {
                        0 => None,
                        1 => Some(found[0].clone()),
                        _ => return Err(multiple(e.index)),
                    }
                }
                (None, None) => None,
            };
            let stored = match id {
                Some(id) => tx.delete(&e.rtype, &id, e.if_match).map_err(at)?,
                None => None,
            };
            Ok(EntryResult { status: "204 No Content", stored, location: false, body: None })
        }
        Verb::Post => {
            let resource = e.resource.clone().unwrap_or(Value::Null);
            if let Some(q) = &e.if_none_exist {
                let q = q.split_once('?').map(|(_, q)| q).unwrap_or(q);
                let found = find_one(tx, &e.rtype, q, e.index)?;
                match found.len() {
                    0 => {}
                    1 => {
                        let stored = tx.read(&e.rtype, &found[0]).map_err(at)?;
                        return Ok(EntryResult { status: "200 OK", stored, location: false, body: None });
                    }
                    _ => return Err(multiple(e.index)),
                }
            }
            let stored = match assigned.get(&e.index) {
                Some(id) => {
                    let mut r = resource;
                    r["id"] = json!(id);
                    tx.put(&e.rtype, id, r, None, false).map_err(at)?.stored
                }
                None => tx.create(&e.rtype, resource).map_err(at)?,
            };
            Ok(EntryResult { status: "201 Created", stored: Some(stored), location: true, body: None })
        }
        Verb::Put => {
            let mut resource = e.resource.clone().unwrap_or(Value::Null);
            let id = match (&e.id, &e.query) {
                (Some(id), _) => {
                    match resource.get("id").and_then(Value::as_str) {
                        Some(b) if b != id => {
                            return Err(entry_error(
                                e.index,
                                StatusCode::BAD_REQUEST,
                                "fhir.id_mismatch",
                                format!("resource id '{b}' does not match the request url id '{id}'"),
                            ));
                        }
                        _ => {}
                    }
                    if !fhir::id::is_valid_id(id) {
                        return Err(entry_error(e.index, StatusCode::BAD_REQUEST, "fhir.invalid_id", format!("'{id}' is not a valid id")));
                    }
                    id.clone()
                }
                (None, Some(q)) => {
                    let found = find_one(tx, &e.rtype, q, e.index)?;
                    match found.len() {
                        0 => match resource.get("id").and_then(Value::as_str) {
                            Some(b) => b.to_string(),
                            None => {
                                let stored = tx.create(&e.rtype, resource).map_err(at)?;
                                return Ok(EntryResult { status: "201 Created", stored: Some(stored), location: true, body: None });
                            }
                        },
                        1 => found[0].clone(),
                        _ => return Err(multiple(e.index)),
                    }
                }
                (None, None) => return Err(entry_error(e.index, StatusCode::BAD_REQUEST, "bundle.invalid_entry", "PUT without id")),
            };
            resource["id"] = json!(id);
            let out = tx.put(&e.rtype, &id, resource, e.if_match, false).map_err(at)?;
            let status = if out.created { "201 Created" } else { "200 OK" };
            Ok(EntryResult { status, stored: Some(out.stored), location: out.created, body: None })
        }
        Verb::Get => {
            let Some(id) = &e.id else {
                let q = e.query.clone().unwrap_or_default();
                let pairs: Vec<(String, String)> =
                    query_pairs(Some(&q)).into_iter().filter(|(k, _)| !matches!(k.as_str(), "_format" | "_count")).collect();
                let c = store::parse_conditions(&e.rtype, &pairs).map_err(at)?;
                let ids = tx.find(&e.rtype, &c, 1000).map_err(at)?;
                let mut entries = Vec::new();
                for id in &ids {
                    if let Some(Stored { body: Some(b), .. }) = tx.read(&e.rtype, id).map_err(at)? {
                        let r: Value = serde_json::from_str(&b).map_err(|x| ApiError::internal(x.to_string()))?;
                        entries.push(json!({"resource": r, "search": {"mode": "match"}}));
                    }
                }
                let bundle = json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries});
                return Ok(EntryResult { status: "200 OK", stored: None, location: false, body: Some(bundle) });
            };
            let stored = tx.read(&e.rtype, id).map_err(at)?;
            match stored {
                None => Err(entry_error(e.index, StatusCode::NOT_FOUND, "store.not_found", format!("{}/{id} not found", e.rtype))),
                Some(s) if s.meta.deleted() => {
                    Err(entry_error(e.index, StatusCode::GONE, "store.deleted", format!("{}/{id} was deleted", e.rtype)))
                }
                Some(s) if e.version.is_some_and(|v| v != s.meta.version) => Err(entry_error(
                    e.index,
                    StatusCode::BAD_REQUEST,
                    "bundle.vread_unsupported",
                    "reading an older version inside a bundle is not supported",
                )),
                Some(s) => Ok(EntryResult { status: "200 OK", stored: Some(s), location: false, body: None }),
            }
        }
    }
}

fn response_entry(base: &str, r: &EntryResult, pref: Prefer) -> Value {
    let mut resp = json!({"status": r.status});
    let mut entry = json!({});
    if let Some(s) = &r.stored {
        let m = &s.meta;
        if r.location {
            resp["location"] = json!(format!("{}/{}/_history/{}", m.resource_type, m.id, m.version));
        }
        resp["etag"] = json!(m.etag());
        resp["lastModified"] = json!(m.last_updated.to_fhir());
        if let Some(b) = &s.body
            && (pref.ret == Return::Representation || r.status == "200 OK" && r.body.is_none() && !r.location)
        {
            entry["fullUrl"] = json!(format!("{base}/{}/{}", m.resource_type, m.id));
            entry["resource"] = serde_json::from_str(b).unwrap_or(Value::Null);
        }
    }
    if let Some(b) = &r.body {
        entry["resource"] = b.clone();
    }
    entry["response"] = resp;
    entry
}

fn error_entry(err: &ApiError) -> Value {
    json!({"response": {"status": format!("{} {}", err.status.as_u16(), err.status.canonical_reason().unwrap_or("")), "outcome": err.outcome()}})
}

pub(crate) async fn post_bundle(State(state): State<AppState>, headers: HeaderMap, uri: Uri, body: Body) -> Result<Response, ApiError> {
    check_accept(&headers, &query_pairs(uri.query()))?;
    let pref = prefer(&headers);
    let bundle = read_resource(&state, &headers, body).await?;
    if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
        return Err(ApiError::bad_request("bundle.not_a_bundle", "POST to the base URL takes a batch or transaction Bundle").at("resourceType"));
    }
    let kind = bundle.get("type").and_then(Value::as_str).unwrap_or("");
    let is_transaction = match kind {
        "transaction" => true,
        "batch" => false,
        other => {
            return Err(ApiError::bad_request("bundle.bad_type", format!("Bundle.type must be 'batch' or 'transaction', got '{other}'"))
                .at("Bundle.type"));
        }
    };
    let raw_entries: Vec<Value> = match bundle.get("entry") {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(_) => return Err(ApiError::bad_request("bundle.bad_entry", "Bundle.entry must be an array").at("Bundle.entry")),
    };
    let base = base_url(&state, &headers);
    let started = std::time::Instant::now();
    let response_bundle = if is_transaction {
        let mut entries = Vec::with_capacity(raw_entries.len());
        for (i, e) in raw_entries.iter().enumerate() {
            entries.push(parse_entry(i, e, true)?);
        }
        transaction(&state, entries, &base, pref).await?
    } else {
        batch(&state, raw_entries, &base, pref).await?
    };
    tracing::debug!(entries = response_bundle["entry"].as_array().map(Vec::len).unwrap_or(0), micros = started.elapsed().as_micros() as u64, "bundle");
    Ok(crate::fhir_http::json_response(StatusCode::OK, serde_json::to_vec(&response_bundle).map_err(|e| ApiError::internal(e.to_string()))?))
}

async fn transaction(state: &AppState, mut entries: Vec<Entry>, base: &str, pref: Prefer) -> Result<Value, ApiError> {
    // Two entries may not act on the same resource.
    let mut seen = HashSet::new();
    for e in &entries {
        if let (Some(id), Verb::Put | Verb::Delete) = (&e.id, e.verb)
            && !seen.insert((e.rtype.clone(), id.clone()))
        {
            return Err(entry_error(e.index, StatusCode::BAD_REQUEST, "bundle.duplicate", format!("{}/{id} appears in more than one entry", e.rtype)));
        }
    }
    let mut full_urls = HashSet::new();
    for e in &entries {
        if let Some(f) = &e.full_url
            && !full_urls.insert(f.clone())
        {
            return Err(entry_error(e.index, StatusCode::BAD_REQUEST, "bundle.duplicate_full_url", format!("fullUrl {f} appears twice")));
        }
    }
    let n = entries.len();
    let base_owned = base.to_string();
    let state2 = state.clone();
    let results = state2
        .blocking(move |s| {
            let mut results: Vec<Option<EntryResult>> = (0..n).map(|_| None).collect();
            let mut failure: Option<ApiError> = None;
            let r = s.transact(&mut |tx| {
                // Give created resources their ids first, so that references to their
                // urn:uuid full URLs can be rewritten before anything is written.
                let mut map: HashMap<String, String> = HashMap::new();
                let mut assigned: HashMap<usize, String> = HashMap::new();
                for e in &entries {
                    let Some(f) = &e.full_url else { continue };
                    match e.verb {
                        Verb::Post => {
                            let id = match &e.if_none_exist {
                                Some(q) => {
                                    let q = q.split_once('?').map(|(_, q)| q).unwrap_or(q);
                                    match find_one(tx, &e.rtype, q, e.index) {
                                        Ok(found) if found.len() == 1 => found[0].clone(),
                                        Ok(found) if found.len() > 1 => {
                                            failure = Some(multiple(e.index));
                                            return Err(store::Error::Aborted("entry failed".into()));
                                        }
                                        Ok(_) => new_id(&mut assigned, e.index),
                                        Err(err) => {
                                            failure = Some(err);
                                            return Err(store::Error::Aborted("entry failed".into()));
                                        }
                                    }
                                }
                                None => new_id(&mut assigned, e.index),
                            };
                            map.insert(f.clone(), format!("{}/{id}", e.rtype));
                        }
                        Verb::Put => {
                            if let Some(id) = &e.id {
                                map.insert(f.clone(), format!("{}/{id}", e.rtype));
                            }
                        }
                        _ => {}
                    }
                }
                for e in entries.iter_mut() {
                    if let Some(r) = e.resource.as_mut() {
                        fhir::references::rewrite(r, &map);
                        // Conditional references are resolved to exactly one resource.
                        let mut conds = Vec::new();
                        conditional_refs(r, &mut conds);
                        let mut cmap = HashMap::new();
                        for c in conds {
                            let (t, q) = c.split_once('?').unwrap_or((&c, ""));
                            let found = match find_one(tx, t, q, e.index) {
                                Ok(f) => f,
                                Err(err) => {
                                    failure = Some(err);
                                    return Err(store::Error::Aborted("entry failed".into()));
                                }
                            };
                            if found.len() != 1 {
                                failure = Some(entry_error(
                                    e.index,
                                    StatusCode::PRECONDITION_FAILED,
                                    "bundle.conditional_reference",
                                    format!("conditional reference '{c}' matches {} resources (exactly one is required)", found.len()),
                                ));
                                return Err(store::Error::Aborted("entry failed".into()));
                            }
                            cmap.insert(c.clone(), format!("{t}/{}", found[0]));
                        }
                        if !cmap.is_empty() {
                            fhir::references::rewrite(r, &cmap);
                        }
                    }
                }
                let mut order: Vec<usize> = (0..entries.len()).collect();
                order.sort_by_key(|&i| (entries[i].verb, i));
                for i in order {
                    match run_entry(tx, &entries[i], &assigned) {
                        Ok(r) => results[i] = Some(r),
                        Err(err) => {
                            failure = Some(err);
                            return Err(store::Error::Aborted("entry failed".into()));
                        }
                    }
                }
                Ok(())
            });
            match (r, failure) {
                (_, Some(f)) => Err(f),
                (Err(e), None) => Err(e.into()),
                (Ok(()), None) => Ok(results),
            }
        })
        .await?;
    let entries: Vec<Value> = results.iter().flatten().map(|r| response_entry(&base_owned, r, pref)).collect();
    Ok(json!({"resourceType": "Bundle", "type": "transaction-response", "entry": entries}))
}

fn new_id(assigned: &mut HashMap<usize, String>, index: usize) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    assigned.insert(index, id.clone());
    id
}

async fn batch(state: &AppState, raw: Vec<Value>, base: &str, pref: Prefer) -> Result<Value, ApiError> {
    let base_owned = base.to_string();
    let entries = state
        .blocking(move |s| {
            let mut out = Vec::with_capacity(raw.len());
            for (i, e) in raw.iter().enumerate() {
                let parsed = match parse_entry(i, e, false) {
                    Ok(p) => p,
                    Err(err) => {
                        out.push(error_entry(&err));
                        continue;
                    }
                };
                let mut result = None;
                let mut failure = None;
                let r = s.transact(&mut |tx| match run_entry(tx, &parsed, &HashMap::new()) {
                    Ok(r) => {
                        result = Some(r);
                        Ok(())
                    }
                    Err(err) => {
                        failure = Some(err);
                        Err(store::Error::Aborted("entry failed".into()))
                    }
                });
                match (r, failure, result) {
                    (_, Some(f), _) => out.push(error_entry(&f)),
                    (Err(e), None, _) => out.push(error_entry(&ApiError::from(e))),
                    (Ok(()), None, Some(res)) => out.push(response_entry(&base_owned, &res, pref)),
                    (Ok(()), None, None) => out.push(error_entry(&ApiError::internal("entry produced no result"))),
                }
            }
            Ok(out)
        })
        .await?;
    Ok(json!({"resourceType": "Bundle", "type": "batch-response", "entry": entries}))
}
