//! [`Loaded`]: a compiled program in the kernel. Maps are created and every
//! program verified by [`Loaded::load`]; probes fire only after
//! [`Loaded::attach_all`]; dropping it (or [`Loaded::detach_all`]) detaches.
//!
//! Order of a run, as bpftrace 0.17's `BPFtrace::run` does it: set up the
//! event reader, run BEGIN ([`Loaded::run_begin`]), then attach every other
//! probe ([`Loaded::attach_all`]) and poll. At exit: detach the probes
//! ([`Loaded::detach_all`]), run END ([`Loaded::run_end`]), drain the events
//! END sent, then print the maps. So BEGIN's output precedes any probe's, and
//! no probe fires after END.

use flowtrace_lang::config::MissingProbes;
use crate::attach::{self, Link, LoadFailure};
use crate::error::{failing_insn, AttachError, RuntimeError, VerifierError};
use crate::events::{EventSink, Events, Flow};
use crate::decode::ProbeNames;
use crate::maps::Maps;
use aya::maps::{Map, MapData, RingBuf};
use aya::programs::Program;
use aya::{Btf, Ebpf, EbpfLoader};
use flowtrace_codegen::object::{CompiledProgram, GroupMember, MapRole, ProgramKind};
use flowtrace_lang::ast::{AttachKind, AttachPoint};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How far detaching has got in this process: links dropped, of how many
/// were asked to go. A perf-event release waits ~70 ms for the kernel
/// (tracepoint unregister + RCU); tracepoints hand theirs to a background
/// process (`attach::detach`), but other kinds, or `FLOWTRACE_DETACH=wait`,
/// still wait here, so a user who signals again meanwhile is told this
/// instead of silence.
pub struct DetachProgress {
    pub done: AtomicUsize,
    pub total: AtomicUsize,
}

pub static DETACH_PROGRESS: DetachProgress = DetachProgress { done: AtomicUsize::new(0), total: AtomicUsize::new(0) };

/// What the runtime keeps of each `ProgramCode`.
struct ProgramMeta {
    /// Index into `CompiledProgram::programs` (errors name it, whatever
    /// subset was loaded).
    index: usize,
    name: String,
    kind: ProgramKind,
    attach: AttachPoint,
    /// The functions of a program serving several (`ProgramCode::members`).
    members: Vec<GroupMember>,
    /// Set when such a program was loaded for kprobe.multi.
    multi_bytes: crate::rawload::MultiBytes,
}

/// Where start-up time went (for `--timings` and the start-up budget).
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadTimings {
    pub write_elf: Duration,
    /// `EbpfLoader::new()`: aya reads and parses the kernel's BTF here, and
    /// the first call in a process also probes kernel features. Zero when
    /// aya's loader was not used.
    pub loader_setup: Duration,
    /// Parsing the object and creating the maps (aya's loader), or creating
    /// the maps and verifying the programs (flowtrace's own).
    pub create_maps: Duration,
    /// `BPF_PROG_LOAD` of every program (the verifier), with aya's loader.
    pub verify: Duration,
    /// Whether aya's `EbpfLoader` was used (only fentry/fexit need it).
    pub aya_loader: bool,
}

/// The loaded programs: owned by aya's `Ebpf` when its loader made them,
/// or standalone handles (indexed like `CompiledProgram::programs`).
enum ProgramSet {
    Ebpf(Ebpf),
    Owned(Vec<Program>),
}

impl ProgramSet {
    fn get(&self, index: usize, name: &str) -> Result<&Program, RuntimeError> {
        let found = match self {
            ProgramSet::Ebpf(ebpf) => ebpf.program(name),
            ProgramSet::Owned(programs) => programs.get(index),
        };
        found.ok_or_else(|| RuntimeError::Load(format!("program {name} missing after load")))
    }

    fn get_mut(&mut self, index: usize, name: &str) -> Result<&mut Program, RuntimeError> {
        let found = match self {
            ProgramSet::Ebpf(ebpf) => ebpf.program_mut(name),
            ProgramSet::Owned(programs) => programs.get_mut(index),
        };
        found.ok_or_else(|| RuntimeError::Load(format!("program {name} missing after load")))
    }
}

pub struct Loaded {
    // Declared first so links drop (detach) before the programs they use.
    links: Vec<(usize, Link)>,
    programs: Vec<ProgramMeta>,
    loaded: ProgramSet,
    maps: Maps,
    events: Option<Events>,
    pub timings: LoadTimings,
    /// How `tc:` probes attach (`--tc-order`, `--cleanup-stale`); set before
    /// [`Loaded::attach_all`].
    pub tc: crate::tc::TcOptions,
    /// `-p PID`: uprobes are installed in this process only (the kernel
    /// then leaves every other process's code untouched).
    pub uprobe_pid: Option<i32>,
    /// The config's `missing_probes`, for probes that fail to attach (set
    /// before [`Loaded::attach_all`]; `error` unless the script says).
    pub missing_probes: flowtrace_lang::config::MissingProbes,
}

/// Extracts the map's data from aya's typed wrapper: flowtrace reads maps
/// with byte buffers, not aya's compile-time-typed map structs.
fn map_data(map: Map) -> Result<MapData, Map> {
    match map {
        Map::HashMap(d)
        | Map::LruHashMap(d)
        | Map::PerCpuHashMap(d)
        | Map::PerCpuLruHashMap(d)
        | Map::Array(d)
        | Map::PerCpuArray(d)
        | Map::StackTraceMap(d) => Ok(d),
        other => Err(other),
    }
}

impl Loaded {
    /// Creates the maps and loads (verifies) every program. Nothing is
    /// attached yet. Uses flowtrace's own loader unless a program needs
    /// aya's (fentry/fexit).
    pub fn load(compiled: &CompiledProgram) -> Result<Loaded, RuntimeError> {
        if !crate::rawload::supports(compiled) {
            return Loaded::load_with_aya_loader(compiled);
        }
        let t = Instant::now();
        let (maps, programs) = crate::rawload::load(compiled)?;
        let timings = LoadTimings { create_maps: t.elapsed(), ..LoadTimings::default() };
        let (maps, events) = Loaded::split_maps(compiled, maps)?;
        let (programs, multi_bytes): (Vec<_>, Vec<_>) = programs.into_iter().unzip();
        let mut metas = metas(compiled);
        for (meta, bytes) in metas.iter_mut().zip(multi_bytes) {
            meta.multi_bytes = bytes;
        }
        Ok(Loaded { links: Vec::new(), programs: metas, loaded: ProgramSet::Owned(programs), maps, events, timings, tc: Default::default(), uprobe_pid: None, missing_probes: Default::default() })
    }

    /// Loads only the programs `which` (indices into `compiled.programs`),
    /// with their map references bound to `map_fds` (indexed like
    /// `compiled.maps`, created by the caller, e.g. with [`create_map`]). The
    /// result's own [`Loaded::maps`] is empty and it has no event reader: the
    /// caller owns both. Program indices in its methods count within
    /// `which`; its errors name the index in `compiled.programs`. A
    /// [`crate::Session`] loads each entry this way so new probes share the
    /// maps of earlier ones.
    pub fn load_selected(
        compiled: &CompiledProgram,
        which: &[usize],
        map_fds: &[std::os::fd::BorrowedFd<'_>],
    ) -> Result<Loaded, RuntimeError> {
        let t = Instant::now();
        let programs = crate::rawload::load_programs(compiled, which, map_fds)?;
        let timings = LoadTimings { create_maps: t.elapsed(), ..LoadTimings::default() };
        let (programs, multi_bytes): (Vec<_>, Vec<_>) = programs.into_iter().unzip();
        let metas = which
            .iter()
            .zip(multi_bytes)
            .map(|(&i, multi_bytes)| ProgramMeta { multi_bytes, ..meta(i, &compiled.programs[i]) })
            .collect();
        let maps = Loaded::ifnames_only(compiled, map_fds)?;
        Ok(Loaded { links: Vec::new(), programs: metas, loaded: ProgramSet::Owned(programs), maps, events: None, timings, tc: Default::default(), uprobe_pid: None, missing_probes: Default::default() })
    }

    /// The maps a [`Loaded::load_selected`] writes itself: only tc's
    /// interface-name map ([`MapRole::Ifnames`]), filled at attach, so that
    /// `ifname` reads the names there as in a whole program.
    fn ifnames_only(compiled: &CompiledProgram, map_fds: &[std::os::fd::BorrowedFd<'_>]) -> Result<Maps, RuntimeError> {
        let found = compiled.maps.iter().zip(map_fds).find(|(s, _)| matches!(s.role, MapRole::Ifnames));
        let Some((spec, fd)) = found else {
            return Maps::new(Vec::new(), Vec::new(), ProbeNames::default());
        };
        let own = fd.try_clone_to_owned().map_err(|e| RuntimeError::Kernel { what: format!("duplicating the fd of {}", spec.name), error: e })?;
        Maps::from_fds(vec![spec.clone()], vec![Some(own)], ProbeNames::default())
    }

    /// How many times each program has run, in program order: the kernel
    /// counts only while BPF statistics are on ([`crate::sys::enable_stats`]);
    /// `None` where the kernel would not say.
    pub fn run_counts(&self) -> Vec<Option<u64>> {
        let info = |i: usize, name: &str| match &self.loaded {
            ProgramSet::Owned(p) => p.get(i).and_then(|p| p.info().ok()),
            ProgramSet::Ebpf(e) => e.program(name).and_then(|p| p.info().ok()),
        };
        self.programs.iter().enumerate().map(|(i, m)| info(i, &m.name).map(|info| info.run_count())).collect()
    }

    /// A copy of each attached program's fd with its attach point, for
    /// reading run statistics from another thread (`/metrics`).
    pub fn program_fds(&self) -> Vec<(String, std::os::fd::OwnedFd)> {
        let fd = |i: usize, m: &ProgramMeta| {
            let program = self.loaded.get(i, &m.name).ok()?;
            program.fd().ok()?.as_fd().try_clone_to_owned().ok()
        };
        let mut attached: Vec<usize> = self.links.iter().map(|(i, _)| *i).collect();
        // A probe on several interfaces has a link per interface.
        attached.dedup();
        attached.into_iter().filter_map(|i| Some((self.programs[i].attach.raw.clone(), fd(i, &self.programs[i])?))).collect()
    }

    /// The same through aya's `EbpfLoader` and the ELF object: slower (it
    /// parses the kernel's BTF), needed for fentry/fexit.
    pub fn load_with_aya_loader(compiled: &CompiledProgram) -> Result<Loaded, RuntimeError> {
        let mut timings = LoadTimings { aya_loader: true, ..LoadTimings::default() };
        let t = Instant::now();
        let elf = flowtrace_codegen::elf::write_elf(compiled).map_err(RuntimeError::Elf)?;
        timings.write_elf = t.elapsed();

        let t = Instant::now();
        // There is no way to build an EbpfLoader without it reading vmlinux
        // BTF; we clear it because the object has no .BTF.ext, so there is
        // nothing to relocate (fentry loads read BTF themselves).
        let mut loader = EbpfLoader::new();
        loader.btf(None);
        timings.loader_setup = t.elapsed();

        let t = Instant::now();
        let mut ebpf = loader.load(&elf).map_err(|e| RuntimeError::Load(attach::error_chain(&e)))?;
        timings.create_maps = t.elapsed();

        let mut maps = Vec::with_capacity(compiled.maps.len());
        for spec in &compiled.maps {
            let map = ebpf
                .take_map(&spec.name)
                .ok_or_else(|| RuntimeError::Load(format!("map {} missing after load", spec.name)))?;
            maps.push(map);
        }
        let (maps, events) = Loaded::split_maps(compiled, maps)?;

        let t = Instant::now();
        let programs = metas(compiled);
        for (index, meta) in programs.iter().enumerate() {
            load_one(&mut ebpf, index, meta)?;
        }
        timings.verify = t.elapsed();

        Ok(Loaded { links: Vec::new(), programs, loaded: ProgramSet::Ebpf(ebpf), maps, events, timings, tc: Default::default(), uprobe_pid: None, missing_probes: Default::default() })
    }

    /// The ring buffer becomes the event reader; the other maps are read
    /// with byte buffers.
    fn split_maps(compiled: &CompiledProgram, maps: Vec<Map>) -> Result<(Maps, Option<Events>), RuntimeError> {
        let mut data = Vec::with_capacity(maps.len());
        let mut ring = None;
        for (spec, map) in compiled.maps.iter().zip(maps) {
            if matches!(spec.role, MapRole::Events) {
                ring = Some(
                    RingBuf::try_from(map)
                        .map_err(|e| RuntimeError::Load(format!("ring buffer {}: {}", spec.name, attach::error_chain(&e))))?,
                );
                data.push(None);
            } else {
                let d = map_data(map).map_err(|m| RuntimeError::Load(format!("map {} has unexpected type {m:?}", spec.name)))?;
                data.push(Some(d));
            }
        }
        let fds: Vec<_> = data.iter().map(|d| d.as_ref().map(|d: &MapData| d.fd().as_fd())).collect();
        let probes = ProbeNames::of(compiled).with_stacks(compiled, &fds);
        let events = ring.map(|ring| Events::new(ring, compiled.events.clone(), probes.clone()));
        Ok((Maps::new(compiled.maps.clone(), data, probes)?, events))
    }

    /// The loaded program of `CompiledProgram::programs[index]`: tests run
    /// it on crafted input with `BPF_PROG_TEST_RUN` (aya's `TestRun`).
    pub fn program(&self, index: usize) -> Result<&Program, RuntimeError> {
        let meta = self.programs.get(index).ok_or_else(|| RuntimeError::Load(format!("no program #{index}")))?;
        self.loaded.get(index, &meta.name)
    }

    pub fn maps(&self) -> &Maps {
        &self.maps
    }

    /// The ring-buffer reader, if the program sends events. Taking it lets a
    /// caller poll on its own thread; [`Loaded::drain_events`] then does nothing.
    pub fn take_events(&mut self) -> Option<Events> {
        self.events.take()
    }

    /// Attaches every program except BEGIN/END. On the first failure the
    /// error names the probe; probes attached before it stay attached until
    /// [`Loaded::detach_all`] or drop.
    ///
    /// A function matched by a wildcard (`kprobe:tcp_*`) that cannot be
    /// probed (inlined, notrace, freed `__init` code) is skipped with one
    /// warning per wildcard, as bpftrace does; the error stands when no
    /// function of the wildcard could be attached.
    pub fn attach_all(&mut self) -> Result<(), RuntimeError> {
        let groups = attach::kprobe::wildcard_groups(self.programs.iter().map(|m| (m.kind, &m.attach)));
        let mut skipped: Vec<(usize, RuntimeError)> = Vec::new();
        for index in 0..self.programs.len() {
            if self.programs[index].kind == ProgramKind::Special {
                continue;
            }
            match self.attach(index) {
                Ok(()) => {}
                Err(e) if groups[index].is_some() => skipped.push((index, e)),
                // As bpftrace: `missing_probes` covers "an issue during
                // attachment" too, not only probes that do not exist.
                Err(e) => match self.missing_probes {
                    MissingProbes::Error => return Err(e),
                    MissingProbes::Warn => eprintln!("warning: {}; left out (missing_probes = warn)", attach_failure_text(&e)),
                    MissingProbes::Ignore => {}
                },
            }
        }
        attach::kprobe::report_skipped(&groups, skipped, |i| self.programs[i].attach.raw.as_str())
    }

    /// Attaches one program, by index into `CompiledProgram::programs`.
    pub fn attach(&mut self, index: usize) -> Result<(), RuntimeError> {
        let meta = self.programs.get(index).ok_or_else(|| RuntimeError::Load(format!("no program #{index}")))?;
        let fail = |f: attach::Failure| {
            RuntimeError::Attach(AttachError { program: meta.index, probe: meta.attach.raw.clone(), reason: f.reason, hint: f.hint })
        };
        let prog = self.loaded.get_mut(index, &meta.name)?;
        let link = if meta.members.is_empty() {
            attach::attach(meta.kind, prog, &meta.attach, &self.tc, self.uprobe_pid).map_err(fail)?
        } else {
            attach_group(prog, meta).map_err(fail)?
        };
        if let Link::Tc(tc) = &link {
            // `ifname` reads the names of the interfaces a probe is on from a map.
            self.maps.write_ifnames(&tc.interfaces)?;
        }
        self.links.push((index, link));
        Ok(())
    }

    /// The iterator links (`iter:` probes), duplicated so the caller may
    /// read them while the session drains events.
    pub fn iterator_links(&self) -> Result<Vec<std::os::fd::OwnedFd>, RuntimeError> {
        self.links
            .iter()
            .filter_map(|(_, link)| match link {
                Link::Iter(fd) => Some(fd.try_clone().map_err(|error| RuntimeError::Kernel { what: "duplicating an iterator link".into(), error })),
                _ => None,
            })
            .collect()
    }

    /// Number of attached probes.
    pub fn attached(&self) -> usize {
        self.links.len()
    }

    /// The attached programs, by index into `CompiledProgram::programs`.
    pub fn attached_programs(&self) -> Vec<usize> {
        self.links.iter().map(|(i, _)| self.programs[*i].index).collect()
    }

    /// Detaches the programs at these indices into `CompiledProgram::programs`;
    /// the others stay attached (a reload keeps unchanged probes running).
    pub fn detach_programs(&mut self, compiled: &[usize]) {
        let (gone, kept): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.links).into_iter().partition(|(i, _)| compiled.contains(&self.programs[*i].index));
        self.links = kept;
        DETACH_PROGRESS.total.fetch_add(gone.len(), Ordering::SeqCst);
        attach::detach::detach(gone.into_iter().map(|(_, link)| link).collect(), &DETACH_PROGRESS.done);
    }

    /// Detaches every probe (the programs stay loaded until drop).
    pub fn detach_all(&mut self) {
        DETACH_PROGRESS.total.fetch_add(self.links.len(), Ordering::SeqCst);
        attach::detach::detach(self.links.drain(..).map(|(_, link)| link).collect(), &DETACH_PROGRESS.done);
    }

    /// Runs every BEGIN program (`AttachKind::Begin`), in order.
    pub fn run_begin(&mut self) -> Result<(), RuntimeError> {
        self.run_special(|k| matches!(k, AttachKind::Begin))
    }

    /// Runs every END program, in order.
    pub fn run_end(&mut self) -> Result<(), RuntimeError> {
        self.run_special(|k| matches!(k, AttachKind::End))
    }

    fn run_special(&mut self, which: impl Fn(&AttachKind) -> bool) -> Result<(), RuntimeError> {
        for (index, meta) in self.programs.iter().enumerate() {
            if meta.kind != ProgramKind::Special || !which(&meta.attach.kind) {
                continue;
            }
            let prog = self.loaded.get_mut(index, &meta.name)?;
            attach::special::run(prog).map_err(|f| {
                RuntimeError::Attach(AttachError { program: meta.index, probe: meta.attach.raw.clone(), reason: f.reason, hint: f.hint })
            })?;
        }
        Ok(())
    }

    /// Waits up to `timeout` for ring-buffer records; `Ok(false)` on timeout,
    /// on a signal, or when there is no ring buffer.
    pub fn wait_events(&self, timeout: Duration) -> Result<bool, RuntimeError> {
        match &self.events {
            Some(ev) => ev.wait(timeout).map_err(|error| RuntimeError::Kernel { what: "polling the ring buffer".into(), error }),
            None => {
                std::thread::sleep(timeout);
                Ok(false)
            }
        }
    }

    /// Handles every pending record: prints go to `sink` (maps snapshotted at
    /// that moment), `clear`/`zero` are applied here. Stops early at `exit()`.
    pub fn drain_events(&mut self, sink: &mut dyn EventSink) -> Result<Flow, RuntimeError> {
        match self.events.as_mut() {
            Some(events) => crate::events::drain(events, &self.maps, sink),
            None => Ok(Flow::Continue),
        }
    }
}

/// One line for a probe left out: the probe and the kernel's reason.
fn attach_failure_text(e: &RuntimeError) -> String {
    match e {
        RuntimeError::Attach(a) => format!("cannot attach '{}': {}", a.probe, a.reason),
        other => other.to_string(),
    }
}

/// Creates one map as [`Loaded::load`] would (for [`Loaded::load_selected`]).
pub fn create_map(spec: &flowtrace_codegen::object::MapSpec) -> Result<std::os::fd::OwnedFd, RuntimeError> {
    crate::rawload::create_map(spec)
}

fn metas(compiled: &CompiledProgram) -> Vec<ProgramMeta> {
    compiled.programs.iter().enumerate().map(|(i, p)| meta(i, p)).collect()
}

fn meta(index: usize, p: &flowtrace_codegen::object::ProgramCode) -> ProgramMeta {
    ProgramMeta { index, name: p.name.clone(), kind: p.kind, attach: p.attach.clone(), members: p.members.clone(), multi_bytes: None }
}

fn load_one(ebpf: &mut Ebpf, index: usize, meta: &ProgramMeta) -> Result<(), RuntimeError> {
    let prog = ebpf
        .program_mut(&meta.name)
        .ok_or_else(|| RuntimeError::Load(format!("program {} missing from the object", meta.name)))?;
    let btf = || Btf::from_sys_fs().map_err(|e| format!("reading kernel BTF: {e}"));
    attach::load(meta.kind, prog, &meta.attach, btf).map_err(|f| match f {
        LoadFailure::Verifier { errno, log } => RuntimeError::Verifier(VerifierError {
            program: index,
            name: meta.name.clone(),
            errno,
            insn: failing_insn(&log),
            log,
        }),
        LoadFailure::Other(reason) => RuntimeError::Load(format!("program {}: {reason}", meta.name)),
    })
}

/// Attaches a program serving several kprobe functions to all of them
/// (`attach::kprobe_multi`); one warning names the wildcard's functions
/// that were skipped.
fn attach_group(prog: &Program, meta: &ProgramMeta) -> Result<Link, attach::Failure> {
    let fd = prog.fd().map_err(attach::Failure::from)?;
    let fd = fd.as_fd();
    let reload = || {
        let bytes = meta.multi_bytes.as_deref().unwrap_or_default();
        crate::sys::prog_load(&meta.name, ProgramKind::Kprobe.bpf_prog_type(), bytes).map_err(|e| format!("loading {} again as a kprobe program: {}", meta.name, e.error))
    };
    let retprobe = meta.kind == ProgramKind::Kretprobe;
    let (links, skipped) = attach::kprobe_multi::attach(fd, meta.multi_bytes.is_some(), reload, &meta.members, retprobe)?;
    if !skipped.is_empty() {
        let names: Vec<&str> = skipped.iter().map(String::as_str).collect();
        let total = meta.members.iter().filter(|m| m.from_wildcard).count();
        attach::kprobe::warn_skipped(&names, total);
    }
    Ok(Link::KprobeGroup(links))
}
