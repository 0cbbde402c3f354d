//! Tests of parsing, accessors and writing, against the vendored SS-MIX2
//! samples and generated messages.

use super::*;
use crate::error::{Error, Severity};
use crate::view::{Decoded, MessageRef};
use proptest::prelude::*;

const ADT00: &[u8] = include_bytes!("../../test_data/9999013_-_ADT-00_999999999999999_20111220224447339_-_1");
const OML11: &[u8] = include_bytes!("../../test_data/9999013_20111220_OML-11_000000011000354_20111220103059000_01_1");

fn parse_ok(bytes: &[u8]) -> Message {
    let (m, issues) = Message::parse(bytes).expect("parses");
    assert!(issues.is_empty(), "unexpected issues: {issues:?}");
    m
}

#[test]
fn adt00_sample() {
    let m = parse_ok(ADT00);
    assert_eq!(m.charset(), Charset::Iso2022Jp);
    assert_eq!(m.message_type(), ("ADT", "A08"));
    assert_eq!(m.control_id(), "20111220000001");
    assert_eq!(m.msh().field(2).as_str(), "^~\\&");
    let pid = m.segment("PID").expect("PID");
    assert_eq!(pid.field(3).as_str(), "9999013");
    let names = pid.field(5);
    assert_eq!(names.repetitions().len(), 2);
    assert_eq!(names.component(1).as_str(), "患者");
    assert_eq!(names.component(2).as_str(), "太郎");
    assert_eq!(names.repetition(2).component(1).as_str(), "カンジャ");
    assert_eq!(names.repetition(2).component(8).as_str(), "P");
    assert_eq!(pid.field(11).component(8).as_str(), "静岡県静岡市登呂１－３－５");
    assert_eq!(pid.field(13).repetition(2).component(2).as_str(), "EMR");
    let obx: Vec<_> = m.segments("OBX").collect();
    assert_eq!(obx.len(), 3);
    assert_eq!(obx[1].field(3).component(2).as_str(), "体重");
    assert_eq!(obx[1].field(5).as_str(), "63.5");
    assert_eq!(m.segments("AL1").count(), 1);
    assert_eq!(pid.field(99).component(3).subcomponent(2), "");
}

#[test]
fn sample_rewrites_identically() {
    for bytes in [ADT00, OML11] {
        let m = parse_ok(bytes);
        let out = m.encode().expect("encodes");
        let (m2, issues) = Message::parse(&out).expect("reparses");
        assert!(issues.is_empty());
        assert_eq!(m, m2);
        // Same text as the original, apart from encoder-chosen escape placement.
        // The sample files end with an MLLP end-of-block byte (0x1C), which is framing, not content.
        let original = Charset::Iso2022Jp.decode(bytes).0;
        assert_eq!(m.to_hl7_string(), original.trim_end_matches('\u{1c}'));
    }
}

#[test]
fn tolerates_lf_and_crlf() {
    let m = parse_ok(b"MSH|^~\\&|A\r\nPID|1||42\nOBX|1\r\n");
    assert_eq!(m.all_segments().len(), 3);
    assert_eq!(m.segment("PID").expect("pid").field(3).as_str(), "42");
}

/// Found by the `hl7v2_parse` fuzz target: a line of bare separators used to
/// survive parsing and write back as an empty line, which the next parse dropped.
#[test]
fn bare_separator_line_is_dropped_and_writing_is_stable() {
    let (m, issues) = Message::parse(b"MSH|^~\\&|A\r|||\rPID|1\r").expect("parses");
    assert_eq!(m.all_segments().len(), 2);
    assert!(issues.iter().any(|i| i.message.contains("ignored") && i.segment_index == Some(2)), "{issues:?}");
    let text = m.to_hl7_string();
    assert_eq!(Message::parse_str(&text).expect("parses").0.to_hl7_string(), text);
}

#[test]
fn escapes_are_decoded_in_leaves() {
    let m = parse_ok(b"MSH|^~\\&|A\rNTE|1||a\\S\\b^c\\T\\d&e\\F\\\r");
    let f = m.segment("NTE").expect("nte").field(3);
    assert_eq!(f.component(1).as_str(), "a^b");
    assert_eq!(f.component(2).subcomponent(1), "c&d");
    assert_eq!(f.component(2).subcomponent(2), "e|");
    assert_eq!(m.to_hl7_string(), "MSH|^~\\&|A\rNTE|1||a\\S\\b^c\\T\\d&e\\F\\\r");
}

#[test]
fn custom_delimiters() {
    let m = parse_ok(b"MSH#*@!%#A\rPID#1##X*Y@Z%W");
    let f = m.segment("PID").expect("pid").field(3);
    assert_eq!(f.component(2).as_str(), "Y");
    assert_eq!(f.repetition(2).component(1).subcomponent(2), "W");
}

#[test]
fn fatal_errors() {
    assert_eq!(Message::parse(b""), Err(Error::Empty));
    assert_eq!(Message::parse(b"\r\n  \r"), Err(Error::Empty));
    assert!(matches!(Message::parse(b"PID|1"), Err(Error::NoMsh { .. })));
    assert!(matches!(Message::parse(b"MSH"), Err(Error::BadDelimiters { .. })));
    assert!(matches!(Message::parse(b"MSH|^^"), Err(Error::BadDelimiters { .. })));
}

#[test]
fn issues_carry_positions() {
    let (m, issues) = Message::parse(b"MSH|^~\\&|A\rPID|1||a\\Q\\b\rbad|x\r").expect("parses");
    assert_eq!(m.all_segments().len(), 3);
    assert_eq!(issues.len(), 2, "{issues:?}");
    assert_eq!((issues[0].segment_index, issues[0].segment.as_deref(), issues[0].field), (Some(2), Some("PID"), Some(3)));
    assert_eq!(issues[0].location(), "PID[2]-3");
    assert_eq!(issues[1].segment.as_deref(), Some("bad"));
}

#[test]
fn wrong_declared_encoding_is_reported_and_recovered() {
    // Declares ISO-2022-JP but carries UTF-8 kanji.
    let raw = "MSH|^~\\&|A|||||||||||||||~ISO IR87\rPID|1||1||患者^太郎\r".as_bytes();
    let (m, issues) = Message::parse(raw).expect("parses");
    assert_eq!(m.charset(), Charset::Utf8);
    assert_eq!(issues.len(), 1);
    assert!(issues[0].message.contains("declares ISO-2022-JP"), "{}", issues[0]);
    assert_eq!(m.segment("PID").expect("pid").field(5).component(1).as_str(), "患者");
}

#[test]
fn shift_jis_declared() {
    let mut m = Message::new(Charset::ShiftJis);
    m.push(Segment::new("PID").with(5, Field::from_texts(["表示", "ソ"])));
    let bytes = m.encode().expect("encodes");
    // 表 in Shift_JIS ends in 0x5C, the escape character.
    assert!(bytes.windows(2).any(|w| w == [0x95, 0x5c]));
    let m2 = parse_ok(&bytes);
    assert_eq!(m2.charset(), Charset::ShiftJis);
    assert_eq!(m2.segment("PID").expect("pid").field(5).component(1).as_str(), "表示");
}

#[test]
fn undecodable_bytes_are_an_error_issue() {
    let raw = b"MSH|^~\\&|A|||||||||||||||UNICODE UTF-8\rPID|1||\xff\xfe\r";
    let (m, issues) = Message::parse(raw).expect("parses");
    assert!(issues.iter().any(|i| i.severity == Severity::Error), "{issues:?}");
    assert!(m.segment("PID").expect("pid").field(3).as_str().contains('\u{fffd}'));
}

#[test]
fn builder_writes_ss_mix2_message() {
    let mut m = Message::new(Charset::Iso2022Jp);
    m.msh_mut().set(9, Field::from_texts(["ADT", "A08", "ADT_A01"])).set(10, "1").set(12, "2.5");
    m.push(
        Segment::new("PID")
            .with(3, "9999013")
            .with(
                5,
                Field::from_repetitions(vec![
                    Repetition::from_texts(["患者", "太郎", "", "", "", "", "L", "I"]),
                    Repetition::from_texts(["カンジャ", "タロウ", "", "", "", "", "L", "P"]),
                ]),
            )
            .with(11, "A|B^C"),
    );
    let text = m.to_hl7_string();
    assert_eq!(
        text,
        "MSH|^~\\&|||||||ADT^A08^ADT_A01|1||2.5||||||~ISO IR87||ISO 2022-1994\r\
         PID|||9999013||患者^太郎^^^^^L^I~カンジャ^タロウ^^^^^L^P||||||A\\F\\B\\S\\C\r"
    );
    let bytes = m.encode().expect("encodes");
    assert!(bytes.is_ascii(), "ISO-2022-JP is 7-bit");
    let back = parse_ok(&bytes);
    assert_eq!(back, m);
    assert_eq!(back.segment("PID").expect("pid").field(11).as_str(), "A|B^C");
}

#[test]
fn unencodable_text_is_rejected() {
    let mut m = Message::new(Charset::Iso2022Jp);
    m.push(Segment::new("NTE").with(3, "🙂"));
    assert!(matches!(m.encode(), Err(Error::Unencodable { ch: '🙂', .. })));
}

fn leaf() -> impl Strategy<Value = String> {
    // ASCII (including every delimiter) and JIS X 0208 characters.
    proptest::string::string_regex("[ -~患者太郎カンジャタロウ血清総蛋白１－３ー\r\n]{1,8}").expect("regex")
}

fn field() -> impl Strategy<Value = Field> {
    prop::collection::vec(
        prop::collection::vec(prop::collection::vec(leaf(), 1..3), 1..4),
        1..3,
    )
    .prop_map(|reps| {
        Field::from_repetitions(
            reps.into_iter()
                .map(|comps| Repetition::from_components(comps.into_iter().map(Component::from_subcomponents).collect()))
                .collect(),
        )
    })
}

fn segment() -> impl Strategy<Value = Segment> {
    ("[A-Z][A-Z0-9]{2}", prop::collection::vec(field(), 1..6)).prop_filter_map("not a header", |(name, fields)| {
        if matches!(name.as_str(), "MSH" | "FHS" | "BHS") {
            return None;
        }
        let mut s = Segment::new(name);
        for (i, f) in fields.into_iter().enumerate() {
            s.set(i + 1, f);
        }
        Some(s)
    })
}

proptest! {
    #[test]
    fn write_parse_round_trip(segs in prop::collection::vec(segment(), 0..6), cs in prop_oneof![Just(Charset::Iso2022Jp), Just(Charset::Utf8), Just(Charset::ShiftJis)]) {
        let mut m = Message::new(cs);
        m.msh_mut().set(9, Field::from_texts(["ADT", "A08"]));
        for s in segs {
            m.push(s);
        }
        let bytes = m.encode().expect("every generated character is encodable");
        let (back, issues) = Message::parse(&bytes).expect("parses");
        prop_assert!(issues.is_empty(), "{:?}", issues);
        prop_assert_eq!(back, m);
    }

    #[test]
    fn parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Message::parse(&bytes);
    }

    #[test]
    fn parse_never_panics_after_msh(tail in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut bytes = b"MSH|^~\\&|A|||||||||||||||~ISO IR87\r".to_vec();
        bytes.extend(tail);
        let _ = Message::parse(&bytes);
    }
}

/// Many thousands of mutated samples (bit flips, byte insertions and
/// deletions, truncations) from a fixed-seed PRNG: parsing must never panic
/// and re-encoding a parsed message must not panic either.
#[test]
fn mutated_samples_never_panic() {
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut parsed = 0;
    for i in 0..20_000 {
        let base = if i % 2 == 0 { ADT00 } else { OML11 };
        let mut b = base.to_vec();
        for _ in 0..(1 + next() % 8) {
            let pos = (next() as usize) % (b.len() + 1);
            match next() % 4 {
                0 if pos < b.len() => b[pos] ^= 1 << (next() % 8),
                1 => b.insert(pos, (next() % 256) as u8),
                2 if pos < b.len() => {
                    b.remove(pos);
                }
                _ => b.truncate(pos),
            }
        }
        if let Ok((m, _)) = Message::parse(&b) {
            parsed += 1;
            if i % 16 == 0 {
                let decoded = Decoded::new(&b);
                let (view, _) = decoded.parse().expect("parses as the owned tree did");
                assert_view_matches(&view, &m);
            }
            let _ = m.encode();
            let _ = m.to_hl7_string();
        }
    }
    assert!(parsed > 1_000, "most mutants still start with MSH: {parsed}");
}

/// Every accessor of the borrowed tree gives what the owned tree gives,
/// including past the end (empty values).
fn assert_view_matches(view: &MessageRef<'_>, m: &Message) {
    assert_eq!(view.len(), m.all_segments().len());
    assert_eq!(view.charset(), m.charset());
    assert_eq!(view.message_type(), m.message_type());
    assert_eq!(view.control_id(), m.control_id());
    for (sv, so) in view.all_segments().zip(m.all_segments()) {
        assert_eq!(sv.name(), so.name());
        assert_eq!(sv.field_count(), so.fields().len());
        for n in 0..=so.fields().len() + 1 {
            let (fv, fo) = (sv.field(n), so.field(n));
            assert_eq!(fv.repetitions().len(), fo.repetitions().len());
            assert_eq!(fv.as_str(), fo.as_str());
            assert_eq!(fv.is_empty(), fo.is_empty());
            assert_eq!(fv.to_field(), *fo);
            for r in 0..=fo.repetitions().len() + 1 {
                let (rv, ro) = (fv.repetition(r), fo.repetition(r));
                assert_eq!(rv.components().len(), ro.components().len());
                for c in 0..=ro.components().len() + 1 {
                    let (cv, co) = (rv.component(c), ro.component(c));
                    assert_eq!(cv.subcomponents().collect::<Vec<_>>(), co.subcomponents().iter().map(String::as_str).collect::<Vec<_>>());
                    for k in 0..=co.subcomponents().len() + 1 {
                        assert_eq!(cv.subcomponent(k), co.subcomponent(k));
                    }
                }
            }
        }
    }
    assert_eq!(view.to_message(), *m);
}

#[test]
fn view_matches_owned_tree_on_samples() {
    for bytes in [ADT00, OML11, b"MSH#*@!%#A\rPID#1##X*Y@Z%W".as_slice(), b"MSH|^~\\&|A\rNTE|1||a\\S\\b^c\\T\\d&e\\F\\\r".as_slice()] {
        let (m, _) = Message::parse(bytes).expect("parses");
        let decoded = Decoded::new(bytes);
        let (view, _) = decoded.parse().expect("parses");
        assert_view_matches(&view, &m);
    }
    let d = Decoded::new(ADT00);
    let (view, _) = d.parse().expect("parses");
    let pid = view.segment("PID").expect("PID");
    assert_eq!(pid.field(5).repetition(2).component(1).as_str(), "カンジャ");
    assert_eq!(pid.position(), 2);
}
