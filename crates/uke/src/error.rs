//! The crate error type (what cannot be written or parsed at all) and
//! [`Issue`], a data problem that parsing reports and steps over.

use std::fmt;

/// Why something could not be done.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A character has no Shift_JIS (CP932) encoding.
    #[error("character {ch:?} in record {record} field {field} cannot be encoded in Shift_JIS")]
    Unencodable {
        /// The character.
        ch: char,
        /// 1-based record (line) number.
        record: usize,
        /// 0-based field index.
        field: usize,
    },
    /// A field value would break the record structure (comma or line break).
    #[error("field {field} of record {record} contains a comma or line break")]
    Delimiter {
        /// 1-based record (line) number.
        record: usize,
        /// 0-based field index.
        field: usize,
    },
    /// A master CSV line could not be used.
    #[error("master line {line}: {reason}")]
    Master {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
}

/// Crate result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A problem found while parsing, located by line (record) and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// True when data may have been lost (invalid bytes); false for doubts.
    pub is_error: bool,
    /// 1-based line number.
    pub line: usize,
    /// Record type (`RE`), when known.
    pub record: String,
    /// 0-based field index, when known.
    pub field: Option<usize>,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} {}", self.line, self.record)?;
        if let Some(i) = self.field {
            write!(f, "[{i}]")?;
        }
        write!(f, ": {}", self.message)
    }
}
