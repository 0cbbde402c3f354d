//! Heart-failure admissions: NYHA class at admission, acute (de novo) or chronic
//! (decompensated chronic) type, and in-hospital and 30-day death with
//! probabilities that rise with NYHA class and age (logistic model, see
//! [`crate::params::HfParams`]).

use crate::params::HfParams;
use crate::rng::Rng;
use serde::Serialize;

/// The outcome of one admission.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct HfAdmission {
    /// NYHA class index 0-3 (I-IV).
    pub nyha: usize,
    /// De novo (acute) heart failure rather than decompensated chronic heart failure.
    pub acute: bool,
    /// Length of stay in days (death day when the patient died in hospital).
    pub los_days: i32,
    /// Died in hospital.
    pub died_in_hospital: bool,
    /// Died within 30 days of admission (after discharge, or in hospital).
    pub died_30d: bool,
    /// Day after admission of a post-discharge death within 30 days.
    pub death_day: Option<i32>,
}

/// Draws an admission.
pub fn admit(p: &HfParams, rng: &mut Rng, age: i32, first: bool) -> HfAdmission {
    let nyha = rng.weighted(&p.nyha_distribution);
    // Survivors' stays are capped at 28 days so that every death within 30 days of
    // admission is either in hospital or after discharge, never ambiguous.
    let los = (p.median_los_days * rng.gauss(0.0, 0.35).exp()).round().clamp(3.0, 28.0) as i32;
    let p_inh = p.p_in_hospital(nyha, age);
    let p_30 = p.p_30d(nyha, age);
    if rng.chance(p_inh) {
        let d = (rng.f64() * los as f64).ceil().max(1.0) as i32;
        return HfAdmission { nyha, acute: first, los_days: d, died_in_hospital: true, died_30d: true, death_day: Some(d) };
    }
    let p_post = ((p_30 - p_inh) / (1.0 - p_inh)).max(0.0);
    if rng.chance(p_post) {
        let d = los + 1 + rng.below((30 - los).max(1) as u64) as i32;
        return HfAdmission { nyha, acute: first, los_days: los, died_in_hospital: false, died_30d: true, death_day: Some(d.min(30)) };
    }
    HfAdmission { nyha, acute: first, los_days: los, died_in_hospital: false, died_30d: false, death_day: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;
    use crate::rng::Rng;

    #[test]
    fn observed_mortality_matches_model_by_class() {
        let p = Params::default().hf;
        let mut rng = Rng::new(9, 99, 0);
        let mut obs = [(0.0, 0.0, 0.0, 0.0); 4];
        for _ in 0..80_000 {
            let age = 60 + rng.below(35) as i32;
            let a = admit(&p, &mut rng, age, true);
            let o = &mut obs[a.nyha];
            o.0 += a.died_in_hospital as u8 as f64;
            o.1 += p.p_in_hospital(a.nyha, age);
            o.2 += a.died_30d as u8 as f64;
            o.3 += p.p_30d(a.nyha, age);
        }
        for (k, o) in obs.iter().enumerate() {
            assert!((o.0 / o.1 - 1.0).abs() < 0.2, "class {k}: in-hospital O/E {}", o.0 / o.1);
            assert!((o.2 / o.3 - 1.0).abs() < 0.15, "class {k}: 30-day O/E {}", o.2 / o.3);
        }
    }
}
