//! Character sets a message may declare in MSH-18, how to find the
//! declaration in raw bytes before decoding, and decoding/encoding with
//! `encoding_rs`.
//!
//! Decoding must happen before splitting: in ISO-2022-JP and Shift_JIS the
//! bytes of a kanji can equal `|`, `^`, `\` or `~`.

use encoding_rs::{Encoding, ISO_2022_JP, SHIFT_JIS, UTF_8};

use crate::error::{Error, Result};

/// A character set of an HL7 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    /// 7-bit ASCII (`ISO IR6` or MSH-18 empty).
    Ascii,
    /// ISO-2022-JP: ASCII plus JIS X 0208 (`~ISO IR87`, `ISO IR87`), as SS-MIX2 requires.
    Iso2022Jp,
    /// Shift_JIS / CP932 (`SHIFT_JIS`, `SJIS`, `CP932`, `MS932`, `WINDOWS-31J`), seen in older systems.
    ShiftJis,
    /// UTF-8 (`UNICODE UTF-8`).
    Utf8,
}

impl Charset {
    /// Interprets an MSH-18 value (all repetitions, raw). `None` when unknown.
    ///
    /// `~ISO IR87` means "ASCII by default, JIS X 0208 by escape sequences",
    /// i.e. ISO-2022-JP.
    pub fn from_msh18(value: &str) -> Option<Charset> {
        let mut best: Option<Charset> = None;
        let mut any = false;
        for rep in value.split('~') {
            let name = rep.trim().to_ascii_uppercase().replace(['_', '-'], " ");
            if name.is_empty() {
                continue;
            }
            any = true;
            let cs = match name.as_str() {
                "ISO IR6" | "ASCII" | "ISO IR 6" => Charset::Ascii,
                "ISO IR87" | "ISO IR 87" | "ISO 2022 JP" | "JIS" | "ISO IR159" => Charset::Iso2022Jp,
                "SHIFT JIS" | "SJIS" | "CP932" | "MS932" | "WINDOWS 31J" => Charset::ShiftJis,
                "UNICODE UTF 8" | "UTF 8" | "UNICODE" => Charset::Utf8,
                _ => return None,
            };
            // The richest declared set wins: `ISO IR6~ISO IR87` is ISO-2022-JP.
            best = Some(match (best, cs) {
                (None, c) | (Some(Charset::Ascii), c) => c,
                (Some(b), _) => b,
            });
        }
        if any { best } else { Some(Charset::Ascii) }
    }

    /// The MSH-18 value this crate writes for the character set.
    pub fn msh18(self) -> &'static str {
        match self {
            Charset::Ascii => "ISO IR6",
            Charset::Iso2022Jp => "~ISO IR87",
            Charset::ShiftJis => "SHIFT JIS",
            Charset::Utf8 => "UNICODE UTF-8",
        }
    }

    /// A human-readable name.
    pub fn name(self) -> &'static str {
        match self {
            Charset::Ascii => "ASCII",
            Charset::Iso2022Jp => "ISO-2022-JP",
            Charset::ShiftJis => "Shift_JIS",
            Charset::Utf8 => "UTF-8",
        }
    }

    fn encoding(self) -> &'static Encoding {
        match self {
            // ISO-2022-JP is a superset of ASCII; decoding ASCII with it lets a
            // message that forgot MSH-18 still show its kanji.
            Charset::Ascii | Charset::Iso2022Jp => ISO_2022_JP,
            Charset::ShiftJis => SHIFT_JIS,
            Charset::Utf8 => UTF_8,
        }
    }

    /// Decodes bytes. The flag is true when some bytes were invalid in this
    /// character set (they become U+FFFD).
    pub fn decode(self, bytes: &[u8]) -> (String, bool) {
        let (s, had_errors) = self.decode_cow(bytes);
        (s.into_owned(), had_errors)
    }

    /// [`Charset::decode`] without a copy when the bytes are already the
    /// text (ASCII, or valid UTF-8 for UTF-8).
    pub fn decode_cow(self, bytes: &[u8]) -> (std::borrow::Cow<'_, str>, bool) {
        let (s, had_errors) = self.encoding().decode_without_bom_handling(bytes);
        let mut had_errors = had_errors;
        if self == Charset::Ascii && !had_errors {
            had_errors = bytes.iter().any(|b| *b >= 0x80);
        }
        (s, had_errors)
    }

    /// Encodes text; a character that the set cannot represent is an error
    /// (never replaced silently). Note that ISO-2022-JP writes U+2212 MINUS
    /// SIGN as JIS 0x215D, which decodes as U+FF0D FULLWIDTH HYPHEN-MINUS
    /// (the WHATWG mapping that `encoding_rs` implements).
    pub fn encode(self, text: &str) -> Result<Vec<u8>> {
        if self == Charset::Ascii {
            if let Some(ch) = text.chars().find(|c| !c.is_ascii()) {
                return Err(Error::Unencodable { ch, charset: self.name() });
            }
            return Ok(text.as_bytes().to_vec());
        }
        if self == Charset::Utf8 {
            return Ok(text.as_bytes().to_vec());
        }
        // The WHATWG ISO-2022-JP encoder silently folds half-width katakana to
        // full width; SS-MIX2 data must not change, so reject them instead.
        if let Some(ch) = text.chars().find(|c| self == Charset::Iso2022Jp && ('\u{FF61}'..='\u{FF9F}').contains(c)) {
            return Err(Error::Unencodable { ch, charset: self.name() });
        }
        let mut encoder = self.encoding().new_encoder();
        let cap = encoder
            .max_buffer_length_from_utf8_without_replacement(text.len())
            .unwrap_or(text.len() * 8 + 16);
        let mut out = vec![0u8; cap];
        let (result, read, written) = encoder.encode_from_utf8_without_replacement(text, &mut out, true);
        match result {
            encoding_rs::EncoderResult::InputEmpty => {
                out.truncate(written);
                Ok(out)
            }
            encoding_rs::EncoderResult::Unmappable(ch) => Err(Error::Unencodable { ch, charset: self.name() }),
            encoding_rs::EncoderResult::OutputFull => Err(Error::Unencodable {
                ch: text[read..].chars().next().unwrap_or('\u{FFFD}'),
                charset: self.name(),
            }),
        }
    }
}

/// Finds the MSH-18 value in raw bytes without decoding (MSH-1..MSH-18 are
/// ASCII in every conforming message). Returns `None` when the first segment
/// is not readable that far as ASCII.
pub fn sniff_msh18(bytes: &[u8]) -> Option<String> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let bytes = &bytes[start..];
    if bytes.len() < 4 || &bytes[..3] != b"MSH" {
        return None;
    }
    let sep = bytes[3];
    let end = bytes.iter().position(|b| *b == b'\r' || *b == b'\n').unwrap_or(bytes.len());
    let line = &bytes[..end];
    // Field n (n >= 2) is the (n-1)th piece after "MSH".
    let mut pieces = line[3..].split(|b| *b == sep);
    pieces.next(); // empty piece before MSH-1's separator
    for _ in 2..18 {
        pieces.next()?;
    }
    let raw = pieces.next()?;
    if raw.iter().any(|b| *b == 0x1b || *b >= 0x80) {
        return None;
    }
    Some(String::from_utf8_lossy(raw).into_owned())
}

/// Guesses a character set from content when MSH-18 gives none or is unreadable.
pub fn guess(bytes: &[u8]) -> Charset {
    if bytes.contains(&0x1b) {
        Charset::Iso2022Jp
    } else if bytes.is_ascii() {
        Charset::Ascii
    } else if std::str::from_utf8(bytes).is_ok() {
        Charset::Utf8
    } else {
        Charset::ShiftJis
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msh18_values() {
        assert_eq!(Charset::from_msh18("~ISO IR87"), Some(Charset::Iso2022Jp));
        assert_eq!(Charset::from_msh18("ISO IR87"), Some(Charset::Iso2022Jp));
        assert_eq!(Charset::from_msh18("ISO IR6"), Some(Charset::Ascii));
        assert_eq!(Charset::from_msh18(""), Some(Charset::Ascii));
        assert_eq!(Charset::from_msh18("UNICODE UTF-8"), Some(Charset::Utf8));
        assert_eq!(Charset::from_msh18("SHIFT_JIS"), Some(Charset::ShiftJis));
        assert_eq!(Charset::from_msh18("8859/1"), None);
    }

    #[test]
    fn iso2022jp_round_trip() {
        let text = "患者^太郎|カンジャ";
        let bytes = Charset::Iso2022Jp.encode(text).expect("encodable");
        assert!(bytes.contains(&0x1b));
        assert_eq!(Charset::Iso2022Jp.decode(&bytes), (text.to_string(), false));
    }

    #[test]
    fn unencodable_is_error() {
        assert!(matches!(Charset::Iso2022Jp.encode("😀"), Err(Error::Unencodable { ch: '😀', .. })));
        assert!(Charset::Iso2022Jp.encode("ｶﾝｼﾞｬ").is_err());
        assert!(Charset::Ascii.encode("é").is_err());
    }

    #[test]
    fn sniff() {
        let raw = b"MSH|^~\\&|A|B|C|D|20111220||ADT^A08|1|P|2.5||||||~ISO IR87||ISO 2022-1994\rPID|";
        assert_eq!(sniff_msh18(raw).as_deref(), Some("~ISO IR87"));
        assert_eq!(sniff_msh18(b"MSH|^~\\&|A"), None);
    }
}
