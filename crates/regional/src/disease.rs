//! Disease groups as ICD-10 code lists: the 5疾病 of the medical care plan
//! (医療計画) and any user list of codes and ranges (`I60-I64,I69,E11`).
//! A code matches a list entry when it starts with it (so `I63` matches
//! `I639`); a range `I60-I64` matches every code whose 3-character category
//! lies between the two ends, inclusive.
//!
//! The 5疾病 lists, and why:
//!
//! | key | 疾病 | ICD-10 | rationale |
//! |---|---|---|---|
//! | `cancer` | がん | C00-C97 | 悪性新生物 as in the 患者調査 and cancer registry tabulations (in-situ D00-D09 excluded) |
//! | `stroke` | 脳卒中 | I60-I64 | acute cerebrovascular events: subarachnoid and intracerebral haemorrhage, infarction, unspecified stroke; sequelae (I69) and occlusion without infarction (I65-I66) are not acute care |
//! | `cardio` | 心筋梗塞等の心血管疾患 | I20-I25, I50, I71 | the 第8次医療計画 scope: ischaemic heart disease (急性心筋梗塞 and the rest), heart failure (心不全), aortic dissection and aneurysm (大動脈解離) |
//! | `diabetes` | 糖尿病 | E10-E14 | all diabetes mellitus categories |
//! | `mental` | 精神疾患 | F00-F99, G30 | ICD-10 chapter V plus Alzheimer's disease, since 認知症 is part of 精神疾患 in the plan |
//!
//! The primary diagnosis decides: an encounter's `diagnosis` of rank 1 (else
//! its first), a claim's diagnosis of sequence 1 (主傷病).

use crate::{Error, Result};

/// One entry: a prefix, or a range of 3-character categories.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Prefix(String),
    Range(String, String),
}

/// A named group of ICD-10 codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiseaseGroup {
    /// Key (`stroke`, or the list as given).
    pub key: String,
    /// Japanese name (the list as given for user lists).
    pub name: String,
    entries: Vec<Entry>,
}

/// The 5疾病: (key, Japanese name, ICD-10 list).
pub const FIVE_DISEASES: &[(&str, &str, &str)] = &[
    ("cancer", "がん", "C00-C97"),
    ("stroke", "脳卒中", "I60-I64"),
    ("cardio", "心筋梗塞等の心血管疾患", "I20-I25,I50,I71"),
    ("diabetes", "糖尿病", "E10-E14"),
    ("mental", "精神疾患", "F00-F99,G30"),
];

/// A letter, two digits, then up to four letters or digits (`I63`, `I639`, `C1A0`).
fn is_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 3
        && b.len() <= 7
        && b[0].is_ascii_uppercase()
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b[3..].iter().all(|x| x.is_ascii_alphanumeric())
}

impl DiseaseGroup {
    /// A 5疾病 key, `all` (every encounter), or a comma-separated ICD-10 list.
    pub fn parse(spec: &str) -> Result<DiseaseGroup> {
        let spec = spec.trim();
        if spec == "all" {
            return Ok(DiseaseGroup { key: "all".into(), name: "全疾患".into(), entries: Vec::new() });
        }
        if let Some((k, n, list)) = FIVE_DISEASES.iter().find(|d| d.0 == spec || d.1 == spec) {
            let mut g = DiseaseGroup::codes(list)?;
            g.key = k.to_string();
            g.name = n.to_string();
            return Ok(g);
        }
        DiseaseGroup::codes(spec)
    }

    fn codes(list: &str) -> Result<DiseaseGroup> {
        let mut entries = Vec::new();
        for part in list.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
            let p = part.to_ascii_uppercase().replace('.', "");
            let bad = || Error::Invalid(format!("'{part}' is not an ICD-10 code or range (e.g. I63, I60-I64), nor one of all, cancer, stroke, cardio, diabetes, mental"));
            match p.split_once('-') {
                Some((a, b)) => {
                    if !is_code(a) || !is_code(b) || a[..3] > b[..3] {
                        return Err(bad());
                    }
                    entries.push(Entry::Range(a[..3].to_string(), b[..3].to_string()));
                }
                None => {
                    if !is_code(&p) {
                        return Err(bad());
                    }
                    entries.push(Entry::Prefix(p));
                }
            }
        }
        if entries.is_empty() {
            return Err(Error::Invalid("empty ICD-10 list".into()));
        }
        Ok(DiseaseGroup { key: list.to_string(), name: list.to_string(), entries })
    }

    /// Whether every code matches (the `all` group).
    pub fn is_all(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether an ICD-10 code (`I639`, `I63.9`) is in the group; no code matches only `all`.
    pub fn matches(&self, code: Option<&str>) -> bool {
        if self.is_all() {
            return true;
        }
        let Some(code) = code else { return false };
        let code: String = code.chars().filter(|c| *c != '.').collect::<String>().to_ascii_uppercase();
        self.entries.iter().any(|e| match e {
            Entry::Prefix(p) => code.starts_with(p.as_str()),
            Entry::Range(a, b) => code.len() >= 3 && code[..3] >= **a && code[..3] <= **b,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_match_by_prefix_and_range() {
        let s = DiseaseGroup::parse("stroke").expect("stroke");
        assert_eq!(s.name, "脳卒中");
        assert!(s.matches(Some("I639")) && s.matches(Some("I60.9")) && s.matches(Some("I64")));
        assert!(!s.matches(Some("I693")) && !s.matches(Some("I65")) && !s.matches(None));
        let c = DiseaseGroup::parse("心筋梗塞等の心血管疾患").expect("by name");
        assert!(c.matches(Some("I219")) && c.matches(Some("I500")) && c.matches(Some("I710")) && !c.matches(Some("I489")));
        let u = DiseaseGroup::parse("I21, E11").expect("list");
        assert!(u.matches(Some("I214")) && u.matches(Some("E119")) && !u.matches(Some("E10")));
        assert!(DiseaseGroup::parse("all").expect("all").matches(None));
        for bad in ["", "stroek", "I64-I60", "123", "I6-"] {
            assert!(DiseaseGroup::parse(bad).is_err(), "{bad}");
        }
    }
}
