//! SS-MIX2 standardized storage → FHIR: walking the storage tree, applying
//! the file-naming rule (a later file of the same record supersedes earlier
//! ones; condition flag 0 withdraws the record), reading and decoding each
//! message, and handing it to [`crate::hl7`] for mapping.

use std::path::{Path, PathBuf};

use hl7v2::ssmix2::{ConditionFlag, FileName};
use hl7v2::{Decoded, error::Severity};
use rayon::prelude::*;
use serde_json::Value;

use crate::error::Result;
use crate::hl7::{self, Options, Source};
use crate::report::{Entry, Level, Report};

mod tree;
use tree::Tree;

fn file_entry(level: Level, file: &str, reason: impl Into<String>) -> Entry {
    Entry { level, file: Some(file.to_string()), message: None, segment: None, field: None, reason: reason.into() }
}

/// Converts one message given as bytes. `file` names it in meta.source and
/// the report; `name` is its parsed SS-MIX2 file name, if it has one.
pub fn convert_bytes(
    bytes: &[u8],
    file: Option<&str>,
    name: Option<&FileName>,
    opts: &Options,
    report: &mut Report,
    sink: &mut dyn FnMut(Value),
) {
    let label = file.unwrap_or("-");
    let decoded = Decoded::new(bytes);
    let (msg, issues) = match decoded.parse() {
        Ok(x) => x,
        Err(e) => {
            report.push(file_entry(Level::Rejected, label, format!("not a readable HL7 message: {e}")));
            return;
        }
    };
    let control_id = msg.control_id().to_string();
    let mut fatal = false;
    for i in &issues {
        // Bytes that are invalid in the declared (and guessed) character set
        // mean the text is corrupt: the message is rejected, not half-read.
        let level = if i.severity == Severity::Error {
            fatal = true;
            Level::Rejected
        } else {
            Level::Warning
        };
        report.push(Entry {
            level,
            file: Some(label.to_string()),
            message: Some(control_id.clone()),
            segment: i.segment.as_ref().map(|s| format!("{s}[{}]", i.segment_index.unwrap_or(0))),
            field: i.field,
            reason: i.message.clone(),
        });
    }
    if fatal {
        for s in msg.all_segments() {
            report.count_segment(s.name(), false);
        }
        return;
    }
    hl7::convert_message(&msg, &Source { file, name }, opts, report, sink);
}

/// Converts single message files (not necessarily in a storage tree). Files
/// whose names follow the SS-MIX2 rule use it for ids and data type.
pub fn convert_files(paths: &[PathBuf], opts: &Options, sink: &mut dyn FnMut(Value)) -> Report {
    let mut report = Report::default();
    for p in paths {
        report.files_seen += 1;
        let label = p.to_string_lossy().into_owned();
        let name = p.file_name().and_then(|n| n.to_str()).and_then(|n| FileName::parse(n).ok());
        match std::fs::read(p) {
            Ok(bytes) => convert_bytes(&bytes, Some(&label), name.as_ref(), opts, &mut report, sink),
            Err(e) => report.push(file_entry(Level::Rejected, &label, format!("unreadable file: {e}"))),
        }
    }
    report
}

/// One version of a record: its parsed name and path relative to the root.
type Version = (FileName, String);

/// The versions of one record, oldest first.
struct Record {
    key_text: String,
    versions: Vec<Version>,
}

/// Converts the current version of one record (or reports its withdrawal).
fn convert_record(tree: &Tree, rec: &Record, opts: &Options, report: &mut Report, sink: &mut dyn FnMut(Value)) {
    let (latest, older) = rec.versions.split_last().expect("invariant: a record group has at least one file");
    report.superseded += older.len();
    let key_text = &rec.key_text;
    if latest.0.flag == ConditionFlag::Invalid {
        report.withdrawn.push(key_text.clone());
        report.push(file_entry(
            Level::Warning,
            &latest.1,
            format!("record {key_text} withdrawn by condition flag 0; {} earlier version(s) not converted", older.len()),
        ));
        // Tell the caller which resource ids the withdrawn record had,
        // so a store that loaded an earlier version can delete them.
        if let Some(prev) = older.iter().rev().find(|v| v.0.flag != ConditionFlag::Invalid)
            && let Ok(bytes) = tree.read(&prev.1)
        {
            let mut scratch = Report::default();
            let mut ids = Vec::new();
            convert_bytes(&bytes, Some(&prev.1), Some(&prev.0), opts, &mut scratch, &mut |r: Value| {
                ids.push(format!("{}/{}", r["resourceType"].as_str().unwrap_or("?"), r["id"].as_str().unwrap_or("?")));
            });
            report.withdrawn.extend(ids.into_iter().map(|id| format!("{key_text} {id}")));
        }
        return;
    }
    match tree.read(&latest.1) {
        Ok(bytes) => convert_bytes(&bytes, Some(&latest.1), Some(&latest.0), opts, report, sink),
        Err(e) => report.push(file_entry(Level::Rejected, &latest.1, format!("unreadable file: {e}"))),
    }
}

/// Walks a standardized storage under `root` and converts the current
/// version of every record. Resources stream to `sink` in storage order
/// (patient by patient). Fails only when `root` itself cannot be read.
///
/// The work runs on the current rayon thread pool; the output (resources and
/// report) is the same whatever the number of threads.
pub fn convert_tree(root: &Path, opts: &Options, sink: &mut dyn FnMut(Value)) -> Result<Report> {
    convert_tree_with(root, opts, &|v| v, &mut |v| sink(v))
}

/// [`convert_tree`] with a `prepare` step that runs on the worker threads
/// (for example serializing each resource to NDJSON), so that only `sink`
/// runs on the calling thread, in storage order.
pub fn convert_tree_with<T: Send>(root: &Path, opts: &Options, prepare: &(dyn Fn(Value) -> T + Sync), sink: &mut dyn FnMut(T)) -> Result<Report> {
    convert_trees_with(&[(root, opts.clone())], prepare, sink)
}

/// Storages converted in one pipeline, so that many small storages keep
/// every thread busy (no pause between them).
const TREES_PER_PIPELINE: usize = 64;

/// Converts several storages (each root with its options, e.g. one per
/// facility) as [`convert_tree_with`] would one after the other: the same
/// resources in the same order and the same report, but the storages are
/// walked and converted together, so that the threads need not wait for
/// each other at the end of every storage. Fails, before converting
/// anything, when a root cannot be read.
pub fn convert_trees_with<T: Send>(
    storages: &[(&Path, Options)],
    prepare: &(dyn Fn(Value) -> T + Sync),
    sink: &mut dyn FnMut(T),
) -> Result<Report> {
    let mut report = Report::default();
    // Each open storage holds a descriptor; a bounded number at a time.
    for group in storages.chunks(TREES_PER_PIPELINE) {
        let trees: Vec<Tree> = group.iter().map(|(root, _)| Tree::open(root)).collect::<Result<_>>()?;
        let listed: Vec<(Report, Vec<Record>)> = trees.par_iter().map(records).collect::<Result<_>>()?;
        let mut preludes = Vec::with_capacity(listed.len());
        let mut items: Vec<(usize, Record)> = Vec::new();
        for (t, (prelude, recs)) in listed.into_iter().enumerate() {
            preludes.push(prelude);
            items.extend(recs.into_iter().map(|r| (t, r)));
        }
        // A storage's listing problems come before its conversion entries.
        let mut merged = 0;
        let mut merge_preludes = |upto: usize, report: &mut Report| {
            while merged < upto {
                report.merge(std::mem::take(&mut preludes[merged]));
                merged += 1;
            }
        };
        // Convert in blocks (bounded memory), each block in parallel in
        // small runs of records; results are handed to `sink` in order.
        for block in items.chunks(4096) {
            let done: Vec<Vec<(usize, Vec<T>, Report)>> = block
                .par_chunks(16)
                .map(|run| {
                    let mut parts: Vec<(usize, Vec<T>, Report)> = Vec::new();
                    for (t, rec) in run {
                        if parts.last().is_none_or(|p| p.0 != *t) {
                            parts.push((*t, Vec::new(), Report::default()));
                        }
                        let Some((_, out, rep)) = parts.last_mut() else { continue };
                        convert_record(&trees[*t], rec, &group[*t].1, rep, &mut |v| out.push(prepare(v)));
                    }
                    parts
                })
                .collect();
            for (t, out, rep) in done.into_iter().flatten() {
                merge_preludes(t + 1, &mut report);
                out.into_iter().for_each(&mut *sink);
                report.merge(rep);
            }
        }
        merge_preludes(trees.len(), &mut report);
    }
    Ok(report)
}

/// Lists one storage and groups its files into records (the versions of
/// one patient, date, data type and order number), in key order. The report
/// holds what could not be listed or named.
fn records(tree: &Tree) -> Result<(Report, Vec<Record>)> {
    let mut report = Report::default();
    let (files, problems) = tree.files()?;
    for e in problems {
        report.push(e);
    }
    // Group the versions of each record (patient, date, data type, order no).
    let named: Vec<std::result::Result<Version, Entry>> = files
        .into_par_iter()
        .map(|tree::Found { rel, name }| {
            let Some(file_name) = name.as_deref() else {
                return Err(file_entry(Level::Rejected, &rel, "file name is not valid UTF-8"));
            };
            let name = match FileName::parse(file_name) {
                Ok(n) => n,
                Err(e) => return Err(file_entry(Level::Rejected, &rel, format!("not an SS-MIX2 message file: {e}"))),
            };
            let expected = name.storage_dir(".");
            let dir = rel.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            if expected.strip_prefix("./") != Some(dir) {
                // A misplaced file cannot be trusted to be what its name says (and
                // could shadow the real one): it is not converted.
                return Err(file_entry(
                    Level::Rejected,
                    &rel,
                    format!("file is stored in ./{dir} but its name belongs in {expected}; not converted"),
                ));
            }
            Ok((name, rel))
        })
        .collect();
    let mut versions: Vec<Version> = Vec::with_capacity(named.len());
    for n in named {
        report.files_seen += 1;
        match n {
            Ok(v) => versions.push(v),
            Err(e) => report.push(e),
        }
    }
    // Records in key order (patient, date, data type, order no), the
    // versions of each by event time (then path): one sort, then runs.
    fn key(v: &Version) -> (&str, &str, &str, &str) {
        let n = &v.0;
        (n.patient_id.as_str(), n.visit_date.as_deref().unwrap_or("-"), n.data_type.as_str(), n.order_no.as_str())
    }
    versions.par_sort_unstable_by(|a, b| key(a).cmp(&key(b)).then_with(|| (&a.0.event_time, &a.1).cmp(&(&b.0.event_time, &b.1))));
    let mut records: Vec<Record> = Vec::new();
    for v in versions {
        match records.last_mut() {
            Some(r) if key(&r.versions[0]) == key(&v) => r.versions.push(v),
            _ => {
                let k = key(&v);
                records.push(Record { key_text: format!("{}/{}/{}/{}", k.0, k.1, k.2, k.3), versions: vec![v] });
            }
        }
    }
    Ok((report, records))
}
