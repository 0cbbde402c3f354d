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

/// Everything a group of consecutive people contributes to the outputs that
/// must be written in order (SS-MIX2 files are written by the workers: each
/// lives in its own patient folder, so the order of writing does not matter).
#[derive(Default)]
struct Rendered {
    fhir: fhir_out::Sink,
    truth_pci: Vec<u8>,
    truth_hf: Vec<u8>,
    pci: u64,
    hf: u64,
    ssmix2_files: u64,
    ssmix2_bytes: u64,
    uke: Vec<crate::uke_out::EncodedBlock>,
    encounters: u64,
    deaths: u64,
    reports: u64,
    /// (residence zone, destination zone) of acute admissions.
    flows: Vec<(usize, usize)>,
}

/// People simulated and rendered together by one worker.
const GROUP: u64 = 16;

fn json_line(buf: &mut Vec<u8>, v: &serde_json::Value) -> Result<()> {
    serde_json::to_writer(&mut *buf, v).map_err(|e| Error::Format(e.to_string()))?;
    buf.push(b'\n');
    Ok(())
}

fn render(w: &World, cfg: &Config, p: &sim::Person, r: &mut Rendered) -> Result<()> {
    if cfg.formats.fhir {
        fhir_out::person_resources(w, p, &mut r.fhir);
    }
    if let Some(t) = &p.pci {
        json_line(&mut r.truth_pci, &json!({ "patient": p.pid, "truth": t }))?;
        r.pci += 1;
    }
    for h in &p.hf {
        json_line(&mut r.truth_hf, &json!({ "patient": p.pid, "truth": h }))?;
        r.hf += 1;
    }
    if cfg.formats.ssmix2 {
        let root = cfg.out.join("ssmix2");
        for (rel, bytes) in crate::ssmix2_out::person_files(w, p)? {
            let path = root.join(rel);
            if let Some(dir) = path.parent() {
                io(dir, std::fs::create_dir_all(dir))?;
            }
            io(&path, std::fs::write(&path, &bytes))?;
            r.ssmix2_bytes += bytes.len() as u64;
            r.ssmix2_files += 1;
        }
    }
    if cfg.formats.uke {
        r.uke.extend(crate::uke_out::encode_blocks(crate::uke_out::person_claims(w, p))?);
    }
    r.flows.extend(p.encounters.iter().filter(|e| e.inpatient && e.emergency).map(|e| (p.area, w.facilities.list[e.facility].area)));
    r.encounters += p.encounters.len() as u64;
    r.deaths += p.death.is_some() as u64;
    r.reports += p.encounters.iter().filter(|e| e.report.is_some()).count() as u64;
    Ok(())
}

/// The ordered outputs, owned by the writer thread.
struct Writer {
    fhir: Vec<Option<Out>>,
    counts: Vec<u64>,
    pci: Out,
    hf: Out,
    uke: Option<crate::uke_out::Spool>,
    flows: std::collections::BTreeMap<(usize, usize), u64>,
    summary: Summary,
}

impl Writer {
    fn write(&mut self, r: Rendered) -> Result<()> {
        write_sink(&mut self.fhir, &mut self.counts, &r.fhir)?;
        self.pci.write(&r.truth_pci)?;
        self.hf.write(&r.truth_hf)?;
        if let Some(sp) = self.uke.as_mut() {
            sp.add(&r.uke)?;
        }
        for f in r.flows {
            *self.flows.entry(f).or_default() += 1;
        }
        let s = &mut self.summary;
        s.pci_cohort += r.pci;
        s.hf_admissions += r.hf;
        s.ssmix2_files += r.ssmix2_files;
        s.bytes += r.ssmix2_bytes;
        s.encounters += r.encounters;
        s.deaths += r.deaths;
        s.case_reports += r.reports;
        Ok(())
    }
}

/// Runs the generator. `progress` is called after each chunk.
///
/// The worker threads (rayon) simulate and render a chunk of people, in
/// groups, while one writer thread appends the previous chunk to the
/// NDJSON files and the UKE spool in person order.
pub fn generate(cfg: &Config, progress: &mut dyn FnMut(Progress)) -> Result<Summary> {
    let w = World::new(cfg)?;
    let out = &cfg.out;
    io(out, std::fs::create_dir_all(out))?;
    let mut fhir: Vec<Option<Out>> = Vec::new();
    let mut counts = vec![0u64; TYPES.len()];
    if cfg.formats.fhir {
        for t in TYPES {
            fhir.push(Some(Out::create(out.join("fhir").join(format!("{t}.ndjson")))?));
        }
        let mut sink = fhir_out::Sink::default();
        for f in &w.facilities.list {
            fhir_out::facility_resources(&w, f, &mut sink);
        }
        write_sink(&mut fhir, &mut counts, &sink)?;
    }
    let mut writer = Writer {
        fhir,
        counts,
        pci: Out::create(out.join("truth_pci_cohort.ndjson"))?,
        hf: Out::create(out.join("truth_hf_admissions.ndjson"))?,
        uke: if cfg.formats.uke { Some(crate::uke_out::Spool::new(out, &w)?) } else { None },
        flows: Default::default(),
        summary: Summary { patients: cfg.patients, ..Summary::default() },
    };
    let chunk = cfg.chunk_size.max(1) as u64;
    let w = &w;
    let writer = std::thread::scope(|scope| -> Result<Writer> {
        // Two chunks in flight at most: one being written, one waiting.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Result<Rendered>>>(1);
        let handle = scope.spawn(move || -> Result<Writer> {
            for chunk in rx {
                for r in chunk {
                    writer.write(r?)?;
                }
            }
            Ok(writer)
        });
        let mut start = 0u64;
        while start < cfg.patients {
            let end = (start + chunk).min(cfg.patients);
            let groups: Vec<u64> = (start..end).step_by(GROUP as usize).collect();
            let rendered: Vec<Result<Rendered>> = groups
                .into_par_iter()
                .map(|g| {
                    let mut r = Rendered::default();
                    for i in g..(g + GROUP).min(end) {
                        let p = sim::simulate(w, i);
                        render(w, cfg, &p, &mut r)?;
                    }
                    Ok(r)
                })
                .collect();
            if tx.send(rendered).is_err() {
                // The writer stopped on an error, which join reports.
                break;
            }
            start = end;
            progress(crate::Progress { done: start, total: cfg.patients });
        }
        drop(tx);
        handle.join().map_err(|_| Error::Format("the writer thread panicked".into()))?
    })?;
    let Writer { fhir, counts, pci, hf, uke, flows: flow_counts, mut summary } = writer;
    for wr in fhir.into_iter().flatten() {
        summary.bytes += wr.finish()?;
    }
    summary.bytes += pci.finish()? + hf.finish()?;
    if let Some(sp) = uke {
        let (files, bytes) = sp.finish(w)?;
        summary.uke_files = files;
        summary.bytes += bytes;
    }
    summary.resources = counts.iter().sum();
    summary.resources_by_type = TYPES.iter().zip(&counts).map(|(t, c)| (t.to_string(), *c)).collect();
    let truth = crate::truth::truth_json(cfg, w, &summary, &flow_counts);
    let truth_text = serde_json::to_string_pretty(&truth).map_err(|e| Error::Format(e.to_string()))?;
    let mut t = Out::create(out.join("truth.json"))?;
    t.write(truth_text.as_bytes())?;
    summary.bytes += t.finish()?;
    let readme = crate::truth::readme(cfg, w, &summary);
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
