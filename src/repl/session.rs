//! The session's entries: what was typed, as the checker sees it.
//!
//! A new entry is checked and compiled together with every earlier entry
//! (appended last), so maps are typed exactly as in a script and a conflict
//! is reported in the new entry. Only the new entry's programs are loaded,
//! by the runtime's [`flowtrace_runtime::Session`], against the maps and
//! ring buffer of the earlier ones; it also refuses a compilation that
//! would change them. Detached entries stay in the text, so ids never move
//! and their maps keep their types.

use super::assemble::{Assembly, Piece};
use super::lookup;
use super::shared::{lock, Shared};
use flowtrace_codegen::compile::CompileOptions;
use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_lang::ast::Item;
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::typed::TypedProgram;
use flowtrace_lang::{CheckOptions, Source, Span};
use flowtrace_runtime::session::{compile_for_kernel, render_runtime_error, AddError, Added, Run};
use std::sync::{Arc, Mutex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// Probe blocks (and any declarations typed with them).
    Probes,
    /// Only `let @m = …;` declarations.
    Declarations,
    /// Top-level statements that created a map: kept so the map keeps its
    /// type; never run again.
    State,
}

pub struct Entry {
    /// Probe entries' id for `.probes`/`.detach`; 0 for the others.
    pub id: u32,
    pub kind: EntryKind,
    pub piece: Piece,
    /// What `.save` writes for it.
    pub saved: String,
    pub live: bool,
}

/// What a successful entry did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Attached { id: u32, attach: Vec<String> },
    Declared,
    Ran,
    /// Bare map reads answered from the session's maps.
    Printed,
}

/// How an entry is run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Probes and declarations, as typed.
    Items,
    /// Statements wrapped in a one-shot `BEGIN`; `only_bare_maps` when every
    /// one is a bare `@m[k]` (see [`lookup`]).
    Statements { only_bare_maps: bool },
}

pub struct Session<'k> {
    kernel: &'k KernelInfo,
    compile_opts: CompileOptions,
    pub entries: Vec<Entry>,
    pub shared: Arc<Mutex<Shared>>,
    /// A kernel-plan notice (kprobes run as fentry) is said once.
    notice_shown: bool,
}

impl<'k> Session<'k> {
    pub fn new(kernel: &'k KernelInfo, compile_opts: CompileOptions, shared: Arc<Mutex<Shared>>) -> Self {
        Session { kernel, compile_opts, entries: Vec::new(), shared, notice_shown: false }
    }

    /// Checks, compiles, loads and attaches (or, for statements, runs) one
    /// entry. On failure nothing changes and the message is rendered
    /// against what was typed. `warnings` receives rendered warnings.
    pub fn submit(&mut self, piece: Piece, saved: String, kind: Kind, warnings: &mut String) -> Result<Outcome, String> {
        let pieces: Vec<&Piece> = self.entries.iter().map(|e| &e.piece).chain(std::iter::once(&piece)).collect();
        let assembly = Assembly::new(pieces);
        let start = assembly.last_start();
        let source = Source::new("<session>", assembly.text.clone());
        let ast = flowtrace_lang::parse(&source).map_err(|d| assembly.render(&d))?;
        let has_probes = ast.items.iter().any(|i| matches!(i, Item::Probe(p) if p.span.start as usize >= start));
        let typed = flowtrace_lang::check(&ast, self.kernel, &interactive_options()).map_err(|d| assembly.render(&d))?;
        // A declaration typed on its own is used by later entries: that it
        // is unused so far is no news in a session.
        let new_warnings: Vec<Diagnostic> = typed
            .warnings
            .iter()
            .filter(|w| w.span.start as usize >= start && !w.message.ends_with("is declared but never used"))
            .cloned()
            .collect();
        warnings.push_str(&assembly.render(&new_warnings));
        if kind == (Kind::Statements { only_bare_maps: true }) && self.print_lookups(&typed, start, &piece.typed) {
            return Ok(Outcome::Printed);
        }
        let render = |d: &[Diagnostic]| assembly.render(d);
        let for_kernel = compile_for_kernel(&typed, &self.compile_opts).map_err(|f| f.render(&render))?;
        if let Some(notice) = for_kernel.notice.as_ref().filter(|_| !self.notice_shown) {
            warnings.push_str(&format!("{notice}\n"));
            self.notice_shown = true;
        }
        for warning in &for_kernel.warnings {
            warnings.push_str(&format!("{warning}\n"));
        }
        let runnable = for_kernel.runnable();
        let compiled = for_kernel.program;
        let which: Vec<usize> = runnable.into_iter().filter(|&i| compiled.programs[i].attach.span.start as usize >= start).collect();
        let run = if matches!(kind, Kind::Statements { .. }) { Run::Once } else { Run::Attach };
        let added = {
            let mut shared = lock(&self.shared);
            let mut added = shared.session.add(&compiled, &which, run);
            // An iterator entry runs its iteration now and is gone, as a
            // script with one ends (its END runs; the maps stay).
            if let Ok(Added::Attached { id, .. }) = &added {
                if which.iter().any(|&i| compiled.programs[i].kind == flowtrace_codegen::object::ProgramKind::Iter) {
                    let id = *id;
                    let ran = shared.session.run_iterators(&crate::signals::received);
                    shared.session.detach(Some(&[id]));
                    added = ran.map(|_| Added::Ran { kept: true }).map_err(AddError::Runtime);
                }
            }
            shared.drain();
            if added.is_ok() {
                shared.publish_metrics(&assembly.text, &typed);
            }
            added
        };
        let (outcome, entry_kind, id) = match added {
            Ok(Added::Attached { id, attach }) => (Outcome::Attached { id, attach }, EntryKind::Probes, id),
            Ok(Added::Declared) => (Outcome::Declared, if has_probes { EntryKind::Probes } else { EntryKind::Declarations }, 0),
            Ok(Added::Ran { kept: false }) => return Ok(Outcome::Ran),
            Ok(Added::Ran { kept: true }) => (Outcome::Ran, EntryKind::State, 0),
            Err(AddError::Conflict(c)) => {
                let span = first_use(&assembly.text, start, &c.map);
                return Err(assembly.render(&[Diagnostic::error(span, format!("this entry changes map @{}, which earlier entries use: {}", c.map, c.why))
                    .with_hint("a map keeps the key and value types (and declaration) it was created with, and a literal key or value takes them only when it fits; use a new map name")]));
            }
            Err(AddError::Runtime(e)) => return Err(render_runtime_error(e, &compiled, &render)),
        };
        let mut piece = piece;
        if piece.label == "<input>" {
            // Later diagnostics that point here name the entry.
            piece.label = if id != 0 { format!("<probe {id}>") } else { format!("<entry {}>", self.entries.len() + 1) };
        }
        self.entries.push(Entry { id, kind: entry_kind, piece, saved, live: id != 0 });
        Ok(outcome)
    }

    /// Bare `@m[k]` reads with constant keys, printed from the session's
    /// maps (every CPU's share summed); `false` to run the entry instead.
    fn print_lookups(&self, typed: &TypedProgram, start: usize, text: &str) -> bool {
        let Some(probe) = typed.probes.iter().rev().find(|p| p.span.start as usize >= start) else { return false };
        let Some(lookups) = lookup::lookups(probe) else { return false };
        let mut shared = lock(&self.shared);
        for l in lookups {
            let name = &typed.maps[l.map.0 as usize].name;
            let Some(id) = shared.session.maps().find(name) else { return false };
            match shared.session.maps().snapshot(id) {
                Ok(snap) => {
                    let picked = lookup::pick(snap, &l.key);
                    if picked.entries.is_empty() {
                        errln!("{}: no such key in @{name}", text.trim());
                    } else {
                        let _ = shared.session.sink().map(&picked, 0, 0);
                    }
                }
                Err(e) => errln!("flowtrace: error: {e}"),
            }
        }
        true
    }

    /// Marks entries detached (the caller detached them in `Shared`).
    pub fn mark_detached(&mut self, ids: &[u32]) {
        for e in &mut self.entries {
            if ids.contains(&e.id) {
                e.live = false;
            }
        }
    }

    /// Whether `text` checks as a script on its own (for `.save`); the
    /// rendered diagnostics if not.
    pub fn check_script(&self, label: &str, text: &str) -> Result<(), String> {
        let source = Source::new(label, text);
        let ast = flowtrace_lang::parse(&source).map_err(|d| flowtrace_lang::diag::render_all(&d, &source))?;
        flowtrace_lang::check(&ast, self.kernel, &interactive_options())
            .map(|_| ())
            .map_err(|d| flowtrace_lang::diag::render_all(&d, &source))
    }
}

/// The first `@name` at or after `from` in `text` (the whole rest if none).
fn first_use(text: &str, from: usize, name: &str) -> Span {
    let needle = format!("@{name}");
    let mut at = from;
    while let Some(i) = text[at..].find(&needle) {
        let s = at + i;
        let after = text[s + needle.len()..].chars().next();
        if !after.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Span::new(s, s + needle.len());
        }
        at = s + needle.len();
    }
    Span::new(from, text.len().max(from))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_use_finds_the_whole_name() {
        let text = "old @mm\nnew @mm2 @mm[1]";
        let s = first_use(text, 8, "mm");
        assert_eq!(&text[s.range()], "@mm");
        assert_eq!(s.start, 17);
    }
}

/// How the session checks its text: as a script, except that an `iter:`
/// entry need not be the only probe (it runs when typed and is gone).
fn interactive_options() -> CheckOptions {
    CheckOptions { interactive: true, ..CheckOptions::default() }
}
