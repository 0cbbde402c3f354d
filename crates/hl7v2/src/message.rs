//! The message tree (message → segments → fields → repetitions → components
//! → subcomponents), its parser and its writer.
//!
//! Leaves hold unescaped text: the tree is split on the delimiters first and
//! each leaf is then unescaped, so a decoded `^` inside a leaf is data, never
//! structure. Writing escapes the leaves again.

use crate::charset::Charset;
use crate::error::{Issue, Result};
use crate::escape::{self, Delimiters, EscapeProblem};
use crate::view::{Decoded, MessageRef};

/// A component: one or more subcomponents (unescaped text).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Component {
    subs: Vec<String>,
}

/// One repetition of a field: its components.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Repetition {
    comps: Vec<Component>,
}

/// A field: its repetitions. An empty field has none.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Field {
    reps: Vec<Repetition>,
}

/// A segment: its id and fields (field 1 first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    name: String,
    fields: Vec<Field>,
}

/// A parsed (or built) HL7 v2 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    delimiters: Delimiters,
    charset: Charset,
    segments: Vec<Segment>,
}

static EMPTY_FIELD: Field = Field { reps: Vec::new() };
static EMPTY_REP: Repetition = Repetition { comps: Vec::new() };
static EMPTY_COMP: Component = Component { subs: Vec::new() };

impl Component {
    /// A component with one subcomponent.
    pub fn text(s: impl Into<String>) -> Self {
        Component { subs: vec![s.into()] }
    }

    /// A component made of subcomponents.
    pub fn from_subcomponents<I, S>(subs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Component { subs: subs.into_iter().map(Into::into).collect() }
    }

    /// The subcomponents.
    pub fn subcomponents(&self) -> &[String] {
        &self.subs
    }

    /// Subcomponent `n` (1-based); empty when absent.
    pub fn subcomponent(&self, n: usize) -> &str {
        n.checked_sub(1).and_then(|i| self.subs.get(i)).map(String::as_str).unwrap_or("")
    }

    /// The first subcomponent's text (the whole value in the usual case).
    pub fn as_str(&self) -> &str {
        self.subcomponent(1)
    }

    /// True when every subcomponent is empty.
    pub fn is_empty(&self) -> bool {
        self.subs.iter().all(String::is_empty)
    }

    fn write(&self, d: &Delimiters, out: &mut String) {
        for (i, s) in self.subs.iter().enumerate() {
            if i > 0 {
                out.push(d.subcomponent);
            }
            out.push_str(&escape::escape(s, d));
        }
    }
}

impl Repetition {
    /// A repetition with one component.
    pub fn text(s: impl Into<String>) -> Self {
        Repetition { comps: vec![Component::text(s)] }
    }

    /// A repetition made of simple components (`["患者", "太郎"]` → `患者^太郎`).
    pub fn from_texts<I, S>(comps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Repetition { comps: comps.into_iter().map(Component::text).collect() }
    }

    /// A repetition made of components.
    pub fn from_components(comps: Vec<Component>) -> Self {
        Repetition { comps }
    }

    /// The components.
    pub fn components(&self) -> &[Component] {
        &self.comps
    }

    /// Component `n` (1-based); empty when absent.
    pub fn component(&self, n: usize) -> &Component {
        n.checked_sub(1).and_then(|i| self.comps.get(i)).unwrap_or(&EMPTY_COMP)
    }

    /// The first component's first subcomponent.
    pub fn as_str(&self) -> &str {
        self.component(1).as_str()
    }

    /// True when every component is empty.
    pub fn is_empty(&self) -> bool {
        self.comps.iter().all(Component::is_empty)
    }

    fn write(&self, d: &Delimiters, out: &mut String) {
        for (i, c) in self.comps.iter().enumerate() {
            if i > 0 {
                out.push(d.component);
            }
            c.write(d, out);
        }
    }
}

impl Field {
    /// A field holding one plain value.
    pub fn text(s: impl Into<String>) -> Self {
        let s = s.into();
        if s.is_empty() { Field::default() } else { Field { reps: vec![Repetition::text(s)] } }
    }

    /// A field with one repetition of simple components.
    pub fn from_texts<I, S>(comps: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Field { reps: vec![Repetition::from_texts(comps)] }
    }

    /// A field made of repetitions.
    pub fn from_repetitions(reps: Vec<Repetition>) -> Self {
        Field { reps }
    }

    /// The repetitions.
    pub fn repetitions(&self) -> &[Repetition] {
        &self.reps
    }

    /// Repetition `n` (1-based); empty when absent.
    pub fn repetition(&self, n: usize) -> &Repetition {
        n.checked_sub(1).and_then(|i| self.reps.get(i)).unwrap_or(&EMPTY_REP)
    }

    /// Component `n` (1-based) of the first repetition.
    pub fn component(&self, n: usize) -> &Component {
        self.repetition(1).component(n)
    }

    /// The first repetition's first component's first subcomponent.
    pub fn as_str(&self) -> &str {
        self.repetition(1).as_str()
    }

    /// True when the field holds no data.
    pub fn is_empty(&self) -> bool {
        self.reps.iter().all(Repetition::is_empty)
    }

    /// The field in wire form (escaped, with delimiters).
    pub fn to_raw(&self, d: &Delimiters) -> String {
        let mut out = String::new();
        self.write(d, &mut out);
        out
    }

    fn write(&self, d: &Delimiters, out: &mut String) {
        for (i, r) in self.reps.iter().enumerate() {
            if i > 0 {
                out.push(d.repetition);
            }
            r.write(d, out);
        }
    }
}

impl From<&str> for Field {
    fn from(s: &str) -> Self {
        Field::text(s)
    }
}

impl From<String> for Field {
    fn from(s: String) -> Self {
        Field::text(s)
    }
}

impl Segment {
    /// An empty segment with the given id.
    pub fn new(name: impl Into<String>) -> Self {
        Segment { name: name.into(), fields: Vec::new() }
    }

    /// The segment id (`PID`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Field `n` (1-based); an empty field when absent.
    pub fn field(&self, n: usize) -> &Field {
        n.checked_sub(1).and_then(|i| self.fields.get(i)).unwrap_or(&EMPTY_FIELD)
    }

    /// All fields, field 1 first.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Sets field `n` (1-based), growing the segment as needed. Field 0 is ignored.
    pub fn set(&mut self, n: usize, value: impl Into<Field>) -> &mut Self {
        if n == 0 {
            return self;
        }
        if self.fields.len() < n {
            self.fields.resize(n, Field::default());
        }
        self.fields[n - 1] = value.into();
        self
    }

    /// Builder form of [`Segment::set`].
    pub fn with(mut self, n: usize, value: impl Into<Field>) -> Self {
        self.set(n, value);
        self
    }

    pub(crate) fn from_parts(name: String, fields: Vec<Field>) -> Self {
        Segment { name, fields }
    }

    fn is_msh_like(&self) -> bool {
        matches!(self.name.as_str(), "MSH" | "FHS" | "BHS")
    }

    fn write(&self, d: &Delimiters, out: &mut String) {
        out.push_str(&self.name);
        let skip = if self.is_msh_like() {
            out.push(d.field);
            out.push_str(&d.encoding_characters());
            2
        } else {
            0
        };
        let mut last = self.fields.len();
        while last > skip && self.fields[last - 1].reps.is_empty() {
            last -= 1;
        }
        for f in self.fields.iter().take(last).skip(skip) {
            out.push(d.field);
            f.write(d, out);
        }
    }
}

impl Message {
    /// A new message with an MSH segment carrying the default delimiters and
    /// the character set in MSH-18 (and, for ISO-2022-JP, `ISO 2022-1994` in
    /// MSH-20, as SS-MIX2 writes it).
    pub fn new(charset: Charset) -> Self {
        let d = Delimiters::default();
        let mut msh = Segment::new("MSH");
        msh.set(1, d.field.to_string());
        msh.set(2, d.encoding_characters());
        let mut m = Message { delimiters: d, charset, segments: vec![msh] };
        m.set_charset(charset);
        m
    }

    /// Parses raw bytes, decoding them in the character set MSH-18 declares.
    ///
    /// Fails only when there is no message to speak of (empty, no MSH,
    /// unusable delimiters); every other problem becomes an [`Issue`].
    /// (The owned tree is built from [`crate::view::MessageRef`]; readers
    /// that do not edit the message can use that directly.)
    pub fn parse(bytes: &[u8]) -> Result<(Message, Vec<Issue>)> {
        let decoded = Decoded::new(bytes);
        let (msg, issues) = decoded.parse()?;
        Ok((msg.to_message(), issues))
    }

    /// Parses already decoded text. Segments may end in CR, LF or CRLF.
    pub fn parse_str(text: &str) -> Result<(Message, Vec<Issue>)> {
        let (view, issues) = MessageRef::parse_str(text)?;
        let mut msg = view.to_message();
        let d = msg.delimiters;
        msg.charset = msg.segments.first().and_then(|m| Charset::from_msh18(&m.field(18).to_raw(&d))).unwrap_or(Charset::Ascii);
        Ok((msg, issues))
    }

    pub(crate) fn from_parts(delimiters: Delimiters, charset: Charset, segments: Vec<Segment>) -> Self {
        Message { delimiters, charset, segments }
    }

    /// The delimiters.
    pub fn delimiters(&self) -> &Delimiters {
        &self.delimiters
    }

    /// The character set the message was decoded from (or will be encoded in).
    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// Sets the character set and writes it to MSH-18 (and MSH-20 for ISO-2022-JP).
    pub fn set_charset(&mut self, charset: Charset) {
        self.charset = charset;
        let d = self.delimiters;
        let msh18 = parse_field(charset.msh18(), &d, &mut |_| {});
        if let Some(msh) = self.segments.first_mut() {
            msh.set(18, msh18);
            if charset == Charset::Iso2022Jp {
                msh.set(20, "ISO 2022-1994");
            }
        }
    }

    /// All segments in order (MSH first).
    pub fn all_segments(&self) -> &[Segment] {
        &self.segments
    }

    /// The segments with the given id, in order.
    pub fn segments<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Segment> + 'a {
        self.segments.iter().filter(move |s| s.name == name)
    }

    /// The first segment with the given id.
    pub fn segment(&self, name: &str) -> Option<&Segment> {
        self.segments.iter().find(|s| s.name == name)
    }

    /// The MSH segment.
    pub fn msh(&self) -> &Segment {
        self.segments.first().expect("invariant: a message always has its MSH segment")
    }

    /// Mutable MSH segment, to fill in header fields.
    pub fn msh_mut(&mut self) -> &mut Segment {
        self.segments.first_mut().expect("invariant: a message always has its MSH segment")
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

    /// Appends a segment.
    pub fn push(&mut self, segment: Segment) -> &mut Self {
        self.segments.push(segment);
        self
    }

    /// The message as text (escaped, segments ended by CR).
    pub fn to_hl7_string(&self) -> String {
        let mut out = String::new();
        for s in &self.segments {
            s.write(&self.delimiters, &mut out);
            out.push('\r');
        }
        out
    }

    /// The message encoded in its character set ([`Message::charset`]).
    pub fn encode(&self) -> Result<Vec<u8>> {
        self.charset.encode(&self.to_hl7_string())
    }
}

fn parse_field(raw: &str, d: &Delimiters, report: &mut dyn FnMut(EscapeProblem)) -> Field {
    if raw.is_empty() {
        return Field::default();
    }
    let reps = raw
        .split(d.repetition)
        .map(|r| Repetition {
            comps: r
                .split(d.component)
                .map(|c| Component {
                    subs: c.split(d.subcomponent).map(|s| escape::unescape_with(s, d, report)).collect(),
                })
                .collect(),
        })
        .collect();
    Field { reps }
}

#[cfg(test)]
mod tests;
