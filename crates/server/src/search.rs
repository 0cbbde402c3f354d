//! FHIR search over HTTP: type, system (`_type`) and patient-compartment
//! search by GET and POST `_search`, `Patient/[id]/$everything`, result
//! parameters (`_count`, `_sort`, `_total`, `_summary`, `_elements`,
//! `_include`, `_revinclude`), keyset paging links, and the lenient/strict
//! handling of parameters the server does not support.

use crate::bundle_json::{BundleWriter, EntryResource};
use crate::fhir_http::{base_url, check_accept, check_type, json_response, prefer, query_pairs};
use crate::{ApiError, AppState};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::Response;
use fhir::{Issue, IssueCode};
use serde_json::{Map, Value, json};
use store::{Condition, SearchQuery, TotalMode};

/// Parameters that are accepted and have no effect on the result set.
const NO_EFFECT: &[&str] = &["_format", "_pretty"];
/// Result parameters this server does not implement (reported as ignored).
const UNSUPPORTED_RESULT: &[&str] = &["_contained", "_containedType", "_score", "_graph", "_list", "_text", "_content", "_query", "_filter"];

/// Where a search runs.
#[derive(Debug, Clone)]
enum Scope {
    /// `GET [base]/Type`.
    Type(String),
    /// `GET [base]?_type=...` (all types without `_type`).
    System,
    /// `GET [base]/Patient/[id]/Type`.
    Compartment { id: String, rtype: String },
}

/// Summary modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Summary {
    False,
    True,
    Text,
    Data,
    Count,
}

pub(crate) async fn search_type(
    State(state): State<AppState>,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let pairs = query_pairs(uri.query());
    search(state, Scope::Type(rtype), headers, pairs).await
}

async fn form_pairs(state: &AppState, headers: &HeaderMap, uri: &Uri, body: Body) -> Result<Vec<(String, String)>, ApiError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "http.unsupported_media_type",
            IssueCode::NotSupported,
            "POST _search takes application/x-www-form-urlencoded parameters",
        ));
    }
    let bytes = axum::body::to_bytes(body, state.config.max_body_bytes)
        .await
        .map_err(|_| ApiError::bad_request("http.payload_too_large", "the search form is too large"))?;
    let mut pairs = query_pairs(uri.query());
    pairs.extend(form_urlencoded::parse(&bytes).into_owned());
    Ok(pairs)
}

pub(crate) async fn search_type_post(
    State(state): State<AppState>,
    Path(rtype): Path<String>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let pairs = form_pairs(&state, &headers, &uri, body).await?;
    search(state, Scope::Type(rtype), headers, pairs).await
}

pub(crate) async fn system_search(State(state): State<AppState>, headers: HeaderMap, uri: Uri) -> Result<Response, ApiError> {
    let pairs = query_pairs(uri.query());
    search(state, Scope::System, headers, pairs).await
}

pub(crate) async fn system_search_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let pairs = form_pairs(&state, &headers, &uri, body).await?;
    search(state, Scope::System, headers, pairs).await
}

/// `GET [base]/Patient/[id]/[type]` and `GET [base]/Patient/[id]/$everything`.
pub(crate) async fn compartment(
    State(state): State<AppState>,
    Path((ctype, id, rtype)): Path<(String, String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    check_type(&ctype)?;
    if ctype != "Patient" {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "search.compartment_not_supported",
            IssueCode::NotSupported,
            format!("only the Patient compartment is supported, not {ctype}"),
        ));
    }
    let pairs = query_pairs(uri.query());
    if rtype == "$everything" {
        return everything(state, id, headers, pairs).await;
    }
    search(state, Scope::Compartment { id, rtype }, headers, pairs).await
}

fn invalid(name: &str, msg: String) -> ApiError {
    ApiError::bad_request("search.invalid_value", msg).at(name.to_string())
}

/// Strips this server's base URL from reference values so that
/// `subject=http://host/fhir/Patient/1` matches `Patient/1`.
fn strip_base(value: &str, base: &str) -> String {
    let prefix = format!("{base}/");
    value.split(',').map(|v| v.strip_prefix(&prefix).unwrap_or(v)).collect::<Vec<_>>().join(",")
}

struct Parsed {
    query: SearchQuery,
    summary: Summary,
    elements: Option<Vec<String>>,
    ignored: Vec<String>,
    /// The parameters kept for `self`/`next` links (without `_cursor`).
    link_params: Vec<(String, String)>,
    explicit_total: bool,
}

fn parse(state: &AppState, scope: &Scope, pairs: &[(String, String)], base: &str) -> Result<Parsed, ApiError> {
    let mut q = SearchQuery { count: state.config.default_count, ..Default::default() };
    let mut summary = Summary::False;
    let mut elements = None;
    let mut ignored = Vec::new();
    let mut explicit_total = false;
    let mut link_params = Vec::new();
    let mut cond_params: Vec<(String, String)> = Vec::new();
    let mut sort_value: Option<String> = None;
    let mut type_list: Option<Vec<String>> = None;
    for (k, v) in pairs {
        let base_name = k.split(':').next().unwrap_or(k);
        let keep = match base_name {
            "_count" => {
                q.count = v
                    .parse::<usize>()
                    .map_err(|_| invalid("_count", format!("_count must be a whole number, got '{v}'")))?
                    .min(state.config.max_count);
                true
            }
            "_cursor" => {
                q.cursor = Some(v.clone());
                false
            }
            "_total" => {
                q.total = match v.as_str() {
                    "none" => TotalMode::None,
                    "estimate" => TotalMode::Estimate,
                    "accurate" => TotalMode::Accurate,
                    _ => return Err(invalid("_total", format!("_total must be none, estimate or accurate, got '{v}'"))),
                };
                explicit_total = true;
                true
            }
            "_summary" => {
                summary = match v.as_str() {
                    "true" => Summary::True,
                    "text" => Summary::Text,
                    "data" => Summary::Data,
                    "count" => Summary::Count,
                    "false" => Summary::False,
                    _ => return Err(invalid("_summary", format!("_summary must be true, text, data, count or false, got '{v}'"))),
                };
                true
            }
            "_elements" => {
                elements = Some(v.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect());
                true
            }
            "_sort" => {
                sort_value = Some(v.clone());
                true
            }
            "_include" => {
                q.include.push(store::search::parse_include(k, v)?);
                true
            }
            "_revinclude" => {
                q.revinclude.push(store::search::parse_include(k, v)?);
                true
            }
            "_type" if matches!(scope, Scope::System) => {
                let ts: Vec<String> = v.split(',').map(str::to_string).collect();
                for t in &ts {
                    if !fhir::definitions::r4().is_resource_type(t) {
                        return Err(invalid("_type", format!("unknown resource type '{t}' in _type")));
                    }
                }
                type_list = Some(ts);
                true
            }
            n if NO_EFFECT.contains(&n) => true,
            n if UNSUPPORTED_RESULT.contains(&n) => {
                ignored.push(format!("{k}={v}"));
                false
            }
            _ => {
                cond_params.push((k.clone(), v.clone()));
                true
            }
        };
        if keep {
            link_params.push((k.clone(), v.clone()));
        }
    }
    if summary == Summary::Count {
        q.count = 0;
        q.total = TotalMode::Accurate;
        explicit_total = true;
    }
    // The types searched and a compartment condition per type.
    let (types, compartment): (Vec<String>, Option<String>) = match scope {
        Scope::Type(t) => (vec![t.clone()], None),
        Scope::Compartment { id, rtype } => {
            check_type(rtype)?;
            if fhir::search_params::r4().patient_compartment(rtype).is_empty() && rtype != "Patient" {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "search.not_in_compartment",
                    IssueCode::NotSupported,
                    format!("{rtype} is not in the Patient compartment"),
                ));
            }
            (vec![rtype.clone()], Some(id.clone()))
        }
        Scope::System => (type_list.unwrap_or_else(|| fhir::definitions::r4().resource_types().to_vec()), None),
    };
    let mut per_type: Vec<Vec<Condition>> = vec![Vec::new(); types.len()];
    for (k, v) in &cond_params {
        let value = strip_base(v, base);
        let mut parsed: Vec<Option<Condition>> = Vec::with_capacity(types.len());
        for t in &types {
            match store::search::parse_condition(t, k, &value) {
                Ok(c) => parsed.push(Some(c)),
                Err(store::Error::UnsupportedParameter { .. }) => parsed.push(None),
                Err(e) => return Err(e.into()),
            }
        }
        if parsed.iter().all(Option::is_none) {
            ignored.push(format!("{k}={v}"));
            link_params.retain(|(lk, lv)| !(lk == k && lv == v));
            continue;
        }
        for (i, c) in parsed.into_iter().enumerate() {
            // In a system search, a type that lacks the parameter matches nothing.
            let c = c.unwrap_or_else(|| Condition {
                resource_type: types[i].clone(),
                name: k.clone(),
                test: store::search::Test::Id(Vec::new()),
            });
            per_type[i].push(c);
        }
    }
    if let Some(id) = compartment {
        let c = store::search::patient_compartment(&types[0], &id).ok_or_else(|| {
            ApiError::bad_request("search.not_in_compartment", format!("{} is not in the Patient compartment", types[0]))
        })?;
        per_type[0].push(c);
    }
    if let Some(s) = sort_value {
        if types.len() != 1 {
            return Err(invalid("_sort", "_sort is supported for searches of one type".into()));
        }
        q.sort = store::search::parse_sort(&types[0], &s)?;
    }
    // Without an explicit `_total`, the first page counts and later pages do not.
    if !explicit_total && q.cursor.is_some() {
        q.total = TotalMode::None;
    }
    q.resource_types = types;
    q.conditions = per_type;
    Ok(Parsed { query: q, summary, elements, ignored, link_params, explicit_total })
}

async fn search(state: AppState, scope: Scope, headers: HeaderMap, pairs: Vec<(String, String)>) -> Result<Response, ApiError> {
    check_accept(&headers, &pairs)?;
    if let Scope::Type(t) = &scope {
        check_type(t)?;
    }
    let pref = prefer(&headers);
    let base = base_url(&state, &headers);
    let parsed = parse(&state, &scope, &pairs, &base)?;
    if pref.strict && !parsed.ignored.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "search.unsupported_parameter",
            IssueCode::NotSupported,
            format!("unsupported search parameters: {}", parsed.ignored.join(", ")),
        )
        .at(parsed.ignored[0].split(['=', ':']).next().unwrap_or("").to_string()));
    }
    let q = parsed.query.clone();
    let result = state.blocking(move |s| Ok(s.search(&q)?)).await?;
    let path = match &scope {
        Scope::Type(t) => format!("{base}/{t}"),
        Scope::System => base.clone(),
        Scope::Compartment { id, rtype } => format!("{base}/Patient/{id}/{rtype}"),
    };
    let encode = |cursor: Option<&str>| -> String {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &parsed.link_params {
            ser.append_pair(k, v);
        }
        if let Some(c) = cursor {
            ser.append_pair("_cursor", c);
        }
        let q = ser.finish();
        if q.is_empty() { path.clone() } else { format!("{path}?{q}") }
    };
    let mut links = vec![("self", encode(parsed.query.cursor.as_deref()))];
    if let Some(n) = &result.next_cursor {
        links.push(("next", encode(Some(n))));
    }
    if let Some(p) = &result.prev_cursor {
        links.push(("previous", encode(Some(p))));
    }
    let _ = parsed.explicit_total;
    let bytes: usize = result.entries.iter().chain(&result.included).map(|e| e.body.as_ref().map_or(0, |b| b.len() + 200)).sum();
    let mut out = BundleWriter::new("searchset", result.total, &links, bytes + 1024);
    // Stored text goes out as is unless `_summary`/`_elements` reshape it.
    let reshape = parsed.summary != Summary::False || parsed.elements.is_some();
    for (mode, list) in [("match", &result.entries), ("include", &result.included)] {
        let search = [("search", json!({"mode": mode}))];
        for e in list {
            let Some(body) = &e.body else { continue };
            let full_url = format!("{base}/{}/{}", e.meta.resource_type, e.meta.id);
            if reshape {
                let resource: Value = serde_json::from_str(body).map_err(|e| ApiError::internal(format!("stored JSON unreadable: {e}")))?;
                let resource = shape(resource, parsed.summary, parsed.elements.as_deref());
                out.entry(Some(&full_url), Some(EntryResource::Tree(&resource)), &search);
            } else {
                out.entry(Some(&full_url), Some(EntryResource::Text(body)), &search);
            }
        }
    }
    if !parsed.ignored.is_empty() {
        let issues: Vec<Issue> = parsed
            .ignored
            .iter()
            .map(|p| Issue::warning(IssueCode::NotSupported, format!("search parameter '{p}' is not supported and was ignored"), None))
            .collect();
        out.entry(None, Some(EntryResource::Tree(&crate::outcome(&issues))), &[("search", json!({"mode": "outcome"}))]);
    }
    Ok(json_response(StatusCode::OK, out.finish()))
}

/// The top-level elements `_summary=true` keeps for a type: the ones its
/// search parameters reach, plus the elements every resource keeps.
/// (The R4 `isSummary` flags are not in the definitions table yet; this is
/// the closest approximation from the data at hand.)
fn summary_elements(rtype: &str) -> Vec<String> {
    let mut out: Vec<String> = ["id", "meta", "implicitRules", "resourceType"].iter().map(|s| s.to_string()).collect();
    for p in store::index::catalog().for_type(rtype) {
        for part in p.def.expression.split('|') {
            let part = part.trim().trim_start_matches('(');
            if let Some(rest) = part.strip_prefix(&format!("{rtype}.")) {
                let first: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
                if !first.is_empty() {
                    out.push(first);
                }
            }
        }
    }
    out
}

fn subsetted(obj: &mut Map<String, Value>) {
    let meta = obj.entry("meta").or_insert_with(|| json!({}));
    if let Some(m) = meta.as_object_mut() {
        let tags = m.entry("tag").or_insert_with(|| json!([]));
        if let Some(a) = tags.as_array_mut() {
            a.push(json!({"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}));
        }
    }
}

/// Applies `_summary` and `_elements` to one resource.
fn shape(resource: Value, summary: Summary, elements: Option<&[String]>) -> Value {
    let Value::Object(mut obj) = resource else { return resource };
    let rtype = obj.get("resourceType").and_then(Value::as_str).unwrap_or("").to_string();
    let keep_prefixed = |obj: &mut Map<String, Value>, keep: &[String]| {
        obj.retain(|k, _| {
            let k = k.trim_start_matches('_');
            keep.iter().any(|e| k == e || (k.starts_with(e.as_str()) && k[e.len()..].starts_with(|c: char| c.is_ascii_uppercase())))
        });
    };
    match summary {
        Summary::True => {
            keep_prefixed(&mut obj, &summary_elements(&rtype));
            subsetted(&mut obj);
        }
        Summary::Text => {
            let keep: Vec<String> = ["resourceType", "id", "meta", "text"].iter().map(|s| s.to_string()).collect();
            keep_prefixed(&mut obj, &keep);
            subsetted(&mut obj);
        }
        Summary::Data => {
            obj.remove("text");
            subsetted(&mut obj);
        }
        Summary::False | Summary::Count => {}
    }
    if let Some(els) = elements {
        let mut keep: Vec<String> = ["resourceType", "id", "meta"].iter().map(|s| s.to_string()).collect();
        keep.extend(els.iter().map(|e| e.split('.').next_back().unwrap_or(e).to_string()));
        keep_prefixed(&mut obj, &keep);
        subsetted(&mut obj);
    }
    Value::Object(obj)
}

/// `Patient/[id]/$everything`: the patient and every resource in its compartment.
async fn everything(state: AppState, id: String, headers: HeaderMap, pairs: Vec<(String, String)>) -> Result<Response, ApiError> {
    check_accept(&headers, &pairs)?;
    let base = base_url(&state, &headers);
    let limit = state.config.max_count * 10;
    let pid = id.clone();
    let (entries, truncated) = state
        .blocking(move |s| {
            if s.read("Patient", &pid)?.is_none_or(|p| p.body.is_none()) {
                return Err(ApiError::not_found(format!("Patient/{pid} not found")));
            }
            let mut out = Vec::new();
            let mut truncated = false;
            let mut types: Vec<&str> = fhir::search_params::r4().patient_compartment_types().filter(|t| *t != "Patient").collect();
            types.sort();
            types.insert(0, "Patient");
            for t in types {
                let Some(c) = store::search::patient_compartment(t, &pid) else { continue };
                let conds = vec![c];
                let mut cursor = None;
                loop {
                    let q = SearchQuery {
                        resource_types: vec![t.to_string()],
                        conditions: vec![conds.clone()],
                        count: 500,
                        cursor: cursor.take(),
                        total: TotalMode::None,
                        ..Default::default()
                    };
                    let r = s.search(&q)?;
                    out.extend(r.entries);
                    if out.len() >= limit {
                        truncated = true;
                        break;
                    }
                    match r.next_cursor {
                        Some(n) => cursor = Some(n),
                        None => break,
                    }
                }
                if truncated {
                    break;
                }
            }
            Ok((out, truncated))
        })
        .await?;
    let links = [("self", format!("{base}/Patient/{id}/$everything"))];
    let bytes: usize = entries.iter().map(|e| e.body.as_ref().map_or(0, |b| b.len() + 200)).sum();
    let mut out = BundleWriter::new("searchset", Some(entries.len() as u64), &links, bytes + 1024);
    let search = [("search", json!({"mode": "match"}))];
    for e in &entries {
        let Some(body) = &e.body else { continue };
        out.entry(Some(&format!("{base}/{}/{}", e.meta.resource_type, e.meta.id)), Some(EntryResource::Text(body)), &search);
    }
    if truncated {
        let issue = Issue::warning(IssueCode::TooCostly, format!("$everything stopped after {limit} resources"), None);
        out.entry(None, Some(EntryResource::Tree(&crate::outcome(&[issue]))), &[("search", json!({"mode": "outcome"}))]);
    }
    Ok(json_response(StatusCode::OK, out.finish()))
}
