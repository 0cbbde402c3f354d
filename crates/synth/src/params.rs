//! Every number the simulation draws from: the age pyramid, background mortality,
//! incidence and prevalence of chronic conditions and acute events by age and
//! sex, and the parameters of the two built-in studies. All of it is
//! configurable (it deserialises from JSON with defaults) and all of it is
//! written to `truth.json`.
//!
//! Sources of the defaults (rounded; this is a synthetic data set, not an
//! epidemiological estimate):
//! - age pyramid: 2020 Census (令和2年国勢調査), 5-year groups by sex, in thousands;
//! - background mortality: a Gompertz fit to the 2020 complete life tables
//!   (第23回完全生命表), e.g. male q(70) ≈ 0.019, q(80) ≈ 0.048;
//! - hypertension, diabetes, dyslipidaemia: prevalence by age in the National
//!   Health and Nutrition Survey 2019 (国民健康・栄養調査), incidence chosen so that
//!   prevalence rises with age as it does there;
//! - CKD stage ≥3: the Japanese Society of Nephrology estimate (about 13% of adults
//!   with CKD, rising steeply after 70);
//! - stroke, acute coronary syndrome: orders of magnitude of the Hisayama and
//!   Takashima registries (stroke 2-3 per 1,000 person-years overall, ACS lower
//!   than in Western cohorts);
//! - gastric cancer: national cancer registry incidence by age (about 4 per 1,000
//!   person-years in men in their 70s);
//! - heart failure: JCARE-CARD / ATTEND / JROADHF for NYHA mix, length of stay and
//!   mortality (in-hospital mortality 6-8%, higher with NYHA class and age);
//! - statin intensity after PCI: CLIDAS and REAL-CAD (Japanese "high-intensity"
//!   doses are atorvastatin 20 mg, rosuvastatin 10 mg, pitavastatin 4 mg); the
//!   hazard ratios are the issue's defaults (MI 0.75, stroke 1.30).

use serde::{Deserialize, Serialize};

/// Ten-year age bands 0-9, 10-19, …, 70-79, 80+.
pub const BANDS: usize = 9;

/// The age band of an age in years.
pub fn band(age: i32) -> usize {
    ((age.max(0) / 10) as usize).min(BANDS - 1)
}

/// A rate or proportion by sex and age band.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BySexAge {
    /// Men, by band.
    pub male: [f64; BANDS],
    /// Women, by band.
    pub female: [f64; BANDS],
}

impl BySexAge {
    /// The value for a sex (`true` = male) and age.
    pub fn get(&self, male: bool, age: i32) -> f64 {
        if male { self.male[band(age)] } else { self.female[band(age)] }
    }
}

/// Conditions and events the simulation knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Cond {
    /// 高血圧症.
    Hypertension,
    /// 2型糖尿病.
    Diabetes,
    /// 脂質異常症.
    Dyslipidemia,
    /// 慢性腎臓病 (stage ≥3).
    Ckd,
    /// 慢性心不全 (after a first heart-failure admission).
    HeartFailure,
    /// 脳梗塞.
    Stroke,
    /// 急性冠症候群 (acute myocardial infarction / unstable angina).
    Acs,
    /// 安定狭心症 (chronic coronary syndrome, elective PCI).
    Ccs,
    /// 胃癌.
    GastricCancer,
    /// 肺炎.
    Pneumonia,
}

impl Cond {
    /// ICD-10 (2013) code.
    pub fn icd10(self) -> &'static str {
        match self {
            Cond::Hypertension => "I10",
            Cond::Diabetes => "E119",
            Cond::Dyslipidemia => "E785",
            Cond::Ckd => "N183",
            Cond::HeartFailure => "I500",
            Cond::Stroke => "I639",
            Cond::Acs => "I219",
            Cond::Ccs => "I209",
            Cond::GastricCancer => "C169",
            Cond::Pneumonia => "J189",
        }
    }

    /// Japanese disease name (標準病名).
    pub fn name_ja(self) -> &'static str {
        match self {
            Cond::Hypertension => "高血圧症",
            Cond::Diabetes => "2型糖尿病",
            Cond::Dyslipidemia => "脂質異常症",
            Cond::Ckd => "慢性腎臓病",
            Cond::HeartFailure => "慢性心不全",
            Cond::Stroke => "脳梗塞",
            Cond::Acs => "急性心筋梗塞",
            Cond::Ccs => "安定狭心症",
            Cond::GastricCancer => "胃癌",
            Cond::Pneumonia => "肺炎",
        }
    }

    /// Stable key used in ids and truth.json.
    pub fn key(self) -> &'static str {
        match self {
            Cond::Hypertension => "hypertension",
            Cond::Diabetes => "diabetes",
            Cond::Dyslipidemia => "dyslipidemia",
            Cond::Ckd => "ckd",
            Cond::HeartFailure => "heart_failure",
            Cond::Stroke => "stroke",
            Cond::Acs => "acs",
            Cond::Ccs => "ccs",
            Cond::GastricCancer => "gastric_cancer",
            Cond::Pneumonia => "pneumonia",
        }
    }

    /// Whether the condition is chronic (stays active once present).
    pub fn is_chronic(self) -> bool {
        matches!(self, Cond::Hypertension | Cond::Diabetes | Cond::Dyslipidemia | Cond::Ckd | Cond::HeartFailure)
    }
}

/// Incidence of one condition or event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Incidence {
    /// Which condition.
    pub cond: Cond,
    /// New cases per 1,000 person-years.
    pub per_1000_py: BySexAge,
    /// Proportion already affected at the start of the period (chronic only).
    pub baseline_prevalence: Option<BySexAge>,
    /// Rate multipliers applied when the person already has these conditions.
    pub multipliers: Vec<(Cond, f64)>,
    /// Whether the event can recur (acute events); chronic conditions occur once.
    pub recurrent: bool,
}

/// Background mortality: annual death probability `exp(a + b * age)`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Gompertz {
    /// Men: (a, b).
    pub male: (f64, f64),
    /// Women: (a, b).
    pub female: (f64, f64),
}

impl Gompertz {
    /// Annual death probability.
    pub fn annual(&self, male: bool, age: i32) -> f64 {
        let (a, b) = if male { self.male } else { self.female };
        (a + b * age as f64).exp().min(0.6)
    }
}

/// Case fatality of an acute admission: logistic in age around 75.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CaseFatality {
    /// In-hospital death probability at age 75.
    pub at_75: f64,
    /// Odds ratio per 10 years of age.
    pub or_per_decade: f64,
}

/// Logistic helper.
pub fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Logit helper.
pub fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

impl CaseFatality {
    /// Probability for an age.
    pub fn prob(&self, age: i32) -> f64 {
        logistic(logit(self.at_75) + self.or_per_decade.ln() * (age as f64 - 75.0) / 10.0)
    }
}

/// The CLIDAS-like PCI cohort: statin intensity after PCI and outcomes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PciParams {
    /// True hazard ratio, high vs moderate intensity, for myocardial infarction.
    pub hr_mi_high_vs_moderate: f64,
    /// True hazard ratio, high vs moderate intensity, for stroke.
    pub hr_stroke_high_vs_moderate: f64,
    /// Follow-up horizon in years.
    pub followup_years: f64,
    /// MI hazard per year for the reference patient (65-year-old man, CCS, moderate
    /// intensity, no risk factors).
    pub base_mi_per_year: f64,
    /// Stroke hazard per year for the reference patient.
    pub base_stroke_per_year: f64,
    /// Loss to follow-up per year (the patient leaves the data set).
    pub loss_per_year: f64,
    /// Probability that a PCI patient discharged alive gets a statin.
    pub statin_prescribed: f64,
    /// Treatment model: log-odds of high intensity, per confounder.
    pub ps: Confounders,
    /// Log hazard ratios for MI per confounder.
    pub mi: Confounders,
    /// Log hazard ratios for stroke per confounder.
    pub stroke: Confounders,
    /// Probability of PCI for an ACS admission (survivors of the first day).
    pub pci_for_acs: f64,
    /// Probability of CABG instead of PCI in a CCS work-up.
    pub cabg_for_ccs: f64,
}

/// Coefficients on the confounders (log-odds or log-hazard scale).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Confounders {
    /// Intercept (treatment model only; 0 for outcome models).
    pub intercept: f64,
    /// Per 10 years of age above 65.
    pub age_per_decade: f64,
    /// Female sex.
    pub female: f64,
    /// Per 5 kg/m² of BMI above 24.
    pub bmi_per_5: f64,
    /// Dyslipidaemia.
    pub dyslipidemia: f64,
    /// Diabetes.
    pub diabetes: f64,
    /// Hypertension.
    pub hypertension: f64,
    /// Prior PCI.
    pub prior_pci: f64,
    /// Prior CABG.
    pub prior_cabg: f64,
    /// Prior stroke.
    pub prior_stroke: f64,
    /// CKD stage 3 or worse.
    pub ckd3: f64,
    /// ACS (vs CCS) as the indication.
    pub acs: f64,
    /// Per calendar year after 2013 of the PCI.
    pub per_year_since_2013: f64,
}

/// Heart-failure admissions.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct HfParams {
    /// Distribution of NYHA class I-IV at admission.
    pub nyha_distribution: [f64; 4],
    /// In-hospital mortality at age 75, by NYHA class.
    pub in_hospital_mortality_at_75: [f64; 4],
    /// 30-day mortality from admission (including in-hospital deaths) at age 75.
    pub mortality_30d_at_75: [f64; 4],
    /// Odds ratio per 10 years of age, for both.
    pub mortality_or_per_decade: f64,
    /// Readmission rate per year for patients with chronic heart failure.
    pub readmission_per_year: f64,
    /// Median length of stay in days.
    pub median_los_days: f64,
}

impl HfParams {
    /// In-hospital death probability.
    pub fn p_in_hospital(&self, nyha: usize, age: i32) -> f64 {
        let b = self.in_hospital_mortality_at_75[nyha];
        logistic(logit(b) + self.mortality_or_per_decade.ln() * (age as f64 - 75.0) / 10.0)
    }
    /// 30-day death probability (from admission).
    pub fn p_30d(&self, nyha: usize, age: i32) -> f64 {
        let b = self.mortality_30d_at_75[nyha];
        logistic(logit(b) + self.mortality_or_per_decade.ln() * (age as f64 - 75.0) / 10.0)
    }
}

/// All parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Params {
    /// Population by 5-year age group (0-4 … 95-99, 100+), thousands: (men, women).
    pub age_pyramid: Vec<(f64, f64)>,
    /// Background mortality.
    pub mortality: Gompertz,
    /// Incidences of chronic conditions and acute events.
    pub incidence: Vec<Incidence>,
    /// In-hospital case fatality per acute event.
    pub case_fatality: Vec<(Cond, CaseFatality)>,
    /// Additional yearly mortality after a gastric cancer diagnosis.
    pub gastric_cancer_excess_mortality_per_year: f64,
    /// Minor outpatient visits (colds, gastroenteritis …) per person-year.
    pub minor_visits_per_year: f64,
    /// Dental visits per person-year.
    pub dental_visits_per_year: f64,
    /// Admissions for the other case-report diagnoses, per 1,000 person-years.
    pub other_acute_per_1000_py: f64,
    /// Fraction of acute admissions that get a written case report.
    pub case_report_fraction: f64,
    /// Months between chronic follow-up visits.
    pub followup_interval_months: i32,
    /// Drug allergy prevalence.
    pub allergy_prevalence: f64,
    /// PCI cohort.
    pub pci: PciParams,
    /// Heart-failure admissions.
    pub hf: HfParams,
}

fn b(male: [f64; BANDS], female: [f64; BANDS]) -> BySexAge {
    BySexAge { male, female }
}

impl Default for Params {
    fn default() -> Self {
        use Cond::*;
        let incidence = vec![
            Incidence {
                cond: Hypertension,
                per_1000_py: b([0.0, 0.5, 5.0, 10.0, 25.0, 40.0, 55.0, 60.0, 60.0], [0.0, 0.3, 2.0, 5.0, 15.0, 30.0, 45.0, 55.0, 60.0]),
                baseline_prevalence: Some(b(
                    [0.0, 0.0, 0.02, 0.08, 0.2, 0.38, 0.55, 0.65, 0.72],
                    [0.0, 0.0, 0.01, 0.03, 0.1, 0.25, 0.45, 0.6, 0.7],
                )),
                multipliers: vec![],
                recurrent: false,
            },
            Incidence {
                cond: Diabetes,
                per_1000_py: b([0.0, 0.1, 1.0, 3.0, 8.0, 14.0, 18.0, 18.0, 15.0], [0.0, 0.1, 0.5, 1.5, 4.0, 7.0, 10.0, 11.0, 10.0]),
                baseline_prevalence: Some(b(
                    [0.0, 0.0, 0.005, 0.02, 0.06, 0.13, 0.2, 0.22, 0.2],
                    [0.0, 0.0, 0.003, 0.01, 0.03, 0.07, 0.1, 0.13, 0.13],
                )),
                multipliers: vec![],
                recurrent: false,
            },
            Incidence {
                cond: Dyslipidemia,
                per_1000_py: b([0.0, 0.2, 8.0, 15.0, 25.0, 30.0, 30.0, 25.0, 20.0], [0.0, 0.2, 3.0, 8.0, 20.0, 40.0, 40.0, 30.0, 20.0]),
                baseline_prevalence: Some(b(
                    [0.0, 0.0, 0.03, 0.1, 0.18, 0.25, 0.3, 0.3, 0.25],
                    [0.0, 0.0, 0.01, 0.04, 0.12, 0.3, 0.38, 0.38, 0.3],
                )),
                multipliers: vec![],
                recurrent: false,
            },
            Incidence {
                cond: Ckd,
                per_1000_py: b([0.0, 0.0, 0.3, 1.0, 3.0, 8.0, 18.0, 35.0, 60.0], [0.0, 0.0, 0.3, 1.0, 3.0, 7.0, 15.0, 30.0, 55.0]),
                baseline_prevalence: Some(b(
                    [0.0, 0.0, 0.002, 0.01, 0.03, 0.07, 0.15, 0.28, 0.45],
                    [0.0, 0.0, 0.002, 0.01, 0.03, 0.06, 0.13, 0.25, 0.42],
                )),
                multipliers: vec![(Hypertension, 1.6), (Diabetes, 2.0)],
                recurrent: false,
            },
            Incidence {
                cond: Stroke,
                per_1000_py: b([0.0, 0.0, 0.1, 0.3, 1.0, 2.5, 5.0, 10.0, 20.0], [0.0, 0.0, 0.1, 0.2, 0.5, 1.2, 2.5, 6.0, 15.0]),
                baseline_prevalence: None,
                multipliers: vec![(Hypertension, 2.0), (Diabetes, 1.5)],
                recurrent: true,
            },
            Incidence {
                cond: Acs,
                per_1000_py: b([0.0, 0.0, 0.02, 0.2, 1.0, 2.0, 3.5, 5.0, 7.0], [0.0, 0.0, 0.0, 0.05, 0.2, 0.5, 1.0, 2.0, 4.0]),
                baseline_prevalence: None,
                multipliers: vec![(Diabetes, 2.0), (Dyslipidemia, 1.5), (Hypertension, 1.5), (Ckd, 1.5)],
                recurrent: true,
            },
            Incidence {
                cond: Ccs,
                per_1000_py: b([0.0, 0.0, 0.0, 0.2, 1.0, 2.0, 3.0, 3.0, 2.0], [0.0, 0.0, 0.0, 0.05, 0.3, 0.6, 1.0, 1.2, 1.0]),
                baseline_prevalence: None,
                multipliers: vec![(Diabetes, 2.0), (Dyslipidemia, 1.5), (Hypertension, 1.5), (Ckd, 1.5)],
                recurrent: false,
            },
            Incidence {
                cond: GastricCancer,
                per_1000_py: b([0.0, 0.0, 0.01, 0.05, 0.3, 1.0, 2.2, 3.8, 4.5], [0.0, 0.0, 0.01, 0.05, 0.15, 0.4, 0.7, 1.1, 1.5]),
                baseline_prevalence: None,
                multipliers: vec![],
                recurrent: false,
            },
            Incidence {
                cond: Pneumonia,
                per_1000_py: b([4.0, 0.5, 0.3, 0.4, 0.6, 1.2, 3.0, 8.0, 25.0], [3.0, 0.4, 0.3, 0.3, 0.4, 0.8, 2.0, 5.0, 18.0]),
                baseline_prevalence: None,
                multipliers: vec![(HeartFailure, 2.0), (Diabetes, 1.3)],
                recurrent: true,
            },
            Incidence {
                cond: HeartFailure,
                per_1000_py: b([0.0, 0.0, 0.0, 0.05, 0.3, 1.0, 2.5, 6.0, 15.0], [0.0, 0.0, 0.0, 0.03, 0.15, 0.5, 1.5, 4.5, 14.0]),
                baseline_prevalence: None,
                multipliers: vec![(Hypertension, 1.5), (Diabetes, 1.7), (Acs, 3.0), (Ckd, 1.5)],
                recurrent: false,
            },
        ];
        Params {
            age_pyramid: vec![
                (2293.0, 2184.0), (2561.0, 2440.0), (2738.0, 2608.0), (2905.0, 2753.0), (3151.0, 2990.0),
                (3153.0, 3003.0), (3394.0, 3262.0), (3838.0, 3715.0), (4295.0, 4185.0), (4947.0, 4846.0),
                (4349.0, 4290.0), (3849.0, 3862.0), (3613.0, 3697.0), (4083.0, 4318.0), (4396.0, 4921.0),
                (3109.0, 3770.0), (2253.0, 3084.0), (1287.0, 2251.0), (471.0, 1263.0), (90.0, 401.0),
                (11.0, 69.0),
            ],
            mortality: Gompertz { male: (-10.8, 0.097), female: (-11.6, 0.101) },
            incidence,
            case_fatality: vec![
                (Stroke, CaseFatality { at_75: 0.07, or_per_decade: 1.5 }),
                (Acs, CaseFatality { at_75: 0.07, or_per_decade: 1.6 }),
                (Ccs, CaseFatality { at_75: 0.002, or_per_decade: 1.5 }),
                (Pneumonia, CaseFatality { at_75: 0.05, or_per_decade: 1.8 }),
                (GastricCancer, CaseFatality { at_75: 0.01, or_per_decade: 1.5 }),
            ],
            gastric_cancer_excess_mortality_per_year: 0.08,
            minor_visits_per_year: 0.6,
            dental_visits_per_year: 0.5,
            other_acute_per_1000_py: 4.0,
            case_report_fraction: 0.25,
            followup_interval_months: 3,
            allergy_prevalence: 0.06,
            pci: PciParams {
                hr_mi_high_vs_moderate: 0.75,
                hr_stroke_high_vs_moderate: 1.30,
                followup_years: 5.0,
                base_mi_per_year: 0.012,
                base_stroke_per_year: 0.008,
                loss_per_year: 0.03,
                statin_prescribed: 0.95,
                ps: Confounders {
                    intercept: -0.2,
                    age_per_decade: -0.6,
                    female: -0.3,
                    bmi_per_5: 0.15,
                    dyslipidemia: 0.5,
                    diabetes: 0.2,
                    hypertension: 0.0,
                    prior_pci: 0.3,
                    prior_cabg: 0.2,
                    prior_stroke: -0.8,
                    ckd3: -1.0,
                    acs: 1.0,
                    per_year_since_2013: 0.12,
                },
                mi: Confounders {
                    intercept: 0.0,
                    age_per_decade: 0.45,
                    female: -0.1,
                    bmi_per_5: 0.05,
                    dyslipidemia: 0.2,
                    diabetes: 0.45,
                    hypertension: 0.2,
                    prior_pci: 0.3,
                    prior_cabg: 0.2,
                    prior_stroke: 0.2,
                    ckd3: 0.8,
                    acs: 0.2,
                    per_year_since_2013: -0.03,
                },
                stroke: Confounders {
                    intercept: 0.0,
                    age_per_decade: 0.55,
                    female: -0.1,
                    bmi_per_5: 0.05,
                    dyslipidemia: 0.1,
                    diabetes: 0.3,
                    hypertension: 0.4,
                    prior_pci: 0.0,
                    prior_cabg: 0.1,
                    prior_stroke: 1.0,
                    ckd3: 0.4,
                    acs: 0.1,
                    per_year_since_2013: -0.02,
                },
                pci_for_acs: 0.85,
                cabg_for_ccs: 0.08,
            },
            hf: HfParams {
                nyha_distribution: [0.05, 0.25, 0.45, 0.25],
                in_hospital_mortality_at_75: [0.01, 0.025, 0.05, 0.12],
                mortality_30d_at_75: [0.02, 0.045, 0.09, 0.20],
                mortality_or_per_decade: 1.5,
                readmission_per_year: 0.25,
                median_los_days: 17.0,
            },
        }
    }
}

impl Params {
    /// The incidence entry for a condition.
    pub fn incidence_of(&self, c: Cond) -> Option<&Incidence> {
        self.incidence.iter().find(|i| i.cond == c)
    }

    /// The case fatality for an event.
    pub fn case_fatality_of(&self, c: Cond) -> Option<&CaseFatality> {
        self.case_fatality.iter().find(|(k, _)| *k == c).map(|(_, f)| f)
    }
}

impl Confounders {
    /// Linear predictor for a patient.
    pub fn linear(&self, x: &crate::studies::pci::Covariates) -> f64 {
        let f = |b: bool, c: f64| if b { c } else { 0.0 };
        self.intercept
            + self.age_per_decade * (x.age as f64 - 65.0) / 10.0
            + f(x.female, self.female)
            + self.bmi_per_5 * (x.bmi - 24.0) / 5.0
            + f(x.dyslipidemia, self.dyslipidemia)
            + f(x.diabetes, self.diabetes)
            + f(x.hypertension, self.hypertension)
            + f(x.prior_pci, self.prior_pci)
            + f(x.prior_cabg, self.prior_cabg)
            + f(x.prior_stroke, self.prior_stroke)
            + f(x.ckd3, self.ckd3)
            + f(x.acs, self.acs)
            + self.per_year_since_2013 * (x.year - 2013) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_round_trip_through_json_and_defaults_fill_gaps() {
        let p = Params::default();
        let s = serde_json::to_string(&p).expect("ser");
        let q: Params = serde_json::from_str(&s).expect("de");
        assert_eq!(p, q);
        let partial: Params = serde_json::from_str(r#"{"case_report_fraction": 0.5}"#).expect("de");
        assert_eq!(partial.case_report_fraction, 0.5);
        assert_eq!(partial.pci, p.pci);
    }

    #[test]
    fn hf_mortality_rises_with_class_and_age_and_30d_exceeds_in_hospital() {
        let h = Params::default().hf;
        for age in [60, 75, 90] {
            for k in 0..4 {
                assert!(h.p_30d(k, age) > h.p_in_hospital(k, age));
                if k > 0 {
                    assert!(h.p_in_hospital(k, age) > h.p_in_hospital(k - 1, age));
                }
            }
        }
        assert!(h.p_in_hospital(3, 90) > h.p_in_hospital(3, 60));
        // Male annual mortality at 80 is about 5%.
        let q80 = Params::default().mortality.annual(true, 80);
        assert!((0.035..0.065).contains(&q80), "{q80}");
    }
}
