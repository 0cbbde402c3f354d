//! FHIR R4 model helpers: the official type and search-parameter definitions as
//! compact tables, structural validation of FHIR JSON, and the primitive rules
//! (ids, instants) that every other crate relies on.
//!
//! The main entry points are [`definitions::r4`] (what FHIR R4 *is*) and
//! [`validate::validate_resource`] (does this JSON conform to it).
//!
//! ```
//! let defs = fhir::definitions::r4();
//! assert!(defs.is_resource_type("Patient"));
//! let el = defs.child("Observation", "valueQuantity").unwrap();
//! assert_eq!(el.path, "Observation.value[x]");
//! ```
//!
//! This crate does no I/O: the tables are embedded at compile time.
#![warn(missing_docs)]

pub mod definitions;
pub mod id;
pub mod issue;
pub mod references;
pub mod search_params;
pub mod validate;

pub use issue::{Issue, IssueCode, Severity};
