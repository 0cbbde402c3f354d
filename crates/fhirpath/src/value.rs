//! Values in a FHIRPath collection: borrowed FHIR JSON nodes with their FHIR
//! type, or computed System values (Boolean, Integer, Decimal, String, Date,
//! DateTime, Time, Quantity). Owns the date/time representation with its
//! precision rules and the FHIR-JSON rendering of results.

use std::cmp::Ordering;
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::Value;

/// A string value: borrowed from the resource or the compiled expression, or computed.
#[derive(Clone)]
pub enum Str<'a> {
    /// Borrowed text.
    Borrowed(&'a str),
    /// Computed text.
    Shared(Rc<str>),
}

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Str::Borrowed(s) => s,
            Str::Shared(s) => s,
        }
    }
}

impl fmt::Debug for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl From<String> for Str<'_> {
    fn from(s: String) -> Self {
        Str::Shared(Rc::from(s))
    }
}

/// Which temporal System type a [`DateTimeVal`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `System.Date`.
    Date,
    /// `System.DateTime`.
    DateTime,
    /// `System.Time`.
    Time,
}

/// Precision of a temporal value (how many components are present).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    /// Year only.
    Year = 1,
    /// Year and month.
    Month,
    /// Full date.
    Day,
    /// Hours.
    Hour,
    /// Minutes.
    Minute,
    /// Seconds.
    Second,
    /// Milliseconds.
    Millis,
}

/// A date, date-time or time with its precision and optional timezone offset.
/// For a time the date fields are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTimeVal {
    /// Year.
    pub year: i32,
    /// Month 1-12 (1 when absent).
    pub month: u8,
    /// Day 1-31 (1 when absent).
    pub day: u8,
    /// Hour.
    pub hour: u8,
    /// Minute.
    pub minute: u8,
    /// Second.
    pub second: u8,
    /// Milliseconds.
    pub millis: u16,
    /// How many components are known.
    pub precision: Precision,
    /// Timezone offset in minutes, if given.
    pub tz: Option<i16>,
}

fn num<T: FromStr>(s: &str, len: usize) -> Option<T> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) { s.parse().ok() } else { None }
}

fn days_in_month(y: i32, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Parses the time part `hh(:mm(:ss(.fff)?)?)?` into `v`.
fn parse_time_into(s: &str, v: &mut DateTimeVal, allow_partial: bool) -> Option<()> {
    let mut parts = s.splitn(3, ':');
    v.hour = num(parts.next()?, 2)?;
    v.precision = Precision::Hour;
    if v.hour > 23 {
        return None;
    }
    match parts.next() {
        Some(m) => {
            v.minute = num(m, 2)?;
            v.precision = Precision::Minute;
            if v.minute > 59 {
                return None;
            }
        }
        None => return if allow_partial { Some(()) } else { None },
    }
    if let Some(sec) = parts.next() {
        let (whole, frac) = match sec.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (sec, None),
        };
        v.second = num(whole, 2)?;
        v.precision = Precision::Second;
        if v.second > 59 {
            return None;
        }
        if let Some(f) = frac {
            if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut ms = 0u16;
            for (i, b) in f.bytes().take(3).enumerate() {
                ms += u16::from(b - b'0') * [100, 10, 1][i];
            }
            v.millis = ms;
            v.precision = Precision::Millis;
        }
    }
    Some(())
}

fn parse_tz(s: &str) -> Option<i16> {
    if s == "Z" {
        return Some(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = s[1..].split_once(':')?;
    let h: i16 = num(h, 2)?;
    let m: i16 = num(m, 2)?;
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * (h * 60 + m))
}

impl DateTimeVal {
    fn blank() -> Self {
        DateTimeVal { year: 0, month: 1, day: 1, hour: 0, minute: 0, second: 0, millis: 0, precision: Precision::Year, tz: None }
    }

    /// Parses a FHIR `date` (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`).
    pub fn parse_date(s: &str) -> Option<Self> {
        let mut v = Self::blank();
        let mut parts = s.splitn(3, '-');
        v.year = num(parts.next()?, 4)?;
        if let Some(m) = parts.next() {
            v.month = num(m, 2)?;
            v.precision = Precision::Month;
            if !(1..=12).contains(&v.month) {
                return None;
            }
        }
        if let Some(d) = parts.next() {
            v.day = num(d, 2)?;
            v.precision = Precision::Day;
            if v.day < 1 || v.day > days_in_month(v.year, v.month) {
                return None;
            }
        }
        Some(v)
    }

    /// Parses a FHIR `dateTime`/`instant` or a FHIRPath DateTime literal body
    /// (a date, optionally `T` and a partial time, optionally a timezone).
    pub fn parse_datetime(s: &str) -> Option<Self> {
        let (date, time) = match s.split_once('T') {
            Some((d, t)) => (d, Some(t)),
            None => (s, None),
        };
        let mut v = Self::parse_date(date)?;
        if let Some(t) = time {
            if t.is_empty() {
                return Some(v);
            }
            if v.precision != Precision::Day {
                return None;
            }
            let split = t.find(['Z', '+', '-']).unwrap_or(t.len());
            parse_time_into(&t[..split], &mut v, true)?;
            if split < t.len() {
                v.tz = Some(parse_tz(&t[split..])?);
            }
        } else if date.len() > 10 {
            return None;
        }
        Some(v)
    }

    /// Parses a FHIR `time` (`hh:mm:ss(.fff)`) or a FHIRPath Time literal body.
    pub fn parse_time(s: &str) -> Option<Self> {
        let mut v = Self::blank();
        parse_time_into(s, &mut v, true)?;
        Some(v)
    }

    /// Renders in FHIR/FHIRPath text form (without the `@`/`@T` prefix).
    pub fn render(&self, kind: Kind) -> String {
        // Digits are pushed directly: rendering runs once per date cell of a view.
        fn pad(s: &mut String, v: impl Into<i64>, width: usize) {
            let v: i64 = v.into();
            if v < 0 {
                s.push('-');
            }
            let mut digits = [0u8; 20];
            let mut n = v.unsigned_abs();
            let mut len = 0;
            while n > 0 || len == 0 {
                digits[len] = b'0' + (n % 10) as u8;
                n /= 10;
                len += 1;
            }
            for _ in len..width {
                s.push('0');
            }
            for d in digits[..len].iter().rev() {
                s.push(char::from(*d));
            }
        }
        let mut s = String::with_capacity(32);
        if kind != Kind::Time {
            pad(&mut s, self.year, 4);
            if self.precision >= Precision::Month {
                s.push('-');
                pad(&mut s, self.month, 2);
            }
            if self.precision >= Precision::Day {
                s.push('-');
                pad(&mut s, self.day, 2);
            }
            if kind == Kind::Date || self.precision <= Precision::Day {
                return s;
            }
            s.push('T');
        }
        pad(&mut s, self.hour, 2);
        if self.precision >= Precision::Minute {
            s.push(':');
            pad(&mut s, self.minute, 2);
        }
        if self.precision >= Precision::Second {
            s.push(':');
            pad(&mut s, self.second, 2);
        }
        if self.precision >= Precision::Millis {
            s.push('.');
            pad(&mut s, self.millis, 3);
        }
        if kind == Kind::DateTime {
            match self.tz {
                Some(0) => s.push('Z'),
                Some(tz) => {
                    s.push(if tz < 0 { '-' } else { '+' });
                    pad(&mut s, tz.abs() / 60, 2);
                    s.push(':');
                    pad(&mut s, tz.abs() % 60, 2);
                }
                None => {}
            }
        }
        s
    }

    /// Days since 1970-01-01 of the date part.
    fn epoch_days(&self) -> i64 {
        days_from_civil(i64::from(self.year), i64::from(self.month), i64::from(self.day))
    }

    /// Milliseconds since the epoch (UTC when a timezone is known).
    fn epoch_millis(&self) -> i64 {
        let t = ((i64::from(self.hour) * 60 + i64::from(self.minute)) * 60 + i64::from(self.second)) * 1000
            + i64::from(self.millis);
        self.epoch_days() * 86_400_000 + t - i64::from(self.tz.unwrap_or(0)) * 60_000
    }

    /// The UTC date-time `ms` milliseconds after 1970-01-01T00:00:00Z, at millisecond precision.
    pub fn from_unix_millis(ms: i64) -> DateTimeVal {
        let t = DateTimeVal { precision: Precision::Millis, tz: Some(0), ..DateTimeVal::blank() };
        DateTimeVal::from_epoch_millis(ms, &t)
    }

    fn from_epoch_millis(ms: i64, template: &DateTimeVal) -> DateTimeVal {
        let local = ms + i64::from(template.tz.unwrap_or(0)) * 60_000;
        let days = local.div_euclid(86_400_000);
        let rem = local.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        DateTimeVal {
            year: y as i32,
            month: m as u8,
            day: d as u8,
            hour: (rem / 3_600_000) as u8,
            minute: (rem / 60_000 % 60) as u8,
            second: (rem / 1000 % 60) as u8,
            millis: (rem % 1000) as u16,
            precision: template.precision,
            tz: template.tz,
        }
    }

    /// Compares two temporal values under FHIRPath precision rules: `None` when
    /// the answer is unknown because the precisions differ.
    pub fn compare(&self, other: &DateTimeVal, kind: Kind) -> Option<Ordering> {
        let (mut a, mut b) = (*self, *other);
        // Normalise to UTC when both carry a timezone and time components.
        if kind != Kind::Time && a.precision >= Precision::Hour && b.precision >= Precision::Hour {
            if let (Some(_), Some(_)) = (a.tz, b.tz) {
                a = DateTimeVal::from_epoch_millis(a.epoch_millis(), &DateTimeVal { tz: Some(0), ..a });
                b = DateTimeVal::from_epoch_millis(b.epoch_millis(), &DateTimeVal { tz: Some(0), ..b });
            } else if a.tz.is_some() != b.tz.is_some() {
                return None;
            }
        }
        let first = if kind == Kind::Time { Precision::Hour } else { Precision::Year };
        // Seconds and milliseconds are one precision for comparison.
        let norm = |p: Precision| if p == Precision::Millis { Precision::Second } else { p };
        let pa = norm(a.precision);
        let pb = norm(b.precision);
        let comps = [
            (Precision::Year, i64::from(a.year), i64::from(b.year)),
            (Precision::Month, i64::from(a.month), i64::from(b.month)),
            (Precision::Day, i64::from(a.day), i64::from(b.day)),
            (Precision::Hour, i64::from(a.hour), i64::from(b.hour)),
            (Precision::Minute, i64::from(a.minute), i64::from(b.minute)),
            (
                Precision::Second,
                i64::from(a.second) * 1000 + i64::from(a.millis),
                i64::from(b.second) * 1000 + i64::from(b.millis),
            ),
        ];
        for (p, x, y) in comps {
            if p < first {
                continue;
            }
            let ha = pa >= p;
            let hb = pb >= p;
            if !ha && !hb {
                return Some(Ordering::Equal);
            }
            if ha != hb {
                return None;
            }
            match x.cmp(&y) {
                Ordering::Equal => {}
                o => return Some(o),
            }
        }
        Some(Ordering::Equal)
    }

    /// Adds a calendar/UCUM time quantity (`value` in `unit`), truncating to
    /// the value's precision. `None` when the unit is not a time unit.
    pub fn add(&self, value: Decimal, unit: &str, kind: Kind) -> Option<DateTimeVal> {
        // UCUM `a` and `mo` are not calendar durations: only definite units apply.
        let unit = calendar_unit(unit).or_else(|| ucum_time_unit(unit).filter(|u| !matches!(*u, "year" | "month")))?;
        let whole = value.trunc();
        let n = i64::try_from(whole).ok()?;
        let mut v = *self;
        match unit {
            "year" | "month" => {
                let months = if unit == "year" { n * 12 } else { n };
                if kind == Kind::Time {
                    return None;
                }
                let total = i64::from(v.year) * 12 + i64::from(v.month) - 1 + months;
                v.year = i32::try_from(total.div_euclid(12)).ok()?;
                v.month = (total.rem_euclid(12) + 1) as u8;
                v.day = v.day.min(days_in_month(v.year, v.month));
                Some(v)
            }
            "week" | "day" => {
                if kind == Kind::Time {
                    return None;
                }
                let days = if unit == "week" { n * 7 } else { n };
                if v.precision < Precision::Day {
                    // Partial dates only move by whole years/months.
                    return Some(v);
                }
                let ms = v.epoch_millis() + days * 86_400_000;
                Some(DateTimeVal::from_epoch_millis(ms, &v))
            }
            _ => {
                let ms_per = match unit {
                    "hour" => 3_600_000i64,
                    "minute" => 60_000,
                    "second" => 1000,
                    _ => 1,
                };
                // Quantities are truncated to whole units of their own precision.
                let delta = n * ms_per;
                if kind == Kind::Date {
                    return None;
                }
                if kind == Kind::Time {
                    let t = ((i64::from(v.hour) * 60 + i64::from(v.minute)) * 60 + i64::from(v.second)) * 1000
                        + i64::from(v.millis)
                        + delta;
                    let t = t.rem_euclid(86_400_000);
                    v.hour = (t / 3_600_000) as u8;
                    v.minute = (t / 60_000 % 60) as u8;
                    v.second = (t / 1000 % 60) as u8;
                    v.millis = (t % 1000) as u16;
                    return Some(v);
                }
                let ms = v.epoch_millis() + delta;
                Some(DateTimeVal::from_epoch_millis(ms, &v))
            }
        }
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Parses the body of an `@` literal.
pub(crate) fn parse_literal(s: &str) -> Option<(Kind, DateTimeVal)> {
    if let Some(t) = s.strip_prefix('T') {
        return Some((Kind::Time, DateTimeVal::parse_time(t)?));
    }
    if s.contains('T') {
        return Some((Kind::DateTime, DateTimeVal::parse_datetime(s)?));
    }
    Some((Kind::Date, DateTimeVal::parse_date(s)?))
}

/// Normalises a calendar duration keyword (`years`, `month`, ...) to its singular.
pub(crate) fn calendar_unit(u: &str) -> Option<&'static str> {
    Some(match u {
        "year" | "years" => "year",
        "month" | "months" => "month",
        "week" | "weeks" => "week",
        "day" | "days" => "day",
        "hour" | "hours" => "hour",
        "minute" | "minutes" => "minute",
        "second" | "seconds" => "second",
        "millisecond" | "milliseconds" => "millisecond",
        _ => return None,
    })
}

/// The calendar unit a UCUM time unit corresponds to.
pub(crate) fn ucum_time_unit(u: &str) -> Option<&'static str> {
    Some(match u {
        "a" => "year",
        "mo" => "month",
        "wk" => "week",
        "d" => "day",
        "h" => "hour",
        "min" => "minute",
        "s" => "second",
        "ms" => "millisecond",
        _ => return None,
    })
}

/// A node of the input resource (or of a variable): a JSON value with its FHIR type.
#[derive(Debug, Clone, Copy)]
pub struct Element<'a> {
    /// The JSON value (`None` for a primitive that only has a `_x` sibling).
    pub value: Option<&'a Value>,
    /// The `_x` sibling of a primitive (its `id`/`extension`), if any.
    pub ext: Option<&'a Value>,
    /// The FHIR type name (`string`, `HumanName`, `Patient.contact`), empty when unknown.
    pub ty: &'static str,
}

/// One item of a FHIRPath collection.
#[derive(Debug, Clone)]
pub enum Item<'a> {
    /// A FHIR element from the input.
    Element(Element<'a>),
    /// `System.Boolean`.
    Boolean(bool),
    /// `System.Integer`.
    Integer(i64),
    /// `System.Decimal`.
    Decimal(Decimal),
    /// `System.String`.
    String(Str<'a>),
    /// `System.Date`, `System.DateTime` or `System.Time`.
    Temporal(Kind, DateTimeVal),
    /// `System.Quantity`: value and unit (UCUM code or calendar keyword).
    Quantity(Decimal, Str<'a>),
    /// The result of `type()`: a type's namespace (`System`/`FHIR`) and name.
    TypeInfo(&'static str, &'static str),
}

/// A FHIRPath collection.
pub type Collection<'a> = Vec<Item<'a>>;

/// An item seen as a System value (primitives converted from FHIR elements).
#[derive(Debug, Clone)]
pub(crate) enum Prim<'b> {
    Bool(bool),
    Int(i64),
    Dec(Decimal),
    Str(&'b str),
    Temporal(Kind, DateTimeVal),
    Quantity(Decimal, &'b str),
}

/// Decimal from a JSON number without going through binary floating point
/// when the number is an integer.
pub(crate) fn json_decimal(n: &serde_json::Number) -> Option<Decimal> {
    if let Some(i) = n.as_i64() {
        return Some(Decimal::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(Decimal::from(u));
    }
    Decimal::from_str(&n.to_string()).ok().or_else(|| Decimal::from_scientific(&n.to_string()).ok())
}

pub(crate) const UCUM: &str = "http://unitsofmeasure.org";

/// Whether a FHIR type name is one of the Quantity family.
pub(crate) fn is_quantity_type(ty: &str) -> bool {
    matches!(ty, "Quantity" | "Age" | "Distance" | "Duration" | "Count" | "SimpleQuantity" | "MoneyQuantity")
}

impl<'a> Item<'a> {
    /// Wraps a JSON value of a known (or unknown, `""`) FHIR type.
    pub fn element(value: &'a Value, ty: &'static str) -> Item<'a> {
        Item::Element(Element { value: Some(value), ext: None, ty })
    }

    /// The System view of this item, if it has one.
    pub(crate) fn prim(&self) -> Option<Prim<'_>> {
        Some(match self {
            Item::Boolean(b) => Prim::Bool(*b),
            Item::Integer(i) => Prim::Int(*i),
            Item::Decimal(d) => Prim::Dec(*d),
            Item::String(s) => Prim::Str(s),
            Item::Temporal(k, v) => Prim::Temporal(*k, *v),
            Item::Quantity(v, u) => Prim::Quantity(*v, u),
            Item::Element(e) => return element_prim(e),
            Item::TypeInfo(..) => return None,
        })
    }

    /// Whether this item is a FHIR element of a complex (non-primitive) type.
    pub(crate) fn is_complex(&self) -> bool {
        match self {
            Item::Element(e) => e.value.is_some_and(Value::is_object),
            _ => false,
        }
    }

    /// The string content, if this is a string-like value.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self.prim()? {
            Prim::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Renders the item as FHIR JSON (dates as strings, quantities as objects).
    pub fn to_json(&self) -> Value {
        match self.prim() {
            Some(p) if !self.is_complex() || matches!(self, Item::Quantity(..)) => match p {
                Prim::Bool(b) => Value::Bool(b),
                Prim::Int(i) => Value::from(i),
                Prim::Dec(d) => decimal_json(d),
                Prim::Str(s) => Value::String(s.to_string()),
                Prim::Temporal(k, v) => Value::String(v.render(k)),
                Prim::Quantity(v, u) => {
                    let code = calendar_unit(u).map(calendar_ucum).unwrap_or(u);
                    let mut m = serde_json::Map::new();
                    m.insert("value".into(), decimal_json(v));
                    m.insert("unit".into(), Value::String(u.to_string()));
                    m.insert("system".into(), Value::String(UCUM.into()));
                    m.insert("code".into(), Value::String(code.to_string()));
                    Value::Object(m)
                }
            },
            _ => match self {
                Item::Element(e) => match e.value {
                    Some(v) => v.clone(),
                    // An unresolved reference target: only its type is known.
                    None if e.ty.starts_with(|c: char| c.is_ascii_uppercase()) => {
                        serde_json::json!({ "resourceType": e.ty })
                    }
                    None => Value::Null,
                },
                Item::TypeInfo(ns, name) => serde_json::json!({ "namespace": ns, "name": name }),
                _ => Value::Null,
            },
        }
    }
}

fn calendar_ucum(u: &str) -> &'static str {
    match u {
        "year" => "a",
        "month" => "mo",
        "week" => "wk",
        "day" => "d",
        "hour" => "h",
        "minute" => "min",
        "second" => "s",
        _ => "ms",
    }
}

pub(crate) fn decimal_json(d: Decimal) -> Value {
    let s = d.normalize().to_string();
    if let Ok(i) = s.parse::<i64>() {
        return Value::from(i);
    }
    serde_json::from_str::<Value>(&s).unwrap_or_else(|_| Value::String(s))
}

fn element_prim<'b>(e: &'b Element<'_>) -> Option<Prim<'b>> {
    let v = e.value?;
    match v {
        Value::Bool(b) => Some(Prim::Bool(*b)),
        Value::Number(n) => match e.ty {
            "decimal" => json_decimal(n).map(Prim::Dec),
            "" => match n.as_i64() {
                Some(i) if !n.is_f64() => Some(Prim::Int(i)),
                _ => json_decimal(n).map(Prim::Dec),
            },
            _ => match n.as_i64() {
                Some(i) => Some(Prim::Int(i)),
                None => json_decimal(n).map(Prim::Dec),
            },
        },
        Value::String(s) => Some(match e.ty {
            "date" => match DateTimeVal::parse_date(s) {
                Some(d) => Prim::Temporal(Kind::Date, d),
                None => Prim::Str(s),
            },
            "dateTime" | "instant" => match DateTimeVal::parse_datetime(s) {
                Some(d) => Prim::Temporal(Kind::DateTime, d),
                _ => Prim::Str(s),
            },
            "time" => match DateTimeVal::parse_time(s) {
                Some(d) => Prim::Temporal(Kind::Time, d),
                None => Prim::Str(s),
            },
            _ => Prim::Str(s),
        }),
        Value::Object(o) if is_quantity_type(e.ty) || (e.ty.is_empty() && o.contains_key("value") && (o.contains_key("code") || o.contains_key("unit"))) => {
            let value = json_decimal(o.get("value")?.as_number()?)?;
            let ucum = o.get("system").and_then(Value::as_str) == Some(UCUM);
            let unit = if ucum { o.get("code").and_then(Value::as_str) } else { None }
                .or_else(|| o.get("unit").and_then(Value::as_str))
                .or_else(|| o.get("code").and_then(Value::as_str))
                .unwrap_or("1");
            Some(Prim::Quantity(value, unit))
        }
        _ => None,
    }
}
