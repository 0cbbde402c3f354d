//! FHIRPath 2.0 (N1) for FHIR R4: compile an expression once into an
//! [`Expr`], then evaluate it many times over FHIR JSON resources
//! (`serde_json::Value`), without converting them into generated structs.
//!
//! ```
//! use serde_json::json;
//! let patient = json!({
//!     "resourceType": "Patient",
//!     "name": [{"use": "official", "family": "Yamada", "given": ["Taro"]}],
//!     "birthDate": "1980-04-01"
//! });
//! let expr = fhirpath::Expr::compile("Patient.name.where(use = 'official').family").unwrap();
//! let env = fhirpath::Env::new();
//! let out = expr.evaluate(&patient, &env).unwrap();
//! assert_eq!(out.len(), 1);
//! assert_eq!(out[0].to_json(), json!("Yamada"));
//!
//! // Results render as FHIR JSON: dates as strings, quantities as objects.
//! let json = fhirpath::evaluate_to_json("birthDate + 1 year", &patient, &env).unwrap();
//! assert_eq!(json, vec![json!("1981-04-01")]);
//! ```
//!
//! Items of a result [`Collection`] borrow from the resource: an
//! [`Item::Element`] is a JSON node with its FHIR type name (tracked from the
//! official R4 StructureDefinitions via `fhir::definitions::r4()`), other
//! items are computed System values (decimals are exact, via `rust_decimal`).
//!
//! Semantics worth knowing:
//! - choice elements navigate both ways: `Observation.value.ofType(Quantity)`
//!   and the JSON key `Observation.valueQuantity`;
//! - primitives keep their `_x` sibling: `birthDate.extension(url)`,
//!   `hasValue()`;
//! - `resolve()` finds contained resources (`#id`), Bundle entries (by
//!   `fullUrl` or `Type/id`) and then asks the [`Resolver`] in the [`Env`]; a
//!   `Type/id` reference that none of them knows resolves to a content-less
//!   element of that type, so `subject.where(resolve() is Patient)` works when
//!   a resource is indexed on its own;
//! - `now()`, `today()` and `timeOfDay()` are UTC unless [`Env::with_now`]
//!   fixes them (e.g. to Japan time);
//! - `conformsTo()` knows only the core base definitions
//!   (`http://hl7.org/fhir/StructureDefinition/<Type>`); `memberOf()`,
//!   `subsumes()` and `subsumedBy()` need a terminology service and return
//!   [`Error::Unsupported`].
//!
//! [`Expr::evaluate_on`] evaluates with a typed focus item (composite search
//! parameter components, SQL-on-FHIR `forEach`).
//!
//! The crate does no I/O.

#![warn(missing_docs)]

mod eval;
mod funcs;
mod functions;
mod lexer;
mod model;
mod parser;
mod ucum;
mod value;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

pub use value::{Collection, DateTimeVal, Element, Item, Kind, Precision, Str};

/// Errors from compiling or evaluating an expression.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The expression text is not valid FHIRPath.
    #[error("syntax error at line {line}, column {column}: {message}")]
    Syntax {
        /// Byte offset in the expression.
        offset: usize,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What went wrong.
        message: String,
    },
    /// The expression is well-formed but meaningless (unknown function, wrong
    /// argument count, an element that does not exist on a type).
    #[error("invalid expression at offset {offset}: {message}")]
    Semantic {
        /// Byte offset in the expression (0 when found during evaluation).
        offset: usize,
        /// What went wrong.
        message: String,
    },
    /// An operator or function was applied to values of the wrong type
    /// (e.g. `'a' + 1`).
    #[error("type error: {message}")]
    Type {
        /// What went wrong.
        message: String,
    },
    /// Evaluation failed (e.g. `single()` on several items, a collection
    /// where one value was needed).
    #[error("evaluation error: {message}")]
    Execution {
        /// What went wrong.
        message: String,
    },
    /// `%name` is neither a built-in nor a variable set in the [`Env`].
    #[error("undefined variable %{name}")]
    UndefinedVariable {
        /// The variable name.
        name: String,
    },
    /// A function this engine does not implement.
    #[error("function {function}() is not supported by this engine")]
    Unsupported {
        /// The function name.
        function: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Resolves references for `resolve()` beyond the resource itself (contained
/// resources and Bundle entries are resolved without it).
pub trait Resolver: Send + Sync {
    /// Returns the resource a reference such as `Patient/123` points to.
    fn resolve(&self, reference: &str) -> Option<&Value>;
}

/// The evaluation environment: user variables (`%name`), an optional
/// reference resolver, and an optional fixed "now".
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, Value>,
    resolver: Option<Arc<dyn Resolver>>,
    now: Option<DateTimeVal>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Env").field("vars", &self.vars).field("resolver", &self.resolver.is_some()).finish()
    }
}

impl Env {
    /// An empty environment.
    pub fn new() -> Env {
        Env::default()
    }

    /// Sets `%name` to a JSON value (an array becomes a collection).
    pub fn set(&mut self, name: impl Into<String>, value: Value) -> &mut Env {
        self.vars.insert(name.into(), value);
        self
    }

    /// Builder form of [`Env::set`].
    pub fn with(mut self, name: impl Into<String>, value: Value) -> Env {
        self.set(name, value);
        self
    }

    /// Sets the resolver used by `resolve()`.
    pub fn with_resolver(mut self, resolver: Arc<dyn Resolver>) -> Env {
        self.resolver = Some(resolver);
        self
    }

    /// Fixes the value of `now()`, `today()` and `timeOfDay()` (UTC by default
    /// they read the system clock).
    pub fn with_now(mut self, now: DateTimeVal) -> Env {
        self.now = Some(now);
        self
    }
}

/// A compiled FHIRPath expression. Cheap to share across threads.
#[derive(Debug, Clone)]
pub struct Expr {
    root: parser::Node,
    source: Arc<str>,
}

pub(crate) fn system_now() -> DateTimeVal {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    DateTimeVal::from_unix_millis(ms)
}

impl Expr {
    /// Parses and compiles `src`. Syntax errors carry the position.
    pub fn compile(src: &str) -> Result<Expr> {
        Ok(Expr { root: parser::parse(src)?, source: Arc::from(src) })
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates against `resource` (also `%resource` and `%context`).
    pub fn evaluate<'a>(&'a self, resource: &'a Value, env: &'a Env) -> Result<Collection<'a>> {
        let model = model::model();
        let root = Item::element(resource, eval::infer_type(model, resource));
        let ctx = eval::Ctx {
            env,
            model,
            resource: root.clone(),
            context: root.clone(),
            root: resource,
            now: std::cell::Cell::new(env.now),
        };
        let focus = [root];
        ctx.eval(&self.root, &focus, eval::Frame { this: Some(&focus[0]), index: None, total: None })
    }

    /// Evaluates with `focus` as the context item (e.g. one value a composite
    /// search parameter or a SQL-on-FHIR `forEach` yielded), keeping its FHIR
    /// type, while `%resource` is `resource` (`%context` is the focus).
    pub fn evaluate_on<'a>(&'a self, focus: &Item<'a>, resource: &'a Value, env: &'a Env) -> Result<Collection<'a>> {
        let model = model::model();
        let root = Item::element(resource, eval::infer_type(model, resource));
        let ctx = eval::Ctx {
            env,
            model,
            resource: root,
            context: focus.clone(),
            root: resource,
            now: std::cell::Cell::new(env.now),
        };
        let focus = [focus.clone()];
        ctx.eval(&self.root, &focus, eval::Frame { this: Some(&focus[0]), index: None, total: None })
    }

    /// Evaluates as a boolean (singleton evaluation): empty → `None`.
    pub fn evaluate_bool(&self, resource: &Value, env: &Env) -> Result<Option<bool>> {
        eval::to_bool(&self.evaluate(resource, env)?)
    }
}

/// Compiles and evaluates `expr`, rendering the result as FHIR JSON values
/// (what `medtwin fhirpath EXPR FILE` prints as a JSON array).
pub fn evaluate_to_json(expr: &str, resource: &Value, env: &Env) -> Result<Vec<Value>> {
    let e = Expr::compile(expr)?;
    Ok(e.evaluate(resource, env)?.iter().map(Item::to_json).collect())
}

#[cfg(test)]
mod tests;
