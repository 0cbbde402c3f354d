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
use std::path::{Path, PathBuf};
use std::sync::Arc;

use analytics::view::{RunOptions, ViewDefinition, ViewSink};
use arrow::array::{Array, DictionaryArray, Float64Array, Int32Array, StringArray};
use arrow::datatypes::{DataType, Field, Int32Type, Schema};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
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

    /// Reads the views from the Parquet files that `medtwin regional
    /// materialize` writes (`DIR/regional_*.parquet`; several folders, e.g.
    /// one per insurer, are read as one data set in the order given). Only
    /// the columns [`Dataset::build`] reads are decoded, the id columns as
    /// dictionaries (each distinct id is then looked up once per batch), all
    /// files in parallel; `need` skips the event table an analysis does not count.
    pub fn from_parquet(dirs: &[PathBuf], need: Need) -> Result<Tables> {
        let views: Vec<&str> = VIEW_SOURCES
            .iter()
            .map(|(name, _)| *name)
            .filter(|name| !matches!((*name, need), ("regional_encounters", Need::Claims) | ("regional_claims", Need::Encounters)))
            .collect();
        let jobs: Vec<(&str, &PathBuf)> = views.iter().flat_map(|v| dirs.iter().map(move |d| (*v, d))).collect();
        let read: Vec<Result<Vec<RecordBatch>>> = jobs.par_iter().map(|(v, d)| read_view(&d.join(format!("{v}.parquet")), v)).collect();
        let mut t = Tables::default();
        for ((v, _), batches) in jobs.iter().zip(read) {
            t.batches.entry(v.to_string()).or_default().extend(batches?);
        }
        Ok(t)
    }

    fn get(&self, name: &str) -> &[RecordBatch] {
        self.batches.get(name).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// A hash map with a fast, fixed-seed hasher (foldhash) for the id lookups:
/// the keys are ids from the tables, never secrets, and a fixed seed keeps
/// runs reproducible.
pub(crate) type FastMap<K, V> = HashMap<K, V, foldhash::fast::FixedState>;

/// A hash set with the same hasher as [`FastMap`].
pub(crate) type FastSet<K> = std::collections::HashSet<K, foldhash::fast::FixedState>;

/// A text column, plain or dictionary-encoded (as [`Tables::from_parquet`] reads id columns).
#[derive(Clone, Copy)]
enum Text<'a> {
    Plain(&'a StringArray),
    Dict(&'a Int32Array, &'a StringArray),
}

impl<'a> Text<'a> {
    /// Row `i`, `None` when null or empty.
    fn get(self, i: usize) -> Option<&'a str> {
        match self {
            Text::Plain(a) => get(a, i),
            Text::Dict(keys, values) => {
                if keys.is_null(i) {
                    return None;
                }
                let k = usize::try_from(keys.value(i)).ok().filter(|&k| k < values.len())?;
                get(values, k)
            }
        }
    }
}

fn text<'a>(b: &'a RecordBatch, name: &str, view: &str) -> Result<Text<'a>> {
    let missing = || Error::Invalid(format!("table {view} has no text column '{name}'"));
    let c = b.column_by_name(name).ok_or_else(missing)?;
    if let Some(a) = c.as_any().downcast_ref::<StringArray>() {
        return Ok(Text::Plain(a));
    }
    let d = c.as_any().downcast_ref::<DictionaryArray<Int32Type>>().ok_or_else(missing)?;
    let values = d.values().as_any().downcast_ref::<StringArray>().ok_or_else(missing)?;
    Ok(Text::Dict(d.keys(), values))
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

/// Which event table an analysis counts (the other is not read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Encounters only (flows and facilities over encounters).
    Encounters,
    /// Claims only (rates; flows and facilities over claims).
    Claims,
    /// Both.
    Both,
}

/// The columns of each view that [`Dataset::build`] reads.
const COLUMNS: &[(&str, &[&str])] = &[
    ("regional_residences", &["patient_id", "period_start", "period_end", "municipality_code", "area_code", "prefecture", "city"]),
    ("regional_facilities", &["facility_id", "institution_code", "name", "municipality_code", "area_code", "prefecture", "city"]),
    ("regional_locations", &["location_id", "facility_id", "name", "municipality_code", "area_code", "prefecture", "city"]),
    ("regional_encounters", &["patient_id", "facility_id", "location_id", "class", "start", "primary_condition_id"]),
    ("regional_conditions", &["condition_id", "icd10"]),
    ("regional_claims", &["patient_id", "facility_id", "institution_code", "claim_type", "period_start", "total_yen", "primary_condition_id", "primary_icd10"]),
];

/// Columns of the event tables whose values repeat from row to row (the
/// patient and facility ids, codes), read as dictionaries.
const DICTIONARY_COLUMNS: &[&str] = &["patient_id", "facility_id", "location_id", "class", "institution_code", "claim_type", "icd10"];

/// Rows per batch when reading Parquet: a few dozen batches per view for the
/// parallel loops, each worth looking its dictionaries up for.
const PARQUET_BATCH_ROWS: usize = 65_536;

/// One view's Parquet file: the columns [`Dataset::build`] reads, the
/// repeated ids of the event tables as dictionaries.
fn read_view(path: &Path, view: &str) -> Result<Vec<RecordBatch>> {
    let err = |e: &dyn std::fmt::Display| Error::Invalid(format!("reading {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| err(&e))?;
    let meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new()).map_err(|e| err(&e))?;
    let events = matches!(view, "regional_encounters" | "regional_claims" | "regional_conditions");
    let fields: Vec<Field> = meta
        .schema()
        .fields()
        .iter()
        .map(|f| {
            if events && f.data_type() == &DataType::Utf8 && DICTIONARY_COLUMNS.contains(&f.name().as_str()) {
                Field::new(f.name(), DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), f.is_nullable())
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    let hinted = Arc::new(Schema::new_with_metadata(fields, meta.schema().metadata().clone()));
    let meta = ArrowReaderMetadata::try_new(meta.metadata().clone(), ArrowReaderOptions::new().with_schema(hinted)).map_err(|e| err(&e))?;
    let columns = COLUMNS.iter().find(|(v, _)| *v == view).map(|(_, c)| *c).unwrap_or(&[]);
    let mask = ProjectionMask::columns(meta.parquet_schema(), columns.iter().copied());
    let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta)
        .with_projection(mask)
        .with_batch_size(PARQUET_BATCH_ROWS)
        .build()
        .map_err(|e| err(&e))?;
    reader.map(|b| b.map_err(|e| err(&e))).collect()
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

/// One home address of a patient with its validity (dates borrowed from the table).
#[derive(Debug, Clone)]
struct Residence<'a> {
    start: Option<&'a str>,
    end: Option<&'a str>,
    place: Option<Place>,
}

fn residence_at(list: &[Residence<'_>], date: &str) -> Option<Place> {
    if list.len() == 1 && list[0].start.is_none() && list[0].end.is_none() {
        return list[0].place;
    }
    let d = date.get(..10).unwrap_or(date);
    let covers = |r: &Residence<'_>| r.start.is_none_or(|s| s.get(..10).unwrap_or(s) <= d) && r.end.is_none_or(|e| d <= e.get(..10).unwrap_or(e));
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

/// Marks a row whose id is missing or not in the index.
const NONE: u32 = u32::MAX;

/// The index of every row's id in `index` ([`NONE`] when missing or unknown).
/// A dictionary column looks each distinct value up once; a plain column
/// reuses the previous row's answer when the id repeats (rows come grouped
/// by patient and facility).
fn lookup(col: Text<'_>, rows: usize, index: &FastMap<&str, u32>) -> Vec<u32> {
    let find = |s: Option<&str>| s.and_then(|s| index.get(s)).copied().unwrap_or(NONE);
    match col {
        Text::Plain(a) => {
            let mut prev: Option<(&str, u32)> = None;
            (0..rows)
                .map(|i| match get(a, i) {
                    None => NONE,
                    Some(s) => match prev {
                        Some((p, k)) if p == s => k,
                        _ => {
                            let k = find(Some(s));
                            prev = Some((s, k));
                            k
                        }
                    },
                })
                .collect()
        }
        Text::Dict(keys, values) => {
            let of_value: Vec<u32> = (0..values.len()).map(|j| find(get(values, j))).collect();
            (0..rows).map(|i| if keys.is_null(i) { NONE } else { of_value.get(keys.value(i) as usize).copied().unwrap_or(NONE) }).collect()
        }
    }
}

impl Dataset {
    /// Places patients and facilities and builds the events.
    pub fn build(t: &Tables, model: &AreaModel) -> Result<Dataset> {
        let mut ds = Dataset::default();
        // Patients and their addresses.
        let mut patient_index: FastMap<&str, u32> = FastMap::default();
        let mut residences: Vec<Vec<Residence<'_>>> = Vec::new();
        let v = "regional_residences";
        for b in t.get(v) {
            let (id, ps, pe, mc, ac, st, ci) = (
                text(b, "patient_id", v)?,
                text(b, "period_start", v)?,
                text(b, "period_end", v)?,
                text(b, "municipality_code", v)?,
                text(b, "area_code", v)?,
                text(b, "prefecture", v)?,
                text(b, "city", v)?,
            );
            for i in 0..b.num_rows() {
                let Some(pid) = id.get(i) else { continue };
                let next = residences.len() as u32;
                let idx = *patient_index.entry(pid).or_insert(next);
                if idx == next {
                    residences.push(Vec::new());
                }
                let parts = AddressParts {
                    municipality_code: mc.get(i),
                    area_code: ac.get(i),
                    state: st.get(i),
                    city: ci.get(i),
                    institution_code: None,
                };
                let any = parts.municipality_code.is_some() || parts.area_code.is_some() || parts.state.is_some() || parts.city.is_some();
                let (place, how) = model.resolve(&parts);
                ds.residence_resolution.add(if any { how } else { Resolution::Unknown });
                residences[idx as usize].push(Residence { start: ps.get(i), end: pe.get(i), place: (how != Resolution::Unknown).then_some(place) });
            }
        }
        ds.patients = residences.len() as u64;
        // Facilities: Organizations, then Locations for organizations without an address.
        let mut facility_index: FastMap<&str, u32> = FastMap::default();
        let mut by_code: FastMap<&str, u32> = FastMap::default();
        let v = "regional_facilities";
        for b in t.get(v) {
            let (id, code, name, mc, ac, st, ci) = (
                text(b, "facility_id", v)?,
                text(b, "institution_code", v)?,
                text(b, "name", v)?,
                text(b, "municipality_code", v)?,
                text(b, "area_code", v)?,
                text(b, "prefecture", v)?,
                text(b, "city", v)?,
            );
            for i in 0..b.num_rows() {
                let Some(fid) = id.get(i) else { continue };
                let parts = AddressParts {
                    municipality_code: mc.get(i),
                    area_code: ac.get(i),
                    state: st.get(i),
                    city: ci.get(i),
                    institution_code: code.get(i),
                };
                let (place, resolution) = model.resolve(&parts);
                let k = ds.facilities.len() as u32;
                facility_index.insert(fid, k);
                if let Some(c) = code.get(i) {
                    by_code.insert(c, k);
                }
                ds.facilities.push(Facility {
                    id: fid.to_string(),
                    name: name.get(i).unwrap_or(fid).to_string(),
                    institution_code: code.get(i).map(str::to_string),
                    place,
                    resolution,
                });
            }
        }
        let mut location_facility: FastMap<&str, u32> = FastMap::default();
        let v = "regional_locations";
        for b in t.get(v) {
            let (id, org, name, mc, ac, st, ci) = (
                text(b, "location_id", v)?,
                text(b, "facility_id", v)?,
                text(b, "name", v)?,
                text(b, "municipality_code", v)?,
                text(b, "area_code", v)?,
                text(b, "prefecture", v)?,
                text(b, "city", v)?,
            );
            for i in 0..b.num_rows() {
                let Some(lid) = id.get(i) else { continue };
                let parts = AddressParts { municipality_code: mc.get(i), area_code: ac.get(i), state: st.get(i), city: ci.get(i), institution_code: None };
                let (place, resolution) = model.resolve(&parts);
                let known_org = org.get(i).and_then(|o| facility_index.get(o)).copied();
                match known_org {
                    Some(k) => {
                        // The Location's address fills in an Organization without one.
                        let f = &mut ds.facilities[k as usize];
                        if f.resolution == Resolution::Unknown && resolution != Resolution::Unknown {
                            f.place = place;
                            f.resolution = resolution;
                        }
                        location_facility.insert(lid, k);
                    }
                    None => {
                        let k = ds.facilities.len() as u32;
                        ds.facilities.push(Facility {
                            id: lid.to_string(),
                            name: name.get(i).unwrap_or(lid).to_string(),
                            institution_code: None,
                            place,
                            resolution,
                        });
                        location_facility.insert(lid, k);
                    }
                }
            }
        }
        // Conditions: id → interned ICD-10 code.
        let mut dx_index: FastMap<&str, u32> = FastMap::default();
        let mut condition_dx: FastMap<&str, u32> = FastMap::default();
        let v = "regional_conditions";
        condition_dx.reserve(t.get(v).iter().map(RecordBatch::num_rows).sum());
        for b in t.get(v) {
            let (id, code) = (text(b, "condition_id", v)?, text(b, "icd10", v)?);
            for i in 0..b.num_rows() {
                let (Some(cid), Some(c)) = (id.get(i), code.get(i)) else { continue };
                let next = ds.dx_codes.len() as u32;
                let d = *dx_index.entry(c).or_insert(next);
                if d == next {
                    ds.dx_codes.push(c.to_string());
                }
                condition_dx.insert(cid, d);
            }
        }
        // Claims' Organizations, batch by batch in parallel; then the claims that
        // name their provider only by 医療機関コード (UKE) add facilities by code, in row order.
        let v = "regional_claims";
        let claim_facility: Vec<Vec<u32>> =
            t.get(v).par_iter().map(|b| Ok(lookup(text(b, "facility_id", v)?, b.num_rows(), &facility_index))).collect::<Result<_>>()?;
        for (b, fac) in t.get(v).iter().zip(&claim_facility) {
            let code = text(b, "institution_code", v)?;
            for i in (0..b.num_rows()).filter(|&i| fac[i] == NONE) {
                if let Some(c) = code.get(i)
                    && !by_code.contains_key(c)
                {
                    let (place, resolution) = model.resolve(&AddressParts { institution_code: Some(c), ..Default::default() });
                    by_code.insert(c, ds.facilities.len() as u32);
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
        let residence_of = |patient: u32, date: &str| -> Place {
            match residences.get(patient as usize) {
                Some(list) => residence_at(list, date).unwrap_or_default(),
                None => Place::default(),
            }
        };
        // Encounters, batch by batch in parallel: the id columns are looked up
        // column by column, then the rows become events.
        let (residence_of, facility_index, location_facility, condition_dx, by_code, patient_index) =
            (&residence_of, &facility_index, &location_facility, &condition_dx, &by_code, &patient_index);
        let v = "regional_encounters";
        let (events, undated) = events_of(t.get(v), "start", v, |_, b| {
            let n = b.num_rows();
            let (lid, class) = (text(b, "location_id", v)?, text(b, "class", v)?);
            let patients = lookup(text(b, "patient_id", v)?, n, patient_index);
            let mut facilities = lookup(text(b, "facility_id", v)?, n, facility_index);
            for (i, f) in facilities.iter_mut().enumerate().filter(|(_, f)| **f == NONE) {
                *f = lid.get(i).and_then(|l| location_facility.get(l)).copied().unwrap_or(NONE);
            }
            let dx = lookup(text(b, "primary_condition_id", v)?, n, condition_dx);
            Ok(move |i: usize, date: &str, month: Month| {
                let patient = patients[i];
                Event {
                    patient,
                    residence: residence_of(patient, date),
                    facility: facilities[i],
                    month,
                    inpatient: is_inpatient_class(class.get(i)),
                    dx: dx[i],
                    points: 0.0,
                }
            })
        })?;
        ds.encounters = events;
        ds.undated += undated;
        // Claims.
        let v = "regional_claims";
        let (dx_index, claim_facility) = (&dx_index, &claim_facility);
        let (events, undated) = events_of(t.get(v), "period_start", v, |k, b| {
            let n = b.num_rows();
            let (code, ty, yen, icd) = (text(b, "institution_code", v)?, text(b, "claim_type", v)?, floats(b, "total_yen", v)?, text(b, "primary_icd10", v)?);
            let patients = lookup(text(b, "patient_id", v)?, n, patient_index);
            let mut facilities = claim_facility[k].clone();
            for (i, f) in facilities.iter_mut().enumerate().filter(|(_, f)| **f == NONE) {
                *f = code.get(i).and_then(|c| by_code.get(c)).copied().unwrap_or(NONE);
            }
            let mut dx = lookup(text(b, "primary_condition_id", v)?, n, condition_dx);
            for (i, d) in dx.iter_mut().enumerate().filter(|(_, d)| **d == NONE) {
                *d = icd.get(i).and_then(|c| dx_index.get(c)).copied().unwrap_or(NONE);
            }
            Ok(move |i: usize, date: &str, month: Month| {
                let patient = patients[i];
                Event {
                    patient,
                    residence: residence_of(patient, date),
                    facility: facilities[i],
                    month,
                    inpatient: ty.get(i) == Some("institutional"),
                    dx: dx[i],
                    points: if yen.is_null(i) { 0.0 } else { yen.value(i) / 10.0 },
                }
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
/// `row(k, batch)` prepares batch `k` (looks its id columns up) and returns
/// the function that turns row `i`, with its date (column `date_column`) and
/// month, into an [`Event`]. Rows without a usable date are counted, not returned.
fn events_of<'b, F, G>(batches: &'b [RecordBatch], date_column: &str, view: &str, row: F) -> Result<(Vec<Event>, u64)>
where
    F: Fn(usize, &'b RecordBatch) -> Result<G> + Sync,
    G: FnMut(usize, &str, Month) -> Event,
{
    let parts: Vec<Result<(Vec<Event>, u64)>> = batches
        .par_iter()
        .enumerate()
        .map(|(k, b)| {
            let start = text(b, date_column, view)?;
            let mut make = row(k, b)?;
            let mut out = Vec::with_capacity(b.num_rows());
            let mut undated = 0;
            for i in 0..b.num_rows() {
                let Some((date, month)) = start.get(i).and_then(|s| Month::parse(s).map(|m| (s, m))) else {
                    undated += 1;
                    continue;
                };
                out.push(make(i, date, month));
            }
            Ok((out, undated))
        })
        .collect();
    let mut events = Vec::with_capacity(batches.iter().map(RecordBatch::num_rows).sum());
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
