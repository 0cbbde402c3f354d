//! `medtwin import`: NDJSON files (one resource per line), Bundle JSON files
//! and folders of them, SS-MIX2 standardized storages and UKE claims files
//! (converted on the way in), streamed into the store in large transactions.
//!
//! The main thread reads and parses chunks of lines (in parallel with rayon;
//! a bulk load leaves the writer a core of its own),
//! a writer thread commits each chunk in one transaction while the next is
//! parsed. A bad line is rejected with its file and line number and the rest
//! is kept; a killed import loses only the chunk being written.

use super::DataArgs;
use anyhow::{Context, bail};
use rayon::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use store::Store;

#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// Resources per transaction.
    #[arg(long, env = "MEDTWIN_IMPORT_BATCH", default_value_t = 5_000)]
    pub(crate) batch: usize,
    /// Also write every rejected record (file:line: reason) to this file.
    #[arg(long)]
    pub(crate) rejects: Option<PathBuf>,
    /// NDJSON (.ndjson, .jsonl) or JSON (.json: a Bundle or one resource) files, or folders of them;
    /// SS-MIX2 storage folders and UKE files (.UKE) are converted to FHIR JP Core first.
    #[arg(required = true)]
    pub(crate) paths: Vec<PathBuf>,
    /// For SS-MIX2 input: the 10-digit 医療機関コード of the facility.
    #[arg(long, env = "MEDTWIN_FACILITY_CODE")]
    pub(crate) facility: Option<String>,
}

/// What kind of input a path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Fhir,
    Ssmix2,
    Uke,
}

/// One resource ready to store and where it came from.
struct Item {
    rtype: String,
    payload: Payload,
    origin: (usize, u64),
}

enum Payload {
    /// A resource with an id, checked, hashed, indexed and serialized on the
    /// parse threads (`store::prepare`), so the writer only runs SQLite.
    Prepared(store::Prepared),
    /// A resource without an id: the store assigns one (and indexes it).
    New(Value),
}

#[derive(Default)]
struct TypeStats {
    created: u64,
    updated: u64,
    unchanged: u64,
}

/// A rejected record: (file index, line) and the reason.
type Reject = ((usize, u64), String);

struct WriterReport {
    stats: BTreeMap<String, TypeStats>,
    rejected: Vec<Reject>,
}

fn is_uke(p: &Path) -> bool {
    p.extension().and_then(|x| x.to_str()).is_some_and(|x| x.eq_ignore_ascii_case("uke"))
}

fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<(PathBuf, Kind)>> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("cannot read {}", p.display()))?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found)?;
            found.sort();
            if !found.is_empty() {
                out.extend(found.into_iter().map(|f| (f, Kind::Fhir)));
                continue;
            }
            let mut ukes = Vec::new();
            walk_uke(p, &mut ukes)?;
            ukes.sort();
            if !ukes.is_empty() {
                out.extend(ukes.into_iter().map(|f| (f, Kind::Uke)));
            } else {
                // No FHIR or UKE files: an SS-MIX2 standardized storage (files
                // that break its naming rule are reported by the converter).
                out.push((p.clone(), Kind::Ssmix2));
            }
        } else if is_uke(p) {
            out.push((p.clone(), Kind::Uke));
        } else {
            out.push((p.clone(), Kind::Fhir));
        }
    }
    Ok(out)
}

fn walk_uke(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            walk_uke(&p, out)?;
        } else if is_uke(&p) {
            out.push(p);
        }
    }
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let p = e?.path();
        if p.is_dir() {
            walk(&p, out)?;
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("ndjson" | "jsonl" | "json")) {
            out.push(p);
        }
    }
    Ok(())
}

/// Turns one parsed JSON value into an item, or says why not.
fn to_item(v: Value, origin: (usize, u64)) -> Result<Item, String> {
    let issues = fhir::validate::validate_resource(&v);
    let errors: Vec<String> = issues.iter().filter(|i| i.is_error()).map(ToString::to_string).collect();
    if !errors.is_empty() {
        let more = if errors.len() > 3 { format!(" (and {} more)", errors.len() - 3) } else { String::new() };
        return Err(format!("{}{more}", errors.into_iter().take(3).collect::<Vec<_>>().join("; ")));
    }
    let rtype = v["resourceType"].as_str().unwrap_or_default().to_string();
    let payload = match v.get("id").and_then(Value::as_str).map(str::to_string) {
        Some(id) => {
            let p = if no_index() { store::prepare_unindexed(&rtype, &id, v) } else { store::prepare(&rtype, &id, v) };
            Payload::Prepared(p.map_err(|e| match e {
                store::Error::InvalidResource(msg) => msg,
                e => e.to_string(),
            })?)
        }
        None => Payload::New(v),
    };
    Ok(Item { rtype, payload, origin })
}

/// Threads that parse and prepare resources. A bulk load (an import that
/// about doubles the store) is bound by the single SQLite writer, which needs
/// a core of its own: the parse threads leave it one. Otherwise (a re-import
/// of mostly unchanged resources) the writer does little and they use every
/// core.
fn parse_threads(bulk: bool) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if bulk { cores.saturating_sub(1).max(1) } else { cores }
}

/// `MEDTWIN_BENCH_NO_INDEX=1` (benchmarks only): write no search-index rows,
/// to measure the import without them. The store is marked so that the next
/// open rebuilds every index row, so searches never see the gap.
fn no_index() -> bool {
    static NO: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *NO.get_or_init(|| std::env::var("MEDTWIN_BENCH_NO_INDEX").is_ok_and(|v| v == "1"))
}

fn parse_line(line: &str, origin: (usize, u64)) -> Result<Item, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("malformed JSON at column {}: {e}", e.column()))?;
    to_item(v, origin)
}

/// The resources of a Bundle file (urn:uuid references rewritten), or the single resource.
fn parse_document(text: &str, file: usize) -> Vec<Result<Item, Reject>> {
    let v: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return vec![Err(((file, e.line() as u64), format!("malformed JSON at column {}: {e}", e.column())))],
    };
    if v.get("resourceType").and_then(Value::as_str) != Some("Bundle")
        || !matches!(v.get("type").and_then(Value::as_str), Some("transaction" | "batch" | "collection" | "searchset" | "transaction-response" | "batch-response"))
    {
        return vec![to_item(v, (file, 1)).map_err(|e| ((file, 1), e))];
    }
    let entries = v.get("entry").and_then(Value::as_array).cloned().unwrap_or_default();
    // Resources without an id that are named by a urn:uuid full URL get an id
    // here, so that references to them can be rewritten before they are stored.
    let mut map = HashMap::new();
    let mut resources = Vec::with_capacity(entries.len());
    for e in entries {
        let Some(mut r) = e.get("resource").cloned() else { continue };
        if r.get("id").is_none()
            && let Some(full) = e.get("fullUrl").and_then(Value::as_str)
            && full.starts_with("urn:")
            && let Some(t) = r.get("resourceType").and_then(Value::as_str).map(str::to_string)
        {
            let id = uuid::Uuid::new_v4().to_string();
            map.insert(full.to_string(), format!("{t}/{id}"));
            r["id"] = Value::String(id);
        }
        resources.push(r);
    }
    resources
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            fhir::references::rewrite(&mut r, &map);
            to_item(r, (file, i as u64 + 1)).map_err(|e| ((file, i as u64 + 1), format!("Bundle.entry[{i}]: {e}")))
        })
        .collect()
}

fn writer(store: &store::SqliteStore, rx: mpsc::Receiver<Vec<Item>>, pb: &indicatif::ProgressBar) -> anyhow::Result<WriterReport> {
    let mut report = WriterReport { stats: BTreeMap::new(), rejected: Vec::new() };
    for chunk in rx {
        let mut stats: Vec<(String, u8)> = Vec::with_capacity(chunk.len());
        let mut rejected = Vec::new();
        // The chunk is moved into the transaction (no copies); `transact` runs
        // the closure once, and a failed transaction ends the import.
        let mut pending = Some(chunk);
        store.transact(&mut |tx| {
            let items = pending.take().ok_or_else(|| store::Error::Aborted("import chunk already written".into()))?;
            for item in items {
                let r = match item.payload {
                    Payload::Prepared(p) => tx
                        .put_prepared(&p, None, true)
                        .map(|o| if o.unchanged { 2 } else if o.created { 0 } else { 1 }),
                    Payload::New(v) => tx.create(&item.rtype, v).map(|_| 0),
                };
                match r {
                    Ok(k) => stats.push((item.rtype, k)),
                    Err(store::Error::InvalidResource(msg)) => rejected.push((item.origin, msg)),
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })?;
        for (t, k) in stats.drain(..) {
            let s = report.stats.entry(t).or_default();
            match k {
                0 => s.created += 1,
                1 => s.updated += 1,
                _ => s.unchanged += 1,
            }
        }
        report.rejected.append(&mut rejected);
        pb.set_message(format!("imported {}", report.stats.values().map(|s| s.created + s.updated + s.unchanged).sum::<u64>()));
    }
    Ok(report)
}

pub(crate) fn run(a: Args) -> anyhow::Result<ExitCode> {
    if a.batch == 0 {
        bail!("--batch must be at least 1");
    }
    let files = collect_files(&a.paths)?;
    let total_bytes: u64 = files.iter().filter_map(|(f, _)| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let store = a.data.open()?;
    let pb = crate::progress::bytes(total_bytes, "importing");
    let started = std::time::Instant::now();
    // An import that at least about doubles the store (NDJSON is about 1 KB
    // per resource) defers the value indexes of the search tables and builds
    // them sorted at the end; re-importing the same files does not.
    let bulk = store.begin_bulk_load(total_bytes / 2000).context("preparing the store for a bulk import")?;
    let parsers = rayon::ThreadPoolBuilder::new()
        .num_threads(parse_threads(bulk))
        .thread_name(|i| format!("import-parse-{i}"))
        .build()
        .context("starting the parse threads")?;
    // One chunk waits while one is written and one is parsed: memory stays flat.
    let (tx, rx) = mpsc::sync_channel::<Vec<Item>>(1);
    let mut parse_rejects: Vec<Reject> = Vec::new();
    let report = std::thread::scope(|scope| -> anyhow::Result<WriterReport> {
        let w = scope.spawn(|| writer(&store, rx, &pb));
        let read_result = (|| -> anyhow::Result<()> {
            for (fi, (path, kind)) in files.iter().enumerate() {
                if *kind != Kind::Fhir {
                    // Convert, then feed the resources through the same pipeline.
                    let mut chunk: Vec<Item> = Vec::with_capacity(a.batch);
                    let mut n = 0u64;
                    let mut stopped = false;
                    let mut sink = |v: Value| {
                        n += 1;
                        match to_item(v, (fi, n)) {
                            Ok(i) => chunk.push(i),
                            Err(e) => parse_rejects.push(((fi, n), format!("converted resource #{n}: {e}"))),
                        }
                        if chunk.len() >= a.batch && !stopped && tx.send(std::mem::take(&mut chunk)).is_err() {
                            stopped = true;
                        }
                    };
                    let report = match kind {
                        Kind::Uke => super::convert::convert_uke(std::slice::from_ref(path), None, &mut sink)?,
                        _ => super::convert::convert_ssmix2(std::slice::from_ref(path), a.facility.clone(), &mut sink)?,
                    };
                    if !chunk.is_empty() && !stopped && tx.send(std::mem::take(&mut chunk)).is_err() {
                        return Ok(());
                    }
                    pb.inc(std::fs::metadata(path).map(|m| m.len()).unwrap_or(0));
                    for e in report.entries.iter().filter(|e| e.level == ingest::Level::Rejected) {
                        parse_rejects.push(((fi, 0), super::convert::describe(e)));
                    }
                    continue;
                }
                let ext = path.extension().and_then(|x| x.to_str()).unwrap_or("");
                let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
                if ext == "json" {
                    let mut text = String::new();
                    match BufReader::new(file).read_to_string(&mut text) {
                        Ok(n) => pb.inc(n as u64),
                        Err(e) => {
                            parse_rejects.push(((fi, 0), format!("cannot read the file as UTF-8 text: {e}")));
                            continue;
                        }
                    }
                    let mut items = Vec::new();
                    for r in parse_document(&text, fi) {
                        match r {
                            Ok(i) => items.push(i),
                            Err(e) => parse_rejects.push(e),
                        }
                    }
                    let mut items = items.into_iter();
                    loop {
                        let chunk: Vec<Item> = items.by_ref().take(a.batch).collect();
                        if chunk.is_empty() {
                            break;
                        }
                        if tx.send(chunk).is_err() {
                            return Ok(());
                        }
                    }
                    continue;
                }
                let mut reader = BufReader::with_capacity(1 << 20, file);
                let mut line_no = 0u64;
                let mut eof = false;
                while !eof {
                    let mut lines: Vec<(u64, Result<String, String>)> = Vec::with_capacity(a.batch);
                    while lines.len() < a.batch {
                        let mut buf = Vec::new();
                        let n = reader.read_until(b'\n', &mut buf).with_context(|| format!("reading {}", path.display()))?;
                        if n == 0 {
                            eof = true;
                            break;
                        }
                        pb.inc(n as u64);
                        line_no += 1;
                        let text = String::from_utf8(buf).map_err(|e| format!("not UTF-8 text: {e}"));
                        match text {
                            Ok(t) if t.trim().is_empty() => {}
                            other => lines.push((line_no, other)),
                        }
                    }
                    let parsed: Vec<Result<Item, Reject>> = parsers.install(|| {
                        lines
                            .into_par_iter()
                            .map(|(ln, text)| {
                                let origin = (fi, ln);
                                text.and_then(|t| parse_line(&t, origin)).map_err(|e| (origin, e))
                            })
                            .collect()
                    });
                    let mut items = Vec::with_capacity(parsed.len());
                    for p in parsed {
                        match p {
                            Ok(i) => items.push(i),
                            Err(e) => parse_rejects.push(e),
                        }
                    }
                    if !items.is_empty() && tx.send(items).is_err() {
                        // The writer stopped (it failed); its error is reported below.
                        return Ok(());
                    }
                }
            }
            Ok(())
        })();
        drop(tx);
        let report = w.join().map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;
        read_result?;
        Ok(report)
    });
    // Build the deferred indexes even when the import failed (the next open
    // would do it otherwise).
    let index_started = std::time::Instant::now();
    if bulk {
        pb.set_message("building search indexes");
    }
    let built = store.end_bulk_load().context("building the search indexes");
    if no_index() {
        store.invalidate_index().context("marking the search index for a rebuild")?;
    }
    let report = report?;
    built?;
    let index_s = index_started.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let elapsed = started.elapsed().as_secs_f64();
    let mut rejected = parse_rejects;
    rejected.extend(report.rejected);
    rejected.sort();
    let total: u64 = report.stats.values().map(|s| s.created + s.updated + s.unchanged).sum();
    let mut summary = format!("{:<28} {:>10} {:>10} {:>10}\n", "resource type", "created", "updated", "unchanged");
    for (t, s) in &report.stats {
        summary += &format!("{t:<28} {:>10} {:>10} {:>10}\n", s.created, s.updated, s.unchanged);
    }
    if bulk {
        summary += &format!("built the search indexes in {index_s:.1} s (deferred to the end of this bulk import)\n");
    }
    summary += &format!(
        "imported {total} resources from {} file(s) in {elapsed:.1} s ({:.0} resources/s); {} rejected\n",
        files.len(),
        total as f64 / elapsed.max(1e-9),
        rejected.len()
    );
    crate::progress::stdout(&summary)?;
    let describe = |((fi, line), why): &Reject| match files[*fi].1 {
        Kind::Fhir => format!("{}:{line}: {why}", files[*fi].0.display()),
        _ => format!("{}: {why}", files[*fi].0.display()),
    };
    for r in rejected.iter().take(100) {
        eprintln!("rejected {}", describe(r));
    }
    if rejected.len() > 100 {
        eprintln!("... and {} more rejected records{}", rejected.len() - 100, if a.rejects.is_some() { "" } else { " (use --rejects FILE to list them all)" });
    }
    if let Some(path) = &a.rejects {
        let text: String = rejected.iter().map(|r| describe(r) + "\n").collect();
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if rejected.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(3) })
}
