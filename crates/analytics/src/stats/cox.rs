//! Cox proportional hazards regression: Efron or Breslow ties, strata, case weights,
//! robust (sandwich) standard errors, likelihood-ratio/Wald/score tests, Harrell's
//! concordance and the Schoenfeld-residual test of proportional hazards.
//!
//! The fit is Newton–Raphson on centred covariates with step halving. One
//! pass over fixed blocks of whole tie runs (in parallel, so each block is
//! fetched from memory once and its run sums come from cache) computes η, the
//! risks and, per run, Σ r and Σ r·x and, for the run's censored rows and its
//! events separately, the weighted Gram matrix Σ r·x xᵀ. A row's coefficient
//! in the information's Σ cᵢ xᵢ xᵢᵀ is its risk times a factor shared by its
//! run (plus Efron's term for the run's events), so that sum is a weighted sum
//! of the per-run matrices: with few, long runs (integer-day times) an
//! iteration reads the covariates once. With many short runs the per-run
//! matrices would outweigh the data, and a second pass over the blocks takes
//! the Gram matrix instead. The risk-set totals are a backward sweep over runs
//! per stratum, and the Efron tie corrections are O(events) closed-form sums
//! over the tie index (one logarithm per 16 deaths) instead of one p×p update
//! per tied death. The event sums Σ w·x (for the score and Σ w·η) do not
//! depend on β and are taken once. Fixed blocks make the result bit-for-bit
//! independent of the thread count. Formulas follow lifelines' `CoxPHFitter`
//! (Efron, weights, the approximate Schoenfeld test) and statsmodels' `PHReg`
//! (Breslow).

use std::sync::OnceLock;

use rayon::prelude::*;
use serde_json::{Value, json};

use super::linalg::dot;
use super::{Groups, dist, linalg, time_key};
use crate::{Error, Result};

/// How tied event times are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ties {
    /// Efron's approximation (lifelines' and R's default).
    #[default]
    Efron,
    /// Breslow's approximation.
    Breslow,
}

impl Ties {
    /// Parses `efron` or `breslow`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "efron" => Ok(Self::Efron),
            "breslow" => Ok(Self::Breslow),
            _ => Err(Error::InvalidOption {
                option: "ties",
                message: format!("expected efron or breslow, got `{s}`"),
            }),
        }
    }
}

/// Options for [`CoxModel::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct CoxOptions {
    /// Tie handling.
    pub ties: Ties,
    /// Report robust (Lin–Wei sandwich) standard errors.
    pub robust: bool,
    /// Two-sided significance level for the hazard-ratio intervals.
    pub alpha: f64,
    /// Maximum Newton iterations.
    pub max_iter: usize,
    /// Compute Harrell's concordance (an extra O(n log n) pass).
    pub concordance: bool,
}

impl Default for CoxOptions {
    fn default() -> Self {
        CoxOptions {
            ties: Ties::Efron,
            robust: false,
            alpha: 0.05,
            max_iter: 50,
            concordance: true,
        }
    }
}

/// One covariate's estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct CoxCoef {
    /// Covariate name.
    pub name: String,
    /// Log hazard ratio.
    pub coef: f64,
    /// Standard error (robust when requested).
    pub se: f64,
    /// Hazard ratio `exp(coef)`.
    pub hr: f64,
    /// Confidence interval of the hazard ratio.
    pub hr_ci: (f64, f64),
    /// Wald z statistic.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
}

/// A chi-square test result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChiSquareTest {
    /// The statistic.
    pub statistic: f64,
    /// Degrees of freedom.
    pub df: usize,
    /// The p-value.
    pub p: f64,
}

impl ChiSquareTest {
    fn new(statistic: f64, df: usize) -> Self {
        ChiSquareTest {
            statistic,
            df,
            p: dist::chi2_sf(statistic, df as f64),
        }
    }

    fn to_json(self) -> Value {
        json!({"statistic": self.statistic, "df": self.df, "p": self.p})
    }
}

/// A fitted Cox model.
#[derive(Debug, Clone, PartialEq)]
pub struct CoxFit {
    /// Per-covariate estimates.
    pub coefficients: Vec<CoxCoef>,
    /// Log partial likelihood at the estimate.
    pub loglik: f64,
    /// Log partial likelihood at β = 0.
    pub loglik_null: f64,
    /// Likelihood-ratio test of β = 0.
    pub lr_test: ChiSquareTest,
    /// Wald test of β = 0 (uses the robust variance when robust).
    pub wald_test: ChiSquareTest,
    /// Score (log-rank) test of β = 0.
    pub score_test: ChiSquareTest,
    /// Harrell's concordance index (within strata); `None` when not requested
    /// or when no pair is comparable.
    pub concordance: Option<f64>,
    /// Model-based variance matrix (inverse information), row-major p×p.
    pub variance: Vec<f64>,
    /// Robust sandwich variance, when requested.
    pub robust_variance: Option<Vec<f64>>,
    /// Number of observations.
    pub n: usize,
    /// Number of events.
    pub events: usize,
    /// Newton iterations used.
    pub iterations: usize,
    /// The options used.
    pub options: CoxOptions,
}

/// Time scale for the Schoenfeld-residual test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeTransform {
    /// Rank of the event among events (lifelines' default).
    #[default]
    Rank,
    /// The time itself.
    Identity,
    /// log(time).
    Log,
    /// 1 − Kaplan–Meier (R's default).
    Km,
}

impl TimeTransform {
    /// Parses `rank`, `identity`, `log` or `km`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "rank" => Ok(Self::Rank),
            "identity" => Ok(Self::Identity),
            "log" => Ok(Self::Log),
            "km" => Ok(Self::Km),
            _ => Err(Error::InvalidOption {
                option: "time transform",
                message: format!("expected rank, identity, log or km, got `{s}`"),
            }),
        }
    }
}

/// Per-covariate proportional-hazards test.
#[derive(Debug, Clone, PartialEq)]
pub struct PhTestRow {
    /// Covariate name.
    pub name: String,
    /// Chi-square statistic on 1 df.
    pub statistic: f64,
    /// p-value.
    pub p: f64,
}

/// The JSON form of a proportional-hazards test: a list of `{name, statistic, df, p}`.
pub fn ph_test_to_json(rows: &[PhTestRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|r| json!({"name": r.name, "statistic": r.statistic, "df": 1, "p": r.p}))
            .collect(),
    )
}

/// Covariates, times and strata sorted and centred for fitting.
#[derive(Debug, Clone)]
pub struct CoxModel {
    n: usize,
    p: usize,
    names: Vec<String>,
    /// Centred covariates in sorted order, one contiguous column per covariate
    /// (the hot loops are dot products over contiguous row ranges).
    xc: Vec<Vec<f64>>,
    /// The time of each tie run (rows hold no copy: see [`Self::row_times`]).
    run_time: Vec<f64>,
    event: Vec<bool>,
    /// Case weights in sorted order; `None` when every weight is 1.
    weight: Option<Vec<f64>>,
    /// Stratum boundaries in sorted order (start indices plus n).
    strata: Vec<usize>,
    /// Standard deviation of each covariate (scales the convergence test).
    sd: Vec<f64>,
    /// Largest |centred value| of each covariate (bounds |η| against overflow).
    xmax: Vec<f64>,
    /// Starts of runs of equal (stratum, time).
    tie_starts: Vec<usize>,
    /// Per run, the first event row (events sort after censorings within a time).
    ev_starts: Vec<usize>,
    /// Blocks of whole runs of about [`CHUNK`] rows (run indices, plus the run
    /// count): the unit of parallel work of the risk-set pass.
    blocks: Vec<usize>,
    /// Per run, the summed weight of its events (the event count without weights).
    ev_weight: Vec<f64>,
    /// Σ w·x over all events (centred): the β-independent part of the score,
    /// taken from the run sums of the evaluation at β = 0 (where the risks are
    /// the weights), or by [`Self::event_sums`] if another β comes first.
    xw: OnceLock<Vec<f64>>,
    /// Whether the information comes from per-run weighted Gram matrices taken
    /// in the risk-set pass (few, long tie runs: integer-day times) instead of
    /// a second pass over the rows (many short runs).
    run_gram: bool,
    events: usize,
}

/// Quantities at one β.
struct Eval {
    ll: f64,
    u: Vec<f64>,
    info: Vec<f64>,
}

const CHUNK: usize = 4096;


/// Rows in fitting order (stratum, time, censored before events, row index).
struct Layout {
    /// Each input row's position in that order.
    pos: Vec<u32>,
    /// Events and weights (if any) in that order.
    event: Vec<bool>,
    weight: Option<Vec<f64>>,
    /// Stratum boundaries (start positions plus n).
    strata: Vec<usize>,
    /// Starts of runs of equal (stratum, time), plus n.
    tie_starts: Vec<usize>,
    /// Per run, its first event position (its end when it has none).
    ev_starts: Vec<usize>,
    /// Per run, its time.
    run_time: Vec<f64>,
}

impl Layout {
    /// From the positions and bucket starts of [`super::rank_integer_times`]
    /// (one stratum): times and events are constant over each bucket.
    fn from_buckets(pos: Vec<u32>, starts: &[usize], weights: Option<&[f64]>) -> Self {
        let n = pos.len();
        // Buckets 2t (censored) and 2t + 1 (events) of each time t that has rows.
        let times = || starts.windows(3).step_by(2).enumerate().filter(|(_, b)| b[2] > b[0]);
        let mut event = Vec::with_capacity(n);
        for (_, b) in times() {
            event.resize(b[1], false);
            event.resize(b[2], true);
        }
        let weight = weights.map(|w| {
            let mut sorted = vec![0.0; n];
            for (&r, &v) in pos.iter().zip(w) {
                sorted[r as usize] = v;
            }
            sorted
        });
        let mut tie_starts: Vec<usize> = times().map(|(_, b)| b[0]).collect();
        tie_starts.push(n);
        Layout {
            pos,
            event,
            weight,
            strata: vec![0, n],
            tie_starts,
            ev_starts: times().map(|(_, b)| b[1]).collect(),
            run_time: times().map(|(t, _)| t as f64).collect(),
        }
    }

    /// By sorting (any times, strata).
    fn from_sort(time: &[f64], event: &[bool], strata: Option<&[u32]>, weights: Option<&[f64]>) -> Self {
        let n = time.len();
        let (order, sorted_time) = super::sort_rows_with_times(time, Some(event), strata);
        let skey = |r: usize| strata.map_or(0, |s| s[order[r] as usize]);
        let tkey = |r: usize| time_key(sorted_time[r]);
        let mut bounds = vec![0];
        let mut tie_starts = vec![0];
        for r in 1..n {
            let new_stratum = skey(r) != skey(r - 1);
            if new_stratum {
                bounds.push(r);
            }
            if new_stratum || tkey(r) != tkey(r - 1) {
                tie_starts.push(r);
            }
        }
        bounds.push(n);
        tie_starts.push(n);
        let ev_sorted: Vec<bool> = order.iter().map(|&i| event[i as usize]).collect();
        let ev_starts = tie_starts
            .windows(2)
            .map(|w| (w[0]..w[1]).find(|&r| ev_sorted[r]).unwrap_or(w[1]))
            .collect();
        let mut pos = vec![0u32; n];
        for (r, &i) in order.iter().enumerate() {
            pos[i as usize] = r as u32;
        }
        Layout {
            pos,
            weight: weights.map(|w| order.iter().map(|&i| w[i as usize]).collect()),
            event: ev_sorted,
            strata: bounds,
            run_time: tie_starts[..tie_starts.len() - 1].iter().map(|&r| sorted_time[r]).collect(),
            tie_starts,
            ev_starts,
        }
    }
}

impl CoxModel {
    /// Prepares data: `covariates` is column-major (one `Vec` per covariate, each of length n).
    pub fn new(
        time: &[f64],
        event: &[bool],
        covariates: &[Vec<f64>],
        names: &[String],
        strata: Option<&Groups>,
        weights: Option<&[f64]>,
    ) -> Result<Self> {
        super::check_survival_input(time, event, weights)?;
        let n = time.len();
        let p = covariates.len();
        if p == 0 {
            return Err(Error::InvalidOption {
                option: "covariates",
                message: "at least one covariate is required".into(),
            });
        }
        if names.len() != p {
            return Err(Error::LengthMismatch {
                what: "covariate names".into(),
                found: names.len(),
                expected: p,
            });
        }
        for (c, name) in covariates.iter().zip(names) {
            if c.len() != n {
                return Err(Error::LengthMismatch {
                    what: format!("covariate `{name}`"),
                    found: c.len(),
                    expected: n,
                });
            }
        }
        // Per column: the first non-finite row, the sum (for the mean) and whether
        // the column is constant. A NaN or infinity makes the (vectorised) sum
        // non-finite, and only then is the column searched for it.
        let scans: Vec<(Option<usize>, f64, bool)> = covariates
            .par_iter()
            .map(|c| {
                let sum = linalg::sum(c);
                let bad = if sum.is_finite() { None } else { c.iter().position(|v| !v.is_finite()) };
                (bad, sum, c.iter().all(|&v| v == c[0]))
            })
            .collect();
        for (&(bad, _, _), name) in scans.iter().zip(names) {
            if let Some(i) = bad {
                return Err(Error::InvalidValue {
                    what: format!("covariate `{name}`"),
                    row: i + 1,
                    message: "not finite".into(),
                });
            }
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
        let events = event.iter().filter(|&&e| e).count();
        if events == 0 {
            return Err(Error::NoEvents {
                context: String::new(),
            });
        }
        let means: Vec<f64> = scans.iter().map(|&(_, sum, _)| sum / n as f64).collect();
        if let Some(j) = scans.iter().position(|&(_, _, constant)| constant) {
            return Err(Error::Singular {
                hint: format!("covariate `{}` is constant", names[j]),
            });
        }
        // Day counts without strata need no comparison sort and no gathers.
        let counted = match strata {
            None => super::rank_integer_times(time, event),
            Some(_) => None,
        };
        let Layout {
            pos,
            event: ev_sorted,
            weight,
            strata: bounds,
            tie_starts,
            ev_starts,
            run_time,
        } = match counted {
            Some((pos, starts)) => Layout::from_buckets(pos, &starts, weights),
            None => Layout::from_sort(time, event, strata.map(|s| s.codes()), weights),
        };
        // Scatter (sequential reads, writes into one stream per tie run) rather than
        // gather (one random read per cell): several times faster on tied data.
        // The same loop takes each centred column's largest magnitude and SD.
        let scattered: Vec<(Vec<f64>, f64, f64)> = covariates
            .par_iter()
            .zip(means.par_iter())
            .map(|(c, m)| {
                let mut col = vec![0.0; n];
                // Four lanes of accumulators: one would make each row wait for the last.
                let (mut max, mut sq) = ([0.0f64; 4], [0.0f64; 4]);
                let mut lane = |k: usize, v: f64, r: u32| {
                    let d = v - m;
                    col[r as usize] = d;
                    max[k] = max[k].max(d.abs());
                    sq[k] += d * d;
                };
                let (cs, ps) = (c.chunks_exact(4), pos.chunks_exact(4));
                for (&v, &r) in cs.remainder().iter().zip(ps.remainder()) {
                    lane(0, v, r);
                }
                for (v, r) in cs.zip(ps) {
                    for k in 0..4 {
                        lane(k, v[k], r[k]);
                    }
                }
                let max = max.into_iter().fold(0.0, f64::max);
                (col, max, (((sq[0] + sq[1]) + (sq[2] + sq[3])) / n as f64).sqrt())
            })
            .collect();
        let xc_max: Vec<f64> = scattered.iter().map(|s| s.1).collect();
        let xc_sd: Vec<f64> = scattered.iter().map(|s| s.2).collect();
        let xc: Vec<Vec<f64>> = scattered.into_iter().map(|s| s.0).collect();
        let ev_weight = tie_starts
            .windows(2)
            .zip(&ev_starts)
            .map(|(w, &ev)| match &weight {
                Some(wt) => linalg::sum(&wt[ev..w[1]]),
                None => (w[1] - ev) as f64,
            })
            .collect();
        // Two packed p×p triangles per run: worth it while they take no more
        // room than one covariate column.
        let run_gram = (tie_starts.len() - 1) * p * (p + 1) <= n;
        let mut blocks = vec![0];
        for (run, &start) in tie_starts.iter().enumerate().skip(1) {
            if start - tie_starts[blocks[blocks.len() - 1]] >= CHUNK || run + 1 == tie_starts.len() {
                blocks.push(run);
            }
        }
        Ok(CoxModel {
            n,
            p,
            names: names.to_vec(),
            xc,
            run_time,
            event: ev_sorted,
            weight,
            strata: bounds,
            sd: xc_sd,
            xmax: xc_max,
            tie_starts,
            ev_starts,
            blocks,
            ev_weight,
            xw: OnceLock::new(),
            run_gram,
            events,
        })
    }

    fn row_into(&self, i: usize, out: &mut [f64]) {
        for (o, c) in out.iter_mut().zip(&self.xc) {
            *o = c[i];
        }
    }

    /// Writes the linear predictors of rows `lo..lo + out.len()` into `out`.
    fn eta_into(&self, beta: &[f64], lo: usize, out: &mut [f64]) {
        let len = out.len();
        out.fill(0.0);
        // Two columns per sweep over `out`, added in column order as one at a time would.
        for (c, b) in self.xc.chunks(2).zip(beta.chunks(2)) {
            match (c, b) {
                ([c0, c1], &[b0, b1]) => {
                    for ((o, x0), x1) in out.iter_mut().zip(&c0[lo..lo + len]).zip(&c1[lo..lo + len]) {
                        *o = *o + b0 * x0 + b1 * x1;
                    }
                }
                _ => {
                    for (o, x) in out.iter_mut().zip(&c[0][lo..lo + len]) {
                        *o += b[0] * x;
                    }
                }
            }
        }
    }

    /// Linear predictors (centred scale) in sorted order.
    fn eta(&self, beta: &[f64]) -> Vec<f64> {
        let mut eta = vec![0.0; self.n];
        eta.par_chunks_mut(CHUNK).enumerate().for_each(|(k, out)| self.eta_into(beta, k * CHUNK, out));
        eta
    }

    /// Risks `w·exp(η − shift)` of rows `lo..lo + out.len()`, into `out`.
    fn risk_into(&self, beta: &[f64], shift: Option<f64>, lo: usize, out: &mut [f64]) {
        let w = self.weight.as_ref().map(|w| &w[lo..lo + out.len()]);
        if shift.is_none() && beta.iter().all(|&b| b == 0.0) {
            // β = 0 (the first evaluation): exp(0) = 1 exactly.
            match w {
                Some(w) => out.copy_from_slice(w),
                None => out.fill(1.0),
            }
            return;
        }
        self.eta_into(beta, lo, out);
        let sh = shift.unwrap_or(0.0);
        match w {
            Some(w) => out.iter_mut().zip(w).for_each(|(r, w)| *r = w * (*r - sh).exp()),
            None => out.iter_mut().for_each(|r| *r = (*r - sh).exp()),
        }
    }

    /// The time of each row in sorted order.
    fn row_times(&self) -> Vec<f64> {
        let mut t = Vec::with_capacity(self.n);
        for (w, &rt) in self.tie_starts.windows(2).zip(&self.run_time) {
            t.resize(w[1], rt);
        }
        t
    }

    /// Σ w·x over all events, per covariate: per run as in [`Self::moments`] at
    /// β = 0 (so bit for bit the same), summed over runs in order.
    fn event_sums(&self) -> &[f64] {
        self.xw.get_or_init(|| {
            self.xc
                .par_iter()
                .map(|c| {
                    let runs = self.tie_starts.windows(2).zip(&self.ev_starts);
                    match &self.weight {
                        Some(wt) => runs.fold(0.0, |s, (w, &ev)| s + dot(&wt[ev..w[1]], &c[ev..w[1]])),
                        None => runs.fold(0.0, |s, (w, &ev)| s + linalg::sum(&c[ev..w[1]])),
                    }
                })
                .collect()
        })
    }

    /// The case weight of sorted row `i`.
    fn weight(&self, i: usize) -> f64 {
        self.weight.as_ref().map_or(1.0, |w| w[i])
    }

    /// Weighted moments of rows `lo..lo + r.len()` with weights `r`: returns
    /// Σ r, writes Σ r·x into `s1` and, when `g` is given, the lower triangle of
    /// Σ r·x xᵀ packed row by row into `g`. `y` is scratch of at least `r.len()`.
    fn moments(&self, r: &[f64], lo: usize, y: &mut [f64], s1: &mut [f64], mut g: Option<&mut [f64]>) -> f64 {
        let len = r.len();
        let y = &mut y[..len];
        let col = |j: usize| &self.xc[j][lo..lo + len];
        for a in 0..self.p {
            for ((yy, &ri), &xv) in y.iter_mut().zip(r).zip(col(a)) {
                *yy = ri * xv;
            }
            s1[a] = linalg::sum(y);
            if let Some(g) = g.as_deref_mut() {
                let row = &mut g[a * (a + 1) / 2..][..=a];
                // Four dot products per sweep over `y` (fewer loads per multiply-add).
                let mut b = 0;
                while b + 4 <= a + 1 {
                    let r = linalg::dot4(y, [col(b), col(b + 1), col(b + 2), col(b + 3)]);
                    row[b..b + 4].copy_from_slice(&r);
                    b += 4;
                }
                for (b, v) in row.iter_mut().enumerate().skip(b) {
                    *v = dot(y, col(b));
                }
            }
        }
        linalg::sum(r)
    }

    /// Log-likelihood, score and information at β. The information is
    /// `Σ_i c_i x_i x_iᵀ − Σ_t (outer products of risk-set means)`, where each
    /// row's coefficient c_i = r_i·(Σ over the event runs whose risk set holds
    /// the row) is the same for all rows of one tie run (plus Efron's removal
    /// term for the run's events).
    fn evaluate(&self, beta: &[f64], ties: Ties) -> Eval {
        let p = self.p;
        let tri = p * (p + 1) / 2;
        // exp(η − shift) must not overflow when summed over n rows. A cheap upper
        // bound on |η| usually allows shift = 0; otherwise the shift is max η.
        let bound: f64 = beta.iter().zip(&self.xmax).map(|(b, m)| b.abs() * m).sum();
        let shift = (bound >= 600.0).then(|| {
            self.blocks
                .par_windows(2)
                .map(|w| {
                    let lo = self.tie_starts[w[0]];
                    let mut eta = vec![0.0; self.tie_starts[w[1]] - lo];
                    self.eta_into(beta, lo, &mut eta);
                    eta.into_iter().fold(f64::NEG_INFINITY, f64::max)
                })
                .reduce(|| f64::NEG_INFINITY, f64::max)
        });
        let runs = self.tie_starts.len() - 1;
        // Per run: [Σ r, Σ r over events, Σ r·x (p), Σ r·x over events (p)], and
        // with per-run Gram matrices Σ r·x xᵀ over the censored rows and over the
        // events (packed triangles). One pass over blocks of whole runs (in
        // parallel): a block's rows are read from memory once for η, the risks
        // and all the run sums, which then come from cache; the arithmetic per
        // run does not depend on the blocking, so the result is the same bit for
        // bit whatever the thread count.
        let t = if self.run_gram { tri } else { 0 };
        let width = 2 + 2 * p + 2 * t;
        let mut sums = vec![0.0; runs * width];
        {
            let mut pieces = Vec::with_capacity(self.blocks.len());
            let mut rest = &mut sums[..];
            for w in self.blocks.windows(2) {
                let (piece, r) = std::mem::take(&mut rest).split_at_mut((w[1] - w[0]) * width);
                rest = r;
                pieces.push((w[0], w[1], piece));
            }
            pieces.into_par_iter().for_each(|(r0, r1, sums)| {
                let lo = self.tie_starts[r0];
                let rows = self.tie_starts[r1] - lo;
                let (mut risk, mut y) = (vec![0.0; rows], vec![0.0; rows]);
                self.risk_into(beta, shift, lo, &mut risk);
                for (run, out) in (r0..r1).zip(sums.chunks_mut(width)) {
                    let (a, ev, b) = (self.tie_starts[run], self.ev_starts[run], self.tie_starts[run + 1]);
                    let (head, rest) = out.split_at_mut(2);
                    let (s1, rest) = rest.split_at_mut(p);
                    let (d1, rest) = rest.split_at_mut(p);
                    let (gc, ge) = rest.split_at_mut(t);
                    let s0 = self.moments(&risk[a - lo..ev - lo], a, &mut y, s1, (t > 0).then_some(gc));
                    let d0 = if ev < b {
                        self.moments(&risk[ev - lo..b - lo], ev, &mut y, d1, (t > 0).then_some(ge))
                    } else {
                        0.0
                    };
                    head[0] = s0 + d0;
                    head[1] = d0;
                    for (s, d) in s1.iter_mut().zip(d1.iter()) {
                        *s += d;
                    }
                }
            });
        }
        // Risk-set totals S0, S1 at each run (backward cumulative sums within strata).
        let mut cs0 = vec![0.0; runs];
        let mut cs1 = vec![0.0; runs * p];
        for sidx in 0..self.strata.len() - 1 {
            let (first_run, last_run) = self.runs_of_stratum(sidx);
            let (mut s0, mut s1) = (0.0, vec![0.0; p]);
            for run in (first_run..last_run).rev() {
                let o = &sums[run * width..(run + 1) * width];
                s0 += o[0];
                for j in 0..p {
                    s1[j] += o[2 + j];
                }
                cs0[run] = s0;
                cs1[run * p..(run + 1) * p].copy_from_slice(&s1);
            }
        }
        // Efron's sums over the tie index l = 0..d, φ_l = S0 − (l/d) D0, independent per run:
        // [Σ ln φ, Σ 1/φ, Σ f/φ, Σ 1/φ², Σ f/φ², Σ f²/φ²] with f = l/d.
        let mut efron = vec![0.0; runs * 6];
        if ties == Ties::Efron {
            efron.par_chunks_mut(6).enumerate().for_each(|(run, out)| {
                let d = self.tie_starts[run + 1] - self.ev_starts[run];
                let (s0, d0) = (cs0[run], sums[run * width + 1]);
                let df = d as f64;
                // Σ ln φ_l = d·ln S0 + Σ ln(φ_l/S0), the logarithm taken once per 16
                // factors of the product: each factor is at least 1/d, so 16 of
                // them cannot underflow, and a logarithm costs more than the rest
                // of the loop.
                let r = d0 / s0;
                let (mut logs, mut prod) = (df * s0.ln(), 1.0f64);
                for l in 0..d {
                    let f = l as f64 / df;
                    let phi = s0 - f * d0;
                    let inv = 1.0 / phi;
                    prod *= 1.0 - f * r;
                    if l % 16 == 15 {
                        logs += prod.ln();
                        prod = 1.0;
                    }
                    out[1] += inv;
                    out[2] += f * inv;
                    out[3] += inv * inv;
                    out[4] += f * inv * inv;
                    out[5] += f * f * inv * inv;
                }
                out[0] = logs + prod.ln();
            });
        }
        // Σ over events of w·η, and of w·x for the score, need no pass over the
        // rows: at β = 0 the risks are the weights, so the events' Σ r·x are Σ w·x.
        let xw = if shift.is_none() && beta.iter().all(|&b| b == 0.0) {
            self.xw.get_or_init(|| {
                (0..runs).fold(vec![0.0; p], |mut xw, run| {
                    let d1 = &sums[run * width + 2 + p..run * width + 2 + 2 * p];
                    xw.iter_mut().zip(d1).for_each(|(x, d)| *x += d);
                    xw
                })
            })
        } else {
            self.event_sums()
        };
        let mut ll = dot(beta, xw);
        let mut u = xw.to_vec();
        let mut outer = vec![0.0; p * p];
        // Per run: the coefficient every at-risk row receives (cumulated later)
        // and the extra coefficient for the run's events (Efron's removal).
        let mut run_c = vec![0.0; runs];
        let mut run_ev = vec![0.0; runs];
        for run in 0..runs {
            let d = self.tie_starts[run + 1] - self.ev_starts[run];
            if d == 0 {
                continue;
            }
            let o = &sums[run * width..(run + 1) * width];
            let (s0, s1) = (cs0[run], &cs1[run * p..(run + 1) * p]);
            let wd = self.ev_weight[run];
            let d1 = &o[2 + p..2 + 2 * p];
            match ties {
                Ties::Breslow => {
                    ll -= wd * (s0.ln() + shift.unwrap_or(0.0));
                    run_c[run] = wd / s0;
                    for a in 0..p {
                        let ma = s1[a] / s0;
                        u[a] -= wd * ma;
                        for b in 0..=a {
                            outer[a * p + b] += wd * ma * s1[b] / s0;
                        }
                    }
                }
                Ties::Efron => {
                    let e = &efron[run * 6..run * 6 + 6];
                    let (lsum, h0, h1, q0, q1, q2) = (e[0], e[1], e[2], e[3], e[4], e[5]);
                    let df = d as f64;
                    let m = wd / df;
                    ll -= m * (lsum + df * shift.unwrap_or(0.0));
                    run_c[run] = m * h0;
                    run_ev[run] = -m * h1;
                    for a in 0..p {
                        u[a] -= m * (s1[a] * h0 - d1[a] * h1);
                        for b in 0..=a {
                            outer[a * p + b] += m
                                * (s1[a] * s1[b] * q0 - (s1[a] * d1[b] + d1[a] * s1[b]) * q1
                                    + d1[a] * d1[b] * q2);
                        }
                    }
                }
            }
        }
        // Row coefficients: every row gets Σ run_c over event runs at or before its
        // time in its stratum; event rows also get their own run's Efron correction.
        let mut cum = vec![0.0; runs];
        for sidx in 0..self.strata.len() - 1 {
            let (first_run, last_run) = self.runs_of_stratum(sidx);
            let mut acc = 0.0;
            for run in first_run..last_run {
                acc += run_c[run];
                cum[run] = acc;
            }
        }
        // Σ_i c_i x_i x_iᵀ, lower triangle packed.
        let mut gram = vec![0.0; tri];
        if self.run_gram {
            for run in 0..runs {
                let (c, e) = (cum[run], cum[run] + run_ev[run]);
                let (gc, ge) = sums[run * width + 2 + 2 * p..(run + 1) * width].split_at(t);
                for ((g, x), z) in gram.iter_mut().zip(gc).zip(ge) {
                    *g += c * x + e * z;
                }
            }
        } else {
            // A second pass over the blocks with the row coefficients as weights.
            let parts: Vec<Vec<f64>> = self
                .blocks
                .par_windows(2)
                .map(|w| {
                    let lo = self.tie_starts[w[0]];
                    let rows = self.tie_starts[w[1]] - lo;
                    let mut c = vec![0.0; rows];
                    self.risk_into(beta, shift, lo, &mut c);
                    for run in w[0]..w[1] {
                        let (a, ev, b) = (self.tie_starts[run], self.ev_starts[run], self.tie_starts[run + 1]);
                        c[a - lo..ev - lo].iter_mut().for_each(|v| *v *= cum[run]);
                        let e = cum[run] + run_ev[run];
                        c[ev - lo..b - lo].iter_mut().for_each(|v| *v *= e);
                    }
                    let (mut y, mut s1, mut g) = (vec![0.0; rows], vec![0.0; p], vec![0.0; tri]);
                    self.moments(&c, lo, &mut y, &mut s1, Some(&mut g));
                    g
                })
                .collect();
            for part in parts {
                for (g, v) in gram.iter_mut().zip(part) {
                    *g += v;
                }
            }
        }
        let mut info = vec![0.0; p * p];
        for a in 0..p {
            for b in 0..=a {
                let v = gram[a * (a + 1) / 2 + b] - outer[a * p + b];
                info[a * p + b] = v;
                info[b * p + a] = v;
            }
        }
        Eval { ll, u, info }
    }

    /// The half-open range of tie runs belonging to stratum `sidx`.
    fn runs_of_stratum(&self, sidx: usize) -> (usize, usize) {
        let (lo, hi) = (self.strata[sidx], self.strata[sidx + 1]);
        (
            self.tie_starts.partition_point(|&s| s < lo),
            self.tie_starts.partition_point(|&s| s < hi),
        )
    }

    fn solve(&self, info: &[f64], u: &[f64]) -> Result<(linalg::Cholesky, Vec<f64>)> {
        let chol = linalg::cholesky(info, self.p).map_err(|j| Error::Singular {
            hint: format!(
                "covariate `{}` is collinear with the others (or has no variation among events)",
                self.names[j]
            ),
        })?;
        let step = chol.solve(u);
        Ok((chol, step))
    }

    /// Fits the model by Newton–Raphson.
    pub fn fit(&self, opts: &CoxOptions) -> Result<CoxFit> {
        let p = self.p;
        let mut beta = vec![0.0; p];
        let first = self.evaluate(&beta, opts.ties);
        let (chol0, step0) = self.solve(&first.info, &first.u)?;
        let score_stat: f64 = first.u.iter().zip(&step0).map(|(a, b)| a * b).sum();
        let loglik_null = first.ll;
        let _ = chol0;
        let mut cur = first;
        let mut step = step0;
        let mut iterations = 0;
        loop {
            if iterations >= opts.max_iter {
                let last = step.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                return Err(Error::NotConverged {
                    model: "cox regression",
                    iterations,
                    last_change: last,
                });
            }
            iterations += 1;
            let mut scale = 1.0;
            let next = loop {
                let cand: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + scale * s).collect();
                let ev = self.evaluate(&cand, opts.ties);
                if ev.ll.is_finite() && ev.ll >= cur.ll - 1e-10 * cur.ll.abs().max(1.0) {
                    beta = cand;
                    break ev;
                }
                scale *= 0.5;
                if scale < 1e-8 {
                    return Err(Error::NotConverged {
                        model: "cox regression",
                        iterations,
                        last_change: scale,
                    });
                }
            };
            let change = (next.ll - cur.ll).abs();
            let max_step = step.iter().fold(0.0f64, |m, v| m.max(scale * v.abs()));
            cur = next;
            if beta.iter().any(|b| b.abs() > 1e6) {
                return Err(Error::NotConverged {
                    model: "cox regression (monotone likelihood: a covariate separates events)",
                    iterations,
                    last_change: max_step,
                });
            }
            let (_, s) = self.solve(&cur.info, &cur.u)?;
            step = s;
            // Newton converges quadratically: once the next step moves every
            // coefficient by less than 1e-7 per SD of its covariate, applying it
            // leaves an error of order 1e-14, and the information at the current
            // point differs from that at the optimum by a relative O(1e-7) at most.
            let next_step = step
                .iter()
                .zip(&self.sd)
                .fold(0.0f64, |m, (v, sd)| m.max((v * sd).abs()));
            if next_step < 1e-7 || (change < 1e-13 * cur.ll.abs().max(1.0) && next_step < 1e-5) {
                for (b, s) in beta.iter_mut().zip(&step) {
                    *b += s;
                }
                break;
            }
        }
        let (chol, _) = self.solve(&cur.info, &cur.u)?;
        let variance = chol.inverse();
        let robust_variance = if opts.robust {
            Some(self.sandwich(&beta, &variance))
        } else {
            None
        };
        let v_used = robust_variance.as_ref().unwrap_or(&variance);
        let z = dist::norm_ppf(1.0 - opts.alpha / 2.0);
        let coefficients = (0..p)
            .map(|j| {
                let se = v_used[j * p + j].sqrt();
                let zz = beta[j] / se;
                CoxCoef {
                    name: self.names[j].clone(),
                    coef: beta[j],
                    se,
                    hr: beta[j].exp(),
                    hr_ci: ((beta[j] - z * se).exp(), (beta[j] + z * se).exp()),
                    z: zz,
                    p: dist::chi2_sf(zz * zz, 1.0),
                }
            })
            .collect();
        let wald = match linalg::cholesky(v_used, p) {
            Ok(c) => {
                let s = c.solve(&beta);
                beta.iter().zip(&s).map(|(a, b)| a * b).sum()
            }
            Err(_) => f64::NAN,
        };
        Ok(CoxFit {
            coefficients,
            loglik: cur.ll,
            loglik_null,
            lr_test: ChiSquareTest::new(2.0 * (cur.ll - loglik_null), p),
            wald_test: ChiSquareTest::new(wald, p),
            score_test: ChiSquareTest::new(score_stat, p),
            concordance: if opts.concordance {
                self.concordance(&beta)
            } else {
                None
            },
            variance,
            robust_variance,
            n: self.n,
            events: self.events,
            iterations,
            options: opts.clone(),
        })
    }

    /// Lin–Wei sandwich `V (Σ w_i² U_i U_iᵀ) V` from Breslow-form score residuals
    /// with proper tied risk sets (identical to lifelines' when times are distinct).
    #[allow(clippy::needless_range_loop)]
    fn sandwich(&self, beta: &[f64], variance: &[f64]) -> Vec<f64> {
        let p = self.p;
        let mut xi = vec![0.0; p];
        let eta = self.eta(beta);
        let phi: Vec<f64> = eta.iter().map(|e| e.exp()).collect();
        // Per run: risk-set mean x̄_t and hazard increment wd_t / S0_t.
        let runs = self.tie_starts.len() - 1;
        let mut inc = vec![0.0; runs];
        let mut mean = vec![0.0; runs * p];
        let mut s1 = vec![0.0; p];
        let mut run = runs;
        for sidx in (0..self.strata.len() - 1).rev() {
            let (lo, hi) = (self.strata[sidx], self.strata[sidx + 1]);
            let mut s0 = 0.0;
            s1.iter_mut().for_each(|v| *v = 0.0);
            let mut end = hi;
            while end > lo {
                run -= 1;
                let start = self.tie_starts[run];
                let mut wd = 0.0;
                for i in start..end {
                    let r = self.weight(i) * phi[i];
                    s0 += r;
                    self.row_into(i, &mut xi);
                    for j in 0..p {
                        s1[j] += r * xi[j];
                    }
                    if self.event[i] {
                        wd += self.weight(i);
                    }
                }
                inc[run] = wd / s0;
                for j in 0..p {
                    mean[run * p + j] = s1[j] / s0;
                }
                end = start;
            }
        }
        // Forward: U_i = δ_i (x_i − x̄(T_i)) − φ_i (x_i H(T_i) − G(T_i)).
        let mut resid = vec![0.0; self.n * p];
        let mut g = vec![0.0; p];
        let mut run = 0;
        for sidx in 0..self.strata.len() - 1 {
            let (lo, hi) = (self.strata[sidx], self.strata[sidx + 1]);
            let mut h = 0.0;
            g.iter_mut().for_each(|v| *v = 0.0);
            let mut start = lo;
            while start < hi {
                let end = self.tie_starts[run + 1];
                h += inc[run];
                for j in 0..p {
                    g[j] += inc[run] * mean[run * p + j];
                }
                for i in start..end {
                    self.row_into(i, &mut xi);
                    let w = self.weight(i);
                    for j in 0..p {
                        let mut u = -phi[i] * (xi[j] * h - g[j]);
                        if self.event[i] {
                            u += xi[j] - mean[run * p + j];
                        }
                        resid[i * p + j] = w * u;
                    }
                }
                start = end;
                run += 1;
            }
        }
        let mut b = vec![0.0; p * p];
        for r in resid.chunks_exact(p) {
            for a in 0..p {
                for c in 0..p {
                    b[a * p + c] += r[a] * r[c];
                }
            }
        }
        let vb = linalg::mat_mul(variance, &b, p);
        linalg::mat_mul(&vb, variance, p)
    }

    /// Harrell's C within strata, counting pairs exactly as lifelines does
    /// (ties in predicted risk count one half; a death compares with earlier deaths,
    /// a censoring with deaths at or before its time). O(n log n): rows are ranked
    /// by linear predictor once, then a Fenwick tree counts earlier deaths by rank.
    fn concordance(&self, beta: &[f64]) -> Option<f64> {
        let eta = self.eta(beta);
        let (mut correct, mut tied, mut pairs) = (0u64, 0u64, 0u64);
        for sidx in 0..self.strata.len() - 1 {
            let (lo, hi) = (self.strata[sidx], self.strata[sidx + 1]);
            // Dense ranks of η within the stratum (equal η share a rank).
            let mut by_eta: Vec<(u64, u32)> = (lo..hi)
                .map(|i| (order_key(eta[i]), (i - lo) as u32))
                .collect();
            by_eta.par_sort_unstable();
            let mut rank = vec![0u32; hi - lo];
            let mut r = 0u32;
            for k in 0..by_eta.len() {
                if k > 0 && by_eta[k].0 != by_eta[k - 1].0 {
                    r += 1;
                }
                rank[by_eta[k].1 as usize] = r;
            }
            let m = r as usize + 1;
            let mut fen = vec![0u32; m + 1];
            let mut equal = vec![0u32; m];
            let mut inserted = 0u64;
            // Number of inserted deaths with rank <= k.
            let prefix = |fen: &[u32], k: usize| {
                let mut k = k + 1;
                let mut s = 0u64;
                while k > 0 {
                    s += u64::from(fen[k]);
                    k &= k - 1;
                }
                s
            };
            let (first_run, last_run) = self.runs_of_stratum(sidx);
            for run in first_run..last_run {
                let (start, end) = (self.tie_starts[run], self.tie_starts[run + 1]);
                let mut compare = |i: usize, fen: &[u32], equal: &[u32], inserted: u64| {
                    let k = rank[i - lo] as usize;
                    let le = prefix(fen, k);
                    pairs += inserted;
                    correct += inserted - le;
                    tied += u64::from(equal[k]);
                };
                // Deaths compare with strictly earlier deaths, then join the tree;
                // censorings at the same time compare with them too.
                for i in (start..end).filter(|&i| self.event[i]) {
                    compare(i, &fen, &equal, inserted);
                }
                for i in (start..end).filter(|&i| self.event[i]) {
                    let k = rank[i - lo] as usize;
                    equal[k] += 1;
                    let mut j = k + 1;
                    while j <= m {
                        fen[j] += 1;
                        j += j & j.wrapping_neg();
                    }
                    inserted += 1;
                }
                for i in (start..end).filter(|&i| !self.event[i]) {
                    compare(i, &fen, &equal, inserted);
                }
            }
        }
        (pairs > 0).then(|| (correct as f64 + tied as f64 / 2.0) / pairs as f64)
    }

    /// Schoenfeld residuals (tie-method means) for event rows in sorted order,
    /// row-major (events × p), plus the event rows' times.
    #[allow(clippy::needless_range_loop)]
    pub fn schoenfeld_residuals(&self, beta: &[f64], ties: Ties) -> (Vec<f64>, Vec<f64>) {
        let p = self.p;
        let mut xi = vec![0.0; p];
        let eta = self.eta(beta);
        let shift = eta.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let risk: Vec<f64> = eta
            .iter()
            .enumerate()
            .map(|(i, e)| self.weight(i) * (e - shift).exp())
            .collect();
        let mut res = vec![0.0; self.events * p];
        let mut times = vec![0.0; self.events];
        let mut ev_idx = self.events;
        let mut s1 = vec![0.0; p];
        let mut d1 = vec![0.0; p];
        let mut mean = vec![0.0; p];
        let mut run = self.tie_starts.len() - 1;
        for sidx in (0..self.strata.len() - 1).rev() {
            let (lo, hi) = (self.strata[sidx], self.strata[sidx + 1]);
            let mut s0 = 0.0;
            s1.iter_mut().for_each(|v| *v = 0.0);
            let mut end = hi;
            while end > lo {
                run -= 1;
                let start = self.tie_starts[run];
                let mut d0 = 0.0;
                let mut d = 0;
                d1.iter_mut().for_each(|v| *v = 0.0);
                for i in start..end {
                    self.row_into(i, &mut xi);
                    s0 += risk[i];
                    for j in 0..p {
                        s1[j] += risk[i] * xi[j];
                    }
                    if self.event[i] {
                        d += 1;
                        d0 += risk[i];
                        for j in 0..p {
                            d1[j] += risk[i] * xi[j];
                        }
                    }
                }
                if d > 0 {
                    match ties {
                        Ties::Breslow => (0..p).for_each(|j| mean[j] = s1[j] / s0),
                        Ties::Efron => {
                            mean.iter_mut().for_each(|v| *v = 0.0);
                            let df = d as f64;
                            for l in 0..d {
                                let f = l as f64 / df;
                                let phi = s0 - f * d0;
                                for j in 0..p {
                                    mean[j] += (s1[j] - f * d1[j]) / (phi * df);
                                }
                            }
                        }
                    }
                    for i in (start..end).rev().filter(|&i| self.event[i]) {
                        ev_idx -= 1;
                        self.row_into(i, &mut xi);
                        for j in 0..p {
                            res[ev_idx * p + j] = xi[j] - mean[j];
                        }
                        times[ev_idx] = self.run_time[run];
                    }
                }
                end = start;
            }
        }
        (res, times)
    }

    /// The Grambsch–Therneau test of proportional hazards in lifelines' approximate
    /// form: for each covariate, (Σ g̃_k s*_k)² / (D · se² · Σ g̃_k²) on 1 df, where
    /// s* are the scaled Schoenfeld residuals D·r·V and g̃ the centred transformed
    /// event times.
    pub fn ph_test(&self, fit: &CoxFit, transform: TimeTransform) -> Result<Vec<PhTestRow>> {
        let p = self.p;
        let beta: Vec<f64> = fit.coefficients.iter().map(|c| c.coef).collect();
        let (res, times) = self.schoenfeld_residuals(&beta, fit.options.ties);
        let d = self.events as f64;
        let g: Vec<f64> = match transform {
            TimeTransform::Rank => (1..=self.events).map(|k| k as f64).collect(),
            TimeTransform::Identity => times.clone(),
            TimeTransform::Log => times.iter().map(|t| t.ln()).collect(),
            TimeTransform::Km => {
                let km = super::km::kaplan_meier_weighted(
                    &self.row_times(),
                    &self.event,
                    self.weight.as_deref(),
                    None,
                    &super::km::KmOptions::default(),
                )?;
                times
                    .iter()
                    .map(|&t| 1.0 - km.groups[0].survival_at(t))
                    .collect()
            }
        };
        let gm = g.iter().sum::<f64>() / g.len() as f64;
        let gc: Vec<f64> = g.iter().map(|v| v - gm).collect();
        let gss: f64 = gc.iter().map(|v| v * v).sum();
        let mut num = vec![0.0; p];
        for (k, r) in res.chunks_exact(p).enumerate() {
            let scaled = linalg::mat_vec(&fit.variance, r);
            for j in 0..p {
                num[j] += gc[k] * d * scaled[j];
            }
        }
        Ok((0..p)
            .map(|j| {
                let se = fit.coefficients[j].se;
                let stat = num[j] * num[j] / (d * se * se * gss);
                PhTestRow {
                    name: self.names[j].clone(),
                    statistic: stat,
                    p: dist::chi2_sf(stat, 1.0),
                }
            })
            .collect())
    }
}

/// Maps an `f64` to a `u64` with the same total order.
fn order_key(v: f64) -> u64 {
    let b = (if v == 0.0 { 0.0f64 } else { v }).to_bits();
    if b >> 63 == 1 { !b } else { b | (1 << 63) }
}

impl CoxFit {
    /// The CLI's JSON shape: `coefficients` rows (`name`, `coef`, `se`, `hr`, `hr_ci`, `z`, `p`),
    /// `loglik`, `concordance`, plus the three global tests and counts.
    pub fn to_json(&self) -> Value {
        json!({
            "coefficients": self.coefficients.iter().map(|c| json!({
                "name": c.name, "coef": c.coef, "se": c.se, "hr": c.hr,
                "hr_ci": [c.hr_ci.0, c.hr_ci.1], "z": c.z, "p": c.p,
            })).collect::<Vec<_>>(),
            "loglik": self.loglik,
            "loglik_null": self.loglik_null,
            "concordance": self.concordance,
            "lr_test": self.lr_test.to_json(),
            "wald_test": self.wald_test.to_json(),
            "score_test": self.score_test.to_json(),
            "n": self.n,
            "events": self.events,
            "ties": match self.options.ties { Ties::Efron => "efron", Ties::Breslow => "breslow" },
            "robust": self.options.robust,
        })
    }

    /// A plain-text coefficient table with the global tests.
    pub fn render_table(&self) -> String {
        use std::fmt::Write;
        let level = 100.0 * (1.0 - self.options.alpha);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<16} {:>10} {:>10} {:>10} {:>22} {:>8} {:>10}",
            "covariate",
            "coef",
            if self.options.robust {
                "robust se"
            } else {
                "se"
            },
            "HR",
            format!("HR {level}% CI"),
            "z",
            "p"
        );
        for c in &self.coefficients {
            let _ = writeln!(
                s,
                "{:<16} {:>10.4} {:>10.4} {:>10.4} {:>22} {:>8.3} {:>10.3e}",
                c.name,
                c.coef,
                c.se,
                c.hr,
                format!("{:.4} – {:.4}", c.hr_ci.0, c.hr_ci.1),
                c.z,
                c.p
            );
        }
        let conc = self
            .concordance
            .map_or_else(|| "n/a".to_string(), |c| format!("{c:.4}"));
        let _ = writeln!(
            s,
            "\nn = {}, events = {}, log partial likelihood = {:.4}, concordance = {conc}",
            self.n, self.events, self.loglik
        );
        for (name, t) in [
            ("likelihood ratio", self.lr_test),
            ("wald", self.wald_test),
            ("score (log-rank)", self.score_test),
        ] {
            let _ = writeln!(
                s,
                "{name} test: {:.4} on {} df, p = {:.3e}",
                t.statistic, t.df, t.p
            );
        }
        s
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn model(ties_data: bool) -> (Vec<f64>, Vec<bool>, Vec<Vec<f64>>) {
        let t: Vec<f64> = (0..40)
            .map(|i| {
                if ties_data {
                    ((i * 7) % 11) as f64 + 1.0
                } else {
                    i as f64 * 1.37 % 23.0 + 0.1
                }
            })
            .collect();
        let e: Vec<bool> = (0..40).map(|i| i % 4 != 0).collect();
        let x1: Vec<f64> = (0..40).map(|i| ((i * 13) % 7) as f64 / 3.0).collect();
        let x2: Vec<f64> = (0..40).map(|i| (i % 2) as f64).collect();
        (t, e, vec![x1, x2])
    }

    /// Efron log-likelihood straight from the definition (risk sets by scanning).
    fn naive_efron_ll(t: &[f64], e: &[bool], x: &[Vec<f64>], beta: &[f64]) -> f64 {
        let eta: Vec<f64> = (0..t.len()).map(|i| x.iter().zip(beta).map(|(c, b)| c[i] * b).sum()).collect();
        let mut times: Vec<f64> = t.iter().zip(e).filter(|p| *p.1).map(|p| *p.0).collect();
        times.sort_by(f64::total_cmp);
        times.dedup();
        let mut ll = 0.0;
        for &tt in &times {
            let s0: f64 = (0..t.len()).filter(|&i| t[i] >= tt).map(|i| eta[i].exp()).sum();
            let dead: Vec<usize> = (0..t.len()).filter(|&i| t[i] == tt && e[i]).collect();
            let d0: f64 = dead.iter().map(|&i| eta[i].exp()).sum();
            let d = dead.len() as f64;
            for (l, &i) in dead.iter().enumerate() {
                ll += eta[i] - (s0 - l as f64 / d * d0).ln();
            }
        }
        ll
    }

    #[test]
    fn blocked_evaluation_on_many_rows_matches_the_definition() {
        // 30,000 rows over many blocks of runs, one run longer than a block,
        // heavy ties; the centring shifts η by a constant, which cancels.
        let n = 30_000;
        let t: Vec<f64> = (0..n).map(|i| if i % 5 == 0 { 7.0 } else { ((i * 7919) % 61) as f64 + 1.0 }).collect();
        let e: Vec<bool> = (0..n).map(|i| (i * 31) % 10 < 7).collect();
        let x1: Vec<f64> = (0..n).map(|i| ((i * 13) % 17) as f64 / 5.0).collect();
        let x2: Vec<f64> = (0..n).map(|i| (i % 3 == 0) as u8 as f64).collect();
        let x = vec![x1, x2];
        let names = vec!["a".to_string(), "b".to_string()];
        let m = CoxModel::new(&t, &e, &x, &names, None, None).unwrap();
        assert!(m.blocks.len() > 3, "several blocks: {:?}", m.blocks.len());
        let beta = [0.3, -0.5];
        let ev = m.evaluate(&beta, Ties::Efron);
        let centred: Vec<Vec<f64>> = x
            .iter()
            .map(|c| {
                let mean = c.iter().sum::<f64>() / n as f64;
                c.iter().map(|v| v - mean).collect()
            })
            .collect();
        let want = naive_efron_ll(&t, &e, &centred, &beta);
        assert!(((ev.ll - want) / want).abs() < 1e-10, "{} vs {want}", ev.ll);
        // The event sums taken from the evaluation at β = 0 equal those of the
        // separate pass, bit for bit.
        let w: Vec<f64> = (0..n).map(|i| 1.0 + (i % 3) as f64 * 0.5).collect();
        for weights in [None, Some(&w[..])] {
            let fresh = || CoxModel::new(&t, &e, &x, &names, None, weights).unwrap();
            let at_zero = fresh();
            at_zero.evaluate(&[0.0, 0.0], Ties::Efron);
            assert_eq!(at_zero.xw.get().map(Vec::as_slice), Some(fresh().event_sums()));
        }
        // The per-run Gram matrices (taken here: 62 runs) and the second pass
        // over the rows give the same information, score and likelihood.
        assert!(m.run_gram);
        let two_pass = CoxModel { run_gram: false, ..m.clone() };
        for ties in [Ties::Efron, Ties::Breslow] {
            let (a, b) = (m.evaluate(&beta, ties), two_pass.evaluate(&beta, ties));
            let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0);
            assert!(close(a.ll, b.ll), "{ties:?} {} {}", a.ll, b.ll);
            assert!(a.u.iter().zip(&b.u).all(|(x, y)| close(*x, *y)), "{ties:?} {:?} {:?}", a.u, b.u);
            assert!(a.info.iter().zip(&b.info).all(|(x, y)| close(*x, *y)), "{ties:?} {:?} {:?}", a.info, b.info);
        }
        // Covariates scaled by 1000 need the overflow shift (|η| bound >= 600):
        // the estimates scale back exactly, the likelihood is unchanged.
        let fit = m.fit(&CoxOptions::default()).unwrap();
        let big: Vec<Vec<f64>> = x.iter().map(|c| c.iter().map(|v| v * 1000.0).collect()).collect();
        let mb = CoxModel::new(&t, &e, &big, &names, None, None).unwrap();
        let fit_b = mb.fit(&CoxOptions::default()).unwrap();
        for (a, b) in fit.coefficients.iter().zip(&fit_b.coefficients) {
            assert!((a.coef - 1000.0 * b.coef).abs() < 1e-8 * a.coef.abs().max(1e-3), "{} vs {}", a.coef, b.coef);
        }
        assert!((fit.loglik - fit_b.loglik).abs() < 1e-8 * fit.loglik.abs());
    }

    #[test]
    fn score_is_zero_at_the_estimate_and_information_matches_finite_differences() {
        let (t, e, x) = model(true);
        let names = vec!["a".to_string(), "b".to_string()];
        for ties in [Ties::Efron, Ties::Breslow] {
            let m = CoxModel::new(&t, &e, &x, &names, None, None).unwrap();
            let fit = m
                .fit(&CoxOptions {
                    ties,
                    ..CoxOptions::default()
                })
                .unwrap();
            let beta: Vec<f64> = fit.coefficients.iter().map(|c| c.coef).collect();
            let ev = m.evaluate(&beta, ties);
            assert!(ev.u.iter().all(|u| u.abs() < 1e-9), "{:?}", ev.u);
            // Numerical derivative of the score gives minus the information.
            let h = 1e-6;
            for j in 0..2 {
                let mut bp = beta.clone();
                bp[j] += h;
                let mut bm = beta.clone();
                bm[j] -= h;
                let (up, um) = (m.evaluate(&bp, ties).u, m.evaluate(&bm, ties).u);
                for k in 0..2 {
                    let num = -(up[k] - um[k]) / (2.0 * h);
                    assert!(
                        (num - ev.info[k * 2 + j]).abs() < 1e-5,
                        "{ties:?} {num} {}",
                        ev.info[k * 2 + j]
                    );
                }
                // And the log-likelihood's derivative gives the score.
                let (lp, lm) = (m.evaluate(&bp, ties).ll, m.evaluate(&bm, ties).ll);
                assert!(((lp - lm) / (2.0 * h) - ev.u[j]).abs() < 1e-5);
            }
            assert!(
                fit.lr_test.statistic >= 0.0 && fit.concordance.is_some_and(|c| c > 0.0 && c < 1.0)
            );
        }
    }

    #[test]
    fn strata_of_one_equal_unstratified_and_errors_are_clear() {
        let (t, e, x) = model(false);
        let names = vec!["a".to_string(), "b".to_string()];
        let plain = CoxModel::new(&t, &e, &x, &names, None, None)
            .unwrap()
            .fit(&CoxOptions::default())
            .unwrap();
        let s = Groups::single(t.len(), "s");
        let strat = CoxModel::new(&t, &e, &x, &names, Some(&s), None)
            .unwrap()
            .fit(&CoxOptions::default())
            .unwrap();
        assert_eq!(plain.coefficients, strat.coefficients);
        // Integer times without strata take the counting layout, with a stratum
        // the sorting one: the same model, bit for bit, with and without weights.
        let (ti, ei, xi) = model(true);
        let w: Vec<f64> = (0..ti.len()).map(|i| 1.0 + (i % 3) as f64 * 0.5).collect();
        for weights in [None, Some(&w[..])] {
            let counted = CoxModel::new(&ti, &ei, &xi, &names, None, weights).unwrap();
            let sorted = CoxModel::new(&ti, &ei, &xi, &names, Some(&s), weights).unwrap();
            assert_eq!(counted.strata, sorted.strata);
            assert_eq!((&counted.run_time, &counted.event, &counted.weight), (&sorted.run_time, &sorted.event, &sorted.weight));
            assert_eq!(counted.row_times(), super::super::sort_rows_with_times(&ti, None, None).1);
            assert_eq!((&counted.tie_starts, &counted.ev_starts), (&sorted.tie_starts, &sorted.ev_starts));
            assert_eq!(counted.xc, sorted.xc);
            let opts = CoxOptions { robust: true, ..CoxOptions::default() };
            assert_eq!(counted.fit(&opts).unwrap(), sorted.fit(&opts).unwrap());
        }
        // A NaN or an infinity is reported with its row (also +∞ and −∞ together).
        for (bad, row) in [(vec![(3, f64::NAN)], 4), (vec![(7, f64::INFINITY), (9, f64::NEG_INFINITY)], 8)] {
            let mut xb = x.clone();
            for &(i, v) in &bad {
                xb[1][i] = v;
            }
            match CoxModel::new(&t, &e, &xb, &names, None, None) {
                Err(Error::InvalidValue { what, row: r, .. }) => assert_eq!((what.as_str(), r), ("covariate `b`", row)),
                other => panic!("{other:?}"),
            }
        }
        let constant = vec![vec![1.0; t.len()]];
        assert!(matches!(
            CoxModel::new(&t, &e, &constant, &names[..1], None, None),
            Err(Error::Singular { .. })
        ));
        let coll = vec![x[0].clone(), x[0].iter().map(|v| 2.0 * v + 1.0).collect()];
        let m = CoxModel::new(&t, &e, &coll, &names, None, None).unwrap();
        let err = m.fit(&CoxOptions::default()).unwrap_err().to_string();
        assert!(err.contains("singular") && err.contains("`b`"), "{err}");
        assert!(matches!(
            CoxModel::new(&t, &vec![false; t.len()], &x, &names, None, None),
            Err(Error::NoEvents { .. })
        ));
        let j = plain.to_json();
        assert_eq!(j["coefficients"][1]["name"], "b");
        assert!(plain.render_table().contains("concordance"));
        let m = CoxModel::new(&t, &e, &x, &names, None, None).unwrap();
        let ph = m
            .ph_test(&plain, TimeTransform::parse("km").unwrap())
            .unwrap();
        let pj = ph_test_to_json(&ph);
        assert_eq!(pj[0]["name"], "a");
        assert!(
            pj[1]["p"]
                .as_f64()
                .is_some_and(|p| (0.0..=1.0).contains(&p))
        );
        assert!(TimeTransform::parse("bogus").is_err());
    }
}
