//! Implementations of the FHIRPath function library (existence, filtering,
//! subsetting, combining, conversion, string, math, tree navigation, utility,
//! aggregate, boundaries) and the FHIR-specific functions (`extension`,
//! `hasValue`, `resolve`, `ofType` with FHIR type names).

use std::cmp::Ordering;

use rust_decimal::prelude::*;
use serde_json::Value;

use crate::eval::{
    Ctx, Frame, binary_values, bool_coll, compare, exec_err, items_equal, single_int, singleton, string_item, to_bool,
    type_err,
};
use crate::functions::Func;
use crate::parser::{BinOp, Node, TypeSpec};
use crate::value::{Collection, DateTimeVal, Element, Item, Kind, Precision, Prim, Str, calendar_unit};
use crate::{Error, Result, ucum};

/// Reads a type argument (`Quantity`, `FHIR.string`, `System.Boolean`).
pub(crate) fn type_arg(n: &Node) -> Result<TypeSpec> {
    match n {
        Node::Member { base: None, name, .. } => Ok(TypeSpec { namespace: None, name: name.to_string() }),
        Node::Member { base: Some(b), name, .. } => match &**b {
            Node::Member { base: None, name: ns, .. } => {
                Ok(TypeSpec { namespace: Some(ns.to_string()), name: name.to_string() })
            }
            _ => Err(type_err("expected a type name")),
        },
        _ => Err(type_err("expected a type name")),
    }
}

fn distinct<'a>(items: Collection<'a>) -> Collection<'a> {
    let mut out: Collection<'a> = Vec::with_capacity(items.len());
    for x in items {
        if !out.iter().any(|y| items_equal(y, &x) == Some(true)) {
            out.push(x);
        }
    }
    out
}

fn contains_item(hay: &[Item<'_>], x: &Item<'_>) -> bool {
    hay.iter().any(|y| items_equal(x, y) == Some(true))
}

/// The single string input of a string function: `None` for empty.
fn input_str<'c>(input: &'c [Item<'_>], f: Func) -> Result<Option<&'c str>> {
    match singleton(input, f.name())? {
        None => Ok(None),
        Some(i) => match i.prim() {
            Some(Prim::Str(_)) => Ok(i.as_str()),
            _ => Err(type_err(format!("{}() needs a string input", f.name()))),
        },
    }
}

fn arg_str(c: &[Item<'_>], f: Func) -> Result<Option<String>> {
    match singleton(c, f.name())? {
        None => Ok(None),
        Some(i) => match i.as_str() {
            Some(s) => Ok(Some(s.to_string())),
            None => Err(type_err(format!("{}() needs a string argument", f.name()))),
        },
    }
}

fn dec_of(p: &Prim<'_>) -> Option<Decimal> {
    match p {
        Prim::Int(i) => Some(Decimal::from(*i)),
        Prim::Dec(d) => Some(*d),
        _ => None,
    }
}

fn to_f64(d: Decimal) -> Option<f64> {
    d.to_f64()
}

fn from_f64<'a>(f: f64) -> Option<Item<'a>> {
    if !f.is_finite() {
        return None;
    }
    Decimal::from_f64(f).map(|d| Item::Decimal(d.round_dp(16).normalize()))
}

fn parse_int(s: &str) -> Option<i64> {
    let t = s.strip_prefix('+').unwrap_or(s);
    let digits = t.strip_prefix('-').unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

fn parse_dec(s: &str) -> Option<Decimal> {
    let t = s.strip_prefix('+').unwrap_or(s);
    let body = t.strip_prefix('-').unwrap_or(t);
    let (w, f) = match body.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    if w.is_empty() || !w.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(f) = f
        && (f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Decimal::from_str(t).ok()
}

fn parse_quantity_str<'a>(s: &str) -> Option<Item<'a>> {
    let s = s.trim();
    let (num, unit) = match s.find(' ') {
        Some(i) => (&s[..i], s[i..].trim()),
        None => (s, ""),
    };
    let v = parse_dec(num)?;
    let unit = if unit.is_empty() {
        "1".to_string()
    } else if let Some(u) = unit.strip_prefix('\'').and_then(|u| u.strip_suffix('\'')) {
        u.to_string()
    } else {
        calendar_unit(unit)?.to_string()
    };
    Some(Item::Quantity(v, Str::from(unit)))
}

fn to_boolean(p: &Prim<'_>) -> Option<bool> {
    match p {
        Prim::Bool(b) => Some(*b),
        Prim::Int(1) => Some(true),
        Prim::Int(0) => Some(false),
        Prim::Dec(d) if *d == Decimal::ONE => Some(true),
        Prim::Dec(d) if d.is_zero() => Some(false),
        Prim::Str(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "1.0" => Some(true),
            "false" | "f" | "no" | "n" | "0" | "0.0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn fmt_decimal(d: Decimal) -> String {
    d.to_string()
}

fn to_string_prim(p: &Prim<'_>) -> Option<String> {
    Some(match p {
        Prim::Bool(b) => b.to_string(),
        Prim::Int(i) => i.to_string(),
        Prim::Dec(d) => fmt_decimal(*d),
        Prim::Str(s) => s.to_string(),
        Prim::Temporal(k, v) => v.render(*k),
        Prim::Quantity(v, u) => {
            if calendar_unit(u).is_some() {
                format!("{} {u}", fmt_decimal(*v))
            } else {
                format!("{} '{u}'", fmt_decimal(*v))
            }
        }
    })
}

fn convert<'a>(f: Func, item: &Item<'a>, unit: Option<&str>) -> Option<Item<'a>> {
    let p = item.prim()?;
    match f {
        Func::ToBoolean | Func::ConvertsToBoolean => to_boolean(&p).map(Item::Boolean),
        Func::ToInteger | Func::ConvertsToInteger => match p {
            Prim::Int(i) => Some(Item::Integer(i)),
            Prim::Bool(b) => Some(Item::Integer(i64::from(b))),
            Prim::Str(s) => parse_int(s).map(Item::Integer),
            _ => None,
        },
        Func::ToDecimal | Func::ConvertsToDecimal => match p {
            Prim::Int(i) => Some(Item::Decimal(Decimal::from(i))),
            Prim::Dec(d) => Some(Item::Decimal(d)),
            Prim::Bool(b) => Some(Item::Decimal(if b { Decimal::ONE } else { Decimal::ZERO })),
            Prim::Str(s) => parse_dec(s).map(Item::Decimal),
            _ => None,
        },
        Func::ToString | Func::ConvertsToString => to_string_prim(&p).map(string_item),
        Func::ToDate | Func::ConvertsToDate => match p {
            Prim::Temporal(Kind::Date, v) => Some(Item::Temporal(Kind::Date, v)),
            Prim::Temporal(Kind::DateTime, v) => Some(Item::Temporal(
                Kind::Date,
                DateTimeVal { precision: v.precision.min(Precision::Day), tz: None, ..v },
            )),
            Prim::Str(s) => DateTimeVal::parse_date(s).map(|v| Item::Temporal(Kind::Date, v)),
            _ => None,
        },
        Func::ToDateTime | Func::ConvertsToDateTime => match p {
            Prim::Temporal(Kind::Date | Kind::DateTime, v) => Some(Item::Temporal(Kind::DateTime, v)),
            Prim::Str(s) => DateTimeVal::parse_datetime(s).map(|v| Item::Temporal(Kind::DateTime, v)),
            _ => None,
        },
        Func::ToTime | Func::ConvertsToTime => match p {
            Prim::Temporal(Kind::Time, v) => Some(Item::Temporal(Kind::Time, v)),
            Prim::Str(s) => DateTimeVal::parse_time(s).map(|v| Item::Temporal(Kind::Time, v)),
            _ => None,
        },
        Func::ToQuantity | Func::ConvertsToQuantity => {
            let q = match p {
                Prim::Quantity(v, u) => Some(Item::Quantity(v, Str::from(u.to_string()))),
                Prim::Int(i) => Some(Item::Quantity(Decimal::from(i), Str::Borrowed("1"))),
                Prim::Dec(d) => Some(Item::Quantity(d, Str::Borrowed("1"))),
                Prim::Bool(b) => Some(Item::Quantity(if b { Decimal::ONE } else { Decimal::ZERO }, Str::Borrowed("1"))),
                Prim::Str(s) => parse_quantity_str(s),
                _ => None,
            }?;
            match unit {
                None => Some(q),
                Some(target) => {
                    let Item::Quantity(v, u) = &q else { return None };
                    let from = calendar_unit(u).map(ucum::calendar_to_ucum).unwrap_or(u);
                    let to = calendar_unit(target).map(ucum::calendar_to_ucum).unwrap_or(target);
                    ucum::convert(*v, from, to).map(|v| Item::Quantity(v, Str::from(target.to_string())))
                }
            }
        }
        _ => None,
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn b64_encode(data: &[u8], url: bool) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let mut c = B64[((n >> (18 - 6 * i)) & 63) as usize] as char;
                if url {
                    c = match c {
                        '+' => '-',
                        '/' => '_',
                        c => c,
                    };
                }
                out.push(c);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => continue,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

fn temporal_digits(k: Kind, p: Precision) -> i64 {
    let date = match p {
        Precision::Year => 4,
        Precision::Month => 6,
        _ => 8,
    };
    let time = match p {
        Precision::Hour => 2,
        Precision::Minute => 4,
        Precision::Second => 6,
        Precision::Millis => 9,
        _ => 0,
    };
    match k {
        Kind::Time => time,
        _ => date + time,
    }
}

fn boundary<'a>(item: &Item<'a>, precision: Option<i64>, high: bool) -> Option<Item<'a>> {
    let p = item.prim()?;
    let dec_boundary = |d: Decimal, scale: u32, precision: Option<i64>| -> Option<Decimal> {
        let prec = precision.unwrap_or(8);
        if !(0..=28).contains(&prec) {
            return None;
        }
        let half = Decimal::new(5, scale + 1);
        let b = if high { d + half } else { d - half };
        let strategy = if high { RoundingStrategy::ToPositiveInfinity } else { RoundingStrategy::ToNegativeInfinity };
        // A boundary smaller in magnitude than one unit of the requested
        // precision has no significant digit there: it is zero.
        let unit = Decimal::new(1, prec as u32);
        let mut r = if b.abs() < unit { Decimal::ZERO } else { b.round_dp_with_strategy(prec as u32, strategy) };
        r.rescale(prec as u32);
        Some(r)
    };
    match p {
        Prim::Dec(d) => dec_boundary(d, d.scale(), precision).map(Item::Decimal),
        Prim::Int(i) => dec_boundary(Decimal::from(i), 0, precision).map(Item::Decimal),
        Prim::Quantity(v, u) => dec_boundary(v, v.scale(), precision).map(|d| Item::Quantity(d, Str::from(u.to_string()))),
        Prim::Temporal(k, v) => {
            let target = match (k, precision) {
                (Kind::Date, None | Some(8)) => Precision::Day,
                (Kind::Date, Some(4)) => Precision::Year,
                (Kind::Date, Some(6)) => Precision::Month,
                (Kind::DateTime, None | Some(17)) => Precision::Millis,
                (Kind::DateTime, Some(4)) => Precision::Year,
                (Kind::DateTime, Some(6)) => Precision::Month,
                (Kind::DateTime, Some(8)) => Precision::Day,
                (Kind::DateTime, Some(10)) => Precision::Hour,
                (Kind::DateTime, Some(12)) => Precision::Minute,
                (Kind::DateTime, Some(14)) => Precision::Second,
                (Kind::Time, None | Some(9)) => Precision::Millis,
                (Kind::Time, Some(2)) => Precision::Hour,
                (Kind::Time, Some(4)) => Precision::Minute,
                (Kind::Time, Some(6)) => Precision::Second,
                _ => return None,
            };
            let mut r = v;
            let have = v.precision;
            if have < Precision::Month {
                r.month = if high { 12 } else { 1 };
            }
            if have < Precision::Day {
                r.day = if high { days_in(r.year, r.month) } else { 1 };
            }
            if have < Precision::Hour {
                r.hour = if high { 23 } else { 0 };
            }
            if have < Precision::Minute {
                r.minute = if high { 59 } else { 0 };
            }
            if have < Precision::Second {
                r.second = if high { 59 } else { 0 };
            }
            if have < Precision::Millis {
                r.millis = if high { 999 } else { 0 };
            }
            if k == Kind::DateTime && r.tz.is_none() && target >= Precision::Hour {
                // Unknown timezone: widest range across offsets.
                r.tz = Some(if high { -12 * 60 } else { 14 * 60 });
            }
            r.precision = target;
            Some(Item::Temporal(k, r))
        }
        _ => None,
    }
}

fn days_in(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn html_unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&apos;", "'").replace("&amp;", "&")
}

impl<'a> Ctx<'a> {
    /// Evaluates `arg` against the focus of the whole invocation.
    fn arg(&self, arg: &'a Node, focus: &[Item<'a>], frame: Frame<'_, 'a>) -> Result<Collection<'a>> {
        self.eval(arg, focus, frame)
    }

    /// Evaluates a lambda argument with `$this` = `item`.
    fn lambda(&self, arg: &'a Node, item: &Item<'a>, index: usize, total: Option<&Collection<'a>>) -> Result<Collection<'a>> {
        let focus = std::slice::from_ref(item);
        self.eval(arg, focus, Frame { this: Some(item), index: Some(index), total })
    }

    /// The children of an element, typed through the model.
    pub(crate) fn children_of(&self, item: &Item<'a>, out: &mut Collection<'a>) {
        let Item::Element(e) = item else { return };
        let Some(Value::Object(o)) = e.value else { return };
        for (k, v) in o {
            if k == "resourceType" {
                continue;
            }
            if let Some(name) = k.strip_prefix('_') {
                if !o.contains_key(name) {
                    let ty = self.model.by_key(e.ty, name).map(|x| x.0).unwrap_or("");
                    push_ext_only(v, ty, out);
                }
                continue;
            }
            let ty = self.model.by_key(e.ty, k).map(|x| x.0).unwrap_or("");
            let before = out.len();
            let ext_key = format!("_{k}");
            let ext = o.get(&ext_key);
            match v {
                Value::Array(arr) => {
                    let exts = ext.and_then(Value::as_array);
                    for (i, x) in arr.iter().enumerate() {
                        let xe = exts.and_then(|e| e.get(i)).filter(|e| !e.is_null());
                        if x.is_null() && xe.is_none() {
                            continue;
                        }
                        out.push(Item::Element(Element { value: (!x.is_null()).then_some(x), ext: xe, ty: refine(self, x, ty) }));
                    }
                }
                Value::Null => {}
                x => out.push(Item::Element(Element { value: Some(x), ext, ty: refine(self, x, ty) })),
            }
            let _ = before;
        }
    }

    fn extension(&self, item: &Item<'a>, url: &str, out: &mut Collection<'a>) {
        let Item::Element(e) = item else { return };
        let ext_ty = self.model.intern("Extension").unwrap_or("");
        let sources = [e.value.filter(|v| v.is_object()), e.ext];
        for src in sources.into_iter().flatten() {
            if let Some(Value::Array(exts)) = src.get("extension") {
                for x in exts {
                    if x.get("url").and_then(Value::as_str) == Some(url) {
                        out.push(Item::element(x, ext_ty));
                    }
                }
            }
        }
    }

    fn resolve_ref(&self, reference: &str) -> Option<Item<'a>> {
        let typed = |v: &'a Value| Item::element(v, crate::eval::infer_type(self.model, v));
        if let Some(id) = reference.strip_prefix('#') {
            let res = match &self.resource {
                Item::Element(e) => e.value,
                _ => None,
            }?;
            return res
                .get("contained")
                .and_then(Value::as_array)
                .and_then(|c| c.iter().find(|r| r.get("id").and_then(Value::as_str) == Some(id)))
                .map(typed);
        }
        if self.root.get("resourceType").and_then(Value::as_str) == Some("Bundle")
            && let Some(entries) = self.root.get("entry").and_then(Value::as_array)
        {
            {
                for en in entries {
                    let full = en.get("fullUrl").and_then(Value::as_str);
                    let Some(r) = en.get("resource") else { continue };
                    let rel = match (r.get("resourceType").and_then(Value::as_str), r.get("id").and_then(Value::as_str)) {
                        (Some(t), Some(i)) => Some(format!("{t}/{i}")),
                        _ => None,
                    };
                    let hit = full == Some(reference)
                        || rel.as_deref().is_some_and(|rel| reference == rel || reference.ends_with(&format!("/{rel}")));
                    if hit {
                        return Some(typed(r));
                    }
                }
            }
        }
        if let Some(found) = self.env.resolver.as_ref().and_then(|r| r.resolve(reference)) {
            return Some(typed(found));
        }
        // Unresolvable `[base/]Type/id[/_history/v]`: a content-less element of
        // that type, so that `resolve() is Patient` works when indexing a
        // resource on its own (as HAPI's indexer does).
        let path = reference.split("/_history/").next().unwrap_or(reference);
        let mut parts = path.rsplit('/');
        let (_id, ty) = (parts.next()?, parts.next()?);
        let ty = self.model.intern(ty).filter(|t| self.model.defs.is_resource_type(t))?;
        Some(Item::Element(Element { value: None, ext: None, ty }))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn call(
        &self,
        f: Func,
        input: &Collection<'a>,
        args: &'a [Node],
        focus: &[Item<'a>],
        frame: Frame<'_, 'a>,
        _pos: usize,
    ) -> Result<Collection<'a>> {
        let arg0 = || self.arg(&args[0], focus, frame);
        let arg1 = || self.arg(&args[1], focus, frame);
        Ok(match f {
            Func::Empty => vec![Item::Boolean(input.is_empty())],
            Func::Exists => {
                if args.is_empty() {
                    vec![Item::Boolean(!input.is_empty())]
                } else {
                    let mut any = false;
                    for (i, item) in input.iter().enumerate() {
                        if to_bool(&self.lambda(&args[0], item, i, None)?)? == Some(true) {
                            any = true;
                            break;
                        }
                    }
                    vec![Item::Boolean(any)]
                }
            }
            Func::All => {
                let mut all = true;
                for (i, item) in input.iter().enumerate() {
                    if to_bool(&self.lambda(&args[0], item, i, None)?)? != Some(true) {
                        all = false;
                        break;
                    }
                }
                vec![Item::Boolean(all)]
            }
            Func::AllTrue | Func::AnyTrue | Func::AllFalse | Func::AnyFalse => {
                let mut bools = Vec::with_capacity(input.len());
                for i in input {
                    match i.prim() {
                        Some(Prim::Bool(b)) => bools.push(b),
                        _ => return Err(type_err(format!("{}() needs booleans", f.name()))),
                    }
                }
                vec![Item::Boolean(match f {
                    Func::AllTrue => bools.iter().all(|b| *b),
                    Func::AnyTrue => bools.iter().any(|b| *b),
                    Func::AllFalse => bools.iter().all(|b| !*b),
                    _ => bools.iter().any(|b| !*b),
                })]
            }
            Func::SubsetOf => {
                let other = arg0()?;
                vec![Item::Boolean(input.iter().all(|x| contains_item(&other, x)))]
            }
            Func::SupersetOf => {
                let other = arg0()?;
                vec![Item::Boolean(other.iter().all(|x| contains_item(input, x)))]
            }
            Func::Count => vec![Item::Integer(input.len() as i64)],
            Func::Distinct => distinct(input.clone()),
            Func::IsDistinct => vec![Item::Boolean(distinct(input.clone()).len() == input.len())],
            Func::Where => {
                let mut out = Vec::new();
                for (i, item) in input.iter().enumerate() {
                    if to_bool(&self.lambda(&args[0], item, i, None)?)? == Some(true) {
                        out.push(item.clone());
                    }
                }
                out
            }
            Func::Select => {
                let mut out = Vec::new();
                for (i, item) in input.iter().enumerate() {
                    out.extend(self.lambda(&args[0], item, i, None)?);
                }
                out
            }
            Func::Repeat => {
                let mut out: Collection<'a> = Vec::new();
                let mut queue = input.clone();
                let mut rounds = 0;
                while !queue.is_empty() {
                    rounds += 1;
                    if rounds > 10_000 || out.len() > 1_000_000 {
                        return Err(exec_err("repeat() did not terminate"));
                    }
                    let mut next = Vec::new();
                    for (i, item) in queue.iter().enumerate() {
                        for r in self.lambda(&args[0], item, i, None)? {
                            if !contains_item(&out, &r) {
                                out.push(r.clone());
                                next.push(r);
                            }
                        }
                    }
                    queue = next;
                }
                out
            }
            Func::OfType => {
                let ts = type_arg(&args[0])?;
                input.iter().filter(|i| self.is_type(i, &ts, true)).cloned().collect()
            }
            Func::Is => {
                let ts = type_arg(&args[0])?;
                match singleton(input, "is()")? {
                    None => Vec::new(),
                    Some(i) => vec![Item::Boolean(self.is_type(i, &ts, false))],
                }
            }
            Func::As => {
                let ts = type_arg(&args[0])?;
                if input.len() > 1 {
                    return Err(exec_err("as() needs a single item"));
                }
                input.iter().filter(|i| self.is_type(i, &ts, true)).cloned().collect()
            }
            Func::Type => input
                .iter()
                .map(|i| match i {
                    Item::Element(e) if !e.ty.is_empty() => Item::TypeInfo("FHIR", e.ty),
                    other => Item::TypeInfo(
                        "System",
                        match other.prim() {
                            Some(Prim::Bool(_)) => "Boolean",
                            Some(Prim::Int(_)) => "Integer",
                            Some(Prim::Dec(_)) => "Decimal",
                            Some(Prim::Str(_)) => "String",
                            Some(Prim::Temporal(Kind::Date, _)) => "Date",
                            Some(Prim::Temporal(Kind::DateTime, _)) => "DateTime",
                            Some(Prim::Temporal(Kind::Time, _)) => "Time",
                            Some(Prim::Quantity(..)) => "Quantity",
                            None => "Any",
                        },
                    ),
                })
                .collect(),
            Func::Single => match input.len() {
                0 | 1 => input.clone(),
                n => return Err(exec_err(format!("single() on {n} items"))),
            },
            Func::First => input.first().cloned().into_iter().collect(),
            Func::Last => input.last().cloned().into_iter().collect(),
            Func::Tail => input.iter().skip(1).cloned().collect(),
            Func::Skip => {
                let n = single_int(&arg0()?)?.unwrap_or(0).max(0) as usize;
                input.iter().skip(n).cloned().collect()
            }
            Func::Take => {
                let n = single_int(&arg0()?)?.unwrap_or(0).max(0) as usize;
                input.iter().take(n).cloned().collect()
            }
            Func::Intersect => {
                let other = arg0()?;
                distinct(input.iter().filter(|x| contains_item(&other, x)).cloned().collect())
            }
            Func::Exclude => {
                let other = arg0()?;
                input.iter().filter(|x| !contains_item(&other, x)).cloned().collect()
            }
            Func::Union => binary_values(BinOp::Union, input.clone(), arg0()?)?,
            Func::Combine => {
                let mut out = input.clone();
                out.extend(arg0()?);
                out
            }
            Func::Iif => {
                if input.len() > 1 {
                    return Err(exec_err("iif() on more than one item"));
                }
                let (f2, this) = if input.len() == 1 && !std::ptr::eq(input.as_ptr(), focus.as_ptr()) {
                    (input.as_slice(), input.first())
                } else {
                    (focus, frame.this)
                };
                let fr = Frame { this, ..frame };
                let c = self.eval(&args[0], f2, fr)?;
                let cond = match c.as_slice() {
                    [] => false,
                    [x] => match x.prim() {
                        Some(Prim::Bool(b)) => b,
                        _ => return Err(type_err("iif() criterion must be a boolean")),
                    },
                    _ => return Err(type_err("iif() criterion must be a single boolean")),
                };
                if cond {
                    self.eval(&args[1], f2, fr)?
                } else if let Some(e) = args.get(2) {
                    self.eval(e, f2, fr)?
                } else {
                    Vec::new()
                }
            }
            Func::ToBoolean
            | Func::ToInteger
            | Func::ToDecimal
            | Func::ToString
            | Func::ToDate
            | Func::ToDateTime
            | Func::ToTime
            | Func::ToQuantity => {
                let unit = if args.is_empty() { None } else { arg_str(&arg0()?, f)? };
                match singleton(input, f.name())? {
                    None => Vec::new(),
                    Some(i) => convert(f, i, unit.as_deref()).into_iter().collect(),
                }
            }
            Func::ConvertsToBoolean
            | Func::ConvertsToInteger
            | Func::ConvertsToDecimal
            | Func::ConvertsToString
            | Func::ConvertsToDate
            | Func::ConvertsToDateTime
            | Func::ConvertsToTime
            | Func::ConvertsToQuantity => {
                let unit = if args.is_empty() { None } else { arg_str(&arg0()?, f)? };
                match singleton(input, f.name())? {
                    None => Vec::new(),
                    Some(i) => vec![Item::Boolean(convert(f, i, unit.as_deref()).is_some())],
                }
            }
            Func::IndexOf => {
                let (Some(s), Some(sub)) = (input_str(input, f)?, arg_str(&arg0()?, f)?) else { return Ok(Vec::new()) };
                let idx = match s.find(&sub) {
                    Some(b) => s[..b].chars().count() as i64,
                    None => -1,
                };
                vec![Item::Integer(idx)]
            }
            Func::Substring => {
                let Some(s) = input_str(input, f)? else { return Ok(Vec::new()) };
                let Some(start) = single_int(&arg0()?)? else { return Ok(Vec::new()) };
                let len = if args.len() > 1 { single_int(&arg1()?)? } else { None };
                let n = s.chars().count() as i64;
                if start < 0 || start >= n {
                    return Ok(Vec::new());
                }
                let take = len.unwrap_or(n).max(0) as usize;
                vec![string_item(s.chars().skip(start as usize).take(take).collect::<String>())]
            }
            Func::StartsWith | Func::EndsWith | Func::Contains => {
                let (Some(s), Some(x)) = (input_str(input, f)?, arg_str(&arg0()?, f)?) else { return Ok(Vec::new()) };
                vec![Item::Boolean(match f {
                    Func::StartsWith => s.starts_with(&x),
                    Func::EndsWith => s.ends_with(&x),
                    _ => s.contains(&x),
                })]
            }
            Func::Upper | Func::Lower | Func::Trim | Func::Length | Func::ToChars => {
                let Some(s) = input_str(input, f)? else { return Ok(Vec::new()) };
                match f {
                    Func::Upper => vec![string_item(s.to_uppercase())],
                    Func::Lower => vec![string_item(s.to_lowercase())],
                    Func::Trim => vec![string_item(s.trim())],
                    Func::Length => vec![Item::Integer(s.chars().count() as i64)],
                    _ => s.chars().map(|c| string_item(c.to_string())).collect(),
                }
            }
            Func::Replace => {
                let Some(s) = input_str(input, f)? else { return Ok(Vec::new()) };
                let (Some(p), Some(r)) = (arg_str(&arg0()?, f)?, arg_str(&arg1()?, f)?) else { return Ok(Vec::new()) };
                vec![string_item(s.replace(&p, &r))]
            }
            Func::Matches | Func::MatchesFull | Func::ReplaceMatches => {
                let Some(s) = input_str(input, f)? else { return Ok(Vec::new()) };
                let Some(p) = arg_str(&arg0()?, f)? else { return Ok(Vec::new()) };
                if f == Func::ReplaceMatches && p.is_empty() {
                    return Ok(vec![string_item(s)]);
                }
                let p = if f == Func::MatchesFull { format!("^(?:{p})$") } else { p };
                let re = cached_regex(&p).map_err(|e| exec_err(format!("invalid regular expression: {e}")))?;
                if f != Func::ReplaceMatches {
                    vec![Item::Boolean(re.is_match(s))]
                } else {
                    let Some(r) = arg_str(&arg1()?, f)? else { return Ok(Vec::new()) };
                    vec![string_item(re.replace_all(s, r.as_str()).into_owned())]
                }
            }
            Func::Split => {
                let Some(s) = input_str(input, f)? else { return Ok(Vec::new()) };
                let Some(sep) = arg_str(&arg0()?, f)? else { return Ok(Vec::new()) };
                s.split(sep.as_str()).map(string_item).collect()
            }
            Func::Join => {
                let sep = if args.is_empty() { String::new() } else { arg_str(&arg0()?, f)?.unwrap_or_default() };
                let mut parts = Vec::with_capacity(input.len());
                for i in input {
                    parts.push(i.as_str().ok_or_else(|| type_err("join() needs strings"))?.to_string());
                }
                vec![string_item(parts.join(&sep))]
            }
            Func::Encode | Func::Decode | Func::Escape | Func::Unescape => {
                let Some(s) = input_str(input, f)? else { return Ok(Vec::new()) };
                let Some(kind) = arg_str(&arg0()?, f)? else { return Ok(Vec::new()) };
                let out = match (f, kind.as_str()) {
                    (Func::Encode, "base64") => Some(b64_encode(s.as_bytes(), false)),
                    (Func::Encode, "urlbase64") => Some(b64_encode(s.as_bytes(), true)),
                    (Func::Encode, "hex") => Some(s.bytes().map(|b| format!("{b:02x}")).collect()),
                    (Func::Decode, "base64" | "urlbase64") => b64_decode(s).and_then(|b| String::from_utf8(b).ok()),
                    (Func::Decode, "hex") => {
                        let bytes: Option<Vec<u8>> = (0..s.len())
                            .step_by(2)
                            .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                            .collect();
                        bytes.and_then(|b| String::from_utf8(b).ok())
                    }
                    (Func::Escape, "html") => Some(html_escape(s)),
                    (Func::Escape, "json") => Some(s.replace('\\', "\\\\").replace('"', "\\\"")),
                    (Func::Unescape, "html") => Some(html_unescape(s)),
                    (Func::Unescape, "json") => Some(s.replace("\\\"", "\"").replace("\\\\", "\\")),
                    _ => return Err(exec_err(format!("unknown encoding '{kind}'"))),
                };
                out.map(string_item).into_iter().collect()
            }
            Func::Abs | Func::Ceiling | Func::Floor | Func::Truncate | Func::Exp | Func::Ln | Func::Sqrt => {
                let Some(i) = singleton(input, f.name())? else { return Ok(Vec::new()) };
                let p = i.prim().ok_or_else(|| type_err(format!("{}() needs a number", f.name())))?;
                if let (Func::Abs, Prim::Quantity(v, u)) = (f, &p) {
                    return Ok(vec![Item::Quantity(v.abs(), Str::from(u.to_string()))]);
                }
                if let (Func::Abs, Prim::Int(n)) = (f, &p) {
                    return Ok(n.checked_abs().map(Item::Integer).into_iter().collect());
                }
                let d = dec_of(&p).ok_or_else(|| type_err(format!("{}() needs a number", f.name())))?;
                let r = match f {
                    Func::Abs => Some(Item::Decimal(d.abs())),
                    Func::Ceiling => d.ceil().to_i64().map(Item::Integer),
                    Func::Floor => d.floor().to_i64().map(Item::Integer),
                    Func::Truncate => d.trunc().to_i64().map(Item::Integer),
                    Func::Exp => to_f64(d).and_then(|x| from_f64(x.exp())),
                    Func::Ln => {
                        if d <= Decimal::ZERO { None } else { to_f64(d).and_then(|x| from_f64(x.ln())) }
                    }
                    _ => {
                        if d < Decimal::ZERO { None } else { d.sqrt().map(|x| Item::Decimal(x.normalize())) }
                    }
                };
                r.into_iter().collect()
            }
            Func::Log | Func::Power => {
                let Some(i) = singleton(input, f.name())? else { return Ok(Vec::new()) };
                let a = arg0()?;
                let Some(j) = singleton(&a, f.name())? else { return Ok(Vec::new()) };
                let (Some(p), Some(q)) = (i.prim(), j.prim()) else { return Err(type_err("needs numbers")) };
                if f == Func::Power
                    && let (Prim::Int(b), Prim::Int(e)) = (&p, &q)
                    && *e >= 0
                {
                    return Ok(u32::try_from(*e).ok().and_then(|e| b.checked_pow(e)).map(Item::Integer).into_iter().collect());
                }
                let (Some(x), Some(y)) = (dec_of(&p), dec_of(&q)) else { return Err(type_err("needs numbers")) };
                let (Some(x), Some(y)) = (to_f64(x), to_f64(y)) else { return Ok(Vec::new()) };
                let r = if f == Func::Log { x.ln() / y.ln() } else { x.powf(y) };
                from_f64(r).into_iter().collect()
            }
            Func::Round => {
                let Some(i) = singleton(input, f.name())? else { return Ok(Vec::new()) };
                let prec = if args.is_empty() { Some(0) } else { single_int(&arg0()?)? };
                let Some(prec) = prec.filter(|p| (0..=28).contains(p)) else { return Ok(Vec::new()) };
                let d = i.prim().as_ref().and_then(dec_of).ok_or_else(|| type_err("round() needs a number"))?;
                vec![Item::Decimal(d.round_dp_with_strategy(prec as u32, RoundingStrategy::MidpointAwayFromZero))]
            }
            Func::Children => {
                let mut out = Vec::new();
                for i in input {
                    self.children_of(i, &mut out);
                }
                out
            }
            Func::Descendants => {
                let mut out = Vec::new();
                let mut frontier = input.clone();
                while !frontier.is_empty() {
                    let mut next = Vec::new();
                    for i in &frontier {
                        self.children_of(i, &mut next);
                    }
                    out.extend(next.iter().cloned());
                    frontier = next;
                }
                out
            }
            Func::Trace => {
                // No I/O in this crate: trace() evaluates its arguments and passes the input through.
                let _ = arg0()?;
                input.clone()
            }
            Func::Now => vec![Item::Temporal(Kind::DateTime, self.now())],
            Func::Today => vec![Item::Temporal(
                Kind::Date,
                DateTimeVal { precision: Precision::Day, tz: None, hour: 0, minute: 0, second: 0, millis: 0, ..self.now() },
            )],
            Func::TimeOfDay => {
                vec![Item::Temporal(Kind::Time, DateTimeVal { year: 0, month: 1, day: 1, tz: None, ..self.now() })]
            }
            Func::Aggregate => {
                let mut total = if args.len() > 1 { arg1()? } else { Vec::new() };
                for (i, item) in input.iter().enumerate() {
                    let t = total.clone();
                    total = self.lambda(&args[0], item, i, Some(&t))?;
                }
                total
            }
            Func::Not => match to_bool(input)? {
                None => Vec::new(),
                Some(b) => vec![Item::Boolean(!b)],
            },
            Func::Sort => {
                let mut keyed: Vec<(Vec<(Collection<'a>, bool)>, Item<'a>)> = Vec::with_capacity(input.len());
                for (i, item) in input.iter().enumerate() {
                    let mut keys = Vec::new();
                    if args.is_empty() {
                        keys.push((vec![item.clone()], false));
                    }
                    for a in args {
                        let (expr, desc) = match a {
                            Node::Neg(inner) => (&**inner, true),
                            other => (other, false),
                        };
                        keys.push((self.lambda(expr, item, i, None)?, desc));
                    }
                    keyed.push((keys, item.clone()));
                }
                let mut err = None;
                keyed.sort_by(|(ka, _), (kb, _)| {
                    for ((a, desc), (b, _)) in ka.iter().zip(kb) {
                        // Empty keys sort first whatever the direction.
                        let o = match (a.first(), b.first()) {
                            (None, None) => Ordering::Equal,
                            (None, Some(_)) => return Ordering::Less,
                            (Some(_), None) => return Ordering::Greater,
                            (Some(x), Some(y)) => match compare(x, y) {
                                Ok(o) => o.unwrap_or(Ordering::Equal),
                                Err(e) => {
                                    err = Some(e);
                                    Ordering::Equal
                                }
                            },
                        };
                        let o = if *desc { o.reverse() } else { o };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    Ordering::Equal
                });
                if let Some(e) = err {
                    return Err(e);
                }
                keyed.into_iter().map(|(_, i)| i).collect()
            }
            Func::LowBoundary | Func::HighBoundary => {
                let Some(i) = singleton(input, f.name())? else { return Ok(Vec::new()) };
                let prec = if args.is_empty() { None } else { single_int(&arg0()?)? };
                boundary(i, prec, f == Func::HighBoundary).into_iter().collect()
            }
            Func::Precision => {
                let Some(i) = singleton(input, f.name())? else { return Ok(Vec::new()) };
                match i.prim() {
                    Some(Prim::Dec(d)) => vec![Item::Integer(i64::from(d.scale()))],
                    Some(Prim::Int(_)) => vec![Item::Integer(0)],
                    Some(Prim::Temporal(k, v)) => vec![Item::Integer(temporal_digits(k, v.precision))],
                    _ => Vec::new(),
                }
            }
            Func::Comparable => {
                let Some(i) = singleton(input, f.name())? else { return Ok(Vec::new()) };
                let a = arg0()?;
                let Some(j) = singleton(&a, f.name())? else { return Ok(Vec::new()) };
                match (i.prim(), j.prim()) {
                    (Some(Prim::Quantity(_, u1)), Some(Prim::Quantity(_, u2))) => {
                        let c = |u: &str| ucum::canon(calendar_unit(u).map(ucum::calendar_to_ucum).unwrap_or(u));
                        vec![Item::Boolean(match (c(u1), c(u2)) {
                            (Some(a), Some(b)) => a.dims == b.dims,
                            _ => u1 == u2,
                        })]
                    }
                    _ => return Err(type_err("comparable() needs quantities")),
                }
            }
            Func::Extension => {
                let Some(url) = arg_str(&arg0()?, f)? else { return Ok(Vec::new()) };
                let mut out = Vec::new();
                for i in input {
                    self.extension(i, &url, &mut out);
                }
                out
            }
            Func::HasValue => vec![Item::Boolean(match input.as_slice() {
                [Item::Element(e)] => e.value.is_some_and(|v| !v.is_object() && !v.is_array()),
                [Item::TypeInfo(..)] | [] => false,
                [_] => true,
                _ => false,
            })],
            Func::GetValue => match input.as_slice() {
                [i @ Item::Element(e)] if e.value.is_some_and(|v| !v.is_object()) => match i.prim() {
                    Some(Prim::Bool(b)) => vec![Item::Boolean(b)],
                    Some(Prim::Int(n)) => vec![Item::Integer(n)],
                    Some(Prim::Dec(d)) => vec![Item::Decimal(d)],
                    Some(Prim::Str(s)) => vec![string_item(s)],
                    Some(Prim::Temporal(k, v)) => vec![Item::Temporal(k, v)],
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            },
            Func::Resolve => {
                let mut out = Vec::new();
                for i in input {
                    let reference = match i {
                        Item::Element(e) if e.value.is_some_and(Value::is_object) => {
                            e.value.and_then(|v| v.get("reference")).and_then(Value::as_str)
                        }
                        other => other.as_str(),
                    };
                    if let Some(r) = reference {
                        out.extend(self.resolve_ref(r));
                    }
                }
                out
            }
            Func::HtmlChecks => {
                // The narrative must be a single XHTML div without active content.
                let ok = input.iter().all(|i| {
                    i.as_str().is_some_and(|s| {
                        let t = s.trim_start();
                        let lower = t.to_ascii_lowercase();
                        t.starts_with("<div") && !lower.contains("<script") && !lower.contains("javascript:")
                    })
                });
                bool_coll(Some(ok))
            }
            Func::ConformsTo => {
                let Some(url) = arg_str(&arg0()?, f)? else { return Ok(Vec::new()) };
                // Only the core base definitions are known without a profile registry.
                let Some(ty) = url.strip_prefix("http://hl7.org/fhir/StructureDefinition/").and_then(|t| self.model.intern(t))
                else {
                    return Err(Error::Unsupported { function: format!("conformsTo('{url}')") });
                };
                input
                    .iter()
                    .map(|i| Item::Boolean(matches!(i, Item::Element(e) if self.model.is_subtype(e.ty, ty))))
                    .collect()
            }
            Func::MemberOf | Func::Subsumes | Func::SubsumedBy => {
                return Err(Error::Unsupported { function: f.name().to_string() });
            }
        })
    }
}

fn refine<'a>(ctx: &Ctx<'a>, x: &'a Value, ty: &'static str) -> &'static str {
    if ty.is_empty() || ty == "Resource" || ty == "DomainResource" {
        match crate::eval::infer_type(ctx.model, x) {
            "" => ty,
            t => t,
        }
    } else {
        ty
    }
}

fn push_ext_only<'a>(v: &'a Value, ty: &'static str, out: &mut Collection<'a>) {
    match v {
        Value::Array(a) => {
            for x in a.iter().filter(|x| !x.is_null()) {
                out.push(Item::Element(Element { value: None, ext: Some(x), ty }));
            }
        }
        Value::Null => {}
        x => out.push(Item::Element(Element { value: None, ext: Some(x), ty })),
    }
}

/// How many compiled patterns each thread keeps (most recently built last).
const REGEX_CACHE_SIZE: usize = 32;

thread_local! {
    static REGEX_CACHE: std::cell::RefCell<Vec<(String, regex::Regex)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The pattern `p` compiled (`.` matches newlines, as FHIRPath says), from a
/// small per-thread cache: a pattern in an expression is the same for every
/// resource it runs on, and building it costs far more than matching.
fn cached_regex(p: &str) -> std::result::Result<regex::Regex, regex::Error> {
    REGEX_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some((_, re)) = cache.iter().find(|(k, _)| k == p) {
            return Ok(re.clone());
        }
        let re = regex::RegexBuilder::new(p).dot_matches_new_line(true).build()?;
        if cache.len() == REGEX_CACHE_SIZE {
            cache.remove(0);
        }
        cache.push((p.to_string(), re.clone()));
        Ok(re)
    })
}
