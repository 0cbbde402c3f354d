//! `ApiError`: every failure of a request becomes an HTTP status and a FHIR
//! OperationOutcome. Internal details are logged, never sent to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fhir::{Issue, IssueCode, Severity};
use serde_json::{Value, json};

/// An error answered with an OperationOutcome.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable code for logs and tests (`store.not_found`).
    pub code: &'static str,
    /// What to tell the client.
    pub issues: Vec<Issue>,
    /// Internal detail, logged only.
    pub internal: Option<String>,
}

/// Internal details of a 500, for the logging middleware.
#[derive(Debug, Clone)]
pub(crate) struct InternalDetail(pub(crate) String);

impl ApiError {
    /// An error with one issue.
    pub fn new(status: StatusCode, code: &'static str, issue: IssueCode, diagnostics: impl Into<String>) -> Self {
        ApiError { status, code, issues: vec![Issue::error(issue, diagnostics, None)], internal: None }
    }

    /// Adds a FHIRPath location to the (first) issue.
    pub fn at(mut self, expression: impl Into<String>) -> Self {
        if let Some(i) = self.issues.first_mut()
            && i.expression.is_none()
        {
            i.expression = Some(expression.into());
        }
        self
    }

    /// 400 with an issue.
    pub fn bad_request(code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, IssueCode::Invalid, diagnostics)
    }

    /// 400 listing validation issues.
    pub fn invalid(issues: Vec<Issue>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, code: "fhir.invalid_resource", issues, internal: None }
    }

    /// 404 Not Found.
    pub fn not_found(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "store.not_found", IssueCode::NotFound, diagnostics)
    }

    /// 500 with the detail kept out of the response.
    pub fn internal(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "server.internal",
            issues: vec![Issue::error(IssueCode::Exception, "internal server error; see the server log", None)],
            internal: Some(detail.into()),
        }
    }

    /// The OperationOutcome body.
    pub fn outcome(&self) -> Value {
        outcome(&self.issues)
    }
}

/// Builds an OperationOutcome from issues.
pub fn outcome(issues: &[Issue]) -> Value {
    let issues: Vec<Value> = issues
        .iter()
        .map(|i| {
            let mut o = json!({"severity": i.severity.as_str(), "code": i.code.as_str(), "diagnostics": i.diagnostics});
            if let Some(e) = &i.expression {
                o["expression"] = json!([e]);
            }
            o
        })
        .collect();
    json!({"resourceType": "OperationOutcome", "issue": issues})
}

/// An informational OperationOutcome (for `Prefer: return=OperationOutcome`).
pub(crate) fn info_outcome(msg: impl Into<String>) -> Value {
    outcome(&[Issue { severity: Severity::Information, code: IssueCode::Informational, diagnostics: msg.into(), expression: None }])
}

impl From<store::Error> for ApiError {
    fn from(e: store::Error) -> Self {
        use store::Error as E;
        match e {
            E::NotFound { .. } => ApiError::not_found(e.to_string()),
            E::VersionConflict { .. } => {
                ApiError::new(StatusCode::PRECONDITION_FAILED, "store.version_conflict", IssueCode::Conflict, e.to_string())
            }
            E::UnsupportedParameter { ref name, .. } => {
                let name = name.clone();
                ApiError::new(StatusCode::BAD_REQUEST, "search.unsupported_parameter", IssueCode::NotSupported, e.to_string())
                    .at(name)
            }
            E::InvalidParameter { ref name, .. } => {
                let name = name.clone();
                ApiError::new(StatusCode::BAD_REQUEST, "search.invalid_value", IssueCode::Value, e.to_string()).at(name)
            }
            E::InvalidResource(_) => ApiError::new(StatusCode::BAD_REQUEST, "store.invalid_resource", IssueCode::Invalid, e.to_string()),
            E::Aborted(_) => ApiError::new(StatusCode::BAD_REQUEST, "store.aborted", IssueCode::Processing, e.to_string()),
            ref busy if busy.is_busy() => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "store.busy",
                issues: vec![Issue::error(IssueCode::Exception, "the database is busy; retry shortly", None)],
                internal: Some(e.to_string()),
            },
            other => ApiError::internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.outcome()).unwrap_or_default();
        let mut res = (self.status, body).into_response();
        res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::FHIR_JSON));
        if let Some(d) = self.internal {
            res.extensions_mut().insert(InternalDetail(d));
        }
        res
    }
}
