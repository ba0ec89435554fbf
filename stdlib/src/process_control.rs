//! Acting on processes: `signal(SIG)` sends a signal to the current task's
//! process from the probe (bpf_send_signal); `system(fmt, …)` runs a command
//! from userspace when the event arrives. Both change the traced system, so,
//! as in bpftrace, they are refused unless the command line says `--unsafe`.

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

pub(crate) const FUNCS: &[FuncInfo] = &[
    FuncInfo {
        func: Func::Signal,
        name: "signal",
        min_args: 1,
        max_args: 1,
        role: FuncRole::Statement,
        signature: "signal(string SIGNAME | int signum)",
        doc: "send a signal to the current process (bpf_send_signal); needs `--unsafe`",
        unsupported: None,
    },
    FuncInfo {
        func: Func::System,
        name: "system",
        min_args: 1,
        max_args: usize::MAX,
        role: FuncRole::Statement,
        signature: "system(string format, args…)",
        doc: "run a shell command (printf-formatted) in userspace and print its output; needs `--unsafe`",
        unsupported: None,
    },
];

impl Func {
    /// Whether the function changes the traced system, so a script may call
    /// it only when the user passed `--unsafe`.
    pub fn needs_unsafe(self) -> bool {
        matches!(self, Func::Signal | Func::System)
    }
}
