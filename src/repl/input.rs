//! What a line typed at the prompt is: a command (`.probes`), probe blocks
//! and map declarations (kept and attached), or statements run once at the
//! top level (`print(@m)`, a bare `@m`). Also when an entry is complete: a
//! newline inside open braces, parentheses or a block comment continues it.
//!
//! Statements are run the way a script would run them: wrapped in a one-shot
//! `BEGIN` block, so they mean exactly what they mean inside a probe. The
//! [`SpanMap`] of the wrapped text leads diagnostics back to what was typed.

/// Bracket depth and open comment at the end of `text`, skipping strings and
/// comments. Negative depth (a stray `}`) counts as complete: the parser
/// reports it better than waiting for more input would.
fn open_nesting(text: &str) -> (i32, bool) {
    let bytes = text.as_bytes();
    let (mut depth, mut i) = (0i32, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => match text[i + 2..].find("*/") {
                Some(end) => i += end + 3,
                None => return (depth, true),
            },
            b'{' | b'(' | b'[' => depth += 1,
            b'}' | b')' | b']' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    (depth, false)
}

/// Whether `text` is a whole entry (Enter runs it) or needs more lines.
pub fn is_complete(text: &str) -> bool {
    if text.trim_start().starts_with('.') {
        return true;
    }
    let (depth, in_comment) = open_nesting(text);
    depth <= 0 && !in_comment
}

/// What an entry is, decided by how it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputKind {
    Empty,
    /// `.probes`, `.detach 2`, …: see [`crate::repl::commands`].
    Command,
    /// Probes and `let @m = …;` declarations: items of a script.
    Items,
    /// Statements for the top level: `print(@m)`, `clear(@m)`, `@m`.
    Statements,
}

/// Skips whitespace and comments; the byte offset of the first token.
fn first_token(text: &str) -> usize {
    let mut rest = 0;
    loop {
        let t = &text[rest..];
        let trimmed = t.trim_start();
        rest += t.len() - trimmed.len();
        if trimmed.starts_with("//") {
            rest += trimmed.find('\n').unwrap_or(trimmed.len());
        } else if trimmed.starts_with("/*") {
            rest += trimmed.find("*/").map_or(trimmed.len(), |e| e + 2);
        } else {
            return rest;
        }
    }
}

pub fn classify(text: &str) -> InputKind {
    let t = &text[first_token(text)..];
    if t.is_empty() {
        return InputKind::Empty;
    }
    if t.starts_with('.') {
        return InputKind::Command;
    }
    if t.starts_with('@') || t.starts_with('$') {
        return InputKind::Statements;
    }
    // `print(` / `clear(` …: a call; `BEGIN {`, `tracepoint:…`: a probe.
    let word_end = t.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(t.len());
    let after = t[word_end..].trim_start();
    if word_end > 0 && after.starts_with('(') && &t[..word_end] != "let" {
        return InputKind::Statements;
    }
    InputKind::Items
}

/// Where the pieces of a generated text came from: offsets in the
/// generated text → offsets in the typed text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpanMap {
    /// (start in generated text, start in typed text, length), in order.
    pieces: Vec<(usize, usize, usize)>,
}

impl SpanMap {
    /// The identity map for a text used as typed.
    pub fn identity(len: usize) -> SpanMap {
        SpanMap { pieces: vec![(0, 0, len)] }
    }

    /// The typed offset for a generated offset; generated-only text maps to
    /// the typed text right after it (or the end).
    pub fn to_typed(&self, at: usize) -> usize {
        for &(gen, typed, len) in &self.pieces {
            if at < gen {
                return typed;
            }
            if at <= gen + len {
                return typed + (at - gen);
            }
        }
        self.pieces.last().map_or(0, |&(_, typed, len)| typed + len)
    }
}

/// Builds generated text piece by piece.
struct Builder {
    text: String,
    map: SpanMap,
}

impl Builder {
    fn synthetic(&mut self, s: &str) {
        self.text.push_str(s);
    }

    fn typed(&mut self, s: &str, typed_at: usize) {
        self.map.pieces.push((self.text.len(), typed_at, s.len()));
        self.text.push_str(s);
    }
}

/// Top-level `;`-separated statements of `text`, as (offset, text) with
/// surrounding whitespace trimmed.
fn split_statements(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut push = |from: usize, to: usize| {
        let s = &text[from..to];
        let lead = s.len() - s.trim_start().len();
        if !s.trim().is_empty() {
            out.push((from + lead, s.trim()));
        }
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b';' if open_nesting(&text[start..i]).0 == 0 => {
                push(start, i);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    push(start, text.len());
    out
}

/// `@name` or `@name[…]` and nothing else: a map to print.
fn is_bare_map(stmt: &str) -> bool {
    let Some(rest) = stmt.strip_prefix('@') else { return false };
    let name_end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
    let tail = rest[name_end..].trim();
    tail.is_empty() || (tail.starts_with('[') && tail.ends_with(']') && open_nesting(tail).0 == 0)
}

/// Statements typed at the top level as a one-shot `BEGIN` probe; a bare
/// `@m` becomes `print(@m)`.
pub fn wrap_statements(text: &str) -> (String, SpanMap) {
    let mut b = Builder { text: String::new(), map: SpanMap::default() };
    b.synthetic("BEGIN { ");
    for (at, stmt) in split_statements(text) {
        if is_bare_map(stmt) {
            b.synthetic("print(");
            b.typed(stmt, at);
            b.synthetic("); ");
        } else {
            b.typed(stmt, at);
            b.synthetic("; ");
        }
    }
    b.synthetic("}");
    (b.text, b.map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_braces_continue_the_entry() {
        assert!(!is_complete("tracepoint:sock:inet_sock_set_state {"));
        assert!(!is_complete("t:a:b { if (1) { @x = 1; }"));
        assert!(is_complete("t:a:b { if (1) { @x = 1; } }"));
        assert!(!is_complete("print(@m,"));
        assert!(!is_complete("t:a:b { /* a comment"));
        assert!(is_complete("t:a:b { /* } */ }"));
    }

    #[test]
    fn braces_in_strings_and_comments_do_not_count() {
        assert!(is_complete(r#"BEGIN { printf("{ %s\n", "}}}") }"#));
        assert!(is_complete(r#"BEGIN { printf("\"{") }"#));
        assert!(is_complete("BEGIN { // {\n }"));
        assert!(is_complete("}"), "a stray brace is the parser's to report");
        assert!(is_complete(".detach {"), "commands are one line");
    }

    #[test]
    fn entries_are_classified_by_their_start() {
        assert_eq!(classify("  "), InputKind::Empty);
        assert_eq!(classify("// just a comment"), InputKind::Empty);
        assert_eq!(classify(".probes"), InputKind::Command);
        assert_eq!(classify("@m"), InputKind::Statements);
        assert_eq!(classify("print(@m, 10)"), InputKind::Statements);
        assert_eq!(classify("delete (@m[1])"), InputKind::Statements);
        assert_eq!(classify("/* c */ clear(@m)"), InputKind::Statements);
        assert_eq!(classify("tracepoint:tcp:tcp_send_reset { @n = count(); }"), InputKind::Items);
        assert_eq!(classify("BEGIN { }"), InputKind::Items);
        assert_eq!(classify("let @m = lruhash(10);"), InputKind::Items);
        assert_eq!(classify("interval:s:1 { print(@m) }"), InputKind::Items);
    }

    #[test]
    fn statements_are_wrapped_and_map_back() {
        let typed = "clear(@a);  @b[1, \"x;\"]; print(@c)";
        let (text, map) = wrap_statements(typed);
        assert_eq!(text, "BEGIN { clear(@a); print(@b[1, \"x;\"]); print(@c); }");
        // `@b` in the generated text is `@b` in what was typed.
        let gen_b = text.find("@b").unwrap();
        assert_eq!(map.to_typed(gen_b), typed.find("@b").unwrap());
        let gen_c = text.find("@c").unwrap();
        assert_eq!(map.to_typed(gen_c), typed.find("@c").unwrap());
        // Generated `BEGIN` maps to the start of the typed text.
        assert_eq!(map.to_typed(0), 0);
        assert_eq!(map.to_typed(text.len()), typed.len());
    }

    #[test]
    fn bare_maps_are_printed() {
        assert!(is_bare_map("@m"));
        assert!(is_bare_map("@"));
        assert!(is_bare_map("@m[1, 2]"));
        assert!(!is_bare_map("@m = 1"));
        assert!(!is_bare_map("@m[1] = 2"));
        assert!(!is_bare_map("print(@m)"));
    }
}
