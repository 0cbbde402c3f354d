//! The crate error type: only what stops a whole run (an unreadable storage
//! root). Problems with individual files, messages or fields are report
//! entries, never errors.

/// Why a conversion run could not start or continue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage root or an input file list could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Crate result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
