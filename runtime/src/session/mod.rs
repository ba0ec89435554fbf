//! [`Session`]: everything between a compiled program and the terminal, for
//! a script (one entry) and for the interactive session (one entry per
//! probe typed), so both run the same code.
//!
//! A session owns the event reader (one ring buffer for every entry), the
//! user maps by name (an entry reuses the maps of earlier ones), each
//! entry's stats map (map-full drops, LRU evictions, lost events), the
//! attached entries (run counts, detach one or all), and the output sink.
//!
//! Order, as bpftrace 0.17's `BPFtrace::run` does it (see [`crate::load`]):
//! [`Session::add`] runs the entry's BEGIN, then attaches its probes; the
//! caller drains events ([`Session::drain`]); [`Session::detach`] stops the
//! probes, runs their END, then drains what END sent; [`Session::finish`]
//! does that for every entry and returns the maps to print last.

mod compat;
mod maps;
mod reload;
mod report;

pub use compat::Conflict;
pub use maps::SessionMaps;
pub use reload::unchanged as unchanged_programs;
pub use report::{compile_for_kernel, render_runtime_error, CompileFailure, ForKernel};

use crate::decode::ProbeNames;
use crate::error::RuntimeError;
use crate::events::{EventSink, Events, Flow};
use crate::load::{create_map, Loaded};
use crate::output::Printer;
use crate::values::{MapSnapshot, Value};
use flowtrace_codegen::object::{CompiledProgram, EventKind, MapRole};
use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

/// What to do with an entry's programs once loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Run {
    /// Run BEGIN, then attach the probes (a script; a probe typed at the prompt).
    Attach,
    /// Run the BEGIN programs once and unload them (statements typed at the
    /// prompt, wrapped in `BEGIN { … }`).
    Once,
}

/// What [`Session::add`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// Probes attached as entry `id`.
    Attached { id: u32, attach: Vec<String> },
    /// Nothing to attach (map declarations only).
    Declared,
    /// Ran once; `kept` when it created maps, so the entry stays part of the
    /// session (its maps keep their types).
    Ran { kept: bool },
}

/// Why an entry was not added; the session is as it was before.
#[derive(Debug)]
pub enum AddError {
    /// It would change a map earlier entries use.
    Conflict(Conflict),
    /// Loading, BEGIN or attaching failed (render with [`render_runtime_error`]).
    Runtime(RuntimeError),
}

impl From<RuntimeError> for AddError {
    fn from(e: RuntimeError) -> AddError {
        AddError::Runtime(e)
    }
}

/// An attached entry, for listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub id: u32,
    /// Its attach points, as written.
    pub attach: Vec<String>,
    /// How often its programs ran; `None` where the kernel would not say
    /// (counted only after [`Session::count_runs`]).
    pub events: Option<u64>,
}

/// What [`Session::replace`] did.
#[derive(Debug)]
pub struct Replaced {
    /// Maps that restarted from empty, and why.
    pub restarted: Vec<Conflict>,
    /// Running programs kept because the new script has them unchanged.
    pub kept: usize,
}

/// What is left to print when the session ends.
pub struct Final {
    /// Every user map, in declaration order, empty ones too.
    pub maps: Vec<MapSnapshot>,
    /// Ring-buffer records lost because it was full.
    pub lost_events: u64,
    /// `for` ranges stopped at the round cap (1024) before their end.
    pub loops_cut: u64,
    /// `kstack`/`ustack` the kernel could not record.
    pub stacks_lost: u64,
}

struct Entry {
    id: u32,
    loaded: Loaded,
    attach: Vec<String>,
    /// What it was loaded from (a reload compares programs with it).
    code: std::sync::Arc<CompiledProgram>,
    /// Whether its END runs when it is detached: not once a reload has
    /// replaced it (the script goes on).
    end: bool,
}

pub struct Session<S: EventSink> {
    sink: S,
    entries: Vec<Entry>,
    next_id: u32,
    /// Created with the first entry that has a ring buffer.
    events: Option<Events>,
    maps: SessionMaps,
    /// Every entry accepted so far, compiled together.
    accepted: Option<CompiledProgram>,
    /// A script's maps all exist from the start (all are printed at exit);
    /// an interactive session creates a map when a program first uses it,
    /// so a declaration typed alone does not fix its type too early.
    create_unused_maps: bool,
    /// Failures met while draining on the caller's behalf, for the caller
    /// to report ([`Session::take_warnings`]).
    warnings: Vec<RuntimeError>,
    /// Keeps the kernel's run counting on ([`Session::count_runs`]).
    run_stats: Option<OwnedFd>,
    /// How `tc:` probes attach (`--tc-order`, `--cleanup-stale`).
    pub tc: crate::tc::TcOptions,
    /// `-p PID`: uprobes are installed in this process only.
    pub uprobe_pid: Option<i32>,
    /// A probe called `exit()` (seen by any drain, also one inside [`Session::add`]).
    exit_called: bool,
}

impl<S: EventSink> Session<S> {
    /// A session for one script: every map is created when it loads.
    pub fn script(sink: S) -> Result<Session<S>, RuntimeError> {
        Session::new(sink, true)
    }

    /// A session for entries typed one by one.
    pub fn interactive(sink: S) -> Result<Session<S>, RuntimeError> {
        Session::new(sink, false)
    }

    fn new(sink: S, create_unused_maps: bool) -> Result<Session<S>, RuntimeError> {
        Ok(Session {
            sink,
            entries: Vec::new(),
            next_id: 1,
            events: None,
            maps: SessionMaps::new()?,
            accepted: None,
            create_unused_maps,
            warnings: Vec::new(),
            run_stats: None,
            tc: Default::default(),
            uprobe_pid: None,
            exit_called: false,
        })
    }

    /// Where events are printed.
    pub fn sink(&mut self) -> &mut S {
        &mut self.sink
    }

    pub fn maps(&self) -> &SessionMaps {
        &self.maps
    }

    /// Every entry accepted so far, compiled together.
    pub fn accepted(&self) -> Option<&CompiledProgram> {
        self.accepted.as_ref()
    }

    /// Asks the kernel to count program runs (for [`Session::probes`]); it
    /// costs a little per event, so scripts do not.
    pub fn count_runs(&mut self) {
        self.run_stats = crate::sys::enable_stats().ok();
    }

    /// Loads the programs `programs` (indices into `compiled.programs`, the
    /// session's text so far plus the new entry) against the session's maps
    /// and event reader, then runs or attaches them as `run` says. On failure
    /// nothing of the entry stays, and what its BEGIN printed is drained.
    /// On success, what BEGIN sent waits for [`Session::drain`].
    pub fn add(&mut self, compiled: &CompiledProgram, programs: &[usize], run: Run) -> Result<Added, AddError> {
        if let Some(old) = &self.accepted {
            compat::check(old, compiled, &self.maps).map_err(AddError::Conflict)?;
        }
        self.add_checked(compiled, programs, run)
    }

    /// A reload (SIGHUP): `compiled`, a whole new script, replaces every
    /// entry. A program identical to a running one (same attach point,
    /// instructions and maps) is not loaded again: the running one stays, so
    /// an unchanged probe neither misses nor double-counts an event. The
    /// others are attached before the old ones are detached. Maps of the
    /// same name and type are shared, so their counts carry on; a map whose
    /// type or size changed restarts (returned, with why). The old entries'
    /// END does not run: the script goes on. On failure the old script runs
    /// on untouched.
    pub fn replace(&mut self, compiled: &CompiledProgram) -> Result<Replaced, AddError> {
        let restarted = match &self.accepted {
            Some(old) => compat::changed_maps(compiled, &self.maps, old),
            None => Vec::new(),
        };
        let names: Vec<String> = restarted.iter().map(|c| c.map.clone()).collect();
        // What the old programs sent is decoded with their own table.
        self.drain_all();
        let mut kept: Vec<(u32, usize)> = Vec::new();
        let mut reused: Vec<usize> = Vec::new();
        for e in &self.entries {
            let attached = e.loaded.attached_programs();
            for (old, new) in reload::unchanged(&e.code, &attached, compiled, &names) {
                if !reused.contains(&new) {
                    kept.push((e.id, old));
                    reused.push(new);
                }
            }
        }
        let load: Vec<usize> = (0..compiled.programs.len()).filter(|i| !reused.contains(i)).collect();
        let old_ids: Vec<u32> = self.entries.iter().map(|e| e.id).collect();
        let aside = self.maps.set_aside(&names);
        if let Err(e) = self.add_checked(compiled, &load, Run::Attach) {
            self.maps.put_back(aside);
            return Err(e);
        }
        for e in self.entries.iter_mut().filter(|e| old_ids.contains(&e.id)) {
            e.end = false;
            let keep: Vec<usize> = kept.iter().filter(|k| k.0 == e.id).map(|k| k.1).collect();
            let gone: Vec<usize> = e.loaded.attached_programs().into_iter().filter(|i| !keep.contains(i)).collect();
            e.loaded.detach_programs(&gone);
            e.attach = keep.iter().map(|&i| e.code.programs[i].attach.raw.clone()).collect();
        }
        // Dropping an entry unloads its programs; its stats map stays counted.
        self.entries.retain(|e| !old_ids.contains(&e.id) || e.loaded.attached() > 0);
        self.drain_all();
        Ok(Replaced { restarted, kept: kept.len() })
    }

    fn add_checked(&mut self, compiled: &CompiledProgram, programs: &[usize], run: Run) -> Result<Added, AddError> {
        let (mut loaded, fresh) = self.load(compiled, programs)?;
        let creates_maps = compiled.maps.iter().zip(&fresh).any(|(s, f)| f.is_some() && matches!(s.role, MapRole::User { .. }));
        // Records are decoded against the new table and maps from now on;
        // the old ones come back if the entry is not kept.
        let view = self.maps.view_of(compiled, &fresh)?;
        let stack_fds: Vec<_> = fresh.iter().map(|f| f.as_ref().map(|fd| fd.as_fd())).collect();
        let probes = ProbeNames::of(compiled).with_stacks(compiled, &stack_fds);
        let old_view = self.install(Some(view), compiled.events.clone(), probes);
        let started = match run {
            Run::Once => loaded.run_begin(),
            Run::Attach => {
                loaded.missing_probes = compiled.missing_probes;
                loaded.run_begin().and_then(|()| loaded.attach_all())
            }
        };
        if let Err(e) = started {
            loaded.detach_all();
            self.drain_all();
            self.install(old_view.0, old_view.1, old_view.2);
            return Err(AddError::Runtime(e));
        }
        let added = match run {
            Run::Once => {
                self.drain_all();
                if !creates_maps {
                    self.install(old_view.0, old_view.1, old_view.2);
                    return Ok(Added::Ran { kept: false });
                }
                Added::Ran { kept: true }
            }
            Run::Attach if programs.is_empty() => Added::Declared,
            Run::Attach => {
                let attach: Vec<String> = programs.iter().map(|&i| compiled.programs[i].attach.raw.clone()).collect();
                let id = self.next_id;
                self.next_id += 1;
                let code = std::sync::Arc::new(compiled.clone());
                self.entries.push(Entry { id, loaded, attach: attach.clone(), code, end: true });
                Added::Attached { id, attach }
            }
        };
        self.maps.keep(compiled, fresh);
        self.accepted = Some(compiled.clone());
        Ok(added)
    }

    /// Installs a reading view and event table; returns the ones replaced.
    fn install(
        &mut self,
        view: Option<crate::maps::Maps>,
        kinds: Vec<EventKind>,
        probes: ProbeNames,
    ) -> (Option<crate::maps::Maps>, Vec<EventKind>, ProbeNames) {
        let old_view = self.maps.swap_view(view);
        let (kinds, probes) = match &mut self.events {
            Some(events) => events.set_table(kinds, probes),
            None => (Vec::new(), ProbeNames::default()),
        };
        (old_view, kinds, probes)
    }

    /// Loads `programs`; returns them and the maps created for them
    /// (indexed like `compiled.maps`).
    fn load(&mut self, compiled: &CompiledProgram, programs: &[usize]) -> Result<(Loaded, Vec<Option<OwnedFd>>), RuntimeError> {
        if self.events.is_none() {
            if let Some(spec) = compiled.maps.iter().find(|s| matches!(s.role, MapRole::Events)) {
                let fd = create_map(spec)?;
                self.events = Some(Events::from_fd(fd, compiled.events.clone(), ProbeNames::of(compiled))?);
            }
        }
        let fresh = self.new_maps(compiled, programs)?;
        let ring = self.events.as_ref().map(Events::fd);
        let borrowed: Vec<BorrowedFd<'_>> = compiled
            .maps
            .iter()
            .zip(&fresh)
            .map(|(spec, fresh)| {
                let shared = maps::session_name(compiled, spec).and_then(|name| self.maps.fd(&name));
                // Else the ring buffer, or a map no program here uses (any
                // fd will do: nothing is relocated to it).
                let fd = fresh.as_ref().map(|fd| fd.as_fd()).or(shared).or(ring);
                fd.ok_or_else(|| RuntimeError::Load("the program has no ring buffer".into()))
            })
            .collect::<Result<_, _>>()?;
        let mut loaded = Loaded::load_selected(compiled, programs, &borrowed)?;
        loaded.tc = self.tc;
        loaded.uprobe_pid = self.uprobe_pid;
        drop(borrowed);
        Ok((loaded, fresh))
    }

    /// The maps `programs` need that the session does not have yet (see
    /// [`Session::create_unused_maps`]), indexed like `compiled.maps`.
    fn new_maps(&self, compiled: &CompiledProgram, programs: &[usize]) -> Result<Vec<Option<OwnedFd>>, RuntimeError> {
        let used: HashSet<u32> =
            programs.iter().flat_map(|&i| compiled.programs[i].map_relocs.iter().map(|(_, m)| m.0)).collect();
        (0..compiled.maps.len() as u32)
            .map(|i| {
                let spec = &compiled.maps[i as usize];
                match &spec.role {
                    _ if maps::session_name(compiled, spec).is_some_and(|name| self.maps.exists(&name)) => Ok(None),
                    MapRole::Events => Ok(None),
                    _ if !self.create_unused_maps && !used.contains(&i) => Ok(None),
                    _ => create_map(spec).map(Some),
                }
            })
            .collect()
    }

    /// The ring buffer's fd, to wait on from another thread; `None` until
    /// an entry created it.
    pub fn event_fd(&self) -> Option<RawFd> {
        self.events.as_ref().map(|e| e.fd().as_raw_fd())
    }

    /// Waits up to `timeout` for events; `Ok(false)` on timeout or a signal.
    pub fn wait(&self, timeout: Duration) -> Result<bool, RuntimeError> {
        match &self.events {
            Some(ev) => ev.wait(timeout).map_err(|error| RuntimeError::Kernel { what: "polling the ring buffer".into(), error }),
            None => {
                std::thread::sleep(timeout);
                Ok(false)
            }
        }
    }

    /// Handles pending records until an `exit()` or a record that fails.
    pub fn drain(&mut self) -> Result<Flow, RuntimeError> {
        match self.events.as_mut() {
            Some(events) => crate::events::drain(events, &self.maps, &mut self.sink),
            None => Ok(Flow::Continue),
        }
    }

    /// Whether an `iter:` probe is attached: the script then runs
    /// [`Session::run_iterators`] and ends.
    pub fn has_iterators(&self) -> bool {
        self.entries.iter().any(|e| e.code.programs.iter().any(|p| p.kind == flowtrace_codegen::object::ProgramKind::Iter))
    }

    /// Runs every attached iterator over all its objects, draining events
    /// as it goes (see `attach::iter`). Stops early at `exit()` or when
    /// `stop()` says so (a signal); [`Flow::Exit`] if `exit()` was called.
    pub fn run_iterators(&mut self, stop: &dyn Fn() -> bool) -> Result<Flow, RuntimeError> {
        let links = self.entries.iter().map(|e| e.loaded.iterator_links()).collect::<Result<Vec<_>, _>>()?;
        let mut flow = Flow::Continue;
        let mut failed: Option<RuntimeError> = None;
        for link in links.iter().flatten() {
            let ran = crate::attach::iter::run(link.as_fd(), || match self.drain() {
                Ok(Flow::Continue) => !stop(),
                Ok(Flow::Exit) => {
                    flow = Flow::Exit;
                    false
                }
                Err(e) => {
                    failed = Some(e);
                    false
                }
            });
            ran.map_err(|error| RuntimeError::Kernel { what: "reading the iterator".into(), error })?;
            if let Some(e) = failed.take() {
                return Err(e);
            }
            if flow == Flow::Exit {
                return Ok(flow);
            }
        }
        self.drain()
    }

    /// The code of the first `exit(code)` a probe called, if any.
    pub fn exit_code(&self) -> Option<i64> {
        self.events.as_ref().and_then(|e| e.exit_code())
    }

    /// Handles every pending record; failures are kept as warnings and
    /// `exit()` does not stop it. [`Flow::Exit`] if a probe called `exit()`.
    pub fn drain_all(&mut self) -> Flow {
        let mut flow = Flow::Continue;
        loop {
            match self.drain() {
                Ok(Flow::Continue) => return flow,
                Ok(Flow::Exit) => {
                    flow = Flow::Exit;
                    self.exit_called = true;
                }
                Err(e) => self.warnings.push(e),
            }
        }
    }

    /// Whether a probe has called `exit()` since the session started: an
    /// interactive session then ends as a script does.
    pub fn exit_called(&self) -> bool {
        self.exit_called
    }

    /// Failures met since the last call, while the session drained events
    /// or ran END on the caller's behalf.
    pub fn take_warnings(&mut self) -> Vec<RuntimeError> {
        std::mem::take(&mut self.warnings)
    }

    /// Detaches the entries `ids` (every one for `None`): all of them stop
    /// firing first, then their END programs run, then what END sent is
    /// drained. Returns the ids detached.
    pub fn detach(&mut self, ids: Option<&[u32]>) -> Vec<u32> {
        let (mut gone, kept): (Vec<Entry>, Vec<Entry>) =
            std::mem::take(&mut self.entries).into_iter().partition(|e| ids.is_none_or(|ids| ids.contains(&e.id)));
        self.entries = kept;
        for e in &mut gone {
            e.loaded.detach_all();
        }
        for e in gone.iter_mut().filter(|e| e.end) {
            if let Err(err) = e.loaded.run_end() {
                self.warnings.push(err);
            }
        }
        self.drain_all();
        gone.iter().map(|e| e.id).collect()
    }

    /// The end of a session: every entry detached (END run, its events
    /// drained), then every map read for printing.
    pub fn finish(&mut self) -> Result<Final, RuntimeError> {
        let mut last = self.finish_without_maps()?;
        for id in self.maps.user_maps() {
            last.maps.push(self.maps.snapshot(id)?);
        }
        Ok(last)
    }

    /// [`Self::finish`] reading no map, for a run that prints none at exit
    /// (`print_maps_on_exit = false`): reading and decoding a million-key
    /// map nobody sees took longer than printing its top 10 in END.
    pub fn finish_without_maps(&mut self) -> Result<Final, RuntimeError> {
        self.detach(None);
        Ok(Final { maps: Vec::new(), lost_events: self.maps.lost_events(), loops_cut: self.maps.loops_cut(), stacks_lost: self.maps.stacks_lost() })
    }

    /// What `/metrics` reads, as copies a scrape thread owns: the maps as
    /// this session reads them (so counts agree with what it prints), and
    /// every attached program for its run statistics. `plans` is indexed by
    /// the accepted program's map ids.
    pub fn metrics_target(&self, plans: Vec<crate::metrics::plan::MapPlan>) -> Result<crate::metrics::Target, RuntimeError> {
        let probes = self.entries.iter().flat_map(|e| e.loaded.program_fds()).collect();
        Ok(crate::metrics::Target { maps: self.maps.try_clone()?, plans, probes })
    }

    /// The attached entries.
    pub fn probes(&self) -> Vec<Probe> {
        let probe = |e: &Entry| {
            let counts = e.loaded.run_counts();
            let events = (!counts.iter().all(Option::is_none)).then(|| counts.iter().flatten().sum());
            Probe { id: e.id, attach: e.attach.clone(), events }
        };
        self.entries.iter().map(probe).collect()
    }
}

/// Events print as bpftrace prints them.
impl<W: io::Write> EventSink for Printer<W> {
    fn printf(&mut self, format: &flowtrace_stdlib::printf::Format, args: &[Value]) -> io::Result<()> {
        Printer::printf(self, format, args)
    }
    fn print_map(&mut self, map: &MapSnapshot, top: u64, div: u64) -> io::Result<()> {
        self.map(map, top, div)
    }
    fn print_value(&mut self, value: &Value) -> io::Result<()> {
        self.value(value)
    }
    fn time(&mut self, format: &str) -> io::Result<()> {
        Printer::time(self, format)
    }
    fn text(&mut self, text: &str) -> io::Result<()> {
        Printer::text(self, text)
    }
    fn helper_error(&mut self, helper: i32, errno: i64, span: flowtrace_lang::span::Span) -> io::Result<()> {
        Printer::helper_error(self, helper, errno, span);
        Ok(())
    }
}
