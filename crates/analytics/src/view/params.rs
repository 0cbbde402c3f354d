//! `$viewdefinition-run` input: turns a FHIR `Parameters` resource (and the
//! `_format` query parameter) into a view, run options and inline
//! resources. Pure JSON handling; the server loads `viewReference` targets
//! and feeds the store scan.

use serde_json::Value;

use super::definition::ViewDefinition;
use super::error::{Error, Result};
use super::run::RunOptions;
use super::write::Format;

/// A parsed `$viewdefinition-run` request.
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The inline view (`viewResource`), when given.
    pub view: Option<ViewDefinition>,
    /// A reference to a stored ViewDefinition (`viewReference`), for the server to load.
    pub view_reference: Option<String>,
    /// The output format (`_format`; JSON when absent).
    pub format: Format,
    /// Whether CSV output has a header row (`header`, default true).
    pub header: bool,
    /// `patient`, `_since` and `_limit`.
    pub options: RunOptions,
    /// Inline resources to run over (`resource`) instead of the store.
    pub resources: Vec<Value>,
}

/// Parses a `Parameters` resource. `query_format` is the `_format` URL
/// parameter, which wins over the one in the body.
pub fn parse_run_parameters(params: &Value, query_format: Option<&str>) -> Result<RunRequest> {
    let bad = |m: String| Error::InvalidParameters(m);
    if params.get("resourceType").and_then(Value::as_str) != Some("Parameters") {
        return Err(bad("the request body must be a Parameters resource".into()));
    }
    let mut req = RunRequest {
        view: None,
        view_reference: None,
        format: Format::Json,
        header: true,
        options: RunOptions::default(),
        resources: Vec::new(),
    };
    let mut body_format = None;
    let list = match params.get("parameter") {
        None => &[][..],
        Some(Value::Array(a)) => a.as_slice(),
        Some(_) => return Err(bad("`parameter` must be an array".into())),
    };
    for (i, p) in list.iter().enumerate() {
        let name = p.get("name").and_then(Value::as_str).ok_or_else(|| bad(format!("parameter[{i}] has no name")))?;
        let string_value = || {
            ["valueCode", "valueString", "valueUri", "valueCanonical", "valueId"]
                .iter()
                .find_map(|k| p.get(*k).and_then(Value::as_str))
        };
        match name {
            "viewResource" => {
                let r = p.get("resource").ok_or_else(|| bad("viewResource needs a `resource`".into()))?;
                req.view = Some(ViewDefinition::from_json(r)?);
            }
            "viewReference" => {
                let r = p
                    .pointer("/valueReference/reference")
                    .and_then(Value::as_str)
                    .or_else(string_value)
                    .ok_or_else(|| bad("viewReference needs a valueReference".into()))?;
                req.view_reference = Some(r.to_string());
            }
            "_format" => body_format = Some(string_value().ok_or_else(|| bad("_format needs a valueCode".into()))?.to_string()),
            "header" => {
                req.header = p.get("valueBoolean").and_then(Value::as_bool).ok_or_else(|| bad("header needs a valueBoolean".into()))?
            }
            "patient" => {
                let r = p
                    .pointer("/valueReference/reference")
                    .and_then(Value::as_str)
                    .or_else(string_value)
                    .ok_or_else(|| bad("patient needs a valueReference".into()))?;
                req.options.patient = Some(r.strip_prefix("Patient/").unwrap_or(r).to_string());
            }
            "_since" => {
                let s = ["valueInstant", "valueDateTime"]
                    .iter()
                    .find_map(|k| p.get(*k).and_then(Value::as_str))
                    .ok_or_else(|| bad("_since needs a valueInstant".into()))?;
                if fhirpath::DateTimeVal::parse_datetime(s).is_none() {
                    return Err(bad(format!("_since `{s}` is not an instant")));
                }
                req.options.since = Some(s.to_string());
            }
            "_limit" => {
                let n = ["valueInteger", "valuePositiveInt", "valueUnsignedInt"]
                    .iter()
                    .find_map(|k| p.get(*k).and_then(Value::as_i64))
                    .ok_or_else(|| bad("_limit needs a valueInteger".into()))?;
                if n < 0 {
                    return Err(bad("_limit must not be negative".into()));
                }
                req.options.limit = Some(n as usize);
            }
            "resource" => {
                let r = p.get("resource").ok_or_else(|| bad("resource needs a `resource`".into()))?;
                req.resources.push(r.clone());
            }
            "group" | "source" => {
                return Err(bad(format!("parameter `{name}` is not supported by this server")));
            }
            other => return Err(bad(format!("unknown parameter `{other}`"))),
        }
    }
    if let Some(f) = query_format.map(str::to_string).or(body_format) {
        req.format = f.parse()?;
    }
    if req.view.is_none() && req.view_reference.is_none() {
        return Err(bad("either viewResource or viewReference is required".into()));
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_inline_view_and_options() {
        let p = json!({"resourceType": "Parameters", "parameter": [
            {"name": "viewResource", "resource": {"resourceType": "ViewDefinition", "name": "pt", "resource": "Patient",
                "select": [{"column": [{"name": "id", "path": "id"}]}]}},
            {"name": "_format", "valueCode": "csv"},
            {"name": "patient", "valueReference": {"reference": "Patient/p1"}},
            {"name": "_since", "valueInstant": "2024-01-01T00:00:00Z"},
            {"name": "_limit", "valueInteger": 5}
        ]});
        let r = parse_run_parameters(&p, None).expect("valid");
        assert_eq!(r.format, Format::Csv);
        assert_eq!(r.options.patient.as_deref(), Some("p1"));
        assert_eq!(r.options.limit, Some(5));
        assert_eq!(r.view.expect("view").name.as_deref(), Some("pt"));
        let r = parse_run_parameters(&p, Some("ndjson")).expect("valid");
        assert_eq!(r.format, Format::Ndjson);
    }

    #[test]
    fn refuses_bad_parameters() {
        assert!(parse_run_parameters(&json!({"resourceType": "Patient"}), None).is_err());
        assert!(parse_run_parameters(&json!({"resourceType": "Parameters", "parameter": []}), None).is_err());
        let bad_limit = json!({"resourceType": "Parameters", "parameter": [
            {"name": "viewReference", "valueReference": {"reference": "ViewDefinition/x"}},
            {"name": "_limit", "valueString": "ten"}]});
        assert!(parse_run_parameters(&bad_limit, None).is_err());
        let bad_format = json!({"resourceType": "Parameters", "parameter": [
            {"name": "viewReference", "valueReference": {"reference": "ViewDefinition/x"}},
            {"name": "_format", "valueCode": "xlsx"}]});
        assert!(matches!(parse_run_parameters(&bad_format, None), Err(Error::UnknownFormat(_))));
    }
}
