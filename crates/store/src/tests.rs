//! Backend conformance tests: generic functions over `&dyn Store`, run against
//! every implementation (SQLite in memory and on disk; PostgreSQL will join).

use crate::*;
use serde_json::{Value, json};

fn create(s: &dyn Store, body: Value) -> Stored {
    let ty = body["resourceType"].as_str().expect("resourceType").to_string();
    let mut out = None;
    s.transact(&mut |tx| {
        out = Some(tx.create(&ty, body.clone())?);
        Ok(())
    })
    .expect("create");
    out.expect("created")
}

fn put(s: &dyn Store, id: &str, body: Value, if_match: Option<u64>) -> Result<PutOutcome> {
    let ty = body["resourceType"].as_str().expect("resourceType").to_string();
    let mut out = None;
    s.transact(&mut |tx| {
        out = Some(tx.put(&ty, id, body.clone(), if_match, true)?);
        Ok(())
    })?;
    Ok(out.expect("put"))
}

fn body(s: &Stored) -> Value {
    serde_json::from_str(s.body.as_deref().expect("body")).expect("json")
}

fn versions_are_kept(s: &dyn Store) {
    let c = create(s, json!({"resourceType": "Patient", "gender": "male"}));
    assert_eq!(c.meta.version, 1);
    let id = c.meta.id.clone();
    assert!(fhir::id::is_valid_id(&id));
    let u = put(s, &id, json!({"resourceType": "Patient", "gender": "female"}), Some(1)).expect("update");
    assert!(!u.created && !u.unchanged);
    assert_eq!(u.stored.meta.version, 2);
    let cur = s.read("Patient", &id).expect("read").expect("exists");
    assert_eq!(cur.meta.version, 2);
    assert_eq!(body(&cur)["gender"], "female");
    assert_eq!(body(&cur)["meta"]["versionId"], "2");
    assert_eq!(body(&cur)["id"], id.as_str());
    let v1 = s.vread("Patient", &id, 1).expect("vread").expect("v1");
    assert_eq!(body(&v1)["gender"], "male");
    assert!(s.vread("Patient", &id, 3).expect("vread").is_none());
}

fn unchanged_creates_no_version(s: &dyn Store) {
    let a = put(s, "same", json!({"resourceType": "Patient", "active": true}), None).expect("put");
    assert!(a.created);
    let b = put(s, "same", json!({"resourceType": "Patient", "active": true, "meta": {"versionId": "9"}}), None).expect("put");
    assert!(b.unchanged);
    assert_eq!(b.stored.meta.version, 1);
    let h = s.history(&HistoryQuery { resource_type: Some("Patient".into()), id: Some("same".into()), count: 10, ..Default::default() });
    assert_eq!(h.expect("history").total, 1);
}

fn if_match_conflicts(s: &dyn Store) {
    put(s, "m", json!({"resourceType": "Patient"}), None).expect("create");
    let e = put(s, "m", json!({"resourceType": "Patient", "active": false}), Some(5)).expect_err("stale");
    assert!(matches!(e, Error::VersionConflict { expected: 5, current: 1, .. }), "{e}");
    // If-Match on a resource that does not exist is a conflict too.
    let e = put(s, "nope", json!({"resourceType": "Patient"}), Some(1)).expect_err("missing");
    assert!(matches!(e, Error::VersionConflict { current: 0, .. }), "{e}");
}

fn delete_is_a_tombstone(s: &dyn Store) {
    let c = create(s, json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"}}));
    let id = c.meta.id;
    let mut t = None;
    s.transact(&mut |tx| {
        t = tx.delete("Observation", &id, None)?;
        Ok(())
    })
    .expect("delete");
    let t = t.expect("tombstone");
    assert_eq!(t.meta.version, 2);
    let cur = s.read("Observation", &id).expect("read").expect("row");
    assert!(cur.meta.deleted() && cur.body.is_none());
    // Deleting again writes nothing.
    let mut again = Some(t.clone());
    s.transact(&mut |tx| {
        again = tx.delete("Observation", &id, None)?;
        Ok(())
    })
    .expect("delete");
    assert!(again.is_none());
    // Re-creating after a delete is version 3, method create.
    let p = put(s, &id, json!({"resourceType": "Observation", "status": "final", "code": {"text": "y"}}), None).expect("put");
    assert!(p.created);
    assert_eq!(p.stored.meta.version, 3);
    assert_eq!(p.stored.meta.method, Method::Create);
}

fn transactions_are_atomic(s: &dyn Store) {
    let before = s.counts().expect("counts");
    let r = s.transact(&mut |tx| {
        tx.put("Patient", "atomic-1", json!({"resourceType": "Patient"}), None, false)?;
        tx.put("Patient", "atomic-2", json!({"resourceType": "Patient"}), None, false)?;
        Err(Error::Aborted("test".into()))
    });
    assert!(r.is_err());
    assert!(s.read("Patient", "atomic-1").expect("read").is_none());
    assert_eq!(s.counts().expect("counts"), before);
}

fn history_pages_and_since(s: &dyn Store) {
    for i in 0..5 {
        put(s, &format!("h{i}"), json!({"resourceType": "Device", "status": "active"}), None).expect("put");
    }
    let mid = s.last_write().expect("last").expect("some");
    for i in 5..8 {
        put(s, &format!("h{i}"), json!({"resourceType": "Device", "status": "active"}), None).expect("put");
    }
    let q = HistoryQuery { resource_type: Some("Device".into()), count: 3, ..Default::default() };
    let p1 = s.history(&q).expect("p1");
    assert_eq!(p1.total, 8);
    let ids: Vec<_> = p1.entries.iter().map(|e| e.meta.id.clone()).collect();
    assert_eq!(ids, ["h7", "h6", "h5"]);
    let p2 = s.history(&HistoryQuery { before_seq: p1.next_before_seq, ..q.clone() }).expect("p2");
    assert_eq!(p2.entries.iter().map(|e| e.meta.id.as_str()).collect::<Vec<_>>(), ["h4", "h3", "h2"]);
    let p3 = s.history(&HistoryQuery { before_seq: p2.next_before_seq, ..q.clone() }).expect("p3");
    assert_eq!(p3.entries.len(), 2);
    assert!(p3.next_before_seq.is_none());
    let since = s.history(&HistoryQuery { since: Some(mid), ..q.clone() }).expect("since");
    assert_eq!(since.total, 4, "the write at `mid` and the three after it");
    let future = s.history(&HistoryQuery { since: Some(Instant(mid.0 + 3_600_000_000)), ..q }).expect("future");
    assert_eq!(future.total, 0);
    assert!(future.entries.is_empty());
    let sys = s.history(&HistoryQuery { count: 2, ..Default::default() }).expect("system");
    assert_eq!(sys.entries.len(), 2);
    assert!(sys.total >= 8);
}

fn search_by_identifier(s: &dyn Store) {
    put(s, "i1", json!({"resourceType": "Patient", "identifier": [{"system": "urn:a", "value": "1"}, {"value": "2"}]}), None)
        .expect("put");
    put(s, "i2", json!({"resourceType": "Patient", "identifier": [{"system": "urn:b", "value": "1"}]}), None).expect("put");
    let find = |v: &str| -> Vec<String> {
        let c = parse_conditions("Patient", &[("identifier".into(), v.into())]).expect("parse");
        let q = SearchQuery { resource_types: vec!["Patient".into()], conditions: vec![c], count: 10, ..Default::default() };
        s.search(&q).expect("search").entries.into_iter().map(|e| e.meta.id).collect()
    };
    assert_eq!(find("urn:a|1"), ["i1"]);
    assert_eq!(find("1"), ["i1", "i2"]);
    assert_eq!(find("|2"), ["i1"]);
    assert_eq!(find("urn:b|"), ["i2"]);
    assert_eq!(find("urn:a|1,urn:b|1"), ["i1", "i2"]);
    assert!(find("urn:c|1").is_empty());
    // Updating the resource replaces its index rows.
    put(s, "i2", json!({"resourceType": "Patient", "identifier": [{"system": "urn:b", "value": "9"}]}), None).expect("put");
    assert_eq!(find("1"), ["i1"]);
    let c = parse_conditions("Patient", &[("identifier".into(), "1".into())]).expect("p");
    let q = SearchQuery { resource_types: vec!["Patient".into()], conditions: vec![c], count: 1, ..Default::default() };
    let first = s.search(&q).expect("page 1");
    assert_eq!(first.entries.len(), 1);
    assert!(first.next_cursor.is_none(), "one match only");
    assert_eq!(first.total, Some(1));
}

fn scan_and_counts(s: &dyn Store) {
    for i in 0..3 {
        put(s, &format!("s{i}"), json!({"resourceType": "Location", "name": format!("L{i}")}), None).expect("put");
    }
    let mut n = 0;
    s.scan("Location", None, &mut |b| {
        let v: Value = serde_json::from_str(b).expect("json");
        assert_eq!(v["resourceType"], "Location");
        n += 1;
        Ok(())
    })
    .expect("scan");
    assert_eq!(n, 3);
    assert!(s.counts().expect("counts").contains(&("Location".to_string(), 3)));
}

macro_rules! backend_tests {
    ($module:ident, $make:expr) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            #[test]
            fn versions_are_kept() {
                let (_d, s) = $make;
                super::versions_are_kept(&s);
            }
            #[test]
            fn unchanged_creates_no_version() {
                let (_d, s) = $make;
                super::unchanged_creates_no_version(&s);
            }
            #[test]
            fn if_match_conflicts() {
                let (_d, s) = $make;
                super::if_match_conflicts(&s);
            }
            #[test]
            fn delete_is_a_tombstone() {
                let (_d, s) = $make;
                super::delete_is_a_tombstone(&s);
            }
            #[test]
            fn transactions_are_atomic() {
                let (_d, s) = $make;
                super::transactions_are_atomic(&s);
            }
            #[test]
            fn history_pages_and_since() {
                let (_d, s) = $make;
                super::history_pages_and_since(&s);
            }
            #[test]
            fn search_by_identifier() {
                let (_d, s) = $make;
                super::search_by_identifier(&s);
            }
            #[test]
            fn scan_and_counts() {
                let (_d, s) = $make;
                super::scan_and_counts(&s);
            }
        }
    };
}

backend_tests!(sqlite_memory, ((), SqliteStore::open_in_memory().expect("open")));
backend_tests!(sqlite_file, {
    let d = tempfile::tempdir().expect("tempdir");
    let s = SqliteStore::open(d.path(), SqliteOptions { synchronous: Synchronous::Normal, ..Default::default() }).expect("open");
    (d, s)
});

/// Bodies are stored compressed; a database of schema version 2, whose bodies
/// are plain text, is still read (read, vread, history, scan, reindex) and is
/// marked version 3, and an unknown newer schema is refused.
#[test]
fn stored_bodies_are_compressed_and_old_text_bodies_still_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("medtwin.db");
    let patient = json!({"resourceType": "Patient", "id": "a", "name": [{"family": "山田", "given": ["太郎"]}], "gender": "male"});
    let stored_text = {
        let s = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open");
        put(&s, "a", patient.clone(), None).expect("put");
        s.read("Patient", "a").expect("read").expect("found").body.expect("body").to_string()
    };
    let raw = rusqlite::Connection::open(&db).expect("raw");
    let (kind, len): (String, i64) =
        raw.query_row("SELECT typeof(body), length(body) FROM versions", [], |r| Ok((r.get(0)?, r.get(1)?))).expect("row");
    assert_eq!(kind, "blob");
    assert!((len as usize) < stored_text.len(), "{len} bytes stored for {} bytes of text", stored_text.len());
    // What a version-2 database holds: the whole text, as TEXT.
    raw.execute("UPDATE versions SET body = ?1", [&stored_text]).expect("to text");
    raw.execute("UPDATE meta SET value = '2' WHERE key = 'schema'", []).expect("to v2");
    raw.execute("DELETE FROM meta WHERE key = 'index'", []).expect("force a reindex");
    drop(raw);
    let s = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open v2");
    assert_eq!(s.read("Patient", "a").expect("read").expect("found").body.expect("body").as_ref(), stored_text);
    assert_eq!(s.vread("Patient", "a", 1).expect("vread").expect("found").body.expect("body").as_ref(), stored_text);
    let mut scanned = Vec::new();
    s.scan("Patient", None, &mut |t| {
        scanned.push(t.to_string());
        Ok(())
    })
    .expect("scan");
    assert_eq!(scanned, std::slice::from_ref(&stored_text));
    let q = crate::parse_conditions("Patient", &[("family".into(), "山田".into())]).expect("query");
    let mut found = Vec::new();
    s.transact(&mut |tx| {
        found = tx.find("Patient", &q, 10)?;
        Ok(())
    })
    .expect("find");
    assert_eq!(found, ["a"], "the search index was rebuilt from the text body");
    // A new version of the old resource is stored compressed; both read.
    put(&s, "a", json!({"resourceType": "Patient", "id": "a", "gender": "female"}), None).expect("update");
    assert_eq!(body(&s.read("Patient", "a").expect("read").expect("found"))["gender"], "female");
    assert_eq!(s.vread("Patient", "a", 1).expect("vread").expect("found").body.expect("body").as_ref(), stored_text);
    drop(s);
    let raw = rusqlite::Connection::open(&db).expect("raw");
    let v: String = raw.query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| r.get(0)).expect("schema");
    assert_eq!(v, "3");
    raw.execute("UPDATE meta SET value = '4' WHERE key = 'schema'", []).expect("to v4");
    drop(raw);
    assert!(matches!(SqliteStore::open(dir.path(), SqliteOptions::default()), Err(Error::Corrupt(_))));
}
