//! Proportions (in-hospital mortality, 30-day mortality, any yes/no outcome) by
//! subgroup with Wilson score intervals.

use serde_json::{Value, json};

use super::{Groups, dist};
use crate::{Error, Result};

/// Wilson score interval for `k` successes out of `n` at two-sided level `alpha`.
pub fn wilson_interval(k: usize, n: usize, alpha: f64) -> (f64, f64) {
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let z = dist::norm_ppf(1.0 - alpha / 2.0);
    let (nf, p) = (n as f64, k as f64 / n as f64);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * nf)) / (1.0 + z2 / nf);
    let half = z / (1.0 + z2 / nf) * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// One subgroup's proportion.
#[derive(Debug, Clone, PartialEq)]
pub struct Rate {
    /// Subgroup label (`all` for the whole sample).
    pub group: String,
    /// Denominator.
    pub n: usize,
    /// Numerator.
    pub events: usize,
    /// events / n.
    pub proportion: f64,
    /// Wilson interval.
    pub ci: (f64, f64),
    /// Rows excluded from the denominator (censored before the horizon).
    pub excluded: usize,
}

/// Proportions by subgroup.
#[derive(Debug, Clone, PartialEq)]
pub struct RateTable {
    /// One row per subgroup, then `all`.
    pub rates: Vec<Rate>,
    /// Significance level.
    pub alpha: f64,
}

/// Proportion of `outcome` by group (plus an overall row).
pub fn proportions(outcome: &[bool], groups: Option<&Groups>, alpha: f64) -> Result<RateTable> {
    let include = vec![true; outcome.len()];
    tabulate(outcome, &include, groups, alpha)
}

/// Mortality within `horizon` (e.g. 30 days): events with `time <= horizon` over
/// subjects who either died by then or were followed at least to `horizon`;
/// subjects censored earlier are excluded and counted in `excluded`.
pub fn mortality_within(
    time: &[f64],
    event: &[bool],
    horizon: f64,
    groups: Option<&Groups>,
    alpha: f64,
) -> Result<RateTable> {
    super::check_survival_input(time, event, None)?;
    let died: Vec<bool> = time
        .iter()
        .zip(event)
        .map(|(&t, &e)| e && t <= horizon)
        .collect();
    let include: Vec<bool> = time
        .iter()
        .zip(&died)
        .map(|(&t, &d)| d || t >= horizon)
        .collect();
    tabulate(&died, &include, groups, alpha)
}

fn tabulate(
    outcome: &[bool],
    include: &[bool],
    groups: Option<&Groups>,
    alpha: f64,
) -> Result<RateTable> {
    if outcome.is_empty() {
        return Err(Error::Empty {
            context: String::new(),
        });
    }
    if let Some(g) = groups
        && g.len() != outcome.len()
    {
        return Err(Error::LengthMismatch {
            what: "group".into(),
            found: g.len(),
            expected: outcome.len(),
        });
    }
    let k = groups.map_or(0, |g| g.names().len());
    let mut counts = vec![(0usize, 0usize, 0usize); k + 1];
    for i in 0..outcome.len() {
        let slots = [groups.map(|g| g.codes()[i] as usize), Some(k)];
        for s in slots.into_iter().flatten() {
            if include[i] {
                counts[s].0 += 1;
                counts[s].1 += usize::from(outcome[i]);
            } else {
                counts[s].2 += 1;
            }
        }
    }
    let rates = counts
        .iter()
        .enumerate()
        .map(|(s, &(n, e, x))| Rate {
            group: if s == k {
                "all".to_string()
            } else {
                groups.map_or_else(String::new, |g| g.names()[s].clone())
            },
            n,
            events: e,
            proportion: if n > 0 { e as f64 / n as f64 } else { f64::NAN },
            ci: wilson_interval(e, n, alpha),
            excluded: x,
        })
        .collect();
    Ok(RateTable { rates, alpha })
}

impl RateTable {
    /// JSON: a list of `{group, n, events, proportion, ci, excluded}`.
    pub fn to_json(&self) -> Value {
        let num = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
        Value::Array(
            self.rates
                .iter()
                .map(|r| json!({"group": r.group, "n": r.n, "events": r.events, "proportion": num(r.proportion), "ci": [num(r.ci.0), num(r.ci.1)], "excluded": r.excluded}))
                .collect(),
        )
    }

    /// A plain-text table.
    pub fn render_table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<20} {:>8} {:>8} {:>10} {:>22}",
            "group",
            "n",
            "events",
            "rate",
            format!("{}% CI (Wilson)", 100.0 * (1.0 - self.alpha))
        );
        for r in &self.rates {
            let _ = writeln!(
                s,
                "{:<20} {:>8} {:>8} {:>10.4} {:>22}",
                r.group,
                r.n,
                r.events,
                r.proportion,
                format!("{:.4} – {:.4}", r.ci.0, r.ci.1)
            );
        }
        s
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_statsmodels() {
        // statsmodels.stats.proportion.proportion_confint(7, 30, method="wilson")
        let (lo, hi) = wilson_interval(7, 30, 0.05);
        assert!(
            (lo - 0.117_923_881_444_894_96).abs() < 1e-12
                && (hi - 0.409_283_261_581_221_75).abs() < 1e-12,
            "{lo} {hi}"
        );
        assert!(wilson_interval(0, 10, 0.05).0.abs() < 1e-15);
    }

    #[test]
    fn thirty_day_mortality_excludes_early_censoring() {
        let t = [5.0, 40.0, 10.0, 30.0, 60.0];
        let e = [true, true, false, true, false];
        let g = Groups::from_labels(&["a", "a", "b", "b", "b"]);
        let r = mortality_within(&t, &e, 30.0, Some(&g), 0.05).unwrap();
        assert_eq!((r.rates[0].n, r.rates[0].events), (2, 1));
        assert_eq!(
            (r.rates[1].n, r.rates[1].events, r.rates[1].excluded),
            (2, 1, 1)
        );
        assert_eq!(
            (r.rates[2].group.as_str(), r.rates[2].n, r.rates[2].events),
            ("all", 4, 2)
        );
    }
}
