//! The store's error type.

/// Errors from the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The resource does not exist.
    #[error("{resource_type}/{id} not found")]
    NotFound {
        /// Resource type.
        resource_type: String,
        /// Id.
        id: String,
    },
    /// `If-Match` named a version that is no longer current.
    #[error("version conflict on {resource_type}/{id}: expected version {expected}, current is {current}")]
    VersionConflict {
        /// Resource type.
        resource_type: String,
        /// Id.
        id: String,
        /// The version the caller expected.
        expected: u64,
        /// The current version (0 if the resource does not exist).
        current: u64,
    },
    /// A search condition the store cannot evaluate.
    #[error("unsupported search parameter '{name}' for {resource_type}")]
    UnsupportedParameter {
        /// Resource type.
        resource_type: String,
        /// Parameter name (with modifier).
        name: String,
    },
    /// A search value that cannot be parsed.
    #[error("invalid value '{value}' for search parameter '{name}': {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: String,
        /// The value given.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The caller gave an invalid resource (e.g. not an object).
    #[error("invalid resource: {0}")]
    InvalidResource(String),
    /// The caller aborted the transaction on purpose; carries its reason.
    #[error("transaction aborted: {0}")]
    Aborted(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The database holds data this version cannot read.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// A bug: an invariant of the store did not hold.
    #[error("internal error: {0}")]
    Internal(String),
    /// Opening the database directory failed.
    #[error("cannot open the data directory {path}: {source}")]
    Io {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

impl Error {
    /// Whether the database was busy (another process holds a lock): worth a retry.
    pub fn is_busy(&self) -> bool {
        matches!(self, Error::Database(rusqlite::Error::SqliteFailure(e, _))
            if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
    }
}

/// The store's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
