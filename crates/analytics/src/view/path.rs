//! FHIRPath expressions as the view runner uses them: rewriting view-level
//! features into plain FHIRPath (constants, `getResourceKey()`,
//! `getReferenceKey([type])`), compiling them with the `fhirpath` crate,
//! fast paths for plain member chains and reference keys, and static type
//! inference over the R4 definitions.
//!
//! The `fhirpath` crate has no hook for custom functions, so the two
//! SQL-on-FHIR functions are handled here: natively when they end the
//! expression (`subject.getReferenceKey(Patient)`, the common case), and by
//! rewriting into standard FHIRPath (`id`; `select(reference...)`) anywhere
//! else. Constants are substituted as typed FHIRPath literals (`@1978-03-12`,
//! `'official'`), so comparisons with dates and times keep their types.

use fhirpath::{Element, Env, Expr, Item};
use serde_json::Value;

use super::definition::Constants;
use super::fast::{Fallback, KeyTree, Node};
use super::error::{Error, Result};

/// Variables the engine or the runner defines itself.
const BUILTIN_VARS: &[&str] = &["resource", "rootResource", "context", "ucum", "sct", "loinc", "rowIndex"];

/// A compiled view path.
#[derive(Debug, Clone)]
pub struct CompiledPath {
    /// The expression as written in the view.
    pub source: String,
    /// Where in the view.
    pub location: String,
    kind: PathKind,
}

#[derive(Debug, Clone)]
enum PathKind {
    /// A general FHIRPath expression (after rewriting).
    Fhirpath(Expr),
    /// `getResourceKey()` alone: the focus resource's id.
    ResourceKey,
    /// `[prefix.]getReferenceKey([type])` at the end of the expression,
    /// optionally followed by `.first()` (`first` keeps only the first key).
    ReferenceKey { prefix: Option<Box<CompiledPath>>, ty: Option<String>, first: bool },
    /// `$this`: the focus itself.
    This,
    /// A chain of plain member names (`code.coding.system`) whose every step
    /// is a known, non-choice element of the focus type: walked directly on
    /// the JSON, with the same result as the FHIRPath engine, several times faster.
    Members(Vec<Step>),
}

/// The static type of a focus: a FHIR type name (or backbone path such as
/// `Patient.contact`), when known.
#[derive(Debug, Clone, Default)]
pub struct TypeHint {
    ty: Option<String>,
    is_resource: bool,
}

impl TypeHint {
    /// The hint for a resource of type `ty`.
    pub fn resource(ty: &str) -> TypeHint {
        TypeHint { ty: Some(ty.to_string()), is_resource: true }
    }

    /// The hint for the items `src` yields from this focus.
    pub fn then(&self, src: &str) -> TypeHint {
        match infer_type(src, self) {
            Some(t) => TypeHint { ty: t.fhir_type, is_resource: false },
            None => TypeHint::default(),
        }
    }
}

/// The inferred result type of an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inferred {
    /// The FHIR (or System, lowercased) type name, if known.
    pub fhir_type: Option<String>,
}

impl CompiledPath {
    /// Rewrites and compiles `src`; `loc` is its place in the view.
    pub fn compile(src: &str, loc: &str, constants: &Constants, focus: &TypeHint) -> Result<CompiledPath> {
        let compile_err = |e: fhirpath::Error| Error::Expression {
            location: loc.to_string(),
            expression: src.to_string(),
            source: e,
        };
        let rewritten = rewrite(src, loc, constants)?;
        // Fast forms: the key functions at the very end of the expression.
        let trimmed = rewritten.trim();
        if trimmed == "$this" {
            return Ok(CompiledPath { source: src.into(), location: loc.into(), kind: PathKind::This });
        }
        if trimmed == "getResourceKey()" {
            return Ok(CompiledPath { source: src.into(), location: loc.into(), kind: PathKind::ResourceKey });
        }
        // `….getReferenceKey(T).first()` is as common as the bare form (one key
        // of a repeating reference); without this it would go through the
        // engine as a regex rewrite.
        let (keyed, first) = match trimmed.strip_suffix(".first()") {
            Some(k) if k.trim_end().ends_with(')') => (k.trim_end(), true),
            _ => (trimmed, false),
        };
        if let Some((prefix, ty)) = split_trailing_refkey(keyed) {
            if !prefix.contains("getReferenceKey") && !prefix.contains("getResourceKey") && is_postfix_chain(prefix) {
                let prefix = match prefix {
                    "" => None,
                    p => Some(Box::new(CompiledPath::compile(p, loc, &Vec::new(), focus)?)),
                };
                return Ok(CompiledPath {
                    source: src.into(),
                    location: loc.into(),
                    kind: PathKind::ReferenceKey { prefix, ty, first },
                });
            }
        }
        if let Some(steps) = member_chain(trimmed, focus) {
            // Still compile with the engine, so syntax errors read the same.
            Expr::compile(trimmed).map_err(compile_err)?;
            return Ok(CompiledPath { source: src.into(), location: loc.into(), kind: PathKind::Members(steps) });
        }
        let general = rewrite_key_functions(trimmed);
        let expr = Expr::compile(&general).map_err(compile_err)?;
        Ok(CompiledPath { source: src.into(), location: loc.into(), kind: PathKind::Fhirpath(expr) })
    }

    /// Evaluates on `focus` (an item of `resource`).
    pub fn evaluate<'a>(
        &'a self,
        focus: &Item<'a>,
        resource: &'a Value,
        env: &'a Env,
    ) -> std::result::Result<Vec<Item<'a>>, fhirpath::Error> {
        match &self.kind {
            PathKind::Fhirpath(e) => e.evaluate_on(focus, resource, env),
            PathKind::This => Ok(vec![focus.clone()]),
            PathKind::Members(steps) => {
                let Item::Element(Element { value: Some(root), .. }) = focus else { return Ok(Vec::new()) };
                let mut cur: Vec<&'a Value> = vec![*root];
                let mut ty = "";
                for step in steps {
                    match step {
                        Step::First => cur.truncate(1),
                        Step::Extension(url) => {
                            ty = "Extension";
                            let mut next = Vec::new();
                            for v in cur {
                                let matches = |x: &&Value| x.get("url").and_then(Value::as_str) == Some(url.as_str());
                                match v.get("extension") {
                                    Some(Value::Array(a)) => next.extend(a.iter().filter(|x| !x.is_null()).filter(matches)),
                                    Some(Value::Null) | None => {}
                                    Some(x) => next.extend(std::iter::once(x).filter(matches)),
                                }
                            }
                            cur = next;
                        }
                        Step::Key(key, t) => {
                            ty = *t;
                            let mut next = Vec::with_capacity(cur.len());
                            for v in cur {
                                match v.get(key.as_str()) {
                                    Some(Value::Array(a)) => next.extend(a.iter().filter(|x| !x.is_null())),
                                    Some(Value::Null) | None => {}
                                    Some(x) => next.push(x),
                                }
                            }
                            cur = next;
                        }
                    }
                }
                Ok(cur.into_iter().map(|v| Item::element(v, ty)).collect())
            }
            PathKind::ResourceKey => Ok(match focus {
                Item::Element(Element { value: Some(v), .. }) => v
                    .get("id")
                    .map(|id| vec![Item::element(id, "id")])
                    .unwrap_or_default(),
                _ => Vec::new(),
            }),
            PathKind::ReferenceKey { prefix, ty, first } => {
                let refs = match prefix {
                    Some(p) => p.evaluate(focus, resource, env)?,
                    None => vec![focus.clone()],
                };
                let mut out = Vec::new();
                for r in refs {
                    if let Item::Element(Element { value: Some(v), .. }) = r {
                        if let Some(s) = v.get("reference").and_then(Value::as_str) {
                            if let Some((t, id)) = reference_parts(s) {
                                if ty.as_deref().is_none_or(|want| want == t) {
                                    out.push(Item::String(fhirpath::Str::Borrowed(id)));
                                    if *first {
                                        break;
                                    }
                                }
                            }
                        }
                    }
                }
                Ok(out)
            }
        }
    }
}

/// One step of a [`PathKind::Members`] chain.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// A JSON key (for a choice element, the typed key such as `valueQuantity`) and its FHIR type.
    Key(String, &'static str),
    /// `first()`.
    First,
    /// `extension('url')` on an element of a complex type.
    Extension(String),
}

/// The steps of a plain member chain (`code.coding.first().code`,
/// `value.ofType(Quantity).value`), when every member resolves to a known
/// element from a focus of known type.
fn member_chain(src: &str, focus: &TypeHint) -> Option<Vec<Step>> {
    let defs: &'static fhir::definitions::Definitions = fhir::definitions::r4();
    let toks: Vec<Tok> = scan(src).into_iter().filter(|t| t.kind != TokKind::Space).collect();
    let mut owner: &'static str = defs.type_def(focus.ty.as_deref()?)?.name.as_str();
    let mut steps = Vec::new();
    let mut i = 0;
    let text = |j: usize| toks.get(j).map(|t| t.text.as_str());
    while i < toks.len() {
        if i > 0 {
            if text(i) != Some(".") {
                return None;
            }
            i += 1;
        }
        let t = toks.get(i)?;
        if t.kind != TokKind::Ident || t.text.starts_with('`') {
            return None;
        }
        if matches!(t.text.as_str(), "true" | "false" | "and" | "or" | "xor" | "implies" | "div" | "mod" | "in" | "contains" | "is" | "as") {
            return None;
        }
        if text(i + 1) == Some("(") {
            if t.text == "first" && text(i + 2) == Some(")") {
                steps.push(Step::First);
                i += 3;
                continue;
            }
            // `extension('url')` on a complex element (a primitive keeps its
            // extensions in the `_name` sibling, which this walk does not see).
            let complex = owner.starts_with(|c: char| c.is_ascii_uppercase());
            if t.text == "extension" && complex && text(i + 3) == Some(")") {
                let arg = toks.get(i + 2)?;
                let url = arg.text.strip_prefix('\'')?.strip_suffix('\'')?;
                if arg.kind != TokKind::Str || url.contains(['\\', '\'']) {
                    return None;
                }
                defs.child(owner, "extension")?;
                steps.push(Step::Extension(url.to_string()));
                owner = "Extension";
                i += 4;
                continue;
            }
            return None;
        }
        if i == 0 && focus.is_resource && t.text == owner {
            i += 1;
            continue;
        }
        if let Some(child) = defs.child(owner, &t.text) {
            if child.element.is_choice() || child.type_name.is_empty() {
                return None;
            }
            owner = child.type_name;
            steps.push(Step::Key(t.text.clone(), child.type_name));
            i += 1;
            continue;
        }
        // A choice element must be narrowed right away: `value.ofType(Quantity)`.
        defs.element(&format!("{owner}.{}[x]", t.text))?;
        if text(i + 1) != Some(".") || text(i + 2) != Some("ofType") || text(i + 3) != Some("(") || text(i + 5) != Some(")") {
            return None;
        }
        let ty_name = text(i + 4)?.trim_start_matches("FHIR.");
        let mut c = ty_name.chars();
        let key = format!("{}{}{}", t.text, c.next()?.to_ascii_uppercase(), c.as_str());
        let child = defs.child(owner, &key)?;
        if child.type_name != ty_name {
            return None;
        }
        owner = child.type_name;
        steps.push(Step::Key(key, child.type_name));
        i += 6;
    }
    if steps.is_empty() {
        return None;
    }
    Some(steps)
}

/// Splits a reference (`Patient/1`, `http://x/fhir/Patient/1/_history/2`)
/// into its type and id; `None` for contained (`#x`), `urn:` and malformed references.
pub fn reference_parts(reference: &str) -> Option<(&str, &str)> {
    let r = match reference.find("/_history/") {
        Some(i) => &reference[..i],
        None => reference,
    };
    let (head, id) = r.rsplit_once('/')?;
    let ty = head.rsplit_once('/').map(|(_, t)| t).unwrap_or(head);
    if id.is_empty()
        || ty.is_empty()
        || !ty.starts_with(|c: char| c.is_ascii_uppercase())
        || !ty.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return None;
    }
    Some((ty, id))
}

/// Whether `src` is one invocation chain (`a.b(c)[0].d`) with no top-level
/// operator, so that `src.f()` applies `f` to all of it.
fn is_postfix_chain(src: &str) -> bool {
    let toks: Vec<Tok> = scan(src).into_iter().filter(|t| t.kind != TokKind::Space).collect();
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate() {
        match t.text.as_str() {
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            _ if depth > 0 => {}
            "." => {}
            _ if t.kind == TokKind::Punct => return false,
            "and" | "or" | "xor" | "implies" | "div" | "mod" | "in" | "contains" | "is" | "as"
                if t.kind == TokKind::Ident && i > 0 && toks[i - 1].text != "." =>
            {
                return false;
            }
            _ => {}
        }
    }
    depth == 0
}

/// `prefix.getReferenceKey(T)` → (`prefix`, `Some(T)`), when the call ends the expression.
fn split_trailing_refkey(s: &str) -> Option<(&str, Option<String>)> {
    let body = s.strip_suffix(')')?;
    let open = body.rfind("getReferenceKey(")?;
    let arg = body[open + "getReferenceKey(".len()..].trim();
    if !arg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '`') {
        return None;
    }
    let before = &s[..open];
    let prefix = if before.is_empty() {
        ""
    } else {
        before.strip_suffix('.')?
    };
    let ty = if arg.is_empty() { None } else { Some(arg.trim_matches('`').to_string()) };
    Some((prefix.trim(), ty))
}

/// Replaces the key functions anywhere in an expression by standard FHIRPath.
fn rewrite_key_functions(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let toks = scan(src);
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t.kind == TokKind::Ident && t.text == "getResourceKey" && toks.get(i + 1).is_some_and(|t| t.text == "(") && toks.get(i + 2).is_some_and(|t| t.text == ")") {
            out.push_str("id");
            i += 3;
            continue;
        }
        if t.kind == TokKind::Ident && t.text == "getReferenceKey" && toks.get(i + 1).is_some_and(|t| t.text == "(") {
            let (ty, skip) = match (toks.get(i + 2), toks.get(i + 3)) {
                (Some(a), _) if a.text == ")" => (None, 3),
                (Some(a), Some(b)) if a.kind == TokKind::Ident && b.text == ")" => (Some(a.text.trim_matches('`')), 4),
                _ => (None, 0),
            };
            if skip > 0 {
                let ty_re = ty.map(regex_escape).unwrap_or_else(|| "[A-Z][A-Za-z0-9]*".into());
                let re = format!("^(.*/)?({ty_re})/([^/]+)(/_history/[^/]+)?$");
                out.push_str(&format!("select(reference.where(matches('{re}')).replaceMatches('{re}', '$3'))"));
                i += skip;
                continue;
            }
        }
        out.push_str(&t.text);
        i += 1;
    }
    out
}

fn regex_escape(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).collect()
}

/// Substitutes constants and checks variables.
fn rewrite(src: &str, loc: &str, constants: &Constants) -> Result<String> {
    let mut out = String::with_capacity(src.len());
    for t in scan(src) {
        if t.kind == TokKind::Var {
            let name = t.text[1..].trim_matches('`');
            if let Some((_, lit)) = constants.iter().find(|(n, _)| n == name) {
                if lit.starts_with('-') {
                    out.push('(');
                    out.push_str(lit);
                    out.push(')');
                } else {
                    out.push_str(lit);
                }
                continue;
            }
            let builtin = BUILTIN_VARS.contains(&name) || name.starts_with("vs-") || name.starts_with("ext-");
            if !builtin {
                return Err(Error::invalid(loc, format!("`%{name}` is not a constant of this view (in `{src}`)")));
            }
        }
        out.push_str(&t.text);
    }
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokKind {
    Ident,
    Var,
    Str,
    Number,
    Punct,
    Space,
}

#[derive(Debug, Clone)]
struct Tok {
    kind: TokKind,
    text: String,
}

/// A lossless tokenizer: concatenating the tokens gives back the input.
/// It only needs to find identifiers, variables and literals; the `fhirpath`
/// crate does the real parsing.
fn scan(src: &str) -> Vec<Tok> {
    let chars: Vec<char> = src.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let n = chars.len();
    let take = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
    while i < n {
        let c = chars[i];
        let start = i;
        let kind = if c == '\'' || c == '`' || c == '"' {
            i += 1;
            while i < n && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i = (i + 1).min(n);
            if c == '`' { TokKind::Ident } else { TokKind::Str }
        } else if c == '%' {
            i += 1;
            if i < n && chars[i] == '`' {
                i += 1;
                while i < n && chars[i] != '`' {
                    i += 1;
                }
                i = (i + 1).min(n);
            } else {
                while i < n && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '-') {
                    i += 1;
                }
            }
            TokKind::Var
        } else if c.is_alphabetic() || c == '_' {
            while i < n && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            TokKind::Ident
        } else if c.is_ascii_digit() {
            while i < n && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            TokKind::Number
        } else if c == '@' {
            i += 1;
            while i < n && (chars[i].is_ascii_alphanumeric() || matches!(chars[i], '-' | ':' | '.' | '+' | 'T' | 'Z')) {
                i += 1;
            }
            TokKind::Str
        } else if c.is_whitespace() {
            while i < n && chars[i].is_whitespace() {
                i += 1;
            }
            TokKind::Space
        } else if c == '/' && i + 1 < n && chars[i + 1] == '/' {
            while i < n && chars[i] != '\n' {
                i += 1;
            }
            TokKind::Space
        } else if c == '/' && i + 1 < n && chars[i + 1] == '*' {
            i += 2;
            while i + 1 < n && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i = (i + 2).min(n);
            TokKind::Space
        } else {
            i += 1;
            TokKind::Punct
        };
        toks.push(Tok { kind, text: take(start, i) });
    }
    toks
}

/// Infers the FHIR type an expression yields from a focus of known type.
/// Returns `None` when the expression is not understood; `Some` with
/// `fhir_type: None` when it is understood but the type is open (a choice
/// element without `ofType`).
pub(crate) fn infer_type(src: &str, focus: &TypeHint) -> Option<Inferred> {
    let toks: Vec<Tok> = scan(src).into_iter().filter(|t| t.kind != TokKind::Space).collect();
    if toks.is_empty() {
        return None;
    }
    // Top-level operators decide the type of the whole expression.
    let mut depth = 0i32;
    let mut has_arith = false;
    for (i, t) in toks.iter().enumerate() {
        match t.text.as_str() {
            "(" | "[" => depth += 1,
            ")" | "]" => depth -= 1,
            _ if depth == 0 => {
                let boolean_op = matches!(t.text.as_str(), "=" | "~" | "<" | ">" | "!")
                    || (t.kind == TokKind::Ident
                        && matches!(t.text.as_str(), "and" | "or" | "xor" | "implies" | "in" | "contains" | "is")
                        && i > 0
                        && toks[i - 1].text != ".");
                if boolean_op {
                    return Some(Inferred { fhir_type: Some("boolean".into()) });
                }
                if matches!(t.text.as_str(), "+" | "-" | "*" | "/" | "|" | "&")
                    || (t.kind == TokKind::Ident && matches!(t.text.as_str(), "div" | "mod" | "as") && i > 0 && toks[i - 1].text != ".")
                {
                    has_arith = true;
                }
            }
            _ => {}
        }
    }
    if has_arith {
        return None;
    }
    // A chain of segments separated by top-level dots.
    let defs = fhir::definitions::r4();
    let mut ty: Option<String> = focus.ty.clone();
    let mut open_choice = false;
    let mut i = 0;
    let mut first = true;
    while i < toks.len() {
        let t = &toks[i];
        if !first {
            if t.text != "." {
                // An indexer such as `[0]` keeps the type.
                if t.text == "[" {
                    let mut d = 0;
                    while i < toks.len() {
                        match toks[i].text.as_str() {
                            "[" => d += 1,
                            "]" => {
                                d -= 1;
                                if d == 0 {
                                    break;
                                }
                            }
                            _ => {}
                        }
                        i += 1;
                    }
                    i += 1;
                    continue;
                }
                return None;
            }
            i += 1;
        }
        let t = toks.get(i)?;
        let call = toks.get(i + 1).is_some_and(|n| n.text == "(");
        match t.kind {
            TokKind::Str if first && toks.len() == 1 => {
                let ty = if t.text.starts_with('@') {
                    if t.text.starts_with("@T") { "time" } else if t.text.contains('T') { "dateTime" } else { "date" }
                } else {
                    "string"
                };
                return Some(Inferred { fhir_type: Some(ty.into()) });
            }
            TokKind::Number if first && toks.len() == 1 => {
                let ty = if t.text.contains('.') { "decimal" } else { "integer" };
                return Some(Inferred { fhir_type: Some(ty.into()) });
            }
            TokKind::Var if first => {
                ty = if t.text == "%rowIndex" { Some("integer".into()) } else { None };
                if t.text != "%rowIndex" {
                    return None;
                }
            }
            TokKind::Ident if call => {
                // Find the matching parenthesis and the first argument.
                let mut d = 0;
                let mut j = i + 1;
                let arg_start = i + 2;
                while j < toks.len() {
                    match toks[j].text.as_str() {
                        "(" => d += 1,
                        ")" => {
                            d -= 1;
                            if d == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let arg: String = toks.get(arg_start..j).unwrap_or(&[]).iter().map(|t| t.text.as_str()).collect();
                let name = t.text.as_str();
                let result: Option<Option<String>> = match name {
                    "first" | "last" | "single" | "tail" | "skip" | "take" | "where" | "distinct" | "trace"
                    | "lowBoundary" | "highBoundary" | "intersect" | "exclude" => Some(ty.clone()),
                    "ofType" | "as" => {
                        open_choice = false;
                        Some(Some(normalize_type_name(arg.trim_matches('`'))))
                    }
                    "exists" | "empty" | "not" | "all" | "allTrue" | "anyTrue" | "allFalse" | "anyFalse" | "hasValue"
                    | "matches" | "matchesFull" | "startsWith" | "endsWith" | "contains" | "is" | "isDistinct"
                    | "subsetOf" | "supersetOf" | "convertsToBoolean" | "convertsToInteger" | "convertsToDecimal"
                    | "convertsToString" | "convertsToDate" | "convertsToDateTime" | "convertsToTime"
                    | "convertsToQuantity" | "toBoolean" => Some(Some("boolean".into())),
                    "count" | "length" | "indexOf" | "toInteger" => Some(Some("integer".into())),
                    "join" | "toString" | "substring" | "upper" | "lower" | "replace" | "replaceMatches" | "trim"
                    | "getResourceKey" | "getReferenceKey" | "encode" | "decode" | "escape" | "unescape" => {
                        Some(Some("string".into()))
                    }
                    "toDecimal" => Some(Some("decimal".into())),
                    "toDate" => Some(Some("date".into())),
                    "toDateTime" => Some(Some("dateTime".into())),
                    "toTime" => Some(Some("time".into())),
                    "extension" => Some(Some("Extension".into())),
                    _ => None,
                };
                ty = result?;
                i = j + 1;
                first = false;
                continue;
            }
            TokKind::Ident => {
                let key = t.text.trim_matches('`');
                if first && focus.is_resource && ty.as_deref() == Some(key) {
                    // `Patient.name`: the leading type name selects the resource itself.
                } else if key == "true" || key == "false" {
                    ty = Some("boolean".into());
                } else {
                    if open_choice {
                        return None;
                    }
                    let owner = ty.as_deref()?;
                    if let Some(child) = defs.child(owner, key) {
                        ty = Some(child.type_name.to_string());
                    } else if defs.element(&format!("{owner}.{key}[x]")).is_some() {
                        ty = None;
                        open_choice = true;
                    } else if owner == "Extension" && key == "value" {
                        ty = None;
                        open_choice = true;
                    } else {
                        return None;
                    }
                }
            }
            _ => return None,
        }
        i += 1;
        first = false;
    }
    Some(Inferred { fhir_type: ty })
}

/// `FHIR.Quantity` → `Quantity`, `System.String` → `string`.
fn normalize_type_name(t: &str) -> String {
    let t = t.strip_prefix("FHIR.").unwrap_or(t);
    match t.strip_prefix("System.") {
        Some("String") => "string".into(),
        Some("Boolean") => "boolean".into(),
        Some("Integer") => "integer".into(),
        Some("Decimal") => "decimal".into(),
        Some("Date") => "date".into(),
        Some("DateTime") => "dateTime".into(),
        Some("Time") => "time".into(),
        Some(other) => other.to_string(),
        None => t.to_string(),
    }
}

/// Calls `each` with the key of the reference `item` when it is of type `ty` (any type when `None`).
fn reference_key<'n, 'a>(
    item: FastItem<'n, 'a>,
    ty: Option<&str>,
    each: &mut dyn FnMut(FastItem<'n, 'a>) -> Result<(), Fallback>,
) -> Result<(), Fallback> {
    if let FastItem::Node(n, _) = item
        && let Some((t, id)) = n.get("reference").and_then(Node::as_str).and_then(reference_parts)
        && ty.is_none_or(|want| want == t)
    {
        return each(FastItem::Str(id));
    }
    Ok(())
}

/// Walks a member chain without `first()` depth first, which yields the
/// items in the order of the level-by-level walk of [`CompiledPath::evaluate_node`].
fn walk_members<'n, 'a>(
    steps: &[Step],
    node: &'n Node<'a>,
    ty: &'static str,
    each: &mut dyn FnMut(FastItem<'n, 'a>) -> Result<(), Fallback>,
) -> Result<(), Fallback> {
    let Some((step, rest)) = steps.split_first() else { return each(FastItem::Node(node, ty)) };
    let (key, url, ty) = match step {
        Step::Key(key, t) => (key.as_str(), None, *t),
        Step::Extension(url) => ("extension", Some(url.as_str()), "Extension"),
        Step::First => return Err(Fallback),
    };
    let keep = |x: &Node<'a>| url.is_none_or(|u| x.get("url").and_then(Node::as_str) == Some(u));
    match node.get(key) {
        Some(Node::Arr(a)) => {
            for x in a.iter() {
                if !matches!(x, Node::Null) && keep(x) {
                    walk_members(rest, x, ty, each)?;
                }
            }
        }
        Some(Node::Null) | None => {}
        Some(x) => {
            if keep(x) {
                walk_members(rest, x, ty, each)?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(src: &str, focus: &str) -> Option<String> {
        infer_type(src, &TypeHint::resource(focus)).and_then(|t| t.fhir_type)
    }

    #[test]
    fn infers_types_from_r4_definitions() {
        assert_eq!(ty("name.family", "Patient").as_deref(), Some("string"));
        assert_eq!(ty("Patient.birthDate", "Patient").as_deref(), Some("date"));
        assert_eq!(ty("active", "Patient").as_deref(), Some("boolean"));
        assert_eq!(ty("name.where(use = 'official').given.first()", "Patient").as_deref(), Some("string"));
        assert_eq!(ty("value.ofType(Quantity).value", "Observation").as_deref(), Some("decimal"));
        assert_eq!(ty("value", "Observation"), None);
        assert_eq!(ty("name.exists() and active", "Patient").as_deref(), Some("boolean"));
        assert_eq!(ty("contact.telecom.system", "Patient").as_deref(), Some("code"));
        assert_eq!(ty("count()", "Patient").as_deref(), Some("integer"));
        assert_eq!(ty("%rowIndex", "Patient").as_deref(), Some("integer"));
        assert_eq!(ty("multipleBirth.ofType(integer) + 1", "Patient"), None);
    }

    #[test]
    fn member_chains_resolve_only_known_elements() {
        let pt = TypeHint::resource("Patient");
        let steps = member_chain("name.family", &pt).expect("plain chain");
        assert_eq!(steps, vec![Step::Key("name".into(), "HumanName"), Step::Key("family".into(), "string")]);
        assert!(member_chain("Patient.name", &pt).is_some());
        let obs = TypeHint::resource("Observation");
        assert!(member_chain("value", &obs).is_none(), "choice element without ofType");
        assert_eq!(
            member_chain("value.ofType(Quantity).value", &obs),
            Some(vec![Step::Key("valueQuantity".into(), "Quantity"), Step::Key("value".into(), "decimal")])
        );
        assert_eq!(member_chain("effective.ofType(dateTime)", &obs), Some(vec![Step::Key("effectiveDateTime".into(), "dateTime")]));
        assert!(member_chain("value.ofType(Money)", &obs).is_none(), "not a type of value[x]");
        assert_eq!(member_chain("name.first()", &pt), Some(vec![Step::Key("name".into(), "HumanName"), Step::First]));
        assert!(member_chain("name.last()", &pt).is_none());
        assert!(member_chain("nmae", &pt).is_none());
        assert!(member_chain("name", &TypeHint::default()).is_none());
    }

    #[test]
    fn reference_parts_handles_relative_absolute_and_versioned() {
        assert_eq!(reference_parts("Patient/p1"), Some(("Patient", "p1")));
        assert_eq!(reference_parts("http://example.org/fhir/Patient/p1/_history/3"), Some(("Patient", "p1")));
        assert_eq!(reference_parts("#contained"), None);
        assert_eq!(reference_parts("urn:uuid:1234"), None);
        assert_eq!(reference_parts("Patient/"), None);
    }

    #[test]
    fn constants_are_substituted_outside_strings_only() {
        let consts: Constants = vec![("use".into(), "'official'".into()), ("n".into(), "-1".into())];
        assert_eq!(rewrite("name.where(use = %use and '%use' != %n)", "x", &consts).ok().as_deref(), Some("name.where(use = 'official' and '%use' != (-1))"));
        assert!(rewrite("name.where(use = %other)", "x", &consts).is_err());
        assert!(rewrite("%resource.id = %rowIndex.toString()", "x", &consts).is_ok());
    }

    #[test]
    fn key_functions_rewrite_mid_expression() {
        let r = rewrite_key_functions("getResourceKey() = link.other.getReferenceKey(Patient)");
        assert!(r.starts_with("id = link.other.select(reference.where(matches("), "{r}");
        assert_eq!(split_trailing_refkey("subject.getReferenceKey(Patient)"), Some(("subject", Some("Patient".into()))));
        assert_eq!(split_trailing_refkey("getReferenceKey()"), Some(("", None)));
        assert!(is_postfix_chain("link.where(type = 'seealso').other"));
        assert!(!is_postfix_chain("a | link.other"));
        assert!(!is_postfix_chain("x or link.other"));
    }

    #[test]
    fn reference_key_then_first_is_a_fast_path_with_the_engines_answer() {
        let enc = serde_json::json!({
            "resourceType": "Encounter", "id": "e1",
            "diagnosis": [
                {"condition": {"reference": "Procedure/x"}, "rank": 1},
                {"condition": {"reference": "Condition/c2"}, "rank": 2},
                {"condition": {"reference": "http://h/fhir/Condition/c1/_history/2"}, "rank": 1},
                {"condition": {"reference": "Condition/c3"}, "rank": 1}
            ]
        });
        let env = Env::new();
        let focus = Item::element(&enc, "Encounter");
        let hint = TypeHint::resource("Encounter");
        for (src, want) in [
            ("diagnosis.where(rank = 1).condition.getReferenceKey(Condition).first()", vec!["c1"]),
            ("diagnosis.condition.getReferenceKey(Condition).first()", vec!["c2"]),
            ("diagnosis.condition.getReferenceKey().first()", vec!["x"]),
            ("diagnosis.where(rank = 3).condition.getReferenceKey(Condition).first()", vec![]),
        ] {
            let fast = CompiledPath::compile(src, "t", &Vec::new(), &hint).expect("compiles");
            assert!(matches!(fast.kind, PathKind::ReferenceKey { first: true, .. }), "{src} takes the fast path");
            let got: Vec<String> = fast.evaluate(&focus, &enc, &env).expect("runs").iter().map(|i| i.to_json().as_str().unwrap_or("").to_string()).collect();
            let engine = Expr::compile(&rewrite_key_functions(src)).expect("engine form");
            let slow: Vec<String> = engine.evaluate_on(&focus, &enc, &env).expect("runs").iter().map(|i| i.to_json().as_str().unwrap_or("").to_string()).collect();
            assert_eq!(got, want, "{src}");
            assert_eq!(got, slow, "{src}: fast path and engine agree");
        }
    }
}

/// What a path may read: the member names it mentions, whether it may yield
/// (or walk) its focus as a whole, and whether it reaches the whole resource
/// through `%resource`, `%rootResource` or `%context`. Used to parse only the
/// top-level elements a view needs; every answer errs on the side of reading more.
#[derive(Debug, Default)]
pub(crate) struct Reads {
    pub(crate) names: Vec<String>,
    pub(crate) whole_focus: bool,
    pub(crate) whole_resource: bool,
}

/// Functions that, called on the focus itself, can return the focus (or walk all of it).
const FOCUS_FUNCTIONS: &[&str] = &[
    "where", "ofType", "as", "first", "last", "tail", "skip", "take", "single", "distinct", "union", "combine",
    "intersect", "exclude", "trace", "aggregate", "descendants", "children", "repeat", "subsetOf", "supersetOf",
];

pub(crate) fn reads(src: &str, resource_type: &str) -> Reads {
    let toks: Vec<Tok> = scan(src).into_iter().filter(|t| t.kind != TokKind::Space).collect();
    let text = |j: Option<usize>| j.and_then(|j| toks.get(j)).map(|t| t.text.as_str());
    let mut r = Reads::default();
    for (i, t) in toks.iter().enumerate() {
        let prev = text(i.checked_sub(1));
        let next = text(Some(i + 1));
        match t.kind {
            TokKind::Ident => {
                let name = t.text.trim_matches('`');
                if prev == Some("$") {
                    if name == "this" && next != Some(".") {
                        r.whole_focus = true;
                    }
                    continue;
                }
                if matches!(name, "descendants" | "children") {
                    // Walks everything below the focus, whatever the focus is.
                    r.whole_resource = true;
                }
                let after_dot = prev == Some(".");
                if !after_dot && next == Some("(") && FOCUS_FUNCTIONS.contains(&name) {
                    r.whole_focus = true;
                }
                let type_argument =
                    prev == Some("(") && matches!(text(i.checked_sub(2)), Some("ofType" | "as" | "is" | "getReferenceKey"));
                if !after_dot && !type_argument && name == resource_type && next != Some(".") {
                    r.whole_focus = true;
                }
                r.names.push(name.to_string());
            }
            TokKind::Var => {
                let v = t.text[1..].trim_matches('`');
                if matches!(v, "resource" | "rootResource" | "context") && next != Some(".") {
                    r.whole_resource = true;
                }
            }
            _ => {}
        }
    }
    r
}


/// A value in the fast evaluation over [`Node`]s: an element with its FHIR
/// type, or a computed string (a reference key).
#[derive(Debug, Clone, Copy)]
pub(crate) enum FastItem<'n, 'a> {
    Node(&'n Node<'a>, &'static str),
    Str(&'n str),
}

impl CompiledPath {
    /// The FHIR type this path yields when it can run on [`Node`]s (a member
    /// chain, `$this`, a key function); `None` when it needs the FHIRPath
    /// engine or its type is unknown. `focus` is the type of the focus.
    pub(crate) fn fast_type(&self, focus: &'static str) -> Option<&'static str> {
        match &self.kind {
            PathKind::Fhirpath(_) => None,
            PathKind::This => (!focus.is_empty()).then_some(focus),
            PathKind::ResourceKey => Some("id"),
            PathKind::ReferenceKey { prefix, .. } => match prefix {
                None => Some("string"),
                Some(p) => p.fast_type(focus).map(|_| "string"),
            },
            PathKind::Members(steps) => {
                let mut ty = "";
                for s in steps {
                    match s {
                        Step::First => {}
                        Step::Extension(_) => ty = "Extension",
                        Step::Key(_, t) => ty = t,
                    }
                }
                (!ty.is_empty()).then_some(ty)
            }
        }
    }

    /// Marks in `tree` (the keys read below the focus) the keys this fast
    /// path reads, and returns the node of its result, so that a caller can
    /// mark the result whole (a column) or walk on from it (a `forEach`).
    /// A path that needs the FHIRPath engine marks its focus whole.
    pub(crate) fn mark_keys<'t>(&self, tree: &'t mut KeyTree) -> &'t mut KeyTree {
        match &self.kind {
            PathKind::Fhirpath(_) => {
                tree.all = true;
                tree
            }
            PathKind::This => tree,
            PathKind::ResourceKey => tree.child("id"),
            PathKind::ReferenceKey { prefix, .. } => {
                let node = match prefix {
                    Some(p) => p.mark_keys(tree),
                    None => tree,
                };
                node.child("reference")
            }
            PathKind::Members(steps) => {
                let mut cur = tree;
                for step in steps {
                    match step {
                        Step::Key(key, _) => cur = cur.child(key),
                        Step::First => {}
                        Step::Extension(_) => {
                            cur = cur.child("extension");
                            cur.child("url").all = true;
                        }
                    }
                }
                cur
            }
        }
    }

    /// Calls `each` with every item of a fast path on `focus`, in order
    /// (what [`CompiledPath::evaluate_node`] yields, without collecting it);
    /// `Fallback` for a path that needs the FHIRPath engine or when `each` gives up.
    pub(crate) fn visit_nodes<'n, 'a>(
        &self,
        focus: FastItem<'n, 'a>,
        each: &mut dyn FnMut(FastItem<'n, 'a>) -> Result<(), Fallback>,
    ) -> Result<(), Fallback> {
        match &self.kind {
            PathKind::Members(steps) if !steps.iter().any(|s| matches!(s, Step::First)) => {
                if let FastItem::Node(root, _) = focus {
                    walk_members(steps, root, "", each)?;
                }
                Ok(())
            }
            PathKind::This => each(focus),
            PathKind::ResourceKey => match focus {
                FastItem::Node(n, _) => n.get("id").map_or(Ok(()), |id| each(FastItem::Node(id, "id"))),
                FastItem::Str(_) => Ok(()),
            },
            // A reference key on the focus itself (at most one), or on each item of a prefix.
            PathKind::ReferenceKey { prefix: None, ty, first: _ } => reference_key(focus, ty.as_deref(), each),
            PathKind::ReferenceKey { prefix: Some(p), ty, first: false } => {
                p.visit_nodes(focus, &mut |r| reference_key(r, ty.as_deref(), each))
            }
            _ => {
                for item in self.evaluate_node(focus).ok_or(Fallback)? {
                    each(item)?;
                }
                Ok(())
            }
        }
    }

    /// Evaluates a fast path (see [`CompiledPath::fast_type`]) on a node;
    /// `None` for a path that needs the FHIRPath engine.
    pub(crate) fn evaluate_node<'n, 'a>(&self, focus: FastItem<'n, 'a>) -> Option<Vec<FastItem<'n, 'a>>> {
        match &self.kind {
            PathKind::Fhirpath(_) => None,
            PathKind::This => Some(vec![focus]),
            PathKind::ResourceKey => Some(match focus {
                FastItem::Node(n, _) => n.get("id").map(|id| vec![FastItem::Node(id, "id")]).unwrap_or_default(),
                FastItem::Str(_) => Vec::new(),
            }),
            PathKind::ReferenceKey { prefix, ty, first } => {
                let refs = match prefix {
                    Some(p) => p.evaluate_node(focus)?,
                    None => vec![focus],
                };
                let mut out = Vec::new();
                for r in refs {
                    if let FastItem::Node(n, _) = r {
                        if let Some((t, id)) = n.get("reference").and_then(Node::as_str).and_then(reference_parts) {
                            if ty.as_deref().is_none_or(|want| want == t) {
                                out.push(FastItem::Str(id));
                                if *first {
                                    break;
                                }
                            }
                        }
                    }
                }
                Some(out)
            }
            PathKind::Members(steps) => {
                let FastItem::Node(root, _) = focus else { return Some(Vec::new()) };
                let mut cur: Vec<&'n Node<'a>> = vec![root];
                let mut ty = "";
                for step in steps {
                    let (key, url) = match step {
                        Step::First => {
                            cur.truncate(1);
                            continue;
                        }
                        Step::Key(key, t) => {
                            ty = t;
                            (key.as_str(), None)
                        }
                        Step::Extension(url) => {
                            ty = "Extension";
                            ("extension", Some(url.as_str()))
                        }
                    };
                    let keep = |x: &&'n Node<'a>| url.is_none_or(|u| x.get("url").and_then(Node::as_str) == Some(u));
                    let mut next = Vec::with_capacity(cur.len());
                    for v in cur {
                        match v.get(key) {
                            Some(Node::Arr(a)) => next.extend(a.iter().filter(|x| !matches!(x, Node::Null)).filter(keep)),
                            Some(Node::Null) | None => {}
                            Some(x) => next.extend(std::iter::once(x).filter(keep)),
                        }
                    }
                    cur = next;
                }
                Some(cur.into_iter().map(|v| FastItem::Node(v, ty)).collect())
            }
        }
    }
}

