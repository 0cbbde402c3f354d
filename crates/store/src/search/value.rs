//! Search values: prefixes, the implicit ranges of dates and numbers, and the
//! forms of token, reference and quantity values.

use crate::{Error, Instant, Result};

/// A comparison prefix of a date, number or quantity value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// Equal (within the value's implicit precision).
    Eq,
    /// Not equal.
    Ne,
    /// Greater than.
    Gt,
    /// Less than.
    Lt,
    /// Greater than or equal.
    Ge,
    /// Less than or equal.
    Le,
    /// Starts after.
    Sa,
    /// Ends before.
    Eb,
    /// Approximately (±10%).
    Ap,
}

/// Splits a leading prefix off a value. A value that starts with two letters
/// that are not a known prefix is an error (`xx2024`).
pub(crate) fn split_prefix<'a>(name: &str, value: &'a str) -> Result<(Prefix, &'a str)> {
    let b = value.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1].is_ascii_alphabetic() {
        let p = match &value[..2] {
            "eq" => Prefix::Eq,
            "ne" => Prefix::Ne,
            "gt" => Prefix::Gt,
            "lt" => Prefix::Lt,
            "ge" => Prefix::Ge,
            "le" => Prefix::Le,
            "sa" => Prefix::Sa,
            "eb" => Prefix::Eb,
            "ap" => Prefix::Ap,
            _ => {
                return Err(invalid(name, value, "unknown prefix (use eq, ne, gt, lt, ge, le, sa, eb, ap)"));
            }
        };
        return Ok((p, &value[2..]));
    }
    Ok((Prefix::Eq, value))
}

pub(crate) fn invalid(name: &str, value: &str, reason: &str) -> Error {
    Error::InvalidParameter { name: name.into(), value: value.into(), reason: reason.into() }
}

/// The half-open range of instants a partial date or date-time covers
/// (`2024-01` is the whole month; a time without seconds or fraction covers
/// its minute or second). A date-time without a zone is taken as UTC.
pub(crate) fn precision_range(s: &str) -> Option<(Instant, Instant)> {
    let owned;
    let s = match s.split_once('T') {
        Some((_, t)) if !t.contains(['Z', '+', '-']) => {
            owned = format!("{s}Z");
            owned.as_str()
        }
        _ => s,
    };
    // A time to the minute (`T10:00Z`) covers the minute.
    if let Some((d, t)) = s.split_once('T') {
        let cut = t.find(['Z', '+', '-']).unwrap_or(t.len());
        let (time, tz) = t.split_at(cut);
        if time.len() == 5 {
            let full = format!("{d}T{time}:00{tz}");
            let lo = Instant::parse(&full)?;
            if !fhir::validate::is_datetime(&full) {
                return None;
            }
            return Some((lo, Instant(lo.0 + 60_000_000)));
        }
    }
    if !fhir::validate::is_datetime(s) {
        return None;
    }
    match s.len() {
        4 => {
            let y: i32 = s.parse().ok()?;
            Some((Instant::parse(&format!("{y:04}-01-01"))?, Instant::parse(&format!("{:04}-01-01", y + 1))?))
        }
        7 => {
            let y: i32 = s[..4].parse().ok()?;
            let m: u32 = s[5..7].parse().ok()?;
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            Some((Instant::parse(&format!("{s}-01"))?, Instant::parse(&format!("{ny:04}-{nm:02}-01"))?))
        }
        10 => {
            let lo = Instant::parse(s)?;
            Some((lo, Instant(lo.0 + 86_400_000_000)))
        }
        _ => {
            let lo = Instant::parse(s)?;
            let time = s.split_once('T')?.1;
            let frac_digits = time.split_once('.').map(|(_, f)| f.chars().take_while(char::is_ascii_digit).count());
            let step = match frac_digits {
                None => 1_000_000,
                Some(n) => 10_i64.pow(6u32.saturating_sub(n.min(6) as u32)),
            };
            Some((lo, Instant(lo.0 + step)))
        }
    }
}

/// A number search value: the value and the range its written precision
/// implies (`100` is [99.5, 100.5), `1e2` is [50, 150), `100.0` is [99.95, 100.05)).
pub(crate) fn number_range(s: &str) -> Option<(f64, f64, f64)> {
    let v: f64 = s.parse().ok()?;
    if !v.is_finite() || s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit() || b".-+eE".contains(&b)) {
        return None;
    }
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let decimals = mantissa.split_once('.').map(|(_, f)| f.len() as i32).unwrap_or(0);
    let half = 0.5 * 10f64.powi(exp - decimals);
    Some((v, v - half, v + half))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_precision() {
        assert_eq!(number_range("100"), Some((100.0, 99.5, 100.5)));
        assert_eq!(number_range("1e2"), Some((100.0, 50.0, 150.0)));
        let (_, lo, hi) = number_range("100.0").expect("n");
        assert!((lo - 99.95).abs() < 1e-9 && (hi - 100.05).abs() < 1e-9);
        assert_eq!(number_range("abc"), None);
        assert_eq!(number_range("inf"), None);
    }

    #[test]
    fn date_precision() {
        let (lo, hi) = precision_range("2024-02").expect("month");
        assert_eq!(lo.to_fhir(), "2024-02-01T00:00:00.000000Z");
        assert_eq!(hi.to_fhir(), "2024-03-01T00:00:00.000000Z");
        let (lo, hi) = precision_range("2024-02-01T10:00+09:00").expect("minute");
        assert_eq!(lo.to_fhir(), "2024-02-01T01:00:00.000000Z");
        assert_eq!(hi.0 - lo.0, 60_000_000);
        let (lo, _) = precision_range("2024-02-01T10:00:00").expect("no zone = UTC");
        assert_eq!(lo.to_fhir(), "2024-02-01T10:00:00.000000Z");
        assert!(precision_range("2024-13").is_none());
        assert!(precision_range("20x4").is_none());
    }

    #[test]
    fn prefixes() {
        assert_eq!(split_prefix("d", "ge2020").expect("p"), (Prefix::Ge, "2020"));
        assert_eq!(split_prefix("d", "2020").expect("p"), (Prefix::Eq, "2020"));
        assert!(split_prefix("d", "xx2020").is_err());
    }
}
