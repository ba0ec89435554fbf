//! What code generation hands to the runtime: BPF programs (instructions plus
//! the map references to relocate), the maps to create, and the event kinds the
//! programs send through the ring buffer. Pure data: the ELF writer turns it
//! into bytes aya can load; the runtime uses the layouts to decode values.

use crate::insn::Insn;
use flowtrace_lang::ast::{AttachKind, AttachPoint, MapKind};
use flowtrace_lang::span::Span;
use flowtrace_lang::typed::MapId;
use flowtrace_lang::types::{AggKind, Type};
use flowtrace_stdlib::printf::Format;

#[derive(Clone, Debug)]
pub struct CompiledProgram {
    pub programs: Vec<ProgramCode>,
    /// Every BPF map the programs use; a [`MapRef`] indexes this.
    pub maps: Vec<MapSpec>,
    /// Indexed by event id (the first u64 of every ring-buffer record).
    pub events: Vec<EventKind>,
    /// Strings that `probe`/`func` values (type `ProbeName`, 8 bytes) index.
    pub probe_names: Vec<String>,
    /// The fields of the structs and unions printed values hold, by BTF id
    /// (see `TypedProgram::records`).
    pub records: flowtrace_lang::types::RecordLayouts,
    /// The config's `str_trunc_trailer` (see `Settings`).
    pub str_trunc_trailer: String,
    /// The config's `missing_probes`: also what a probe that fails to
    /// attach at run time does.
    pub missing_probes: flowtrace_lang::config::MissingProbes,
}

/// Index into [`CompiledProgram::maps`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MapRef(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProgramKind {
    /// `BEGIN`/`END`: raw-tracepoint programs run once with `BPF_PROG_TEST_RUN`.
    Special,
    Kprobe,
    Kretprobe,
    Tracepoint,
    RawTracepoint,
    Fentry,
    Fexit,
    /// `interval:` (a software cpu-clock perf event on one CPU), `profile:`,
    /// `software:` and `hardware:` (on every CPU).
    PerfEvent,
    /// `tc:`: sched_cls program, always returning `TC_ACT_UNSPEC`.
    SchedCls,
    /// `uprobe:` and `usdt:` (a uprobe at the note's address): a kprobe-type
    /// program on a uprobe perf event; the context is the user `pt_regs`.
    Uprobe,
    /// `uretprobe:`.
    Uretprobe,
    /// `iter:NAME`: a tracing program bound to `bpf_iter_NAME` (attach type
    /// BPF_TRACE_ITER), run by reading an iterator made from its link.
    Iter,
}

impl ProgramKind {
    /// The program kind a probe compiles to. With `kprobes_as_fentry` (a
    /// kernel without kprobes where fentry works), kprobe/kretprobe probes
    /// become fentry/fexit programs that keep kprobe semantics (see
    /// `Lowerer::lower_arg`).
    pub fn for_attach(attach: &AttachKind, kprobes_as_fentry: bool) -> ProgramKind {
        match attach {
            AttachKind::Kprobe { .. } if kprobes_as_fentry => ProgramKind::Fentry,
            AttachKind::Kretprobe { .. } if kprobes_as_fentry => ProgramKind::Fexit,
            AttachKind::Begin | AttachKind::End => ProgramKind::Special,
            AttachKind::Kprobe { .. } => ProgramKind::Kprobe,
            AttachKind::Kretprobe { .. } => ProgramKind::Kretprobe,
            AttachKind::Tracepoint { .. } => ProgramKind::Tracepoint,
            AttachKind::RawTracepoint { .. } => ProgramKind::RawTracepoint,
            AttachKind::Fentry { .. } => ProgramKind::Fentry,
            AttachKind::Fexit { .. } => ProgramKind::Fexit,
            AttachKind::Interval { .. } | AttachKind::Profile { .. } | AttachKind::Software { .. } | AttachKind::Hardware { .. } => {
                ProgramKind::PerfEvent
            }
            AttachKind::Tc { .. } => ProgramKind::SchedCls,
            AttachKind::Uprobe { .. } | AttachKind::Usdt { .. } => ProgramKind::Uprobe,
            AttachKind::Uretprobe { .. } => ProgramKind::Uretprobe,
            AttachKind::Iter { .. } => ProgramKind::Iter,
        }
    }

    /// Whether the program fires in user space (uprobe, uretprobe, usdt):
    /// plain addresses it reads are the traced process's.
    pub fn is_user_space(self) -> bool {
        matches!(self, ProgramKind::Uprobe | ProgramKind::Uretprobe)
    }

    /// The kernel's program type (`enum bpf_prog_type`).
    pub fn bpf_prog_type(self) -> u32 {
        match self {
            ProgramKind::Kprobe | ProgramKind::Kretprobe | ProgramKind::Uprobe | ProgramKind::Uretprobe => 2,
            ProgramKind::SchedCls => 3,
            ProgramKind::Tracepoint => 5,
            ProgramKind::PerfEvent => 7,
            // BEGIN/END too: the raw-tracepoint type is what lets the kernel
            // test-run a tracing program (since 5.10).
            ProgramKind::RawTracepoint | ProgramKind::Special => 17,
            ProgramKind::Fentry | ProgramKind::Fexit | ProgramKind::Iter => 26,
        }
    }

    /// The ELF section a program of this kind attached at `attach` lives
    /// in. aya picks the program type from the part before the first `/`;
    /// the rest is for readers of `readelf` output.
    pub fn section_name(self, attach: &AttachKind) -> String {
        let function = || attach.function().unwrap_or_default();
        match self {
            ProgramKind::Kprobe => format!("kprobe/{}", function()),
            ProgramKind::Kretprobe => format!("kretprobe/{}", function()),
            ProgramKind::Fentry => format!("fentry/{}", function()),
            ProgramKind::Fexit => format!("fexit/{}", function()),
            ProgramKind::Tracepoint => {
                let (category, name) = attach.tracepoint().unwrap_or_default();
                format!("tracepoint/{category}/{name}")
            }
            ProgramKind::RawTracepoint => format!("raw_tracepoint/{}", attach.event_name().unwrap_or_default()),
            ProgramKind::PerfEvent => "perf_event".to_string(),
            ProgramKind::Uprobe => "uprobe".to_string(),
            ProgramKind::Uretprobe => "uretprobe".to_string(),
            ProgramKind::SchedCls => "classifier".to_string(),
            ProgramKind::Iter => format!("iter/{}", attach.iterator().unwrap_or_default()),
            // Never attached, only run with BPF_PROG_TEST_RUN: any name will do.
            ProgramKind::Special => "raw_tracepoint/flowtrace_special".to_string(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ProgramCode {
    /// A valid BPF object name (≤ 15 chars, `[A-Za-z0-9_]`), prefixed `ft_`
    /// so leftovers can be recognised.
    pub name: String,
    pub kind: ProgramKind,
    /// The concrete attach point.
    pub attach: AttachPoint,
    pub insns: Vec<Insn>,
    /// `lddw` instructions (by index of their first slot) whose immediate must
    /// become the fd of a map.
    pub map_relocs: Vec<(usize, MapRef)>,
    /// For each instruction, the source span it was lowered from (so a
    /// verifier rejection can be shown against the source).
    pub spans: Vec<Span>,
    /// `-d ir` / `-d bpf` comments: (instruction index, text).
    pub comments: Vec<(usize, String)>,
    /// Empty for a program traced at `attach` only. Otherwise one program
    /// serves several kprobe (or kretprobe) functions (`kprobe:tcp_*`):
    /// it is attached to each member, and reads which one fired from the
    /// attach cookie (see [`GroupMember::cookie`]); `attach` is the first
    /// member's.
    pub members: Vec<GroupMember>,
    /// Set when the program has callback subprograms (after the main
    /// function's instructions): the program BTF and `func_info` it must
    /// be loaded with.
    pub btf: Option<crate::prog_btf::ProgramBtf>,
}

/// One function a grouped kprobe program is attached to.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupMember {
    /// The concrete attach point (`kprobe:tcp_sendmsg`).
    pub attach: AttachPoint,
    /// The attach cookie (`bpf_get_attach_cookie`): the low 32 bits index
    /// [`CompiledProgram::probe_names`] for `func`, the high 32 bits for `probe`.
    pub cookie: u64,
    /// Matched by a wildcard: when the kernel cannot trace it, it is skipped
    /// with a warning instead of failing the run.
    pub from_wildcard: bool,
}

/// BPF map types flowtrace creates (`enum bpf_map_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BpfMapType {
    Hash = 1,
    Array = 2,
    PercpuHash = 5,
    PercpuArray = 6,
    StackTrace = 7,
    LruHash = 9,
    LruPercpuHash = 10,
    RingBuf = 27,
}

#[derive(Clone, Debug)]
pub struct MapSpec {
    /// A valid BPF object name, e.g. `ft_retransmits`.
    pub name: String,
    pub map_type: BpfMapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub role: MapRole,
}

#[derive(Clone, Debug)]
pub enum MapRole {
    /// A script's `@map`. Scalar maps (`@m`, no key) use the key u64 0.
    User {
        id: MapId,
        name: String,
        keys: Vec<Type>,
        value: MapValue,
        declared: Option<MapKind>,
        /// Where the map's entries live when it is fused with others
        /// (`crate::fuse`); `None` when this spec's own BPF map holds them.
        fused: Option<FusedPart>,
    },
    /// One BPF map holding the entries of several user maps that are
    /// updated together under the same key (`crate::fuse`): each value is
    /// a u64 of presence bits (bit `FusedPart::bit` set: the key is in that
    /// member), then each member's aggregation fields at its offset.
    FusedStorage { members: Vec<MapId> },
    /// Per-CPU array of u64 counters, for `n` user maps: slot `MapId.0`
    /// counts failed updates of that map (map full); slot `n` +
    /// [`STATS_LOST_EVENTS`] counts ring-buffer records that could not be
    /// reserved; slot [`stats_inserts_slot`]`(n, id)` counts, for LRU maps
    /// only, keys the programs created minus keys they deleted (wrapping;
    /// sum over CPUs), from which the runtime derives silent evictions; slot
    /// [`stats_loops_cut_slot`]`(n)` counts `for` ranges cut at the round cap;
    /// slot [`stats_stacks_lost_slot`]`(n)` counts stacks not recorded.
    Stats,
    /// The ring buffer for printf and async actions.
    Events,
    /// Per-CPU scratch space bigger than the 512-byte stack allows.
    Scratch,
    /// tc probes' `ifname`: interface index (u32) → NUL-padded name
    /// (`IFNAMSIZ` = 16 bytes), written by the runtime for every interface
    /// it attaches to, since a glob attaches one program to many.
    Ifnames,
    /// `kstack`/`ustack`: stack id (u32) → `limit` u64 addresses, one map
    /// per depth, shared by kernel and user stacks (as bpftrace's).
    Stacks { limit: u32 },
}

/// Where a fused user map's entries are: in the map at `storage` (indexed
/// like [`CompiledProgram::maps`]), at byte `offset` of each (per-CPU)
/// value, present where bit `bit` of the value's first u64 is set on any
/// CPU. The user map's own spec is then a 1-entry placeholder array that
/// nothing writes, so map indices stay as the loader numbers them. An LRU
/// storage's creations are counted in the inserts slot of its first member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FusedPart {
    pub storage: u32,
    pub offset: u32,
    pub bit: u32,
}

/// Offset of the lost-events counter after the per-map slots of the stats map.
pub const STATS_LOST_EVENTS: u32 = 0;

/// Slots in the stats map of a program with `user_maps` user maps.
pub fn stats_slots(user_maps: u32) -> u32 {
    2 * user_maps + 3
}

/// The slot counting `kstack`/`ustack` the kernel could not record
/// (`bpf_get_stackid` failed: the stack map full, a hash collision, no
/// user stack to take): after every other slot, so those keep their numbers.
pub fn stats_stacks_lost_slot(user_maps: u32) -> u32 {
    2 * user_maps + 2
}

/// The slot counting `for` ranges cut short at `lower::loops::MAX_ROUNDS`
/// rounds: after every other slot, so those keep their numbers.
pub fn stats_loops_cut_slot(user_maps: u32) -> u32 {
    2 * user_maps + 1
}

/// The slot counting keys created (minus deleted) in LRU map `map`: after the
/// per-map failure slots and the lost-events slot, so those keep their
/// numbers.
pub fn stats_inserts_slot(user_maps: u32, map: MapId) -> u32 {
    user_maps + 1 + map.0
}

#[derive(Clone, Debug, PartialEq)]
pub enum MapValue {
    /// Written by `@m = v`: one value of this type (not per-CPU).
    Plain(Type),
    /// Written by aggregation calls: per-CPU, merged in userspace.
    Agg(AggKind),
}

/// What one ring-buffer record means. The record is the event id (u64), then
/// the arguments laid out by [`crate::layout`].
#[derive(Clone, Debug, PartialEq)]
pub enum EventKind {
    /// The checker's parsed format: the runtime renders its pieces and never
    /// parses a format string.
    Printf { format: Format, args: Vec<Type> },
    PrintMap { map: MapId, top: u64, div: u64 },
    PrintValue { ty: Type },
    Clear { map: MapId },
    Zero { map: MapId },
    Time { format: String },
    Exit,
    /// `exit(code)`: the record holds the code, an int64.
    ExitCode,
    /// `cat(fmt, …)`: the formatted path of a file to print.
    Cat { format: Format, args: Vec<Type> },
    /// `system(fmt, …)`: the formatted command to run.
    System { format: Format, args: Vec<Type> },
    /// `join(argv, sep)`: a u64 count, then that many strings of
    /// `flowtrace_lang::typed::JOIN_ITEM_SIZE` bytes.
    Join { sep: String },
    /// `-k`: a helper returned an error at `span`; the record holds the
    /// negative errno (i64).
    HelperError { helper: i32, span: flowtrace_lang::span::Span },
}
