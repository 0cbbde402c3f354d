//! Rewriting references inside a resource: used when the ids of resources
//! named by `urn:uuid:` full URLs in a Bundle become known.

use serde_json::Value;
use std::collections::HashMap;

/// Replaces every `reference` string that is a key of `map` with its value,
/// anywhere inside `v`.
pub fn rewrite(v: &mut Value, map: &HashMap<String, String>) {
    if map.is_empty() {
        return;
    }
    match v {
        Value::Object(o) => {
            for (k, child) in o.iter_mut() {
                if k == "reference"
                    && let Value::String(s) = child
                {
                    if let Some(new) = map.get(s.as_str()) {
                        *s = new.clone();
                    }
                    continue;
                }
                rewrite(child, map);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite(x, map)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rewrites_nested() {
        let mut v = json!({"subject": {"reference": "urn:uuid:1"}, "x": [{"actor": {"reference": "urn:uuid:2"}}], "reference": "keep"});
        let map = HashMap::from([("urn:uuid:1".to_string(), "Patient/a".to_string()), ("urn:uuid:2".to_string(), "Practitioner/b".to_string())]);
        rewrite(&mut v, &map);
        assert_eq!(v, json!({"subject": {"reference": "Patient/a"}, "x": [{"actor": {"reference": "Practitioner/b"}}], "reference": "keep"}));
    }
}
