//! The published reference layer: MHLW's NDB-based inflow and outflow rates
//! for all 339 構想区域 (令和7年度 publication, FY2024 data), for acute care
//! (高度急性期+急性期, from the partner-zone tables: outflow rate = 1 − the
//! share of residents treated in their own zone, inflow rate = 1 − the share of
//! the zone's patients who live there) and over all phases (the overall table),
//! and their comparison with rates computed from a data set.

use std::collections::HashMap;

use serde::Serialize;

use crate::area::{AreaModel, Level};
use crate::measure::FlowReport;
use crate::{Error, Result};

/// Published rates of one 構想区域.
#[derive(Debug, Clone, Serialize)]
pub struct ReferenceArea {
    /// Prefecture code.
    pub pref_code: String,
    /// Prefecture name.
    pub pref_name: String,
    /// 構想区域 code.
    pub code: String,
    /// 構想区域 name.
    pub name: String,
    /// 2020 population.
    pub population: u64,
    /// Acute-care outflow rate (1 − own-zone share of residents).
    pub acute_outflow_rate: Option<f64>,
    /// Acute-care inflow rate (1 − own-zone share of patients treated).
    pub acute_inflow_rate: Option<f64>,
    /// Overall outflow rate (all phases).
    pub overall_outflow_rate: Option<f64>,
    /// Overall inflow rate (all phases).
    pub overall_inflow_rate: Option<f64>,
}

fn self_shares(text: &str) -> Result<HashMap<String, f64>> {
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |n: &str| head.iter().position(|c| *c == n).ok_or_else(|| Error::Invalid(format!("flow table lacks {n}")));
    let (a, p, r, st) = (col("area_code")?, col("partner_area_code")?, col("rate")?, col("value_status")?);
    let mut out = HashMap::new();
    for line in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        if f.get(st) != Some(&"observed") || f.get(a) != f.get(p) {
            continue;
        }
        if let (Some(code), Some(rate)) = (f.get(a), f.get(r).and_then(|x| x.parse::<f64>().ok())) {
            out.insert(code.to_string(), rate);
        }
    }
    Ok(out)
}

/// The reference table for all 構想区域, in the order of the MHLW table.
pub fn reference(model: &AreaModel) -> Result<Vec<ReferenceArea>> {
    let out_self = self_shares(areas::PATIENT_FLOW_ACUTE_OUTFLOW)?;
    let in_self = self_shares(areas::PATIENT_FLOW_ACUTE_INFLOW)?;
    let mut overall: HashMap<(String, String), f64> = HashMap::new();
    let mut lines = areas::PATIENT_FLOW_TOTAL.lines();
    let head: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |n: &str| head.iter().position(|c| *c == n).ok_or_else(|| Error::Invalid(format!("overall table lacks {n}")));
    let (fy, a, d, r) = (col("published_fy")?, col("area_code")?, col("direction")?, col("overall_rate")?);
    for line in lines.filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        if f.get(fy) != Some(&"R7") {
            continue;
        }
        if let (Some(code), Some(dir), Some(rate)) = (f.get(a), f.get(d), f.get(r).and_then(|x| x.parse::<f64>().ok())) {
            overall.insert((code.to_string(), dir.to_string()), rate);
        }
    }
    Ok(model
        .kosoku
        .iter()
        // The published zones (a user table may add others, which have no reference rates).
        .filter(|k| out_self.contains_key(&k.code) || overall.contains_key(&(k.code.clone(), "流出率".to_string())))
        .map(|k| ReferenceArea {
            pref_code: model.prefectures[k.pref].code.clone(),
            pref_name: model.prefectures[k.pref].name.clone(),
            code: k.code.clone(),
            name: k.name.clone(),
            population: k.population,
            acute_outflow_rate: out_self.get(&k.code).map(|s| 1.0 - s),
            acute_inflow_rate: in_self.get(&k.code).map(|s| 1.0 - s),
            overall_outflow_rate: overall.get(&(k.code.clone(), "流出率".to_string())).copied(),
            overall_inflow_rate: overall.get(&(k.code.clone(), "流入率".to_string())).copied(),
        })
        .collect())
}

/// The mean NDB acute-care outflow rate of each prefecture's 構想区域 (those
/// with a rate), keyed by prefecture code: the national map's measure, shared
/// by the CLI and the web page so that both show the same numbers.
pub fn mean_acute_outflow_by_prefecture(list: &[ReferenceArea]) -> HashMap<String, f64> {
    let mut by_pref: HashMap<String, (f64, u32)> = HashMap::new();
    for x in list {
        if let Some(r) = x.acute_outflow_rate {
            let e = by_pref.entry(x.pref_code.clone()).or_insert((0.0, 0));
            e.0 += r;
            e.1 += 1;
        }
    }
    by_pref.into_iter().map(|(k, (s, n))| (k, s / f64::from(n))).collect()
}

/// A reference area next to the rates computed from a data set.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The published figures.
    pub reference: ReferenceArea,
    /// Computed outflow rate (patients), when shown.
    pub outflow_rate: Option<f64>,
    /// Computed inflow rate (patients), when shown.
    pub inflow_rate: Option<f64>,
    /// Computed minus published acute outflow rate.
    pub outflow_difference: Option<f64>,
    /// Computed minus published acute inflow rate.
    pub inflow_difference: Option<f64>,
}

/// Compares a 構想区域-level flow report with the published acute-care rates.
pub fn compare(model: &AreaModel, flows: &FlowReport) -> Result<Vec<Comparison>> {
    if flows.level != Level::Kosoku {
        return Err(Error::Invalid("the reference rates are per 構想区域: compute the flows with level kosoku".into()));
    }
    let reference = reference(model)?;
    Ok(flows
        .patients
        .areas
        .iter()
        .filter_map(|a| {
            let r = reference.iter().find(|r| r.code == a.area.code)?.clone();
            let diff = |x: Option<f64>, y: Option<f64>| x.zip(y).map(|(x, y)| x - y);
            Some(Comparison {
                outflow_difference: diff(a.outflow_rate, r.acute_outflow_rate),
                inflow_difference: diff(a.inflow_rate, r.acute_inflow_rate),
                outflow_rate: a.outflow_rate,
                inflow_rate: a.inflow_rate,
                reference: r,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_339_areas_with_published_rates() {
        let m = AreaModel::japan().expect("japan");
        let r = reference(&m).expect("reference");
        assert_eq!(r.len(), 339);
        // 南渡島 (0101): own-zone share of residents 0.9668 in the acute outflow table.
        let a = r.iter().find(|x| x.code == "0101").expect("0101");
        assert!((a.acute_outflow_rate.expect("rate") - (1.0 - 0.966783042926569)).abs() < 1e-12);
        assert!((a.acute_inflow_rate.expect("rate") - (1.0 - 0.9062844376965826)).abs() < 1e-12);
        assert!((a.overall_outflow_rate.expect("rate") - 0.033216957073430975).abs() < 1e-12);
        let with_acute = r.iter().filter(|x| x.acute_outflow_rate.is_some()).count();
        assert!(with_acute > 300, "{with_acute}");
    }
}
