//! FHIR R4 output: turns facilities and simulated people into JP Core-profiled
//! resources, one JSON line each, grouped by resource type.
//!
//! Claim has no JP Core profile, so it carries none; every other resource names
//! its JP Core profile in `meta.profile`.

use crate::casereport::LabValue;
use crate::codes::{self, system};
use crate::date::Date;
use crate::facility::{Facility, FacilityKind, Practitioner};
use crate::sim::{Encounter, Person, Scheme};
use crate::World;
use serde_json::{json, Value};

/// Resource types written, in file order.
pub const TYPES: &[&str] = &[
    "Patient",
    "Practitioner",
    "Organization",
    "Location",
    "Encounter",
    "Condition",
    "Observation",
    "MedicationRequest",
    "Procedure",
    "AllergyIntolerance",
    "Coverage",
    "Claim",
    "DiagnosticReport",
    "DocumentReference",
];

/// Index of a type in [`TYPES`].
pub fn type_index(t: &str) -> usize {
    TYPES.iter().position(|x| *x == t).unwrap_or(0)
}

const JP: &str = "http://jpfhir.jp/fhir/core/StructureDefinition/";
const JP_EXT: &str = "http://jpfhir.jp/fhir/core/Extension/StructureDefinition/";

fn meta(profile: &str) -> Value {
    json!({ "profile": [format!("{JP}{profile}")] })
}

fn name_pair(kanji: &(String, String), kana: &(String, String)) -> Value {
    json!([
        {
            "extension": [{ "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "IDE" }],
            "use": "official",
            "text": format!("{} {}", kanji.0, kanji.1),
            "family": kanji.0,
            "given": [kanji.1]
        },
        {
            "extension": [{ "url": "http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation", "valueCode": "SYL" }],
            "use": "official",
            "text": format!("{} {}", kana.0, kana.1),
            "family": kana.0,
            "given": [kana.1]
        }
    ])
}

/// The address of a place in a zone/municipality.
fn address(w: &World, area: usize, muni: Option<usize>, street: Option<&str>) -> Value {
    let a = &w.geo.areas[area];
    let mut ext = Vec::new();
    let city = match muni {
        Some(m) => {
            let mu = &a.municipalities[m];
            ext.push(json!({ "url": system::EXT_MUNICIPALITY, "valueCode": mu.code6 }));
            mu.name.clone()
        }
        None => a.name.clone(),
    };
    ext.push(json!({ "url": system::EXT_AREA, "valueCode": a.code }));
    let mut v = json!({
        "extension": ext,
        "use": "home",
        "text": format!("{}{}{}", a.pref_name, city, street.unwrap_or("")),
        "city": city,
        "state": a.pref_name,
        "country": "JP"
    });
    if let Some(s) = street {
        v["line"] = json!([s]);
    }
    v
}

fn dt(d: Date, hh: u32, mm: u32) -> String {
    format!("{}T{hh:02}:{mm:02}:00+09:00", d.iso())
}

/// Organization, Location and Practitioner lines for the facilities.
pub fn facility_resources(w: &World, f: &Facility, out: &mut dyn FnMut(usize, Value)) {
    let category = if f.kind == FacilityKind::Dental { "3" } else { "1" };
    let kind = match f.kind {
        FacilityKind::Hospital => "病院",
        FacilityKind::Clinic => "診療所",
        FacilityKind::Dental => "歯科診療所",
    };
    let mut org = json!({
        "resourceType": "Organization",
        "id": f.org_id(),
        "meta": meta("JP_Organization"),
        "extension": [
            { "url": format!("{JP_EXT}JP_Organization_PrefectureNo"), "valueCoding": { "system": "urn:oid:1.2.392.100495.20.3.21", "code": f.pref() } },
            { "url": format!("{JP_EXT}JP_Organization_InsuranceOrganizationCategory"), "valueCoding": { "system": "urn:oid:1.2.392.100495.20.3.22", "code": category } },
            { "url": format!("{JP_EXT}JP_Organization_InsuranceOrganizationNo"), "valueIdentifier": { "system": "urn:oid:1.2.392.100495.20.3.23", "value": f.code7() } }
        ],
        "identifier": [{ "system": system::MEDICAL_INSTITUTION, "value": f.code10 }],
        "active": true,
        "type": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/organization-type", "code": "prov", "display": "Healthcare Provider" }], "text": kind }],
        "name": f.name,
        "address": [address(w, f.area, f.muni, None)]
    });
    if f.beds > 0 {
        org["extension"].as_array_mut().expect("invariant: array").push(json!({
            "url": "http://medtwin.jp/fhir/StructureDefinition/licensed-beds", "valueInteger": f.beds
        }));
    }
    out(type_index("Organization"), org);
    out(
        type_index("Location"),
        json!({
            "resourceType": "Location",
            "id": format!("loc-{}", f.code10),
            "meta": meta("JP_Location"),
            "status": "active",
            "name": f.name,
            "mode": "instance",
            "address": address(w, f.area, f.muni, None),
            "managingOrganization": { "reference": format!("Organization/{}", f.org_id()) }
        }),
    );
    for &pi in &f.practitioners {
        let p: &Practitioner = &w.facilities.practitioners[pi];
        out(
            type_index("Practitioner"),
            json!({
                "resourceType": "Practitioner",
                "id": p.id,
                "meta": meta("JP_Practitioner"),
                "identifier": [{ "system": system::MEDICAL_REGISTRATION, "value": p.registration }],
                "active": true,
                "name": name_pair(&p.kanji, &p.kana),
                "qualification": [{ "code": { "text": if p.dentist { "歯科医師" } else { "医師" } } }]
            }),
        );
    }
}

fn coding(system: &str, code: &str, display: &str) -> Value {
    json!({ "system": system, "code": code, "display": display })
}

fn lab_observation(p: &Person, e: &Encounter, enc_ref: &str, prac: &str, id: &str, l: &LabValue) -> Value {
    let def = codes::lab(l.key);
    let v: f64 = codes::fmt_value(l.value, def.decimals).parse().unwrap_or(l.value);
    let interp = if v > def.normal.1 { Some(("H", "High")) } else if v < def.normal.0 { Some(("L", "Low")) } else { None };
    let mut o = json!({
        "resourceType": "Observation",
        "id": id,
        "meta": meta("JP_Observation_LabResult"),
        "status": "final",
        "category": [{ "coding": [coding("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory", "Laboratory")] }],
        "code": { "coding": [coding(system::JLAC10, def.jlac10, def.name)], "text": def.name },
        "subject": { "reference": format!("Patient/{}", p.pid) },
        "encounter": { "reference": enc_ref },
        "effectiveDateTime": dt(e.start, 9, 30),
        "issued": dt(e.start, 11, 0),
        "performer": [{ "reference": prac }],
        "valueQuantity": { "value": v, "unit": def.unit, "system": system::UCUM, "code": def.ucum },
        "referenceRange": [{
            "low": { "value": def.normal.0, "unit": def.unit, "system": system::UCUM, "code": def.ucum },
            "high": { "value": def.normal.1, "unit": def.unit, "system": system::UCUM, "code": def.ucum }
        }]
    });
    if let Some((c, d)) = interp {
        o["interpretation"] = json!([{ "coding": [coding("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", c, d)] }]);
    }
    o
}

fn vital_observations(p: &Person, e: &Encounter, enc_ref: &str, prefix: &str, out: &mut dyn FnMut(usize, Value)) {
    let cat = json!([{ "coding": [coding("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs", "Vital Signs")] }]);
    let subject = json!({ "reference": format!("Patient/{}", p.pid) });
    let when = dt(e.start, 9, 0);
    let get = |k: &str| e.vitals.iter().find(|(x, _)| *x == k).map(|(_, v)| *v);
    if let (Some(s), Some(d)) = (get("sbp"), get("dbp")) {
        out(
            type_index("Observation"),
            json!({
                "resourceType": "Observation", "id": format!("{prefix}-bp"), "meta": meta("JP_Observation_VitalSigns"),
                "status": "final", "category": cat, "code": { "coding": [coding(system::LOINC, "85354-9", "Blood pressure panel with all children optional")], "text": "血圧" },
                "subject": subject, "encounter": { "reference": enc_ref }, "effectiveDateTime": when,
                "component": [
                    { "code": { "coding": [coding(system::LOINC, "8480-6", "Systolic blood pressure")], "text": "収縮期血圧" }, "valueQuantity": { "value": s, "unit": "mmHg", "system": system::UCUM, "code": "mm[Hg]" } },
                    { "code": { "coding": [coding(system::LOINC, "8462-4", "Diastolic blood pressure")], "text": "拡張期血圧" }, "valueQuantity": { "value": d, "unit": "mmHg", "system": system::UCUM, "code": "mm[Hg]" } }
                ]
            }),
        );
    }
    for (k, v) in &e.vitals {
        if matches!(*k, "sbp" | "dbp") {
            continue;
        }
        let def = codes::vital(k);
        let profile = if *k == "weight" { "JP_Observation_BodyMeasurement" } else { "JP_Observation_VitalSigns" };
        out(
            type_index("Observation"),
            json!({
                "resourceType": "Observation", "id": format!("{prefix}-{k}"), "meta": meta(profile),
                "status": "final", "category": cat, "code": { "coding": [coding(system::LOINC, def.loinc, def.name)], "text": def.name },
                "subject": subject, "encounter": { "reference": enc_ref }, "effectiveDateTime": when,
                "valueQuantity": { "value": v, "unit": def.ucum, "system": system::UCUM, "code": def.ucum }
            }),
        );
    }
}

/// Yen per point.
const YEN_PER_POINT: f64 = 10.0;

/// Claim points of an encounter, itemised: (receipt code, name, points, count).
pub fn claim_items(e: &Encounter) -> Vec<(&'static str, &'static str, u32, u32, &'static str)> {
    let mut items = Vec::new();
    let dental = e.dept.code == "40";
    let visit = match (dental, e.first_visit) {
        (true, true) => "dental_first",
        (true, false) => "dental_revisit",
        (false, true) => "first_visit",
        (false, false) => "revisit",
    };
    if !e.inpatient {
        let f = codes::fee(visit);
        items.push((f.receipt, f.name, f.points, 1, f.category));
        if !dental && !e.first_visit {
            let f = codes::fee("outpatient_mgmt");
            items.push((f.receipt, f.name, f.points, 1, f.category));
        }
    }
    for (k, _) in &e.procedures {
        let f = codes::fee(k);
        let count = if *k == "admission_basic" { (e.end.0 - e.start.0).max(1) as u32 } else { 1 };
        items.push((f.receipt, f.name, f.points, count, f.category));
    }
    if !e.labs.is_empty() {
        for k in ["blood_draw", "lab_judgement"] {
            let f = codes::fee(k);
            items.push((f.receipt, f.name, f.points, 1, f.category));
        }
    }
    if !e.meds.is_empty() && !e.inpatient {
        let f = codes::fee("rx_fee");
        items.push((f.receipt, f.name, f.points, 1, f.category));
    }
    items
}

/// Drug points: 薬価 × tablets per day, rounded per the 15-yen rule, × days.
pub fn drug_points(m: &crate::sim::MedOrder) -> (u32, u32) {
    let d = codes::drug(m.drug);
    let yen = d.yen * d.per_day;
    let pts = if yen <= 15.0 { 1 } else { ((yen - 15.0) / 10.0).ceil() as u32 + 1 };
    (pts, m.days)
}

/// Total points of an encounter.
pub fn encounter_points(e: &Encounter) -> u32 {
    let a: u32 = claim_items(e).iter().map(|(_, _, p, c, _)| p * c).sum();
    let b: u32 = e.meds.iter().map(|m| {
        let (p, d) = drug_points(m);
        p * d
    }).sum();
    a + b
}

/// All resources of one person.
pub fn person_resources(w: &World, p: &Person, out: &mut dyn FnMut(usize, Value)) {
    let end = w.end;
    let patient_ref = format!("Patient/{}", p.pid);
    let mut identifiers = vec![json!({ "system": system::MEDTWIN_PERSON, "value": p.pid })];
    for f in p.facilities() {
        identifiers.push(json!({ "system": format!("{}{}", system::PATIENT_ID_PREFIX, w.facilities.list[f].code10), "value": p.pid }));
    }
    let mut pat = json!({
        "resourceType": "Patient",
        "id": p.pid,
        "meta": meta("JP_Patient"),
        "identifier": identifiers,
        "active": p.left.is_none(),
        "name": name_pair(&p.kanji, &p.kana),
        "telecom": [{ "system": "phone", "value": p.phone, "use": "home" }],
        "gender": if p.male { "male" } else { "female" },
        "birthDate": p.birth.iso(),
        "address": [address(w, p.area, p.muni, Some(&p.street))]
    });
    match p.death {
        Some(d) => pat["deceasedDateTime"] = json!(d.iso()),
        None => pat["deceasedBoolean"] = json!(false),
    }
    out(type_index("Patient"), pat);

    if let Some((name, code)) = p.allergy {
        out(
            type_index("AllergyIntolerance"),
            json!({
                "resourceType": "AllergyIntolerance", "id": format!("alg-{}", p.pid), "meta": meta("JP_AllergyIntolerance"),
                "clinicalStatus": { "coding": [coding("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active")] },
                "verificationStatus": { "coding": [coding("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed")] },
                "type": "allergy", "category": ["medication"], "criticality": "low",
                "code": { "coding": [coding(system::SNOMED, code, name)], "text": name },
                "patient": { "reference": patient_ref }, "recordedDate": w.start.iso()
            }),
        );
    }

    for (i, c) in p.coverages.iter().enumerate() {
        let (code, disp) = match c.scheme {
            Scheme::Kokuho => ("kokuho", "国民健康保険"),
            Scheme::Employee => ("employee", "被用者保険"),
            Scheme::Kouki => ("kouki", "後期高齢者医療"),
        };
        let mut period = json!({ "start": c.start.iso() });
        if let Some(e) = c.end {
            period["end"] = json!(e.iso());
        }
        out(
            type_index("Coverage"),
            json!({
                "resourceType": "Coverage", "id": format!("cov-{}-{}", p.pid, i + 1), "meta": meta("JP_Coverage"),
                "extension": [
                    { "url": format!("{JP_EXT}JP_Coverage_InsuredPersonSymbol"), "valueString": c.symbol },
                    { "url": format!("{JP_EXT}JP_Coverage_InsuredPersonNumber"), "valueString": c.number },
                    { "url": format!("{JP_EXT}JP_Coverage_InsuredPersonSubNumber"), "valueString": c.branch }
                ],
                "identifier": [{ "system": system::MEMBER_ID, "value": format!("{}:{}:{}:{}", c.insurer, c.symbol, c.number, c.branch) }],
                "status": if c.end.is_some_and(|e| e < end) { "cancelled" } else { "active" },
                "type": { "coding": [coding("http://medtwin.jp/fhir/CodeSystem/insurance-scheme", code, disp)], "text": disp },
                "subscriberId": c.number,
                "beneficiary": { "reference": patient_ref },
                "relationship": { "coding": [coding("http://terminology.hl7.org/CodeSystem/subscriber-relationship", "self", "Self")] },
                "period": period,
                "payor": [{ "identifier": { "system": system::INSURER_NUMBER, "value": c.insurer }, "display": c.insurer_name }]
            }),
        );
    }

    for (i, c) in p.conditions.iter().enumerate() {
        let active = c.abatement.is_none_or(|a| a > end);
        let mut cond = json!({
            "resourceType": "Condition", "id": format!("cond-{}-{}", p.pid, i + 1), "meta": meta("JP_Condition"),
            "clinicalStatus": { "coding": [coding("http://terminology.hl7.org/CodeSystem/condition-clinical", if active { "active" } else { "resolved" }, if active { "Active" } else { "Resolved" })] },
            "verificationStatus": { "coding": [coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed")] },
            "category": [{ "coding": [coding("http://terminology.hl7.org/CodeSystem/condition-category", if c.encounter.is_some() { "encounter-diagnosis" } else { "problem-list-item" }, if c.encounter.is_some() { "Encounter Diagnosis" } else { "Problem List Item" })] }],
            "code": { "coding": [coding(system::ICD10, c.icd10, c.name)], "text": c.name },
            "subject": { "reference": patient_ref },
            "onsetDateTime": c.onset.iso(),
            "recordedDate": c.onset.max(w.start.plus(-3650)).iso()
        });
        if let Some(a) = c.abatement.filter(|a| *a <= end) {
            cond["abatementDateTime"] = json!(a.iso());
        }
        if let Some(seq) = c.encounter {
            cond["encounter"] = json!({ "reference": format!("Encounter/{}", p.enc_id(seq)) });
        }
        out(type_index("Condition"), cond);
    }

    let cov_for = |d: Date| -> Option<usize> {
        p.coverages.iter().position(|c| c.start <= d && c.end.is_none_or(|e| e >= d)).or(if p.coverages.is_empty() { None } else { Some(0) })
    };
    for e in &p.encounters {
        let f = &w.facilities.list[e.facility];
        let eid = p.enc_id(e.seq);
        let enc_ref = format!("Encounter/{eid}");
        let prac_ref = format!("Practitioner/{}", w.facilities.practitioners[e.practitioner].id);
        let org_ref = format!("Organization/{}", f.org_id());
        let (class, cdisp) = if e.inpatient { ("IMP", "inpatient encounter") } else { ("AMB", "ambulatory") };
        let mut enc = json!({
            "resourceType": "Encounter", "id": eid, "meta": meta("JP_Encounter"),
            "identifier": [{ "system": format!("http://medtwin.jp/fhir/NamingSystem/encounter-id/{}", f.code10), "value": format!("{}-{}", p.pid, e.seq) }],
            "status": "finished",
            "class": coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", class, cdisp),
            "serviceType": { "coding": [coding(system::DEPARTMENT, e.dept.code, e.dept.name)], "text": e.dept.name },
            "subject": { "reference": patient_ref },
            "participant": [{ "individual": { "reference": prac_ref } }],
            "period": { "start": e.start.iso(), "end": e.end.iso() },
            "location": [{ "location": { "reference": format!("Location/loc-{}", f.code10) } }],
            "serviceProvider": { "reference": org_ref }
        });
        if e.emergency {
            enc["priority"] = json!({ "coding": [coding("http://terminology.hl7.org/CodeSystem/v3-ActPriority", "EM", "emergency")] });
        }
        if !e.diagnoses.is_empty() {
            enc["reasonReference"] = json!([{ "reference": format!("Condition/cond-{}-{}", p.pid, e.diagnoses[0] + 1) }]);
            enc["diagnosis"] = Value::Array(
                e.diagnoses.iter().enumerate().map(|(r, ci)| json!({ "condition": { "reference": format!("Condition/cond-{}-{}", p.pid, ci + 1) }, "rank": r + 1 })).collect(),
            );
        }
        if e.inpatient {
            let (code, disp) = if e.died { ("exp", "Expired") } else { ("home", "Home") };
            enc["hospitalization"] = json!({
                "admitSource": { "coding": [coding("http://terminology.hl7.org/CodeSystem/admit-source", if e.emergency { "emd" } else { "outp" }, if e.emergency { "From accident/emergency department" } else { "From outpatient department" })] },
                "dischargeDisposition": { "coding": [coding("http://terminology.hl7.org/CodeSystem/discharge-disposition", code, disp)] }
            });
        }
        if let Some(h) = &e.hf {
            const NYHA: [(&str, &str); 4] = [("420300004", "NYHA class I"), ("421704003", "NYHA class II"), ("420913000", "NYHA class III"), ("422293003", "NYHA class IV")];
            let (c, d) = NYHA[h.nyha];
            enc["extension"] = json!([
                { "url": system::EXT_NYHA, "valueCodeableConcept": { "coding": [coding(system::SNOMED, c, d)], "text": format!("NYHA {}", ["I", "II", "III", "IV"][h.nyha]) } },
                { "url": "http://medtwin.jp/fhir/StructureDefinition/heart-failure-type", "valueCode": if h.acute { "acute" } else { "chronic" } }
            ]);
        }
        out(type_index("Encounter"), enc);

        let prefix = format!("obs-{}-{}", p.pid, e.seq);
        vital_observations(p, e, &enc_ref, &prefix, out);
        let mut results = Vec::new();
        for (k, l) in e.labs.iter().enumerate() {
            let id = format!("{prefix}-l{}", k + 1);
            results.push(json!({ "reference": format!("Observation/{id}") }));
            out(type_index("Observation"), lab_observation(p, e, &enc_ref, &prac_ref, &id, l));
        }
        if !results.is_empty() {
            out(
                type_index("DiagnosticReport"),
                json!({
                    "resourceType": "DiagnosticReport", "id": format!("dr-{}-{}", p.pid, e.seq), "meta": meta("JP_DiagnosticReport_LabResult"),
                    "status": "final",
                    "category": [{ "coding": [coding("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")] }],
                    "code": { "coding": [coding(system::LOINC, "11502-2", "Laboratory report")], "text": "検体検査結果" },
                    "subject": { "reference": patient_ref }, "encounter": { "reference": enc_ref },
                    "effectiveDateTime": dt(e.start, 9, 30), "issued": dt(e.start, 11, 0),
                    "performer": [{ "reference": org_ref }],
                    "result": results
                }),
            );
        }
        let authored = if e.inpatient { e.end } else { e.start };
        for (k, m) in e.meds.iter().enumerate() {
            let d = codes::drug(m.drug);
            out(
                type_index("MedicationRequest"),
                json!({
                    "resourceType": "MedicationRequest", "id": format!("mr-{}-{}-{}", p.pid, e.seq, k + 1), "meta": meta("JP_MedicationRequest"),
                    "identifier": [{ "system": "urn:oid:1.2.392.100495.20.3.81", "value": format!("{}", k + 1) }],
                    "status": if e.died { "stopped" } else { "completed" }, "intent": "order",
                    "category": [{ "coding": [coding("http://terminology.hl7.org/CodeSystem/medicationrequest-category", if e.inpatient { "inpatient" } else { "outpatient" }, if e.inpatient { "Inpatient" } else { "Outpatient" })] }],
                    "medicationCodeableConcept": { "coding": [coding(system::YJ, d.yj, d.name)], "text": d.name },
                    "subject": { "reference": patient_ref }, "encounter": { "reference": enc_ref },
                    "authoredOn": authored.iso(), "requester": { "reference": prac_ref },
                    "dosageInstruction": [{
                        "text": format!("{} {}錠", d.usage, d.per_day),
                        "timing": { "repeat": { "frequency": d.times, "period": 1, "periodUnit": "d", "boundsDuration": { "value": m.days, "unit": "日", "system": system::UCUM, "code": "d" } } },
                        "route": { "coding": [coding("http://jpfhir.jp/fhir/core/CodeSystem/JP_MedicationRouteHL70162_CS", "PO", "口")], "text": "内服" },
                        "doseAndRate": [{ "doseQuantity": { "value": d.per_day / d.times as f64, "unit": "錠" } }]
                    }],
                    "dispenseRequest": {
                        "quantity": { "value": d.per_day * m.days as f64, "unit": "錠" },
                        "expectedSupplyDuration": { "value": m.days, "unit": "日", "system": system::UCUM, "code": "d" }
                    }
                }),
            );
        }
        for (k, (key, off)) in e.procedures.iter().enumerate() {
            let fee = codes::fee(key);
            let Some(sct) = fee.snomed else { continue };
            out(
                type_index("Procedure"),
                json!({
                    "resourceType": "Procedure", "id": format!("proc-{}-{}-{}", p.pid, e.seq, k + 1), "meta": meta("JP_Procedure"),
                    "status": "completed",
                    "code": { "coding": [coding(system::SNOMED, sct, fee.name), coding(system::RECEIPT_PROCEDURE, fee.receipt, fee.name)], "text": fee.name },
                    "subject": { "reference": patient_ref }, "encounter": { "reference": enc_ref },
                    "performedDateTime": e.start.plus(*off).min(e.end).iso(),
                    "performer": [{ "actor": { "reference": prac_ref } }]
                }),
            );
        }
        if let Some(r) = &e.report {
            let text = r.text();
            out(
                type_index("DocumentReference"),
                json!({
                    "resourceType": "DocumentReference", "id": format!("doc-{}-{}", p.pid, e.seq), "meta": meta("JP_DocumentReference"),
                    "status": "current",
                    "type": { "coding": [coding(system::LOINC, "18842-5", "Discharge summary")], "text": "症例報告(退院時要約)" },
                    "category": [{ "coding": [coding("http://medtwin.jp/fhir/CodeSystem/document-category", "case-report", "症例報告")] }],
                    "subject": { "reference": patient_ref },
                    "date": dt(e.end, 17, 0),
                    "author": [{ "reference": prac_ref }],
                    "description": r.chief,
                    "content": [{ "attachment": { "contentType": "text/plain; charset=utf-8", "language": "ja", "data": base64(text.as_bytes()), "title": "症例報告" } }],
                    "context": { "encounter": [{ "reference": enc_ref }], "period": { "start": e.start.iso(), "end": e.end.iso() } }
                }),
            );
        }
        // Claim: one per encounter, in points converted to yen.
        let items = claim_items(e);
        let mut claim_items_json: Vec<Value> = items
            .iter()
            .map(|(code, name, pts, n, _)| (code.to_string(), name.to_string(), *pts, *n))
            .chain(e.meds.iter().map(|m| {
                let d = codes::drug(m.drug);
                let (pts, days) = drug_points(m);
                (d.receipt.to_string(), d.name.to_string(), pts, days)
            }))
            .enumerate()
            .map(|(i, (code, name, pts, n))| {
                // Kept compact (no per-item dates or displays): claims are the
                // bulkiest resource type and the bill date is the Claim's.
                json!({
                    "sequence": i + 1,
                    "productOrService": { "coding": [{ "system": system::RECEIPT_PROCEDURE, "code": code }], "text": name },
                    "quantity": { "value": n },
                    "net": { "value": (pts * n) as f64 * YEN_PER_POINT, "currency": "JPY" }
                })
            })
            .collect();
        if claim_items_json.is_empty() {
            continue;
        }
        let total = encounter_points(e);
        let cov = cov_for(e.start);
        let mut claim = json!({
            "resourceType": "Claim", "id": format!("claim-{}-{}", p.pid, e.seq),
            "status": "active",
            "type": { "coding": [coding("http://terminology.hl7.org/CodeSystem/claim-type", if e.inpatient { "institutional" } else if e.dept.code == "40" { "oral" } else { "professional" }, "")] },
            "use": "claim",
            "patient": { "reference": patient_ref },
            "billablePeriod": { "start": e.start.iso(), "end": e.end.iso() },
            "created": e.end.iso(),
            "provider": { "reference": org_ref },
            "priority": { "coding": [coding("http://terminology.hl7.org/CodeSystem/processpriority", "normal", "Normal")] },
            "insurance": [{ "sequence": 1, "focal": true, "coverage": { "reference": format!("Coverage/cov-{}-{}", p.pid, cov.map(|c| c + 1).unwrap_or(1)) } }],
            "total": { "value": total as f64 * YEN_PER_POINT, "currency": "JPY" }
        });
        claim["type"]["coding"][0].as_object_mut().expect("invariant: object").remove("display");
        claim["item"] = Value::Array(std::mem::take(&mut claim_items_json));
        if !e.diagnoses.is_empty() {
            claim["diagnosis"] = Value::Array(
                e.diagnoses.iter().enumerate().map(|(r, ci)| json!({ "sequence": r + 1, "diagnosisReference": { "reference": format!("Condition/cond-{}-{}", p.pid, ci + 1) } })).collect(),
            );
        }
        if cov.is_none() {
            // No coverage (cannot happen for simulated people): omit the claim rather than emit a dangling reference.
            continue;
        }
        out(type_index("Claim"), claim);
    }
}

/// Standard base64 (RFC 4648) with padding.
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        s.push(T[(n >> 18) as usize & 63] as char);
        s.push(T[(n >> 12) as usize & 63] as char);
        s.push(if chunk.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        s.push(if chunk.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}
