//! Writes search and history Bundles as JSON text, splicing each stored
//! resource's text in unparsed (the store hands out valid JSON). Parsing every
//! resource into a tree and serializing it again cost about a hundred
//! microseconds per resource on a page of a thousand; the splice costs a copy.

use serde_json::Value;

/// One Bundle being written; entries are appended in order.
pub(crate) struct BundleWriter {
    buf: Vec<u8>,
    entries: usize,
}

/// The resource of an entry: stored text as is, or a tree (shaped by `_summary`/`_elements`, or made here).
pub(crate) enum EntryResource<'a> {
    Text(&'a str),
    Tree(&'a Value),
}

fn push_str(buf: &mut Vec<u8>, s: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, s);
}

fn push_value(buf: &mut Vec<u8>, v: &Value) {
    // A Value's object keys are strings, so writing it into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, v);
}

impl BundleWriter {
    /// Starts a Bundle of `kind` (`searchset`, `history`) with its total and `(relation, url)` links.
    pub(crate) fn new(kind: &str, total: Option<u64>, links: &[(&str, String)], capacity: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity);
        buf.extend_from_slice(b"{\"resourceType\":\"Bundle\",\"type\":");
        push_str(&mut buf, kind);
        if let Some(t) = total {
            buf.extend_from_slice(b",\"total\":");
            buf.extend_from_slice(t.to_string().as_bytes());
        }
        buf.extend_from_slice(b",\"link\":[");
        for (i, (rel, url)) in links.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            buf.extend_from_slice(b"{\"relation\":");
            push_str(&mut buf, rel);
            buf.extend_from_slice(b",\"url\":");
            push_str(&mut buf, url);
            buf.push(b'}');
        }
        buf.push(b']');
        BundleWriter { buf, entries: 0 }
    }

    /// Appends an entry: `fullUrl`, `resource`, then the other members in order.
    pub(crate) fn entry(&mut self, full_url: Option<&str>, resource: Option<EntryResource<'_>>, rest: &[(&str, Value)]) {
        self.buf.extend_from_slice(if self.entries == 0 { b",\"entry\":[{" } else { b",{" });
        self.entries += 1;
        let mut first = true;
        let mut key = |buf: &mut Vec<u8>, k: &str| {
            if !first {
                buf.push(b',');
            }
            first = false;
            push_str(buf, k);
            buf.push(b':');
        };
        if let Some(u) = full_url {
            key(&mut self.buf, "fullUrl");
            push_str(&mut self.buf, u);
        }
        match resource {
            Some(EntryResource::Text(t)) => {
                key(&mut self.buf, "resource");
                self.buf.extend_from_slice(t.as_bytes());
            }
            Some(EntryResource::Tree(v)) => {
                key(&mut self.buf, "resource");
                push_value(&mut self.buf, v);
            }
            None => {}
        }
        for (k, v) in rest {
            key(&mut self.buf, k);
            push_value(&mut self.buf, v);
        }
        self.buf.push(b'}');
    }

    /// The finished JSON text.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        if self.entries > 0 {
            self.buf.push(b']');
        }
        self.buf.push(b'}');
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_the_same_json_as_a_tree() {
        let stored = r#"{"resourceType":"Patient","id":"p1","name":[{"family":"山田"}]}"#;
        let mut w = BundleWriter::new("searchset", Some(2), &[("self", "http://x/fhir/Patient?a=\"b\"".into()), ("next", "n".into())], 0);
        w.entry(Some("http://x/fhir/Patient/p1"), Some(EntryResource::Text(stored)), &[("search", json!({"mode": "match"}))]);
        let oo = json!({"resourceType": "OperationOutcome"});
        w.entry(None, Some(EntryResource::Tree(&oo)), &[("search", json!({"mode": "outcome"}))]);
        let got: Value = serde_json::from_slice(&w.finish()).expect("valid JSON");
        let want = json!({"resourceType": "Bundle", "type": "searchset", "total": 2,
            "link": [{"relation": "self", "url": "http://x/fhir/Patient?a=\"b\""}, {"relation": "next", "url": "n"}],
            "entry": [
                {"fullUrl": "http://x/fhir/Patient/p1", "resource": serde_json::from_str::<Value>(stored).expect("json"), "search": {"mode": "match"}},
                {"resource": oo, "search": {"mode": "outcome"}}]});
        assert_eq!(got, want);
    }

    #[test]
    fn no_entries_no_entry_member() {
        let got: Value = serde_json::from_slice(&BundleWriter::new("history", None, &[], 0).finish()).expect("valid JSON");
        assert_eq!(got, json!({"resourceType": "Bundle", "type": "history", "link": []}));
    }
}
