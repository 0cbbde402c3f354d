//! History queries: system, type and instance history pages with `_since`
//! and keyset paging on the global sequence number.

use crate::{Instant, Stored};

/// A history request.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Restrict to one type (type or instance level).
    pub resource_type: Option<String>,
    /// Restrict to one resource (instance level; needs `resource_type`).
    pub id: Option<String>,
    /// Only versions written at or after this instant.
    pub since: Option<Instant>,
    /// Page size.
    pub count: usize,
    /// Keyset cursor: only versions with a sequence number below this.
    pub before_seq: Option<i64>,
}

/// One page of history, newest first.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// The versions on this page.
    pub entries: Vec<Stored>,
    /// The cursor for the next page, if there is one.
    pub next_before_seq: Option<i64>,
    /// The number of versions matching the query (all pages).
    pub total: u64,
}

