//! `medtwin convert ssmix2|uke`: the conversion adapter from SS-MIX2
//! standardized storage (HL7 v2.5) and UKE claims files to FHIR JP Core NDJSON,
//! with a report of everything rejected and of the segment coverage.

use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub(crate) enum Command {
    /// Convert an SS-MIX2 standardized storage (or single message files) to FHIR NDJSON.
    Ssmix2(Ssmix2Args),
    /// Convert UKE claims files (レセプト電算処理システム) to FHIR NDJSON.
    Uke(UkeArgs),
}

#[derive(clap::Args, Debug)]
pub(crate) struct Output {
    /// Where to write the FHIR resources, one per line.
    #[arg(long)]
    out: PathBuf,
    /// Where to write the conversion report (JSON): rejections with file, message, segment
    /// and field, and every segment type seen and whether it was mapped.
    #[arg(long)]
    report: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub(crate) struct Ssmix2Args {
    /// The storage root (or message files).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The 10-digit 医療機関コード of the facility (for the JP Core patient-id system).
    #[arg(long, env = "MEDTWIN_FACILITY_CODE")]
    facility: Option<String>,
    #[command(flatten)]
    output: Output,
}

#[derive(clap::Args, Debug)]
pub(crate) struct UkeArgs {
    /// UKE files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// A folder with master CSVs in the 支払基金 layout, to add names and ICD-10 codes.
    #[arg(long)]
    master: Option<PathBuf>,
    #[command(flatten)]
    output: Output,
}

/// Converts SS-MIX2 roots (folders) or message files, streaming resources to `sink`.
pub(crate) fn convert_ssmix2(paths: &[PathBuf], facility: Option<String>, sink: &mut dyn FnMut(serde_json::Value)) -> anyhow::Result<ingest::Report> {
    convert_ssmix2_with(paths, facility, &|v| v, sink)
}

/// [`convert_ssmix2`] with a `prepare` step run on the worker threads
/// (serializing, for `medtwin convert`); `sink` sees storage order.
fn convert_ssmix2_with<T: Send>(
    paths: &[PathBuf],
    facility: Option<String>,
    prepare: &(dyn Fn(serde_json::Value) -> T + Sync),
    sink: &mut dyn FnMut(T),
) -> anyhow::Result<ingest::Report> {
    let opts = ingest::Options { facility_code: facility };
    let mut report = ingest::Report::default();
    let (dirs, files): (Vec<&PathBuf>, Vec<&PathBuf>) = paths.iter().partition(|p| p.is_dir());
    for d in dirs {
        // A folder of storages, one per facility named by its 10-digit
        // 医療機関コード, is converted storage by storage with that code.
        let facilities = facility_roots(d)?;
        if facilities.is_empty() {
            report.merge(ingest::ssmix2::convert_tree_with(d, &opts, prepare, sink).with_context(|| format!("reading {}", d.display()))?);
        }
        // Converted together, so that small storages keep every thread busy.
        let storages: Vec<(&Path, ingest::Options)> = facilities
            .iter()
            .map(|(code, root)| (root.as_path(), ingest::Options { facility_code: opts.facility_code.clone().or(Some(code.clone())) }))
            .collect();
        if !storages.is_empty() {
            report.merge(ingest::ssmix2::convert_trees_with(&storages, prepare, sink).with_context(|| format!("reading {}", d.display()))?);
        }
    }
    if !files.is_empty() {
        for f in &files {
            std::fs::metadata(f).with_context(|| format!("cannot read {}", f.display()))?;
        }
        let files: Vec<PathBuf> = files.into_iter().cloned().collect();
        report.merge(ingest::ssmix2::convert_files(&files, &opts, &mut |v| sink(prepare(v))));
    }
    Ok(report)
}

/// The facility storages under `dir`, if every entry of it is a folder named
/// by a 10-digit 医療機関コード; empty otherwise (then `dir` is one storage).
fn facility_roots(dir: &Path) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let p = e?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string();
        if !(p.is_dir() && name.len() == 10 && name.bytes().all(|b| b.is_ascii_digit())) {
            return Ok(Vec::new());
        }
        out.push((name, p));
    }
    out.sort();
    Ok(out)
}

/// Converts UKE files, streaming resources to `sink`.
pub(crate) fn convert_uke(files: &[PathBuf], master: Option<&Path>, sink: &mut dyn FnMut(serde_json::Value)) -> anyhow::Result<ingest::Report> {
    convert_uke_with(files, master, &|v| v, sink)
}

/// [`convert_uke`] with a `prepare` step run on the worker threads. Files
/// are converted in parallel (ingest takes them in bounded blocks) and their
/// resources reach `sink` in file order, so the output is deterministic.
fn convert_uke_with<T: Send>(
    files: &[PathBuf],
    master: Option<&Path>,
    prepare: &(dyn Fn(serde_json::Value) -> T + Sync),
    sink: &mut dyn FnMut(T),
) -> anyhow::Result<ingest::Report> {
    for f in files {
        std::fs::metadata(f).with_context(|| format!("cannot read {}", f.display()))?;
    }
    let (master, mut report) = match master {
        Some(dir) => ingest::uke::load_masters(dir),
        None => (uke::master::Master::default(), ingest::Report::default()),
    };
    report.merge(ingest::uke::convert_files_with(files, &master, prepare, sink));
    Ok(report)
}

/// One report entry as `file message ID SEG-n: reason`.
pub(crate) fn describe(e: &ingest::Entry) -> String {
    let mut at = Vec::new();
    if let Some(f) = &e.file {
        at.push(f.clone());
    }
    if let Some(m) = &e.message {
        at.push(format!("message {m}"));
    }
    if let Some(s) = &e.segment {
        at.push(match e.field {
            Some(f) => format!("{s}-{f}"),
            None => s.clone(),
        });
    }
    format!("{}: {}", at.join(" "), e.reason)
}

/// Prints a short summary of a report to standard error.
pub(crate) fn summarize(report: &ingest::Report) {
    for (t, n) in &report.resources {
        eprintln!("{t:<28} {n:>10}");
    }
    let unmapped: Vec<String> = report.segments.iter().filter(|(_, c)| c.mapped < c.seen).map(|(s, c)| format!("{s} ({}/{} mapped)", c.mapped, c.seen)).collect();
    if !unmapped.is_empty() {
        eprintln!("not fully mapped: {}", unmapped.join(", "));
    }
    for (t, n) in &report.unsupported {
        eprintln!("unsupported message type {t}: {n} file(s) (reported, not converted)");
    }
    for e in report.entries.iter().filter(|e| e.level == ingest::Level::Rejected).take(50) {
        eprintln!("rejected {}", describe(e));
    }
    if report.rejected() > 50 {
        eprintln!("... and {} more rejections (see --report)", report.rejected() - 50);
    }
    eprintln!("converted {} file(s) into {} resources; {} rejected", report.converted, report.resources.values().sum::<usize>(), report.rejected());
}

pub(crate) fn run(cmd: Command) -> anyhow::Result<ExitCode> {
    let output = match &cmd {
        Command::Ssmix2(a) => &a.output,
        Command::Uke(a) => &a.output,
    };
    let file = std::fs::File::create(&output.out).with_context(|| format!("creating {}", output.out.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut io_err: Option<std::io::Error> = None;
    // Resources are serialized on the worker threads; only the writes are serial.
    let line = |r: serde_json::Value| -> Vec<u8> {
        // Most resources take 1-2 KB: one allocation instead of growing from 128 bytes.
        let mut b = Vec::with_capacity(2048);
        serde_json::to_writer(&mut b, &r).expect("invariant: a JSON value always serializes");
        b.push(b'\n');
        b
    };
    let mut sink = |b: Vec<u8>| {
        if io_err.is_none()
            && let Err(e) = w.write_all(&b)
        {
            io_err = Some(e);
        }
    };
    let report = match &cmd {
        Command::Ssmix2(a) => convert_ssmix2_with(&a.paths, a.facility.clone(), &line, &mut sink)?,
        Command::Uke(a) => convert_uke_with(&a.files, a.master.as_deref(), &line, &mut sink)?,
    };
    if let Some(e) = io_err {
        return Err(anyhow::Error::new(e).context(format!("writing {}", output.out.display())));
    }
    w.flush().with_context(|| format!("writing {}", output.out.display()))?;
    if let Some(path) = &output.report {
        std::fs::write(path, serde_json::to_string_pretty(&report.to_json())? + "\n").with_context(|| format!("writing {}", path.display()))?;
    }
    summarize(&report);
    Ok(if report.has_rejections() { ExitCode::from(3) } else { ExitCode::SUCCESS })
}
