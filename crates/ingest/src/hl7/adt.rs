//! Patient-level messages: ADT-00 (PID/NK1/DB1 → Patient, OBX → body
//! measurement Observations, AL1 → AllergyIntolerance, IN1 → Coverage), the
//! visit ADTs (PV1/PV2/EVN → Encounter), ADT-61 (IAM → AllergyIntolerance)
//! and PPR-01 (PRB/ZPR → Condition).

use serde_json::{Value, json};

use super::Conv;
use super::dt::{self, prune};
use crate::ids;
use crate::jp;

const V2: &str = "http://terminology.hl7.org/CodeSystem/v2-";

pub(crate) fn patient_message(c: &mut Conv<'_>, pid_idx: usize) {
    let segs = c.segs;
    let pid = &segs[pid_idx];
    let mut used = vec![pid_idx];
    let mut identifier = json!({ "value": c.pid });
    match &c.facility {
        Some(f) => identifier["system"] = jp::patient_id_system(f).into(),
        None => c.warn(Some(pid_idx), Some(3), "no 10-digit facility code (option or MSH-4): patient identifier has no system"),
    }
    let names: Vec<Value> = pid.field(5).repetitions().filter_map(dt::human_name).collect();
    let gender = pid.field(8).as_str();
    let gender_v = jp::gender(gender);
    if !gender.is_empty() && gender_v.is_none() {
        c.warn(Some(pid_idx), Some(8), format!("unknown sex code {gender:?}"));
    }
    let birth = pid.field(7).as_str();
    let birth_date = dt::date(birth);
    if !birth.is_empty() && birth_date.is_none() {
        c.warn(Some(pid_idx), Some(7), format!("invalid birth date {birth:?}"));
    }
    let addresses: Vec<Value> = pid.field(11).repetitions().filter_map(dt::address).collect();
    let mut telecom: Vec<Value> = pid.field(13).repetitions().filter_map(|r| dt::telecom(r, "home")).collect();
    telecom.extend(pid.field(14).repetitions().filter_map(|r| dt::telecom(r, "work")));
    let deceased = pid.field(30).as_str();
    let mut contacts = Vec::new();
    let mut extensions = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        match s.name() {
            "NK1" => {
                used.push(i);
                let rel = s.field(3).repetition(1);
                contacts.push(json!({
                    "relationship": dt::codeable(rel).map(|v| vec![v]).unwrap_or_default(),
                    "name": s.field(2).repetitions().find_map(dt::human_name),
                    "telecom": s.field(5).repetitions().filter_map(|r| dt::telecom(r, "home"))
                        .chain(s.field(6).repetitions().filter_map(|r| dt::telecom(r, "work"))).collect::<Vec<_>>(),
                    "address": s.field(4).repetitions().find_map(dt::address),
                    "organization": { "display": s.field(13).component(1).as_str() },
                }));
            }
            "DB1" => {
                used.push(i);
                if s.field(4).as_str() == "Y" {
                    extensions.push(json!({
                        "url": "http://hl7.org/fhir/StructureDefinition/patient-disability",
                        "valueCodeableConcept": {
                            "coding": [{ "system": format!("{V2}0334"), "code": s.field(2).as_str() }],
                            "text": "身体障害あり",
                        }
                    }));
                }
            }
            _ => {}
        }
    }
    let id = c.patient_id.clone();
    c.emit(
        "Patient",
        id,
        "JP_Patient",
        json!({
            "extension": extensions,
            "identifier": [identifier],
            "active": true,
            "name": names,
            "telecom": telecom,
            "gender": gender_v,
            "birthDate": birth_date,
            "deceasedBoolean": match deceased { "Y" => Some(true), "N" => Some(false), _ => None },
            "address": addresses,
            "contact": contacts,
        }),
        &used,
    );
    for (i, s) in segs.iter().enumerate() {
        match s.name() {
            "OBX" => body_observation(c, i),
            "AL1" => allergy(c, i, false),
            "IN1" => coverage(c, i),
            _ => {}
        }
    }
}

fn observation_status(code: &str) -> &'static str {
    match code {
        "F" => "final",
        "C" => "corrected",
        "P" | "R" | "S" => "preliminary",
        "X" => "cancelled",
        "D" | "W" => "entered-in-error",
        "I" | "O" => "registered",
        _ => "unknown",
    }
}

/// The value of an OBX (by OBX-2 value type) as `(element name, value)`.
/// A value that does not fit its declared type is an error (None, reason).
pub(crate) fn obx_value(c: &Conv<'_>, i: usize) -> Result<Option<(&'static str, Value)>, String> {
    let s = &c.segs[i];
    let vt = s.field(2).as_str();
    let f5 = s.field(5);
    if f5.is_empty() {
        return Ok(None);
    }
    let raw = f5.as_str();
    Ok(Some(match vt {
        "NM" | "SN" => match dt::quantity(raw, s.field(6).repetition(1)) {
            Some(q) => ("valueQuantity", q),
            None => return Err(format!("OBX-5 {raw:?} is not a number (OBX-2 is {vt})")),
        },
        "CWE" | "CE" | "CNE" => match dt::codeable(f5.repetition(1)) {
            Some(cc) => ("valueCodeableConcept", cc),
            None => return Err("OBX-5 coded value is empty".into()),
        },
        "TS" | "DT" | "DTM" => match dt::datetime(raw) {
            Some(d) => ("valueDateTime", json!(d)),
            None => return Err(format!("OBX-5 {raw:?} is not a date/time")),
        },
        "XCN" => {
            let r = f5.repetition(1);
            let name = [r.component(2).as_str(), r.component(3).as_str()].join("\u{3000}");
            ("valueString", json!(format!("{} {}", r.component(1).as_str(), name.trim()).trim().to_string()))
        }
        _ => {
            let text = f5.repetitions().map(|r| r.components().map(|c| c.as_str()).collect::<Vec<_>>().join("^")).collect::<Vec<_>>().join("\n");
            ("valueString", json!(text.trim_end_matches('^')))
        }
    }))
}

/// OBX-7 `low-high` → referenceRange.
pub(crate) fn reference_range(text: &str) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    if let Some((lo, hi)) = text.split_once('-').filter(|(l, _)| !l.is_empty())
        && let (Some(l), Some(h)) = (dt::number(lo), dt::number(hi)) {
            return Some(json!({ "low": { "value": l }, "high": { "value": h }, "text": text }));
        }
    Some(json!({ "text": text }))
}

fn body_observation(c: &mut Conv<'_>, i: usize) {
    let s = &c.segs[i];
    let Some(code) = dt::codeable(s.field(3).repetition(1)) else {
        c.reject(Some(i), Some(3), "OBX-3 observation identifier is missing");
        return;
    };
    let value = match obx_value(c, i) {
        Ok(v) => v,
        Err(reason) => {
            c.reject(Some(i), Some(5), reason);
            return;
        }
    };
    let code1 = s.field(3).component(1).as_str();
    // 9N001 (height) and 9N006 (weight) are JLAC10 body measurements.
    let body = code1.starts_with("9N");
    let set_id = s.field(1).as_str().to_string();
    let id = c.id("obs", &[&set_id, code1]);
    let mut o = json!({
        "status": observation_status(s.field(11).as_str()),
        "category": [{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": if body { "exam" } else { "laboratory" },
        }]}],
        "code": code,
        "subject": c.patient_ref(),
        "effectiveDateTime": dt::datetime(s.field(14).as_str()),
        "referenceRange": reference_range(s.field(7).as_str()).map(|r| vec![r]).unwrap_or_default(),
    });
    if let Some((k, v)) = value {
        o[k] = v;
    }
    let profile = if body { "JP_Observation_BodyMeasurement" } else { "JP_Observation_Common" };
    c.emit("Observation", id, profile, o, &[i]);
}

fn allergy_category(code: &str) -> Option<&'static str> {
    match code {
        "DA" => Some("medication"),
        "FA" => Some("food"),
        "EA" | "PA" | "LA" => Some("environment"),
        "AA" => Some("biologic"),
        _ => None,
    }
}

fn severity(code: &str) -> Option<&'static str> {
    match code {
        "SV" => Some("severe"),
        "MO" => Some("moderate"),
        "MI" => Some("mild"),
        _ => None,
    }
}

/// AL1 (ADT-00) or IAM (ADT-61) → AllergyIntolerance. The id is keyed by the
/// patient and the allergen, so AL1 and IAM about the same allergen update
/// one resource.
fn allergy(c: &mut Conv<'_>, i: usize, iam: bool) {
    let s = &c.segs[i];
    let allergen = s.field(3).repetition(1);
    let Some(code) = dt::codeable(allergen) else {
        c.reject(Some(i), Some(3), format!("{}-3 allergen code is missing", s.name()));
        return;
    };
    let key = format!("{}|{}|{}", allergen.component(3).as_str(), allergen.component(1).as_str(), allergen.component(2).as_str());
    let id = ids::make("alg", &[&c.pid, &format!("{:016x}", ids::fnv1a(&key))]);
    let type_code = s.field(2).component(1).as_str();
    let sev = s.field(4).component(1).as_str();
    let reaction_text: Vec<&str> = s.field(5).repetitions().map(|r| r.as_str()).filter(|t| !t.is_empty()).collect();
    if reaction_text.is_empty() && !sev.is_empty() {
        c.warn(Some(i), Some(4), "severity without a reaction description is not mapped (FHIR needs a manifestation)");
    }
    let action = if iam { s.field(6).component(1).as_str() } else { "" };
    let deleted = action == "D";
    let (onset_dt, onset_text) = if iam {
        (dt::datetime(s.field(11).as_str()), s.field(12).as_str())
    } else {
        (dt::datetime(s.field(6).as_str()), "")
    };
    let mut a = json!({
        "clinicalStatus": if deleted { Value::Null } else { json!({ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
            "code": "active" }]}) },
        "verificationStatus": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
            "code": if deleted { "entered-in-error" } else { "confirmed" } }]},
        "category": allergy_category(type_code).map(|c| vec![c]).unwrap_or_default(),
        "code": code,
        "patient": c.patient_ref(),
        "reaction": if reaction_text.is_empty() { json!([]) } else { json!([{
            "manifestation": reaction_text.iter().map(|t| json!({ "text": t })).collect::<Vec<_>>(),
            "severity": severity(sev),
        }]) },
    });
    if let Some(d) = onset_dt {
        a["onsetDateTime"] = json!(d);
    } else if !onset_text.is_empty() {
        a["onsetString"] = json!(onset_text);
    }
    c.emit("AllergyIntolerance", id, "JP_AllergyIntolerance", a, &[i]);
}

fn coverage(c: &mut Conv<'_>, i: usize) {
    let s = &c.segs[i];
    let insurer = s.field(3).as_str().to_string();
    if insurer.is_empty() {
        c.reject(Some(i), Some(3), "IN1-3 insurer number is missing (Coverage.payor is required)");
        return;
    }
    let id = ids::make("cov", &[&c.pid, &insurer, s.field(2).component(1).as_str()]);
    let symbol = s.field(10).as_str();
    let number = s.field(49).as_str();
    let relationship = match s.field(17).component(1).as_str() {
        "SEL" => "self",
        "SPO" => "spouse",
        "CHD" => "child",
        "" => "",
        _ => "other",
    };
    let cov = json!({
        "status": "active",
        "type": dt::codeable(s.field(2).repetition(1)),
        "beneficiary": c.patient_ref(),
        "relationship": if relationship.is_empty() { Value::Null } else { json!({ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "code": relationship }]}) },
        "period": { "start": dt::date(s.field(12).as_str()), "end": dt::date(s.field(13).as_str()) },
        "payor": [{ "identifier": { "system": jp::INSURER_NUMBER, "value": insurer }, "display": s.field(4).component(1).as_str() }],
        "extension": [
            if symbol.is_empty() { Value::Null } else { json!({ "url": jp::EXT_INSURED_SYMBOL, "valueString": symbol }) },
            if number.is_empty() { Value::Null } else { json!({ "url": jp::EXT_INSURED_NUMBER, "valueString": number }) },
        ],
    });
    c.emit("Coverage", id, "JP_Coverage", cov, &[i]);
}

/// ADT trigger event → Encounter.status (JAMI table 0003 map).
fn encounter_status(event: &str) -> &'static str {
    match event {
        "A04" | "A01" => "arrived",
        "A14" => "planned",
        "A27" | "A11" => "cancelled",
        "A21" | "A53" => "onleave",
        "A03" => "finished",
        _ => "in-progress",
    }
}

pub(crate) fn encounter_message(c: &mut Conv<'_>) {
    let segs = c.segs;
    let Some(pv1_idx) = segs.iter().position(|s| s.name() == "PV1") else {
        c.reject(None, None, "visit message without a PV1 segment");
        return;
    };
    let pv1 = &segs[pv1_idx];
    let mut used = vec![pv1_idx];
    let pv2_idx = segs.iter().position(|s| s.name() == "PV2");
    let evn_idx = segs.iter().position(|s| s.name() == "EVN");
    let event = c.msg.message_type().1;
    let class = match pv1.field(2).as_str() {
        "I" => ("IMP", "inpatient encounter"),
        "O" => ("AMB", "ambulatory"),
        "E" => ("EMER", "emergency"),
        "P" => ("PRENC", "pre-admission"),
        other => {
            c.reject(Some(pv1_idx), Some(2), format!("PV1-2 patient class {other:?} is missing or unknown (Encounter.class is required)"));
            return;
        }
    };
    let dtype = c.data_type.clone();
    let (mut start, mut end) = (c.dtm(pv1_idx, 44), c.dtm(pv1_idx, 45));
    if dtype == "ADT-21"
        && let Some(p) = pv2_idx {
            used.push(p);
            start = start.or(c.dtm(p, 8));
            end = end.or(c.dtm(p, 9));
        }
    let mut loc_period = json!({});
    if matches!(dtype.as_str(), "ADT-31" | "ADT-32" | "ADT-42")
        && let Some(e) = evn_idx {
            used.push(e);
            loc_period["start"] = json!(c.dtm(e, 6));
        }
    if dtype == "ADT-22" {
        loc_period["start"] = json!(start);
    }
    if dtype == "ADT-52" {
        loc_period["end"] = json!(end);
    }
    let location = pv1.field(3).repetition(1);
    let loc_text = location.components().map(|x| x.as_str()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join("-");
    let loc_status = match dtype.as_str() {
        "ADT-21" | "ADT-41" => "planned",
        "ADT-52" => "completed",
        _ => "active",
    };
    let mut participants = Vec::new();
    for (f, code) in [(7usize, "ATND"), (17, "ADM")] {
        if let Some(r) = pv1.field(f).repetitions().find_map(dt::person_ref) {
            participants.push(json!({
                "type": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": code }]}],
                "individual": r,
            }));
        }
    }
    let visit_no = pv1.field(19).as_str().to_string();
    let id = if visit_no.is_empty() { c.id("enc", &[]) } else { ids::make("enc", &[&c.pid, &visit_no]) };
    let status = encounter_status(event);
    let enc = json!({
        "identifier": if visit_no.is_empty() { Value::Null } else { json!([{ "value": visit_no }]) },
        "status": status,
        "class": { "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": class.0, "display": class.1 },
        "serviceType": coded(pv1.field(10).as_str(), jp::DEPARTMENT),
        "subject": c.patient_ref(),
        "participant": participants,
        "period": { "start": start, "end": end },
        "hospitalization": { "dischargeDisposition": coded(pv1.field(36).as_str(), &format!("{V2}0112")) },
        "location": if loc_text.is_empty() { json!([]) } else { json!([{
            "location": { "display": loc_text },
            "status": loc_status,
            "period": loc_period,
        }]) },
    });
    c.emit("Encounter", id, "JP_Encounter", enc, &used);
}

/// A CodeableConcept with one coding, or null for an empty code.
fn coded(code: &str, system: &str) -> Value {
    if code.is_empty() { Value::Null } else { json!({ "coding": [{ "system": system, "code": code }] }) }
}

pub(crate) fn allergy_message(c: &mut Conv<'_>) {
    let idx: Vec<usize> = c.segs.iter().enumerate().filter(|(_, s)| s.name() == "IAM" || s.name() == "AL1").map(|(i, _)| i).collect();
    if idx.is_empty() {
        c.warn(None, None, "ADT-61 message without IAM/AL1 segments: nothing to convert");
    }
    for i in idx {
        let iam = c.segs[i].name() == "IAM";
        allergy(c, i, iam);
    }
}

/// PPR-01: each PRB (with the ZPR that follows it) → Condition.
pub(crate) fn condition_message(c: &mut Conv<'_>) {
    let segs = c.segs;
    let recorder_idx = segs.iter().position(|s| s.name() == "ORC");
    let recorder = recorder_idx.and_then(|o| segs[o].field(12).repetitions().find_map(dt::person_ref));
    for (i, s) in segs.iter().enumerate() {
        if s.name() != "PRB" {
            continue;
        }
        let zpr = segs.get(i + 1).filter(|z| z.name() == "ZPR").map(|_| i + 1);
        let mut codings = Vec::new();
        let main = s.field(3).repetition(1);
        if let Some(cc) = dt::codeable(main) {
            codings.extend(cc["coding"].as_array().cloned().unwrap_or_default());
        }
        let icd = s.field(10).repetition(1);
        if icd.component(3).as_str() == "I10" && !icd.component(1).as_str().is_empty() {
            codings.push(json!({ "system": jp::ICD10, "code": icd.component(1).as_str() }));
        }
        let mut ext = Vec::new();
        if let Some(z) = zpr {
            let zs = &segs[z];
            let ex = zs.field(5).repetition(1);
            if !ex.component(1).as_str().is_empty() {
                codings.push(prune(json!({ "system": jp::MEDIS_DISEASE_EXCODE, "code": ex.component(1).as_str(), "display": ex.component(2).as_str() })));
            }
            for (f, name) in [(4usize, "JP_Condition_DiseasePrefixModifier"), (6, "JP_Condition_DiseasePostfixModifier")] {
                for r in zs.field(f).repetitions() {
                    if !r.component(1).as_str().is_empty() {
                        ext.push(json!({
                            "url": format!("http://jpfhir.jp/fhir/core/Extension/StructureDefinition/{name}"),
                            "valueCodeableConcept": prune(json!({ "coding": [{ "system": jp::MEDIS_MODIFIER_EXCODE, "code": r.component(1).as_str(), "display": r.component(2).as_str() }] })),
                        }));
                    }
                }
            }
        }
        let text = [s.field(17).as_str(), main.component(2).as_str()].into_iter().find(|t| !t.is_empty()).unwrap_or("");
        if codings.is_empty() && text.is_empty() {
            c.reject(Some(i), Some(3), "PRB-3 problem id (disease code) is missing");
            continue;
        }
        let action = s.field(1).as_str();
        let deleted = action == "DE";
        let abatement = c.dtm(i, 9);
        let outcome = s.field(14).repetition(1);
        if let Some(cc) = dt::codeable(outcome) {
            ext.push(json!({ "url": "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/JP_Condition_DiseaseOutcome", "valueCodeableConcept": cc }));
        }
        let instance = s.field(4).as_str();
        let key = if instance.is_empty() { main.component(1).as_str().to_string() } else { instance.to_string() };
        let id = ids::make("cond", &[&c.pid, &key]);
        let category = std::iter::once(json!({ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/condition-category", "code": "encounter-diagnosis" }]}))
            .chain(dt::codeable_parts(&[(icd.component(4).as_str(), icd.component(5).as_str(), icd.component(6).as_str())], ""))
            .collect::<Vec<_>>();
        let cond = json!({
            "extension": ext,
            "identifier": if instance.is_empty() { Value::Null } else { json!([{ "value": instance }]) },
            "clinicalStatus": if deleted { Value::Null } else { json!({ "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                "code": if abatement.is_some() { "resolved" } else { "active" } }]}) },
            "verificationStatus": { "coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                "code": if deleted { "entered-in-error" } else { "confirmed" } }]},
            "category": category,
            "code": { "coding": codings, "text": text },
            "subject": c.patient_ref(),
            "onsetDateTime": c.dtm(i, 16),
            "abatementDateTime": abatement,
            "recordedDate": c.dtm(i, 7),
            "recorder": recorder.clone(),
        });
        let mut used = vec![i];
        used.extend(zpr);
        if recorder.is_some() {
            used.extend(recorder_idx);
        }
        c.emit("Condition", id, "JP_Condition", cond, &used);
    }
}
