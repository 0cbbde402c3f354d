//! The report model: every number a study produced, in one value that the
//! HTML renderer, `results.json` and the CSV files are all made from, so the
//! three can never disagree.

use serde_json::{Value, json};

use super::spec::{Exposure, Label, Lang, Study};

/// A hazard ratio with its confidence interval.
#[derive(Debug, Clone, PartialEq)]
pub struct HrEstimate {
    /// Hazard ratio, exposed vs reference.
    pub hr: f64,
    /// Confidence interval.
    pub ci: (f64, f64),
    /// Wald p-value.
    pub p: f64,
    /// Standard error of the log hazard ratio (robust when `robust`).
    pub se: f64,
    /// Subjects in the model.
    pub n: usize,
    /// Events in the model.
    pub events: usize,
    /// Whether the standard error is the robust (sandwich) one.
    pub robust: bool,
}

/// One point of a Kaplan–Meier curve (a distinct time).
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    /// Time in years.
    pub time_years: f64,
    /// Number at risk just before the time.
    pub at_risk: f64,
    /// Events at the time.
    pub events: f64,
    /// Censored at the time.
    pub censored: f64,
    /// Survival after the time.
    pub survival: f64,
    /// Lower confidence limit of survival.
    pub lower: f64,
    /// Upper confidence limit of survival.
    pub upper: f64,
}

/// The Kaplan–Meier curve of one exposure group.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Exposed group (else reference).
    pub exposed: bool,
    /// Subjects.
    pub n: usize,
    /// Events.
    pub events: usize,
    /// The survival table.
    pub points: Vec<CurvePoint>,
    /// (year, number at risk, survival) at each whole year.
    pub at_risk: Vec<(f64, f64, f64)>,
}

/// Results for one time-to-event outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct OutcomeResult {
    /// Identifier.
    pub name: String,
    /// Display name.
    pub label: Label,
    /// Events (exposed, reference) in the whole cohort.
    pub events_all: (usize, usize),
    /// Events (exposed, reference) in the matched or weighted cohort.
    pub events_adjusted: (usize, usize),
    /// Exposure-only Cox model in the whole cohort.
    pub naive: HrEstimate,
    /// Cox model with the exposure and every covariate, whole cohort.
    pub multivariable: HrEstimate,
    /// Exposure-only Cox model in the matched cohort (or weighted, robust SE).
    pub adjusted: HrEstimate,
    /// Log-rank p-value in the matched cohort.
    pub logrank_p: Option<f64>,
    /// KM curves in the adjusted cohort, reference group first.
    pub curves: Vec<Curve>,
    /// Plot horizon in years.
    pub horizon_years: f64,
    /// Expected hazard ratio shown next to the estimates.
    pub reference_value: Option<f64>,
}

/// Balance of one covariate.
#[derive(Debug, Clone, PartialEq)]
pub struct BalanceRow {
    /// Column name.
    pub column: String,
    /// Display name.
    pub label: Label,
    /// 0/1 covariate.
    pub binary: bool,
    /// (mean exposed, mean reference, SMD) before adjustment.
    pub before: (f64, f64, f64),
    /// The same after matching or weighting.
    pub after: (f64, f64, f64),
}

/// Matching counts.
#[derive(Debug, Clone, PartialEq)]
pub struct MatchSummary {
    /// Matched pairs (exposed–reference links).
    pub pairs: usize,
    /// Exposed subjects with a match.
    pub exposed_matched: usize,
    /// Exposed subjects without a match within the caliper.
    pub exposed_unmatched: usize,
    /// Caliper in SDs of the logit.
    pub caliper_sd: f64,
    /// Caliper on the logit scale.
    pub caliper_width: f64,
    /// Controls per exposed subject.
    pub ratio: usize,
}

/// A survival study's results.
#[derive(Debug, Clone, PartialEq)]
pub struct SurvivalReport {
    /// `matching` or `weighting`.
    pub design: String,
    /// The exposure.
    pub exposure: Exposure,
    /// Exposed subjects in the whole cohort.
    pub n_exposed: usize,
    /// Reference subjects in the whole cohort.
    pub n_reference: usize,
    /// (exposed, reference) in the matched or weighted cohort.
    pub n_adjusted: (usize, usize),
    /// Matching counts (matching design).
    pub matched: Option<MatchSummary>,
    /// Propensity model coefficients (term, log-odds).
    pub ps_coefficients: Vec<(String, f64)>,
    /// Covariate balance.
    pub balance: Vec<BalanceRow>,
    /// One entry per outcome.
    pub outcomes: Vec<OutcomeResult>,
}

/// One subgroup's proportion.
#[derive(Debug, Clone, PartialEq)]
pub struct RateRow {
    /// Subgroup (`all` for the total).
    pub group: String,
    /// Denominator.
    pub n: usize,
    /// Events.
    pub events: usize,
    /// events / n.
    pub proportion: f64,
    /// Wilson interval.
    pub ci: (f64, f64),
}

/// One outcome's rates by subgroup.
#[derive(Debug, Clone, PartialEq)]
pub struct RatesOutcome {
    /// Identifier.
    pub name: String,
    /// Display name.
    pub label: Label,
    /// Subgroups then `all`.
    pub rows: Vec<RateRow>,
}

/// A rates study's results.
#[derive(Debug, Clone, PartialEq)]
pub struct RatesReport {
    /// The subgroup column.
    pub group_column: String,
    /// Its display name.
    pub group_label: Option<Label>,
    /// One entry per outcome.
    pub outcomes: Vec<RatesOutcome>,
}

/// What kind of results a report holds.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportBody {
    /// Matching or weighting with time-to-event outcomes.
    Survival(Box<SurvivalReport>),
    /// Proportions by subgroup.
    Rates(RatesReport),
}

/// A study's results.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The study that produced it.
    pub study: Study,
    /// Rows in the analysis table.
    pub n_rows: usize,
    /// The results.
    pub body: ReportBody,
}

fn num(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

fn hr_json(h: &HrEstimate) -> Value {
    json!({"hr": num(h.hr), "ci": [num(h.ci.0), num(h.ci.1)], "p": num(h.p), "se_log_hr": num(h.se),
           "n": h.n, "events": h.events, "robust_se": h.robust})
}

fn label_json(l: &Label) -> Value {
    json!({"ja": l.get(Lang::Ja), "en": l.get(Lang::En)})
}

impl Report {
    /// `results.json`: the same numbers as the HTML page.
    pub fn to_json(&self) -> Value {
        let s = &self.study;
        let mut out = json!({
            "study": s.name,
            "title": label_json(&s.title),
            "rows": self.n_rows,
            "confidence": s.outputs.confidence,
        });
        match &self.body {
            ReportBody::Survival(r) => {
                out["design"] = json!(r.design);
                out["exposure"] = json!({"column": r.exposure.column, "exposed": label_json(&r.exposure.label),
                    "reference": label_json(&r.exposure.reference_label)});
                out["cohort"] = json!({"exposed": r.n_exposed, "reference": r.n_reference,
                    "adjusted": {"exposed": r.n_adjusted.0, "reference": r.n_adjusted.1}});
                if let Some(m) = &r.matched {
                    out["matching"] = json!({"pairs": m.pairs, "exposed_matched": m.exposed_matched,
                        "exposed_unmatched": m.exposed_unmatched, "caliper_sd": m.caliper_sd,
                        "caliper_logit": num(m.caliper_width), "ratio": m.ratio});
                }
                out["propensity_model"] = Value::Object(
                    r.ps_coefficients.iter().map(|(k, v)| (k.clone(), num(*v))).collect(),
                );
                out["balance"] = Value::Array(
                    r.balance
                        .iter()
                        .map(|b| json!({"covariate": b.column, "label": label_json(&b.label), "binary": b.binary,
                            "before": {"mean_exposed": num(b.before.0), "mean_reference": num(b.before.1), "smd": num(b.before.2)},
                            "after": {"mean_exposed": num(b.after.0), "mean_reference": num(b.after.1), "smd": num(b.after.2)}}))
                        .collect(),
                );
                out["outcomes"] = Value::Array(
                    r.outcomes
                        .iter()
                        .map(|o| {
                            json!({"name": o.name, "label": label_json(&o.label),
                                "events": {"all": {"exposed": o.events_all.0, "reference": o.events_all.1},
                                           "adjusted": {"exposed": o.events_adjusted.0, "reference": o.events_adjusted.1}},
                                "hazard_ratio": {"unadjusted": hr_json(&o.naive), "multivariable": hr_json(&o.multivariable),
                                                 "adjusted": hr_json(&o.adjusted)},
                                "logrank_p": o.logrank_p.map(num),
                                "reference_value": o.reference_value,
                                "km": o.curves.iter().map(|c| json!({
                                    "group": if c.exposed { "exposed" } else { "reference" },
                                    "n": c.n, "events": c.events,
                                    "at_risk": c.at_risk.iter().map(|(y, n, s)| json!({"year": num(*y), "at_risk": num(*n), "cumulative_incidence": num(1.0 - s)})).collect::<Vec<_>>(),
                                })).collect::<Vec<_>>()})
                        })
                        .collect(),
                );
            }
            ReportBody::Rates(r) => {
                out["design"] = json!("rates");
                out["group"] = json!(r.group_column);
                out["outcomes"] = Value::Array(
                    r.outcomes
                        .iter()
                        .map(|o| json!({"name": o.name, "label": label_json(&o.label),
                            "rates": o.rows.iter().map(|x| json!({"group": x.group, "n": x.n, "events": x.events,
                                "proportion": num(x.proportion), "ci": [num(x.ci.0), num(x.ci.1)]})).collect::<Vec<_>>()}))
                        .collect(),
                );
            }
        }
        out
    }

    /// The CSV files of the report: (file name, contents).
    pub fn csv_files(&self) -> Vec<(String, String)> {
        let f = |v: f64| if v.is_finite() { format!("{v}") } else { String::new() };
        let mut files = Vec::new();
        match &self.body {
            ReportBody::Survival(r) => {
                let mut s = String::from("covariate,binary,mean_exposed_before,mean_reference_before,smd_before,mean_exposed_after,mean_reference_after,smd_after\n");
                for b in &r.balance {
                    s += &format!(
                        "{},{},{},{},{},{},{},{}\n",
                        b.column, b.binary, f(b.before.0), f(b.before.1), f(b.before.2), f(b.after.0), f(b.after.1), f(b.after.2)
                    );
                }
                files.push(("balance.csv".into(), s));
                let mut s = String::from("outcome,model,hr,ci_lower,ci_upper,p,n,events,robust_se\n");
                for o in &r.outcomes {
                    for (m, h) in [("unadjusted", &o.naive), ("multivariable", &o.multivariable), ("adjusted", &o.adjusted)] {
                        s += &format!("{},{m},{},{},{},{},{},{},{}\n", o.name, f(h.hr), f(h.ci.0), f(h.ci.1), f(h.p), h.n, h.events, h.robust);
                    }
                }
                files.push(("hazard_ratios.csv".into(), s));
                for o in &r.outcomes {
                    let mut s = String::from("group,time_years,at_risk,events,censored,survival,ci_lower,ci_upper\n");
                    for c in &o.curves {
                        let g = if c.exposed { "exposed" } else { "reference" };
                        for p in &c.points {
                            s += &format!(
                                "{g},{},{},{},{},{},{},{}\n",
                                f(p.time_years), f(p.at_risk), f(p.events), f(p.censored), f(p.survival), f(p.lower), f(p.upper)
                            );
                        }
                    }
                    files.push((format!("km_{}.csv", o.name), s));
                    let mut s = String::from("group,year,at_risk,cumulative_incidence\n");
                    for c in &o.curves {
                        let g = if c.exposed { "exposed" } else { "reference" };
                        for (y, n, sv) in &c.at_risk {
                            s += &format!("{g},{},{},{}\n", f(*y), f(*n), f(1.0 - sv));
                        }
                    }
                    files.push((format!("at_risk_{}.csv", o.name), s));
                }
            }
            ReportBody::Rates(r) => {
                let mut s = String::from("outcome,group,n,events,proportion,ci_lower,ci_upper\n");
                for o in &r.outcomes {
                    for x in &o.rows {
                        s += &format!("{},{},{},{},{},{},{}\n", o.name, csv_cell(&x.group), x.n, x.events, f(x.proportion), f(x.ci.0), f(x.ci.1));
                    }
                }
                files.push(("rates.csv".into(), s));
            }
        }
        files
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}
