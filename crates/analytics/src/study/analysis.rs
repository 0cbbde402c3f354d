//! The statistics of a study over its analysis table: balance, propensity
//! matching or weighting, naive / multivariable / adjusted Cox models,
//! Kaplan–Meier curves with numbers at risk, and rates with Wilson intervals.
//!
//! Every step that can refuse its input (unknown column, non-numeric cell,
//! no events, perfect separation, singular design) returns an error that
//! names the step, so the message says which outcome and which cohort failed.

use super::report::{
    BalanceRow, Curve, CurvePoint, HrEstimate, MatchSummary, OutcomeResult, RateRow, RatesOutcome, RatesReport, Report,
    ReportBody, SurvivalReport,
};
use super::spec::{Design, Study};
use super::{Error, Result};
use crate::Table;
use crate::stats::Groups;
use crate::stats::cox::{CoxModel, CoxOptions, Ties};
use crate::stats::km::{CiTransform, KmOptions, kaplan_meier_weighted};
use crate::stats::logrank::{Weighting, logrank_test};
use crate::stats::psm::{Estimand, PsmOptions, balance, ipw_weights, propensity_match};
use crate::stats::rates::proportions;

fn step<T>(what: impl Into<String>, r: crate::Result<T>) -> Result<T> {
    r.map_err(|cause| Error::Analysis { step: what.into(), cause })
}

/// Runs the study's statistics over `table`.
pub fn analyze(study: &Study, table: &Table) -> Result<Report> {
    if table.n_rows() == 0 {
        return Err(Error::EmptyCohort);
    }
    for c in required_columns(study) {
        if !table.has_column(&c) {
            return Err(Error::Analysis {
                step: "analysis table".into(),
                cause: crate::Error::UnknownColumn { column: c, available: table.column_names().join(", ") },
            });
        }
    }
    let body = match &study.design {
        Design::Rates { group, group_label } => {
            ReportBody::Rates(rates(study, table, group, group_label.clone())?)
        }
        _ => ReportBody::Survival(Box::new(survival(study, table)?)),
    };
    Ok(Report { study: study.clone(), n_rows: table.n_rows(), body })
}

fn rates(
    study: &Study,
    table: &Table,
    group: &str,
    group_label: Option<super::spec::Label>,
) -> Result<RatesReport> {
    let labels = step("subgroup column", table.text(group))?;
    let groups = Groups::from_labels(labels);
    let alpha = 1.0 - study.outputs.confidence;
    let mut outcomes = Vec::new();
    for o in &study.outcomes {
        let e = step(format!("outcome `{}`", o.name), table.events(&o.event))?;
        let t = step(format!("outcome `{}`", o.name), proportions(&e, Some(&groups), alpha))?;
        outcomes.push(RatesOutcome {
            name: o.name.clone(),
            label: o.label.clone(),
            rows: t
                .rates
                .iter()
                .map(|r| RateRow { group: r.group.clone(), n: r.n, events: r.events, proportion: r.proportion, ci: r.ci })
                .collect(),
        });
    }
    Ok(RatesReport { group_column: group.to_string(), group_label, outcomes })
}

/// The columns of a survival study, read once.
struct Columns {
    exposed: Vec<bool>,
    x: Vec<Vec<f64>>,
    names: Vec<String>,
}

fn survival(study: &Study, table: &Table) -> Result<SurvivalReport> {
    let exposure = study.exposure.as_ref().ok_or_else(|| Error::Spec("an exposure is required".into()))?;
    let exposed = step("exposure column", table.events(&exposure.column))?;
    let names: Vec<String> = study.covariates.iter().map(|c| c.column.clone()).collect();
    let x = step("covariates", table.numeric_columns(&names))?;
    let cols = Columns { exposed, x, names };
    let n_exposed = cols.exposed.iter().filter(|&&e| e).count();
    let n = cols.exposed.len();
    if n_exposed == 0 || n_exposed == n {
        return Err(Error::OneArm { exposed: n_exposed, total: n });
    }
    let alpha = 1.0 - study.outputs.confidence;
    let label_of = |col: &str| {
        study
            .covariates
            .iter()
            .find(|c| c.column == col)
            .and_then(|c| c.label.clone())
            .unwrap_or(super::spec::Label::Plain(col.to_string()))
    };

    // Adjustment: matching weights (0 = unmatched) or inverse-probability weights.
    let (weights, matched, ps_coef, design_name) = match &study.design {
        Design::Matching { caliper, ratio, seed } => {
            let r = step(
                "propensity score matching",
                propensity_match(
                    &cols.exposed,
                    &cols.x,
                    &cols.names,
                    &PsmOptions { caliper: Some(*caliper), ratio: *ratio, replace: false, seed: *seed },
                ),
            )?;
            if r.matching.pairs.is_empty() {
                return Err(Error::NoMatches);
            }
            let m = MatchSummary {
                pairs: r.matching.pairs.len(),
                exposed_matched: r.matching.matched_treated,
                exposed_unmatched: r.matching.unmatched_treated,
                caliper_sd: *caliper,
                caliper_width: r.matching.caliper_width,
                ratio: *ratio,
            };
            let coef: Vec<(String, f64)> = r.model.names.iter().cloned().zip(r.model.coef.iter().copied()).collect();
            (r.matching.weights, Some(m), coef, "matching")
        }
        Design::Weighting { estimand, stabilized } => {
            let fit = step(
                "propensity score model",
                crate::stats::logistic::logistic_regression(
                    &cols.exposed,
                    &cols.x,
                    &cols.names,
                    &crate::stats::logistic::LogisticOptions::default(),
                ),
            )?;
            let est = if estimand == "att" { Estimand::Att } else { Estimand::Ate };
            let w = step("inverse-probability weights", ipw_weights(&fit.fitted, &cols.exposed, est, *stabilized))?;
            let coef: Vec<(String, f64)> = fit.names.iter().cloned().zip(fit.coef.iter().copied()).collect();
            (w, None, coef, "weighting")
        }
        Design::Rates { .. } => return Err(Error::Spec("rates design has no survival analysis".into())),
    };
    let before = balance(&cols.x, &cols.names, &cols.exposed, None);
    let after = balance(&cols.x, &cols.names, &cols.exposed, Some(&weights));
    let balance_rows = before
        .iter()
        .zip(&after)
        .map(|(b, a)| BalanceRow {
            column: b.name.clone(),
            label: label_of(&b.name),
            binary: b.binary,
            before: (b.mean_treated, b.mean_control, b.smd),
            after: (a.mean_treated, a.mean_control, a.smd),
        })
        .collect();

    // The adjusted cohort: rows with positive weight.
    let keep: Vec<usize> = (0..n).filter(|&i| weights[i] > 0.0).collect();
    let unit_weights = weights.iter().all(|&w| w == 0.0 || w == 1.0);
    let n_adj_exposed = keep.iter().filter(|&&i| cols.exposed[i]).count();
    let days = study.days_per_unit();
    let mut outcomes = Vec::new();
    for o in &study.outcomes {
        let ctx = |what: &str| format!("outcome `{}`: {what}", o.name);
        let time_col = o.time.as_deref().unwrap_or_default();
        let t = step(ctx("time column"), table.numeric(time_col))?;
        let e = step(ctx("event column"), table.events(&o.event))?;
        if let Some(i) = t.iter().position(|&v| v < 0.0) {
            return Err(Error::Analysis {
                step: ctx("time column"),
                cause: crate::Error::InvalidValue {
                    what: format!("column `{time_col}`"),
                    row: i + 1,
                    message: format!("follow-up time must not be negative, found {}", t[i]),
                },
            });
        }
        let ev = |rows: &mut dyn Iterator<Item = usize>| -> (usize, usize) {
            let mut c = (0, 0);
            for i in rows {
                if e[i] {
                    if cols.exposed[i] {
                        c.0 += 1
                    } else {
                        c.1 += 1
                    }
                }
            }
            c
        };
        let events_all = ev(&mut (0..n));
        if events_all.0 + events_all.1 == 0 {
            return Err(Error::Analysis {
                step: ctx("cohort"),
                cause: crate::Error::NoEvents { context: format!(" in column `{}`", o.event) },
            });
        }
        let events_adj = ev(&mut keep.iter().copied());
        let expo_x = vec![cols.exposed.iter().map(|&b| f64::from(u8::from(b))).collect::<Vec<f64>>()];
        let expo_name = vec![exposure.column.clone()];
        let opts = CoxOptions { ties: Ties::Efron, alpha, concordance: false, ..CoxOptions::default() };

        let naive = cox_hr(&t, &e, &expo_x, &expo_name, None, &opts, &ctx("unadjusted Cox model"))?;
        let mut mv_x = expo_x.clone();
        mv_x.extend(cols.x.iter().cloned());
        let mut mv_names = expo_name.clone();
        mv_names.extend(cols.names.iter().cloned());
        let multivariable = cox_hr(&t, &e, &mv_x, &mv_names, None, &opts, &ctx("multivariable Cox model"))?;

        let sel = |v: &[f64]| keep.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let t_adj = sel(&t);
        let e_adj: Vec<bool> = keep.iter().map(|&i| e[i]).collect();
        let w_adj = sel(&weights);
        let x_adj = vec![sel(&expo_x[0])];
        let w_opt = if unit_weights { None } else { Some(w_adj.as_slice()) };
        let adj_opts = CoxOptions { robust: w_opt.is_some(), ..opts.clone() };
        let adjusted = cox_hr(&t_adj, &e_adj, &x_adj, &expo_name, w_opt, &adj_opts, &ctx(match design_name {
            "matching" => "Cox model in the matched cohort",
            _ => "weighted Cox model",
        }))?;

        // KM in the adjusted cohort, reference group first.
        let codes: Vec<u32> = keep.iter().map(|&i| u32::from(cols.exposed[i])).collect();
        let groups = step(ctx("groups"), Groups::from_codes(codes, vec!["0".into(), "1".into()]))?;
        let t_max = t_adj.iter().copied().fold(0.0, f64::max);
        let horizon = study.outputs.horizon_years.map(|y| y * 365.25 / days).unwrap_or(t_max);
        let step_len = 365.25 / days;
        let at: Vec<f64> = (0..).map(|k| k as f64 * step_len).take_while(|&a| a <= horizon + 1e-9).collect();
        let km = step(
            ctx("Kaplan–Meier"),
            kaplan_meier_weighted(
                &t_adj,
                &e_adj,
                w_opt,
                Some(&groups),
                &KmOptions { ci: CiTransform::LogLog, alpha, at: at.clone() },
            ),
        )?;
        let logrank_p = if w_opt.is_none() {
            logrank_test(&t_adj, &e_adj, &groups, None, Weighting::LogRank).ok().map(|r| r.p)
        } else {
            None
        };
        let curves = km
            .groups
            .iter()
            .map(|g| Curve {
                exposed: g.name == "1",
                n: g.n,
                events: g.events,
                points: g
                    .table
                    .iter()
                    .map(|r| CurvePoint {
                        time_years: r.time * days / 365.25,
                        at_risk: r.at_risk,
                        events: r.events,
                        censored: r.censored,
                        survival: r.survival,
                        lower: r.ci_lower,
                        upper: r.ci_upper,
                    })
                    .collect(),
                at_risk: g.at_risk_at.iter().map(|a| (a.time * days / 365.25, a.at_risk, a.survival)).collect(),
            })
            .collect();
        outcomes.push(OutcomeResult {
            name: o.name.clone(),
            label: o.label.clone(),
            events_all,
            events_adjusted: events_adj,
            naive,
            multivariable,
            adjusted,
            logrank_p,
            curves,
            horizon_years: horizon * days / 365.25,
            reference_value: o.reference_value,
        });
    }
    Ok(SurvivalReport {
        design: design_name.to_string(),
        exposure: exposure.clone(),
        n_exposed,
        n_reference: n - n_exposed,
        n_adjusted: (n_adj_exposed, keep.len() - n_adj_exposed),
        matched,
        ps_coefficients: ps_coef,
        balance: balance_rows,
        outcomes,
    })
}

fn cox_hr(
    t: &[f64],
    e: &[bool],
    x: &[Vec<f64>],
    names: &[String],
    w: Option<&[f64]>,
    opts: &CoxOptions,
    what: &str,
) -> Result<HrEstimate> {
    if !e.iter().any(|&v| v) {
        return Err(Error::Analysis { step: what.into(), cause: crate::Error::NoEvents { context: String::new() } });
    }
    let model = step(what, CoxModel::new(t, e, x, names, None, w))?;
    let fit = step(what, model.fit(opts))?;
    let c = &fit.coefficients[0];
    Ok(HrEstimate { hr: c.hr, ci: c.hr_ci, p: c.p, se: c.se, n: fit.n, events: fit.events, robust: opts.robust })
}

/// The language-independent column list a survival study needs (for error messages).
pub fn required_columns(study: &Study) -> Vec<String> {
    let mut v = Vec::new();
    if let Some(e) = &study.exposure {
        v.push(e.column.clone());
    }
    if let Design::Rates { group, .. } = &study.design {
        v.push(group.clone());
    }
    for o in &study.outcomes {
        v.extend(o.time.clone());
        v.push(o.event.clone());
    }
    v.extend(study.covariates.iter().map(|c| c.column.clone()));
    v
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::stats::psm::SplitMix64;
    use crate::study::render::render_html;
    use crate::study::spec::Lang;

    const STUDY: &str = r#"{"name": "t", "title": {"ja": "テスト", "en": "Test"},
        "data": {"views": ["v"], "sql": "SELECT 1"},
        "exposure": {"column": "x", "label": {"ja": "高", "en": "High"}, "reference_label": {"ja": "中", "en": "Moderate"}},
        "outcomes": [{"name": "mi", "label": "MI", "time": "t", "event": "e", "reference_value": 0.5}],
        "covariates": [{"column": "age"}, {"column": "dm"}], "design": {"type": "matching"},
        "outputs": {"horizon_years": 3}}"#;

    /// A confounded cohort: older and diabetic people are treated less and have more events; true HR 0.5.
    fn cohort(n: usize) -> Table {
        let mut r = SplitMix64::new(3);
        let u = |r: &mut SplitMix64| (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let (mut x, mut age, mut dm, mut t, mut e) = (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..n {
            let a = 50.0 + 30.0 * u(&mut r);
            let d = f64::from(u8::from(u(&mut r) < 0.4));
            let lp = 1.5 - 0.04 * (a - 50.0) - 0.8 * d;
            let treated = u(&mut r) < 1.0 / (1.0 + (-lp).exp());
            let h = 0.0005 * (0.04 * (a - 50.0) + 0.9 * d).exp() * if treated { 0.5 } else { 1.0 };
            let te = -(1.0 - u(&mut r)).ln() / h;
            let c = 365.0 * 3.0 * u(&mut r) + 200.0;
            x.push(f64::from(u8::from(treated)));
            age.push(a.round());
            dm.push(d);
            t.push(te.min(c).round());
            e.push(f64::from(u8::from(te <= c)));
        }
        Table::from_numeric(vec![("x".into(), x), ("age".into(), age), ("dm".into(), dm), ("t".into(), t), ("e".into(), e)])
            .unwrap()
    }

    #[test]
    fn matching_reduces_confounding_and_the_report_shows_it() {
        let study = Study::from_json_str(STUDY).unwrap();
        let table = cohort(4000);
        let report = analyze(&study, &table).unwrap();
        let ReportBody::Survival(r) = &report.body else { panic!("survival report") };
        let o = &r.outcomes[0];
        assert!((o.adjusted.hr.ln() - 0.5f64.ln()).abs() < (o.naive.hr.ln() - 0.5f64.ln()).abs(), "{} vs {}", o.adjusted.hr, o.naive.hr);
        assert!(o.adjusted.ci.0 < 0.5 && 0.5 < o.adjusted.ci.1, "{:?}", o.adjusted.ci);
        assert!(r.balance.iter().all(|b| b.after.2.abs() < 0.1), "{:?}", r.balance);
        assert!(r.balance.iter().any(|b| b.before.2.abs() > 0.2));
        assert_eq!(o.curves.len(), 2);
        assert!(!o.curves[0].exposed && o.curves[1].exposed);
        assert_eq!(o.curves[0].at_risk.len(), 4, "years 0..=3");
        let m = r.matched.as_ref().unwrap();
        assert_eq!(r.n_adjusted, (m.pairs, m.pairs));

        let html = render_html(&report, Lang::Ja);
        assert!(html.starts_with("<!DOCTYPE html>") && html.contains("lang=\"ja\""));
        assert!(html.contains("マッチング後") && html.contains("リスク集合の人数"));
        assert_eq!(html.matches("<svg").count(), 3, "KM, forest and Love plots");
        assert!(html.contains(&format!("{:.2} (95% CI {:.2}–{:.2})", o.adjusted.hr, o.adjusted.ci.0, o.adjusted.ci.1)));
        let en = render_html(&report, Lang::En);
        assert!(en.contains("Matched cohort") && en.contains("Number at risk") && en.contains("High"));
        // The JSON and the CSV carry the same numbers.
        let j = report.to_json();
        assert_eq!(j["outcomes"][0]["hazard_ratio"]["adjusted"]["hr"].as_f64().unwrap(), o.adjusted.hr);
        let files = report.files(Lang::Ja);
        let hr_csv = &files.iter().find(|f| f.0 == "hazard_ratios.csv").unwrap().1;
        assert!(hr_csv.contains(&format!("mi,adjusted,{},", o.adjusted.hr)), "{hr_csv}");
    }

    #[test]
    fn weighting_and_rates_designs_run() {
        let w = STUDY.replace(r#"{"type": "matching"}"#, r#"{"type": "weighting", "estimand": "ate"}"#);
        let report = analyze(&Study::from_json_str(&w).unwrap(), &cohort(3000)).unwrap();
        let ReportBody::Survival(r) = &report.body else { panic!("survival report") };
        assert!(r.outcomes[0].adjusted.robust);
        assert!(r.balance.iter().all(|b| b.after.2.abs() < 0.1), "{:?}", r.balance);
        let rates = r#"{"name": "hf", "title": "HF", "data": {"views": ["v"], "sql": "SELECT 1"},
            "outcomes": [{"name": "d", "label": "Death", "event": "e"}], "design": {"type": "rates", "group": "g"}}"#;
        let t = Table::from_csv_reader("g,e\nIV,1\nI,0\nIV,0\nII,0\n".as_bytes()).unwrap();
        let report = analyze(&Study::from_json_str(rates).unwrap(), &t).unwrap();
        let ReportBody::Rates(r) = &report.body else { panic!("rates report") };
        let groups: Vec<&str> = r.outcomes[0].rows.iter().map(|x| x.group.as_str()).collect();
        assert_eq!(groups, ["I", "II", "IV", "all"]);
        assert_eq!(r.outcomes[0].rows[2].proportion, 0.5);
    }

    #[test]
    fn errors_say_what_and_where() {
        let study = Study::from_json_str(STUDY).unwrap();
        let t = Table::from_csv_reader("x,age,t,e\n1,50,3,1\n".as_bytes()).unwrap();
        let e = analyze(&study, &t).unwrap_err().to_string();
        assert!(e.contains("unknown column `dm`") && e.contains("available: x, age, t, e"), "{e}");
        let t = Table::from_csv_reader("x,age,dm,t,e\n1,50,0,3,1\n0,5x,1,4,0\n".as_bytes()).unwrap();
        let e = analyze(&study, &t).unwrap_err().to_string();
        assert!(e.contains("`5x`") && e.contains("row 2"), "{e}");
        let t = Table::from_csv_reader("x,age,dm,t,e\n1,50,0,3,1\n1,60,1,4,0\n".as_bytes()).unwrap();
        assert!(matches!(analyze(&study, &t), Err(Error::OneArm { exposed: 2, total: 2 })));
    }
}
