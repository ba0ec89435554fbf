//! The current task: `comm`, `pid`, `tid`, `uid`, `gid`, `cpu`, `curtask`,
//! `cgroup`. Types follow current bpftrace (pid/tid/cpu are uint32 there since
//! 0.22; bpftrace 0.17 used uint64 for all of them).
//!
//! `ppid`, `pcomm`, `leader_tid` and `leader_comm` are functions of a task
//! (the current one without an argument, and usable bare, as in bpftrace):
//! the checker reads them from its `task_struct` through BTF.
//!
//! None of these exist in `tc:` probes: a packet is classified in softirq
//! context, where "the current task" is whichever task the CPU interrupted.

use crate::registry::{BuiltinInfo, FuncInfo, FuncRole, ProbeKind};
use crate::{Builtin, Func};

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

pub(crate) const FUNCS: &[FuncInfo] = &[
    FuncInfo {
        func: Func::Ppid,
        name: "ppid",
        min_args: 0,
        max_args: 1,
        role: FuncRole::Value,
        signature: "uint32 ppid([struct task_struct *task])",
        doc: "pid of the task's parent process (`task->real_parent->pid`); the current task without an argument, and usable bare",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Pcomm,
        name: "pcomm",
        min_args: 0,
        max_args: 1,
        role: FuncRole::Value,
        signature: "string pcomm([struct task_struct *task])",
        doc: "name of the task's parent process (`task->real_parent->comm`); usable bare",
        unsupported: None,
    },
    FuncInfo {
        func: Func::LeaderTid,
        name: "leader_tid",
        min_args: 0,
        max_args: 1,
        role: FuncRole::Value,
        signature: "uint32 leader_tid([struct task_struct *task])",
        doc: "thread id of the task's thread-group leader (`task->group_leader->pid`); usable bare",
        unsupported: None,
    },
    FuncInfo {
        func: Func::LeaderComm,
        name: "leader_comm",
        min_args: 0,
        max_args: 1,
        role: FuncRole::Value,
        signature: "string leader_comm([struct task_struct *task])",
        doc: "name of the task's thread-group leader (`task->group_leader->comm`); usable bare",
        unsupported: None,
    },
];
