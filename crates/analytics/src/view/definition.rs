//! The ViewDefinition model: parsing a SQL-on-FHIR v2 ViewDefinition from
//! JSON, validating it (with locations such as `select[0].column[1].name`),
//! and compiling every FHIRPath expression once.
//!
//! Validation is static where it can be: column names, duplicate names,
//! `unionAll` branches with different columns, unknown constants, FHIRPath
//! syntax, and `where` paths whose FHIR type is known not to be boolean are
//! refused before any resource is read.

use serde_json::{Map, Value};

use super::error::{Error, Result};
use super::path::{CompiledPath, TypeHint, infer_type};

/// A parsed, validated and compiled SQL-on-FHIR v2 ViewDefinition.
#[derive(Debug, Clone)]
pub struct ViewDefinition {
    /// The view's name (`name`), used as the SQL table and file name.
    pub name: Option<String>,
    /// The FHIR resource type the view reads (`resource`).
    pub resource: String,
    /// Top-level `select` nodes (their rows are multiplied together).
    pub select: Vec<Select>,
    /// `where` filters (all must be true).
    pub filters: Vec<CompiledPath>,
    /// The output columns in order, with their resolved types.
    pub columns: Vec<ColumnSpec>,
    /// The JSON the view was parsed from.
    pub source: Value,
    /// The top-level elements the view reads (`None`: all of them).
    pub(crate) projection: Option<super::project::Projection>,
    /// Whether the view runs on the light tree (`fast`).
    pub(crate) fast: bool,
    /// The FHIR type name of `resource` ("" when unknown).
    pub(crate) root_type: &'static str,
}

/// One `select` node.
#[derive(Debug, Clone)]
pub struct Select {
    /// Where in the view (`select[0].select[1]`).
    pub location: String,
    /// How the node iterates over its focus.
    pub iteration: Iteration,
    /// The node's own columns, in order.
    pub columns: Vec<Column>,
    /// Nested `select` nodes.
    pub select: Vec<Select>,
    /// `unionAll` branches (each yields the same columns).
    pub union_all: Vec<Select>,
    /// The number of output columns this node yields (own + nested + union).
    pub width: usize,
}

/// How a select node iterates.
#[derive(Debug, Clone)]
pub enum Iteration {
    /// Once, on the parent's focus.
    Once,
    /// `forEach`: once per item; no rows when there is none.
    ForEach(CompiledPath),
    /// `forEachOrNull`: once per item; one all-null row when there is none.
    ForEachOrNull(CompiledPath),
    /// `repeat`: once per item reached by applying the paths recursively.
    Repeat(Vec<CompiledPath>),
}

/// One column of a select node.
#[derive(Debug, Clone)]
pub struct Column {
    /// The column name.
    pub name: String,
    /// The path that yields its value.
    pub path: CompiledPath,
    /// Whether the column holds a list (`collection: true`).
    pub collection: bool,
    /// Index of this column in [`ViewDefinition::columns`].
    pub index: usize,
}

/// The kind of Arrow value a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// Arrow `Boolean`.
    Boolean,
    /// Arrow `Int64` (FHIR integer, positiveInt, unsignedInt, integer64).
    Integer,
    /// Arrow `Float64` (FHIR decimal).
    Decimal,
    /// Arrow `Utf8` (every other type; complex values as JSON text).
    String,
}

/// An output column with its resolved type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnSpec {
    /// The column name.
    pub name: String,
    /// The FHIR type: the `type` given in the view, else the type inferred
    /// from the path and the R4 definitions, else `None`.
    pub fhir_type: Option<String>,
    /// The Arrow value kind.
    pub kind: ValueKind,
    /// Whether the column is a list.
    pub collection: bool,
    /// The column's `description`, if any.
    pub description: Option<String>,
}

/// The value kind for a FHIR type name.
pub fn kind_of_fhir_type(ty: &str) -> ValueKind {
    match ty {
        "boolean" | "Boolean" | "System.Boolean" => ValueKind::Boolean,
        "integer" | "positiveInt" | "unsignedInt" | "integer64" | "Integer" | "System.Integer" => {
            ValueKind::Integer
        }
        "decimal" | "Decimal" | "System.Decimal" => ValueKind::Decimal,
        _ => ValueKind::String,
    }
}

/// Whether `name` is a valid column (and view) name: `^[A-Za-z][A-Za-z0-9_]*$`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Constants: name → FHIRPath literal text.
pub(crate) type Constants = Vec<(String, String)>;

impl ViewDefinition {
    /// Parses and validates a ViewDefinition from JSON text.
    pub fn from_json_str(text: &str) -> Result<ViewDefinition> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid("ViewDefinition", format!("not JSON: {e}")))?;
        ViewDefinition::from_json(&value)
    }

    /// Parses and validates a ViewDefinition from a JSON value.
    pub fn from_json(value: &Value) -> Result<ViewDefinition> {
        let obj = value.as_object().ok_or_else(|| Error::invalid("ViewDefinition", "must be a JSON object"))?;
        if let Some(rt) = obj.get("resourceType") {
            if rt.as_str() != Some("ViewDefinition") {
                return Err(Error::invalid("resourceType", format!("expected \"ViewDefinition\", found {rt}")));
            }
        }
        let name = opt_str(obj, "name", "name")?;
        if let Some(n) = &name {
            if !is_valid_name(n) {
                return Err(Error::invalid(
                    "name",
                    format!("`{n}` is not a valid name (letters, digits and `_`, starting with a letter)"),
                ));
            }
        }
        let resource = opt_str(obj, "resource", "resource")?
            .ok_or_else(|| Error::invalid("resource", "missing: a view must name the resource type it reads"))?;
        if !fhir::definitions::r4().is_resource_type(&resource) {
            return Err(Error::invalid("resource", format!("`{resource}` is not a FHIR R4 resource type")));
        }
        let constants = parse_constants(obj)?;
        let mut b = Builder { constants, columns: Vec::new() };
        let select_json = array(obj, "select", "select")?;
        if select_json.is_empty() {
            return Err(Error::invalid("select", "missing: a view needs at least one select with columns"));
        }
        let mut select = Vec::new();
        for (i, s) in select_json.iter().enumerate() {
            select.push(b.select(s, &format!("select[{i}]"), TypeHint::resource(&resource))?);
        }
        if b.columns.is_empty() {
            return Err(Error::invalid("select", "the view defines no columns"));
        }
        check_duplicates(&b.columns)?;
        let mut filters = Vec::new();
        for (i, w) in array(obj, "where", "where")?.iter().enumerate() {
            let loc = format!("where[{i}]");
            let wobj = w.as_object().ok_or_else(|| Error::invalid(&loc, "must be an object"))?;
            let path = opt_str(wobj, "path", &format!("{loc}.path"))?
                .ok_or_else(|| Error::invalid(format!("{loc}.path"), "missing"))?;
            let compiled = b.compile(&path, &format!("{loc}.path"), &TypeHint::resource(&resource))?;
            if let Some(ty) = infer_type(&path, &TypeHint::resource(&resource)).and_then(|t| t.fhir_type) {
                if kind_of_fhir_type(&ty) != ValueKind::Boolean {
                    return Err(Error::invalid(
                        format!("{loc}.path"),
                        format!("`{path}` yields {ty}, but a where path must yield a boolean"),
                    ));
                }
            }
            filters.push(compiled);
        }
        let mut view =
            ViewDefinition { name, resource, select, filters, columns: b.columns, source: value.clone(), projection: None, fast: false, root_type: "" };
        view.projection = super::project::Projection::of(&view);
        view.fast = super::fast::is_fast(&view);
        view.root_type = fhir::definitions::r4().type_def(&view.resource).map(|t| t.name.as_str()).unwrap_or("");
        Ok(view)
    }

    /// The view name, required when the view becomes a SQL table or a file.
    pub fn require_name(&self) -> Result<&str> {
        self.name
            .as_deref()
            .ok_or_else(|| Error::invalid("name", "missing: the view needs a name to be used as a table or file"))
    }

    /// The output column names in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }
}

fn check_duplicates(cols: &[ColumnSpec]) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for c in cols {
        if !seen.insert(c.name.as_str()) {
            return Err(Error::invalid("select", format!("column `{}` is defined more than once", c.name)));
        }
    }
    Ok(())
}

fn opt_str(obj: &Map<String, Value>, key: &str, loc: &str) -> Result<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Error::invalid(loc, format!("must be a string, found {other}"))),
    }
}

fn array<'a>(obj: &'a Map<String, Value>, key: &str, loc: &str) -> Result<&'a [Value]> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(Error::invalid(loc, format!("must be an array, found {other}"))),
    }
}

/// Parses `constant` into FHIRPath literals, typed by their `value[x]` suffix.
fn parse_constants(obj: &Map<String, Value>) -> Result<Constants> {
    let mut out: Constants = Vec::new();
    for (i, c) in array(obj, "constant", "constant")?.iter().enumerate() {
        let loc = format!("constant[{i}]");
        let cobj = c.as_object().ok_or_else(|| Error::invalid(&loc, "must be an object"))?;
        let name = opt_str(cobj, "name", &format!("{loc}.name"))?
            .ok_or_else(|| Error::invalid(format!("{loc}.name"), "missing"))?;
        if !is_valid_name(&name) {
            return Err(Error::invalid(format!("{loc}.name"), format!("`{name}` is not a valid constant name")));
        }
        let values: Vec<(&String, &Value)> = cobj.iter().filter(|(k, _)| k.starts_with("value")).collect();
        let [(key, value)] = values.as_slice() else {
            return Err(Error::invalid(
                &loc,
                format!("constant `{name}` needs exactly one value[x] element, found {}", values.len()),
            ));
        };
        let ty = &key["value".len()..];
        let literal = constant_literal(ty, value)
            .ok_or_else(|| Error::invalid(format!("{loc}.{key}"), format!("invalid {ty} constant {value}")))?;
        if out.iter().any(|(n, _)| *n == name) {
            return Err(Error::invalid(format!("{loc}.name"), format!("constant `{name}` is defined twice")));
        }
        out.push((name, literal));
    }
    Ok(out)
}

/// The FHIRPath literal for a constant of FHIR type `ty` (as in `valueDate`).
fn constant_literal(ty: &str, v: &Value) -> Option<String> {
    match ty {
        "Boolean" => v.as_bool().map(|b| b.to_string()),
        "Integer" | "PositiveInt" | "UnsignedInt" | "Integer64" => {
            let n = v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))?;
            Some(n.to_string())
        }
        "Decimal" => match v {
            Value::Number(n) => {
                let s = n.to_string();
                Some(if s.contains(['.', 'e', 'E']) { s } else { format!("{s}.0") })
            }
            _ => None,
        },
        "Date" => {
            let s = v.as_str()?;
            fhirpath::DateTimeVal::parse_date(s)?;
            Some(format!("@{s}"))
        }
        "DateTime" | "Instant" => {
            let s = v.as_str()?;
            fhirpath::DateTimeVal::parse_datetime(s)?;
            Some(if s.contains('T') { format!("@{s}") } else { format!("@{s}T") })
        }
        "Time" => {
            let s = v.as_str()?;
            fhirpath::DateTimeVal::parse_time(s)?;
            Some(format!("@T{s}"))
        }
        "String" | "Code" | "Id" | "Uri" | "Url" | "Canonical" | "Oid" | "Uuid" | "Base64Binary" | "Markdown" => {
            v.as_str().map(string_literal)
        }
        _ => None,
    }
}

/// Quotes `s` as a FHIRPath string literal.
pub(crate) fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

struct Builder {
    constants: Constants,
    columns: Vec<ColumnSpec>,
}

impl Builder {
    fn compile(&self, src: &str, loc: &str, focus: &TypeHint) -> Result<CompiledPath> {
        CompiledPath::compile(src, loc, &self.constants, focus)
    }

    fn path_field(&self, obj: &Map<String, Value>, key: &str, loc: &str, focus: &TypeHint) -> Result<Option<(String, CompiledPath)>> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some((s.clone(), self.compile(s, &format!("{loc}.{key}"), focus)?))),
            Some(other) => Err(Error::invalid(format!("{loc}.{key}"), format!("must be a FHIRPath string, found {other}"))),
        }
    }

    fn select(&mut self, v: &Value, loc: &str, focus: TypeHint) -> Result<Select> {
        let obj = v.as_object().ok_or_else(|| Error::invalid(loc, "must be an object"))?;
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "column" | "select" | "forEach" | "forEachOrNull" | "repeat" | "unionAll" | "extension" | "id"
            ) {
                return Err(Error::invalid(format!("{loc}.{key}"), "unknown element in select"));
            }
        }
        let for_each = self.path_field(obj, "forEach", loc, &focus)?;
        let for_each_or_null = self.path_field(obj, "forEachOrNull", loc, &focus)?;
        let repeat = match obj.get("repeat") {
            None | Some(Value::Null) => None,
            Some(Value::Array(paths)) => {
                if paths.is_empty() {
                    return Err(Error::invalid(format!("{loc}.repeat"), "needs at least one path"));
                }
                let mut out = Vec::new();
                for (i, p) in paths.iter().enumerate() {
                    let ploc = format!("{loc}.repeat[{i}]");
                    let s = p.as_str().ok_or_else(|| Error::invalid(&ploc, format!("must be a FHIRPath string, found {p}")))?;
                    // Repeated paths apply to items of changing types: no static focus.
                    out.push((s.to_string(), self.compile(s, &ploc, &TypeHint::default())?));
                }
                Some(out)
            }
            Some(other) => return Err(Error::invalid(format!("{loc}.repeat"), format!("must be an array of paths, found {other}"))),
        };
        let n_iter = for_each.is_some() as u8 + for_each_or_null.is_some() as u8 + repeat.is_some() as u8;
        if n_iter > 1 {
            return Err(Error::invalid(loc, "forEach, forEachOrNull and repeat are mutually exclusive"));
        }
        let (iteration, focus) = match (for_each, for_each_or_null, repeat) {
            (Some((src, p)), _, _) => (Iteration::ForEach(p), focus.then(&src)),
            (_, Some((src, p)), _) => (Iteration::ForEachOrNull(p), focus.then(&src)),
            (_, _, Some(paths)) => {
                let hint = paths.first().map(|(src, _)| focus.then(src)).unwrap_or_default();
                (Iteration::Repeat(paths.into_iter().map(|(_, p)| p).collect()), hint)
            }
            _ => (Iteration::Once, focus),
        };
        let start = self.columns.len();
        let mut columns = Vec::new();
        for (i, c) in array(obj, "column", &format!("{loc}.column"))?.iter().enumerate() {
            columns.push(self.column(c, &format!("{loc}.column[{i}]"), &focus)?);
        }
        let mut select = Vec::new();
        for (i, s) in array(obj, "select", &format!("{loc}.select"))?.iter().enumerate() {
            select.push(self.select(s, &format!("{loc}.select[{i}]"), focus.clone())?);
        }
        let mut union_all = Vec::new();
        let branches = array(obj, "unionAll", &format!("{loc}.unionAll"))?;
        let union_start = self.columns.len();
        let mut first_branch: Option<Vec<ColumnSpec>> = None;
        for (i, s) in branches.iter().enumerate() {
            let bloc = format!("{loc}.unionAll[{i}]");
            let branch = self.select(s, &bloc, focus.clone())?;
            let branch_cols: Vec<ColumnSpec> = self.columns.drain(union_start..).collect();
            match &first_branch {
                None => first_branch = Some(branch_cols),
                Some(first) => {
                    let a: Vec<&str> = first.iter().map(|c| c.name.as_str()).collect();
                    let b: Vec<&str> = branch_cols.iter().map(|c| c.name.as_str()).collect();
                    if a != b {
                        return Err(Error::invalid(
                            bloc,
                            format!("unionAll branches must yield the same columns in the same order: [{}] vs [{}]", a.join(", "), b.join(", ")),
                        ));
                    }
                    for (x, y) in first.iter().zip(&branch_cols) {
                        if x.kind != y.kind || x.collection != y.collection {
                            return Err(Error::invalid(
                                &bloc,
                                format!("column `{}` has a different type or collection flag than in unionAll[0]", y.name),
                            ));
                        }
                    }
                }
            }
            union_all.push(branch);
        }
        if let Some(cols) = first_branch {
            // Every branch wrote its columns from `union_start` on, so they
            // already share the same output slots.
            self.columns.extend(cols);
        }
        let width = self.columns.len() - start;
        Ok(Select { location: loc.to_string(), iteration, columns, select, union_all, width })
    }

    fn column(&mut self, v: &Value, loc: &str, focus: &TypeHint) -> Result<Column> {
        let obj = v.as_object().ok_or_else(|| Error::invalid(loc, "must be an object"))?;
        let name = opt_str(obj, "name", &format!("{loc}.name"))?
            .ok_or_else(|| Error::invalid(format!("{loc}.name"), "missing column name"))?;
        if !is_valid_name(&name) {
            return Err(Error::invalid(
                format!("{loc}.name"),
                format!("`{name}` is not a valid column name (letters, digits and `_`, starting with a letter)"),
            ));
        }
        let (src, path) = self
            .path_field(obj, "path", loc, focus)?
            .ok_or_else(|| Error::invalid(format!("{loc}.path"), "missing column path"))?;
        let collection = match obj.get("collection") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(Error::invalid(format!("{loc}.collection"), format!("must be a boolean, found {other}"))),
        };
        let declared = opt_str(obj, "type", &format!("{loc}.type"))?;
        let description = opt_str(obj, "description", &format!("{loc}.description"))?;
        let fhir_type = match declared {
            Some(t) => Some(t),
            None => infer_type(&src, focus).and_then(|t| t.fhir_type),
        };
        let kind = fhir_type.as_deref().map(kind_of_fhir_type).unwrap_or(ValueKind::String);
        let index = self.columns.len();
        self.columns.push(ColumnSpec { name: name.clone(), fhir_type, kind, collection, description });
        Ok(Column { name, path, collection, index })
    }
}
