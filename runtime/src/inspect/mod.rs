//! `flowtrace net`: what is attached to this node's interfaces, what looks
//! stale, and how full the maps behind it are — read-only (nothing is loaded,
//! attached or changed), and without bpftool.
//!
//! [`inspect`] walks the network namespaces ([`netns`]), reads each one's
//! interfaces, XDP programs, clsact filters and TCX/netkit chains
//! ([`links`]), then the kernel-wide programs and maps they refer to
//! ([`objects`]); the result is a plain [`NodeReport`]. [`findings()`] judges
//! it, purely.

mod findings;
mod links;
mod model;
mod netns;
mod objects;
mod owner;

pub use findings::{findings, lru_headroom, Finding, FindingKind, LRU_LOCAL_FREE, PRESSURE_PERCENT};
pub use model::*;
pub use objects::CountBudget;

use flowtrace_kernel::glob::glob_match;
use std::collections::BTreeSet;
use std::io;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Every namespace on the node, not only the current one.
    pub all_netns: bool,
    /// Only interfaces whose name matches this glob (shown even when
    /// nothing is attached to them).
    pub interfaces: Option<String>,
    pub count: CountBudget,
}

/// Reads everything `flowtrace net` shows. Fails only when nothing can be
/// read at all; a namespace that vanished mid-walk becomes an entry in
/// [`NodeReport::errors`].
pub fn inspect(options: &Options) -> io::Result<NodeReport> {
    let list = if options.all_netns { netns::all()? } else { vec![netns::current()?] };
    let mut report = NodeReport { possible_cpus: crate::sys::possible_cpus().unwrap_or(1), ..Default::default() };
    let mut matched_any = false;
    for (ns, result) in list.iter().zip(netns::in_each(&list, |_| links::interfaces())?) {
        let all = match result {
            Ok(all) => all,
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        let (shown, quiet) = select(all, options.interfaces.as_deref());
        matched_any |= !shown.is_empty();
        report.namespaces.push(NetnsReport { label: ns.label.clone(), inode: ns.inode, interfaces: shown, quiet_interfaces: quiet });
    }
    if let Some(pattern) = &options.interfaces {
        if !matched_any {
            let scope = if options.all_netns { "any network namespace" } else { "this network namespace (try --all-netns)" };
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no network interface matches '{pattern}' in {scope}")));
        }
    }
    let prog_ids: BTreeSet<u32> = report.namespaces.iter().flat_map(|n| &n.interfaces).flat_map(|i| i.program_ids()).collect();
    report.programs = objects::programs(prog_ids);
    let map_ids: BTreeSet<u32> = report.programs.values().flat_map(|p| p.map_ids.iter().copied()).collect();
    report.maps = objects::maps(map_ids, options.count, report.possible_cpus);
    Ok(report)
}

/// The interfaces to show and how many were left out: with a glob, the
/// matching ones; without, those with something attached.
fn select(all: Vec<InterfaceReport>, pattern: Option<&str>) -> (Vec<InterfaceReport>, usize) {
    let total = all.len();
    let shown: Vec<InterfaceReport> = match pattern {
        Some(p) => all.into_iter().filter(|i| glob_match(p, &i.name)).collect(),
        None => all.into_iter().filter(|i| !i.is_quiet()).collect(),
    };
    let quiet = if pattern.is_some() { 0 } else { total - shown.len() };
    (shown, quiet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_interfaces_are_left_out_unless_named() {
        let busy = InterfaceReport { index: 2, name: "eth0".into(), clsact: true, ..Default::default() };
        let quiet = InterfaceReport { index: 1, name: "lo".into(), ..Default::default() };
        let (shown, left) = select(vec![quiet.clone(), busy.clone()], None);
        assert_eq!((shown, left), (vec![busy.clone()], 1));
        let (shown, left) = select(vec![quiet.clone(), busy], Some("l*"));
        assert_eq!((shown, left), (vec![quiet], 0));
    }
}
