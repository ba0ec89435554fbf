//! The code generator's entry point: typed program → maps, IR per probe,
//! register allocation, instructions.

use crate::emit;
use crate::ir::{self, IrFunc};
use crate::layout;
use crate::lower::{Failure, Globals, Lowerer};
use crate::group;
use crate::object::{BpfMapType, CompiledProgram, GroupMember, MapRef, MapRole, MapSpec, MapValue, ProgramCode, ProgramKind};
use crate::regalloc;
use flowtrace_lang::ast::{AttachKind, MapKind};
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::typed::{MapId, TypedProgram};
use flowtrace_lang::types::Type;
use std::collections::{HashMap, HashSet};

#[derive(Clone, Debug)]
pub struct CompileOptions {
    /// max_entries of maps without a declared size.
    pub map_keys: u32,
    /// `ktime_get_ns()` when tracing started, for `elapsed`.
    pub start_ns: u64,
    /// Wall-clock time minus boot time (ns) when compiling: `tseries()`
    /// counts its intervals on the wall clock, so they start on round times.
    pub wall_offset_ns: u64,
    /// Ring buffer size in bytes (a power of two, multiple of the page size).
    pub ringbuf_bytes: u32,
    /// Emit `kprobe:`/`kretprobe:` probes as fentry/fexit programs (same
    /// meaning of `argN`/`retval`), for kernels without kprobes where fentry
    /// works; the runtime decides (`flowtrace_runtime::capabilities`).
    pub kprobes_as_fentry: bool,
    /// Possible CPUs on the machine the program will run on: how many
    /// per-CPU copies reading an aggregation in a probe adds up. 0 when
    /// unknown (the read then tries up to `lower::percpu::MAX_CPUS`).
    pub possible_cpus: u32,
    /// `-k`: after each probe read, a failure is sent to userspace as an
    /// [`crate::object::EventKind::HelperError`] (bpftrace's runtime warnings).
    pub helper_warnings: bool,
    /// The kernel has `bpf_loop` (5.17): `for` ranges run their body as a
    /// callback, up to `lower::loops::BPF_LOOP_MAX_ROUNDS` rounds, instead of
    /// as a back edge capped at `lower::loops::MAX_ROUNDS`.
    pub bpf_loop: bool,
    /// Fuse aggregations updated together under one key into one map
    /// (`crate::fuse`). Off for sessions that keep maps across reloads by
    /// name, and with FLOWTRACE_NO_FUSE=1 for comparing output.
    pub fuse: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            map_keys: 4096,
            start_ns: 0,
            wall_offset_ns: 0,
            ringbuf_bytes: 256 * 1024,
            kprobes_as_fentry: false,
            possible_cpus: 0,
            helper_warnings: false,
            bpf_loop: false,
            fuse: true,
        }
    }
}

/// More instructions than the kernel accepts in one program.
pub const MAX_INSNS: usize = 1_000_000;
/// The BPF stack limit.
pub const MAX_STACK: u32 = 512;

/// bpftrace's default `str_trunc_trailer` (0.17 had none: see docs/language.md).
pub const DEFAULT_STR_TRUNC_TRAILER: &str = "..";

pub fn compile(p: &TypedProgram, opts: &CompileOptions) -> Result<CompiledProgram, Vec<Diagnostic>> {
    let mut g = globals(p, opts);
    let mut programs = Vec::new();
    let mut diags = Vec::new();
    let mut names = UniqueNames::default();
    for run in group::runs(p, g.kprobes_as_fentry) {
        let probe_index = run[0];
        let probe = &p.probes[probe_index];
        let members = group_members(p, &run, &mut g);
        match lower_fitting(p, probe_index, &mut g, !members.is_empty()) {
            Ok((_, (insns, spans, map_relocs, comments, btf))) => {
                let name = program_name(&probe.attach.kind, &mut names);
                programs.push(ProgramCode {
                    name,
                    kind: ProgramKind::for_attach(&probe.attach.kind, g.kprobes_as_fentry),
                    attach: probe.attach.clone(),
                    insns,
                    map_relocs,
                    spans,
                    comments,
                    members,
                    btf,
                });
            }
            Err(d) => diags.push(d),
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(CompiledProgram { programs, maps: g.maps, events: g.events, probe_names: g.probe_names, records: p.records.clone(), str_trunc_trailer: p.settings.str_trunc_trailer.clone().unwrap_or_else(|| DEFAULT_STR_TRUNC_TRAILER.into()), missing_probes: p.settings.missing_probes })
}

/// The members of a run of probes compiled as one program (none for a run
/// of one): each one's `func` and `probe` names go into the probe-name table
/// and their indices into its attach cookie.
fn group_members(p: &TypedProgram, run: &[usize], g: &mut Globals) -> Vec<GroupMember> {
    if run.len() < 2 {
        return Vec::new();
    }
    let wildcard = group::from_wildcard(p, run);
    run.iter()
        .zip(wildcard)
        .map(|(&i, from_wildcard)| {
            let attach = &p.probes[i].attach;
            let func = g.probe_name_index(attach.kind.function().unwrap_or_default());
            let probe = g.probe_name_index(&attach.raw);
            GroupMember { attach: attach.clone(), cookie: group::cookie(func, probe), from_wildcard }
        })
        .collect()
}

/// `-d ir`: every probe's IR before register allocation.
pub fn dump_ir(p: &TypedProgram, opts: &CompileOptions) -> Result<String, Vec<Diagnostic>> {
    let mut g = globals(p, opts);
    let mut out = String::new();
    let mut names = UniqueNames::default();
    for run in group::runs(p, g.kprobes_as_fentry) {
        let (i, probe) = (run[0], &p.probes[run[0]]);
        let grouped = !group_members(p, &run, &mut g).is_empty();
        let (ir, _) = lower_fitting(p, i, &mut g, grouped).map_err(|d| vec![d])?;
        let name = program_name(&probe.attach.kind, &mut names);
        out.push_str(&ir::dump_ir(&format!("{name} ({})", probe.attach.raw), &ir));
        out.push('\n');
        for (n, cb) in ir.callbacks.iter().enumerate() {
            out.push_str(&ir::dump_ir(&format!("{name} callback#{n}"), cb));
            out.push('\n');
        }
    }
    Ok(out)
}

/// Lower and finish one probe; when its buffers do not fit the 512-byte
/// stack, lower it again with them in the per-CPU scratch map.
/// `grouped`: the program serves several functions (`func`/`probe` come
/// from the attach cookie).
fn lower_fitting(p: &TypedProgram, probe_index: usize, g: &mut Globals, grouped: bool) -> Result<(IrFunc, Finished), Diagnostic> {
    let (events, names) = (g.events.len(), g.probe_names.len());
    match lower_one(p, probe_index, g, false, grouped) {
        Ok(done) => Ok(done),
        Err(Failure::Other(d)) => Err(d),
        Err(Failure::Stack(_)) => {
            // Forget what the first attempt registered.
            g.events.truncate(events);
            g.probe_names.truncate(names);
            lower_one(p, probe_index, g, true, grouped).map_err(|(Failure::Stack(d) | Failure::Other(d))| d)
        }
    }
}

fn lower_one(p: &TypedProgram, probe_index: usize, g: &mut Globals, scratch: bool, grouped: bool) -> Result<(IrFunc, Finished), Failure> {
    let mut lowerer = Lowerer::new(p, probe_index, g);
    lowerer.names_from_cookie = grouped;
    let lowerer = if scratch { lowerer.with_scratch() } else { lowerer };
    let mut ir = lowerer.lower_probe()?;
    let probe = &p.probes[probe_index];
    let undefined = |l: ir::Label| Failure::Other(Diagnostic::error(probe.span, format!("internal error: undefined label L{}", l.0)));
    ir::cleanup::simplify(&mut ir).map_err(undefined)?;
    for cb in &mut ir.callbacks {
        ir::cleanup::simplify(cb).map_err(undefined)?;
    }
    let main = finish(&ir, probe)?;
    let callbacks = ir.callbacks.iter().map(|cb| finish(cb, probe)).collect::<Result<Vec<_>, _>>()?;
    let has_callbacks = !callbacks.is_empty();
    let (e, starts) = emit::link(main, callbacks);
    if e.insns.len() > MAX_INSNS {
        return Err(Failure::Other(Diagnostic::error(
            probe.span,
            format!("this probe compiles to {} instructions, more than the kernel's limit of {MAX_INSNS}", e.insns.len()),
        )
        .with_hint("long string comparisons and unrolled loops cost instructions per byte or iteration")));
    }
    let btf = has_callbacks.then(|| crate::prog_btf::for_functions(&starts[1..]));
    Ok((ir, (e.insns, e.spans, e.map_relocs, e.comments, btf)))
}

type Finished = (
    Vec<crate::insn::Insn>,
    Vec<flowtrace_lang::Span>,
    Vec<(usize, MapRef)>,
    Vec<(usize, String)>,
    Option<crate::prog_btf::ProgramBtf>,
);

/// Allocate registers, check the limits we can predict, emit one function
/// (the probe's own or a callback: each has its own registers and frame).
fn finish(ir: &IrFunc, probe: &flowtrace_lang::typed::TProbe) -> Result<emit::Emitted, Failure> {
    let other = |d| Failure::Other(d);
    let alloc = regalloc::allocate(ir).map_err(|e| other(Diagnostic::error(probe.span, e.0)))?;
    if alloc.stack_size > MAX_STACK {
        return Err(Failure::Stack(Diagnostic::error(
            probe.span,
            format!("this probe needs {} bytes of BPF stack ({} for values, {} spilled), more than the {MAX_STACK} allowed",
                alloc.stack_size, ir.stack_size, alloc.spills * 8),
        )
        .with_hint("split the work over several statements or use shorter strings")));
    }
    emit::emit(&alloc.func).map_err(|e| other(Diagnostic::error(e.span, e.message)))
}

/// The maps every program shares: one per user map, then stats and events.
/// An eighth of the ring buffer: at 100k `printf`s a second (~5 MB/s) the
/// reader is woken every few milliseconds, long before the ring can fill,
/// while a trickle of events costs no wake-up at all (the reader's poll
/// timeout, 50 ms, picks them up).
pub(crate) fn printf_wake_bytes(ringbuf_bytes: u32) -> u32 {
    ringbuf_bytes / 8
}

fn globals(p: &TypedProgram, opts: &CompileOptions) -> Globals {
    let mut g = Globals::new(opts.start_ns);
    g.wall_offset_ns = opts.wall_offset_ns;
    g.kprobes_as_fentry = opts.kprobes_as_fentry;
    g.possible_cpus = opts.possible_cpus;
    g.helper_warnings = opts.helper_warnings;
    g.bpf_loop = opts.bpf_loop;
    g.printf_wake_bytes = printf_wake_bytes(opts.ringbuf_bytes);
    g.stack_entries = opts.map_keys.max(1);
    let mut used_names = UniqueNames::default();
    for (i, m) in p.maps.iter().enumerate() {
        let (declared, n) = match m.declared {
            Some((k, n)) => (Some(k), n.min(u64::from(u32::MAX)) as u32),
            None => (None, opts.map_keys),
        };
        let (map_type, value, value_size) = match &m.value {
            Type::Agg(a) => {
                let lru = matches!(declared, Some(MapKind::LruHash | MapKind::PercpuLruHash));
                (if lru { BpfMapType::LruPercpuHash } else { BpfMapType::PercpuHash }, MapValue::Agg(*a), layout::agg_size(*a))
            }
            other => {
                let lru = matches!(declared, Some(MapKind::LruHash | MapKind::PercpuLruHash));
                (if lru { BpfMapType::LruHash } else { BpfMapType::Hash }, MapValue::Plain(other.clone()), layout::size_of(other).max(8))
            }
        };
        let name = used_names.claim(bpf_name(if m.name.is_empty() { "map" } else { &m.name }));
        g.user_maps.push(MapRef(g.maps.len() as u32));
        g.maps.push(MapSpec {
            name,
            map_type,
            key_size: layout::key_size(&m.key),
            value_size,
            max_entries: n.max(1),
            role: MapRole::User { id: MapId(i as u32), name: m.name.clone(), keys: m.key.clone(), value, declared, fused: None },
        });
    }
    if opts.fuse {
        add_fused_storage(&mut g, crate::fuse::plan(p), &mut used_names);
    }
    g.stats = MapRef(g.maps.len() as u32);
    g.maps.push(MapSpec {
        name: "ft_stats".into(),
        map_type: BpfMapType::PercpuArray,
        key_size: 4,
        value_size: 8,
        max_entries: crate::object::stats_slots(p.maps.len() as u32),
        role: MapRole::Stats,
    });
    g.events_map = MapRef(g.maps.len() as u32);
    g.maps.push(MapSpec {
        name: "ft_events".into(),
        map_type: BpfMapType::RingBuf,
        key_size: 0,
        value_size: 0,
        max_entries: opts.ringbuf_bytes,
        role: MapRole::Events,
    });
    g
}

/// One BPF map per fused group, shaped like its first member's (type, key,
/// size) with the group's value; each member's own spec becomes a 1-entry
/// placeholder array pointing at it (`object::FusedPart`).
fn add_fused_storage(g: &mut Globals, plan: crate::fuse::FusePlan, used_names: &mut UniqueNames) {
    for group in &plan.groups {
        let first = g.user_maps[group.members[0].map.0 as usize];
        let template = g.maps[first.0 as usize].clone();
        let storage = g.maps.len() as u32;
        for (bit, m) in group.members.iter().enumerate() {
            let spec = &mut g.maps[g.user_maps[m.map.0 as usize].0 as usize];
            spec.map_type = BpfMapType::Array;
            spec.key_size = 4;
            spec.value_size = 8;
            spec.max_entries = 1;
            if let MapRole::User { fused, .. } = &mut spec.role {
                *fused = Some(crate::object::FusedPart { storage, offset: m.offset, bit: bit as u32 });
            }
        }
        g.fused_storage.push(MapRef(storage));
        g.maps.push(MapSpec {
            name: used_names.claim(bpf_name(&format!("fused_{}", template.name.trim_start_matches("ft_")))),
            value_size: group.value_size,
            role: MapRole::FusedStorage { members: group.members.iter().map(|m| m.map).collect() },
            ..template
        });
    }
    g.fuse = plan;
}

/// `ft_` + the attach point's short name, sanitised to `[A-Za-z0-9_]`, at
/// most 15 chars.
fn program_name(kind: &AttachKind, taken: &mut UniqueNames) -> String {
    taken.claim(bpf_name(&kind.short_name()))
}

fn bpf_name(s: &str) -> String {
    let clean: String = s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let mut name = format!("ft_{clean}");
    name.truncate(15);
    name
}

/// Names already given out (kernel object names must be unique per program).
/// Thousands of probes on one attach point all want the same 15-character
/// name: looking each candidate up in a set, and resuming each base name's
/// suffixes where the last one stopped, keeps that linear (a list searched
/// from suffix 1 every time was cubic: 4000 probes took 34 s).
#[derive(Default)]
struct UniqueNames {
    taken: HashSet<String>,
    next_suffix: HashMap<String, u32>,
}

impl UniqueNames {
    /// `name`, or `name` shortened with a numeric suffix when already taken.
    fn claim(&mut self, name: String) -> String {
        if self.taken.insert(name.clone()) {
            return name;
        }
        let next = self.next_suffix.entry(name.clone()).or_insert(1);
        loop {
            let suffix = format!("_{next}");
            *next += 1;
            let mut base = name.clone();
            base.truncate(15 - suffix.len());
            let candidate = base.trim_end_matches('_').to_string() + &suffix;
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_names_are_short_valid_and_unique() {
        let tp = AttachKind::Tracepoint { category: "sock".into(), name: "inet_sock_set_state".into() };
        let mut taken = UniqueNames::default();
        let a = program_name(&tp, &mut taken);
        assert_eq!(a, "ft_inet_sock_se");
        let b = program_name(&tp, &mut taken);
        assert_eq!(b, "ft_inet_sock_1");
        assert!(b.len() <= 15);
        // A name that happens to equal a suffixed one is skipped over.
        assert_eq!(taken.claim("ft_inet_sock_2".into()), "ft_inet_sock_2");
        assert_eq!(program_name(&tp, &mut taken), "ft_inet_sock_3");
    }
}
