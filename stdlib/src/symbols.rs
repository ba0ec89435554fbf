//! Stacks and symbols. Stacks and symbol names are registered so the names
//! resolve and the message can say they are planned, rather than "unknown
//! function"; `percpu_kaddr` works (bpf_this_cpu_ptr / bpf_per_cpu_ptr).

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

const LATER: Option<&str> = Some("not supported by flowtrace yet");

macro_rules! sym {
    ($variant:ident, $name:literal, $min:literal, $max:literal, $sig:literal, $doc:literal) => {
        FuncInfo::of(Func::$variant, $name, ($min, $max), FuncRole::Value, $sig, $doc, LATER)
    };
}

pub(crate) const FUNCS: &[FuncInfo] = &[
    sym!(Kstack, "kstack", 0, 2, "kstack([int limit])", "kernel stack trace"),
    sym!(Ustack, "ustack", 0, 2, "ustack([int limit])", "user stack trace"),
    sym!(Ksym, "ksym", 1, 1, "ksym(int addr)", "kernel symbol name of an address"),
    sym!(Usym, "usym", 1, 1, "usym(int addr)", "user symbol name of an address"),
    sym!(Kaddr, "kaddr", 1, 1, "uint64 kaddr(string name)", "address of a kernel symbol"),
    FuncInfo::of(
        Func::PercpuKaddr,
        "percpu_kaddr",
        (1, 2),
        FuncRole::Value,
        "T *percpu_kaddr(string name [, int cpu])",
        "address of the per-CPU kernel variable `name` on this CPU (or on `cpu`: NULL past the last one)",
        None,
    ),
    FuncInfo::of(
        Func::Uaddr,
        "uaddr",
        (1, 1),
        FuncRole::Value,
        "uint64 uaddr(string name)",
        "address of the symbol `name` in the binary of the uprobe/uretprobe/usdt probe it is used in",
        None,
    ),
];
