//! Where each byte of the preprocessed text came from.
//!
//! The parser reads the preprocessed text, but every span it makes must point
//! at what the user wrote. Text copied through (the script, an included file,
//! blanked directive lines) maps byte for byte; the text a macro produced maps
//! to the macro's use, since that is the source a user can fix.

use crate::span::Span;

/// The preprocessed text and its map back to the joint source space.
#[derive(Debug, Default)]
pub struct Expansion {
    pub text: String,
    pieces: Vec<Piece>,
}

#[derive(Clone, Copy, Debug)]
struct Piece {
    /// Offset in the preprocessed text.
    out: u32,
    len: u32,
    /// Which file (0 = the script): a span must not run from one into another.
    file: u32,
    origin: Origin,
}

#[derive(Clone, Copy, Debug)]
enum Origin {
    /// Copied verbatim from this source offset on.
    Copy { at: u32 },
    /// Produced by expanding the macro used here.
    Macro { used: Span },
}

impl Expansion {
    /// Append `text`, copied from source offset `at` of `file`.
    pub(crate) fn push_copy(&mut self, file: u32, at: u32, text: &str) {
        if text.is_empty() {
            return;
        }
        let out = self.text.len() as u32;
        if let Some(last) = self.pieces.last_mut() {
            if let Origin::Copy { at: last_at } = last.origin {
                if last.file == file && last_at + last.len == at && last.out + last.len == out {
                    last.len += text.len() as u32;
                    self.text.push_str(text);
                    return;
                }
            }
        }
        self.pieces.push(Piece { out, len: text.len() as u32, file, origin: Origin::Copy { at } });
        self.text.push_str(text);
    }

    /// Append the expansion of the macro used at `used`.
    pub(crate) fn push_macro(&mut self, file: u32, used: Span, text: &str) {
        if text.is_empty() {
            return;
        }
        let out = self.text.len() as u32;
        self.pieces.push(Piece { out, len: text.len() as u32, file, origin: Origin::Macro { used } });
        self.text.push_str(text);
    }

    fn piece_at(&self, offset: u32) -> Option<&Piece> {
        let i = self.pieces.partition_point(|p| p.out <= offset);
        self.pieces.get(i.checked_sub(1)?)
    }

    fn start(&self, offset: u32) -> u32 {
        match self.piece_at(offset) {
            None => offset,
            Some(p) => match p.origin {
                Origin::Copy { at } => at + (offset - p.out).min(p.len),
                Origin::Macro { used } => used.start,
            },
        }
    }

    fn end(&self, offset: u32) -> u32 {
        match self.piece_at(offset.saturating_sub(1)) {
            None => offset,
            Some(p) => match p.origin {
                Origin::Copy { at } => at + (offset - p.out).min(p.len),
                Origin::Macro { used } => used.end,
            },
        }
    }

    fn piece_end(p: &Piece) -> u32 {
        match p.origin {
            Origin::Copy { at } => at + p.len,
            Origin::Macro { used } => used.end,
        }
    }

    /// A span of the preprocessed text as a span of the source.
    pub fn map_span(&self, span: Span) -> Span {
        if self.pieces.is_empty() {
            return span;
        }
        let start = self.start(span.start);
        if span.end <= span.start {
            return Span { start, end: start };
        }
        let mut end = self.end(span.end);
        let (first, last) = (self.piece_at(span.start), self.piece_at(span.end - 1));
        if let (Some(first), Some(last)) = (first, last) {
            if first.file != last.file {
                end = Self::piece_end(first);
            }
        }
        Span { start, end: end.max(start) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_map_bytewise_and_macros_map_to_their_use() {
        let mut e = Expansion::default();
        e.push_copy(0, 0, "$a = ");
        e.push_macro(0, Span::new(5, 8), "1 + 2");
        e.push_copy(0, 8, ";\n");
        e.push_copy(1, 100, "@x = 1;");
        assert_eq!(e.text, "$a = 1 + 2;\n@x = 1;");
        assert_eq!(e.map_span(Span::new(0, 2)), Span::new(0, 2));
        assert_eq!(e.map_span(Span::new(7, 8)), Span::new(5, 8), "inside the expansion: the macro's name");
        assert_eq!(e.map_span(Span::new(0, 11)), Span::new(0, 9));
        assert_eq!(e.map_span(Span::new(12, 14)), Span::new(100, 102));
        assert_eq!(e.map_span(Span::new(10, 14)), Span::new(8, 10), "clipped to the first file");
    }
}
