//! Attach points: the parsed `provider:target…` and what it traces. The
//! provider table (names, aliases, kinds, what `-l` lists, what `args`
//! means) is `flowtrace_stdlib::provider`; [`AttachKind::probe_kind`] is the
//! one mapping from a variant to its row, and the methods here answer the
//! questions every stage asks of an attach point — which kernel function,
//! which tracepoint, its canonical name — so no stage matches on the
//! variants to find out.

use super::user::{UserTarget, UsdtSite};
use super::perf_event::PerfEventName;
use crate::span::Span;
use flowtrace_stdlib::provider::Provider;
use flowtrace_stdlib::ProbeKind;

/// One `provider:target…` of a probe's comma-separated list, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct AttachPoint {
    pub kind: AttachKind,
    /// The text as written, e.g. `k:tcp_sendmsg` (for `probe` and messages).
    /// After checking, the canonical name ([`AttachPoint::display_name`]).
    pub raw: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AttachKind {
    Begin,
    End,
    /// `kprobe:F`, `k:F`, or `kprobe:MODULE:F`. `func` may hold `*` wildcards.
    Kprobe { module: Option<String>, func: String },
    Kretprobe { module: Option<String>, func: String },
    /// `tracepoint:CAT:NAME`, `t:CAT:NAME`; either part may hold wildcards.
    Tracepoint { category: String, name: String },
    /// `rawtracepoint:NAME`.
    RawTracepoint { name: String },
    /// `fentry:F`, `f:F`, `kfunc:F` (and `fentry:MODULE:F`).
    Fentry { module: Option<String>, func: String },
    /// `fexit:F`, `fr:F`, `kretfunc:F`.
    Fexit { module: Option<String>, func: String },
    /// `interval:s:N`, `interval:ms:N`, `interval:us:N`, `interval:hz:N`, `interval:1s`, `i:…`.
    Interval { period: Period },
    /// `profile:hz:N` (also `s`, `ms`, `us`), `p:…`: on every CPU.
    Profile { period: Period },
    /// `software:EVENT[:COUNT]`, `s:…`: every COUNT events, on every CPU.
    Software { event: &'static PerfEventName, count: u64 },
    /// `hardware:EVENT[:COUNT]`, `h:…`: every COUNT events, on every CPU.
    Hardware { event: &'static PerfEventName, count: u64 },
    /// flowtrace's own `tc:IFACE:ingress` / `tc:IFACE:egress`; IFACE may be a glob.
    Tc { iface: String, dir: TcDir },
    /// `uprobe:BINARY:FUNC[+OFF]`, `u:BINARY:0xADDR`. BINARY is a path, or a
    /// library name (`libc`) that the checker resolves to one.
    Uprobe { binary: String, target: UserTarget },
    /// `uretprobe:BINARY:FUNC`, `ur:…`.
    Uretprobe { binary: String, target: UserTarget },
    /// `usdt:BINARY:[PROVIDER:]NAME` (globs in PROVIDER and NAME). The
    /// checker gives every matching note one attach point with its `site`.
    Usdt { binary: String, provider: Option<String>, name: String, site: Option<UsdtSite> },
    /// `iter:NAME`, `it:NAME`: a BPF iterator (`task`, `task_file`, `tcp`,
    /// `udp`, …), run once over every object when the script starts.
    /// `pid`: `-p PID` on a task iterator, which then visits only that
    /// process's tasks (the kernel's `iter_info.task.pid`, Linux 6.1).
    Iter { name: String, pid: Option<u32> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    Nanos(u64),
    Hz(u64),
}

impl Period {
    pub fn nanos(self) -> u64 {
        match self {
            Period::Nanos(n) => n,
            Period::Hz(hz) => 1_000_000_000 / hz.max(1),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TcDir {
    Ingress,
    Egress,
}

impl TcDir {
    /// As written in the attach point, and the value of `dir`.
    pub fn name(self) -> &'static str {
        match self {
            TcDir::Ingress => "ingress",
            TcDir::Egress => "egress",
        }
    }
}

impl AttachKind {
    /// The kind of probe, which is the key of its provider-table row.
    pub fn probe_kind(&self) -> ProbeKind {
        match self {
            AttachKind::Begin => ProbeKind::Begin,
            AttachKind::End => ProbeKind::End,
            AttachKind::Kprobe { .. } => ProbeKind::Kprobe,
            AttachKind::Kretprobe { .. } => ProbeKind::Kretprobe,
            AttachKind::Tracepoint { .. } => ProbeKind::Tracepoint,
            AttachKind::RawTracepoint { .. } => ProbeKind::RawTracepoint,
            AttachKind::Fentry { .. } => ProbeKind::Fentry,
            AttachKind::Fexit { .. } => ProbeKind::Fexit,
            AttachKind::Interval { .. } => ProbeKind::Interval,
            AttachKind::Profile { .. } => ProbeKind::Profile,
            AttachKind::Software { .. } => ProbeKind::Software,
            AttachKind::Hardware { .. } => ProbeKind::Hardware,
            AttachKind::Tc { .. } => ProbeKind::Tc,
            AttachKind::Uprobe { .. } => ProbeKind::Uprobe,
            AttachKind::Uretprobe { .. } => ProbeKind::Uretprobe,
            AttachKind::Usdt { .. } => ProbeKind::Usdt,
            AttachKind::Iter { .. } => ProbeKind::Iter,
        }
    }

    pub fn provider(&self) -> &'static Provider {
        self.probe_kind().provider()
    }

    /// The kernel function traced (what `func` names), for the providers
    /// whose target is one; `None` for the others.
    pub fn function(&self) -> Option<&str> {
        self.module_and_function().map(|(_, func)| func)
    }

    /// The module named before the function (`kprobe:nf_conntrack:f`).
    pub fn module(&self) -> Option<&str> {
        self.module_and_function().and_then(|(module, _)| module)
    }

    fn module_and_function(&self) -> Option<(Option<&str>, &str)> {
        match self {
            AttachKind::Kprobe { module, func }
            | AttachKind::Kretprobe { module, func }
            | AttachKind::Fentry { module, func }
            | AttachKind::Fexit { module, func } => Some((module.as_deref(), func)),
            _ => None,
        }
    }

    /// The same attach point on another kernel function (one of a
    /// wildcard's matches); `None` when this one traces no function.
    pub fn with_function(&self, f: String) -> Option<AttachKind> {
        let module = self.module().map(str::to_string);
        Some(match self {
            AttachKind::Kprobe { .. } => AttachKind::Kprobe { module, func: f },
            AttachKind::Kretprobe { .. } => AttachKind::Kretprobe { module, func: f },
            AttachKind::Fentry { .. } => AttachKind::Fentry { module, func: f },
            AttachKind::Fexit { .. } => AttachKind::Fexit { module, func: f },
            _ => return None,
        })
    }

    /// Whether the probe fires when the function returns (`retval` exists).
    pub fn at_return(&self) -> bool {
        matches!(self, AttachKind::Kretprobe { .. } | AttachKind::Fexit { .. } | AttachKind::Uretprobe { .. })
    }

    /// The binary and place of a `uprobe:`/`uretprobe:`.
    pub fn user_target(&self) -> Option<(&str, &UserTarget)> {
        match self {
            AttachKind::Uprobe { binary, target } | AttachKind::Uretprobe { binary, target } => Some((binary, target)),
            _ => None,
        }
    }

    /// The binary a uprobe, uretprobe or USDT probe is in.
    pub fn user_binary(&self) -> Option<&str> {
        match self {
            AttachKind::Usdt { binary, .. } => Some(binary),
            _ => self.user_target().map(|(binary, _)| binary),
        }
    }

    /// The same uprobe in another binary or on another function.
    pub fn with_user_target(&self, binary: String, target: UserTarget) -> Option<AttachKind> {
        match self {
            AttachKind::Uprobe { .. } => Some(AttachKind::Uprobe { binary, target }),
            AttachKind::Uretprobe { .. } => Some(AttachKind::Uretprobe { binary, target }),
            _ => None,
        }
    }

    /// The function a probe traces, kernel or user (what `func` names).
    pub fn traced_function(&self) -> Option<&str> {
        match self.user_target() {
            Some((_, UserTarget::Function { name, .. })) => Some(name),
            Some((_, UserTarget::Address(_))) => None,
            None => self.function(),
        }
    }

    /// The iterator an `iter:` probe runs (`task`, `tcp`, …).
    pub fn iterator(&self) -> Option<&str> {
        match self {
            AttachKind::Iter { name, .. } => Some(name),
            _ => None,
        }
    }

    /// Whether the iterator walks tasks (`task`, `task_file`, `task_vma`),
    /// which the kernel can restrict to one process.
    pub fn iterates_tasks(&self) -> bool {
        matches!(self, AttachKind::Iter { name, .. } if matches!(name.as_str(), "task" | "task_file" | "task_vma"))
    }

    /// The process a task iterator is restricted to (`-p PID`).
    pub fn iterator_pid(&self) -> Option<u32> {
        match self {
            AttachKind::Iter { pid, .. } => *pid,
            _ => None,
        }
    }

    /// The tracefs tracepoint (category, name) of a `tracepoint:` probe.
    pub fn tracepoint(&self) -> Option<(&str, &str)> {
        match self {
            AttachKind::Tracepoint { category, name } => Some((category, name)),
            _ => None,
        }
    }

    /// The tracepoint event a `tracepoint:` or `rawtracepoint:` probe fires on.
    pub fn event_name(&self) -> Option<&str> {
        match self {
            AttachKind::Tracepoint { name, .. } | AttachKind::RawTracepoint { name } => Some(name),
            _ => None,
        }
    }

    /// What follows `provider:` in the canonical name: `[MODULE:]FUNC`,
    /// `CAT:NAME`, `NAME`, `ns:N`/`hz:N`, `IFACE:DIR`; `None` for `BEGIN`/`END`.
    pub fn target(&self) -> Option<String> {
        match self {
            AttachKind::Begin | AttachKind::End => None,
            AttachKind::Kprobe { module, func }
            | AttachKind::Kretprobe { module, func }
            | AttachKind::Fentry { module, func }
            | AttachKind::Fexit { module, func } => Some(match module {
                Some(m) => format!("{m}:{func}"),
                None => func.clone(),
            }),
            AttachKind::Tracepoint { category, name } => Some(format!("{category}:{name}")),
            AttachKind::RawTracepoint { name } => Some(name.clone()),
            AttachKind::Interval { period: Period::Nanos(n) } => Some(format!("ns:{n}")),
            AttachKind::Interval { period: Period::Hz(hz) } => Some(format!("hz:{hz}")),
            AttachKind::Profile { period: Period::Nanos(n) } => Some(format!("ns:{n}")),
            AttachKind::Profile { period: Period::Hz(hz) } => Some(format!("hz:{hz}")),
            AttachKind::Software { event, count } | AttachKind::Hardware { event, count } => {
                Some(format!("{}:{count}", event.name))
            }
            AttachKind::Tc { iface, dir } => Some(format!("{iface}:{}", dir.name())),
            AttachKind::Uprobe { binary, target } | AttachKind::Uretprobe { binary, target } => {
                Some(format!("{binary}:{}", target.text()))
            }
            AttachKind::Usdt { binary, provider: Some(p), name, .. } => Some(format!("{binary}:{p}:{name}")),
            AttachKind::Usdt { binary, provider: None, name, .. } => Some(format!("{binary}:{name}")),
            AttachKind::Iter { name, .. } => Some(name.clone()),
        }
    }

    /// A short name for the kernel objects made for this probe (BPF program
    /// names, at most 15 characters with a prefix): the function (`r_` at
    /// return), the tracepoint's name, or the provider.
    pub fn short_name(&self) -> String {
        if let Some(func) = self.function() {
            return if self.at_return() { format!("r_{func}") } else { func.to_string() };
        }
        if let Some(name) = self.event_name() {
            return name.to_string();
        }
        match self {
            AttachKind::Tc { iface, dir: TcDir::Ingress } => format!("tc_{iface}_in"),
            AttachKind::Tc { iface, dir: TcDir::Egress } => format!("tc_{iface}_eg"),
            AttachKind::Uprobe { target, .. } => format!("u_{}", target.text()),
            AttachKind::Uretprobe { target, .. } => format!("ur_{}", target.text()),
            AttachKind::Usdt { name, .. } => format!("usdt_{name}"),
            AttachKind::Iter { name, .. } => format!("it_{name}"),
            _ => self.provider().name.to_string(),
        }
    }
}

impl AttachPoint {
    /// The full name, as the `probe` builtin shows it: the provider's
    /// canonical name and the target (`k:f` becomes `kprobe:f`).
    pub fn display_name(&self) -> String {
        let provider = self.kind.provider().name;
        match (&self.kind, self.kind.target()) {
            // The period as written (`interval:ms:1000` is not `interval:s:1`),
            // as bpftrace shows it.
            (AttachKind::Interval { .. } | AttachKind::Profile { .. }, _) => match self.raw.split_once(':') {
                Some((_, period)) => format!("{provider}:{period}"),
                None => self.raw.clone(),
            },
            (_, Some(target)) => format!("{provider}:{target}"),
            (_, None) => provider.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(kind: AttachKind, raw: &str) -> AttachPoint {
        AttachPoint { kind, raw: raw.into(), span: Span::default() }
    }

    fn kprobe(module: Option<&str>, func: &str) -> AttachKind {
        AttachKind::Kprobe { module: module.map(Into::into), func: func.into() }
    }

    #[test]
    fn display_names_are_canonical() {
        assert_eq!(point(kprobe(None, "tcp_sendmsg"), "k:tcp_sendmsg").display_name(), "kprobe:tcp_sendmsg");
        assert_eq!(point(kprobe(Some("nf"), "f"), "k:nf:f").display_name(), "kprobe:nf:f");
        let fexit = AttachKind::Fexit { module: None, func: "f".into() };
        assert_eq!(point(fexit, "kretfunc:f").display_name(), "fexit:f");
        let tp = AttachKind::Tracepoint { category: "tcp".into(), name: "tcp_probe".into() };
        assert_eq!(point(tp, "t:tcp:*").display_name(), "tracepoint:tcp:tcp_probe");
        assert_eq!(point(AttachKind::Begin, "begin").display_name(), "BEGIN");
        let every = AttachKind::Interval { period: Period::Nanos(1_000_000_000) };
        assert_eq!(point(every.clone(), "i:ms:1000").display_name(), "interval:ms:1000");
        assert_eq!(point(every, "interval:1s").display_name(), "interval:1s");
        let tc = AttachKind::Tc { iface: "veth*".into(), dir: TcDir::Egress };
        assert_eq!(point(tc, "tc:veth*:egress").display_name(), "tc:veth*:egress");
    }

    #[test]
    fn function_and_tracepoint_targets() {
        let fentry = AttachKind::Fentry { module: Some("m".into()), func: "f".into() };
        assert_eq!((fentry.function(), fentry.module()), (Some("f"), Some("m")));
        assert_eq!(fentry.with_function("g".into()), Some(AttachKind::Fentry { module: Some("m".into()), func: "g".into() }));
        let tp = AttachKind::Tracepoint { category: "sock".into(), name: "inet_sock_set_state".into() };
        assert_eq!((tp.function(), tp.tracepoint()), (None, Some(("sock", "inet_sock_set_state"))));
        assert_eq!(tp.with_function("g".into()), None);
        let raw = AttachKind::RawTracepoint { name: "kfree_skb".into() };
        assert_eq!((raw.event_name(), raw.tracepoint()), (Some("kfree_skb"), None));
    }

    #[test]
    fn every_variant_maps_to_its_provider_row() {
        let kinds = [
            AttachKind::Begin,
            AttachKind::End,
            kprobe(None, "f"),
            AttachKind::Kretprobe { module: None, func: "f".into() },
            AttachKind::Tracepoint { category: "c".into(), name: "n".into() },
            AttachKind::RawTracepoint { name: "n".into() },
            AttachKind::Fentry { module: None, func: "f".into() },
            AttachKind::Fexit { module: None, func: "f".into() },
            AttachKind::Interval { period: Period::Hz(1) },
            AttachKind::Profile { period: Period::Hz(99) },
            AttachKind::Software { event: &crate::ast::perf_event::SOFTWARE[0], count: 1 },
            AttachKind::Hardware { event: &crate::ast::perf_event::HARDWARE[0], count: 1 },
            AttachKind::Tc { iface: "lo".into(), dir: TcDir::Ingress },
            AttachKind::Uprobe { binary: "/b".into(), target: UserTarget::Address(1) },
            AttachKind::Uretprobe { binary: "/b".into(), target: UserTarget::Address(1) },
            AttachKind::Usdt { binary: "/b".into(), provider: None, name: "n".into(), site: None },
            AttachKind::Iter { name: "task".into(), pid: None },
        ];
        let mapped: Vec<ProbeKind> = kinds.iter().map(AttachKind::probe_kind).collect();
        assert_eq!(mapped, ProbeKind::ALL);
        for kind in &kinds {
            // A function target exactly where the table says so.
            assert_eq!(kind.function().is_some(), kind.probe_kind().traces_kernel_function(), "{kind:?}");
        }
    }

    #[test]
    fn short_names() {
        assert_eq!(AttachKind::Kretprobe { module: None, func: "f".into() }.short_name(), "r_f");
        assert_eq!(AttachKind::Tc { iface: "eth0".into(), dir: TcDir::Ingress }.short_name(), "tc_eth0_in");
        assert_eq!(AttachKind::Interval { period: Period::Hz(1) }.short_name(), "interval");
        assert_eq!(AttachKind::End.short_name(), "END");
    }
}
