//! What a line typed at the prompt is: a command (`.probes`), probe blocks
//! and map declarations (kept and attached), or statements run once at the
//! top level (`print(@m)`, a bare `@m`). Also when an entry is complete: a
//! newline inside open braces, parentheses or a block comment continues it.
//!
//! Statements are run the way a script would run them: wrapped in a one-shot
//! `BEGIN` block, so they mean exactly what they mean inside a probe. The
//! [`SpanMap`] of the wrapped text leads diagnostics back to what was typed.

use flowtrace_lang::ast::{Expr, ExprKind, Item, StmtKind};
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::{Source, Span};

/// Whether `text` is a whole entry (Enter runs it) or needs more lines:
/// it stops inside a `{`, `(`, `[` or comment it opened (the front end's
/// scanner decides, skipping strings and comments as the parser does).
pub fn is_complete(text: &str) -> bool {
    text.trim_start().starts_with('.') || !(flowtrace_lang::parser::is_unfinished(text) || awaits_body(text))
}

/// The entries in an accepted text, in order: lines are gathered until they
/// make a complete entry ([`is_complete`]). A bracketed paste of a runbook
/// arrives as one text; each of its probes becomes an entry of its own, as
/// when the same lines arrive as typed keys.
pub fn split_entries(text: &str) -> Vec<String> {
    let mut entries = Vec::new();
    let mut entry = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 && !entry.is_empty() {
            entry.push('\n');
        }
        entry.push_str(line);
        if is_complete(&entry) {
            if classify(&entry) != InputKind::Empty {
                entries.push(std::mem::take(&mut entry));
            }
            entry.clear();
        }
    }
    if classify(&entry) != InputKind::Empty {
        entries.push(entry);
    }
    entries
}

/// A probe's attach points (and predicate) without its `{ … }` yet, as
/// runbooks write them: `tracepoint:tcp:tcp_connect` / `/pid == 1/` / `{`.
/// Pasted, each of those lines ends with Enter, and the entry is the whole
/// probe. An empty last line stops waiting, so a header typed by mistake
/// can still be submitted (and refused with a caret).
fn awaits_body(text: &str) -> bool {
    let start = &text[first_token(text)..];
    let word_end = start.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(start.len());
    let word = &start[..word_end];
    let header = matches!(word, "BEGIN" | "END") || (word_end > 0 && start[word_end..].starts_with(':'));
    let last_line_empty = text.contains('\n') && text.rsplit('\n').next().is_some_and(|l| l.trim().is_empty());
    header && !start.contains(['{', ';']) && !last_line_empty
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

/// Statements typed at the top level as a one-shot `BEGIN` probe; a bare
/// map (`@m`, `@m[k]`) becomes `print(@m)`. The front end finds the
/// statements: the typed text is parsed inside `BEGIN { … }` first. On a
/// syntax error, its diagnostics, against the typed text.
pub fn wrap_statements(text: &str) -> Result<Wrapped, Vec<Diagnostic>> {
    const OPEN: &str = "BEGIN { ";
    let plain = format!("{OPEN}{text}\n}}");
    let ast = flowtrace_lang::parse(&Source::new("<input>", plain)).map_err(|diags| {
        let at = |x: u32| (x as usize).saturating_sub(OPEN.len()).min(text.len());
        diags.into_iter().map(|mut d| {
            d.span = Span::new(at(d.span.start), at(d.span.end));
            d
        }).collect::<Vec<_>>()
    })?;
    let stmts = match ast.items.as_slice() {
        [Item::Probe(p)] => p.body.stmts.clone(),
        _ => Vec::new(),
    };
    let mut b = Builder { text: String::new(), map: SpanMap::default() };
    let mut bare = Vec::new();
    b.synthetic(OPEN);
    let mut typed_at = 0;
    for stmt in &stmts {
        let StmtKind::Expr(Expr { kind: ExprKind::Map(map), .. }) = &stmt.kind else { continue };
        // A span may take in the blanks after it; the typed text ends first.
        let start = (map.span.start as usize).saturating_sub(OPEN.len()).min(text.len());
        let end = (map.span.end as usize).saturating_sub(OPEN.len()).min(text.len());
        let end = start + text[start..end].trim_end().len();
        b.typed(&text[typed_at..start], typed_at);
        b.synthetic("print(");
        b.typed(&text[start..end], start);
        b.synthetic(")");
        typed_at = end;
        bare.push(Span::new(start, end));
    }
    b.typed(&text[typed_at..], typed_at);
    b.synthetic("\n}");
    let all_bare = !stmts.is_empty() && bare.len() == stmts.len();
    Ok(Wrapped { generated: b.text, map: b.map, only_bare_maps: all_bare })
}

/// Statements as the checker sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wrapped {
    pub generated: String,
    /// `generated` offsets → typed offsets.
    pub map: SpanMap,
    /// Every statement is a bare map (`@m[1]; @n`): answered from the
    /// session's maps where the keys are constants.
    pub only_bare_maps: bool,
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
    fn a_probe_header_waits_for_its_body() {
        assert!(!is_complete("tracepoint:sock:inet_sock_set_state"));
        assert!(!is_complete("tracepoint:sock:inet_sock_set_state\n/args.newstate == 1/"));
        assert!(!is_complete("BEGIN"));
        assert!(!is_complete("kprobe:a,\n  kprobe:b"), "attach points over two lines");
        assert!(is_complete("tracepoint:a:b\n/1/\n{ @n = count(); }"));
        assert!(is_complete("tracepoint:a:b\n\n"), "an empty line submits it anyway");
        assert!(is_complete("x"), "not a header: runs at once, to be refused");
        assert!(is_complete("let @m = lruhash(10);"));
        assert!(is_complete("print(@m)"));
        assert!(is_complete("// tracepoint:a:b"));
    }

    #[test]
    fn a_pasted_runbook_is_split_into_its_entries() {
        let text = "// head\n\nt:a:b\n/1/\n{\n  @n = count();\n}\n/* two\n lines */\nt:c:d { @m = 1; }\n.probes\nprint(@n)";
        let entries = split_entries(text);
        assert_eq!(entries, ["t:a:b\n/1/\n{\n  @n = count();\n}", "t:c:d { @m = 1; }", ".probes", "print(@n)"]);
        assert_eq!(split_entries("t:a:b {\n"), ["t:a:b {\n"], "an unfinished rest is still submitted");
        assert!(split_entries("\n  \n// c").is_empty());
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
        let w = wrap_statements(typed).unwrap();
        let (text, map) = (&w.generated, &w.map);
        assert_eq!(text, "BEGIN { clear(@a);  print(@b[1, \"x;\"]); print(@c)\n}");
        // `@b` in the generated text is `@b` in what was typed.
        let gen_b = text.find("@b").unwrap();
        assert_eq!(map.to_typed(gen_b), typed.find("@b").unwrap());
        let gen_c = text.find("@c").unwrap();
        assert_eq!(map.to_typed(gen_c), typed.find("@c").unwrap());
        // Generated `BEGIN` maps to the start of the typed text.
        assert_eq!(map.to_typed(0), 0);
        assert_eq!(map.to_typed(text.len()), typed.len());
        assert!(!w.only_bare_maps);
    }

    #[test]
    fn bare_maps_are_printed() {
        let bare = |t: &str| wrap_statements(t).unwrap();
        assert_eq!(bare("@m").generated, "BEGIN { print(@m)\n}");
        assert_eq!(bare("@").generated, "BEGIN { print(@)\n}");
        assert_eq!(bare("@m[1, 2]").generated, "BEGIN { print(@m[1, 2])\n}");
        assert_eq!(bare("@m[0b1]; @n").generated, "BEGIN { print(@m[0b1]); print(@n)\n}");
        assert!(bare("@m[1_000]").only_bare_maps);
        assert!(bare("@m[1]; @n;").only_bare_maps);
        assert!(!bare("@m = 1").only_bare_maps);
        assert!(!bare("@m[1] = 2").only_bare_maps);
        assert!(!bare("print(@m)").only_bare_maps);
        assert!(!bare("@m[1]++").only_bare_maps);
    }

    #[test]
    fn syntax_errors_point_into_the_typed_text() {
        let diags = wrap_statements("print(@m,)").unwrap_err();
        assert!(diags[0].span.start as usize <= "print(@m,)".len(), "{diags:?}");
        assert_eq!(diags[0].span.start, 9, "{diags:?}");
    }
}
