//! `medtwin study run STUDY.json --out DIR`: run a study (views + SQL over the
//! store or NDJSON files, then matching/weighting, Cox, Kaplan–Meier or
//! rates) and write its report: `report.html`, `results.json`, CSV files.

use super::DataArgs;
use super::view::StoreSource;
use analytics::study::{Lang, Study, StudyFiles};
use analytics::view::{NdjsonDir, ResourceSource, ViewDefinition};
use anyhow::{Context, bail};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub(crate) enum Command {
    /// Run a study file and write its report (HTML with SVG plots, JSON, CSV) into --out.
    Run(RunArgs),
}

/// Run a study: its views over the store (--data) or NDJSON files (--input),
/// its SQL into one row per subject, then propensity matching or weighting,
/// Cox models and Kaplan–Meier curves (or rates by subgroup), and write the
/// report into --out: report.html, results.json and CSV files.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  medtwin synth --patients 20000 --formats fhir --out synth
  medtwin study run studies/statin-intensity.json --input synth/fhir --out report-statin
  medtwin study run studies/heart-failure-mortality.json --data ./medtwin-data --out report-hf --lang en

The exit status is 1 when the study cannot run; the message names the problem
(an unknown column, a non-numeric value and its row, no events, perfect
separation or a singular design in the propensity model).")]
pub(crate) struct RunArgs {
    /// The study file (JSON), e.g. studies/statin-intensity.json (see studies/README.md).
    study: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Read resources from this folder of NDJSON files (<Type>.ndjson, as
    /// `medtwin synth` writes them under OUT/fhir) instead of the store.
    #[arg(long = "input", value_name = "NDJSON_DIR")]
    input: Option<PathBuf>,
    /// Folder of ViewDefinitions that bare view names in the study refer to
    /// (default: the standard JP Core views built into medtwin).
    #[arg(long, value_name = "DIR")]
    views: Option<PathBuf>,
    /// Output folder for the report (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Language of the HTML report.
    #[arg(long, default_value = "ja", value_parser = ["ja", "en"])]
    lang: String,
    /// Also write the analysis table (one row per subject) as cohort.csv.
    #[arg(long)]
    write_table: bool,
}

fn standard_views(dir: Option<&PathBuf>) -> anyhow::Result<Vec<ViewDefinition>> {
    match dir {
        Some(d) => Ok(analytics::view::load_views_dir(d)
            .with_context(|| format!("reading views from {}", d.display()))?
            .into_iter()
            .map(|(_, v)| v)
            .collect()),
        None => Ok(analytics::view::standard()),
    }
}

/// An NDJSON folder with a progress bar per resource type (hidden when piped).
struct NdjsonProgress(NdjsonDir);

impl ResourceSource for NdjsonProgress {
    fn scan(
        &mut self,
        rtype: &str,
        each: &mut dyn FnMut(String) -> analytics::view::Result<()>,
    ) -> analytics::view::Result<()> {
        let files = analytics::view::ndjson_files_for(&self.0.0, rtype)?;
        let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
        let bar = crate::progress::bytes(total, rtype);
        let r = self.0.scan(rtype, &mut |line| {
            bar.inc(line.len() as u64 + 1);
            each(line)
        });
        bar.finish_and_clear();
        r
    }
}

pub(crate) fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Run(a) => {
            let text = std::fs::read_to_string(&a.study).with_context(|| format!("cannot read {}", a.study.display()))?;
            let study = Study::from_json_str(&text).with_context(|| format!("{}", a.study.display()))?;
            let lang = Lang::parse(&a.lang)?;
            let base = match a.study.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            let standard = standard_views(a.views.as_ref())?;
            let files = StudyFiles::Dir(&base);
            let done = match &a.input {
                Some(dir) => {
                    if !dir.is_dir() {
                        bail!("--input {}: not a folder of NDJSON files", dir.display());
                    }
                    analytics::study::run(&study, files, &standard, &mut NdjsonProgress(NdjsonDir(dir.clone())))
                }
                None => {
                    let store = a.data.open()?;
                    let mut source = StoreSource::new(&store)?;
                    analytics::study::run(&study, files, &standard, &mut source)
                }
            }
            .with_context(|| format!("study {}", study.name))?;
            for (name, s) in &done.views {
                tracing::debug!(view = %name, resources = s.resources, rows = s.rows, "view computed");
            }
            let (table, report) = (done.table, done.report);
            std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
            let mut files = report.files(lang);
            if a.write_table {
                let mut buf = Vec::new();
                table.write_csv(&mut buf)?;
                files.push(("cohort.csv".into(), String::from_utf8_lossy(&buf).into_owned()));
            }
            for (name, body) in &files {
                let p = a.out.join(name);
                std::fs::write(&p, body).with_context(|| format!("writing {}", p.display()))?;
            }
            crate::progress::stdout(&summary(&report, lang))?;
            eprintln!("report: {}", a.out.join("report.html").display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A few lines for the terminal: the headline numbers.
fn summary(report: &analytics::study::Report, lang: Lang) -> String {
    use analytics::study::report::ReportBody;
    let mut s = format!("{} ({} rows)\n", report.study.title.get(lang), report.n_rows);
    match &report.body {
        ReportBody::Survival(r) => {
            for o in &r.outcomes {
                for (m, h) in [("unadjusted", &o.naive), ("multivariable", &o.multivariable), (r.design.as_str(), &o.adjusted)] {
                    s += &format!(
                        "{:<24} {:<14} HR {:.3} ({:.3}-{:.3}) events {}\n",
                        o.name, m, h.hr, h.ci.0, h.ci.1, h.events
                    );
                }
            }
        }
        ReportBody::Rates(r) => {
            for o in &r.outcomes {
                for x in &o.rows {
                    s += &format!(
                        "{:<24} {:<8} {:>6}/{:<6} {:>6.2}% ({:.2}-{:.2}%)\n",
                        o.name,
                        x.group,
                        x.events,
                        x.n,
                        x.proportion * 100.0,
                        x.ci.0 * 100.0,
                        x.ci.1 * 100.0
                    );
                }
            }
        }
    }
    s
}
