//! The error type of the SQL-on-FHIR view runner, its output writers and the
//! SQL layer: every way a view, a resource or a query can be refused.

/// Errors from parsing, validating or running a ViewDefinition, writing its
/// output, or running SQL over views.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ViewDefinition is structurally invalid (missing `resource`, bad
    /// column name, mismatched `unionAll` branches, non-boolean `where`, ...).
    #[error("invalid view definition at {location}: {message}")]
    InvalidView {
        /// Where in the ViewDefinition, as a FHIRPath-like location (`select[0].column[1].name`).
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A FHIRPath expression in the view does not compile.
    #[error("invalid FHIRPath at {location} (`{expression}`): {source}")]
    Expression {
        /// Where in the ViewDefinition.
        location: String,
        /// The expression text.
        expression: String,
        /// The compiler's error.
        source: fhirpath::Error,
    },
    /// Evaluating the view on one resource failed (a FHIRPath runtime error,
    /// several values in a column that is not a collection, a non-boolean `where`).
    #[error("evaluation failed for {resource} at {location}: {message}")]
    Evaluation {
        /// `Type/id` of the resource (or its position in the input when it has no id).
        resource: String,
        /// Where in the ViewDefinition.
        location: String,
        /// What went wrong.
        message: String,
    },
    /// An input line or document is not a JSON resource.
    #[error("invalid resource JSON at {source_name}: {message}")]
    InvalidResource {
        /// File and line, or input position.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// A `$viewdefinition-run` Parameters resource is malformed.
    #[error("invalid parameters: {0}")]
    InvalidParameters(String),
    /// An unknown output format name.
    #[error("unknown output format `{0}` (expected csv, ndjson, json or parquet)")]
    UnknownFormat(String),
    /// Building Arrow arrays or writing CSV/JSON failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Reading or writing Parquet failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// The resource source (a store scan, a file reader) failed.
    #[error("reading resources failed: {0}")]
    Source(String),
    /// A SQL query failed to plan or run.
    #[error("sql: {0}")]
    Sql(String),
    /// Reading or writing a file failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// `Result` with the view runner's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(location: impl Into<String>, message: impl Into<String>) -> Error {
        Error::InvalidView { location: location.into(), message: message.into() }
    }

    pub(crate) fn io(path: impl AsRef<std::path::Path>, source: std::io::Error) -> Error {
        Error::Io { path: path.as_ref().display().to_string(), source }
    }
}

#[cfg(feature = "sql")]
impl From<datafusion::error::DataFusionError> for Error {
    fn from(e: datafusion::error::DataFusionError) -> Error {
        Error::Sql(e.to_string())
    }
}
