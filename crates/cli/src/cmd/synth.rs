//! `medtwin synth`: the synthetic Japanese population with known ground truth.

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// Number of people.
    #[arg(long, default_value_t = 1_000)]
    pub(crate) patients: u64,
    /// Random seed (the same arguments give byte-identical output).
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Output directory (created if missing).
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Region: mie (三重県, 29 municipalities) or japan (all 339 構想区域).
    #[arg(long, default_value = "mie")]
    pub(crate) region: String,
    /// Calendar years simulated, e.g. 2013-2024.
    #[arg(long, default_value = "2013-2024")]
    pub(crate) years: String,
    /// Outputs to write: any of fhir, ssmix2, uke (comma-separated).
    #[arg(long, default_value = "fhir,ssmix2,uke")]
    pub(crate) formats: String,
    /// Model parameters (JSON; any subset overrides the defaults, e.g. the studies' hazard ratios).
    #[arg(long)]
    pub(crate) params: Option<PathBuf>,
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    let cfg = synth::Config {
        patients: a.patients,
        seed: a.seed,
        out: a.out.clone(),
        region: a.region.parse().context("--region")?,
        years: synth::parse_years(&a.years).context("--years")?,
        formats: a.formats.parse().context("--formats")?,
        params: match &a.params {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
                serde_json::from_str(&text).with_context(|| format!("--params {}: not valid parameters", p.display()))?
            }
            None => synth::Params::default(),
        },
        ..synth::Config::default()
    };
    let pb = crate::progress::count(a.patients, "simulating people");
    let started = std::time::Instant::now();
    let summary = synth::generate(&cfg, &mut |p: synth::Progress| pb.set_position(p.done))
        .with_context(|| format!("generating into {}", a.out.display()))?;
    pb.finish_and_clear();
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    let mut text = String::new();
    for (t, n) in &summary.resources_by_type {
        text += &format!("{t:<28} {n:>10}\n");
    }
    text += &format!(
        "{} people, {} FHIR resources, {} SS-MIX2 files, {} UKE files, {:.1} MB in {:.1} s ({:.0} people/s, {:.0} resources/s)\n\
         studies: {} PCI patients, {} heart-failure admissions, {} case reports; ground truth in {}\n",
        summary.patients,
        summary.resources,
        summary.ssmix2_files,
        summary.uke_files,
        summary.bytes as f64 / 1e6,
        secs,
        summary.patients as f64 / secs,
        summary.resources as f64 / secs,
        summary.pci_cohort,
        summary.hf_admissions,
        summary.case_reports,
        a.out.join("truth.json").display()
    );
    crate::progress::stdout(&text)?;
    Ok(ExitCode::SUCCESS)
}
