//! The table of attach-point providers: the one place that says which
//! provider names and aliases exist, which [`ProbeKind`] each one is, what
//! follows the name (its [`Target`]), what `flowtrace -l` lists for it and
//! what `args`/`func` mean in its probes.
//!
//! Everything that needs a provider's name or shape reads this table: the
//! parser (names, aliases, "did you mean", the list of valid providers), the
//! checker (wildcard expansion and what a probe's context holds, through
//! [`Target`] and [`Args`]), `flowtrace -l`, the REPL's completion, the
//! builtins reference and the `probe` builtin's canonical names. The rest —
//! which kernel function or tracepoint a concrete attach point traces, its
//! display name — are methods on `flowtrace_lang::ast::AttachKind`, which
//! maps each of its variants to a [`ProbeKind`] once. Code generation maps a
//! kind to its BPF program type (`flowtrace_codegen::object::ProgramKind`,
//! which carries the program-type number and ELF section name), and the
//! runtime attaches it in one file per kind (`runtime/src/attach/`).
//!
//! The table lives here rather than in the language crate because builtins
//! name the kinds they may be used in (`BuiltinInfo::usable_in`) and this
//! crate cannot depend on the language crate.
//!
//! Adding a provider (say `uprobe:`) touches: its [`ProbeKind`] and row
//! here; its `AttachKind` variant and that variant's arms in
//! `lang/src/ast/attach.rs`; its parsing arm in `lang/src/parser/attach.rs`;
//! the builtins usable in it (`probe_context.rs`: `arg0`, `retval`, …); its
//! `ProgramKind` in `codegen/src/object.rs` with its context lowering in
//! `codegen/src/lower/context.rs`; and its attach file plus one dispatch arm
//! each in `runtime/src/attach/`. A provider with a new [`Target`] shape
//! also gets an arm where the compiler asks for one (`flowtrace -l` in
//! `src/list.rs`, completion in `src/repl/completion.rs`, the reference in
//! `stdlib/tests/reference_doc.rs`), and docs/language.md a row (tested).

/// The kinds of attach point. Builtins say in which kinds they may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeKind {
    Begin,
    End,
    Kprobe,
    Kretprobe,
    Tracepoint,
    RawTracepoint,
    Fentry,
    Fexit,
    Interval,
    Profile,
    Software,
    Hardware,
    Tc,
    Uprobe,
    Uretprobe,
    Usdt,
    Iter,
}

/// What follows the provider name in an attach point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Nothing: `BEGIN`.
    Nothing,
    /// `FUNCTION` or `MODULE:FUNCTION`, a kernel function. Wildcards match
    /// the functions BTF describes; `func` is the function's name.
    KernelFunction,
    /// `CATEGORY:NAME` of a tracefs tracepoint; wildcards in either part.
    Tracepoint,
    /// `NAME`: a tracepoint by its bare name (a raw tracepoint).
    RawTracepoint,
    /// A period: `s:N`, `ms:N`, `us:N`, `hz:N` or `1s`.
    Period,
    /// `IFACE:DIRECTION`: an interface name or glob, `ingress` or `egress`.
    Interface,
    /// `BINARY:FUNCTION[+OFFSET]` or `BINARY:ADDRESS`: a function (glob) of an
    /// ELF binary or library, by path or library name (`libc`).
    UserFunction,
    /// `BINARY:[PROVIDER:]NAME`: a USDT probe of an ELF binary (globs allowed).
    Usdt,
    /// `NAME`: a BPF iterator (`task`, `tcp`, …), one of the kernel's
    /// `bpf_iter_NAME` functions in BTF; no wildcards.
    Iterator,
    /// `EVENT` or `EVENT:COUNT`: a perf event by bpftrace's name, sampled
    /// every COUNT events (`flowtrace_lang::ast::perf_event`).
    PerfEvent,
}

/// What `args.NAME` reads in a probe of this kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Args {
    /// No `args`.
    None,
    /// The tracepoint's fields, from its tracefs format.
    TracepointFields,
    /// The function's parameters, from its BTF prototype (which must exist).
    FunctionParams,
}

/// One provider: a row of [`PROVIDERS`].
#[derive(Debug)]
pub struct Provider {
    pub kind: ProbeKind,
    /// The canonical name: what `probe` shows and messages use.
    pub name: &'static str,
    /// Other names accepted for it (`k` for `kprobe`).
    pub aliases: &'static [&'static str],
    pub target: Target,
    pub args: Args,
    /// Whether a bare `flowtrace -l PATTERN` (no provider) lists this
    /// provider's targets, as bpftrace lists kprobes and tracepoints.
    pub listed_by_default: bool,
    /// Whether the probe runs in some task's context (so `pid`, `comm`, …
    /// mean something); a tc program runs for a packet, in no task.
    pub task_context: bool,
    /// One line for the reference: where the probe fires.
    pub doc: &'static str,
}

use Args as A;
use ProbeKind as K;

/// Every provider, in documentation order; [`ProbeKind::ALL`] follows it.
pub const PROVIDERS: [Provider; 17] = [
    row(K::Begin, "BEGIN", &["begin"], Target::Nothing, A::None, "once, before the other probes attach"),
    row(K::End, "END", &["end"], Target::Nothing, A::None, "once, after the other probes detach"),
    row(K::Kprobe, "kprobe", &["k"], Target::KernelFunction, A::None, "at a kernel function's entry").listed(),
    row(K::Kretprobe, "kretprobe", &["kr"], Target::KernelFunction, A::None, "at a kernel function's return"),
    row(K::Tracepoint, "tracepoint", &["t"], Target::Tracepoint, A::TracepointFields, "at a kernel tracepoint").listed(),
    row(K::RawTracepoint, "rawtracepoint", &["rt"], Target::RawTracepoint, A::None, "at a tracepoint, with its raw arguments"),
    row(K::Fentry, "fentry", &["f", "kfunc"], Target::KernelFunction, A::FunctionParams, "at a kernel function's entry, BTF-typed"),
    row(K::Fexit, "fexit", &["fr", "kretfunc"], Target::KernelFunction, A::FunctionParams, "at a kernel function's return, BTF-typed"),
    row(K::Interval, "interval", &["i"], Target::Period, A::None, "every period, on one CPU"),
    row(K::Profile, "profile", &["p"], Target::Period, A::None, "every period, on every CPU"),
    row(K::Software, "software", &["s"], Target::PerfEvent, A::None, "every COUNT software events, on every CPU"),
    row(K::Hardware, "hardware", &["h"], Target::PerfEvent, A::None, "every COUNT hardware events, on every CPU"),
    Provider { task_context: false, ..row(K::Tc, "tc", &[], Target::Interface, A::None, "for every packet on an interface") },
    row(K::Uprobe, "uprobe", &["u"], Target::UserFunction, A::None, "at a user-space function's entry (or an offset in it)"),
    row(K::Uretprobe, "uretprobe", &["ur"], Target::UserFunction, A::None, "at a user-space function's return"),
    row(K::Usdt, "usdt", &["U"], Target::Usdt, A::None, "at a USDT probe compiled into a binary (.note.stapsdt)"),
    row(K::Iter, "iter", &["it"], Target::Iterator, A::None, "once per kernel object (task, socket, …), then the script ends"),
];

const fn row(kind: ProbeKind, name: &'static str, aliases: &'static [&'static str], target: Target, args: Args, doc: &'static str) -> Provider {
    Provider { kind, name, aliases, target, args, listed_by_default: false, task_context: true, doc }
}

impl Provider {
    const fn listed(self) -> Provider {
        Provider { listed_by_default: true, ..self }
    }

    /// Whether `name` is this provider's name or one of its aliases.
    pub fn is_called(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }

    /// The provider's name and aliases.
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        std::iter::once(self.name).chain(self.aliases.iter().copied())
    }
}

/// A provider bpftrace has and flowtrace does not attach yet (a later
/// issue). Its names are known so a script copied from bpftrace is told
/// "not supported yet" at the provider, not "unknown provider".
#[derive(Debug)]
pub struct PlannedProvider {
    pub name: &'static str,
    pub aliases: &'static [&'static str],
}

pub const PLANNED: &[PlannedProvider] = &[
    PlannedProvider { name: "watchpoint", aliases: &["w"] },
];

/// The planned provider called `name` (its name or an alias), if any.
pub fn planned_provider(name: &str) -> Option<&'static PlannedProvider> {
    PLANNED.iter().find(|p| p.name == name || p.aliases.contains(&name))
}

/// The provider called `name` (its name or an alias), if any.
pub fn provider(name: &str) -> Option<&'static Provider> {
    PROVIDERS.iter().find(|p| p.is_called(name))
}

/// Every provider name and alias, for "did you mean" and completion.
pub fn provider_names() -> impl Iterator<Item = &'static str> {
    PROVIDERS.iter().flat_map(Provider::names)
}

const fn kinds<const N: usize>(only_task: bool) -> [ProbeKind; N] {
    let mut out = [ProbeKind::Begin; N];
    let (mut i, mut n) = (0, 0);
    while i < PROVIDERS.len() {
        if !only_task || PROVIDERS[i].task_context {
            out[n] = PROVIDERS[i].kind;
            n += 1;
        }
        i += 1;
    }
    out
}

const fn task_count() -> usize {
    let (mut i, mut n) = (0, 0);
    while i < PROVIDERS.len() {
        if PROVIDERS[i].task_context {
            n += 1;
        }
        i += 1;
    }
    n
}

const ALL_KINDS: [ProbeKind; PROVIDERS.len()] = kinds(false);
const TASK_KINDS: [ProbeKind; task_count()] = kinds(true);

impl ProbeKind {
    /// Every kind, in the table's order.
    pub const ALL: &'static [ProbeKind] = &ALL_KINDS;

    /// Every kind that runs in some task's context (everything but `tc:`).
    pub const TASK: &'static [ProbeKind] = &TASK_KINDS;

    /// This kind's row of [`PROVIDERS`].
    pub fn provider(self) -> &'static Provider {
        // Every kind has a row (tested below); the fallback keeps this total.
        PROVIDERS.iter().find(|p| p.kind == self).unwrap_or(&PROVIDERS[0])
    }

    /// The provider name as written in an attach point.
    pub fn name(self) -> &'static str {
        self.provider().name
    }

    /// Whether the attach point names a kernel function (which `func` is).
    pub fn traces_kernel_function(self) -> bool {
        self.provider().target == Target::KernelFunction
    }

    /// Whether the attach point names a function, in the kernel or in a
    /// user-space binary: `func` names it.
    pub fn traces_function(self) -> bool {
        matches!(self.provider().target, Target::KernelFunction | Target::UserFunction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_kind_has_one_row_and_names_are_unique() {
        for kind in ProbeKind::ALL {
            assert_eq!(PROVIDERS.iter().filter(|p| p.kind == *kind).count(), 1, "{kind:?}");
        }
        assert_eq!(ProbeKind::ALL.len(), 17);
        let mut seen = HashSet::new();
        for name in provider_names() {
            assert!(seen.insert(name), "{name} names two providers");
        }
    }

    #[test]
    fn aliases_resolve_to_their_provider() {
        assert_eq!(provider("k").map(|p| p.kind), Some(ProbeKind::Kprobe));
        assert_eq!(provider("kretfunc").map(|p| p.kind), Some(ProbeKind::Fexit));
        assert_eq!(provider("rt").map(|p| p.name), Some("rawtracepoint"));
        assert_eq!(provider("begin").map(|p| p.name), Some("BEGIN"));
        assert!(provider("kprobex").is_none());
    }

    #[test]
    fn planned_providers_do_not_shadow_real_ones() {
        for p in PLANNED {
            for name in std::iter::once(p.name).chain(p.aliases.iter().copied()) {
                assert!(provider(name).is_none(), "{name} is both planned and attachable");
            }
        }
        assert_eq!(provider("ur").map(|p| p.name), Some("uretprobe"));
        assert_eq!(planned_provider("w").map(|p| p.name), Some("watchpoint"));
        assert_eq!(provider("h").map(|p| p.kind), Some(ProbeKind::Hardware));
    }

    #[test]
    fn task_kinds_are_all_but_tc() {
        assert_eq!(ProbeKind::TASK.len(), ProbeKind::ALL.len() - 1);
        assert!(!ProbeKind::TASK.contains(&ProbeKind::Tc));
    }

    #[test]
    fn func_is_usable_exactly_where_a_kernel_function_is_traced() {
        let func = crate::lookup_builtin("func").expect("func is registered");
        for kind in ProbeKind::ALL {
            assert_eq!(func.usable_in(*kind), kind.traces_function(), "{kind:?}");
        }
        let args = crate::lookup_builtin("args").expect("args is registered");
        for kind in ProbeKind::ALL {
            assert_eq!(args.usable_in(*kind), kind.provider().args != Args::None, "{kind:?}");
        }
    }
}
