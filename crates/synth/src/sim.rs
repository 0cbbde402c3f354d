//! One person's life over the study period, simulated month by month: who they
//! are (sex, age, name, address, insurance), which chronic conditions they have
//! or develop, which acute events happen to them, where they are treated, and
//! what is recorded at each encounter (diagnoses, labs, vital signs,
//! prescriptions, procedures, case reports). The result is a plain
//! [`Person`] that the writers turn into FHIR, SS-MIX2 and UKE.
//!
//! Timing rule (relied on by the calibration tests): in each month the hazards
//! are evaluated on the state at the first day of the month, every event of the
//! month is drawn from that state, and a background death drawn in the month
//! falls after that month's events.

use crate::casereport::{self, Disease, LabValue, Report, DISEASES};
use crate::date::Date;
use crate::facility::{dept, draw_name, mod10_w21, Dept};
use crate::names::TOWNS;
use crate::params::{Cond, Params};
use crate::rng::{stream, Alias, Rng};
use crate::studies::hf::{self, HfAdmission};
use crate::studies::pci::{self, Covariates};
use crate::World;

/// Insurance scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// 国民健康保険 (municipal).
    Kokuho,
    /// 被用者保険 (employee: 協会けんぽ, 組合, 共済).
    Employee,
    /// 後期高齢者医療制度 (75 and over).
    Kouki,
}

/// One insurance period.
#[derive(Debug, Clone)]
pub struct Coverage {
    /// Scheme.
    pub scheme: Scheme,
    /// 保険者番号 (6 or 8 digits).
    pub insurer: String,
    /// 記号.
    pub symbol: String,
    /// 番号.
    pub number: String,
    /// 枝番.
    pub branch: String,
    /// First day.
    pub start: Date,
    /// Last day (None: still valid at the end of the period).
    pub end: Option<Date>,
    /// Insurer's display name.
    pub insurer_name: String,
}

/// A diagnosis (Condition).
#[derive(Debug, Clone)]
pub struct CondRec {
    /// Key: a [`Cond`] key or a case-report disease key or a history key.
    pub key: &'static str,
    /// Japanese name.
    pub name: &'static str,
    /// ICD-10.
    pub icd10: &'static str,
    /// Onset date.
    pub onset: Date,
    /// Resolution date (acute conditions).
    pub abatement: Option<Date>,
    /// Encounter (sequence number) where it was diagnosed, if any.
    pub encounter: Option<u32>,
}

/// A prescription.
#[derive(Debug, Clone)]
pub struct MedOrder {
    /// Drug key (see [`crate::codes::DRUGS`]).
    pub drug: &'static str,
    /// Days supplied.
    pub days: u32,
}

/// An encounter.
#[derive(Debug, Clone)]
pub struct Encounter {
    /// Sequence number within the person.
    pub seq: u32,
    /// Inpatient stay (else ambulatory).
    pub inpatient: bool,
    /// Emergency admission.
    pub emergency: bool,
    /// Facility index.
    pub facility: usize,
    /// Department.
    pub dept: Dept,
    /// Practitioner index.
    pub practitioner: usize,
    /// Start.
    pub start: Date,
    /// End (same day for visits).
    pub end: Date,
    /// Conditions addressed (indices into `Person::conditions`); the first is the reason.
    pub diagnoses: Vec<usize>,
    /// Laboratory results (drawn on the start day).
    pub labs: Vec<LabValue>,
    /// Vital signs (key, value).
    pub vitals: Vec<(&'static str, f64)>,
    /// Prescriptions (at discharge for stays).
    pub meds: Vec<MedOrder>,
    /// Procedures and fee items beyond the basic visit fee (keys into [`crate::codes::FEES`]) with day offsets.
    pub procedures: Vec<(&'static str, i32)>,
    /// Died during the stay.
    pub died: bool,
    /// Case report.
    pub report: Option<Report>,
    /// Heart-failure admission details.
    pub hf: Option<HfAdmission>,
    /// Statin intensity prescribed at discharge after PCI (true: high).
    pub statin_high: Option<bool>,
    /// First visit of this person at this facility (初診).
    pub first_visit: bool,
}

/// Truth about one PCI cohort member.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PciTruth {
    /// Index date (discharge after PCI).
    pub index_date: String,
    /// Encounter id of the index admission.
    pub index_encounter: String,
    /// Confounders.
    pub covariates: Covariates,
    /// True propensity score.
    pub propensity: f64,
    /// High-intensity statin.
    pub high_intensity: bool,
    /// Statin drug key.
    pub statin: String,
    /// First MI within follow-up.
    pub mi_date: Option<String>,
    /// First stroke within follow-up.
    pub stroke_date: Option<String>,
    /// End of follow-up.
    pub end_date: String,
    /// Why follow-up ended: horizon, end_of_data, death, lost.
    pub end_reason: String,
    /// True yearly hazards (MI, stroke) for this patient and treatment.
    pub hazards_per_year: (f64, f64),
}

/// Truth about one heart-failure admission.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HfTruth {
    /// Encounter id.
    pub encounter: String,
    /// Age at admission.
    pub age: i32,
    /// NYHA class 1-4.
    pub nyha: usize,
    /// De novo (acute) type.
    pub acute: bool,
    /// Died in hospital.
    pub died_in_hospital: bool,
    /// Died within 30 days of admission.
    pub died_30d: bool,
    /// Model probability of in-hospital death.
    pub p_in_hospital: f64,
    /// Model probability of death within 30 days.
    pub p_30d: f64,
}

/// A simulated person.
#[derive(Debug, Clone)]
pub struct Person {
    /// Index in the run.
    pub index: u64,
    /// 10-digit patient number (same at every facility in this synthetic world).
    pub pid: String,
    /// Male.
    pub male: bool,
    /// Birth date.
    pub birth: Date,
    /// (family, given) kanji.
    pub kanji: (String, String),
    /// (family, given) katakana.
    pub kana: (String, String),
    /// Zone index.
    pub area: usize,
    /// Municipality index in the zone.
    pub muni: Option<usize>,
    /// Street part of the address.
    pub street: String,
    /// Phone number.
    pub phone: String,
    /// Height (cm).
    pub height: f64,
    /// BMI.
    pub bmi: f64,
    /// Death date.
    pub death: Option<Date>,
    /// Date the person left the data set (moved away), if so.
    pub left: Option<Date>,
    /// Insurance periods.
    pub coverages: Vec<Coverage>,
    /// Conditions.
    pub conditions: Vec<CondRec>,
    /// Encounters in date order.
    pub encounters: Vec<Encounter>,
    /// Drug allergy (substance name, SNOMED code), if any.
    pub allergy: Option<(&'static str, &'static str)>,
    /// PCI cohort truth.
    pub pci: Option<PciTruth>,
    /// Heart-failure admissions truth.
    pub hf: Vec<HfTruth>,
    /// Per-month at-risk bookkeeping is not stored; tests rebuild it from the output.
    pub home_clinic: usize,
}

impl Person {
    /// Encounter id.
    pub fn enc_id(&self, seq: u32) -> String {
        format!("enc-{}-{seq}", self.pid)
    }
    /// Facilities visited, in first-visit order.
    pub fn facilities(&self) -> Vec<usize> {
        let mut v: Vec<usize> = Vec::new();
        for e in &self.encounters {
            if !v.contains(&e.facility) {
                v.push(e.facility);
            }
        }
        v
    }
    /// Whether the person had a condition key with onset before `d`.
    pub fn has_before(&self, key: &str, d: Date) -> bool {
        self.conditions.iter().any(|c| c.key == key && c.onset < d)
    }
}

/// A 10-digit patient number from the index: a bijection on 0..10^10 (the
/// multiplier is odd and not a multiple of 5), so ids never collide.
pub fn patient_number(seed: u64, index: u64) -> String {
    let m: u128 = 10_000_000_000;
    let x = (index as u128 * 7_919_000_003u128 + (seed as u128 % m) + 1_000_000_000) % m;
    format!("{x:010}")
}

const ALLERGIES: &[(&str, &str)] = &[
    ("ペニシリン系抗菌薬", "373270004"),
    ("セフェム系抗菌薬", "373262009"),
    ("ロキソプロフェン", "386832008"),
    ("ヨード造影剤", "293637006"),
];

struct Ctx<'a> {
    w: &'a World,
    p: &'a Params,
    rng: Rng,
    person: Person,
    /// Chronic/first-event states: onset dates.
    state: std::collections::HashMap<Cond, Date>,
    /// Date until which the person is in hospital.
    busy_until: Date,
    visited: Vec<usize>,
    /// PCI follow-up: (end of horizon, high, hazards, mi seen, stroke seen).
    followup: Option<(Date, (f64, f64), bool, bool)>,
    pci_done: bool,
    weighed_year: i32,
}

fn disease_for(c: Cond) -> &'static Disease {
    casereport::disease(match c {
        Cond::Acs => "acs",
        Cond::Ccs => "ccs",
        Cond::Stroke => "stroke",
        Cond::HeartFailure => "hf",
        Cond::Pneumonia => "pneumonia",
        Cond::GastricCancer => "gastric_cancer",
        _ => "acs",
    })
}

impl<'a> Ctx<'a> {
    fn age(&self, d: Date) -> i32 {
        self.person.birth.age_on(d)
    }

    fn has(&self, c: Cond, before: Date) -> bool {
        self.state.get(&c).is_some_and(|d| *d < before)
    }

    fn add_condition(&mut self, key: &'static str, name: &'static str, icd10: &'static str, onset: Date, abatement: Option<Date>, enc: Option<u32>) -> usize {
        self.person.conditions.push(CondRec { key, name, icd10, onset, abatement, encounter: enc });
        self.person.conditions.len() - 1
    }

    fn add_cond(&mut self, c: Cond, onset: Date, enc: Option<u32>) -> usize {
        let abatement = if c.is_chronic() || c == Cond::GastricCancer { None } else { Some(onset.plus(30)) };
        self.add_condition(c.key(), c.name_ja(), c.icd10(), onset, abatement, enc)
    }

    fn practitioner(&mut self, facility: usize, d: Dept) -> usize {
        let pick = self.rng.next_u64();
        self.w.facilities.list[facility].practitioner_for(d, &self.w.facilities.practitioners, pick)
    }

    fn new_encounter(&mut self, facility: usize, d: Dept, start: Date, end: Date, inpatient: bool) -> Encounter {
        let fac = &self.w.facilities.list[facility];
        let d = fac.dept_or_first(d);
        let first = !self.visited.contains(&facility);
        if first {
            self.visited.push(facility);
        }
        let practitioner = self.practitioner(facility, d);
        Encounter {
            seq: self.person.encounters.len() as u32 + 1,
            inpatient,
            emergency: false,
            facility,
            dept: d,
            practitioner,
            start,
            end,
            diagnoses: Vec::new(),
            labs: Vec::new(),
            vitals: Vec::new(),
            meds: Vec::new(),
            procedures: Vec::new(),
            died: false,
            report: None,
            hf: None,
            statin_high: None,
            first_visit: first,
        }
    }

    fn chronic_list(&self, before: Date) -> Vec<Cond> {
        [Cond::Hypertension, Cond::Diabetes, Cond::Dyslipidemia, Cond::Ckd, Cond::HeartFailure]
            .into_iter()
            .filter(|c| self.has(*c, before))
            .collect()
    }

    fn chronic_meds(&self, before: Date) -> Vec<MedOrder> {
        let mut meds = Vec::new();
        let days = (self.p.followup_interval_months * 30).clamp(14, 90) as u32;
        for c in self.chronic_list(before) {
            let ds: &[&'static str] = match c {
                Cond::Hypertension => &["amlodipine5"],
                Cond::Diabetes => &["metformin250"],
                Cond::Dyslipidemia => &[],
                Cond::HeartFailure => &["furosemide20", "carvedilol2.5"],
                _ => &[],
            };
            for d in ds {
                meds.push(MedOrder { drug: d, days });
            }
        }
        // Statin: the post-PCI choice if any, otherwise a standard statin for dyslipidaemia.
        let statin = self.person.pci.as_ref().map(|p| p.statin.clone());
        match statin {
            Some(s) => meds.push(MedOrder { drug: crate::codes::drug(&s).key, days }),
            None if self.has(Cond::Dyslipidemia, before) => meds.push(MedOrder { drug: "pitavastatin2", days }),
            None => {}
        }
        if self.person.pci.is_some() {
            meds.push(MedOrder { drug: "aspirin100", days });
        }
        meds
    }

    /// Vital signs: blood pressure at every visit, weight at the first visit of
    /// a year, pulse, temperature and SpO2 when the patient is acutely ill.
    fn vitals(&mut self, enc: &mut Encounter, sick: bool) {
        let htn = self.has(Cond::Hypertension, enc.start);
        let sbp = self.rng.gauss(if htn { 138.0 } else { 122.0 }, 12.0).round();
        let dbp = (sbp * 0.6 + self.rng.gauss(0.0, 6.0)).round();
        enc.vitals.push(("sbp", sbp));
        enc.vitals.push(("dbp", dbp));
        let year = enc.start.to_ymd().0;
        if sick || self.weighed_year != year {
            self.weighed_year = year;
            let w = self.person.bmi * (self.person.height / 100.0).powi(2) + self.rng.gauss(0.0, 0.8);
            enc.vitals.push(("weight", (w * 10.0).round() / 10.0));
        }
        if sick {
            enc.vitals.push(("hr", self.rng.gauss(92.0, 10.0).round()));
            enc.vitals.push(("temp", (self.rng.gauss(37.4, 0.7) * 10.0).round() / 10.0));
            enc.vitals.push(("spo2", self.rng.gauss(95.0, 2.0).clamp(82.0, 100.0).round()));
        }
    }

    fn chronic_labs(&mut self, enc: &mut Encounter, visit_no: u32) {
        let d = enc.start;
        let dm = self.has(Cond::Diabetes, d);
        let dl = self.has(Cond::Dyslipidemia, d);
        let ckd = self.has(Cond::Ckd, d);
        let hfc = self.has(Cond::HeartFailure, d);
        let age = self.age(d);
        if dm {
            let v = self.rng.gauss(7.2, 0.8).clamp(5.6, 12.0);
            enc.labs.push(LabValue { key: "hba1c", value: v });
            if visit_no % 2 == 0 {
                enc.labs.push(LabValue { key: "glu", value: (v * 20.0 + self.rng.gauss(0.0, 15.0)).max(80.0) });
            }
        }
        if dl && visit_no % 4 == 0 {
            let on_high = self.person.pci.as_ref().is_some_and(|p| p.high_intensity);
            let on_statin = self.person.pci.is_some() || dl;
            let mean = if on_high { 80.0 } else if on_statin { 105.0 } else { 150.0 };
            enc.labs.push(LabValue { key: "ldl", value: self.rng.gauss(mean, 18.0).max(40.0) });
            enc.labs.push(LabValue { key: "hdl", value: self.rng.gauss(55.0, 12.0).max(25.0) });
            enc.labs.push(LabValue { key: "tg", value: self.rng.gauss(140.0, 50.0).max(40.0) });
        }
        if visit_no % 4 == 0 || (ckd && visit_no % 2 == 0) {
            // Creatinine and eGFR (JSN equation) consistent with each other.
            let egfr = if ckd { self.rng.gauss(45.0, 9.0).clamp(12.0, 59.0) } else { self.rng.gauss(100.0 - 0.7 * age as f64, 10.0).clamp(60.0, 120.0) };
            let female = if self.person.male { 1.0 } else { 0.739 };
            let cre = (egfr / (194.0 * (age.max(18) as f64).powf(-0.287) * female)).powf(-1.0 / 1.094);
            enc.labs.push(LabValue { key: "cre", value: cre });
            enc.labs.push(LabValue { key: "egfr", value: egfr });
            enc.labs.push(LabValue { key: "plt", value: self.rng.gauss(23.0, 5.0).clamp(8.0, 45.0) });
        }
        if hfc && visit_no % 2 == 1 {
            enc.labs.push(LabValue { key: "bnp", value: self.rng.gauss(5.3, 0.7).exp() });
        }
    }

    fn chronic_visit(&mut self, d: Date, visit_no: u32) {
        let clinic = self.person.home_clinic;
        let mut enc = self.new_encounter(clinic, dept::INTERNAL, d, d, false);
        for c in self.chronic_list(d.plus(1)) {
            let idx = self.person.conditions.iter().position(|x| x.key == c.key()).unwrap_or(0);
            enc.diagnoses.push(idx);
        }
        self.vitals(&mut enc, false);
        self.chronic_labs(&mut enc, visit_no);
        enc.meds = self.chronic_meds(d.plus(1));
        enc.procedures.push(("lifestyle_mgmt", 0));
        self.person.encounters.push(enc);
    }

    fn minor_visit(&mut self, d: Date) {
        let clinic = self.person.home_clinic;
        let mut enc = self.new_encounter(clinic, dept::INTERNAL, d, d, false);
        let (key, name, icd, drug) = match self.rng.below(3) {
            0 => ("urti", "急性上気道炎", "J069", "acetaminophen200"),
            1 => ("bronchitis", "急性気管支炎", "J209", "carbocisteine500"),
            _ => ("gastroenteritis_minor", "急性胃腸炎", "A09", "acetaminophen200"),
        };
        let ci = self.add_condition(key, name, icd, d, Some(d.plus(7)), Some(enc.seq));
        enc.diagnoses.push(ci);
        self.vitals(&mut enc, true);
        enc.meds.push(MedOrder { drug, days: 5 });
        self.person.encounters.push(enc);
    }

    fn dental_visit(&mut self, d: Date) {
        let list = &self.w.facilities.dental_by_area[self.person.area];
        if list.is_empty() {
            return;
        }
        let f = list[(self.person.index as usize + 7) % list.len()];
        let mut enc = self.new_encounter(f, dept::DENTAL, d, d, false);
        let (key, name, icd, proc_) = if self.rng.chance(0.5) {
            ("caries", "う蝕", "K029", "filling")
        } else {
            ("periodontitis", "慢性歯周炎", "K053", "scaling")
        };
        let ci = self.add_condition(key, name, icd, d, Some(d.plus(30)), Some(enc.seq));
        enc.diagnoses.push(ci);
        enc.procedures.push((proc_, 0));
        self.person.encounters.push(enc);
    }

    /// Chooses the hospital for acute care: destination zone from the published
    /// outflow rates, then a hospital there (PCI-capable for coronary care).
    fn acute_hospital(&mut self, coronary: bool) -> usize {
        let flows = &self.w.geo.acute_flow[self.person.area];
        let weights: Vec<f64> = flows.iter().map(|x| x.1).collect();
        let dest = flows[self.rng.weighted(&weights)].0;
        let (list, alias) = if coronary { &self.w.facilities.pci_by_area[dest] } else { &self.w.facilities.hospitals_by_area[dest] };
        list[alias.sample(&mut self.rng)]
    }

    /// An acute admission for a disease; returns the encounter index and whether the patient died.
    fn admit(&mut self, c: Option<Cond>, d: &'static Disease, day: Date, forced_death: Option<i32>, los_override: Option<i32>) -> (usize, bool) {
        let coronary = matches!(c, Some(Cond::Acs) | Some(Cond::Ccs));
        let hosp = self.acute_hospital(coronary);
        let age = self.age(day);
        let los = los_override.unwrap_or_else(|| self.rng.range(d.los.0 as i64, d.los.1 as i64) as i32);
        let fatality = match c.and_then(|c| self.p.case_fatality_of(c)) {
            Some(cf) => cf.prob(age),
            None => crate::params::CaseFatality { at_75: d.fatality_at_75.max(1e-4), or_per_decade: 1.5 }.prob(age),
        };
        let death_day = match forced_death {
            Some(x) => Some(x),
            None if forced_death.is_none() && los_override.is_none() && self.rng.chance(fatality) => Some(self.rng.range(1, los as i64) as i32),
            None => None,
        };
        let end = day.plus(death_day.unwrap_or(los));
        let mut enc = self.new_encounter(hosp, d.dept, day, end, true);
        enc.emergency = !matches!(c, Some(Cond::Ccs) | Some(Cond::GastricCancer));
        let ci = match c {
            Some(c) => self.add_cond(c, day, Some(enc.seq)),
            None => self.add_condition(d.key, d.name, d.icd10, day, if death_day.is_some() { None } else { Some(end) }, Some(enc.seq)),
        };
        enc.diagnoses.push(ci);
        for cc in self.chronic_list(day) {
            if let Some(idx) = self.person.conditions.iter().position(|x| x.key == cc.key()) {
                enc.diagnoses.push(idx);
            }
        }
        enc.labs = casereport::draw_labs(d, &mut self.rng);
        self.vitals(&mut enc, true);
        enc.procedures.push(("admission_basic", 0));
        enc.died = death_day.is_some();
        if self.rng.chance(self.p.case_report_fraction) {
            enc.report = Some(casereport::write(d, age, self.person.male, &enc.labs, los, death_day));
        }
        if let Some(dd) = death_day {
            self.person.death = Some(day.plus(dd));
        }
        self.busy_until = end;
        self.person.encounters.push(enc);
        (self.person.encounters.len() - 1, death_day.is_some())
    }

    fn covariates(&self, day: Date, acs: bool) -> Covariates {
        Covariates {
            age: self.age(day),
            female: !self.person.male,
            bmi: (self.person.bmi * 10.0).round() / 10.0,
            dyslipidemia: self.has(Cond::Dyslipidemia, day.plus(1)),
            diabetes: self.has(Cond::Diabetes, day.plus(1)),
            hypertension: self.has(Cond::Hypertension, day.plus(1)),
            prior_pci: self.person.has_before("history_pci", day),
            prior_cabg: self.person.has_before("history_cabg", day),
            prior_stroke: self.person.has_before("stroke", day) || self.person.has_before("history_stroke", day),
            ckd3: self.has(Cond::Ckd, day.plus(1)),
            acs,
            year: day.to_ymd().0,
        }
    }

    /// Coronary event: ACS (emergency, PCI in most) or CCS (elective PCI or CABG).
    fn coronary(&mut self, c: Cond, day: Date) {
        let d = disease_for(c);
        let (ei, died) = self.admit(Some(c), d, day, None, None);
        let enc_start = self.person.encounters[ei].start;
        let lab_ecg = ("ecg", 0);
        self.person.encounters[ei].procedures.push(lab_ecg);
        let revasc = if c == Cond::Acs {
            if self.rng.chance(self.p.pci.pci_for_acs) { Some("pci") } else { None }
        } else if self.rng.chance(self.p.pci.cabg_for_ccs) {
            Some("cabg")
        } else {
            Some("pci")
        };
        if let Some(r) = revasc {
            self.person.encounters[ei].procedures.push((r, if c == Cond::Acs { 0 } else { 1 }));
        }
        if died {
            return;
        }
        let end = self.person.encounters[ei].end;
        let mut meds = vec![MedOrder { drug: "aspirin100", days: 30 }, MedOrder { drug: "lansoprazole15", days: 30 }];
        if revasc == Some("pci") {
            meds.push(MedOrder { drug: "prasugrel3.75", days: 30 });
        }
        let cohort = revasc == Some("pci") && !self.pci_done && self.followup.is_none();
        if cohort && self.rng.chance(self.p.pci.statin_prescribed) {
            self.pci_done = true;
            let x = self.covariates(enc_start, c == Cond::Acs);
            let ps = pci::propensity(&self.p.pci, &x);
            let high = self.rng.chance(ps);
            let statin = if high {
                *self.rng.pick(&["atorvastatin10x2", "rosuvastatin5x2", "pitavastatin4"])
            } else {
                *self.rng.pick(&["atorvastatin10", "rosuvastatin2.5", "pitavastatin2"])
            };
            meds.push(MedOrder { drug: statin, days: 30 });
            self.person.encounters[ei].statin_high = Some(high);
            let hz = pci::hazards(&self.p.pci, &x, high);
            let horizon = end.plus((self.p.pci.followup_years * 365.25).round() as i32);
            self.followup = Some((horizon, hz, false, false));
            let enc_id = self.person.enc_id(self.person.encounters[ei].seq);
            self.person.pci = Some(PciTruth {
                index_date: end.iso(),
                index_encounter: enc_id,
                covariates: x,
                propensity: ps,
                high_intensity: high,
                statin: statin.to_string(),
                mi_date: None,
                stroke_date: None,
                end_date: String::new(),
                end_reason: String::new(),
                hazards_per_year: hz,
            });
        } else if self.has(Cond::Dyslipidemia, day) || revasc.is_some() {
            meds.push(MedOrder { drug: "pitavastatin2", days: 30 });
        }
        self.person.encounters[ei].meds = meds;
        if revasc == Some("pci") && !self.person.has_before("history_pci", end.plus(1)) {
            self.add_condition("history_pci", "冠動脈ステント留置後", "Z955", end, None, None);
        }
        if revasc == Some("cabg") {
            self.add_condition("history_cabg", "冠動脈バイパス術後", "Z951", end, None, None);
        }
    }

    fn hf_admission(&mut self, day: Date, first: bool) {
        let age = self.age(day);
        let a = hf::admit(&self.p.hf, &mut self.rng, age, first);
        let d = casereport::disease("hf");
        let forced = if a.died_in_hospital { a.death_day } else { None };
        let (ei, died) = self.admit(if first { Some(Cond::HeartFailure) } else { None }, d, day, forced, Some(a.los_days));
        if !first {
            // Decompensation of known chronic heart failure: diagnose against the chronic condition.
            let idx = self.person.conditions.iter().position(|x| x.key == "heart_failure");
            if let Some(idx) = idx {
                let e = &mut self.person.encounters[ei];
                let pushed = e.diagnoses.remove(0);
                // The admission added a generic condition row; drop it in favour of the chronic one.
                self.person.conditions.remove(pushed);
                let idx = if idx > pushed { idx - 1 } else { idx };
                let e = &mut self.person.encounters[ei];
                e.diagnoses.retain(|&x| x != idx);
                e.diagnoses.insert(0, idx);
            }
        }
        self.person.encounters[ei].hf = Some(a);
        if !died {
            self.person.encounters[ei].meds = vec![
                MedOrder { drug: "furosemide20", days: 14 },
                MedOrder { drug: "carvedilol2.5", days: 14 },
                MedOrder { drug: "enalapril5", days: 14 },
            ];
            if let Some(dd) = a.death_day {
                self.person.death = Some(day.plus(dd));
            }
        }
        let id = self.person.enc_id(self.person.encounters[ei].seq);
        self.person.hf.push(HfTruth {
            encounter: id,
            age,
            nyha: a.nyha + 1,
            acute: a.acute,
            died_in_hospital: a.died_in_hospital,
            died_30d: a.died_30d,
            p_in_hospital: self.p.hf.p_in_hospital(a.nyha, age),
            p_30d: self.p.hf.p_30d(a.nyha, age),
        });
    }

    fn simple_admission(&mut self, c: Cond, day: Date) {
        let d = disease_for(c);
        let (ei, died) = self.admit(Some(c), d, day, None, None);
        match c {
            Cond::Stroke => self.person.encounters[ei].procedures.push(("ct_head", 0)),
            Cond::GastricCancer => self.person.encounters[ei].procedures.push(("gastrectomy", 2)),
            _ => {}
        }
        if !died {
            let meds: Vec<MedOrder> = match c {
                Cond::Stroke => vec![MedOrder { drug: "clopidogrel75", days: 30 }],
                // Quinolones are avoided in children.
                Cond::Pneumonia if self.age(day) < 15 => vec![MedOrder { drug: "amoxicillin250", days: 5 }],
                Cond::Pneumonia => vec![MedOrder { drug: "levofloxacin500", days: 5 }],
                Cond::GastricCancer => vec![MedOrder { drug: "lansoprazole15", days: 30 }],
                _ => vec![],
            };
            self.person.encounters[ei].meds = meds;
        }
    }

    fn other_acute(&mut self, day: Date) {
        let age = self.age(day);
        let cands: Vec<&'static Disease> = DISEASES.iter().filter(|d| d.weight > 0.0 && age >= d.min_age).collect();
        if cands.is_empty() {
            return;
        }
        let w: Vec<f64> = cands.iter().map(|d| d.weight).collect();
        let d = cands[self.rng.weighted(&w)];
        let (ei, died) = self.admit(None, d, day, None, None);
        if !died {
            let drug = match d.dept.code {
                "05" => Some("amoxicillin250"),
                "06" | "10" => Some("lansoprazole15"),
                _ => Some("acetaminophen200"),
            };
            if let Some(drug) = drug {
                self.person.encounters[ei].meds = vec![MedOrder { drug, days: 7 }];
            }
        }
    }
}

/// Simulates one person. Deterministic in `(seed, index)`.
pub fn simulate(w: &World, index: u64) -> Person {
    let p = &w.params;
    let mut rng = Rng::new(w.seed, stream::PATIENT, index);
    // Who: sex and age from the pyramid (age as of the first day of the period).
    let weights: Vec<f64> = p.age_pyramid.iter().flat_map(|(m, f)| [*m, *f]).collect();
    let cell = Alias::new(&weights).sample(&mut rng);
    let male = cell % 2 == 0;
    let group = (cell / 2) as i32;
    let age0 = (group * 5 + rng.below(5) as i32).min(104);
    let start = w.start;
    let birth = start.plus(-(age0 * 365) - rng.below(365) as i32);
    let (kanji, kana) = draw_name(&mut rng, male, birth.to_ymd().0);
    let area = w.resident[w.area_alias.sample(&mut rng)];
    let a = &w.geo.areas[area];
    let muni = if a.municipalities.is_empty() {
        None
    } else {
        let mw: Vec<f64> = a.municipalities.iter().map(|m| m.population as f64).collect();
        Some(rng.weighted(&mw))
    };
    let street = format!("{}{}丁目{}番{}号", rng.pick(TOWNS), rng.range(1, 5), rng.range(1, 30), rng.range(1, 20));
    let phone = format!("0{}-{:03}-{:04}", 50 + rng.below(50), rng.below(1000), rng.below(10_000));
    let height = if male { rng.gauss(170.0 - 0.08 * (age0 - 40).max(0) as f64, 6.0) } else { rng.gauss(157.0 - 0.08 * (age0 - 40).max(0) as f64, 5.5) };
    let bmi = if age0 < 15 { rng.gauss(17.5, 2.0) } else if male { rng.gauss(23.8, 3.4) } else { rng.gauss(22.4, 3.6) }.clamp(13.0, 45.0);
    let clinics = &w.facilities.clinics_by_area[area];
    let home_clinic = clinics[(index as usize) % clinics.len().max(1)];
    let person = Person {
        index,
        pid: patient_number(w.seed, index),
        male,
        birth,
        kanji,
        kana,
        area,
        muni,
        street,
        phone,
        height: (height * 10.0).round() / 10.0,
        bmi,
        death: None,
        left: None,
        coverages: Vec::new(),
        conditions: Vec::new(),
        encounters: Vec::new(),
        allergy: None,
        pci: None,
        hf: Vec::new(),
        home_clinic,
    };
    let mut cx = Ctx { w, p, rng, person, state: Default::default(), busy_until: Date(i32::MIN), visited: Vec::new(), followup: None, pci_done: false, weighed_year: 0 };
    // Baseline prevalence of chronic conditions and history.
    for inc in &p.incidence {
        if let Some(prev) = &inc.baseline_prevalence {
            if cx.rng.chance(prev.get(male, age0)) {
                let onset = start.plus(-(cx.rng.range(30, 365 * 8) as i32)).max(birth.plus(365 * 15));
                if onset < start {
                    cx.state.insert(inc.cond, onset);
                    cx.add_cond(inc.cond, onset, None);
                }
            }
        }
    }
    if age0 >= 45 {
        let f = ((age0 - 45) as f64 / 40.0).min(1.0);
        for (key, name, icd, prev) in [
            ("history_stroke", "陳旧性脳梗塞", "I693", 0.07 * f),
            ("history_pci", "冠動脈ステント留置後", "Z955", (if male { 0.05 } else { 0.015 }) * f),
            ("history_cabg", "冠動脈バイパス術後", "Z951", (if male { 0.012 } else { 0.004 }) * f),
        ] {
            if cx.rng.chance(prev) {
                let onset = start.plus(-(cx.rng.range(365, 365 * 10) as i32));
                cx.add_condition(key, name, icd, onset, None, None);
            }
        }
    }
    if cx.rng.chance(p.allergy_prevalence) {
        cx.person.allergy = Some(*cx.rng.pick(ALLERGIES));
    }
    // Insurance.
    cx.person.coverages = insurance(&mut cx.rng, w, &cx.person, start, w.end);

    // Month by month.
    let m0 = start.month_index();
    let m1 = w.end.month_index();
    let mut visit_no = 0u32;
    let mut first_chronic_month: Option<i32> = cx.chronic_list(start).first().map(|_| m0 + cx.rng.below(3) as i32);
    let chronic_conds = [Cond::Hypertension, Cond::Diabetes, Cond::Dyslipidemia, Cond::Ckd];
    for m in m0..=m1 {
        if cx.person.death.is_some() || cx.person.left.is_some() {
            break;
        }
        let ms = Date::from_month_index(m);
        let next = Date::from_month_index(m + 1);
        let days_in_month = next.0 - ms.0;
        let age = cx.age(ms);
        let day = |rng: &mut Rng| ms.plus(rng.below(days_in_month as u64) as i32);
        // Snapshot state at month start.
        let snapshot: Vec<Cond> = cx.state.iter().filter(|(_, d)| **d < ms).map(|(c, _)| *c).collect();
        let rate_of = |c: Cond| -> f64 {
            let inc = match p.incidence_of(c) {
                Some(i) => i,
                None => return 0.0,
            };
            let mut r = inc.per_1000_py.get(male, age) / 1000.0;
            for (k, mult) in &inc.multipliers {
                if snapshot.contains(k) {
                    r *= mult;
                }
            }
            r
        };
        let monthly = |r: f64| 1.0 - (-r / 12.0).exp();
        let mut events: Vec<(Date, u8, Cond)> = Vec::new();
        for c in chronic_conds {
            if !snapshot.contains(&c) && !cx.state.contains_key(&c) && cx.rng.chance(monthly(rate_of(c))) {
                events.push((day(&mut cx.rng), 0, c));
            }
        }
        // PCI follow-up replaces the population hazards for MI and stroke.
        let in_followup = cx.followup.is_some_and(|(h, ..)| ms < h);
        if let Some((h, _, _, _)) = cx.followup {
            if ms >= h && cx.person.pci.as_ref().is_some_and(|t| t.end_reason.is_empty()) {
                close_followup(&mut cx.person, h, "horizon");
            }
        }
        if in_followup {
            let (_, (h_mi, h_st), mi_seen, st_seen) = cx.followup.expect("invariant: in follow-up");
            if !mi_seen && cx.rng.chance(monthly(h_mi)) {
                events.push((day(&mut cx.rng), 1, Cond::Acs));
            }
            if !st_seen && cx.rng.chance(monthly(h_st)) {
                events.push((day(&mut cx.rng), 1, Cond::Stroke));
            }
        } else {
            for c in [Cond::Acs, Cond::Stroke] {
                if cx.rng.chance(monthly(rate_of(c))) {
                    events.push((day(&mut cx.rng), 1, c));
                }
            }
        }
        for c in [Cond::Ccs, Cond::GastricCancer, Cond::HeartFailure] {
            if !snapshot.contains(&c) && !cx.state.contains_key(&c) && !(c == Cond::Ccs && in_followup) && cx.rng.chance(monthly(rate_of(c))) {
                events.push((day(&mut cx.rng), 1, c));
            }
        }
        if cx.rng.chance(monthly(rate_of(Cond::Pneumonia))) {
            events.push((day(&mut cx.rng), 1, Cond::Pneumonia));
        }
        let hf_readmit = snapshot.contains(&Cond::HeartFailure) && cx.rng.chance(monthly(p.hf.readmission_per_year));
        let other = cx.rng.chance(monthly(p.other_acute_per_1000_py / 1000.0));
        let minor = cx.rng.chance(monthly(p.minor_visits_per_year));
        let dental = age >= 3 && cx.rng.chance(monthly(p.dental_visits_per_year));
        let background = cx.rng.chance(monthly(p.mortality.annual(male, age)));
        let lost = in_followup && cx.rng.chance(monthly(p.pci.loss_per_year));
        let extra: Vec<(Date, u8)> = [(hf_readmit, 2u8), (other, 3), (minor, 4), (dental, 5)]
            .into_iter()
            .filter(|(b, _)| *b)
            .map(|(_, k)| (day(&mut cx.rng), k))
            .collect();
        // Chronic follow-up visit.
        if first_chronic_month.is_none() && !snapshot.is_empty() && snapshot.iter().any(|c| c.is_chronic()) {
            first_chronic_month = Some(m);
        }
        let chronic_visit = first_chronic_month.is_some_and(|f| m >= f && (m - f) % p.followup_interval_months.max(1) == 0);
        let visit_day = if chronic_visit { Some(day(&mut cx.rng)) } else { None };

        // Apply in date order.
        let mut all: Vec<(Date, u8, Option<Cond>)> = events.into_iter().map(|(d, k, c)| (d, k, Some(c))).collect();
        all.extend(extra.into_iter().map(|(d, k)| (d, k, None)));
        if let Some(vd) = visit_day {
            all.push((vd, 6, None));
        }
        all.sort_by_key(|(d, k, c)| (*d, *k, c.map(|c| c as u8)));
        for (d, kind, c) in all {
            if cx.person.death.is_some() {
                break;
            }
            if d <= cx.busy_until && kind >= 4 {
                continue;
            }
            match (kind, c) {
                (0, Some(c)) => {
                    cx.state.insert(c, d);
                    // Diagnosed at a visit on the onset day.
                    let clinic = cx.person.home_clinic;
                    let mut enc = cx.new_encounter(clinic, dept::INTERNAL, d, d, false);
                    let ci = cx.add_cond(c, d, Some(enc.seq));
                    enc.diagnoses.push(ci);
                    cx.vitals(&mut enc, false);
                    cx.chronic_labs(&mut enc, 0);
                    enc.meds = cx.chronic_meds(d.plus(1));
                    cx.person.encounters.push(enc);
                    if first_chronic_month.is_none() {
                        first_chronic_month = Some(m + p.followup_interval_months.max(1));
                    }
                }
                (1, Some(c)) => {
                    if in_followup {
                        if let Some(t) = cx.person.pci.as_mut() {
                            if c == Cond::Acs && t.mi_date.is_none() && t.end_reason.is_empty() {
                                t.mi_date = Some(d.iso());
                            }
                            if c == Cond::Stroke && t.stroke_date.is_none() && t.end_reason.is_empty() {
                                t.stroke_date = Some(d.iso());
                            }
                        }
                        if let Some(f) = cx.followup.as_mut() {
                            if c == Cond::Acs {
                                f.2 = true;
                            }
                            if c == Cond::Stroke {
                                f.3 = true;
                            }
                        }
                    }
                    match c {
                        Cond::Acs | Cond::Ccs => cx.coronary(c, d),
                        Cond::HeartFailure => {
                            cx.state.insert(c, d);
                            cx.hf_admission(d, true);
                        }
                        Cond::GastricCancer => {
                            cx.state.insert(c, d);
                            cx.simple_admission(c, d);
                        }
                        _ => cx.simple_admission(c, d),
                    }
                }
                (2, _) => cx.hf_admission(d, false),
                (3, _) => cx.other_acute(d),
                (4, _) => cx.minor_visit(d),
                (5, _) => cx.dental_visit(d),
                (6, _) => {
                    visit_no += 1;
                    cx.chronic_visit(d, visit_no);
                }
                _ => {}
            }
        }
        if cx.person.death.is_none() {
            let gc = cx.state.get(&Cond::GastricCancer).is_some_and(|d| *d < ms);
            let excess = gc && cx.rng.chance(monthly(p.gastric_cancer_excess_mortality_per_year));
            if background || excess {
                let last = cx.person.encounters.last().map(|e| e.end).unwrap_or(ms).max(ms);
                let dd = if last >= next { last.plus(1) } else { Date(last.0 + cx.rng.below((next.0 - last.0) as u64) as i32) };
                cx.person.death = Some(dd.max(cx.busy_until.plus(1).min(dd.plus(60))));
            }
        }
        if lost && cx.person.death.is_none() {
            let ld = day(&mut cx.rng).max(cx.busy_until.plus(1));
            cx.person.left = Some(ld);
            close_followup(&mut cx.person, ld, "lost");
        }
    }
    // Close the PCI follow-up.
    if let Some(t) = cx.person.pci.as_ref() {
        if t.end_reason.is_empty() {
            let horizon = cx.followup.map(|f| f.0).unwrap_or(w.end);
            match cx.person.death {
                Some(dd) if dd < horizon && dd <= w.end => close_followup(&mut cx.person, dd, "death"),
                _ if horizon <= w.end => close_followup(&mut cx.person, horizon, "horizon"),
                _ => close_followup(&mut cx.person, w.end, "end_of_data"),
            }
        }
    }
    // Drop anything after death or after leaving (a death drawn in a stay's month).
    let stop = match (cx.person.death, cx.person.left) {
        (Some(d), _) => Some(d),
        (None, Some(l)) => Some(l),
        _ => None,
    };
    if let Some(stop) = stop {
        cx.person.encounters.retain(|e| e.start <= stop);
        for e in &mut cx.person.encounters {
            if e.end > stop {
                e.end = stop;
            }
        }
    }
    // Coverage ends at death.
    if let Some(dd) = cx.person.death {
        cx.person.coverages.retain(|c| c.start <= dd);
        if let Some(last) = cx.person.coverages.last_mut() {
            if last.end.is_none_or(|e| e > dd) {
                last.end = Some(dd);
            }
        }
    }
    cx.person
}

fn close_followup(person: &mut Person, d: Date, reason: &str) {
    if let Some(t) = person.pci.as_mut() {
        if t.end_reason.is_empty() {
            t.end_date = d.iso();
            t.end_reason = reason.to_string();
            // Events after the end of follow-up are not outcomes.
            if t.mi_date.as_deref().is_some_and(|x| x > t.end_date.as_str()) {
                t.mi_date = None;
            }
            if t.stroke_date.as_deref().is_some_and(|x| x > t.end_date.as_str()) {
                t.stroke_date = None;
            }
        }
    }
}

fn insurer_number(rng: &mut Rng, scheme: Scheme, pref: &str, muni5: Option<&str>) -> (String, String) {
    match scheme {
        Scheme::Kokuho => {
            let body = format!("{pref}{}", muni5.map(|m| m[2..5].to_string()).unwrap_or_else(|| format!("{:03}", 100 + rng.below(800))));
            (format!("{body}{}", mod10_w21(&body)), "国民健康保険".to_string())
        }
        Scheme::Employee => {
            let (hobetsu, name) = match rng.below(10) {
                0..=5 => ("01", "全国健康保険協会"),
                6..=8 => ("06", "健康保険組合"),
                _ => ("31", "共済組合"),
            };
            let body = format!("{hobetsu}{pref}{:03}", if hobetsu == "01" { 1 } else { 100 + rng.below(800) });
            (format!("{body}{}", mod10_w21(&body)), name.to_string())
        }
        Scheme::Kouki => {
            let body = format!("39{pref}{}", muni5.map(|m| m[2..5].to_string()).unwrap_or_else(|| "001".into()));
            (format!("{body}{}", mod10_w21(&body)), "後期高齢者医療広域連合".to_string())
        }
    }
}

fn insurance(rng: &mut Rng, w: &World, p: &Person, start: Date, end: Date) -> Vec<Coverage> {
    let a = &w.geo.areas[p.area];
    let muni5 = p.muni.map(|m| a.municipalities[m].code5.as_str());
    let age = p.birth.age_on(start);
    let mut periods: Vec<(Scheme, Date)> = Vec::new();
    let first = if age >= 75 {
        Scheme::Kouki
    } else if age >= 65 {
        if rng.chance(0.75) { Scheme::Kokuho } else { Scheme::Employee }
    } else if rng.chance(0.25) {
        Scheme::Kokuho
    } else {
        Scheme::Employee
    };
    periods.push((first, start));
    let (by, bm, bd) = p.birth.to_ymd();
    let bday = |years: i32| Date::ymd(by + years, bm, bd.min(28));
    if first == Scheme::Employee && age < 65 && rng.chance(0.6) {
        let d = bday(65);
        if d > start && d <= end {
            periods.push((Scheme::Kokuho, d));
        }
    }
    let d75 = bday(75);
    if d75 > start && d75 <= end {
        periods.push((Scheme::Kouki, d75));
    }
    let mut out = Vec::new();
    for (i, (s, from)) in periods.iter().enumerate() {
        let (insurer, name) = insurer_number(rng, *s, &a.pref_code, muni5);
        let to = periods.get(i + 1).map(|(_, d)| d.plus(-1));
        out.push(Coverage {
            scheme: *s,
            insurer,
            symbol: format!("{}", rng.range(1, 9999)),
            number: format!("{}", rng.range(1, 99_999)),
            branch: format!("{:02}", rng.range(0, 2)),
            start: *from,
            end: to,
            insurer_name: name,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_numbers_are_unique_and_ten_digits() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..100_000 {
            let n = patient_number(42, i);
            assert_eq!(n.len(), 10);
            assert!(seen.insert(n));
        }
    }
}
