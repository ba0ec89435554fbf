//! Calls whose values userspace prints by a rule of its own
//! ([`Rendered`]): `strftime`, `macaddr`, `buf`, `kstack`/`ustack`, `ksym`/`usym`;
//! and `kaddr`.

use super::Checker;
use crate::ast::{Expr, ExprKind};
use crate::span::Span;
use crate::typed::{TExpr, TExprKind};
use crate::types::{Rendered, StackMode, StackType, TimestampClock, Type};
use flowtrace_stdlib::time::Clock;
use flowtrace_stdlib::Func;

/// The most bytes `buf()` copies (bpftrace's limit is its string size, 64).
pub const BUF_MAX: u32 = 64;

impl Checker<'_> {
    /// `strftime(fmt, ns)`: the value stays nanoseconds; the format and
    /// which clock they count on go in the type for userspace.
    pub(super) fn strftime(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        let format = self.literal_string(&args[0], "strftime()'s format");
        let clock = match clock_of(&args[1]) {
            Some(Clock::Monotonic) => {
                self.error_hint(args[1].span, "strftime() cannot take a monotonic timestamp", Some("use nsecs or nsecs(boot)".into()));
                return None;
            }
            Some(Clock::Tai | Clock::SwTai) => TimestampClock::Epoch,
            Some(Clock::Boot) | None => TimestampClock::Boot,
        };
        if let ExprKind::Unary { op: crate::ast::UnOp::Neg, .. } = args[1].kind {
            self.error(args[1].span, "strftime() does not accept negative timestamps");
            return None;
        }
        let ns = self.int_arg(&args[1], "strftime");
        let (format, ns) = (format?, ns?);
        let ty = Type::Rendered(Rendered::Timestamp { format, clock });
        Some(TExpr { kind: TExprKind::Call { func: Func::Strftime, args: vec![ns] }, ty, span })
    }

    /// `macaddr(x)`: six bytes of an array or behind a pointer.
    pub(super) fn macaddr(&mut self, arg: &Expr, span: Span) -> Option<TExpr> {
        if let ExprKind::Str(_) = arg.kind {
            self.error(arg.span, "macaddr() does not take a string literal: give it 6 bytes (an array or a pointer)");
            return None;
        }
        let v = self.expr(arg)?;
        let ok = match &v.ty {
            Type::Array { elem, len } => super::type_size(elem) * len >= 6,
            Type::Pointer(..) => true,
            _ => false,
        };
        if !ok {
            self.error(arg.span, format!("macaddr() needs at least 6 bytes (an array or a pointer), not '{}'", v.ty));
            return None;
        }
        let ty = Type::Rendered(Rendered::MacAddr);
        Some(TExpr { kind: TExprKind::Call { func: Func::Macaddr, args: vec![v] }, ty, span })
    }

    /// `buf(p, n)`, `buf(array)`: up to [`BUF_MAX`] raw bytes.
    pub(super) fn buf(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        let data = self.expr(&args[0])?;
        let given = match args.get(1) {
            Some(n) => Some(self.expr(n)?),
            None => None,
        };
        let len = match (&data.ty, given) {
            (_, Some(n)) => match (&n.kind, &n.ty) {
                (TExprKind::Int(v), Type::Int(_) | Type::Bool) => {
                    if (*v as i64) < 0 {
                        self.error(args[1].span, "buf()'s length cannot be negative");
                        return None;
                    }
                    *v
                }
                // A length known only at run time (`buf($skb->data, $skb->len)`,
                // bpftrace's undump): a 64-byte buffer holding at most that many.
                (_, ty) if ty.is_integer() => {
                    if !matches!(data.ty, Type::Pointer(..) | Type::Int(_)) {
                        self.error(args[1].span, format!("buf() of a '{}' needs a constant length", data.ty));
                        return None;
                    }
                    let ty = Type::Rendered(Rendered::Buffer { cap: BUF_MAX });
                    return Some(TExpr { kind: TExprKind::Call { func: Func::Buf, args: vec![data, n] }, ty, span });
                }
                _ => {
                    self.error(args[1].span, "buf()'s length must be a constant integer");
                    return None;
                }
            },
            (Type::Array { elem, len }, None) => u64::from(super::type_size(elem) * len),
            (Type::Str { cap }, None) => u64::from(*cap),
            (other, None) => {
                self.error_hint(args[0].span, format!("buf() needs a length for '{other}'"), Some("e.g. buf(ptr, 16)".into()));
                return None;
            }
        };
        if !matches!(data.ty, Type::Array { .. } | Type::Str { .. } | Type::Pointer(..) | Type::Int(_)) {
            self.error(args[0].span, format!("buf() reads memory: it needs a pointer or an array, not '{}'", data.ty));
            return None;
        }
        let cap = len.min(u64::from(BUF_MAX)) as u32;
        let n = TExpr { kind: TExprKind::Int(u64::from(cap)), ty: Type::U64, span };
        let ty = Type::Rendered(Rendered::Buffer { cap });
        Some(TExpr { kind: TExprKind::Call { func: Func::Buf, args: vec![data, n] }, ty, span })
    }
}

/// The clock an expression's nanoseconds count on, when it says so:
/// `nsecs(tai)`; `None` for any other integer.
fn clock_of(e: &Expr) -> Option<Clock> {
    match &e.kind {
        ExprKind::Call { func, args } if func.name == "nsecs" => match args.first().map(|a| &a.kind) {
            Some(ExprKind::Ident(name)) => Clock::from_name(name),
            _ => Some(Clock::Boot),
        },
        _ => None,
    }
}

/// `kstack(…)`/`ustack(…)`'s arguments: an optional mode, then an optional
/// depth (bpftrace's order), both constants.
impl Checker<'_> {
    pub(super) fn stack(&mut self, func: Func, args: &[Expr], span: Span) -> Option<TExpr> {
        let name = if func == Func::Ustack { "ustack" } else { "kstack" };
        let mut stack = StackType { user: func == Func::Ustack, mode: StackMode::Bpftrace, limit: StackType::DEFAULT_LIMIT };
        let mut rest = args;
        if let Some(Expr { kind: ExprKind::Ident(mode), span: at }) = rest.first() {
            let Some(m) = StackMode::from_name(mode) else {
                let hint = crate::diag::did_you_mean_hint(mode, ["bpftrace", "perf", "raw"]);
                self.error_hint(*at, format!("unknown stack mode '{mode}'"), hint.or(Some("modes: bpftrace, perf, raw".into())));
                return None;
            };
            stack.mode = m;
            rest = &rest[1..];
        }
        match rest {
            [] => {}
            [limit] => {
                let n = self.const_int(limit, &format!("{name}()'s limit"))?;
                if n < 1 || n > i64::from(StackType::MAX_LIMIT) {
                    let message = format!("{name}()'s limit must be between 1 and {}, not {n}", StackType::MAX_LIMIT);
                    self.error(limit.span, message);
                    return None;
                }
                stack.limit = n as u32;
            }
            [_, extra, ..] => {
                self.error_hint(extra.span, format!("{name}() takes a mode and a limit"), Some(format!("e.g. {name}(perf, 10)")));
                return None;
            }
        }
        let ty = Type::Rendered(Rendered::Stack(stack));
        Some(TExpr { kind: TExprKind::Call { func, args: Vec::new() }, ty, span })
    }

    /// `ksym(addr)`/`usym(addr)`: the address, named in userspace.
    pub(super) fn symbol(&mut self, func: Func, arg: &Expr, span: Span) -> Option<TExpr> {
        let name = if func == Func::Usym { "usym" } else { "ksym" };
        let addr = self.int_arg(arg, name)?;
        let ty = Type::Rendered(if func == Func::Usym { Rendered::Usym } else { Rendered::Ksym });
        Some(TExpr { kind: TExprKind::Call { func, args: vec![addr] }, ty, span })
    }

    /// `kaddr("name")`: the symbol's address from /proc/kallsyms, a
    /// constant by the time the program is built (as in bpftrace).
    pub(super) fn kaddr(&mut self, arg: &Expr, span: Span) -> Option<TExpr> {
        let name = self.literal_string(arg, "kaddr()'s symbol name")?;
        match self.kernel.host().kernel_symbol_address(&name) {
            Ok(Some(addr)) => Some(TExpr { kind: TExprKind::Int(addr), ty: Type::U64, span }),
            Ok(None) => {
                self.error(arg.span, format!("kaddr(): no kernel symbol '{name}' in /proc/kallsyms"));
                None
            }
            Err(reason) => {
                self.error(arg.span, format!("kaddr(): cannot look up '{name}': {reason}"));
                None
            }
        }
    }
}
