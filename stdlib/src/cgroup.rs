//! Cgroup ids as names: `cgroup_path(id[, filter])` (bpftrace's) and
//! flowtrace's `pod(id)` / `container(id)`. The kernel keeps only the u64
//! cgroup id; user space turns it into text when the value is printed or
//! exported (`flowtrace_runtime::pods`), so the names cost nothing per event
//! and a cgroup created after the script started still resolves.

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

pub(crate) const FUNCS: &[FuncInfo] = &[
    FuncInfo::of(
        Func::CgroupPath,
        "cgroup_path",
        (1, 2),
        FuncRole::Value,
        "cgroup_path_t cgroup_path(int cgroupid[, string filter])",
        "the cgroup's path in each mounted hierarchy (`unified:/…`), resolved when printed",
        None,
    ),
    FuncInfo::of(
        Func::Pod,
        "pod",
        (1, 1),
        FuncRole::Value,
        "pod_t pod(int cgroupid)",
        "the Kubernetes pod (`namespace/name`) owning the cgroup, \"\" if none; resolved when printed",
        None,
    ),
    FuncInfo::of(
        Func::Container,
        "container",
        (1, 1),
        FuncRole::Value,
        "container_t container(int cgroupid)",
        "the container id owning the cgroup, \"\" if none; resolved when printed",
        None,
    ),
];
