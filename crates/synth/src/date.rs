//! Calendar dates as day numbers (days since 1970-01-01) with civil conversions,
//! so the simulation can do date arithmetic without a time library.

/// A calendar date stored as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i32);

impl Date {
    /// Builds a date from year, month (1-12) and day (1-31).
    pub fn ymd(y: i32, m: u32, d: u32) -> Date {
        // Howard Hinnant's days_from_civil.
        let y = if m <= 2 { y - 1 } else { y };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let mp = (m as i32 + 9) % 12;
        let doy = (153 * mp + 2) / 5 + d as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Date(era * 146_097 + doe - 719_468)
    }

    /// Year, month, day.
    pub fn to_ymd(self) -> (i32, u32, u32) {
        let z = self.0 + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    /// The date `n` days later.
    pub fn plus(self, n: i32) -> Date {
        Date(self.0 + n)
    }

    /// `YYYY-MM-DD`.
    pub fn iso(self) -> String {
        let (y, m, d) = self.to_ymd();
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// `YYYYMMDD`.
    pub fn compact(self) -> String {
        let (y, m, d) = self.to_ymd();
        format!("{y:04}{m:02}{d:02}")
    }

    /// Appends `YYYY-MM-DD` (for years 0-9999) to a byte buffer.
    pub fn write_iso(self, buf: &mut Vec<u8>) {
        self.write_digits(buf, Some(b'-'));
    }

    /// Appends `YYYYMMDD` (for years 0-9999) to a byte buffer.
    pub fn write_compact(self, buf: &mut Vec<u8>) {
        self.write_digits(buf, None);
    }

    /// The year, month and day digits, with `sep` between them if given;
    /// years outside 0-9999 fall back to the `String` formatters.
    fn write_digits(self, buf: &mut Vec<u8>, sep: Option<u8>) {
        let (y, m, d) = self.to_ymd();
        if !(0..=9999).contains(&y) {
            let text = if sep.is_some() { self.iso() } else { self.compact() };
            buf.extend_from_slice(text.as_bytes());
            return;
        }
        let y = y as u32;
        let digit = |n: u32| b'0' + (n % 10) as u8;
        buf.extend_from_slice(&[digit(y / 1000), digit(y / 100), digit(y / 10), digit(y)]);
        buf.extend(sep);
        buf.extend_from_slice(&[digit(m as u32 / 10), digit(m as u32)]);
        buf.extend(sep);
        buf.extend_from_slice(&[digit(d as u32 / 10), digit(d as u32)]);
    }

    /// Month index (`year * 12 + month - 1`).
    pub fn month_index(self) -> i32 {
        let (y, m, _) = self.to_ymd();
        y * 12 + m as i32 - 1
    }

    /// First day of a month index.
    pub fn from_month_index(mi: i32) -> Date {
        Date::ymd(mi.div_euclid(12), (mi.rem_euclid(12) + 1) as u32, 1)
    }

    /// Whole years of age on `on` for someone born on `self`.
    pub fn age_on(self, on: Date) -> i32 {
        let (by, bm, bd) = self.to_ymd();
        let (y, m, d) = on.to_ymd();
        let mut a = y - by;
        if (m, d) < (bm, bd) {
            a -= 1;
        }
        a
    }

    /// Parses `YYYY-MM-DD` (the first 10 characters of a FHIR date or dateTime).
    pub fn parse_iso(s: &str) -> Option<Date> {
        let b = s.get(0..10)?;
        let y: i32 = b.get(0..4)?.parse().ok()?;
        let m: u32 = b.get(5..7)?.parse().ok()?;
        let d: u32 = b.get(8..10)?.parse().ok()?;
        if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
            return None;
        }
        Some(Date::ymd(y, m, d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_writers_match_the_string_forms() {
        for day in [-800_000, -1, 0, 1, 10_000, 19_000, 20_000, 2_000_000, 2_932_896, 2_932_897] {
            let d = Date(day);
            let mut b = Vec::new();
            d.write_iso(&mut b);
            assert_eq!(String::from_utf8(b).expect("utf8"), d.iso());
            let mut b = Vec::new();
            d.write_compact(&mut b);
            assert_eq!(String::from_utf8(b).expect("utf8"), d.compact());
        }
    }

    #[test]
    fn civil_round_trip() {
        for d in -30_000..30_000 {
            let (y, m, dd) = Date(d).to_ymd();
            assert_eq!(Date::ymd(y, m, dd), Date(d));
        }
        assert_eq!(Date::ymd(2024, 2, 29).iso(), "2024-02-29");
        assert_eq!(Date::ymd(1970, 1, 1), Date(0));
        assert_eq!(Date::ymd(1950, 6, 15).age_on(Date::ymd(2020, 6, 14)), 69);
        assert_eq!(Date::ymd(1950, 6, 15).age_on(Date::ymd(2020, 6, 15)), 70);
        assert_eq!(Date::from_month_index(Date::ymd(2013, 5, 20).month_index()), Date::ymd(2013, 5, 1));
    }
}
