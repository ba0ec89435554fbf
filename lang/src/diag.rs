//! Diagnostics: an error or warning against a span, rendered like a compiler does:
//!
//! ```text
//! script.ft:3:14: error: unknown field 'skc_dadr' in 'struct sock_common'
//!     $d = $sk->__sk_common.skc_dadr;
//!                           ^~~~~~~~
//!   = hint: did you mean 'skc_daddr'?
//! ```

use crate::span::{Source, Span};
use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
    /// Rendered after the source excerpt, each as `  = hint: …`.
    pub hints: Vec<String>,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Error, span, message: message.into(), hints: Vec::new() }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, span, message: message.into(), hints: Vec::new() }
    }

    pub fn note(span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Note, span, message: message.into(), hints: Vec::new() }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hints.push(hint.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Render against `source`: location line, the source line, a caret and
    /// tildes under the span (clipped to the first line of a multi-line span),
    /// then the hints.
    pub fn render(&self, source: &Source) -> String {
        if let Some((file, span)) = source.included_file_of(self.span) {
            return Diagnostic { span, ..self.clone() }.render(&file);
        }
        let (line, col) = source.line_col(self.span.start);
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        let mut out = String::new();
        let _ = writeln!(out, "{}:{}:{}: {}: {}", source.name, line, col, label, self.message);
        let text = source.line_text(line);
        if !source.text.is_empty() {
            let _ = writeln!(out, "{text}");
            let line_chars = text.chars().count();
            let (end_line, end_col) = source.line_col(self.span.end);
            let width = if end_line == line {
                end_col.saturating_sub(col).max(1)
            } else {
                line_chars.saturating_sub(col - 1).max(1)
            };
            // Keep tabs so the caret lines up under tab-indented source.
            let pad: String = text
                .chars()
                .take(col - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = writeln!(out, "{pad}^{}", "~".repeat(width - 1));
        }
        for hint in &self.hints {
            let _ = writeln!(out, "  = hint: {hint}");
        }
        out
    }
}

/// Render all diagnostics, in source order, separated as a compiler does.
pub fn render_all(diags: &[Diagnostic], source: &Source) -> String {
    let mut sorted: Vec<&Diagnostic> = diags.iter().collect();
    sorted.sort_by_key(|d| (d.span.start, d.span.end));
    sorted.iter().map(|d| d.render(source)).collect()
}

/// Closest candidates to `name` for a "did you mean" hint (Levenshtein distance
/// at most a third of the name's length, at least 1; best first; at most 3).
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter(|c| *c != name)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.dedup();
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

/// A hint sentence for [`did_you_mean`]'s result, if there is any candidate.
pub fn did_you_mean_hint<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let found = did_you_mean(name, candidates);
    match found.as_slice() {
        [] => None,
        [one] => Some(format!("did you mean '{one}'?")),
        many => {
            let quoted: Vec<String> = many.iter().map(|c| format!("'{c}'")).collect();
            Some(format!("did you mean one of {}?", quoted.join(", ")))
        }
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_span() {
        let src = Source::new("s.ft", "kprobe:f {\n  $d = $sk->x.skc_dadr;\n}\n");
        let start = src.text.find("skc_dadr").unwrap();
        let d = Diagnostic::error(Span::new(start, start + 8), "unknown field 'skc_dadr' in 'struct sock_common'")
            .with_hint("did you mean 'skc_daddr'?");
        assert_eq!(
            d.render(&src),
            "s.ft:2:15: error: unknown field 'skc_dadr' in 'struct sock_common'\n  $d = $sk->x.skc_dadr;\n              ^~~~~~~~\n  = hint: did you mean 'skc_daddr'?\n"
        );
    }

    #[test]
    fn suggests_close_names() {
        assert_eq!(did_you_mean("skc_dadr", ["skc_daddr", "skc_family", "skc_dport"]), vec!["skc_daddr"]);
        assert!(did_you_mean("zzz", ["skc_daddr"]).is_empty());
    }
}
