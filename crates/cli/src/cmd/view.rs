//! `medtwin view run|materialize`: SQL-on-FHIR v2 views over the store (or
//! NDJSON files), written as CSV, NDJSON, JSON or Parquet.

use super::DataArgs;
use analytics::view::{BatchWriter, Format, RunOptions, ViewDefinition, ViewSink};
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use store::Store;

#[derive(clap::Subcommand, Debug)]
pub(crate) enum Command {
    /// Run one ViewDefinition and write its rows.
    Run(RunArgs),
    /// Run every ViewDefinition in a folder and write one Parquet file per view.
    Materialize(MaterializeArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct RunArgs {
    /// The ViewDefinition (JSON).
    view: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Read resources from these NDJSON files instead of the store.
    #[arg(long = "input")]
    inputs: Vec<PathBuf>,
    /// Output format: csv, ndjson, json or parquet.
    #[arg(long, default_value = "csv")]
    format: String,
    /// Output file (standard output when omitted; required for parquet).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Stop after this many rows.
    #[arg(long)]
    limit: Option<usize>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct MaterializeArgs {
    /// A folder of ViewDefinitions (*.json), e.g. views/.
    views: PathBuf,
    #[command(flatten)]
    data: DataArgs,
    /// Output folder for the Parquet files.
    #[arg(long)]
    out: PathBuf,
}

fn load_view(path: &Path) -> anyhow::Result<ViewDefinition> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    ViewDefinition::from_json_str(&text).with_context(|| format!("{} is not a valid ViewDefinition", path.display()))
}

/// The store's current resources as a view source (for `medtwin sql`), with
/// a progress bar per resource type on a terminal.
pub(crate) struct StoreSource<'a> {
    store: &'a dyn Store,
    counts: Vec<(String, u64)>,
}

impl<'a> StoreSource<'a> {
    pub(crate) fn new(store: &'a dyn Store) -> anyhow::Result<StoreSource<'a>> {
        Ok(StoreSource { store, counts: store.counts().context("counting resources")? })
    }
}

impl analytics::view::ResourceSource for StoreSource<'_> {
    fn scan(
        &mut self,
        rtype: &str,
        each: &mut dyn FnMut(String) -> analytics::view::Result<()>,
    ) -> analytics::view::Result<()> {
        if !fhir::definitions::r4().is_resource_type(rtype) {
            return Err(analytics::view::Error::Source(format!("'{rtype}' is not a FHIR R4 resource type")));
        }
        let total = self.counts.iter().find(|(t, _)| t == rtype).map_or(0, |(_, n)| *n);
        let bar = crate::progress::count(total, rtype);
        // The scan reads and decompresses on its own thread while the views evaluate.
        let (scanned, viewed) = analytics::view::overlapped(
            |give| {
                self.store.scan(rtype, None, &mut |json| {
                    bar.inc(1);
                    if give(json) { Ok(()) } else { Err(store::Error::Aborted("view failed".into())) }
                })
            },
            &mut |json| each(json.to_string()).map(|()| true),
        );
        bar.finish_and_clear();
        viewed?;
        scanned.map_err(|e| analytics::view::Error::Source(e.to_string()))
    }
}

/// Runs `view` over the store's current resources of its type, batch by batch.
fn run_over_store(
    store: &dyn Store,
    view: &ViewDefinition,
    opts: RunOptions,
    emit: impl FnMut(arrow::record_batch::RecordBatch) -> analytics::view::Result<()>,
) -> anyhow::Result<u64> {
    if !fhir::definitions::r4().is_resource_type(&view.resource) {
        bail!("the view's resource '{}' is not a FHIR R4 resource type", view.resource);
    }
    let mut sink = ViewSink::new(view, opts, emit);
    sink.set_source_name(format!("the store ({})", view.resource));
    // The scan reads and decompresses on its own thread while the view
    // evaluates; it stops early once the row limit is reached.
    sink.push_from(|give| {
        store.scan(&view.resource, None, &mut |json| {
            if give(json) { Ok(()) } else { Err(store::Error::Aborted("view stopped".into())) }
        })
    })??;
    Ok(sink.finish()?.rows)
}

pub(crate) fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Run(a) => {
            let view = load_view(&a.view)?;
            let format: Format = a.format.parse().context("--format")?;
            if format == Format::Parquet && a.out.is_none() {
                bail!("--format parquet needs --out FILE");
            }
            let out: Box<dyn std::io::Write + Send> = match &a.out {
                Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)),
                None => Box::new(std::io::BufWriter::new(std::io::stdout())),
            };
            let mut w = BatchWriter::new(format, view.schema(), out)?;
            let opts = RunOptions { limit: a.limit, ..Default::default() };
            let rows = if a.inputs.is_empty() {
                let store = a.data.open()?;
                run_over_store(&store, &view, opts, |b| w.write(&b))?
            } else {
                for i in &a.inputs {
                    std::fs::metadata(i).with_context(|| format!("cannot read {}", i.display()))?;
                }
                view.run_ndjson_files(&a.inputs, opts, |b| w.write(&b))?.rows
            };
            let mut out = w.finish()?;
            match out.flush() {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => other.context("writing the output")?,
            }
            eprintln!("{rows} rows");
            Ok(ExitCode::SUCCESS)
        }
        Command::Materialize(a) => {
            let views = analytics::view::load_views_dir(&a.views)?;
            if views.is_empty() {
                bail!("{} holds no ViewDefinitions (*.json)", a.views.display());
            }
            std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
            let store = a.data.open()?;
            for (path, view) in &views {
                let name = view.require_name().with_context(|| path.display().to_string())?.to_string();
                let file = a.out.join(format!("{name}.parquet"));
                let f = std::fs::File::create(&file).with_context(|| format!("creating {}", file.display()))?;
                let mut w = BatchWriter::new(Format::Parquet, view.schema(), std::io::BufWriter::new(f))?;
                let rows = run_over_store(&store, view, RunOptions::default(), |b| w.write(&b))?;
                std::io::Write::flush(&mut w.finish()?).with_context(|| format!("writing {}", file.display()))?;
                eprintln!("{name:<32} {rows:>10} rows  {}", file.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
