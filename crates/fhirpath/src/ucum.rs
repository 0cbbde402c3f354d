//! A small UCUM unit algebra for comparing and adding quantities: it parses
//! unit expressions made of the common atoms (SI base and derived units, litre,
//! time units, mmHg, inch/foot/pound, percent, `10*n`, annotations) with
//! prefixes and exponents into a scale factor and a dimension vector.
//! Non-linear units (Cel, degF) and arbitrary units (`[IU]`) only compare with
//! themselves.

use std::str::FromStr;

use rust_decimal::Decimal;

/// Exponents of: length, mass, time, temperature, amount, calendar month, and
/// one slot for "other" (arbitrary units are compared by name instead).
pub(crate) type Dims = [i8; 6];

/// A unit reduced to base units: `value_in_base = value * factor`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Canon {
    pub(crate) factor: Decimal,
    pub(crate) dims: Dims,
}

const L: usize = 0;
const M: usize = 1;
const T: usize = 2;
const K: usize = 3;
const N: usize = 4;
const CAL: usize = 5;

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("invariant: unit table holds valid decimals")
}

fn atom(name: &str) -> Option<(Decimal, Dims)> {
    let mut d = [0i8; 6];
    let f = match name {
        "m" => {
            d[L] = 1;
            "1"
        }
        "g" => {
            d[M] = 1;
            "1"
        }
        "s" => {
            d[T] = 1;
            "1"
        }
        "K" => {
            d[K] = 1;
            "1"
        }
        "mol" | "eq" => {
            d[N] = 1;
            "1"
        }
        "1" => "1",
        "%" => "0.01",
        "[ppm]" => "0.000001",
        "L" | "l" => {
            d[L] = 3;
            "0.001"
        }
        "min" => {
            d[T] = 1;
            "60"
        }
        "h" => {
            d[T] = 1;
            "3600"
        }
        "d" => {
            d[T] = 1;
            "86400"
        }
        "wk" => {
            d[T] = 1;
            "604800"
        }
        "mo" => {
            d[T] = 1;
            "2629800"
        }
        "a" => {
            d[T] = 1;
            "31557600"
        }
        "Hz" => {
            d[T] = -1;
            "1"
        }
        "N" => {
            d[M] = 1;
            d[L] = 1;
            d[T] = -2;
            "1000"
        }
        "Pa" => {
            d[M] = 1;
            d[L] = -1;
            d[T] = -2;
            "1000"
        }
        "J" => {
            d[M] = 1;
            d[L] = 2;
            d[T] = -2;
            "1000"
        }
        "cal" => {
            d[M] = 1;
            d[L] = 2;
            d[T] = -2;
            "4184"
        }
        "W" => {
            d[M] = 1;
            d[L] = 2;
            d[T] = -3;
            "1000"
        }
        "m[Hg]" => {
            d[M] = 1;
            d[L] = -1;
            d[T] = -2;
            "133322387.415"
        }
        "[in_i]" => {
            d[L] = 1;
            "0.0254"
        }
        "[ft_i]" => {
            d[L] = 1;
            "0.3048"
        }
        "[lb_av]" => {
            d[M] = 1;
            "453.59237"
        }
        "[oz_av]" => {
            d[M] = 1;
            "28.349523125"
        }
        "[mi_i]" => {
            d[L] = 1;
            "1609.344"
        }
        "[cal_month]" => {
            d[CAL] = 1;
            "1"
        }
        "[cal_year]" => {
            d[CAL] = 1;
            "12"
        }
        _ => return None,
    };
    Some((dec(f), d))
}

fn prefix(p: &str) -> Option<Decimal> {
    Some(dec(match p {
        "k" => "1000",
        "h" => "100",
        "da" => "10",
        "d" => "0.1",
        "c" => "0.01",
        "m" => "0.001",
        "u" => "0.000001",
        "n" => "0.000000001",
        "p" => "0.000000000001",
        "f" => "0.000000000000001",
        "M" => "1000000",
        "G" => "1000000000",
        "T" => "1000000000000",
        _ => return None,
    }))
}

fn pow(f: Decimal, e: i32) -> Option<Decimal> {
    let mut r = Decimal::ONE;
    for _ in 0..e.unsigned_abs() {
        r = r.checked_mul(f)?;
    }
    if e < 0 { Decimal::ONE.checked_div(r) } else { Some(r) }
}

/// One component (`mg`, `cm2`, `s-1`, `10*3`, `{cells}`).
fn component(s: &str) -> Option<Canon> {
    // Strip annotations.
    let s: String = {
        let mut out = String::new();
        let mut depth = 0;
        for c in s.chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    };
    if s.is_empty() {
        return Some(Canon { factor: Decimal::ONE, dims: [0; 6] });
    }
    if let Some(rest) = s.strip_prefix("10*").or_else(|| s.strip_prefix("10^")) {
        let e: i32 = rest.parse().ok()?;
        return Some(Canon { factor: pow(Decimal::TEN, e)?, dims: [0; 6] });
    }
    // Split a trailing exponent (digits with an optional sign), but not inside brackets.
    let bytes = s.as_bytes();
    let mut i = bytes.len();
    while i > 0 && bytes[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i > 0 && i < bytes.len() && matches!(bytes[i - 1], b'-' | b'+') {
        i -= 1;
    }
    let (body, exp) = if i > 0 && i < bytes.len() && !s.ends_with(']') {
        (&s[..i], s[i..].parse::<i32>().ok()?)
    } else {
        (s.as_str(), 1)
    };
    let (f, d) = atom(body).or_else(|| {
        [2, 1].iter().find_map(|&n| {
            if body.len() <= n || !body.is_char_boundary(n) {
                return None;
            }
            let p = prefix(&body[..n])?;
            let (f, d) = atom(&body[n..])?;
            Some((f * p, d))
        })
    })?;
    let mut dims = [0i8; 6];
    for (o, v) in dims.iter_mut().zip(d) {
        *o = v.checked_mul(i8::try_from(exp).ok()?)?;
    }
    Some(Canon { factor: pow(f, exp)?, dims })
}

/// Parses a UCUM unit expression such as `mg/dL`, `kg.m-2`, `10*3/uL`, `/min`.
pub(crate) fn canon(unit: &str) -> Option<Canon> {
    let mut acc = Canon { factor: Decimal::ONE, dims: [0; 6] };
    let mut div = false;
    let mut start = 0;
    let bytes = unit.as_bytes();
    let mut depth = 0;
    let mut parts: Vec<(bool, &str)> = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => depth -= 1,
            b'.' | b'/' if depth == 0 => {
                parts.push((div, &unit[start..i]));
                div = b == b'/';
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push((div, &unit[start..]));
    for (i, (div, part)) in parts.into_iter().enumerate() {
        if part.is_empty() && i == 0 {
            continue;
        }
        let c = component(part)?;
        if div {
            acc.factor = acc.factor.checked_div(c.factor)?;
            for (a, b) in acc.dims.iter_mut().zip(c.dims) {
                *a -= b;
            }
        } else {
            acc.factor = acc.factor.checked_mul(c.factor)?;
            for (a, b) in acc.dims.iter_mut().zip(c.dims) {
                *a += b;
            }
        }
    }
    Some(acc)
}

/// Maps a FHIRPath calendar keyword to the UCUM unit used for comparison.
/// Years and months are calendar units that do not compare with seconds.
pub(crate) fn calendar_to_ucum(u: &str) -> &'static str {
    match u {
        "year" => "[cal_year]",
        "month" => "[cal_month]",
        "week" => "wk",
        "day" => "d",
        "hour" => "h",
        "minute" => "min",
        "second" => "s",
        _ => "ms",
    }
}

/// Converts `value` in `from` to the unit `to`, if the dimensions agree.
pub(crate) fn convert(value: Decimal, from: &str, to: &str) -> Option<Decimal> {
    if from == to {
        return Some(value);
    }
    let a = canon(from)?;
    let b = canon(to)?;
    if a.dims != b.dims {
        return None;
    }
    value.checked_mul(a.factor)?.checked_div(b.factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(convert(dec("1"), "kg", "g"), Some(dec("1000")));
        assert_eq!(convert(dec("100"), "mg/dL", "g/L"), Some(dec("1")));
        assert_eq!(convert(dec("1"), "m2", "cm2"), Some(dec("10000")));
        assert_eq!(convert(dec("1"), "10*3/uL", "10*9/L"), Some(dec("1")));
        assert_eq!(convert(dec("1"), "kg", "m"), None);
        assert_eq!(convert(dec("2"), "h", "min"), Some(dec("120")));
        assert!(convert(dec("1"), "[in_i]", "cm").is_some_and(|v| v == dec("2.54")));
        assert_eq!(convert(dec("1"), "/min", "/s").map(|v| v.round_dp(6)), Some(dec("0.016667")));
        assert!(canon("mm[Hg]").is_some());
        assert!(canon("{beats}/min").is_some());
        assert!(canon("[IU]").is_none());
    }
}
