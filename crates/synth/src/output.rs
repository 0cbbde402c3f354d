//! The run driver: builds the world, simulates people in parallel chunks,
//! writes every format in person-index order, and finishes with `truth.json`
//! and `README.md`.

use crate::fhir_out::{self, TYPES};
use crate::{sim, Config, Error, Result, World};
use rayon::prelude::*;
use serde_json::json;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Progress report, sent after each chunk.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// People written.
    pub done: u64,
    /// People in total.
    pub total: u64,
}

/// What a run produced.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    /// People.
    pub patients: u64,
    /// FHIR resources written.
    pub resources: u64,
    /// FHIR resources per type.
    pub resources_by_type: Vec<(String, u64)>,
    /// Bytes written, all formats.
    pub bytes: u64,
    /// Encounters.
    pub encounters: u64,
    /// Deaths within the period.
    pub deaths: u64,
    /// PCI cohort members.
    pub pci_cohort: u64,
    /// Heart-failure admissions.
    pub hf_admissions: u64,
    /// Case reports.
    pub case_reports: u64,
    /// SS-MIX2 message files.
    pub ssmix2_files: u64,
    /// UKE files.
    pub uke_files: u64,
}

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

/// A writer that counts bytes.
pub(crate) struct Out {
    path: PathBuf,
    w: BufWriter<File>,
    pub(crate) bytes: u64,
}

impl Out {
    pub(crate) fn create(path: PathBuf) -> Result<Out> {
        if let Some(dir) = path.parent() {
            io(dir, std::fs::create_dir_all(dir))?;
        }
        let f = io(&path, File::create(&path))?;
        Ok(Out { w: BufWriter::with_capacity(1 << 16, f), path, bytes: 0 })
    }
    pub(crate) fn write(&mut self, b: &[u8]) -> Result<()> {
        self.bytes += b.len() as u64;
        io(&self.path, self.w.write_all(b))
    }
    pub(crate) fn finish(mut self) -> Result<u64> {
        io(&self.path, self.w.flush())?;
        Ok(self.bytes)
    }
}

/// Everything one person contributes to the outputs.
struct Rendered {
    fhir: fhir_out::Sink,
    pci: Option<String>,
    hf: Vec<String>,
    ssmix2: Vec<(PathBuf, Vec<u8>)>,
    uke: Vec<crate::uke_out::ClaimBlock>,
    encounters: u64,
    died: bool,
    reports: u64,
    /// (residence zone, destination zone) of acute admissions.
    flows: Vec<(usize, usize)>,
}

fn render(w: &World, cfg: &Config, p: &sim::Person) -> Result<Rendered> {
    let mut fhir = fhir_out::Sink::default();
    if cfg.formats.fhir {
        fhir_out::person_resources(w, p, &mut fhir);
    }
    let pci = match &p.pci {
        Some(t) => Some(
            serde_json::to_string(&json!({ "patient": p.pid, "truth": t }))
                .map_err(|e| Error::Format(e.to_string()))?,
        ),
        None => None,
    };
    let hf = p
        .hf
        .iter()
        .map(|h| serde_json::to_string(&json!({ "patient": p.pid, "truth": h })).map_err(|e| Error::Format(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    let ssmix2 = if cfg.formats.ssmix2 { crate::ssmix2_out::person_files(w, p)? } else { Vec::new() };
    let uke = if cfg.formats.uke { crate::uke_out::person_claims(w, p) } else { Vec::new() };
    let flows = p
        .encounters
        .iter()
        .filter(|e| e.inpatient && e.emergency)
        .map(|e| (p.area, w.facilities.list[e.facility].area))
        .collect();
    Ok(Rendered {
        fhir,
        pci,
        hf,
        ssmix2,
        uke,
        encounters: p.encounters.len() as u64,
        died: p.death.is_some(),
        reports: p.encounters.iter().filter(|e| e.report.is_some()).count() as u64,
        flows,
    })
}

/// Runs the generator. `progress` is called after each chunk.
pub fn generate(cfg: &Config, progress: &mut dyn FnMut(Progress)) -> Result<Summary> {
    let w = World::new(cfg)?;
    let out = &cfg.out;
    io(out, std::fs::create_dir_all(out))?;
    let mut summary = Summary { patients: cfg.patients, ..Summary::default() };
    let mut counts = vec![0u64; TYPES.len()];
    let mut writers: Vec<Option<Out>> = Vec::new();
    if cfg.formats.fhir {
        for t in TYPES {
            writers.push(Some(Out::create(out.join("fhir").join(format!("{t}.ndjson")))?));
        }
        let mut sink = fhir_out::Sink::default();
        for f in &w.facilities.list {
            fhir_out::facility_resources(&w, f, &mut sink);
        }
        write_sink(&mut writers, &mut counts, &sink)?;
    }
    let mut pci_out = Out::create(out.join("truth_pci_cohort.ndjson"))?;
    let mut hf_out = Out::create(out.join("truth_hf_admissions.ndjson"))?;
    let mut uke = if cfg.formats.uke { Some(crate::uke_out::Spool::new(out, &w)?) } else { None };
    let mut flow_counts: std::collections::BTreeMap<(usize, usize), u64> = Default::default();
    let chunk = cfg.chunk_size.max(1) as u64;
    let mut start = 0u64;
    while start < cfg.patients {
        let end = (start + chunk).min(cfg.patients);
        let rendered: Vec<Result<Rendered>> = (start..end)
            .into_par_iter()
            .map(|i| {
                let p = sim::simulate(&w, i);
                render(&w, cfg, &p)
            })
            .collect();
        for r in rendered {
            let r = r?;
            write_sink(&mut writers, &mut counts, &r.fhir)?;
            if let Some(s) = &r.pci {
                pci_out.write(s.as_bytes())?;
                pci_out.write(b"\n")?;
                summary.pci_cohort += 1;
            }
            for s in &r.hf {
                hf_out.write(s.as_bytes())?;
                hf_out.write(b"\n")?;
                summary.hf_admissions += 1;
            }
            for (rel, bytes) in &r.ssmix2 {
                let path = out.join("ssmix2").join(rel);
                if let Some(dir) = path.parent() {
                    io(dir, std::fs::create_dir_all(dir))?;
                }
                io(&path, std::fs::write(&path, bytes))?;
                summary.bytes += bytes.len() as u64;
                summary.ssmix2_files += 1;
            }
            if let Some(sp) = uke.as_mut() {
                sp.add(&r.uke)?;
            }
            for f in r.flows {
                *flow_counts.entry(f).or_default() += 1;
            }
            summary.encounters += r.encounters;
            summary.deaths += r.died as u64;
            summary.case_reports += r.reports;
        }
        start = end;
        progress(crate::Progress { done: start, total: cfg.patients });
    }
    for wr in writers.into_iter().flatten() {
        summary.bytes += wr.finish()?;
    }
    summary.bytes += pci_out.finish()? + hf_out.finish()?;
    if let Some(sp) = uke {
        let (files, bytes) = sp.finish(&w)?;
        summary.uke_files = files;
        summary.bytes += bytes;
    }
    summary.resources = counts.iter().sum();
    summary.resources_by_type = TYPES.iter().zip(&counts).map(|(t, c)| (t.to_string(), *c)).collect();
    let truth = crate::truth::truth_json(cfg, &w, &summary, &flow_counts);
    let truth_text = serde_json::to_string_pretty(&truth).map_err(|e| Error::Format(e.to_string()))?;
    let mut t = Out::create(out.join("truth.json"))?;
    t.write(truth_text.as_bytes())?;
    summary.bytes += t.finish()?;
    let readme = crate::truth::readme(cfg, &w, &summary);
    let mut r = Out::create(out.join("README.md"))?;
    r.write(readme.as_bytes())?;
    summary.bytes += r.finish()?;
    Ok(summary)
}

fn write_sink(writers: &mut [Option<Out>], counts: &mut [u64], sink: &fhir_out::Sink) -> Result<()> {
    for (t, j) in sink.lines.iter().enumerate() {
        if let Some(Some(w)) = writers.get_mut(t) {
            w.write(&j.buf)?;
            counts[t] += sink.counts[t];
        }
    }
    Ok(())
}
