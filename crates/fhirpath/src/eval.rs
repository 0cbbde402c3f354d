//! The evaluator: walks the compiled AST over borrowed JSON, implementing
//! navigation (with choice types and `_x` primitive extensions), the operators
//! with their empty-collection and three-valued-logic semantics, equality and
//! equivalence, and variables. Functions live in `funcs.rs`.

use std::cmp::Ordering;
use std::rc::Rc;

use rust_decimal::Decimal;
use serde_json::Value;

use crate::model::{Child, Model};
use crate::parser::{BinOp, MemberKey, Node, TypeSpec};
use crate::ucum;
use crate::value::{
    Collection, DateTimeVal, Element, Item, Kind, Prim, Str, calendar_unit, is_quantity_type,
};
use crate::{Env, Error, Result};

/// Per-evaluation state.
pub(crate) struct Ctx<'a> {
    pub(crate) env: &'a Env,
    pub(crate) model: &'static Model,
    /// `%resource` (and `%rootResource`).
    pub(crate) resource: Item<'a>,
    /// `%context`: the item evaluation started from.
    pub(crate) context: Item<'a>,
    /// The root JSON, for `resolve()` inside Bundles and contained resources.
    pub(crate) root: &'a Value,
    /// `now()`, read from the clock on first use and then fixed for the evaluation.
    pub(crate) now: std::cell::Cell<Option<DateTimeVal>>,
}

/// `$this`, `$index`, `$total` for the expression being evaluated.
#[derive(Clone, Copy)]
pub(crate) struct Frame<'f, 'a> {
    pub(crate) this: Option<&'f Item<'a>>,
    pub(crate) index: Option<usize>,
    pub(crate) total: Option<&'f Collection<'a>>,
}

pub(crate) fn type_err(msg: impl Into<String>) -> Error {
    Error::Type { message: msg.into() }
}

pub(crate) fn exec_err(msg: impl Into<String>) -> Error {
    Error::Execution { message: msg.into() }
}

/// The FHIR type of a JSON value found in a position of unknown type.
pub(crate) fn infer_type(model: &Model, v: &Value) -> &'static str {
    let Value::Object(o) = v else { return "" };
    // `resourceType` is conventionally the first key: check it before hashing.
    let rt = match o.iter().next() {
        Some((k, Value::String(t))) if k == "resourceType" => Some(t.as_str()),
        _ => o.get("resourceType").and_then(Value::as_str),
    };
    rt.and_then(|rt| model.intern(rt)).unwrap_or("")
}

impl<'a> Ctx<'a> {
    pub(crate) fn now(&self) -> DateTimeVal {
        match self.now.get() {
            Some(n) => n,
            None => {
                let n = crate::system_now();
                self.now.set(Some(n));
                n
            }
        }
    }

    pub(crate) fn eval<'f>(&self, node: &'a Node, focus: &[Item<'a>], frame: Frame<'f, 'a>) -> Result<Collection<'a>> {
        Ok(match node {
            Node::Empty => Vec::new(),
            Node::Bool(b) => vec![Item::Boolean(*b)],
            Node::Int(i) => vec![Item::Integer(*i)],
            Node::Dec(d) => vec![Item::Decimal(*d)],
            Node::Str(s) => vec![Item::String(Str::Borrowed(s))],
            Node::Temporal(k, v) => vec![Item::Temporal(*k, *v)],
            Node::Quantity(v, u) => vec![Item::Quantity(*v, Str::Borrowed(u))],
            Node::This => frame.this.cloned().into_iter().collect(),
            Node::Index => frame.index.map(|i| Item::Integer(i as i64)).into_iter().collect(),
            Node::Total => frame.total.cloned().unwrap_or_default(),
            Node::Var(name) => self.variable(name)?,
            Node::Member { base, name, ext_key, type_filter, name_id } => {
                let mut out = Vec::with_capacity(4);
                match (base, type_filter) {
                    (Some(b), _) => match &**b {
                        // `Patient.x`: filter and navigate without an intermediate collection.
                        Node::Member { base: None, type_filter: Some((ty, family)), .. } => {
                            let mut kept = 0;
                            for item in focus {
                                if self.type_matches(item, ty, *family) {
                                    kept += 1;
                                    if let Some(t) = self.navigate(item, name, ext_key, name_id, &mut out)?
                                        && kept == 1
                                        && focus.len() == 1
                                    {
                                        return Err(unknown_element(name, t));
                                    }
                                }
                            }
                        }
                        _ => {
                            let input = self.eval(b, focus, frame)?;
                            self.navigate_all(&input, name, ext_key, name_id, &mut out)?;
                        }
                    },
                    (None, Some((ty, family))) => {
                        for item in focus {
                            if self.type_matches(item, ty, *family) {
                                out.push(item.clone());
                            }
                        }
                    }
                    (None, None) => self.navigate_all(focus, name, ext_key, name_id, &mut out)?,
                }
                out
            }
            Node::Call { base, func, args, pos } => {
                let input = match base {
                    Some(b) => self.eval(b, focus, frame)?,
                    None => focus.to_vec(),
                };
                self.call(*func, &input, args, focus, frame, *pos)?
            }
            Node::Indexer(b, idx) => {
                let input = self.eval(b, focus, frame)?;
                let i = self.eval(idx, focus, frame)?;
                match single_int(&i)? {
                    Some(i) if i >= 0 => input.into_iter().nth(i as usize).into_iter().collect(),
                    _ => Vec::new(),
                }
            }
            Node::Neg(inner) => {
                let v = self.eval(inner, focus, frame)?;
                match singleton(&v, "unary minus")? {
                    None => Vec::new(),
                    Some(item) => vec![match item.prim() {
                        Some(Prim::Int(i)) => Item::Integer(-i),
                        Some(Prim::Dec(d)) => Item::Decimal(-d),
                        Some(Prim::Quantity(v, u)) => Item::Quantity(-v, Str::from(u.to_string())),
                        _ => return Err(type_err("unary minus needs a number or quantity")),
                    }],
                }
            }
            Node::Is(b, ts) => {
                let v = self.eval(b, focus, frame)?;
                match singleton(&v, "is")? {
                    None => Vec::new(),
                    Some(item) => vec![Item::Boolean(self.is_type(item, ts, false))],
                }
            }
            Node::As(b, ts) => {
                let v = self.eval(b, focus, frame)?;
                if v.len() > 1 {
                    return Err(exec_err("'as' needs a single item"));
                }
                v.into_iter().filter(|i| self.is_type(i, ts, true)).collect()
            }
            Node::Binary(op, l, r) => self.binary(*op, l, r, focus, frame)?,
            Node::Union(parts) => {
                let mut out: Collection<'a> = Vec::new();
                for p in parts {
                    for x in self.eval(p, focus, frame)? {
                        if !out.iter().any(|y| items_equal(y, &x) == Some(true)) {
                            out.push(x);
                        }
                    }
                }
                out
            }
        })
    }

    #[inline]
    fn type_matches(&self, item: &Item<'a>, ty: &'static str, family: bool) -> bool {
        match item {
            Item::Element(e) => std::ptr::eq(e.ty, ty) || e.ty == ty || (family && !e.ty.is_empty() && self.model.is_subtype(e.ty, ty)),
            _ => false,
        }
    }

    fn variable(&self, name: &str) -> Result<Collection<'a>> {
        let s = |v: &'static str| Ok(vec![Item::String(Str::Borrowed(v))]);
        match name {
            "resource" | "rootResource" => return Ok(vec![self.resource.clone()]),
            "context" => return Ok(vec![self.context.clone()]),
            "ucum" => return s(crate::value::UCUM),
            "sct" => return s("http://snomed.info/sct"),
            "loinc" => return s("http://loinc.org"),
            _ => {}
        }
        if let Some(v) = self.env.vars.get(name) {
            return Ok(match v {
                Value::Array(a) => a.iter().map(|x| Item::element(x, infer_type(self.model, x))).collect(),
                Value::Null => Vec::new(),
                x => vec![Item::element(x, infer_type(self.model, x))],
            });
        }
        if let Some(rest) = name.strip_prefix("vs-") {
            return Ok(vec![Item::String(Str::from(format!("http://hl7.org/fhir/ValueSet/{rest}")))]);
        }
        if let Some(rest) = name.strip_prefix("ext-") {
            return Ok(vec![Item::String(Str::from(format!("http://hl7.org/fhir/StructureDefinition/{rest}")))]);
        }
        Err(Error::UndefinedVariable { name: name.to_string() })
    }

    /// Navigates one item to its child `name`, appending the children to `out`.
    /// Returns `Some(type)` when `name` is not an element of the item's (known) type.
    pub(crate) fn navigate(
        &self,
        item: &Item<'a>,
        name: &str,
        ext_key: &str,
        name_id: &MemberKey,
        out: &mut Collection<'a>,
    ) -> Result<Option<&'static str>> {
        let e = match item {
            Item::Element(e) => e,
            Item::TypeInfo(ns, n) => {
                match name {
                    "namespace" => out.push(Item::String(Str::Borrowed(ns))),
                    "name" => out.push(Item::String(Str::Borrowed(n))),
                    _ => {}
                }
                return Ok(None);
            }
            _ => return Ok(None),
        };
        let Some(Value::Object(o)) = e.value else { return Ok(None) };
        if !e.ty.is_empty() {
            let (addr, len) = (e.ty.as_ptr() as usize, e.ty.len());
            let cached = name_id.cache.get().filter(|c| c.0 == addr && c.1 == len).map(|c| c.2);
            let child = match cached {
                Some(c) => Some(c),
                None => {
                    let c = self.model.child_fast(e.ty, name_id.id).or_else(|| self.model.child(e.ty, name));
                    if let Some(c) = c {
                        // First type seen wins; other parent types take the lookup path.
                        let _ = name_id.cache.set((addr, len, c));
                    }
                    c
                }
            };
            match child {
                Some(Child::Plain { ty, primitive }) => {
                    let (v, ext) = get2(o, name, ext_key, *primitive);
                    self.push_values(v, ext, ty, out);
                    return Ok(None);
                }
                Some(Child::Choice { options }) => {
                    // One pass over the object's keys instead of a lookup per option.
                    let mut found: Option<(&'static str, Option<&'a Value>, Option<&'a Value>)> = None;
                    for (k, val) in o {
                        let (is_ext, key) = match k.strip_prefix('_') {
                            Some(r) => (true, r),
                            None => (false, k.as_str()),
                        };
                        if key.len() <= name.len() || !key.starts_with(name) {
                            continue;
                        }
                        if let Some((_, _, ty)) = options.iter().find(|(opt, ..)| *opt == key) {
                            let f = found.get_or_insert((ty, None, None));
                            if f.0 != *ty {
                                continue;
                            }
                            if is_ext {
                                f.2 = Some(val);
                            } else {
                                f.1 = Some(val);
                            }
                        }
                    }
                    if let Some((ty, v, x)) = found {
                        self.push_values(v, x, ty, out);
                    }
                    return Ok(None);
                }
                None => {
                    if let Some((ty, primitive)) = self.model.by_key(e.ty, name) {
                        let ext = if primitive { o.get(ext_key) } else { None };
                        self.push_values(o.get(name), ext, ty, out);
                        return Ok(None);
                    }
                    if self.model.is_known(e.ty) && !matches!(e.ty, "Resource" | "DomainResource") {
                        if o.contains_key(name) {
                            // Data outside the model (e.g. a newer FHIR version): still navigable.
                            self.push_values(o.get(name), o.get(ext_key), "", out);
                            return Ok(None);
                        }
                        return Ok(Some(e.ty));
                    }
                }
            }
        }
        self.push_values(o.get(name), o.get(ext_key), "", out);
        Ok(None)
    }

    /// Navigates every item; naming an element that none of the items' types
    /// has, when they all share one known type, is an error (`name.given1`).
    fn navigate_all(
        &self,
        input: &[Item<'a>],
        name: &str,
        ext_key: &str,
        name_id: &MemberKey,
        out: &mut Collection<'a>,
    ) -> Result<()> {
        let mut missing: Option<&'static str> = None;
        let mut homogeneous = true;
        for item in input {
            match self.navigate(item, name, ext_key, name_id, out)? {
                Some(t) => match missing {
                    Some(m) if m != t => homogeneous = false,
                    _ => missing = Some(t),
                },
                None => homogeneous = false,
            }
        }
        match missing {
            Some(ty) if homogeneous => Err(unknown_element(name, ty)),
            _ => Ok(()),
        }
    }

    fn push_values(&self, v: Option<&'a Value>, ext: Option<&'a Value>, ty: &'static str, out: &mut Collection<'a>) {
        let refine = |x: &'a Value| -> &'static str {
            if ty.is_empty() || ty == "Resource" || ty == "DomainResource" {
                match infer_type(self.model, x) {
                    "" => ty,
                    t => t,
                }
            } else {
                ty
            }
        };
        match v {
            Some(Value::Array(arr)) => {
                let exts = ext.and_then(Value::as_array);
                for (i, x) in arr.iter().enumerate() {
                    let xe = exts.and_then(|e| e.get(i)).filter(|e| !e.is_null());
                    if x.is_null() && xe.is_none() {
                        continue;
                    }
                    out.push(Item::Element(Element { value: (!x.is_null()).then_some(x), ext: xe, ty: refine(x) }));
                }
            }
            Some(Value::Null) | None => match ext {
                Some(Value::Array(exts)) => {
                    for x in exts.iter().filter(|x| !x.is_null()) {
                        out.push(Item::Element(Element { value: None, ext: Some(x), ty }));
                    }
                }
                Some(x) if !x.is_null() => out.push(Item::Element(Element { value: None, ext: Some(x), ty })),
                _ => {}
            },
            Some(x) => out.push(Item::Element(Element { value: Some(x), ext, ty: refine(x) })),
        }
    }

    /// `item is type`.
    ///
    /// With `exact_primitives`, a primitive only matches its own type name
    /// (`as`/`ofType`: a `code` is not returned by `ofType(string)`), otherwise
    /// primitive specialisations match too (`is`: a `code` is a `string`), as
    /// the R4 conformance suite expects.
    pub(crate) fn is_type(&self, item: &Item<'a>, ts: &TypeSpec, exact_primitives: bool) -> bool {
        let ns = ts.namespace.as_deref();
        let name = ts.name.as_str();
        let system = |n: &str| -> bool {
            match item {
                Item::Boolean(_) => n == "Boolean",
                Item::Integer(_) => n == "Integer",
                Item::Decimal(_) => n == "Decimal",
                Item::String(_) => n == "String",
                Item::Temporal(Kind::Date, _) => n == "Date",
                Item::Temporal(Kind::DateTime, _) => n == "DateTime",
                Item::Temporal(Kind::Time, _) => n == "Time",
                Item::Quantity(..) => n == "Quantity",
                Item::Element(_) | Item::TypeInfo(..) => false,
            }
        };
        match item {
            Item::Element(e) => {
                if ns == Some("System") {
                    return false;
                }
                if e.ty.is_empty() {
                    // Unknown type: judge by the JSON shape.
                    return match e.value {
                        Some(Value::Bool(_)) => name == "boolean",
                        Some(Value::String(_)) => name == "string",
                        Some(Value::Number(n)) => {
                            if n.is_f64() { name == "decimal" } else { name == "integer" || name == "decimal" }
                        }
                        _ => false,
                    };
                }
                if e.ty == name {
                    return true;
                }
                if exact_primitives && self.model.is_primitive(e.ty) {
                    e.ty == name
                } else {
                    self.model.is_subtype(e.ty, name)
                }
            }
            _ => match ns {
                Some("FHIR") => false,
                _ => system(name),
            },
        }
    }

    fn binary(&self, op: BinOp, l: &'a Node, r: &'a Node, focus: &[Item<'a>], frame: Frame<'_, 'a>) -> Result<Collection<'a>> {
        // Short-circuiting boolean operators.
        match op {
            BinOp::And | BinOp::Or | BinOp::Implies | BinOp::Xor => {
                let a = to_bool(&self.eval(l, focus, frame)?)?;
                let short = match (op, a) {
                    (BinOp::And, Some(false)) => Some(Some(false)),
                    (BinOp::Or, Some(true)) => Some(Some(true)),
                    (BinOp::Implies, Some(false)) => Some(Some(true)),
                    _ => None,
                };
                if let Some(s) = short {
                    return Ok(bool_coll(s));
                }
                let b = to_bool(&self.eval(r, focus, frame)?)?;
                let res = match op {
                    BinOp::And => match (a, b) {
                        (_, Some(false)) => Some(false),
                        (Some(true), Some(true)) => Some(true),
                        _ => None,
                    },
                    BinOp::Or => match (a, b) {
                        (_, Some(true)) => Some(true),
                        (Some(false), Some(false)) => Some(false),
                        _ => None,
                    },
                    BinOp::Xor => match (a, b) {
                        (Some(x), Some(y)) => Some(x != y),
                        _ => None,
                    },
                    _ => match (a, b) {
                        (_, Some(true)) => Some(true),
                        (Some(true), b) => b,
                        _ => None,
                    },
                };
                return Ok(bool_coll(res));
            }
            _ => {}
        }
        let a = self.eval(l, focus, frame)?;
        let b = self.eval(r, focus, frame)?;
        binary_values(op, a, b)
    }
}

fn unknown_element(name: &str, ty: &str) -> Error {
    Error::Semantic { offset: 0, message: format!("'{name}' is not an element of {ty}") }
}

pub(crate) fn bool_coll<'a>(b: Option<bool>) -> Collection<'a> {
    b.map(Item::Boolean).into_iter().collect()
}

/// Looks up `name` (and, for primitives, its `_name` sibling) in one pass over
/// a small object; FHIR objects rarely have more than a dozen keys, where a
/// scan beats hashing each key.
fn get2<'v>(
    o: &'v serde_json::Map<String, Value>,
    name: &str,
    ext_key: &str,
    want_ext: bool,
) -> (Option<&'v Value>, Option<&'v Value>) {
    if o.len() > 16 {
        return (o.get(name), if want_ext { o.get(ext_key) } else { None });
    }
    let mut v = None;
    let mut x = None;
    // Compare lengths and first bytes before the full key: most keys differ there.
    let same = |k: &str, n: &str| k.len() == n.len() && k.as_bytes().first() == n.as_bytes().first() && k == n;
    for (k, val) in o {
        if same(k, name) {
            v = Some(val);
            if !want_ext {
                break;
            }
        } else if want_ext && same(k, ext_key) {
            x = Some(val);
        }
    }
    (v, x)
}

/// The collection as a single item; empty → `None`; more than one → error.
pub(crate) fn singleton<'c, 'a>(c: &'c [Item<'a>], what: &str) -> Result<Option<&'c Item<'a>>> {
    match c {
        [] => Ok(None),
        [x] => Ok(Some(x)),
        _ => Err(exec_err(format!("{what} expects a single item, got {}", c.len()))),
    }
}

pub(crate) fn single_int(c: &[Item<'_>]) -> Result<Option<i64>> {
    match singleton(c, "integer argument")? {
        None => Ok(None),
        Some(i) => match i.prim() {
            Some(Prim::Int(i)) => Ok(Some(i)),
            _ => Err(type_err("expected an integer")),
        },
    }
}

/// Boolean evaluation of a collection (singleton evaluation): empty → None.
pub(crate) fn to_bool(c: &[Item<'_>]) -> Result<Option<bool>> {
    match c {
        [] => Ok(None),
        [x] => match x.prim() {
            Some(Prim::Bool(b)) => Ok(Some(b)),
            _ => Ok(Some(true)),
        },
        _ => Err(exec_err(format!("expected a single boolean, got {} items", c.len()))),
    }
}

pub(crate) fn binary_values<'a>(op: BinOp, a: Collection<'a>, b: Collection<'a>) -> Result<Collection<'a>> {
    Ok(match op {
        BinOp::Union => {
            let mut out: Collection<'a> = Vec::with_capacity(a.len() + b.len());
            for x in a.into_iter().chain(b) {
                if !out.iter().any(|y| items_equal(y, &x) == Some(true)) {
                    out.push(x);
                }
            }
            out
        }
        BinOp::Eq => bool_coll(coll_equal(&a, &b)),
        BinOp::Ne => bool_coll(coll_equal(&a, &b).map(|x| !x)),
        BinOp::Equiv => vec![Item::Boolean(coll_equiv(&a, &b))],
        BinOp::NotEquiv => vec![Item::Boolean(!coll_equiv(&a, &b))],
        BinOp::In | BinOp::Contains => {
            let (needle, hay) = if op == BinOp::In { (a, b) } else { (b, a) };
            match singleton(&needle, "membership")? {
                None => Vec::new(),
                Some(n) => vec![Item::Boolean(hay.iter().any(|h| items_equal(n, h) == Some(true)))],
            }
        }
        BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
            let (Some(x), Some(y)) = (singleton(&a, "comparison")?, singleton(&b, "comparison")?) else {
                return Ok(Vec::new());
            };
            let ord = compare(x, y)?;
            bool_coll(ord.map(|o| match op {
                BinOp::Lt => o == Ordering::Less,
                BinOp::Gt => o == Ordering::Greater,
                BinOp::Le => o != Ordering::Greater,
                _ => o != Ordering::Less,
            }))
        }
        BinOp::Concat => {
            let x = singleton(&a, "&")?.map(|i| i.as_str().map(str::to_string).ok_or_else(|| type_err("& needs strings")));
            let y = singleton(&b, "&")?.map(|i| i.as_str().map(str::to_string).ok_or_else(|| type_err("& needs strings")));
            let x = x.transpose()?.unwrap_or_default();
            let y = y.transpose()?.unwrap_or_default();
            vec![Item::String(Str::from(x + &y))]
        }
        _ => {
            let (Some(x), Some(y)) = (singleton(&a, "arithmetic")?, singleton(&b, "arithmetic")?) else {
                return Ok(Vec::new());
            };
            arith(op, x, y)?.into_iter().collect()
        }
    })
}

fn num_pair(a: &Prim<'_>, b: &Prim<'_>) -> Option<(Decimal, Decimal)> {
    let f = |p: &Prim<'_>| match p {
        Prim::Int(i) => Some(Decimal::from(*i)),
        Prim::Dec(d) => Some(*d),
        _ => None,
    };
    Some((f(a)?, f(b)?))
}

fn unit_str(u: &str) -> &str {
    match calendar_unit(u) {
        Some(c) => ucum::calendar_to_ucum(c),
        None => u,
    }
}

fn arith<'a>(op: BinOp, x: &Item<'a>, y: &Item<'a>) -> Result<Option<Item<'a>>> {
    let (Some(a), Some(b)) = (x.prim(), y.prim()) else {
        return Err(type_err(format!("operator {op:?} cannot apply to complex values")));
    };
    let bad = || type_err(format!("operator {op:?} cannot apply to {a:?} and {b:?}"));
    Ok(match (&a, &b) {
        (Prim::Int(i), Prim::Int(j)) => match op {
            BinOp::Add => i.checked_add(*j).map(Item::Integer),
            BinOp::Sub => i.checked_sub(*j).map(Item::Integer),
            BinOp::Mul => i.checked_mul(*j).map(Item::Integer),
            BinOp::Div => Decimal::from(*i).checked_div(Decimal::from(*j)).map(Item::Decimal),
            BinOp::IntDiv => i.checked_div(*j).map(Item::Integer),
            BinOp::Mod => i.checked_rem(*j).map(Item::Integer),
            _ => return Err(bad()),
        },
        (Prim::Str(s), Prim::Str(t)) if op == BinOp::Add => Some(Item::String(Str::from(format!("{s}{t}")))),
        (Prim::Temporal(k, v), Prim::Quantity(q, u)) if matches!(op, BinOp::Add | BinOp::Sub) => {
            let q = if op == BinOp::Sub { -*q } else { *q };
            let r = v.add(q, u, *k).ok_or_else(|| type_err(format!("cannot add '{u}' to a {k:?}")))?;
            Some(Item::Temporal(*k, r))
        }
        (Prim::Quantity(v1, u1), Prim::Quantity(v2, u2)) => match op {
            BinOp::Add | BinOp::Sub => {
                let v2c = ucum::convert(*v2, unit_str(u2), unit_str(u1));
                match v2c {
                    Some(v2c) => {
                        let r = if op == BinOp::Add { v1.checked_add(v2c) } else { v1.checked_sub(v2c) };
                        r.map(|r| Item::Quantity(r, Str::from(u1.to_string())))
                    }
                    None => None,
                }
            }
            BinOp::Mul => v1.checked_mul(*v2).map(|r| Item::Quantity(r, Str::from(mul_unit(u1, u2, false)))),
            BinOp::Div => {
                if v2.is_zero() {
                    None
                } else {
                    v1.checked_div(*v2).map(|r| Item::Quantity(r, Str::from(mul_unit(u1, u2, true))))
                }
            }
            _ => return Err(bad()),
        },
        (Prim::Quantity(v, u), other) | (other, Prim::Quantity(v, u))
            if matches!(op, BinOp::Mul) || (matches!(op, BinOp::Div) && matches!(a, Prim::Quantity(..))) =>
        {
            let n = match other {
                Prim::Int(i) => Decimal::from(*i),
                Prim::Dec(d) => *d,
                _ => return Err(bad()),
            };
            let r = if op == BinOp::Mul { v.checked_mul(n) } else { v.checked_div(n) };
            r.map(|r| Item::Quantity(r, Str::from(u.to_string())))
        }
        _ => {
            let (p, q) = num_pair(&a, &b).ok_or_else(bad)?;
            match op {
                BinOp::Add => p.checked_add(q).map(Item::Decimal),
                BinOp::Sub => p.checked_sub(q).map(Item::Decimal),
                BinOp::Mul => p.checked_mul(q).map(Item::Decimal),
                BinOp::Div => p.checked_div(q).map(Item::Decimal),
                BinOp::IntDiv => p.checked_div(q).map(|d| d.trunc()).and_then(|d| i64::try_from(d).ok()).map(Item::Integer),
                BinOp::Mod => p.checked_rem(q).map(Item::Decimal),
                _ => return Err(bad()),
            }
        }
    })
}

fn mul_unit(a: &str, b: &str, div: bool) -> String {
    let a = unit_str(a);
    let b = unit_str(b);
    if div && a == b {
        return "1".into();
    }
    if b == "1" {
        return a.into();
    }
    if a == "1" && !div {
        return b.into();
    }
    format!("{a}{}{b}", if div { "/" } else { "." })
}

/// Orders two items; `None` when unknown (precision); error for incomparable types.
pub(crate) fn compare(x: &Item<'_>, y: &Item<'_>) -> Result<Option<Ordering>> {
    let (Some(a), Some(b)) = (x.prim(), y.prim()) else {
        return Err(type_err("cannot compare complex values"));
    };
    if let Some((p, q)) = num_pair(&a, &b) {
        return Ok(Some(p.cmp(&q)));
    }
    Ok(match (&a, &b) {
        (Prim::Str(s), Prim::Str(t)) => Some(s.cmp(t)),
        (Prim::Temporal(k1, v1), Prim::Temporal(k2, v2)) => {
            if (*k1 == Kind::Time) != (*k2 == Kind::Time) {
                return Err(type_err("cannot compare a time with a date"));
            }
            v1.compare(v2, *k1)
        }
        (Prim::Temporal(k, v), Prim::Str(s)) => temporal_from_str(s, *k).and_then(|w| v.compare(&w, *k)),
        (Prim::Str(s), Prim::Temporal(k, v)) => temporal_from_str(s, *k).and_then(|w| w.compare(v, *k)),
        (Prim::Quantity(v1, u1), Prim::Quantity(v2, u2)) => {
            ucum::convert(*v2, unit_str(u2), unit_str(u1)).map(|v2c| v1.cmp(&v2c))
        }
        _ => return Err(type_err(format!("cannot compare {a:?} with {b:?}"))),
    })
}

fn temporal_from_str(s: &str, k: Kind) -> Option<DateTimeVal> {
    match k {
        Kind::Time => DateTimeVal::parse_time(s),
        _ => DateTimeVal::parse_datetime(s),
    }
}

/// `=` between two items: `Some(true/false)`, or `None` when unknown.
pub(crate) fn items_equal(x: &Item<'_>, y: &Item<'_>) -> Option<bool> {
    // Fast paths: the same JSON node, or two non-temporal strings.
    if let (Item::Element(a), Item::Element(b)) = (x, y)
        && let (Some(va), Some(vb)) = (a.value, b.value)
    {
        if std::ptr::eq(va, vb) {
            return Some(true);
        }
        let temporal = |t: &str| matches!(t, "date" | "dateTime" | "instant" | "time");
        if let (Value::String(s), Value::String(t)) = (va, vb)
            && !temporal(a.ty)
            && !temporal(b.ty)
        {
            return Some(s == t);
        }
    }
    if x.is_complex() || y.is_complex() {
        // Quantities compare by value; other complex types structurally.
        if let (Item::Element(e), _) | (_, Item::Element(e)) = (x, y)
            && is_quantity_type(e.ty)
            && let (Some(Prim::Quantity(..)), Some(Prim::Quantity(..))) = (x.prim(), y.prim())
        {
            return compare(x, y).ok().flatten().map(|o| o == Ordering::Equal);
        }
        return Some(match (x, y) {
            (Item::Element(a), Item::Element(b)) => a.value == b.value,
            _ => false,
        });
    }
    let (Some(a), Some(b)) = (x.prim(), y.prim()) else {
        return Some(false);
    };
    if let Some((p, q)) = num_pair(&a, &b) {
        return Some(p == q);
    }
    match (&a, &b) {
        (Prim::Bool(p), Prim::Bool(q)) => Some(p == q),
        (Prim::Str(s), Prim::Str(t)) => Some(s == t),
        (Prim::Temporal(k1, v1), Prim::Temporal(k2, v2)) => {
            if (*k1 == Kind::Time) != (*k2 == Kind::Time) {
                return Some(false);
            }
            v1.compare(v2, *k1).map(|o| o == Ordering::Equal)
        }
        (Prim::Temporal(k, v), Prim::Str(s)) | (Prim::Str(s), Prim::Temporal(k, v)) => {
            temporal_from_str(s, *k).and_then(|w| v.compare(&w, *k)).map(|o| o == Ordering::Equal)
        }
        (Prim::Quantity(v1, u1), Prim::Quantity(v2, u2)) => {
            let (c1, c2) = (calendar_unit(u1), calendar_unit(u2));
            // Calendar durations above a week do not equal UCUM definite durations.
            if c1.is_some() != c2.is_some() {
                let cal = c1.or(c2).unwrap_or("");
                if matches!(cal, "year" | "month") {
                    return None;
                }
            }
            ucum::convert(*v2, unit_str(u2), unit_str(u1)).map(|v| v == *v1)
        }
        _ => Some(false),
    }
}

pub(crate) fn coll_equal(a: &[Item<'_>], b: &[Item<'_>]) -> Option<bool> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    if a.len() != b.len() {
        return Some(false);
    }
    let mut unknown = false;
    for (x, y) in a.iter().zip(b) {
        match items_equal(x, y) {
            Some(false) => return Some(false),
            None => unknown = true,
            Some(true) => {}
        }
    }
    if unknown { None } else { Some(true) }
}

fn normalize_ws(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// `~` between two items.
pub(crate) fn items_equiv(x: &Item<'_>, y: &Item<'_>) -> bool {
    if x.is_complex()
        && y.is_complex()
        && let (Item::Element(a), Item::Element(b)) = (x, y)
    {
        if is_quantity_type(a.ty) && is_quantity_type(b.ty) {
            return items_equal(x, y).unwrap_or(false);
        }
        return json_equiv(a.value, b.value);
    }
    let (Some(a), Some(b)) = (x.prim(), y.prim()) else {
        return false;
    };
    if let Some((p, q)) = num_pair(&a, &b) {
        let dp = p.scale().min(q.scale());
        return p.round_dp(dp) == q.round_dp(dp);
    }
    match (&a, &b) {
        (Prim::Str(s), Prim::Str(t)) => normalize_ws(s) == normalize_ws(t),
        (Prim::Temporal(k1, v1), Prim::Temporal(k2, v2)) => {
            (*k1 == Kind::Time) == (*k2 == Kind::Time)
                && norm_prec(v1.precision) == norm_prec(v2.precision)
                && v1.compare(v2, *k1) == Some(Ordering::Equal)
        }
        (Prim::Quantity(v1, u1), Prim::Quantity(v2, u2)) => {
            let u1 = calendar_unit(u1).map(ucum_definite).unwrap_or(u1);
            let u2 = calendar_unit(u2).map(ucum_definite).unwrap_or(u2);
            ucum::convert(*v2, u2, u1).is_some_and(|v| {
                let dp = v.scale().min(v1.scale());
                v.round_dp(dp) == v1.round_dp(dp)
            })
        }
        _ => items_equal(x, y).unwrap_or(false),
    }
}

fn norm_prec(p: crate::value::Precision) -> crate::value::Precision {
    if p == crate::value::Precision::Millis { crate::value::Precision::Second } else { p }
}

fn ucum_definite(c: &str) -> &'static str {
    match c {
        "year" => "a",
        "month" => "mo",
        other => ucum::calendar_to_ucum(other),
    }
}

fn json_equiv(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys = |m: &serde_json::Map<String, Value>| m.keys().filter(|k| k.as_str() != "id").cloned().collect::<Vec<_>>();
            let (kx, ky) = (keys(x), keys(y));
            kx.len() == ky.len() && kx.iter().all(|k| json_equiv(x.get(k), y.get(k)))
        }
        (Some(Value::String(s)), Some(Value::String(t))) => normalize_ws(s) == normalize_ws(t),
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            x.len() == y.len() && x.iter().all(|i| y.iter().any(|j| json_equiv(Some(i), Some(j))))
        }
        (a, b) => a == b,
    }
}

pub(crate) fn coll_equiv(a: &[Item<'_>], b: &[Item<'_>]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().all(|x| b.iter().any(|y| items_equiv(x, y)))
}

/// A shared string item.
pub(crate) fn string_item<'a>(s: impl Into<String>) -> Item<'a> {
    Item::String(Str::Shared(Rc::from(s.into())))
}
