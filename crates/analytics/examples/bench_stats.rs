//! Benchmark driver for `bench/stats`: times the crate on CSV data written by
//! `bench/stats/bench.py` and prints one JSON object with median timings and
//! the estimates (so the harness can check they agree with lifelines).
//!
//! Usage: `bench_stats DATA_DIR REPEATS`

use std::time::Instant;

use analytics::Table;
use analytics::stats::Groups;
use analytics::stats::cox::{CoxModel, CoxOptions};
use analytics::stats::km::{KmOptions, kaplan_meier};
use analytics::stats::logrank::{Weighting, logrank_test};
use analytics::stats::psm::{PsmOptions, propensity_match};
use serde_json::json;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CPU time (user + system, all threads) of this process in seconds, from
/// `/proc/self/stat` (Linux; clock ticks of 10 ms). On a loaded machine wall
/// time measures the neighbours; CPU time measures the work.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return f64::NAN };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (ticks(11) + ticks(12)) / 100.0
}

/// Median wall time, median CPU time and the last result of `repeats` runs.
fn time_it<T>(repeats: usize, mut f: impl FnMut() -> T) -> ((f64, f64), T) {
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    let mut last = None;
    for _ in 0..repeats {
        let (t0, c0) = (Instant::now(), cpu_seconds());
        let out = f();
        wall.push(t0.elapsed().as_secs_f64());
        cpu.push(cpu_seconds() - c0);
        last = Some(out);
    }
    ((median(wall), median(cpu)), last.expect("at least one repeat"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).ok_or("usage: bench_stats DATA_DIR REPEATS")?);
    let repeats: usize = args.get(2).map_or(Ok(5), |s| s.parse())?;

    let surv = Table::from_csv_path(dir.join("survival.csv"))?;
    let time = surv.numeric("time")?;
    let event = surv.events("event")?;
    let group = Groups::from_labels(surv.text("group")?);
    let covs: Vec<String> = (1..=10).map(|j| format!("x{j}")).collect();
    let x = surv.numeric_columns(&covs)?;

    let (km_lr, (km, lr)) = time_it(repeats, || {
        let km = kaplan_meier(&time, &event, Some(&group), &KmOptions::default()).expect("km");
        let lr = logrank_test(&time, &event, &group, None, Weighting::LogRank).expect("logrank");
        (km, lr)
    });
    // lifelines' `fit` computes the concordance lazily, so time the fit alone and with it.
    let (cox_t, fit) = time_it(repeats, || {
        let model = CoxModel::new(&time, &event, &x, &covs, None, None).expect("cox data");
        model
            .fit(&CoxOptions {
                concordance: false,
                ..CoxOptions::default()
            })
            .expect("cox fit")
    });
    let (cox_c_t, fit_c) = time_it(repeats, || {
        let model = CoxModel::new(&time, &event, &x, &covs, None, None).expect("cox data");
        model.fit(&CoxOptions::default()).expect("cox fit")
    });

    let ps = Table::from_csv_path(dir.join("ps.csv"))?;
    let treat = ps.events("treated")?;
    let px = ps.numeric_columns(&covs)?;
    let (logit_t, _) = time_it(repeats, || {
        analytics::stats::logistic::logistic_regression(&treat, &px, &covs, &Default::default())
            .expect("logistic")
    });
    let (psm_t, res) = time_it(repeats, || {
        propensity_match(&treat, &px, &covs, &PsmOptions::default()).expect("psm")
    });

    let out = json!({
        "threads": rayon::current_num_threads(),
        "km_logrank_s": km_lr.0,
        "cox_s": cox_t.0,
        "cox_with_concordance_s": cox_c_t.0,
        "psm_s": psm_t.0,
        "logistic_s": logit_t.0,
        "km_logrank_cpu_s": km_lr.1,
        "cox_cpu_s": cox_t.1,
        "cox_with_concordance_cpu_s": cox_c_t.1,
        "psm_cpu_s": psm_t.1,
        "km_medians": km.groups.iter().map(|g| g.median).collect::<Vec<_>>(),
        "logrank_statistic": lr.statistic,
        "cox_coef": fit.coefficients.iter().map(|c| c.coef).collect::<Vec<_>>(),
        "cox_iterations": fit.iterations,
        "cox_concordance": fit_c.concordance,
        "psm_pairs": res.matching.pairs.len(),
        "psm_coef": res.model.coef,
        "smd_after_max": res.smd_after.iter().map(|b| b.smd.abs()).fold(0.0, f64::max),
    });
    println!("{out}");
    Ok(())
}
