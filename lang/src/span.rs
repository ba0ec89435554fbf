//! Byte-offset spans into one source text, and the source text itself.
//!
//! A program can span several files (`#include "defs.h"`). Spans are offsets
//! into one joint space: the main text first, then each included file at its
//! own base offset past it (see [`Source::included`]). Diagnostics find the
//! file a span falls into and render against that file.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A half-open byte range `[start, end)` into a [`Source`]'s text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Span {
        Span { start: start as u32, end: end as u32 }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A named source text: a `.ft` file, a `-e` one-liner or a REPL entry.
#[derive(Clone, Debug)]
pub struct Source {
    /// Shown in diagnostics: the file path, `<stdin>`, or `-e`.
    pub name: String,
    pub text: String,
    /// Where the preprocessor looks for `#include "…"` files.
    pub includes: IncludeSetup,
    /// The files `#include "…"` pulled in, recorded by the parser so that
    /// diagnostics can show their lines. Shared by clones of this source.
    included: Arc<Mutex<Vec<IncludedFile>>>,
}

/// Where `#include "file"` is looked up, as bpftrace does it: next to the
/// script, then in each `-I DIR`; `--include FILE`s come before the script.
#[derive(Clone, Debug, Default)]
pub struct IncludeSetup {
    /// The script's own directory; `None` for `-e` and standard input (the
    /// current directory is used then, as a C compiler does).
    pub script_dir: Option<PathBuf>,
    pub dirs: Vec<PathBuf>,
    pub pre_includes: Vec<String>,
}

/// One file read by `#include "…"`: its spans start at `base`.
#[derive(Clone, Debug)]
pub struct IncludedFile {
    pub name: String,
    pub text: Arc<str>,
    pub base: u32,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Source {
        Source {
            name: name.into(),
            text: text.into(),
            includes: IncludeSetup::default(),
            included: Arc::default(),
        }
    }

    pub fn with_includes(mut self, includes: IncludeSetup) -> Source {
        self.includes = includes;
        self
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: u32) -> (usize, usize) {
        let offset = (offset as usize).min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.text[line_start..offset].chars().count() + 1;
        (line, col)
    }

    /// The text of the 1-based line `line`, without its newline.
    pub fn line_text(&self, line: usize) -> &str {
        self.text.split('\n').nth(line - 1).unwrap_or("").trim_end_matches('\r')
    }

    /// Where the next included file's spans start: past the main text and
    /// every file included so far, with a gap so that no span is in two files.
    pub(crate) fn next_include_base(&self) -> u32 {
        let files = self.included.lock().unwrap_or_else(|e| e.into_inner());
        let end = files.last().map_or(self.text.len(), |f| f.base as usize + f.text.len());
        end as u32 + 1
    }

    /// Records a file the preprocessor read (in base order).
    pub(crate) fn record_include(&self, file: IncludedFile) {
        self.included.lock().unwrap_or_else(|e| e.into_inner()).push(file);
    }

    /// Forget earlier included files: a new preprocessing run starts over.
    pub(crate) fn clear_includes(&self) {
        self.included.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The included file `span` falls into, as a source of its own with the
    /// span made relative to it; `None` when it is in the main text.
    pub fn included_file_of(&self, span: Span) -> Option<(Source, Span)> {
        if span.start as usize <= self.text.len() {
            return None;
        }
        let files = self.included.lock().unwrap_or_else(|e| e.into_inner());
        let file = files.iter().rev().find(|f| f.base <= span.start)?;
        let local = |o: u32| (o - file.base).min(file.text.len() as u32);
        let span = Span { start: local(span.start), end: local(span.end.max(span.start)) };
        Some((Source::new(file.name.clone(), file.text.to_string()), span))
    }
}
