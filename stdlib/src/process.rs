//! The current task: `comm`, `pid`, `tid`, `uid`, `gid`, `cpu`, `curtask`,
//! `cgroup`. Types follow current bpftrace (pid/tid/cpu are uint32 there since
//! 0.22; bpftrace 0.17 used uint64 for all of them).
//!
//! None of these exist in `tc:` probes: a packet is classified in softirq
//! context, where "the current task" is whichever task the CPU interrupted.

use crate::registry::{BuiltinInfo, ProbeKind};
use crate::Builtin;

pub(crate) const BUILTINS: &[BuiltinInfo] = &[
    BuiltinInfo {
        builtin: Builtin::Comm,
        name: "comm",
        ty: "string[16]",
        usable_in: ProbeKind::TASK,
        doc: "name of the current task (bpf_get_current_comm)",
    },
    BuiltinInfo {
        builtin: Builtin::Pid,
        name: "pid",
        ty: "uint32",
        usable_in: ProbeKind::TASK,
        doc: "process id (thread group id) of the current task",
    },
    BuiltinInfo {
        builtin: Builtin::Tid,
        name: "tid",
        ty: "uint32",
        usable_in: ProbeKind::TASK,
        doc: "thread id of the current task",
    },
    BuiltinInfo {
        builtin: Builtin::Uid,
        name: "uid",
        ty: "uint64",
        usable_in: ProbeKind::TASK,
        doc: "user id of the current task",
    },
    BuiltinInfo {
        builtin: Builtin::Gid,
        name: "gid",
        ty: "uint64",
        usable_in: ProbeKind::TASK,
        doc: "group id of the current task",
    },
    BuiltinInfo {
        builtin: Builtin::Cpu,
        name: "cpu",
        ty: "uint32",
        usable_in: ProbeKind::ALL,
        doc: "id of the CPU running the probe",
    },
    BuiltinInfo {
        builtin: Builtin::Curtask,
        name: "curtask",
        ty: "struct task_struct *",
        usable_in: ProbeKind::TASK,
        doc: "the current task_struct",
    },
    BuiltinInfo {
        builtin: Builtin::Cgroup,
        name: "cgroup",
        ty: "uint64",
        usable_in: ProbeKind::ALL,
        doc: "cgroup v2 id of the current task; in tc: probes, of the packet's socket (0 if none)",
    },
];
