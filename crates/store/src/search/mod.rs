//! The search plan: URL parameters parsed into typed predicates ([`Condition`])
//! over the index tables, and the result controls of a search ([`SearchQuery`]).
//! The SQLite backend compiles a plan to SQL (`sqlite/search.rs`).
//!
//! Values inside one parameter (`code=a,b`) are alternatives (OR); repeated
//! parameters and different parameters are combined with AND.

pub(crate) mod value;

use crate::index::{self, ParamInfo, catalog, normalize};
use crate::{Error, Instant, Result};
use fhir::search_params::SearchParamType as T;
pub use value::Prefix;
use value::{invalid, number_range, precision_range, split_prefix};

/// How a string parameter matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrMode {
    /// Case-, accent- and kana-insensitive prefix (the default).
    Prefix,
    /// Exact, case-sensitive match of the whole value (`:exact`).
    Exact,
    /// Normalised substring (`:contains`).
    Contains,
}

/// How a uri parameter matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriMode {
    /// Exact.
    Eq,
    /// The stored URI starts with the value (`:below`).
    Below,
    /// The value starts with the stored URI (`:above`).
    Above,
}

/// A token value: `[system]|[code]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenValue {
    /// `None`: any system; `Some("")`: no system.
    pub system: Option<String>,
    /// `None`: any code in the system.
    pub code: Option<String>,
}

/// A quantity value: `[prefix]number|[system]|[code]`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityValue {
    /// Comparison.
    pub prefix: Prefix,
    /// The number as written.
    pub value: f64,
    /// Lower end of its precision range.
    pub lo: f64,
    /// Upper end of its precision range.
    pub hi: f64,
    /// The unit system, if given.
    pub system: Option<String>,
    /// The unit code, if given.
    pub code: Option<String>,
    /// For a common UCUM unit: (value, lo, hi, unit) in the canonical unit of
    /// its dimension, matched against the canonical index rows.
    pub canonical: Option<(f64, f64, f64, String)>,
}

/// A reference value.
#[derive(Debug, Clone, PartialEq)]
pub struct RefValue {
    /// The target type, when known (`Patient/1` or `subject:Patient=1`).
    pub target_type: Option<String>,
    /// The target id.
    pub id: Option<String>,
    /// The version (`Patient/1/_history/2`).
    pub version: Option<String>,
    /// An absolute or canonical URL.
    pub url: Option<String>,
}

/// A typed predicate on one parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `_id`.
    Id(Vec<String>),
    /// `_lastUpdated`: (prefix, range start, range end).
    LastUpdated(Vec<(Prefix, Instant, Instant)>),
    /// `:missing=true|false` on an indexed parameter.
    Missing {
        /// Parameter id.
        pid: i64,
        /// Index table.
        table: &'static str,
        /// Whether the parameter must be absent.
        missing: bool,
    },
    /// A string parameter.
    String {
        /// Parameter id.
        pid: i64,
        /// How values match.
        mode: StrMode,
        /// Alternatives (normalised unless `:exact`).
        values: Vec<String>,
    },
    /// A token parameter (`:not` negates).
    Token {
        /// Parameter id (flagged for `:of-type` and reference `:identifier`).
        pid: i64,
        /// Alternatives.
        values: Vec<TokenValue>,
        /// `:not`.
        not: bool,
    },
    /// `:text` on a token: normalised prefix of the display text.
    Text {
        /// Parameter id (flagged).
        pid: i64,
        /// Alternatives.
        values: Vec<String>,
    },
    /// A date parameter: (prefix, range start, range end) in microseconds.
    Date {
        /// Parameter id.
        pid: i64,
        /// Alternatives.
        values: Vec<(Prefix, i64, i64)>,
    },
    /// A number parameter: (prefix, value, precision range).
    Number {
        /// Parameter id.
        pid: i64,
        /// Alternatives.
        values: Vec<(Prefix, f64, f64, f64)>,
    },
    /// A quantity parameter.
    Quantity {
        /// Parameter id.
        pid: i64,
        /// Alternatives.
        values: Vec<QuantityValue>,
    },
    /// A reference parameter (several pids for compartments).
    Reference {
        /// Parameter ids (any of them).
        pids: Vec<i64>,
        /// Alternatives.
        values: Vec<RefValue>,
    },
    /// A uri parameter.
    Uri {
        /// Parameter id.
        pid: i64,
        /// How values match.
        mode: UriMode,
        /// Alternatives.
        values: Vec<String>,
    },
    /// Forward chaining: the reference `pid` points at a resource of one of the
    /// target types that matches the inner condition(s) (one per target type).
    Chain {
        /// The reference parameter.
        pid: i64,
        /// (target type, condition on it).
        targets: Vec<(String, Condition)>,
    },
    /// Reverse chaining (`_has:Type:param:...`): some resource of `source_type`
    /// refers to this one through `ref_pid` and matches `inner`.
    Has {
        /// The referring type.
        source_type: String,
        /// Its reference parameter.
        ref_pid: i64,
        /// The condition on the referring resource.
        inner: Box<Condition>,
    },
    /// A composite parameter: every component matches within one value.
    Composite {
        /// The composite parameter id.
        pid: i64,
        /// Alternatives; each is a list of component tests on the same group.
        values: Vec<Vec<Test>>,
    },
}

/// One search condition: a parameter and its typed predicate.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The resource type it applies to.
    pub resource_type: String,
    /// The parameter as written (with modifier and chain), for messages.
    pub name: String,
    /// The predicate.
    pub test: Test,
}

/// One `_sort` key.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey {
    /// Parameter code (`_id`, `_lastUpdated` or an indexed parameter).
    pub code: String,
    /// Descending order (`-code`).
    pub descending: bool,
}

/// What `_total` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TotalMode {
    /// No total.
    None,
    /// An estimate (computed exactly here).
    Estimate,
    /// The exact number of matches.
    #[default]
    Accurate,
}

/// An `_include` or `_revinclude` request.
#[derive(Debug, Clone, PartialEq)]
pub struct Include {
    /// The type that holds the reference (`Observation` in `Observation:subject`).
    pub source_type: String,
    /// The reference parameter, or `*` for all.
    pub param: String,
    /// Restrict targets to one type (`Observation:subject:Patient`).
    pub target_type: Option<String>,
    /// `:iterate`: apply to included resources too.
    pub iterate: bool,
}

/// A search at type (or, with several types, system) level.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// The types searched; conditions are parsed per type.
    pub resource_types: Vec<String>,
    /// The conditions, per type in `resource_types` order.
    pub conditions: Vec<Vec<Condition>>,
    /// Sort keys (empty: storage order, which is stable).
    pub sort: Vec<SortKey>,
    /// Page size (0: no entries, only the total).
    pub count: usize,
    /// Opaque keyset cursor from a previous page.
    pub cursor: Option<String>,
    /// Whether to count all matches.
    pub total: TotalMode,
    /// `_include`s.
    pub include: Vec<Include>,
    /// `_revinclude`s.
    pub revinclude: Vec<Include>,
}

/// One page of search results.
#[derive(Debug, Clone)]
pub struct SearchResult {
    /// The matching resources on this page.
    pub entries: Vec<crate::Stored>,
    /// Resources added by `_include`/`_revinclude`.
    pub included: Vec<crate::Stored>,
    /// The cursor of the next page, if there is one.
    pub next_cursor: Option<String>,
    /// The cursor of the previous page (unsorted searches past their first page).
    pub prev_cursor: Option<String>,
    /// The number of matches (all pages), when asked for.
    pub total: Option<u64>,
}

/// Parses `name=value` pairs into conditions on `resource_type`. Parameters that
/// only control the result (`_count`, `_sort`, ...) must be removed by the caller.
pub fn parse_conditions(resource_type: &str, params: &[(String, String)]) -> Result<Vec<Condition>> {
    params.iter().map(|(n, v)| parse_condition(resource_type, n, v)).collect()
}

fn unsupported(resource_type: &str, name: &str) -> Error {
    Error::UnsupportedParameter { resource_type: resource_type.into(), name: name.into() }
}

/// Parses one parameter.
pub fn parse_condition(resource_type: &str, name: &str, value: &str) -> Result<Condition> {
    if !fhir::definitions::r4().is_resource_type(resource_type) {
        return Err(Error::InvalidResource(format!("unknown resource type '{resource_type}'")));
    }
    let test = parse_test(resource_type, name, value, 0)?;
    Ok(Condition { resource_type: resource_type.into(), name: name.into(), test })
}

fn split_values(value: &str) -> Vec<String> {
    // `\,` escapes a comma inside a value.
    let mut out = vec![String::new()];
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n @ (',' | '|' | '$' | '\\')) => out.last_mut().expect("invariant: non-empty").push_str(&format!("\\{n}")),
                Some(n) => {
                    let last = out.last_mut().expect("invariant: non-empty");
                    last.push('\\');
                    last.push(n);
                }
                None => out.last_mut().expect("invariant: non-empty").push('\\'),
            },
            ',' => out.push(String::new()),
            c => out.last_mut().expect("invariant: non-empty").push(c),
        }
    }
    out
}

/// Splits at the first unescaped `|`, then removes escapes.
fn split_pipe(v: &str) -> (String, Option<String>) {
    let b = v.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'|' {
            return (unescape(&v[..i]), Some(unescape(&v[i + 1..])));
        }
        i += 1;
    }
    (unescape(v), None)
}

fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn table_of(kind: T) -> &'static str {
    match kind {
        T::String => "sp_string",
        T::Token => "sp_token",
        T::Date => "sp_date",
        T::Number => "sp_number",
        T::Quantity => "sp_quantity",
        T::Reference => "sp_reference",
        T::Uri => "sp_uri",
        T::Composite | T::Special => "sp_composite",
    }
}

fn param<'a>(resource_type: &str, code: &str, name: &str) -> Result<&'a ParamInfo> {
    let p = catalog().get(resource_type, code).ok_or_else(|| unsupported(resource_type, name))?;
    if !p.supported() {
        return Err(unsupported(resource_type, name));
    }
    Ok(p)
}

fn parse_test(rt: &str, name: &str, value: &str, depth: usize) -> Result<Test> {
    if depth > 4 {
        return Err(invalid(name, value, "chains are limited to 4 levels"));
    }
    if let Some(rest) = name.strip_prefix("_has:") {
        return parse_has(rt, name, rest, value, depth);
    }
    // Forward chain: `subject:Patient.name` or `subject.name`.
    if let Some((head, tail)) = name.split_once('.') {
        return parse_chain(rt, name, head, tail, value, depth);
    }
    let (code, modifier) = match name.split_once(':') {
        Some((c, m)) => (c, Some(m)),
        None => (name, None),
    };
    if value.is_empty() {
        return Err(invalid(name, value, "empty value"));
    }
    match code {
        "_id" => {
            if modifier.is_some() {
                return Err(unsupported(rt, name));
            }
            return Ok(Test::Id(split_values(value).iter().map(|v| unescape(v)).collect()));
        }
        "_lastUpdated" => {
            if modifier.is_some() {
                return Err(unsupported(rt, name));
            }
            let mut alts = Vec::new();
            for v in split_values(value) {
                let (p, rest) = split_prefix(name, &v)?;
                let (lo, hi) = precision_range(rest).ok_or_else(|| invalid(name, &v, "not a valid date or instant"))?;
                alts.push((p, lo, hi));
            }
            return Ok(Test::LastUpdated(alts));
        }
        _ => {}
    }
    let p = param(rt, code, name)?;
    let pid = p.pid;
    if modifier == Some("missing") {
        if p.kind == T::Composite {
            return Err(unsupported(rt, name));
        }
        let missing = match value {
            "true" => true,
            "false" => false,
            _ => return Err(invalid(name, value, ":missing takes true or false")),
        };
        return Ok(Test::Missing { pid, table: table_of(p.kind), missing });
    }
    let values = split_values(value);
    let bad_mod = || unsupported(rt, name);
    match p.kind {
        T::String => {
            let mode = match modifier {
                None => StrMode::Prefix,
                Some("exact") => StrMode::Exact,
                Some("contains") => StrMode::Contains,
                _ => return Err(bad_mod()),
            };
            let values = values
                .iter()
                .map(|v| if mode == StrMode::Exact { unescape(v) } else { normalize(&unescape(v)) })
                .collect();
            Ok(Test::String { pid, mode, values })
        }
        T::Token => match modifier {
            None | Some("not") => Ok(Test::Token { pid, values: values.iter().map(|v| token_value(v)).collect(), not: modifier.is_some() }),
            Some("text") => Ok(Test::Text { pid: pid + index::TEXT, values: values.iter().map(|v| normalize(&unescape(v))).collect() }),
            Some("of-type") => {
                let mut out = Vec::new();
                for v in &values {
                    let parts: Vec<&str> = v.splitn(3, '|').collect();
                    let [s, c, val] = parts.as_slice() else {
                        return Err(invalid(name, v, ":of-type takes system|code|value"));
                    };
                    out.push(TokenValue { system: Some(format!("{}|{}", unescape(s), unescape(c))), code: Some(unescape(val)) });
                }
                Ok(Test::Token { pid: pid + index::OF_TYPE, values: out, not: false })
            }
            _ => Err(bad_mod()),
        },
        T::Date => {
            if modifier.is_some() {
                return Err(bad_mod());
            }
            let mut out = Vec::new();
            for v in &values {
                let (pre, rest) = split_prefix(name, v)?;
                let (lo, hi) = precision_range(rest).ok_or_else(|| invalid(name, v, "not a valid date or dateTime"))?;
                out.push((pre, lo.0, hi.0));
            }
            Ok(Test::Date { pid, values: out })
        }
        T::Number => {
            if modifier.is_some() {
                return Err(bad_mod());
            }
            let mut out = Vec::new();
            for v in &values {
                let (pre, rest) = split_prefix(name, v)?;
                let (x, lo, hi) = number_range(rest).ok_or_else(|| invalid(name, v, "not a number"))?;
                out.push((pre, x, lo, hi));
            }
            Ok(Test::Number { pid, values: out })
        }
        T::Quantity => {
            if modifier.is_some() {
                return Err(bad_mod());
            }
            let mut out = Vec::new();
            for v in &values {
                out.push(quantity_value(name, v)?);
            }
            Ok(Test::Quantity { pid, values: out })
        }
        T::Reference => {
            if modifier == Some("identifier") {
                return Ok(Test::Token { pid: pid + index::REF_IDENT, values: values.iter().map(|v| token_value(v)).collect(), not: false });
            }
            let forced = match modifier {
                None => None,
                Some(m) if fhir::definitions::r4().is_resource_type(m) => Some(m.to_string()),
                Some(_) => return Err(bad_mod()),
            };
            let mut out = Vec::new();
            for v in &values {
                out.push(ref_value(name, &unescape(v), forced.as_deref())?);
            }
            Ok(Test::Reference { pids: vec![pid], values: out })
        }
        T::Uri => {
            let mode = match modifier {
                None => UriMode::Eq,
                Some("below") => UriMode::Below,
                Some("above") => UriMode::Above,
                _ => return Err(bad_mod()),
            };
            Ok(Test::Uri { pid, mode, values: values.iter().map(|v| unescape(v)).collect() })
        }
        T::Composite => {
            if modifier.is_some() {
                return Err(bad_mod());
            }
            let comps = &p.def.components;
            let mut alts = Vec::new();
            for v in &values {
                let parts: Vec<&str> = v.split('$').collect();
                if parts.len() != comps.len() {
                    return Err(invalid(name, v, &format!("a composite value has {} parts separated by $", comps.len())));
                }
                let mut tests = Vec::new();
                for ((comp_url, _), part) in comps.iter().zip(parts) {
                    let code = component_code(rt, comp_url).ok_or_else(|| unsupported(rt, name))?;
                    tests.push(parse_test(rt, &code, part, depth + 1)?);
                }
                alts.push(tests);
            }
            Ok(Test::Composite { pid, values: alts })
        }
        T::Special => Err(unsupported(rt, name)),
    }
}

/// The code of a composite component, given as a definition URL or a code.
fn component_code(rt: &str, comp: &str) -> Option<String> {
    let last = comp.rsplit('/').next()?;
    let code = last.strip_prefix(&format!("{rt}-")).unwrap_or(last);
    if catalog().get(rt, code).is_some() {
        return Some(code.to_string());
    }
    fhir::search_params::r4().all().iter().find(|d| d.url == comp).map(|d| d.code.clone())
}

fn token_value(v: &str) -> TokenValue {
    match split_pipe(v) {
        (code, None) => TokenValue { system: None, code: Some(code) },
        (system, Some(code)) => TokenValue { system: Some(system), code: (!code.is_empty()).then_some(code) },
    }
}

fn quantity_value(name: &str, v: &str) -> Result<QuantityValue> {
    let (pre, rest) = split_prefix(name, v)?;
    let parts: Vec<&str> = rest.splitn(3, '|').collect();
    let (num, system, code) = match parts.as_slice() {
        [n] => (*n, None, None),
        [n, s, c] => (*n, (!s.is_empty()).then(|| s.to_string()), (!c.is_empty()).then(|| c.to_string())),
        _ => return Err(invalid(name, v, "a quantity is number|system|code")),
    };
    let (x, lo, hi) = number_range(num).ok_or_else(|| invalid(name, v, "not a number"))?;
    let canonical = match (&system, &code) {
        (Some(s), Some(c)) if s == crate::index::ucum_system() => {
            crate::index::ucum_factor(c).map(|(f, canon)| (x * f, lo * f, hi * f, canon.to_string()))
        }
        _ => None,
    };
    Ok(QuantityValue { prefix: pre, value: x, lo, hi, system, code, canonical })
}

fn ref_value(name: &str, v: &str, forced: Option<&str>) -> Result<RefValue> {
    if v.contains("://") || v.starts_with("urn:") {
        // An absolute URL: its `Type/id` tail is matched as a local reference
        // when the caller (the server) has already stripped its own base.
        return Ok(RefValue { target_type: None, id: None, version: None, url: Some(v.to_string()) });
    }
    if let Some((t, id, ver)) = index::parse_local_reference(v) {
        if let Some(f) = forced
            && f != t
        {
            return Err(invalid(name, v, &format!("the reference names {t} but the modifier names {f}")));
        }
        return Ok(RefValue { target_type: Some(t.into()), id: Some(id.into()), version: ver.map(str::to_string), url: None });
    }
    if fhir::id::is_valid_id(v) {
        return Ok(RefValue { target_type: forced.map(str::to_string), id: Some(v.into()), version: None, url: None });
    }
    Err(invalid(name, v, "not a reference (Type/id, id, or an absolute URL)"))
}

fn parse_chain(rt: &str, name: &str, head: &str, tail: &str, value: &str, depth: usize) -> Result<Test> {
    let (code, forced) = match head.split_once(':') {
        Some((c, t)) => (c, Some(t)),
        None => (head, None),
    };
    let p = param(rt, code, name)?;
    if p.kind != T::Reference {
        return Err(invalid(name, value, &format!("'{code}' is not a reference parameter and cannot be chained")));
    }
    let candidates: Vec<String> = match forced {
        Some(t) => vec![t.to_string()],
        None if p.def.targets.is_empty() => fhir::definitions::r4().resource_types().to_vec(),
        None => p.def.targets.clone(),
    };
    let mut targets = Vec::new();
    let mut last_err = None;
    for t in candidates {
        if !fhir::definitions::r4().is_resource_type(&t) {
            return Err(unsupported(rt, name));
        }
        match parse_test(&t, tail, value, depth + 1) {
            Ok(test) => targets.push((t.clone(), Condition { resource_type: t, name: tail.into(), test })),
            Err(e @ Error::InvalidParameter { .. }) => return Err(e),
            Err(e) => last_err = Some(e),
        }
    }
    if targets.is_empty() {
        return Err(match last_err {
            Some(Error::UnsupportedParameter { .. }) | None => unsupported(rt, name),
            Some(e) => e,
        });
    }
    Ok(Test::Chain { pid: p.pid, targets })
}

fn parse_has(rt: &str, name: &str, rest: &str, value: &str, depth: usize) -> Result<Test> {
    // `_has:Observation:patient:code` or nested `_has:Observation:patient:_has:...`.
    let mut it = rest.splitn(3, ':');
    let (Some(src), Some(refp), Some(inner)) = (it.next(), it.next(), it.next()) else {
        return Err(invalid(name, value, "_has takes _has:Type:reference:parameter"));
    };
    if !fhir::definitions::r4().is_resource_type(src) {
        return Err(invalid(name, value, &format!("unknown resource type '{src}' in _has")));
    }
    let p = param(src, refp, name)?;
    if p.kind != T::Reference {
        return Err(invalid(name, value, &format!("'{refp}' is not a reference parameter of {src}")));
    }
    let test = parse_test(src, inner, value, depth + 1)?;
    let _ = rt;
    Ok(Test::Has {
        source_type: src.into(),
        ref_pid: p.pid,
        inner: Box::new(Condition { resource_type: src.into(), name: inner.into(), test }),
    })
}

/// Parses `_sort` (`-date,code`), checking each key is sortable for the type.
pub fn parse_sort(resource_type: &str, value: &str) -> Result<Vec<SortKey>> {
    let mut out = Vec::new();
    for k in value.split(',').filter(|k| !k.is_empty()) {
        let (code, descending) = match k.strip_prefix('-') {
            Some(c) => (c, true),
            None => (k, false),
        };
        if code != "_id" && code != "_lastUpdated" {
            let p = param(resource_type, code, "_sort")
                .map_err(|_| invalid("_sort", value, &format!("'{code}' is not a sortable parameter of {resource_type}")))?;
            if matches!(p.kind, T::Composite | T::Special) {
                return Err(invalid("_sort", value, &format!("'{code}' cannot be sorted on")));
            }
        }
        out.push(SortKey { code: code.into(), descending });
    }
    Ok(out)
}

/// Parses an `_include`/`_revinclude` value (`Observation:subject[:Patient]`, `*`).
pub fn parse_include(name: &str, value: &str) -> Result<Include> {
    let iterate = name.ends_with(":iterate") || name.ends_with(":recurse");
    if value == "*" {
        return Ok(Include { source_type: "*".into(), param: "*".into(), target_type: None, iterate });
    }
    let parts: Vec<&str> = value.split(':').collect();
    let (src, param, target) = match parts.as_slice() {
        [s, p] => (*s, *p, None),
        [s, p, t] => (*s, *p, Some(t.to_string())),
        _ => return Err(invalid(name, value, "takes Type:parameter[:targetType]")),
    };
    if !fhir::definitions::r4().is_resource_type(src) {
        return Err(invalid(name, value, &format!("unknown resource type '{src}'")));
    }
    if param != "*" {
        let p = catalog().get(src, param).ok_or_else(|| invalid(name, value, &format!("{src} has no parameter '{param}'")))?;
        if p.kind != T::Reference {
            return Err(invalid(name, value, &format!("'{param}' is not a reference parameter")));
        }
    }
    if let Some(t) = &target
        && !fhir::definitions::r4().is_resource_type(t)
    {
        return Err(invalid(name, value, &format!("unknown resource type '{t}'")));
    }
    Ok(Include { source_type: src.into(), param: param.into(), target_type: target, iterate })
}

/// The condition that puts a resource of `resource_type` in the compartment
/// of `Patient/id` (any of its compartment reference parameters), or None
/// when the type is not in the patient compartment.
pub fn patient_compartment(resource_type: &str, id: &str) -> Option<Condition> {
    let codes = fhir::search_params::r4().patient_compartment(resource_type);
    let pids: Vec<i64> = codes.iter().filter_map(|c| catalog().get(resource_type, c)).map(|p| p.pid).collect();
    if resource_type == "Patient" {
        return Some(Condition { resource_type: "Patient".into(), name: "_id".into(), test: Test::Id(vec![id.into()]) });
    }
    if pids.is_empty() {
        return None;
    }
    Some(Condition {
        resource_type: resource_type.into(),
        name: format!("compartment Patient/{id}"),
        test: Test::Reference {
            pids,
            values: vec![RefValue { target_type: Some("Patient".into()), id: Some(id.into()), version: None, url: None }],
        },
    })
}

#[cfg(test)]
mod tests;
