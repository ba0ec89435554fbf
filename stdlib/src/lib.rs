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
    // The machine and the user (`host.rs`).
    Ncpus,
    Numaid,
    Username,
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
    // Cgroup ids named in user space.
    CgroupPath,
    Pod,
    Container,
    // Added for today's bpftrace (issue 11), one family file each.
    Offsetof,
    Strcontains,
    Buf,
    Join,
    Cat,
    Pton,
    Macaddr,
    Cgroupid,
    Strftime,
    /// `nsecs(monotonic|boot|tai|sw_tai)`: the call form of `nsecs`.
    NsecsOf,
    /// `len(@map)`: how many keys a map holds.
    MapLen,
    Path,
    PercpuKaddr,
    /// `uaddr("name")`: a symbol's address in a uprobe's binary.
    Uaddr,
    Signal,
    System,
    Tseries,
    /// `ppid`, `pcomm`, `leader_tid`, `leader_comm`: a field of the current
    /// (or given) task's parent or thread-group leader.
    Ppid,
    Pcomm,
    /// `strerror(errno)`: the C library's message, named in user space.
    Strerror,
    /// `syscall_name(nr)`, `signal_name(sig)`: named in user space.
    SyscallName,
    SignalName,
    LeaderTid,
    LeaderComm,
    // Program parameters.
    Getopt,
}

mod aggregations;
mod cgroup;
mod exit;
mod host;
mod ints;
mod map_ops;
mod not_supported;
mod ntop;
mod packet;
mod params;
mod print;
mod process_control;
pub mod printf;
mod probe_context;
mod process;
pub mod provider;
mod registry;
mod str;
mod symbols;
pub mod time;

pub use not_supported::{not_supported, NOT_SUPPORTED};
pub use provider::ProbeKind;
pub use registry::{builtins, funcs, lookup_builtin, lookup_func, BuiltinInfo, FuncInfo, FuncRole};
