//! UKE claims: one `RECEIPTC.UKE` per facility, month of care and payer
//! (社会保険診療報酬支払基金 for employee insurance, 国民健康保険団体連合会 for
//! 国保 and 後期高齢者), at `uke/<10-digit facility code>/<YYYYMM>/<shaho|kokuho>/RECEIPTC.UKE`,
//! in the レセプト電算処理システム record format (IR, RE, HO, SY, SI, IY, GO),
//! Shift_JIS with CRLF, with points.
//!
//! Streaming: each person's claims are encoded on the worker threads, spooled
//! per month of care as people are written (in person order), and assembled
//! into files at the end, months in parallel, each month read once with a
//! bounded buffer, so memory does not grow with the number of people.

use crate::date::Date;
use crate::fhir_out::{claim_items, drug_points};
use crate::sim::{Encounter, Person, Scheme};
use crate::{codes, Error, Result, World};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// One claim (RE block) of one person at one facility for one month.
#[derive(Debug, Clone)]
pub struct ClaimBlock {
    /// Month index of care.
    pub month: i32,
    /// Facility index.
    pub facility: usize,
    /// 1 = 社保 (支払基金), 2 = 国保 (国保連).
    pub payer: u8,
    /// Total points.
    pub points: u64,
    /// Records, RE first, as field lists (the RE claim number is filled in at assembly).
    pub records: Vec<Vec<String>>,
}

fn full_width_digits(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_digit() { char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c) } else { c }).collect()
}

fn line(id: &str, fields: &[(usize, String)], len: usize) -> Vec<String> {
    let mut v = vec![String::new(); len];
    v[0] = id.to_string();
    for (i, s) in fields {
        v[*i] = s.clone();
    }
    v
}

/// Day flags: field 13 is day 1 … field 43 is day 31.
fn with_days(mut v: Vec<String>, days: &BTreeMap<u32, u32>) -> Vec<String> {
    for (d, n) in days {
        if (1..=31).contains(d) {
            v[12 + *d as usize] = n.to_string();
        }
    }
    v
}

/// Claims of one person, grouped by (facility, month, in/outpatient).
pub fn person_claims(_w: &World, p: &Person) -> Vec<ClaimBlock> {
    // Group encounters, splitting stays at month boundaries.
    let mut groups: BTreeMap<(usize, i32, bool), Vec<(&Encounter, Date, Date)>> = BTreeMap::new();
    for e in &p.encounters {
        let mut s = e.start;
        loop {
            let mi = s.month_index();
            let month_end = Date::from_month_index(mi + 1).plus(-1);
            let end = e.end.min(month_end);
            groups.entry((e.facility, mi, e.inpatient)).or_default().push((e, s, end));
            if end >= e.end {
                break;
            }
            s = end.plus(1);
        }
    }
    let mut out = Vec::new();
    for ((facility, month, inpatient), encs) in groups {
        let first = encs[0].1;
        let Some(cov) = p.coverages.iter().find(|c| c.start <= first && c.end.is_none_or(|x| x >= first)).or(p.coverages.first()) else {
            continue;
        };
        let payer = if cov.scheme == Scheme::Employee { 1 } else { 2 };
        let age = p.birth.age_on(first);
        let fourth = match (cov.scheme, age, inpatient) {
            (Scheme::Kouki, _, true) => '7',
            (Scheme::Kouki, _, false) => '8',
            (_, a, true) if a < 6 => '3',
            (_, a, false) if a < 6 => '4',
            (_, a, true) if a >= 70 => '7',
            (_, a, false) if a >= 70 => '8',
            (_, _, true) => '1',
            (_, _, false) => '2',
        };
        let second = if cov.scheme == Scheme::Kouki { '3' } else { '1' };
        let (y, m, _) = Date::from_month_index(month).to_ymd();
        let ym = format!("{y:04}{m:02}");
        let mut re = vec![String::new(); 38];
        re[0] = "RE".into();
        re[2] = format!("1{second}1{fourth}");
        re[3] = ym.clone();
        re[4] = format!("{}　{}", p.kanji.0, p.kanji.1);
        re[5] = if p.male { "1".into() } else { "2".into() };
        re[6] = p.birth.compact();
        if inpatient {
            re[8] = encs[0].0.start.compact();
        }
        re[13] = p.pid.clone();
        re[21] = encs[0].0.dept.code.to_string();
        re[36] = format!("{}　{}", p.kana.0, p.kana.1);
        let mut records = vec![re];
        let mut care_days: BTreeMap<u32, u32> = BTreeMap::new();
        let mut body: Vec<Vec<String>> = Vec::new();
        let mut total: u64 = 0;
        // Diagnoses.
        let mut dx: Vec<usize> = Vec::new();
        for (e, _, _) in &encs {
            for d in &e.diagnoses {
                if !dx.contains(d) {
                    dx.push(*d);
                }
            }
        }
        let month_end = Date::from_month_index(month + 1).plus(-1);
        let mut sy = Vec::new();
        for (k, ci) in dx.iter().enumerate() {
            let c = &p.conditions[*ci];
            let outcome = match c.abatement {
                Some(a) if a <= month_end => if p.death.is_some_and(|d| d <= month_end && d == a) { "3" } else { "2" },
                _ if p.death.is_some_and(|d| d <= month_end) && encs.iter().any(|(e, _, _)| e.died) => "3",
                _ => "1",
            };
            sy.push(line("SY", &[(1, "0000999".into()), (2, c.onset.compact()), (3, outcome.into()), (5, c.name.into()), (6, if k == 0 { "01".into() } else { String::new() })], 8));
        }
        for (e, s, end) in &encs {
            let (_, _, d0) = s.to_ymd();
            let (_, _, d1) = end.to_ymd();
            for d in d0..=d1 {
                *care_days.entry(d).or_default() += 1;
            }
            let part_of_stay = *s != e.start;
            for (code, _name, pts, count, cat) in claim_items(e) {
                let (count, days) = if code == codes::fee("admission_basic").receipt {
                    let n = (end.0 - s.0 + 1) as u32;
                    let days: BTreeMap<u32, u32> = (d0..=d1).map(|d| (d, 1)).collect();
                    (n, days)
                } else if part_of_stay {
                    continue;
                } else {
                    let mut days = BTreeMap::new();
                    days.insert(d0, count);
                    (count, days)
                };
                total += pts as u64 * count as u64;
                let v = line("SI", &[(1, cat.to_string()), (2, "1".into()), (3, code.into()), (5, pts.to_string()), (6, count.to_string())], 44);
                body.push(with_days(v, &days));
            }
            if !part_of_stay {
                for (k, med) in e.meds.iter().enumerate() {
                    let d = codes::drug(med.drug);
                    let (pts, days_supplied) = drug_points(med);
                    total += pts as u64 * days_supplied as u64;
                    let mut days = BTreeMap::new();
                    days.insert(d0, days_supplied);
                    let cat = if k == 0 { if e.inpatient { "21" } else { "21" } } else { "" };
                    let v = line("IY", &[(1, cat.into()), (2, "1".into()), (3, d.receipt.into()), (4, format!("{}", d.per_day)), (5, pts.to_string()), (6, days_supplied.to_string())], 44);
                    body.push(with_days(v, &days));
                }
            }
        }
        let days = care_days.len();
        records.push(line(
            "HO",
            &[
                (1, cov.insurer.clone()),
                (2, full_width_digits(&cov.symbol)),
                (3, full_width_digits(&cov.number)),
                (4, days.to_string()),
                (5, total.to_string()),
            ],
            15,
        ));
        records.extend(sy);
        records.extend(body);
        out.push(ClaimBlock { month, facility, payer, points: total, records });
    }
    out
}

/// A claim block encoded in Shift_JIS, its RE claim number left empty (the
/// bytes start with `RE,,`) for the assembler to fill in.
#[derive(Debug, Clone)]
pub struct EncodedBlock {
    /// Month index of care.
    pub month: i32,
    /// Facility index.
    pub facility: usize,
    /// 1 = 社保 (支払基金), 2 = 国保 (国保連).
    pub payer: u8,
    /// Total points.
    pub points: u64,
    /// The records, CRLF-ended.
    pub bytes: Vec<u8>,
}

/// Encodes a person's claim blocks (on the worker threads, so that the
/// assembly only copies bytes).
pub fn encode_blocks(blocks: Vec<ClaimBlock>) -> Result<Vec<EncodedBlock>> {
    blocks
        .into_iter()
        .map(|b| {
            let records: Vec<uke::Record> = b.records.into_iter().map(uke::Record::new).collect();
            let bytes = encode(records)?;
            if !bytes.starts_with(b"RE,,") {
                return Err(Error::Format("UKE: a claim block must start with an RE record with an empty claim number".into()));
            }
            Ok(EncodedBlock { month: b.month, facility: b.facility, payer: b.payer, points: b.points, bytes })
        })
        .collect()
}

/// Spools encoded claim blocks per month of care and assembles the files at the end.
pub struct Spool {
    root: PathBuf,
    dir: PathBuf,
    months: BTreeMap<i32, BufWriter<File>>,
}

fn io<T>(path: &Path, r: std::io::Result<T>) -> Result<T> {
    r.map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

/// Bytes of claims buffered per month being assembled before they are
/// appended to their files: bounds memory whatever the number of people.
const ASSEMBLY_BUFFER: usize = 24 << 20;

/// Spool record header: facility (u32), payer (u8), points (u64), length (u32), little-endian.
const HEADER: usize = 17;

/// One output file of a month being assembled.
struct Pending {
    path: PathBuf,
    created: bool,
    claims: u64,
    points: u64,
    buf: Vec<u8>,
}

impl Spool {
    /// A spool under `<out>/uke/.spool`.
    pub fn new(out: &Path, _w: &World) -> Result<Spool> {
        let root = out.join("uke");
        let dir = root.join(".spool");
        io(&dir, std::fs::create_dir_all(&dir))?;
        Ok(Spool { root, dir, months: BTreeMap::new() })
    }

    /// Appends a person's blocks.
    pub fn add(&mut self, blocks: &[EncodedBlock]) -> Result<()> {
        for b in blocks {
            let w = match self.months.get_mut(&b.month) {
                Some(w) => w,
                None => {
                    let path = self.dir.join(format!("{}.bin", b.month));
                    let f = io(&path, File::create(&path))?;
                    self.months.entry(b.month).or_insert(BufWriter::with_capacity(1 << 16, f))
                }
            };
            let fac = u32::try_from(b.facility).map_err(|_| Error::Format("UKE: facility index out of range".into()))?;
            let len = u32::try_from(b.bytes.len()).map_err(|_| Error::Format("UKE: claim block too large".into()))?;
            let mut h = [0u8; HEADER];
            h[0..4].copy_from_slice(&fac.to_le_bytes());
            h[4] = b.payer;
            h[5..13].copy_from_slice(&b.points.to_le_bytes());
            h[13..17].copy_from_slice(&len.to_le_bytes());
            let r = w.write_all(&h).and_then(|_| w.write_all(&b.bytes));
            io(&self.dir.join(format!("{}.bin", b.month)), r)?;
        }
        Ok(())
    }

    /// Writes the UKE files, months in parallel; returns (files, bytes).
    pub fn finish(mut self, w: &World) -> Result<(u64, u64)> {
        let months: Vec<i32> = self.months.keys().copied().collect();
        for (m, wr) in std::mem::take(&mut self.months) {
            let path = self.dir.join(format!("{m}.bin"));
            io(&path, wr.into_inner().map_err(|e| e.into_error()).and_then(|mut f| f.flush()))?;
        }
        use rayon::prelude::*;
        let done: Vec<Result<(u64, u64)>> = months.par_iter().map(|&m| self.assemble_month(w, m)).collect();
        let mut files = 0;
        let mut bytes = 0;
        for r in done {
            let (f, b) = r?;
            files += f;
            bytes += b;
        }
        io(&self.dir, std::fs::remove_dir_all(&self.dir))?;
        Ok((files, bytes))
    }

    /// Reads one month's spool once and writes its files (IR, the claims
    /// numbered in person order, GO); returns (files, bytes).
    fn assemble_month(&self, w: &World, m: i32) -> Result<(u64, u64)> {
        use std::io::Read;
        let path = self.dir.join(format!("{m}.bin"));
        let (y, mo, _) = Date::from_month_index(m).to_ymd();
        let (by, bmo, _) = Date::from_month_index(m + 1).to_ymd();
        let ym = format!("{y:04}{mo:02}");
        let billed = format!("{by:04}{bmo:02}");
        let mut reader = BufReader::with_capacity(1 << 16, io(&path, File::open(&path))?);
        let mut pending: std::collections::HashMap<(usize, u8), Pending> = Default::default();
        let mut buffered = 0usize;
        let mut bytes = 0u64;
        let mut h = [0u8; HEADER];
        let mut block = Vec::new();
        let mut itoa = itoa::Buffer::new();
        loop {
            match reader.read_exact(&mut h) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(Error::Io { path, source: e }),
            }
            let le4 = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let fac = le4(&h[0..4]) as usize;
            let payer = h[4];
            let points = u64::from_le_bytes([h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12]]);
            let len = le4(&h[13..17]) as usize;
            block.resize(len, 0);
            io(&path, reader.read_exact(&mut block))?;
            let f = w.facilities.list.get(fac).ok_or_else(|| Error::Format("bad UKE spool record".into()))?;
            let p = pending.entry((fac, payer)).or_insert_with(|| Pending {
                path: self.root.join(&f.code10).join(&ym).join(if payer == 1 { "shaho" } else { "kokuho" }).join("RECEIPTC.UKE"),
                created: false,
                claims: 0,
                points: 0,
                buf: Vec::new(),
            });
            p.claims += 1;
            p.points += points;
            // `RE,` + claim number + the rest of the block after `RE,`.
            p.buf.extend_from_slice(b"RE,");
            p.buf.extend_from_slice(itoa.format(p.claims).as_bytes());
            p.buf.extend_from_slice(&block[3..]);
            buffered += len + 8;
            if buffered > ASSEMBLY_BUFFER {
                for ((fac, payer), p) in pending.iter_mut() {
                    bytes += flush(w, *fac, *payer, &billed, p, false)?;
                }
                buffered = 0;
            }
        }
        let mut keys: Vec<(usize, u8)> = pending.keys().copied().collect();
        keys.sort_unstable();
        for k in &keys {
            if let Some(p) = pending.get_mut(k) {
                bytes += flush(w, k.0, k.1, &billed, p, true)?;
            }
        }
        io(&path, std::fs::remove_file(&path))?;
        Ok((keys.len() as u64, bytes))
    }
}

/// Appends a file's buffered claims (creating it with its IR record first);
/// with `last`, also its GO record. Returns the bytes written.
fn flush(w: &World, fac: usize, payer: u8, billed: &str, p: &mut Pending, last: bool) -> Result<u64> {
    if p.buf.is_empty() && !last {
        return Ok(0);
    }
    let mut head = Vec::new();
    if !p.created {
        let f = &w.facilities.list[fac];
        if let Some(dir) = p.path.parent() {
            io(dir, std::fs::create_dir_all(dir))?;
        }
        let table = if f.kind == crate::facility::FacilityKind::Dental { "3" } else { "1" };
        let ir = uke::Record::new([
            "IR".to_string(),
            payer.to_string(),
            f.pref().to_string(),
            table.to_string(),
            f.code7().to_string(),
            String::new(),
            f.name.clone(),
            billed.to_string(),
            "00".to_string(),
            "0590000000".to_string(),
        ]);
        head = encode(vec![ir])?;
    }
    let tail = if last { encode(vec![uke::Record::new(["GO".to_string(), p.claims.to_string(), p.points.to_string(), "99".to_string()])])? } else { Vec::new() };
    let mut f = if p.created {
        io(&p.path, std::fs::OpenOptions::new().append(true).open(&p.path))?
    } else {
        io(&p.path, File::create(&p.path))?
    };
    p.created = true;
    let n = (head.len() + p.buf.len() + tail.len()) as u64;
    let r = f.write_all(&head).and_then(|_| f.write_all(&p.buf)).and_then(|_| f.write_all(&tail));
    io(&p.path, r)?;
    p.buf.clear();
    Ok(n)
}

fn encode(records: Vec<uke::Record>) -> Result<Vec<u8>> {
    uke::UkeFile::from_records(records).to_bytes().map_err(|e| Error::Format(format!("UKE: {e}")))
}
