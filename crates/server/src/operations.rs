//! FHIR operations that are not plain REST interactions:
//! `$viewdefinition-run` (SQL-on-FHIR v2), at system level and at type level
//! on ViewDefinition. The view arrives inline (`viewResource` in a
//! Parameters body) and runs over the store's current resources of its type
//! (or over `resource` parameters sent with it); the rows come back as CSV,
//! NDJSON, JSON or Parquet with the matching Content-Type.

use crate::fhir_http::{query_pairs, read_resource};
use crate::{ApiError, AppState};
use analytics::view::{self, BatchWriter, Format, RunOptions, ViewDefinition, ViewSink};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use fhir::IssueCode;
use serde_json::{Value, json};
use store::Store;

/// The canonical URL of the operation, for the CapabilityStatement.
pub(crate) const VIEWDEFINITION_RUN: &str = "http://sql-on-fhir.org/OperationDefinition/$viewdefinition-run";

/// The CapabilityStatement entry of the operations in this module.
pub(crate) fn capability_operations() -> Vec<Value> {
    vec![json!({
        "name": "viewdefinition-run",
        "definition": VIEWDEFINITION_RUN,
        "documentation": "POST [base]/ViewDefinition/$viewdefinition-run (or [base]/$viewdefinition-run) with a Parameters \
body: viewResource (inline ViewDefinition, required; viewReference is not supported because ViewDefinitions are not \
stored), _format (json (default), ndjson, csv, parquet; also as a URL parameter or an Accept header), header (CSV), \
patient, _since, _limit, and optional resource parameters to run over instead of the stored resources.",
    })]
}

/// Maps a view error to a response: a malformed request is 400, a view
/// that is invalid or cannot be evaluated on the data is 422.
fn view_error(e: view::Error) -> ApiError {
    use view::Error as E;
    let unprocessable = |code, issue, msg: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, issue, msg);
    match e {
        E::InvalidParameters(_) => ApiError::bad_request("view.invalid_parameters", e.to_string()),
        E::UnknownFormat(_) => ApiError::new(StatusCode::BAD_REQUEST, "view.unknown_format", IssueCode::NotSupported, e.to_string())
            .at("Parameters.parameter.where(name = '_format')"),
        E::InvalidResource { .. } => ApiError::bad_request("view.invalid_resource", e.to_string()),
        E::InvalidView { .. } | E::Expression { .. } => unprocessable("view.invalid_view", IssueCode::Invalid, e.to_string()),
        E::Evaluation { .. } => unprocessable("view.evaluation_failed", IssueCode::Processing, e.to_string()),
        other => ApiError::internal(other.to_string()),
    }
}

/// The output format when neither the body nor the URL names one: the
/// `Accept` header, when it names a supported type.
fn format_from_accept(headers: &HeaderMap) -> Option<Format> {
    let accept = headers.get(header::ACCEPT)?.to_str().ok()?;
    accept.split(',').find_map(|a| a.split(';').next().map(str::trim).and_then(|m| m.parse::<Format>().ok()))
}

/// `POST [base]/ViewDefinition/$viewdefinition-run` and `POST [base]/$viewdefinition-run`.
pub(crate) async fn viewdefinition_run(
    State(state): State<AppState>,
    headers: HeaderMap,
    uri: Uri,
    body: Body,
) -> Result<Response, ApiError> {
    let query = query_pairs(uri.query());
    let url_format = query.iter().find(|(k, _)| k == "_format").map(|(_, v)| v.clone());
    let params = read_resource(&state, &headers, body).await?;
    let names_format = params
        .get("parameter")
        .and_then(Value::as_array)
        .is_some_and(|ps| ps.iter().any(|p| p.get("name").and_then(Value::as_str) == Some("_format")));
    let mut req = view::parse_run_parameters(&params, url_format.as_deref()).map_err(view_error)?;
    if url_format.is_none() && !names_format {
        if let Some(f) = format_from_accept(&headers) {
            req.format = f;
        }
    }
    let Some(view) = req.view.take() else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "view.reference_not_supported",
            IssueCode::NotSupported,
            "viewReference is not supported: this server does not store ViewDefinitions; send the view inline as viewResource",
        )
        .at("Parameters.parameter.where(name = 'viewReference')"));
    };
    let format = req.format;
    let header_row = req.header;
    let resources = std::mem::take(&mut req.resources);
    let options = req.options;
    let bytes = state.blocking(move |store| run(store, &view, options, resources, format, header_row)).await?;
    let mut res = (StatusCode::OK, bytes).into_response();
    let mime = match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Json => "application/json; charset=utf-8",
        other => other.mime_type(),
    };
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    Ok(res)
}

/// Runs the view and writes its rows in `format` (blocking).
fn run(
    store: &dyn Store,
    view: &ViewDefinition,
    options: RunOptions,
    resources: Vec<Value>,
    format: Format,
    header_row: bool,
) -> Result<Vec<u8>, ApiError> {
    let mut w = BatchWriter::new(format, view.schema(), Vec::new()).map_err(view_error)?;
    let mut sink = ViewSink::new(view, options, |b| w.write(&b));
    if !resources.is_empty() {
        sink.set_source_name("resource parameter");
        for r in resources {
            sink.push(r.to_string()).map_err(view_error)?;
        }
    } else {
        if !fhir::definitions::r4().is_resource_type(&view.resource) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "view.unknown_resource_type",
                IssueCode::NotSupported,
                format!("the view's resource `{}` is not a FHIR R4 resource type", view.resource),
            )
            .at("ViewDefinition.resource"));
        }
        sink.set_source_name(format!("stored {}", view.resource));
        // The scan reads and decompresses on its own thread while the view
        // evaluates; it stops early once the row limit is reached.
        sink.push_from(|give| {
            store.scan(&view.resource, None, &mut |json| {
                if give(json) { Ok(()) } else { Err(store::Error::Aborted("view stopped".into())) }
            })
        })
        .map_err(view_error)??;
    }
    sink.finish().map_err(view_error)?;
    let mut out = w.finish().map_err(view_error)?;
    if format == Format::Csv && !header_row {
        // Column names are [A-Za-z][A-Za-z0-9_]*, so the header is exactly the first line.
        let end = out.iter().position(|b| *b == b'\n').map_or(out.len(), |i| i + 1);
        out.drain(..end);
    }
    Ok(out)
}
