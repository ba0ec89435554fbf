//! Time: the `nsecs` and `elapsed` builtins and the `time(fmt)` function.

use crate::registry::{BuiltinInfo, FuncInfo, FuncRole, ProbeKind};
use crate::{Builtin, Func};

pub(crate) const BUILTINS: &[BuiltinInfo] = &[
    BuiltinInfo {
        builtin: Builtin::Nsecs,
        name: "nsecs",
        ty: "uint64",
        usable_in: ProbeKind::ALL,
        doc: "nanoseconds since boot (bpf_ktime_get_ns)",
    },
    BuiltinInfo {
        builtin: Builtin::Elapsed,
        name: "elapsed",
        ty: "uint64",
        usable_in: ProbeKind::ALL,
        doc: "nanoseconds since flowtrace started",
    },
];

/// What `time()` prints without an argument.
pub const DEFAULT_TIME_FORMAT: &str = "%H:%M:%S\n";

pub(crate) const FUNCS: &[FuncInfo] = &[
    FuncInfo {
    func: Func::Time,
    name: "time",
    min_args: 0,
    max_args: 1,
    role: FuncRole::Statement,
    signature: "time([string format])",
    doc: "print the wall-clock time, formatted in userspace with strftime(3)",
    unsupported: None,
    },
    FuncInfo {
        func: Func::Strftime,
        name: "strftime",
        min_args: 2,
        max_args: 2,
        role: FuncRole::Value,
        signature: "timestamp strftime(string format, uint64 nsecs)",
        doc: "a boot-time timestamp that prints as wall-clock time with strftime(3) `format` (plus `%f`, microseconds)",
        unsupported: None,
    },
    FuncInfo {
        func: Func::NsecsOf,
        name: "nsecs",
        min_args: 0,
        max_args: 1,
        role: FuncRole::Value,
        signature: "uint64 nsecs([monotonic|boot|tai|sw_tai])",
        doc: "nanoseconds of the named kernel clock (`nsecs` alone is bpf_ktime_get_ns, as in bpftrace 0.17)",
        unsupported: None,
    },
];

/// The kernel clocks `nsecs(CLOCK)` reads. As a call argument the clock
/// travels as its [`Clock::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// CLOCK_MONOTONIC: bpf_ktime_get_ns (stops while suspended).
    Monotonic,
    /// CLOCK_BOOTTIME: bpf_ktime_get_boot_ns.
    Boot,
    /// CLOCK_TAI: bpf_ktime_get_tai_ns (kernel 6.1).
    Tai,
    /// CLOCK_BOOTTIME plus the TAI−boot offset read when compiling, for
    /// kernels without the TAI helper.
    SwTai,
}

impl Clock {
    pub const ALL: [Clock; 4] = [Clock::Monotonic, Clock::Boot, Clock::Tai, Clock::SwTai];

    pub fn name(self) -> &'static str {
        match self {
            Clock::Monotonic => "monotonic",
            Clock::Boot => "boot",
            Clock::Tai => "tai",
            Clock::SwTai => "sw_tai",
        }
    }

    pub fn from_name(name: &str) -> Option<Clock> {
        Clock::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn code(self) -> u64 {
        self as u64
    }

    pub fn from_code(code: u64) -> Option<Clock> {
        Clock::ALL.into_iter().find(|c| c.code() == code)
    }
}
