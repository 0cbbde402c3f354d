//! Conversion of Japanese clinical data to FHIR R4 / JP Core: SS-MIX2
//! standardized storages (HL7 v2.5 messages) and UKE claims files.
//!
//! The main entry points are [`ssmix2::convert_tree`] and
//! [`uke::convert_files`]; both stream resources to a callback and return a
//! [`Report`] that lists every rejected file, message, segment or field with
//! its reason and counts every segment or record type seen and mapped.
//!
//! ```no_run
//! let mut resources = Vec::new();
//! let report = ingest::ssmix2::convert_tree(
//!     std::path::Path::new("/data/ss-mix2"),
//!     &ingest::Options { facility_code: Some("1312345670".into()) },
//!     &mut |r| resources.push(r),
//! )?;
//! println!("{}", report.to_json());
//! if report.has_rejections() { std::process::exit(3) }
//! # Ok::<(), ingest::Error>(())
//! ```
//!
//! Every produced resource has a deterministic id derived from its source
//! identifiers (so a re-run produces the same resources, and a newer version
//! of a record overwrites the older one), JP Core profile URLs in
//! `meta.profile`, and `meta.source` naming the file and message control id
//! (or UKE line) it came from. Every resource passes
//! `fhir::validate::validate_resource` before it is emitted.
#![warn(missing_docs)]

pub mod error;
pub mod hl7;
pub mod ids;
pub mod jp;
pub mod report;
pub mod ssmix2;
pub mod uke;

pub use error::{Error, Result};
pub use hl7::Options;
pub use report::{Entry, Level, Report};
