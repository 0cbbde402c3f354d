//! HL7 v2 data types → FHIR data types: DTM → dateTime/date, CWE →
//! CodeableConcept, XPN → HumanName (kanji / kana representation), XAD →
//! Address, XTN → ContactPoint, XCN → Reference, NM + CWE unit → Quantity.
//! Also [`prune`], which removes empty values from built JSON.

use hl7v2::{ComponentRef, FieldRef, RepetitionRef};
use serde_json::{Value, json};

use crate::jp;

/// Removes nulls, empty strings, empty arrays and empty objects, recursively.
pub fn prune(mut v: Value) -> Value {
    prune_in_place(&mut v);
    v
}

/// [`prune`] without rebuilding the maps and arrays (order is kept).
pub fn prune_in_place(v: &mut Value) {
    match v {
        Value::Object(m) => m.retain(|_, v| {
            prune_in_place(v);
            !is_empty(v)
        }),
        Value::Array(a) => a.retain_mut(|v| {
            prune_in_place(v);
            !is_empty(v)
        }),
        _ => {}
    }
}

/// The UCUM code of a duration unit as HL7 v2 messages write it: UCUM
/// itself (`d`, `wk`, `mo`, `a`, `h`, `min`, `s`) or the upper-case ANSI/HL7
/// abbreviations (`D`, `W`/`WK`, `MO`/`L`, `Y`/`A`, `H`/`HR`, `M`/`MIN`, `S`).
/// UCUM is case-sensitive: `D` is not a day.
pub fn ucum_time_unit(unit: &str) -> Option<&'static str> {
    Some(match unit {
        "s" | "S" | "SEC" => "s",
        "min" | "M" | "MIN" => "min",
        "h" | "H" | "HR" => "h",
        "d" | "D" | "DAY" => "d",
        "wk" | "W" | "WK" => "wk",
        "mo" | "L" | "MO" => "mo",
        "a" | "Y" | "A" | "YR" => "a",
        _ => return None,
    })
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// An HL7 DTM (`YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]`) as a FHIR dateTime.
/// Times without a zone are taken as Japan time (+09:00), the zone of
/// SS-MIX2 storages; an hour without minutes gets `:00`.
pub fn datetime(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let (body, tz) = match s.find(['+', '-']) {
        Some(i) if i >= 4 => (&s[..i], Some(&s[i..])),
        _ => (s, None),
    };
    let (main, frac) = match body.find('.') {
        Some(i) => (&body[..i], Some(&body[i + 1..])),
        None => (body, None),
    };
    if !main.bytes().all(|b| b.is_ascii_digit()) || !matches!(main.len(), 4 | 6 | 8 | 10 | 12 | 14) {
        return None;
    }
    if let Some(f) = frac
        && (f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) || main.len() != 14) {
            return None;
        }
    let zone: [&str; 3] = match tz {
        None => ["+09", ":", "00"],
        Some(z) if z.len() == 5 && z[1..].bytes().all(|b| b.is_ascii_digit()) => [&z[..3], ":", &z[3..]],
        Some(_) => return None,
    };
    // Built by pushing the parts (this runs for every date of every message).
    let mut out = String::with_capacity(32);
    let n = main.len();
    out.push_str(&main[..4]);
    for (from, to) in [(4, 6), (6, 8)] {
        if n >= to {
            out.push('-');
            out.push_str(&main[from..to]);
        }
    }
    if n >= 10 {
        let hh = &main[8..10];
        let mm = if n >= 12 { &main[10..12] } else { "00" };
        let ss = if n >= 14 { &main[12..14] } else { "00" };
        for part in ["T", hh, ":", mm, ":", ss] {
            out.push_str(part);
        }
        if let Some(f) = frac {
            out.push('.');
            out.push_str(f);
        }
        zone.iter().for_each(|z| out.push_str(z));
    }
    fhir::validate::is_datetime(&out).then_some(out)
}

/// The date part of an HL7 DTM/DT as a FHIR date (`YYYY`, `YYYY-MM`, `YYYY-MM-DD`).
pub fn date(s: &str) -> Option<String> {
    let s = s.trim();
    let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
    let d = match digits.len() {
        4 => digits,
        6 => format!("{}-{}", &digits[..4], &digits[4..6]),
        n if n >= 8 => format!("{}-{}-{}", &digits[..4], &digits[4..6], &digits[6..8]),
        _ => return None,
    };
    fhir::validate::is_date(&d).then_some(d)
}

/// A dateTime that is also a valid instant (full seconds and zone), if possible.
pub fn instant(s: &str) -> Option<String> {
    datetime(s).filter(|d| fhir::validate::is_instant(d))
}

fn coding_from(code: &str, display: &str, tag: &str) -> Option<Value> {
    if code.is_empty() && display.is_empty() {
        return None;
    }
    if code.is_empty() {
        return None;
    }
    Some(json!({
        "system": if tag.is_empty() { Value::Null } else { Value::String(jp::system_for_tag(tag)) },
        "code": code,
        "display": display,
    }))
}

/// A CodeableConcept from a CWE/CE held in one repetition (components
/// 1–3 and the alternate triplet 4–6; component 9 is the original text).
pub fn codeable(rep: RepetitionRef<'_>) -> Option<Value> {
    let c = |n: usize| rep.component(n).as_str();
    codeable_parts(&[(c(1), c(2), c(3)), (c(4), c(5), c(6))], c(9))
}

/// A CodeableConcept from a CWE held in the subcomponents of one component
/// (as in TQ1-3 or RXE-19's unit).
pub fn codeable_sub(comp: ComponentRef<'_>) -> Option<Value> {
    let s = |n: usize| comp.subcomponent(n);
    codeable_parts(&[(s(1), s(2), s(3)), (s(4), s(5), s(6))], "")
}

/// A CodeableConcept from (code, display, coding-system tag) triplets and an
/// original text (the first display when empty).
pub(crate) fn codeable_parts(triplets: &[(&str, &str, &str)], original: &str) -> Option<Value> {
    let codings: Vec<Value> = triplets.iter().filter_map(|(c, d, t)| coding_from(c, d, t)).collect();
    let text = if !original.is_empty() {
        original.to_string()
    } else {
        triplets.iter().map(|t| t.1).find(|d| !d.is_empty()).unwrap_or("").to_string()
    };
    if codings.is_empty() && text.is_empty() {
        return None;
    }
    Some(prune(json!({ "coding": codings, "text": text })))
}

/// A CodeableConcept for every repetition of a CWE field.
pub fn codeables(f: FieldRef<'_>) -> Vec<Value> {
    f.repetitions().filter_map(codeable).collect()
}

/// XPN → HumanName. Component 8 (name representation) tells kanji (`I`,
/// ideographic) from kana (`P`, phonetic) and alphabetic (`A`); JP Core
/// carries it in the iso21090-EN-representation extension.
pub fn human_name(rep: RepetitionRef<'_>) -> Option<Value> {
    let c = |n: usize| rep.component(n).as_str();
    let family = c(1);
    let given: Vec<&str> = [c(2), c(3)].into_iter().filter(|s| !s.is_empty()).collect();
    if family.is_empty() && given.is_empty() {
        return None;
    }
    let representation = match c(8) {
        "I" => "IDE",
        "P" => "SYL",
        "A" => "ABC",
        _ => "",
    };
    let use_ = match c(7) {
        "L" => "official",
        "D" | "U" => "usual",
        "A" => "nickname",
        "M" => "maiden",
        _ => "",
    };
    let text = std::iter::once(family).chain(given.iter().copied()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join("\u{3000}");
    Some(prune(json!({
        "extension": if representation.is_empty() { json!([]) } else {
            json!([{ "url": jp::EXT_NAME_REPRESENTATION, "valueCode": representation }])
        },
        "use": use_,
        "text": text,
        "family": family,
        "given": given,
        "prefix": [c(5)],
        "suffix": [c(4)],
    })))
}

/// XAD → Address. SS-MIX2 puts the whole address text in component 8 when
/// it is not split into parts.
pub fn address(rep: RepetitionRef<'_>) -> Option<Value> {
    let c = |n: usize| rep.component(n).as_str();
    let use_ = match c(7) {
        "H" => "home",
        "B" | "O" => "work",
        "C" => "temp",
        _ => "",
    };
    let a = prune(json!({
        "use": use_,
        "text": c(8),
        "line": [c(1), c(2)],
        "city": c(3),
        "state": c(4),
        "postalCode": c(5),
        "country": c(6),
    }));
    let has_content = a.as_object().is_some_and(|m| m.keys().any(|k| k != "use" && k != "country"));
    has_content.then_some(a)
}

/// XTN → ContactPoint (JAMI table 0201 map: PRN→home, WPN→work, PRS→mobile).
pub fn telecom(rep: RepetitionRef<'_>, default_use: &str) -> Option<Value> {
    let c = |n: usize| rep.component(n).as_str();
    let value = [c(12), c(1), c(4)].into_iter().find(|s| !s.is_empty())?;
    let system = match c(3) {
        "FX" => "fax",
        "Internet" | "X.400" => "email",
        "BP" => "pager",
        _ if !c(4).is_empty() && value == c(4) => "email",
        _ => "phone",
    };
    let use_ = match c(2) {
        "PRN" => "home",
        "WPN" => "work",
        "PRS" => "mobile",
        "" => default_use,
        _ => "",
    };
    Some(prune(json!({ "system": system, "value": value, "use": use_ })))
}

/// XCN (a person such as a doctor) → a Reference by identifier and display.
/// Practitioner resources are not created; the id and name are kept here.
pub fn person_ref(rep: RepetitionRef<'_>) -> Option<Value> {
    let c = |n: usize| rep.component(n).as_str();
    let name = [c(2), c(3)].into_iter().filter(|s| !s.is_empty()).collect::<Vec<_>>().join("\u{3000}");
    if c(1).is_empty() && name.is_empty() {
        return None;
    }
    Some(prune(json!({
        "type": "Practitioner",
        "identifier": { "value": c(1) },
        "display": name,
    })))
}

/// A decimal number in FHIR JSON, if the text is one.
pub fn number(s: &str) -> Option<Value> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+') {
        return None;
    }
    let n: serde_json::Number = t.trim_start_matches('+').parse().ok()?;
    Some(Value::Number(n))
}

/// A Quantity from a value and a CWE unit (`g/dl^g/dl^99XYZ`, `TAB^錠^MR9P`).
pub fn quantity(value: &str, unit: RepetitionRef<'_>) -> Option<Value> {
    let c = |n: usize| unit.component(n).as_str();
    quantity_parts(value, c(1), c(2), c(3))
}

/// A Quantity from a value and a unit's code, text and coding-system tag.
fn quantity_parts(value: &str, code: &str, text: &str, tag: &str) -> Option<Value> {
    let v = number(value)?;
    let text = if text.is_empty() { code } else { text };
    Some(prune(json!({
        "value": v,
        "unit": text,
        "system": if code.is_empty() || tag.is_empty() { Value::Null } else { Value::String(jp::system_for_tag(tag)) },
        "code": if tag.is_empty() { "" } else { code },
    })))
}

/// A Quantity whose unit sits in the subcomponents of one component (RXE-19: `3^TAB&錠&MR9P`).
pub fn quantity_sub(value: &str, unit: ComponentRef<'_>) -> Option<Value> {
    quantity_parts(value, unit.subcomponent(1), unit.subcomponent(2), unit.subcomponent(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duration_units_become_ucum() {
        assert_eq!(ucum_time_unit("D"), Some("d"));
        assert_eq!(ucum_time_unit("d"), Some("d"));
        assert_eq!(ucum_time_unit("W"), Some("wk"));
        assert_eq!(ucum_time_unit("M"), Some("min"));
        assert_eq!(ucum_time_unit("L"), Some("mo"));
        assert_eq!(ucum_time_unit("日"), None);
    }

    #[test]
    fn prune_keeps_order_and_drops_empties() {
        let v = prune(json!({ "b": 1, "a": [null, "", {}, [], "x", { "c": null }], "z": { "y": "" }, "c": 0 }));
        assert_eq!(v.to_string(), r#"{"b":1,"a":["x"],"c":0}"#);
    }

    #[test]
    fn datetimes() {
        assert_eq!(datetime("20111220224447.3399").as_deref(), Some("2011-12-20T22:44:47.3399+09:00"));
        assert_eq!(datetime("201112202100").as_deref(), Some("2011-12-20T21:00:00+09:00"));
        assert_eq!(datetime("2011070100").as_deref(), Some("2011-07-01T00:00:00+09:00"));
        assert_eq!(datetime("19480405").as_deref(), Some("1948-04-05"));
        assert_eq!(datetime("199601").as_deref(), Some("1996-01"));
        assert_eq!(datetime("20111220103059+0000").as_deref(), Some("2011-12-20T10:30:59+00:00"));
        assert_eq!(datetime("2011-12-20"), None);
        assert_eq!(datetime("20111340"), None);
        assert_eq!(datetime("abc"), None);
        assert_eq!(date("201112191500").as_deref(), Some("2011-12-19"));
        assert_eq!(instant("20111220").as_deref(), None);
    }

    #[test]
    fn names_and_codes() {
        let (m, _) = hl7v2::MessageRef::parse_str("MSH|^~\\&\rPID|||1||患者^太郎^^^^^L^I~カンジャ^タロウ^^^^^L^P\rOBX|1|NM|9N001000000000001^身長^JC10||167.8|cm^cm^ISO+").expect("parses");
        let pid = m.segment("PID").expect("pid");
        let n = human_name(pid.field(5).repetition(2)).expect("name");
        assert_eq!(n["text"], "カンジャ\u{3000}タロウ");
        assert_eq!(n["extension"][0]["valueCode"], "SYL");
        let obx = m.segment("OBX").expect("obx");
        let cc = codeable(obx.field(3).repetition(1)).expect("code");
        assert_eq!(cc["coding"][0]["system"], jp::JLAC10);
        assert_eq!(cc["text"], "身長");
        let q = quantity(obx.field(5).as_str(), obx.field(6).repetition(1)).expect("quantity");
        assert_eq!(q, json!({"value": 167.8, "unit": "cm", "system": "http://unitsofmeasure.org", "code": "cm"}));
    }
}
