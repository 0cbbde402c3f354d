//! From resources to analysable events. The resources are flattened by six
//! SQL-on-FHIR ViewDefinitions (`views/regional_*.json`, run by
//! `analytics::view`) into Arrow tables ([`Tables`]); [`Dataset::build`] then
//! places every patient (home address valid at the date of care, so patients
//! who move are counted where they lived at the time) and every facility with
//! the [`AreaModel`], and turns encounters and claims into compact [`Event`]s.
//!
//! The tables can come from resources pushed by any source (a store scan,
//! NDJSON files) or from Parquet files materialised earlier with
//! `medtwin regional materialize`.

use std::collections::HashMap;

use analytics::view::{RunOptions, ViewDefinition, ViewSink};
use arrow::array::{Array, Float64Array, StringArray};
use arrow::record_batch::RecordBatch;
use rayon::prelude::*;

use crate::area::{AddressParts, AreaModel, Place, Resolution};
use crate::{Error, Result};

/// The views, by name, as embedded JSON.
pub const VIEW_SOURCES: &[(&str, &str)] = &[
    ("regional_residences", include_str!("../views/regional_residences.json")),
    ("regional_facilities", include_str!("../views/regional_facilities.json")),
    ("regional_locations", include_str!("../views/regional_locations.json")),
    ("regional_encounters", include_str!("../views/regional_encounters.json")),
    ("regional_conditions", include_str!("../views/regional_conditions.json")),
    ("regional_claims", include_str!("../views/regional_claims.json")),
];

/// The compiled views.
pub fn views() -> Result<Vec<ViewDefinition>> {
    VIEW_SOURCES.iter().map(|(_, text)| Ok(ViewDefinition::from_json_str(text)?)).collect()
}

/// The flattened tables, by view name.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    /// Record batches per view name (`regional_encounters`, ...).
    pub batches: HashMap<String, Vec<RecordBatch>>,
}

/// A callback that feeds every resource of one type, as JSON text, to `push`.
pub type PushFn<'a> = dyn FnMut(String) -> analytics::view::Result<()> + 'a;

impl Tables {
    /// Runs the views over resources: `source(type, push)` must call `push` once
    /// per resource of `type` (in any order), e.g. from a store scan or NDJSON files.
    pub fn from_resources(source: &mut dyn FnMut(&str, &mut PushFn<'_>) -> Result<()>) -> Result<Tables> {
        let mut t = Tables::default();
        for view in views()? {
            let name = view.name.clone().unwrap_or_default();
            let mut batches = Vec::new();
            {
                let mut sink = ViewSink::new(&view, RunOptions::default(), |b| {
                    batches.push(b);
                    Ok(())
                });
                source(&view.resource, &mut |json| sink.push(json))?;
                sink.finish()?;
            }
            t.batches.insert(name, batches);
        }
        Ok(t)
    }

    /// Runs the views over in-memory resources (any mix of types).
    pub fn from_values(resources: &[serde_json::Value]) -> Result<Tables> {
        Tables::from_resources(&mut |ty, push| {
            for r in resources.iter().filter(|r| r.get("resourceType").and_then(|t| t.as_str()) == Some(ty)) {
                push(r.to_string())?;
            }
            Ok(())
        })
    }

    fn get(&self, name: &str) -> &[RecordBatch] {
        self.batches.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

fn strings<'a>(b: &'a RecordBatch, name: &str, view: &str) -> Result<&'a StringArray> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| Error::Invalid(format!("table {view} has no text column '{name}'")))
}

fn floats<'a>(b: &'a RecordBatch, name: &str, view: &str) -> Result<&'a Float64Array> {
    b.column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<Float64Array>())
        .ok_or_else(|| Error::Invalid(format!("table {view} has no decimal column '{name}'")))
}

fn get(a: &StringArray, i: usize) -> Option<&str> {
    if a.is_null(i) {
        None
    } else {
        Some(a.value(i)).filter(|s| !s.is_empty())
    }
}

/// A month as `year * 12 + (month - 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month(pub u32);

impl Month {
    /// Parses `YYYY-MM` (or the start of a FHIR date/dateTime).
    pub fn parse(s: &str) -> Option<Month> {
        let b = s.as_bytes();
        if b.len() < 7 || b[4] != b'-' {
            return None;
        }
        let y: u32 = s.get(..4)?.parse().ok()?;
        let m: u32 = s.get(5..7)?.parse().ok()?;
        if !(1..=12).contains(&m) || !(1900..=2200).contains(&y) {
            return None;
        }
        Some(Month(y * 12 + m - 1))
    }
    /// The year.
    pub fn year(self) -> u32 {
        self.0 / 12
    }
    /// The month, 1 to 12.
    pub fn month(self) -> u32 {
        self.0 % 12 + 1
    }
    /// The Japanese fiscal year (April to March).
    pub fn fiscal_year(self) -> u32 {
        if self.month() >= 4 { self.year() } else { self.year() - 1 }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

/// A facility as placed by the area model.
#[derive(Debug, Clone)]
pub struct Facility {
    /// Organization id (or the 医療機関コード for claims that only name it).
    pub id: String,
    /// Name.
    pub name: String,
    /// 10-digit 医療機関コード when known.
    pub institution_code: Option<String>,
    /// Where it is.
    pub place: Place,
    /// How the place was found.
    pub resolution: Resolution,
}

/// One encounter or claim.
#[derive(Debug, Clone, Copy)]
pub struct Event {
    /// Patient index (`u32::MAX` when the patient is unknown).
    pub patient: u32,
    /// Residence at the date of care.
    pub residence: Place,
    /// Facility index (`u32::MAX` when unknown).
    pub facility: u32,
    /// Month of care (encounter start, claim billable period start).
    pub month: Month,
    /// Inpatient (encounter class IMP/ACUTE/NONAC, claim type institutional).
    pub inpatient: bool,
    /// Index into [`Dataset::dx_codes`] of the primary diagnosis (`u32::MAX`: none).
    pub dx: u32,
    /// Points (claims; 1 point = 10 yen), 0 for encounters.
    pub points: f64,
}

/// Counts of how places were resolved.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ResolutionCounts {
    /// From the municipality-code extension.
    pub municipality_code: u64,
    /// From the 構想区域-code extension.
    pub area_code: u64,
    /// From prefecture and city text.
    pub text: u64,
    /// Prefecture only.
    pub prefecture_only: u64,
    /// Unknown.
    pub unknown: u64,
}

impl ResolutionCounts {
    fn add(&mut self, r: Resolution) {
        match r {
            Resolution::MunicipalityCode => self.municipality_code += 1,
            Resolution::AreaCode => self.area_code += 1,
            Resolution::Text => self.text += 1,
            Resolution::PrefectureOnly => self.prefecture_only += 1,
            Resolution::Unknown => self.unknown += 1,
        }
    }
}

/// Events ready for aggregation.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// Encounters.
    pub encounters: Vec<Event>,
    /// Claims.
    pub claims: Vec<Event>,
    /// Facilities.
    pub facilities: Vec<Facility>,
    /// Interned primary-diagnosis ICD-10 codes.
    pub dx_codes: Vec<String>,
    /// Patients.
    pub patients: u64,
    /// Rows dropped because they had no usable date.
    pub undated: u64,
    /// How patients' (current-row) addresses were placed, per address row.
    pub residence_resolution: ResolutionCounts,
    /// How facilities were placed.
    pub facility_resolution: ResolutionCounts,
}

/// One home address of a patient with its validity.
#[derive(Debug, Clone)]
struct Residence {
    start: Option<String>,
    end: Option<String>,
    place: Option<Place>,
}

fn residence_at(list: &[Residence], date: &str) -> Option<Place> {
    if list.len() == 1 && list[0].start.is_none() && list[0].end.is_none() {
        return list[0].place;
    }
    let d = date.get(..10).unwrap_or(date);
    let covers = |r: &Residence| {
        r.start.as_deref().is_none_or(|s| s.get(..10).unwrap_or(s) <= d) && r.end.as_deref().is_none_or(|e| d <= e.get(..10).unwrap_or(e))
    };
    // A dated address that covers the day wins over an undated one.
    list.iter()
        .filter(|r| (r.start.is_some() || r.end.is_some()) && covers(r))
        .chain(list.iter().filter(|r| r.start.is_none() && r.end.is_none()))
        .next()
        .and_then(|r| r.place)
}

fn is_inpatient_class(c: Option<&str>) -> bool {
    matches!(c, Some("IMP" | "ACUTE" | "NONAC"))
}

impl Dataset {
    /// Places patients and facilities and builds the events.
    pub fn build(t: &Tables, model: &AreaModel) -> Result<Dataset> {
        let mut ds = Dataset::default();
        // Patients and their addresses.
        let mut patient_index: HashMap<String, u32> = HashMap::new();
        let mut residences: Vec<Vec<Residence>> = Vec::new();
        let v = "regional_residences";
        for b in t.get(v) {
            let (id, ps, pe, mc, ac, st, ci) = (
                strings(b, "patient_id", v)?,
                strings(b, "period_start", v)?,
                strings(b, "period_end", v)?,
                strings(b, "municipality_code", v)?,
                strings(b, "area_code", v)?,
                strings(b, "prefecture", v)?,
                strings(b, "city", v)?,
            );
            for i in 0..b.num_rows() {
                let Some(pid) = get(id, i) else { continue };
                let next = residences.len() as u32;
                let idx = *patient_index.entry(pid.to_string()).or_insert(next);
                if idx == next {
                    residences.push(Vec::new());
                }
                let parts = AddressParts {
                    municipality_code: get(mc, i),
                    area_code: get(ac, i),
                    state: get(st, i),
                    city: get(ci, i),
                    institution_code: None,
                };
                let any = parts.municipality_code.is_some() || parts.area_code.is_some() || parts.state.is_some() || parts.city.is_some();
                let (place, how) = model.resolve(&parts);
                ds.residence_resolution.add(if any { how } else { Resolution::Unknown });
                residences[idx as usize].push(Residence {
                    start: get(ps, i).map(str::to_string),
                    end: get(pe, i).map(str::to_string),
                    place: (how != Resolution::Unknown).then_some(place),
                });
            }
        }
        ds.patients = residences.len() as u64;
        // Facilities: Organizations, then Locations for organizations without an address.
        let mut facility_index: HashMap<String, u32> = HashMap::new();
        let mut by_code: HashMap<String, u32> = HashMap::new();
        let v = "regional_facilities";
        for b in t.get(v) {
            let (id, code, name, mc, ac, st, ci) = (
                strings(b, "facility_id", v)?,
                strings(b, "institution_code", v)?,
                strings(b, "name", v)?,
                strings(b, "municipality_code", v)?,
                strings(b, "area_code", v)?,
                strings(b, "prefecture", v)?,
                strings(b, "city", v)?,
            );
            for i in 0..b.num_rows() {
                let Some(fid) = get(id, i) else { continue };
                let parts = AddressParts {
                    municipality_code: get(mc, i),
                    area_code: get(ac, i),
                    state: get(st, i),
                    city: get(ci, i),
                    institution_code: get(code, i),
                };
                let (place, resolution) = model.resolve(&parts);
                let k = ds.facilities.len() as u32;
                facility_index.insert(fid.to_string(), k);
                if let Some(c) = get(code, i) {
                    by_code.insert(c.to_string(), k);
                }
                ds.facilities.push(Facility {
                    id: fid.to_string(),
                    name: get(name, i).unwrap_or(fid).to_string(),
                    institution_code: get(code, i).map(str::to_string),
                    place,
                    resolution,
                });
            }
        }
        let mut location_facility: HashMap<String, u32> = HashMap::new();
        let v = "regional_locations";
        for b in t.get(v) {
            let (id, org, name, mc, ac, st, ci) = (
                strings(b, "location_id", v)?,
                strings(b, "facility_id", v)?,
                strings(b, "name", v)?,
                strings(b, "municipality_code", v)?,
                strings(b, "area_code", v)?,
                strings(b, "prefecture", v)?,
                strings(b, "city", v)?,
            );
            for i in 0..b.num_rows() {
                let Some(lid) = get(id, i) else { continue };
                let parts =
                    AddressParts { municipality_code: get(mc, i), area_code: get(ac, i), state: get(st, i), city: get(ci, i), institution_code: None };
                let (place, resolution) = model.resolve(&parts);
                let known_org = get(org, i).and_then(|o| facility_index.get(o)).copied();
                match known_org {
                    Some(k) => {
                        // The Location's address fills in an Organization without one.
                        let f = &mut ds.facilities[k as usize];
                        if f.resolution == Resolution::Unknown && resolution != Resolution::Unknown {
                            f.place = place;
                            f.resolution = resolution;
                        }
                        location_facility.insert(lid.to_string(), k);
                    }
                    None => {
                        let k = ds.facilities.len() as u32;
                        ds.facilities.push(Facility {
                            id: lid.to_string(),
                            name: get(name, i).unwrap_or(lid).to_string(),
                            institution_code: None,
                            place,
                            resolution,
                        });
                        location_facility.insert(lid.to_string(), k);
                    }
                }
            }
        }
        // Conditions: id → interned ICD-10 code.
        let mut dx_index: HashMap<String, u32> = HashMap::new();
        let mut condition_dx: HashMap<String, u32> = HashMap::new();
        let v = "regional_conditions";
        for b in t.get(v) {
            let (id, code) = (strings(b, "condition_id", v)?, strings(b, "icd10", v)?);
            for i in 0..b.num_rows() {
                let (Some(cid), Some(c)) = (get(id, i), get(code, i)) else { continue };
                let next = ds.dx_codes.len() as u32;
                let d = *dx_index.entry(c.to_string()).or_insert(next);
                if d == next {
                    ds.dx_codes.push(c.to_string());
                }
                condition_dx.insert(cid.to_string(), d);
            }
        }
        // Claims that name their provider only by 医療機関コード (UKE): facilities by code.
        let v = "regional_claims";
        for b in t.get(v) {
            let (fid, code) = (strings(b, "facility_id", v)?, strings(b, "institution_code", v)?);
            for i in 0..b.num_rows() {
                if get(fid, i).is_some_and(|f| facility_index.contains_key(f)) {
                    continue;
                }
                if let Some(c) = get(code, i)
                    && !by_code.contains_key(c)
                {
                    let (place, resolution) = model.resolve(&AddressParts { institution_code: Some(c), ..Default::default() });
                    by_code.insert(c.to_string(), ds.facilities.len() as u32);
                    ds.facilities.push(Facility {
                        id: c.to_string(),
                        name: c.to_string(),
                        institution_code: Some(c.to_string()),
                        place,
                        resolution,
                    });
                }
            }
        }
        for f in &ds.facilities {
            ds.facility_resolution.add(f.resolution);
        }
        let residence_of = |pid: Option<&str>, date: &str| -> (u32, Place) {
            match pid.and_then(|p| patient_index.get(p)) {
                Some(&i) => (i, residence_at(&residences[i as usize], date).unwrap_or_default()),
                None => (u32::MAX, Place::default()),
            }
        };
        // Encounters, batch by batch in parallel (the row functions borrow the indexes).
        let (residence_of, facility_index, location_facility, condition_dx, by_code) =
            (&residence_of, &facility_index, &location_facility, &condition_dx, &by_code);
        let v = "regional_encounters";
        let (events, undated) = events_of(t.get(v), "start", v, |b| {
            let (pid, fid, lid, class, cond) = (
                strings(b, "patient_id", v)?.clone(),
                strings(b, "facility_id", v)?.clone(),
                strings(b, "location_id", v)?.clone(),
                strings(b, "class", v)?.clone(),
                strings(b, "primary_condition_id", v)?.clone(),
            );
            Ok(move |i: usize, date: &str, month: Month| {
                let (patient, residence) = residence_of(get(&pid, i), date);
                let facility = get(&fid, i)
                    .and_then(|f| facility_index.get(f))
                    .or_else(|| get(&lid, i).and_then(|l| location_facility.get(l)))
                    .copied()
                    .unwrap_or(u32::MAX);
                let dx = get(&cond, i).and_then(|c| condition_dx.get(c)).copied().unwrap_or(u32::MAX);
                Event { patient, residence, facility, month, inpatient: is_inpatient_class(get(&class, i)), dx, points: 0.0 }
            })
        })?;
        ds.encounters = events;
        ds.undated += undated;
        // Claims.
        let v = "regional_claims";
        let dx_index = &dx_index;
        let (events, undated) = events_of(t.get(v), "period_start", v, |b| {
            let (pid, fid, code, ty, yen, cond, icd) = (
                strings(b, "patient_id", v)?.clone(),
                strings(b, "facility_id", v)?.clone(),
                strings(b, "institution_code", v)?.clone(),
                strings(b, "claim_type", v)?.clone(),
                floats(b, "total_yen", v)?.clone(),
                strings(b, "primary_condition_id", v)?.clone(),
                strings(b, "primary_icd10", v)?.clone(),
            );
            Ok(move |i: usize, date: &str, month: Month| {
                let (patient, residence) = residence_of(get(&pid, i), date);
                let facility = get(&fid, i)
                    .and_then(|f| facility_index.get(f))
                    .or_else(|| get(&code, i).and_then(|c| by_code.get(c)))
                    .copied()
                    .unwrap_or(u32::MAX);
                let dx = get(&cond, i)
                    .and_then(|c| condition_dx.get(c))
                    .or_else(|| get(&icd, i).and_then(|c| dx_index.get(c)))
                    .copied()
                    .unwrap_or(u32::MAX);
                let points = if yen.is_null(i) { 0.0 } else { yen.value(i) / 10.0 };
                Event { patient, residence, facility, month, inpatient: get(&ty, i) == Some("institutional"), dx, points }
            })
        })?;
        ds.claims = events;
        ds.undated += undated;
        Ok(ds)
    }

    /// The place of an event's facility (unknown when the facility is).
    pub fn facility_place(&self, e: &Event) -> Place {
        self.facilities.get(e.facility as usize).map(|f| f.place).unwrap_or_default()
    }
}

/// The events of one view's batches, in batch order, built in parallel:
/// `row(batch)` prepares a batch (its columns) and returns the function that
/// turns row `i`, with its date (column `date_column`) and month, into an
/// [`Event`]. Rows without a usable date are counted, not returned.
fn events_of<F, G>(batches: &[RecordBatch], date_column: &str, view: &str, row: F) -> Result<(Vec<Event>, u64)>
where
    F: Fn(&RecordBatch) -> Result<G> + Sync,
    G: FnMut(usize, &str, Month) -> Event,
{
    let parts: Vec<Result<(Vec<Event>, u64)>> = batches
        .par_iter()
        .map(|b| {
            let start = strings(b, date_column, view)?;
            let mut make = row(b)?;
            let mut out = Vec::with_capacity(b.num_rows());
            let mut undated = 0;
            for i in 0..b.num_rows() {
                let Some((date, month)) = get(start, i).and_then(|s| Month::parse(s).map(|m| (s, m))) else {
                    undated += 1;
                    continue;
                };
                out.push(make(i, date, month));
            }
            Ok((out, undated))
        })
        .collect();
    let mut events = Vec::new();
    let mut undated = 0;
    for p in parts {
        let (e, u) = p?;
        events.extend(e);
        undated += u;
    }
    Ok((events, undated))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_fiscal_years() {
        let m = Month::parse("2024-03-31T10:00:00+09:00").expect("month");
        assert_eq!(m.to_string(), "2024-03");
        assert_eq!(m.fiscal_year(), 2023);
        assert_eq!(Month::parse("2024-04").expect("m").fiscal_year(), 2024);
        assert!(Month::parse("2024").is_none() && Month::parse("2024-13").is_none() && Month::parse("abcd-01").is_none());
    }

    #[test]
    fn the_views_compile() {
        assert_eq!(views().expect("views").len(), VIEW_SOURCES.len());
    }
}
