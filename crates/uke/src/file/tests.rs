//! Tests of UKE parsing and writing against the vendored receiptisan sample
//! and generated files.

use super::*;
use proptest::prelude::*;

const SAMPLE: &[u8] = include_bytes!("../../test_data/RECEIPTC_GAIRAI_SAMPLE.UKE");

#[test]
fn sample_structure() {
    let (f, issues) = UkeFile::parse(SAMPLE);
    assert_eq!(f.records().len(), 636);
    assert!(issues.is_empty(), "{issues:?}");
    let ir = f.ir().expect("IR");
    assert_eq!((ir.payer(), ir.prefecture(), ir.point_table(), ir.facility_code()), ("1", "12", "1", "0000000"));
    assert_eq!(ir.facility_code10(), "12" .to_string() + "1" + "0000000");
    assert_eq!(ir.billing_month(), "202111");
    let claims = f.claims();
    assert_eq!(claims.len(), 75);
    let first = claims[0];
    let re = first.re();
    assert_eq!((re.receipt_no(), re.receipt_type(), re.care_month()), ("1", "1122", "202110"));
    assert_eq!(re.name(), "テスト　汎用");
    assert_eq!(re.kana_name(), "テストハンヨウ");
    assert_eq!(re.birth_date(), "19911121");
    assert_eq!(re.chart_no(), "00697");
    let ho: Vec<_> = first.insurers().collect();
    assert_eq!((ho[0].insurer_no(), ho[0].card_symbol(), ho[0].card_number(), ho[0].points()), ("01010016", "１", "１", "13642"));
    let ko: Vec<_> = first.public_payers().collect();
    assert_eq!((ko[0].payer_no(), ko[0].recipient_no(), ko[0].points()), ("83136019", "1111111", "677"));
    let sy: Vec<_> = first.diagnoses().collect();
    assert_eq!(sy.len(), 3);
    assert_eq!((sy[0].code(), sy[0].main(), sy[0].is_uncoded()), ("2500013", "01", false));
    assert!(sy[2].is_uncoded());
    assert!(sy[2].name().starts_with("寿限無"));
    let lines = first.lines();
    let (l0, cat0, _) = &lines[0];
    assert_eq!((l0.code(), l0.points(), l0.count(), *cat0), ("111000110", "288", "1", "11"));
    assert_eq!(l0.days(), vec![(1, "1")]);
    // The first IY line has no 診療識別; it continues the previous category,
    // and carries the CO comment that follows it.
    let (iy, cat, comments) = lines.iter().find(|(l, _, _)| l.record().kind() == RecordKind::Iy).expect("IY");
    assert_eq!((iy.code(), iy.care_category(), *cat), ("620098801", "", "12"));
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0].text(), "手術前内服");
    let go = f.records().last().expect("GO").as_go().expect("GO view");
    assert_eq!((go.claim_count(), go.total_points()), ("140", "86392"));
}

#[test]
fn sample_writes_back_byte_identical() {
    let (f, _) = UkeFile::parse(SAMPLE);
    assert_eq!(f.to_bytes().expect("writes"), SAMPLE);
    // Only records whose text cannot reproduce their bytes keep them.
    assert!(f.records().iter().filter(|r| r.keeps_raw_bytes()).count() < 3);
}

#[test]
fn modified_record_is_written_from_fields() {
    let (mut f, _) = UkeFile::parse(b"IR,1,13,1,1234567,,X,202110,00,03\r\nGO,0,0,99\r\n");
    let mut r = f.records()[0].clone();
    r.set(6, "病院");
    f = UkeFile::from_records(vec![r, f.records()[1].clone()]);
    let out = f.to_bytes().expect("writes");
    assert_eq!(out, b"IR,1,13,1,1234567,,\x95\x61\x89\x40,202110,00,03\r\nGO,0,0,99\r\n");
}

#[test]
fn invalid_bytes_are_reported_and_preserved() {
    let raw = b"RE,1,1112,202110,\x82\xa0\xff\x81,1\r\nXX,1\nSY,1";
    let (f, issues) = UkeFile::parse(raw);
    assert_eq!(f.records().len(), 3);
    assert!(issues.iter().any(|i| i.is_error && i.line == 1 && i.field == Some(4)), "{issues:?}");
    assert!(issues.iter().any(|i| i.line == 2 && i.message.contains("unknown record")), "{issues:?}");
    assert!(issues.iter().any(|i| i.line == 2 && i.message.contains("CRLF")), "{issues:?}");
    assert!(f.records()[0].field(4).contains('\u{fffd}'));
    assert_eq!(f.to_bytes().expect("writes"), raw);
}

#[test]
fn eof_marker_is_kept() {
    let raw = b"GO,0,0,99\r\n\x1a";
    let (f, issues) = UkeFile::parse(raw);
    assert!(issues.is_empty());
    assert_eq!(f.records().len(), 1);
    assert_eq!(f.to_bytes().expect("writes"), raw);
}

#[test]
fn writer_rejects_what_it_cannot_write() {
    let f = UkeFile::from_records(vec![Record::new(["CO", "99", "1", "810000001", "a,b"])]);
    assert!(matches!(f.to_bytes(), Err(Error::Delimiter { record: 1, field: 4 })));
    let f = UkeFile::from_records(vec![Record::new(["CO", "99", "1", "810000001", "🙂"])]);
    assert!(matches!(f.to_bytes(), Err(Error::Unencodable { ch: '🙂', record: 1, field: 4 })));
}

fn field() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[0-9A-Za-z 　テスト汎用病院ｱｲｳ１２３－ー]{0,6}").expect("regex")
}

fn record() -> impl Strategy<Value = Record> {
    (
        prop_oneof![Just("IR"), Just("RE"), Just("HO"), Just("KO"), Just("SY"), Just("SI"), Just("IY"), Just("TO"), Just("CO"), Just("GO")],
        prop::collection::vec(field(), 0..45),
    )
        .prop_map(|(id, rest)| Record::new(std::iter::once(id.to_string()).chain(rest)))
}

proptest! {
    #[test]
    fn write_parse_round_trip(records in prop::collection::vec(record(), 0..20)) {
        let f = UkeFile::from_records(records);
        let bytes = f.to_bytes().expect("every generated character is in CP932");
        let (back, issues) = UkeFile::parse(&bytes);
        prop_assert!(issues.is_empty(), "{:?}", issues);
        prop_assert_eq!(back.records(), f.records());
        prop_assert_eq!(back.to_bytes().expect("writes"), bytes);
    }

    #[test]
    fn parse_write_is_identity(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let (f, _) = UkeFile::parse(&bytes);
        prop_assert_eq!(f.to_bytes().expect("parsed files always write"), bytes);
    }
}

/// Mutated copies of the sample (fixed-seed PRNG): parsing never panics and
/// always writes back the exact input.
#[test]
fn mutated_samples_round_trip() {
    let mut rng = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for _ in 0..2_000 {
        let start = (next() as usize) % SAMPLE.len();
        let len = (next() as usize) % 3000;
        let mut b = SAMPLE[start..(start + len).min(SAMPLE.len())].to_vec();
        for _ in 0..(1 + next() % 8) {
            let pos = (next() as usize) % (b.len() + 1);
            match next() % 3 {
                0 if pos < b.len() => b[pos] ^= 1 << (next() % 8),
                1 => b.insert(pos, (next() % 256) as u8),
                _ if pos < b.len() => {
                    b.remove(pos);
                }
                _ => {}
            }
        }
        let (f, _) = UkeFile::parse(&b);
        let _ = f.claims().iter().map(|c| c.lines().len()).sum::<usize>();
        assert_eq!(f.to_bytes().expect("parsed files always write"), b);
    }
}
