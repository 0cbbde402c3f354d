//! One call per CLI command: read the named columns of a [`Table`] and run an analysis.
//!
//! These functions are the whole of what `medtwin analyze ...` needs: parse
//! flags, load the table, call one function here, print `to_json()` or
//! `render_table()`. Column errors (unknown column, non-numeric value with its
//! row) come from [`Table`] unchanged.

use super::Groups;
use super::cox::{CoxFit, CoxModel, CoxOptions, Ties};
use super::km::{CiTransform, KmFit, KmOptions, kaplan_meier};
use super::logistic::{LogisticFit, LogisticOptions, logistic_regression};
use super::logrank::{LogRankResult, Weighting, logrank_test};
use super::psm::{Estimand, PsmOptions, PsmResult, ipw_weights, propensity_match};
use super::rates::{RateTable, mortality_within, proportions};
use crate::{Result, Table};

/// `analyze km`: Kaplan–Meier by optional group, with numbers at risk at `at`.
/// `ci` is `loglog` (default), `log` or `plain`.
pub fn km(
    table: &Table,
    time: &str,
    event: &str,
    group: Option<&str>,
    at: &[f64],
    ci: &str,
) -> Result<KmFit> {
    let t = table.numeric(time)?;
    let e = table.events(event)?;
    let g = group
        .map(|g| table.text(g).map(Groups::from_labels))
        .transpose()?;
    let opts = KmOptions {
        ci: CiTransform::parse(ci)?,
        alpha: 0.05,
        at: at.to_vec(),
    };
    kaplan_meier(&t, &e, g.as_ref(), &opts)
}

/// `analyze logrank`: k-group test, optionally stratified; `weighting` is
/// `logrank` (default), `wilcoxon`, `tarone-ware` or `peto`.
pub fn logrank(
    table: &Table,
    time: &str,
    event: &str,
    group: &str,
    strata: Option<&str>,
    weighting: &str,
) -> Result<LogRankResult> {
    let t = table.numeric(time)?;
    let e = table.events(event)?;
    let g = Groups::from_labels(table.text(group)?);
    let s = strata
        .map(|s| table.text(s).map(Groups::from_labels))
        .transpose()?;
    logrank_test(&t, &e, &g, s.as_ref(), Weighting::parse(weighting)?)
}

/// `analyze cox`: `ties` is `efron` (default) or `breslow`. Returns the prepared
/// model too, for [`CoxModel::ph_test`].
pub fn cox(
    table: &Table,
    time: &str,
    event: &str,
    covariates: &[String],
    ties: &str,
    strata: Option<&str>,
    robust: bool,
) -> Result<(CoxModel, CoxFit)> {
    let t = table.numeric(time)?;
    let e = table.events(event)?;
    let x = table.numeric_columns(covariates)?;
    let s = strata
        .map(|s| table.text(s).map(Groups::from_labels))
        .transpose()?;
    let model = CoxModel::new(&t, &e, &x, covariates, s.as_ref(), None)?;
    let fit = model.fit(&CoxOptions {
        ties: Ties::parse(ties)?,
        robust,
        ..CoxOptions::default()
    })?;
    Ok((model, fit))
}

/// `analyze psm`: logistic propensity model, greedy matching on the logit,
/// balance before/after. Write `result.matched_table(table)?` with
/// [`Table::write_csv_path`] for `--out`.
pub fn psm(
    table: &Table,
    treatment: &str,
    covariates: &[String],
    opts: &PsmOptions,
) -> Result<PsmResult> {
    let tr = table.events(treatment)?;
    let x = table.numeric_columns(covariates)?;
    propensity_match(&tr, &x, covariates, opts)
}

/// Inverse-probability-of-treatment weights from a logistic propensity model;
/// `estimand` is `ate` or `att`. Feed the weights to
/// [`super::km::kaplan_meier_weighted`] or to [`CoxModel::new`] with
/// `robust: true`.
pub fn ipw(
    table: &Table,
    treatment: &str,
    covariates: &[String],
    estimand: &str,
    stabilized: bool,
) -> Result<(LogisticFit, Vec<f64>)> {
    let est = match estimand {
        "ate" => Estimand::Ate,
        "att" => Estimand::Att,
        _ => {
            return Err(crate::Error::InvalidOption {
                option: "estimand",
                message: format!("expected ate or att, got `{estimand}`"),
            });
        }
    };
    let tr = table.events(treatment)?;
    let x = table.numeric_columns(covariates)?;
    let model = logistic_regression(&tr, &x, covariates, &LogisticOptions::default())?;
    let w = ipw_weights(&model.fitted, &tr, est, stabilized)?;
    Ok((model, w))
}

/// Proportion of a 0/1 `outcome` column by optional group, with Wilson intervals.
pub fn rate(table: &Table, outcome: &str, group: Option<&str>) -> Result<RateTable> {
    let y = table.events(outcome)?;
    let g = group
        .map(|g| table.text(g).map(Groups::from_labels))
        .transpose()?;
    proportions(&y, g.as_ref(), 0.05)
}

/// Mortality within `horizon` time units (e.g. 30-day mortality) by optional group.
pub fn mortality(
    table: &Table,
    time: &str,
    event: &str,
    horizon: f64,
    group: Option<&str>,
) -> Result<RateTable> {
    let t = table.numeric(time)?;
    let e = table.events(event)?;
    let g = group
        .map(|g| table.text(g).map(Groups::from_labels))
        .transpose()?;
    mortality_within(&t, &e, horizon, g.as_ref(), 0.05)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::Error;

    const CSV: &str = "time,event,arm,age,site\n5,1,a,60,x\n8,0,b,55,y\n12,1,a,70,x\n3,1,b,65,y\n9,1,a,50,x\n15,0,b,62,y\n7,1,b,58,x\n11,0,a,66,y\n";

    #[test]
    fn each_command_runs_from_a_table_and_reports_column_errors() {
        let t = Table::from_csv_reader(CSV.as_bytes()).unwrap();
        let k = km(&t, "time", "event", Some("arm"), &[0.0, 10.0], "plain").unwrap();
        let j = k.to_json();
        assert_eq!(j.as_array().unwrap().len(), 2);
        for key in [
            "name",
            "n",
            "events",
            "median",
            "median_ci",
            "table",
            "at_risk_at",
        ] {
            assert!(j[0].get(key).is_some(), "km json lacks {key}");
        }
        for key in [
            "time", "at_risk", "events", "censored", "survival", "ci_lower", "ci_upper",
        ] {
            assert!(
                j[0]["table"][0].get(key).is_some(),
                "km table row lacks {key}"
            );
        }
        let l = logrank(&t, "time", "event", "arm", Some("site"), "wilcoxon")
            .unwrap()
            .to_json();
        assert!(l["statistic"].is_number() && l["df"] == 1 && l["p"].is_number());
        let (_, c) = cox(
            &t,
            "time",
            "event",
            &["age".to_string()],
            "breslow",
            None,
            true,
        )
        .unwrap();
        let cj = c.to_json();
        for key in ["name", "coef", "se", "hr", "hr_ci", "z", "p"] {
            assert!(
                cj["coefficients"][0].get(key).is_some(),
                "cox json lacks {key}"
            );
        }
        assert!(cj["loglik"].is_number() && cj["concordance"].is_number());
        assert_eq!(rate(&t, "event", Some("arm")).unwrap().rates.len(), 3);
        assert_eq!(
            mortality(&t, "time", "event", 10.0, None).unwrap().rates[0].events,
            4
        );
        let e = km(&t, "time", "nope", None, &[], "loglog").unwrap_err();
        assert!(matches!(e, Error::UnknownColumn { .. }), "{e}");
        let e = cox(
            &t,
            "time",
            "event",
            &["site".to_string()],
            "efron",
            None,
            false,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "non-numeric value `x` in column `site` at row 1 (line 2)"
        );
        assert!(km(&t, "time", "event", None, &[], "bogus").is_err());
        let (m, w) = ipw(&t, "event", &["age".to_string()], "ate", false).unwrap();
        assert_eq!(w.len(), t.n_rows());
        assert!(
            w.iter()
                .zip(&m.fitted)
                .all(|(w, p)| *w >= 1.0 && *p > 0.0 && *p < 1.0)
        );
        assert!(ipw(&t, "event", &["age".to_string()], "nope", false).is_err());
    }
}
