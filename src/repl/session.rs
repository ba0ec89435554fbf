//! The session: every accepted entry's text, the maps they share, and the
//! attached probes.
//!
//! A new entry is checked and compiled together with every earlier entry
//! (appended last), so maps are typed exactly as in a script and a conflict
//! is reported in the new entry. Event ids and probe-name indices are
//! assigned in order of appearance, so appending keeps the earlier ones; map
//! ids may move (declared maps are numbered first), so maps are matched by
//! name. [`Session::submit`] verifies both before loading anything. Only the new
//! entry's programs are loaded, against the session's existing maps (same
//! name, same map) and ring buffer. Detached entries stay in the text, so
//! ids never move and their maps keep their types.

use super::assemble::{Assembly, Piece};
use super::shared::{lock, LiveEntry, Shared, View};
use flowtrace_codegen::compile::{compile, CompileOptions};
use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_codegen::object::{CompiledProgram, EventKind, MapRole, MapSpec};
use flowtrace_lang::typed::MapId;
use flowtrace_lang::ast::Item;
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::{CheckOptions, Source, Span};
use flowtrace_runtime::decode::ProbeNames;
use flowtrace_runtime::load::create_map;
use flowtrace_runtime::maps::Maps;
use flowtrace_runtime::{Loaded, RuntimeError};
use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
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
}

pub struct Session<'k> {
    kernel: &'k KernelInfo,
    compile_opts: CompileOptions,
    pub entries: Vec<Entry>,
    next_id: u32,
    /// The accepted entries compiled together.
    accepted: Option<CompiledProgram>,
    /// The session's user maps, by name without `@`.
    user_fds: HashMap<String, OwnedFd>,
    /// Our copy of the ring buffer's fd, for relocating new programs.
    ring_fd: OwnedFd,
    pub shared: Arc<Mutex<Shared>>,
    /// How tc probes attach (`--tc-order`, `--cleanup-stale`), as in a script.
    pub tc: flowtrace_runtime::tc::TcOptions,
}

/// The ring buffer's spec as the compiler would make it.
pub fn ring_spec(opts: &CompileOptions) -> MapSpec {
    MapSpec {
        name: "ft_events".into(),
        map_type: flowtrace_codegen::object::BpfMapType::RingBuf,
        key_size: 0,
        value_size: 0,
        max_entries: opts.ringbuf_bytes,
        role: MapRole::Events,
    }
}

impl<'k> Session<'k> {
    pub fn new(kernel: &'k KernelInfo, compile_opts: CompileOptions, ring_fd: OwnedFd, shared: Arc<Mutex<Shared>>) -> Self {
        Session { kernel, compile_opts, entries: Vec::new(), next_id: 1, accepted: None, user_fds: HashMap::new(), ring_fd, shared, tc: Default::default() }
    }

    /// Checks, compiles, loads and attaches (or, for statements, runs) one
    /// entry. On failure nothing changes and the message is rendered
    /// against what was typed. `warnings` receives rendered warnings.
    pub fn submit(&mut self, piece: Piece, saved: String, statements: bool, warnings: &mut String) -> Result<Outcome, String> {
        let pieces: Vec<&Piece> = self.entries.iter().map(|e| &e.piece).chain(std::iter::once(&piece)).collect();
        let assembly = Assembly::new(pieces);
        let start = assembly.last_start();
        let source = Source::new("<session>", assembly.text.clone());
        let ast = flowtrace_lang::parse(&source).map_err(|d| assembly.render(&d))?;
        let new_items: Vec<&Item> = ast.items.iter().filter(|i| item_span(i).start as usize >= start).collect();
        let has_probes = new_items.iter().any(|i| matches!(i, Item::Probe(_)));
        let typed = flowtrace_lang::check(&ast, self.kernel, &CheckOptions::default()).map_err(|d| assembly.render(&d))?;
        // A declaration typed on its own is used by later entries: that it
        // is unused so far is no news in a session.
        let new_warnings: Vec<Diagnostic> = typed
            .warnings
            .iter()
            .filter(|w| w.span.start as usize >= start && !w.message.ends_with("is declared but never used"))
            .cloned()
            .collect();
        warnings.push_str(&assembly.render(&new_warnings));
        let compiled = compile(&typed, &self.compile_opts).map_err(|d| assembly.render(&d))?;
        if let Some(old) = &self.accepted {
            self.compatible(old, &compiled).map_err(|(name, why)| {
                let span = first_use(&assembly.text, start, &name);
                assembly.render(&[Diagnostic::error(span, format!("this entry changes map @{name}, which earlier entries use: {why}"))
                    .with_hint("a map keeps the key and value types (and declaration) it was created with; use a new map name")])
            })?;
        }
        let which: Vec<usize> =
            (0..compiled.programs.len()).filter(|&i| compiled.programs[i].attach.span.start as usize >= start).collect();
        let (outcome, fresh) = self.load(&compiled, &which, &assembly, statements)?;
        let kind = match (statements, has_probes) {
            (false, true) => EntryKind::Probes,
            (false, false) => EntryKind::Declarations,
            (true, _) => EntryKind::State,
        };
        if !statements || creates_maps(&compiled, &fresh) {
            let id = match outcome {
                Outcome::Attached { id, .. } => id,
                _ => 0,
            };
            self.next_id += u32::from(id != 0);
            let mut piece = piece;
            if piece.label == "<input>" {
                // Later diagnostics that point here name the entry.
                piece.label = if id != 0 { format!("<probe {id}>") } else { format!("<entry {}>", self.entries.len() + 1) };
            }
            self.entries.push(Entry { id, kind, piece, saved, live: id != 0 });
            self.keep_maps(&compiled, fresh);
            self.commit(compiled)?;
        }
        Ok(outcome)
    }

    /// Every map earlier entries created must be the same map in the new
    /// compilation (found by name: a declaration sorts first, so appending
    /// one can renumber the others), and every earlier event must keep its
    /// id and meaning.
    fn compatible(&self, old: &CompiledProgram, new: &CompiledProgram) -> Result<(), (String, String)> {
        for o in user_specs(old) {
            let MapRole::User { name, keys, value, .. } = &o.role else { continue };
            if !self.user_fds.contains_key(name) {
                continue; // not created yet: its type may still settle
            }
            let Some(n) = user_specs(new).find(|n| matches!(&n.role, MapRole::User { name: m, .. } if m == name)) else {
                return Err((name.clone(), "it disappeared (internal error)".into()));
            };
            let MapRole::User { keys: n_keys, value: n_value, .. } = &n.role else { continue };
            let same_layout = (o.map_type, o.key_size, o.value_size, o.max_entries) == (n.map_type, n.key_size, n.value_size, n.max_entries);
            if n_keys != keys || n_value != value || !same_layout {
                let why = format!("it was {} and would become {}", describe(o), describe(n));
                return Err((name.clone(), why));
            }
        }
        let renamed = renumber_events(old, new);
        let moved = renamed.len() > new.events.len()
            || renamed[..] != new.events[..renamed.len()]
            || old.probe_names.len() > new.probe_names.len()
            || old.probe_names[..] != new.probe_names[..old.probe_names.len()];
        if moved {
            return Err((String::new(), "event ids moved (internal error)".into()));
        }
        Ok(())
    }

    /// The fds to relocate `compiled`'s map references with: the session's
    /// maps for user maps and the ring buffer; new ones for maps the
    /// programs `which` use first (returned, indexed like `compiled.maps`).
    /// A map is created only when a program uses it, so a declaration typed
    /// before any use does not fix the map's type too early.
    fn map_fds(&self, compiled: &CompiledProgram, which: &[usize]) -> Result<Vec<Option<OwnedFd>>, RuntimeError> {
        let used: HashSet<u32> =
            which.iter().flat_map(|&i| compiled.programs[i].map_relocs.iter().map(|(_, m)| m.0)).collect();
        (0..compiled.maps.len() as u32)
            .map(|i| {
                let spec = &compiled.maps[i as usize];
                match &spec.role {
                    MapRole::User { name, .. } if self.user_fds.contains_key(name) => Ok(None),
                    MapRole::Events => Ok(None),
                    _ if !used.contains(&i) => Ok(None),
                    _ => create_map(spec).map(Some),
                }
            })
            .collect()
    }

    /// Loads `which` against the session's maps; returns the outcome and the
    /// maps created for it (see [`Session::map_fds`]).
    fn load(
        &self,
        compiled: &CompiledProgram,
        which: &[usize],
        assembly: &Assembly,
        statements: bool,
    ) -> Result<(Outcome, Vec<Option<OwnedFd>>), String> {
        let fresh = self.map_fds(compiled, which).map_err(|e| format!("flowtrace: error: {e}\n"))?;
        let borrowed: Vec<BorrowedFd<'_>> = compiled
            .maps
            .iter()
            .zip(&fresh)
            .map(|(spec, fresh)| match (fresh, &spec.role) {
                (Some(fd), _) => fd.as_fd(),
                (None, MapRole::User { name, .. }) if self.user_fds.contains_key(name) => self.user_fds[name].as_fd(),
                // The ring buffer, or a map no program here uses (any fd
                // will do: nothing is relocated to it).
                (None, _) => self.ring_fd.as_fd(),
            })
            .collect();
        let view = self.view(compiled, &fresh)?;
        let mut shared = lock(&self.shared);
        let mut loaded =
            Loaded::load_selected(compiled, which, &borrowed).map_err(|e| runtime_message(e, compiled, which, assembly))?;
        loaded.tc = self.tc;
        drop(borrowed);
        // Readers decode the new programs' events against the new table and
        // maps from now on; the old view comes back if the entry fails.
        let old_view = shared.swap_view(view);
        if statements {
            let ran = loaded.run_begin();
            shared.drain();
            if ran.is_err() || !creates_maps(compiled, &fresh) {
                shared.swap_view(old_view);
            }
            ran.map_err(|e| runtime_message(e, compiled, which, assembly))?;
            return Ok((Outcome::Ran, fresh));
        }
        if let Err(e) = loaded.run_begin().and_then(|()| loaded.attach_all()) {
            loaded.detach_all();
            shared.drain();
            shared.swap_view(old_view);
            return Err(runtime_message(e, compiled, which, assembly));
        }
        shared.drain();
        let attach: Vec<String> = which.iter().map(|&i| compiled.programs[i].attach.raw.clone()).collect();
        let id = if which.is_empty() { 0 } else { self.next_id };
        if id != 0 {
            shared.live.push(LiveEntry { id, loaded, attach: attach.clone() });
        }
        Ok((if id == 0 { Outcome::Declared } else { Outcome::Attached { id, attach } }, fresh))
    }

    /// What readers need to make sense of `compiled`'s events and maps.
    fn view(&self, compiled: &CompiledProgram, fresh: &[Option<OwnedFd>]) -> Result<View, String> {
        let mut specs = Vec::new();
        let mut fds = Vec::new();
        for (spec, fresh) in compiled.maps.iter().zip(fresh) {
            let MapRole::User { name, .. } = &spec.role else { continue };
            let fd = fresh.as_ref().or_else(|| self.user_fds.get(name));
            specs.push(spec.clone());
            fds.push(fd.and_then(|fd| fd.try_clone().ok()));
        }
        let maps = Maps::from_fds(specs, fds, ProbeNames::of(compiled)).map_err(|e| format!("flowtrace: error: {e}\n"))?;
        Ok(View { maps: Some(maps), kinds: compiled.events.clone(), probe_names: ProbeNames::of(compiled) })
    }

    /// After a successful load: new user maps join the session, the stats
    /// map is kept for its counters; scratch maps live on in the programs
    /// that use them.
    fn keep_maps(&mut self, compiled: &CompiledProgram, fresh: Vec<Option<OwnedFd>>) {
        // The stats slots of these programs: map ids as compiled now.
        let names: Vec<String> = user_specs(compiled)
            .filter_map(|s| match &s.role {
                MapRole::User { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect();
        for (spec, fd) in compiled.maps.iter().zip(fresh) {
            let Some(fd) = fd else { continue };
            match &spec.role {
                MapRole::User { name, .. } => {
                    self.user_fds.insert(name.clone(), fd);
                }
                MapRole::Stats => lock(&self.shared).maps.stats.push((fd, names.clone())),
                _ => {}
            }
        }
    }

    /// The accepted program grows by the new entry.
    fn commit(&mut self, compiled: CompiledProgram) -> Result<(), String> {
        self.accepted = Some(compiled);
        Ok(())
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
        flowtrace_lang::check(&ast, self.kernel, &CheckOptions::default())
            .map(|_| ())
            .map_err(|d| flowtrace_lang::diag::render_all(&d, &source))
    }

    pub fn accepted(&self) -> Option<&CompiledProgram> {
        self.accepted.as_ref()
    }
}

/// Whether the load created a user map (a statement that did is kept).
fn creates_maps(compiled: &CompiledProgram, fresh: &[Option<OwnedFd>]) -> bool {
    compiled.maps.iter().zip(fresh).any(|(s, f)| f.is_some() && matches!(s.role, MapRole::User { .. }))
}

/// `old`'s event table with its map ids translated to `new`'s (by name).
fn renumber_events(old: &CompiledProgram, new: &CompiledProgram) -> Vec<EventKind> {
    let id_of = |c: &CompiledProgram, want: MapId| -> Option<String> {
        user_specs(c).find_map(|s| match &s.role {
            MapRole::User { id, name, .. } if *id == want => Some(name.clone()),
            _ => None,
        })
    };
    let renumber = |m: MapId| {
        let name = id_of(old, m);
        user_specs(new)
            .find_map(|s| match &s.role {
                MapRole::User { id, name: n, .. } if Some(n) == name.as_ref() => Some(*id),
                _ => None,
            })
            .unwrap_or(m)
    };
    old.events
        .iter()
        .map(|e| match e {
            EventKind::PrintMap { map, top, div } => EventKind::PrintMap { map: renumber(*map), top: *top, div: *div },
            EventKind::Clear { map } => EventKind::Clear { map: renumber(*map) },
            EventKind::Zero { map } => EventKind::Zero { map: renumber(*map) },
            other => other.clone(),
        })
        .collect()
}

fn user_specs(c: &CompiledProgram) -> impl Iterator<Item = &MapSpec> {
    c.maps.iter().filter(|s| matches!(s.role, MapRole::User { .. }))
}

fn describe(spec: &MapSpec) -> String {
    let MapRole::User { keys, value, .. } = &spec.role else { return spec.name.clone() };
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let value = match value {
        flowtrace_codegen::object::MapValue::Plain(t) => t.to_string(),
        flowtrace_codegen::object::MapValue::Agg(a) => format!("{a:?}").to_lowercase(),
    };
    format!("[{}] → {value} ({:?}, {} entries)", keys.join(", "), spec.map_type, spec.max_entries)
}

fn item_span(item: &Item) -> Span {
    match item {
        Item::Probe(p) => p.span,
        Item::MapDecl(d) => d.span,
        Item::Include { span, .. } => *span,
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

/// A load or attach failure, against the entry's text.
fn runtime_message(e: RuntimeError, compiled: &CompiledProgram, which: &[usize], assembly: &Assembly) -> String {
    match e {
        RuntimeError::Verifier(v) => {
            let Some(program) = compiled.programs.get(v.program) else { return format!("flowtrace: error: {}\n", v.errno) };
            let span = v.insn.and_then(|i| program.spans.get(i)).copied().unwrap_or(program.attach.span);
            let d = Diagnostic::error(span, format!("the kernel verifier rejected the program for '{}' ({})", program.attach.raw, v.errno));
            let mut out = assembly.render(&[d]);
            out.push_str("verifier log (last lines):\n");
            for line in v.tail(8) {
                out.push_str(&format!("  {line}\n"));
            }
            out
        }
        RuntimeError::Attach(a) => {
            let span = which.get(a.program).and_then(|&i| compiled.programs.get(i)).map(|p| p.attach.span).unwrap_or_default();
            let mut d = Diagnostic::error(span, format!("cannot attach '{}': {}", a.probe, a.reason));
            if let Some(h) = a.hint {
                d = d.with_hint(h);
            }
            assembly.render(&[d])
        }
        other => format!("flowtrace: error: {other}\n"),
    }
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
