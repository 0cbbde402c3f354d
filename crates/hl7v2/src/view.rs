//! The borrowed message tree: the parser's output, used for reading.
//!
//! [`MessageRef`] keeps the decoded message text and points into it: every
//! leaf (subcomponent) is a slice of the text, and only a leaf that holds an
//! escape sequence gets its own (unescaped) string. The tree is stored flat
//! (one array per level), so parsing a message costs a handful of
//! allocations instead of one per field, repetition, component and
//! subcomponent. The handles ([`SegmentRef`], [`FieldRef`], [`RepetitionRef`],
//! [`ComponentRef`]) are small `Copy` values with the same accessors as the
//! owned tree of [`crate::message`] (1-based numbering; an absent part reads
//! as empty).
//!
//! ```
//! let raw = b"MSH|^~\\&|HIS|SEND|GW|RCV|20111220||ADT^A08^ADT_A01|1|P|2.5\rPID|1||9999013||Kanja^Taro~X^Y\r";
//! let decoded = hl7v2::Decoded::new(raw);
//! let (msg, issues) = decoded.parse().expect("an MSH segment is present");
//! assert!(issues.is_empty());
//! assert_eq!(msg.message_type(), ("ADT", "A08"));
//! let pid = msg.segment("PID").expect("PID is present");
//! assert_eq!(pid.field(5).repetition(2).component(1).as_str(), "X");
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::charset::{self, Charset};
use crate::error::{Error, Issue, Result, Severity};
use crate::escape::{self, Delimiters, EscapeProblem};
use crate::message::{Component, Field, Message, Repetition, Segment};

/// A range of entries of the next level down.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn range(self) -> std::ops::Range<usize> {
        self.start as usize..(self.start + self.len) as usize
    }

    /// Entry `n` (1-based) as an index, if present.
    fn nth(self, n: usize) -> Option<usize> {
        let i = n.checked_sub(1)?;
        (i < self.len as usize).then(|| self.start as usize + i)
    }
}

#[derive(Debug, Clone)]
struct SegData<'a> {
    name: &'a str,
    fields: Span,
}

/// A parsed message that borrows its text (see the module documentation).
#[derive(Debug, Clone)]
pub struct MessageRef<'a> {
    delimiters: Delimiters,
    charset: Charset,
    segments: Vec<SegData<'a>>,
    /// Per field: its repetitions.
    fields: Vec<Span>,
    /// Per repetition: its components.
    reps: Vec<Span>,
    /// Per component: its subcomponents.
    comps: Vec<Span>,
    /// The unescaped subcomponents.
    leaves: Vec<Cow<'a, str>>,
}

/// A segment of a [`MessageRef`].
#[derive(Clone, Copy)]
pub struct SegmentRef<'m> {
    m: &'m MessageRef<'m>,
    i: usize,
}

/// A field of a [`MessageRef`]: its repetitions. An empty field has none.
#[derive(Clone, Copy)]
pub struct FieldRef<'m> {
    m: &'m MessageRef<'m>,
    reps: Span,
}

/// One repetition of a field: its components.
#[derive(Clone, Copy)]
pub struct RepetitionRef<'m> {
    m: &'m MessageRef<'m>,
    comps: Span,
}

/// A component: its subcomponents (unescaped text).
#[derive(Clone, Copy)]
pub struct ComponentRef<'m> {
    m: &'m MessageRef<'m>,
    subs: Span,
}

/// Raw message bytes decoded in the character set MSH-18 declares (or that
/// the content shows), ready for [`Decoded::parse`].
#[derive(Debug, Clone)]
pub struct Decoded<'b> {
    text: Cow<'b, str>,
    charset: Charset,
    issues: Vec<Issue>,
}

impl<'b> Decoded<'b> {
    /// Decodes raw bytes. A declared character set this crate does not know,
    /// a declaration the content contradicts and bytes invalid in the
    /// character set used become issues (the last one of severity
    /// [`Severity::Error`]); decoding itself never fails.
    pub fn new(bytes: &'b [u8]) -> Self {
        let mut issues = Vec::new();
        let declared = charset::sniff_msh18(bytes);
        // The guess from content is needed only without a usable declaration
        // or when the declared set does not decode (it scans every byte).
        let mut guessed = None;
        let mut content_guess = || *guessed.get_or_insert_with(|| charset::guess(bytes));
        let charset = match declared.as_deref().map(|v| (v, Charset::from_msh18(v))) {
            Some((_, Some(cs))) => cs,
            Some((v, None)) => {
                let g = content_guess();
                issues.push(
                    Issue::new(Severity::Warning, format!("unsupported character set {v:?}; decoded as {}", g.name())).at(1, "MSH", Some(18)),
                );
                g
            }
            None => content_guess(),
        };
        let (mut text, mut bad) = charset.decode_cow(bytes);
        let mut used = charset;
        let content_guess = if bad { content_guess() } else { charset };
        if bad && content_guess != charset {
            let (alt, alt_bad) = content_guess.decode_cow(bytes);
            if !alt_bad {
                issues.push(
                    Issue::new(
                        Severity::Warning,
                        format!(
                            "MSH-18 declares {} but the content is {}; decoded as {}",
                            charset.name(),
                            content_guess.name(),
                            content_guess.name()
                        ),
                    )
                    .at(1, "MSH", Some(18)),
                );
                text = alt;
                bad = false;
                used = content_guess;
            }
        }
        if bad {
            issues.push(
                Issue::new(Severity::Error, format!("bytes not valid in {}; replaced by U+FFFD", used.name())).at(1, "MSH", Some(18)),
            );
        }
        Decoded { text, charset: used, issues }
    }

    /// The decoded text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The character set the text was decoded from.
    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// The decoding issues.
    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    /// Parses the decoded text. The issues returned are the decoding issues
    /// followed by the parsing issues.
    pub fn parse(&self) -> Result<(MessageRef<'_>, Vec<Issue>)> {
        let (mut msg, more) = MessageRef::parse_str(&self.text)?;
        msg.charset = self.charset;
        let mut issues = self.issues.clone();
        issues.extend(more);
        Ok((msg, issues))
    }
}

fn is_segment_id(name: &str) -> bool {
    name.len() == 3 && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn escape_issue(p: EscapeProblem, index: usize, name: &str, field: usize) -> Issue {
    let msg = match p {
        EscapeProblem::Unterminated => "unterminated escape sequence kept as text".to_string(),
        EscapeProblem::BadHex(s) => format!("invalid hex escape {s} kept as text"),
        EscapeProblem::Unknown(s) => format!("unknown escape sequence {s} kept as text"),
    };
    Issue::new(Severity::Warning, msg).at(index, name, Some(field))
}

fn len32(n: usize) -> u32 {
    // A message longer than 4 GiB is not an HL7 message; the parser's input
    // is bounded by the file it came from, so this cannot overflow in practice.
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl<'a> MessageRef<'a> {
    /// Parses already decoded text. Segments may end in CR, LF or CRLF.
    ///
    /// Fails only when there is no message to speak of (empty, no MSH,
    /// unusable delimiters); every other problem becomes an [`Issue`].
    pub fn parse_str(text: &'a str) -> Result<(MessageRef<'a>, Vec<Issue>)> {
        let text = text.trim_start_matches(['\u{feff}', '\u{b}']).trim_end_matches(['\u{1c}', '\u{b}']);
        // Split on CR, then on LF (the same pieces as splitting on either, but
        // each split is a fast single-byte search).
        let mut lines = text.split('\r').flat_map(|l| l.split('\n')).filter(|l| !l.trim().is_empty());
        let first = lines.next().ok_or(Error::Empty)?;
        let mut chars = first.char_indices();
        let head_end = chars.by_ref().take(3).last().map(|(i, c)| i + c.len_utf8()).unwrap_or(0);
        if !matches!(&first[..head_end], "MSH" | "FHS" | "BHS") {
            return Err(Error::NoMsh { found: first.chars().take(10).collect() });
        }
        let (sep_at, field_sep) = chars.next().ok_or_else(|| Error::BadDelimiters { reason: "MSH-1 is missing".into() })?;
        let sep_str = &first[sep_at..sep_at + field_sep.len_utf8()];
        let enc_start = sep_at + field_sep.len_utf8();
        let enc = first[enc_start..].split(field_sep).next().unwrap_or("");
        let d = Delimiters::from_msh(field_sep, enc)?;
        // About one leaf per 8 bytes of text in SS-MIX2 messages.
        let guess = text.len() / 8 + 8;
        let mut m = MessageRef {
            delimiters: d,
            charset: Charset::Ascii,
            segments: Vec::with_capacity(16),
            fields: Vec::with_capacity(guess / 2),
            reps: Vec::with_capacity(guess / 2),
            comps: Vec::with_capacity(guess),
            leaves: Vec::with_capacity(guess),
        };
        let mut issues = Vec::new();
        let ascii = [d.field, d.component, d.repetition, d.escape, d.subcomponent].iter().all(char::is_ascii);
        let mut msh18 = None;
        for (i, line) in std::iter::once(first).chain(lines).enumerate() {
            let index = i + 1;
            let marks = (m.fields.len(), m.reps.len(), m.comps.len(), m.leaves.len());
            let sep_len = field_sep.len_utf8();
            let cut = |s: &'a str| match s.find(field_sep) {
                Some(p) => (&s[..p], Some(&s[p + sep_len..])),
                None => (s, None),
            };
            let (name, mut rest) = cut(line);
            if !is_segment_id(name) {
                issues.push(
                    Issue::new(Severity::Warning, format!("segment id {name:?} is not three upper-case letters or digits"))
                        .at(index, name, None),
                );
            }
            let fields_start = m.fields.len();
            if matches!(name, "MSH" | "FHS" | "BHS") {
                // MSH-1 is the field separator itself and MSH-2 the encoding
                // characters, both taken literally.
                m.push_text_field(sep_str);
                let (enc, after) = rest.map(cut).unwrap_or(("", None));
                m.push_text_field(enc);
                rest = after;
            }
            let offset = m.fields.len() - fields_start;
            let mut field = |k: usize, raw: &'a str, plain: bool, m: &mut MessageRef<'a>| {
                let n = offset + k + 1;
                if index == 1 && n == 18 {
                    msh18 = Some(raw);
                }
                if plain {
                    m.push_text_field(raw);
                } else {
                    m.push_field(raw, &mut |p| issues.push(escape_issue(p, index, name, n)));
                }
            };
            if let Some(rest) = rest {
                if ascii {
                    // One pass over the bytes: find the field separators and
                    // note whether a field holds any other delimiter (most
                    // do not). The delimiters are ASCII, so a byte equal to
                    // one is that character.
                    let (fs, set) = (field_sep as u8, [d.repetition as u8, d.component as u8, d.subcomponent as u8, d.escape as u8]);
                    let (mut start, mut plain, mut k) = (0, true, 0);
                    for (at, &b) in rest.as_bytes().iter().enumerate() {
                        if b == fs {
                            field(k, &rest[start..at], plain, &mut m);
                            (start, plain, k) = (at + 1, true, k + 1);
                        } else if plain && set.contains(&b) {
                            plain = false;
                        }
                    }
                    field(k, &rest[start..], plain, &mut m);
                } else {
                    for (k, raw) in rest.split(field_sep).enumerate() {
                        let plain = !raw.contains([d.repetition, d.component, d.subcomponent, d.escape]);
                        field(k, raw, plain, &mut m);
                    }
                }
            }
            let fields = Span { start: len32(fields_start), len: len32(m.fields.len() - fields_start) };
            // A line of bare separators ("|||") has no id and no data; it
            // would write back as an empty line, so it is dropped (reported).
            if name.trim().is_empty() && m.fields[fields.range()].iter().all(|f| f.len == 0) {
                issues.push(Issue::new(Severity::Warning, "segment without id or data ignored").at(index, "", None));
                m.fields.truncate(marks.0);
                m.reps.truncate(marks.1);
                m.comps.truncate(marks.2);
                m.leaves.truncate(marks.3);
                continue;
            }
            m.segments.push(SegData { name, fields });
        }
        m.charset = msh18.and_then(Charset::from_msh18).unwrap_or(Charset::Ascii);
        Ok((m, issues))
    }

    /// A field of one unsplit, unescaped value (MSH-1 and MSH-2); empty text
    /// is an empty field.
    fn push_text_field(&mut self, text: &'a str) {
        if text.is_empty() {
            self.fields.push(Span::default());
            return;
        }
        self.leaves.push(Cow::Borrowed(text));
        self.comps.push(Span { start: len32(self.leaves.len() - 1), len: 1 });
        self.reps.push(Span { start: len32(self.comps.len() - 1), len: 1 });
        self.fields.push(Span { start: len32(self.reps.len() - 1), len: 1 });
    }

    /// A field that holds delimiters or escapes: split and unescaped.
    fn push_field(&mut self, raw: &'a str, report: &mut dyn FnMut(EscapeProblem)) {
        let d = self.delimiters;
        let reps_start = self.reps.len();
        for rep in raw.split(d.repetition) {
            let comps_start = self.comps.len();
            for comp in rep.split(d.component) {
                let leaves_start = self.leaves.len();
                for sub in comp.split(d.subcomponent) {
                    self.leaves.push(escape::unescape_cow(sub, &d, report));
                }
                self.comps.push(Span { start: len32(leaves_start), len: len32(self.leaves.len() - leaves_start) });
            }
            self.reps.push(Span { start: len32(comps_start), len: len32(self.comps.len() - comps_start) });
        }
        self.fields.push(Span { start: len32(reps_start), len: len32(self.reps.len() - reps_start) });
    }

    /// The delimiters.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// The character set the message was decoded from ([`Decoded::parse`]),
    /// or the one MSH-18 declares ([`MessageRef::parse_str`]).
    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// Always false: a parsed message has its MSH segment.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Segment `i` (0-based position in the message).
    pub fn segment_at(&self, i: usize) -> Option<SegmentRef<'_>> {
        (i < self.segments.len()).then_some(SegmentRef { m: self, i })
    }

    /// All segments in order (MSH first).
    pub fn all_segments(&self) -> impl ExactSizeIterator<Item = SegmentRef<'_>> + '_ {
        (0..self.segments.len()).map(move |i| SegmentRef { m: self, i })
    }

    /// The segments with the given id, in order.
    pub fn segments<'s>(&'s self, name: &'s str) -> impl Iterator<Item = SegmentRef<'s>> + 's {
        self.all_segments().filter(move |s| s.name() == name)
    }

    /// The first segment with the given id.
    pub fn segment(&self, name: &str) -> Option<SegmentRef<'_>> {
        self.all_segments().find(|s| s.name() == name)
    }

    /// The MSH segment.
    pub fn msh(&self) -> SegmentRef<'_> {
        SegmentRef { m: self, i: 0 }
    }

    /// MSH-9 message code and trigger event (`("ADT", "A08")`).
    pub fn message_type(&self) -> (&str, &str) {
        let f = self.msh().field(9);
        (f.component(1).as_str(), f.component(2).as_str())
    }

    /// MSH-10 message control id.
    pub fn control_id(&self) -> &str {
        self.msh().field(10).as_str()
    }

    /// The owned tree (for editing and writing). Its character set is this
    /// message's.
    pub fn to_message(&self) -> Message {
        let segments = self
            .all_segments()
            .map(|s| Segment::from_parts(s.name().to_string(), s.fields().map(|f| f.to_field()).collect()))
            .collect();
        Message::from_parts(self.delimiters, self.charset, segments)
    }
}

impl<'m> SegmentRef<'m> {
    fn data(&self) -> &'m SegData<'m> {
        &self.m.segments[self.i]
    }

    /// The segment id (`PID`).
    pub fn name(&self) -> &'m str {
        self.data().name
    }

    /// The 0-based position of the segment in the message.
    pub fn position(&self) -> usize {
        self.i
    }

    /// Field `n` (1-based); an empty field when absent.
    pub fn field(&self, n: usize) -> FieldRef<'m> {
        let reps = self.data().fields.nth(n).map(|i| self.m.fields[i]).unwrap_or_default();
        FieldRef { m: self.m, reps }
    }

    /// Number of fields (field 1 first; trailing empty fields count).
    pub fn field_count(&self) -> usize {
        self.data().fields.len as usize
    }

    /// All fields, field 1 first.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = FieldRef<'m>> + 'm {
        let m = self.m;
        m.fields[self.data().fields.range()].iter().map(move |&reps| FieldRef { m, reps })
    }
}

impl<'m> FieldRef<'m> {
    /// The repetitions.
    pub fn repetitions(&self) -> impl ExactSizeIterator<Item = RepetitionRef<'m>> + 'm {
        let m = self.m;
        m.reps[self.reps.range()].iter().map(move |&comps| RepetitionRef { m, comps })
    }

    /// Repetition `n` (1-based); empty when absent.
    pub fn repetition(&self, n: usize) -> RepetitionRef<'m> {
        let comps = self.reps.nth(n).map(|i| self.m.reps[i]).unwrap_or_default();
        RepetitionRef { m: self.m, comps }
    }

    /// Component `n` (1-based) of the first repetition.
    pub fn component(&self, n: usize) -> ComponentRef<'m> {
        self.repetition(1).component(n)
    }

    /// The first repetition's first component's first subcomponent.
    pub fn as_str(&self) -> &'m str {
        self.repetition(1).as_str()
    }

    /// True when the field holds no data.
    pub fn is_empty(&self) -> bool {
        self.repetitions().all(|r| r.is_empty())
    }

    /// The owned field.
    pub fn to_field(&self) -> Field {
        Field::from_repetitions(self.repetitions().map(|r| r.to_repetition()).collect())
    }
}

impl<'m> RepetitionRef<'m> {
    /// The components.
    pub fn components(&self) -> impl ExactSizeIterator<Item = ComponentRef<'m>> + 'm {
        let m = self.m;
        m.comps[self.comps.range()].iter().map(move |&subs| ComponentRef { m, subs })
    }

    /// Component `n` (1-based); empty when absent.
    pub fn component(&self, n: usize) -> ComponentRef<'m> {
        let subs = self.comps.nth(n).map(|i| self.m.comps[i]).unwrap_or_default();
        ComponentRef { m: self.m, subs }
    }

    /// The first component's first subcomponent.
    pub fn as_str(&self) -> &'m str {
        self.component(1).as_str()
    }

    /// True when every component is empty.
    pub fn is_empty(&self) -> bool {
        self.components().all(|c| c.is_empty())
    }

    /// The owned repetition.
    pub fn to_repetition(&self) -> Repetition {
        Repetition::from_components(self.components().map(|c| c.to_component()).collect())
    }
}

impl<'m> ComponentRef<'m> {
    /// The subcomponents.
    pub fn subcomponents(&self) -> impl ExactSizeIterator<Item = &'m str> + 'm {
        self.m.leaves[self.subs.range()].iter().map(|s| &**s)
    }

    /// Subcomponent `n` (1-based); empty when absent.
    pub fn subcomponent(&self, n: usize) -> &'m str {
        self.subs.nth(n).map(|i| &*self.m.leaves[i]).unwrap_or("")
    }

    /// The first subcomponent's text (the whole value in the usual case).
    pub fn as_str(&self) -> &'m str {
        self.subcomponent(1)
    }

    /// True when every subcomponent is empty.
    pub fn is_empty(&self) -> bool {
        self.subcomponents().all(str::is_empty)
    }

    /// The owned component.
    pub fn to_component(&self) -> Component {
        Component::from_subcomponents(self.subcomponents())
    }
}

impl fmt::Debug for SegmentRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegmentRef").field("name", &self.name()).field("fields", &self.fields().collect::<Vec<_>>()).finish()
    }
}

impl fmt::Debug for FieldRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.repetitions()).finish()
    }
}

impl fmt::Debug for RepetitionRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.components()).finish()
    }
}

impl fmt::Debug for ComponentRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.subcomponents()).finish()
    }
}
