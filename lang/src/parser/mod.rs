//! Source text → [`ast::Program`](crate::ast::Program), or diagnostics.
//!
//! Three steps:
//! 1. [`scan`]: a lexical pre-pass finds unterminated strings and comments and
//!    cuts the text into top-level chunks;
//! 2. pest (`grammar.pest`) parses each chunk; a failure becomes one
//!    diagnostic per chunk ([`errors`]), so independent mistakes in different
//!    probes are all reported;
//! 3. the builders ([`items`], [`expr`]) turn pest pairs into the AST with
//!    absolute spans, checking what the grammar accepts loosely (attach points
//!    in [`attach`], literals in [`literal`]) and collecting every error.

mod attach;
mod errors;
mod expr;
mod items;
mod literal;
mod records;
mod scan;

use crate::ast::Program;
use crate::diag::Diagnostic;
use crate::preprocess::Expansion;
use crate::span::{Source, Span};
use pest::iterators::Pair;
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "grammar.pest"]
struct Grammar;

/// Whether `text` stops inside a `{`, `(`, `[` or `/*` it opened: typed at
/// an interactive prompt, it continues on the next line. (Strings and
/// comments are skipped as the parser skips them.)
pub fn is_unfinished(text: &str) -> bool {
    scan::scan(text, scan::skip_shebang(text)).unfinished
}

/// Length of a `#!` interpreter line at the start of `text`, if there is one.
pub(crate) fn shebang_len(text: &str) -> usize {
    scan::skip_shebang(text)
}

/// Parse a whole program, after running the preprocessor over it. On
/// failure, every error found, in source order. Spans point into `source`
/// (and the files it includes), not into the preprocessed text.
pub fn parse(source: &Source) -> Result<Program, Vec<Diagnostic>> {
    let expansion = crate::preprocess::run(source)?;
    let text = expansion.text.as_str();
    let mapped = |mut diags: Vec<Diagnostic>| {
        for d in &mut diags {
            d.span = expansion.map_span(d.span);
        }
        diags
    };
    let scanned = scan::scan(text, 0);
    if !scanned.errors.is_empty() {
        return Err(mapped(scanned.errors));
    }
    // Positions the syntax-error hints mention ("the '{' at 3:7"), as the
    // user sees them.
    let line_col = |offset: usize| {
        let at = expansion.map_span(Span::new(offset, offset));
        match source.included_file_of(at) {
            Some((file, local)) => file.line_col(local.start),
            None => source.line_col(at.start),
        }
    };
    let mut builder =
        Builder { base: 0, expansion: &expansion, diags: Vec::new(), depth: 0, too_deep_reported: false, macros: Vec::new() };
    let mut items = Vec::new();
    for chunk in &scanned.chunks {
        if builder.diags.len() >= MAX_ERRORS {
            let at = expansion.map_span(Span::new(chunk.range.start, chunk.range.start));
            builder.diags.push(Diagnostic::note(at, format!("stopping after {MAX_ERRORS} errors")));
            break;
        }
        match Grammar::parse(Rule::program, &text[chunk.range.clone()]) {
            Ok(mut pairs) => {
                builder.base = chunk.range.start;
                if let Some(program) = pairs.next() {
                    builder.items(program, &mut items);
                }
            }
            Err(error) => {
                let mut diag = errors::syntax_error(&error, text, &line_col, chunk);
                diag.span = expansion.map_span(diag.span);
                builder.diags.push(diag);
            }
        }
    }
    let macros = std::mem::take(&mut builder.macros);
    builder.diags.extend(crate::macros::expand(&mut items, macros));
    if builder.diags.is_empty() {
        Ok(Program { items, span: Span::new(0, source.text.len()) })
    } else {
        builder.diags.sort_by_key(|d| (d.span.start, d.span.end));
        Err(builder.diags)
    }
}

/// After this many errors the rest of the program is not parsed: the first
/// errors are the useful ones, and rendering each one costs a pass over the text.
const MAX_ERRORS: usize = 20;

/// Deepest expression/statement nesting the AST may have. Later passes walk
/// the tree recursively (and so does `Drop`); a bound keeps hostile input from
/// overflowing their stacks.
const MAX_DEPTH: u32 = 200;

/// Turns pest pairs into AST nodes; shared by [`items`] and [`expr`].
struct Builder<'e> {
    /// Offset of the chunk being built: pest's positions are relative to it.
    base: usize,
    /// Maps positions of the preprocessed text back to the source.
    expansion: &'e Expansion,
    diags: Vec<Diagnostic>,
    /// Current nesting, see [`MAX_DEPTH`].
    depth: u32,
    too_deep_reported: bool,
    /// `macro` definitions, expanded once the whole program is built.
    macros: Vec<crate::macros::MacroDef>,
}

impl Builder<'_> {
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        self.expansion.map_span(Span::new(self.base + s.start(), self.base + s.end()))
    }

    fn error(&mut self, diag: Diagnostic) {
        self.diags.push(diag);
    }

    /// Enter `levels` of nesting; false (and one diagnostic) past the limit.
    /// Callers that get `true` must [`leave`](Builder::leave) the same levels.
    fn enter(&mut self, levels: u32, span: Span) -> bool {
        if self.depth.saturating_add(levels) <= MAX_DEPTH {
            self.depth += levels;
            return true;
        }
        if !self.too_deep_reported {
            self.too_deep_reported = true;
            self.error(Diagnostic::error(span, "this is nested too deeply")
                .with_hint(format!("flowtrace allows at most {MAX_DEPTH} levels of nested expressions and blocks")));
        }
        false
    }

    fn leave(&mut self, levels: u32) {
        self.depth -= levels;
    }
}
