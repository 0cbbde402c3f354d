//! The FHIR resource store: every write creates a new version, all versions are
//! kept, and the current version of a resource is found with one index lookup.
//!
//! [`Store`] is the façade; [`SqliteStore`] is the embedded implementation (WAL,
//! one writer, a pool of readers). Writes happen inside [`Store::transact`]: the
//! closure gets a [`StoreTx`] and either everything it wrote is committed or
//! nothing is, so a FHIR transaction Bundle, an import batch and the search
//! indexes of each resource share one database transaction.
//!
//! ```
//! use store::{Store, SqliteStore};
//! let store = SqliteStore::open_in_memory().unwrap();
//! let mut created = None;
//! store.transact(&mut |tx| {
//!     created = Some(tx.create("Patient", serde_json::json!({"resourceType": "Patient"}))?);
//!     Ok(())
//! }).unwrap();
//! let meta = created.unwrap().meta;
//! assert_eq!(meta.version, 1);
//! assert!(store.read("Patient", &meta.id).unwrap().is_some());
//!
//! // Every R4 search parameter was indexed in the same transaction.
//! let conditions = store::parse_conditions("Patient", &[("_id".into(), meta.id.clone())]).unwrap();
//! let query = store::SearchQuery {
//!     resource_types: vec!["Patient".into()],
//!     conditions: vec![conditions],
//!     count: 10,
//!     ..Default::default()
//! };
//! assert_eq!(store.search(&query).unwrap().entries.len(), 1);
//! ```
//!
//! Search is planned in [`search`] (parameters → typed [`Condition`]s) and
//! indexed by [`index`] (the catalogue of R4 parameters and their compiled
//! FHIRPath expressions); the SQLite backend compiles plans to SQL.
#![warn(missing_docs)]

mod body;
mod error;
pub mod index;
mod instant;
mod model;
mod prepare;
mod query;
pub mod search;
mod sqlite;

pub use error::{Error, Result};
pub use instant::Instant;
pub use model::{Method, PutOutcome, Stored, VersionMeta, Written};
pub use prepare::{Prepared, prepare, prepare_unindexed};
pub use query::{HistoryPage, HistoryQuery};
pub use search::{Condition, Include, SearchQuery, SearchResult, SortKey, TotalMode, parse_conditions};
pub use sqlite::{SqliteOptions, SqliteStore, Synchronous};

use serde_json::Value;

/// Operations available inside one atomic write transaction.
pub trait StoreTx {
    /// The current version of a resource (a tombstone if it was deleted), or None if it never existed.
    fn read(&mut self, resource_type: &str, id: &str) -> Result<Option<Stored>>;

    /// Creates a resource with a new server-assigned id. Any `id` in `resource` is replaced.
    fn create(&mut self, resource_type: &str, resource: Value) -> Result<Stored>;

    /// Creates a resource with a given id (update-as-create), or updates it.
    /// `if_match` makes the write conditional on the current version (412 otherwise).
    /// With `skip_unchanged`, a resource identical to its current version creates no new version.
    fn put(
        &mut self,
        resource_type: &str,
        id: &str,
        resource: Value,
        if_match: Option<u64>,
        skip_unchanged: bool,
    ) -> Result<PutOutcome>;

    /// [`StoreTx::put`] with index rows the caller extracted beforehand with
    /// [`index::extract`] (on another thread, outside the writer lock), so that
    /// bulk import keeps only the SQLite inserts serial. The rows must come
    /// from `resource` itself.
    fn put_indexed(
        &mut self,
        resource_type: &str,
        id: &str,
        resource: Value,
        if_match: Option<u64>,
        skip_unchanged: bool,
        index: Vec<index::Row>,
    ) -> Result<PutOutcome>;

    /// [`StoreTx::put`] of a resource that [`prepare`] checked, hashed,
    /// indexed and serialized beforehand (on another thread, outside the
    /// writer lock): only the lookup of the current version and the SQLite
    /// writes are left. Bulk import uses it.
    fn put_prepared(&mut self, prepared: &Prepared, if_match: Option<u64>, skip_unchanged: bool) -> Result<Written>;

    /// Deletes a resource by writing a tombstone version. Returns the tombstone,
    /// or None when there was nothing to delete (never existed or already deleted).
    fn delete(&mut self, resource_type: &str, id: &str, if_match: Option<u64>) -> Result<Option<Stored>>;

    /// The ids of current resources of `resource_type` that match all conditions
    /// (at most `limit`), for conditional create, update and delete.
    fn find(&mut self, resource_type: &str, conditions: &[Condition], limit: usize) -> Result<Vec<String>>;
}

/// A FHIR resource repository.
pub trait Store: Send + Sync {
    /// Runs `f` in one atomic write transaction: all of its writes are committed
    /// together when it returns Ok, none when it returns Err.
    fn transact(&self, f: &mut dyn FnMut(&mut dyn StoreTx) -> Result<()>) -> Result<()>;

    /// The current version (a tombstone if deleted), or None if it never existed.
    fn read(&self, resource_type: &str, id: &str) -> Result<Option<Stored>>;

    /// One version of a resource.
    fn vread(&self, resource_type: &str, id: &str, version: u64) -> Result<Option<Stored>>;

    /// History at system, type or instance level, newest first.
    fn history(&self, query: &HistoryQuery) -> Result<HistoryPage>;

    /// One page of current, non-deleted resources matching a search, in the
    /// requested sort order (storage order by default), with keyset paging,
    /// `_include`/`_revinclude` targets and the total when asked for.
    fn search(&self, query: &SearchQuery) -> Result<SearchResult>;

    /// Streams the bodies of the current, non-deleted resources of a type last
    /// updated at or after `since`, in storage order.
    fn scan(&self, resource_type: &str, since: Option<Instant>, f: &mut dyn FnMut(&str) -> Result<()>) -> Result<()>;

    /// Number of current, non-deleted resources per type.
    fn counts(&self) -> Result<Vec<(String, u64)>>;

    /// The time of the last committed write, if any.
    fn last_write(&self) -> Result<Option<Instant>>;

    /// Flushes the write-ahead log into the main database file (on shutdown).
    fn checkpoint(&self) -> Result<()>;
}

#[cfg(test)]
mod tests;
