//! `medtwin demo`: one command from a fresh clone to a running platform with
//! realistic data: generate a synthetic population (once), import it,
//! materialize the standard SQL-on-FHIR views as Parquet (`DATA/views`, for
//! the dashboard's SQL console), serve the API and the dashboard.
//! A second run finds the data and serves it again without regenerating.

use super::DataArgs;
use anyhow::Context;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use store::Store;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Number of synthetic people.
    #[arg(long, default_value_t = 20_000)]
    patients: u64,
    /// Random seed of the synthetic population.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Region: mie (三重県) or japan.
    #[arg(long, default_value = "mie")]
    region: String,
    /// Calendar years of care to generate, e.g. 2013-2024 or 2023-2024
    /// (fewer years: a smaller database for the same number of people).
    #[arg(long, default_value = "2013-2024")]
    years: String,
    /// Directory holding the database and the generated files.
    #[arg(long, env = "MEDTWIN_DATA", default_value = "./medtwin-data")]
    data: PathBuf,
    /// Address to listen on.
    #[arg(long, env = "MEDTWIN_ADDR", default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Generate and import, then exit instead of serving.
    #[arg(long)]
    no_serve: bool,
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    let data = DataArgs { data: a.data.clone(), sync: "normal".into(), cache_mib: 64 };
    let has_data = a.data.join("medtwin.db").exists() && !data.open()?.counts()?.is_empty();
    if has_data {
        eprintln!("medtwin demo: reusing the data in {} (delete the folder to regenerate)", a.data.display());
    } else {
        let synth_dir = a.data.join("synth");
        eprintln!("medtwin demo: generating {} synthetic people ({}) into {}", a.patients, a.region, synth_dir.display());
        let code = super::synth::run(super::synth::Args {
            patients: a.patients,
            seed: a.seed,
            out: synth_dir.clone(),
            region: a.region.clone(),
            years: a.years.clone(),
            formats: "fhir,ssmix2,uke".into(),
            params: None,
        })?;
        if code != ExitCode::SUCCESS {
            return Ok(code);
        }
        eprintln!("medtwin demo: importing the FHIR data");
        let code = super::import::run(super::import::Args {
            data: data.clone(),
            batch: 5_000,
            rejects: None,
            paths: vec![synth_dir.join("fhir")],
            facility: None,
        })?;
        if code != ExitCode::SUCCESS {
            anyhow::bail!("the synthetic data did not import cleanly (a bug): see the rejected records above");
        }
    }
    let views_dir = a.data.join("views");
    let synth_fhir = a.data.join("synth").join("fhir");
    let has_views = std::fs::read_dir(&views_dir)
        .map(|d| d.filter_map(Result::ok).any(|e| e.path().extension().is_some_and(|x| x == "parquet")))
        .unwrap_or(false);
    if !has_views && synth_fhir.is_dir() {
        eprintln!("medtwin demo: materializing the standard views into {}", views_dir.display());
        let views = analytics::view::standard();
        let started = std::time::Instant::now();
        let rows = analytics::view::materialize_ndjson(&views, &synth_fhir, &views_dir)
            .with_context(|| format!("materializing the views into {}", views_dir.display()))?;
        let total: u64 = rows.iter().map(|r| r.1).sum();
        eprintln!("medtwin demo: {} views, {total} rows in {:.1} s", rows.len(), started.elapsed().as_secs_f64());
    }
    if a.no_serve {
        return Ok(ExitCode::SUCCESS);
    }
    super::serve::run(super::serve::Args { data, addr: a.addr, max_body_mib: 64, max_count: 1000, base_url: None, views: None })
}
