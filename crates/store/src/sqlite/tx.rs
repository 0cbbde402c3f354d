//! One write transaction on SQLite: creates, updates and deletes write a new
//! version row, move the resource's current pointer and refresh its search
//! index rows, all inside the caller's transaction.

use super::{TypeIds, read_current};
use crate::model::{Method, PutOutcome, Stored, VersionMeta};
use crate::search::Condition;
use crate::index::Row;
use crate::{Error, Instant, Result, StoreTx};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};
use std::sync::Arc;

pub(crate) struct SqliteTx<'a> {
    conn: &'a Connection,
    types: &'a TypeIds,
    ts: i64,
    first_seq: Option<i64>,
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

impl<'a> SqliteTx<'a> {
    pub(crate) fn new(conn: &'a Connection, types: &'a TypeIds, ts: i64) -> Self {
        SqliteTx { conn, types, ts, first_seq: None, pre_extracted: None }
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

    fn insert_version(&mut self, rid: i64, tid: i64, version: i64, method: Method, body: Option<&str>) -> Result<i64> {
        self.conn
            .prepare_cached("INSERT INTO versions (rid, tid, version, ts, method, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
            .execute(params![rid, tid, version, self.ts, method.code(), body])?;
        let seq = self.conn.last_insert_rowid();
        self.first_seq.get_or_insert(seq);
        Ok(seq)
    }

    /// Writes version `version` of a resource whose row may not exist yet.
    fn write(
        &mut self,
        ty: &str,
        id: &str,
        existing: Option<&Current>,
        mut resource: Value,
        hash: [u8; 16],
    ) -> Result<Stored> {
        let tid = self.types.id(ty)?;
        let version = existing.map(|c| c.version + 1).unwrap_or(1);
        let method = if existing.is_some_and(|c| !c.deleted) { Method::Update } else { Method::Create };
        stamp(&mut resource, id, version as u64, Instant(self.ts));
        let body = serde_json::to_string(&resource).map_err(|e| Error::InvalidResource(e.to_string()))?;
        let rid = match existing {
            Some(c) => c.rid,
            None => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO resources (tid, id, version, seq, ts, deleted, hash) VALUES (?1, ?2, 0, 0, ?3, 0, ?4)",
                    )?
                    .execute(params![tid, id, self.ts, &hash[..]])?;
                self.conn.last_insert_rowid()
            }
        };
        let seq = self.insert_version(rid, tid, version, method, Some(&body))?;
        self.conn
            .prepare_cached("UPDATE resources SET version = ?2, seq = ?3, ts = ?4, deleted = 0, hash = ?5 WHERE rid = ?1")?
            .execute(params![rid, version, seq, self.ts, &hash[..]])?;
        self.index(rid, existing.is_some(), &resource)?;
        Ok(Stored {
            meta: VersionMeta {
                resource_type: ty.to_string(),
                id: id.to_string(),
                version: version as u64,
                last_updated: Instant(self.ts),
                method,
                seq,
            },
            body: Some(Arc::from(body)),
        })
    }

    /// Refreshes the search index rows of one resource.
    fn index(&mut self, rid: i64, had_rows: bool, resource: &Value) -> Result<()> {
        if had_rows {
            clear_index(self.conn, rid)?;
        }
        let rows = match self.pre_extracted.take() {
            Some(rows) => rows,
            None => {
                let ty = resource.get("resourceType").and_then(Value::as_str).unwrap_or("");
                crate::index::extract(ty, resource).0
            }
        };
        insert_rows(self.conn, rid, &rows)
    }
}

/// Removes every index row of a resource.
pub(crate) fn clear_index(conn: &Connection, rid: i64) -> Result<()> {
    for t in super::schema::INDEX_TABLE_NAMES {
        conn.prepare_cached(&format!("DELETE FROM {t} WHERE rid = ?1"))?.execute([rid])?;
    }
    Ok(())
}

/// Writes index rows of a resource: one multi-row INSERT per table (in
/// chunks), which costs far less than a statement per row.
pub(crate) fn insert_rows(conn: &Connection, rid: i64, rows: &[Row]) -> Result<()> {
    use rusqlite::types::Value as V;
    const CHUNK: usize = 16;
    // (table, columns, values per row)
    let mut groups: [(&str, &str, usize, Vec<V>); 7] = [
        ("sp_string", "rid, pid, norm, raw", 4, Vec::new()),
        ("sp_token", "rid, pid, code, sys", 4, Vec::new()),
        ("sp_date", "rid, pid, lo, hi", 4, Vec::new()),
        ("sp_number", "rid, pid, v", 3, Vec::new()),
        ("sp_quantity", "rid, pid, code, sys, v", 5, Vec::new()),
        ("sp_reference", "rid, pid, ttype, tid, ver, url", 6, Vec::new()),
        ("sp_uri", "rid, pid, uri", 3, Vec::new()),
    ];
    let text = |s: &Option<String>| V::Text(s.clone().unwrap_or_default());
    for row in rows {
        let (g, vals): (usize, Vec<V>) = match row {
            Row::Str { pid, norm, raw } => (0, vec![V::Integer(rid), V::Integer(*pid), V::Text(norm.clone()), V::Text(raw.clone())]),
            Row::Token { pid, system, code } => (1, vec![V::Integer(rid), V::Integer(*pid), V::Text(code.clone()), V::Text(system.clone())]),
            Row::Date { pid, lo, hi } => (2, vec![V::Integer(rid), V::Integer(*pid), V::Integer(*lo), V::Integer(*hi)]),
            Row::Number { pid, value } => (3, vec![V::Integer(rid), V::Integer(*pid), V::Real(*value)]),
            Row::Quantity { pid, value, system, code } => {
                (4, vec![V::Integer(rid), V::Integer(*pid), V::Text(code.clone()), V::Text(system.clone()), V::Real(*value)])
            }
            Row::Reference { pid, target_type, target_id, version, url } => {
                (5, vec![V::Integer(rid), V::Integer(*pid), text(target_type), text(target_id), text(version), text(url)])
            }
            Row::Uri { pid, uri } => (6, vec![V::Integer(rid), V::Integer(*pid), V::Text(uri.clone())]),
        };
        groups[g].3.extend(vals);
    }
    for (table, cols, width, vals) in &groups {
        for chunk in vals.chunks(width * CHUNK) {
            let n = chunk.len() / width;
            let tuple = format!("({})", vec!["?"; *width].join(","));
            let sql = format!("INSERT OR IGNORE INTO {table} ({cols}) VALUES {}", vec![tuple.as_str(); n].join(","));
            conn.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(chunk.iter()))?;
        }
    }
    Ok(())
}

/// Sets `id`, `meta.versionId` and `meta.lastUpdated`, keeping `resourceType`,
/// `id` and `meta` first as FHIR examples do.
fn stamp(resource: &mut Value, id: &str, version: u64, ts: Instant) {
    let Value::Object(obj) = resource else { return };
    let old = std::mem::take(obj);
    let mut meta = match old.get("meta") {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    meta.insert("versionId".into(), Value::String(version.to_string()));
    meta.insert("lastUpdated".into(), Value::String(ts.to_fhir()));
    let mut out = Map::with_capacity(old.len() + 2);
    if let Some(rt) = old.get("resourceType") {
        out.insert("resourceType".into(), rt.clone());
    }
    out.insert("id".into(), Value::String(id.to_string()));
    out.insert("meta".into(), Value::Object(meta));
    for (k, v) in old {
        if k != "resourceType" && k != "id" && k != "meta" {
            out.insert(k, v);
        }
    }
    *obj = out;
}

/// A hash of the content that matters for "unchanged": everything except the
/// server-maintained `meta.versionId` and `meta.lastUpdated`.
fn content_hash(resource: &Value, id: &str) -> [u8; 16] {
    let mut hasher = blake3::Hasher::new();
    if let Value::Object(obj) = resource {
        // Top-level order does not matter (stamping reorders keys).
        let mut keys: Vec<&String> = obj.keys().filter(|k| *k != "id").collect();
        keys.sort();
        for k in keys {
            let v = &obj[k.as_str()];
            if k == "meta" {
                let Value::Object(m) = v else { continue };
                let rest: Vec<_> = m.iter().filter(|(mk, _)| *mk != "versionId" && *mk != "lastUpdated").collect();
                if rest.is_empty() {
                    continue;
                }
                hasher.update(b"meta\0");
                for (mk, mv) in rest {
                    hasher.update(mk.as_bytes());
                    hasher.update(mv.to_string().as_bytes());
                }
            } else {
                hasher.update(k.as_bytes());
                hasher.update(b"\0");
                hasher.update(v.to_string().as_bytes());
            }
            hasher.update(b"\0");
        }
    }
    hasher.update(id.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
    out
}

fn check_object(resource: &Value, ty: &str) -> Result<()> {
    match resource.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == ty => Ok(()),
        Some(t) => Err(Error::InvalidResource(format!("resourceType '{t}' does not match '{ty}'"))),
        None => Err(Error::InvalidResource("not a FHIR resource object".into())),
    }
}

impl StoreTx for SqliteTx<'_> {
    fn read(&mut self, resource_type: &str, id: &str) -> Result<Option<Stored>> {
        read_current(self.conn, self.types, resource_type, id)
    }

    fn create(&mut self, resource_type: &str, resource: Value) -> Result<Stored> {
        check_object(&resource, resource_type)?;
        let id = uuid::Uuid::new_v4().to_string();
        let hash = content_hash(&resource, &id);
        self.write(resource_type, &id, None, resource, hash)
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
        let existing = self.current(tid, id)?;
        if let Some(expected) = if_match {
            let current = existing.as_ref().filter(|c| !c.deleted).map(|c| c.version as u64).unwrap_or(0);
            if current != expected {
                return Err(Error::VersionConflict {
                    resource_type: resource_type.into(),
                    id: id.into(),
                    expected,
                    current,
                });
            }
        }
        let hash = content_hash(&resource, id);
        if let Some(c) = &existing
            && skip_unchanged
            && !c.deleted
            && c.hash == hash
        {
            let stored = read_current(self.conn, self.types, resource_type, id)?
                .ok_or_else(|| Error::Corrupt(format!("{resource_type}/{id} has no current version")))?;
            return Ok(PutOutcome { stored, created: false, unchanged: true });
        }
        let created = existing.as_ref().is_none_or(|c| c.deleted);
        let stored = self.write(resource_type, id, existing.as_ref(), resource, hash)?;
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

    fn delete(&mut self, resource_type: &str, id: &str, if_match: Option<u64>) -> Result<Option<Stored>> {
        let tid = self.types.id(resource_type)?;
        let existing = self.current(tid, id)?;
        if let Some(expected) = if_match {
            let current = existing.as_ref().filter(|c| !c.deleted).map(|c| c.version as u64).unwrap_or(0);
            if current != expected {
                return Err(Error::VersionConflict {
                    resource_type: resource_type.into(),
                    id: id.into(),
                    expected,
                    current,
                });
            }
        }
        let Some(c) = existing.filter(|c| !c.deleted) else { return Ok(None) };
        let version = c.version + 1;
        let seq = self.insert_version(c.rid, tid, version, Method::Delete, None)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stamp_orders_keys_and_keeps_meta() {
        let mut r = json!({"name": [], "resourceType": "Patient", "meta": {"profile": ["x"]}});
        stamp(&mut r, "a", 2, Instant(0));
        assert_eq!(
            r.to_string(),
            r#"{"resourceType":"Patient","id":"a","meta":{"profile":["x"],"versionId":"2","lastUpdated":"1970-01-01T00:00:00.000000Z"},"name":[]}"#
        );
    }

    #[test]
    fn hash_ignores_server_meta() {
        let a = json!({"resourceType": "Patient", "gender": "male"});
        let mut b = a.clone();
        stamp(&mut b, "x", 7, Instant(99));
        assert_eq!(content_hash(&a, "x"), content_hash(&b, "x"));
        assert_ne!(content_hash(&a, "x"), content_hash(&a, "y"));
        let c = json!({"resourceType": "Patient", "gender": "female"});
        assert_ne!(content_hash(&a, "x"), content_hash(&c, "x"));
        let d = json!({"resourceType": "Patient", "gender": "male", "meta": {"profile": ["p"]}});
        assert_ne!(content_hash(&a, "x"), content_hash(&d, "x"));
    }
}
