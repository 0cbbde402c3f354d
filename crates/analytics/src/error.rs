//! The crate's error type: every way an analysis can refuse its input.

/// Errors returned by the analytics crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The CSV text is malformed (ragged rows, bad quoting, invalid UTF-8).
    #[error("malformed csv at line {line}: {message}")]
    Csv {
        /// 1-based line number in the file (the header is line 1).
        line: u64,
        /// What went wrong.
        message: String,
    },
    /// A requested column does not exist in the table.
    #[error("unknown column `{column}` (available: {available})")]
    UnknownColumn {
        /// The requested column name.
        column: String,
        /// The comma-separated list of columns present.
        available: String,
    },
    /// A column has the same name as an earlier one.
    #[error("duplicate column `{column}` in header")]
    DuplicateColumn {
        /// The repeated column name.
        column: String,
    },
    /// A value that must be numeric is not.
    #[error("non-numeric value `{value}` in column `{column}` at row {row} (line {line})")]
    NonNumeric {
        /// The column name.
        column: String,
        /// 1-based data row (the first row after the header is row 1).
        row: usize,
        /// 1-based line in the file (data row + 1).
        line: usize,
        /// The offending text.
        value: String,
    },
    /// A required value is empty or `NA`.
    #[error("missing value in column `{column}` at row {row} (line {line})")]
    MissingValue {
        /// The column name.
        column: String,
        /// 1-based data row.
        row: usize,
        /// 1-based line in the file.
        line: usize,
    },
    /// An event indicator is not 0 or 1.
    #[error("event indicator in column `{column}` at row {row} must be 0 or 1, found {value}")]
    InvalidEvent {
        /// The column name.
        column: String,
        /// 1-based data row.
        row: usize,
        /// The offending value.
        value: f64,
    },
    /// A value is outside the allowed domain (negative time, weight <= 0, ...).
    #[error("invalid value in {what} at row {row}: {message}")]
    InvalidValue {
        /// Which input (column or argument) holds the value.
        what: String,
        /// 1-based row.
        row: usize,
        /// Why it is invalid.
        message: String,
    },
    /// Input slices have different lengths.
    #[error("length mismatch: {what} has {found} values, expected {expected}")]
    LengthMismatch {
        /// Which input.
        what: String,
        /// Its length.
        found: usize,
        /// The expected length.
        expected: usize,
    },
    /// There is no data to analyse.
    #[error("no observations{context}")]
    Empty {
        /// Optional context, starting with a space or comma.
        context: String,
    },
    /// The data contain no events, so the model or test is undefined.
    #[error("no events observed{context}")]
    NoEvents {
        /// Optional context, starting with a space or comma.
        context: String,
    },
    /// A test needs at least two groups.
    #[error("need at least two groups, found {found}")]
    TooFewGroups {
        /// The number of groups found.
        found: usize,
    },
    /// The design (information) matrix is singular, usually a constant or collinear covariate.
    #[error("singular design matrix: {hint}")]
    Singular {
        /// Which covariates are implicated, if known.
        hint: String,
    },
    /// Logistic regression detected (quasi-)complete separation.
    #[error("perfect separation: {detail}")]
    PerfectSeparation {
        /// Which covariate or how the separation showed itself.
        detail: String,
    },
    /// An iterative fit did not converge.
    #[error("{model} did not converge after {iterations} iterations (last change {last_change:e})")]
    NotConverged {
        /// The model being fitted.
        model: &'static str,
        /// Iterations performed.
        iterations: usize,
        /// The last step size or log-likelihood change.
        last_change: f64,
    },
    /// An option has an invalid value.
    #[error("invalid option {option}: {message}")]
    InvalidOption {
        /// The option name.
        option: &'static str,
        /// Why it is invalid.
        message: String,
    },
    /// A SQL-on-FHIR view, its output or a SQL query failed.
    #[error(transparent)]
    View(#[from] crate::view::Error),
}

/// The crate-local result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
