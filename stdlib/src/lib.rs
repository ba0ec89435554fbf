//! flowtrace's builtins: the names a script can use without defining them.
//! This crate is the registry: each builtin's name, where it may be used and
//! its documentation (one file per builtin or small family). The type rules
//! live in the checker (`flowtrace-lang`), the lowering in `flowtrace-codegen`
//! and the rendering in `flowtrace-runtime`, each matching on these enums.
//! [`provider`] is the table of attach-point providers (names, aliases,
//! [`ProbeKind`]s) that the parser, checker, `-l` and completion read.

/// Builtin variables (`comm`, `pid`, `saddr`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Builtin {
    Comm,
    Pid,
    Tid,
    Uid,
    Gid,
    Nsecs,
    Elapsed,
    Cpu,
    /// `arg0`…`arg5` (kprobe; in fentry the typed args are `args.NAME`).
    Arg(u8),
    Args,
    Retval,
    Curtask,
    Cgroup,
    /// The attach point's text (`probe`).
    Probe,
    /// The traced function's name (`func`).
    Func,
    // tc: packet builtins.
    Len,
    Ifindex,
    Ifname,
    Dir,
    Family,
    Proto,
    Saddr,
    Daddr,
    Sport,
    Dport,
    Tcpflags,
    Mark,
    Cookie,
    Skb,
}

/// Builtin functions (`printf`, `count`, `ntop`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    // Aggregations: only as `@m[k] = f(…)`.
    Count,
    Sum,
    Min,
    Max,
    Avg,
    Stats,
    Hist,
    Lhist,
    // Map operations.
    Print,
    Clear,
    Zero,
    Delete,
    // Output and control.
    Printf,
    Time,
    Exit,
    // Values.
    Str,
    Ntop,
    Strncmp,
    Kstack,
    Ustack,
    Ksym,
    Usym,
    Kaddr,
    Sizeof,
    Bswap,
    Has,
    // Program parameters.
    Getopt,
}

mod aggregations;
mod exit;
mod ints;
mod map_ops;
mod ntop;
mod packet;
mod params;
mod print;
pub mod printf;
mod probe_context;
mod process;
pub mod provider;
mod registry;
mod str;
mod symbols;
pub mod time;

pub use provider::ProbeKind;
pub use registry::{builtins, funcs, lookup_builtin, lookup_func, BuiltinInfo, FuncInfo, FuncRole};
