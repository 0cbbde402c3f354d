//! The measures: the flow matrix (residence area × care area, patients and
//! encounters) with per-area within/inflow/outflow/自給率, patients per
//! facility by residence area, and claims occurrence rates (レセプト件数 per
//! population per month) with average points per claim by area and period.
//! Every report is returned already protected by [`crate::suppress`]; raw
//! counts only come out with `Policy { threshold: 1 }`, which the library's
//! own tests use.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::area::{AreaModel, Level, Place, Unit};
use crate::data::{Dataset, Event, FastMap, FastSet, Month};
use crate::disease::DiseaseGroup;
use crate::suppress::{self, Count, MatrixLayout, Policy, ProtectedMatrix, Relation};
use crate::{Error, Result};

/// Care setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Setting {
    /// Inpatient and outpatient.
    All,
    /// Inpatient (admissions; institutional claims).
    Inpatient,
    /// Outpatient.
    Outpatient,
}

impl Setting {
    /// Parses `all`, `inpatient` or `outpatient`.
    pub fn parse(s: &str) -> Result<Setting> {
        match s {
            "all" => Ok(Setting::All),
            "inpatient" | "入院" => Ok(Setting::Inpatient),
            "outpatient" | "外来" => Ok(Setting::Outpatient),
            _ => Err(Error::Invalid(format!("unknown setting '{s}' (all, inpatient or outpatient)"))),
        }
    }
    /// Japanese label.
    pub fn label(self) -> &'static str {
        match self {
            Setting::All => "入院・外来",
            Setting::Inpatient => "入院",
            Setting::Outpatient => "外来",
        }
    }
}

/// Which records the flows count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Encounters.
    Encounters,
    /// Claims.
    Claims,
}

/// Period grouping for trends and rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// Calendar month.
    Month,
    /// Fiscal year (April to March), labelled `FY2024`.
    Fy,
}

impl Period {
    /// Parses `month` or `fy`.
    pub fn parse(s: &str) -> Result<Period> {
        match s {
            "month" => Ok(Period::Month),
            "fy" | "fiscal-year" => Ok(Period::Fy),
            _ => Err(Error::Invalid(format!("unknown period '{s}' (month or fy)"))),
        }
    }
    fn key(self, m: Month) -> u32 {
        match self {
            Period::Month => m.0,
            Period::Fy => m.fiscal_year(),
        }
    }
    fn label(self, k: u32) -> String {
        match self {
            Period::Month => Month(k).to_string(),
            Period::Fy => format!("FY{k}"),
        }
    }
}

/// What to count.
#[derive(Debug, Clone)]
pub struct Filter {
    /// Disease group (primary diagnosis).
    pub disease: DiseaseGroup,
    /// Care setting.
    pub setting: Setting,
    /// First month, inclusive.
    pub from: Option<Month>,
    /// Last month, inclusive.
    pub to: Option<Month>,
}

impl Filter {
    fn keep(&self, ds: &Dataset, dx_match: &[bool], e: &Event) -> bool {
        let setting = match self.setting {
            Setting::All => true,
            Setting::Inpatient => e.inpatient,
            Setting::Outpatient => !e.inpatient,
        };
        let _ = ds;
        setting
            && self.from.is_none_or(|f| e.month >= f)
            && self.to.is_none_or(|t| e.month <= t)
            && if self.disease.is_all() { true } else { dx_match.get(e.dx as usize).copied().unwrap_or(false) }
    }
    fn dx_match(&self, ds: &Dataset) -> Vec<bool> {
        ds.dx_codes.iter().map(|c| self.disease.matches(Some(c))).collect()
    }
}

/// A row or column of a table.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UnitInfo {
    /// Code (municipality, 構想区域, 二次医療圏 or prefecture code).
    pub code: String,
    /// Japanese name.
    pub name: String,
    /// Whether it lies in the modelled region.
    pub in_region: bool,
}

/// Records that could not be placed (already protected).
#[derive(Debug, Clone, Serialize)]
pub struct Unknowns {
    /// Records whose patient's residence is unknown at the level.
    pub residence_records: Count,
    /// Distinct patients among them.
    pub residence_patients: Count,
    /// Records whose facility location is unknown at the level.
    pub facility_records: Count,
    /// Distinct patients among them.
    pub facility_patients: Count,
}

/// Per-area summary of a flow matrix.
#[derive(Debug, Clone, Serialize)]
pub struct AreaSummary {
    /// The area.
    pub area: UnitInfo,
    /// Residents of the area treated anywhere (row total).
    pub residents: Count,
    /// Patients treated in the area, wherever they live (column total).
    pub treated: Count,
    /// Residents treated within the area (diagonal).
    pub within: Count,
    /// Residents treated elsewhere.
    pub outflow: Count,
    /// Non-residents treated in the area.
    pub inflow: Count,
    /// 自給率 = within / residents.
    pub self_sufficiency: Option<f64>,
    /// 流出率 = outflow / residents.
    pub outflow_rate: Option<f64>,
    /// 流入率 = inflow / treated.
    pub inflow_rate: Option<f64>,
}

/// A protected flow matrix with its area summaries.
#[derive(Debug, Clone, Serialize)]
pub struct FlowTable {
    /// Cells, `rows[r]` × `cols[c]`, row-major.
    pub cells: Vec<Count>,
    /// Row totals (residence).
    pub row_totals: Vec<Count>,
    /// Column totals (care).
    pub col_totals: Vec<Count>,
    /// Grand total.
    pub total: Count,
    /// Per area of the region.
    pub areas: Vec<AreaSummary>,
}

/// The flow report.
#[derive(Debug, Clone, Serialize)]
pub struct FlowReport {
    /// Level.
    pub level: Level,
    /// Disease group key and name.
    pub disease: (String, String),
    /// Setting.
    pub setting: Setting,
    /// Counted records.
    pub source: Source,
    /// First and last month of the data counted.
    pub period: (Option<String>, Option<String>),
    /// Threshold below which counts are suppressed.
    pub threshold: u64,
    /// Residence areas (rows).
    pub rows: Vec<UnitInfo>,
    /// Care areas (columns).
    pub cols: Vec<UnitInfo>,
    /// Distinct patients per cell (a patient treated in two areas counts in both;
    /// totals are sums of cells).
    pub patients: FlowTable,
    /// Records (encounters or claims) per cell.
    pub records: FlowTable,
    /// What could not be placed.
    pub unknown: Unknowns,
}

fn info(model: &AreaModel, u: Unit, level: Level) -> UnitInfo {
    let (code, name) = model.unit_label(u, level);
    let in_region = match u {
        Unit::OtherPrefecture(_) => false,
        Unit::Known(i) => match level {
            Level::Municipality | Level::Iryoken2 => true,
            Level::Kosoku => model.region.contains(&model.kosoku[i as usize].pref),
            Level::Prefecture => model.region.contains(&(i as usize)),
        },
    };
    UnitInfo { code, name, in_region }
}

/// The units in table order: the region's first, then the others by code.
fn ordered_units(model: &AreaModel, level: Level, seen: &BTreeSet<Unit>) -> Vec<Unit> {
    let mut units = model.region_units(level);
    let region: HashSet<Unit> = units.iter().copied().collect();
    let mut rest: Vec<Unit> = seen.iter().copied().filter(|u| !region.contains(u)).collect();
    rest.sort_by_key(|u| model.unit_label(*u, level).0);
    units.extend(rest);
    units
}

fn protect_count(n: u64, policy: Policy) -> Count {
    if n > 0 && n < policy.threshold { Count::Suppressed(policy.threshold) } else { Count::Value(n) }
}

/// Protects a flow matrix together with its outflow/inflow relations.
fn protect_flows(raw: &[u64], rows: &[Unit], cols: &[Unit], region: &[Unit], model: &AreaModel, level: Level, policy: Policy) -> FlowTable {
    let l = MatrixLayout { rows: rows.len(), cols: cols.len() };
    let mut values = l.values(raw);
    let mut relations = l.relations();
    // Areas present both as a row and a column get within/outflow/inflow.
    struct Pair {
        unit: Unit,
        r: usize,
        c: usize,
        out_idx: usize,
        in_idx: usize,
    }
    let mut pairs = Vec::new();
    for &u in region {
        let (Some(r), Some(c)) = (rows.iter().position(|x| *x == u), cols.iter().position(|x| *x == u)) else { continue };
        let out_parts: Vec<usize> = (0..cols.len()).filter(|&j| j != c).map(|j| l.cell(r, j)).collect();
        let in_parts: Vec<usize> = (0..rows.len()).filter(|&i| i != r).map(|i| l.cell(i, c)).collect();
        let out_idx = values.len();
        values.push(out_parts.iter().map(|&k| values[k]).sum());
        let in_idx = values.len();
        values.push(in_parts.iter().map(|&k| values[k]).sum());
        relations.push(Relation { parts: out_parts, total: out_idx });
        relations.push(Relation { parts: in_parts, total: in_idx });
        relations.push(Relation { parts: vec![l.cell(r, c), out_idx], total: l.row_total(r) });
        relations.push(Relation { parts: vec![l.cell(r, c), in_idx], total: l.col_total(c) });
        pairs.push(Pair { unit: u, r, c, out_idx, in_idx });
    }
    let s = suppress::protect(&values, &relations, policy);
    let counts = suppress::publish(&values, &s, policy);
    let ProtectedMatrix { cells, row_totals, col_totals, total } = l.split(&counts);
    let areas = pairs
        .iter()
        .map(|p| {
            let within = counts[l.cell(p.r, p.c)];
            let residents = counts[l.row_total(p.r)];
            let treated = counts[l.col_total(p.c)];
            let outflow = counts[p.out_idx];
            let inflow = counts[p.in_idx];
            AreaSummary {
                area: info(model, p.unit, level),
                residents,
                treated,
                within,
                outflow,
                inflow,
                self_sufficiency: suppress::rate(within, residents, 1.0),
                outflow_rate: suppress::rate(outflow, residents, 1.0),
                inflow_rate: suppress::rate(inflow, treated, 1.0),
            }
        })
        .collect();
    FlowTable { cells, row_totals, col_totals, total, areas }
}

/// Computes the flow report.
pub fn flows(ds: &Dataset, model: &AreaModel, level: Level, filter: &Filter, source: Source, policy: Policy) -> FlowReport {
    let dx = filter.dx_match(ds);
    let events = match source {
        Source::Encounters => &ds.encounters,
        Source::Claims => &ds.claims,
    };
    let mut cell_records: FastMap<(Unit, Unit), u64> = FastMap::default();
    let mut cell_patients: FastSet<(Unit, Unit, u32)> = FastSet::default();
    let (mut unk_res, mut unk_fac) = (0u64, 0u64);
    let (mut unk_res_p, mut unk_fac_p): (FastSet<u32>, FastSet<u32>) = Default::default();
    let (mut first, mut last): (Option<Month>, Option<Month>) = (None, None);
    for e in events.iter().filter(|e| filter.keep(ds, &dx, e)) {
        first = Some(first.map_or(e.month, |f| f.min(e.month)));
        last = Some(last.map_or(e.month, |l| l.max(e.month)));
        let res = model.unit(&e.residence, level);
        let fac = model.unit(&ds.facility_place(e), level);
        if res.is_none() {
            unk_res += 1;
            unk_res_p.insert(e.patient);
        }
        if fac.is_none() {
            unk_fac += 1;
            unk_fac_p.insert(e.patient);
        }
        let (Some(r), Some(f)) = (res, fac) else { continue };
        *cell_records.entry((r, f)).or_insert(0) += 1;
        cell_patients.insert((r, f, e.patient));
    }
    let rows_seen: BTreeSet<Unit> = cell_records.keys().map(|k| k.0).collect();
    let cols_seen: BTreeSet<Unit> = cell_records.keys().map(|k| k.1).collect();
    let rows = ordered_units(model, level, &rows_seen);
    let cols = ordered_units(model, level, &cols_seen);
    let ri: HashMap<Unit, usize> = rows.iter().enumerate().map(|(i, u)| (*u, i)).collect();
    let ci: HashMap<Unit, usize> = cols.iter().enumerate().map(|(i, u)| (*u, i)).collect();
    let mut raw_rec = vec![0u64; rows.len() * cols.len()];
    let mut raw_pat = vec![0u64; rows.len() * cols.len()];
    for ((r, c), n) in &cell_records {
        raw_rec[ri[r] * cols.len() + ci[c]] = *n;
    }
    for (r, c, _) in &cell_patients {
        raw_pat[ri[r] * cols.len() + ci[c]] += 1;
    }
    let region = model.region_units(level);
    FlowReport {
        level,
        disease: (filter.disease.key.clone(), filter.disease.name.clone()),
        setting: filter.setting,
        source,
        period: (first.map(|m| m.to_string()), last.map(|m| m.to_string())),
        threshold: policy.threshold,
        rows: rows.iter().map(|u| info(model, *u, level)).collect(),
        cols: cols.iter().map(|u| info(model, *u, level)).collect(),
        patients: protect_flows(&raw_pat, &rows, &cols, &region, model, level, policy),
        records: protect_flows(&raw_rec, &rows, &cols, &region, model, level, policy),
        unknown: Unknowns {
            residence_records: protect_count(unk_res, policy),
            residence_patients: protect_count(unk_res_p.len() as u64, policy),
            facility_records: protect_count(unk_fac, policy),
            facility_patients: protect_count(unk_fac_p.len() as u64, policy),
        },
    }
}

/// One facility row of the facility report.
#[derive(Debug, Clone, Serialize)]
pub struct FacilityRow {
    /// Facility id.
    pub id: String,
    /// Name.
    pub name: String,
    /// 医療機関コード.
    pub institution_code: Option<String>,
    /// The area the facility is in (at the report's level).
    pub area: Option<UnitInfo>,
}

/// Patients per facility by residence area.
#[derive(Debug, Clone, Serialize)]
pub struct FacilityReport {
    /// Level of the residence areas.
    pub level: Level,
    /// Disease group key and name.
    pub disease: (String, String),
    /// Setting.
    pub setting: Setting,
    /// Threshold.
    pub threshold: u64,
    /// Facilities (rows), those with at least one patient.
    pub facilities: Vec<FacilityRow>,
    /// Residence areas (columns).
    pub cols: Vec<UnitInfo>,
    /// Distinct patients, facility × residence area, row-major.
    pub cells: Vec<Count>,
    /// Per facility.
    pub row_totals: Vec<Count>,
    /// Per residence area.
    pub col_totals: Vec<Count>,
    /// Total.
    pub total: Count,
    /// What could not be placed.
    pub unknown: Unknowns,
}

/// Computes the facility report.
pub fn facilities(ds: &Dataset, model: &AreaModel, level: Level, filter: &Filter, source: Source, policy: Policy) -> FacilityReport {
    let dx = filter.dx_match(ds);
    let events = match source {
        Source::Encounters => &ds.encounters,
        Source::Claims => &ds.claims,
    };
    let mut cell_patients: FastSet<(u32, Unit, u32)> = FastSet::default();
    let (mut unk_res, mut unk_fac) = (0u64, 0u64);
    let (mut unk_res_p, mut unk_fac_p): (FastSet<u32>, FastSet<u32>) = Default::default();
    for e in events.iter().filter(|e| filter.keep(ds, &dx, e)) {
        let res = model.unit(&e.residence, level);
        if res.is_none() {
            unk_res += 1;
            unk_res_p.insert(e.patient);
        }
        if e.facility == u32::MAX {
            unk_fac += 1;
            unk_fac_p.insert(e.patient);
        }
        if let (Some(r), true) = (res, e.facility != u32::MAX) {
            cell_patients.insert((e.facility, r, e.patient));
        }
    }
    let fac_seen: BTreeSet<u32> = cell_patients.iter().map(|k| k.0).collect();
    let cols_seen: BTreeSet<Unit> = cell_patients.iter().map(|k| k.1).collect();
    let mut facs: Vec<u32> = fac_seen.into_iter().collect();
    facs.sort_by(|a, b| {
        let fa = &ds.facilities[*a as usize];
        let fb = &ds.facilities[*b as usize];
        (model.unit(&fa.place, level), &fa.id).cmp(&(model.unit(&fb.place, level), &fb.id))
    });
    let cols = ordered_units(model, level, &cols_seen);
    let fi: HashMap<u32, usize> = facs.iter().enumerate().map(|(i, f)| (*f, i)).collect();
    let ci: HashMap<Unit, usize> = cols.iter().enumerate().map(|(i, u)| (*u, i)).collect();
    let mut raw = vec![0u64; facs.len() * cols.len()];
    for (f, c, _) in &cell_patients {
        raw[fi[f] * cols.len() + ci[c]] += 1;
    }
    let m = suppress::protect_matrix(facs.len(), cols.len(), &raw, policy);
    FacilityReport {
        level,
        disease: (filter.disease.key.clone(), filter.disease.name.clone()),
        setting: filter.setting,
        threshold: policy.threshold,
        facilities: facs
            .iter()
            .map(|&f| {
                let x = &ds.facilities[f as usize];
                FacilityRow {
                    id: x.id.clone(),
                    name: x.name.clone(),
                    institution_code: x.institution_code.clone(),
                    area: model.unit(&x.place, level).map(|u| info(model, u, level)),
                }
            })
            .collect(),
        cols: cols.iter().map(|u| info(model, *u, level)).collect(),
        cells: m.cells,
        row_totals: m.row_totals,
        col_totals: m.col_totals,
        total: m.total,
        unknown: Unknowns {
            residence_records: protect_count(unk_res, policy),
            residence_patients: protect_count(unk_res_p.len() as u64, policy),
            facility_records: protect_count(unk_fac, policy),
            facility_patients: protect_count(unk_fac_p.len() as u64, policy),
        },
    }
}

/// One cell of the rates report.
#[derive(Debug, Clone, Serialize)]
pub struct RateCell {
    /// レセプト件数: distinct (patient, facility, month) among the claims.
    pub claims: Count,
    /// Claims per 1,000 population per month.
    pub rate_per_1000: Option<f64>,
    /// Average points per claim.
    pub mean_points: Option<f64>,
}

/// Claims occurrence rates by residence area and period.
#[derive(Debug, Clone, Serialize)]
pub struct RateReport {
    /// Level of the residence areas.
    pub level: Level,
    /// Disease group key and name.
    pub disease: (String, String),
    /// Setting.
    pub setting: Setting,
    /// Period grouping.
    pub period: Period,
    /// Threshold.
    pub threshold: u64,
    /// Residence areas (rows) of the region.
    pub rows: Vec<UnitInfo>,
    /// Population per row (2020 census) when known.
    pub population: Vec<Option<u64>>,
    /// Periods (columns).
    pub periods: Vec<String>,
    /// Months covered by each period column.
    pub months: Vec<u32>,
    /// Cells, row-major.
    pub cells: Vec<RateCell>,
    /// Per area over all periods.
    pub row_totals: Vec<RateCell>,
    /// Per period over the region.
    pub col_totals: Vec<RateCell>,
    /// Everything.
    pub total: RateCell,
    /// Claims of patients living outside the region or with unknown residence.
    pub outside_or_unknown_residence: Count,
}

/// For each claim, whether it is the first of its レセプト (one patient at one
/// facility in one month) in row order; claims of unknown patients each count.
/// The claims are grouped by patient first (a counting sort that keeps row
/// order), so that each patient's few (facility, month) pairs are deduplicated
/// in a small set that stays in cache, instead of one set as large as the data.
fn first_of_receipt(claims: &[&Event]) -> Vec<bool> {
    let known = |e: &Event| (e.patient != u32::MAX).then_some(e.patient as usize);
    let patients = claims.iter().filter_map(|e| known(e)).max().map_or(0, |p| p + 1);
    let mut start = vec![0usize; patients + 1];
    for p in claims.iter().filter_map(|e| known(e)) {
        start[p + 1] += 1;
    }
    for p in 0..patients {
        start[p + 1] += start[p];
    }
    let mut order = vec![0usize; start[patients]];
    let mut fill = start.clone();
    for (k, e) in claims.iter().enumerate() {
        if let Some(p) = known(e) {
            order[fill[p]] = k;
            fill[p] += 1;
        }
    }
    let mut first = vec![true; claims.len()];
    let mut seen: FastSet<(u32, Month)> = FastSet::default();
    for p in 0..patients {
        seen.clear();
        for &k in &order[start[p]..start[p + 1]] {
            first[k] = seen.insert((claims[k].facility, claims[k].month));
        }
    }
    first
}

/// Computes claims rates by residence area and period.
pub fn rates(ds: &Dataset, model: &AreaModel, level: Level, filter: &Filter, period: Period, policy: Policy) -> RateReport {
    let dx = filter.dx_match(ds);
    let region = model.region_units(level);
    let ri: FastMap<Unit, usize> = region.iter().enumerate().map(|(i, u)| (*u, i)).collect();
    // A レセプト is one patient at one facility in one month.
    let kept: Vec<&Event> = ds.claims.iter().filter(|e| filter.keep(ds, &dx, e)).collect();
    let first_of_receipt = first_of_receipt(&kept);
    let mut per: FastMap<(usize, u32), (u64, f64)> = FastMap::default();
    let (mut first, mut last): (Option<Month>, Option<Month>) = (None, None);
    let mut outside = 0u64;
    for (e, new) in kept.iter().zip(first_of_receipt) {
        first = Some(first.map_or(e.month, |f| f.min(e.month)));
        last = Some(last.map_or(e.month, |l| l.max(e.month)));
        let row = model.unit(&e.residence, level).and_then(|u| ri.get(&u)).copied();
        let Some(r) = row else {
            if new {
                outside += 1;
            }
            continue;
        };
        let c = per.entry((r, period.key(e.month))).or_insert((0, 0.0));
        if new {
            c.0 += 1;
        }
        c.1 += e.points;
    }
    // Columns: every period between the first and last month of the data (or the filter).
    let lo = filter.from.or(first);
    let hi = filter.to.or(last);
    let mut keys: Vec<u32> = Vec::new();
    let mut months_in: HashMap<u32, u32> = HashMap::new();
    if let (Some(lo), Some(hi)) = (lo, hi) {
        for m in lo.0..=hi.0 {
            let k = period.key(Month(m));
            if keys.last() != Some(&k) {
                keys.push(k);
            }
            *months_in.entry(k).or_insert(0) += 1;
        }
    }
    let (nr, nc) = (region.len(), keys.len());
    let l = MatrixLayout { rows: nr, cols: nc };
    let mut raw = vec![0u64; nr * nc];
    let mut pts = vec![0f64; nr * nc];
    for ((r, k), (n, p)) in &per {
        if let Some(c) = keys.iter().position(|x| x == k) {
            raw[l.cell(*r, c)] = *n;
            pts[l.cell(*r, c)] = *p;
        }
    }
    let values = l.values(&raw);
    let s = suppress::protect(&values, &l.relations(), policy);
    let counts = suppress::publish(&values, &s, policy);
    let population: Vec<Option<u64>> = region.iter().map(|u| model.unit_population(*u, level)).collect();
    let total_pop: Option<u64> = population.iter().copied().sum();
    let months: Vec<u32> = keys.iter().map(|k| months_in[k]).collect();
    let total_months: u32 = months.iter().sum();
    let cell = |count: Count, points: f64, pop: Option<u64>, months: u32| RateCell {
        claims: count,
        rate_per_1000: match (count, pop) {
            (Count::Value(n), Some(p)) if p > 0 && months > 0 => Some(n as f64 / p as f64 / months as f64 * 1000.0),
            _ => None,
        },
        mean_points: match count {
            Count::Value(n) if n > 0 => Some(points / n as f64),
            _ => None,
        },
    };
    let mut cells = Vec::with_capacity(nr * nc);
    for r in 0..nr {
        for c in 0..nc {
            cells.push(cell(counts[l.cell(r, c)], pts[l.cell(r, c)], population[r], months[c]));
        }
    }
    let row_totals = (0..nr)
        .map(|r| cell(counts[l.row_total(r)], (0..nc).map(|c| pts[l.cell(r, c)]).sum(), population[r], total_months))
        .collect();
    let col_totals = (0..nc).map(|c| cell(counts[l.col_total(c)], (0..nr).map(|r| pts[l.cell(r, c)]).sum(), total_pop, months[c])).collect();
    RateReport {
        level,
        disease: (filter.disease.key.clone(), filter.disease.name.clone()),
        setting: filter.setting,
        period,
        threshold: policy.threshold,
        rows: region.iter().map(|u| info(model, *u, level)).collect(),
        population,
        periods: keys.iter().map(|k| period.label(*k)).collect(),
        months,
        cells,
        row_totals,
        col_totals,
        total: cell(counts[l.grand()], pts.iter().sum(), total_pop, total_months),
        outside_or_unknown_residence: protect_count(outside, policy),
    }
}

/// The region unit of a place at a level, if in the region (for maps).
pub fn region_unit_of(model: &AreaModel, p: &Place, level: Level) -> Option<Unit> {
    model.unit(p, level).filter(|u| model.region_units(level).contains(u))
}
