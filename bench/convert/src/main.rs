//! Converter throughput benchmark on the synthetic population: generates (once)
//! the SS-MIX2 storage and UKE claims files of N people with `synth`, then
//! converts them the way `medtwin convert` does (walk, read, decode, map,
//! validate, serialize to NDJSON) on 1 and on 2 threads, and prints HL7
//! messages/s and UKE lines/s, wall and per CPU-second.
//!
//! Usage: `medtwin-bench-convert DIR [PATIENTS] [--threads 1,2] [--only hl7|uke] [--repeat K] [--digest]`

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The `medtwin` binary's allocator (crates/cli/src/main.rs), so that the
/// converter runs here as it runs in `medtwin convert`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// CPU seconds (user + system) used by this process so far (all threads),
/// from /proc/self/stat, so that figures stay meaningful on a shared machine.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 (utime, stime) are the 12th and 13th after the ')'; 100 ticks/s on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

/// One resource as an NDJSON line (done on the worker threads, as
/// `medtwin convert` does).
fn ndjson_line(r: serde_json::Value) -> Vec<u8> {
    let mut b = Vec::with_capacity(2048);
    serde_json::to_writer(&mut b, &r).expect("serializes");
    b.push(b'\n');
    b
}

/// NDJSON output that is counted and thrown away (the bench measures the
/// converter, not the disk).
struct Ndjson {
    bytes: u64,
    resources: u64,
    /// With `--digest`, FNV-1a over every byte in output order: equal
    /// digests before and after a change show that the NDJSON stayed
    /// byte-identical (off by default: it costs CPU on the serial sink).
    digest: Option<u64>,
}

impl Ndjson {
    fn new(digest: bool) -> Self {
        Ndjson { bytes: 0, resources: 0, digest: digest.then_some(0xcbf2_9ce4_8422_2325) }
    }
    fn push(&mut self, line: Vec<u8>) {
        self.resources += 1;
        self.bytes += line.len() as u64;
        if let Some(d) = &mut self.digest {
            for b in &line {
                *d = (*d ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        std::io::sink().write_all(&line).expect("sink");
    }
    fn finish(self) -> (u64, u64, Option<u64>) {
        (self.resources, self.bytes, self.digest)
    }
}

fn files_under(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            files_under(&p, ext, out);
        } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case(ext)) {
            out.push(p);
        }
    }
}

/// The facility storages under `ssmix2/` (folders named by 10-digit codes).
fn facility_roots(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .expect("ssmix2 dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .map(|p| (p.file_name().and_then(|n| n.to_str()).unwrap_or("").to_string(), p))
        .collect();
    out.sort();
    out
}

fn run_hl7(dir: &Path, digest: bool) -> (ingest::Report, u64, u64, Option<u64>) {
    let mut out = Ndjson::new(digest);
    let mut report = ingest::Report::default();
    // As `medtwin convert` does with a folder of facility storages.
    let roots = facility_roots(&dir.join("ssmix2"));
    let storages: Vec<(&Path, ingest::Options)> =
        roots.iter().map(|(code, root)| (root.as_path(), ingest::Options { facility_code: Some(code.clone()) })).collect();
    report.merge(ingest::ssmix2::convert_trees_with(&storages, &ndjson_line, &mut |l| out.push(l)).expect("trees"));
    let (n, b, d) = out.finish();
    (report, n, b, d)
}

fn run_uke(files: &[PathBuf], digest: bool) -> (ingest::Report, u64, u64, Option<u64>) {
    let master = uke::master::Master::new();
    let mut out = Ndjson::new(digest);
    let report = ingest::uke::convert_files_with(files, &master, &ndjson_line, &mut |l| out.push(l));
    let (n, b, d) = out.finish();
    (report, n, b, d)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut pos = Vec::new();
    let (mut threads, mut only, mut repeat, mut digest) = (vec![1usize, 2], String::new(), 1usize, false);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--threads" => threads = it.next().expect("--threads 1,2").split(',').map(|t| t.parse().expect("thread count")).collect(),
            "--only" => only = it.next().expect("--only hl7|uke").clone(),
            "--digest" => digest = true,
            "--repeat" => repeat = it.next().expect("--repeat K").parse().expect("repeat count"),
            _ => pos.push(a.clone()),
        }
    }
    let dir = PathBuf::from(pos.first().cloned().unwrap_or_else(|| "/tmp/medtwin-bench-convert".into()));
    let patients: u64 = pos.get(1).and_then(|s| s.parse().ok()).unwrap_or(10_000);

    // Only the formats the run needs are generated (`--only hl7` needs no UKE files).
    let (want_hl7, want_uke) = (only != "uke", only != "hl7");
    if (want_hl7 && !dir.join("ssmix2").is_dir()) || (want_uke && !dir.join("uke").is_dir()) {
        eprintln!("generating the synthetic population: {patients} people, ssmix2: {want_hl7}, uke: {want_uke}, into {} ...", dir.display());
        let cfg = synth::Config {
            patients,
            out: dir.clone(),
            formats: synth::Formats { fhir: false, ssmix2: want_hl7, uke: want_uke },
            ..synth::Config::default()
        };
        let t = Instant::now();
        let s = synth::generate(&cfg, &mut |_| {}).expect("synth");
        eprintln!("  {} SS-MIX2 files, {} UKE files in {:.1}s", s.ssmix2_files, s.uke_files, t.elapsed().as_secs_f64());
    }
    let mut uke_files = Vec::new();
    if only != "hl7" {
        files_under(&dir.join("uke"), "uke", &mut uke_files);
    }
    let uke_lines: u64 = uke_files.iter().map(|f| std::fs::read(f).map(|b| b.iter().filter(|c| **c == b'\n').count() as u64).unwrap_or(0)).sum();
    println!("data: {} ({} UKE files, {uke_lines} UKE lines); load average {}", dir.display(), uke_files.len(), loadavg());

    for &n in &threads {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().expect("thread pool");
        for _ in 0..repeat {
            if only.is_empty() || only == "hl7" {
                let (t, c0) = (Instant::now(), cpu_seconds());
                let (report, res, bytes, digest) = pool.install(|| run_hl7(&dir, digest));
                let (s, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c0);
                let m = report.files_seen as f64;
                println!(
                    "HL7 {n} thread(s): {:>8.0} msgs/s wall, {:>8.0} msgs per CPU-second  ({} messages, {} converted, {} rejected, {res} resources, {:.0} MB NDJSON{}, {s:.2}s wall, {cpu:.2} CPU s, load {})",
                    m / s,
                    m / cpu,
                    report.files_seen,
                    report.converted,
                    report.rejected(),
                    bytes as f64 / 1e6,
                    digest.map(|d| format!(", digest {d:016x}")).unwrap_or_default(),
                    loadavg()
                );
            }
            if only.is_empty() || only == "uke" {
                let (t, c0) = (Instant::now(), cpu_seconds());
                let (report, res, bytes, digest) = pool.install(|| run_uke(&uke_files, digest));
                let (s, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - c0);
                let l = uke_lines as f64;
                println!(
                    "UKE {n} thread(s): {:>8.0} lines/s wall, {:>8.0} lines per CPU-second ({} claims converted, {} rejected, {res} resources, {:.0} MB NDJSON{}, {s:.2}s wall, {cpu:.2} CPU s, load {})",
                    l / s,
                    l / cpu,
                    report.converted,
                    report.rejected(),
                    bytes as f64 / 1e6,
                    digest.map(|d| format!(", digest {d:016x}")).unwrap_or_default(),
                    loadavg()
                );
            }
        }
    }
}
