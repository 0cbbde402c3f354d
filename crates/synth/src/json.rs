//! A small streaming JSON writer for the FHIR output: appends one resource at
//! a time to a byte buffer, with no intermediate tree.
//!
//! It writes exactly what `serde_json` writes for the same values (keys in the
//! order given, strings escaped the same way, integers in decimal, floats in
//! the shortest form that round-trips, with `.0` for whole numbers, by the
//! same `itoa` and `zmij` crates), so a
//! resource reads the same whichever way it was produced.
//!
//! Commas are placed by one flag: after `{`, `[` or a key no comma is due;
//! after any value one is.

/// Appends JSON to a buffer.
#[derive(Debug, Default)]
pub struct Json {
    /// The text written so far.
    pub buf: Vec<u8>,
    comma: bool,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether a byte must be escaped inside a JSON string (as serde_json does).
#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

impl Json {
    /// An empty writer.
    pub fn new() -> Json {
        Json { buf: Vec::with_capacity(1 << 12), comma: false }
    }

    /// Ends the current line (one resource per line) and resets the comma state.
    pub fn newline(&mut self) {
        self.buf.push(b'\n');
        self.comma = false;
    }

    /// Empties the buffer.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.comma = false;
    }

    #[inline]
    fn sep(&mut self) {
        if self.comma {
            self.buf.push(b',');
        }
    }

    /// `{`.
    #[inline]
    pub fn open(&mut self) -> &mut Self {
        self.sep();
        self.buf.push(b'{');
        self.comma = false;
        self
    }

    /// `}`.
    #[inline]
    pub fn close(&mut self) -> &mut Self {
        self.buf.push(b'}');
        self.comma = true;
        self
    }

    /// `[`.
    #[inline]
    pub fn open_arr(&mut self) -> &mut Self {
        self.sep();
        self.buf.push(b'[');
        self.comma = false;
        self
    }

    /// `]`.
    #[inline]
    pub fn close_arr(&mut self) -> &mut Self {
        self.buf.push(b']');
        self.comma = true;
        self
    }

    /// A key (a literal that needs no escaping).
    #[inline]
    pub fn key(&mut self, k: &str) -> &mut Self {
        self.sep();
        self.buf.push(b'"');
        self.buf.extend_from_slice(k.as_bytes());
        self.buf.extend_from_slice(b"\":");
        self.comma = false;
        self
    }

    fn escaped(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if !needs_escape(b) {
                continue;
            }
            self.buf.extend_from_slice(&bytes[start..i]);
            match b {
                b'"' => self.buf.extend_from_slice(b"\\\""),
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'\r' => self.buf.extend_from_slice(b"\\r"),
                b'\t' => self.buf.extend_from_slice(b"\\t"),
                0x08 => self.buf.extend_from_slice(b"\\b"),
                0x0c => self.buf.extend_from_slice(b"\\f"),
                _ => self.buf.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]),
            }
            start = i + 1;
        }
        self.buf.extend_from_slice(&bytes[start..]);
    }

    /// A string value.
    #[inline]
    pub fn str(&mut self, s: &str) -> &mut Self {
        self.sep();
        self.buf.push(b'"');
        self.escaped(s);
        self.buf.push(b'"');
        self.comma = true;
        self
    }

    /// A string value made of several parts, e.g. `["Patient/", id]`.
    #[inline]
    pub fn strs(&mut self, parts: &[&str]) -> &mut Self {
        self.sep();
        self.buf.push(b'"');
        for p in parts {
            self.escaped(p);
        }
        self.buf.push(b'"');
        self.comma = true;
        self
    }

    /// A string value written by a closure straight into the buffer; the
    /// closure must write text that needs no JSON escaping (digits, dates, ASCII ids).
    #[inline]
    pub fn str_with(&mut self, f: impl FnOnce(&mut Vec<u8>)) -> &mut Self {
        self.sep();
        self.buf.push(b'"');
        f(&mut self.buf);
        self.buf.push(b'"');
        self.comma = true;
        self
    }

    /// An integer value.
    #[inline]
    pub fn int(&mut self, n: i64) -> &mut Self {
        self.sep();
        let mut b = itoa::Buffer::new();
        self.buf.extend_from_slice(b.format(n).as_bytes());
        self.comma = true;
        self
    }

    /// A float value, as serde_json writes it (`null` when not finite).
    #[inline]
    pub fn float(&mut self, x: f64) -> &mut Self {
        self.sep();
        if x.is_finite() {
            let mut b = zmij::Buffer::new();
            self.buf.extend_from_slice(b.format_finite(x).as_bytes());
        } else {
            self.buf.extend_from_slice(b"null");
        }
        self.comma = true;
        self
    }

    /// A boolean value.
    #[inline]
    pub fn bool(&mut self, v: bool) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(if v { b"true" } else { b"false" });
        self.comma = true;
        self
    }

    /// Raw JSON text (a value the caller has already written correctly).
    #[inline]
    pub fn raw(&mut self, text: &[u8]) -> &mut Self {
        self.sep();
        self.buf.extend_from_slice(text);
        self.comma = true;
        self
    }

    /// `"k":"v"`.
    #[inline]
    pub fn kv(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k).str(v)
    }

    /// `"k":n`.
    #[inline]
    pub fn kv_int(&mut self, k: &str, n: i64) -> &mut Self {
        self.key(k).int(n)
    }

    /// `"k":x`.
    #[inline]
    pub fn kv_float(&mut self, k: &str, x: f64) -> &mut Self {
        self.key(k).float(x)
    }

    /// `"k":{"reference":"<parts>"}`.
    #[inline]
    pub fn reference(&mut self, k: &str, parts: &[&str]) -> &mut Self {
        self.key(k).open().key("reference").strs(parts).close()
    }
}

/// Appends a decimal integer to a byte buffer.
#[inline]
pub fn push_int(buf: &mut Vec<u8>, n: i64) {
    let mut b = itoa::Buffer::new();
    buf.extend_from_slice(b.format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_what_serde_json_writes() {
        let texts = ["plain", "日本語テキスト", "quote \" and \\ back", "ctl \n\r\t\u{8}\u{c}\u{1}\u{1f} end", ""];
        let floats = [0.0, -0.0, 1.0, 138.0, 0.1, 1.25, 7.199999999999999, 1e21, 1e-7, 123456.789, f64::NAN, f64::INFINITY];
        let ints = [0i64, 1, -1, 42, i64::MAX, i64::MIN];
        let mut j = Json::new();
        j.open();
        j.key("texts").open_arr();
        for t in texts {
            j.str(t);
        }
        j.close_arr();
        j.key("joined").strs(&["Patient/", "0001", "\"x\""]);
        j.key("floats").open_arr();
        for f in floats {
            j.float(f);
        }
        j.close_arr();
        j.key("ints").open_arr();
        for i in ints {
            j.int(i);
        }
        j.close_arr();
        j.key("b").bool(true).key("e").open().close().key("a").open_arr().close_arr();
        j.reference("subject", &["Patient/", "1"]);
        j.close();
        let expected = json!({
            "texts": texts,
            "joined": "Patient/0001\"x\"",
            "floats": floats,
            "ints": ints,
            "b": true,
            "e": {},
            "a": [],
            "subject": { "reference": "Patient/1" }
        });
        assert_eq!(String::from_utf8(j.buf).expect("utf8"), expected.to_string());
    }
}
