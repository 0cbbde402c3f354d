//! `medtwin export`: current resources as `DIR/<Type>.ndjson`, one resource per line.

use super::DataArgs;
use anyhow::{Context, bail};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use store::Store;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Only these resource types (comma-separated); default: every type that has data.
    #[arg(long = "type", value_delimiter = ',')]
    types: Vec<String>,
    /// Only resources last updated at or after this instant (e.g. 2024-01-01T00:00:00Z).
    #[arg(long)]
    since: Option<String>,
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    let since = match &a.since {
        Some(s) => Some(store::Instant::parse(s).with_context(|| format!("--since '{s}' is not a FHIR instant such as 2024-01-01T00:00:00Z"))?),
        None => None,
    };
    for t in &a.types {
        if !fhir::definitions::r4().is_resource_type(t) {
            bail!("--type: '{t}' is not a FHIR R4 resource type");
        }
    }
    let store = a.data.open()?;
    let types: Vec<String> = if a.types.is_empty() { store.counts()?.into_iter().map(|(t, _)| t).collect() } else { a.types.clone() };
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let mut total = 0u64;
    for t in types {
        let path = a.out.join(format!("{t}.ndjson"));
        let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut n = 0u64;
        let mut io_err = None;
        store.scan(&t, since, &mut |body| {
            if let Err(e) = w.write_all(body.as_bytes()).and_then(|_| w.write_all(b"\n")) {
                io_err = Some(e);
                return Err(store::Error::Aborted("write failed".into()));
            }
            n += 1;
            Ok(())
        })
        .map_err(|e| match io_err.take() {
            Some(io) => anyhow::Error::new(io).context(format!("writing {}", path.display())),
            None => e.into(),
        })?;
        w.flush().with_context(|| format!("writing {}", path.display()))?;
        if n == 0 {
            std::fs::remove_file(&path).ok();
        } else {
            eprintln!("{t:<24} {n:>10}  {}", path.display());
        }
        total += n;
    }
    eprintln!("exported {total} resources to {}", a.out.display());
    Ok(ExitCode::SUCCESS)
}
