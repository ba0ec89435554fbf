//! Builtin function calls. Statement-like calls (`printf`, `print`, `clear`,
//! `delete`, `exit`, …) become their own typed statements; value calls
//! (`str`, `ntop`, …) become [`TExprKind::Call`]; aggregations are only
//! accepted as `@m[k] = f(…)`.

use super::Checker;
use crate::ast::{Expr, ExprKind, Ident, MapRef};
use crate::diag::did_you_mean_hint;
use crate::span::Span;
use crate::typed::{MapId, TExpr, TExprKind, TStmtKind};
use crate::types::{AggKind, IntType, TseriesAgg, Type};

/// The most intervals one `tseries()` keeps.
pub const TSERIES_MAX_INTERVALS: i64 = 1000;
use flowtrace_stdlib::{lookup_func, Func, FuncInfo, FuncRole};

impl Checker<'_> {
    /// The function's registry entry, after the name and argument count
    /// are checked.
    fn func_info(&mut self, func: &Ident, args: &[Expr], span: Span) -> Option<&'static FuncInfo> {
        let Some(info) = lookup_func(&func.name) else {
            if let Some(why) = flowtrace_stdlib::not_supported(&func.name) {
                self.error(func.span, format!("'{}' is a bpftrace function flowtrace does not support: {why}", func.name));
                return None;
            }
            if flowtrace_stdlib::lookup_builtin(&func.name).is_some() {
                let message = format!("'{}' is a builtin variable: it takes no arguments", func.name);
                self.error_hint(span, message, Some(format!("write {0} or {0}()", func.name)));
                return None;
            }
            let hint = did_you_mean_hint(&func.name, flowtrace_stdlib::funcs().map(|f| f.name));
            self.error_hint(func.span, format!("unknown function '{}'", func.name), hint);
            return None;
        };
        if let Some(reason) = info.unsupported {
            self.error(func.span, format!("'{}' is {reason}", info.name));
            return None;
        }
        if info.func.needs_unsafe() && !self.options.unsafe_mode {
            self.error_hint(
                span,
                format!("{}() is an unsafe function: it acts on the traced system", info.name),
                Some("run flowtrace with --unsafe to allow it".into()),
            );
            return None;
        }
        let n = args.len();
        if n < info.min_args || n > info.max_args {
            let expected = match (info.min_args, info.max_args) {
                (0, 0) => "no arguments".to_string(),
                (a, b) if a == b => format!("{a} argument{}", if a == 1 { "" } else { "s" }),
                (a, usize::MAX) => format!("at least {a} argument{}", if a == 1 { "" } else { "s" }),
                (a, b) => format!("{a} to {b} arguments"),
            };
            let at = if n > info.max_args { args[info.max_args].span.to(args[n - 1].span) } else { span };
            self.error_hint(at, format!("{}() takes {expected}, got {n}", info.name), Some(format!("usage: {}", info.signature)));
            return None;
        }
        Some(info)
    }

    /// A call used as a statement.
    pub(super) fn call_stmt(&mut self, func: &Ident, args: &[Expr], span: Span) -> Option<TStmtKind> {
        let info = self.func_info(func, args, span)?;
        match info.role {
            FuncRole::Aggregation => {
                self.misplaced_aggregation(info, span);
                None
            }
            FuncRole::Value => self.value_call(info, args, span).map(TStmtKind::Expr),
            FuncRole::Statement => self.statement_call(info, args, span),
        }
    }

    /// A call used as a value.
    pub(super) fn call_value(&mut self, func: &Ident, args: &[Expr], span: Span) -> Option<TExpr> {
        // `ncpus()`, `username()`: bpftrace accepts variables as calls too.
        if args.is_empty() && lookup_func(&func.name).is_none() && flowtrace_stdlib::lookup_builtin(&func.name).is_some() {
            return self.expr(&Expr { kind: ExprKind::Ident(func.name.clone()), span });
        }
        let info = self.func_info(func, args, span)?;
        match info.role {
            FuncRole::Aggregation => {
                self.misplaced_aggregation(info, span);
                None
            }
            FuncRole::Statement if info.func == Func::Delete => self.delete_value(args, span),
            FuncRole::Statement => {
                self.error(span, format!("{}() has no value; call it as a statement", info.name));
                None
            }
            FuncRole::Value => self.value_call(info, args, span),
        }
    }

    fn misplaced_aggregation(&mut self, info: &FuncInfo, span: Span) {
        self.error_hint(
            span,
            format!("{}() can only be assigned to a map", info.name),
            Some(format!("e.g. @name[key] = {}", info.signature)),
        );
    }

    fn statement_call(&mut self, info: &FuncInfo, args: &[Expr], span: Span) -> Option<TStmtKind> {
        match info.func {
            Func::Printf => self.printf(args, span),
            Func::Time => {
                let format = match args.first() {
                    None => flowtrace_stdlib::time::DEFAULT_TIME_FORMAT.to_string(),
                    Some(a) => self.literal_string(a, "time()'s format")?,
                };
                Some(TStmtKind::Time { format })
            }
            Func::Exit => self.exit_call(args),
            Func::Print => self.print(args),
            Func::Clear | Func::Zero => {
                let (map, _) = self.whole_map_arg(&args[0], info.name)?;
                Some(if info.func == Func::Clear { TStmtKind::Clear { map } } else { TStmtKind::Zero { map } })
            }
            Func::Delete => {
                let (map, key) = self.map_with_key(&args[0], args.get(1), "delete")?;
                Some(TStmtKind::Delete { map, key })
            }
            Func::Cat | Func::System | Func::Join | Func::Signal => self.action_call(info.func, args, span),
            _ => None,
        }
    }

    /// `exit()` / `exit(code)`.
    fn exit_call(&mut self, args: &[Expr]) -> Option<TStmtKind> {
        let Some(arg) = args.first() else {
            return Some(TStmtKind::Exit { code: None });
        };
        let code = self.expr(arg)?;
        if !code.ty.is_integer() {
            self.error(arg.span, format!("exit()'s code must be an integer, not '{}'", code.ty));
            return None;
        }
        Some(TStmtKind::Exit { code: Some(super::maps::coerce(code, &Type::I64)) })
    }

    /// `delete(@m, k)` used as a value: true when the key was there.
    fn delete_value(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        let (map, key) = self.map_with_key(&args[0], args.get(1), "delete")?;
        let value = self.maps.value(map).cloned().unwrap_or(Type::Void);
        let target = TExpr { kind: TExprKind::MapRead { map, key: key.map(Box::new) }, ty: value, span: args[0].span };
        Some(TExpr { kind: TExprKind::Call { func: Func::Delete, args: vec![target] }, ty: Type::Bool, span })
    }

    pub(super) fn value_call(&mut self, info: &FuncInfo, args: &[Expr], span: Span) -> Option<TExpr> {
        let call = |func: Func, args: Vec<TExpr>, ty: Type| Some(TExpr { kind: TExprKind::Call { func, args }, ty, span });
        match info.func {
            Func::Sizeof => self.size_of(&args[0], span),
            Func::Getopt => self.getopt(args, span),
            // `str($1)` is the parameter's text even when it reads as a number.
            Func::Str if matches!(args[0].kind, ExprKind::Positional(_)) => self.positional_text(&args[0], args.get(1), span),
            Func::Str => {
                let (args, cap) = self.str_args(args)?;
                call(Func::Str, args, Type::Str { cap })
            }
            Func::CgroupPath | Func::Pod | Func::Container => self.cgroup_name(info.func, args, span),
            Func::Ntop => {
                let args = self.ntop_args(args)?;
                call(Func::Ntop, args, Type::Inet)
            }
            Func::Strncmp => {
                let a = self.string_arg(&args[0]);
                let b = self.string_arg(&args[1]);
                let n = self.const_int(&args[2], "strncmp()'s length");
                let (a, b, n) = (a?, b?, n?);
                if n < 0 {
                    self.error(args[2].span, "strncmp()'s length cannot be negative");
                    return None;
                }
                let n = TExpr { kind: TExprKind::Int(n as u64), ty: Type::I64, span: args[2].span };
                call(Func::Strncmp, vec![a, b, n], Type::U64)
            }
            Func::Bswap => {
                let v = self.expr(&args[0])?;
                let Type::Int(i) = v.ty else {
                    self.error(args[0].span, format!("bswap() needs an integer, not '{}'", v.ty));
                    return None;
                };
                call(Func::Bswap, vec![v], Type::Int(IntType { bits: i.bits, signed: false }))
            }
            Func::Has => {
                let (map, key) = self.map_with_key(&args[0], args.get(1), "has_key")?;
                let value = self.maps.value(map).cloned().unwrap_or(Type::Void);
                let read = TExpr { kind: TExprKind::MapRead { map, key: key.map(Box::new) }, ty: value, span: args[0].span };
                call(Func::Has, vec![read], Type::Bool)
            }
            Func::MapLen => self.map_len(&args[0], span),
            Func::Offsetof => self.offset_of(args, span),
            Func::Pton => self.pton(&args[0], span),
            Func::Cgroupid => self.cgroup_id(&args[0], span),
            Func::NsecsOf => self.nsecs_of(args.first(), span),
            Func::Strcontains => self.str_contains(args, span),
            Func::Path => self.path(args, span),
            Func::PercpuKaddr => self.percpu_kaddr(args, span),
            Func::Uaddr => self.uaddr(args, span),
            Func::Strftime => self.strftime(args, span),
            Func::Macaddr => self.macaddr(&args[0], span),
            Func::Buf => self.buf(args, span),
            Func::Kstack | Func::Ustack => self.stack(info.func, args, span),
            Func::Ppid | Func::Pcomm | Func::LeaderTid | Func::LeaderComm => self.task_relative(info.func, args, span),
            Func::Ksym | Func::Usym => self.symbol(info.func, &args[0], span),
            Func::Strerror | Func::SyscallName | Func::SignalName => {
                use crate::types::Rendered;
                let (name, rendered) = match info.func {
                    Func::Strerror => ("strerror", Rendered::Strerror),
                    Func::SyscallName => ("syscall_name", Rendered::SyscallName),
                    _ => ("signal_name", Rendered::SignalName),
                };
                let number = self.int_arg(&args[0], name)?;
                call(info.func, vec![number], Type::Rendered(rendered))
            }
            Func::Kaddr => self.kaddr(&args[0], span),
            _ => None,
        }
    }

    /// `print(@m[, top[, div]])`, `print(@m[k])`, `print(value)`.
    fn print(&mut self, args: &[Expr]) -> Option<TStmtKind> {
        // `print(@m)` prints the map as a whole, as at exit; `print(@m[k])`
        // is a value.
        if let ExprKind::Map(mref) = &args[0].kind {
            if mref.keys.is_empty() {
                let (map, _) = self.whole_map_arg(&args[0], "print")?;
                let top = args.get(1).map(|a| self.const_int(a, "print()'s top")).unwrap_or(Some(0));
                let div = args.get(2).map(|a| self.const_int(a, "print()'s div")).unwrap_or(Some(0));
                let (top, div) = (top?, div?);
                for (value, arg) in [(top, args.get(1)), (div, args.get(2))] {
                    if let (true, Some(arg)) = (value < 0, arg) {
                        self.error(arg.span, "print()'s top and div must not be negative");
                        return None;
                    }
                }
                return Some(TStmtKind::PrintMap { map, top: top as u64, div: div as u64 });
            }
        }
        if let Some(extra) = args.get(1) {
            self.error(extra.span, "print(value) takes one argument: top and div apply only to whole maps");
            return None;
        }
        let value = self.expr(&args[0])?;
        if matches!(value.ty, Type::Void | Type::Args) {
            self.error(args[0].span, format!("cannot print a value of type '{}'", value.ty));
            return None;
        }
        self.note_records(&value.ty);
        Some(TStmtKind::PrintValue { value })
    }

    /// A whole-map argument (`clear(@m)`): `@m` without keys.
    fn whole_map_arg(&mut self, arg: &Expr, func: &str) -> Option<(MapId, ())> {
        let ExprKind::Map(mref) = &arg.kind else {
            self.error(arg.span, format!("{func}() needs a map argument, e.g. {func}(@name)"));
            return None;
        };
        if !mref.keys.is_empty() {
            self.error(arg.span, format!("{func}() takes the whole map: write @{} without a key", mref.name));
            return None;
        }
        let id = self.maps.id(&mref.name, mref.name_span);
        self.defined_map_value(id, arg.span)?;
        Some((id, ()))
    }

    /// `len(@m)`: how many keys the map holds. As in bpftrace, only a map
    /// with keys has a length (a map without keys is always one value).
    fn map_len(&mut self, arg: &Expr, span: Span) -> Option<TExpr> {
        let (map, ()) = self.whole_map_arg(arg, "len")?;
        if matches!(self.maps.key(map), None | Some([])) {
            let name = self.maps.name(map);
            self.error_hint(arg.span, format!("len() needs a map with keys; {name} has none"), Some(format!("read it directly: {name}")));
            return None;
        }
        let value = self.maps.value(map).cloned().unwrap_or(Type::Void);
        let target = TExpr { kind: TExprKind::MapRead { map, key: None }, ty: value, span: arg.span };
        Some(TExpr { kind: TExprKind::Call { func: Func::MapLen, args: vec![target] }, ty: Type::I64, span })
    }

    /// `f(@m[k])` or `f(@m, k)` (delete, has_key): the map and its key.
    fn map_with_key(&mut self, arg: &Expr, key: Option<&Expr>, func: &str) -> Option<(MapId, Option<TExpr>)> {
        let ExprKind::Map(mref) = &arg.kind else {
            self.error(arg.span, format!("{func}() needs a map argument, e.g. {func}(@name, key)"));
            return None;
        };
        let mref = match key {
            None => mref.clone(),
            Some(k) if mref.keys.is_empty() => MapRef { keys: vec![k.clone()], ..mref.clone() },
            Some(k) => {
                self.error(k.span, format!("{func}() got the key twice: write {func}(@{}, key)", mref.name));
                return None;
            }
        };
        let (id, key) = self.map_key(&mref)?;
        self.defined_map_value(id, arg.span)?;
        Some((id, key))
    }

    /// `@m[k] = count()` etc.
    pub(super) fn aggregate(&mut self, map: &MapRef, func: Func, ident: &Ident, args: &[Expr], span: Span) -> Option<TStmtKind> {
        let Some(info) = self.func_info(ident, args, span) else {
            self.poison_map(map);
            return None;
        };
        let value = args.first().map(|a| self.int_arg(a, info.name));
        let agg = match func {
            Func::Lhist => self.lhist_bounds(&args[1..]),
            Func::Tseries => {
                let signed = matches!(&value, Some(Some(v)) if super::ints::int_of(&v.ty).is_some_and(|i| i.signed));
                self.tseries_shape(&args[1..], signed)
            }
            _ => {
                let signed = match &value {
                    Some(Some(v)) => super::ints::int_of(&v.ty).is_some_and(|i| i.signed),
                    _ => false,
                };
                simple_agg(func, signed)
            }
        };
        let key = self.map_key(map);
        let (Some(agg), Some((id, key))) = (agg, key) else {
            self.poison_map(map);
            return None;
        };
        let arg = match value {
            Some(None) => {
                self.poison_map(map);
                return None;
            }
            Some(v) => v,
            None => None,
        };
        self.map_write(id, &Type::Agg(agg), None, span)?;
        Some(TStmtKind::Aggregate { map: id, key, agg, arg })
    }

    /// `tseries(v, interval, intervals[, "avg"|"max"|"min"|"sum"])`.
    fn tseries_shape(&mut self, args: &[Expr], signed: bool) -> Option<AggKind> {
        let interval = self.const_int(&args[0], "tseries()'s interval");
        let intervals = self.const_int(&args[1], "tseries()'s number of intervals");
        let agg = match args.get(2) {
            None => Some(TseriesAgg::Last),
            Some(a) => self.literal_string(a, "tseries()'s aggregation").and_then(|name| {
                let agg = TseriesAgg::from_name(&name);
                if agg.is_none() {
                    self.error_hint(a.span, format!("tseries(): unknown aggregation '{name}'"), Some("one of \"avg\", \"max\", \"min\", \"sum\"".into()));
                }
                agg
            }),
        };
        let (interval, intervals, agg) = (interval?, intervals?, agg?);
        if interval <= 0 {
            self.error_hint(args[0].span, "tseries()'s interval must be greater than zero", Some("e.g. 100ms or 1s".into()));
            return None;
        }
        // Each interval is 24 bytes of a per-CPU value, which the kernel caps at 32 KiB.
        if !(1..=TSERIES_MAX_INTERVALS).contains(&intervals) {
            self.error(args[1].span, format!("tseries() keeps 1 to {TSERIES_MAX_INTERVALS} intervals, not {intervals}"));
            return None;
        }
        Some(AggKind::Tseries { interval_ns: interval as u64, intervals: intervals as u32, agg, signed })
    }

    fn lhist_bounds(&mut self, args: &[Expr]) -> Option<AggKind> {
        let min = self.const_int(&args[0], "lhist()'s min");
        let max = self.const_int(&args[1], "lhist()'s max");
        let step = self.const_int(&args[2], "lhist()'s step");
        let (min, max, step) = (min?, max?, step?);
        if step <= 0 {
            self.error(args[2].span, "lhist()'s step must be greater than zero");
            return None;
        }
        if max <= min {
            self.error(args[0].span.to(args[1].span), format!("lhist()'s max ({max}) must be greater than its min ({min})"));
            return None;
        }
        // bpftrace's limit: more buckets would not fit the value buffer.
        if max.checked_sub(min).is_none_or(|span| span / step > 1000) {
            self.error(args[2].span, "lhist() would have more than 1000 buckets; use a larger step");
            return None;
        }
        Some(AggKind::Lhist { min, max, step })
    }
}

fn simple_agg(func: Func, signed: bool) -> Option<AggKind> {
    Some(match func {
        Func::Count => AggKind::Count,
        Func::Sum => AggKind::Sum { signed },
        Func::Min => AggKind::Min { signed },
        Func::Max => AggKind::Max { signed },
        Func::Avg => AggKind::Avg { signed },
        Func::Stats => AggKind::Stats { signed },
        Func::Hist => AggKind::Hist,
        _ => return None,
    })
}

impl Checker<'_> {
    /// `ppid`, `pcomm`, `leader_tid`, `leader_comm` (of `curtask`, or of the
    /// task given): `TASK->real_parent->pid` and friends, read through BTF
    /// exactly as the script would write them.
    fn task_relative(&mut self, func: Func, args: &[Expr], span: Span) -> Option<TExpr> {
        let (link, field) = match func {
            Func::Ppid => ("real_parent", "pid"),
            Func::Pcomm => ("real_parent", "comm"),
            Func::LeaderTid => ("group_leader", "pid"),
            _ => ("group_leader", "comm"),
        };
        let task = args.first().cloned().unwrap_or(Expr { kind: ExprKind::Ident("curtask".into()), span });
        let name = |n: &str| crate::ast::Ident { name: n.into(), span };
        let related = Expr { kind: ExprKind::Field { expr: Box::new(task), field: name(link), arrow: true }, span };
        let value = Expr { kind: ExprKind::Field { expr: Box::new(related), field: name(field), arrow: true }, span };
        let t = self.expr(&value)?;
        Some(match field {
            "pid" => TExpr { kind: TExprKind::Cast { expr: Box::new(t) }, ty: Type::Int(crate::types::IntType::U32), span },
            _ => super::printf::as_string(t),
        })
    }
}
