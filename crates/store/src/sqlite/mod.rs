//! The SQLite implementation of [`Store`]: WAL journal, one writer connection
//! behind a mutex (SQLite allows one writer at a time anyway), a pool of reader
//! connections, and a schema in which the current version of a resource is one
//! index lookup away (`resources(tid, id)` → `versions(seq)`).

mod schema;
mod search;
mod tx;

use crate::model::{Method, Stored, VersionMeta};
use crate::query::{HistoryPage, HistoryQuery};
use crate::search::{Condition, SearchQuery, SearchResult};
use crate::{Error, Instant, Result, Store, StoreTx};
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

pub(crate) use tx::SqliteTx;

/// How hard SQLite works to make a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// Every commit is flushed to disk (survives power loss). The default.
    #[default]
    Full,
    /// Commits survive a crash of the process but the last ones may be lost on power loss.
    Normal,
}

/// Options for [`SqliteStore::open`].
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// Durability of commits.
    pub synchronous: Synchronous,
    /// Page cache per connection, in MiB.
    pub cache_mib: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions { synchronous: Synchronous::Full, cache_mib: 64 }
    }
}

struct Writer {
    conn: Connection,
    last_ts: i64,
    systems: tx::Systems,
}

/// A [`Store`] on an SQLite database file (`DIR/medtwin.db`).
pub struct SqliteStore {
    writer: Mutex<Writer>,
    /// Where reader connections come from; None for an in-memory database,
    /// whose only connection is the writer's.
    path: Option<PathBuf>,
    readers: Mutex<Vec<Connection>>,
    options: SqliteOptions,
    types: Arc<TypeIds>,
}

/// Resource type names ↔ small integer ids, fixed at open time.
#[derive(Debug)]
pub(crate) struct TypeIds {
    by_name: HashMap<String, i64>,
    by_id: HashMap<i64, String>,
}

impl TypeIds {
    pub(crate) fn id(&self, name: &str) -> Result<i64> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| Error::InvalidResource(format!("unknown resource type '{name}'")))
    }

    pub(crate) fn name(&self, id: i64) -> Result<&str> {
        self.by_id.get(&id).map(String::as_str).ok_or_else(|| Error::Corrupt(format!("unknown type id {id}")))
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave a half-written transaction
    // behind (rusqlite rolls back on drop), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl SqliteStore {
    /// Opens (or creates) the store in directory `dir`.
    pub fn open(dir: &Path, options: SqliteOptions) -> Result<SqliteStore> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.display().to_string(), source })?;
        let path = dir.join("medtwin.db");
        let conn = Connection::open(&path)?;
        Self::init(conn, Some(path), options)
    }

    /// An empty store in memory (tests, examples).
    pub fn open_in_memory() -> Result<SqliteStore> {
        Self::init(Connection::open_in_memory()?, None, SqliteOptions::default())
    }

    fn init(conn: Connection, path: Option<PathBuf>, options: SqliteOptions) -> Result<SqliteStore> {
        schema::configure(&conn, &options, true)?;
        schema::create(&conn)?;
        let types = Arc::new(schema::load_types(&conn)?);
        if !schema::index_is_current(&conn)? {
            reindex(&conn)?;
        }
        // Builds what an interrupted bulk load (or the reindex) left out.
        schema::create_value_indexes(&conn)?;
        let last_ts: i64 = conn.query_row("SELECT coalesce(max(ts), 0) FROM txlog", [], |r| r.get(0))?;
        let systems = tx::Systems::load(&conn)?;
        Ok(SqliteStore {
            writer: Mutex::new(Writer { conn, last_ts, systems }),
            path,
            readers: Mutex::new(Vec::new()),
            options,
            types,
        })
    }

    /// Runs `f` with a reader connection (the writer's, for an in-memory store).
    fn with_reader<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let Some(path) = &self.path else {
            return f(&lock(&self.writer).conn);
        };
        let conn = lock(&self.readers).pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
                )?;
                schema::configure(&c, &self.options, false)?;
                c
            }
        };
        // One read transaction: every statement of the call (a page, its
        // count, its includes) sees the same snapshot, and the WAL read lock
        // is taken once instead of once per statement.
        let out = match conn.unchecked_transaction() {
            Ok(tx) => {
                let out = f(&tx);
                drop(tx); // read-only: rolling back ends the snapshot
                out
            }
            Err(e) => Err(e.into()),
        };
        let mut pool = lock(&self.readers);
        if pool.len() < 16 {
            pool.push(conn);
        }
        out
    }
}

/// Rebuilds every search index row from the current versions (after an
/// upgrade, or when the search-parameter catalogue changed).
/// The value indexes are dropped first and built again afterwards by the caller.
fn reindex(conn: &Connection) -> Result<()> {
    let txn = conn.unchecked_transaction()?;
    schema::drop_value_indexes(&txn)?;
    for t in schema::INDEX_TABLE_NAMES {
        txn.execute(&format!("DELETE FROM {t}"), [])?;
    }
    {
        let mut stmt = txn.prepare(
            "SELECT r.rid, v.body, v.version, v.ts FROM resources r JOIN versions v ON v.seq = r.seq WHERE r.deleted = 0 ORDER BY r.rid",
        )?;
        let mut rows = stmt.query([])?;
        let mut systems = tx::Systems::load(&txn)?;
        let mut body = String::new();
        while let Some(row) = rows.next()? {
            let rid: i64 = row.get(0)?;
            body.clear();
            crate::body::text_into(row.get_ref(1)?, row.get(2)?, row.get(3)?, &mut body)?;
            let value: serde_json::Value = serde_json::from_str(&body).map_err(|e| Error::Corrupt(e.to_string()))?;
            let ty = value.get("resourceType").and_then(serde_json::Value::as_str).unwrap_or("");
            let (index_rows, _) = crate::index::extract(ty, &value);
            tx::insert_rows(&txn, &mut systems, rid, &index_rows)?;
        }
    }
    schema::mark_index_current(&txn)?;
    txn.commit()?;
    Ok(())
}

impl SqliteStore {
    /// Prepares for writing about `expected` new resources in many large
    /// transactions (bulk import). When that is at least as many as the store
    /// holds, the value-first indexes of the search tables are dropped, so
    /// that each index row costs one B-tree insert (in `rid` order) instead of
    /// two, and [`SqliteStore::end_bulk_load`] builds them again with one
    /// sorted pass. Returns whether they were dropped.
    ///
    /// Searches stay correct meanwhile (they scan instead of seeking). If the
    /// process dies before `end_bulk_load`, the next [`SqliteStore::open`]
    /// builds the missing indexes, so nothing is ever left without them.
    pub fn begin_bulk_load(&self, expected: u64) -> Result<bool> {
        let w = lock(&self.writer);
        let existing: i64 = w.conn.query_row("SELECT coalesce(max(rid), 0) FROM resources", [], |r| r.get(0))?;
        if existing.max(0) as u64 > expected {
            return Ok(false);
        }
        let txn = rusqlite::Transaction::new_unchecked(&w.conn, rusqlite::TransactionBehavior::Immediate)?;
        schema::drop_value_indexes(&txn)?;
        txn.commit()?;
        Ok(true)
    }

    /// Builds the indexes [`SqliteStore::begin_bulk_load`] dropped (nothing
    /// when none is missing).
    pub fn end_bulk_load(&self) -> Result<()> {
        schema::create_value_indexes(&lock(&self.writer).conn)
    }

    /// Marks the search index as stale, so that the next open rebuilds every
    /// index row (after a benchmark import written without index rows).
    #[doc(hidden)]
    pub fn invalidate_index(&self) -> Result<()> {
        lock(&self.writer).conn.execute("DELETE FROM meta WHERE key = 'index'", [])?;
        Ok(())
    }

    /// Bytes used by the search index tables and their indexes (None when this
    /// SQLite lacks the `dbstat` table).
    pub fn index_bytes(&self) -> Result<Option<u64>> {
        self.with_reader(|c| {
            let r: rusqlite::Result<Option<i64>> =
                c.query_row("SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'sp\\_%' ESCAPE '\\'", [], |r| r.get(0));
            Ok(r.ok().flatten().map(|n| n as u64))
        })
    }

    /// The SQL and SQLite query plan of a search (for benchmarks and tuning).
    pub fn explain(&self, resource_type: &str, conditions: &[Condition]) -> Result<String> {
        self.with_reader(|c| search::explain(c, &self.types, resource_type, conditions))
    }
}

/// Reads a stored version row: (tid, id, version, seq, ts, method, body).
pub(crate) fn row_to_stored(types: &TypeIds, row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<Stored>> {
    let tid: i64 = row.get(0)?;
    let id: String = row.get(1)?;
    let version: i64 = row.get(2)?;
    let seq: i64 = row.get(3)?;
    let ts: i64 = row.get(4)?;
    let method: i64 = row.get(5)?;
    let body = match crate::body::text(row.get_ref(6)?, version, ts) {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    Ok(types.name(tid).map(|t| Stored {
        meta: VersionMeta {
            resource_type: t.to_string(),
            id,
            version: version as u64,
            last_updated: Instant(ts),
            method: Method::from_code(method),
            seq,
        },
        body: body.map(Arc::from),
    }))
}

pub(crate) const CURRENT_SQL: &str = "SELECT r.tid, r.id, r.version, r.seq, r.ts, v.method, v.body \
     FROM resources r JOIN versions v ON v.seq = r.seq WHERE r.tid = ?1 AND r.id = ?2";

pub(crate) fn read_current(conn: &Connection, types: &TypeIds, ty: &str, id: &str) -> Result<Option<Stored>> {
    let tid = types.id(ty)?;
    let mut stmt = conn.prepare_cached(CURRENT_SQL)?;
    stmt.query_row(params![tid, id], |r| row_to_stored(types, r)).optional()?.transpose()
}

impl Store for SqliteStore {
    fn transact(&self, f: &mut dyn FnMut(&mut dyn StoreTx) -> Result<()>) -> Result<()> {
        let mut w = lock(&self.writer);
        // Timestamps never go backwards, so history order and `_since` agree
        // even if the wall clock is adjusted.
        let ts = Instant::now().0.max(w.last_ts + 1);
        let writer = &mut *w;
        let txn = writer.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let written = (|| {
            let mut tx = SqliteTx::new(&txn, &self.types, &mut writer.systems, ts);
            f(&mut tx)?;
            let wrote = tx.finish()?;
            txn.commit()?;
            Ok(wrote)
        })();
        // A failed transaction is rolled back (when `txn` is dropped).
        match written {
            Ok(wrote) => {
                writer.systems.committed();
                if wrote {
                    writer.last_ts = ts;
                }
                Ok(())
            }
            Err(e) => {
                writer.systems.rolled_back();
                Err(e)
            }
        }
    }

    fn read(&self, resource_type: &str, id: &str) -> Result<Option<Stored>> {
        self.with_reader(|c| read_current(c, &self.types, resource_type, id))
    }

    fn vread(&self, resource_type: &str, id: &str, version: u64) -> Result<Option<Stored>> {
        let tid = self.types.id(resource_type)?;
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT v.tid, r.id, v.version, v.seq, v.ts, v.method, v.body FROM resources r \
                 JOIN versions v ON v.rid = r.rid WHERE r.tid = ?1 AND r.id = ?2 AND v.version = ?3",
            )?;
            stmt.query_row(params![tid, id, version as i64], |r| row_to_stored(&self.types, r)).optional()?.transpose()
        })
    }

    fn history(&self, q: &HistoryQuery) -> Result<HistoryPage> {
        use rusqlite::types::Value as V;
        self.with_reader(|c| {
            let mut filter = String::from(" WHERE 1");
            let mut args: Vec<V> = Vec::new();
            match (&q.resource_type, &q.id) {
                (Some(t), Some(id)) => {
                    let tid = self.types.id(t)?;
                    let rid: Option<i64> = c
                        .prepare_cached("SELECT rid FROM resources WHERE tid = ?1 AND id = ?2")?
                        .query_row(params![tid, id], |r| r.get(0))
                        .optional()?;
                    let Some(rid) = rid else {
                        return Err(Error::NotFound { resource_type: t.clone(), id: id.clone() });
                    };
                    filter.push_str(" AND v.rid = ?");
                    args.push(V::Integer(rid));
                }
                (Some(t), None) => {
                    filter.push_str(" AND v.tid = ?");
                    args.push(V::Integer(self.types.id(t)?));
                }
                _ => {}
            }
            if let Some(since) = q.since {
                let first: Option<i64> = c
                    .prepare_cached("SELECT min(first_seq) FROM txlog WHERE ts >= ?1")?
                    .query_row([since.0], |r| r.get(0))?;
                filter.push_str(" AND v.seq >= ?");
                args.push(V::Integer(first.unwrap_or(i64::MAX)));
            }
            let total: i64 = if q.resource_type.is_none() {
                // Sequence numbers have no gaps (versions are never removed), so
                // system-level counts need no scan.
                let max: i64 = c.query_row("SELECT coalesce(max(seq), 0) FROM versions", [], |r| r.get(0))?;
                let lo = match args.last() {
                    Some(V::Integer(lo)) => *lo,
                    _ => 1,
                };
                (max - lo + 1).max(0)
            } else {
                c.prepare_cached(&format!("SELECT count(*) FROM versions v{filter}"))?
                    .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?
            };
            if let Some(b) = q.before_seq {
                filter.push_str(" AND v.seq < ?");
                args.push(V::Integer(b));
            }
            args.push(V::Integer(q.count as i64 + 1));
            let sql = format!(
                "SELECT v.tid, r.id, v.version, v.seq, v.ts, v.method, v.body FROM versions v \
                 JOIN resources r ON r.rid = v.rid{filter} ORDER BY v.seq DESC LIMIT ?"
            );
            let mut stmt = c.prepare_cached(&sql)?;
            let mut entries = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), |r| row_to_stored(&self.types, r))?
                .collect::<rusqlite::Result<Vec<_>>>()?
                .into_iter()
                .collect::<Result<Vec<_>>>()?;
            let next = if entries.len() > q.count {
                entries.truncate(q.count);
                entries.last().map(|e| e.meta.seq)
            } else {
                None
            };
            Ok(HistoryPage { entries, next_before_seq: next, total: total as u64 })
        })
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchResult> {
        self.with_reader(|c| search::run(c, &self.types, query))
    }

    fn scan(&self, resource_type: &str, since: Option<Instant>, f: &mut dyn FnMut(&str) -> Result<()>) -> Result<()> {
        let tid = self.types.id(resource_type)?;
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT v.body, v.version, v.ts FROM resources r JOIN versions v ON v.seq = r.seq \
                 WHERE r.tid = ?1 AND r.deleted = 0 AND r.ts >= ?2 ORDER BY r.rid",
            )?;
            let mut rows = stmt.query(params![tid, since.map(|s| s.0).unwrap_or(i64::MIN)])?;
            let mut text = String::new();
            while let Some(row) = rows.next()? {
                text.clear();
                crate::body::text_into(row.get_ref(0)?, row.get(1)?, row.get(2)?, &mut text)?;
                f(&text)?;
            }
            Ok(())
        })
    }

    fn counts(&self) -> Result<Vec<(String, u64)>> {
        self.with_reader(|c| {
            let mut stmt = c.prepare_cached("SELECT tid, count(*) FROM resources WHERE deleted = 0 GROUP BY tid")?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
            let mut out = Vec::new();
            for row in rows {
                let (tid, n) = row?;
                out.push((self.types.name(tid)?.to_string(), n as u64));
            }
            out.sort();
            Ok(out)
        })
    }

    fn last_write(&self) -> Result<Option<Instant>> {
        self.with_reader(|c| {
            let ts: Option<i64> = c.query_row("SELECT max(ts) FROM txlog", [], |r| r.get(0))?;
            Ok(ts.map(Instant))
        })
    }

    fn checkpoint(&self) -> Result<()> {
        let w = lock(&self.writer);
        w.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }
}
