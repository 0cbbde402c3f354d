//! SS-MIX2 and UKE outputs of a small run: storage paths follow the naming
//! rule, every HL7 message parses (ISO-2022-JP) with the right message type,
//! every UKE file parses with IR first, GO last and consistent totals.

mod common;

use std::collections::HashMap;

#[test]
fn ssmix2_tree_follows_the_naming_rule_and_messages_parse() {
    let (dir, s) = common::generate("formats", 150, 11, "ssmix2,uke", 64);
    assert!(s.ssmix2_files > 50, "{s:?}");
    let root = dir.join("ssmix2");
    let files = common::all_files(&root);
    assert_eq!(files.len() as u64, s.ssmix2_files);
    let expected: HashMap<&str, (&str, &str)> = [
        ("ADT-00", ("ADT", "A08")),
        ("ADT-22", ("ADT", "A01")),
        ("ADT-52", ("ADT", "A03")),
        ("PPR-01", ("PPR", "ZD1")),
        ("OMP-01", ("RDE", "O11")),
        ("OML-11", ("OUL", "R22")),
    ]
    .into_iter()
    .collect();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (rel, bytes) in &files {
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts.len(), 7, "{rel}");
        let (fac, l1, l2, pid, date, dtype, name) = (parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6]);
        assert_eq!(fac.len(), 10, "{rel}");
        let f = hl7v2::ssmix2::FileName::parse(name).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(f.patient_id, pid);
        assert_eq!((l1, l2), (&pid[0..3], &pid[3..6]));
        assert_eq!(f.visit_date.as_deref().unwrap_or("-"), date);
        assert_eq!(f.data_type, dtype);
        assert_eq!(f.storage_path(fac), *rel);
        assert_eq!(date == "-", dtype == "ADT-00", "{rel}");
        // ISO-2022-JP: 7-bit bytes only, with JIS escapes for Japanese.
        assert!(bytes.iter().all(|b| *b < 0x80), "{rel} is not 7-bit");
        let (msg, issues) = hl7v2::Message::parse(bytes).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert!(issues.iter().all(|i| i.severity != hl7v2::error::Severity::Error), "{rel}: {issues:?}");
        assert_eq!(msg.charset(), hl7v2::Charset::Iso2022Jp);
        assert_eq!(msg.message_type(), *expected.get(dtype).unwrap_or_else(|| panic!("unexpected {dtype}")));
        let pidseg = msg.segment("PID").expect("PID");
        assert_eq!(pidseg.field(3).as_str(), pid);
        let kana = pidseg.field(5).repetition(2).component(1).as_str().to_string();
        assert!(kana.chars().all(|c| ('\u{30A0}'..='\u{30FF}').contains(&c)), "{kana}");
        if dtype == "OML-11" {
            let obx: Vec<_> = msg.segments("OBX").collect();
            assert!(!obx.is_empty());
            for o in obx {
                assert_eq!(o.field(3).component(3).as_str(), "JC10");
                assert_eq!(o.field(3).component(1).as_str().len(), 17);
                assert!(o.field(5).as_str().parse::<f64>().is_ok());
            }
        }
        *seen.entry(dtype.to_string()).or_default() += 1;
    }
    for t in expected.keys() {
        assert!(seen.contains_key(*t), "no {t} messages in {seen:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn uke_files_parse_with_consistent_totals() {
    let (dir, s) = common::generate("uke", 150, 12, "uke", 64);
    assert!(s.uke_files > 20, "{s:?}");
    let files = common::all_files(&dir.join("uke"));
    assert_eq!(files.len() as u64, s.uke_files);
    let mut claims = 0;
    for (rel, bytes) in &files {
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts.len(), 4, "{rel}");
        assert!(parts[2] == "shaho" || parts[2] == "kokuho");
        assert_eq!(parts[3], "RECEIPTC.UKE");
        assert!(bytes.ends_with(b"\r\n"));
        let (file, issues) = uke::UkeFile::parse(bytes);
        assert!(issues.is_empty(), "{rel}: {issues:?}");
        let recs = file.records();
        let ir = recs[0].as_ir().unwrap_or_else(|| panic!("{rel}: first record is not IR"));
        assert_eq!(ir.facility_code10(), parts[0]);
        assert_eq!(ir.record().field(1), if parts[2] == "shaho" { "1" } else { "2" });
        let go = recs.last().and_then(|r| r.as_go()).unwrap_or_else(|| panic!("{rel}: last record is not GO"));
        let cs = file.claims();
        assert_eq!(go.record().field(1), cs.len().to_string());
        let mut total = 0u64;
        for (i, c) in cs.iter().enumerate() {
            let re = c.re();
            assert_eq!(re.receipt_no(), (i + 1).to_string());
            assert_eq!(re.care_month(), parts[1]);
            let ho: Vec<_> = c.insurers().collect();
            assert_eq!(ho.len(), 1);
            let pts: u64 = ho[0].record().field(5).parse().expect("HO points");
            // The HO total equals the sum of the SI/IY lines (points × count).
            let lines: u64 = c
                .records()
                .iter()
                .filter(|r| matches!(r.id(), "SI" | "IY"))
                .map(|r| r.field(5).parse::<u64>().expect("points") * r.field(6).parse::<u64>().expect("count"))
                .sum();
            assert_eq!(pts, lines, "{rel} claim {}", i + 1);
            assert!(c.diagnoses().count() >= 1, "{rel}: claim without SY");
            total += pts;
        }
        assert_eq!(go.record().field(2), total.to_string());
        claims += cs.len();
    }
    assert!(claims > 100);
    let _ = std::fs::remove_dir_all(&dir);
}
