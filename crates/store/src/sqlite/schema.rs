//! The SQLite schema and connection settings.
//!
//! `resources` holds one row per logical resource pointing at its current
//! version (`seq`); `versions` holds every version ever written, keyed by a
//! global sequence number that orders system history; `txlog` records one row
//! per committed transaction so that `_since` finds its first version without a
//! scan; `sp_*` tables are search indexes, written in the same transaction as
//! the resource.

use super::{SqliteOptions, Synchronous, TypeIds};
use crate::Result;
use rusqlite::Connection;
use std::collections::HashMap;

/// Version 3 stores new version bodies compressed ([`crate::body`]) and the
/// systems of token and quantity index rows as small integers (`systems`);
/// the bodies of a version-2 database stay plain text and are read as they
/// are, its token and quantity tables are rebuilt.
const SCHEMA_VERSION: &str = "3";

pub(super) fn configure(conn: &Connection, options: &SqliteOptions, writer: bool) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    if writer {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // Index rows make writes several times larger; checkpointing every
        // 40 MB of WAL instead of every 4 MB keeps bulk import from stalling
        // on checkpoints (and their fsyncs).
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
    }
    let sync = match options.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "cache_size", -(options.cache_mib as i64 * 1024))?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Multi-row index inserts use one statement per (table, row count).
    conn.set_prepared_statement_cache_capacity(256);
    // Plans never depend on bound values, so a cached statement is not
    // re-parsed and re-planned each time a search binds new ones (without
    // this, SQLite re-prepared every search: a third of its CPU time).
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

pub(super) fn create(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE IF NOT EXISTS types (tid INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
         CREATE TABLE IF NOT EXISTS resources (
             rid INTEGER PRIMARY KEY,
             tid INTEGER NOT NULL,
             id TEXT NOT NULL,
             version INTEGER NOT NULL,
             seq INTEGER NOT NULL,
             ts INTEGER NOT NULL,
             deleted INTEGER NOT NULL,
             hash BLOB NOT NULL);
         CREATE UNIQUE INDEX IF NOT EXISTS resources_key ON resources (tid, id);
         CREATE TABLE IF NOT EXISTS versions (
             seq INTEGER PRIMARY KEY,
             rid INTEGER NOT NULL,
             tid INTEGER NOT NULL,
             version INTEGER NOT NULL,
             ts INTEGER NOT NULL,
             method INTEGER NOT NULL,
             body TEXT);
         CREATE INDEX IF NOT EXISTS versions_rid ON versions (rid, seq);
         CREATE INDEX IF NOT EXISTS versions_tid ON versions (tid, seq);
         CREATE TABLE IF NOT EXISTS txlog (tx INTEGER PRIMARY KEY, first_seq INTEGER NOT NULL, ts INTEGER NOT NULL);
         CREATE INDEX IF NOT EXISTS txlog_ts ON txlog (ts);
         CREATE INDEX IF NOT EXISTS resources_tid ON resources (tid, deleted);
         DROP TABLE IF EXISTS sp_identifier;",
    )?;
    conn.execute_batch(INDEX_TABLES)?;
    let existing: Option<String> =
        rusqlite::OptionalExtension::optional(conn.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0)))?;
    match existing {
        None => {
            conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?1)", [SCHEMA_VERSION])?;
        }
        Some(v) if v == SCHEMA_VERSION => {}
        // Versions 1 and 2 keep their text bodies (still readable); their
        // token and quantity rows held system URLs, so those tables are made
        // again, and the search index is rebuilt on open.
        Some(v) if v == "1" || v == "2" => {
            conn.execute_batch("DROP TABLE IF EXISTS sp_token; DROP TABLE IF EXISTS sp_quantity;")?;
            conn.execute_batch(INDEX_TABLES)?;
            conn.execute("UPDATE meta SET value = ?1 WHERE key = 'schema'", [SCHEMA_VERSION])?;
            conn.execute("DELETE FROM meta WHERE key = 'index'", [])?;
        }
        Some(v) => return Err(crate::Error::Corrupt(format!("database schema version {v}, this medtwin reads {SCHEMA_VERSION}"))),
    }
    // Type ids are fixed once assigned; new R4 types (none expected) get new ids.
    let mut stmt = conn.prepare("INSERT OR IGNORE INTO types (name) VALUES (?1)")?;
    for t in fhir::definitions::r4().resource_types() {
        stmt.execute([t])?;
    }
    Ok(())
}

/// The search index tables. Each is a `WITHOUT ROWID` table clustered by
/// (rid, pid, value...) so that a resource's rows are found (and replaced)
/// together, with one covering index that starts with (pid, value) so that
/// searches and counts are index-only scans. Absent parts are '' (never NULL).
/// Token and quantity systems are ids into `systems` (0 is the absent system):
/// a system URL is often longer than everything else in the row.
pub(super) const INDEX_TABLES: &str = "
    CREATE TABLE IF NOT EXISTS systems (sid INTEGER PRIMARY KEY, url TEXT NOT NULL UNIQUE);
    INSERT OR IGNORE INTO systems (sid, url) VALUES (0, '');
    CREATE TABLE IF NOT EXISTS sp_string (rid INTEGER NOT NULL, pid INTEGER NOT NULL, norm TEXT NOT NULL, raw TEXT NOT NULL,
        PRIMARY KEY (rid, pid, norm, raw)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS sp_token (rid INTEGER NOT NULL, pid INTEGER NOT NULL, code TEXT NOT NULL, sys INTEGER NOT NULL,
        PRIMARY KEY (rid, pid, code, sys)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS sp_date (rid INTEGER NOT NULL, pid INTEGER NOT NULL, lo INTEGER NOT NULL, hi INTEGER NOT NULL,
        PRIMARY KEY (rid, pid, lo, hi)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS sp_number (rid INTEGER NOT NULL, pid INTEGER NOT NULL, v REAL NOT NULL,
        PRIMARY KEY (rid, pid, v)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS sp_quantity (rid INTEGER NOT NULL, pid INTEGER NOT NULL, code TEXT NOT NULL, sys INTEGER NOT NULL, v REAL NOT NULL,
        PRIMARY KEY (rid, pid, code, sys, v)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS sp_reference (rid INTEGER NOT NULL, pid INTEGER NOT NULL, ttype TEXT NOT NULL, tid TEXT NOT NULL,
        ver TEXT NOT NULL, url TEXT NOT NULL, PRIMARY KEY (rid, pid, ttype, tid, ver, url)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS sp_uri (rid INTEGER NOT NULL, pid INTEGER NOT NULL, uri TEXT NOT NULL,
        PRIMARY KEY (rid, pid, uri)) WITHOUT ROWID;
";

/// The value-first covering indexes of the index tables (name, definition).
/// Bulk loading drops them and builds them again at the end (a sorted build
/// instead of one random B-tree insert per row); every open creates any that
/// are missing, so an interrupted bulk load heals itself.
pub(super) const VALUE_INDEXES: &[(&str, &str)] = &[
    ("sp_string_v", "sp_string (pid, norm, rid)"),
    ("sp_token_v", "sp_token (pid, code, rid, sys)"),
    ("sp_date_v", "sp_date (pid, lo, hi, rid)"),
    ("sp_number_v", "sp_number (pid, v, rid)"),
    ("sp_quantity_v", "sp_quantity (pid, code, v, rid)"),
    ("sp_reference_v", "sp_reference (pid, tid, ttype, rid)"),
    ("sp_reference_u", "sp_reference (pid, url) WHERE url != ''"),
];

/// The value indexes that do not exist.
pub(super) fn missing_value_indexes(conn: &Connection) -> Result<Vec<&'static str>> {
    let mut stmt = conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?1")?;
    let mut out = Vec::new();
    for (name, _) in VALUE_INDEXES {
        if !stmt.exists([name])? {
            out.push(*name);
        }
    }
    Ok(out)
}

/// Creates the value indexes that do not exist (a sorted build of each).
/// Sorting spills to temporary files rather than memory, so that memory stays
/// flat whatever the size of the tables, and uses a helper thread.
pub(super) fn create_value_indexes(conn: &Connection) -> Result<()> {
    if missing_value_indexes(conn)?.is_empty() {
        return Ok(());
    }
    conn.pragma_update(None, "temp_store", "FILE")?;
    conn.pragma_update(None, "threads", 2)?;
    let mut sql = String::from("BEGIN IMMEDIATE;");
    for (name, def) in VALUE_INDEXES {
        sql.push_str(&format!("CREATE INDEX IF NOT EXISTS {name} ON {def};"));
    }
    sql.push_str("COMMIT;");
    let out = conn.execute_batch(&sql);
    if out.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    conn.pragma_update(None, "threads", 0)?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    Ok(out?)
}

/// Drops the value indexes (see [`VALUE_INDEXES`]), in the caller's transaction.
pub(super) fn drop_value_indexes(conn: &Connection) -> Result<()> {
    for (name, _) in VALUE_INDEXES {
        conn.execute_batch(&format!("DROP INDEX IF EXISTS {name};"))?;
    }
    Ok(())
}

/// The index tables, for clearing a resource's rows.
pub(super) const INDEX_TABLE_NAMES: &[&str] =
    &["sp_string", "sp_token", "sp_date", "sp_number", "sp_quantity", "sp_reference", "sp_uri"];

/// Whether the stored index rows were built with the current search-parameter
/// catalogue; if not, the caller rebuilds them.
pub(super) fn index_is_current(conn: &Connection) -> Result<bool> {
    let stored: Option<String> =
        rusqlite::OptionalExtension::optional(conn.query_row("SELECT value FROM meta WHERE key = 'index'", [], |r| r.get(0)))?;
    Ok(stored.as_deref() == Some(crate::index::catalog().fingerprint().as_str()))
}

pub(super) fn mark_index_current(conn: &Connection) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('index', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [crate::index::catalog().fingerprint()],
    )?;
    Ok(())
}

pub(super) fn load_types(conn: &Connection) -> Result<TypeIds> {
    let mut by_name = HashMap::new();
    let mut by_id = HashMap::new();
    let mut stmt = conn.prepare("SELECT tid, name FROM types")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    for row in rows {
        let (tid, name) = row?;
        by_name.insert(name.clone(), tid);
        by_id.insert(tid, name);
    }
    Ok(TypeIds { by_name, by_id })
}
