//! The crate error type (input that cannot be read as a message at all) and
//! [`Issue`], a data problem found while parsing that did not stop it.

use std::fmt;

/// Why a message or file name could not be processed at all.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The input is empty (or only whitespace).
    #[error("empty message")]
    Empty,
    /// The first segment is not MSH (or FHS/BHS).
    #[error("message does not start with an MSH segment (found {found:?})")]
    NoMsh {
        /// The first characters found instead.
        found: String,
    },
    /// MSH-1/MSH-2 do not give five distinct delimiter characters.
    #[error("invalid encoding characters in MSH-1/MSH-2: {reason}")]
    BadDelimiters {
        /// What is wrong with them.
        reason: String,
    },
    /// A character cannot be represented in the target character set.
    #[error("character {ch:?} cannot be encoded in {charset}")]
    Unencodable {
        /// The character.
        ch: char,
        /// The character set's name.
        charset: &'static str,
    },
    /// MSH-18 names a character set this crate does not support.
    #[error("unsupported character set {name:?} in MSH-18")]
    UnsupportedCharset {
        /// The MSH-18 value.
        name: String,
    },
    /// An SS-MIX2 file name does not follow the naming rule.
    #[error("invalid SS-MIX2 file name {name:?}: {reason}")]
    FileName {
        /// The file name.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Crate result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How serious an [`Issue`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Part of the data was lost or could not be interpreted.
    Error,
    /// The data was read but something is doubtful.
    Warning,
}

/// A problem found while parsing, located by segment and field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// How serious it is.
    pub severity: Severity,
    /// 1-based index of the segment in the message, if known.
    pub segment_index: Option<usize>,
    /// Segment id (`PID`), if known.
    pub segment: Option<String>,
    /// 1-based field number, if known.
    pub field: Option<usize>,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl Issue {
    pub(crate) fn new(severity: Severity, message: impl Into<String>) -> Self {
        Issue { severity, segment_index: None, segment: None, field: None, message: message.into() }
    }

    pub(crate) fn at(mut self, index: usize, segment: &str, field: Option<usize>) -> Self {
        self.segment_index = Some(index);
        self.segment = Some(segment.to_string());
        self.field = field;
        self
    }

    /// A location string such as `PID[3]-5` (segment id, its 1-based position, field).
    pub fn location(&self) -> String {
        let mut s = String::new();
        if let Some(seg) = &self.segment {
            s.push_str(seg);
        }
        if let Some(i) = self.segment_index {
            s.push_str(&format!("[{i}]"));
        }
        if let Some(f) = self.field {
            s.push_str(&format!("-{f}"));
        }
        s
    }
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let loc = self.location();
        if loc.is_empty() {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{loc}: {}", self.message)
        }
    }
}
