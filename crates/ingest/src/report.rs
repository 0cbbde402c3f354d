//! The conversion report: what was read, what was produced, what was
//! rejected and why (file, message control id, segment, field, reason), and
//! a count of every segment or record type seen with whether it was mapped.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// How serious a reported problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Input was rejected: a file, message or resource was not converted.
    Rejected,
    /// Converted, but part of the input was not used or is doubtful.
    Warning,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Rejected => "rejected",
            Level::Warning => "warning",
        }
    }
}

/// One problem, located as precisely as the input allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Rejected or warning.
    pub level: Level,
    /// Source file (path as given), if any.
    pub file: Option<String>,
    /// MSH-10 message control id, or the UKE claim (RE) line.
    pub message: Option<String>,
    /// Segment (`PID[2]`) or UKE record (`SY@12`, the line number).
    pub segment: Option<String>,
    /// Field number (HL7, 1-based; UKE, 0-based index).
    pub field: Option<usize>,
    /// What is wrong.
    pub reason: String,
}

/// Seen/mapped counts of one segment or record type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentCount {
    /// Occurrences in converted input.
    pub seen: usize,
    /// Occurrences that contributed to at least one resource.
    pub mapped: usize,
}

/// The outcome of one conversion run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Files (or inputs) looked at.
    pub files_seen: usize,
    /// Messages / claims converted (possibly with warnings).
    pub converted: usize,
    /// Older versions skipped because a later file supersedes them.
    pub superseded: usize,
    /// Records withdrawn by a condition flag 0 (invalid) file.
    pub withdrawn: Vec<String>,
    /// Resources produced, by resource type.
    pub resources: BTreeMap<String, usize>,
    /// Message types (`ADT^A08` / data type) with no mapping, and their counts.
    pub unsupported: BTreeMap<String, usize>,
    /// Segment (or UKE record) types seen and mapped.
    pub segments: BTreeMap<String, SegmentCount>,
    /// Problems.
    pub entries: Vec<Entry>,
}

impl Report {
    /// True when anything was rejected (the CLI exits with code 3).
    pub fn has_rejections(&self) -> bool {
        self.entries.iter().any(|e| e.level == Level::Rejected)
    }

    /// Number of rejected entries.
    pub fn rejected(&self) -> usize {
        self.entries.iter().filter(|e| e.level == Level::Rejected).count()
    }

    /// Adds an entry.
    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    pub(crate) fn count_resource(&mut self, resource_type: &str) {
        // Look up before inserting: the key is allocated once per type, not per resource.
        match self.resources.get_mut(resource_type) {
            Some(n) => *n += 1,
            None => {
                self.resources.insert(resource_type.to_string(), 1);
            }
        }
    }

    pub(crate) fn count_segment(&mut self, name: &str, mapped: bool) {
        if !self.segments.contains_key(name) {
            self.segments.insert(name.to_string(), SegmentCount::default());
        }
        let Some(c) = self.segments.get_mut(name) else { return };
        c.seen += 1;
        if mapped {
            c.mapped += 1;
        }
    }

    /// Merges another report into this one.
    pub fn merge(&mut self, other: Report) {
        self.files_seen += other.files_seen;
        self.converted += other.converted;
        self.superseded += other.superseded;
        self.withdrawn.extend(other.withdrawn);
        for (k, v) in other.resources {
            *self.resources.entry(k).or_default() += v;
        }
        for (k, v) in other.unsupported {
            *self.unsupported.entry(k).or_default() += v;
        }
        for (k, v) in other.segments {
            let c = self.segments.entry(k).or_default();
            c.seen += v.seen;
            c.mapped += v.mapped;
        }
        self.entries.extend(other.entries);
    }

    /// The report as JSON (for `--report FILE.json`).
    pub fn to_json(&self) -> Value {
        json!({
            "filesSeen": self.files_seen,
            "converted": self.converted,
            "superseded": self.superseded,
            "withdrawn": self.withdrawn,
            "rejected": self.rejected(),
            "resources": self.resources,
            "unsupported": self.unsupported,
            "segments": self.segments.iter().map(|(k, c)| (k.clone(), json!({"seen": c.seen, "mapped": c.mapped}))).collect::<serde_json::Map<_, _>>(),
            "entries": self.entries.iter().map(|e| {
                let mut o = serde_json::Map::new();
                o.insert("level".into(), e.level.as_str().into());
                if let Some(f) = &e.file { o.insert("file".into(), f.clone().into()); }
                if let Some(m) = &e.message { o.insert("message".into(), m.clone().into()); }
                if let Some(s) = &e.segment { o.insert("segment".into(), s.clone().into()); }
                if let Some(f) = e.field { o.insert("field".into(), f.into()); }
                o.insert("reason".into(), e.reason.clone().into());
                Value::Object(o)
            }).collect::<Vec<_>>(),
        })
    }
}
