//! The FHIRPath parser: precedence climbing over the token stream into the
//! compiled AST ([`Node`]), with function names resolved to [`Func`] and
//! argument counts checked at compile time.

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::functions::Func;
use crate::lexer::{Tok, Token, lex, syntax};
use crate::value::{DateTimeVal, Kind};
use crate::{Error, Result};

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    Mul,
    Div,
    IntDiv,
    Mod,
    Add,
    Sub,
    Concat,
    Union,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
    Equiv,
    NotEquiv,
    In,
    Contains,
    And,
    Or,
    Xor,
    Implies,
}

/// A member name as compiled: its number in the model, and an inline cache of
/// the element it resolved to for the last parent type (most member
/// expressions only ever see one parent type, e.g. `.given` on `HumanName`).
#[derive(Debug, Clone, Default)]
pub(crate) struct MemberKey {
    pub(crate) id: usize,
    pub(crate) cache: std::sync::OnceLock<(usize, usize, &'static crate::model::Child)>,
}

/// A type specifier such as `FHIR.Patient`, `System.String` or `Quantity`.
#[derive(Debug, Clone)]
pub(crate) struct TypeSpec {
    /// `Some("FHIR")`, `Some("System")` or `None` when unqualified.
    pub(crate) namespace: Option<String>,
    pub(crate) name: String,
}

/// A compiled expression node.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Empty,
    Bool(bool),
    Int(i64),
    Dec(Decimal),
    Str(Arc<str>),
    Temporal(Kind, DateTimeVal),
    Quantity(Decimal, Arc<str>),
    /// Member navigation `base.name` (base `None`: from the focus).
    /// A leading identifier naming a FHIR type (`Patient.name`) is a type
    /// filter instead: `type_filter` holds the canonical type name and
    /// whether other types specialise it.
    /// `name_id` numbers the name in the model (0: unknown) for the fast path.
    Member {
        base: Option<Box<Node>>,
        name: Box<str>,
        ext_key: Box<str>,
        type_filter: Option<(&'static str, bool)>,
        name_id: MemberKey,
    },
    /// A function call `base.f(args)` (base `None`: on the focus).
    Call { base: Option<Box<Node>>, func: Func, args: Vec<Node>, pos: usize },
    This,
    Index,
    Total,
    Var(Box<str>),
    Indexer(Box<Node>, Box<Node>),
    Neg(Box<Node>),
    Binary(BinOp, Box<Node>, Box<Node>),
    /// `a | b | c ...` flattened: evaluated into one de-duplicated collection.
    Union(Vec<Node>),
    Is(Box<Node>, TypeSpec),
    As(Box<Node>, TypeSpec),
}

struct Parser<'s> {
    src: &'s str,
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

/// Parses and compiles `src`.
pub(crate) fn parse(src: &str) -> Result<Node> {
    let toks = lex(src)?;
    let mut p = Parser { src, toks, i: 0, depth: 0 };
    if matches!(p.peek(), Tok::Eof) {
        return Err(syntax(src, 0, "empty expression"));
    }
    let n = p.expr(0)?;
    if !matches!(p.peek(), Tok::Eof) {
        return Err(syntax(src, p.pos(), format!("unexpected {}", describe(p.peek()))));
    }
    Ok(n)
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s, _) => format!("identifier '{s}'"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Number(s) => format!("number {s}"),
        Tok::DateTime(s) => format!("date/time @{s}"),
        Tok::Var(s) => format!("variable %{s}"),
        Tok::Special(s) => format!("${s}"),
        Tok::Op(o) => format!("'{o}'"),
        Tok::Eof => "end of expression".into(),
    }
}

/// Binding power of an infix operator token (higher binds tighter).
fn infix(t: &Tok) -> Option<(u8, Option<BinOp>)> {
    Some(match t {
        Tok::Op("*") => (10, Some(BinOp::Mul)),
        Tok::Op("/") => (10, Some(BinOp::Div)),
        Tok::Ident(s, false) if s == "div" => (10, Some(BinOp::IntDiv)),
        Tok::Ident(s, false) if s == "mod" => (10, Some(BinOp::Mod)),
        Tok::Op("+") => (9, Some(BinOp::Add)),
        Tok::Op("-") => (9, Some(BinOp::Sub)),
        Tok::Op("&") => (9, Some(BinOp::Concat)),
        Tok::Ident(s, false) if s == "is" || s == "as" => (8, None),
        Tok::Op("|") => (7, Some(BinOp::Union)),
        Tok::Op("<") => (6, Some(BinOp::Lt)),
        Tok::Op(">") => (6, Some(BinOp::Gt)),
        Tok::Op("<=") => (6, Some(BinOp::Le)),
        Tok::Op(">=") => (6, Some(BinOp::Ge)),
        Tok::Op("=") => (5, Some(BinOp::Eq)),
        Tok::Op("!=") => (5, Some(BinOp::Ne)),
        Tok::Op("~") => (5, Some(BinOp::Equiv)),
        Tok::Op("!~") => (5, Some(BinOp::NotEquiv)),
        Tok::Ident(s, false) if s == "in" => (4, Some(BinOp::In)),
        Tok::Ident(s, false) if s == "contains" => (4, Some(BinOp::Contains)),
        Tok::Ident(s, false) if s == "and" => (3, Some(BinOp::And)),
        Tok::Ident(s, false) if s == "or" => (2, Some(BinOp::Or)),
        Tok::Ident(s, false) if s == "xor" => (2, Some(BinOp::Xor)),
        Tok::Ident(s, false) if s == "implies" => (1, Some(BinOp::Implies)),
        _ => return None,
    })
}

/// Bound on nesting (parentheses, operators, path steps) so that neither the
/// parser, the evaluator nor dropping the tree can exhaust the stack.
const MAX_DEPTH: usize = 128;

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].tok
    }
    fn pos(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].pos
    }
    fn bump(&mut self) -> Token {
        let t = self.toks[self.i.min(self.toks.len() - 1)].clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }
    fn expect_op(&mut self, op: &str) -> Result<()> {
        if matches!(self.peek(), Tok::Op(o) if *o == op) {
            self.bump();
            Ok(())
        } else {
            Err(syntax(self.src, self.pos(), format!("expected '{op}', found {}", describe(self.peek()))))
        }
    }

    /// Counts one level of nesting.
    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(syntax(self.src, self.pos(), "expression nested too deeply"));
        }
        Ok(())
    }

    fn expr(&mut self, min_bp: u8) -> Result<Node> {
        let start = self.depth;
        let r = self.expr_inner(min_bp);
        self.depth = start;
        r
    }

    fn expr_inner(&mut self, min_bp: u8) -> Result<Node> {
        self.enter()?;
        let mut lhs = self.unary()?;
        while let Some((bp, op)) = infix(self.peek()) {
            if bp < min_bp {
                break;
            }
            // Each operator nests the tree one level deeper (unions excepted, they are flattened).
            if op != Some(BinOp::Union) {
                self.enter()?;
            }
            let tok = self.bump();
            match op {
                None => {
                    let ts = self.type_spec()?;
                    check_type(&ts, tok.pos)?;
                    lhs = match &tok.tok {
                        Tok::Ident(s, _) if s == "is" => Node::Is(Box::new(lhs), ts),
                        _ => Node::As(Box::new(lhs), ts),
                    };
                }
                Some(op) => {
                    // `implies` is right-associative, everything else left.
                    let next = if op == BinOp::Implies { bp } else { bp + 1 };
                    let rhs = self.expr(next)?;
                    lhs = match (op, lhs) {
                        (BinOp::Union, Node::Union(mut parts)) => {
                            parts.push(rhs);
                            Node::Union(parts)
                        }
                        (BinOp::Union, l) => Node::Union(vec![l, rhs]),
                        (op, l) => Node::Binary(op, Box::new(l), Box::new(rhs)),
                    };
                }
            }
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Node> {
        match self.peek() {
            Tok::Op("-") => {
                self.bump();
                self.enter()?;
                let inner = self.unary()?;
                Ok(match inner {
                    Node::Int(i) => Node::Int(-i),
                    Node::Dec(d) => Node::Dec(-d),
                    Node::Quantity(d, u) => Node::Quantity(-d, u),
                    other => Node::Neg(Box::new(other)),
                })
            }
            Tok::Op("+") => {
                self.bump();
                self.enter()?;
                self.unary()
            }
            _ => self.postfix(),
        }
    }

    fn postfix(&mut self) -> Result<Node> {
        let mut n = self.term()?;
        loop {
            if matches!(self.peek(), Tok::Op("." | "[")) {
                self.enter()?;
            }
            match self.peek() {
                Tok::Op(".") => {
                    self.bump();
                    n = self.invocation(Some(Box::new(n)))?;
                }
                Tok::Op("[") => {
                    self.bump();
                    let idx = self.expr(0)?;
                    self.expect_op("]")?;
                    n = Node::Indexer(Box::new(n), Box::new(idx));
                }
                _ => return Ok(n),
            }
        }
    }

    fn type_spec(&mut self) -> Result<TypeSpec> {
        let t = self.bump();
        let Tok::Ident(first, _) = t.tok else {
            return Err(syntax(self.src, t.pos, format!("expected a type name, found {}", describe(&t.tok))));
        };
        if matches!(self.peek(), Tok::Op(".")) && matches!(self.toks.get(self.i + 1).map(|t| &t.tok), Some(Tok::Ident(..)))
        {
            self.bump();
            let Tok::Ident(second, _) = self.bump().tok else { unreachable_ident() };
            return Ok(TypeSpec { namespace: Some(first), name: second });
        }
        Ok(TypeSpec { namespace: None, name: first })
    }

    fn term(&mut self) -> Result<Node> {
        let pos = self.pos();
        match self.peek().clone() {
            Tok::Number(s) => {
                self.bump();
                let num = if s.contains('.') {
                    Node::Dec(s.parse::<Decimal>().map_err(|_| syntax(self.src, pos, "decimal out of range"))?)
                } else {
                    match s.parse::<i64>() {
                        Ok(i) => Node::Int(i),
                        Err(_) => Node::Dec(s.parse::<Decimal>().map_err(|_| syntax(self.src, pos, "number out of range"))?),
                    }
                };
                // A quantity: number followed by a unit string or a calendar keyword.
                let unit = match self.peek() {
                    Tok::Str(u) => Some(u.clone()),
                    Tok::Ident(u, false) if crate::value::calendar_unit(u).is_some() => Some(u.clone()),
                    _ => None,
                };
                if let Some(u) = unit {
                    self.bump();
                    let v = match num {
                        Node::Int(i) => Decimal::from(i),
                        Node::Dec(d) => d,
                        _ => Decimal::ZERO,
                    };
                    return Ok(Node::Quantity(v, Arc::from(u.as_str())));
                }
                Ok(num)
            }
            Tok::Str(s) => {
                self.bump();
                Ok(Node::Str(Arc::from(s.as_str())))
            }
            Tok::DateTime(s) => {
                self.bump();
                let (kind, v) = crate::value::parse_literal(&s)
                    .ok_or_else(|| syntax(self.src, pos, format!("invalid date/time literal @{s}")))?;
                Ok(Node::Temporal(kind, v))
            }
            Tok::Var(name) => {
                self.bump();
                Ok(Node::Var(name.into_boxed_str()))
            }
            Tok::Special(s) => {
                self.bump();
                Ok(match s.as_str() {
                    "this" => Node::This,
                    "index" => Node::Index,
                    _ => Node::Total,
                })
            }
            Tok::Op("(") => {
                self.bump();
                let e = self.expr(0)?;
                self.expect_op(")")?;
                Ok(e)
            }
            Tok::Op("{") => {
                self.bump();
                self.expect_op("}")?;
                Ok(Node::Empty)
            }
            Tok::Ident(s, false) if s == "true" || s == "false" => {
                self.bump();
                Ok(Node::Bool(s == "true"))
            }
            Tok::Ident(..) => self.invocation(None),
            other => Err(syntax(self.src, pos, format!("unexpected {}", describe(&other)))),
        }
    }

    fn invocation(&mut self, base: Option<Box<Node>>) -> Result<Node> {
        let t = self.bump();
        let name = match t.tok {
            Tok::Ident(s, _) => s,
            Tok::Special(s) if base.is_some() => {
                // `x.$this` is not valid FHIRPath but harmless to accept.
                return Ok(match s.as_str() {
                    "this" => Node::This,
                    "index" => Node::Index,
                    _ => Node::Total,
                });
            }
            other => return Err(syntax(self.src, t.pos, format!("expected a name, found {}", describe(&other)))),
        };
        if matches!(self.peek(), Tok::Op("(")) {
            self.bump();
            let mut args = Vec::new();
            if !matches!(self.peek(), Tok::Op(")")) {
                loop {
                    args.push(self.expr(0)?);
                    if matches!(self.peek(), Tok::Op(",")) {
                        self.bump();
                        continue;
                    }
                    break;
                }
            }
            self.expect_op(")")?;
            let func = Func::resolve(&name, args.len()).map_err(|message| Error::Semantic { offset: t.pos, message })?;
            if matches!(func, Func::OfType | Func::Is | Func::As) {
                let ts = crate::funcs::type_arg(&args[0]).map_err(|e| Error::Semantic { offset: t.pos, message: e.to_string() })?;
                check_type(&ts, t.pos)?;
            }
            // Type arguments (`ofType(Quantity)`, `is(FHIR.string)`) are kept as names.
            return Ok(Node::Call { base, func, args, pos: t.pos });
        }
        let ext_key = format!("_{name}").into_boxed_str();
        let type_filter = if base.is_none() && name.starts_with(|c: char| c.is_ascii_uppercase()) {
            let m = crate::model::model();
            m.intern(&name).map(|t| (t, m.has_subtypes(t)))
        } else {
            None
        };
        let name_id = MemberKey { id: crate::model::model().name_id(&name), cache: std::sync::OnceLock::new() };
        Ok(Node::Member { base, name: name.into_boxed_str(), ext_key, type_filter, name_id })
    }
}

const SYSTEM_TYPES: [&str; 9] = ["Any", "Boolean", "Integer", "Decimal", "String", "Date", "DateTime", "Time", "Quantity"];

/// Rejects type names that are neither System types nor FHIR R4 types.
fn check_type(ts: &TypeSpec, pos: usize) -> Result<()> {
    let system = SYSTEM_TYPES.contains(&ts.name.as_str());
    let fhir = crate::model::model().intern(&ts.name).is_some();
    let ok = match ts.namespace.as_deref() {
        // `System.Patient` is a valid name that no value has.
        Some("System") => true,
        Some("FHIR") => fhir,
        None => system || fhir,
        Some(_) => false,
    };
    if ok {
        Ok(())
    } else {
        let ns = ts.namespace.as_deref().map(|n| format!("{n}.")).unwrap_or_default();
        Err(Error::Semantic { offset: pos, message: format!("unknown type '{ns}{}'", ts.name) })
    }
}

fn unreachable_ident() -> ! {
    panic!("invariant: token checked to be an identifier")
}
