//! The registry's record types and lookup. Each builtin family lives in its
//! own file and contributes one table; this file only stitches them together.

use crate::{Builtin, Func};
pub use crate::provider::ProbeKind;

/// A builtin variable: its name, value type (as documentation; the checker
/// owns the rule), where it may be used and what it is.
#[derive(Debug)]
pub struct BuiltinInfo {
    pub builtin: Builtin,
    pub name: &'static str,
    /// The value type as shown to users, e.g. `uint32`, `string[16]`.
    pub ty: &'static str,
    pub usable_in: &'static [ProbeKind],
    pub doc: &'static str,
}

impl BuiltinInfo {
    pub fn usable_in(&self, kind: ProbeKind) -> bool {
        self.usable_in.contains(&kind)
    }
}

/// What a builtin function does to the program, which decides where a call
/// may appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FuncRole {
    /// Only as `@m[k] = f(…)`.
    Aggregation,
    /// Only as a statement (its result is `void`).
    Statement,
    /// Produces a value; usable in any expression.
    Value,
}

#[derive(Debug)]
pub struct FuncInfo {
    pub func: Func,
    pub name: &'static str,
    pub min_args: usize,
    pub max_args: usize,
    pub role: FuncRole,
    /// e.g. `lhist(int64 value, int64 min, int64 max, int64 step)`.
    pub signature: &'static str,
    pub doc: &'static str,
    /// `Some(reason)` when flowtrace does not implement it yet.
    pub unsupported: Option<&'static str>,
}

impl FuncInfo {
    /// A table entry of a family whose members share a role (and, for
    /// unimplemented ones, the reason).
    pub(crate) const fn of(
        func: Func,
        name: &'static str,
        (min_args, max_args): (usize, usize),
        role: FuncRole,
        signature: &'static str,
        doc: &'static str,
        unsupported: Option<&'static str>,
    ) -> FuncInfo {
        FuncInfo { func, name, min_args, max_args, role, signature, doc, unsupported }
    }
}

const BUILTIN_TABLES: &[&[BuiltinInfo]] = &[
    crate::process::BUILTINS,
    crate::time::BUILTINS,
    crate::probe_context::BUILTINS,
    crate::packet::BUILTINS,
    crate::host::BUILTINS,
];

const FUNC_TABLES: &[&[FuncInfo]] = &[
    crate::aggregations::FUNCS,
    crate::map_ops::FUNCS,
    crate::print::FUNCS,
    crate::printf::FUNCS,
    crate::time::FUNCS,
    crate::exit::FUNCS,
    crate::str::FUNCS,
    crate::ntop::FUNCS,
    crate::symbols::FUNCS,
    crate::ints::FUNCS,
    crate::cgroup::FUNCS,
    crate::host::FUNCS,
    crate::process_control::FUNCS,
    crate::params::FUNCS,
    crate::process::FUNCS,
];

/// Every builtin variable, in documentation order.
pub fn builtins() -> impl Iterator<Item = &'static BuiltinInfo> {
    BUILTIN_TABLES.iter().flat_map(|t| t.iter())
}

/// Every builtin function, in documentation order.
pub fn funcs() -> impl Iterator<Item = &'static FuncInfo> {
    FUNC_TABLES.iter().flat_map(|t| t.iter())
}

/// The builtin variable called `name` (`comm`, `arg3`, `saddr`).
pub fn lookup_builtin(name: &str) -> Option<&'static BuiltinInfo> {
    builtins().find(|b| b.name == name)
}

/// The builtin function called `name` (`printf`, `count`).
pub fn lookup_func(name: &str) -> Option<&'static FuncInfo> {
    funcs().find(|f| f.name == name)
}

impl Builtin {
    pub fn info(self) -> &'static BuiltinInfo {
        // Every variant has exactly one table entry (tested below), so the
        // fallback is never taken; it keeps this total without a panic.
        builtins().find(|b| b.builtin == self).unwrap_or(&crate::process::BUILTINS[0])
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }
}

impl Func {
    pub fn info(self) -> &'static FuncInfo {
        funcs().find(|f| f.func == self).unwrap_or(&crate::printf::FUNCS[0])
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique() {
        // A variable and a function may share a name (`nsecs` and
        // `nsecs(tai)`, the tc `len` and `len(@m)`): a call is always the function.
        let mut seen = HashSet::new();
        for name in builtins().map(|b| b.name) {
            assert!(seen.insert(name), "variable {name} registered twice");
        }
        let mut seen = HashSet::new();
        for name in funcs().map(|f| f.name) {
            assert!(seen.insert(name), "function {name} registered twice");
        }
    }

    #[test]
    fn every_variant_has_an_entry() {
        let variants = [
            Builtin::Comm, Builtin::Pid, Builtin::Tid, Builtin::Uid, Builtin::Gid, Builtin::Nsecs,
            Builtin::Elapsed, Builtin::Cpu, Builtin::Args, Builtin::Retval, Builtin::Curtask,
            Builtin::Cgroup, Builtin::Probe, Builtin::Func, Builtin::Len, Builtin::Ifindex,
            Builtin::Ifname, Builtin::Dir, Builtin::Family, Builtin::Proto, Builtin::Saddr,
            Builtin::Daddr, Builtin::Sport, Builtin::Dport, Builtin::Tcpflags, Builtin::Mark,
            Builtin::Cookie, Builtin::Skb, Builtin::Ncpus, Builtin::Numaid, Builtin::Username,
        ];
        for b in variants.into_iter().chain((0..6).map(Builtin::Arg)) {
            assert_eq!(builtins().filter(|i| i.builtin == b).count(), 1, "{b:?}");
        }
        let funcs_list = [
            Func::Count, Func::Sum, Func::Min, Func::Max, Func::Avg, Func::Stats, Func::Hist,
            Func::Lhist, Func::Print, Func::Clear, Func::Zero, Func::Delete, Func::Printf,
            Func::Time, Func::Exit, Func::Str, Func::Ntop, Func::Strncmp, Func::Kstack,
            Func::Ustack, Func::Ksym, Func::Usym, Func::Kaddr, Func::Sizeof, Func::Bswap, Func::Has, Func::Getopt,
            Func::CgroupPath, Func::Pod, Func::Container,
            Func::Offsetof, Func::Strcontains, Func::Buf, Func::Join, Func::Cat, Func::Pton, Func::Macaddr,
            Func::Cgroupid, Func::Strftime, Func::NsecsOf, Func::MapLen, Func::Path, Func::PercpuKaddr, Func::Uaddr,
            Func::Signal, Func::System, Func::Tseries,
            Func::Ppid, Func::Pcomm, Func::LeaderTid, Func::LeaderComm, Func::Strerror,
            Func::SyscallName, Func::SignalName,
        ];
        for f in funcs_list {
            assert_eq!(funcs().filter(|i| i.func == f).count(), 1, "{f:?}");
        }
    }

    #[test]
    fn lookup_by_name() {
        assert_eq!(lookup_builtin("arg3").map(|b| b.builtin), Some(Builtin::Arg(3)));
        assert_eq!(lookup_func("lhist").map(|f| (f.min_args, f.max_args)), Some((4, 4)));
        assert!(lookup_builtin("saddr").is_some_and(|b| !b.usable_in(ProbeKind::Kprobe)));
        assert!(lookup_builtin("pid").is_some_and(|b| !b.usable_in(ProbeKind::Tc)));
    }
}
