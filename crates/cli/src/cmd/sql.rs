//! `medtwin sql`: SQL (Apache DataFusion) over SQL-on-FHIR views of the
//! store (or of NDJSON files) and over Parquet files. Only the views a query
//! reads are run; the others are registered empty, so `information_schema`
//! lists every table.

use super::DataArgs;
use super::view::StoreSource;
use analytics::sql::{SqlFormat, SqlSession, write_result};
use analytics::view::{NdjsonDir, ResourceSource, RunOptions, ViewDefinition};
use anyhow::{Context, bail};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run one read-only SQL query over views and Parquet files.
///
/// Tables: each view is a table named after the view (`--view FILE ...`, or
/// by default the standard JP Core views: patients, facilities, encounters,
/// conditions, lab_results, prescriptions, claims, claim_items), computed
/// from the store in --data (or from --ndjson DIR); and each Parquet file
/// given with --parquet (a file, or a folder whose *.parquet files become
/// tables named after the files). A Parquet table hides a view of the same
/// name. Only the views the query reads are computed.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  medtwin sql \"SELECT sex, count(*) AS n FROM patients GROUP BY sex\"
  medtwin sql --ndjson out/fhir \"SELECT icd10_chapter_block, count(*) FROM conditions GROUP BY 1 ORDER BY 2 DESC LIMIT 10\"
  medtwin view materialize views --out parquet/ && medtwin sql --parquet parquet/ --format csv \"SELECT * FROM lab_results\"
  medtwin sql \"SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'public'\"")]
pub(crate) struct Args {
    /// The query: one SELECT statement (DDL, DML and SET are refused).
    query: String,
    #[command(flatten)]
    data: DataArgs,
    /// A ViewDefinition file to use as a table (repeatable); replaces the standard views.
    #[arg(long = "view", value_name = "VIEW.json")]
    views: Vec<PathBuf>,
    /// Compute views from the NDJSON files in this folder (<Type>.ndjson) instead of the store.
    #[arg(long, value_name = "DIR")]
    ndjson: Option<PathBuf>,
    /// A Parquet file, or a folder of *.parquet files, to use as tables (repeatable).
    #[arg(long, value_name = "PATH")]
    parquet: Vec<PathBuf>,
    /// Output format.
    #[arg(long, default_value = "table", value_parser = ["table", "csv", "json"])]
    format: String,
}

fn load_views(paths: &[PathBuf]) -> anyhow::Result<Vec<ViewDefinition>> {
    if paths.is_empty() {
        return Ok(analytics::view::standard());
    }
    let mut views = Vec::new();
    for p in paths {
        let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        let view = ViewDefinition::from_json_str(&text)
            .with_context(|| format!("{} is not a valid ViewDefinition", p.display()))?;
        view.require_name().with_context(|| format!("{}: a view used as a SQL table needs a name", p.display()))?;
        views.push(view);
    }
    Ok(views)
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    let format: SqlFormat = a.format.parse()?;
    let views = load_views(&a.views)?;
    let session = SqlSession::new();
    let mut taken: Vec<String> = Vec::new();
    for p in &a.parquet {
        if p.is_dir() {
            let names = session.register_parquet_dir(p).with_context(|| format!("reading {}", p.display()))?;
            if names.is_empty() {
                bail!("{} holds no *.parquet files", p.display());
            }
            taken.extend(names);
        } else {
            let Some(name) = p.file_stem().and_then(|s| s.to_str()) else {
                bail!("{} has no usable file name for a table", p.display());
            };
            session.register_parquet(name, p).with_context(|| format!("reading {}", p.display()))?;
            taken.push(name.to_string());
        }
    }
    let wanted = session.referenced_tables(&a.query)?;
    let (run, empty): (Vec<ViewDefinition>, Vec<ViewDefinition>) = views
        .into_iter()
        .filter(|v| !taken.iter().any(|t| Some(t.as_str()) == v.name.as_deref()))
        .partition(|v| v.name.as_deref().is_some_and(|n| wanted.iter().any(|w| w == n)));
    for v in &empty {
        session.register_batches(v.require_name()?, v.schema(), Vec::new())?;
    }
    if !run.is_empty() {
        let opts = RunOptions::default();
        let stats = match &a.ndjson {
            Some(dir) => {
                if !dir.is_dir() {
                    bail!("--ndjson {}: not a folder", dir.display());
                }
                session.register_views(&run, &mut NdjsonDir(dir.clone()), &opts)?
            }
            None => {
                let store = a.data.open()?;
                let mut source = StoreSource::new(&store)?;
                session.register_views(&run, &mut source as &mut dyn ResourceSource, &opts)?
            }
        };
        for (name, s) in stats {
            tracing::debug!(view = %name, resources = s.resources, rows = s.rows, "view computed");
        }
    }
    let result = session.query(&a.query)?;
    let bytes = write_result(&result, format, Vec::new())?;
    crate::progress::stdout(&String::from_utf8_lossy(&bytes)).context("writing the result")?;
    eprintln!("{} rows", result.num_rows());
    Ok(ExitCode::SUCCESS)
}
