//! CLIDAS-like PCI cohort: after PCI for ACS or CCS a patient is discharged on a
//! high- or moderate-intensity statin chosen by a logistic model of the
//! confounders; myocardial infarction and stroke then occur with proportional
//! hazards whose treatment effect is the configured true hazard ratio. Because
//! the confounders also drive the outcomes, a crude comparison is biased while
//! an analysis that balances them (propensity matching or stratification)
//! recovers the truth.

use crate::params::{logistic, PciParams};
use crate::rng::{stream, Rng};
use serde::Serialize;

/// The confounders at the index PCI.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Covariates {
    /// Age in years.
    pub age: i32,
    /// Female sex.
    pub female: bool,
    /// Body-mass index.
    pub bmi: f64,
    /// Dyslipidaemia.
    pub dyslipidemia: bool,
    /// Diabetes.
    pub diabetes: bool,
    /// Hypertension.
    pub hypertension: bool,
    /// PCI before the index one.
    pub prior_pci: bool,
    /// CABG before the index PCI.
    pub prior_cabg: bool,
    /// Prior stroke.
    pub prior_stroke: bool,
    /// CKD stage 3 or worse.
    pub ckd3: bool,
    /// ACS (true) or CCS (false).
    pub acs: bool,
    /// Calendar year of the PCI.
    pub year: i32,
}

/// Probability of high-intensity statin given the confounders (the true propensity score).
pub fn propensity(p: &PciParams, x: &Covariates) -> f64 {
    logistic(p.ps.linear(x))
}

/// Yearly hazards (MI, stroke) for a patient and treatment.
pub fn hazards(p: &PciParams, x: &Covariates, high: bool) -> (f64, f64) {
    let mi = p.base_mi_per_year * p.mi.linear(x).exp() * if high { p.hr_mi_high_vs_moderate } else { 1.0 };
    let st = p.base_stroke_per_year * p.stroke.linear(x).exp() * if high { p.hr_stroke_high_vs_moderate } else { 1.0 };
    (mi, st)
}

/// One simulated cohort member's outcome (stand-alone simulation).
#[derive(Debug, Clone, Serialize)]
pub struct CohortRow {
    /// Confounders.
    pub x: Covariates,
    /// True propensity.
    pub ps: f64,
    /// High intensity.
    pub high: bool,
    /// Years to first MI or censoring.
    pub t_mi: f64,
    /// MI observed.
    pub mi: bool,
    /// Years to first stroke or censoring.
    pub t_stroke: f64,
    /// Stroke observed.
    pub stroke: bool,
}

/// Draws covariates of a PCI patient as the population model would produce them
/// (for the stand-alone simulation; the population model uses each patient's history).
pub fn draw_covariates(rng: &mut Rng) -> Covariates {
    let female = rng.chance(0.22);
    let age = rng.gauss(69.0, 10.0).clamp(35.0, 95.0) as i32;
    Covariates {
        age,
        female,
        bmi: rng.gauss(24.3, 3.5).clamp(15.0, 45.0),
        dyslipidemia: rng.chance(0.6),
        diabetes: rng.chance(0.38),
        hypertension: rng.chance(0.72),
        prior_pci: rng.chance(0.2),
        prior_cabg: rng.chance(0.04),
        prior_stroke: rng.chance(0.09),
        ckd3: rng.chance(0.18 + 0.01 * (age - 65).max(0) as f64),
        acs: rng.chance(0.5),
        year: 2013 + rng.below(8) as i32,
    }
}

/// Draws the time to an exponential event with a yearly hazard.
pub fn exp_time(rng: &mut Rng, per_year: f64) -> f64 {
    if per_year <= 0.0 {
        return f64::INFINITY;
    }
    -(1.0 - rng.f64()).ln() / per_year
}

/// Stand-alone cohort of `n` patients, to check the design (bias of the crude
/// comparison, recovery after balancing). Censoring: loss to follow-up and the horizon.
pub fn simulate_cohort(p: &PciParams, seed: u64, n: usize) -> Vec<CohortRow> {
    (0..n)
        .map(|i| {
            let mut rng = Rng::new(seed, stream::PCI_COHORT, i as u64);
            let x = draw_covariates(&mut rng);
            let ps = propensity(p, &x);
            let high = rng.chance(ps);
            let (h_mi, h_st) = hazards(p, &x, high);
            let c = exp_time(&mut rng, p.loss_per_year).min(p.followup_years);
            let e_mi = exp_time(&mut rng, h_mi);
            let e_st = exp_time(&mut rng, h_st);
            CohortRow { ps, high, t_mi: e_mi.min(c), mi: e_mi <= c, t_stroke: e_st.min(c), stroke: e_st <= c, x }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;

    /// Rate ratio (events per person-year), high vs moderate.
    fn crude(rows: &[CohortRow], mi: bool) -> f64 {
        let (mut e1, mut t1, mut e0, mut t0) = (0.0, 0.0, 0.0, 0.0);
        for r in rows {
            let (t, e) = if mi { (r.t_mi, r.mi) } else { (r.t_stroke, r.stroke) };
            if r.high {
                t1 += t;
                e1 += e as u8 as f64;
            } else {
                t0 += t;
                e0 += e as u8 as f64;
            }
        }
        (e1 / t1) / (e0 / t0)
    }

    /// Mantel-Haenszel rate ratio across deciles of the true propensity score.
    fn stratified(rows: &[CohortRow], mi: bool) -> f64 {
        let mut ps: Vec<f64> = rows.iter().map(|r| r.ps).collect();
        ps.sort_by(|a, b| a.total_cmp(b));
        let cuts: Vec<f64> = (1..10).map(|k| ps[k * ps.len() / 10]).collect();
        let mut strata = vec![(0.0, 0.0, 0.0, 0.0); 10];
        for r in rows {
            let s = cuts.partition_point(|c| *c <= r.ps);
            let (t, e) = if mi { (r.t_mi, r.mi) } else { (r.t_stroke, r.stroke) };
            let st = &mut strata[s];
            if r.high {
                st.0 += e as u8 as f64;
                st.1 += t;
            } else {
                st.2 += e as u8 as f64;
                st.3 += t;
            }
        }
        let (mut num, mut den) = (0.0, 0.0);
        for (e1, t1, e0, t0) in strata {
            let t = t1 + t0;
            if t > 0.0 {
                num += e1 * t0 / t;
                den += e0 * t1 / t;
            }
        }
        num / den
    }

    #[test]
    fn crude_comparison_is_biased_and_balancing_recovers_the_truth() {
        let p = Params::default().pci;
        let rows = simulate_cohort(&p, 20_240_601, 60_000);
        let share_high = rows.iter().filter(|r| r.high).count() as f64 / rows.len() as f64;
        assert!((0.3..0.7).contains(&share_high), "{share_high}");
        for (mi, truth) in [(true, p.hr_mi_high_vs_moderate), (false, p.hr_stroke_high_vs_moderate)] {
            let c = crude(&rows, mi);
            let s = stratified(&rows, mi);
            eprintln!("mi={mi} truth={truth} crude={c:.3} stratified={s:.3}");
            assert!((s.ln() - truth.ln()).abs() < 0.12, "stratified {s} vs truth {truth}");
            assert!((c.ln() - truth.ln()).abs() > 0.15, "crude {c} should be biased away from {truth}");
        }
    }
}
