//! One HL7 v2 message → FHIR JP Core resources, following the JAMI
//! SS-MIX2 → FHIR mapping (ConceptMaps in `ssmix2-to-fhir`). This module owns
//! the conversion context (patient, source, deterministic ids, report
//! entries, which segments were used) and the dispatch by SS-MIX2 data type;
//! the mappings themselves live in [`adt`] and [`orders`].

pub mod adt;
pub mod dt;
pub mod orders;

use hl7v2::ssmix2::FileName;
use hl7v2::{MessageRef, SegmentRef};
use serde_json::{Map, Value, json};

use crate::ids;
use crate::jp;
use crate::report::{Entry, Level, Report};

/// Conversion options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The 10-digit 医療機関コード of the storage's facility. It forms the
    /// JP Core patient-ID system `urn:oid:1.2.392.100495.20.3.51.1<code>`.
    /// When absent, MSH-4 is used if it is a 10-digit code; otherwise
    /// patient identifiers carry no system and the report says so.
    pub facility_code: Option<String>,
}

/// Where a message came from, for meta.source and the report.
#[derive(Debug, Clone, Copy, Default)]
pub struct Source<'a> {
    /// The file path as given (relative to the storage root when walking a tree).
    pub file: Option<&'a str>,
    /// The parsed SS-MIX2 file name, when the file follows the naming rule.
    pub name: Option<&'a FileName>,
}

/// The SS-MIX2 data type a message type stands for, when no file name says it.
pub fn data_type_of(msg: &MessageRef<'_>) -> Option<&'static str> {
    let (code, event) = msg.message_type();
    Some(match (code, event) {
        ("ADT", "A08") => "ADT-00",
        ("ADT", "A54" | "A55") => "ADT-01",
        ("ADT", "A04") => "ADT-12",
        ("ADT", "A14" | "A27") => "ADT-21",
        ("ADT", "A01" | "A11") => "ADT-22",
        ("ADT", "A21" | "A52") => "ADT-31",
        ("ADT", "A22" | "A53") => "ADT-32",
        ("ADT", "A15" | "A26") => "ADT-41",
        ("ADT", "A02" | "A12") => "ADT-42",
        ("ADT", "A16" | "A25") => "ADT-51",
        ("ADT", "A03" | "A13") => "ADT-52",
        ("ADT", "A60") => "ADT-61",
        ("PPR", _) => "PPR-01",
        ("RDE", _) => {
            if msg.segment("RXC").is_some() {
                "OMP-02"
            } else {
                "OMP-01"
            }
        }
        ("RAS", _) => {
            if msg.segment("RXC").is_some() || msg.segments("RXR").any(|r| r.field(1).as_str() == "IV") {
                "OMP-12"
            } else {
                "OMP-11"
            }
        }
        ("OML", _) => "OML-01",
        ("OUL", _) => "OML-11",
        ("OMG", _) => "OMG-01",
        ("OMI", _) => "OMG-11",
        ("ORU", _) => "OMG-13",
        ("OMD", _) => "OMD",
        _ => return None,
    })
}

/// The conversion context of one message.
pub(crate) struct Conv<'m> {
    pub(crate) msg: &'m MessageRef<'m>,
    pub(crate) segs: &'m [SegmentRef<'m>],
    pub(crate) pid: String,
    pub(crate) patient_id: String,
    pub(crate) data_type: String,
    pub(crate) visit_date: String,
    pub(crate) order_no: String,
    pub(crate) facility: Option<String>,
    file_pid: Option<String>,
    source_uri: String,
    file: Option<String>,
    control_id: String,
    out: Vec<Value>,
    entries: Vec<Entry>,
    mapped: Vec<bool>,
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl<'m> Conv<'m> {
    /// A reference to the patient.
    pub(crate) fn patient_ref(&self) -> Value {
        json!({ "reference": (["Patient/", self.patient_id.as_str()].concat()) })
    }

    /// An id from the message key (patient, visit date, data type, order
    /// number) and extra parts. The event time is deliberately not part of
    /// it: a later version of the same record must update the resource.
    pub(crate) fn id(&self, prefix: &str, extra: &[&str]) -> String {
        let mut parts: Vec<&str> = vec![self.pid.as_str(), self.visit_date.as_str(), self.data_type.as_str(), self.order_no.as_str()];
        parts.extend_from_slice(extra);
        ids::make(prefix, &parts)
    }

    /// Marks segment `i` (0-based) as used.
    pub(crate) fn used(&mut self, i: usize) {
        if let Some(m) = self.mapped.get_mut(i) {
            *m = true;
        }
    }

    fn entry(&mut self, level: Level, seg: Option<usize>, field: Option<usize>, reason: String) {
        let segment = seg.map(|i| format!("{}[{}]", self.segs.get(i).map(|s| s.name()).unwrap_or("?"), i + 1));
        self.entries.push(Entry {
            level,
            file: self.file.clone(),
            message: Some(self.control_id.clone()),
            segment,
            field,
            reason,
        });
    }

    /// Rejects one resource (or the message when `seg` is None).
    pub(crate) fn reject(&mut self, seg: Option<usize>, field: Option<usize>, reason: impl Into<String>) {
        self.entry(Level::Rejected, seg, field, reason.into());
    }

    /// Records a warning.
    pub(crate) fn warn(&mut self, seg: Option<usize>, field: Option<usize>, reason: impl Into<String>) {
        self.entry(Level::Warning, seg, field, reason.into());
    }

    /// A dateTime from field `f` of segment `i`, warning when it is not a valid DTM.
    pub(crate) fn dtm(&mut self, i: usize, f: usize) -> Option<String> {
        let raw = self.segs[i].field(f).as_str();
        if raw.is_empty() {
            return None;
        }
        let v = dt::datetime(raw);
        if v.is_none() {
            self.warn(Some(i), Some(f), format!("invalid date/time {raw:?} not converted"));
        }
        v
    }

    /// Emits a resource: adds resourceType, id, meta (profile, source), prunes
    /// empty values and marks the listed segments as used. Validation happens
    /// when the message is finished.
    pub(crate) fn emit(&mut self, resource_type: &str, id: String, profile: &str, body: Value, segs: &[usize]) {
        // The body's own keys follow resourceType, id and meta; inserting
        // those three in front is cheaper than copying the body into a new
        // map (no body builds these top-level keys itself).
        let mut m = match dt::prune(body) {
            Value::Object(b) => b,
            _ => Map::new(),
        };
        m.shift_insert(0, "resourceType".into(), resource_type.into());
        m.shift_insert(1, "id".into(), id.into());
        m.shift_insert(2, "meta".into(), json!({ "profile": [jp::profile(profile)], "source": self.source_uri }));
        for &i in segs {
            self.used(i);
        }
        self.out.push(Value::Object(m));
    }
}

/// Converts one parsed message; resources go to `sink`, counts and problems
/// to `report`. Never fails: every problem becomes a report entry.
pub fn convert_message(msg: &MessageRef<'_>, src: &Source<'_>, opts: &Options, report: &mut Report, sink: &mut dyn FnMut(Value)) {
    let segs: Vec<SegmentRef<'_>> = msg.all_segments().collect();
    let segs = segs.as_slice();
    let control_id = msg.control_id().to_string();
    let file = src.file.map(str::to_string);
    let source_uri = format!(
        "ssmix2:{}#{}",
        percent_encode(src.file.unwrap_or("-")),
        percent_encode(&control_id)
    );
    let inferred = data_type_of(msg);
    let data_type = src.name.map(|n| n.data_type.clone()).or(inferred.map(str::to_string));
    let facility = opts.facility_code.clone().or_else(|| {
        let s = msg.msh().field(4).as_str();
        (s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.to_string())
    });
    let mut c = Conv {
        msg,
        segs,
        pid: String::new(),
        patient_id: String::new(),
        data_type: data_type.clone().unwrap_or_default(),
        visit_date: src.name.and_then(|n| n.visit_date.clone()).unwrap_or_else(|| "-".into()),
        order_no: src.name.map(|n| n.order_no.clone()).unwrap_or_default(),
        facility,
        file_pid: src.name.map(|n| n.patient_id.clone()),
        source_uri,
        file,
        control_id,
        out: Vec::new(),
        entries: Vec::new(),
        mapped: vec![false; segs.len()],
    };
    if c.order_no.is_empty() {
        // Without a file name the order number comes from the first ORC-2, or the control id.
        c.order_no = msg
            .segment("ORC")
            .map(|o| o.field(2).as_str().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| c.control_id.clone());
    }
    // MSH is "used" by every conversion: it gives the source and message type.
    c.used(0);
    let mapped = run(&mut c, report, inferred);
    // Validate every resource; an invalid one is rejected, never emitted.
    let out = std::mem::take(&mut c.out);
    let mut produced = 0;
    for r in out {
        let issues: Vec<_> = fhir::validate::validate_resource(&r).into_iter().filter(|i| i.is_error()).collect();
        if issues.is_empty() {
            report.count_resource(r["resourceType"].as_str().unwrap_or("?"));
            produced += 1;
            sink(r);
        } else {
            let msg = issues.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
            c.reject(None, None, format!("{} {} failed FHIR validation: {msg}", r["resourceType"], r["id"]));
        }
    }
    for (s, m) in segs.iter().zip(&c.mapped) {
        report.count_segment(s.name(), *m);
    }
    if mapped && produced > 0 {
        report.converted += 1;
    }
    report.entries.append(&mut c.entries);
}

/// Finds the patient and dispatches; returns whether the type is mapped.
fn run(c: &mut Conv<'_>, report: &mut Report, inferred: Option<&str>) -> bool {
    let Some(pid_idx) = c.segs.iter().position(|s| s.name() == "PID") else {
        c.reject(None, None, "no PID segment: the message names no patient");
        return false;
    };
    let pid = c.segs[pid_idx].field(3).as_str().trim().to_string();
    if pid.is_empty() {
        c.reject(Some(pid_idx), Some(3), "PID-3 patient id is missing");
        return false;
    }
    c.pid = pid;
    // PID gives every resource its subject.
    c.used(pid_idx);
    c.patient_id = match &c.facility {
        Some(f) => ids::make("pat", &[f, &c.pid]),
        None => ids::make("pat", &[&c.pid]),
    };
    if c.data_type.is_empty() {
        let (code, event) = c.msg.message_type();
        let key = format!("{code}^{event}");
        *report.unsupported.entry(key.clone()).or_default() += 1;
        c.warn(Some(0), Some(9), format!("message type {key} has no SS-MIX2 data type; not converted"));
        return false;
    }
    if let Some(fp) = c.file_pid.clone().filter(|fp| *fp != c.pid) {
        c.warn(Some(pid_idx), Some(3), format!("PID-3 {:?} differs from the file name's patient id {fp:?}", c.pid));
    }
    let dtype = c.data_type.clone();
    if let Some(inf) = inferred {
        let family = |d: &str| d.get(..3).map(str::to_string);
        if family(inf) != family(&dtype) {
            c.warn(Some(0), Some(9), format!("message type suggests data type {inf} but the file says {dtype}"));
        }
    }
    match dtype.as_str() {
        "ADT-00" => adt::patient_message(c, pid_idx),
        "ADT-01" | "ADT-12" | "ADT-21" | "ADT-22" | "ADT-31" | "ADT-32" | "ADT-41" | "ADT-42" | "ADT-51" | "ADT-52" => {
            adt::encounter_message(c)
        }
        "ADT-61" => adt::allergy_message(c),
        "PPR-01" => adt::condition_message(c),
        "OMP-01" | "OMP-02" => orders::medication_request_message(c),
        "OMP-11" | "OMP-12" => orders::medication_administration_message(c),
        "OML-01" => orders::lab_order_message(c),
        "OML-11" => orders::lab_result_message(c),
        d if d.starts_with("OMG-") => orders::service_request_message(c),
        other => {
            *report.unsupported.entry(other.to_string()).or_default() += 1;
            c.warn(None, None, format!("data type {other} is not mapped to FHIR; message not converted"));
            return false;
        }
    }
    true
}
