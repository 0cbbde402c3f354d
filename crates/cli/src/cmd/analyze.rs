//! `medtwin analyze km|logrank|cox|psm`: survival statistics and propensity
//! matching over a CSV table, as readable tables or JSON (`--format json`).

use analytics::Table;
use analytics::stats::{self, Groups, cox, km, logrank, psm};
use anyhow::{Context, bail};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub(crate) enum Command {
    /// Kaplan–Meier survival curves with Greenwood confidence intervals.
    Km(KmArgs),
    /// Log-rank test (or Wilcoxon/Breslow weighting) between groups, optionally stratified.
    Logrank(LogrankArgs),
    /// Cox proportional hazards regression.
    Cox(CoxArgs),
    /// Propensity-score matching (logistic model, nearest neighbour on the logit with a caliper).
    Psm(PsmArgs),
    /// Proportions (e.g. in-hospital mortality) by subgroup with Wilson intervals, or mortality within a horizon.
    Rate(RateArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct RateArgs {
    #[command(flatten)]
    input: Input,
    /// A 0/1 outcome column (e.g. died_in_hospital); or use --time, --event and --horizon.
    #[arg(long, conflicts_with_all = ["time", "horizon"])]
    outcome: Option<String>,
    /// Column with the follow-up time (with --event and --horizon: mortality within the horizon).
    #[arg(long, requires_all = ["event", "horizon"])]
    time: Option<String>,
    /// Column with the death indicator.
    #[arg(long)]
    event: Option<String>,
    /// Horizon in the time column's unit (30 for 30-day mortality in days); people censored earlier are excluded and counted.
    #[arg(long)]
    horizon: Option<f64>,
    /// Column with the subgroups (e.g. nyha).
    #[arg(long)]
    group: Option<String>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct Input {
    /// The input table (CSV with a header row).
    #[arg(long)]
    input: PathBuf,
    /// Output format: a table for people, JSON for programs.
    #[arg(long, default_value = "table", value_parser = ["table", "json"])]
    format: String,
}

/// The two columns every survival analysis needs.
#[derive(clap::Args, Debug)]
pub(crate) struct Survival {
    /// Column with the follow-up time.
    #[arg(long)]
    time: String,
    /// Column with the event indicator (1 = event, 0 = censored).
    #[arg(long)]
    event: String,
}

impl Survival {
    fn load(&self, t: &Table) -> anyhow::Result<(Vec<f64>, Vec<bool>)> {
        Ok((t.numeric(&self.time)?, t.events(&self.event)?))
    }
}

#[derive(clap::Args, Debug)]
pub(crate) struct KmArgs {
    #[command(flatten)]
    input: Input,
    #[command(flatten)]
    survival: Survival,
    /// Column whose values split the curves into groups.
    #[arg(long)]
    group: Option<String>,
    /// Times at which to report the numbers at risk, e.g. 0,365,730.
    #[arg(long, value_delimiter = ',')]
    at: Vec<f64>,
    /// Confidence-interval transform: loglog (lifelines' default), log (R's default) or plain.
    #[arg(long, default_value = "loglog")]
    ci: String,
}

#[derive(clap::Args, Debug)]
pub(crate) struct LogrankArgs {
    #[command(flatten)]
    input: Input,
    #[command(flatten)]
    survival: Survival,
    /// Column with the groups to compare.
    #[arg(long)]
    group: String,
    /// Column with strata (the test is summed over strata).
    #[arg(long)]
    strata: Option<String>,
    /// Weighting: logrank or wilcoxon (Breslow).
    #[arg(long, default_value = "logrank")]
    weighting: String,
}

#[derive(clap::Args, Debug)]
pub(crate) struct CoxArgs {
    #[command(flatten)]
    input: Input,
    #[command(flatten)]
    survival: Survival,
    /// Covariate columns (numeric; 0/1 for binary).
    #[arg(long, value_delimiter = ',', required = true)]
    covariates: Vec<String>,
    /// Tie handling: efron or breslow.
    #[arg(long, default_value = "efron")]
    ties: String,
    /// Column with strata (separate baseline hazards).
    #[arg(long)]
    strata: Option<String>,
    /// Robust (sandwich) standard errors.
    #[arg(long)]
    robust: bool,
    /// Also test proportional hazards with scaled Schoenfeld residuals on this time scale: rank, km, identity or log.
    #[arg(long)]
    ph_test: Option<String>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct PsmArgs {
    #[command(flatten)]
    input: Input,
    /// Column with the treatment indicator (1 treated, 0 control).
    #[arg(long)]
    treatment: String,
    /// Covariates of the propensity model.
    #[arg(long, value_delimiter = ',', required = true)]
    covariates: Vec<String>,
    /// Caliper in standard deviations of the logit of the propensity score (0 for none).
    #[arg(long, default_value_t = 0.2)]
    caliper: f64,
    /// Controls per treated patient (1 for 1:1).
    #[arg(long, default_value_t = 1)]
    ratio: usize,
    /// Allow a control to be matched more than once.
    #[arg(long)]
    replace: bool,
    /// Seed for the matching order (the result is deterministic given the seed).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Where to write the matched rows (CSV, with match_id, propensity and match_weight columns).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn load(input: &Input) -> anyhow::Result<Table> {
    Table::from_csv_path(&input.input).with_context(|| format!("reading {}", input.input.display()))
}

fn print(format: &str, json: serde_json::Value, table: String) -> anyhow::Result<()> {
    if format == "json" {
        crate::progress::stdout(&(serde_json::to_string_pretty(&json)? + "\n"))?;
    } else {
        crate::progress::stdout(&table)?;
    }
    Ok(())
}

fn groups_of(table: &Table, col: &str) -> anyhow::Result<Groups> {
    Ok(Groups::from_labels(table.text(col)?))
}

pub(crate) fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Km(a) => {
            let t = load(&a.input)?;
            let (time, event) = a.survival.load(&t)?;
            let groups = a.group.as_deref().map(|g| groups_of(&t, g)).transpose()?;
            let opts = km::KmOptions { ci: km::CiTransform::parse(&a.ci)?, at: a.at.clone(), ..Default::default() };
            let fit = km::kaplan_meier(&time, &event, groups.as_ref(), &opts)?;
            print(&a.input.format, fit.to_json(), fit.render_table())?;
        }
        Command::Logrank(a) => {
            let t = load(&a.input)?;
            let (time, event) = a.survival.load(&t)?;
            let groups = groups_of(&t, &a.group)?;
            let strata = a.strata.as_deref().map(|s| groups_of(&t, s)).transpose()?;
            let r = logrank::logrank_test(&time, &event, &groups, strata.as_ref(), logrank::Weighting::parse(&a.weighting)?)?;
            print(&a.input.format, r.to_json(), r.render_table())?;
        }
        Command::Cox(a) => {
            let t = load(&a.input)?;
            let (time, event) = a.survival.load(&t)?;
            let covs = t.numeric_columns(&a.covariates)?;
            let strata = a.strata.as_deref().map(|s| groups_of(&t, s)).transpose()?;
            let model = cox::CoxModel::new(&time, &event, &covs, &a.covariates, strata.as_ref(), None)?;
            let opts = cox::CoxOptions { ties: cox::Ties::parse(&a.ties)?, robust: a.robust, ..Default::default() };
            let fit = model.fit(&opts)?;
            let mut json = fit.to_json();
            let mut table = fit.render_table();
            if let Some(scale) = &a.ph_test {
                let rows = model.ph_test(&fit, cox::TimeTransform::parse(scale)?)?;
                json["ph_test"] = cox::ph_test_to_json(&rows);
                table += "\nproportional-hazards test (scaled Schoenfeld residuals):\n";
                for r in &rows {
                    table += &format!("{:<24} chi2 {:>10.4}  p {:.4}\n", r.name, r.statistic, r.p);
                }
            }
            print(&a.input.format, json, table)?;
        }
        Command::Psm(a) => {
            if a.ratio == 0 {
                bail!("--ratio must be at least 1");
            }
            let t = load(&a.input)?;
            let treatment = t.events(&a.treatment)?;
            let covs = t.numeric_columns(&a.covariates)?;
            let opts = psm::PsmOptions {
                caliper: (a.caliper > 0.0).then_some(a.caliper),
                ratio: a.ratio,
                replace: a.replace,
                seed: a.seed,
            };
            let r = psm::propensity_match(&treatment, &covs, &a.covariates, &opts)?;
            if let Some(out) = &a.out {
                r.matched_table(&t)?.write_csv_path(out).with_context(|| format!("writing {}", out.display()))?;
            }
            print(&a.input.format, r.to_json(), r.render_table())?;
        }
        Command::Rate(a) => run_rate(a)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn run_rate(a: RateArgs) -> anyhow::Result<()> {
    let t = load(&a.input)?;
    let table = match (&a.outcome, &a.time, &a.event, a.horizon) {
        (Some(o), None, _, None) => stats::from_table::rate(&t, o, a.group.as_deref())?,
        (None, Some(time), Some(event), Some(h)) => stats::from_table::mortality(&t, time, event, h, a.group.as_deref())?,
        _ => bail!("give either --outcome COL, or --time COL --event COL --horizon N"),
    };
    print(&a.input.format, table.to_json(), table.render_table())
}
