//! Order and result messages: OMP-01/02 (ORC/RXE/TQ1/RXR/RXC →
//! MedicationRequest), OMP-11/12 (ORC/RXA/RXR → MedicationAdministration),
//! OML-01 (ORC/OBR/OBX → ServiceRequest), OML-11 (SPM → Specimen, OBR →
//! DiagnosticReport, OBX → Observation) and OMG-* (ORC/OBR → ServiceRequest).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::Conv;
use super::adt::{obx_value, reference_range};
use super::dt::{self, prune};
use crate::ids;

const V2: &str = "http://terminology.hl7.org/CodeSystem/v2-";

/// Segment indexes grouped under each ORC: `(orc, members)`. Segments before
/// the first ORC form a group with no ORC.
fn groups(c: &Conv<'_>, starts: &[&str]) -> Vec<(Option<usize>, Vec<usize>)> {
    let mut out: Vec<(Option<usize>, Vec<usize>)> = Vec::new();
    for (i, s) in c.segs.iter().enumerate() {
        if starts.contains(&s.name()) {
            out.push((Some(i), Vec::new()));
        } else if matches!(s.name(), "MSH" | "PID" | "PV1" | "PV2" | "EVN" | "NK1" | "IN1" | "AL1") {
            continue;
        } else if let Some(last) = out.last_mut() {
            last.1.push(i);
        } else {
            out.push((None, vec![i]));
        }
    }
    out
}

fn order_ident(value: &str) -> Value {
    if value.is_empty() {
        Value::Null
    } else {
        json!({ "system": "urn:oid:1.2.392.100495.20.3.11", "value": value })
    }
}

fn route(c: &Conv<'_>, rxr: Option<usize>) -> (Value, Value, Value) {
    match rxr {
        None => (Value::Null, Value::Null, Value::Null),
        Some(r) => {
            let s = &c.segs[r];
            (
                dt::codeable(s.field(1).repetition(1)).unwrap_or(Value::Null),
                dt::codeable(s.field(2).repetition(1)).unwrap_or(Value::Null),
                dt::codeable(s.field(4).repetition(1)).unwrap_or(Value::Null),
            )
        }
    }
}

pub(crate) fn medication_request_message(c: &mut Conv<'_>) {
    let injection = c.data_type == "OMP-02";
    let profile = if injection { "JP_MedicationRequest_Injection" } else { "JP_MedicationRequest" };
    // Several ORC groups may share one RP number (ORC-4): drugs of the same
    // RP are numbered across them (RP内連番).
    let mut in_rp: BTreeMap<String, usize> = BTreeMap::new();
    for (orc, members) in groups(c, &["ORC"]) {
        let Some(orc) = orc else {
            c.warn(members.first().copied(), None, "segments before the first ORC are not part of an order");
            continue;
        };
        let rxes: Vec<usize> = members.iter().copied().filter(|&i| c.segs[i].name() == "RXE").collect();
        if rxes.is_empty() {
            c.reject(Some(orc), None, "ORC without an RXE segment: no medication to request");
            continue;
        }
        for (k, &rxe) in rxes.iter().enumerate() {
            let next = rxes.get(k + 1).copied().unwrap_or(usize::MAX);
            let own: Vec<usize> = members.iter().copied().filter(|&i| i > rxe && i < next).collect();
            let seq = in_rp.entry(c.segs[orc].field(4).as_str().to_string()).or_default();
            *seq += 1;
            let seq = *seq;
            request(c, orc, rxe, &own, seq, profile);
        }
    }
}

fn request(c: &mut Conv<'_>, orc_i: usize, rxe_i: usize, own: &[usize], seq: usize, profile: &str) {
    let segs = c.segs;
    let orc = &segs[orc_i];
    let rxe = &segs[rxe_i];
    let rxcs: Vec<usize> = own.iter().copied().filter(|&i| segs[i].name() == "RXC").collect();
    let tq1 = own.iter().copied().find(|&i| segs[i].name() == "TQ1");
    let rxr = own.iter().copied().find(|&i| segs[i].name() == "RXR");
    let give = dt::codeable(rxe.field(2).repetition(1));
    if give.is_none() && rxcs.is_empty() {
        c.reject(Some(rxe_i), Some(2), "RXE-2 give code is missing");
        return;
    }
    let rp = orc.field(4).as_str();
    let mut used = vec![orc_i, rxe_i];
    used.extend(own.iter().copied().filter(|&i| matches!(segs[i].name(), "RXC" | "TQ1" | "RXR")));
    // Injections: RXE-2 is often a placeholder ("00^一般") and the drugs are
    // RXC components; they become a contained Medication.
    let (medication, contained) = if rxcs.is_empty() {
        (json!({ "medicationCodeableConcept": give }), Value::Null)
    } else {
        let ingredients: Vec<Value> = rxcs
            .iter()
            .filter_map(|&i| {
                let s = &segs[i];
                let item = dt::codeable(s.field(2).repetition(1))?;
                Some(json!({
                    "itemCodeableConcept": item,
                    "strength": dt::quantity(s.field(3).as_str(), s.field(4).repetition(1))
                        .map(|q| json!({ "numerator": q, "denominator": { "value": 1 } })),
                }))
            })
            .collect();
        (
            json!({ "medicationReference": { "reference": "#med" } }),
            json!([prune(json!({ "resourceType": "Medication", "id": "med", "code": give, "ingredient": ingredients }))]),
        )
    };
    let (route, site, method) = route(c, rxr);
    let (timing_code, bounds) = match tq1 {
        None => (Value::Null, Value::Null),
        Some(t) => {
            let s = &segs[t];
            let code = dt::codeable_sub(s.field(3).component(1)).or_else(|| dt::codeable(s.field(3).repetition(1)));
            let dur = s.field(6);
            let bounds = if let Some(v) = dt::number(dur.component(1).as_str()) {
                let unit = dur.component(2).as_str();
                match dt::ucum_time_unit(unit) {
                    Some(code) => json!({ "boundsDuration": { "value": v, "unit": unit, "system": "http://unitsofmeasure.org", "code": code } }),
                    // Not a time unit we know: kept as text, never given a made-up UCUM code.
                    None => json!({ "boundsDuration": { "value": v, "unit": unit } }),
                }
            } else {
                let (a, b) = (c.dtm(t, 7), c.dtm(t, 8));
                json!({ "boundsPeriod": { "start": a, "end": b } })
            };
            (code.unwrap_or(Value::Null), bounds)
        }
    };
    let dose_value = rxe.field(3).as_str();
    let dose = dt::quantity(dose_value, rxe.field(5).repetition(1));
    if dose.is_none() && !dose_value.is_empty() {
        c.warn(Some(rxe_i), Some(3), format!("RXE-3 dose {dose_value:?} is not a number"));
    }
    let daily = rxe.field(19);
    let rate_ratio = dt::quantity_sub(daily.component(1).as_str(), daily.component(2))
        .map(|q| json!({ "numerator": q, "denominator": { "value": 1, "unit": "日", "system": "http://unitsofmeasure.org", "code": "d" } }));
    let rate_q = dt::quantity(rxe.field(23).as_str(), rxe.field(24).repetition(1));
    let mut dose_and_rate = vec![json!({ "doseQuantity": dose, "rateRatio": rate_ratio })];
    if let Some(q) = rate_q {
        dose_and_rate.push(json!({ "rateQuantity": q }));
    }
    let instructions: Vec<Value> = rxe.field(7).repetitions().filter_map(dt::codeable).collect();
    let mr = json!({
        "contained": contained,
        "identifier": [
            order_ident(orc.field(2).as_str()),
            if rp.is_empty() { Value::Null } else { json!({ "system": "urn:oid:1.2.392.100495.20.3.81", "value": rp }) },
            json!({ "system": "urn:oid:1.2.392.100495.20.3.82", "value": seq.to_string() }),
            if rxe.field(15).as_str().is_empty() { Value::Null } else { json!({ "value": rxe.field(15).as_str() }) },
        ],
        "status": if orc.field(1).as_str() == "CA" { "cancelled" } else { "active" },
        "intent": "order",
        "category": dt::codeables(rxe.field(21)),
        "medicationCodeableConcept": medication.get("medicationCodeableConcept").cloned(),
        "medicationReference": medication.get("medicationReference").cloned(),
        "subject": c.patient_ref(),
        "authoredOn": c.dtm(orc_i, 9),
        "requester": orc.field(12).repetitions().find_map(dt::person_ref),
        "recorder": orc.field(10).repetitions().find_map(dt::person_ref),
        "dosageInstruction": [{
            "sequence": 1,
            "additionalInstruction": instructions,
            "timing": { "code": timing_code, "repeat": bounds },
            "route": route,
            "site": site,
            "method": method,
            "doseAndRate": dose_and_rate,
        }],
        "dispenseRequest": {
            "quantity": dt::quantity(rxe.field(10).as_str(), rxe.field(11).repetition(1)),
        },
    });
    let id = c.id("mreq", &[rp, &seq.to_string()]);
    c.emit("MedicationRequest", id, profile, mr, &used);
}

pub(crate) fn medication_administration_message(c: &mut Conv<'_>) {
    let injection = c.data_type == "OMP-12";
    let profile = if injection { "JP_MedicationAdministration_Injection" } else { "JP_MedicationAdministration" };
    for (orc, members) in groups(c, &["ORC"]) {
        let Some(orc_i) = orc else {
            c.warn(members.first().copied(), None, "segments before the first ORC are not part of an order");
            continue;
        };
        let rxr = members.iter().copied().find(|&i| c.segs[i].name() == "RXR");
        let rxas: Vec<usize> = members.iter().copied().filter(|&i| c.segs[i].name() == "RXA").collect();
        if rxas.is_empty() {
            c.reject(Some(orc_i), None, "ORC without an RXA segment: nothing was administered");
        }
        for (k, &i) in rxas.iter().enumerate() {
            administration(c, orc_i, i, rxr, k + 1, profile);
        }
    }
}

fn administration(c: &mut Conv<'_>, orc_i: usize, i: usize, rxr: Option<usize>, seq: usize, profile: &str) {
    let segs = c.segs;
    let orc = &segs[orc_i];
    let s = &segs[i];
    let Some(med) = dt::codeable(s.field(5).repetition(1)) else {
        c.reject(Some(i), Some(5), "RXA-5 administered code is missing");
        return;
    };
    let Some(start) = c.dtm(i, 3) else {
        c.reject(Some(i), Some(3), "RXA-3 start of administration is missing or invalid (effective[x] is required)");
        return;
    };
    let end = c.dtm(i, 4);
    let effective = match end {
        Some(e) if e != start => json!({ "effectivePeriod": { "start": start, "end": e } }),
        _ => json!({ "effectiveDateTime": start }),
    };
    let status = match s.field(20).as_str() {
        "CP" | "" => "completed",
        "PA" => "in-progress",
        "NA" | "RE" => "not-done",
        _ => "unknown",
    };
    let (route, site, method) = route(c, rxr);
    let note: Vec<Value> = s.field(9).repetitions().map(|r| [r.component(2).as_str(), r.component(1).as_str()].into_iter().find(|t| !t.is_empty()).unwrap_or("")).filter(|t| !t.is_empty()).map(|t| json!({ "text": t })).collect();
    let rp = orc.field(4).as_str();
    let mut ma = json!({
        "identifier": [order_ident(orc.field(2).as_str())],
        "status": status,
        "medicationCodeableConcept": med,
        "subject": c.patient_ref(),
        "performer": s.field(10).repetitions().filter_map(dt::person_ref).map(|r| json!({ "actor": r })).collect::<Vec<_>>(),
        "request": { "identifier": order_ident(orc.field(2).as_str()), "display": rp },
        "note": note,
        "dosage": {
            "text": s.field(12).as_str(),
            "route": route,
            "site": site,
            "method": method,
            "dose": dt::quantity(s.field(6).as_str(), s.field(7).repetition(1)),
        },
    });
    if let Value::Object(m) = effective {
        ma.as_object_mut().expect("invariant: built as an object").extend(m);
    }
    let mut used = vec![orc_i, i];
    used.extend(rxr);
    let id = c.id("madm", &[rp, &seq.to_string()]);
    c.emit("MedicationAdministration", id, profile, ma, &used);
}

fn request_status(orc1: &str, orc5: &str) -> &'static str {
    match (orc1, orc5) {
        ("CA" | "DC" | "OC", _) => "revoked",
        (_, "CM") => "completed",
        (_, "CA") => "revoked",
        _ => "active",
    }
}

/// OML-01: each OBR (with its ORC) → ServiceRequest; the OBX that follow
/// list the ordered tests and become `orderDetail`; SPM gives the specimen type.
pub(crate) fn lab_order_message(c: &mut Conv<'_>) {
    let segs = c.segs;
    let mut spm: Option<usize> = None;
    let mut orc: Option<usize> = None;
    let obrs: Vec<usize> = segs.iter().enumerate().filter(|(_, s)| s.name() == "OBR").map(|(i, _)| i).collect();
    let mut k = 0;
    for (i, s) in segs.iter().enumerate() {
        match s.name() {
            "SPM" => spm = Some(i),
            "ORC" => orc = Some(i),
            "OBR" => {
                k += 1;
                let next = obrs.iter().copied().find(|&j| j > i).unwrap_or(segs.len());
                let obx: Vec<usize> = (i + 1..next).filter(|&j| segs[j].name() == "OBX").collect();
                let Some(code) = dt::codeable(s.field(4).repetition(1)) else {
                    c.reject(Some(i), Some(4), "OBR-4 universal service identifier is missing");
                    continue;
                };
                let details: Vec<Value> = obx.iter().filter_map(|&j| dt::codeable(segs[j].field(3).repetition(1))).collect();
                let o = orc.map(|o| &segs[o]);
                let placer = o.map(|o| o.field(2).as_str()).filter(|v| !v.is_empty()).unwrap_or(s.field(2).as_str());
                let mut used = vec![i];
                used.extend(obx.iter().copied());
                used.extend(orc);
                used.extend(spm);
                let sr = json!({
                    "identifier": [order_ident(placer)],
                    "status": request_status(o.map(|o| o.field(1).as_str()).unwrap_or(""), o.map(|o| o.field(5).as_str()).unwrap_or("")),
                    "intent": "order",
                    "category": [{ "coding": [{ "system": "http://snomed.info/sct", "code": "108252007", "display": "Laboratory procedure" }]}],
                    "code": code,
                    "orderDetail": details,
                    "subject": c.patient_ref(),
                    "authoredOn": orc.and_then(|o| c.dtm(o, 9)),
                    "requester": o.and_then(|o| o.field(12).repetitions().find_map(dt::person_ref)),
                    "note": spm.and_then(|p| dt::codeable(segs[p].field(4).repetition(1))).and_then(|cc| cc["text"].as_str().map(|t| vec![json!({ "text": format!("検体: {t}") })])).unwrap_or_default(),
                });
                let id = c.id("sreq", &[placer, &k.to_string()]);
                c.emit("ServiceRequest", id, "JP_ServiceRequest_Common", sr, &used);
            }
            _ => {}
        }
    }
}

/// OML-11 (OUL^R22): SPM → Specimen; each OBR → DiagnosticReport whose
/// results are the OBX that follow it → Observation (JP lab result).
pub(crate) fn lab_result_message(c: &mut Conv<'_>) {
    let segs = c.segs;
    let mut specimen: Option<(usize, String)> = None;
    // The open OBR group: (OBR index, ORC index, report id, result references, used segments).
    type Group = (usize, Option<usize>, String, Vec<Value>, Vec<usize>);
    let mut report: Option<Group> = None;
    let n = segs.len();
    for i in 0..=n {
        let name = segs.get(i).map(|s| s.name()).unwrap_or("");
        if (name == "OBR" || name == "SPM" || i == n) && report.is_some()
            && let Some((obr, orc, id, results, used)) = report.take() {
                diagnostic_report(c, obr, orc, id, results, used, specimen.as_ref().map(|s| s.1.clone()));
            }
        if i == n {
            break;
        }
        match name {
            "SPM" => {
                let s = &segs[i];
                let ident = [s.field(2).as_str(), s.field(3).as_str()].into_iter().find(|v| !v.is_empty()).unwrap_or("").to_string();
                let set = s.field(1).as_str().to_string();
                let id = c.id("spec", &[&set, &ident]);
                let sp = json!({
                    "identifier": if ident.is_empty() { Value::Null } else { json!([{ "value": ident }]) },
                    "type": dt::codeable(s.field(4).repetition(1)),
                    "subject": c.patient_ref(),
                    "collection": { "collectedDateTime": c.dtm(i, 17) },
                });
                c.emit("Specimen", id.clone(), "JP_Specimen_Common", sp, &[i]);
                specimen = Some((i, id));
            }
            "OBR" => {
                let s = &segs[i];
                let set = s.field(1).as_str();
                let id = c.id("dr", &[set, s.field(2).as_str()]);
                report = Some((i, None, id, Vec::new(), vec![i]));
            }
            "ORC" => {
                if let Some(r) = report.as_mut() {
                    r.1 = Some(i);
                    r.4.push(i);
                }
            }
            "OBX" => {
                let Some(r) = report.as_ref() else {
                    c.warn(Some(i), None, "OBX outside an OBR group is not mapped");
                    continue;
                };
                let (obr, dr_id) = (r.0, r.2.clone());
                if let Some(obs_ref) = lab_observation(c, i, obr, &dr_id, specimen.as_ref().map(|s| s.1.as_str()))
                    && let Some(r) = report.as_mut() {
                        r.3.push(obs_ref);
                        r.4.push(i);
                    }
            }
            _ => {}
        }
    }
}

fn lab_observation(c: &mut Conv<'_>, i: usize, obr: usize, dr_id: &str, specimen: Option<&str>) -> Option<Value> {
    let s = &c.segs[i];
    let Some(code) = dt::codeable(s.field(3).repetition(1)) else {
        c.reject(Some(i), Some(3), "OBX-3 observation identifier is missing");
        return None;
    };
    let value = match obx_value(c, i) {
        Ok(v) => v,
        Err(reason) => {
            c.reject(Some(i), Some(5), reason);
            return None;
        }
    };
    let set = s.field(1).as_str().to_string();
    let id = ids::make("obs", &[dr_id, &set, s.field(3).component(1).as_str()]);
    let effective = c.dtm(i, 14).or_else(|| c.dtm(obr, 7));
    let interpretation: Vec<Value> = s
        .field(8)
        .repetitions()
        .map(|r| r.as_str())
        .filter(|v| !v.is_empty())
        .map(|v| json!({ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", "code": v }]}))
        .collect();
    let mut o = json!({
        "status": match s.field(11).as_str() { "F" => "final", "C" => "corrected", "P" | "R" | "S" => "preliminary", "X" => "cancelled", "D" | "W" => "entered-in-error", "I" | "O" => "registered", _ => "unknown" },
        "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory" }]}],
        "code": code,
        "subject": c.patient_ref(),
        "effectiveDateTime": effective,
        "interpretation": interpretation,
        "referenceRange": reference_range(s.field(7).as_str()).map(|r| vec![r]).unwrap_or_default(),
        "specimen": specimen.map(|sp| json!({ "reference": format!("Specimen/{sp}") })),
    });
    if let Some((k, v)) = value {
        o[k] = v;
    }
    c.emit("Observation", id.clone(), "JP_Observation_LabResult", o, &[i]);
    Some(json!({ "reference": format!("Observation/{id}") }))
}

#[allow(clippy::too_many_arguments)]
fn diagnostic_report(c: &mut Conv<'_>, obr: usize, orc: Option<usize>, id: String, results: Vec<Value>, used: Vec<usize>, specimen: Option<String>) {
    let segs = c.segs;
    let s = &segs[obr];
    let Some(code) = dt::codeable(s.field(4).repetition(1)) else {
        c.reject(Some(obr), Some(4), "OBR-4 universal service identifier is missing");
        return;
    };
    let status = match s.field(25).as_str() {
        "F" => "final",
        "C" => "corrected",
        "P" | "R" | "I" => "preliminary",
        "X" => "cancelled",
        // JAHIS OUL messages often leave OBR-25 empty; results then decide.
        _ => "final",
    };
    let placer = orc.map(|o| segs[o].field(2).as_str()).filter(|v| !v.is_empty()).unwrap_or(s.field(2).as_str());
    let dr = json!({
        "identifier": [
            order_ident(placer),
            if s.field(3).as_str().is_empty() { Value::Null } else { json!({ "value": s.field(3).as_str() }) },
        ],
        "basedOn": if placer.is_empty() { Value::Null } else { json!([{ "type": "ServiceRequest", "identifier": order_ident(placer) }]) },
        "status": status,
        "category": [{ "coding": [{ "system": format!("{V2}0074"), "code": "LAB" }]}],
        "code": code,
        "subject": c.patient_ref(),
        "effectiveDateTime": c.dtm(obr, 7),
        "issued": dt::instant(s.field(22).as_str()),
        "performer": s.field(16).repetitions().find_map(dt::person_ref).map(|r| vec![r]).unwrap_or_default(),
        "specimen": specimen.map(|sp| vec![json!({ "reference": format!("Specimen/{sp}") })]).unwrap_or_default(),
        "result": results,
    });
    c.emit("DiagnosticReport", id, "JP_DiagnosticReport_LabResult", dr, &used);
}

/// OMG-*: every OBR with its ORC → ServiceRequest. ORC groups with the same
/// placer number (NW and PA for one order) update one resource; child orders
/// (ORC-8 parent) point to their parent with basedOn. OBX text values are
/// kept as notes.
pub(crate) fn service_request_message(c: &mut Conv<'_>) {
    let segs = c.segs;
    let mut by_id: BTreeMap<String, (Value, Vec<usize>)> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let performed = matches!(c.data_type.as_str(), "OMG-11" | "OMG-12" | "OMG-13");
    let has_orc = segs.iter().any(|s| s.name() == "ORC");
    let starts: &[&str] = if has_orc { &["ORC"] } else { &["OBR"] };
    for (start, members) in groups(c, starts) {
        let (orc_i, obr_i) = match start {
            Some(o) if has_orc => (Some(o), members.iter().copied().find(|&j| segs[j].name() == "OBR")),
            Some(o) => (None, Some(o)),
            None => (None, None),
        };
        let Some(obr_i) = obr_i else {
            c.warn(orc_i.or(members.first().copied()), None, "no OBR in this order group: no service to request");
            continue;
        };
        let obr = &segs[obr_i];
        let Some(code) = dt::codeable(obr.field(4).repetition(1)) else {
            c.reject(Some(obr_i), Some(4), "OBR-4 universal service identifier is missing");
            continue;
        };
        let o = orc_i.map(|o| &segs[o]);
        let placer = o.map(|o| o.field(2).as_str()).filter(|v| !v.is_empty()).unwrap_or(obr.field(2).as_str()).to_string();
        let parent = o.map(|o| o.field(8).as_str()).filter(|v| !v.is_empty()).unwrap_or(obr.field(29).as_str()).to_string();
        let mut notes = Vec::new();
        let mut used = vec![obr_i];
        used.extend(orc_i);
        for &j in &members {
            let s = &segs[j];
            match s.name() {
                "TQ1" => used.push(j),
                "OBX" if matches!(s.field(2).as_str(), "TX" | "ST" | "FT" | "CWE" | "CE" | "NM") => {
                    if let Ok(Some((_, v))) = obx_value(c, j) {
                        let label = s.field(3).component(2).as_str();
                        let text = match &v {
                            Value::String(t) => t.clone(),
                            Value::Object(m) => m.get("text").and_then(Value::as_str).map(str::to_string)
                                .or_else(|| m.get("value").map(|x| format!("{x} {}", m.get("unit").and_then(Value::as_str).unwrap_or(""))))
                                .unwrap_or_default(),
                            other => other.to_string(),
                        };
                        notes.push(json!({ "text": format!("{label}: {}", text.trim()) }));
                        used.push(j);
                    }
                }
                _ => {}
            }
        }
        let key = if placer.is_empty() { format!("{}", order.len() + 1) } else { placer.clone() };
        let id = c.id("sreq", &[&key]);
        let status = if performed { "completed" } else { request_status(o.map(|o| o.field(1).as_str()).unwrap_or(""), o.map(|o| o.field(5).as_str()).unwrap_or("")) };
        let based_on = if parent.is_empty() || parent == placer {
            Value::Null
        } else {
            json!([{ "reference": format!("ServiceRequest/{}", c.id("sreq", &[&parent])) }])
        };
        let sr = json!({
            "identifier": [order_ident(&placer)],
            "basedOn": based_on,
            "status": status,
            "intent": "order",
            "category": [{ "coding": [{ "system": "urn:medtwin:ssmix2:data-type", "code": c.data_type }]}],
            "code": code,
            "subject": c.patient_ref(),
            "occurrenceDateTime": c.dtm(obr_i, 7),
            "authoredOn": orc_i.and_then(|o| c.dtm(o, 9)),
            "requester": o.and_then(|o| o.field(12).repetitions().find_map(dt::person_ref))
                .or_else(|| obr.field(16).repetitions().find_map(dt::person_ref)),
            "note": notes,
        });
        if !by_id.contains_key(&id) {
            order.push(id.clone());
        }
        let entry = by_id.entry(id).or_insert((Value::Null, Vec::new()));
        // A later group for the same order (PA after NW) completes the earlier one.
        entry.0 = merge(std::mem::take(&mut entry.0), sr);
        entry.1.extend(used);
    }
    for id in order {
        if let Some((sr, used)) = by_id.remove(&id) {
            c.emit("ServiceRequest", id, "JP_ServiceRequest_Common", sr, &used);
        }
    }
}

/// Shallow merge: keys of `b` win, except that notes accumulate.
fn merge(a: Value, b: Value) -> Value {
    let (mut a, b) = match (a, b) {
        (Value::Object(a), Value::Object(b)) => (a, b),
        (_, b) => return b,
    };
    for (k, v) in b {
        if k == "note" {
            let mut notes = a.remove("note").and_then(|n| n.as_array().cloned()).unwrap_or_default();
            for n in v.as_array().cloned().unwrap_or_default() {
                if !notes.contains(&n) {
                    notes.push(n);
                }
            }
            a.insert(k, Value::Array(notes));
        } else if !(v.is_null() || v.as_array().is_some_and(|x| x.is_empty()) || v.as_str().is_some_and(str::is_empty)) {
            a.insert(k, v);
        }
    }
    Value::Object(a)
}
