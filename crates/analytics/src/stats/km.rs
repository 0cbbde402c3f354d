//! Kaplan–Meier survival curves with Greenwood variance, several groups in one pass.
//!
//! Confidence intervals use the log-log transform (lifelines' default), the log
//! transform (R `survfit`'s default) or the plain linear interval. The median and
//! its interval follow lifelines and R: the first time the curve (or its
//! lower/upper limit) is at or below one half.

use serde_json::{Value, json};

use super::{Groups, check_survival_input, dist, sort_rows_with_times};
use crate::{Error, Result};

/// How the pointwise confidence interval is built from the Greenwood variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CiTransform {
    /// `exp(-exp(log(-log S) ± z·σ/log S))` (lifelines' default; never leaves [0, 1]).
    #[default]
    LogLog,
    /// `S·exp(±z·σ)`, upper limit capped at 1 (R `survfit` default, `conf.type = "log"`).
    Log,
    /// `S ± z·S·σ`, clipped to [0, 1] (R `conf.type = "plain"`).
    Plain,
}

impl CiTransform {
    /// Parses `loglog`, `log` or `plain`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "loglog" | "log-log" => Ok(Self::LogLog),
            "log" => Ok(Self::Log),
            "plain" | "linear" => Ok(Self::Plain),
            _ => Err(Error::InvalidOption {
                option: "ci",
                message: format!("expected loglog, log or plain, got `{s}`"),
            }),
        }
    }

    /// The option's name as accepted by [`CiTransform::parse`].
    pub fn name(self) -> &'static str {
        match self {
            Self::LogLog => "loglog",
            Self::Log => "log",
            Self::Plain => "plain",
        }
    }
}

/// Options for [`kaplan_meier`].
#[derive(Debug, Clone, PartialEq)]
pub struct KmOptions {
    /// The interval transform.
    pub ci: CiTransform,
    /// Two-sided significance level (0.05 gives 95% intervals).
    pub alpha: f64,
    /// Times at which to report the number at risk and the survival.
    pub at: Vec<f64>,
}

impl Default for KmOptions {
    fn default() -> Self {
        KmOptions {
            ci: CiTransform::LogLog,
            alpha: 0.05,
            at: Vec::new(),
        }
    }
}

/// One row of the survival table: a distinct observed time (plus time 0).
#[derive(Debug, Clone, PartialEq)]
pub struct KmRow {
    /// The time.
    pub time: f64,
    /// Number (or weight) at risk just before `time`.
    pub at_risk: f64,
    /// Events at `time`.
    pub events: f64,
    /// Censorings at `time`.
    pub censored: f64,
    /// Survival just after `time`.
    pub survival: f64,
    /// Greenwood sum `Σ d/(n(n-d))`, the variance of `log S`.
    pub greenwood: f64,
    /// Lower confidence limit.
    pub ci_lower: f64,
    /// Upper confidence limit.
    pub ci_upper: f64,
}

/// Number at risk and survival at a requested time.
#[derive(Debug, Clone, PartialEq)]
pub struct AtRisk {
    /// The requested time.
    pub time: f64,
    /// Number (or weight) with time ≥ the requested time.
    pub at_risk: f64,
    /// Survival at the requested time (right-continuous step function).
    pub survival: f64,
}

/// The Kaplan–Meier curve of one group.
#[derive(Debug, Clone, PartialEq)]
pub struct KmGroup {
    /// The group's label (`all` when ungrouped).
    pub name: String,
    /// Number of observations.
    pub n: usize,
    /// Number of events.
    pub events: usize,
    /// Median survival; `None` if the curve never reaches 0.5.
    pub median: Option<f64>,
    /// Confidence limits of the median; `None` where not reached.
    pub median_ci: (Option<f64>, Option<f64>),
    /// The survival table.
    pub table: Vec<KmRow>,
    /// Numbers at risk at the requested times.
    pub at_risk_at: Vec<AtRisk>,
}

impl KmGroup {
    /// Survival at time `t` (right-continuous step function).
    pub fn survival_at(&self, t: f64) -> f64 {
        let idx = self.table.partition_point(|r| r.time <= t);
        if idx == 0 {
            1.0
        } else {
            self.table[idx - 1].survival
        }
    }
}

/// Kaplan–Meier fits for one or more groups.
#[derive(Debug, Clone, PartialEq)]
pub struct KmFit {
    /// One curve per group, in the groups' natural order.
    pub groups: Vec<KmGroup>,
    /// The interval transform used.
    pub ci: CiTransform,
    /// The significance level used.
    pub alpha: f64,
}

/// Fits Kaplan–Meier curves; `groups = None` fits one curve called `all`.
pub fn kaplan_meier(
    time: &[f64],
    event: &[bool],
    groups: Option<&Groups>,
    opts: &KmOptions,
) -> Result<KmFit> {
    kaplan_meier_weighted(time, event, None, groups, opts)
}

/// Fits (optionally weighted, e.g. inverse-probability-weighted) Kaplan–Meier curves.
///
/// With weights, counts become sums of weights; the Greenwood formula is then
/// applied to the weighted counts (as lifelines does), which is an approximation.
pub fn kaplan_meier_weighted(
    time: &[f64],
    event: &[bool],
    weights: Option<&[f64]>,
    groups: Option<&Groups>,
    opts: &KmOptions,
) -> Result<KmFit> {
    check_survival_input(time, event, weights)?;
    if !(opts.alpha > 0.0 && opts.alpha < 1.0) {
        return Err(Error::InvalidOption {
            option: "alpha",
            message: format!("must be in (0, 1), got {}", opts.alpha),
        });
    }
    if let Some(g) = groups
        && g.len() != time.len()
    {
        return Err(Error::LengthMismatch {
            what: "group".into(),
            found: g.len(),
            expected: time.len(),
        });
    }
    let z = dist::norm_ppf(1.0 - opts.alpha / 2.0);
    let codes = groups.map(|g| g.codes());
    let (order, sorted_time) = sort_rows_with_times(time, None, codes);
    let names: Vec<String> = groups.map_or_else(|| vec!["all".to_string()], |g| g.names().to_vec());
    let mut out = Vec::with_capacity(names.len());
    let mut start = 0;
    for (code, name) in names.iter().enumerate() {
        let mut end = start;
        while end < order.len() && codes.map_or(0, |c| c[order[end] as usize]) as usize == code {
            end += 1;
        }
        let idx = &order[start..end];
        out.push(fit_one(
            name,
            idx,
            &sorted_time[start..end],
            time,
            event,
            weights,
            z,
            opts,
        ));
        start = end;
    }
    Ok(KmFit {
        groups: out,
        ci: opts.ci,
        alpha: opts.alpha,
    })
}

#[allow(clippy::too_many_arguments)]
fn fit_one(
    name: &str,
    idx: &[u32],
    sorted_time: &[f64],
    time: &[f64],
    event: &[bool],
    weights: Option<&[f64]>,
    z: f64,
    opts: &KmOptions,
) -> KmGroup {
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    let n_events = idx.iter().filter(|&&i| event[i as usize]).count();
    // Distinct times with their event and censoring weights.
    let mut runs: Vec<(f64, f64, f64)> = Vec::new();
    let mut k = 0;
    while k < idx.len() {
        let t = sorted_time[k];
        let (mut d, mut c) = (0.0, 0.0);
        while k < idx.len() && sorted_time[k] == t {
            let i = idx[k] as usize;
            if event[i] {
                d += w(i)
            } else {
                c += w(i)
            }
            k += 1;
        }
        runs.push((t, d, c));
    }
    // Numbers at risk as suffix sums, so the last subject's risk set equals its own
    // weight exactly (subtracting from the total would leave a rounding residue).
    let mut risk = vec![0.0; runs.len() + 1];
    for j in (0..runs.len()).rev() {
        risk[j] = risk[j + 1] + runs[j].1 + runs[j].2;
    }
    let total = risk[0];
    let mut table = Vec::with_capacity(runs.len() + 1);
    let mut s = 1.0;
    let mut gw = 0.0;
    if runs.first().is_none_or(|r| r.0 > 0.0) {
        table.push(KmRow {
            time: 0.0,
            at_risk: total,
            events: 0.0,
            censored: 0.0,
            survival: 1.0,
            greenwood: 0.0,
            ci_lower: 1.0,
            ci_upper: 1.0,
        });
    }
    for (j, &(t, d, c)) in runs.iter().enumerate() {
        let at_risk = risk[j];
        if d > 0.0 {
            s *= 1.0 - d / at_risk;
            let denom = at_risk * (at_risk - d);
            // lifelines treats d / (n (n - d)) = inf (the curve reaching 0) as 0.
            if denom > 0.0 {
                gw += d / denom;
            }
        }
        let (lo, hi) = interval(s, gw, z, opts.ci);
        table.push(KmRow {
            time: t,
            at_risk,
            events: d,
            censored: c,
            survival: s,
            greenwood: gw,
            ci_lower: lo,
            ci_upper: hi,
        });
    }
    let first_at_or_below =
        |f: &dyn Fn(&KmRow) -> f64| table.iter().find(|r| f(r) <= 0.5).map(|r| r.time);
    let median = first_at_or_below(&|r| r.survival);
    let median_ci = (
        first_at_or_below(&|r| r.ci_lower),
        first_at_or_below(&|r| r.ci_upper),
    );
    let mut group = KmGroup {
        name: name.to_string(),
        n: idx.len(),
        events: n_events,
        median,
        median_ci,
        table,
        at_risk_at: Vec::new(),
    };
    group.at_risk_at = opts
        .at
        .iter()
        .map(|&t| {
            let n_at: f64 = idx
                .iter()
                .filter(|&&i| time[i as usize] >= t)
                .map(|&i| w(i as usize))
                .sum();
            AtRisk {
                time: t,
                at_risk: n_at,
                survival: group.survival_at(t),
            }
        })
        .collect();
    group
}

fn interval(s: f64, greenwood: f64, z: f64, ci: CiTransform) -> (f64, f64) {
    let sd = greenwood.sqrt();
    match ci {
        CiTransform::LogLog => {
            if s >= 1.0 {
                return (1.0, 1.0);
            }
            if s <= 0.0 {
                return (0.0, 0.0);
            }
            let v = s.ln();
            let lo = (-((-v).ln() - z * sd / v).exp()).exp();
            let hi = (-((-v).ln() + z * sd / v).exp()).exp();
            (lo, hi)
        }
        CiTransform::Log => (s * (-z * sd).exp(), (s * (z * sd).exp()).min(1.0)),
        CiTransform::Plain => ((s - z * s * sd).max(0.0), (s + z * s * sd).min(1.0)),
    }
}

fn opt(v: Option<f64>) -> Value {
    v.map_or(Value::Null, |x| json!(x))
}

impl KmFit {
    /// The CLI's JSON shape: a list of groups with `name`, `n`, `events`, `median`,
    /// `median_ci`, `table` rows and `at_risk_at` (`null` = not reached).
    pub fn to_json(&self) -> Value {
        Value::Array(
            self.groups
                .iter()
                .map(|g| {
                    json!({
                        "name": g.name,
                        "n": g.n,
                        "events": g.events,
                        "median": opt(g.median),
                        "median_ci": [opt(g.median_ci.0), opt(g.median_ci.1)],
                        "table": g.table.iter().map(|r| json!({
                            "time": r.time, "at_risk": r.at_risk, "events": r.events, "censored": r.censored,
                            "survival": r.survival, "ci_lower": r.ci_lower, "ci_upper": r.ci_upper,
                        })).collect::<Vec<_>>(),
                        "at_risk_at": g.at_risk_at.iter().map(|a| json!({
                            "time": a.time, "at_risk": a.at_risk, "survival": a.survival,
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        )
    }

    /// A plain-text summary per group: counts, median with interval, and at-risk table.
    pub fn render_table(&self) -> String {
        use std::fmt::Write;
        let fmt = |v: Option<f64>| v.map_or_else(|| "NR".to_string(), |x| format!("{x}"));
        let level = 100.0 * (1.0 - self.alpha);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<20} {:>8} {:>8} {:>10} {:>24}",
            "group",
            "n",
            "events",
            "median",
            format!("{level}% CI ({})", self.ci.name())
        );
        for g in &self.groups {
            let _ = writeln!(
                s,
                "{:<20} {:>8} {:>8} {:>10} {:>24}",
                g.name,
                g.n,
                g.events,
                fmt(g.median),
                format!("{} – {}", fmt(g.median_ci.0), fmt(g.median_ci.1))
            );
        }
        if self.groups.iter().any(|g| !g.at_risk_at.is_empty()) {
            let _ = writeln!(s, "\nnumber at risk (survival)");
            for g in &self.groups {
                let cells: Vec<String> = g
                    .at_risk_at
                    .iter()
                    .map(|a| format!("t={}: {} ({:.3})", a.time, a.at_risk, a.survival))
                    .collect();
                let _ = writeln!(s, "{:<20} {}", g.name, cells.join("  "));
            }
        }
        s
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_curve() {
        // Times 1,2,2,3(c),4 with events 1,1,0,0,1.
        let t = [1.0, 2.0, 2.0, 3.0, 4.0];
        let e = [true, true, false, false, true];
        let opts = KmOptions {
            at: vec![0.0, 2.0, 2.5, 10.0],
            ..KmOptions::default()
        };
        let fit = kaplan_meier(&t, &e, None, &opts).unwrap();
        let g = &fit.groups[0];
        let times: Vec<f64> = g.table.iter().map(|r| r.time).collect();
        assert_eq!(times, [0.0, 1.0, 2.0, 3.0, 4.0]);
        assert!((g.table[1].survival - 0.8).abs() < 1e-15);
        assert!((g.table[2].survival - 0.8 * 0.75).abs() < 1e-15);
        assert_eq!(g.table[4].survival, 0.0);
        assert!((g.table[2].greenwood - (1.0 / 20.0 + 1.0 / 12.0)).abs() < 1e-15);
        assert_eq!(g.median, Some(4.0));
        let ar: Vec<f64> = g.at_risk_at.iter().map(|a| a.at_risk).collect();
        assert_eq!(ar, [5.0, 4.0, 2.0, 0.0]);
        assert!((g.at_risk_at[2].survival - 0.6).abs() < 1e-15);
        for r in &g.table {
            assert!(r.ci_lower <= r.survival && r.survival <= r.ci_upper);
        }
    }

    #[test]
    fn groups_in_one_pass_equal_separate_fits() {
        let t = [5.0, 3.0, 9.0, 1.0, 4.0, 4.0, 8.0];
        let e = [true, false, true, true, true, false, true];
        let labels = ["b", "a", "b", "a", "b", "a", "a"];
        let g = Groups::from_labels(&labels);
        let fit = kaplan_meier(&t, &e, Some(&g), &KmOptions::default()).unwrap();
        assert_eq!(fit.groups.len(), 2);
        for grp in &fit.groups {
            let sel: Vec<usize> = (0..7).filter(|&i| labels[i] == grp.name).collect();
            let ts: Vec<f64> = sel.iter().map(|&i| t[i]).collect();
            let es: Vec<bool> = sel.iter().map(|&i| e[i]).collect();
            let alone = kaplan_meier(&ts, &es, None, &KmOptions::default()).unwrap();
            assert_eq!(alone.groups[0].table, grp.table);
        }
        let j = fit.to_json();
        assert_eq!(j[0]["name"], "a");
        assert!(j[1]["table"][0]["survival"].is_number());
        assert!(fit.render_table().contains("group"));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            kaplan_meier(&[1.0, -1.0], &[true, true], None, &KmOptions::default()),
            Err(Error::InvalidValue { row: 2, .. })
        ));
        assert!(matches!(
            kaplan_meier(&[], &[], None, &KmOptions::default()),
            Err(Error::Empty { .. })
        ));
        assert!(CiTransform::parse("nope").is_err());
    }
}
