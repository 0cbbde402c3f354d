//! Propensity scores: logistic model, nearest-neighbour matching on the logit with
//! a caliper, inverse-probability weights, and covariate balance (standardised
//! mean differences).
//!
//! Matching is greedy: treated units are visited in a random order drawn from
//! `seed` (SplitMix64 + Fisher–Yates, so the same seed gives the same matches on
//! every platform), and in each of `ratio` rounds every treated unit takes the
//! nearest still-available control on the logit of the propensity score (ties
//! go to the lower row index), provided it lies within the caliper. Without
//! replacement a control is used once; with replacement it may serve several
//! treated units but never twice the same one. The caliper is a multiple of the
//! pooled standard deviation of the logit, √((s²_treated + s²_control)/2)
//! (Austin 2011).
//!
//! Standardised mean differences use the pooled SD of the *unadjusted* sample as
//! the denominator both before and after adjustment (the `cobalt` convention), so
//! a change in SMD reflects a change in means only.

use serde_json::{Map, Value, json};

use super::logistic::{LogisticFit, LogisticOptions, logistic_regression};
use crate::{Error, Result, Table};

/// Options for [`propensity_match`].
#[derive(Debug, Clone, PartialEq)]
pub struct PsmOptions {
    /// Caliper in SDs of the logit; `None` matches without a caliper.
    pub caliper: Option<f64>,
    /// Controls per treated unit (1 for 1:1).
    pub ratio: usize,
    /// Whether a control may be matched to several treated units.
    pub replace: bool,
    /// Seed for the order in which treated units are matched.
    pub seed: u64,
}

impl Default for PsmOptions {
    fn default() -> Self {
        PsmOptions {
            caliper: Some(0.2),
            ratio: 1,
            replace: false,
            seed: 42,
        }
    }
}

/// One matched (treated, control) pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MatchedPair {
    /// Row of the treated unit (0-based).
    pub treated: usize,
    /// Row of the control unit (0-based).
    pub control: usize,
    /// |logit difference|.
    pub distance: f64,
}

/// The result of nearest-neighbour matching.
#[derive(Debug, Clone, PartialEq)]
pub struct Matching {
    /// Pairs in the order they were formed.
    pub pairs: Vec<MatchedPair>,
    /// Caliper width on the logit scale (infinite when no caliper).
    pub caliper_width: f64,
    /// Treated units with at least one match.
    pub matched_treated: usize,
    /// Treated units left unmatched.
    pub unmatched_treated: usize,
    /// Matching weights: 1 for matched treated units, Σ 1/(controls of its treated) for controls, 0 otherwise.
    pub weights: Vec<f64>,
}

/// Balance of one covariate.
#[derive(Debug, Clone, PartialEq)]
pub struct Balance {
    /// Covariate name.
    pub name: String,
    /// Whether the covariate is 0/1.
    pub binary: bool,
    /// (Weighted) mean among treated.
    pub mean_treated: f64,
    /// (Weighted) mean among controls.
    pub mean_control: f64,
    /// Standardised mean difference.
    pub smd: f64,
}

/// Full propensity-score matching result.
#[derive(Debug, Clone, PartialEq)]
pub struct PsmResult {
    /// The propensity model.
    pub model: LogisticFit,
    /// Propensity scores per row.
    pub ps: Vec<f64>,
    /// The matching.
    pub matching: Matching,
    /// Balance before matching.
    pub smd_before: Vec<Balance>,
    /// Balance in the matched sample.
    pub smd_after: Vec<Balance>,
}

/// A deterministic 64-bit generator (SplitMix64), reproducible across platforms.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `0..n` (n > 0) by rejection, without modulo bias.
    pub fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return v % n;
            }
        }
    }
}

/// Fisher–Yates shuffle driven by [`SplitMix64`].
pub fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut rng = SplitMix64::new(seed);
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

fn mean_var(v: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = v.clone().count() as f64;
    let m = v.clone().sum::<f64>() / n;
    let var = v.map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0);
    (m, var)
}

/// Greedy nearest-neighbour matching on a score (usually the logit of the propensity score).
pub fn match_on_score(score: &[f64], treatment: &[bool], opts: &PsmOptions) -> Result<Matching> {
    let n = score.len();
    if treatment.len() != n {
        return Err(Error::LengthMismatch {
            what: "treatment".into(),
            found: treatment.len(),
            expected: n,
        });
    }
    if opts.ratio == 0 {
        return Err(Error::InvalidOption {
            option: "ratio",
            message: "must be at least 1".into(),
        });
    }
    if let Some(c) = opts.caliper
        && !(c > 0.0 && c.is_finite())
    {
        return Err(Error::InvalidOption {
            option: "caliper",
            message: format!("must be positive, got {c}"),
        });
    }
    let mut treated: Vec<usize> = (0..n).filter(|&i| treatment[i]).collect();
    let controls: Vec<usize> = (0..n).filter(|&i| !treatment[i]).collect();
    if treated.len() < 2 || controls.len() < 2 {
        return Err(Error::TooFewGroups {
            found: usize::from(treated.len() >= 2) + usize::from(controls.len() >= 2),
        });
    }
    let caliper_width = match opts.caliper {
        Some(c) => {
            let (_, vt) = mean_var(treated.iter().map(|&i| score[i]));
            let (_, vc) = mean_var(controls.iter().map(|&i| score[i]));
            c * ((vt + vc) / 2.0).sqrt()
        }
        None => f64::INFINITY,
    };
    // Controls bucketed by distinct score; each bucket lists its rows ascending.
    let mut sorted = controls.clone();
    sorted.sort_by(|&a, &b| score[a].total_cmp(&score[b]).then(a.cmp(&b)));
    let mut values: Vec<f64> = Vec::new();
    let mut bucket_start: Vec<usize> = Vec::new();
    for (k, &c) in sorted.iter().enumerate() {
        if values.last() != Some(&score[c]) {
            values.push(score[c]);
            bucket_start.push(k);
        }
    }
    bucket_start.push(sorted.len());
    let nb = values.len();
    // Next unused position inside each bucket (without replacement).
    let mut cursor: Vec<usize> = bucket_start[..nb].to_vec();
    // Skip lists over exhausted buckets, with path compression.
    let mut right: Vec<usize> = (0..=nb).collect();
    let mut left: Vec<usize> = (0..=nb).collect(); // index b+1 represents bucket b; 0 = none
    fn find(p: &mut [usize], mut x: usize) -> usize {
        let mut root = x;
        while p[root] != root {
            root = p[root];
        }
        while p[x] != root {
            let nx = p[x];
            p[x] = root;
            x = nx;
        }
        root
    }
    shuffle(&mut treated, opts.seed);
    let mut matched_to: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut pairs = Vec::new();
    for _round in 0..opts.ratio {
        for &t in &treated {
            if _round > 0 && matched_to[t].is_empty() {
                continue;
            }
            let st = score[t];
            let pos = values.partition_point(|&v| v < st);
            let best = if opts.replace {
                nearest_with_replacement(
                    &values,
                    &bucket_start,
                    &sorted,
                    score,
                    st,
                    pos,
                    &matched_to[t],
                )
            } else {
                let r = find(&mut right, pos);
                let l = find(&mut left, pos);
                let cand_r = (r < nb).then(|| (values[r] - st, sorted[cursor[r]], r));
                let cand_l = (l > 0).then(|| (st - values[l - 1], sorted[cursor[l - 1]], l - 1));
                match (cand_l, cand_r) {
                    (Some(a), Some(b)) => Some(if (a.0, a.1) <= (b.0, b.1) { a } else { b }),
                    (a, b) => a.or(b),
                }
                .map(|(d, c, b)| (d, c, Some(b)))
            };
            let Some((dist, c, bucket)) = best else {
                continue;
            };
            if dist > caliper_width {
                continue;
            }
            if let Some(b) = bucket {
                cursor[b] += 1;
                if cursor[b] == bucket_start[b + 1] {
                    right[b] = b + 1;
                    left[b + 1] = b;
                }
            }
            matched_to[t].push(c);
            pairs.push(MatchedPair {
                treated: t,
                control: c,
                distance: dist,
            });
        }
    }
    let mut weights = vec![0.0; n];
    let mut matched_treated = 0;
    for &t in &treated {
        let k = matched_to[t].len();
        if k > 0 {
            matched_treated += 1;
            weights[t] = 1.0;
            for &c in &matched_to[t] {
                weights[c] += 1.0 / k as f64;
            }
        }
    }
    Ok(Matching {
        pairs,
        caliper_width,
        matched_treated,
        unmatched_treated: treated.len() - matched_treated,
        weights,
    })
}

/// Nearest control by (distance, row) not already matched to this treated unit.
fn nearest_with_replacement(
    values: &[f64],
    bucket_start: &[usize],
    sorted: &[usize],
    score: &[f64],
    st: f64,
    pos: usize,
    exclude: &[usize],
) -> Option<(f64, usize, Option<usize>)> {
    let nb = values.len();
    let first_free = |b: usize| {
        sorted[bucket_start[b]..bucket_start[b + 1]]
            .iter()
            .copied()
            .find(|c| !exclude.contains(c))
    };
    let (mut l, mut r) = (pos, pos);
    let mut cand_l = None;
    while l > 0 && cand_l.is_none() {
        l -= 1;
        cand_l = first_free(l).map(|c| (st - values[l], c));
    }
    let mut cand_r = None;
    while r < nb && cand_r.is_none() {
        cand_r = first_free(r).map(|c| (values[r] - st, c));
        r += 1;
    }
    let _ = score;
    match (cand_l, cand_r) {
        (Some(a), Some(b)) => Some(if a <= b { a } else { b }),
        (a, b) => a.or(b),
    }
    .map(|(d, c)| (d, c, None))
}

/// Standardised mean differences of each covariate between treated and controls,
/// optionally weighted; the denominator is always the unweighted pooled SD.
pub fn balance(
    covariates: &[Vec<f64>],
    names: &[String],
    treatment: &[bool],
    weights: Option<&[f64]>,
) -> Vec<Balance> {
    use rayon::prelude::*;
    covariates
        .par_iter()
        .zip(names.par_iter())
        .map(|(x, name)| {
            // Pass 1: counts, sums and weighted sums per arm (index 1 = treated).
            let (mut n, mut sum, mut wsum, mut wx) =
                ([0.0f64; 2], [0.0f64; 2], [0.0f64; 2], [0.0f64; 2]);
            let mut binary = true;
            for (i, (&v, &t)) in x.iter().zip(treatment).enumerate() {
                let a = usize::from(t);
                n[a] += 1.0;
                sum[a] += v;
                binary &= v == 0.0 || v == 1.0;
                if let Some(w) = weights {
                    wsum[a] += w[i];
                    wx[a] += w[i] * v;
                }
            }
            let mean = [sum[0] / n[0], sum[1] / n[1]];
            // Pass 2: centred sums of squares (two-pass for accuracy).
            let mut ss = [0.0f64; 2];
            for (&v, &t) in x.iter().zip(treatment) {
                let a = usize::from(t);
                ss[a] += (v - mean[a]) * (v - mean[a]);
            }
            let (m1, m0) = (mean[1], mean[0]);
            let denom = if binary {
                ((m1 * (1.0 - m1) + m0 * (1.0 - m0)) / 2.0).sqrt()
            } else {
                ((ss[1] / (n[1] - 1.0) + ss[0] / (n[0] - 1.0)) / 2.0).sqrt()
            };
            let (wm1, wm0) = if weights.is_some() {
                (wx[1] / wsum[1], wx[0] / wsum[0])
            } else {
                (m1, m0)
            };
            let smd = if denom > 0.0 {
                (wm1 - wm0) / denom
            } else {
                0.0
            };
            Balance {
                name: name.clone(),
                binary,
                mean_treated: wm1,
                mean_control: wm0,
                smd,
            }
        })
        .collect()
}

/// The estimand targeted by inverse-probability weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimand {
    /// Average treatment effect: 1/ps for treated, 1/(1−ps) for controls.
    Ate,
    /// Average treatment effect on the treated: 1 for treated, ps/(1−ps) for controls.
    Att,
}

/// Inverse-probability weights; `stabilized` multiplies ATE weights by the marginal
/// treatment probabilities (P(T=1) for treated, P(T=0) for controls).
pub fn ipw_weights(
    ps: &[f64],
    treatment: &[bool],
    estimand: Estimand,
    stabilized: bool,
) -> Result<Vec<f64>> {
    if ps.len() != treatment.len() {
        return Err(Error::LengthMismatch {
            what: "propensity scores".into(),
            found: ps.len(),
            expected: treatment.len(),
        });
    }
    if let Some(i) = ps.iter().position(|p| !(*p > 0.0 && *p < 1.0)) {
        return Err(Error::InvalidValue {
            what: "propensity score".into(),
            row: i + 1,
            message: format!("must be in (0, 1), got {}", ps[i]),
        });
    }
    let pt = treatment.iter().filter(|&&t| t).count() as f64 / treatment.len() as f64;
    Ok(ps
        .iter()
        .zip(treatment)
        .map(|(&p, &t)| match (estimand, t) {
            (Estimand::Ate, true) => {
                if stabilized {
                    pt / p
                } else {
                    1.0 / p
                }
            }
            (Estimand::Ate, false) => {
                if stabilized {
                    (1.0 - pt) / (1.0 - p)
                } else {
                    1.0 / (1.0 - p)
                }
            }
            (Estimand::Att, true) => 1.0,
            (Estimand::Att, false) => p / (1.0 - p),
        })
        .collect())
}

/// Fits the propensity model, matches on its logit and reports balance before and after.
pub fn propensity_match(
    treatment: &[bool],
    covariates: &[Vec<f64>],
    names: &[String],
    opts: &PsmOptions,
) -> Result<PsmResult> {
    let model = logistic_regression(treatment, covariates, names, &LogisticOptions::default())?;
    let ps = model.fitted.clone();
    let score: Vec<f64> = ps.iter().map(|&p| logit(p)).collect();
    let matching = match_on_score(&score, treatment, opts)?;
    let smd_before = balance(covariates, names, treatment, None);
    let smd_after = balance(covariates, names, treatment, Some(&matching.weights));
    Ok(PsmResult {
        model,
        ps,
        matching,
        smd_before,
        smd_after,
    })
}

fn smd_object(b: &[Balance]) -> Value {
    let mut m = Map::new();
    for x in b {
        m.insert(x.name.clone(), json!(x.smd));
    }
    Value::Object(m)
}

impl PsmResult {
    /// The CLI's JSON shape: `pairs` (number of matched pairs), `smd_before` and
    /// `smd_after` (objects keyed by covariate), plus matching counts and the model.
    pub fn to_json(&self) -> Value {
        json!({
            "pairs": self.matching.pairs.len(),
            "matched_treated": self.matching.matched_treated,
            "unmatched_treated": self.matching.unmatched_treated,
            "caliper_width": if self.matching.caliper_width.is_finite() { json!(self.matching.caliper_width) } else { Value::Null },
            "smd_before": smd_object(&self.smd_before),
            "smd_after": smd_object(&self.smd_after),
            "model": {
                "terms": self.model.names,
                "coef": self.model.coef,
                "se": self.model.se,
                "iterations": self.model.iterations,
                "converged": self.model.converged,
                "extreme_fitted": self.model.n_extreme,
            },
        })
    }

    /// A plain-text balance table.
    pub fn render_table(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "matched pairs: {} ({} treated matched, {} unmatched; caliper {:.4} on the logit)",
            self.matching.pairs.len(),
            self.matching.matched_treated,
            self.matching.unmatched_treated,
            self.matching.caliper_width
        );
        let _ = writeln!(
            s,
            "\n{:<20} {:>8} {:>12} {:>12}",
            "covariate", "type", "SMD before", "SMD after"
        );
        for (b, a) in self.smd_before.iter().zip(&self.smd_after) {
            let _ = writeln!(
                s,
                "{:<20} {:>8} {:>12.4} {:>12.4}",
                b.name,
                if b.binary { "binary" } else { "cont." },
                b.smd,
                a.smd
            );
        }
        s
    }

    /// The matched rows of `input` (treated unit then its controls, per match),
    /// with `match_id`, `propensity` and `match_weight` columns appended.
    pub fn matched_table(&self, input: &Table) -> Result<Table> {
        if input.n_rows() != self.ps.len() {
            return Err(Error::LengthMismatch {
                what: "input table".into(),
                found: input.n_rows(),
                expected: self.ps.len(),
            });
        }
        let mut by_treated: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for p in &self.matching.pairs {
            by_treated.entry(p.treated).or_default().push(p.control);
        }
        let (mut rows, mut ids, mut w) = (Vec::new(), Vec::new(), Vec::new());
        for (k, (t, cs)) in by_treated.iter().enumerate() {
            rows.push(*t);
            ids.push((k + 1).to_string());
            w.push("1".to_string());
            for &c in cs {
                rows.push(c);
                ids.push((k + 1).to_string());
                w.push(format!("{}", 1.0 / cs.len() as f64));
            }
        }
        let mut out = input.select_rows(&rows);
        out.push_column("match_id".into(), ids)?;
        out.push_column(
            "propensity".into(),
            rows.iter().map(|&r| format!("{}", self.ps[r])).collect(),
        )?;
        out.push_column("match_weight".into(), w)?;
        Ok(out)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn brute(
        score: &[f64],
        treatment: &[bool],
        opts: &PsmOptions,
        width: f64,
    ) -> Vec<(usize, usize)> {
        let mut treated: Vec<usize> = (0..score.len()).filter(|&i| treatment[i]).collect();
        shuffle(&mut treated, opts.seed);
        let mut used = vec![false; score.len()];
        let mut got: Vec<Vec<usize>> = vec![Vec::new(); score.len()];
        let mut out = Vec::new();
        for round in 0..opts.ratio {
            for &t in &treated {
                if round > 0 && got[t].is_empty() {
                    continue;
                }
                let best = (0..score.len())
                    .filter(|&c| {
                        !treatment[c] && (opts.replace || !used[c]) && !got[t].contains(&c)
                    })
                    .map(|c| ((score[c] - score[t]).abs(), c))
                    .min_by(|a, b| a.partial_cmp(b).unwrap());
                if let Some((d, c)) = best
                    && d <= width
                {
                    used[c] = true;
                    got[t].push(c);
                    out.push((t, c));
                }
            }
        }
        out
    }

    #[test]
    fn greedy_matching_equals_brute_force_with_ties() {
        let mut rng = SplitMix64::new(3);
        let n = 300;
        // Coarse scores force many exact ties.
        let score: Vec<f64> = (0..n)
            .map(|_| (rng.below(40) as f64) / 10.0 - 2.0)
            .collect();
        let treatment: Vec<bool> = (0..n)
            .map(|i| rng.below(3) == 0 || score[i] > 1.5)
            .collect();
        for replace in [false, true] {
            for ratio in [1, 3] {
                for caliper in [Some(0.05), Some(0.2), None] {
                    let opts = PsmOptions {
                        caliper,
                        ratio,
                        replace,
                        seed: 11,
                    };
                    let m = match_on_score(&score, &treatment, &opts).unwrap();
                    let got: Vec<(usize, usize)> =
                        m.pairs.iter().map(|p| (p.treated, p.control)).collect();
                    assert_eq!(
                        got,
                        brute(&score, &treatment, &opts, m.caliper_width),
                        "{opts:?}"
                    );
                    if !replace {
                        let mut cs: Vec<usize> = got.iter().map(|p| p.1).collect();
                        cs.sort();
                        cs.dedup();
                        assert_eq!(cs.len(), got.len());
                    }
                }
            }
        }
    }

    #[test]
    fn same_seed_same_matches_and_weights_balance() {
        let t = [true, false, true, false, false, true, false, false];
        let x = [vec![1.0, 0.9, 2.0, 2.2, 5.0, 0.2, 0.1, 3.0]];
        let a = match_on_score(
            &x[0],
            &t,
            &PsmOptions {
                caliper: None,
                ..PsmOptions::default()
            },
        )
        .unwrap();
        let b = match_on_score(
            &x[0],
            &t,
            &PsmOptions {
                caliper: None,
                ..PsmOptions::default()
            },
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.matched_treated, 3);
        let w = ipw_weights(&[0.5, 0.25], &[true, false], Estimand::Ate, false).unwrap();
        assert_eq!(w, [2.0, 1.0 / 0.75]);
        let w = ipw_weights(&[0.5, 0.25], &[true, false], Estimand::Att, false).unwrap();
        assert_eq!(w, [1.0, 0.25 / 0.75]);
        assert!(ipw_weights(&[1.0], &[true], Estimand::Ate, false).is_err());
        let bal = balance(
            &[vec![1.0, 0.0, 1.0, 1.0]],
            &["b".into()],
            &[true, true, false, false],
            None,
        );
        assert!(bal[0].binary);
        assert!((bal[0].smd - (0.5 - 1.0) / (0.25f64 / 2.0).sqrt()).abs() < 1e-12);
    }
}
