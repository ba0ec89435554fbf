//! Which tc filters flowtrace made, and whether the flowtrace that made one
//! still runs. The one place `flowtrace net` asks this; the owner's identity
//! itself (a token held as an abstract socket in the filter's network
//! namespace, valid across PID namespaces) is `crate::tc::owner`'s.

use super::model::FlowtraceOwner;
use crate::tc::owner::{filter_owner, owner_state, Owner};

/// The owner of a filter named like flowtrace's
/// (`flowtrace/PID.PIDNS.START/PROGRAM`). Asked from inside the filter's
/// network namespace; an owner that cannot be proven dead counts as alive.
pub(super) fn flowtrace_owner(filter_name: &str) -> Option<FlowtraceOwner> {
    let token = filter_owner(filter_name)?;
    let pid = token.split('.').next()?.parse().ok()?;
    let alive = owner_state(token) != Owner::Dead;
    Some(FlowtraceOwner { pid, alive })
}
