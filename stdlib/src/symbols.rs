//! Stacks and symbols: `kstack`/`ustack` (a `bpf_get_stackid` id, printed
//! as the stack's frames), `ksym`/`usym` (an address printed as its symbol),
//! `kaddr` (a kernel symbol's address, looked up when the script compiles)
//! and `percpu_kaddr` (bpf_this_cpu_ptr / bpf_per_cpu_ptr). Checked in
//! `lang/src/check/calls_rendered.rs`, lowered in `codegen/src/lower/stacks.rs`,
//! resolved in `runtime/src/symbols/`.

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

macro_rules! sym {
    ($variant:ident, $name:literal, $min:literal, $max:literal, $sig:literal, $doc:literal) => {
        FuncInfo::of(Func::$variant, $name, ($min, $max), FuncRole::Value, $sig, $doc, None)
    };
}

pub(crate) const FUNCS: &[FuncInfo] = &[
    sym!(Kstack, "kstack", 0, 2, "kstack([mode] [, int limit])", "kernel stack trace; mode is bpftrace, perf or raw"),
    sym!(Ustack, "ustack", 0, 2, "ustack([mode] [, int limit])", "user stack trace; mode is bpftrace, perf or raw"),
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
