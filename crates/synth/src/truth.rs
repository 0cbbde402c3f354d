//! `truth.json` (every parameter, the geography and flows used, the built-in
//! studies' design and the case-report findings table) and the data set's README.

use crate::casereport::DISEASES;
use crate::codes::{lab, system};
use crate::facility::FacilityKind;
use crate::output::Summary;
use crate::{Config, Region, World};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn region_name(r: Region) -> &'static str {
    match r {
        Region::Mie => "mie",
        Region::Japan => "japan",
    }
}

/// The truth document.
pub fn truth_json(cfg: &Config, w: &World, s: &Summary, flows: &BTreeMap<(usize, usize), u64>) -> Value {
    let areas: Vec<Value> = w
        .geo
        .areas
        .iter()
        .map(|a| {
            json!({
                "code": a.code, "name": a.name, "pref_code": a.pref_code, "pref_name": a.pref_name,
                "population_2020": a.population, "resident": a.resident,
                "iryoken2": a.iryoken2.as_ref().map(|(c, n)| json!({ "code": c, "name": n })),
                "municipalities": a.municipalities.iter().map(|m| json!({ "code": m.code6, "name": m.name, "population_2020": m.population })).collect::<Vec<_>>()
            })
        })
        .collect();
    let mut flow = Vec::new();
    for (i, dests) in w.geo.acute_flow.iter().enumerate() {
        if !w.geo.areas[i].resident {
            continue;
        }
        for (k, (j, p)) in dests.iter().enumerate() {
            let published = w.geo.acute_flow_published[i].get(k).map(|x| x.1);
            flow.push(json!({
                "from": w.geo.areas[i].code, "to": w.geo.areas[*j].code,
                "published_outflow_rate": published, "probability": p,
                "observed_emergency_admissions": flows.get(&(i, *j)).copied().unwrap_or(0)
            }));
        }
    }
    let count = |k: FacilityKind| w.facilities.list.iter().filter(|f| f.kind == k).count();
    let diseases: Vec<Value> = DISEASES
        .iter()
        .map(|d| {
            json!({
                "key": d.key, "name": d.name, "icd10": d.icd10, "department": d.dept.name,
                "chief_complaint": d.chief, "onset": d.onset,
                "symptoms": d.symptoms, "signs": d.signs,
                "lab_abnormalities": d.labs.iter().map(|(k, lo, hi)| {
                    let l = lab(k);
                    json!({ "lab": k, "name": l.name, "jlac10": l.jlac10, "unit": l.unit, "range": [lo, hi],
                            "direction": if *lo >= l.normal.1 { "high" } else { "low" } })
                }).collect::<Vec<_>>(),
                "negated_findings": d.negatives.iter().map(|n| json!({ "finding": n, "text": format!("{n}なし") })).collect::<Vec<_>>(),
                "imaging": d.imaging, "treatment": d.treatment,
                "length_of_stay_days": [d.los.0, d.los.1], "in_hospital_fatality_at_75": d.fatality_at_75,
                "relative_frequency_other_acute": d.weight, "min_age": d.min_age
            })
        })
        .collect();
    json!({
        "generator": "medtwin-synth",
        "version": env!("CARGO_PKG_VERSION"),
        "seed": cfg.seed,
        "patients": cfg.patients,
        "region": region_name(cfg.region),
        "years": [cfg.years.0, cfg.years.1],
        "period": { "start": w.start.iso(), "end": w.end.iso() },
        "timing_rule": "hazards are per person-month, evaluated on the state at the first day of each month (age in whole years on that day, conditions with onset before it); p = 1 - exp(-rate/12)",
        "identifiers": {
            "patient": { "system": system::MEDTWIN_PERSON, "facility_local_prefix": system::PATIENT_ID_PREFIX },
            "address_municipality_extension": { "url": system::EXT_MUNICIPALITY, "value": "valueCode: 6-digit 全国地方公共団体コード (5 digits + check digit); present when the municipality is known (三重県)" },
            "address_area_extension": { "url": system::EXT_AREA, "value": "valueCode: 4-digit 構想区域 code" },
            "encounter_nyha_extension": { "url": system::EXT_NYHA, "value": "valueCodeableConcept: SNOMED CT NYHA class" }
        },
        "params": cfg.params,
        "geography": { "areas": areas, "acute_flow": flow },
        "facilities": { "hospitals": count(FacilityKind::Hospital), "clinics": count(FacilityKind::Clinic), "dental_clinics": count(FacilityKind::Dental), "practitioners": w.facilities.practitioners.len() },
        "studies": {
            "pci_cohort": {
                "description": "First PCI (ACS or CCS) in the period, discharged alive on a statin; high vs moderate intensity chosen by params.pci.ps (logistic); MI and stroke hazards params.pci.base_* × exp(params.pci.mi/stroke · x) × true HR if high; follow-up ends at params.pci.followup_years, end of data, death or loss to follow-up (the patient leaves the data set)",
                "true_hazard_ratio_high_vs_moderate": { "myocardial_infarction": cfg.params.pci.hr_mi_high_vs_moderate, "stroke": cfg.params.pci.hr_stroke_high_vs_moderate },
                "high_intensity_regimens": ["アトルバスタチン 20 mg", "ロスバスタチン 10 mg", "ピタバスタチン 4 mg"],
                "moderate_intensity_regimens": ["アトルバスタチン 10 mg", "ロスバスタチン 2.5 mg", "ピタバスタチン 2 mg"],
                "truth_file": "truth_pci_cohort.ndjson",
                "members": s.pci_cohort
            },
            "heart_failure": {
                "description": "Admissions for heart failure: first admission = acute (de novo) type, readmissions of known chronic heart failure = chronic type; NYHA class drawn from params.hf.nyha_distribution; in-hospital and 30-day (from admission) death logistic in NYHA class and age (reference age 75)",
                "truth_file": "truth_hf_admissions.ndjson",
                "admissions": s.hf_admissions
            },
            "case_reports": {
                "description": "DocumentReference (LOINC 18842-5) with a Japanese case report (主訴, 現病歴, 検査所見, 経過) for a fraction params.case_report_fraction of acute admissions, written from this table; negated findings appear as 「…なし」",
                "diseases": diseases,
                "reports": s.case_reports
            }
        },
        "observed": s
    })
}

/// The README of a generated data set.
pub fn readme(cfg: &Config, w: &World, s: &Summary) -> String {
    let mut by_type = String::new();
    for (t, n) in &s.resources_by_type {
        by_type.push_str(&format!("| {t} | {n} |\n"));
    }
    format!(
        "# medtwin synthetic data set\n\n\
Synthetic (not real) residents of {region} over {y0}-{y1}, seed {seed}, {n} people, generated by medtwin-synth {ver}.\n\
All outputs describe the same people and events.\n\n\
| output | content |\n|---|---|\n\
| `fhir/<Type>.ndjson` | FHIR R4 resources, JP Core profiles (`meta.profile`), one JSON per line |\n\
| `ssmix2/<facility code>/…` | SS-MIX2 standardized storage per hospital, HL7 v2.5 in ISO-2022-JP |\n\
| `uke/<facility code>/<YYYYMM>/RECEIPTC.UKE` | monthly claims per facility, レセプト電算 records in Shift_JIS |\n\
| `truth.json` | every parameter, the geography and patient flows used, study designs, the case-report findings table |\n\
| `truth_pci_cohort.ndjson` | per PCI-cohort member: confounders, true propensity, statin intensity, outcomes, censoring |\n\
| `truth_hf_admissions.ndjson` | per heart-failure admission: NYHA class, type, deaths and their model probabilities |\n\n\
Facilities: {hosp} hospitals, {clin} clinics, {dent} dental clinics. Encounters: {enc}. Deaths: {deaths}. PCI cohort: {pci}. Heart-failure admissions: {hf}. Case reports: {cr}.\n\n\
| FHIR type | resources |\n|---|---|\n{by_type}\n\
Addresses carry the 6-digit 全国地方公共団体コード in the extension `{ext_m}` (valueCode) and the 構想区域 code in `{ext_a}`.\n\n\
Geography: 出典：厚生労働省「2040年に向けた地域医療構想」公表データを加工して作成; 三重県の構想区域・構成市町は三重県医療政策課「第８次三重県医療計画における二次医療圏の設定について」より.\n\
Codes: JLAC10 analyte codes follow the JP-CLINS core list; YJ brand digits, 9-digit レセ電 codes and insurer numbers are synthetic (check digits are computed as in the real schemes).\n",
        region = match cfg.region {
            Region::Mie => "三重県 (8 構想区域, 29 市町)",
            Region::Japan => "Japan (339 構想区域)",
        },
        y0 = cfg.years.0,
        y1 = cfg.years.1,
        seed = cfg.seed,
        n = cfg.patients,
        ver = env!("CARGO_PKG_VERSION"),
        hosp = w.facilities.list.iter().filter(|f| f.kind == FacilityKind::Hospital).count(),
        clin = w.facilities.list.iter().filter(|f| f.kind == FacilityKind::Clinic).count(),
        dent = w.facilities.list.iter().filter(|f| f.kind == FacilityKind::Dental).count(),
        enc = s.encounters,
        deaths = s.deaths,
        pci = s.pci_cohort,
        hf = s.hf_admissions,
        cr = s.case_reports,
        ext_m = system::EXT_MUNICIPALITY,
        ext_a = system::EXT_AREA,
    )
}
