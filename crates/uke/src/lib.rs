//! UKE files (レセプト電算処理システム, the Japanese electronic claims
//! format, `RECEIPTC.UKE`): CSV-like records in Shift_JIS (CP932), one per
//! CRLF-terminated line, parsed losslessly and written back byte for byte.
//!
//! The main type is [`UkeFile`]. Every record keeps every field as text;
//! typed, read-only views ([`record::Ir`], [`record::Re`], [`record::Sy`], ...)
//! name the fields of the common record types. [`UkeFile::claims`] groups the
//! records of each claim (an `RE` record and what follows it).
//!
//! ```
//! let bytes = b"IR,1,13,1,1234567,,\x83\x65\x83\x58\x83\x67,202110,00,0312345678\r\n\
//! RE,1,1112,202110,TEST,1,19800101,,,,,,,0001\r\nSY,2500013,20210801,1,,,01,\r\nGO,1,300,99\r\n";
//! let (file, issues) = uke::UkeFile::parse(bytes);
//! assert!(issues.is_empty());
//! let ir = file.records()[0].as_ir().expect("IR record");
//! assert_eq!(ir.facility_code(), "1234567");
//! assert_eq!(ir.facility_name(), "テスト");
//! let claims = file.claims();
//! assert_eq!(claims.len(), 1);
//! assert_eq!(claims[0].diagnoses().next().expect("SY").code(), "2500013");
//! assert_eq!(file.to_bytes().expect("encodable"), bytes.to_vec());
//! ```
//!
//! This crate does no I/O and no mapping to FHIR.
#![warn(missing_docs)]

pub mod error;
pub mod file;
pub mod master;
pub mod record;

pub use error::{Error, Issue, Result};
pub use file::{Claim, LineEnd, UkeFile};
pub use record::{Record, RecordKind};
