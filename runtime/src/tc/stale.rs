//! Filters left behind by a flowtrace that was killed with SIGKILL on the
//! clsact path (TCX links cannot outlive their process). A filter is ours if
//! its name is `flowtrace/PID/…` or its program is named `ft_…`; it is stale
//! if that pid is not a running flowtrace.

use super::netlink::{Filter, Socket};
use super::{filter_owner, interfaces, Hook};
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

/// Whether `pid` is a running flowtrace (a live one's filters are in use).
pub(crate) fn running_flowtrace(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim().starts_with("flowtrace"))
}

fn program_names() -> HashMap<u32, String> {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .map(|p| (p.id(), p.name_as_str().unwrap_or_default().to_string()))
        .collect()
}

fn is_stale(f: &Filter, programs: &HashMap<u32, String>) -> bool {
    if f.kind != "bpf" {
        return false;
    }
    let program = f.prog_id.and_then(|id| programs.get(&id)).map(String::as_str).unwrap_or("");
    match f.name.as_deref().and_then(filter_owner) {
        Some(pid) => pid != std::process::id() && !running_flowtrace(pid),
        // Not named by us: only a program called ft_… marks it, and then
        // there is no owner to ask, so it counts as left behind.
        None => program.starts_with("ft_") && f.name.as_deref().is_none_or(|n| !n.contains('/')),
    }
}

/// Every stale flowtrace filter in this network namespace.
pub fn find_stale() -> io::Result<Vec<StaleFilter>> {
    let mut sock = Socket::open()?;
    let programs = program_names();
    let mut out = Vec::new();
    for iface in interfaces()? {
        for hook in [Hook::Ingress, Hook::Egress] {
            for f in sock.filters(iface.index, hook.parent())? {
                if !is_stale(&f, &programs) {
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
