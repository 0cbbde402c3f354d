//! What the store returns: a version's metadata and its JSON body.

use crate::Instant;
use std::sync::Arc;

/// How a version came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The first version (POST, or PUT of a new id).
    Create,
    /// A later version.
    Update,
    /// A tombstone.
    Delete,
}

impl Method {
    /// The HTTP verb history entries report for this method.
    pub fn http_verb(self) -> &'static str {
        match self {
            Method::Create => "POST",
            Method::Update => "PUT",
            Method::Delete => "DELETE",
        }
    }

    pub(crate) fn code(self) -> i64 {
        match self {
            Method::Create => 0,
            Method::Update => 1,
            Method::Delete => 2,
        }
    }

    pub(crate) fn from_code(c: i64) -> Method {
        match c {
            0 => Method::Create,
            2 => Method::Delete,
            _ => Method::Update,
        }
    }
}

/// The metadata of one version of one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMeta {
    /// Resource type.
    pub resource_type: String,
    /// Logical id.
    pub id: String,
    /// Version number, 1 for the first.
    pub version: u64,
    /// When this version was written.
    pub last_updated: Instant,
    /// How it was written.
    pub method: Method,
    /// Global write sequence number (orders system history; used as the paging cursor).
    pub seq: i64,
}

impl VersionMeta {
    /// Whether this version is a tombstone.
    pub fn deleted(&self) -> bool {
        self.method == Method::Delete
    }

    /// The weak ETag of this version (`W/"3"`).
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

/// One stored version: metadata and the JSON text of the resource with
/// `id`, `meta.versionId` and `meta.lastUpdated` filled in (None for a tombstone).
#[derive(Debug, Clone)]
pub struct Stored {
    /// The version's metadata.
    pub meta: VersionMeta,
    /// The resource as JSON text.
    pub body: Option<Arc<str>>,
}

/// The result of [`crate::StoreTx::put`].
#[derive(Debug, Clone)]
pub struct PutOutcome {
    /// The current version after the write.
    pub stored: Stored,
    /// Whether the resource did not exist (or was deleted) before.
    pub created: bool,
    /// Whether the content was identical and no version was written.
    pub unchanged: bool,
}

/// The result of [`crate::StoreTx::put_prepared`]: what happened, without the
/// stored text (bulk import does not need it back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The current version after the write.
    pub version: u64,
    /// Whether the resource did not exist (or was deleted) before.
    pub created: bool,
    /// Whether the content was identical and no version was written.
    pub unchanged: bool,
}
