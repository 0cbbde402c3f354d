//! A byte-level JSON scanner for the fast path: parses a resource into the
//! light tree ([`Node`]) keeping only the keys of a [`KeyTree`], and skips
//! every other value by scanning its bytes (strings, numbers and nesting are
//! still checked) without building keys or values.
//!
//! It accepts only what `serde_json` accepts and gives the same tree: it
//! answers `None` (and the caller parses with `serde_json`, which gives the
//! tree or the exact error) whenever the text leaves the plain case: any
//! syntax error, deep nesting, or an escape in a kept string or key that
//! `serde_json` must decode.

use bumpalo::Bump;

use super::fast::{KeyTree, Node};

/// Nesting beyond this hands the resource to `serde_json` (whose own limit is 128).
const MAX_DEPTH: usize = 96;

/// Parses a resource (a JSON object) into `arena`, keeping the keys in
/// `keys`; `None` when `serde_json` must decide (see the module documentation).
#[cfg(test)]
pub(crate) fn scan_keys<'a>(text: &'a str, keys: &KeyTree, arena: &'a Bump) -> Option<Node<'a>> {
    scan_keys_with(text, keys, arena, &mut Scratch::default())
}

/// Working vectors of the scanner, kept from one resource to the next.
#[derive(Default)]
pub(crate) struct Scratch {
    members: Vec<(&'static str, Node<'static>)>,
    items: Vec<Node<'static>>,
}

/// An empty vector of another lifetime in the allocation of `v` (the
/// elements are dropped first; collecting the empty vector in place keeps
/// the buffer without visiting anything).
pub(crate) fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// [`scan_keys`] reusing the vectors of `scratch`.
pub(crate) fn scan_keys_with<'a>(text: &'a str, keys: &KeyTree, arena: &'a Bump, scratch: &mut Scratch) -> Option<Node<'a>> {
    let mut s = Scanner {
        text,
        arena,
        b: text.as_bytes(),
        i: 0,
        depth: 0,
        members: recycle(std::mem::take(&mut scratch.members)),
        items: recycle(std::mem::take(&mut scratch.items)),
    };
    let node = s.resource(keys);
    scratch.members = recycle(std::mem::take(&mut s.members));
    scratch.items = recycle(std::mem::take(&mut s.items));
    node
}

struct Scanner<'a> {
    text: &'a str,
    /// Where objects, arrays and decoded strings go.
    arena: &'a Bump,
    b: &'a [u8],
    i: usize,
    depth: usize,
    /// Members and items of the objects and arrays being built (a stack:
    /// each finished one moves its own into a slice in the arena).
    members: Vec<(&'a str, Node<'a>)>,
    items: Vec<Node<'a>>,
}

impl<'a> Scanner<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.b.get(self.i) {
            self.i += 1;
        }
    }

    /// The resource: one object and nothing after it but whitespace.
    fn resource(&mut self, keys: &KeyTree) -> Option<Node<'a>> {
        self.ws();
        if self.peek()? != b'{' {
            return None;
        }
        let node = self.object(if keys.all { None } else { Some(keys) })?;
        self.ws();
        (self.i == self.b.len()).then_some(node)
    }

    /// Consumes `c` after optional whitespace.
    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        if self.peek()? != c {
            return None;
        }
        self.i += 1;
        Some(())
    }

    /// A value, keeping the keys of `keys` in objects (`None`: keep all).
    fn value(&mut self, keys: Option<&KeyTree>) -> Option<Node<'a>> {
        self.ws();
        match self.peek()? {
            b'{' => self.object(keys),
            b'[' => self.array(keys),
            b'"' => self.string().map(Node::Str),
            b't' => self.literal(b"true").map(|_| Node::Bool(true)),
            b'f' => self.literal(b"false").map(|_| Node::Bool(false)),
            b'n' => self.literal(b"null").map(|_| Node::Null),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                self.number()?;
                // Kept as written; `serde_json` rejects those too large for a float (such as `1e400`).
                let raw = &self.text[start..self.i];
                Node::finite(raw).then_some(Node::Num(raw))
            }
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? != word {
            return None;
        }
        self.i += word.len();
        Some(())
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// The items of a container at its opening byte, up to `close` (`}` or
    /// `]`): `item` reads each one; commas, nesting depth and the closing
    /// byte are checked here.
    #[inline(always)]
    fn items(&mut self, close: u8, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.enter()?;
        self.i += 1;
        self.ws();
        if self.peek()? != close {
            loop {
                item(self)?;
                self.ws();
                match self.peek()? {
                    b',' => self.i += 1,
                    c if c == close => break,
                    _ => return None,
                }
            }
        }
        self.i += 1;
        self.depth -= 1;
        Some(())
    }

    /// An object member's key and its colon.
    #[inline(always)]
    fn key(&mut self) -> Option<&'a str> {
        self.ws();
        if self.peek()? != b'"' {
            return None;
        }
        let key = self.string()?;
        self.eat(b':')?;
        Some(key)
    }

    /// An object at `{`.
    fn object(&mut self, keys: Option<&KeyTree>) -> Option<Node<'a>> {
        let mark = self.members.len();
        self.items(b'}', |s| {
            let key = s.key()?;
            // The subtree of this key: `Some(None)` keeps all below it.
            let sub = match keys {
                None => Some(None),
                Some(k) => k.get(key).map(|t| if t.all { None } else { Some(t) }),
            };
            match sub {
                Some(t) => {
                    s.ws();
                    if s.peek()? == b'"' {
                        // A string (the usual kept value), pushed in place.
                        let v = s.string()?;
                        s.members.push((key, Node::Str(v)));
                    } else {
                        let v = s.value(t)?;
                        s.members.push((key, v));
                    }
                    Some(())
                }
                None => s.skip(),
            }
        })?;
        let members = self.arena.alloc_slice_copy(&self.members[mark..]);
        self.members.truncate(mark);
        Some(Node::Obj(members))
    }

    /// An array at `[` (its items see the same keys).
    fn array(&mut self, keys: Option<&KeyTree>) -> Option<Node<'a>> {
        let mark = self.items.len();
        self.items(b']', |s| {
            let v = s.value(keys)?;
            s.items.push(v);
            Some(())
        })?;
        let items = self.arena.alloc_slice_copy(&self.items[mark..]);
        self.items.truncate(mark);
        Some(Node::Arr(items))
    }

    /// A string at `"`: borrowed from the text, or decoded by `serde_json`
    /// (into the arena) when it has escapes.
    fn string(&mut self) -> Option<&'a str> {
        let start = self.i;
        let escaped = self.skip_string()?;
        if escaped {
            let s = serde_json::from_str::<String>(&self.text[start..self.i]).ok()?;
            Some(self.arena.alloc_str(&s))
        } else {
            Some(&self.text[start + 1..self.i - 1])
        }
    }

    /// Skips a string at `"` (checking escapes and control characters as
    /// `serde_json` does); whether it had escapes.
    #[inline]
    fn skip_string(&mut self) -> Option<bool> {
        self.i += 1;
        let mut escaped = false;
        loop {
            // Eight bytes at a time up to the first `"`, `\` or control character.
            while let Some(chunk) = self.b.get(self.i..self.i + 8) {
                let mut w = [0u8; 8];
                w.copy_from_slice(chunk);
                let m = special_mask(u64::from_le_bytes(w));
                if m != 0 {
                    self.i += (m.trailing_zeros() / 8) as usize;
                    break;
                }
                self.i += 8;
            }
            let c = self.peek()?;
            self.i += 1;
            match c {
                b'"' => return Some(escaped),
                b'\\' => {
                    escaped = true;
                    match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            let hex = self.b.get(self.i + 1..self.i + 5)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.i += 5;
                        }
                        _ => return None,
                    }
                }
                0..=0x1f => return None,
                _ => {}
            }
        }
    }

    /// Checks and skips a number (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`).
    fn number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            self.digits1()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.i += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.i += 1;
            }
            self.digits1()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
    }

    fn digits1(&mut self) -> Option<()> {
        let start = self.i;
        self.digits();
        (self.i > start).then_some(())
    }

    /// Skips any value, checking its syntax.
    fn skip(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.skip_string().map(|_| ()),
            b'{' => self.items(b'}', |s| {
                s.ws();
                if s.peek()? != b'"' {
                    return None;
                }
                s.skip_string()?;
                s.eat(b':')?;
                s.skip()
            }),
            b'[' => self.items(b']', Self::skip),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }
}

/// A mask whose lowest set bit is the high bit of the first byte of `w`
/// (little-endian) that is `"`, `\` or below 0x20; 0 when there is none.
/// (Bits above the first such byte may be set spuriously.)
#[inline]
fn special_mask(w: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let quote = zero(w ^ (ONES * b'"' as u64));
    let backslash = zero(w ^ (ONES * b'\\' as u64));
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    quote | backslash | control
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::ViewDefinition;
    use crate::view::fast::parse_keys;
    use serde_json::json;

    fn keys() -> KeyTree {
        let view = ViewDefinition::from_json(&json!({"resourceType": "ViewDefinition", "resource": "Patient", "select": [
            {"column": [{"name": "id", "path": "getResourceKey()"}, {"name": "b", "path": "birthDate"},
                        {"name": "n", "path": "gender"}]},
            {"forEach": "name", "column": [{"name": "f", "path": "family"}],
             "select": [{"forEach": "given", "column": [{"name": "g", "path": "$this"}]}]},
            {"forEachOrNull": "address", "column": [{"name": "m", "path": "extension('http://x').value.ofType(code)"}]}]}))
        .expect("view");
        KeyTree::of(&view)
    }

    const SAMPLES: &[&str] = &[
        r#"{"resourceType":"Patient","id":"p1","meta":{"versionId":"1","tag":[{"code":"x"}]},"multipleBirthInteger":2,
            "name":[{"use":"official","family":"山田","given":["太郎","T\u00e9"],"text":"skip \"quoted\" \\ \/ \b\f\n\r\t"}],
            "birthDate":"1970-01-01","active":true,"deceasedBoolean":false,"x":null,"n":[-1.5e+3,0,0.25,1E9,-0],
            "address":[{"city":"c","extension":[{"url":"http://x","valueCode":"13"},{"url":"y","valueInteger":7}]}]}"#,
        r#" { "resourceType" : "Patient" , "id" : "e\"sc" , "name" : [ ] , "address" : { } , "birthDate" : null } "#,
        r#"{"resourceType":"Patient","id":"dup","id":"last","name":[{"given":[1,-2.5e3,0.1,12345678901234567890,-9223372036854775809,true,null,{"a":[]},"g"]}],"multipleBirthInteger":12345678901234567890}"#,
        r#"{"resourceType":"Patient","\u0069d":"escaped key","name":[{"family":"\ud83d\ude00"}],"text":{"div":"<div>\u00e9</div>"}}"#,
        r#"{}"#,
    ];

    /// Wherever the scanner answers, `serde_json` agrees; where the input is
    /// plain valid JSON, the scanner answers.
    fn agrees(text: &str, keys: &KeyTree) -> bool {
        let (a, b) = (Bump::new(), Bump::new());
        match scan_keys(text, keys, &a) {
            Some(node) => {
                assert_eq!(Ok(&node), parse_keys(text, keys, &b).as_ref().map_err(|e| e.to_string()), "{text}");
                true
            }
            None => false,
        }
    }

    #[test]
    fn samples_give_the_serde_tree() {
        let k = keys();
        for s in SAMPLES {
            assert!(agrees(s, &k), "the scanner should take {s}");
        }
        let mut all = KeyTree::default();
        all.all = true;
        for s in SAMPLES {
            assert!(agrees(s, &all), "the scanner should take {s}");
        }
        // Lone surrogates in kept strings, bad escapes and numbers, trailing
        // text, deep nesting: serde_json decides.
        for bad in [
            r#"{"id":"\ud800"}"#,
            r#"{"meta":"\x"}"#,
            r#"{"meta":"\u12g4"}"#,
            r#"{"meta":01}"#,
            r#"{"meta":1.}"#,
            r#"{"meta":-}"#,
            r#"{"meta":[1,]}"#,
            r#"{"meta":{"a":1,}}"#,
            r#"{"meta":1} x"#,
            r#"{"meta":tru}"#,
            "{\"meta\":\"a\tb\"}",
            r#"[1]"#,
            r#""#,
            r#"{"id":1e400}"#,
        ] {
            assert!(!agrees(bad, &k), "the scanner should leave {bad} to serde_json");
        }
        let deep = format!("{{\"meta\":{}{}}}", "[".repeat(200), "]".repeat(200));
        assert!(!agrees(&deep, &k));
        // A lone surrogate in a skipped string is fine for both.
        assert!(agrees(r#"{"text":"\ud800"}"#, &k));
        assert!(!k.all && k.get("text").is_none() && k.get("gender").is_some());
    }

    #[test]
    fn every_single_byte_edit_agrees_with_serde() {
        // Deleting, duplicating or replacing any byte never makes the
        // scanner accept what serde_json rejects or read it differently.
        let k = keys();
        let repl = [b'"', b'\\', b',', b':', b'{', b'}', b'[', b']', b'0', b'-', b'e', b'.', b' ', b'\t', 0x01, b'u', b'a'];
        for s in SAMPLES {
            let b = s.as_bytes();
            for i in 0..b.len() {
                let mut edits: Vec<Vec<u8>> = vec![[&b[..i], &b[i + 1..]].concat(), [&b[..=i], &b[i..]].concat()];
                for r in repl {
                    edits.push([&b[..i], &[r][..], &b[i + 1..]].concat());
                }
                for e in edits {
                    if let Ok(t) = std::str::from_utf8(&e) {
                        agrees(t, &k);
                    }
                }
            }
        }
    }

    #[test]
    fn special_bytes_are_found_in_every_lane() {
        for lane in 0..8 {
            for (c, want) in [(b'"', true), (b'\\', true), (0x1f, true), (0x00, true), (b' ', false), (b'a', false), (0xe3, false), (0x21, false)] {
                for fill in [b'a', b'"', 0x01, 0xff] {
                    // Bytes before `lane` are plain; bytes after it may be anything.
                    let mut bytes = [fill; 8];
                    bytes[..lane].fill(b'a');
                    bytes[lane] = c;
                    let m = special_mask(u64::from_le_bytes(bytes));
                    let first = (m != 0).then(|| (m.trailing_zeros() / 8) as usize);
                    let expect = if want { Some(lane) } else if lane < 7 && fill != b'a' && fill != 0xff { Some(lane + 1) } else { None };
                    assert_eq!(first, expect, "byte {c:#x} in lane {lane}, then {fill:#x}");
                }
            }
        }
    }
}
