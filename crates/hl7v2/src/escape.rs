//! The message delimiters (MSH-1/MSH-2) and HL7 escape sequences:
//! `\F\ \S\ \T\ \R\ \E\` for the delimiters, `\Xhh..\` for hex data, and the
//! formatting escapes (`\.br\`, `\H\`, `\N\`, `\Cxxyy\`, ...) which are passed
//! through unchanged because they describe presentation, not characters.

use crate::error::{Error, Result};

/// The five delimiter characters of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Delimiters {
    /// Field separator (MSH-1), usually `|`.
    pub field: char,
    /// Component separator, usually `^`.
    pub component: char,
    /// Repetition separator, usually `~`.
    pub repetition: char,
    /// Escape character, usually `\`.
    pub escape: char,
    /// Subcomponent separator, usually `&`.
    pub subcomponent: char,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters { field: '|', component: '^', repetition: '~', escape: '\\', subcomponent: '&' }
    }
}

impl Delimiters {
    /// Builds delimiters from MSH-1 and the MSH-2 encoding characters
    /// (component, repetition, escape, subcomponent, in that order).
    pub fn from_msh(field: char, encoding_chars: &str) -> Result<Self> {
        let chars: Vec<char> = encoding_chars.chars().collect();
        if chars.len() < 2 {
            return Err(Error::BadDelimiters {
                reason: format!("MSH-2 {encoding_chars:?} has fewer than 2 characters"),
            });
        }
        let d = Delimiters {
            field,
            component: chars[0],
            repetition: chars[1],
            // Missing escape/subcomponent characters are allowed by HL7; use
            // characters that cannot occur in a decoded message instead.
            escape: chars.get(2).copied().unwrap_or('\u{0}'),
            subcomponent: chars.get(3).copied().unwrap_or('\u{1}'),
        };
        let all = [d.field, d.component, d.repetition, d.escape, d.subcomponent];
        for (i, a) in all.iter().enumerate() {
            if a.is_alphanumeric() || *a == '\r' || *a == '\n' {
                return Err(Error::BadDelimiters { reason: format!("delimiter {a:?} is not allowed") });
            }
            if all[i + 1..].contains(a) {
                return Err(Error::BadDelimiters { reason: format!("delimiter {a:?} is used twice") });
            }
        }
        Ok(d)
    }

    /// The MSH-2 value (`^~\&`).
    pub fn encoding_characters(&self) -> String {
        [self.component, self.repetition, self.escape, self.subcomponent].iter().collect()
    }

    fn is_delimiter(&self, c: char) -> bool {
        c == self.field || c == self.component || c == self.repetition || c == self.escape || c == self.subcomponent
    }
}

/// Something odd met while unescaping (the text is still produced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscapeProblem {
    /// An escape character without a closing one; kept literally.
    Unterminated,
    /// `\X..\` with an odd number or non-hex digits; kept literally.
    BadHex(String),
    /// An escape sequence this crate does not know; kept literally.
    Unknown(String),
}

/// Resolves escape sequences in one leaf value. Formatting escapes and
/// character-set escapes are kept verbatim (`\.br\` stays `\.br\`); hex data
/// `\Xhh..\` becomes the bytes' UTF-8 text (or Latin-1 when not UTF-8).
pub fn unescape(s: &str, d: &Delimiters) -> String {
    unescape_with(s, d, &mut |_| {})
}

/// Like [`unescape_with`], borrowing `s` when it holds no escape character
/// (the usual case).
pub fn unescape_cow<'s>(s: &'s str, d: &Delimiters, report: &mut dyn FnMut(EscapeProblem)) -> std::borrow::Cow<'s, str> {
    if s.contains(d.escape) { std::borrow::Cow::Owned(unescape_with(s, d, report)) } else { std::borrow::Cow::Borrowed(s) }
}

/// Like [`unescape`] but reports each problem to `report`.
pub fn unescape_with(s: &str, d: &Delimiters, report: &mut dyn FnMut(EscapeProblem)) -> String {
    if !s.contains(d.escape) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find(d.escape) {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + d.escape.len_utf8()..];
        let Some(end) = after.find(d.escape) else {
            report(EscapeProblem::Unterminated);
            out.push_str(&rest[pos..]);
            return out;
        };
        let body = &after[..end];
        let whole = &rest[pos..pos + d.escape.len_utf8() * 2 + end];
        match body {
            "F" => out.push(d.field),
            "S" => out.push(d.component),
            "T" => out.push(d.subcomponent),
            "R" => out.push(d.repetition),
            "E" => out.push(d.escape),
            "H" | "N" => out.push_str(whole),
            _ if body.starts_with('.') => out.push_str(whole),
            _ if body.starts_with('C') || body.starts_with('M') || body.starts_with('Z') => out.push_str(whole),
            _ if body.starts_with('X') => match decode_hex(&body[1..]) {
                Some(text) => out.push_str(&text),
                None => {
                    report(EscapeProblem::BadHex(whole.to_string()));
                    out.push_str(whole);
                }
            },
            _ => {
                report(EscapeProblem::Unknown(whole.to_string()));
                out.push_str(whole);
            }
        }
        rest = &after[end + d.escape.len_utf8()..];
    }
    out.push_str(rest);
    out
}

fn decode_hex(hex: &str) -> Option<String> {
    if hex.is_empty() || !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<std::result::Result<_, _>>()
        .ok()?;
    match String::from_utf8(bytes) {
        Ok(s) => Some(s),
        Err(e) => Some(e.into_bytes().iter().map(|b| char::from(*b)).collect()),
    }
}

/// Escapes delimiters (and CR/LF, which would end the segment) in one leaf
/// value so that [`unescape`] returns it unchanged.
pub fn escape(s: &str, d: &Delimiters) -> String {
    if !s.chars().any(|c| d.is_delimiter(c) || c == '\r' || c == '\n') {
        return s.to_string();
    }
    let e = d.escape;
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        let code = if c == d.field {
            "F"
        } else if c == d.component {
            "S"
        } else if c == d.subcomponent {
            "T"
        } else if c == d.repetition {
            "R"
        } else if c == d.escape {
            "E"
        } else if c == '\r' {
            "X0D"
        } else if c == '\n' {
            "X0A"
        } else {
            out.push(c);
            continue;
        };
        out.push(e);
        out.push_str(code);
        out.push(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d() -> Delimiters {
        Delimiters::default()
    }

    #[test]
    fn known_escapes() {
        assert_eq!(unescape(r"a\F\b\S\c\T\d\R\e\E\f", &d()), r"a|b^c&d~e\f");
        assert_eq!(unescape(r"line1\.br\line2", &d()), r"line1\.br\line2");
        assert_eq!(unescape(r"\X0D0A\", &d()), "\r\n");
        assert_eq!(unescape(r"\XE682A3\", &d()), "患");
        assert_eq!(unescape(r"\H\bold\N\", &d()), r"\H\bold\N\");
    }

    #[test]
    fn problems_are_reported() {
        let mut seen = Vec::new();
        let out = unescape_with(r"a\Q\b\X1\c\", &d(), &mut |p| seen.push(p));
        assert_eq!(out, r"a\Q\b\X1\c\");
        assert_eq!(seen, vec![
            EscapeProblem::Unknown(r"\Q\".into()),
            EscapeProblem::BadHex(r"\X1\".into()),
            EscapeProblem::Unterminated
        ]);
    }

    #[test]
    fn escape_examples() {
        assert_eq!(escape(r"a|b^c&d~e\f", &d()), r"a\F\b\S\c\T\d\R\e\E\f");
        assert_eq!(escape("x\ry", &d()), r"x\X0D\y");
    }

    #[test]
    fn bad_delimiters() {
        assert!(Delimiters::from_msh('|', "^^\\&").is_err());
        assert!(Delimiters::from_msh('|', "^").is_err());
        assert!(Delimiters::from_msh('|', "A~\\&").is_err());
        assert_eq!(Delimiters::from_msh('|', "^~\\&"), Ok(d()));
    }

    proptest! {
        #[test]
        fn escape_round_trip(s in "[a-z|^~&\\\\\r\n.XFSTRE0-9 患者]{0,40}") {
            prop_assert_eq!(unescape(&escape(&s, &d()), &d()), s);
        }

        #[test]
        fn escape_round_trip_any(s in any::<String>()) {
            prop_assert_eq!(unescape(&escape(&s, &d()), &d()), s);
        }

        #[test]
        fn escaped_has_no_bare_delimiters(s in any::<String>()) {
            let e = escape(&s, &d());
            prop_assert!(!e.contains(['|', '^', '~', '&', '\r', '\n']));
        }

        #[test]
        fn unescape_never_panics(s in "[a-z\\\\FSTREX0-9.]{0,30}") {
            let _ = unescape(&s, &d());
        }
    }
}
