//! Survival statistics, propensity scores and rates.
//!
//! Submodules own one method each: [`km`] (Kaplan–Meier), [`logrank`]
//! (log-rank family tests), [`cox`] (Cox proportional hazards), [`logistic`]
//! (IRLS logistic regression), [`psm`] (propensity matching, weights and
//! balance) and [`rates`] (proportions with Wilson intervals). [`dist`] and
//! [`linalg`] are the numeric foundations; [`from_table`] has one function per
//! CLI command. Inputs are plain slices so callers
//! can feed them from a [`crate::Table`] or from any other source.

pub mod cox;
pub mod dist;
pub mod from_table;
pub mod km;
pub mod linalg;
pub mod logistic;
pub mod logrank;
pub mod psm;
pub mod rates;

use std::collections::HashMap;

use crate::{Error, Result};

/// A grouping of observations: a code per row and a display name per code.
///
/// Codes are assigned in the natural order of the labels (numeric order when
/// every label is a number, otherwise lexicographic), so results are listed in
/// a stable, human-expected order.
#[derive(Debug, Clone, PartialEq)]
pub struct Groups {
    codes: Vec<u32>,
    names: Vec<String>,
}

impl Groups {
    /// Groups rows by their text labels.
    pub fn from_labels<S: AsRef<str>>(labels: &[S]) -> Self {
        let mut map: HashMap<&str, u32> = HashMap::new();
        let mut first: Vec<&str> = Vec::new();
        let mut raw = Vec::with_capacity(labels.len());
        for l in labels {
            let l = l.as_ref();
            let next = first.len() as u32;
            let c = *map.entry(l).or_insert_with(|| {
                first.push(l);
                next
            });
            raw.push(c);
        }
        let numeric: Option<Vec<f64>> =
            first.iter().map(|s| s.trim().parse::<f64>().ok()).collect();
        let mut order: Vec<usize> = (0..first.len()).collect();
        match numeric {
            Some(v) => {
                order.sort_by(|&a, &b| v[a].total_cmp(&v[b]).then_with(|| first[a].cmp(first[b])))
            }
            None => order.sort_by(|&a, &b| first[a].cmp(first[b])),
        }
        let mut remap = vec![0u32; first.len()];
        for (new, &old) in order.iter().enumerate() {
            remap[old] = new as u32;
        }
        Groups {
            codes: raw.into_iter().map(|c| remap[c as usize]).collect(),
            names: order.iter().map(|&o| first[o].to_string()).collect(),
        }
    }

    /// Groups rows by numeric keys (for example a 0/1 treatment column).
    pub fn from_numbers(values: &[f64]) -> Self {
        let labels: Vec<String> = values
            .iter()
            .map(|&v| crate::table::format_number(v))
            .collect();
        Self::from_labels(&labels)
    }

    /// Builds groups from precomputed codes; every code must index `names`.
    pub fn from_codes(codes: Vec<u32>, names: Vec<String>) -> Result<Self> {
        if let Some(i) = codes.iter().position(|&c| c as usize >= names.len()) {
            return Err(Error::InvalidValue {
                what: "group codes".into(),
                row: i + 1,
                message: format!("code {} has no name ({} names)", codes[i], names.len()),
            });
        }
        Ok(Groups { codes, names })
    }

    /// All rows in one group called `name`.
    pub fn single(n: usize, name: &str) -> Self {
        Groups {
            codes: vec![0; n],
            names: vec![name.to_string()],
        }
    }

    /// The code of each row.
    pub fn codes(&self) -> &[u32] {
        &self.codes
    }

    /// The name of each code.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

/// Checks survival inputs: equal lengths, finite non-negative times, positive finite weights.
pub(crate) fn check_survival_input(
    time: &[f64],
    event: &[bool],
    weights: Option<&[f64]>,
) -> Result<()> {
    if event.len() != time.len() {
        return Err(Error::LengthMismatch {
            what: "event".into(),
            found: event.len(),
            expected: time.len(),
        });
    }
    if time.is_empty() {
        return Err(Error::Empty {
            context: String::new(),
        });
    }
    if let Some(i) = time.iter().position(|t| !t.is_finite() || *t < 0.0) {
        return Err(Error::InvalidValue {
            what: "time".into(),
            row: i + 1,
            message: format!("times must be finite and non-negative, found {}", time[i]),
        });
    }
    if let Some(w) = weights {
        if w.len() != time.len() {
            return Err(Error::LengthMismatch {
                what: "weights".into(),
                found: w.len(),
                expected: time.len(),
            });
        }
        if let Some(i) = w.iter().position(|w| !w.is_finite() || *w <= 0.0) {
            return Err(Error::InvalidValue {
                what: "weights".into(),
                row: i + 1,
                message: format!("weights must be positive and finite, found {}", w[i]),
            });
        }
    }
    Ok(())
}

/// Maps a non-negative finite `f64` to a `u64` with the same order.
#[inline]
pub(crate) fn time_key(t: f64) -> u64 {
    // For non-negative floats the IEEE bit pattern is monotone; +0.0 and -0.0 are unified.
    if t == 0.0 { 0 } else { t.to_bits() }
}

/// Row indices sorted by (group code, time, event [censored first], row index).
///
/// Integer times (day counts) take one counting sort; other times a stable
/// least-significant-digit radix sort on the bit pattern, skipping passes whose
/// byte is the same for every row. Both are stable, which makes the row index
/// the final tie-break for free.
#[cfg(test)]
pub(crate) fn sort_rows(time: &[f64], event: Option<&[bool]>, groups: Option<&[u32]>) -> Vec<u32> {
    sort_rows_with_times(time, event, groups).0
}

/// [`sort_rows`] that also returns the times in sorted order (saving callers a gather).
pub(crate) fn sort_rows_with_times(
    time: &[f64],
    event: Option<&[bool]>,
    groups: Option<&[u32]>,
) -> (Vec<u32>, Vec<f64>) {
    let n = time.len();
    let mut idx_tmp = vec![0u32; n];
    let mut key_tmp = vec![0u64; n];
    let (mut idx, mut keys) = match counting_sort_integer_times(time, event) {
        Some(sorted) => sorted,
        None => radix_sort_times(time, event, &mut idx_tmp, &mut key_tmp),
    };
    if let Some(g) = groups {
        let k = g.iter().copied().max().map_or(0, |m| m as usize + 1);
        let mut pos = vec![0usize; k + 1];
        for &c in g {
            pos[c as usize + 1] += 1;
        }
        for b in 1..=k {
            pos[b] += pos[b - 1];
        }
        for (&i, &k) in idx.iter().zip(&keys) {
            let c = g[i as usize] as usize;
            idx_tmp[pos[c]] = i;
            key_tmp[pos[c]] = k;
            pos[c] += 1;
        }
        std::mem::swap(&mut idx, &mut idx_tmp);
        std::mem::swap(&mut keys, &mut key_tmp);
    }
    let times = keys
        .into_iter()
        .map(|k| if k == 0 { 0.0 } else { f64::from_bits(k) })
        .collect();
    (idx, times)
}

/// Largest integer time sorted by counting (about 4 M buckets of 8 bytes at most).
const COUNTING_MAX_TIME: f64 = (1u32 << 21) as f64;

/// Whether `t` (finite, non-negative) takes a counting bucket among `n` rows: an
/// integer up to [`COUNTING_MAX_TIME`] and not many more buckets than rows (a
/// few rows with large times would pay for millions of empty buckets). The
/// integer test is a conversion, not `fract` (a library call per row).
#[inline]
fn countable_time(t: f64, n: usize) -> bool {
    t <= COUNTING_MAX_TIME.min(4.0 * n as f64 + 1024.0) && f64::from(t as u32) == t
}

/// Each row's position in the order of (time, event [censored first], row
/// index) when every time is a countable integer (day counts), `None`
/// otherwise; plus the first position of each bucket `2·time + event` and the
/// row count at the end, so the sorted times and events are constant over
/// known ranges and need no gather. A counting sort in parallel over row
/// chunks: each chunk counts its rows per bucket, then places them after the
/// same bucket's rows of earlier chunks (stable, whatever the chunking).
pub(crate) fn rank_integer_times(time: &[f64], event: &[bool]) -> Option<(Vec<u32>, Vec<usize>)> {
    use rayon::prelude::*;
    let n = time.len();
    let max = time
        .par_chunks(1 << 16)
        .map(|c| c.iter().try_fold(0.0f64, |m, &t| countable_time(t, n).then(|| m.max(t))))
        .try_reduce(|| 0.0, |a, b| Some(a.max(b)))?;
    let buckets = 2 * (max as usize + 1);
    let bucket = |i: usize| ((time[i] as usize) << 1) | usize::from(event[i]);
    let chunks = rayon::current_num_threads().min(n / buckets).clamp(1, 16);
    let len = n.div_ceil(chunks);
    let counts: Vec<Vec<u32>> = (0..chunks)
        .into_par_iter()
        .map(|k| {
            let mut c = vec![0u32; buckets];
            for i in k * len..((k + 1) * len).min(n) {
                c[bucket(i)] += 1;
            }
            c
        })
        .collect();
    let mut starts = Vec::with_capacity(buckets + 1);
    let mut next = vec![vec![0u32; buckets]; chunks];
    let mut at = 0u32;
    for b in 0..buckets {
        starts.push(at as usize);
        for (next, counts) in next.iter_mut().zip(&counts) {
            next[b] = at;
            at += counts[b];
        }
    }
    starts.push(n);
    let mut rank = vec![0u32; n];
    rank.par_chunks_mut(len).zip(next).enumerate().for_each(|(k, (out, mut next))| {
        for (i, r) in (k * len..).zip(out) {
            let b = bucket(i);
            *r = next[b];
            next[b] += 1;
        }
    });
    Some((rank, starts))
}

/// Sorts by (time, event, row) with one counting pass when every time is an
/// integer up to [`COUNTING_MAX_TIME`] (day counts, the usual case) and the
/// buckets are not many more than the rows (a few rows with large times would
/// pay for millions of empty buckets); `None` otherwise. Returns the row
/// indices and the sorted [`time_key`]s.
fn counting_sort_integer_times(time: &[f64], event: Option<&[bool]>) -> Option<(Vec<u32>, Vec<u64>)> {
    let mut max = 0.0f64;
    for &t in time {
        if !countable_time(t, time.len()) {
            return None;
        }
        max = max.max(t);
    }
    let (bits, ev) = match event {
        Some(e) => (1, e),
        None => (0, &[][..]),
    };
    let bucket = |i: usize| ((time[i] as usize) << bits) | usize::from(bits == 1 && ev[i]);
    let mut pos = vec![0usize; ((max as usize + 1) << bits) + 1];
    for i in 0..time.len() {
        pos[bucket(i) + 1] += 1;
    }
    for b in 1..pos.len() {
        pos[b] += pos[b - 1];
    }
    let mut keys = vec![0u64; time.len()];
    for b in 0..pos.len() - 1 {
        let t = (b >> bits) as f64;
        keys[pos[b]..pos[b + 1]].fill(time_key(t));
    }
    let mut idx = vec![0u32; time.len()];
    for i in 0..time.len() {
        let b = bucket(i);
        idx[pos[b]] = i as u32;
        pos[b] += 1;
    }
    Some((idx, keys))
}

/// Stable least-significant-digit radix sort on (time bits, event); the two
/// scratch buffers have the input's length.
fn radix_sort_times(
    time: &[f64],
    event: Option<&[bool]>,
    idx_tmp: &mut Vec<u32>,
    key_tmp: &mut Vec<u64>,
) -> (Vec<u32>, Vec<u64>) {
    let n = time.len();
    let mut idx: Vec<u32> = (0..n as u32).collect();
    let mut keys: Vec<u64> = time.iter().map(|&t| time_key(t)).collect();
    if let Some(e) = event {
        // Least significant key first: censored (false) before events (true).
        let mut w = 0;
        for pass in [false, true] {
            for i in 0..n {
                if e[i] == pass {
                    idx_tmp[w] = i as u32;
                    key_tmp[w] = keys[i];
                    w += 1;
                }
            }
        }
        std::mem::swap(&mut idx, idx_tmp);
        std::mem::swap(&mut keys, key_tmp);
    }
    for shift in (0..64).step_by(8) {
        let mut count = [0usize; 256];
        for &k in &keys {
            count[((k >> shift) & 0xff) as usize] += 1;
        }
        if count.contains(&n) {
            continue;
        }
        let mut pos = [0usize; 256];
        let mut acc = 0;
        for b in 0..256 {
            pos[b] = acc;
            acc += count[b];
        }
        for j in 0..n {
            let b = ((keys[j] >> shift) & 0xff) as usize;
            idx_tmp[pos[b]] = idx[j];
            key_tmp[pos[b]] = keys[j];
            pos[b] += 1;
        }
        std::mem::swap(&mut idx, idx_tmp);
        std::mem::swap(&mut keys, key_tmp);
    }
    (idx, keys)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn groups_order_numeric_and_text_labels_naturally() {
        let g = Groups::from_labels(&["10", "2", "10", "1"]);
        assert_eq!(g.names(), ["1", "2", "10"]);
        assert_eq!(g.codes(), [2, 1, 2, 0]);
        let g = Groups::from_labels(&["b", "a", "b"]);
        assert_eq!(g.names(), ["a", "b"]);
        assert_eq!(g.codes(), [1, 0, 1]);
        assert!(Groups::from_codes(vec![0, 3], vec!["x".into()]).is_err());
    }

    #[test]
    fn random_small_inputs_never_panic() {
        use super::cox::{CoxModel, CoxOptions, Ties};
        use super::km::{KmOptions, kaplan_meier};
        use super::logrank::{Weighting, logrank_test};
        use super::psm::{PsmOptions, propensity_match};
        let mut rng = super::psm::SplitMix64::new(5);
        for case in 0..300 {
            let n = 1 + (rng.below(12) as usize);
            let time: Vec<f64> = (0..n)
                .map(|_| (rng.below(4)) as f64 * if case % 3 == 0 { 0.5 } else { 1.0 })
                .collect();
            let event: Vec<bool> = (0..n).map(|_| rng.below(2) == 1).collect();
            let x: Vec<Vec<f64>> = (0..2)
                .map(|_| (0..n).map(|_| rng.below(3) as f64 - 1.0).collect())
                .collect();
            let labels: Vec<String> = (0..n).map(|_| format!("g{}", rng.below(3))).collect();
            let g = Groups::from_labels(&labels);
            let _ = kaplan_meier(
                &time,
                &event,
                Some(&g),
                &KmOptions {
                    at: vec![0.0, 1.5, 9.0],
                    ..KmOptions::default()
                },
            );
            for w in [Weighting::LogRank, Weighting::Peto] {
                let _ = logrank_test(&time, &event, &g, Some(&g), w);
                let _ = logrank_test(&time, &event, &g, None, w);
            }
            let names = ["a".to_string(), "b".to_string()];
            if let Ok(m) = CoxModel::new(&time, &event, &x, &names, Some(&g), None) {
                for ties in [Ties::Efron, Ties::Breslow] {
                    if let Ok(f) = m.fit(&CoxOptions {
                        ties,
                        robust: true,
                        ..CoxOptions::default()
                    }) {
                        let _ = m.ph_test(&f, super::cox::TimeTransform::Km);
                        let _ = f.to_json();
                    }
                }
            }
            let _ = propensity_match(&event, &x, &names, &PsmOptions::default());
        }
    }

    #[test]
    fn integer_times_sort_by_counting_exactly_as_by_radix() {
        // Day counts with heavy ties, zeros (both signs) and events: the counting
        // path must give the radix sort's order and times.
        let t: Vec<f64> = (0..3000u64)
            .map(|i| match i % 97 {
                0 => 0.0,
                1 => -0.0,
                _ => ((i * 7919) % 1500) as f64,
            })
            .collect();
        let e: Vec<bool> = (0..3000).map(|i| (i * 31) % 7 < 4).collect();
        for ev in [None, Some(&e[..])] {
            let counted = counting_sort_integer_times(&t, ev).expect("integer times");
            let (mut a, mut b) = (vec![0; t.len()], vec![0; t.len()]);
            assert_eq!(counted, radix_sort_times(&t, ev, &mut a, &mut b));
        }
        // Fractions or huge values take the radix path.
        assert!(counting_sort_integer_times(&[1.0, 2.5], None).is_none());
        assert!(counting_sort_integer_times(&[1.0, 1e12], None).is_none());
        assert!(counting_sort_integer_times(&[1.0, 100_000.0], None).is_none(), "buckets far beyond the rows");
        assert_eq!(sort_rows(&[1e12, 3.0, 2.5], None, None), [2, 1, 0]);
        // The parallel ranking gives each row its position in that order, and
        // bucket starts that delimit equal (time, event).
        let (rank, starts) = rank_integer_times(&t, &e).expect("integer times");
        let order = sort_rows(&t, Some(&e), None);
        for (r, &i) in order.iter().enumerate() {
            let i = i as usize;
            assert_eq!(rank[i] as usize, r);
            let b = 2 * t[i] as usize + usize::from(e[i]);
            assert!(starts[b] <= r && r < starts[b + 1]);
        }
        assert_eq!(starts.len(), 2 * 1500 + 1);
        assert!(rank_integer_times(&[1.0, 2.5], &[true, false]).is_none());
        assert!(rank_integer_times(&[1.0, 100_000.0], &[true, false]).is_none());
        assert_eq!(rank_integer_times(&[2.0, 0.0, 2.0], &[true, true, false]), Some((vec![2, 0, 1], vec![0, 0, 1, 1, 1, 2, 3])));
    }

    #[test]
    fn sorts_by_group_then_time_then_row() {
        let order = sort_rows(&[3.0, 1.0, 1.0, 0.0], None, Some(&[1, 1, 0, 1]));
        assert_eq!(order, [2, 3, 1, 0]);
        let order = sort_rows(
            &[2.0, 2.0, 2.0, 0.5],
            Some(&[true, false, true, false]),
            None,
        );
        assert_eq!(order, [3, 1, 0, 2]);
        // Agrees with a comparison sort on awkward values.
        let t: Vec<f64> = (0..500)
            .map(|i| ((i * 7919) % 113) as f64 * 0.37 + if i % 5 == 0 { 1e-9 } else { 0.0 })
            .collect();
        let g: Vec<u32> = (0..500).map(|i| (i % 3) as u32).collect();
        let mut want: Vec<u32> = (0..500).collect();
        want.sort_by(|&a, &b| {
            g[a as usize]
                .cmp(&g[b as usize])
                .then(t[a as usize].total_cmp(&t[b as usize]))
                .then(a.cmp(&b))
        });
        assert_eq!(sort_rows(&t, None, Some(&g)), want);
        let (_, times) = sort_rows_with_times(&t, None, Some(&g));
        let want_t: Vec<f64> = want.iter().map(|&i| t[i as usize]).collect();
        assert_eq!(times, want_t);
    }
}
