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

pub(crate) const FUNCS: &[FuncInfo] = &[FuncInfo {
    func: Func::Time,
    name: "time",
    min_args: 0,
    max_args: 1,
    role: FuncRole::Statement,
    signature: "time([string format])",
    doc: "print the wall-clock time, formatted in userspace with strftime(3)",
    unsupported: None,
}];
