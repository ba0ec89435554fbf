//! pest's failure report → a diagnostic a person can act on.
//!
//! pest tells us the furthest position it reached and the rules it tried
//! there. The grammar names its punctuation (`semi`, `rparen`, …) so that this
//! set says what was missing; operator rules are dropped from it, since "an
//! operator could go here" is true almost everywhere and helps nobody.

use super::scan::Chunk;
use super::Rule;
use crate::diag::Diagnostic;
use crate::span::Span;
use pest::error::{Error, ErrorVariant, InputLocation};

/// `text` is the (preprocessed) text pest read; `line_col` says where one of
/// its offsets is in the source, for hints.
pub(super) fn syntax_error(error: &Error<Rule>, text: &str, line_col: &dyn Fn(usize) -> (usize, usize), chunk: &Chunk) -> Diagnostic {
    let local = match error.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let mut pos = (chunk.range.start + local).min(text.len());
    let found = token_at(text, pos);
    if found.is_empty() {
        // At the end of the input, point just past the last token rather
        // than at the (possibly empty) last line.
        pos = text.trim_end().len().max(chunk.range.start);
    }
    if let Some(diag) = stray_character(text, pos, found) {
        return diag;
    }
    if found.is_empty() {
        if let Some(open) = chunk.unclosed {
            let (line, col) = line_col(open);
            return Diagnostic::error(Span::new(pos, pos), "expected '}', found end of input")
                .with_hint(format!("the '{{' at {line}:{col} has no matching '}}'"));
        }
    }
    let span = Span::new(pos, pos + found.len());
    let found_text = if found.is_empty() { "end of input".to_string() } else { format!("'{found}'") };
    let positives: &[Rule] = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives,
        ErrorVariant::CustomError { .. } => {
            // pest's own resource guards (native stack, call budget).
            return Diagnostic::error(span, "this program is nested too deeply to parse");
        }
    };
    let expected = expectation(positives, found, follows_else(text, pos));
    let message = if expected.message.contains(&found_text) {
        expected.message.to_string()
    } else {
        format!("{}, found {found_text}", expected.message)
    };
    let mut diag = Diagnostic::error(span, message);
    if let Some(hint) = expected.hint {
        diag = diag.with_hint(hint);
    }
    if let Some(hint) = bare_name_cast_hint(text, pos, found) {
        diag = diag.with_hint(hint);
    }
    // A chunk that ends with a brace still open is missing a '}' somewhere;
    // that is usually the real mistake, wherever the parser noticed it.
    if let Some(open) = chunk.unclosed {
        let (line, col) = line_col(open);
        diag = diag.with_hint(format!("the '{{' at {line}:{col} has no matching '}}'"));
    }
    diag
}

struct Expected {
    message: &'static str,
    hint: Option<&'static str>,
}

fn expect(message: &'static str) -> Expected {
    Expected { message, hint: None }
}

/// Pick the most useful description of what the parser wanted. The order
/// matters: the first match wins.
fn expectation(positives: &[Rule], found: &str, after_else: bool) -> Expected {
    use Rule::*;
    let has = |r: Rule| positives.contains(&r);
    let any = |rs: &[Rule]| rs.iter().any(|r| positives.contains(r));
    if found == "}" && any(&[program, probe, attach_point, EOI]) {
        return Expected { message: "unmatched '}'", hint: Some("this '}' closes no '{'") };
    }
    if found == "}" && any(&[expr, binary_expr, term, prefix_op]) && !has(stmt_end) {
        return expect("expected expression");
    }
    if has(stmt_end) {
        return Expected {
            message: "expected ';' or '}' after statement",
            hint: (found == "=").then_some("'=' assigns only to a variable ('$x') or a map ('@m[k]')"),
        };
    }
    if has(pred_close) {
        return expect("expected '/' to end the predicate");
    }
    if has(rbracket) {
        return expect(if has(comma) { "expected ',' or ']'" } else { "expected ']'" });
    }
    if has(rparen) {
        return expect(if has(comma) { "expected ',' or ')'" } else { "expected ')'" });
    }
    if has(colon) {
        return expect("expected ':' of the conditional expression");
    }
    if has(lbrace) && has(pred_open) {
        return Expected {
            message: "expected ',', a predicate '/…/' or '{' after the attach point",
            hint: Some("a probe is 'provider:target [, …] [/predicate/] { statements }'"),
        };
    }
    if after_else && has(kw_if) && has(lbrace) {
        return expect("expected '{' or 'if' after 'else'");
    }
    if any(&[if_stmt, while_stmt, unroll_stmt, return_stmt, assign_stmt, expr_stmt, let_stmt]) {
        return expect("expected statement or '}'");
    }
    if has(lbrace) {
        return expect("expected '{'");
    }
    if positives == [ident] {
        return expect("expected a name");
    }
    if any(&[expr, binary_expr, term, prefix_op, int_lit, var, ident, call, paren_expr]) {
        return expect("expected expression");
    }
    if any(&[program, probe, attach_point, map_decl, preproc]) {
        return Expected {
            message: "expected a probe, a map declaration or '#include'",
            hint: Some("a probe looks like 'kprobe:tcp_sendmsg { … }'; a map declaration like 'let @m = lruhash(1024);'"),
        };
    }
    if has(map_name) {
        return expect("expected a map name such as '@flows'");
    }
    if has(lparen) {
        return expect("expected '('");
    }
    if has(assign_eq) {
        return expect("expected '='");
    }
    if has(field_name) {
        return expect("expected a field name");
    }
    if any(&[type_name, record_type, fixed_int, c_int, c_int_word]) {
        return expect("expected a type");
    }
    if has(EOI) {
        return expect("unexpected text");
    }
    expect("syntax error")
}

/// Whether the word just before `pos` is the keyword `else`.
fn follows_else(text: &str, pos: usize) -> bool {
    let before = text[..pos].trim_end();
    before.strip_suffix("else").is_some_and(|rest| !rest.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_'))
}

/// A character no token can hold, where the parse stopped (or right after a
/// lone `$` or `@`): say what it is, rather than what the grammar wanted at
/// that point — which is about the text around it, and misleads.
fn stray_character(text: &str, pos: usize, found: &str) -> Option<Diagnostic> {
    let at = if found == "$" || found == "@" { pos + 1 } else { pos };
    let c = text[at..].chars().next()?;
    let span = Span::new(at, at + c.len_utf8());
    let code = format!("U+{:04X}", u32::from(c));
    if c == '\0' {
        return Some(Diagnostic::error(span, format!("a NUL byte ({code}) in the program text")).with_hint("is this a binary file? programs are text"));
    }
    if c.is_control() && !c.is_whitespace() {
        return Some(Diagnostic::error(span, format!("a control character ({code}) in the program text")));
    }
    if c.is_ascii() {
        return None;
    }
    let in_name = text[..at].ends_with(|p: char| p.is_ascii_alphanumeric() || p == '_' || p == '$' || p == '@');
    let message = if in_name { format!("'{c}' ({code}) cannot be part of a name") } else { format!("unexpected character '{c}' ({code})") };
    Some(Diagnostic::error(span, message).with_hint(
        "names are ASCII letters, digits and '_'; other characters may appear only in strings and comments",
    ))
}

/// The token at `pos`, for "found …" and the caret's width: a word, a
/// number, a string's opening, a two-character operator or one character.
fn token_at(text: &str, pos: usize) -> &str {
    let rest = &text[pos..];
    let Some(first) = rest.chars().next() else {
        return "";
    };
    let word = |s: &str| s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(s.len());
    let len = if first.is_ascii_alphanumeric() || first == '_' {
        word(rest)
    } else if first == '"' {
        rest[1..].find(['"', '\n']).map_or(rest.len(), |i| i + 2).min(rest.len())
    } else if matches!(first, '$' | '@') {
        1 + word(&rest[1..])
    } else if ["->", "++", "--", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>"].iter().any(|op| rest.starts_with(op)) {
        2
    } else {
        first.len_utf8()
    };
    &rest[..len]
}

/// `(sk_buff_data_t)x` is not a cast (see grammar.pest), so it fails as a
/// grouping followed by a stray operand. Say why when that is what happened.
fn bare_name_cast_hint(text: &str, pos: usize, found: &str) -> Option<String> {
    let starts_operand = found.starts_with(|c: char| c.is_ascii_alphanumeric() || "$@(_\"".contains(c));
    let before = text[..pos].trim_end().strip_suffix(')')?;
    let open = before.rfind('(')?;
    // `f(x) y` is a call followed by a stray operand, not a failed cast.
    let is_call = before[..open].trim_end().ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
    let name = before[open + 1..].trim();
    let is_name = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (starts_operand && is_name && !is_call).then(|| {
        format!(
            "'({name})' is a parenthesised name, not a cast: only integer types cast without '*'; \
             write '({name} *)' for a pointer or an integer type such as '(uint32)'"
        )
    })
}
