//! HL7 v2.5 messages as used by SS-MIX2: parsing, accessors, escaping,
//! character encodings (ISO-2022-JP, Shift_JIS, UTF-8) and writing, plus the
//! SS-MIX2 standardized-storage file-naming rule.
//!
//! The main type is [`Message`]. [`Message::parse`] decodes raw bytes in the
//! character set that MSH-18 declares, splits segments, fields, repetitions,
//! components and subcomponents with the delimiters from MSH-1/MSH-2, and
//! resolves escape sequences. Accessors use HL7's 1-based numbering.
//!
//! ```
//! let raw = b"MSH|^~\\&|HIS|SEND|GW|RCV|20111220||ADT^A08^ADT_A01|1|P|2.5\rPID|1||9999013||Kanja^Taro~X^Y\r";
//! let (msg, issues) = hl7v2::Message::parse(raw).expect("an MSH segment is present");
//! assert!(issues.is_empty());
//! assert_eq!(msg.message_type(), ("ADT", "A08"));
//! let pid = msg.segment("PID").expect("PID is present");
//! assert_eq!(pid.field(3).as_str(), "9999013");
//! assert_eq!(pid.field(5).component(2).as_str(), "Taro");
//! assert_eq!(pid.field(5).repetition(2).component(1).as_str(), "X");
//! ```
//!
//! For reading many messages, [`Decoded`] and [`MessageRef`] give the same
//! accessors over a tree that borrows the decoded text (a few allocations
//! per message instead of one per value); [`Message::parse`] is built on it.
//!
//! Writing goes the other way: build segments with [`Segment::set`] and
//! [`Field`] constructors, then [`Message::encode`] escapes delimiters and
//! encodes in the declared character set (ISO-2022-JP for SS-MIX2).
//!
//! This crate does no I/O and no mapping to FHIR.
#![warn(missing_docs)]

pub mod charset;
pub mod error;
pub mod escape;
pub mod message;
pub mod ssmix2;
pub mod view;

pub use charset::Charset;
pub use error::{Error, Issue, Result};
pub use escape::Delimiters;
pub use message::{Component, Field, Message, Repetition, Segment};
pub use view::{ComponentRef, Decoded, FieldRef, MessageRef, RepetitionRef, SegmentRef};
