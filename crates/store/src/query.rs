//! Queries the store answers by itself: history pages, and the small set of
//! search conditions needed for conditional create, update and delete
//! (`_id`, `identifier`, `_lastUpdated`). The full FHIR search arrives with the
//! search issue and extends [`Condition`].

use crate::{Error, Instant, Result, Stored};

/// A search condition on current resources. Values inside one condition are
/// alternatives (OR); conditions are combined with AND.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `_id=a,b`.
    Id(Vec<String>),
    /// `identifier=[system]|[value]`: (system, value); a system of `Some("")`
    /// means "no system", `None` means any system; a value of `None` means any value.
    Identifier(Vec<(Option<String>, Option<String>)>),
    /// `_lastUpdated=[prefix]instant`, as a half-open range of microseconds.
    LastUpdated {
        /// The lower bound (inclusive), if any.
        from: Option<Instant>,
        /// The upper bound (exclusive), if any.
        to: Option<Instant>,
        /// `ne`: the range is excluded instead.
        negate: bool,
    },
}

/// Parses `name=value` pairs into conditions. Parameters that only control the
/// result (`_count`, `_format`, ...) must be removed by the caller.
pub fn parse_conditions(resource_type: &str, params: &[(String, String)]) -> Result<Vec<Condition>> {
    let mut out = Vec::new();
    for (name, value) in params {
        let unsupported = || Error::UnsupportedParameter { resource_type: resource_type.into(), name: name.clone() };
        match name.as_str() {
            "_id" => out.push(Condition::Id(value.split(',').map(str::to_string).collect())),
            "identifier" => {
                if fhir::search_params::r4().get(resource_type, "identifier").is_none() {
                    return Err(unsupported());
                }
                let alts = value
                    .split(',')
                    .map(|v| match v.split_once('|') {
                        None => (None, Some(v.to_string())),
                        Some((s, c)) => (Some(s.to_string()), (!c.is_empty()).then(|| c.to_string())),
                    })
                    .collect();
                out.push(Condition::Identifier(alts));
            }
            "_lastUpdated" => out.push(parse_last_updated(name, value)?),
            _ => return Err(unsupported()),
        }
    }
    Ok(out)
}

/// Parses a date search value with a prefix into a range, following the implicit
/// precision rule: `2024-01` covers the whole month.
fn parse_last_updated(name: &str, value: &str) -> Result<Condition> {
    let invalid = |reason: &str| Error::InvalidParameter { name: name.into(), value: value.into(), reason: reason.into() };
    let (prefix, rest) = if value.len() > 2 && value.as_bytes()[..2].iter().all(u8::is_ascii_alphabetic) {
        value.split_at(2)
    } else {
        ("eq", value)
    };
    let (lo, hi) = precision_range(rest).ok_or_else(|| invalid("not a valid date or instant"))?;
    let (from, to, negate) = match prefix {
        "eq" => (Some(lo), Some(hi), false),
        "ne" => (Some(lo), Some(hi), true),
        "gt" | "sa" => (Some(hi), None, false),
        "ge" => (Some(lo), None, false),
        "lt" | "eb" => (None, Some(lo), false),
        "le" => (None, Some(hi), false),
        _ => return Err(invalid("unknown prefix (use eq, ne, gt, ge, lt, le, sa, eb)")),
    };
    Ok(Condition::LastUpdated { from, to, negate })
}

/// The half-open range of instants a partial date or date-time covers.
fn precision_range(s: &str) -> Option<(Instant, Instant)> {
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
            // Seconds precision unless fractional digits are given.
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

/// A history request.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    /// Restrict to one type (type or instance level).
    pub resource_type: Option<String>,
    /// Restrict to one resource (instance level; needs `resource_type`).
    pub id: Option<String>,
    /// Only versions written at or after this instant.
    pub since: Option<Instant>,
    /// Page size.
    pub count: usize,
    /// Keyset cursor: only versions with a sequence number below this.
    pub before_seq: Option<i64>,
}

/// One page of history, newest first.
#[derive(Debug, Clone)]
pub struct HistoryPage {
    /// The versions on this page.
    pub entries: Vec<Stored>,
    /// The cursor for the next page, if there is one.
    pub next_before_seq: Option<i64>,
    /// The number of versions matching the query (all pages).
    pub total: u64,
}

/// One page of search results.
#[derive(Debug, Clone)]
pub struct SearchResult {
    /// The matching resources on this page, in id order.
    pub entries: Vec<Stored>,
    /// Whether there are more after this page.
    pub has_more: bool,
    /// The number of matches (all pages).
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, value: &str) -> Vec<(String, String)> {
        vec![(name.to_string(), value.to_string())]
    }

    #[test]
    fn parses_identifier_forms() {
        let c = parse_conditions("Patient", &p("identifier", "urn:x|1,|2,3,urn:y|")).expect("parse");
        assert_eq!(
            c,
            vec![Condition::Identifier(vec![
                (Some("urn:x".into()), Some("1".into())),
                (Some("".into()), Some("2".into())),
                (None, Some("3".into())),
                (Some("urn:y".into()), None),
            ])]
        );
    }

    #[test]
    fn last_updated_ranges() {
        let c = parse_conditions("Patient", &p("_lastUpdated", "2024-02")).expect("parse");
        let Condition::LastUpdated { from, to, negate } = &c[0] else { panic!("{c:?}") };
        assert_eq!(from.expect("from").to_fhir(), "2024-02-01T00:00:00.000000Z");
        assert_eq!(to.expect("to").to_fhir(), "2024-03-01T00:00:00.000000Z");
        assert!(!negate);
        let c = parse_conditions("Patient", &p("_lastUpdated", "gt2024-02-01T10:00:00Z")).expect("parse");
        let Condition::LastUpdated { from, to, .. } = &c[0] else { panic!("{c:?}") };
        assert_eq!(from.expect("from").to_fhir(), "2024-02-01T10:00:01.000000Z");
        assert_eq!(*to, None);
    }

    #[test]
    fn errors_name_the_parameter() {
        let e = parse_conditions("Patient", &p("_lastUpdated", "xx2024")).expect_err("bad prefix");
        assert!(e.to_string().contains("_lastUpdated"), "{e}");
        let e = parse_conditions("Patient", &p("_lastUpdated", "2024-13")).expect_err("bad date");
        assert!(e.to_string().contains("2024-13"), "{e}");
        let e = parse_conditions("Patient", &p("name", "x")).expect_err("unsupported");
        assert_eq!(e.to_string(), "unsupported search parameter 'name' for Patient");
        assert!(parse_conditions("Basic", &p("identifier", "x")).is_ok());
        assert!(parse_conditions("Binary", &p("identifier", "x")).is_err());
    }
}
