//! `#define` macros and their expansion, as C does it for the cases scripts
//! use: object-like and function-like macros (with `...`/`__VA_ARGS__`, `#x`
//! and `a ## b`), arguments expanded before substitution, the result rescanned
//! with the macro itself disabled so that a self-reference stops.
//!
//! Names after `$` or `@` (`$x`, `@m`) are script variables and maps, never
//! macro uses.

use crate::span::Span;
use std::collections::HashMap;

#[derive(Clone, Debug)]
pub(crate) struct Macro {
    /// `None` for an object-like macro.
    pub params: Option<Vec<String>>,
    pub variadic: bool,
    pub body: String,
}

pub(crate) type Macros = HashMap<String, Macro>;

/// Expansion stops past this much output or nesting: `#define A A A` style
/// growth must end in an error, not exhaust memory.
const MAX_OUTPUT: usize = 1 << 20;
const MAX_DEPTH: usize = 64;

/// Why an expansion failed, with the byte range (in the expanded text) at fault.
pub(crate) struct ExpandError {
    pub at: std::ops::Range<usize>,
    pub message: String,
}

/// One part of an expanded text: copied (a range of the input) or produced
/// by the macro used over a range of the input.
pub(crate) enum Part {
    Copy(std::ops::Range<usize>),
    Macro { used: std::ops::Range<usize>, text: String },
}

pub(crate) fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

pub(crate) fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Expand every macro use in `text`, as parts so that the caller can map
/// each back to its source.
pub(crate) fn expand_parts(text: &str, macros: &Macros) -> Result<Vec<Part>, ExpandError> {
    let mut parts = Vec::new();
    let mut copied = 0;
    let mut expander = Expander { macros, size: 0 };
    let mut lexer = Lexer { text, pos: 0 };
    while let Some(token) = lexer.next() {
        let Token::Ident(range) = token else { continue };
        let Some(expansion) = expander.use_at(text, range.clone(), &mut lexer.pos, &[], 0)? else { continue };
        if range.start > copied {
            parts.push(Part::Copy(copied..range.start));
        }
        parts.push(Part::Macro { used: range.start..lexer.pos, text: expansion });
        copied = lexer.pos;
    }
    if copied < text.len() {
        parts.push(Part::Copy(copied..text.len()));
    }
    Ok(parts)
}

/// `text` with every macro expanded, as one string (for `#if` conditions).
pub(crate) fn expand_string(text: &str, macros: &Macros) -> Result<String, ExpandError> {
    let mut expander = Expander { macros, size: 0 };
    expander.expand(text, &[], 0)
}

#[derive(PartialEq)]
enum Token {
    Ident(std::ops::Range<usize>),
    Other,
}

/// Just enough of C's lexer to find identifiers outside strings, character
/// literals, comments and numbers (`0x1f` holds no name `x1f`).
struct Lexer<'a> {
    text: &'a str,
    pos: usize,
}

impl Lexer<'_> {
    fn next(&mut self) -> Option<Token> {
        let bytes = self.text.as_bytes();
        let c = *bytes.get(self.pos)?;
        let start = self.pos;
        let next = bytes.get(self.pos + 1).copied();
        if c == b'"' || c == b'\'' {
            self.pos += 1;
            while let Some(&b) = bytes.get(self.pos) {
                self.pos += 1;
                if b == b'\\' {
                    self.pos += 1;
                } else if b == c || b == b'\n' {
                    break;
                }
            }
        } else if c == b'/' && next == Some(b'/') {
            while bytes.get(self.pos).is_some_and(|&b| b != b'\n') {
                self.pos += 1;
            }
        } else if c == b'/' && next == Some(b'*') {
            self.pos = self.text[start + 2..].find("*/").map_or(bytes.len(), |i| start + 2 + i + 2);
        } else if c.is_ascii_digit() || ((c == b'$' || c == b'@') && next.is_some_and(is_ident_start)) {
            self.pos += 1;
            while bytes.get(self.pos).is_some_and(|&b| is_ident_char(b)) {
                self.pos += 1;
            }
        } else if is_ident_start(c) {
            while bytes.get(self.pos).is_some_and(|&b| is_ident_char(b)) {
                self.pos += 1;
            }
            return Some(Token::Ident(start..self.pos));
        } else {
            self.pos += c.len_utf8_at(self.text, start);
        }
        Some(Token::Other)
    }
}

trait Utf8Len {
    fn len_utf8_at(self, text: &str, at: usize) -> usize;
}

impl Utf8Len for u8 {
    fn len_utf8_at(self, text: &str, at: usize) -> usize {
        text[at..].chars().next().map_or(1, char::len_utf8)
    }
}

struct Expander<'m> {
    macros: &'m Macros,
    size: usize,
}

impl Expander<'_> {
    fn expand(&mut self, text: &str, disabled: &[&str], depth: usize) -> Result<String, ExpandError> {
        let mut out = String::new();
        let mut lexer = Lexer { text, pos: 0 };
        let mut copied = 0;
        while let Some(token) = lexer.next() {
            let Token::Ident(range) = token else { continue };
            if let Some(expansion) = self.use_at(text, range.clone(), &mut lexer.pos, disabled, depth)? {
                out.push_str(&text[copied..range.start]);
                out.push_str(&expansion);
                copied = lexer.pos;
            }
        }
        out.push_str(&text[copied..]);
        Ok(out)
    }

    /// If the name at `range` is a macro use, its expansion; `pos` is moved
    /// past a function-like macro's arguments.
    fn use_at(
        &mut self,
        text: &str,
        range: std::ops::Range<usize>,
        pos: &mut usize,
        disabled: &[&str],
        depth: usize,
    ) -> Result<Option<String>, ExpandError> {
        let name = &text[range.clone()];
        let Some(mac) = self.macros.get(name).filter(|_| !disabled.contains(&name)) else { return Ok(None) };
        if depth >= MAX_DEPTH {
            return Err(ExpandError { at: range, message: format!("macro '{name}' expands too deeply") });
        }
        let body = match &mac.params {
            None => mac.body.clone(),
            Some(params) => {
                let after = text[*pos..].trim_start();
                if !after.starts_with('(') {
                    return Ok(None); // a function-like macro's name alone is no use of it
                }
                let open = text.len() - after.len();
                let (args, end) = split_args(text, open).ok_or_else(|| ExpandError {
                    at: range.clone(),
                    message: format!("unterminated use of macro '{name}': no ')' closes its arguments"),
                })?;
                *pos = end;
                let args = self.bind(name, mac, params, args, range.start..end)?;
                self.substitute(&mac.body, &args, disabled, depth)?
            }
        };
        let mut inner: Vec<&str> = disabled.to_vec();
        inner.push(name);
        let result = self.expand(&body, &inner, depth + 1)?;
        self.size += result.len();
        if self.size > MAX_OUTPUT {
            return Err(ExpandError { at: range, message: format!("macro '{name}' expands to more than {MAX_OUTPUT} bytes") });
        }
        Ok(Some(result))
    }

    /// Pair parameters with argument texts (trimmed, unexpanded).
    fn bind(
        &self,
        name: &str,
        mac: &Macro,
        params: &[String],
        mut args: Vec<String>,
        at: std::ops::Range<usize>,
    ) -> Result<Vec<(String, String)>, ExpandError> {
        if params.is_empty() && args.len() == 1 && args[0].is_empty() {
            args.clear();
        }
        let fits = if mac.variadic { args.len() >= params.len() } else { args.len() == params.len() };
        if !fits {
            let want = if mac.variadic { format!("at least {}", params.len()) } else { params.len().to_string() };
            return Err(ExpandError { at, message: format!("macro '{name}' takes {want} arguments, {} given", args.len()) });
        }
        let rest = args.split_off(params.len());
        let mut bound: Vec<(String, String)> = params.iter().cloned().zip(args).collect();
        if mac.variadic {
            bound.push(("__VA_ARGS__".to_string(), rest.join(", ")));
        }
        Ok(bound)
    }

    /// The body with parameters replaced: `#p` by the argument as a string,
    /// operands of `##` by the raw argument, others by the expanded argument.
    fn substitute(&mut self, body: &str, args: &[(String, String)], disabled: &[&str], depth: usize) -> Result<String, ExpandError> {
        let arg = |n: &str| args.iter().find(|(p, _)| p == n).map(|(_, a)| a.as_str());
        let mut out = String::new();
        let mut lexer = Lexer { text: body, pos: 0 };
        let mut paste_next = false;
        let mut copied = 0;
        while let Some(token) = lexer.next() {
            let start = lexer.pos - 1;
            match token {
                Token::Other if body[..lexer.pos].ends_with("##") => {
                    out.push_str(body[copied..start - 1].trim_end());
                    out.truncate(out.trim_end().len());
                    paste_next = true;
                    while body.as_bytes().get(lexer.pos).is_some_and(u8::is_ascii_whitespace) {
                        lexer.pos += 1;
                    }
                    copied = lexer.pos;
                }
                Token::Other if body.as_bytes()[start] == b'#' && body.as_bytes().get(lexer.pos) != Some(&b'#') => {
                    let rest = body[lexer.pos..].trim_start();
                    let len = rest.bytes().take_while(|&b| is_ident_char(b)).count();
                    if let Some(a) = arg(&rest[..len]).filter(|_| len > 0) {
                        out.push_str(&body[copied..start]);
                        out.push_str(&stringify(a));
                        lexer.pos = body.len() - rest.len() + len;
                        copied = lexer.pos;
                    }
                }
                Token::Ident(range) => {
                    if let Some(a) = arg(&body[range.clone()]) {
                        out.push_str(&body[copied..range.start]);
                        let pasted = paste_next || body[range.end..].trim_start().starts_with("##");
                        let value = if pasted { a.to_string() } else { self.expand(a, disabled, depth + 1)? };
                        out.push_str(&value);
                        copied = range.end;
                    }
                    paste_next = false;
                }
                Token::Other => paste_next = false,
            }
        }
        out.push_str(&body[copied..]);
        Ok(out)
    }
}

fn stringify(arg: &str) -> String {
    let escaped: String = arg.chars().flat_map(|c| match c {
        '"' | '\\' => vec!['\\', c],
        c => vec![c],
    }).collect();
    format!("\"{escaped}\"")
}

/// The comma-separated arguments of the call whose `(` is at `open`, and
/// the offset just past its `)`; `None` when no `)` closes it.
fn split_args(text: &str, open: usize) -> Option<(Vec<String>, usize)> {
    let mut args = Vec::new();
    let mut depth = 0;
    let mut start = open + 1;
    let mut lexer = Lexer { text, pos: open };
    while lexer.pos < text.len() {
        let at = lexer.pos;
        if lexer.next()? != Token::Other {
            continue;
        }
        match text.as_bytes()[at] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' if depth > 1 => depth -= 1,
            b')' => {
                args.push(text[start..at].trim().to_string());
                return Some((args, lexer.pos));
            }
            b',' if depth == 1 => {
                args.push(text[start..at].trim().to_string());
                start = lexer.pos;
            }
            _ => {}
        }
    }
    None
}

/// `Span` of a range of text that starts at `base` in the source.
pub(crate) fn span_at(base: u32, range: std::ops::Range<usize>) -> Span {
    Span { start: base + range.start as u32, end: base + range.end as u32 }
}
