//! Stacks and symbols. Registered so the names resolve and the message can
//! say they are planned, rather than "unknown function".

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
    sym!(
        PercpuKaddr,
        "percpu_kaddr",
        1,
        2,
        "uint64 *percpu_kaddr(string name [, int cpu])",
        "address of a per-CPU kernel variable on this (or the given) CPU"
    ),
];
