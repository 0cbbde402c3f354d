//! Problems found in data: a severity, an OperationOutcome issue code, a
//! message and a FHIRPath-style location. Data problems are values, not errors.

/// How bad an [`Issue`] is (OperationOutcome.issue.severity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The data cannot be used.
    Fatal,
    /// The data is wrong and is rejected.
    Error,
    /// The data is accepted but something is doubtful.
    Warning,
    /// For information only.
    Information,
}

impl Severity {
    /// The FHIR code (`fatal`, `error`, `warning`, `information`).
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// The OperationOutcome issue type (value set `issue-type`), the subset medtwin uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum IssueCode {
    Invalid,
    Structure,
    Required,
    Value,
    Invariant,
    NotSupported,
    NotFound,
    Deleted,
    Conflict,
    Duplicate,
    Processing,
    TooCostly,
    Security,
    Exception,
    Informational,
    MultipleMatches,
    TooLong,
}

impl IssueCode {
    /// The FHIR code of this issue type.
    pub fn as_str(self) -> &'static str {
        match self {
            IssueCode::Invalid => "invalid",
            IssueCode::Structure => "structure",
            IssueCode::Required => "required",
            IssueCode::Value => "value",
            IssueCode::Invariant => "invariant",
            IssueCode::NotSupported => "not-supported",
            IssueCode::NotFound => "not-found",
            IssueCode::Deleted => "deleted",
            IssueCode::Conflict => "conflict",
            IssueCode::Duplicate => "duplicate",
            IssueCode::Processing => "processing",
            IssueCode::TooCostly => "too-costly",
            IssueCode::Security => "security",
            IssueCode::Exception => "exception",
            IssueCode::Informational => "informational",
            IssueCode::MultipleMatches => "multiple-matches",
            IssueCode::TooLong => "too-long",
        }
    }
}

/// One problem found in a piece of data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// How bad it is.
    pub severity: Severity,
    /// What kind of problem it is.
    pub code: IssueCode,
    /// A human-readable explanation.
    pub diagnostics: String,
    /// Where, as a FHIRPath expression (e.g. `Patient.birthDate`), if known.
    pub expression: Option<String>,
}

impl Issue {
    /// An error-level issue.
    pub fn error(code: IssueCode, diagnostics: impl Into<String>, expression: Option<String>) -> Self {
        Issue { severity: Severity::Error, code, diagnostics: diagnostics.into(), expression }
    }

    /// A warning-level issue.
    pub fn warning(code: IssueCode, diagnostics: impl Into<String>, expression: Option<String>) -> Self {
        Issue { severity: Severity::Warning, code, diagnostics: diagnostics.into(), expression }
    }

    /// Whether this issue makes the data unusable.
    pub fn is_error(&self) -> bool {
        matches!(self.severity, Severity::Error | Severity::Fatal)
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.expression {
            Some(e) => write!(f, "{}: {}", e, self.diagnostics),
            None => f.write_str(&self.diagnostics),
        }
    }
}
