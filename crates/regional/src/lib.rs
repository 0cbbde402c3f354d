//! Regional healthcare analytics for local governments: where patients living
//! in an area are treated (the flow matrix between municipalities, 構想区域,
//! 二次医療圏 or prefectures, with within/inflow/outflow and 自給率), how many
//! patients each facility takes from each area, and claims occurrence rates
//! and average points by area and month or fiscal year, with disclosure
//! control applied to every table, the MHLW NDB reference rates for all 339
//! 構想区域, and SVG maps and flow diagrams.
//!
//! The crate never sees a store: [`Tables::from_resources`] runs the
//! SQL-on-FHIR views (`views/regional_*.json`) over resources pushed by the
//! caller, or the caller hands over Arrow batches (e.g. Parquet files the same
//! views produced); [`Dataset::build`] places people and facilities with an
//! [`AreaModel`]; the functions of [`measure`] compute already-protected reports.
//!
//! ```
//! use regional::{AreaModel, Dataset, DiseaseGroup, Filter, Level, Policy, Setting, Source, Tables};
//! let model = AreaModel::mie().unwrap();
//! let resources = vec![
//!     serde_json::json!({"resourceType": "Patient", "id": "p1", "address": [{"use": "home",
//!         "extension": [{"url": regional::area::EXT_MUNICIPALITY, "valueCode": "242012"}]}]}),
//!     serde_json::json!({"resourceType": "Organization", "id": "h1", "name": "病院",
//!         "address": [{"state": "三重県", "city": "津市"}]}),
//!     serde_json::json!({"resourceType": "Encounter", "id": "e1", "status": "finished",
//!         "class": {"code": "IMP"}, "subject": {"reference": "Patient/p1"},
//!         "serviceProvider": {"reference": "Organization/h1"}, "period": {"start": "2024-05-01"}}),
//! ];
//! let ds = Dataset::build(&Tables::from_values(&resources).unwrap(), &model).unwrap();
//! let filter = Filter { disease: DiseaseGroup::parse("all").unwrap(), setting: Setting::Inpatient, from: None, to: None };
//! let report = regional::measure::flows(&ds, &model, Level::Kosoku, &filter, Source::Encounters, Policy::default());
//! // One patient: shown as "<10", never as 1.
//! assert_eq!(report.patients.total.to_string(), "<10");
//! ```

#![warn(missing_docs)]

pub mod area;
pub mod data;
pub mod disease;
pub mod measure;
pub mod reference;
pub mod render;
pub mod suppress;
pub mod svg;

pub use area::{AreaModel, Level, Place, Unit};
pub use data::{Dataset, Month, Need, Tables};
pub use disease::DiseaseGroup;
pub use measure::{Filter, Period, Setting, Source};
pub use suppress::{Count, Policy};

/// Errors of the regional analytics.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Invalid input (a table, an option, a code list).
    #[error("{0}")]
    Invalid(String),
    /// A view failed.
    #[error(transparent)]
    View(#[from] analytics::view::Error),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
