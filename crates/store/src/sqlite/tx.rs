//! One write transaction on SQLite: creates, updates and deletes write a new
//! version, move the resource's current pointer and refresh its search index
//! rows, all inside the caller's transaction.
//!
//! The writer assigns sequence numbers itself (it holds the write lock, and
//! versions are never removed, so `max(seq) + 1` is free), so a new resource
//! costs one lookup, one `resources` insert, one `versions` insert and its
//! index rows.

use super::{TypeIds, read_current};
use crate::index::Row;
use crate::model::{Method, PutOutcome, Stored, VersionMeta, Written};
use crate::body::Layout;
use crate::prepare::{Prepared, check_object, layout_and_hash};
use crate::search::Condition;
use crate::{Error, Instant, Result, StoreTx};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};


pub(crate) struct SqliteTx<'a> {
    conn: &'a Connection,
    types: &'a TypeIds,
    systems: &'a mut Systems,
    ts: i64,
    first_seq: Option<i64>,
    /// The sequence number of the next version (read on first use).
    next_seq: Option<i64>,
    /// Index rows extracted by the caller for the next write (see `put_indexed`).
    pre_extracted: Option<Vec<Row>>,
}

/// The current row of a resource.
struct Current {
    rid: i64,
    version: i64,
    deleted: bool,
    hash: Vec<u8>,
}

/// What a write did, before the caller builds its answer.
struct Wrote {
    version: i64,
    seq: i64,
    method: Method,
}

impl<'a> SqliteTx<'a> {
    pub(crate) fn new(conn: &'a Connection, types: &'a TypeIds, systems: &'a mut Systems, ts: i64) -> Self {
        SqliteTx { conn, types, systems, ts, first_seq: None, next_seq: None, pre_extracted: None }
    }

    /// Records the transaction in the log. Returns whether anything was written.
    pub(crate) fn finish(self) -> Result<bool> {
        match self.first_seq {
            Some(first) => {
                self.conn
                    .prepare_cached("INSERT INTO txlog (first_seq, ts) VALUES (?1, ?2)")?
                    .execute(params![first, self.ts])?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn current(&self, tid: i64, id: &str) -> Result<Option<Current>> {
        let mut stmt = self.conn.prepare_cached("SELECT rid, version, deleted, hash FROM resources WHERE tid = ?1 AND id = ?2")?;
        Ok(stmt
            .query_row(params![tid, id], |r| {
                Ok(Current { rid: r.get(0)?, version: r.get(1)?, deleted: r.get::<_, i64>(2)? != 0, hash: r.get(3)? })
            })
            .optional()?)
    }

    /// The next sequence number. Versions are never removed and this
    /// transaction holds the write lock, so nobody else can take it.
    fn take_seq(&mut self) -> Result<i64> {
        let seq = match self.next_seq {
            Some(s) => s,
            None => self.conn.query_row("SELECT coalesce(max(seq), 0) + 1 FROM versions", [], |r| r.get(0))?,
        };
        self.next_seq = Some(seq + 1);
        self.first_seq.get_or_insert(seq);
        Ok(seq)
    }

    fn insert_version(&mut self, seq: i64, rid: i64, tid: i64, version: i64, method: Method, body: Option<&[u8]>) -> Result<()> {
        self.conn
            .prepare_cached("INSERT INTO versions (seq, rid, tid, version, ts, method, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
            .execute(params![seq, rid, tid, version, self.ts, method.code(), body])?;
        Ok(())
    }

    /// Writes version `version` (the next one) of a resource, whose row may
    /// not exist yet, with its stored body ([`crate::body`]) and index rows.
    #[allow(clippy::too_many_arguments)]
    fn write_version(
        &mut self,
        tid: i64,
        id: &str,
        existing: Option<&Current>,
        version: i64,
        hash: &[u8; 16],
        stored: &[u8],
        rows: &[Row],
    ) -> Result<Wrote> {
        let method = if existing.is_some_and(|c| !c.deleted) { Method::Update } else { Method::Create };
        let seq = self.take_seq()?;
        match existing {
            Some(c) => {
                self.insert_version(seq, c.rid, tid, version, method, Some(stored))?;
                self.conn
                    .prepare_cached("UPDATE resources SET version = ?2, seq = ?3, ts = ?4, deleted = 0, hash = ?5 WHERE rid = ?1")?
                    .execute(params![c.rid, version, seq, self.ts, &hash[..]])?;
                clear_index(self.conn, c.rid)?;
                insert_rows(self.conn, self.systems, c.rid, rows)?;
            }
            None => {
                // The seq is known before the version row is written, so the
                // resource row is written once.
                self.conn
                    .prepare_cached(
                        "INSERT INTO resources (tid, id, version, seq, ts, deleted, hash) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)",
                    )?
                    .execute(params![tid, id, version, seq, self.ts, &hash[..]])?;
                let rid = self.conn.last_insert_rowid();
                self.insert_version(seq, rid, tid, version, method, Some(stored))?;
                insert_rows(self.conn, self.systems, rid, rows)?;
            }
        }
        Ok(Wrote { version, seq, method })
    }

    /// Writes a resource given as a JSON value, with its stored layout and
    /// content hash ([`layout_and_hash`]).
    fn write(&mut self, ty: &str, id: &str, existing: Option<&Current>, resource: Value, (layout, hash): (Layout, [u8; 16])) -> Result<Stored> {
        let tid = self.types.id(ty)?;
        let version = existing.map(|c| c.version + 1).unwrap_or(1);
        let body = layout.text(version as u64, Instant(self.ts));
        let rows = match self.pre_extracted.take() {
            Some(rows) => rows,
            None => crate::index::extract(ty, &resource).0,
        };
        drop(resource);
        let w = self.write_version(tid, id, existing, version, &hash, &layout.pack()?, &rows)?;
        Ok(Stored {
            meta: VersionMeta {
                resource_type: ty.to_string(),
                id: id.to_string(),
                version: w.version as u64,
                last_updated: Instant(self.ts),
                method: w.method,
                seq: w.seq,
            },
            body: Some(Arc::from(body)),
        })
    }

    /// The current row of `tid/id`, checked against `if_match`.
    fn current_matching(&self, resource_type: &str, tid: i64, id: &str, if_match: Option<u64>) -> Result<Option<Current>> {
        let existing = self.current(tid, id)?;
        if let Some(expected) = if_match {
            let current = existing.as_ref().filter(|c| !c.deleted).map(|c| c.version as u64).unwrap_or(0);
            if current != expected {
                return Err(Error::VersionConflict { resource_type: resource_type.into(), id: id.into(), expected, current });
            }
        }
        Ok(existing)
    }
}

/// Removes every index row of a resource.
pub(crate) fn clear_index(conn: &Connection, rid: i64) -> Result<()> {
    for t in super::schema::INDEX_TABLE_NAMES {
        conn.prepare_cached(&format!("DELETE FROM {t} WHERE rid = ?1"))?.execute([rid])?;
    }
    Ok(())
}

/// Rows per multi-row INSERT.
const CHUNK: usize = 16;

/// (table, columns) of each index table, in the order of [`table_of`].
const TABLES: [(&str, &str); 7] = [
    ("sp_string", "rid, pid, norm, raw"),
    ("sp_token", "rid, pid, code, sys"),
    ("sp_date", "rid, pid, lo, hi"),
    ("sp_number", "rid, pid, v"),
    ("sp_quantity", "rid, pid, code, sys, v"),
    ("sp_reference", "rid, pid, ttype, tid, ver, url"),
    ("sp_uri", "rid, pid, uri"),
];

fn table_of(row: &Row) -> usize {
    match row {
        Row::Str { .. } => 0,
        Row::Token { .. } => 1,
        Row::Date { .. } => 2,
        Row::Number { .. } => 3,
        Row::Quantity { .. } => 4,
        Row::Reference { .. } => 5,
        Row::Uri { .. } => 6,
    }
}

/// The multi-row INSERT of `n` rows (1..=CHUNK) into table `t`, built once.
fn insert_sql(t: usize, n: usize) -> &'static str {
    static SQL: OnceLock<Vec<Vec<String>>> = OnceLock::new();
    let all = SQL.get_or_init(|| {
        TABLES
            .iter()
            .map(|(table, cols)| {
                let width = cols.split(',').count();
                let tuple = format!("({})", vec!["?"; width].join(","));
                (0..=CHUNK)
                    .map(|k| format!("INSERT OR IGNORE INTO {table} ({cols}) VALUES {}", vec![tuple.as_str(); k.max(1)].join(",")))
                    .collect()
            })
            .collect()
    });
    &all[t][n]
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("")
}

/// Binds the values of one row (after `rid`) from parameter index `i`; returns the next index.
/// `sid` is the id of the row's system (token and quantity rows).
fn bind_row(stmt: &mut rusqlite::Statement<'_>, mut i: usize, rid: i64, row: &Row, sid: i64) -> rusqlite::Result<usize> {
    stmt.raw_bind_parameter(i, rid)?;
    i += 1;
    match row {
        Row::Str { pid, norm, raw } => {
            stmt.raw_bind_parameter(i, pid)?;
            stmt.raw_bind_parameter(i + 1, norm.as_str())?;
            stmt.raw_bind_parameter(i + 2, raw.as_str())?;
            Ok(i + 3)
        }
        Row::Token { pid, code, .. } => {
            stmt.raw_bind_parameter(i, pid)?;
            stmt.raw_bind_parameter(i + 1, code.as_str())?;
            stmt.raw_bind_parameter(i + 2, sid)?;
            Ok(i + 3)
        }
        Row::Date { pid, lo, hi } => {
            stmt.raw_bind_parameter(i, pid)?;
            stmt.raw_bind_parameter(i + 1, lo)?;
            stmt.raw_bind_parameter(i + 2, hi)?;
            Ok(i + 3)
        }
        Row::Number { pid, value } => {
            stmt.raw_bind_parameter(i, pid)?;
            stmt.raw_bind_parameter(i + 1, value)?;
            Ok(i + 2)
        }
        Row::Quantity { pid, value, code, .. } => {
            stmt.raw_bind_parameter(i, pid)?;
            stmt.raw_bind_parameter(i + 1, code.as_str())?;
            stmt.raw_bind_parameter(i + 2, sid)?;
            stmt.raw_bind_parameter(i + 3, value)?;
            Ok(i + 4)
        }
        Row::Reference { pid, target_type, target_id, version, url } => {
            stmt.raw_bind_parameter(i, pid)?;
            stmt.raw_bind_parameter(i + 1, opt(target_type))?;
            stmt.raw_bind_parameter(i + 2, opt(target_id))?;
            stmt.raw_bind_parameter(i + 3, opt(version))?;
            stmt.raw_bind_parameter(i + 4, opt(url))?;
            Ok(i + 5)
        }
        Row::Uri { pid, uri } => {
            stmt.raw_bind_parameter(i, pid)?;
            stmt.raw_bind_parameter(i + 1, uri.as_str())?;
            Ok(i + 2)
        }
    }
}

/// Writes index rows of a resource: one multi-row INSERT per table (in
/// chunks of up to 16 rows), which costs far less than a statement per row.
/// Values are bound in place (no copies); the SQL texts are built once.
pub(crate) fn insert_rows(conn: &Connection, systems: &mut Systems, rid: i64, rows: &[Row]) -> Result<()> {
    let mut per: [Vec<(&Row, i64)>; 7] = Default::default();
    for row in rows {
        let sid = match row {
            Row::Token { system, .. } | Row::Quantity { system, .. } => systems.id(conn, system)?,
            _ => 0,
        };
        per[table_of(row)].push((row, sid));
    }
    for (t, rs) in per.iter().enumerate() {
        for chunk in rs.chunks(CHUNK) {
            let mut stmt = conn.prepare_cached(insert_sql(t, chunk.len()))?;
            let mut i = 1;
            for (row, sid) in chunk {
                i = bind_row(&mut stmt, i, rid, row, *sid)?;
            }
            stmt.raw_execute()?;
        }
    }
    Ok(())
}

/// Token and quantity system URLs ↔ their ids in `systems`, cached for the
/// writer. Ids given out in a transaction that rolls back are forgotten.
#[derive(Debug, Default)]
pub(crate) struct Systems {
    ids: HashMap<String, i64>,
    /// URLs added since the last commit.
    added: Vec<String>,
}

impl Systems {
    pub(crate) fn load(conn: &Connection) -> Result<Systems> {
        let mut stmt = conn.prepare("SELECT url, sid FROM systems")?;
        let ids = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<_>>()?;
        Ok(Systems { ids, added: Vec::new() })
    }

    /// The id of `url`, added to `systems` if new.
    fn id(&mut self, conn: &Connection, url: &str) -> Result<i64> {
        if let Some(&sid) = self.ids.get(url) {
            return Ok(sid);
        }
        conn.prepare_cached("INSERT INTO systems (url) VALUES (?1)")?.execute([url])?;
        let sid = conn.last_insert_rowid();
        self.ids.insert(url.to_string(), sid);
        self.added.push(url.to_string());
        Ok(sid)
    }

    /// The transaction committed: its new ids stay.
    pub(crate) fn committed(&mut self) {
        self.added.clear();
    }

    /// The transaction rolled back: its new ids are gone from the database.
    pub(crate) fn rolled_back(&mut self) {
        for url in self.added.drain(..) {
            self.ids.remove(&url);
        }
    }
}

impl StoreTx for SqliteTx<'_> {
    fn read(&mut self, resource_type: &str, id: &str) -> Result<Option<Stored>> {
        read_current(self.conn, self.types, resource_type, id)
    }

    fn create(&mut self, resource_type: &str, resource: Value) -> Result<Stored> {
        check_object(&resource, resource_type)?;
        let id = uuid::Uuid::new_v4().to_string();
        let layout = layout_and_hash(&resource, &id)?;
        self.write(resource_type, &id, None, resource, layout)
    }

    fn put(
        &mut self,
        resource_type: &str,
        id: &str,
        resource: Value,
        if_match: Option<u64>,
        skip_unchanged: bool,
    ) -> Result<PutOutcome> {
        check_object(&resource, resource_type)?;
        if !fhir::id::is_valid_id(id) {
            return Err(Error::InvalidResource(format!("invalid id '{id}'")));
        }
        let tid = self.types.id(resource_type)?;
        let existing = self.current_matching(resource_type, tid, id, if_match)?;
        let layout = layout_and_hash(&resource, id)?;
        if let Some(c) = &existing
            && skip_unchanged
            && !c.deleted
            && c.hash == layout.1
        {
            let stored = read_current(self.conn, self.types, resource_type, id)?
                .ok_or_else(|| Error::Corrupt(format!("{resource_type}/{id} has no current version")))?;
            return Ok(PutOutcome { stored, created: false, unchanged: true });
        }
        let created = existing.as_ref().is_none_or(|c| c.deleted);
        let stored = self.write(resource_type, id, existing.as_ref(), resource, layout)?;
        Ok(PutOutcome { stored, created, unchanged: false })
    }

    fn put_indexed(
        &mut self,
        resource_type: &str,
        id: &str,
        resource: Value,
        if_match: Option<u64>,
        skip_unchanged: bool,
        index: Vec<Row>,
    ) -> Result<PutOutcome> {
        self.pre_extracted = Some(index);
        let out = self.put(resource_type, id, resource, if_match, skip_unchanged);
        self.pre_extracted = None;
        out
    }

    fn put_prepared(&mut self, p: &Prepared, if_match: Option<u64>, skip_unchanged: bool) -> Result<Written> {
        let tid = self.types.id(&p.resource_type)?;
        let existing = self.current_matching(&p.resource_type, tid, &p.id, if_match)?;
        if let Some(c) = &existing
            && skip_unchanged
            && !c.deleted
            && c.hash == p.hash
        {
            return Ok(Written { version: c.version as u64, created: false, unchanged: true });
        }
        let version = existing.as_ref().map(|c| c.version + 1).unwrap_or(1);
        let w = self.write_version(tid, &p.id, existing.as_ref(), version, &p.hash, &p.stored, &p.index)?;
        Ok(Written { version: w.version as u64, created: w.method == Method::Create, unchanged: false })
    }

    fn delete(&mut self, resource_type: &str, id: &str, if_match: Option<u64>) -> Result<Option<Stored>> {
        let tid = self.types.id(resource_type)?;
        let existing = self.current_matching(resource_type, tid, id, if_match)?;
        let Some(c) = existing.filter(|c| !c.deleted) else { return Ok(None) };
        let version = c.version + 1;
        let seq = self.take_seq()?;
        self.insert_version(seq, c.rid, tid, version, Method::Delete, None)?;
        self.conn
            .prepare_cached("UPDATE resources SET version = ?2, seq = ?3, ts = ?4, deleted = 1 WHERE rid = ?1")?
            .execute(params![c.rid, version, seq, self.ts])?;
        clear_index(self.conn, c.rid)?;
        Ok(Some(Stored {
            meta: VersionMeta {
                resource_type: resource_type.into(),
                id: id.into(),
                version: version as u64,
                last_updated: Instant(self.ts),
                method: Method::Delete,
                seq,
            },
            body: None,
        }))
    }

    fn find(&mut self, resource_type: &str, conditions: &[Condition], limit: usize) -> Result<Vec<String>> {
        super::search::find_ids(self.conn, self.types, resource_type, conditions, limit)
    }
}
