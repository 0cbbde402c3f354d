//! The FHIRPath lexer: turns expression text into tokens with byte offsets.
//!
//! It owns the lexical grammar (identifiers, delimited identifiers, string,
//! number, date/time and quantity literals, operators, comments) and never
//! panics on input: anything it cannot read becomes an [`Error::Syntax`].

use crate::{Error, Result};

/// One token kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// An identifier (plain or `delimited`); the flag says whether it was delimited.
    Ident(String, bool),
    /// A string literal, unescaped.
    Str(String),
    /// A number literal as written.
    Number(String),
    /// A date/time literal as written after `@` (e.g. `2012-04-15T10:00`, `T10:00`).
    DateTime(String),
    /// `%name`, `%'name'` or ``%`name` ``.
    Var(String),
    /// `$this`, `$index`, `$total`.
    Special(String),
    /// An operator or punctuation.
    Op(&'static str),
    /// End of input.
    Eof,
}

/// A token with its byte offset in the source.
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: usize,
}

pub(crate) fn syntax(src: &str, offset: usize, message: impl Into<String>) -> Error {
    let offset = offset.min(src.len());
    let before = &src[..floor_char(src, offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    Error::Syntax { offset, line, column, message: message.into() }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

const OPS: [&str; 22] = [
    "<=", ">=", "!=", "!~", "=", "~", "<", ">", "+", "-", "*", "/", "&", "|", "(", ")", "[", "]", "{", "}", ".", ",",
];

/// Splits `src` into tokens, ending with [`Tok::Eof`].
pub(crate) fn lex(src: &str) -> Result<Vec<Token>> {
    let b = src.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let start = i;
            i += 2;
            loop {
                if i + 1 >= b.len() {
                    return Err(syntax(src, start, "unterminated comment"));
                }
                if b[i] == b'*' && b[i + 1] == b'/' {
                    i += 2;
                    break;
                }
                i += 1;
            }
            continue;
        }
        let pos = i;
        if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push(Token { tok: Tok::Ident(src[pos..i].to_string(), false), pos });
            continue;
        }
        if c == b'`' {
            let (s, end) = quoted(src, i, b'`')?;
            i = end;
            out.push(Token { tok: Tok::Ident(s, true), pos });
            continue;
        }
        if c == b'\'' {
            let (s, end) = quoted(src, i, b'\'')?;
            i = end;
            out.push(Token { tok: Tok::Str(s), pos });
            continue;
        }
        if c.is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            out.push(Token { tok: Tok::Number(src[pos..i].to_string()), pos });
            continue;
        }
        if c == b'@' {
            i += 1;
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'-' | b':' | b'.' | b'+')) {
                // A '.' only continues the literal when a digit follows (fractional seconds),
                // otherwise it is an invocation: `@2015.is(Date)`.
                if b[i] == b'.' && !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    break;
                }
                // '+'/'-' after the time part are timezone offsets; '-' inside a date is a separator.
                i += 1;
            }
            if i == start {
                return Err(syntax(src, pos, "empty date/time literal"));
            }
            out.push(Token { tok: Tok::DateTime(src[start..i].to_string()), pos });
            continue;
        }
        if c == b'%' {
            i += 1;
            let name = match b.get(i) {
                Some(b'`') => {
                    let (s, end) = quoted(src, i, b'`')?;
                    i = end;
                    s
                }
                Some(b'\'') => {
                    let (s, end) = quoted(src, i, b'\'')?;
                    i = end;
                    s
                }
                Some(ch) if ch.is_ascii_alphabetic() || *ch == b'_' => {
                    let s = i;
                    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                        i += 1;
                    }
                    src[s..i].to_string()
                }
                _ => return Err(syntax(src, pos, "expected a variable name after '%'")),
            };
            out.push(Token { tok: Tok::Var(name), pos });
            continue;
        }
        if c == b'$' {
            i += 1;
            let s = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let name = &src[s..i];
            if !matches!(name, "this" | "index" | "total") {
                return Err(syntax(src, pos, format!("unknown special variable ${name}")));
            }
            out.push(Token { tok: Tok::Special(name.to_string()), pos });
            continue;
        }
        let rest = &src[i..];
        match OPS.iter().find(|op| rest.starts_with(**op)) {
            Some(op) => {
                i += op.len();
                out.push(Token { tok: Tok::Op(op), pos });
            }
            None => {
                let ch = rest.chars().next().unwrap_or('?');
                return Err(syntax(src, pos, format!("unexpected character '{ch}'")));
            }
        }
    }
    out.push(Token { tok: Tok::Eof, pos: src.len() });
    Ok(out)
}

/// Reads a quoted string starting at `start` (the opening quote) and returns
/// its unescaped text and the offset after the closing quote.
fn quoted(src: &str, start: usize, q: u8) -> Result<(String, usize)> {
    let mut out = String::new();
    let mut chars = src[start + 1..].char_indices();
    while let Some((off, ch)) = chars.next() {
        let at = start + 1 + off;
        if ch as u32 == q as u32 {
            return Ok((out, at + 1));
        }
        if ch == '\\' {
            let Some((_, e)) = chars.next() else { break };
            match e {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'f' => out.push('\u{c}'),
                '\\' | '/' | '\'' | '"' | '`' => out.push(e),
                'u' => {
                    let mut code = 0u32;
                    for _ in 0..4 {
                        let d = chars.next().and_then(|(_, h)| h.to_digit(16));
                        match d {
                            Some(d) => code = code * 16 + d,
                            None => return Err(syntax(src, at, "invalid \\u escape")),
                        }
                    }
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                other => return Err(syntax(src, at, format!("invalid escape '\\{other}'"))),
            }
            continue;
        }
        out.push(ch);
    }
    Err(syntax(src, start, "unterminated string or delimited identifier"))
}
