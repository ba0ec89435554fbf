//! Bare names: builtins (`comm`, `arg0`, `saddr`), flowtrace's constants
//! (`AF_INET`, `TCP_SYN`) and then any BTF enum constant (`TCP_ESTABLISHED`).
//! Also the positional parameters `$1`… and `$#`.

use super::Checker;
use crate::ast::{AttachKind, Expr, ExprKind, TcDir};
use crate::diag::did_you_mean_hint;
use crate::kernel::TypeKeyword;
use crate::span::Span;
use crate::typed::{TExpr, TExprKind};
use crate::types::{IntType, Type};
use flowtrace_stdlib::{lookup_builtin, Builtin, BuiltinInfo, ProbeKind};

/// Constants every script may use without a header (bpftrace needs
/// `#include <linux/socket.h>`, `<linux/sched.h>` … for these; flowtrace has
/// them built in).
pub(crate) const CONSTANTS: &[(&str, i64)] = &[
    ("AF_INET", 2),
    ("AF_INET6", 10),
    ("IPPROTO_ICMP", 1),
    ("IPPROTO_TCP", 6),
    ("IPPROTO_UDP", 17),
    ("IPPROTO_ICMPV6", 58),
    ("TCP_FIN", 0x01),
    ("TCP_SYN", 0x02),
    ("TCP_RST", 0x04),
    ("TCP_PSH", 0x08),
    ("TCP_ACK", 0x10),
    ("TCP_URG", 0x20),
    ("TCP_ECE", 0x40),
    ("TCP_CWR", 0x80),
    // Task states (linux/sched.h; bpftrace 0.17's runqlat.bt includes it
    // for TASK_RUNNING). Stable across kernels and architectures.
    ("TASK_RUNNING", 0),
    ("TASK_INTERRUPTIBLE", 1),
    ("TASK_UNINTERRUPTIBLE", 2),
    ("TASK_STOPPED", 4),
    ("TASK_TRACED", 8),
];

impl Checker<'_> {
    pub(super) fn ident(&mut self, name: &str, span: Span) -> Option<TExpr> {
        if let Some(info) = lookup_builtin(name) {
            return self.builtin(info, span);
        }
        if let Some((_, value)) = CONSTANTS.iter().find(|(n, _)| *n == name) {
            return Some(TExpr { kind: TExprKind::Int(*value as u64), ty: Type::I64, span });
        }
        if let Some(c) = self.kernel.enum_constant(name) {
            return Some(TExpr { kind: TExprKind::Int(c.value as u64), ty: Type::I64, span });
        }
        if let Some(f) = flowtrace_stdlib::lookup_func(name) {
            // `kstack` and `ustack` are also variables: the call without arguments.
            use flowtrace_stdlib::Func as F;
            if matches!(f.func, F::Kstack | F::Ustack | F::Ppid | F::Pcomm | F::LeaderTid | F::LeaderComm) {
                return self.value_call(f, &[], span);
            }
            let message = match f.unsupported {
                Some(reason) => format!("'{name}' is {reason}"),
                None => format!("'{name}' is a function: call it as {}", f.signature),
            };
            self.error(span, message);
            return None;
        }
        if let Some(why) = flowtrace_stdlib::not_supported(name) {
            self.error(span, format!("'{name}' is a bpftrace builtin flowtrace does not support: {why}"));
            return None;
        }
        if self.bare_iter_ctx(name, span) {
            return None;
        }
        let similar = self.kernel.similar_enum_constants(name);
        let candidates = flowtrace_stdlib::builtins()
            .map(|b| b.name)
            .chain(CONSTANTS.iter().map(|(n, _)| *n))
            .chain(similar.iter().map(String::as_str));
        let mut hint = did_you_mean_hint(name, candidates);
        if hint.is_none() && name.starts_with("arg") && name[3..].parse::<u32>().is_ok() {
            hint = Some("only arg0 … arg5 (the register arguments) exist".into());
        }
        self.error_hint(span, format!("unknown identifier '{name}'"), hint);
        None
    }

    fn builtin(&mut self, info: &BuiltinInfo, span: Span) -> Option<TExpr> {
        let kind = self.probe_kind();
        if !info.usable_in(kind) {
            let (message, hint) = self.misplaced_builtin(info, kind);
            self.error_hint(span, message, hint);
            return None;
        }
        let b = info.builtin;
        let expr = |ty: Type| Some(TExpr { kind: TExprKind::Builtin(b), ty, span });
        match b {
            Builtin::Comm => expr(Type::Str { cap: 16 }),
            Builtin::Pid | Builtin::Tid | Builtin::Cpu => expr(Type::Int(IntType::U32)),
            Builtin::Uid | Builtin::Gid | Builtin::Nsecs | Builtin::Elapsed | Builtin::Cgroup => expr(Type::U64),
            Builtin::Arg(n) => {
                if let AttachKind::Usdt { site: Some(site), .. } = &self.scope().attach.kind {
                    if usize::from(n) >= site.args.len() {
                        let message = format!("arg{n} is out of range: this USDT probe has {} arguments", site.args.len());
                        self.error(span, message);
                        return None;
                    }
                }
                expr(self.usdt_arg_type(n).unwrap_or(Type::U64))
            }
            Builtin::Curtask => expr(self.record_pointer("task_struct")),
            Builtin::Retval => {
                let ty = match &self.scope().func {
                    Some(proto) => proto.ret.clone(),
                    None => Type::U64,
                };
                expr(ty)
            }
            Builtin::Args => {
                self.error_hint(
                    span,
                    "'args' is only usable with a field: args.NAME",
                    self.args_field_hint(),
                );
                None
            }
            Builtin::Probe => {
                let name = self.scope().attach.raw.clone();
                Some(TExpr { kind: TExprKind::ProbeName(name), ty: Type::ProbeName, span })
            }
            Builtin::Func => {
                // `usable_in` admits `func` only where a function is traced.
                let name = self.scope().attach.kind.traced_function().unwrap_or_default().to_string();
                Some(TExpr { kind: TExprKind::ProbeName(name), ty: Type::ProbeName, span })
            }
            Builtin::Dir => {
                let dir = match &self.scope().attach.kind {
                    AttachKind::Tc { dir, .. } => dir.name(),
                    _ => TcDir::Ingress.name(),
                };
                Some(TExpr { kind: TExprKind::Str(dir.into()), ty: Type::Str { cap: 8 }, span })
            }
            Builtin::Len | Builtin::Ifindex | Builtin::Mark => expr(Type::Int(IntType::U32)),
            Builtin::Ifname => expr(Type::Str { cap: 16 }),
            Builtin::Family | Builtin::Sport | Builtin::Dport => expr(Type::Int(IntType::U16)),
            Builtin::Proto | Builtin::Tcpflags => expr(Type::Int(IntType::U8)),
            Builtin::Saddr | Builtin::Daddr => expr(Type::Inet),
            Builtin::Cookie => expr(Type::U64),
            Builtin::Numaid => expr(Type::Int(IntType::U32)),
            Builtin::Username => expr(Type::Rendered(crate::types::Rendered::Username)),
            Builtin::Ncpus => match self.kernel.host().online_cpus() {
                Ok(n) => Some(TExpr { kind: TExprKind::Int(n), ty: Type::U64, span }),
                Err(why) => {
                    self.error(span, format!("ncpus: {why}"));
                    None
                }
            },
            // Fields of the uapi `struct __sk_buff`, read from the tc program's context.
            Builtin::Skb => expr(self.record_pointer("__sk_buff")),
        }
    }

    /// A signed USDT argument (`-4@%edi`) reads as int64, as in bpftrace.
    fn usdt_arg_type(&self, n: u8) -> Option<Type> {
        let AttachKind::Usdt { site: Some(site), .. } = &self.scope().attach.kind else { return None };
        let arg = site.args.get(usize::from(n))?;
        Some(if arg.signed { Type::Int(IntType::I64) } else { Type::U64 })
    }

    /// `struct NAME *` if BTF knows the struct, else a plain address.
    fn record_pointer(&self, name: &str) -> Type {
        match self.kernel.find_type(TypeKeyword::Struct, name) {
            Some(t) => Type::ptr(t),
            None => Type::U64,
        }
    }

    fn misplaced_builtin(&self, info: &BuiltinInfo, kind: ProbeKind) -> (String, Option<String>) {
        let name = info.name;
        let b = info.builtin;
        if info.usable_in == [ProbeKind::Tc] {
            return (
                format!("'{name}' is a packet builtin and exists only in tc: probes"),
                Some("attach to an interface: tc:eth0:ingress { … }".into()),
            );
        }
        if kind == ProbeKind::Tc {
            return (
                format!("'{name}' is not available in tc: probes"),
                Some("tc programs run per packet, outside any task; use the packet builtins (saddr, dport, len, …)".into()),
            );
        }
        let kinds: Vec<&str> = info.usable_in.iter().map(|k| k.name()).collect();
        let message = format!("'{name}' can only be used in {} probes", kinds.join("/"));
        let hint = match (b, kind) {
            (Builtin::Arg(_), ProbeKind::Tracepoint | ProbeKind::Fentry | ProbeKind::Fexit) => self.args_field_hint(),
            (Builtin::Retval, ProbeKind::Tracepoint) => Some("tracepoints have no return value; read args.ret if the tracepoint has it".into()),
            (Builtin::Retval, ProbeKind::Kprobe) => Some("use kretprobe: to see the return value".into()),
            (Builtin::Args, ProbeKind::Kprobe | ProbeKind::Kretprobe) => {
                Some("kprobes have register arguments arg0 … arg5; fentry: gives typed args.NAME".into())
            }
            _ => None,
        };
        (message, hint)
    }

    /// "use args.NAME (fields: …)" for the current probe, if it has named
    /// arguments.
    pub(super) fn args_field_hint(&self) -> Option<String> {
        let scope = self.scope();
        let names: Vec<&str> = if let Some(fields) = &scope.tp_fields {
            fields.iter().map(|f| f.name.as_str()).collect()
        } else if let Some(proto) = &scope.func {
            proto.params.iter().map(|(n, _)| n.as_str()).collect()
        } else {
            return None;
        };
        Some(format!("use args.NAME; this probe's args are: {}", names.join(", ")))
    }

    /// `$N`: the parameter's text, as an integer when it reads as one. A
    /// parameter that is not given is 0, as in bpftrace (scripts test `$#`
    /// before using an optional one).
    pub(super) fn positional(&mut self, n: u32, span: Span) -> Option<TExpr> {
        let Some(text) = (n as usize).checked_sub(1).and_then(|i| self.options.params.get(i)) else {
            if n == 0 {
                self.error(span, "$0 is not a parameter: they are numbered from $1");
                return None;
            }
            return Some(TExpr { kind: TExprKind::Int(0), ty: Type::I64, span });
        };
        if let Some(value) = parse_int(text) {
            let ty = if value < 0 { Type::I64 } else { super::ints::parameter_type(value as u64) };
            return Some(TExpr { kind: TExprKind::Int(value as u64), ty, span });
        }
        let cap = text.len() as u32 + 1;
        Some(TExpr { kind: TExprKind::Str(text.clone()), ty: Type::Str { cap }, span })
    }

    /// `str($N[, len])`: the parameter's text as given (an absent one is
    /// empty), cut to `len` bytes, as bpftrace prints it: `str($1)` of `0775`
    /// is "0775", not the text at address 509.
    pub(super) fn positional_text(&mut self, param: &Expr, len: Option<&Expr>, span: Span) -> Option<TExpr> {
        let ExprKind::Positional(n) = param.kind else {
            return None;
        };
        let mut text = match (n as usize).checked_sub(1).map(|i| self.options.params.get(i)) {
            None => {
                self.error(param.span, "$0 is not a parameter: they are numbered from $1");
                return None;
            }
            Some(given) => given.cloned().unwrap_or_default(),
        };
        if let Some(len) = len {
            let limit = match self.expr(len)?.kind {
                TExprKind::Int(0) => {
                    self.error(len.span, "str()'s length must be greater than zero");
                    return None;
                }
                TExprKind::Int(l) => usize::try_from(l).unwrap_or(usize::MAX),
                _ => {
                    self.error(len.span, "str() of a positional parameter needs a literal length");
                    return None;
                }
            };
            let mut cut = limit.min(text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        let cap = text.len() as u32 + 1;
        Some(TExpr { kind: TExprKind::Str(text), ty: Type::Str { cap }, span })
    }

    pub(super) fn positional_count(&self, span: Span) -> TExpr {
        TExpr { kind: TExprKind::Int(self.options.params.len() as u64), ty: Type::I64, span }
    }
}

/// A C integer literal as `strtoll` reads it whole, which is how bpftrace
/// reads a parameter: an optional sign, then `0x…` hexadecimal, `0…` octal
/// or decimal. Anything else (`08`, `1e3`, `0x`) is text.
fn parse_int(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        (16, hex)
    } else if digits.len() > 1 && digits.starts_with('0') {
        (8, &digits[1..])
    } else {
        (10, digits)
    };
    // from_str_radix takes a sign of its own; this one was taken above.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if radix == 10 {
        // Decimal must fit int64 (as before); hex and octal may spell any 64 bits.
        let m = i128::from(magnitude);
        return i64::try_from(if negative { -m } else { m }).ok();
    }
    Some(if negative { (magnitude as i64).wrapping_neg() } else { magnitude as i64 })
}

#[cfg(test)]
mod tests {
    use super::parse_int;

    #[test]
    fn parameters_read_as_c_integer_literals() {
        assert_eq!(parse_int("0775"), Some(0o775));
        assert_eq!(parse_int("-010"), Some(-8));
        assert_eq!(parse_int("0x1f"), Some(31));
        assert_eq!(parse_int("-0x10"), Some(-16));
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!((parse_int("0"), parse_int("00")), (Some(0), Some(0)));
        assert_eq!(parse_int("0xffffffffffffffff"), Some(-1));
        assert_eq!(parse_int("-9223372036854775808"), Some(i64::MIN));
        for text in ["18446744073709551615", "08", "0x", "1e3", "010abc", "", "-", "eth0", "+-1"] {
            assert_eq!(parse_int(text), None, "{text:?}");
        }
    }
}
