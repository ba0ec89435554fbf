//! Which tc filters flowtrace made, and whether the flowtrace that made one
//! still runs. The one place `flowtrace net` asks this: when flowtrace's
//! filter naming changes (the owner's identity, e.g. to survive PID
//! namespaces), only this adapter follows it.

use super::model::FlowtraceOwner;

/// The owner of a filter named like flowtrace's (`flowtrace/PID/PROGRAM`).
pub(super) fn flowtrace_owner(filter_name: &str) -> Option<FlowtraceOwner> {
    let pid = crate::tc::filter_owner(filter_name)?;
    let alive = pid == std::process::id() || crate::tc::running_flowtrace(pid);
    Some(FlowtraceOwner { pid, alive })
}
