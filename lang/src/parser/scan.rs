//! A cheap lexical pre-pass over the whole source, before pest sees it.
//!
//! It does two jobs pest does badly:
//! - finds unterminated strings and block comments, which would otherwise be
//!   reported wherever the parser finally gives up (often the end of the file);
//! - cuts the program into top-level *chunks* at brace depth 0, so that each
//!   chunk is parsed on its own and a syntax error in one probe does not hide
//!   the errors in the next ones.
//!
//! A chunk ends after a `}` that closes depth 0 (or a stray `}` at depth 0),
//! after a `;` at depth 0 when the chunk started with `let` (a map
//! declaration), and around a `#` line. For any valid program, chunk
//! boundaries fall between items, so parsing chunk by chunk accepts exactly
//! what parsing the whole text would.

use crate::diag::Diagnostic;
use crate::span::Span;
use std::ops::Range;

pub(crate) struct Chunk {
    pub range: Range<usize>,
    /// Offset of the innermost `{` still open at the chunk's end, if any.
    pub unclosed: Option<usize>,
}

pub(crate) struct Scan {
    pub chunks: Vec<Chunk>,
    pub errors: Vec<Diagnostic>,
    /// Whether the text stops inside something it opened: a `{`, `(` or
    /// `[` of its last chunk, or a `/*` comment (an interactive prompt
    /// then asks for another line).
    pub unfinished: bool,
}

/// Where parsing starts: after a `#!` interpreter line, if there is one.
pub(crate) fn skip_shebang(text: &str) -> usize {
    if text.starts_with("#!") {
        text.find('\n').map_or(text.len(), |i| i + 1)
    } else {
        0
    }
}

pub(crate) fn scan(text: &str, start: usize) -> Scan {
    let mut s = Scanner { text: text.as_bytes(), pos: start, chunk_start: start, ..Scanner::default() };
    s.run();
    let unfinished = s.comment_open || !s.open.is_empty() || s.brackets > 0;
    s.finish_chunk(text.len());
    Scan { chunks: s.chunks, errors: s.errors, unfinished }
}

#[derive(Default)]
struct Scanner<'a> {
    text: &'a [u8],
    pos: usize,
    chunk_start: usize,
    /// Offsets of the open `{`s.
    open: Vec<usize>,
    /// `(` and `[` open in the current chunk, less those closed.
    brackets: i32,
    /// A `/*` without its `*/`.
    comment_open: bool,
    /// Whether the current chunk has seen a token, and whether it was `let`,
    /// or `struct`/`union`/`enum` (a definition, whose `}` may have a `;`).
    chunk_has_token: bool,
    chunk_is_let: bool,
    chunk_is_type: bool,
    /// True while only blanks have been seen since the last newline.
    at_line_start: bool,
    chunks: Vec<Chunk>,
    errors: Vec<Diagnostic>,
}

impl Scanner<'_> {
    fn run(&mut self) {
        self.at_line_start = true;
        while self.pos < self.text.len() {
            let c = self.text[self.pos];
            let next = self.text.get(self.pos + 1).copied();
            match c {
                b'\n' => {
                    self.at_line_start = true;
                    self.pos += 1;
                    continue;
                }
                b' ' | b'\t' | b'\r' => {
                    self.pos += 1;
                    continue;
                }
                b'/' if next == Some(b'/') => self.skip_line(),
                b'/' if next == Some(b'*') => self.skip_block_comment(),
                b'#' if self.open.is_empty() && self.at_line_start => self.preprocessor_line(),
                b'"' => {
                    self.token_seen();
                    self.skip_string();
                }
                b'{' => {
                    self.token_seen();
                    self.open.push(self.pos);
                    self.pos += 1;
                }
                b'(' | b'[' | b')' | b']' => {
                    self.token_seen();
                    self.brackets += if matches!(c, b'(' | b'[') { 1 } else { -1 };
                    self.pos += 1;
                }
                b'}' => {
                    self.token_seen();
                    self.pos += 1;
                    // A stray `}` at depth 0 also ends the chunk: it is an
                    // error there, and the next item deserves its own parse.
                    if self.open.pop().is_none() || self.open.is_empty() {
                        if self.chunk_is_type {
                            self.take_semicolon();
                        }
                        self.finish_chunk(self.pos);
                    }
                }
                b';' => {
                    self.token_seen();
                    self.pos += 1;
                    if self.open.is_empty() && self.chunk_is_let {
                        self.finish_chunk(self.pos);
                    }
                }
                _ => {
                    self.token_seen();
                    self.pos += 1;
                }
            }
            self.at_line_start = false;
        }
    }

    fn token_seen(&mut self) {
        if !self.chunk_has_token {
            self.chunk_has_token = true;
            let rest = &self.text[self.pos..];
            let after = rest.get(3).copied().unwrap_or(b' ');
            self.chunk_is_let = rest.starts_with(b"let") && !(after.is_ascii_alphanumeric() || after == b'_');
            self.chunk_is_type = [&b"struct"[..], b"union", b"enum"].iter().any(|kw| {
                rest.starts_with(kw) && !rest.get(kw.len()).is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_')
            });
        }
    }

    /// After a definition's `}`: its `;`, if that is the next token.
    fn take_semicolon(&mut self) {
        let mut at = self.pos;
        while self.text.get(at).is_some_and(|c| c.is_ascii_whitespace()) {
            at += 1;
        }
        if self.text.get(at) == Some(&b';') {
            self.pos = at + 1;
        }
    }

    fn finish_chunk(&mut self, end: usize) {
        if end > self.chunk_start {
            // The innermost: a forgotten '}' is more often an inner block's.
            let unclosed = self.open.last().copied();
            self.chunks.push(Chunk { range: self.chunk_start..end, unclosed });
        }
        self.chunk_start = end;
        self.chunk_has_token = false;
        self.chunk_is_let = false;
        self.chunk_is_type = false;
        self.open.clear();
        self.brackets = 0;
    }

    fn skip_line(&mut self) {
        while self.pos < self.text.len() && self.text[self.pos] != b'\n' {
            self.pos += 1;
        }
    }

    fn skip_block_comment(&mut self) {
        let start = self.pos;
        let rest = &self.text[start + 2..];
        match rest.windows(2).position(|w| w == b"*/") {
            Some(i) => self.pos = start + 2 + i + 2,
            None => {
                self.comment_open = true;
                self.errors.push(
                    Diagnostic::error(Span::new(start, start + 2), "unterminated comment")
                        .with_hint("a '/*' comment must be closed with '*/'"),
                );
                self.pos = self.text.len();
            }
        }
    }

    /// A `#` line is an item of its own (`#include`, or an error later).
    fn preprocessor_line(&mut self) {
        self.finish_chunk(self.pos);
        self.skip_line();
        self.finish_chunk(self.pos);
    }

    /// Strings end at the next unescaped `"`; a newline or the end of the
    /// text first means the string is unterminated.
    fn skip_string(&mut self) {
        let start = self.pos;
        self.pos += 1;
        while self.pos < self.text.len() {
            match self.text[self.pos] {
                b'"' => {
                    self.pos += 1;
                    return;
                }
                b'\n' => break,
                b'\\' if self.text.get(self.pos + 1).is_some_and(|&c| c != b'\n') => self.pos += 2,
                _ => self.pos += 1,
            }
        }
        self.errors.push(
            Diagnostic::error(Span::new(start, self.pos), "unterminated string")
                .with_hint("strings end with '\"' on the same line; write a newline as '\\n'"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(text: &str) -> Vec<&str> {
        scan(text, 0).chunks.iter().map(|c| text[c.range.clone()].trim()).collect()
    }

    #[test]
    fn text_ending_inside_brackets_or_a_comment_is_unfinished() {
        let unfinished = |t: &str| scan(t, 0).unfinished;
        assert!(unfinished("tracepoint:sock:inet_sock_set_state {"));
        assert!(unfinished("t:a:b { if (1) { @x = 1; }"));
        assert!(!unfinished("t:a:b { if (1) { @x = 1; } }"));
        assert!(unfinished("print(@m,"));
        assert!(unfinished("@m[1,"));
        assert!(unfinished("t:a:b { /* a comment"));
        assert!(!unfinished("t:a:b { /* } */ }"));
        assert!(!unfinished(r#"BEGIN { printf("{ %s\n", "}}}") }"#));
        assert!(!unfinished(r#"BEGIN { printf("\"{") }"#));
        assert!(!unfinished("BEGIN { // {\n }"));
        assert!(!unfinished("}"), "a stray brace is the parser's to report");
        assert!(!unfinished("print(@m))"));
    }

    #[test]
    fn splits_items_at_depth_zero() {
        let text = "#include <a.h>\nlet @m = hash(8); BEGIN { if (1) { $x = \"}\"; } }\nEND { }";
        assert_eq!(chunks(text), vec!["#include <a.h>", "let @m = hash(8);", "BEGIN { if (1) { $x = \"}\"; } }", "END { }"]);
    }

    #[test]
    fn a_definition_keeps_its_semicolon() {
        let text = "struct a { int x; };\nenum e { A }\nunion u { int y; } ;\nBEGIN { }";
        assert_eq!(chunks(text), vec!["struct a { int x; };", "enum e { A }", "union u { int y; } ;", "BEGIN { }"]);
    }

    #[test]
    fn semicolon_outside_let_does_not_split() {
        assert_eq!(chunks("kprobe:f $x = 1; }\nEND {}"), vec!["kprobe:f $x = 1; }", "END {}"]);
    }

    #[test]
    fn reports_unterminated_string_and_comment() {
        let s = scan("BEGIN { printf(\"abc);\n}\n/* open", 0);
        let msgs: Vec<_> = s.errors.iter().map(|d| (d.message.as_str(), d.span.start)).collect();
        assert_eq!(msgs, vec![("unterminated string", 15), ("unterminated comment", 24)]);
    }

    #[test]
    fn remembers_unclosed_brace() {
        let s = scan("BEGIN { if (1) { }", 0);
        assert_eq!(s.chunks[0].unclosed, Some(6));
    }

    #[test]
    fn shebang_is_skipped() {
        assert_eq!(skip_shebang("#!/usr/bin/env flowtrace\nBEGIN{}"), 25);
        assert_eq!(skip_shebang("BEGIN{}"), 0);
    }
}
