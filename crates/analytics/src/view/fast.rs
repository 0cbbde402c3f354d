//! The fast evaluation path: for views whose every path is a member chain,
//! `$this` or a key function (most views in practice), resources are parsed
//! into a light borrowed tree ([`Node`]: strings point into the input, objects
//! and arrays are slices in a per-resource bump arena, no hashing, no
//! allocator calls) instead of `serde_json::Value`, keeping
//! only the keys the view reads ([`KeyTree`]), and rows are computed on it
//! directly.
//!
//! It gives the same rows as the general path, value for value (numbers,
//! dates and times are converted exactly as the FHIRPath engine converts
//! them). Whenever a resource leaves the common case (a complex value where a
//! scalar is expected, several values in a non-collection column, a value of
//! the wrong type), the fast path gives up on that resource with
//! [`Fallback`] and the caller runs the general path on it, which produces
//! the right rows or the right error.

use std::borrow::Cow;
use std::fmt;

use bumpalo::Bump;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::definition::{Iteration, Select, ValueKind, ViewDefinition};
use super::batch::CellValue;
use super::eval::{Cell, coerce};
use super::path::FastItem;

/// A parsed JSON value: strings point into the input text (or, decoded
/// from escapes, into the arena), objects and arrays are slices in a bump
/// arena that is reset for each resource, so building and dropping a tree
/// costs no allocator calls.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Node<'a> {
    Null,
    Bool(bool),
    /// A number as written (valid JSON, and finite); converted when read.
    Num(&'a str),
    Str(&'a str),
    Arr(&'a [Node<'a>]),
    Obj(&'a [(&'a str, Node<'a>)]),
}

/// Numbers compare by value (`1E2` and `100.0` are the same number), the rest as written.
impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Node::Null, Node::Null) => true,
            (Node::Bool(a), Node::Bool(b)) => a == b,
            (Node::Num(a), Node::Num(b)) => Node::number(a) == Node::number(b),
            (Node::Str(a), Node::Str(b)) => a == b,
            (Node::Arr(a), Node::Arr(b)) => a == b,
            (Node::Obj(a), Node::Obj(b)) => a == b,
            _ => false,
        }
    }
}

impl<'a> Node<'a> {
    /// The value of `key` (the last one, as `serde_json::Value` keeps it, when a key repeats).
    #[inline]
    pub(crate) fn get(&self, key: &str) -> Option<&Node<'a>> {
        match self {
            Node::Obj(m) => m.iter().rev().find(|(k, _)| key_eq(k, key)).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&'a str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number, as `serde_json` reads it.
    pub(crate) fn number(raw: &str) -> Option<serde_json::Number> {
        serde_json::from_str(raw).ok()
    }

    /// Whether `serde_json` takes a number that is valid JSON syntax: it
    /// rejects only those too large for a float (such as `1e400`).
    pub(crate) fn finite(raw: &str) -> bool {
        (raw.len() < 300 && !raw.contains(['e', 'E'])) || Node::number(raw).is_some()
    }
}

/// The cell of a JSON number (valid syntax) as [`super::eval::number_cell`]
/// gives it from `serde_json`'s reading; plain integers and decimals are
/// read directly (both readers round correctly, so they agree).
fn number_cell(raw: &str) -> Option<Cell> {
    let digits = raw.strip_prefix('-').unwrap_or(raw).as_bytes();
    if digits.len() <= 18 && digits.iter().all(u8::is_ascii_digit) {
        return raw.parse::<i64>().ok().map(Cell::Int);
    }
    if digits.len() <= 64 && digits.contains(&b'.') && digits.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        let f: f64 = raw.parse().ok()?;
        return Some(if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 { Cell::Int(f as i64) } else { Cell::Float(f) });
    }
    Node::number(raw).as_ref().and_then(super::eval::number_cell)
}

/// Whether two (short) keys are equal, without a `memcmp` call for each candidate.
#[inline]
pub(crate) fn key_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The keys the fast path reads, level by level: a resource is parsed into
/// a [`Node`] keeping only these (every other value is checked for JSON
/// syntax and skipped without allocating). A node marked `all` keeps
/// everything below it (a column's value, which the fast path checks for
/// the expected primitive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct KeyTree {
    pub(crate) all: bool,
    keys: Vec<(String, KeyTree)>,
}

impl KeyTree {
    /// The subtree of `key`, added when missing.
    pub(crate) fn child(&mut self, key: &str) -> &mut KeyTree {
        let i = match self.keys.iter().position(|(k, _)| k == key) {
            Some(i) => i,
            None => {
                self.keys.push((key.to_string(), KeyTree::default()));
                self.keys.len() - 1
            }
        };
        &mut self.keys[i].1
    }

    pub(crate) fn get(&self, key: &str) -> Option<&KeyTree> {
        self.keys.iter().find(|(k, _)| key_eq(k, key)).map(|(_, t)| t)
    }

    /// Adds what `other` reads.
    pub(crate) fn union(&mut self, other: &KeyTree) {
        self.all |= other.all;
        for (k, t) in &other.keys {
            self.child(k).union(t);
        }
    }

    /// The keys a fast view reads (see [`is_fast`]), `resourceType` included.
    pub(crate) fn of(view: &ViewDefinition) -> KeyTree {
        fn walk(s: &Select, focus: &mut KeyTree) {
            let body = match &s.iteration {
                Iteration::Once => focus,
                Iteration::ForEach(p) | Iteration::ForEachOrNull(p) => p.mark_keys(focus),
                Iteration::Repeat(_) => {
                    focus.all = true;
                    focus
                }
            };
            for c in &s.columns {
                c.path.mark_keys(body).all = true;
            }
            for n in s.select.iter().chain(&s.union_all) {
                walk(n, body);
            }
        }
        let mut root = KeyTree::default();
        root.child("resourceType").all = true;
        if !view.filters.is_empty() {
            root.all = true;
        }
        for s in &view.select {
            walk(s, &mut root);
        }
        root
    }
}

/// Parses a resource into a [`Node`] in `arena`, keeping only the keys in `keys`.
pub(crate) fn parse_keys<'a>(text: &'a str, keys: &KeyTree, arena: &'a Bump) -> serde_json::Result<Node<'a>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let node = de.deserialize_map(TreeVisitor { keys: (!keys.all).then_some(keys), arena, top: true })?;
    de.end()?;
    Ok(node)
}

/// Builds a node keeping the keys of a [`KeyTree`] (all keys when `None`);
/// `top`: the resource itself.
#[derive(Clone, Copy)]
struct TreeVisitor<'t, 'a> {
    keys: Option<&'t KeyTree>,
    arena: &'a Bump,
    top: bool,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for TreeVisitor<'_, 'a> {
    type Value = Node<'a>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Node<'a>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for TreeVisitor<'_, 'a> {
    type Value = Node<'a>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.top { "a JSON object (a FHIR resource)" } else { "any JSON value" })
    }
    fn visit_unit<E>(self) -> Result<Node<'a>, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node<'a>, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node<'a>, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node<'a>, E> {
        Ok(Node::Num(self.arena.alloc_str(&v.to_string())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node<'a>, E> {
        Ok(Node::Num(self.arena.alloc_str(&v.to_string())))
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Node<'a>, E> {
        let n = serde_json::Number::from_f64(v).ok_or_else(|| E::custom("a number that is not finite"))?;
        Ok(Node::Num(self.arena.alloc_str(&n.to_string())))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Node<'a>, E> {
        Ok(Node::Str(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node<'a>, E> {
        Ok(Node::Str(self.arena.alloc_str(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'a>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(2));
        while let Some(v) = seq.next_element_seed(TreeVisitor { top: false, ..self })? {
            out.push(v);
        }
        Ok(Node::Arr(self.arena.alloc_slice_copy(&out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'a>, A::Error> {
        let mut out = Vec::with_capacity(8);
        while let Some(key) = map.next_key_seed(KeySeed(self.arena))? {
            let sub = match self.keys {
                None => Some(None),
                Some(k) => k.get(key).map(|t| (!t.all).then_some(t)),
            };
            match sub {
                Some(keys) => out.push((key, map.next_value_seed(TreeVisitor { keys, arena: self.arena, top: false })?)),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Node::Obj(self.arena.alloc_slice_copy(&out)))
    }
}

/// An object key: borrowed from the text, or decoded into the arena.
struct KeySeed<'a>(&'a Bump);

impl<'de: 'a, 'a> DeserializeSeed<'de> for KeySeed<'a> {
    type Value = &'a str;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<&'a str, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for KeySeed<'a> {
    type Value = &'a str;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<&'a str, E> {
        Ok(v)
    }
    fn visit_str<E>(self, v: &str) -> Result<&'a str, E> {
        Ok(self.0.alloc_str(v))
    }
}

/// Gives up on one resource: the caller runs the general path on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fallback;

/// Whether `view` can run on [`Node`]s: no `where`, no `repeat`, every path
/// fast, and every column yielding a primitive FHIR type.
pub(crate) fn is_fast(view: &ViewDefinition) -> bool {
    fn primitive(ty: &str) -> bool {
        ty.starts_with(|c: char| c.is_ascii_lowercase()) && !ty.contains('.')
    }
    fn select_ok(s: &Select, focus: &'static str) -> bool {
        let body_focus = match &s.iteration {
            Iteration::Once => focus,
            Iteration::ForEach(p) | Iteration::ForEachOrNull(p) => match p.fast_type(focus) {
                Some(t) => t,
                None => return false,
            },
            Iteration::Repeat(_) => return false,
        };
        s.columns.iter().all(|c| c.path.fast_type(body_focus).is_some_and(primitive))
            && s.select.iter().chain(&s.union_all).all(|n| select_ok(n, body_focus))
    }
    let Some(root) = fhir::definitions::r4().type_def(&view.resource).map(|t| t.name.as_str()) else { return false };
    view.filters.is_empty() && view.select.iter().all(|s| select_ok(s, root))
}

/// A cell on the fast path: strings borrow from the resource text when
/// they can (a date the engine renders differently, and a collection's
/// items, live in the resource's arena).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FastCell<'n> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'n str),
    List(&'n [FastCell<'n>]),
}

impl<'n> CellValue for FastCell<'n> {
    fn as_bool(&self) -> Option<bool> {
        if let FastCell::Bool(v) = self { Some(*v) } else { None }
    }
    fn as_int(&self) -> Option<i64> {
        if let FastCell::Int(v) = self { Some(*v) } else { None }
    }
    fn as_float(&self) -> Option<f64> {
        if let FastCell::Float(v) = self { Some(*v) } else { None }
    }
    fn as_text(&self) -> Option<&str> {
        if let FastCell::Str(v) = self { Some(v) } else { None }
    }
    fn as_list(&self) -> Option<&[FastCell<'n>]> {
        if let FastCell::List(v) = self { Some(v) } else { None }
    }
}

/// The rows of one resource on the fast path: every distinct cell once in
/// `cells` (index 0 is null), and each row as one cell index per column, so
/// that a `forEach` cross product copies indices instead of values.
#[derive(Debug, Default)]
pub(crate) struct Tape<'n> {
    pub(crate) cells: Vec<FastCell<'n>>,
    /// Row-major cell indices, `width` per row.
    pub(crate) rows: Vec<u32>,
    pub(crate) width: usize,
}

impl<'n> Tape<'n> {
    /// An empty tape of another lifetime in the same vectors.
    pub(crate) fn recycle<'m>(self) -> Tape<'m> {
        Tape { cells: super::scan::recycle(self.cells), rows: self.rows, width: self.width }
    }

    /// The rows, each as `width` cell indices.
    pub(crate) fn rows(&self) -> impl Iterator<Item = &[u32]> {
        self.rows.chunks_exact(self.width.max(1))
    }

    fn push(&mut self, cell: FastCell<'n>) -> u32 {
        if matches!(cell, FastCell::Null) {
            return 0;
        }
        self.cells.push(cell);
        (self.cells.len() - 1) as u32
    }
}

/// Sets the slots of `dst` that `src` sets.
#[inline]
fn merge(dst: &mut [u32], src: &[u32]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        if s != 0 {
            *d = s;
        }
    }
}

/// Replaces the rows `out[start..mid]` and `out[mid..]` (partial rows of
/// `width` cell indices whose set slots are disjoint) by their cross
/// product, in place.
fn product_tail(out: &mut Vec<u32>, start: usize, mid: usize, width: usize) {
    let (a, b) = ((mid - start) / width, (out.len() - mid) / width);
    if a == 0 || b == 0 {
        out.truncate(start);
    } else if a == 1 {
        // One left row (the usual case): merged into each right row, which move down.
        for i in 0..b {
            let (left, right) = out.split_at_mut(mid);
            merge(&mut right[i * width..(i + 1) * width], &left[start..mid]);
        }
        out.copy_within(mid.., start);
        out.truncate(start + b * width);
    } else if b == 1 {
        let (left, right) = out.split_at_mut(mid);
        for row in left[start..].chunks_exact_mut(width) {
            merge(row, right);
        }
        out.truncate(mid);
    } else {
        let left = out[start..mid].to_vec();
        let right = out[mid..].to_vec();
        out.truncate(start);
        for l in left.chunks_exact(width) {
            for r in right.chunks_exact(width) {
                let at = out.len();
                out.extend_from_slice(l);
                merge(&mut out[at..], r);
            }
        }
    }
}

impl ViewDefinition {
    /// The rows of one resource on the fast path (see [`is_fast`]), as a [`Tape`].
    /// Reuses (and empties) the vectors of `tape`.
    /// Strings the rows need that are not in the text go into `arena`.
    pub(crate) fn fast_rows_in<'n>(&self, resource: &'n Node<'_>, arena: &'n Bump, mut tape: Tape<'n>) -> Result<Tape<'n>, Fallback> {
        let width = self.columns.len();
        tape.width = width;
        tape.cells.clear();
        tape.rows.clear();
        tape.cells.push(FastCell::Null);
        if resource.get("resourceType").and_then(Node::as_str) != Some(self.resource.as_str()) {
            return Ok(tape);
        }
        let root = FastItem::Node(resource, self.root_type);
        let mut rows = std::mem::take(&mut tape.rows);
        rows.resize(width, 0);
        for s in &self.select {
            let mid = rows.len();
            self.fast_select(s, root, arena, &mut tape, &mut rows)?;
            product_tail(&mut rows, 0, mid, width);
            if rows.is_empty() {
                break;
            }
        }
        tape.rows = rows;
        Ok(tape)
    }

    /// Appends the partial rows of a select node on `focus` to `out`.
    fn fast_select<'n>(
        &self,
        s: &Select,
        focus: FastItem<'n, '_>,
        arena: &'n Bump,
        tape: &mut Tape<'n>,
        out: &mut Vec<u32>,
    ) -> Result<(), Fallback> {
        match &s.iteration {
            Iteration::Once => self.fast_body(s, focus, arena, tape, out),
            Iteration::ForEach(p) | Iteration::ForEachOrNull(p) => {
                let mut any = false;
                p.visit_nodes(focus, &mut |item| {
                    any = true;
                    self.fast_body(s, item, arena, tape, out)
                })?;
                if !any && matches!(s.iteration, Iteration::ForEachOrNull(_)) {
                    out.resize(out.len() + self.columns.len(), 0);
                }
                Ok(())
            }
            Iteration::Repeat(_) => Err(Fallback),
        }
    }

    /// Appends the partial rows of a select node's body on one focus item to `out`.
    fn fast_body<'n>(
        &self,
        s: &Select,
        focus: FastItem<'n, '_>,
        arena: &'n Bump,
        tape: &mut Tape<'n>,
        out: &mut Vec<u32>,
    ) -> Result<(), Fallback> {
        let width = self.columns.len();
        let start = out.len();
        out.resize(start + width, 0);
        for c in &s.columns {
            let kind = self.columns[c.index].kind;
            let cell = if c.collection {
                let mut cells = Vec::new();
                c.path.visit_nodes(focus, &mut |i| {
                    cells.push(fast_cell(i, kind, arena)?);
                    Ok(())
                })?;
                FastCell::List(arena.alloc_slice_copy(&cells))
            } else {
                let mut one = None;
                c.path.visit_nodes(focus, &mut |i| match one {
                    None => {
                        one = Some(i);
                        Ok(())
                    }
                    Some(_) => Err(Fallback),
                })?;
                out[start + c.index] = match one {
                    None => 0,
                    Some(i) => push_cell(tape, i, kind, arena)?,
                };
                continue;
            };
            out[start + c.index] = tape.push(cell);
        }
        for n in &s.select {
            let mid = out.len();
            self.fast_select(n, focus, arena, tape, out)?;
            product_tail(out, start, mid, width);
            if out.len() == start {
                return Ok(());
            }
        }
        if !s.union_all.is_empty() {
            let mid = out.len();
            for b in &s.union_all {
                self.fast_select(b, focus, arena, tape, out)?;
            }
            product_tail(out, start, mid, width);
        }
        Ok(())
    }
}

impl FastCell<'_> {
    /// The owned cell.
    pub(crate) fn to_cell(self) -> Cell {
        match self {
            FastCell::Null => Cell::Null,
            FastCell::Bool(b) => Cell::Bool(b),
            FastCell::Int(i) => Cell::Int(i),
            FastCell::Float(f) => Cell::Float(f),
            FastCell::Str(s) => Cell::Str(s.to_string()),
            FastCell::List(l) => Cell::List(l.iter().copied().map(FastCell::to_cell).collect()),
        }
    }
}

/// Adds the cell of a fast item to the tape (strings, the usual case, are
/// built in place); its index.
#[inline]
fn push_cell<'n>(tape: &mut Tape<'n>, item: FastItem<'n, '_>, kind: ValueKind, arena: &'n Bump) -> Result<u32, Fallback> {
    let text = match (item, kind) {
        (FastItem::Str(s), ValueKind::String) => s,
        (FastItem::Node(Node::Str(s), ty), ValueKind::String) => in_arena(temporal(s, ty), arena),
        _ => {
            let cell = fast_cell(item, kind, arena)?;
            return Ok(tape.push(cell));
        }
    };
    tape.cells.push(FastCell::Str(text));
    Ok((tape.cells.len() - 1) as u32)
}

/// A cell from a fast item, converted as `Item::to_json` and the general
/// path convert it (see [`coerce`]).
fn fast_cell<'n>(item: FastItem<'n, '_>, kind: ValueKind, arena: &'n Bump) -> Result<FastCell<'n>, Fallback> {
    let cell = match item {
        FastItem::Str(s) => FastCell::Str(s),
        FastItem::Node(n, ty) => match n {
            Node::Bool(b) => FastCell::Bool(*b),
            Node::Num(n) => match number_cell(n).ok_or(Fallback)? {
                Cell::Int(i) => FastCell::Int(i),
                Cell::Float(f) => FastCell::Float(f),
                _ => return Err(Fallback),
            },
            Node::Str(s) => FastCell::Str(in_arena(temporal(s, ty), arena)),
            Node::Null | Node::Arr(_) | Node::Obj(_) => return Err(Fallback),
        },
    };
    match (kind, cell) {
        // The common case, without copying the text.
        (ValueKind::String, c @ FastCell::Str(_)) => Ok(c),
        (_, c) => Ok(match coerce(c.to_cell(), kind).ok_or(Fallback)? {
            Cell::Null => FastCell::Null,
            Cell::Bool(b) => FastCell::Bool(b),
            Cell::Int(i) => FastCell::Int(i),
            Cell::Float(f) => FastCell::Float(f),
            Cell::Str(s) => FastCell::Str(arena.alloc_str(&s)),
            Cell::List(_) => return Err(Fallback),
        }),
    }
}

/// The text, borrowed as it was or copied into the arena.
fn in_arena<'n>(s: Cow<'n, str>, arena: &'n Bump) -> &'n str {
    match s {
        Cow::Borrowed(s) => s,
        Cow::Owned(s) => arena.alloc_str(&s),
    }
}

/// Whether `s` is `YYYY`, `YYYY-MM` or `YYYY-MM-DD` in ASCII digits.
fn plain_date(s: &str) -> bool {
    let b = s.as_bytes();
    matches!(b.len(), 4 | 7 | 10)
        && b.iter().enumerate().all(|(i, c)| if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() })
}

/// Dates and times as the FHIRPath engine renders them (it normalises what
/// it can parse and keeps the rest as written).
fn temporal<'n>(s: &'n str, ty: &str) -> Cow<'n, str> {
    use fhirpath::{DateTimeVal, Kind};
    if ty == "date" && plain_date(s) {
        // `YYYY`, `YYYY-MM` or `YYYY-MM-DD` in digits renders as written
        // (or does not parse and stays as written).
        return Cow::Borrowed(s);
    }
    let parsed = match ty {
        "date" => DateTimeVal::parse_date(s).map(|d| d.render(Kind::Date)),
        "dateTime" | "instant" => DateTimeVal::parse_datetime(s).map(|d| d.render(Kind::DateTime)),
        "time" => DateTimeVal::parse_time(s).map(|d| d.render(Kind::Time)),
        _ => return Cow::Borrowed(s),
    };
    match parsed {
        Some(r) if r != s => Cow::Owned(r),
        _ => Cow::Borrowed(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nodes_borrow_strings_and_keep_numbers_exact() {
        let arena = Bump::new();
        let all = KeyTree { all: true, ..KeyTree::default() };
        let text = r#"{"a":"plain","b":"esc\"aped","n":[1,-2,1.50,18446744073709551615,-0,1E2,1e400],"o":{"k":null},"a":"last"}"#;
        let err = parse_keys(text, &all, &arena).expect_err("1e400 is not a finite number");
        assert!(err.to_string().contains("number"), "{err}");
        let text = text.replace(",1e400", "");
        let n = parse_keys(&text, &all, &arena).expect("parse");
        let borrowed = |s: &str| text.as_bytes().as_ptr_range().contains(&s.as_ptr());
        assert!(matches!(n.get("a"), Some(Node::Str(s)) if *s == "last" && borrowed(s)));
        assert!(matches!(n.get("b"), Some(Node::Str(s)) if *s == "esc\"aped" && !borrowed(s)));
        let Some(Node::Arr(nums)) = n.get("n") else { panic!("array") };
        let v: serde_json::Value = serde_json::from_str(&text).expect("value");
        for (node, val) in nums.iter().zip(v["n"].as_array().expect("array")) {
            let Node::Num(raw) = node else { panic!("a number") };
            assert_eq!(Node::number(raw).as_ref(), val.as_number());
        }
        assert_eq!(n.get("o").and_then(|o| o.get("k")), Some(&Node::Null));
    }

    #[test]
    fn only_the_keys_a_view_reads_are_kept_level_by_level() {
        let view = ViewDefinition::from_json(&json!({"resourceType": "ViewDefinition", "resource": "Patient", "select": [
            {"column": [{"name": "id", "path": "getResourceKey()"}, {"name": "org", "path": "managingOrganization.getReferenceKey(Organization)"}]},
            {"forEach": "name", "column": [{"name": "f", "path": "family"}],
             "select": [{"forEach": "given", "column": [{"name": "g", "path": "$this"}]}]},
            {"forEachOrNull": "address", "column": [{"name": "m", "path": "extension('http://x').value.ofType(code)"}]}]}))
        .expect("view");
        assert!(is_fast(&view));
        let text = r#"{"resourceType":"Patient","id":"p1","meta":{"versionId":"1"},
            "managingOrganization":{"reference":"Organization/o1","display":"skip"},
            "name":[{"use":"official","family":{"odd":["kept whole"]},"given":["A","B"],"text":"skip"}],
            "address":[{"city":"skip","extension":[{"url":"http://x","valueCode":"13","valueString":"skip"}]}]}"#;
        let arena = Bump::new();
        let node = parse_keys(text, &KeyTree::of(&view), &arena).expect("parse");
        let want = json!({"resourceType":"Patient","id":"p1","managingOrganization":{"reference":"Organization/o1"},
            "name":[{"family":{"odd":["kept whole"]},"given":["A","B"]}],
            "address":[{"extension":[{"url":"http://x","valueCode":"13"}]}]});
        let all = KeyTree { all: true, ..KeyTree::default() };
        assert_eq!(node, parse_keys(&want.to_string(), &all, &arena).expect("parse"));
        let e = parse_keys("[1]", &KeyTree::of(&view), &arena).expect_err("not an object").to_string();
        assert!(e.contains("a JSON object (a FHIR resource)"), "{e}");
    }

    #[test]
    fn numbers_read_directly_agree_with_serde() {
        for raw in ["0", "-0", "7", "-12", "123456789012345678", "-123456789012345678", "1234567890123456789", "9223372036854775807",
            "9223372036854775808", "-9223372036854775809", "18446744073709551616", "0.1", "-0.0", "100.0", "2.50", "1.7976931348623157",
            "9007199254740993.0", "9223372036854775807.0", "-9223372036854775808.0", "0.30000000000000004", "1e2", "1E-7", "-2.5e+3",
            "123456789012345678901234567890.5", "0.000000000000000000000000000000000000000000000000000000000000001"] {
            let want = serde_json::from_str::<serde_json::Number>(raw).ok().as_ref().and_then(super::super::eval::number_cell);
            assert_eq!(number_cell(raw), want, "{raw}");
            assert!(Node::finite(raw), "{raw}");
        }
        assert!(!Node::finite("1e400") && !Node::finite(&format!("{}.0", "9".repeat(400))));
    }

    #[test]
    fn plain_dates_render_as_written() {
        use fhirpath::{DateTimeVal, Kind};
        for d in ["2004-01-17", "0000-12-31", "2023-02-30", "2024-02-29", "1999", "1999-13", "2001-07", "20a1-01-01", "2001-1-01", "2001-01-011"] {
            let engine = DateTimeVal::parse_date(d).map(|v| v.render(Kind::Date)).unwrap_or_else(|| d.to_string());
            assert_eq!(temporal(d, "date"), engine, "{d}");
        }
        assert!(plain_date("2004-01-17") && plain_date("2004") && !plain_date("2004-01-1") && !plain_date("2004/01/17"));
    }

    #[test]
    fn views_qualify_for_the_fast_path_only_when_every_path_is_simple() {
        let fast = |v: serde_json::Value| is_fast(&ViewDefinition::from_json(&v).expect("view"));
        let base = |select: serde_json::Value| json!({"resourceType": "ViewDefinition", "resource": "Patient", "select": select});
        assert!(fast(base(json!([{"column": [{"name": "id", "path": "getResourceKey()"}, {"name": "b", "path": "birthDate"}]},
            {"forEach": "name", "column": [{"name": "f", "path": "family"}],
             "select": [{"forEachOrNull": "given", "column": [{"name": "g", "path": "$this"}]}]},
            {"forEach": "address", "column": [{"name": "m", "path": "extension('http://x').value.ofType(code)"}]},
            {"column": [{"name": "org", "path": "managingOrganization.getReferenceKey(Organization)"}]}]))));
        assert!(!fast(base(json!([{"column": [{"name": "n", "path": "name"}]}]))), "a complex column");
        assert!(!fast(base(json!([{"forEach": "name", "column": [{"name": "n", "path": "$this"}]}]))), "a complex $this");
        assert!(!fast(base(json!([{"column": [{"name": "n", "path": "name.family.join(',')"}]}]))), "a function");
        assert!(!fast(base(json!([{"column": [{"name": "i", "path": "%rowIndex"}]}]))), "a variable");
        let mut w = base(json!([{"column": [{"name": "id", "path": "id"}]}]));
        w["where"] = json!([{"path": "active"}]);
        assert!(!fast(w), "a where clause");
    }
}
