//! The log-rank family of tests for k groups, optionally stratified.
//!
//! At each distinct event time the observed-minus-expected vector and the
//! hypergeometric covariance are accumulated with a weight (1 for the log-rank
//! test, the number at risk for Wilcoxon/Breslow/Gehan, its square root for
//! Tarone–Ware, a modified survival estimate for Peto–Peto), summed over strata,
//! and turned into a chi-square statistic on k−1 degrees of freedom. The
//! formulas are lifelines' `multivariate_logrank_test`.

use serde_json::{Value, json};

use super::{Groups, check_survival_input, dist, linalg, sort_rows_with_times};
use crate::{Error, Result};

/// The weight given to each event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weighting {
    /// Weight 1: the log-rank (Mantel–Cox) test.
    #[default]
    LogRank,
    /// Weight n (number at risk): the Wilcoxon / Breslow / Gehan test.
    Wilcoxon,
    /// Weight √n: the Tarone–Ware test.
    TaroneWare,
    /// Weight Π(1 − d/(n+1)): the Peto–Peto test.
    Peto,
}

impl Weighting {
    /// Parses `logrank`, `wilcoxon` (or `breslow`, `gehan`), `tarone-ware`, `peto`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "logrank" | "log-rank" => Ok(Self::LogRank),
            "wilcoxon" | "breslow" | "gehan" => Ok(Self::Wilcoxon),
            "tarone-ware" => Ok(Self::TaroneWare),
            "peto" => Ok(Self::Peto),
            _ => Err(Error::InvalidOption {
                option: "weighting",
                message: format!("expected logrank, wilcoxon, tarone-ware or peto, got `{s}`"),
            }),
        }
    }

    /// The test's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::LogRank => "logrank",
            Self::Wilcoxon => "wilcoxon",
            Self::TaroneWare => "tarone-ware",
            Self::Peto => "peto",
        }
    }
}

/// Per-group observed and expected event counts (weighted by the test's weights).
#[derive(Debug, Clone, PartialEq)]
pub struct LogRankGroup {
    /// The group label.
    pub name: String,
    /// Number of observations.
    pub n: usize,
    /// Observed events (unweighted).
    pub observed: f64,
    /// Expected events under the null (unweighted, summed over strata).
    pub expected: f64,
}

/// The result of a log-rank family test.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRankResult {
    /// The chi-square statistic.
    pub statistic: f64,
    /// Degrees of freedom (groups − 1).
    pub df: usize,
    /// The p-value.
    pub p: f64,
    /// The weighting used.
    pub weighting: Weighting,
    /// Number of strata (1 when unstratified).
    pub strata: usize,
    /// Per-group counts.
    pub groups: Vec<LogRankGroup>,
}

/// Compares the survival of k ≥ 2 groups; `strata` sums the test over strata.
pub fn logrank_test(
    time: &[f64],
    event: &[bool],
    groups: &Groups,
    strata: Option<&Groups>,
    weighting: Weighting,
) -> Result<LogRankResult> {
    check_survival_input(time, event, None)?;
    let n = time.len();
    if groups.len() != n {
        return Err(Error::LengthMismatch {
            what: "group".into(),
            found: groups.len(),
            expected: n,
        });
    }
    if let Some(s) = strata
        && s.len() != n
    {
        return Err(Error::LengthMismatch {
            what: "strata".into(),
            found: s.len(),
            expected: n,
        });
    }
    let k = groups.names().len();
    let mut present = vec![0usize; k];
    for &c in groups.codes() {
        present[c as usize] += 1;
    }
    let nonempty = present.iter().filter(|&&c| c > 0).count();
    if nonempty < 2 {
        return Err(Error::TooFewGroups { found: nonempty });
    }
    if !event.iter().any(|&e| e) {
        return Err(Error::NoEvents {
            context: String::new(),
        });
    }
    let scodes = strata.map(|s| s.codes());
    let (order, sorted_time) = sort_rows_with_times(time, None, scodes);
    let gc = groups.codes();

    let mut z = vec![0.0; k];
    let mut v = vec![0.0; k * k];
    let mut observed = vec![0.0; k];
    let mut expected = vec![0.0; k];
    let mut n_j = vec![0.0f64; k];
    let mut d_j = vec![0.0f64; k];
    let mut c_j = vec![0.0f64; k];
    let mut n_strata = 0;
    let mut start = 0;
    while start < n {
        let s_code = scodes.map_or(0, |s| s[order[start] as usize]);
        let mut end = start;
        while end < n && scodes.map_or(0, |s| s[order[end] as usize]) == s_code {
            end += 1;
        }
        n_strata += 1;
        n_j.iter_mut().for_each(|x| *x = 0.0);
        for &i in &order[start..end] {
            n_j[gc[i as usize] as usize] += 1.0;
        }
        let mut n_tot = (end - start) as f64;
        let mut peto = 1.0;
        let mut q = start;
        while q < end {
            let t = sorted_time[q];
            d_j.iter_mut().for_each(|x| *x = 0.0);
            c_j.iter_mut().for_each(|x| *x = 0.0);
            while q < end && sorted_time[q] == t {
                let i = order[q] as usize;
                let g = gc[i] as usize;
                if event[i] {
                    d_j[g] += 1.0
                } else {
                    c_j[g] += 1.0
                }
                q += 1;
            }
            let d: f64 = d_j.iter().sum();
            if d > 0.0 {
                let w = match weighting {
                    Weighting::LogRank => 1.0,
                    Weighting::Wilcoxon => n_tot,
                    Weighting::TaroneWare => n_tot.sqrt(),
                    Weighting::Peto => {
                        peto *= 1.0 - d / (n_tot + 1.0);
                        peto
                    }
                };
                let ties = if n_tot > 1.0 {
                    (n_tot - d) / (n_tot - 1.0)
                } else {
                    1.0
                };
                let f = w * w * ties * d / (n_tot * n_tot);
                for a in 0..k {
                    let e = d * n_j[a] / n_tot;
                    observed[a] += d_j[a];
                    expected[a] += e;
                    z[a] += w * (d_j[a] - e);
                    if n_j[a] == 0.0 {
                        continue;
                    }
                    for b in 0..k {
                        let delta = if a == b { n_tot } else { 0.0 };
                        v[a * k + b] += f * n_j[a] * (delta - n_j[b]);
                    }
                }
            }
            for a in 0..k {
                n_j[a] -= d_j[a] + c_j[a];
            }
            n_tot -= d + c_j.iter().sum::<f64>();
        }
        start = end;
    }
    // Drop the last non-empty group (the statistic does not depend on which one).
    let keep: Vec<usize> = {
        let ne: Vec<usize> = (0..k).filter(|&a| present[a] > 0).collect();
        ne[..ne.len() - 1].to_vec()
    };
    let m = keep.len();
    let zs: Vec<f64> = keep.iter().map(|&a| z[a]).collect();
    let mut vs = vec![0.0; m * m];
    for (i, &a) in keep.iter().enumerate() {
        for (j, &b) in keep.iter().enumerate() {
            vs[i * m + j] = v[a * k + b];
        }
    }
    let chol = linalg::cholesky(&vs, m).map_err(|c| Error::Singular {
        hint: format!(
            "the covariance of group `{}` is degenerate (no one at risk at its event times?)",
            groups.names()[keep[c]]
        ),
    })?;
    let sol = chol.solve(&zs);
    let statistic: f64 = zs.iter().zip(&sol).map(|(a, b)| a * b).sum();
    let df = nonempty - 1;
    Ok(LogRankResult {
        statistic,
        df,
        p: dist::chi2_sf(statistic, df as f64),
        weighting,
        strata: n_strata,
        groups: (0..k)
            .filter(|&a| present[a] > 0)
            .map(|a| LogRankGroup {
                name: groups.names()[a].clone(),
                n: present[a],
                observed: observed[a],
                expected: expected[a],
            })
            .collect(),
    })
}

impl LogRankResult {
    /// The CLI's JSON shape: `statistic`, `df`, `p` (plus `test`, `strata` and per-group counts).
    pub fn to_json(&self) -> Value {
        json!({
            "test": self.weighting.name(),
            "statistic": self.statistic,
            "df": self.df,
            "p": self.p,
            "strata": self.strata,
            "groups": self.groups.iter().map(|g| json!({
                "name": g.name, "n": g.n, "observed": g.observed, "expected": g.expected,
            })).collect::<Vec<_>>(),
        })
    }

    /// A plain-text summary.
    pub fn render_table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<20} {:>8} {:>12} {:>12}",
            "group", "n", "observed", "expected"
        );
        for g in &self.groups {
            let _ = writeln!(
                s,
                "{:<20} {:>8} {:>12.0} {:>12.3}",
                g.name, g.n, g.observed, g.expected
            );
        }
        let _ = writeln!(
            s,
            "\n{} test{}: chi2 = {:.4} on {} df, p = {:.4e}",
            self.weighting.name(),
            if self.strata > 1 {
                format!(" stratified over {} strata", self.strata)
            } else {
                String::new()
            },
            self.statistic,
            self.df,
            self.p
        );
        s
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn two_groups_hand_computed() {
        // Group a: 1, 3; group b: 2, 4 (all events). Event times 1..4 with n = 4,3,2,1.
        let t = [1.0, 3.0, 2.0, 4.0];
        let e = [true; 4];
        let g = Groups::from_labels(&["a", "a", "b", "b"]);
        let r = logrank_test(&t, &e, &g, None, Weighting::LogRank).unwrap();
        // O-E for a: (1-2/4)+(0-1/3)+(1-1/2)+0 = 2/3; V = 1/4+2/9+1/4 = 13/18.
        let want = (2.0f64 / 3.0).powi(2) / (13.0 / 18.0);
        assert!((r.statistic - want).abs() < 1e-12, "{}", r.statistic);
        assert_eq!(r.df, 1);
        assert!((r.groups[0].expected - (0.5 + 1.0 / 3.0 + 0.5)).abs() < 1e-12);
    }

    #[test]
    fn stratified_single_stratum_equals_unstratified_and_errors() {
        let t = [1.0, 3.0, 2.0, 4.0, 2.0, 5.0];
        let e = [true, false, true, true, true, true];
        let g = Groups::from_labels(&["a", "a", "b", "b", "c", "c"]);
        let s = Groups::single(6, "all");
        for w in [
            Weighting::LogRank,
            Weighting::Wilcoxon,
            Weighting::TaroneWare,
            Weighting::Peto,
        ] {
            let a = logrank_test(&t, &e, &g, None, w).unwrap();
            let b = logrank_test(&t, &e, &g, Some(&s), w).unwrap();
            assert_eq!(a.statistic, b.statistic);
            assert_eq!(a.df, 2);
        }
        let one = Groups::single(6, "x");
        assert!(matches!(
            logrank_test(&t, &e, &one, None, Weighting::LogRank),
            Err(Error::TooFewGroups { found: 1 })
        ));
        assert!(matches!(
            logrank_test(&t, &[false; 6], &g, None, Weighting::LogRank),
            Err(Error::NoEvents { .. })
        ));
    }
}
