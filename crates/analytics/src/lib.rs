//! Analytics over clinical data tables: survival statistics and propensity scores.
//!
//! The main entry points live in [`stats`]: [`stats::km::kaplan_meier`],
//! [`stats::logrank::logrank_test`], [`stats::cox::CoxModel`] and
//! [`stats::psm::propensity_match`]. Input data arrives as a columnar [`Table`]
//! (loaded from CSV with row/column-precise errors) or as plain slices.
//!
//! ```
//! use analytics::Table;
//! use analytics::stats::km::{kaplan_meier, KmOptions};
//!
//! let table = Table::from_csv_reader("time,event\n5,1\n8,0\n12,1\n".as_bytes()).unwrap();
//! let time = table.numeric("time").unwrap();
//! let event = table.events("event").unwrap();
//! let fit = kaplan_meier(&time, &event, None, &KmOptions::default()).unwrap();
//! assert_eq!(fit.groups[0].n, 3);
//! assert!((fit.groups[0].table[1].survival - 2.0 / 3.0).abs() < 1e-12);
//! ```
//!
//! SQL-on-FHIR v2: [`view::ViewDefinition`] parses, validates and runs a
//! ViewDefinition over resource JSON into Arrow record batches (written as
//! CSV, NDJSON, JSON or Parquet by [`view::BatchWriter`]); `sql::SqlSession`
//! (default feature `sql`) runs SQL over views and Parquet files with Apache DataFusion.
#![warn(missing_docs)]

mod error;
pub mod stats;
pub mod study;
pub mod table;
#[cfg(feature = "sql")]
pub mod sql;
pub mod view;

pub use error::{Error, Result};
pub use table::Table;
