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

const SCHEMA_VERSION: &str = "1";

pub(super) fn configure(conn: &Connection, options: &SqliteOptions, writer: bool) -> Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    if writer {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    let sync = match options.synchronous {
        Synchronous::Full => "FULL",
        Synchronous::Normal => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", sync)?;
    conn.pragma_update(None, "cache_size", -(options.cache_mib as i64 * 1024))?;
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.set_prepared_statement_cache_capacity(64);
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
         CREATE TABLE IF NOT EXISTS sp_identifier (rid INTEGER NOT NULL, system TEXT NOT NULL, value TEXT NOT NULL);
         CREATE INDEX IF NOT EXISTS sp_identifier_value ON sp_identifier (value, system);
         CREATE INDEX IF NOT EXISTS sp_identifier_rid ON sp_identifier (rid);",
    )?;
    let existing: Option<String> =
        rusqlite::OptionalExtension::optional(conn.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0)))?;
    match existing {
        None => {
            conn.execute("INSERT INTO meta (key, value) VALUES ('schema', ?1)", [SCHEMA_VERSION])?;
        }
        Some(v) if v == SCHEMA_VERSION => {}
        Some(v) => return Err(crate::Error::Corrupt(format!("database schema version {v}, this medtwin reads {SCHEMA_VERSION}"))),
    }
    // Type ids are fixed once assigned; new R4 types (none expected) get new ids.
    let mut stmt = conn.prepare("INSERT OR IGNORE INTO types (name) VALUES (?1)")?;
    for t in fhir::definitions::r4().resource_types() {
        stmt.execute([t])?;
    }
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
