//! The part of a write that needs no database: checking the resource and its
//! id, the content hash used to skip unchanged resources, the search-index
//! rows, and the stored body (the JSON text without `meta.versionId` and
//! `meta.lastUpdated`, which only the writer knows, compressed: [`crate::body`]).
//!
//! Bulk import runs [`prepare`] on worker threads and hands the result to
//! [`crate::StoreTx::put_prepared`], so that the serial writer only looks up
//! the current row and runs the SQLite statements. [`crate::StoreTx::put`] uses the same
//! functions, so both paths store the same bytes and the same hash.

use crate::body::Layout;
use crate::index::Row;
use crate::{Error, Result};
use serde_json::{Map, Value};

/// A resource ready to be written by [`crate::StoreTx::put_prepared`].
#[derive(Debug, Clone)]
pub struct Prepared {
    pub(crate) resource_type: String,
    pub(crate) id: String,
    pub(crate) hash: [u8; 16],
    /// The stored (compressed) body, without the version and time ([`crate::body`]).
    pub(crate) stored: Vec<u8>,
    pub(crate) index: Vec<Row>,
}

impl Prepared {
    /// The resource type.
    pub fn resource_type(&self) -> &str {
        &self.resource_type
    }

    /// The logical id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The number of search-index rows it will write.
    pub fn index_rows(&self) -> usize {
        self.index.len()
    }
}

/// Checks that `resource` is a `resource_type` object.
pub(crate) fn check_object(resource: &Value, ty: &str) -> Result<()> {
    match resource.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == ty => Ok(()),
        Some(t) => Err(Error::InvalidResource(format!("resourceType '{t}' does not match '{ty}'"))),
        None => Err(Error::InvalidResource("not a FHIR resource object".into())),
    }
}

/// Prepares `resource` to be stored as `resource_type/id`: checks it, extracts
/// its search-index rows ([`crate::index::extract`]), hashes its content and
/// serializes it once. Safe to call on any thread.
pub fn prepare(resource_type: &str, id: &str, resource: Value) -> Result<Prepared> {
    prepare_with(resource_type, id, resource, true)
}

/// [`prepare`] without search-index rows, for benchmarks that measure the
/// cost of the index: a store written this way must be re-indexed
/// ([`crate::SqliteStore::invalidate_index`]) before it is searched.
#[doc(hidden)]
pub fn prepare_unindexed(resource_type: &str, id: &str, resource: Value) -> Result<Prepared> {
    prepare_with(resource_type, id, resource, false)
}

fn prepare_with(resource_type: &str, id: &str, resource: Value, indexed: bool) -> Result<Prepared> {
    check_object(&resource, resource_type)?;
    if !fhir::id::is_valid_id(id) {
        return Err(Error::InvalidResource(format!("invalid id '{id}'")));
    }
    let index = if indexed { crate::index::extract(resource_type, &resource).0 } else { Vec::new() };
    let (layout, hash) = layout_and_hash(&resource, id)?;
    Ok(Prepared { resource_type: resource_type.to_string(), id: id.to_string(), hash, stored: layout.pack()?, index })
}

/// The stored text of `resource` as `id` around the gap for `meta.versionId`
/// and `meta.lastUpdated`, and its content hash.
pub(crate) fn layout_and_hash(resource: &Value, id: &str) -> Result<(Layout, [u8; 16])> {
    let Value::Object(obj) = resource else {
        return Err(Error::InvalidResource("not a FHIR resource object".into()));
    };
    let members = Members::of(obj)?;
    let hash = members.hash(id);
    let mut head = String::with_capacity(64);
    head.push_str("{\"resourceType\":");
    head.push_str(members.resource_type.as_deref().unwrap_or("null"));
    head.push_str(",\"id\":");
    head.push_str(&json_text(&Value::String(id.to_string()))?);
    head.push_str(",\"meta\":{");
    for (k, v) in &members.meta {
        head.push_str(&json_text(&Value::String((*k).to_string()))?);
        head.push(':');
        head.push_str(v);
        head.push(',');
    }
    head.push_str("\"versionId\":\"");
    let mut tail = String::with_capacity(members.rest.iter().map(|(k, v)| k.len() + v.len() + 4).sum::<usize>() + 4);
    tail.push_str("\"}");
    for (k, v) in &members.rest {
        tail.push(',');
        tail.push_str(&json_text(&Value::String((*k).to_string()))?);
        tail.push(':');
        tail.push_str(v);
    }
    tail.push('}');
    Ok((Layout { head, tail }, hash))
}

fn json_text(v: &Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::InvalidResource(e.to_string()))
}

/// The members of a resource object, each serialized once.
struct Members<'a> {
    /// The serialized `resourceType` value.
    resource_type: Option<String>,
    /// `meta` members other than `versionId` and `lastUpdated`, in order.
    meta: Vec<(&'a str, String)>,
    /// Top-level members other than `resourceType`, `id` and `meta`, in order.
    rest: Vec<(&'a str, String)>,
}

impl<'a> Members<'a> {
    fn of(obj: &'a Map<String, Value>) -> Result<Members<'a>> {
        let mut out = Members { resource_type: None, meta: Vec::new(), rest: Vec::with_capacity(obj.len()) };
        for (k, v) in obj {
            match k.as_str() {
                "resourceType" => out.resource_type = Some(json_text(v)?),
                "id" => {}
                "meta" => {
                    if let Value::Object(m) = v {
                        for (mk, mv) in m {
                            if mk != "versionId" && mk != "lastUpdated" {
                                out.meta.push((mk.as_str(), json_text(mv)?));
                            }
                        }
                    }
                }
                _ => out.rest.push((k.as_str(), json_text(v)?)),
            }
        }
        Ok(out)
    }

    /// A hash of the content that matters for "unchanged": everything except
    /// `id` and the server-maintained `meta.versionId` and `meta.lastUpdated`.
    /// Top-level order does not matter (stamping reorders keys). The byte
    /// layout is stored in every database: do not change it.
    fn hash(&self, id: &str) -> [u8; 16] {
        let mut hasher = blake3::Hasher::new();
        let mut keyed: Vec<(&str, &str)> = self.rest.iter().map(|(k, v)| (*k, v.as_str())).collect();
        if let Some(rt) = &self.resource_type {
            keyed.push(("resourceType", rt));
        }
        // "meta" sorts by its name like any other member.
        keyed.push(("meta", ""));
        keyed.sort_by(|a, b| a.0.cmp(b.0));
        for (k, v) in keyed {
            if k == "meta" && v.is_empty() {
                if self.meta.is_empty() {
                    continue;
                }
                hasher.update(b"meta\0");
                for (mk, mv) in &self.meta {
                    hasher.update(mk.as_bytes());
                    hasher.update(mv.as_bytes());
                }
            } else {
                hasher.update(k.as_bytes());
                hasher.update(b"\0");
                hasher.update(v.as_bytes());
            }
            hasher.update(b"\0");
        }
        hasher.update(id.as_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&hasher.finalize().as_bytes()[..16]);
        out
    }
}

/// The content hash of a resource (see [`Members::hash`]).
#[cfg(test)]
fn content_hash(resource: &Value, id: &str) -> Result<[u8; 16]> {
    match resource {
        Value::Object(obj) => Ok(Members::of(obj)?.hash(id)),
        _ => Err(Error::InvalidResource("not a FHIR resource object".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Instant;
    use serde_json::json;

    /// Sets `id`, `meta.versionId` and `meta.lastUpdated`, keeping `resourceType`,
    /// `id` and `meta` first as FHIR examples do, and `versionId` and
    /// `lastUpdated` last in `meta`: the reference for the layout [`prepare`] produces.
    fn stamp(resource: &mut Value, id: &str, version: u64, ts: Instant) {
        let Value::Object(obj) = resource else { return };
        let old = std::mem::take(obj);
        let mut meta = match old.get("meta") {
            Some(Value::Object(m)) => m.clone(),
            _ => Map::new(),
        };
        meta.shift_remove("versionId");
        meta.shift_remove("lastUpdated");
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

    #[test]
    fn stamp_orders_keys_and_keeps_meta() {
        let mut r = json!({"name": [], "resourceType": "Patient", "meta": {"profile": ["x"]}});
        stamp(&mut r, "a", 2, Instant(0));
        assert_eq!(
            r.to_string(),
            r#"{"resourceType":"Patient","id":"a","meta":{"profile":["x"],"versionId":"2","lastUpdated":"1970-01-01T00:00:00.000000Z"},"name":[]}"#
        );
        // Stale server meta in the input moves to the end of meta.
        let mut r = json!({"resourceType": "Patient", "meta": {"versionId": "9", "profile": ["x"]}});
        stamp(&mut r, "a", 2, Instant(0));
        assert_eq!(
            r.to_string(),
            r#"{"resourceType":"Patient","id":"a","meta":{"profile":["x"],"versionId":"2","lastUpdated":"1970-01-01T00:00:00.000000Z"}}"#
        );
    }

    /// The prepared body is byte for byte what stamping and serializing gives.
    #[test]
    fn prepared_body_equals_stamped_text() {
        let cases = [
            json!({"resourceType": "Patient", "gender": "male"}),
            json!({"name": [{"family": "山田\"\\\u{1}"}], "resourceType": "Patient", "id": "old", "meta": {"profile": ["x"], "lastUpdated": "2000-01-01T00:00:00Z", "tag": [{"code": "t"}], "versionId": "3"}, "active": true, "multipleBirthInteger": 2}),
            json!({"resourceType": "Observation", "meta": "not an object", "valueQuantity": {"value": 1.5e-7}}),
            json!({"resourceType": "Observation", "meta": {}, "status": "final"}),
        ];
        for (i, c) in cases.into_iter().enumerate() {
            let ty = c["resourceType"].as_str().expect("type").to_string();
            let p = prepare(&ty, "x-1", c.clone()).expect("prepare");
            let mut stamped = c.clone();
            stamp(&mut stamped, "x-1", 7, Instant(1_700_000_000_123_456));
            let stored = crate::body::text(rusqlite::types::ValueRef::Blob(&p.stored), 7, 1_700_000_000_123_456).expect("unpack");
            assert_eq!(stored.as_deref(), Some(stamped.to_string().as_str()), "case {i}");
            assert_eq!(p.hash, content_hash(&c, "x-1").expect("hash"), "case {i}");
            assert_eq!(p.index, crate::index::extract(&ty, &c).0, "case {i}");
        }
    }

    #[test]
    fn prepare_rejects_bad_input() {
        assert!(prepare("Patient", "a", json!({"resourceType": "Observation"})).is_err());
        assert!(prepare("Patient", "a b", json!({"resourceType": "Patient"})).is_err());
        assert!(prepare("Patient", "a", json!([1])).is_err());
    }

    #[test]
    fn hash_ignores_server_meta() {
        let h = |v: &Value, id: &str| content_hash(v, id).expect("hash");
        let a = json!({"resourceType": "Patient", "gender": "male"});
        let mut b = a.clone();
        stamp(&mut b, "x", 7, Instant(99));
        assert_eq!(h(&a, "x"), h(&b, "x"));
        assert_ne!(h(&a, "x"), h(&a, "y"));
        let c = json!({"resourceType": "Patient", "gender": "female"});
        assert_ne!(h(&a, "x"), h(&c, "x"));
        let d = json!({"resourceType": "Patient", "gender": "male", "meta": {"profile": ["p"]}});
        assert_ne!(h(&a, "x"), h(&d, "x"));
    }

    /// The hash layout is stored in databases: a fixed input keeps its hash
    /// (computed with the layout of schema version 2).
    #[test]
    fn hash_layout_is_stable() {
        let r = json!({"resourceType": "Patient", "meta": {"profile": ["p"], "versionId": "1"}, "gender": "male", "active": true});
        let mut hasher = blake3::Hasher::new();
        for (k, v) in [("active", "true"), ("gender", "\"male\"")] {
            hasher.update(k.as_bytes());
            hasher.update(b"\0");
            hasher.update(v.as_bytes());
            hasher.update(b"\0");
        }
        hasher.update(b"meta\0profile[\"p\"]\0");
        hasher.update(b"resourceType\0\"Patient\"\0");
        hasher.update(b"p1");
        assert_eq!(content_hash(&r, "p1").expect("hash")[..], hasher.finalize().as_bytes()[..16]);
    }
}
