//! SS-MIX2 standardized storage: for each hospital a tree
//! `ssmix2/<10-digit facility code>/<pid[0..3]>/<pid[3..6]>/<pid>/<date|->/<data type>/<file>`
//! of HL7 v2.5 messages in ISO-2022-JP, named by the SS-MIX2 rule. Clinics and
//! dental clinics do not keep SS-MIX2 storage, so only hospital encounters appear.
//!
//! Data types written: ADT-00 (patient, ADT^A08), ADT-22 / ADT-52 (admission
//! and discharge, ADT^A01 / ADT^A03), PPR-01 (diagnoses, PPR^ZD1), OMP-01
//! (prescriptions, RDE^O11) and OML-11 (lab results, OUL^R22).

use crate::codes;
use crate::date::Date;
use crate::facility::FacilityKind;
use crate::sim::{Encounter, Person, Scheme};
use crate::{Error, Result, World};
use hl7v2::ssmix2::{ConditionFlag, FileName};
use hl7v2::{Charset, Field, Message, Segment};
use std::path::PathBuf;

const PROFILE: &str = "SS-MIX2_1.20^SS-MIX2^1.2.392.200250.2.1.100.1.2.120^ISO";

fn ts(d: Date, hh: u32, mm: u32) -> String {
    format!("{}{hh:02}{mm:02}00", d.compact())
}

fn msh(fac: &str, t: (&str, &str, &str), when: &str, control: &str) -> Message {
    let mut m = Message::new(Charset::Iso2022Jp);
    let h = m.msh_mut();
    h.set(3, "MEDTWIN");
    h.set(4, fac);
    h.set(5, "SSMIX2");
    h.set(6, fac);
    h.set(7, when);
    h.set(9, Field::from_texts([t.0, t.1, t.2]));
    h.set(10, control);
    h.set(11, "P");
    h.set(12, "2.5");
    h.set(21, Field::from_texts(PROFILE.split('^')));
    m
}

fn pid_segment(w: &World, p: &Person) -> Segment {
    let a = &w.geo.areas[p.area];
    let city = p.muni.map(|m| a.municipalities[m].name.clone()).unwrap_or_else(|| a.name.clone());
    let name = Field::from_repetitions(vec![
        hl7v2::Repetition::from_texts([p.kanji.0.as_str(), p.kanji.1.as_str(), "", "", "", "", "L", "I"]),
        hl7v2::Repetition::from_texts([p.kana.0.as_str(), p.kana.1.as_str(), "", "", "", "", "L", "P"]),
    ]);
    let mut s = Segment::new("PID");
    s.set(1, "0001");
    s.set(3, Field::from_texts([p.pid.as_str(), "", "", "", "PI"]));
    s.set(5, name);
    s.set(7, p.birth.compact());
    s.set(8, if p.male { "M" } else { "F" });
    s.set(11, Field::from_texts([p.street.as_str(), "", city.as_str(), a.pref_name.as_str(), "", "JPN", "H"]));
    s.set(13, Field::from_texts(["", "PRN", "PH", "", "", "", "", "", "", "", "", p.phone.as_str()]));
    if let Some(d) = p.death {
        s.set(29, d.compact());
        s.set(30, "Y");
    }
    s
}

fn pv1_segment(w: &World, e: &Encounter, p: &Person) -> Segment {
    let doc = &w.facilities.practitioners[e.practitioner];
    let mut s = Segment::new("PV1");
    s.set(1, "0001");
    s.set(2, if e.inpatient { "I" } else { "O" });
    s.set(7, Field::from_texts([doc.id.as_str(), doc.kanji.0.as_str(), doc.kanji.1.as_str()]));
    s.set(10, e.dept.code);
    s.set(19, format!("{}{:05}", &p.pid, e.seq));
    if e.inpatient {
        s.set(44, ts(e.start, 10, 0));
        s.set(45, ts(e.end, 10, 0));
    } else {
        s.set(44, ts(e.start, 9, 0));
    }
    s
}

struct Files<'a> {
    p: &'a Person,
    out: Vec<(PathBuf, Vec<u8>)>,
}

impl Files<'_> {
    fn put(&mut self, fac: &str, date: Option<Date>, dtype: &str, order: String, event: Date, hh: u32, dept: Option<&str>, m: Message) -> Result<()> {
        let name = FileName {
            patient_id: self.p.pid.clone(),
            visit_date: date.map(|d| d.compact()),
            data_type: dtype.to_string(),
            order_no: order,
            event_time: format!("{}{hh:02}0000000", event.compact()),
            department: dept.map(str::to_string),
            flag: ConditionFlag::Valid,
        };
        let bytes = m.encode().map_err(|e| Error::Format(format!("{dtype} for patient {}: {e}", self.p.pid)))?;
        self.out.push((PathBuf::from(name.storage_path(fac)), bytes));
        Ok(())
    }
}

/// The SS-MIX2 files of one person, as (path relative to `ssmix2/`, bytes).
pub fn person_files(w: &World, p: &Person) -> Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut f = Files { p, out: Vec::new() };
    let mut seen: Vec<usize> = Vec::new();
    for e in &p.encounters {
        let fac = &w.facilities.list[e.facility];
        if fac.kind != FacilityKind::Hospital {
            continue;
        }
        let code = fac.code10.as_str();
        let dept = Some(e.dept.code);
        let order = |k: u32| format!("{:010}{:05}", e.seq, k);
        if !seen.contains(&e.facility) {
            seen.push(e.facility);
            let mut m = msh(code, ("ADT", "A08", "ADT_A01"), &ts(e.start, 8, 0), &format!("{}{:05}", p.pid, e.seq));
            m.push(Segment::new("EVN").with(2, ts(e.start, 8, 0)));
            m.push(pid_segment(w, p));
            m.push(Segment::new("PV1").with(1, "0001").with(2, "N"));
            if let Some(c) = p.coverages.iter().find(|c| c.start <= e.start && c.end.is_none_or(|x| x >= e.start)) {
                let plan = match c.scheme {
                    Scheme::Kokuho => "C0",
                    Scheme::Employee => "01",
                    Scheme::Kouki => "39",
                };
                m.push(
                    Segment::new("IN1")
                        .with(1, "1")
                        .with(2, plan)
                        .with(3, c.insurer.as_str())
                        .with(4, c.insurer_name.as_str())
                        .with(10, c.symbol.as_str())
                        .with(12, c.start.compact())
                        .with(17, "SEL")
                        .with(49, c.number.as_str()),
                );
            }
            f.put(code, None, "ADT-00", order(0), e.start, 8, None, m)?;
        }
        if e.inpatient {
            let mut m = msh(code, ("ADT", "A01", "ADT_A01"), &ts(e.start, 10, 0), &format!("{}{:05}A", p.pid, e.seq));
            m.push(Segment::new("EVN").with(2, ts(e.start, 10, 0)).with(6, ts(e.start, 10, 0)));
            m.push(pid_segment(w, p));
            m.push(pv1_segment(w, e, p));
            f.put(code, Some(e.start), "ADT-22", order(22), e.start, 10, dept, m)?;
            let mut m = msh(code, ("ADT", "A03", "ADT_A03"), &ts(e.end, 10, 0), &format!("{}{:05}D", p.pid, e.seq));
            m.push(Segment::new("EVN").with(2, ts(e.end, 10, 0)).with(6, ts(e.end, 10, 0)));
            m.push(pid_segment(w, p));
            let mut pv1 = pv1_segment(w, e, p);
            pv1.set(36, if e.died { "4" } else { "1" });
            m.push(pv1);
            f.put(code, Some(e.end), "ADT-52", order(52), e.end, 10, dept, m)?;
        }
        if !e.diagnoses.is_empty() {
            let mut m = msh(code, ("PPR", "ZD1", "PPR_ZD1"), &ts(e.start, 11, 0), &format!("{}{:05}P", p.pid, e.seq));
            m.push(pid_segment(w, p));
            m.push(pv1_segment(w, e, p));
            for (k, ci) in e.diagnoses.iter().enumerate() {
                let c = &p.conditions[*ci];
                let mut prb = Segment::new("PRB");
                prb.set(1, "AD");
                prb.set(2, ts(e.start, 11, 0));
                prb.set(3, Field::from_texts([c.icd10, c.name, "I10"]));
                prb.set(4, format!("{}{:03}", e.seq, k + 1));
                prb.set(7, ts(e.start, 11, 0));
                prb.set(16, c.onset.compact());
                m.push(prb);
            }
            f.put(code, Some(e.start), "PPR-01", order(1), e.start, 11, dept, m)?;
        }
        if !e.meds.is_empty() {
            let when = if e.inpatient { e.end } else { e.start };
            let doc = &w.facilities.practitioners[e.practitioner];
            let mut m = msh(code, ("RDE", "O11", "RDE_O11"), &ts(when, 12, 0), &format!("{}{:05}R", p.pid, e.seq));
            m.push(pid_segment(w, p));
            m.push(pv1_segment(w, e, p));
            for (k, med) in e.meds.iter().enumerate() {
                let d = codes::drug(med.drug);
                let placer = format!("{}{:05}{:02}", &p.pid[4..], e.seq, k + 1);
                m.push(
                    Segment::new("ORC")
                        .with(1, "NW")
                        .with(2, placer.as_str())
                        .with(9, ts(when, 12, 0))
                        .with(12, Field::from_texts([doc.id.as_str(), doc.kanji.0.as_str(), doc.kanji.1.as_str()]))
                        .with(21, w.facilities.list[e.facility].name.as_str())
                        .with(29, if e.inpatient { "I" } else { "O" }),
                );
                let per_dose = d.per_day / d.times as f64;
                m.push(
                    Segment::new("RXE")
                        .with(2, Field::from_texts([d.yj, d.name, "99YJ"]))
                        .with(3, format!("{per_dose}"))
                        .with(5, Field::from_texts(["TAB", "錠", "MR9P"]))
                        .with(10, format!("{}", d.per_day * med.days as f64))
                        .with(11, Field::from_texts(["TAB", "錠", "MR9P"]))
                        .with(21, d.usage)
                        .with(27, Field::from_texts(["", d.usage, "JAMISDP01"])),
                );
                m.push(
                    Segment::new("TQ1")
                        .with(1, "1")
                        .with(3, Field::from_texts(["", d.usage, "JAMISDP01"]))
                        .with(6, Field::from_texts([format!("{}", med.days).as_str(), "D"]))
                        .with(7, when.compact())
                        .with(8, when.plus(med.days as i32 - 1).compact()),
                );
                m.push(Segment::new("RXR").with(1, Field::from_texts(["PO", "口", "HL70162"])));
            }
            f.put(code, Some(when), "OMP-01", order(2), when, 12, dept, m)?;
        }
        if !e.labs.is_empty() {
            let mut m = msh(code, ("OUL", "R22", "OUL_R22"), &ts(e.start, 11, 30), &format!("{}{:05}L", p.pid, e.seq));
            m.push(pid_segment(w, p));
            m.push(pv1_segment(w, e, p));
            m.push(
                Segment::new("SPM")
                    .with(1, "1")
                    .with(2, format!("{}{:05}", &p.pid[4..], e.seq))
                    .with(4, Field::from_texts(["023", "血清", "JC10"]))
                    .with(17, ts(e.start, 9, 30)),
            );
            m.push(
                Segment::new("OBR")
                    .with(1, "1")
                    .with(2, format!("{}{:05}", &p.pid[4..], e.seq))
                    .with(4, Field::from_texts(["LAB", "検体検査", "99L"]))
                    .with(7, ts(e.start, 9, 30))
                    .with(25, "F"),
            );
            for (k, l) in e.labs.iter().enumerate() {
                let def = codes::lab(l.key);
                let v = codes::fmt_value(l.value, def.decimals);
                let flag = if l.value > def.normal.1 { "H" } else if l.value < def.normal.0 { "L" } else { "N" };
                m.push(
                    Segment::new("OBX")
                        .with(1, format!("{}", k + 1))
                        .with(2, "NM")
                        .with(3, Field::from_texts([def.jlac10, def.name, "JC10"]))
                        .with(5, v.as_str())
                        .with(6, Field::from_texts([def.ucum, def.unit, "ISO+"]))
                        .with(7, format!("{}-{}", def.normal.0, def.normal.1))
                        .with(8, flag)
                        .with(11, "F")
                        .with(14, ts(e.start, 9, 30)),
                );
            }
            f.put(code, Some(e.start), "OML-11", order(11), e.start, 11, dept, m)?;
        }
    }
    Ok(f.out)
}
