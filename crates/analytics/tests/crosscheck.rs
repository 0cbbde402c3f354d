//! Cross-checks against lifelines, statsmodels and a plain Python reimplementation.
//!
//! `tests/crosscheck/reference.py` writes data sets and the reference answers;
//! this test recomputes every case with the crate and requires agreement to
//! 1e-6 relative. A missing `python3` or Python package is a test failure with
//! an install hint, never a skip.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use analytics::Table;
use analytics::stats::Groups;
use analytics::stats::cox::{CoxModel, CoxOptions, Ties, TimeTransform};
use analytics::stats::km::{CiTransform, KmOptions, kaplan_meier, kaplan_meier_weighted};
use analytics::stats::logistic::{LogisticOptions, logistic_regression};
use analytics::stats::logrank::{Weighting, logrank_test};
use analytics::stats::psm::{
    Estimand, PsmOptions, balance, ipw_weights, match_on_score, propensity_match,
};
use serde_json::Value;

const REL: f64 = 1e-6;

fn reference() -> &'static Value {
    static REF: OnceLock<Value> = OnceLock::new();
    REF.get_or_init(|| {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let script = manifest.join("tests/crosscheck/reference.py");
        // Cargo's per-target temporary directory (reused; a `static` is never
        // dropped, so nothing would remove a per-run directory in /tmp).
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("analytics-crosscheck");
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_string());
        let result = Command::new(&python).arg(&script).arg(&out).output().unwrap_or_else(|e| {
            panic!(
                "FAILED to run `{python}` ({e}). The cross-check needs python3 with \
                 `python3 -m pip install lifelines==0.30.3 statsmodels==0.15.0 scikit-learn==1.9.1`"
            )
        });
        assert!(
            result.status.success(),
            "reference.py failed (exit {:?}). If a package is missing: \
             `python3 -m pip install lifelines==0.30.3 statsmodels==0.15.0 scikit-learn==1.9.1`\n{}",
            result.status.code(),
            String::from_utf8_lossy(&result.stderr)
        );
        let text = std::fs::read_to_string(out.join("expected.json")).expect("reference.py writes expected.json");
        serde_json::from_str(&text).expect("expected.json is valid JSON")
    })
}

fn cases(kind: &str) -> Vec<&'static Value> {
    let all: Vec<&Value> = reference()["cases"]
        .as_array()
        .expect("cases array")
        .iter()
        .filter(|c| c["kind"] == kind)
        .collect();
    assert!(!all.is_empty(), "no reference cases of kind {kind}");
    all
}

#[track_caller]
fn close(got: f64, want: f64, what: &str) {
    let ok = (got - want).abs() <= REL * want.abs() + 1e-10 || (got.is_infinite() && got == want);
    assert!(
        ok,
        "{what}: got {got:.17e}, want {want:.17e} (rel diff {:.2e})",
        ((got - want) / want).abs()
    );
}

fn num(v: &Value) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {v}"))
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(num).collect()
}

fn opt_num(v: &Value) -> Option<f64> {
    v.as_f64()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

fn load(case: &Value) -> Table {
    Table::from_csv_path(case["csv"].as_str().expect("csv path")).expect("reference csv loads")
}

#[test]
fn kaplan_meier_matches_lifelines() {
    for case in cases("km") {
        let name = case["name"].as_str().unwrap_or("");
        let t = load(case);
        let time = t.numeric(case["time"].as_str().unwrap()).unwrap();
        let event = t.events(case["event"].as_str().unwrap()).unwrap();
        let groups = case["group"]
            .as_str()
            .map(|g| Groups::from_labels(t.text(g).unwrap()));
        let expected = case["groups"].as_array().unwrap();
        let at = nums(&expected[0]["at"]);
        let fit = kaplan_meier(
            &time,
            &event,
            groups.as_ref(),
            &KmOptions {
                at,
                ..KmOptions::default()
            },
        )
        .unwrap();
        assert_eq!(fit.groups.len(), expected.len(), "{name}");
        for (g, e) in fit.groups.iter().zip(expected) {
            assert_eq!(g.name, e["name"].as_str().unwrap(), "{name}");
            let times = nums(&e["time"]);
            assert_eq!(
                g.table.len(),
                times.len(),
                "{name}/{}: number of table rows",
                g.name
            );
            for (k, row) in g.table.iter().enumerate() {
                let w = format!("{name}/{} row {k} t={}", g.name, row.time);
                close(row.time, times[k], &w);
                close(
                    row.survival,
                    num(&e["survival"][k]),
                    &format!("{w} survival"),
                );
                close(
                    row.ci_lower,
                    num(&e["ci_lower"][k]),
                    &format!("{w} ci_lower"),
                );
                close(
                    row.ci_upper,
                    num(&e["ci_upper"][k]),
                    &format!("{w} ci_upper"),
                );
                close(row.at_risk, num(&e["at_risk"][k]), &format!("{w} at_risk"));
                close(row.events, num(&e["events"][k]), &format!("{w} events"));
                close(
                    row.censored,
                    num(&e["censored"][k]),
                    &format!("{w} censored"),
                );
            }
            assert_eq!(g.median, opt_num(&e["median"]), "{name}/{} median", g.name);
            assert_eq!(
                g.median_ci.0,
                opt_num(&e["median_ci"][0]),
                "{name}/{} median lower",
                g.name
            );
            assert_eq!(
                g.median_ci.1,
                opt_num(&e["median_ci"][1]),
                "{name}/{} median upper",
                g.name
            );
            for (k, a) in g.at_risk_at.iter().enumerate() {
                close(
                    a.survival,
                    num(&e["survival_at"][k]),
                    &format!("{name} survival at {}", a.time),
                );
                close(
                    a.at_risk,
                    num(&e["at_risk_at"][k]),
                    &format!("{name} at risk at {}", a.time),
                );
            }
        }
    }
}

#[test]
fn kaplan_meier_log_and_plain_intervals_match_statsmodels_greenwood() {
    for case in cases("km_transform") {
        let name = case["name"].as_str().unwrap_or("");
        let t = load(case);
        let time = t.numeric(case["time"].as_str().unwrap()).unwrap();
        let event = t.events(case["event"].as_str().unwrap()).unwrap();
        for (ci, key) in [(CiTransform::Log, "log"), (CiTransform::Plain, "plain")] {
            let fit = kaplan_meier(
                &time,
                &event,
                None,
                &KmOptions {
                    ci,
                    ..KmOptions::default()
                },
            )
            .unwrap();
            let g = &fit.groups[0];
            for (k, &tt) in nums(&case["times"]).iter().enumerate() {
                let row = g
                    .table
                    .iter()
                    .find(|r| r.time == tt)
                    .unwrap_or_else(|| panic!("{name}: no row at {tt}"));
                close(
                    row.survival,
                    num(&case["survival"][k]),
                    &format!("{name} {key} S({tt})"),
                );
                close(
                    row.ci_lower,
                    num(&case[key][0][k]),
                    &format!("{name} {key} lower({tt})"),
                );
                close(
                    row.ci_upper,
                    num(&case[key][1][k]),
                    &format!("{name} {key} upper({tt})"),
                );
            }
        }
    }
}

#[test]
fn weighted_kaplan_meier_matches_lifelines() {
    for case in cases("km_weighted") {
        let t = load(case);
        let time = t.numeric("time").unwrap();
        let event = t.events("event").unwrap();
        let w = t.numeric(case["weights"].as_str().unwrap()).unwrap();
        let fit =
            kaplan_meier_weighted(&time, &event, Some(&w), None, &KmOptions::default()).unwrap();
        let g = &fit.groups[0];
        let times = nums(&case["times"]);
        assert_eq!(g.table.len(), times.len());
        for (k, row) in g.table.iter().enumerate() {
            close(row.time, times[k], "weighted km time");
            close(
                row.survival,
                num(&case["survival"][k]),
                &format!("weighted km S({})", row.time),
            );
        }
    }
}

#[test]
fn logrank_family_matches_lifelines() {
    for case in cases("logrank") {
        let name = case["name"].as_str().unwrap_or("");
        let t = load(case);
        let time = t.numeric(case["time"].as_str().unwrap()).unwrap();
        let event = t.events(case["event"].as_str().unwrap()).unwrap();
        let groups = Groups::from_labels(t.text(case["group"].as_str().unwrap()).unwrap());
        let strata = case["strata"]
            .as_str()
            .map(|s| Groups::from_labels(t.text(s).unwrap()));
        let weighting = Weighting::parse(case["weighting"].as_str().unwrap()).unwrap();
        let r = logrank_test(&time, &event, &groups, strata.as_ref(), weighting).unwrap();
        close(
            r.statistic,
            num(&case["statistic"]),
            &format!("{name} statistic"),
        );
        assert_eq!(r.df as u64, case["df"].as_u64().unwrap(), "{name} df");
        close(r.p, num(&case["p"]), &format!("{name} p"));
    }
}

#[test]
fn cox_matches_lifelines_and_statsmodels() {
    for case in cases("cox") {
        let name = case["name"].as_str().unwrap_or("");
        let t = load(case);
        let time = t.numeric(case["time"].as_str().unwrap()).unwrap();
        let event = t.events(case["event"].as_str().unwrap()).unwrap();
        let covs = strs(&case["covariates"]);
        let x = t.numeric_columns(&covs).unwrap();
        let strata = case["strata"]
            .as_str()
            .map(|s| Groups::from_labels(t.text(s).unwrap()));
        let w = case["weights"].as_str().map(|c| t.numeric(c).unwrap());
        let ties = Ties::parse(case["ties"].as_str().unwrap()).unwrap();
        let robust = case["robust"].as_bool().unwrap();
        let model = CoxModel::new(&time, &event, &x, &covs, strata.as_ref(), w.as_deref()).unwrap();
        let fit = model
            .fit(&CoxOptions {
                ties,
                robust,
                ..CoxOptions::default()
            })
            .unwrap();
        for (j, c) in fit.coefficients.iter().enumerate() {
            close(
                c.coef,
                num(&case["coef"][j]),
                &format!("{name} coef {}", c.name),
            );
            close(c.se, num(&case["se"][j]), &format!("{name} se {}", c.name));
            close(c.p, num(&case["p"][j]), &format!("{name} p {}", c.name));
            if let Some(lo) = case.get("hr_lower") {
                close(
                    c.hr_ci.0,
                    num(&lo[j]),
                    &format!("{name} hr lower {}", c.name),
                );
                close(
                    c.hr_ci.1,
                    num(&case["hr_upper"][j]),
                    &format!("{name} hr upper {}", c.name),
                );
            }
        }
        close(fit.loglik, num(&case["loglik"]), &format!("{name} loglik"));
        if let Some(v) = case.get("loglik_null") {
            close(fit.loglik_null, num(v), &format!("{name} loglik_null"));
        }
        if let Some(v) = case.get("concordance") {
            close(
                fit.concordance.expect("concordance computed"),
                num(v),
                &format!("{name} concordance"),
            );
        }
        if let Some(v) = case.get("lr_statistic") {
            close(
                fit.lr_test.statistic,
                num(v),
                &format!("{name} LR statistic"),
            );
            close(fit.lr_test.p, num(&case["lr_p"]), &format!("{name} LR p"));
            close(
                fit.wald_test.statistic,
                num(&case["wald_statistic"]),
                &format!("{name} Wald statistic"),
            );
        }
        if let Some(v) = case.get("score_statistic") {
            close(
                fit.score_test.statistic,
                num(v),
                &format!("{name} score statistic"),
            );
        }
        if let Some(ph) = case.get("ph") {
            for (tr, key) in [
                (TimeTransform::Rank, "rank"),
                (TimeTransform::Km, "km"),
                (TimeTransform::Identity, "identity"),
                (TimeTransform::Log, "log"),
            ] {
                let rows = model.ph_test(&fit, tr).unwrap();
                for (j, r) in rows.iter().enumerate() {
                    close(
                        r.statistic,
                        num(&ph[key]["statistic"][j]),
                        &format!("{name} PH test {key} {}", r.name),
                    );
                    close(
                        r.p,
                        num(&ph[key]["p"][j]),
                        &format!("{name} PH test p {key} {}", r.name),
                    );
                }
            }
        }
    }
}

#[test]
fn propensity_pipeline_matches_statsmodels_and_reference_matching() {
    let case = cases("psm")[0];
    let t = load(case);
    let treat = t.events(case["treatment"].as_str().unwrap()).unwrap();
    let covs = strs(&case["covariates"]);
    let x = t.numeric_columns(&covs).unwrap();
    let fit = logistic_regression(&treat, &x, &covs, &LogisticOptions::default()).unwrap();
    for j in 0..fit.coef.len() {
        close(
            fit.coef[j],
            num(&case["coef"][j]),
            &format!("logit coef {}", fit.names[j]),
        );
        close(
            fit.se[j],
            num(&case["se"][j]),
            &format!("logit se {}", fit.names[j]),
        );
        // scikit-learn's lbfgs stops earlier; 1e-4 relative is its precision.
        let sk = num(&case["sklearn_coef"][j]);
        assert!(
            (fit.coef[j] - sk).abs() <= 1e-4 * sk.abs() + 1e-6,
            "sklearn coef {j}: {} vs {sk}",
            fit.coef[j]
        );
    }
    close(fit.loglik, num(&case["loglik"]), "logit loglik");
    let ps_ref = nums(&case["ps"]);
    for (a, b) in fit.fitted.iter().zip(&ps_ref) {
        close(*a, *b, "propensity score");
    }
    let before = balance(&x, &covs, &treat, None);
    for b in &before {
        close(
            b.smd,
            num(&case["smd_before"][&b.name]),
            &format!("SMD before {}", b.name),
        );
    }
    for (est, key) in [(Estimand::Ate, "smd_ate"), (Estimand::Att, "smd_att")] {
        let w = ipw_weights(&fit.fitted, &treat, est, false).unwrap();
        for b in balance(&x, &covs, &treat, Some(&w)) {
            close(
                b.smd,
                num(&case[key][&b.name]),
                &format!("{key} {}", b.name),
            );
        }
    }
    let score: Vec<f64> = fit.fitted.iter().map(|p| (p / (1.0 - p)).ln()).collect();
    for run in case["runs"].as_array().unwrap() {
        let opts = PsmOptions {
            caliper: run["caliper"].as_f64(),
            ratio: run["ratio"].as_u64().unwrap() as usize,
            replace: run["replace"].as_bool().unwrap(),
            seed: run["seed"].as_u64().unwrap(),
        };
        let m = match_on_score(&score, &treat, &opts).unwrap();
        let want: Vec<(usize, usize)> = run["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_u64().unwrap() as usize,
                    p[1].as_u64().unwrap() as usize,
                )
            })
            .collect();
        let got: Vec<(usize, usize)> = m.pairs.iter().map(|p| (p.treated, p.control)).collect();
        assert!(!got.is_empty());
        assert_eq!(got, want, "matching {opts:?}");
        if let Some(wd) = run["caliper_width"].as_f64() {
            close(m.caliper_width, wd, "caliper width");
        }
        let after = balance(&x, &covs, &treat, Some(&m.weights));
        for b in &after {
            close(
                b.smd,
                num(&run["smd_after"][&b.name]),
                &format!("SMD after {} {opts:?}", b.name),
            );
        }
    }
    // The one-call pipeline gives the same as the steps above, and the matched CSV has the right shape.
    let res = propensity_match(&treat, &x, &covs, &PsmOptions::default()).unwrap();
    let first = &case["runs"][0];
    assert_eq!(
        res.matching.pairs.len(),
        first["pairs"].as_array().unwrap().len()
    );
    let j = res.to_json();
    assert_eq!(
        j["pairs"].as_u64().unwrap() as usize,
        res.matching.pairs.len()
    );
    assert!(j["smd_after"]["age"].is_number());
    let matched = res.matched_table(&t).unwrap();
    assert_eq!(matched.n_rows(), 2 * res.matching.pairs.len());
    assert!(matched.has_column("match_id") && matched.has_column("propensity"));
}
