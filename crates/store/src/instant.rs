//! Server timestamps: microseconds since the Unix epoch, shown as FHIR instants in UTC.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time with microsecond precision (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub i64);

impl Instant {
    /// The current time.
    pub fn now() -> Instant {
        Instant((OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64)
    }

    /// Parses a FHIR instant or dateTime (`2024-01-02T03:04:05.678+09:00`); a
    /// date alone (`2024-01-02`) means its start in UTC.
    pub fn parse(s: &str) -> Option<Instant> {
        let odt = if s.len() == 10 {
            OffsetDateTime::parse(&format!("{s}T00:00:00Z"), &Rfc3339).ok()?
        } else {
            OffsetDateTime::parse(s, &Rfc3339).ok()?
        };
        Some(Instant((odt.unix_timestamp_nanos() / 1000) as i64))
    }

    /// Formats as a FHIR instant in UTC with millisecond precision... unless the
    /// microseconds matter: the full precision is kept so that `_since` with a
    /// returned `lastUpdated` is exact.
    pub fn to_fhir(self) -> String {
        let odt = OffsetDateTime::from_unix_timestamp_nanos(self.0 as i128 * 1000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let micros = self.0.rem_euclid(1_000_000);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            odt.year(),
            odt.month() as u8,
            odt.day(),
            odt.hour(),
            odt.minute(),
            odt.second(),
            micros
        )
    }

    /// Formats as an HTTP date (`Last-Modified`), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    pub fn to_http_date(self) -> String {
        let odt = OffsetDateTime::from_unix_timestamp(self.0.div_euclid(1_000_000)).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            DAYS[odt.weekday().number_days_from_monday() as usize],
            odt.day(),
            MONTHS[odt.month() as usize - 1],
            odt.year(),
            odt.hour(),
            odt.minute(),
            odt.second()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let i = Instant::parse("2024-01-02T03:04:05.678901+09:00").expect("parse");
        assert_eq!(i.to_fhir(), "2024-01-01T18:04:05.678901Z");
        assert_eq!(Instant::parse(&i.to_fhir()), Some(i));
        assert_eq!(Instant::parse("2024-01-02").expect("date").to_fhir(), "2024-01-02T00:00:00.000000Z");
        assert_eq!(Instant(784_111_777_000_000).to_http_date(), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(Instant::parse("2024-13-01"), None);
    }
}
