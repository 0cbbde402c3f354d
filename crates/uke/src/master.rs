//! The 支払基金 (claims fund) master CSV files that give UKE codes their
//! names: 傷病名 (b), 診療行為 (s), 医薬品 (y), 特定器材 (t), 修飾語 (z).
//! Quoted CSV in CP932, one code per line; the column layouts are those of
//! the published masters (0-based column numbers below).

use std::collections::HashMap;

use encoding_rs::SHIFT_JIS;

use crate::error::{Error, Result};

/// One master entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterEntry {
    /// Master kind letter (`B`, `S`, `Y`, `T`, `Z`).
    pub kind: char,
    /// The code (7-digit disease, 9-digit procedure/drug/material, 4-digit modifier).
    pub code: String,
    /// The name (基本名称 / 省略漢字名称).
    pub name: String,
    /// ICD-10 code (b master column 15), when given.
    pub icd10: Option<String>,
    /// MEDIS 病名管理番号 (b master column 10).
    pub medis_key: Option<String>,
    /// MEDIS 交換用コード (b master column 12; z master column 17).
    pub exchange_code: Option<String>,
    /// Unit name (y/t master column 9).
    pub unit: Option<String>,
}

/// Lookup table built from one or more master files.
#[derive(Debug, Clone, Default)]
pub struct Master {
    entries: HashMap<(char, String), MasterEntry>,
}

/// Splits one CSV line with `"`-quoting (doubled quotes escape a quote).
pub fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

fn non_empty(s: Option<&String>) -> Option<String> {
    s.filter(|v| !v.is_empty()).cloned()
}

impl Master {
    /// An empty table.
    pub fn new() -> Self {
        Master::default()
    }

    /// Adds the entries of one master file (CP932 bytes). Returns the number
    /// of entries added; a line that is not a master line is an error that
    /// names it (other lines are still added).
    pub fn load(&mut self, bytes: &[u8]) -> (usize, Vec<Error>) {
        let (text, _) = SHIFT_JIS.decode_without_bom_handling(bytes);
        let mut added = 0;
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match parse_line(line) {
                Ok(e) => {
                    self.entries.insert((e.kind, e.code.clone()), e);
                    added += 1;
                }
                Err(reason) => errors.push(Error::Master { line: i + 1, reason }),
            }
        }
        (added, errors)
    }

    /// Looks a code up in the master of the given kind.
    pub fn get(&self, kind: char, code: &str) -> Option<&MasterEntry> {
        self.entries.get(&(kind, code.to_string()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn parse_line(line: &str) -> Result<MasterEntry, String> {
    let c = split_csv(line);
    let kind = c
        .get(1)
        .and_then(|k| {
            let mut it = k.chars();
            match (it.next(), it.next()) {
                (Some(ch), None) => Some(ch),
                _ => None,
            }
        })
        .ok_or_else(|| "column 1 is not a master kind letter".to_string())?;
    let col = |i: usize| c.get(i).cloned().unwrap_or_default();
    let (code, name) = match kind {
        'B' => (col(2), col(5)),
        'S' | 'Y' | 'T' => (col(2), col(4)),
        'Z' => (col(2), col(6)),
        other => return Err(format!("unknown master kind {other:?}")),
    };
    if code.is_empty() || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("code {code:?} is not numeric"));
    }
    Ok(MasterEntry {
        kind,
        code,
        name,
        icd10: if kind == 'B' { non_empty(c.get(15)) } else { None },
        medis_key: if kind == 'B' { non_empty(c.get(10)) } else { None },
        exchange_code: match kind {
            'B' => non_empty(c.get(12)),
            'Z' => non_empty(c.get(17)),
            _ => None,
        },
        unit: if matches!(kind, 'Y' | 'T') { non_empty(c.get(9)) } else { None },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b_master_sample() {
        let bytes = include_bytes!("../test_data/master_samples_2022/b_ALL00000000.csv");
        let mut m = Master::new();
        let (n, errs) = m.load(bytes);
        assert!(errs.is_empty(), "{errs:?}");
        assert!(n >= 3);
        let e = m.get('B', "4375001").expect("もやもや病");
        assert_eq!(e.name, "もやもや病");
        assert_eq!(e.icd10.as_deref(), Some("I675"));
        assert_eq!(e.medis_key.as_deref(), Some("20050703"));
        assert_eq!(e.exchange_code.as_deref(), Some("CET2"));
        assert!(m.get('S', "4375001").is_none());
    }

    #[test]
    fn other_masters() {
        let mut m = Master::new();
        for b in [
            &include_bytes!("../test_data/master_samples_2022/s_ALL00000000.csv")[..],
            &include_bytes!("../test_data/master_samples_2022/y_ALL00000000.csv")[..],
            &include_bytes!("../test_data/master_samples_2022/t_ALL00000000.csv")[..],
            &include_bytes!("../test_data/master_samples_2022/z_ALL00000000.csv")[..],
        ] {
            let (_, errs) = m.load(b);
            assert!(errs.is_empty(), "{errs:?}");
        }
        assert_eq!(m.get('S', "111000110").expect("初診料").name, "初診料");
        let y = m.get('Y', "610406079").expect("drug");
        assert_eq!((y.name.as_str(), y.unit.as_deref()), ("ガスター散２％", Some("ｇ")));
        assert_eq!(m.get('T', "700010000").expect("film").unit.as_deref(), Some("枚"));
        assert_eq!(m.get('Z', "2060").expect("modifier").name, "左右");
    }

    #[test]
    fn bad_lines_are_reported() {
        let mut m = Master::new();
        let (n, errs) = m.load(b"\"0\",\"B\",\"abc\"\r\nnot,a,master\r\n\"0\",\"S\",\"111\",\"3\",\"x\"\r\n");
        assert_eq!(n, 1);
        assert_eq!(errs.len(), 2);
        assert!(matches!(errs[0], Error::Master { line: 1, .. }));
    }

    #[test]
    fn csv_quotes() {
        assert_eq!(split_csv(r#""a,b","c""d",e"#), vec!["a,b", "c\"d", "e"]);
    }
}
