//! The C preprocessor subset that bpftrace scripts use, run before parsing.
//!
//! bpftrace runs clang's preprocessor over a script; its own tools start with
//! `#ifndef BPFTRACE_HAVE_BTF` … `#include <net/sock.h>` … `#endif`. flowtrace
//! always resolves types from BTF, so it defines `BPFTRACE_HAVE_BTF` and
//! ignores `#include <…>` (kernel and libc headers). What scripts rely on is
//! real: `#define` (object- and function-like), `#undef`, conditionals with
//! C's evaluation, `#include "file"` (next to the script, then `-I` dirs),
//! `#error`.
//!
//! The output keeps every line of the script in place (directives and
//! skipped lines become blanks), and [`Expansion`] maps each output byte back
//! to the file and offset it came from, so diagnostics point at the source.

mod eval;
mod expand;
mod map;

pub use map::Expansion;

use crate::diag::Diagnostic;
use crate::span::{IncludedFile, Source, Span};
use expand::{expand_parts, is_ident_char, is_ident_start, span_at, Macro, Macros, Part};
use std::path::{Path, PathBuf};

/// Macros every script sees. flowtrace reads every type from BTF, so a script's
/// `#ifndef BPFTRACE_HAVE_BTF` branch (kernel headers) is never needed.
const PREDEFINED: [(&str, &str); 1] = [("BPFTRACE_HAVE_BTF", "1")];

/// Deepest `#include` nesting: deeper is a mistake (a cycle through
/// differently spelled paths), not a program.
const MAX_INCLUDE_DEPTH: usize = 32;

/// Past this much output the script is refused: expansion has run away.
const MAX_OUTPUT: usize = 16 << 20;

/// Preprocess `source` (reading its `#include "…"` files, which are recorded
/// in it for rendering diagnostics).
pub fn run(source: &Source) -> Result<Expansion, Vec<Diagnostic>> {
    source.clear_includes();
    let mut pre = Pre {
        source,
        macros: PREDEFINED
            .iter()
            .map(|(n, v)| (n.to_string(), Macro { params: None, variadic: false, body: v.to_string() }))
            .collect(),
        conds: Vec::new(),
        out: Expansion::default(),
        diags: Vec::new(),
        stack: Vec::new(),
        files: 0,
    };
    // `--include FILE` is named on the command line: relative to the
    // current directory, and an error when it is missing.
    let command_line = File { text: "", base: 0, id: 0, dir: None };
    for path in &source.includes.pre_includes {
        pre.include_quoted(&command_line, path, Span::new(0, 0), true);
    }
    let main = File { text: &source.text, base: 0, id: 0, dir: source.includes.script_dir.clone() };
    pre.file(&main);
    if pre.diags.iter().any(Diagnostic::is_error) {
        return Err(pre.diags);
    }
    Ok(pre.out)
}

struct Pre<'s> {
    source: &'s Source,
    macros: Macros,
    conds: Vec<Cond>,
    out: Expansion,
    diags: Vec<Diagnostic>,
    /// The files being included, innermost last: a file that includes one of
    /// them is a cycle.
    stack: Vec<PathBuf>,
    /// Files read so far; each gets the next id.
    files: u32,
}

/// One open `#if`/`#ifdef`/`#ifndef`.
struct Cond {
    at: Span,
    /// Whether the text around the conditional is active.
    outer: bool,
    /// Whether some branch was taken already (later `#elif`/`#else` are not).
    taken: bool,
    active: bool,
    else_at: Option<Span>,
}

/// A file being preprocessed: its text starts at `base` in the joint span space.
struct File<'t> {
    text: &'t str,
    base: u32,
    id: u32,
    /// Where its `#include "…"` look first; `None`: the current directory.
    dir: Option<PathBuf>,
}

/// One directive line (continuations joined), split into its parts.
struct Directive<'a> {
    name: &'a str,
    rest: String,
    /// The whole directive, and its name, in the joint span space.
    span: Span,
    name_span: Span,
}

impl Pre<'_> {
    fn active(&self) -> bool {
        self.conds.last().is_none_or(|c| c.active)
    }

    fn error(&mut self, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.diags.push(Diagnostic::error(span, message));
        self.diags.last_mut().expect("just pushed")
    }

    fn file(&mut self, file: &File) {
        let text = file.text;
        let open_conds = self.conds.len();
        let mut pos = if file.id == 0 { crate::parser::shebang_len(text) } else { 0 };
        self.blank(file, 0..pos);
        let mut pending: Option<usize> = None;
        let mut in_comment = false;
        while pos < text.len() && self.out.text.len() <= MAX_OUTPUT {
            let line_end = text[pos..].find('\n').map_or(text.len(), |i| pos + i + 1);
            if !in_comment && text[pos..line_end].trim_start().starts_with('#') {
                let end = continued_line_end(text, line_end);
                self.flush(file, &mut pending, pos);
                self.blank(file, pos..end);
                self.directive(file, pos..end);
                pos = end;
                continue;
            }
            in_comment = ends_in_comment(&text[pos..line_end], in_comment);
            if self.active() {
                pending.get_or_insert(pos);
            } else {
                self.flush(file, &mut pending, pos);
                self.blank(file, pos..line_end);
            }
            pos = line_end;
        }
        self.flush(file, &mut pending, text.len());
        if self.out.text.len() > MAX_OUTPUT {
            self.error(Span::new(file.base as usize, file.base as usize), "the preprocessed program is too large")
                .hints
                .push(format!("macro expansion and #include produced more than {MAX_OUTPUT} bytes"));
        }
        for cond in self.conds.split_off(open_conds) {
            self.error(cond.at, "unterminated conditional: no #endif closes it")
                .hints
                .push("every #if, #ifdef and #ifndef needs an #endif in the same file".into());
        }
    }

    /// Copy `range` of the file as blanks (newlines kept), so that lines and
    /// columns of the text after it stay where they are.
    fn blank(&mut self, file: &File, range: std::ops::Range<usize>) {
        let blanks: String = file.text.as_bytes()[range.clone()]
            .iter()
            .map(|&b| if b == b'\n' { '\n' } else { ' ' })
            .collect();
        self.out.push_copy(file.id, file.base + range.start as u32, &blanks);
    }

    /// Expand the active text from `pending` up to `end` into the output.
    fn flush(&mut self, file: &File, pending: &mut Option<usize>, end: usize) {
        let Some(start) = pending.take() else { return };
        let chunk = &file.text[start..end];
        let base = file.base + start as u32;
        match expand_parts(chunk, &self.macros) {
            Ok(parts) => {
                for part in parts {
                    match part {
                        Part::Copy(r) => self.out.push_copy(file.id, base + r.start as u32, &chunk[r]),
                        Part::Macro { used, text } => self.out.push_macro(file.id, span_at(base, used), &text),
                    }
                }
            }
            Err(e) => {
                self.error(span_at(base, e.at), e.message);
                self.out.push_copy(file.id, base, chunk);
            }
        }
    }

    fn directive(&mut self, file: &File, range: std::ops::Range<usize>) {
        let raw = &file.text[range.clone()];
        let lead = raw.len() - raw.trim_start().len() + 1; // past the '#'
        let after_hash = &raw[lead..];
        let name_off = lead + (after_hash.len() - after_hash.trim_start().len());
        let name_len = raw[name_off..].bytes().take_while(|&b| is_ident_char(b)).count();
        let at = |a: usize, b: usize| Span::new(file.base as usize + range.start + a, file.base as usize + range.start + b);
        let trimmed = raw.trim_end().len();
        let d = Directive {
            name: &raw[name_off..name_off + name_len],
            rest: strip_comments(&raw[name_off + name_len..].replace("\\\r\n", " ").replace("\\\n", " ")),
            span: at(raw.len() - raw.trim_start().len(), trimmed),
            name_span: at(lead - 1, name_off + name_len),
        };
        match d.name {
            "if" | "ifdef" | "ifndef" => self.open_cond(&d),
            "elif" | "else" | "endif" => self.continue_cond(&d),
            _ if !self.active() => {}
            "define" => self.define(&d),
            "undef" => {
                let name = d.rest.trim();
                if !is_name(name) {
                    self.error(d.span, "#undef needs a macro name");
                }
                self.macros.remove(name);
            }
            "include" => self.include(file, &d),
            "error" => {
                let message = d.rest.trim();
                self.error(d.span, format!("#error {message}"));
            }
            // bpftrace's clang ignores pragmas it does not know; `once` is
            // what headers use, and a header read twice only redefines.
            "pragma" | "" => {}
            other => {
                let message = format!("unknown preprocessor directive '#{other}'");
                self.error(d.name_span, message).hints.push(
                    "flowtrace's preprocessor knows #include, #define, #undef, #if, #ifdef, #ifndef, #elif, #else, #endif, #error and #pragma".into(),
                );
            }
        }
    }

    fn open_cond(&mut self, d: &Directive) {
        let outer = self.active();
        let active = outer && self.test(d);
        self.conds.push(Cond { at: d.span, outer, taken: active, active, else_at: None });
    }

    /// Whether the condition of an `#if`, `#elif`, `#ifdef` or `#ifndef` holds.
    fn test(&mut self, d: &Directive) -> bool {
        let arg = d.rest.trim();
        match d.name {
            "ifdef" | "ifndef" => {
                if !is_name(arg) {
                    self.error(d.span, format!("#{} needs one macro name", d.name));
                    return false;
                }
                self.macros.contains_key(arg) == (d.name == "ifdef")
            }
            _ => match eval::condition(arg, &self.macros) {
                Ok(value) => value,
                Err(message) => {
                    self.error(d.span, message);
                    false
                }
            },
        }
    }

    fn continue_cond(&mut self, d: &Directive) {
        let Some(cond) = self.conds.last() else {
            self.error(d.name_span, format!("#{} without #if", d.name));
            return;
        };
        if let (Some(else_at), true) = (cond.else_at, d.name != "endif") {
            let (line, col) = self.source.line_col(else_at.start);
            self.error(d.name_span, format!("#{} after #else", d.name)).hints.push(format!("the #else is at {line}:{col}"));
            return;
        }
        match d.name {
            "endif" => {
                self.conds.pop();
            }
            "else" => {
                let cond = self.conds.last_mut().expect("checked above");
                cond.active = cond.outer && !cond.taken;
                cond.taken = true;
                cond.else_at = Some(d.span);
            }
            _ => {
                let (outer, taken) = (cond.outer, cond.taken);
                let active = outer && !taken && self.test(d);
                let cond = self.conds.last_mut().expect("checked above");
                cond.active = active;
                cond.taken |= active;
            }
        }
    }

    fn define(&mut self, d: &Directive) {
        let rest = d.rest.trim_start();
        let len = rest.bytes().take_while(|&b| is_ident_char(b)).count();
        let name = &rest[..len];
        if !is_name(name) {
            self.error(d.span, "#define needs a macro name").hints.push("write '#define NAME value' or '#define NAME(a, b) body'".into());
            return;
        }
        let after = &rest[len..];
        let mac = match after.strip_prefix('(') {
            None => Macro { params: None, variadic: false, body: after.trim().to_string() },
            Some(params) => {
                let Some(close) = params.find(')') else {
                    self.error(d.span, format!("missing ')' in the parameters of macro '{name}'"));
                    return;
                };
                let mut list: Vec<String> = params[..close].split(',').map(|p| p.trim().to_string()).collect();
                if list.len() == 1 && list[0].is_empty() {
                    list.clear();
                }
                let variadic = list.last().is_some_and(|p| p == "...");
                if variadic {
                    list.pop();
                }
                if let Some(bad) = list.iter().find(|p| !is_name(p)) {
                    self.error(d.span, format!("'{bad}' is not a parameter name of macro '{name}'"));
                    return;
                }
                Macro { params: Some(list), variadic, body: params[close + 1..].trim().to_string() }
            }
        };
        self.macros.insert(name.to_string(), mac);
    }

    fn include(&mut self, file: &File, d: &Directive) {
        let arg = d.rest.trim();
        if arg.len() > 2 && arg.starts_with('<') && arg.ends_with('>') {
            return; // kernel and libc headers: BTF has the types, flowtrace the constants
        }
        match arg.strip_prefix('"').and_then(|a| a.strip_suffix('"')).filter(|a| !a.is_empty()) {
            Some(path) => self.include_quoted(file, path, d.span, false),
            None => {
                self.error(d.span, "malformed #include").hints.push("write '#include \"file.h\"' or '#include <file.h>'".into());
            }
        }
    }

    /// `#include "path"`: next to the including file, then in each `-I`
    /// directory. A path found nowhere is taken, as C does, for a system
    /// header, which BTF replaces; unless it is explicitly relative or
    /// absolute, or `required` (named by `--include`).
    fn include_quoted(&mut self, from: &File, path: &str, at: Span, required: bool) {
        let mut dirs: Vec<PathBuf> = vec![from.dir.clone().unwrap_or_else(|| PathBuf::from("."))];
        dirs.extend(self.source.includes.dirs.iter().cloned());
        let found = dirs.iter().map(|d| d.join(path)).find(|p| p.is_file());
        let Some(found) = found else {
            if required || path.starts_with("./") || path.starts_with("../") || Path::new(path).is_absolute() {
                let searched: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
                self.error(at, format!("cannot find included file '{path}'")).hints.push(format!("searched {}", searched.join(", ")));
            }
            return;
        };
        let canonical = found.canonicalize().unwrap_or_else(|_| found.clone());
        if self.stack.contains(&canonical) {
            self.error(at, format!("#include of '{path}' is recursive: it is already being included")).hints.push(
                "guard the file with '#ifndef NAME' / '#define NAME' … '#endif', or include it only once".into(),
            );
            return;
        }
        if self.stack.len() >= MAX_INCLUDE_DEPTH {
            self.error(at, format!("#include nested more than {MAX_INCLUDE_DEPTH} deep"));
            return;
        }
        let text = match std::fs::read_to_string(&found) {
            Ok(text) => text,
            Err(e) => {
                self.error(at, format!("cannot read included file '{}': {e}", found.display()));
                return;
            }
        };
        let base = self.source.next_include_base();
        self.source.record_include(IncludedFile { name: found.display().to_string(), text: text.as_str().into(), base });
        self.files += 1;
        let included = File { text: &text, base, id: self.files, dir: found.parent().map(Path::to_path_buf) };
        self.stack.push(canonical);
        self.file(&included);
        self.stack.pop();
        if !text.ends_with('\n') {
            self.out.push_macro(from.id, at, "\n");
        }
    }
}

fn is_name(text: &str) -> bool {
    text.as_bytes().first().is_some_and(|&b| is_ident_start(b)) && text.bytes().all(is_ident_char)
}

/// The end of a directive that continues over lines ending in `\`.
fn continued_line_end(text: &str, mut end: usize) -> usize {
    while end < text.len() && text[..end].trim_end_matches(['\n', '\r']).ends_with('\\') {
        end = text[end..].find('\n').map_or(text.len(), |i| end + i + 1);
    }
    end
}

/// Whether a `/* … */` comment is still open at the end of `line`.
fn ends_in_comment(line: &str, mut in_comment: bool) -> bool {
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match (in_comment, bytes[i], bytes.get(i + 1)) {
            (true, b'*', Some(b'/')) => (in_comment, i) = (false, i + 1),
            (false, b'/', Some(b'*')) => (in_comment, i) = (true, i + 1),
            (false, b'/', Some(b'/')) => return false,
            (false, b'"', _) => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        i += 1;
    }
    in_comment
}

/// A directive's argument without its `//` and `/* */` comments (strings kept).
fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find(['/', '"']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("//") {
            return out;
        } else if let Some(body) = tail.strip_prefix("/*") {
            out.push(' ');
            rest = body.find("*/").map_or("", |j| &body[j + 2..]);
        } else if tail.starts_with('"') {
            let end = string_end(tail);
            out.push_str(&tail[..end]);
            rest = &tail[end..];
        } else {
            out.push('/');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// Length of the string literal at the start of `text` (to its closing quote).
fn string_end(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 1;
    while i < bytes.len() && bytes[i] != b'"' {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    (i + 1).min(text.len())
}

#[cfg(test)]
mod tests;
