//! Row generation: applies a [`ViewDefinition`] to one resource and yields
//! its rows as [`Cell`]s, following the SQL-on-FHIR v2 processing model
//! (`forEach`, `forEachOrNull`, `repeat`, nested `select` as a cross
//! product, `unionAll` as a concatenation, `%rowIndex`).

use std::cell::OnceCell;

use fhirpath::{Env, Item};
use serde_json::Value;

use super::definition::{Column, ColumnSpec, Iteration, Select, ValueKind, ViewDefinition};
use super::error::{Error, Result};
use super::path::CompiledPath;

/// One output value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A decimal.
    Float(f64),
    /// Text (complex values are JSON text).
    Str(String),
    /// The values of a `collection: true` column.
    List(Vec<Cell>),
}

/// One output row, one cell per view column.
pub type Row = Vec<Cell>;

/// Lazily built environments, one per `%rowIndex` value. Every environment
/// is created once and then shared, so items evaluated under one index can
/// outlive evaluations under another (they borrow the environment).
pub(crate) struct RowEnvs {
    blocks: Vec<OnceCell<Box<[OnceCell<Env>]>>>,
}

const BLOCK: usize = 256;
const BLOCKS: usize = 4096;

impl RowEnvs {
    pub(crate) fn new() -> RowEnvs {
        RowEnvs { blocks: (0..BLOCKS).map(|_| OnceCell::new()).collect() }
    }

    fn get(&self, index: usize) -> Option<&Env> {
        let block = self.blocks.get(index / BLOCK)?.get_or_init(|| (0..BLOCK).map(|_| OnceCell::new()).collect());
        Some(block[index % BLOCK].get_or_init(|| Env::new().with("rowIndex", Value::from(index as u64))))
    }
}

struct Ctx<'a> {
    view: &'a ViewDefinition,
    resource: &'a Value,
    envs: &'a RowEnvs,
}

impl ViewDefinition {
    /// The rows this view yields for one resource (none when the resource is
    /// of another type or a `where` filter rejects it).
    pub fn rows(&self, resource: &Value) -> Result<Vec<Row>> {
        let envs = RowEnvs::new();
        let mut out = Vec::new();
        self.rows_into(resource, &envs, &mut out)?;
        Ok(out)
    }

    /// Like [`ViewDefinition::rows`], appending to `out` and reusing `envs`.
    pub(crate) fn rows_into(&self, resource: &Value, envs: &RowEnvs, out: &mut Vec<Row>) -> Result<()> {
        if resource.get("resourceType").and_then(Value::as_str) != Some(self.resource.as_str()) {
            return Ok(());
        }
        let ctx = Ctx { view: self, resource, envs };
        let ty: &'static str =
            fhir::definitions::r4().type_def(&self.resource).map(|t| t.name.as_str()).unwrap_or("");
        let root = Item::element(resource, ty);
        let env0 = envs.get(0).expect("invariant: index 0 is always available");
        for f in &self.filters {
            let r = f.evaluate(&root, resource, env0).map_err(|e| ctx.err(&f.location, e.to_string()))?;
            match r.as_slice() {
                [] => return Ok(()),
                [Item::Boolean(true)] => {}
                [Item::Boolean(false)] => return Ok(()),
                [Item::Element(e)] if e.value.and_then(Value::as_bool).is_some() => {
                    if e.value.and_then(Value::as_bool) != Some(true) {
                        return Ok(());
                    }
                }
                other => {
                    return Err(ctx.err(
                        &f.location,
                        format!("where path `{}` must yield one boolean, got {}", f.source, describe(other)),
                    ));
                }
            }
        }
        let width = self.columns.len();
        let mut rows: Vec<Row> = vec![vec![Cell::Null; width]];
        for s in &self.select {
            let sub = ctx.select(s, &root, 0)?;
            rows = fill_product(rows, sub);
            if rows.is_empty() {
                return Ok(());
            }
        }
        out.extend(rows);
        Ok(())
    }
}

/// Partial rows: full-width rows where only this node's slots are set.
type Partial = Vec<Row>;

/// The cross product of two sets of partial rows (their slots are disjoint).
pub(crate) fn fill_product(left: Partial, right: Partial) -> Partial {
    if left.len() == 1 {
        let l = left.into_iter().next().expect("invariant: one row");
        return right
            .into_iter()
            .map(|mut r| {
                fill(&mut r, &l);
                r
            })
            .collect();
    }
    if right.len() == 1 {
        let r = right.into_iter().next().expect("invariant: one row");
        return left
            .into_iter()
            .map(|mut l| {
                fill(&mut l, &r);
                l
            })
            .collect();
    }
    let mut out = Vec::with_capacity(left.len() * right.len());
    for l in &left {
        for r in &right {
            let mut row = l.clone();
            fill(&mut row, r);
            out.push(row);
        }
    }
    out
}

/// Copies the set slots of `src` into `dst`.
fn fill(dst: &mut Row, src: &Row) {
    for (d, s) in dst.iter_mut().zip(src) {
        if !matches!(s, Cell::Null) {
            *d = s.clone();
        }
    }
}

fn describe(items: &[Item<'_>]) -> String {
    let vals: Vec<String> = items.iter().take(3).map(|i| i.to_json().to_string()).collect();
    format!("{} item(s) [{}]", items.len(), vals.join(", "))
}

impl<'a> Ctx<'a> {
    fn err(&self, location: &str, message: String) -> Error {
        let rt = self.resource.get("resourceType").and_then(Value::as_str).unwrap_or("?");
        let id = self.resource.get("id").and_then(Value::as_str).unwrap_or("(no id)");
        Error::Evaluation { resource: format!("{rt}/{id}"), location: location.to_string(), message }
    }

    fn env(&self, index: usize, location: &str) -> Result<&'a Env> {
        self.envs
            .get(index)
            .ok_or_else(|| self.err(location, format!("%rowIndex {index} exceeds the supported {}", BLOCK * BLOCKS)))
    }

    fn eval(&self, p: &'a CompiledPath, focus: &Item<'a>, index: usize) -> Result<Vec<Item<'a>>> {
        let env = self.env(index, &p.location)?;
        p.evaluate(focus, self.resource, env).map_err(|e| self.err(&p.location, e.to_string()))
    }

    fn select(&self, s: &'a Select, focus: &Item<'a>, index: usize) -> Result<Partial> {
        match &s.iteration {
            Iteration::Once => self.body(s, focus, index),
            Iteration::ForEach(p) | Iteration::ForEachOrNull(p) => {
                let items = self.eval(p, focus, index)?;
                if items.is_empty() {
                    return Ok(if matches!(s.iteration, Iteration::ForEachOrNull(_)) {
                        // The null row: every column null, except that
                        // `%rowIndex` is still the (first) index, 0.
                        let mut row = vec![Cell::Null; self.view.columns.len()];
                        row_index_columns(s, &mut row);
                        vec![row]
                    } else {
                        Vec::new()
                    });
                }
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.extend(self.body(s, item, i)?);
                }
                Ok(out)
            }
            Iteration::Repeat(paths) => {
                let mut items = Vec::new();
                self.repeat(paths, focus, index, &mut items, 0)?;
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.extend(self.body(s, item, i)?);
                }
                Ok(out)
            }
        }
    }

    fn repeat(&self, paths: &'a [CompiledPath], focus: &Item<'a>, index: usize, out: &mut Vec<Item<'a>>, depth: usize) -> Result<()> {
        if depth > 64 {
            let loc = paths.first().map(|p| p.location.as_str()).unwrap_or("repeat");
            return Err(self.err(loc, "repeat nests deeper than 64 levels".into()));
        }
        for p in paths {
            let env = self.env(index, &p.location)?;
            let items = match p.evaluate(focus, self.resource, env) {
                Ok(items) => items,
                // A repeated path need not exist on every level (`answer.item`
                // on the resource itself): that level simply yields nothing.
                Err(fhirpath::Error::Semantic { .. }) => Vec::new(),
                Err(e) => return Err(self.err(&p.location, e.to_string())),
            };
            for item in items {
                out.push(item.clone());
                self.repeat(paths, &item, index, out, depth + 1)?;
            }
        }
        Ok(())
    }

    /// The rows of one node on one focus item, ignoring its iteration.
    fn body(&self, s: &'a Select, focus: &Item<'a>, index: usize) -> Result<Partial> {
        let mut own = vec![Cell::Null; self.view.columns.len()];
        for c in &s.columns {
            own[c.index] = self.column(c, focus, index)?;
        }
        let mut rows = vec![own];
        for n in &s.select {
            rows = fill_product(rows, self.select(n, focus, index)?);
            if rows.is_empty() {
                return Ok(rows);
            }
        }
        if !s.union_all.is_empty() {
            let mut union = Vec::new();
            for b in &s.union_all {
                union.extend(self.select(b, focus, index)?);
            }
            rows = fill_product(rows, union);
        }
        Ok(rows)
    }

    fn column(&self, c: &'a Column, focus: &Item<'a>, index: usize) -> Result<Cell> {
        let items = self.eval(&c.path, focus, index)?;
        let spec = &self.view.columns[c.index];
        if c.collection {
            let mut cells = Vec::with_capacity(items.len());
            for i in &items {
                cells.push(self.cell(i, spec, &c.path)?);
            }
            return Ok(Cell::List(cells));
        }
        match items.as_slice() {
            [] => Ok(Cell::Null),
            [one] => self.cell(one, spec, &c.path),
            many => Err(self.err(
                &c.path.location,
                format!(
                    "column `{}` yields {}; set `collection: true` or narrow the path (e.g. `.first()`)",
                    c.name,
                    describe(many)
                ),
            )),
        }
    }

    fn cell(&self, item: &Item<'_>, spec: &ColumnSpec, p: &CompiledPath) -> Result<Cell> {
        let v = match item {
            Item::Boolean(b) => return coerce(Cell::Bool(*b), spec.kind).ok_or_else(|| self.type_err(spec, p, item)),
            Item::Integer(i) => return coerce(Cell::Int(*i), spec.kind).ok_or_else(|| self.type_err(spec, p, item)),
            Item::String(s) => return coerce(Cell::Str(s.to_string()), spec.kind).ok_or_else(|| self.type_err(spec, p, item)),
            Item::Element(e) if e.value.is_some() => {
                if let Some(c) = element_cell(e.value, e.ty) {
                    return coerce(c, spec.kind).ok_or_else(|| self.type_err(spec, p, item));
                }
                item.to_json()
            }
            other => other.to_json(),
        };
        let cell = match v {
            Value::Null => Cell::Null,
            Value::Bool(b) => Cell::Bool(b),
            Value::Number(n) => match n.as_i64() {
                Some(i) if !n.is_f64() => Cell::Int(i),
                _ => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => Cell::Str(s),
            other => Cell::Str(other.to_string()),
        };
        coerce(cell, spec.kind).ok_or_else(|| self.type_err(spec, p, item))
    }

    fn type_err(&self, spec: &ColumnSpec, p: &CompiledPath, item: &Item<'_>) -> Error {
        self.err(
            &p.location,
            format!(
                "column `{}` is declared {} but the path yields {}",
                spec.name,
                spec.fhir_type.as_deref().unwrap_or("string"),
                item.to_json()
            ),
        )
    }
}

/// The cell of a primitive JSON element, computed directly; the same value
/// `Item::to_json` would give (a number is an integer when it has no
/// fraction and fits, as FHIRPath's decimal normalisation makes it), without
/// building intermediate values. `None` for dates and times (rendered by the
/// FHIRPath engine) and for complex values.
fn element_cell(value: Option<&Value>, ty: &str) -> Option<Cell> {
    Some(match value? {
        Value::Bool(b) => Cell::Bool(*b),
        Value::String(s) if !matches!(ty, "date" | "dateTime" | "instant" | "time") => Cell::Str(s.clone()),
        Value::Number(n) => number_cell(n)?,
        _ => return None,
    })
}

/// A JSON number as a cell, as FHIRPath's decimal normalisation gives it.
pub(crate) fn number_cell(n: &serde_json::Number) -> Option<Cell> {
    Some(if let Some(i) = n.as_i64() {
        Cell::Int(i)
    } else if let Some(u) = n.as_u64() {
        Cell::Float(u as f64)
    } else {
        let f = n.as_f64()?;
        if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 { Cell::Int(f as i64) } else { Cell::Float(f) }
    })
}

/// Sets the `%rowIndex` columns of a forEachOrNull null row (and of its nested nodes) to 0.
fn row_index_columns(s: &Select, row: &mut Row) {
    for c in &s.columns {
        if c.path.source.trim() == "%rowIndex" {
            row[c.index] = Cell::Int(0);
        }
    }
    for n in s.select.iter().chain(s.union_all.first()) {
        if matches!(n.iteration, Iteration::Once) {
            row_index_columns(n, row);
        }
    }
}

/// Converts a value to the column's kind; `None` when it cannot be.
pub(crate) fn coerce(cell: Cell, kind: ValueKind) -> Option<Cell> {
    Some(match (kind, cell) {
        (_, Cell::Null) => Cell::Null,
        (ValueKind::String, Cell::Str(s)) => Cell::Str(s),
        (ValueKind::String, Cell::Bool(b)) => Cell::Str(b.to_string()),
        (ValueKind::String, Cell::Int(i)) => Cell::Str(i.to_string()),
        (ValueKind::String, Cell::Float(f)) => Cell::Str(f.to_string()),
        (ValueKind::Boolean, Cell::Bool(b)) => Cell::Bool(b),
        (ValueKind::Boolean, Cell::Str(s)) => match s.as_str() {
            "true" => Cell::Bool(true),
            "false" => Cell::Bool(false),
            _ => return None,
        },
        (ValueKind::Integer, Cell::Int(i)) => Cell::Int(i),
        (ValueKind::Integer, Cell::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Cell::Int(f as i64),
        (ValueKind::Integer, Cell::Str(s)) => Cell::Int(s.trim().parse().ok()?),
        (ValueKind::Decimal, Cell::Float(f)) => Cell::Float(f),
        (ValueKind::Decimal, Cell::Int(i)) => Cell::Float(i as f64),
        (ValueKind::Decimal, Cell::Str(s)) => Cell::Float(s.trim().parse().ok()?),
        _ => return None,
    })
}
