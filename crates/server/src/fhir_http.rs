//! FHIR over HTTP: content negotiation (JSON only), reading and checking
//! request bodies, `Prefer` and `If-Match` headers, the base URL, and building
//! responses with `ETag`, `Last-Modified` and `Location`.

use crate::{ApiError, AppState, FHIR_JSON};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fhir::IssueCode;
use serde_json::Value;
use store::{Stored, VersionMeta};

/// What the client asked for with `Prefer: return=...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Return {
    Minimal,
    Representation,
    OperationOutcome,
}

/// Parsed request preferences.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prefer {
    pub(crate) ret: Return,
    pub(crate) strict: bool,
}

pub(crate) fn prefer(headers: &HeaderMap) -> Prefer {
    let mut p = Prefer { ret: Return::Representation, strict: false };
    for v in headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()) {
        for part in v.split([',', ';']).map(str::trim) {
            match part.replace(' ', "").as_str() {
                "return=minimal" => p.ret = Return::Minimal,
                "return=representation" => p.ret = Return::Representation,
                "return=OperationOutcome" => p.ret = Return::OperationOutcome,
                "handling=strict" => p.strict = true,
                "handling=lenient" => p.strict = false,
                _ => {}
            }
        }
    }
    p
}

fn is_json_type(mime: &str) -> bool {
    let m = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(m.as_str(), "application/fhir+json" | "application/json" | "application/json+fhir" | "json")
}

fn is_xml_type(mime: &str) -> bool {
    let m = mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    matches!(m.as_str(), "application/fhir+xml" | "application/xml" | "text/xml" | "application/xml+fhir" | "xml")
}

/// Checks `_format` and `Accept`: medtwin answers JSON only (406 otherwise).
pub(crate) fn check_accept(headers: &HeaderMap, query: &[(String, String)]) -> Result<(), ApiError> {
    let not_acceptable = |what: &str| {
        ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "http.not_acceptable",
            IssueCode::NotSupported,
            format!("{what}: this server produces JSON only (application/fhir+json)"),
        )
    };
    if let Some((_, f)) = query.iter().find(|(k, _)| k == "_format") {
        if !is_json_type(f) {
            return Err(not_acceptable(&format!("_format={f}")));
        }
        return Ok(());
    }
    if let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        let acceptable = accept.split(',').any(|a| {
            let m = a.split(';').next().unwrap_or("").trim();
            is_json_type(m) || m == "*/*" || m == "application/*" || m.is_empty() || m.starts_with("text/html") || m == "text/plain"
        });
        if !acceptable {
            return Err(not_acceptable(&format!("Accept: {accept}")));
        }
    }
    Ok(())
}

/// Reads a request body as one FHIR JSON resource (an object).
pub(crate) async fn read_resource(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Value, ApiError> {
    match headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        Some(ct) if is_json_type(ct) => {}
        Some(ct) if is_xml_type(ct) => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "http.unsupported_media_type",
                IssueCode::NotSupported,
                format!("Content-Type {ct} is not supported: send application/fhir+json"),
            ));
        }
        Some(ct) => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "http.unsupported_media_type",
                IssueCode::NotSupported,
                format!("Content-Type {ct} is not supported: send application/fhir+json"),
            ));
        }
        None => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "http.unsupported_media_type",
                IssueCode::NotSupported,
                "missing Content-Type: send application/fhir+json",
            ));
        }
    }
    let limit = state.config.max_body_bytes;
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "http.payload_too_large",
            IssueCode::TooLong,
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    })?;
    parse_json_object(&bytes)
}

/// Parses bytes as a JSON object, with the error position in the message.
pub(crate) fn parse_json_object(bytes: &[u8]) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "fhir.empty_body", IssueCode::Structure, "the request body is empty"));
    }
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "fhir.malformed_json",
            IssueCode::Structure,
            format!("malformed JSON at line {} column {}: {}", e.line(), e.column(), e),
        )
    })?;
    if !v.is_object() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "fhir.not_an_object",
            IssueCode::Structure,
            "the request body must be a JSON object (a FHIR resource)",
        ));
    }
    Ok(v)
}

/// Validates a resource's structure (400 listing every issue).
pub(crate) fn validate(resource: &Value) -> Result<(), ApiError> {
    let issues = fhir::validate::validate_resource(resource);
    if issues.iter().any(fhir::Issue::is_error) { Err(ApiError::invalid(issues)) } else { Ok(()) }
}

/// Checks a resource type named in a URL.
pub(crate) fn check_type(rtype: &str) -> Result<(), ApiError> {
    if fhir::definitions::r4().is_resource_type(rtype) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("unknown resource type '{rtype}'")))
    }
}

/// Parses `If-Match: W/"3"` (or `"3"`, or `3`).
pub(crate) fn if_match(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let s = v.to_str().unwrap_or("");
    parse_etag(s).map(Some).ok_or_else(|| {
        ApiError::bad_request("http.bad_if_match", format!("If-Match must be a version ETag such as W/\"3\", got '{s}'"))
    })
}

/// Parses an ETag such as `W/"3"` into its version.
pub(crate) fn parse_etag(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_prefix("W/").unwrap_or(s);
    let s = s.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(s);
    s.parse().ok()
}

/// The base URL of the FHIR API as the client sees it.
pub(crate) fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(b) = &state.config.base_url {
        return b.trim_end_matches('/').to_string();
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let proto = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).unwrap_or("http");
    format!("{proto}://{host}/fhir")
}

/// Parses a query string into ordered pairs (decoded).
pub(crate) fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    q.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// A JSON response with the FHIR media type.
pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    res
}

/// Sets `ETag` and `Last-Modified` from a version.
pub(crate) fn version_headers(res: &mut Response, meta: &VersionMeta) {
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&meta.etag()) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&meta.last_updated.to_http_date()) {
        h.insert(header::LAST_MODIFIED, v);
    }
}

/// The response to a successful write, shaped by `Prefer: return=`.
pub(crate) fn write_response(status: StatusCode, stored: &Stored, base: &str, ret: Return, location: bool) -> Response {
    let mut res = match (ret, &stored.body) {
        (Return::Representation, Some(b)) => json_response(status, b.as_bytes().to_vec()),
        (Return::OperationOutcome, _) => {
            let msg = format!(
                "{} {}/{} version {}",
                match stored.meta.method {
                    store::Method::Create => "created",
                    store::Method::Update => "updated",
                    store::Method::Delete => "deleted",
                },
                stored.meta.resource_type,
                stored.meta.id,
                stored.meta.version
            );
            json_response(status, serde_json::to_vec(&crate::error::info_outcome(msg)).unwrap_or_default())
        }
        _ => {
            let mut r = status.into_response();
            r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
            r
        }
    };
    version_headers(&mut res, &stored.meta);
    if location {
        let loc = format!("{base}/{}/{}/_history/{}", stored.meta.resource_type, stored.meta.id, stored.meta.version);
        if let Ok(v) = HeaderValue::from_str(&loc) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags() {
        assert_eq!(parse_etag("W/\"3\""), Some(3));
        assert_eq!(parse_etag("\"12\""), Some(12));
        assert_eq!(parse_etag("7"), Some(7));
        assert_eq!(parse_etag("W/\"x\""), None);
    }

    #[test]
    fn prefer_header() {
        let mut h = HeaderMap::new();
        h.insert("prefer", HeaderValue::from_static("return=minimal, handling=strict"));
        let p = prefer(&h);
        assert_eq!(p.ret, Return::Minimal);
        assert!(p.strict);
    }
}
