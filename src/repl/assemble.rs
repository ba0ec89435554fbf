//! One program text from every entry of the session plus the new one, so the
//! checker sees maps exactly as it would in a script: one key and value type
//! per map across all entries. Diagnostics against that text are rendered
//! against the entry they fall in, with offsets taken back to what was typed,
//! so the caret sits under the typed text.

use super::input::SpanMap;
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::{Source, Span};

/// One entry's text as given to the checker and as typed.
#[derive(Clone, Debug)]
pub struct Piece {
    /// Shown in diagnostics: `<input>`, `<entry 2>`, `FILE.ft`.
    pub label: String,
    /// What the checker sees (statements are wrapped in `BEGIN { … }`).
    pub generated: String,
    pub typed: String,
    /// `generated` offsets → `typed` offsets.
    pub map: SpanMap,
}

impl Piece {
    /// A text used as typed (probes, declarations).
    pub fn verbatim(label: impl Into<String>, text: impl Into<String>) -> Piece {
        let text = text.into();
        Piece { label: label.into(), map: SpanMap::identity(text.len()), generated: text.clone(), typed: text }
    }
}

pub struct Assembly<'a> {
    pub text: String,
    /// Start of each piece in `text`.
    starts: Vec<usize>,
    pieces: Vec<&'a Piece>,
}

impl<'a> Assembly<'a> {
    pub fn new(pieces: Vec<&'a Piece>) -> Assembly<'a> {
        let mut text = String::new();
        let mut starts = Vec::with_capacity(pieces.len());
        for p in &pieces {
            starts.push(text.len());
            text.push_str(&p.generated);
            // Entries are separate items: a newline keeps a `//` comment at
            // the end of one from swallowing the next.
            text.push('\n');
        }
        Assembly { text, starts, pieces }
    }

    /// Where the last piece (the new entry) starts.
    pub fn last_start(&self) -> usize {
        self.starts.last().copied().unwrap_or(0)
    }

    /// Index of the piece holding byte `at`.
    fn piece_at(&self, at: usize) -> usize {
        self.starts.iter().rposition(|&s| s <= at).unwrap_or(0)
    }

    /// A diagnostic moved into the typed text of the piece it falls in.
    pub fn localise(&self, d: &Diagnostic) -> (&'a Piece, Diagnostic) {
        let i = self.piece_at(d.span.start as usize);
        let piece = self.pieces[i];
        let base = self.starts[i];
        let local = |at: u32| {
            let at = (at as usize).saturating_sub(base).min(piece.generated.len());
            piece.map.to_typed(at)
        };
        let start = local(d.span.start);
        let end = local(d.span.end).max(start);
        let mut moved = d.clone();
        moved.span = Span::new(start, end);
        (piece, moved)
    }

    pub fn render(&self, diags: &[Diagnostic]) -> String {
        let mut out = String::new();
        for d in diags {
            let (piece, moved) = self.localise(d);
            out.push_str(&moved.render(&Source::new(piece.label.clone(), piece.typed.clone())));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repl::input::wrap_statements;

    #[test]
    fn diagnostics_land_in_the_entry_they_belong_to() {
        let old = Piece::verbatim("<entry 1>", "BEGIN { @m[1] = count(); }");
        let w = wrap_statements("@m").unwrap();
        let new = Piece { label: "<input>".into(), generated: w.generated, typed: "@m".into(), map: w.map };
        let a = Assembly::new(vec![&old, &new]);
        assert_eq!(a.text, "BEGIN { @m[1] = count(); }\nBEGIN { print(@m)\n}\n");
        assert_eq!(a.last_start(), old.generated.len() + 1);
        // `@m` in the wrapped statement is `@m` typed at column 1.
        let at = a.last_start() + "BEGIN { print(".len();
        let (piece, d) = a.localise(&Diagnostic::error(Span::new(at, at + 2), "x"));
        assert_eq!(piece.label, "<input>");
        assert_eq!((d.span.start, d.span.end), (0, 2));
        let rendered = a.render(&[Diagnostic::error(Span::new(at, at + 2), "bad map")]);
        assert_eq!(rendered, "<input>:1:1: error: bad map\n@m\n^~\n");
        // A note about the first use points into the old entry.
        let (piece, d) = a.localise(&Diagnostic::note(Span::new(8, 10), "first used here"));
        assert_eq!(piece.label, "<entry 1>");
        assert_eq!((d.span.start, d.span.end), (8, 10));
    }
}
