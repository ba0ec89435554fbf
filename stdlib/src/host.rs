//! The machine and its users: `ncpus`, `numaid`, `username` and
//! `cgroupid(path)`. `ncpus` and `cgroupid` are looked up once, when the
//! script is compiled (as bpftrace does); `username` is the current task's
//! uid, turned into a name in userspace when it is printed (BPF cannot read
//! /etc/passwd).

use crate::registry::{BuiltinInfo, FuncInfo, FuncRole, ProbeKind};
use crate::{Builtin, Func};

pub(crate) const BUILTINS: &[BuiltinInfo] = &[
    BuiltinInfo {
        builtin: Builtin::Ncpus,
        name: "ncpus",
        ty: "uint64",
        usable_in: ProbeKind::ALL,
        doc: "number of online CPUs, when the script was compiled",
    },
    BuiltinInfo {
        builtin: Builtin::Numaid,
        name: "numaid",
        ty: "uint32",
        usable_in: ProbeKind::ALL,
        doc: "NUMA node running the probe (bpf_get_numa_node_id)",
    },
    BuiltinInfo {
        builtin: Builtin::Username,
        name: "username",
        ty: "username",
        usable_in: ProbeKind::TASK,
        doc: "the current task's user name (its uid, named in userspace when printed)",
    },
];

pub(crate) const FUNCS: &[FuncInfo] = &[FuncInfo {
    func: Func::Cgroupid,
    name: "cgroupid",
    min_args: 1,
    max_args: 1,
    role: FuncRole::Value,
    signature: "uint64 cgroupid(string path)",
    doc: "the cgroup v2 id (inode number) of the cgroup directory `path`, looked up when compiling",
    unsupported: None,
}];
