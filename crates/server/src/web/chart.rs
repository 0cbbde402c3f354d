//! Time-series line charts rendered on the server as SVG (no charting
//! JavaScript): lab values and vitals over the years, with the reference range
//! shaded, year ticks on the x axis and "nice" ticks on the y axis.

use std::fmt::Write;

/// One line of points: (date as days since 1970-01-01, value).
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// Legend label.
    pub(crate) label: String,
    /// Stroke colour (CSS).
    pub(crate) color: &'static str,
    /// Points, in any order (sorted when drawn).
    pub(crate) points: Vec<(i64, f64)>,
}

const W: f64 = 560.0;
const H: f64 = 220.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 28.0;

/// Days since 1970-01-01 of a FHIR date or dateTime (`2020-03-04`, `2020-03`,
/// `2020-03-04T09:30:00+09:00`); None when it does not start with a date.
pub(crate) fn days(date: &str) -> Option<i64> {
    let y: i64 = date.get(0..4)?.parse().ok()?;
    let m: i64 = date.get(5..7).map_or(Some(1), |s| s.parse().ok())?;
    let d: i64 = date.get(8..10).map_or(Some(1), |s| s.parse().ok())?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// The year of a day number.
fn year_of(days: i64) -> i64 {
    ymd(days).0
}

/// A day number as `YYYY-MM-DD` (inverse of [`days`]).
pub(crate) fn civil(days: i64) -> String {
    let (y, m, d) = ymd(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Howard Hinnant's civil_from_days.
fn ymd(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Ticks at 1, 2 or 5 × 10^k covering [lo, hi], about `n` of them.
fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let raw = span / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| span / s <= n as f64).unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 { format!("{}", v.round() as i64) } else { format!("{v:.1}") }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// An SVG line chart of `series` with an optional shaded reference range.
/// `title` labels the image for screen readers; `unit` goes on the y axis.
pub(crate) fn time_chart(title: &str, unit: &str, series: &[Series], range: Option<(f64, f64)>) -> String {
    let pts = series.iter().flat_map(|s| s.points.iter());
    let (mut x0, mut x1, mut y0, mut y1) = (i64::MAX, i64::MIN, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" role="img" aria-label="{}" font-size="11" font-family="sans-serif">"#,
        esc(title)
    );
    if x0 > x1 {
        let _ = write!(svg, r##"<text x="{}" y="{}" text-anchor="middle" fill="#59636e">—</text></svg>"##, W / 2.0, H / 2.0);
        return svg;
    }
    if let Some((lo, hi)) = range {
        y0 = y0.min(lo);
        y1 = y1.max(hi);
    }
    // Pad: a quarter-year either side, 8 % of the value span above and below.
    let (x0, x1) = (x0 - 90, x1 + 90);
    let pad = ((y1 - y0) * 0.08).max(y1.abs() * 0.02).max(0.5);
    let (y0, y1) = ((y0 - pad).max(if y0 >= 0.0 { 0.0 } else { f64::NEG_INFINITY }), y1 + pad);
    let sx = |x: i64| LEFT + (x - x0) as f64 / (x1 - x0).max(1) as f64 * (W - LEFT - RIGHT);
    let sy = |y: f64| TOP + (1.0 - (y - y0) / (y1 - y0)) * (H - TOP - BOTTOM);
    if let Some((lo, hi)) = range {
        let _ = write!(
            svg,
            r##"<rect x="{LEFT}" y="{:.1}" width="{:.1}" height="{:.1}" fill="#e6f4ea"><title>基準範囲 / reference range {}–{}</title></rect>"##,
            sy(hi),
            W - LEFT - RIGHT,
            (sy(lo) - sy(hi)).max(0.0),
            fmt_num(lo),
            fmt_num(hi)
        );
    }
    for t in nice_ticks(y0, y1, 5) {
        let y = sy(t);
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#e3e7eb"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#59636e">{}</text>"##,
            W - RIGHT,
            LEFT - 4.0,
            y + 4.0,
            fmt_num(t)
        );
    }
    let (ya, yb) = (year_of(x0), year_of(x1));
    let every = ((yb - ya) / 8 + 1).max(1);
    for year in (ya + 1)..=yb {
        if (year - ya) % every != 0 {
            continue;
        }
        let Some(d) = days(&format!("{year:04}-01-01")) else { continue };
        let x = sx(d);
        let _ = write!(
            svg,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{:.1}" stroke="#eef1f4"/><text x="{x:.1}" y="{:.1}" text-anchor="middle" fill="#59636e">{year}</text>"##,
            H - BOTTOM,
            H - BOTTOM + 15.0
        );
    }
    let _ = write!(
        svg,
        r##"<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{:.1}" stroke="#9aa4ae"/><line x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}" stroke="#9aa4ae"/><text x="4" y="{:.1}" fill="#59636e">{}</text>"##,
        H - BOTTOM,
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM,
        TOP - 3.0,
        esc(unit)
    );
    for s in series {
        let mut p = s.points.clone();
        p.sort_by_key(|a| a.0);
        if p.len() > 1 {
            let path: Vec<String> = p.iter().map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y))).collect();
            let _ = write!(svg, r#"<polyline fill="none" stroke="{}" stroke-width="1.6" points="{}"/>"#, s.color, path.join(" "));
        }
        for &(x, y) in &p {
            let _ = write!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="2.6" fill="{}"/>"#, sx(x), sy(y), s.color);
        }
    }
    if series.len() > 1 {
        let mut lx = LEFT + 8.0;
        for s in series {
            let _ = write!(
                svg,
                r##"<rect x="{lx:.1}" y="{:.1}" width="10" height="3" fill="{}"/><text x="{:.1}" y="{:.1}" fill="#1b1f24">{}</text>"##,
                TOP + 4.0,
                s.color,
                lx + 14.0,
                TOP + 8.0,
                esc(&s.label)
            );
            lx += 14.0 + 12.0 * s.label.chars().count() as f64 + 10.0;
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_match_the_calendar() {
        assert_eq!(days("1970-01-01"), Some(0));
        assert_eq!(days("2000-03-01"), Some(11_017));
        assert_eq!(days("2024-02-29T09:30:00+09:00"), Some(19_782));
        assert_eq!(days("2020"), Some(18_262));
        assert_eq!(days("20x0-01-01"), None);
        assert_eq!(days("2020-13-01"), None);
        for y in [1969, 1970, 2000, 2023, 2024] {
            let d = days(&format!("{y}-01-01")).expect("date");
            assert_eq!(year_of(d), y);
            assert_eq!(year_of(d - 1), y - 1);
            assert_eq!(civil(d), format!("{y:04}-01-01"));
            assert_eq!(civil(d - 1), format!("{:04}-12-31", y - 1));
        }
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(nice_ticks(0.0, 10.0, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(nice_ticks(5.2, 8.9, 5), vec![6.0, 7.0, 8.0]);
    }

    #[test]
    fn chart_draws_points_and_escapes_labels() {
        let s = Series { label: "a<b".into(), color: "#000", points: vec![(19_000, 6.5), (19_100, 7.0), (18_900, 6.0)] };
        let svg = time_chart("HbA1c <%>", "%", &[s.clone(), s], Some((4.9, 6.0)));
        assert_eq!(svg.matches("<circle").count(), 6);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("aria-label=\"HbA1c &lt;%&gt;\""));
        assert!(svg.contains("a&lt;b"));
        assert!(svg.contains("reference range 4.9–6"));
        let empty = time_chart("x", "u", &[], None);
        assert!(empty.ends_with("</svg>") && !empty.contains("<circle"));
    }
}
