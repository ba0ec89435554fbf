//! Calls answered when compiling or by one helper: `offsetof`, `pton`,
//! `cgroupid`, `nsecs(CLOCK)`, `strcontains`, `path`; and the statements
//! that act outside the probe (`cat`, `system`, `join`, `signal`).

use super::Checker;
use crate::ast::{Expr, ExprKind};
use crate::span::Span;
use crate::typed::{Action, TExpr, TExprKind, TStmtKind};
use crate::types::{IntType, Type};
use flowtrace_stdlib::time::Clock;
use flowtrace_stdlib::{Func, ProbeKind};

/// The most byte pairs `strcontains()` with a computed needle compares.
const STRCONTAINS_MAX_PAIRS: u64 = 64 * 64;

impl Checker<'_> {
    /// `offsetof(struct X, a.b.c)` or `offsetof(expr, a.b)`: the byte
    /// offset of a (nested) member, a constant.
    pub(super) fn offset_of(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        let record = match &args[0].kind {
            ExprKind::TypeArg(name) => self.resolve_type_name(name)?,
            // `offsetof(curtask, pid)`: a pointer names the struct it points to.
            _ => match self.expr(&args[0])?.ty {
                Type::Pointer(to, _) if matches!(*to, Type::Record(_)) => *to,
                other => other,
            },
        };
        let mut path = Vec::new();
        if !field_path(&args[1], &mut path) {
            self.error_hint(args[1].span, "offsetof() needs a field name", Some("e.g. offsetof(struct sock, __sk_common.skc_daddr)".into()));
            return None;
        }
        let mut ty = record;
        let mut offset = 0u64;
        for (name, at) in path {
            let Type::Record(r) = &ty else {
                self.error(at, format!("offsetof(): '{ty}' has no fields"));
                return None;
            };
            let Some(member) = self.kernel.member(r, name) else {
                let hint = crate::diag::did_you_mean_hint(name, self.kernel.member_names(r).iter().map(String::as_str));
                self.error_hint(at, format!("'{ty}' has no field '{name}'"), hint);
                return None;
            };
            offset += u64::from(member.offset());
            ty = member.ty;
        }
        Some(TExpr { kind: TExprKind::Int(offset), ty: Type::U64, span })
    }

    /// `pton("10.0.0.1")`, `pton("::1")`: the address's bytes in network
    /// order, converted here; `.` or `:` tells the family, as in bpftrace.
    pub(super) fn pton(&mut self, arg: &Expr, span: Span) -> Option<TExpr> {
        let text = self.literal_string(arg, "pton()'s address")?;
        let bytes = match text.parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(a)) => a.octets().to_vec(),
            Ok(std::net::IpAddr::V6(a)) => a.octets().to_vec(),
            Err(_) => {
                self.error_hint(arg.span, format!("pton(): '{text}' is not an IPv4 or IPv6 address"), Some("e.g. pton(\"127.0.0.1\") or pton(\"::1\")".into()));
                return None;
            }
        };
        let ty = Type::Array { elem: Box::new(Type::Int(IntType::U8)), len: bytes.len() as u32 };
        Some(TExpr { kind: TExprKind::Bytes(bytes), ty, span })
    }

    /// `cgroupid("/sys/fs/cgroup/x")`: the cgroup's id, looked up now.
    pub(super) fn cgroup_id(&mut self, arg: &Expr, span: Span) -> Option<TExpr> {
        let path = self.literal_string(arg, "cgroupid()'s path")?;
        match self.kernel.host().cgroup_id(&path) {
            Ok(id) => Some(TExpr { kind: TExprKind::Int(id), ty: Type::U64, span }),
            Err(why) => {
                self.error_hint(arg.span, format!("cgroupid(): {why}"), Some("give the path of a cgroup v2 directory, e.g. \"/sys/fs/cgroup/system.slice\"".into()));
                None
            }
        }
    }

    /// `nsecs(boot)` etc.: the clock travels as a constant argument; sw_tai
    /// carries the TAI offset read now.
    pub(super) fn nsecs_of(&mut self, arg: Option<&Expr>, span: Span) -> Option<TExpr> {
        let clock = match arg.map(|a| (&a.kind, a.span)) {
            None => Clock::Boot,
            Some((ExprKind::Ident(name), at)) => match Clock::from_name(name) {
                Some(c) => c,
                None => return self.bad_clock(at),
            },
            Some((_, at)) => return self.bad_clock(at),
        };
        let offset = match clock {
            Clock::SwTai => match self.kernel.host().tai_minus_boot_ns() {
                Ok(ns) => ns,
                Err(why) => {
                    self.error(span, format!("nsecs(sw_tai): {why}"));
                    return None;
                }
            },
            _ => 0,
        };
        let int = |v: u64| TExpr { kind: TExprKind::Int(v), ty: Type::U64, span };
        let args = vec![int(clock.code()), int(offset)];
        Some(TExpr { kind: TExprKind::Call { func: Func::NsecsOf, args }, ty: Type::U64, span })
    }

    fn bad_clock(&mut self, at: Span) -> Option<TExpr> {
        let names: Vec<&str> = Clock::ALL.iter().map(|c| c.name()).collect();
        self.error_hint(at, "nsecs() takes a clock name", Some(format!("one of: {}", names.join(", "))));
        None
    }

    /// `strcontains(haystack, needle)`: the probe compares the needle at
    /// each position of the haystack, unrolled, so a computed needle costs
    /// haystack × needle comparisons: both are capped.
    pub(super) fn str_contains(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        let haystack = self.string_arg(&args[0]);
        let needle = self.string_arg(&args[1]);
        let (haystack, needle) = (haystack?, needle?);
        if let (Type::Str { cap: h }, Type::Str { cap: n }, false) = (&haystack.ty, &needle.ty, matches!(needle.kind, TExprKind::Str(_))) {
            if u64::from(*h) * u64::from(*n) > STRCONTAINS_MAX_PAIRS {
                self.error_hint(
                    span,
                    format!("strcontains() of a {h}-byte string and a computed {n}-byte needle would need {} comparisons in the probe", h * n),
                    Some("shorten them with str(p, N) (at most 64 × 64), or use a literal needle".into()),
                );
                return None;
            }
        }
        let args = vec![haystack, needle];
        Some(TExpr { kind: TExprKind::Call { func: Func::Strcontains, args }, ty: Type::Bool, span })
    }

    /// `path(p[, size])`: bpf_d_path, which the kernel lets only fentry and
    /// fexit programs of allow-listed functions call.
    pub(super) fn path(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        let kind = self.probe_kind();
        if !matches!(kind, ProbeKind::Fentry | ProbeKind::Fexit) {
            self.error_hint(
                span,
                format!("path() cannot be used in {} probes: the kernel allows bpf_d_path only in fentry/fexit programs", kind.name()),
                Some("trace an allow-listed function with fentry (e.g. fentry:vfs_truncate { path(args.path) })".into()),
            );
            return None;
        }
        // A `struct path *`, or a `struct path` member (`args.filp->f_path`),
        // whose value is its address.
        let p = self.expr(&args[0])?;
        let is_path = |t: &Type| matches!(t, Type::Record(r) if r.name == "path");
        if !(is_path(&p.ty) || matches!(&p.ty, Type::Pointer(to, _) if is_path(to))) {
            self.error(args[0].span, format!("path() needs a 'struct path *' or a 'struct path', not '{}'", p.ty));
            return None;
        }
        let size = match args.get(1) {
            Some(a) => self.const_int(a, "path()'s size")?.clamp(1, 4096) as u32,
            None => self.options.default_str_size,
        };
        Some(TExpr { kind: TExprKind::Call { func: Func::Path, args: vec![p] }, ty: Type::Str { cap: size }, span })
    }

    /// `percpu_kaddr("name"[, cpu])`: a pointer to this CPU's (or `cpu`'s)
    /// copy of a per-CPU kernel variable, found by its BTF id now.
    pub(super) fn percpu_kaddr(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        let name = self.literal_string(&args[0], "percpu_kaddr()'s variable name")?;
        let cpu = match args.get(1) {
            Some(a) => Some(self.int_arg(a, "percpu_kaddr")?),
            None => None,
        };
        let Some((btf_id, ty)) = self.kernel.kernel_var(&name) else {
            self.error_hint(args[0].span, format!("percpu_kaddr(): the kernel has no variable '{name}'"), Some("per-CPU variables come from the kernel's BTF, e.g. \"runqueues\" or \"process_counts\"".into()));
            return None;
        };
        if self.kernel.host().kernel_symbol_exists(&name) == Some(false) {
            self.error_hint(
                args[0].span,
                format!("percpu_kaddr(): /proc/kallsyms has no address for '{name}', so the kernel cannot resolve it"),
                Some("this kernel lists no data symbols (built without CONFIG_KALLSYMS_ALL)".into()),
            );
            return None;
        }
        let id = TExpr { kind: TExprKind::Int(u64::from(btf_id)), ty: Type::U64, span: args[0].span };
        let args = std::iter::once(id).chain(cpu).collect();
        Some(TExpr { kind: TExprKind::Call { func: Func::PercpuKaddr, args }, ty: Type::ptr(ty), span })
    }

    /// `uaddr("name")`: the symbol's virtual address in the probe's binary,
    /// as the ELF file gives it (bpftrace's value), known now.
    pub(super) fn uaddr(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        let name = self.literal_string(&args[0], "uaddr()'s symbol name")?;
        let Some(binary) = self.scope().attach.kind.user_binary().map(str::to_string) else {
            self.error_hint(
                span,
                format!("uaddr() can only be used in uprobe, uretprobe and usdt probes, not {} probes", self.probe_kind().name()),
                Some("the symbol is looked up in the probe's binary".into()),
            );
            return None;
        };
        let found = match self.kernel.host().user_symbols(&binary, &name, false) {
            Ok(found) => found,
            Err(why) => {
                self.error(args[0].span, format!("uaddr(): {why}"));
                return None;
            }
        };
        let Some(symbol) = found.into_iter().find(|s| s.name == name) else {
            self.error(args[0].span, format!("uaddr(): no symbol '{name}' in '{binary}'"));
            return None;
        };
        Some(TExpr { kind: TExprKind::Int(symbol.address), ty: Type::U64, span })
    }

    /// `cat`, `system`, `join`, `signal` (their names are checked already).
    pub(super) fn action_call(&mut self, func: Func, args: &[Expr], span: Span) -> Option<TStmtKind> {
        let (action, args) = match func {
            Func::Cat => {
                let (format, args) = self.formatted("cat", args, span)?;
                (Action::Cat { format }, args)
            }
            Func::System => {
                let (format, args) = self.formatted("system", args, span)?;
                (Action::System { format }, args)
            }
            Func::Join => {
                let sep = match args.get(1) {
                    Some(a) => self.literal_string(a, "join()'s separator")?,
                    None => " ".to_string(),
                };
                let array = self.expr(&args[0])?;
                if !matches!(&array.ty, Type::Pointer(to, _) if to.is_pointer()) {
                    self.error_hint(args[0].span, format!("join() needs an array of string pointers (char **), not '{}'", array.ty), Some("e.g. join(args.argv) in tracepoint:syscalls:sys_enter_execve".into()));
                    return None;
                }
                (Action::Join { sep }, vec![array])
            }
            _ => {
                let kind = self.probe_kind();
                if matches!(kind, ProbeKind::Begin | ProbeKind::End | ProbeKind::Tc) {
                    self.error_hint(
                        span,
                        format!("signal() cannot be used in {} probes: they run in no traced process", kind.name()),
                        Some("signal the process a tracepoint, kprobe or interval probe fires in".into()),
                    );
                    return None;
                }
                (Action::Signal, vec![self.signal_number(&args[0])?])
            }
        };
        Some(TStmtKind::Action { action, args })
    }

    /// `signal("SIGKILL")`, `signal("KILL")`, `signal(9)`; names resolve now.
    fn signal_number(&mut self, arg: &Expr) -> Option<TExpr> {
        let number = match &arg.kind {
            ExprKind::Str(name) => match signal_by_name(name) {
                Some(n) => n,
                None => {
                    self.error_hint(arg.span, format!("signal(): unknown signal '{name}'"), Some("e.g. \"SIGTERM\", \"SIGKILL\", \"SIGUSR1\" or a number".into()));
                    return None;
                }
            },
            _ => {
                let n = self.const_int(arg, "signal()'s signal")?;
                if !(1..=64).contains(&n) {
                    self.error(arg.span, format!("signal(): {n} is not a signal number (1 to 64)"));
                    return None;
                }
                n as u64
            }
        };
        Some(TExpr { kind: TExprKind::Int(number), ty: Type::U64, span: arg.span })
    }
}

/// `a.b.c` written as an expression: its names with their spans.
fn field_path<'e>(e: &'e Expr, out: &mut Vec<(&'e str, Span)>) -> bool {
    match &e.kind {
        ExprKind::Ident(name) => {
            out.push((name, e.span));
            true
        }
        ExprKind::Field { expr, field, arrow: false } => {
            let ok = field_path(expr, out);
            out.push((&field.name, field.span));
            ok
        }
        _ => false,
    }
}

/// Linux x86-64 signal numbers by name, with or without `SIG`.
fn signal_by_name(name: &str) -> Option<u64> {
    const SIGNALS: [&str; 31] = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM",
        "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU", "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO",
        "PWR", "SYS",
    ];
    let bare = name.strip_prefix("SIG").unwrap_or(name);
    SIGNALS.iter().position(|s| *s == bare).map(|i| i as u64 + 1)
}
