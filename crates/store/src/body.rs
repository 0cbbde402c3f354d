//! How the JSON text of a version is kept in the database.
//!
//! A version's text is stored without the values of `meta.versionId` and
//! `meta.lastUpdated` (the row has them), compressed with zstd and a
//! dictionary trained on FHIR JP Core resources (`body/fhir-v1.dict`, made by
//! `cargo xtask train-dict` from `medtwin synth` output). FHIR JSON of about a
//! kilobyte shrinks four to twelve times this way, where zstd alone manages
//! less than two; the database and its write-ahead log shrink with it, and a
//! bulk import is bound by those writes.
//!
//! Layout of a stored body (a BLOB): one format byte (1 = zstd with
//! `fhir-v1.dict`), the length of the text as a LEB128 varint, the byte offset
//! of the gap for the two values as a varint, then one zstd frame of the text
//! without them. Databases written before this format hold the whole text as
//! TEXT; both are read.
//!
//! **Invariant:** a dictionary that has been used is never changed or removed;
//! a new dictionary gets a new format byte.

use crate::{Error, Instant, Result};
use rusqlite::types::ValueRef;
use std::cell::RefCell;
use std::sync::OnceLock;
use zstd::dict::{DecoderDictionary, EncoderDictionary};

const DICT_V1: &[u8] = include_bytes!("body/fhir-v1.dict");
const FORMAT_V1: u8 = 1;
/// zstd's default level: with the dictionary, as fast as level 1 on these
/// documents and about 5 % smaller.
const LEVEL: i32 = 3;
/// Bodies larger than this are refused when reading (a corrupt length).
const MAX_TEXT: usize = 1 << 30;

fn encoder_dict() -> &'static EncoderDictionary<'static> {
    static D: OnceLock<EncoderDictionary<'static>> = OnceLock::new();
    D.get_or_init(|| EncoderDictionary::copy(DICT_V1, LEVEL))
}

fn decoder_dict() -> &'static DecoderDictionary<'static> {
    static D: OnceLock<DecoderDictionary<'static>> = OnceLock::new();
    D.get_or_init(|| DecoderDictionary::copy(DICT_V1))
}

thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// The text of a version before the values of `meta.versionId` and
/// `meta.lastUpdated` (`head`) and after them (`tail`).
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) head: String,
    pub(crate) tail: String,
}

impl Layout {
    /// The JSON text of version `version` written at `ts`.
    pub(crate) fn text(&self, version: u64, ts: Instant) -> String {
        let mut s = String::with_capacity(self.head.len() + self.tail.len() + 64);
        s.push_str(&self.head);
        fill_gap(&mut s, version, ts);
        s.push_str(&self.tail);
        s
    }

    /// The stored form (see the module documentation).
    pub(crate) fn pack(&self) -> Result<Vec<u8>> {
        let mut text = Vec::with_capacity(self.head.len() + self.tail.len());
        text.extend_from_slice(self.head.as_bytes());
        text.extend_from_slice(self.tail.as_bytes());
        let frame = COMPRESSOR.with(|c| -> std::io::Result<Vec<u8>> {
            let mut c = c.borrow_mut();
            let c = match &mut *c {
                Some(c) => c,
                None => c.insert(zstd::bulk::Compressor::with_prepared_dictionary(encoder_dict())?),
            };
            c.compress(&text)
        });
        let frame = frame.map_err(|e| Error::Internal(format!("compressing a resource: {e}")))?;
        let mut out = Vec::with_capacity(frame.len() + 8);
        out.push(FORMAT_V1);
        varint(&mut out, text.len());
        varint(&mut out, self.head.len());
        out.extend_from_slice(&frame);
        Ok(out)
    }
}

/// Writes the two server-maintained values and what lies between them.
fn fill_gap(s: &mut String, version: u64, ts: Instant) {
    use std::fmt::Write as _;
    let _ = write!(s, "{version}\",\"lastUpdated\":\"{}", ts.to_fhir());
}

fn varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn read_varint(b: &[u8], pos: &mut usize) -> Option<usize> {
    let mut n: usize = 0;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*pos)?;
        *pos += 1;
        n |= usize::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// The JSON text of a stored body (column value `v` of a version with
/// `version` and `ts`), appended to `out`. `Ok(false)` for a tombstone (NULL).
pub(crate) fn text_into(v: ValueRef<'_>, version: i64, ts: i64, out: &mut String) -> Result<bool> {
    match v {
        ValueRef::Null => Ok(false),
        ValueRef::Text(t) => {
            out.push_str(std::str::from_utf8(t).map_err(|e| Error::Corrupt(format!("stored text is not UTF-8: {e}")))?);
            Ok(true)
        }
        ValueRef::Blob(b) => {
            unpack_into(b, version, ts, out)?;
            Ok(true)
        }
        ValueRef::Integer(_) | ValueRef::Real(_) => Err(Error::Corrupt("a stored body is a number".into())),
    }
}

/// [`text_into`] into a new string.
pub(crate) fn text(v: ValueRef<'_>, version: i64, ts: i64) -> Result<Option<String>> {
    let mut s = String::new();
    Ok(text_into(v, version, ts, &mut s)?.then_some(s))
}

fn unpack_into(b: &[u8], version: i64, ts: i64, out: &mut String) -> Result<()> {
    let corrupt = |why: &str| Error::Corrupt(format!("stored body: {why}"));
    if b.first() != Some(&FORMAT_V1) {
        return Err(corrupt(&format!("unknown format {:?}", b.first())));
    }
    let mut pos = 1;
    let len = read_varint(b, &mut pos).filter(|&n| n <= MAX_TEXT).ok_or_else(|| corrupt("bad length"))?;
    let gap = read_varint(b, &mut pos).filter(|&g| g <= len).ok_or_else(|| corrupt("bad gap offset"))?;
    let text = DECOMPRESSOR.with(|d| -> std::io::Result<Vec<u8>> {
        let mut d = d.borrow_mut();
        let d = match &mut *d {
            Some(d) => d,
            None => d.insert(zstd::bulk::Decompressor::with_prepared_dictionary(decoder_dict())?),
        };
        d.decompress(&b[pos..], len)
    });
    let text = text.map_err(|e| corrupt(&format!("cannot decompress: {e}")))?;
    if text.len() != len {
        return Err(corrupt("length differs from its header"));
    }
    let (head, tail) = text.split_at(gap);
    let head = std::str::from_utf8(head).map_err(|_| corrupt("not UTF-8"))?;
    let tail = std::str::from_utf8(tail).map_err(|_| corrupt("not UTF-8"))?;
    out.reserve(len + 64);
    out.push_str(head);
    fill_gap(out, u64::try_from(version).map_err(|_| corrupt("negative version"))?, Instant(ts));
    out.push_str(tail);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks() {
        let l = Layout {
            head: r#"{"resourceType":"Patient","id":"p1","meta":{"profile":["http://jpfhir.jp/fhir/core/StructureDefinition/JP_Patient"],"versionId":""#.into(),
            tail: r#""},"name":[{"text":"山田 太郎"}],"gender":"male"}"#.into(),
        };
        let ts = Instant(1_700_000_000_123_456);
        let packed = l.pack().expect("pack");
        assert!(packed.len() < l.head.len() + l.tail.len(), "compressed: {} bytes", packed.len());
        let text = text(ValueRef::Blob(&packed), 3, ts.0).expect("unpack").expect("not a tombstone");
        assert_eq!(text, l.text(3, ts));
        let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(v["meta"]["versionId"], "3");
        assert_eq!(v["meta"]["lastUpdated"], ts.to_fhir());
    }

    #[test]
    fn reads_plain_text_and_tombstones() {
        assert_eq!(text(ValueRef::Text(b"{\"a\":1}"), 1, 0).expect("text").as_deref(), Some("{\"a\":1}"));
        assert_eq!(text(ValueRef::Null, 2, 0).expect("null"), None);
    }

    /// Damaged blobs are errors, never panics.
    #[test]
    fn corrupt_blobs_are_errors() {
        let l = Layout { head: "{\"meta\":{\"versionId\":\"".into(), tail: "\"}}".into() };
        let good = l.pack().expect("pack");
        for n in 0..good.len() {
            assert!(text(ValueRef::Blob(&good[..n]), 1, 0).is_err(), "truncated to {n}");
        }
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x55;
            let _ = text(ValueRef::Blob(&bad), 1, 0);
        }
        assert!(text(ValueRef::Blob(&[1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), 1, 0).is_err());
        assert!(text(ValueRef::Integer(3), 1, 0).is_err());
    }
}
