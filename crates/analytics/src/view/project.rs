//! Projection: the top-level elements of a resource that a view can read,
//! found once from the view's paths, so that each resource is parsed into
//! a `serde_json::Value` with only those elements (the others are checked
//! for JSON syntax and skipped without allocating). A view that may look at
//! the whole resource (`$this` or `where(...)` on the resource, `%resource`,
//! `descendants()`) gets no projection and every element is parsed.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{Map, Value};

use super::definition::{Iteration, Select, ViewDefinition};
use super::path::{CompiledPath, reads};

/// The top-level element names a view reads (`value` also keeps
/// `valueQuantity`, `valueString`, ...; `_name` primitive extensions are kept
/// with `name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    names: Vec<String>,
}

impl Projection {
    /// The projection of a view, or `None` when the view may read the whole resource.
    pub(crate) fn of(view: &ViewDefinition) -> Option<Projection> {
        let mut names: Vec<String> = ["resourceType", "id"].iter().map(|s| s.to_string()).collect();
        let mut whole = false;
        let rt = view.resource.as_str();
        let mut visit = |p: &CompiledPath, root: bool| {
            let r = reads(&p.source, rt);
            whole |= r.whole_resource || (root && r.whole_focus);
            names.extend(r.names);
        };
        for f in &view.filters {
            visit(f, true);
        }
        fn walk(s: &Select, root: bool, visit: &mut dyn FnMut(&CompiledPath, bool)) {
            let body_root = match &s.iteration {
                Iteration::Once => root,
                Iteration::ForEach(p) | Iteration::ForEachOrNull(p) => {
                    visit(p, root);
                    false
                }
                Iteration::Repeat(ps) => {
                    for p in ps {
                        visit(p, root);
                    }
                    false
                }
            };
            for c in &s.columns {
                visit(&c.path, body_root);
            }
            for n in s.select.iter().chain(&s.union_all) {
                walk(n, body_root, visit);
            }
        }
        for s in &view.select {
            walk(s, true, &mut visit);
        }
        if whole {
            return None;
        }
        names.sort();
        names.dedup();
        Some(Projection { names })
    }

    /// This projection, also keeping `name`.
    pub(crate) fn with(mut self, name: &str) -> Projection {
        if !self.names.iter().any(|n| n == name) {
            self.names.push(name.to_string());
        }
        self
    }

    /// The elements either projection reads.
    pub(crate) fn union(mut self, other: &Projection) -> Projection {
        self.names.extend(other.names.iter().cloned());
        self.names.sort();
        self.names.dedup();
        self
    }

    /// Whether the top-level key `key` may be read.
    pub fn keeps(&self, key: &str) -> bool {
        let k = key.strip_prefix('_').unwrap_or(key);
        self.names.iter().any(|n| {
            k.strip_prefix(n.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase()))
        })
    }

    /// Parses a resource, keeping only the elements this projection reads.
    pub fn parse(&self, text: &str) -> serde_json::Result<Value> {
        let mut de = serde_json::Deserializer::from_str(text);
        let v = ProjectSeed(self).deserialize(&mut de)?;
        de.end()?;
        Ok(v)
    }
}

/// Parses `text`, projected when `projection` is given.
pub(crate) fn parse_resource(text: &str, projection: Option<&Projection>) -> serde_json::Result<Value> {
    match projection {
        Some(p) => p.parse(text),
        None => serde_json::from_str(text),
    }
}

struct ProjectSeed<'p>(&'p Projection);

impl<'de> DeserializeSeed<'de> for ProjectSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ProjectSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (a FHIR resource)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let k = key.as_str();
            if self.0.keeps(k) {
                let v: Value = map.next_value()?;
                out.insert(k.to_string(), v);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Value::Object(out))
    }
}

/// An object key, borrowed from the input when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_string()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(v: Value) -> ViewDefinition {
        ViewDefinition::from_json(&v).expect("view")
    }

    fn projection(resource: &str, paths: &[&str]) -> Option<Projection> {
        let cols: Vec<Value> = paths.iter().enumerate().map(|(i, p)| json!({"name": format!("c{i}"), "path": p})).collect();
        Projection::of(&view(json!({"resourceType": "ViewDefinition", "resource": resource, "select": [{"column": cols}]})))
    }

    #[test]
    fn keeps_named_elements_choices_and_primitive_extensions() {
        let p = projection("Observation", &["subject.getReferenceKey(Patient)", "value.ofType(Quantity).value"]).expect("projected");
        for k in ["resourceType", "id", "subject", "valueQuantity", "valueString", "value", "_value"] {
            assert!(p.keeps(k), "{k}");
        }
        for k in ["status", "code", "category", "valuesX", "text", "subjects", "meta"] {
            assert!(!p.keeps(k), "{k}");
        }
        let text = r#"{"resourceType":"Observation","id":"o1","status":"final","text":{"div":"<div>\"x\"</div>"},
            "subject":{"reference":"Patient/p1"},"valueQuantity":{"value":5.5},"note":[{"text":"a"},{"text":"b"}]}"#;
        assert_eq!(
            p.parse(text).expect("parse"),
            json!({"resourceType": "Observation", "id": "o1", "subject": {"reference": "Patient/p1"}, "valueQuantity": {"value": 5.5}})
        );
        // Skipped elements are still checked for JSON syntax.
        assert!(p.parse(r#"{"resourceType":"Observation","note":[1,}"#).is_err());
        assert!(p.parse(r#"{"resourceType":"Observation"} trailing"#).is_err());
        assert!(p.parse(r#"[1, 2]"#).is_err());
        // Escaped keys are compared unescaped.
        assert_eq!(p.parse(r#"{"\u0069d":"x"}"#).expect("parse"), json!({"id": "x"}));
    }

    #[test]
    fn paths_that_see_the_whole_resource_turn_projection_off() {
        for path in ["$this", "where(id = 'x').id", "%resource", "descendants().count()", "Patient", "ofType(Patient)", "first()"] {
            assert_eq!(projection("Patient", &[path]), None, "{path}");
        }
        for path in ["name.where($this.use = 'x').family", "%resource.gender", "Patient.gender", "link.other.getReferenceKey(Patient)", "iif(active, gender, birthDate)"] {
            assert!(projection("Patient", &[path]).is_some(), "{path}");
        }
        // `$this` inside forEach refers to the item, not the resource.
        let v = view(json!({"resourceType": "ViewDefinition", "resource": "Patient",
            "select": [{"forEach": "name.given", "column": [{"name": "g", "path": "$this"}]}]}));
        let p = Projection::of(&v).expect("projected");
        assert!(p.keeps("name") && !p.keeps("gender"));
        // ... but on the resource it is the resource.
        let v = view(json!({"resourceType": "ViewDefinition", "resource": "Patient",
            "select": [{"column": [{"name": "id", "path": "id"}]}], "where": [{"path": "where(active).exists()"}]}));
        assert_eq!(Projection::of(&v), None);
    }
}
