//! `medtwin`: the command-line program. Glue only: it parses flags (with
//! `MEDTWIN_*` environment equivalents), calls one library room per command and
//! maps the outcome to an exit code (0 ok, 1 fatal error, 3 some records rejected).

mod cmd;
mod progress;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Parsing FHIR JSON allocates and frees many small strings on every thread;
/// mimalloc's per-thread free lists make that cheaper than glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// medtwin: a FHIR R4 (JP Core) medical digital-twin platform in one binary.
#[derive(Parser)]
#[command(name = "medtwin", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a synthetic population (once), import it and serve it: the quickest way in.
    Demo(cmd::demo::Args),
    /// Serve the FHIR API at http://ADDR/fhir.
    Serve(cmd::serve::Args),
    /// Import NDJSON files, Bundle JSON files, or folders of them into the store.
    Import(cmd::import::Args),
    /// Export current resources as one NDJSON file per type (FHIR Bulk Data format).
    Export(cmd::export::Args),
    /// Survival statistics and propensity matching over a table (CSV).
    #[command(subcommand)]
    Analyze(cmd::analyze::Command),
    /// Run a study (views + SQL, matching or weighting, Cox, Kaplan–Meier, rates) into a report.
    #[command(subcommand)]
    Study(cmd::study::Command),
    /// Convert SS-MIX2 storage or UKE claims files to FHIR JP Core NDJSON.
    #[command(subcommand)]
    Convert(cmd::convert::Command),
    /// Generate a synthetic Japanese population (FHIR, SS-MIX2, UKE) with known ground truth.
    Synth(cmd::synth::Args),
    /// Run SQL-on-FHIR v2 ViewDefinitions over the store or NDJSON files.
    #[command(subcommand)]
    View(cmd::view::Command),
    /// Run SQL (Apache DataFusion) over SQL-on-FHIR views and Parquet files.
    Sql(cmd::sql::Args),
    /// Evaluate a FHIRPath expression against a resource and print the result as JSON.
    Fhirpath(cmd::fhirpath::Args),
    /// Regional analytics: patient flows between areas, claims rates, patients per facility, NDB reference rates.
    #[command(subcommand)]
    Regional(cmd::regional::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => cmd::demo::run(a),
        Command::Serve(a) => cmd::serve::run(a),
        Command::Import(a) => cmd::import::run(a),
        Command::Export(a) => cmd::export::run(a),
        Command::Fhirpath(a) => cmd::fhirpath::run(a),
        Command::Analyze(c) => cmd::analyze::run(c),
        Command::Convert(c) => cmd::convert::run(c),
        Command::Study(c) => cmd::study::run(c),
        Command::Synth(a) => cmd::synth::run(a),
        Command::View(c) => cmd::view::run(c),
        Command::Sql(a) => cmd::sql::run(a),
        Command::Regional(c) => cmd::regional::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
