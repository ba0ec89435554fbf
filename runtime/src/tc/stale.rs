//! Filters left behind by a flowtrace that was killed with SIGKILL on the
//! clsact path (TCX links cannot outlive their process). A filter is stale
//! only when it is provably a dead run's: its name is `flowtrace/OWNER/…` and
//! nobody in this network namespace holds OWNER's socket (`owner.rs`). A live
//! run in another PID namespace holds it as well as one in ours; a filter
//! whose owner cannot be checked is never touched.

use super::netlink::{Filter, Socket};
use super::owner::{filter_owner, owner_state, Owner};
use super::{interfaces, Hook};
use std::collections::HashMap;
use std::fmt;
use std::io;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaleFilter {
    pub ifname: String,
    pub ifindex: u32,
    pub hook: Hook,
    pub priority: u16,
    pub handle: u32,
    pub program: String,
    pub prog_id: u32,
}

impl StaleFilter {
    /// The tc(8) command that removes it.
    pub fn tc_command(&self) -> String {
        format!("tc filter del dev {} {} pref {} handle 0x{:x} bpf", self.ifname, self.hook.name(), self.priority, self.handle)
    }
}

impl fmt::Display for StaleFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} pref {} handle 0x{:x}: program {} (id {})",
            self.ifname,
            self.hook.name(),
            self.priority,
            self.handle,
            self.program,
            self.prog_id
        )
    }
}

fn program_names() -> HashMap<u32, String> {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .map(|p| (p.id(), p.name_as_str().unwrap_or_default().to_string()))
        .collect()
}

fn is_stale(f: &Filter) -> bool {
    // Not named by a flowtrace that can be checked (another tool's filter, or
    // an older flowtrace's pid-only name): not ours to judge.
    f.kind == "bpf" && f.name.as_deref().and_then(filter_owner).is_some_and(|owner| owner_state(owner) == Owner::Dead)
}

/// Every stale flowtrace filter in this network namespace.
pub fn find_stale() -> io::Result<Vec<StaleFilter>> {
    let mut sock = Socket::open()?;
    let programs = program_names();
    let mut out = Vec::new();
    for iface in interfaces()? {
        for hook in [Hook::Ingress, Hook::Egress] {
            for f in sock.filters(iface.index, hook.parent())? {
                if !is_stale(&f) {
                    continue;
                }
                let prog_id = f.prog_id.unwrap_or(0);
                out.push(StaleFilter {
                    ifname: iface.name.clone(),
                    ifindex: iface.index,
                    hook: Hook::from_parent(f.parent).unwrap_or(hook),
                    priority: f.priority,
                    handle: f.handle,
                    program: programs.get(&prog_id).cloned().unwrap_or_default(),
                    prog_id,
                });
            }
        }
    }
    Ok(out)
}

/// Deletes the given filters (only those: the clsact qdisc stays, as we
/// cannot know who created it). Returns the ones removed.
pub fn remove_stale(stale: &[StaleFilter]) -> io::Result<Vec<StaleFilter>> {
    let mut sock = Socket::open()?;
    let mut removed = Vec::new();
    for s in stale {
        match sock.del_filter(s.ifindex, s.hook.parent(), s.priority, s.handle) {
            Ok(()) => removed.push(s.clone()),
            Err(e) if super::netlink::errno(&e) == Some(libc::ENOENT) => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("removing {s}: {e}"))),
        }
    }
    Ok(removed)
}

/// `flowtrace --cleanup-stale` on its own: find the stale filters and remove
/// them; returns the ones removed.
pub fn cleanup_stale() -> io::Result<Vec<StaleFilter>> {
    remove_stale(&find_stale()?)
}
