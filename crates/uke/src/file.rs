//! A whole UKE file: lossless parsing from bytes, byte-identical writing,
//! and grouping of records into claims.
//!
//! Lines are split on bytes before decoding: in Shift_JIS the bytes `,`, CR
//! and LF never occur inside a two-byte character, so this is safe and lets
//! each field be decoded (and checked) on its own.

use encoding_rs::SHIFT_JIS;

use crate::error::{Error, Issue, Result};
use crate::record::{Co, Ho, Ir, Ko, Line, Re, Record, RecordKind, Sy};

/// How a line ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnd {
    /// CR LF, as the specification requires.
    CrLf,
    /// A bare LF.
    Lf,
    /// A bare CR.
    Cr,
    /// No terminator (last line of the file).
    None,
}

impl LineEnd {
    fn bytes(self) -> &'static [u8] {
        match self {
            LineEnd::CrLf => b"\r\n",
            LineEnd::Lf => b"\n",
            LineEnd::Cr => b"\r",
            LineEnd::None => b"",
        }
    }
}

/// A parsed UKE file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UkeFile {
    records: Vec<Record>,
    ends: Vec<LineEnd>,
    trailer: Vec<u8>,
}

/// The records of one claim: its `RE` record and every record up to the
/// next `RE` or `GO`.
#[derive(Debug, Clone, Copy)]
pub struct Claim<'a> {
    records: &'a [Record],
    /// 1-based line number of the RE record.
    pub line: usize,
}

fn decode_field(bytes: &[u8]) -> (String, bool) {
    let (s, had_errors) = SHIFT_JIS.decode_without_bom_handling(bytes);
    (s.into_owned(), had_errors)
}

fn encode_field(text: &str) -> Option<Vec<u8>> {
    let (bytes, _, unmappable) = SHIFT_JIS.encode(text);
    (!unmappable).then(|| bytes.into_owned())
}

impl UkeFile {
    /// Parses bytes. Never fails: invalid bytes become U+FFFD in the text
    /// (with an [`Issue`]) while the record keeps its original bytes so the
    /// file still writes back unchanged.
    pub fn parse(bytes: &[u8]) -> (UkeFile, Vec<Issue>) {
        let mut file = UkeFile::default();
        let mut issues = Vec::new();
        let mut rest = bytes;
        let mut line_no = 0;
        while !rest.is_empty() {
            let (line, end, next) = match rest.iter().position(|b| *b == b'\r' || *b == b'\n') {
                Some(p) if rest[p] == b'\r' && rest.get(p + 1) == Some(&b'\n') => (&rest[..p], LineEnd::CrLf, &rest[p + 2..]),
                Some(p) if rest[p] == b'\r' => (&rest[..p], LineEnd::Cr, &rest[p + 1..]),
                Some(p) => (&rest[..p], LineEnd::Lf, &rest[p + 1..]),
                None => {
                    // A final 0x1A (DOS end-of-file) or other unterminated tail.
                    if rest.iter().all(|b| *b == 0x1a) {
                        file.trailer = rest.to_vec();
                        break;
                    }
                    (rest, LineEnd::None, &rest[rest.len()..])
                }
            };
            rest = next;
            line_no += 1;
            file.records.push(parse_line(line, line_no, end, &mut issues));
            file.ends.push(end);
        }
        (file, issues)
    }

    /// A file from records, each ended by CRLF.
    pub fn from_records(records: Vec<Record>) -> UkeFile {
        let ends = vec![LineEnd::CrLf; records.len()];
        UkeFile { records, ends, trailer: Vec::new() }
    }

    /// All records in file order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Appends a record ended by CRLF.
    pub fn push(&mut self, record: Record) {
        self.records.push(record);
        self.ends.push(LineEnd::CrLf);
    }

    /// The IR (facility) record, if any.
    pub fn ir(&self) -> Option<Ir<'_>> {
        self.records.iter().find_map(Record::as_ir)
    }

    /// The claims (each `RE` with its following records).
    pub fn claims(&self) -> Vec<Claim<'_>> {
        let mut out = Vec::new();
        let mut start: Option<usize> = None;
        for (i, r) in self.records.iter().enumerate() {
            let k = r.kind();
            if matches!(k, RecordKind::Re | RecordKind::Go) {
                if let Some(s) = start.take() {
                    out.push(Claim { records: &self.records[s..i], line: s + 1 });
                }
                if k == RecordKind::Re {
                    start = Some(i);
                }
            }
        }
        if let Some(s) = start {
            out.push(Claim { records: &self.records[s..], line: s + 1 });
        }
        out
    }

    /// Writes the file in Shift_JIS. Parsed records that were not modified
    /// come out byte for byte as they were read.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for (n, (r, end)) in self.records.iter().zip(&self.ends).enumerate() {
            match &r.raw {
                Some(raw) => out.extend_from_slice(raw),
                None => {
                    for (i, f) in r.fields.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        if f.contains([',', '\r', '\n']) {
                            return Err(Error::Delimiter { record: n + 1, field: i });
                        }
                        match encode_field(f) {
                            Some(b) => out.extend_from_slice(&b),
                            None => {
                                let ch = f.chars().find(|c| encode_field(&c.to_string()).is_none()).unwrap_or('\u{fffd}');
                                return Err(Error::Unencodable { ch, record: n + 1, field: i });
                            }
                        }
                    }
                }
            }
            out.extend_from_slice(end.bytes());
        }
        out.extend_from_slice(&self.trailer);
        Ok(out)
    }
}

fn parse_line(line: &[u8], line_no: usize, end: LineEnd, issues: &mut Vec<Issue>) -> Record {
    let mut fields = Vec::new();
    let mut lossy = false;
    let id = String::from_utf8_lossy(line.get(..2).unwrap_or(line)).into_owned();
    for (i, raw) in line.split(|b| *b == b',').enumerate() {
        let (text, bad) = decode_field(raw);
        if bad {
            issues.push(Issue {
                is_error: true,
                line: line_no,
                record: id.clone(),
                field: Some(i),
                message: "bytes not valid in Shift_JIS; replaced by U+FFFD".into(),
            });
            lossy = true;
        } else if encode_field(&text).as_deref() != Some(raw) {
            // CP932 has duplicate codes (NEC/IBM extensions); keep the bytes.
            lossy = true;
        }
        fields.push(text);
    }
    if line.is_empty() {
        issues.push(Issue { is_error: false, line: line_no, record: String::new(), field: None, message: "empty line".into() });
    } else if RecordKind::from_id(&fields[0]) == RecordKind::Other && !is_known_other(&fields[0]) {
        issues.push(Issue {
            is_error: false,
            line: line_no,
            record: fields[0].clone(),
            field: Some(0),
            message: format!("unknown record identifier {:?}", fields[0]),
        });
    }
    if end != LineEnd::CrLf && end != LineEnd::None {
        issues.push(Issue {
            is_error: false,
            line: line_no,
            record: id,
            field: None,
            message: "line not terminated by CRLF".into(),
        });
    }
    Record { fields, raw: lossy.then(|| line.to_vec()) }
}

/// Record identifiers of the 医科, DPC and 歯科 specifications that have no
/// typed view here but are legitimate.
fn is_known_other(id: &str) -> bool {
    matches!(id, "SB" | "BU" | "KK" | "GA" | "HH" | "GT" | "CD" | "GR" | "TS" | "TR" | "TK" | "HS" | "SS" | "SK" | "RC" | "RR" | "KH" | "DR" | "ON" | "OR" | "OI" | "KI" | "YK" | "TI" | "SR" | "KR" | "SO")
}

impl<'a> Claim<'a> {
    /// All records of the claim, RE first.
    pub fn records(&self) -> &'a [Record] {
        self.records
    }

    /// The RE record.
    pub fn re(&self) -> Re<'a> {
        self.records[0].as_re().expect("invariant: a claim starts with its RE record")
    }

    /// HO records (normally zero or one).
    pub fn insurers(&self) -> impl Iterator<Item = Ho<'a>> + 'a {
        self.records.iter().filter_map(Record::as_ho)
    }

    /// KO records (up to four public payers).
    pub fn public_payers(&self) -> impl Iterator<Item = Ko<'a>> + 'a {
        self.records.iter().filter_map(Record::as_ko)
    }

    /// SY records.
    pub fn diagnoses(&self) -> impl Iterator<Item = Sy<'a>> + 'a {
        self.records.iter().filter_map(Record::as_sy)
    }

    /// SI/IY/TO lines, each with the CO comments that directly follow it,
    /// and with an empty 診療識別 filled from the preceding line.
    pub fn lines(&self) -> Vec<(Line<'a>, &'a str, Vec<Co<'a>>)> {
        let mut out: Vec<(Line<'a>, &'a str, Vec<Co<'a>>)> = Vec::new();
        let mut category: &'a str = "";
        for r in self.records {
            if let Some(l) = r.as_line() {
                if !l.care_category().is_empty() {
                    category = l.care_category();
                }
                out.push((l, category, Vec::new()));
            } else if let (Some(c), Some(last)) = (r.as_co(), out.last_mut()) {
                last.2.push(c);
            }
        }
        out
    }

    /// CO records that come before any line (claim-level comments).
    pub fn leading_comments(&self) -> Vec<Co<'a>> {
        self.records
            .iter()
            .take_while(|r| r.as_line().is_none())
            .filter_map(Record::as_co)
            .collect()
    }
}

#[cfg(test)]
mod tests;
