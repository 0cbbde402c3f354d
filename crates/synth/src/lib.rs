//! Synthetic Japanese population generator.
//!
//! [`generate`] simulates `N` residents of 三重県 (or all of Japan) over a span
//! of years and writes, for the same people and events, FHIR R4 / JP Core
//! NDJSON, an SS-MIX2 standardized storage tree, monthly UKE claims files, a
//! `truth.json` with every parameter and the ground truth of the built-in
//! studies, and a README.
//!
//! ```no_run
//! let cfg = synth::Config { patients: 1_000, out: "out".into(), ..synth::Config::default() };
//! let summary = synth::generate(&cfg, &mut |p: synth::Progress| eprintln!("{}/{}", p.done, p.total)).unwrap();
//! println!("{} resources", summary.resources);
//! ```
//!
//! The run is deterministic: person `i` draws from its own random stream
//! derived from `(seed, i)`, people are simulated in parallel chunks and written
//! in index order, so the output is byte-identical whatever the thread count.
//! Memory is bounded by the chunk size, not by `N`.
#![warn(missing_docs)]

pub mod casereport;
pub mod codes;
pub mod date;
pub mod facility;
pub mod fhir_out;
pub mod geo;
pub mod json;
pub mod names;
pub mod output;
pub mod params;
pub mod rng;
pub mod sim;
pub mod ssmix2_out;
pub mod studies;
pub mod truth;
pub mod uke_out;

use std::path::PathBuf;

pub use date::Date;
pub use output::{generate, Progress, Summary};
pub use params::Params;

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Writing the output failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// Vendored data could not be read (a bug in the vendored files).
    #[error("vendored data: {0}")]
    Data(String),
    /// A format writer refused a value.
    #[error("format writer: {0}")]
    Format(String),
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Geographic coverage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Region {
    /// 三重県: 29 municipalities, 8 構想区域, 4 二次医療圏.
    #[default]
    Mie,
    /// All 339 構想区域 of Japan.
    Japan,
}

impl std::str::FromStr for Region {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mie" => Ok(Region::Mie),
            "japan" => Ok(Region::Japan),
            _ => Err(Error::Config(format!("unknown region {s:?} (expected mie or japan)"))),
        }
    }
}

/// Which outputs to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formats {
    /// `fhir/*.ndjson`.
    pub fhir: bool,
    /// `ssmix2/` tree.
    pub ssmix2: bool,
    /// `uke/` claims files.
    pub uke: bool,
}

impl Default for Formats {
    fn default() -> Self {
        Formats { fhir: true, ssmix2: true, uke: true }
    }
}

impl std::str::FromStr for Formats {
    type Err = Error;
    /// Parses a comma-separated list such as `fhir,ssmix2,uke`.
    fn from_str(s: &str) -> Result<Self> {
        let mut f = Formats { fhir: false, ssmix2: false, uke: false };
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "fhir" => f.fhir = true,
                "ssmix2" => f.ssmix2 = true,
                "uke" => f.uke = true,
                _ => return Err(Error::Config(format!("unknown format {part:?} (expected fhir, ssmix2, uke)"))),
            }
        }
        Ok(f)
    }
}

/// Parses a year span such as `2013-2024`.
pub fn parse_years(s: &str) -> Result<(i32, i32)> {
    let (a, b) = s.split_once('-').ok_or_else(|| Error::Config(format!("years must look like 2013-2024, got {s:?}")))?;
    let a: i32 = a.trim().parse().map_err(|_| Error::Config(format!("bad start year in {s:?}")))?;
    let b: i32 = b.trim().parse().map_err(|_| Error::Config(format!("bad end year in {s:?}")))?;
    if !(1990..=2100).contains(&a) || b < a || b > 2100 {
        return Err(Error::Config(format!("year span {s:?} is out of range")));
    }
    Ok((a, b))
}

/// Generator configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Number of people.
    pub patients: u64,
    /// Random seed.
    pub seed: u64,
    /// Output directory (created if missing).
    pub out: PathBuf,
    /// Region.
    pub region: Region,
    /// First and last calendar year.
    pub years: (i32, i32),
    /// Outputs.
    pub formats: Formats,
    /// Model parameters.
    pub params: Params,
    /// People per parallel chunk (memory bound; does not affect the output).
    pub chunk_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            patients: 1_000,
            seed: 1,
            out: PathBuf::from("synth-out"),
            region: Region::Mie,
            years: (2013, 2024),
            formats: Formats::default(),
            params: Params::default(),
            chunk_size: 256,
        }
    }
}

/// Everything shared by all people of a run: geography, facilities, parameters.
#[derive(Debug)]
pub struct World {
    /// Seed.
    pub seed: u64,
    /// First day of the period.
    pub start: Date,
    /// Last day of the period.
    pub end: Date,
    /// Parameters.
    pub params: Params,
    /// Geography.
    pub geo: geo::Geography,
    /// Facilities.
    pub facilities: facility::Facilities,
    /// Resident zone indices.
    pub resident: Vec<usize>,
    /// Sampler over resident zones by population.
    pub area_alias: rng::Alias,
}

impl World {
    /// Builds the world of a configuration.
    pub fn new(cfg: &Config) -> Result<World> {
        if cfg.patients == 0 {
            return Err(Error::Config("the number of patients must be positive".into()));
        }
        let geo = geo::Geography::load(cfg.region)?;
        let resident = geo.resident_areas();
        let region_pop: u64 = resident.iter().map(|&i| geo.areas[i].population).sum();
        // Clinics scale with the sample so that each has a realistic patient list.
        let scale = ((cfg.patients as f64 * 20.0) / region_pop as f64).min(1.0);
        let facilities = facility::Facilities::build(&geo, cfg.seed, scale);
        let weights: Vec<f64> = resident.iter().map(|&i| geo.areas[i].population as f64).collect();
        Ok(World {
            seed: cfg.seed,
            start: Date::ymd(cfg.years.0, 1, 1),
            end: Date::ymd(cfg.years.1, 12, 31),
            params: cfg.params.clone(),
            geo,
            facilities,
            resident,
            area_alias: rng::Alias::new(&weights),
        })
    }
}
