//! Running a view over many resources: a push-style [`ViewSink`] that takes
//! resource JSON text (from a store scan callback or NDJSON lines), parses
//! and evaluates it in parallel chunks on rayon, and hands out record
//! batches in input order, so output is deterministic whatever the thread
//! count. Also the `patient`/`_since`/`_limit` filters of `$viewdefinition-run`.

use std::path::Path;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use rayon::prelude::*;
use serde_json::Value;

use super::definition::ViewDefinition;
use super::error::{Error, Result};
use super::eval::{Row, RowEnvs};
use super::path::reference_parts;
use super::batch::Builders;
use super::fast::{KeyTree, Node, Tape, parse_keys};
use super::scan::{Scratch, scan_keys_with};
use super::project::{Projection, parse_resource};

/// Options for a run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Stop after this many rows.
    pub limit: Option<usize>,
    /// Keep only resources in this patient's compartment (`Patient/<id>`
    /// itself, or resources whose top-level references point to it).
    pub patient: Option<String>,
    /// Keep only resources with `meta.lastUpdated` at or after this instant.
    pub since: Option<String>,
    /// Resources per parallel chunk (input order is kept across chunks).
    pub chunk_size: usize,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions { limit: None, patient: None, since: None, chunk_size: 16 * 1024 }
    }
}

/// Counters of a finished run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Resources read (of any type).
    pub resources: u64,
    /// Rows written.
    pub rows: u64,
}

/// A push-style runner: feed resource JSON text with [`ViewSink::push`],
/// receive record batches (in input order) through the callback, and call
/// [`ViewSink::finish`] at the end.
///
/// ```
/// let view = analytics::view::ViewDefinition::from_json_str(r#"{
///   "resourceType": "ViewDefinition", "name": "pt", "resource": "Patient",
///   "select": [{"column": [{"name": "id", "path": "getResourceKey()"}]}]}"#).unwrap();
/// let mut batches = Vec::new();
/// let mut sink = analytics::view::ViewSink::new(&view, Default::default(), |b| { batches.push(b); Ok(()) });
/// sink.push(r#"{"resourceType":"Patient","id":"p1"}"#.to_string()).unwrap();
/// let stats = sink.finish().unwrap();
/// assert_eq!(stats.rows, 1);
/// assert_eq!(batches[0].num_rows(), 1);
/// ```
pub struct ViewSink<'v, F: FnMut(RecordBatch) -> Result<()>> {
    core: Core<'v>,
    emit: F,
}

impl<'v, F: FnMut(RecordBatch) -> Result<()>> ViewSink<'v, F> {
    /// A sink for `view` that passes each batch to `emit`.
    pub fn new(view: &'v ViewDefinition, opts: RunOptions, emit: F) -> ViewSink<'v, F> {
        ViewSink { core: Core::new(vec![view], opts), emit }
    }

    /// Names the input in error messages (e.g. a file name).
    pub fn set_source_name(&mut self, name: impl Into<String>) {
        self.core.source_name = name.into();
    }

    /// Whether the row limit has been reached (further input is ignored).
    pub fn is_done(&self) -> bool {
        self.core.all_done()
    }

    /// Adds one resource as JSON text.
    pub fn push(&mut self, json: String) -> Result<()> {
        self.push_str(&json)
    }

    /// Adds one resource as JSON text, copied into the sink's buffer (for a
    /// source that lends its text, such as a store scan).
    pub fn push_str(&mut self, json: &str) -> Result<()> {
        if let Some(out) = self.core.push(json)? {
            self.emit_all(out)?;
        }
        Ok(())
    }

    /// Feeds the sink from a source that lends each resource's text (a
    /// store scan), reading on a thread of its own while the view evaluates
    /// (see [`super::overlapped`]); the source should stop when the callback
    /// it is given answers `false`. The outer error is the view's; the inner
    /// result is the source's, `Ok` once the row limit is reached (the
    /// read-ahead may have met something further on that no longer matters).
    pub fn push_from<E: Send>(
        &mut self,
        read: impl FnOnce(&mut dyn FnMut(&str) -> bool) -> std::result::Result<(), E> + Send,
    ) -> Result<std::result::Result<(), E>> {
        let (read, pushed) = super::feed::overlapped(read, &mut |json| {
            self.push_str(json)?;
            Ok(!self.is_done())
        });
        pushed?;
        Ok(if self.is_done() { Ok(()) } else { read })
    }

    /// Processes what is buffered and returns the counters.
    pub fn finish(mut self) -> Result<RunStats> {
        let out = self.core.flush()?;
        self.emit_all(out)?;
        Ok(self.core.stats[0])
    }

    fn emit_all(&mut self, out: Vec<Vec<RecordBatch>>) -> Result<()> {
        for b in out.into_iter().flatten() {
            (self.emit)(b)?;
        }
        Ok(())
    }
}

/// Several views over the same resource type, fed together: each resource
/// is parsed once and evaluated by every view. Batches are collected per view.
pub struct MultiViewSink<'v> {
    core: Core<'v>,
    batches: Vec<Vec<RecordBatch>>,
}

impl<'v> MultiViewSink<'v> {
    /// A sink for `views` (usually all of one resource type; resources of
    /// other types yield no rows). `opts` apply to each view separately.
    pub fn new(views: Vec<&'v ViewDefinition>, opts: RunOptions) -> MultiViewSink<'v> {
        let n = views.len();
        MultiViewSink { core: Core::new(views, opts), batches: vec![Vec::new(); n] }
    }

    /// Names the input in error messages (e.g. a file name).
    pub fn set_source_name(&mut self, name: impl Into<String>) {
        self.core.source_name = name.into();
    }

    /// Whether every view has reached the row limit.
    pub fn is_done(&self) -> bool {
        self.core.all_done()
    }

    /// Adds one resource as JSON text.
    pub fn push(&mut self, json: String) -> Result<()> {
        self.push_str(&json)
    }

    /// Adds one resource as JSON text, copied into the sink's buffer.
    pub fn push_str(&mut self, json: &str) -> Result<()> {
        if let Some(out) = self.core.push(json)? {
            self.keep(out);
        }
        Ok(())
    }

    /// Processes what is buffered and returns, per view in the order given,
    /// its batches and counters.
    pub fn finish(mut self) -> Result<Vec<(Vec<RecordBatch>, RunStats)>> {
        let out = self.core.flush()?;
        self.keep(out);
        Ok(self.batches.into_iter().zip(self.core.stats).collect())
    }

    fn keep(&mut self, out: Vec<Vec<RecordBatch>>) {
        for (all, new) in self.batches.iter_mut().zip(out) {
            all.extend(new);
        }
    }
}

/// The shared engine of the sinks: buffering, parallel parse and
/// evaluation, filters and limits.
struct Core<'v> {
    views: Vec<&'v ViewDefinition>,
    opts: RunOptions,
    since: Option<fhirpath::DateTimeVal>,
    /// Pushed resources waiting for evaluation: their texts one after
    /// another in one reused string, and (number, start, end) of each.
    buffer: String,
    spans: Vec<(u64, usize, usize)>,
    resources: u64,
    stats: Vec<RunStats>,
    done: Vec<bool>,
    source_name: String,
}

impl<'v> Core<'v> {
    fn new(views: Vec<&'v ViewDefinition>, opts: RunOptions) -> Core<'v> {
        let since = opts.since.as_deref().and_then(fhirpath::DateTimeVal::parse_datetime);
        let n = views.len();
        Core {
            views,
            opts,
            since,
            buffer: String::new(),
            spans: Vec::new(),
            resources: 0,
            stats: vec![RunStats::default(); n],
            done: vec![false; n],
            source_name: "input".into(),
        }
    }

    fn all_done(&self) -> bool {
        self.done.iter().all(|d| *d)
    }

    fn push(&mut self, json: &str) -> Result<Option<Vec<Vec<RecordBatch>>>> {
        if self.all_done() {
            return Ok(None);
        }
        self.resources += 1;
        for s in &mut self.stats {
            s.resources += 1;
        }
        let start = self.buffer.len();
        self.buffer.push_str(json);
        self.spans.push((self.resources, start, self.buffer.len()));
        if self.spans.len() >= self.opts.chunk_size.max(1) {
            return self.flush().map(Some);
        }
        Ok(None)
    }

    /// Evaluates the buffer; returns the new batches per view.
    fn flush(&mut self) -> Result<Vec<Vec<RecordBatch>>> {
        // The buffer keeps its allocation from one chunk to the next.
        let buffer = std::mem::take(&mut self.buffer);
        let texts: Vec<(u64, &str)> = self.spans.drain(..).map(|(n, a, b)| (n, &buffer[a..b])).collect();
        let out = self.process(&texts);
        self.buffer = buffer;
        self.buffer.clear();
        out
    }

    /// Adds the resources of a block of NDJSON text (complete lines; blank
    /// lines are skipped) and evaluates them, in pieces of `chunk_size`,
    /// without copying each line into its own string. Returns the new batches
    /// per view.
    fn push_block(&mut self, block: &str) -> Result<Vec<Vec<RecordBatch>>> {
        let mut out = self.flush()?;
        let chunk = self.opts.chunk_size.max(1);
        let mut texts: Vec<(u64, &str)> = Vec::with_capacity(chunk.min(1 << 16));
        let mut lines = ndjson_lines(block).peekable();
        while lines.peek().is_some() && !self.all_done() {
            texts.clear();
            for line in lines.by_ref().take(chunk) {
                self.resources += 1;
                texts.push((self.resources, line));
            }
            for s in &mut self.stats {
                s.resources += texts.len() as u64;
            }
            for (all, new) in out.iter_mut().zip(self.process(&texts)?) {
                all.extend(new);
            }
        }
        Ok(out)
    }

    /// Evaluates resources given as (number, JSON text); returns the new batches per view.
    fn process(&mut self, buffer: &[(u64, &str)]) -> Result<Vec<Vec<RecordBatch>>> {
        let n = self.views.len();
        let mut out = vec![Vec::new(); n];
        if buffer.is_empty() || self.all_done() {
            return Ok(out);
        }
        let views = &self.views;
        let done = &self.done;
        let patient = self.opts.patient.as_deref();
        let since = self.since.as_ref();
        let source = self.source_name.as_str();
        // Parse only the elements some view reads; the patient filter looks
        // at every reference, so it needs the whole resource.
        let projection = if patient.is_some() {
            None
        } else {
            union_projection(views).map(|p| if since.is_some() { p.with("meta") } else { p })
        };
        // The light tree serves when every view can use it (and the patient
        // filter, which needs the whole resource, is off); it keeps only the
        // keys some view reads, level by level.
        let fast = patient.is_none() && views.iter().all(|v| v.fast);
        let keys = fast.then(|| {
            let mut keys = KeyTree::default();
            for v in views {
                keys.union(&KeyTree::of(v));
            }
            if since.is_some() {
                keys.child("meta").child("lastUpdated").all = true;
            }
            keys
        });
        // Small fixed pieces: enough to balance two to many cores, large
        // enough that per-piece overhead (environments, batch building) is noise.
        let piece = (buffer.len() / (4 * rayon::current_num_threads())).clamp(64, 2048);
        // Rows per resource so far, to size the column builders of a piece.
        let per_resource: Vec<f64> =
            self.stats.iter().map(|s| if s.resources > 0 { s.rows as f64 / s.resources as f64 } else { 1.0 }).collect();
        let per_resource = &per_resource;
        let schemas: Vec<SchemaRef> = views.iter().map(|v| v.schema()).collect();
        let schemas = &schemas;
        let pieces: Vec<Result<Vec<Option<RecordBatch>>>> = buffer
            .par_chunks(piece)
            .map(|chunk| {
                let envs = RowEnvs::new();
                // Each view's rows go straight into its column builders.
                let mut builders: Vec<Option<Builders>> = views
                    .iter()
                    .zip(done)
                    .zip(per_resource)
                    .map(|((v, d), r)| (!d).then(|| Builders::with_capacity(v, (chunk.len() as f64 * r * 1.1) as usize + 16)))
                    .collect();
                let mut rows: Vec<Row> = Vec::new();
                // Vectors reused from one resource to the next.
                let mut scratch = Scratch::default();
                // The light trees, one resource at a time.
                let mut arena = bumpalo::Bump::new();
                let mut spare: Tape<'static> = Tape::default();
                for (n, text) in chunk {
                    let invalid = |e: serde_json::Error| Error::InvalidResource {
                        source_name: format!("{source}:{n}"),
                        message: e.to_string(),
                    };
                    if let Some(keys) = &keys {
                        // The byte scanner takes the plain case; serde_json
                        // decides the rest (and gives the errors).
                        arena.reset();
                        let node = match scan_keys_with(text, keys, &arena, &mut scratch) {
                            Some(node) => node,
                            None => parse_keys(text, keys, &arena).map_err(invalid)?,
                        };
                        if !keep_node(&node, since) {
                            continue;
                        }
                        let mut full: Option<Value> = None;
                        for (view, b) in views.iter().zip(builders.iter_mut()) {
                            let Some(b) = b else { continue };
                            if let Ok(tape) = view.fast_rows_in(&node, &arena, std::mem::take(&mut spare).recycle()) {
                                for r in tape.rows() {
                                    b.append_indexed(&tape.cells, r);
                                }
                                spare = tape.recycle();
                                continue;
                            }
                            // An unusual resource: the general path gives its rows or its error.
                            if full.is_none() {
                                full = Some(serde_json::from_str(text).map_err(invalid)?);
                            }
                            if let Some(value) = &full {
                                rows.clear();
                                view.rows_into(value, &envs, &mut rows)?;
                                rows.iter().for_each(|r| b.append_row(r));
                            }
                        }
                        continue;
                    }
                    let resource: Value = parse_resource(text, projection.as_ref()).map_err(invalid)?;
                    if !keep(&resource, patient, since) {
                        continue;
                    }
                    for (view, b) in views.iter().zip(builders.iter_mut()) {
                        if let Some(b) = b {
                            rows.clear();
                            view.rows_into(&resource, &envs, &mut rows)?;
                            rows.iter().for_each(|r| b.append_row(r));
                        }
                    }
                }
                schemas.iter().zip(builders).map(|(s, b)| b.map(|b| b.finish_with(s.clone())).transpose()).collect()
            })
            .collect();
        for p in pieces {
            for (v, batch) in p?.into_iter().enumerate() {
                let Some(mut batch) = batch else { continue };
                if self.done[v] {
                    continue;
                }
                if let Some(limit) = self.opts.limit {
                    let left = limit.saturating_sub(self.stats[v].rows as usize);
                    if batch.num_rows() >= left {
                        batch = batch.slice(0, left);
                        self.done[v] = true;
                    }
                }
                if batch.num_rows() == 0 {
                    continue;
                }
                self.stats[v].rows += batch.num_rows() as u64;
                out[v].push(batch);
            }
        }
        Ok(out)
    }
}

/// The projection that serves every view (none if one view needs all elements).
fn union_projection(views: &[&ViewDefinition]) -> Option<Projection> {
    let mut out: Option<Projection> = None;
    for v in views {
        let p = v.projection.as_ref()?;
        out = Some(match out {
            None => p.clone(),
            Some(o) => o.union(p),
        });
    }
    out
}

/// Whether a resource passes the `patient` and `_since` filters.
fn keep(resource: &Value, patient: Option<&str>, since: Option<&fhirpath::DateTimeVal>) -> bool {
    if let Some(since) = since {
        let updated = resource
            .pointer("/meta/lastUpdated")
            .and_then(Value::as_str)
            .and_then(fhirpath::DateTimeVal::parse_datetime);
        match updated {
            Some(u) if u.compare(since, fhirpath::Kind::DateTime) != Some(std::cmp::Ordering::Less) => {}
            _ => return false,
        }
    }
    match patient {
        None => true,
        Some(pid) => in_patient_compartment(resource, pid),
    }
}

/// [`keep`] on the light tree, without a patient filter.
fn keep_node(resource: &Node<'_>, since: Option<&fhirpath::DateTimeVal>) -> bool {
    let Some(since) = since else { return true };
    let updated = resource
        .get("meta")
        .and_then(|m| m.get("lastUpdated"))
        .and_then(Node::as_str)
        .and_then(fhirpath::DateTimeVal::parse_datetime);
    matches!(updated, Some(u) if u.compare(since, fhirpath::Kind::DateTime) != Some(std::cmp::Ordering::Less))
}

/// `Patient/<pid>` itself, or a resource with a top-level reference to it
/// (`subject`, `patient`, `beneficiary`, ...).
pub fn in_patient_compartment(resource: &Value, pid: &str) -> bool {
    let pid = pid.strip_prefix("Patient/").unwrap_or(pid);
    if resource.get("resourceType").and_then(Value::as_str) == Some("Patient") {
        return resource.get("id").and_then(Value::as_str) == Some(pid);
    }
    let is_ref = |v: &Value| {
        v.get("reference").and_then(Value::as_str).and_then(reference_parts) == Some(("Patient", pid))
    };
    resource.as_object().is_some_and(|o| {
        o.values().any(|v| match v {
            Value::Object(_) => is_ref(v),
            Value::Array(a) => a.iter().any(is_ref),
            _ => false,
        })
    })
}

impl ViewDefinition {
    /// Runs the view over in-memory resources (any types; others are skipped)
    /// and returns one record batch.
    pub fn run_values<'a>(&self, resources: impl IntoIterator<Item = &'a Value>) -> Result<RecordBatch> {
        let envs = RowEnvs::new();
        let mut rows = Vec::new();
        for r in resources {
            self.rows_into(r, &envs, &mut rows)?;
        }
        self.to_batch(&rows)
    }

    /// Runs the view over NDJSON text lines (blank lines are skipped).
    pub fn run_lines<I>(&self, lines: I, opts: RunOptions, emit: impl FnMut(RecordBatch) -> Result<()>) -> Result<RunStats>
    where
        I: IntoIterator<Item = Result<String>>,
    {
        let mut sink = ViewSink::new(self, opts, emit);
        for line in lines {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            sink.push(line)?;
            if sink.is_done() {
                break;
            }
        }
        sink.finish()
    }

    /// Runs the view over NDJSON files, in the order given.
    pub fn run_ndjson_files<P: AsRef<Path>>(
        &self,
        files: &[P],
        opts: RunOptions,
        emit: impl FnMut(RecordBatch) -> Result<()>,
    ) -> Result<RunStats> {
        let mut sink = ViewSink::new(self, opts, emit);
        for f in files {
            let path = f.as_ref();
            let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
            sink.set_source_name(path.display().to_string());
            read_blocks(file, path, |block| {
                let out = sink.core.push_block(block)?;
                sink.emit_all(out)?;
                Ok(!sink.is_done())
            })?;
            if sink.is_done() {
                break;
            }
        }
        sink.finish()
    }
}

/// Bytes of NDJSON read at a time by [`read_blocks`].
const BLOCK_BYTES: usize = 512 << 10;

/// Reads `file` in blocks of whole lines (a line longer than a block makes
/// the block grow) and calls `each` with each block's text until it returns
/// `false`. Invalid UTF-8 is an error naming the file.
fn read_blocks(mut file: impl std::io::Read, path: &Path, mut each: impl FnMut(&str) -> Result<bool>) -> Result<()> {
    use std::io::Read;
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK_BYTES + (1 << 16));
    let mut eof = false;
    while !eof {
        // Fill up to the block size (or the end of the file).
        let target = (buf.len() + BLOCK_BYTES / 2).max(BLOCK_BYTES);
        let want = target.saturating_sub(buf.len()) as u64;
        let got = (&mut file).take(want).read_to_end(&mut buf).map_err(|e| Error::io(path, e))?;
        eof = (got as u64) < want;
        // The complete lines; the rest waits for the next block.
        let end = if eof { buf.len() } else { buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) };
        if end == 0 && !eof {
            continue;
        }
        let text = utf8(&buf[..end]).map_err(|e| {
            Error::io(path, std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8: {e}")))
        })?;
        if !each(text)? {
            return Ok(());
        }
        buf.drain(..end);
    }
    Ok(())
}

/// `bytes` as text: checked with SIMD, and again by the standard library
/// (whose error says where) only when invalid.
fn utf8(bytes: &[u8]) -> std::result::Result<&str, std::str::Utf8Error> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(_) => std::str::from_utf8(bytes),
    }
}

/// The non-blank lines of a block of NDJSON text (line ends found with SIMD).
fn ndjson_lines(block: &str) -> impl Iterator<Item = &str> {
    let mut start = 0;
    let ends = memchr::memchr_iter(b'\n', block.as_bytes()).chain(std::iter::once(block.len()));
    ends.filter_map(move |end| {
        // `\n` is ASCII, so both ends are character boundaries.
        let line = &block[start..end];
        start = end + 1;
        (!line.trim().is_empty()).then_some(line)
    })
}

/// The NDJSON files in `dir` that hold resources of type `resource`:
/// `<Type>.ndjson` or `<Type>.<anything>.ndjson` (as bulk export and
/// `medtwin synth` write them), sorted by name.
pub fn ndjson_files_for(dir: &Path, resource: &str) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let stem = name.strip_suffix(".ndjson").or_else(|| name.strip_suffix(".jsonl"));
        if let Some(stem) = stem {
            if stem == resource || stem.split('.').next() == Some(resource) || stem.split('-').next() == Some(resource) {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod block_tests {
    use super::*;

    #[test]
    fn blocks_hold_whole_lines_whatever_the_read_sizes() {
        // A reader that hands out a few bytes at a time.
        struct Trickle<'a>(&'a [u8], usize);
        impl std::io::Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let k = self.1.min(out.len()).min(self.0.len());
                out[..k].copy_from_slice(&self.0[..k]);
                self.0 = &self.0[k..];
                Ok(k)
            }
        }
        let text = "{\"a\":1}\n\n{\"b\":\"é\"}\n{\"c\":3}";
        for step in [1, 3, 7, 1000] {
            let mut seen = String::new();
            read_blocks(Trickle(text.as_bytes(), step), Path::new("t"), |b| {
                seen.push_str(b);
                Ok(true)
            })
            .expect("read");
            assert_eq!(seen, text, "read {step} bytes at a time");
        }
        let bad = [b'{', 0xff, b'}', b'\n'];
        let e = read_blocks(&bad[..], Path::new("bad.ndjson"), |_| Ok(true)).expect_err("not UTF-8").to_string();
        assert!(e.contains("bad.ndjson") && e.contains("UTF-8"), "{e}");
    }

    #[test]
    fn lines_and_utf8_agree_with_the_standard_library() {
        for block in ["", "\n", "a", "a\n", "a\nb", " \n\t\r\na\r\n\n  b  \n", "{\"x\":\"é\"}\n\n{}\n"] {
            let want: Vec<&str> = block.split('\n').filter(|l| !l.trim().is_empty()).collect();
            assert_eq!(ndjson_lines(block).collect::<Vec<_>>(), want, "{block:?}");
        }
        for bytes in [&b"plain"[..], "日本語".as_bytes(), &[0xe6, 0x97], &[b'a', 0xff], &[0xed, 0xa0, 0x80], &[0xc0, 0x80]] {
            assert_eq!(utf8(bytes), std::str::from_utf8(bytes), "{bytes:?}");
        }
    }
}
