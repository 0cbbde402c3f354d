//! Structural validation of FHIR R4 JSON against the official definitions:
//! known resource type, known elements, list versus single values, the JSON
//! kind and lexical form of every primitive, recursively (including contained
//! and bundled resources). Profiles and invariants are not checked here.

use crate::definitions::{Definitions, TypeKind, r4};
use crate::issue::{Issue, IssueCode};
use serde_json::Value;

/// At most this many issues are reported for one resource.
const MAX_ISSUES: usize = 50;

/// Validates one resource. An empty result means it is structurally valid.
pub fn validate_resource(value: &Value) -> Vec<Issue> {
    let mut v = Validator { defs: r4(), issues: Vec::new() };
    v.resource(value, None);
    v.issues
}

/// Where an element is (`Patient.name[0].given`), kept as a chain of borrowed
/// segments on the stack and written out only when an issue is reported: valid
/// resources, the common case, cost no string building.
#[derive(Clone, Copy)]
struct At<'a> {
    parent: Option<&'a At<'a>>,
    seg: Seg<'a>,
}

#[derive(Clone, Copy)]
enum Seg<'a> {
    Name(&'a str),
    /// A position in a list, written as `[i]`.
    Index(usize),
}

impl<'a> At<'a> {
    fn root(name: &'a str) -> Self {
        At { parent: None, seg: Seg::Name(name) }
    }

    fn key(&'a self, name: &'a str) -> At<'a> {
        At { parent: Some(self), seg: Seg::Name(name) }
    }

    fn index(&'a self, i: usize) -> At<'a> {
        At { parent: Some(self), seg: Seg::Index(i) }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        if let Some(p) = self.parent {
            p.write(out);
        }
        match self.seg {
            Seg::Name(n) => {
                if self.parent.is_some() {
                    out.push('.');
                }
                out.push_str(n);
            }
            Seg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
}

struct Validator<'d> {
    defs: &'d Definitions,
    issues: Vec<Issue>,
}

impl Validator<'_> {
    fn push(&mut self, code: IssueCode, msg: String, at: &At<'_>) {
        if self.issues.len() < MAX_ISSUES {
            self.issues.push(Issue::error(code, msg, Some(at.render())));
        }
    }

    /// Validates a resource found at `at` (None for the top level).
    fn resource(&mut self, value: &Value, at: Option<&At<'_>>) {
        let here = |fallback: &'static str| at.copied().unwrap_or(At::root(fallback));
        let Some(obj) = value.as_object() else {
            self.push(IssueCode::Structure, "a resource must be a JSON object".into(), &here("$"));
            return;
        };
        let rt = match obj.get("resourceType") {
            Some(Value::String(s)) => s.as_str(),
            Some(_) => {
                self.push(IssueCode::Structure, "resourceType must be a string".into(), &here("resourceType"));
                return;
            }
            None => {
                self.push(IssueCode::Required, "missing resourceType".into(), &here("$"));
                return;
            }
        };
        if !self.defs.is_resource_type(rt) {
            self.push(IssueCode::NotSupported, format!("unknown resourceType '{rt}'"), &here("resourceType"));
            return;
        }
        let base = at.copied().unwrap_or(At::root(rt));
        if let Some(id) = obj.get("id") {
            match id.as_str() {
                Some(s) if crate::id::is_valid_id(s) => {}
                _ => self.push(
                    IssueCode::Value,
                    format!("invalid id {id}: ids are 1-64 characters of A-Z a-z 0-9 - ."),
                    &base.key("id"),
                ),
            }
        }
        self.object(obj, rt, &base, true);
    }

    fn object(&mut self, obj: &serde_json::Map<String, Value>, owner: &str, path: &At<'_>, is_resource: bool) {
        for (key, val) in obj {
            if self.issues.len() >= MAX_ISSUES {
                return;
            }
            if is_resource && key == "resourceType" {
                continue;
            }
            if key == "fhir_comments" {
                continue;
            }
            if let Some(stem) = key.strip_prefix('_') {
                // The extension/id part of a primitive: `_birthDate: {extension: [...]}`.
                match self.defs.child(owner, stem) {
                    Some(c) if self.defs.is_primitive(c.type_name) => {
                        let items: Vec<&Value> = match val {
                            Value::Array(a) if c.is_list => a.iter().collect(),
                            other => vec![other],
                        };
                        let elem = path.key(stem);
                        for (i, it) in items.into_iter().enumerate() {
                            let indexed = elem.index(i);
                            let p = if c.is_list { &indexed } else { &elem };
                            match it {
                                Value::Null if c.is_list => {}
                                Value::Object(o) => self.object(o, "Element", p, false),
                                _ => self.push(IssueCode::Structure, format!("'{key}' must be an object"), p),
                            }
                        }
                    }
                    _ => self.push(IssueCode::Structure, format!("unknown element '{key}'"), &path.key(key)),
                }
                continue;
            }
            let child_path = path.key(key);
            let Some(child) = self.defs.child(owner, key) else {
                self.push(IssueCode::Structure, format!("unknown element '{key}'"), &child_path);
                continue;
            };
            if child.is_list {
                match val {
                    Value::Array(items) => {
                        if items.is_empty() {
                            self.push(IssueCode::Structure, format!("'{key}' must not be an empty array"), &child_path);
                        }
                        for (i, item) in items.iter().enumerate() {
                            if item.is_null()
                                && self.defs.is_primitive(child.type_name)
                                && obj.contains_key(&format!("_{key}"))
                            {
                                continue;
                            }
                            self.value(item, child.type_name, &child_path.index(i));
                        }
                    }
                    _ => self.push(
                        IssueCode::Structure,
                        format!("'{key}' repeats, so it must be a JSON array, found {}", kind_of(val)),
                        &child_path,
                    ),
                }
            } else if val.is_array() {
                self.push(IssueCode::Structure, format!("'{key}' does not repeat, so it must not be an array"), &child_path);
            } else {
                self.value(val, child.type_name, &child_path);
            }
        }
    }

    fn value(&mut self, val: &Value, type_name: &str, path: &At<'_>) {
        // Every type whose base chain reaches `Resource` has the resource kind
        // (a test in `definitions` checks this), so one lookup decides.
        let kind = self.defs.type_def(type_name).map(|t| t.kind);
        if type_name == "Resource" || kind == Some(TypeKind::Resource) {
            self.resource(val, Some(path));
            return;
        }
        match kind {
            Some(TypeKind::Primitive) | None => {
                if let Err(why) = check_primitive(type_name, val) {
                    self.push(IssueCode::Value, why, path);
                }
            }
            Some(TypeKind::Complex) | Some(TypeKind::Resource) => match val.as_object() {
                Some(o) => {
                    if o.is_empty() {
                        self.push(IssueCode::Structure, "an element must not be an empty object".into(), path);
                    }
                    self.object(o, type_name, path, false)
                }
                None => self.push(
                    IssueCode::Structure,
                    format!("expected a {type_name} object, found {}", kind_of(val)),
                    path,
                ),
            },
        }
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks the JSON kind and lexical form of a primitive value of FHIR type `ty`.
pub fn check_primitive(ty: &str, v: &Value) -> Result<(), String> {
    let expect = |what: &str| Err(format!("expected {what} for a {ty}, found {}", kind_of(v)));
    match ty {
        "boolean" => {
            if !v.is_boolean() {
                return expect("true or false");
            }
        }
        "integer" | "positiveInt" | "unsignedInt" => {
            let Some(n) = v.as_i64() else { return expect("a whole number") };
            let ok = match ty {
                "positiveInt" => n >= 1 && n <= i32::MAX as i64,
                "unsignedInt" => (0..=i32::MAX as i64).contains(&n),
                _ => (i32::MIN as i64..=i32::MAX as i64).contains(&n),
            };
            if !ok {
                return Err(format!("{n} is out of range for a {ty}"));
            }
        }
        "decimal" => {
            if !v.is_number() {
                return expect("a number");
            }
        }
        _ => {
            let Some(s) = v.as_str() else { return expect("a string") };
            if s.is_empty() {
                return Err(format!("a {ty} must not be an empty string"));
            }
            let ok = match ty {
                "date" => is_date(s),
                "dateTime" => is_datetime(s),
                "instant" => is_instant(s),
                "time" => is_time(s),
                "id" => crate::id::is_valid_id(s),
                "code" => s.trim() == s && !s.contains("  "),
                _ => true,
            };
            if !ok {
                return Err(format!("'{s}' is not a valid {ty}"));
            }
        }
    }
    Ok(())
}

fn digits(s: &[u8]) -> bool {
    s.iter().all(u8::is_ascii_digit)
}

/// `YYYY`, `YYYY-MM` or `YYYY-MM-DD` with a real calendar month and day.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        4 => digits(b),
        7 => digits(&b[..4]) && b[4] == b'-' && month_ok(&b[5..7]),
        10 => {
            digits(&b[..4]) && b[4] == b'-' && month_ok(&b[5..7]) && b[7] == b'-' && digits(&b[8..10]) && {
                let y: u32 = s[..4].parse().unwrap_or(0);
                let m: u32 = s[5..7].parse().unwrap_or(0);
                let d: u32 = s[8..10].parse().unwrap_or(0);
                d >= 1 && d <= days_in_month(y, m)
            }
        }
        _ => false,
    }
}

fn month_ok(b: &[u8]) -> bool {
    digits(b) && matches!((b[0] - b'0') * 10 + (b[1] - b'0'), 1..=12)
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// `hh:mm:ss(.fff)`.
pub fn is_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 8 || !(digits(&b[..2]) && b[2] == b':' && digits(&b[3..5]) && b[5] == b':' && digits(&b[6..8])) {
        return false;
    }
    let h = (b[0] - b'0') * 10 + (b[1] - b'0');
    let m = (b[3] - b'0') * 10 + (b[4] - b'0');
    let sec = (b[6] - b'0') * 10 + (b[7] - b'0');
    if h > 23 || m > 59 || sec > 60 {
        return false;
    }
    match &b[8..] {
        [] => true,
        [b'.', rest @ ..] => !rest.is_empty() && digits(rest),
        _ => false,
    }
}

fn is_tz(b: &[u8]) -> bool {
    b == b"Z"
        || (b.len() == 6 && (b[0] == b'+' || b[0] == b'-') && digits(&b[1..3]) && b[3] == b':' && digits(&b[4..6]))
}

/// A FHIR dateTime: a partial date, or a full date and time with a time zone.
pub fn is_datetime(s: &str) -> bool {
    match s.split_once('T') {
        None => is_date(s),
        Some((d, t)) => d.len() == 10 && is_date(d) && time_with_tz(t),
    }
}

fn time_with_tz(t: &str) -> bool {
    let cut = t.find(['Z', '+', '-']).unwrap_or(t.len());
    let (time, tz) = t.split_at(cut);
    is_time(time) && is_tz(tz.as_bytes())
}

/// A FHIR instant: a full date-time to the second with a time zone.
pub fn is_instant(s: &str) -> bool {
    matches!(s.split_once('T'), Some((d, t)) if d.len() == 10 && is_date(d) && time_with_tz(t))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(v: Value) -> Vec<String> {
        validate_resource(&v).iter().map(|i| i.to_string()).collect()
    }

    #[test]
    fn valid_patient() {
        let p = json!({
            "resourceType": "Patient", "id": "p1",
            "meta": {"profile": ["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"]},
            "name": [{"family": "山田", "given": ["太郎"], "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "IDE"}]}],
            "gender": "male", "birthDate": "1970-02-28", "active": true,
            "_birthDate": {"extension": [{"url": "x", "valueDateTime": "1970-02-28T10:00:00+09:00"}]},
            "contact": [{"name": {"text": "山田花子"}}],
            "contained": [{"resourceType": "Organization", "id": "o", "name": "x"}]
        });
        assert_eq!(check(p), Vec::<String>::new());
    }

    #[test]
    fn errors_have_locations() {
        let p = json!({"resourceType": "Patient", "birthDate": 1970, "gender": ["male"], "name": {"family": "x"},
            "active": "yes", "foo": 1, "id": "a_b", "contact": [{"name": {"given": "x"}}]});
        let got = check(p);
        let want = [
            "Patient.id: invalid id \"a_b\": ids are 1-64 characters of A-Z a-z 0-9 - .",
            "Patient.birthDate: expected a string for a date, found a number",
            "Patient.gender: 'gender' does not repeat, so it must not be an array",
            "Patient.name: 'name' repeats, so it must be a JSON array, found an object",
            "Patient.active: expected true or false for a boolean, found a string",
            "Patient.foo: unknown element 'foo'",
            "Patient.contact[0].name.given: 'given' repeats, so it must be a JSON array, found a string",
        ];
        for w in want {
            assert!(got.iter().any(|g| g == w), "missing {w:?} in {got:#?}");
        }
        assert_eq!(got.len(), want.len(), "{got:#?}");
    }

    #[test]
    fn unknown_type_and_nested_resource() {
        assert_eq!(check(json!({"resourceType": "Patien"})), vec!["resourceType: unknown resourceType 'Patien'"]);
        let b = json!({"resourceType": "Bundle", "type": "batch", "entry": [{"resource": {"resourceType": "Patient", "birthDate": "1970-13"}}]});
        assert_eq!(check(b), vec!["Bundle.entry[0].resource.birthDate: '1970-13' is not a valid date"]);
    }

    #[test]
    fn dates() {
        for ok in ["2020", "2020-02", "2020-02-29", "2020-02-29T10:00:00Z", "2020-02-29T10:00:00.123+09:00"] {
            assert!(is_datetime(ok), "{ok}");
        }
        for bad in ["2019-02-29", "2020-1", "2020-02-29T10:00", "2020-02-29T10:00:00", "20200101", "2020-02-29T25:00:00Z"] {
            assert!(!is_datetime(bad), "{bad}");
        }
        assert!(is_instant("2020-01-01T00:00:00Z"));
        assert!(!is_instant("2020-01-01"));
    }
}
