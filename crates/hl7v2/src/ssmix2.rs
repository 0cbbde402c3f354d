//! The SS-MIX2 standardized-storage naming rule, as pure string functions:
//! the file name
//! `<患者ID>_<診療日|->_<データ種別>_<オーダNo>_<発生日時17桁>_<診療科|->_<flag>`
//! and the storage path
//! `<root>/<pid[0..3]>/<pid[3..6]>/<pid>/<date|->/<datatype>/<file>`.

use std::fmt;

use crate::error::{Error, Result};

/// The condition flag, the last part of a file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConditionFlag {
    /// `0`: invalid (cancelled / deleted).
    Invalid,
    /// `1`: valid.
    Valid,
    /// `2`: past history (data migrated from an earlier system).
    Past,
}

impl ConditionFlag {
    /// The flag digit.
    pub fn as_char(self) -> char {
        match self {
            ConditionFlag::Invalid => '0',
            ConditionFlag::Valid => '1',
            ConditionFlag::Past => '2',
        }
    }
}

/// A parsed SS-MIX2 file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileName {
    /// 患者ID (patient id), at most 15 characters.
    pub patient_id: String,
    /// 診療日 `YYYYMMDD`; `None` for `-` (data not tied to a visit).
    pub visit_date: Option<String>,
    /// データ種別, such as `ADT-00`, `OMP-01`, `OMD`.
    pub data_type: String,
    /// オーダNo (order number), at most 15 characters.
    pub order_no: String,
    /// 発生日時 `yyyyMMddHHmmssfff` (17 digits).
    pub event_time: String,
    /// 診療科コード (department); `None` for `-`.
    pub department: Option<String>,
    /// The condition flag.
    pub flag: ConditionFlag,
}

fn bad(name: &str, reason: impl Into<String>) -> Error {
    Error::FileName { name: name.to_string(), reason: reason.into() }
}

fn is_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_plain(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

impl FileName {
    /// Parses a file name (not a path).
    pub fn parse(name: &str) -> Result<FileName> {
        let parts: Vec<&str> = name.split('_').collect();
        if parts.len() != 7 {
            return Err(bad(name, format!("expected 7 parts separated by '_', found {}", parts.len())));
        }
        let [pid, date, dtype, order, time, dept, flag] =
            [parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6]];
        if !is_plain(pid) || pid.len() > 15 {
            return Err(bad(name, "patient id must be 1-15 letters or digits"));
        }
        let visit_date = match date {
            "-" => None,
            d if is_digits(d, 8) => Some(d.to_string()),
            _ => return Err(bad(name, "visit date must be YYYYMMDD or '-'")),
        };
        if !is_plain(dtype) || !dtype.chars().next().is_some_and(|c| c.is_ascii_uppercase()) {
            return Err(bad(name, "data type must look like ADT-00"));
        }
        if !is_plain(order) || order.len() > 15 {
            return Err(bad(name, "order number must be 1-15 letters or digits"));
        }
        if !is_digits(time, 17) {
            return Err(bad(name, "event time must have 17 digits (yyyyMMddHHmmssfff)"));
        }
        let department = match dept {
            "-" => None,
            d if is_plain(d) && d.len() <= 3 => Some(d.to_string()),
            _ => return Err(bad(name, "department must be at most 3 letters/digits or '-'")),
        };
        let flag = match flag {
            "0" => ConditionFlag::Invalid,
            "1" => ConditionFlag::Valid,
            "2" => ConditionFlag::Past,
            _ => return Err(bad(name, "condition flag must be 0, 1 or 2")),
        };
        Ok(FileName {
            patient_id: pid.to_string(),
            visit_date,
            data_type: dtype.to_string(),
            order_no: order.to_string(),
            event_time: time.to_string(),
            department,
            flag,
        })
    }

    /// The key that identifies "the same record" across versions: later files
    /// with the same patient, visit date, data type and order number
    /// supersede earlier ones (by event time).
    pub fn record_key(&self) -> (String, String, String, String) {
        (
            self.patient_id.clone(),
            self.visit_date.clone().unwrap_or_else(|| "-".into()),
            self.data_type.clone(),
            self.order_no.clone(),
        )
    }

    /// The directory of this file under `root`, following the storage layout.
    pub fn storage_dir(&self, root: &str) -> String {
        storage_dir(root, &self.patient_id, self.visit_date.as_deref(), &self.data_type)
    }

    /// The full path of this file under `root`.
    pub fn storage_path(&self, root: &str) -> String {
        format!("{}/{}", self.storage_dir(root), self)
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}_{}_{}_{}_{}_{}_{}",
            self.patient_id,
            self.visit_date.as_deref().unwrap_or("-"),
            self.data_type,
            self.order_no,
            self.event_time,
            self.department.as_deref().unwrap_or("-"),
            self.flag.as_char()
        )
    }
}

/// The storage directory `<root>/<pid[0..3]>/<pid[3..6]>/<pid>/<date|->/<datatype>`.
///
/// Patient ids shorter than 6 characters are left-padded with zeros for the
/// two hash levels only (SS-MIX2 ids are normally longer), so the path stays
/// well-formed.
pub fn storage_dir(root: &str, patient_id: &str, visit_date: Option<&str>, data_type: &str) -> String {
    let padded: String = if patient_id.chars().count() < 6 {
        format!("{patient_id:0>6}")
    } else {
        patient_id.to_string()
    };
    let chars: Vec<char> = padded.chars().collect();
    let l1: String = chars[..3].iter().collect();
    let l2: String = chars[3..6].iter().collect();
    let root = root.trim_end_matches('/');
    format!("{root}/{l1}/{l2}/{patient_id}/{}/{data_type}", visit_date.unwrap_or("-"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parse_sample_names() {
        let f = FileName::parse("9999013_-_ADT-00_999999999999999_20111220224447339_-_1").expect("valid");
        assert_eq!(f.patient_id, "9999013");
        assert_eq!(f.visit_date, None);
        assert_eq!(f.data_type, "ADT-00");
        assert_eq!(f.department, None);
        assert_eq!(f.flag, ConditionFlag::Valid);
        assert_eq!(f.storage_path("/ss"), "/ss/999/901/9999013/-/ADT-00/9999013_-_ADT-00_999999999999999_20111220224447339_-_1");
        let g = FileName::parse("0000001_20000401_OMP-11_123456789012346_20110701113813226_01_0").expect("valid");
        assert_eq!(g.flag, ConditionFlag::Invalid);
        assert_eq!(g.visit_date.as_deref(), Some("20000401"));
        assert_eq!(g.storage_dir("root/"), "root/000/000/0000001/20000401/OMP-11");
        assert_eq!(g.record_key().3, "123456789012346");
    }

    #[test]
    fn reject_bad_names() {
        for n in [
            "",
            "9999013_-_ADT-00_999_2011_-_1",
            "9999013_2011_ADT-00_999_20111220224447339_-_1",
            "9999013_-_ADT-00_999_20111220224447339_-_3",
            "9999013_-_ADT-00_999_20111220224447339_1234_1",
            "a/b_-_ADT-00_999_20111220224447339_-_1",
            "9999013_-_ADT-00_999_20111220224447339_-_1_x",
        ] {
            assert!(FileName::parse(n).is_err(), "{n}");
        }
    }

    #[test]
    fn short_patient_id_layout() {
        assert_eq!(storage_dir("r", "42", None, "PPR-01"), "r/000/042/42/-/PPR-01");
    }

    proptest! {
        #[test]
        fn format_parse_round_trip(
            pid in "[0-9A-Z]{1,15}",
            date in prop::option::of("[0-9]{8}"),
            dtype in "[A-Z]{3}(-[0-9]{2})?",
            order in "[0-9]{1,15}",
            time in "[0-9]{17}",
            dept in prop::option::of("[0-9A-Z]{1,3}"),
            flag in prop_oneof![Just(ConditionFlag::Invalid), Just(ConditionFlag::Valid), Just(ConditionFlag::Past)],
        ) {
            let f = FileName { patient_id: pid, visit_date: date, data_type: dtype, order_no: order, event_time: time, department: dept, flag };
            prop_assert_eq!(FileName::parse(&f.to_string()), Ok(f));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,80}") {
            let _ = FileName::parse(&s);
        }
    }
}
