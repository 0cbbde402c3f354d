//! Search indexing: the catalogue of every R4 search parameter per resource
//! type (with integer parameter ids), the compiled FHIRPath expressions that
//! extract their values, and the index rows one resource produces.
//!
//! Expressions are compiled once per (type, parameter): union expressions that
//! cover several base types (`Patient.birthDate | Person.birthDate`) are split
//! and only the branches for the type are kept, and a branch whose first
//! element is absent from the resource is not evaluated at all, which keeps
//! extraction cheap during bulk import.

pub(crate) mod norm;
mod ucum;

use crate::search::value::precision_range;
use fhir::search_params::{SearchParamDef, SearchParamType};
use fhirpath::Item;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

pub use norm::normalize;

/// Parameter ids carry a derived-row flag above this bit: the same parameter's
/// `:text` rows, identifier `:of-type` rows, reference `:identifier` rows and
/// live under `pid + FLAG * k`, and so do quantities in common UCUM units
/// converted to the canonical unit of their dimension.
pub(crate) const FLAG: i64 = 1 << 20;
/// Token `:text` rows (in `sp_string`).
pub(crate) const TEXT: i64 = FLAG;
/// Identifier `:of-type` rows (in `sp_token`, system = `typesystem|typecode`).
pub(crate) const OF_TYPE: i64 = 2 * FLAG;
/// Reference `:identifier` rows (in `sp_token`).
pub(crate) const REF_IDENT: i64 = 3 * FLAG;
/// Quantity rows converted to the canonical UCUM unit of their dimension (in `sp_quantity`).
pub(crate) const CANON: i64 = 4 * FLAG;

/// Composite parameters index each component of each composite value (group
/// `g`, component `i`) under `pid + FLAG * (8 + 16 g + i)`, so that a query can
/// require all components to come from the same group.
pub(crate) const COMPOSITE_GROUPS: i64 = 64;

/// The flagged parameter id of component `i` of composite group `g`.
pub(crate) fn composite_pid(pid: i64, g: i64, i: i64) -> i64 {
    pid + FLAG * (8 + 16 * g + i)
}

/// The UCUM system URL.
pub(crate) fn ucum_system() -> &'static str {
    ucum::UCUM
}

/// The factor to the canonical unit, and the canonical unit, of a common UCUM unit.
pub(crate) fn ucum_factor(code: &str) -> Option<(f64, &'static str)> {
    ucum::factor(code)
}

/// The smallest and largest instants used for open period ends.
pub(crate) const MIN_TS: i64 = i64::MIN / 2;
pub(crate) const MAX_TS: i64 = i64::MAX / 2;

/// One search parameter of one resource type.
#[derive(Debug)]
pub struct ParamInfo {
    /// Integer id (stable for a given definitions table).
    pub pid: i64,
    /// The resource type it applies to.
    pub resource_type: String,
    /// The code used in URLs.
    pub code: String,
    /// Its type.
    pub kind: SearchParamType,
    /// The official definition.
    pub def: &'static SearchParamDef,
    /// Compiled branches of the expression for this type (empty if none compile
    /// or the parameter has no expression, e.g. `_text`).
    branches: Vec<Branch>,
    /// For composites: (component kind, expression relative to the composite value).
    components: Vec<(SearchParamType, fhirpath::Expr)>,
    /// Why the parameter cannot be indexed, if it cannot.
    pub unsupported: Option<String>,
    /// A token over elements of type `code` or `boolean` only (`gender`,
    /// `status`, `active`): few distinct values, so a search narrows little
    /// by it and should not be driven by it when a better condition exists.
    pub coarse: bool,
}

#[derive(Debug)]
struct Branch {
    /// The first element name after the type (`birthDate`); None when unknown.
    first: Option<String>,
    expr: fhirpath::Expr,
}

/// Every search parameter of every resource type.
#[derive(Debug)]
pub struct Catalog {
    params: Vec<ParamInfo>,
    by_type: HashMap<String, HashMap<String, usize>>,
    /// Per type, its parameters in code order.
    sorted: HashMap<String, Vec<usize>>,
}

/// The catalogue, built once (every expression compiled) on first use.
pub fn catalog() -> &'static Catalog {
    static C: OnceLock<Catalog> = OnceLock::new();
    C.get_or_init(Catalog::build)
}

/// Parameters handled directly on the `resources` table or not indexable by value.
const DIRECT: &[&str] = &["_id", "_lastUpdated"];

impl Catalog {
    fn build() -> Catalog {
        let sp = fhir::search_params::r4();
        let mut types: Vec<&str> = fhir::definitions::r4().resource_types().iter().map(String::as_str).collect();
        types.sort();
        let mut params = Vec::new();
        let mut by_type: HashMap<String, HashMap<String, usize>> = HashMap::new();
        for t in types {
            let mut defs: Vec<&'static SearchParamDef> = sp.for_type(t);
            let domain = !matches!(t, "Bundle" | "Binary" | "Parameters");
            if domain {
                defs.extend(sp.for_type("DomainResource"));
            }
            defs.extend(sp.for_type("Resource"));
            defs.sort_by(|a, b| a.code.cmp(&b.code));
            defs.dedup_by(|a, b| a.code == b.code);
            for def in defs {
                let idx = params.len();
                let (branches, mut unsupported) = compile_branches(t, def);
                let mut components = Vec::new();
                if def.kind == SearchParamType::Composite && unsupported.is_none() {
                    for (code, expr) in &def.components {
                        let kind = sp.get(t, code).map(|d| d.kind);
                        match (kind, fhirpath::Expr::compile(expr)) {
                            (Some(k), Ok(e)) if k != SearchParamType::Composite => components.push((k, e)),
                            _ => unsupported = Some(format!("composite component '{code}' ({expr}) cannot be indexed")),
                        }
                    }
                }
                let coarse = def.kind == SearchParamType::Token && coarse_token(t, def);
                params.push(ParamInfo {
                    coarse,
                    components,
                    pid: idx as i64 + 1,
                    resource_type: t.to_string(),
                    code: def.code.clone(),
                    kind: def.kind,
                    def,
                    branches,
                    unsupported,
                });
                by_type.entry(t.to_string()).or_default().insert(def.code.clone(), idx);
            }
        }
        let sorted = by_type
            .iter()
            .map(|(t, m)| {
                let mut v: Vec<usize> = m.values().copied().collect();
                v.sort_by(|a, b| params[*a].code.cmp(&params[*b].code));
                (t.clone(), v)
            })
            .collect();
        Catalog { params, by_type, sorted }
    }

    /// The parameter `code` of `resource_type`.
    pub fn get(&self, resource_type: &str, code: &str) -> Option<&ParamInfo> {
        self.by_type.get(resource_type)?.get(code).map(|&i| &self.params[i])
    }

    /// All parameters of a type, sorted by code.
    pub fn for_type(&self, resource_type: &str) -> Vec<&ParamInfo> {
        self.sorted.get(resource_type).into_iter().flatten().map(|&i| &self.params[i]).collect()
    }

    /// The parameter with integer id `pid`.
    pub fn by_pid(&self, pid: i64) -> Option<&ParamInfo> {
        usize::try_from(pid - 1).ok().and_then(|i| self.params.get(i))
    }

    /// Every parameter.
    pub fn all(&self) -> &[ParamInfo] {
        &self.params
    }

    /// A fingerprint of the catalogue: when it changes, stored index rows must be rebuilt.
    pub fn fingerprint(&self) -> String {
        let mut h = blake3::Hasher::new();
        h.update(b"index-v1\0");
        for p in &self.params {
            h.update(format!("{}\t{}\t{}\t{}\n", p.pid, p.resource_type, p.code, p.def.expression).as_bytes());
        }
        h.finalize().to_hex()[..16].to_string()
    }
}

impl ParamInfo {
    /// Whether this parameter is searchable here.
    pub fn supported(&self) -> bool {
        self.unsupported.is_none()
    }
}

/// Splits a union expression at top-level `|` and keeps the branches for `ty`.
fn split_union(expr: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start, mut quote) = (0i32, 0usize, false);
    for (i, c) in expr.char_indices() {
        match c {
            '\'' => quote = !quote,
            '(' | '[' if !quote => depth += 1,
            ')' | ']' if !quote => depth -= 1,
            '|' if !quote && depth == 0 => {
                out.push(expr[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(expr[start..].trim());
    out
}

fn leading_ident(s: &str) -> (&str, &str) {
    let s = s.trim_start_matches('(');
    let end = s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
    (&s[..end], &s[end..])
}

/// Rewrites `x as T` and `x.as(T)` to `x.ofType(T)`. R4 search expressions use
/// `as` on elements that repeat (`Observation.component.value as Quantity`),
/// where FHIRPath's `as` demands a single item and would fail; `ofType` is the
/// filter they mean.
fn as_to_of_type(src: &str) -> String {
    let mut out = src.replace(".as(", ".ofType(");
    while let Some(i) = out.find(" as ") {
        let rest = &out[i + 4..];
        let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(rest.len());
        let ty = rest[..end].to_string();
        out = format!("{}.ofType({ty}){}", &out[..i], &rest[end..]);
    }
    out
}

/// Whether every branch of `def` for type `t` is a plain `T.element` path to
/// an element of type `code` or `boolean` (see [`ParamInfo::coarse`]).
fn coarse_token(t: &str, def: &SearchParamDef) -> bool {
    let types = fhir::definitions::r4();
    let mut any = false;
    for part in split_union(&def.expression) {
        let (head, rest) = leading_ident(part);
        if head != t {
            if types.resource_types().iter().any(|x| x == head) {
                continue; // a branch for another type
            }
            return false;
        }
        let Some(name) = rest.strip_prefix('.') else { return false };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
            return false;
        }
        match types.element(&format!("{t}.{name}")) {
            Some(e) if !e.types.is_empty() && e.types.iter().all(|ty| ty == "code" || ty == "boolean") => any = true,
            _ => return false,
        }
    }
    any
}

fn compile_branches(t: &str, def: &SearchParamDef) -> (Vec<Branch>, Option<String>) {
    if DIRECT.contains(&def.code.as_str()) {
        return (Vec::new(), None);
    }
    if def.expression.trim().is_empty() {
        return (Vec::new(), Some(format!("'{}' has no FHIRPath expression in R4", def.code)));
    }
    if def.kind == SearchParamType::Special {
        return (Vec::new(), Some(format!("special parameter '{}' is not implemented", def.code)));
    }
    let types = fhir::definitions::r4();
    let mut branches = Vec::new();
    let mut errors = Vec::new();
    for part in split_union(&def.expression) {
        let (head, rest) = leading_ident(part);
        let is_type = types.resource_types().iter().any(|x| x == head) || head == "Resource" || head == "DomainResource";
        if is_type && head != t && head != "Resource" && head != "DomainResource" {
            continue;
        }
        // `Resource.meta.tag` on a Patient: evaluate from the Patient.
        let src = if head == "Resource" || head == "DomainResource" {
            part.replacen(head, t, 1)
        } else {
            part.to_string()
        };
        let src = as_to_of_type(&src);
        let first = if is_type && rest.starts_with('.') { Some(leading_ident(&rest[1..]).0.to_string()) } else { None };
        let first = first.filter(|f| !f.is_empty() && f.chars().next().is_some_and(|c| c.is_ascii_lowercase()));
        match fhirpath::Expr::compile(&src) {
            Ok(expr) => branches.push(Branch { first, expr }),
            Err(e) => errors.push(format!("{src}: {e}")),
        }
    }
    if branches.is_empty() {
        let why = if errors.is_empty() {
            format!("no expression branch of '{}' applies to {t}", def.code)
        } else {
            format!("expression does not compile: {}", errors.join("; "))
        };
        return (Vec::new(), Some(why));
    }
    (branches, None)
}

/// One index row.
#[derive(Debug, Clone, PartialEq)]
pub enum Row {
    /// `sp_string`: normalised and raw text.
    Str {
        /// Parameter id (possibly flagged).
        pid: i64,
        /// Normalised value.
        norm: String,
        /// The value as stored.
        raw: String,
    },
    /// `sp_token`: system ("" when none) and code.
    Token {
        /// Parameter id (possibly flagged).
        pid: i64,
        /// System.
        system: String,
        /// Code.
        code: String,
    },
    /// `sp_date`: half-open range of microseconds.
    Date {
        /// Parameter id.
        pid: i64,
        /// Start (inclusive).
        lo: i64,
        /// End (exclusive).
        hi: i64,
    },
    /// `sp_number`.
    Number {
        /// Parameter id.
        pid: i64,
        /// Value.
        value: f64,
    },
    /// `sp_quantity`.
    Quantity {
        /// Parameter id.
        pid: i64,
        /// Value.
        value: f64,
        /// Unit system.
        system: String,
        /// Unit code (or the unit text when there is no code).
        code: String,
    },
    /// `sp_reference`: a local reference (`target_type`/`target_id`) or a URL.
    Reference {
        /// Parameter id.
        pid: i64,
        /// The target type, for relative references.
        target_type: Option<String>,
        /// The target id, for relative references.
        target_id: Option<String>,
        /// The version, for versioned references.
        version: Option<String>,
        /// The absolute or canonical URL, when the reference is not relative.
        url: Option<String>,
    },
    /// `sp_uri`.
    Uri {
        /// Parameter id.
        pid: i64,
        /// The URI.
        uri: String,
    },
}

/// Extracts the index rows of one resource (duplicates removed). Parameters whose
/// expression fails on this resource are skipped; their names are returned.
pub fn extract(resource_type: &str, resource: &Value) -> (Vec<Row>, Vec<String>) {
    let cat = catalog();
    let env = fhirpath::Env::new();
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    let Some(obj) = resource.as_object() else { return (rows, failed) };
    let present = |f: &str| {
        obj.contains_key(f)
            || obj.keys().any(|k| k.len() > f.len() && k.starts_with(f) && k.as_bytes()[f.len()].is_ascii_uppercase())
    };
    for p in cat.for_type(resource_type) {
        for b in &p.branches {
            if let Some(f) = &b.first
                && !present(f)
            {
                continue;
            }
            match b.expr.evaluate(resource, &env) {
                Ok(items) if p.kind == SearchParamType::Composite => {
                    for (g, item) in items.iter().enumerate().take(COMPOSITE_GROUPS as usize) {
                        for (i, (kind, e)) in p.components.iter().enumerate() {
                            match e.evaluate_on(item, resource, &env) {
                                Ok(sub) => {
                                    for x in &sub {
                                        rows_for(composite_pid(p.pid, g as i64, i as i64), *kind, x, &mut rows);
                                    }
                                }
                                Err(_) => failed.push(p.code.clone()),
                            }
                        }
                    }
                }
                Ok(items) => {
                    for item in &items {
                        rows_for(p.pid, p.kind, item, &mut rows);
                    }
                }
                Err(_) => failed.push(p.code.clone()),
            }
        }
    }
    dedup(&mut rows);
    (rows, failed)
}

fn dedup(rows: &mut Vec<Row>) {
    // Rows are few per resource; a quadratic scan beats hashing their text.
    let mut out: Vec<Row> = Vec::with_capacity(rows.len());
    for r in rows.drain(..) {
        if !out.contains(&r) {
            out.push(r);
        }
    }
    *rows = out;
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_string)
}

fn strs<'v>(v: &'v Value, k: &str) -> Vec<&'v str> {
    match v.get(k) {
        Some(Value::String(x)) => vec![x.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn push_str(pid: i64, raw: &str, rows: &mut Vec<Row>) {
    let norm = normalize(raw);
    if !norm.is_empty() {
        rows.push(Row::Str { pid, norm, raw: raw.to_string() });
    }
}

/// The string form of a primitive item.
fn prim_string(item: &Item<'_>) -> Option<String> {
    match item {
        Item::Element(e) => match e.value? {
            Value::String(s) => Some(s.clone()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        },
        Item::String(s) => Some(s.to_string()),
        Item::Boolean(b) => Some(b.to_string()),
        Item::Integer(i) => Some(i.to_string()),
        Item::Decimal(d) => Some(d.to_string()),
        Item::Temporal(..) => item.to_json().as_str().map(str::to_string),
        _ => None,
    }
}

fn coding_rows(pid: i64, c: &Value, rows: &mut Vec<Row>) {
    if let Some(code) = s(c, "code") {
        rows.push(Row::Token { pid, system: s(c, "system").unwrap_or_default(), code });
    }
    if let Some(d) = s(c, "display") {
        push_str(pid + TEXT, &d, rows);
    }
}

fn rows_for(pid: i64, kind: SearchParamType, item: &Item<'_>, rows: &mut Vec<Row>) {
    let (ty, value) = match item {
        Item::Element(e) => (e.ty, e.value),
        _ => ("", None),
    };
    match kind {
        SearchParamType::String => match (ty, value) {
            ("HumanName", Some(v)) => {
                for k in ["family", "given", "prefix", "suffix", "text"] {
                    for x in strs(v, k) {
                        push_str(pid, x, rows);
                    }
                }
            }
            ("Address", Some(v)) => {
                for k in ["line", "city", "district", "state", "postalCode", "country", "text"] {
                    for x in strs(v, k) {
                        push_str(pid, x, rows);
                    }
                }
            }
            (_, Some(Value::Object(_))) => {}
            _ => {
                if let Some(x) = prim_string(item) {
                    push_str(pid, &x, rows);
                }
            }
        },
        SearchParamType::Token => match (ty, value) {
            ("Coding", Some(v)) => coding_rows(pid, v, rows),
            ("CodeableConcept", Some(v)) => {
                if let Some(Value::Array(cs)) = v.get("coding") {
                    for c in cs {
                        coding_rows(pid, c, rows);
                    }
                }
                if let Some(t) = s(v, "text") {
                    push_str(pid + TEXT, &t, rows);
                }
            }
            ("Identifier", Some(v)) => {
                if let Some(value) = s(v, "value") {
                    rows.push(Row::Token { pid, system: s(v, "system").unwrap_or_default(), code: value.clone() });
                    if let Some(t) = v.get("type") {
                        if let Some(Value::Array(cs)) = t.get("coding") {
                            for c in cs {
                                if let Some(tc) = s(c, "code") {
                                    let ts = s(c, "system").unwrap_or_default();
                                    rows.push(Row::Token { pid: pid + OF_TYPE, system: format!("{ts}|{tc}"), code: value.clone() });
                                }
                            }
                        }
                        if let Some(tt) = s(t, "text") {
                            push_str(pid + TEXT, &tt, rows);
                        }
                    }
                }
            }
            ("ContactPoint", Some(v)) => {
                if let Some(value) = s(v, "value") {
                    rows.push(Row::Token { pid, system: String::new(), code: value });
                }
            }
            ("Reference", Some(v)) => {
                // A few token parameters point at a Reference; its identifier is the token.
                if let Some(i) = v.get("identifier")
                    && let Some(value) = s(i, "value")
                {
                    rows.push(Row::Token { pid, system: s(i, "system").unwrap_or_default(), code: value });
                }
            }
            (_, Some(Value::Object(_))) => {}
            _ => {
                if let Some(x) = prim_string(item) {
                    rows.push(Row::Token { pid, system: String::new(), code: x });
                }
            }
        },
        SearchParamType::Date => {
            if let Some(v @ Value::Object(_)) = value {
                match ty {
                    "Period" => {
                        let lo = s(v, "start").and_then(|x| precision_range(&x)).map(|r| r.0.0).unwrap_or(MIN_TS);
                        let hi = s(v, "end").and_then(|x| precision_range(&x)).map(|r| r.1.0).unwrap_or(MAX_TS);
                        if v.get("start").is_some() || v.get("end").is_some() {
                            rows.push(Row::Date { pid, lo, hi });
                        }
                    }
                    "Timing" => {
                        let mut lo = i64::MAX;
                        let mut hi = i64::MIN;
                        for e in strs(v, "event") {
                            if let Some((a, b)) = precision_range(e) {
                                lo = lo.min(a.0);
                                hi = hi.max(b.0);
                            }
                        }
                        if let Some(bp) = v.get("repeat").and_then(|r| r.get("boundsPeriod")) {
                            if let Some((a, _)) = s(bp, "start").and_then(|x| precision_range(&x)) {
                                lo = lo.min(a.0);
                            }
                            hi = hi.max(s(bp, "end").and_then(|x| precision_range(&x)).map(|r| r.1.0).unwrap_or(MAX_TS));
                        }
                        if lo <= hi {
                            rows.push(Row::Date { pid, lo, hi });
                        }
                    }
                    _ => {}
                }
            } else if let Some(x) = prim_string(item)
                && let Some((lo, hi)) = precision_range(&x)
            {
                rows.push(Row::Date { pid, lo: lo.0, hi: hi.0 });
            }
        }
        SearchParamType::Number => {
            if let Some(x) = prim_string(item)
                && let Ok(v) = x.parse::<f64>()
            {
                rows.push(Row::Number { pid, value: v });
            }
        }
        SearchParamType::Quantity => {
            if let Some(v @ Value::Object(_)) = value {
                let Some(num) = v.get("value").and_then(Value::as_f64) else { return };
                if ty == "Money" {
                    rows.push(Row::Quantity {
                        pid,
                        value: num,
                        system: "urn:iso:std:iso:4217".into(),
                        code: s(v, "currency").unwrap_or_default(),
                    });
                    return;
                }
                let system = s(v, "system").unwrap_or_default();
                let code = s(v, "code").or_else(|| s(v, "unit")).unwrap_or_default();
                // Composite components (flagged ids) carry no canonical rows.
                if system == ucum::UCUM
                    && pid < FLAG
                    && let Some((cv, cc)) = ucum::canonical(num, &code)
                {
                    rows.push(Row::Quantity { pid: pid + CANON, value: cv, system: system.clone(), code: cc.to_string() });
                }
                if let Some(unit) = s(v, "unit")
                    && unit != code
                {
                    rows.push(Row::Quantity { pid, value: num, system: String::new(), code: unit });
                }
                rows.push(Row::Quantity { pid, value: num, system, code });
            } else if let Some(x) = prim_string(item)
                && let Ok(v) = x.parse::<f64>()
            {
                rows.push(Row::Quantity { pid, value: v, system: String::new(), code: String::new() });
            }
        }
        SearchParamType::Reference => match (ty, value) {
            (_, Some(v @ Value::Object(_))) => {
                if let Some(r) = s(v, "reference")
                    && let Some(row) = reference_row(pid, &r)
                {
                    rows.push(row);
                }
                if let Some(i) = v.get("identifier")
                    && let Some(value) = s(i, "value")
                {
                    rows.push(Row::Token { pid: pid + REF_IDENT, system: s(i, "system").unwrap_or_default(), code: value });
                }
            }
            _ => {
                if let Some(x) = prim_string(item) {
                    rows.push(Row::Reference { pid, target_type: None, target_id: None, version: None, url: Some(x) });
                }
            }
        },
        SearchParamType::Uri => {
            if let Some(x) = prim_string(item) {
                rows.push(Row::Uri { pid, uri: x });
            }
        }
        SearchParamType::Composite | SearchParamType::Special => {}
    }
}

/// Parses a reference string into a row: `Type/id`, `Type/id/_history/v`, or a URL.
fn reference_row(pid: i64, r: &str) -> Option<Row> {
    if r.starts_with('#') {
        return None;
    }
    match parse_local_reference(r) {
        Some((t, id, v)) => Some(Row::Reference {
            pid,
            target_type: Some(t.to_string()),
            target_id: Some(id.to_string()),
            version: v.map(str::to_string),
            url: None,
        }),
        None => Some(Row::Reference { pid, target_type: None, target_id: None, version: None, url: Some(r.to_string()) }),
    }
}

/// `Type/id` or `Type/id/_history/v` (relative only) → (type, id, version).
pub(crate) fn parse_local_reference(r: &str) -> Option<(&str, &str, Option<&str>)> {
    let parts: Vec<&str> = r.split('/').collect();
    let (t, id, v) = match parts.as_slice() {
        [t, id] => (*t, *id, None),
        [t, id, "_history", v] => (*t, *id, Some(*v)),
        _ => return None,
    };
    let known = fhir::definitions::r4().resource_types().iter().any(|x| x == t);
    (known && fhir::id::is_valid_id(id)).then_some((t, id, v))
}

#[cfg(test)]
mod tests;
