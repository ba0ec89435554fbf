//! The judgement an expert adds to the raw listing: each finding is one line
//! saying what is wrong and what to do. Pure: works on a [`NodeReport`] only,
//! so every rule is unit-tested without root.

use super::model::{EntryCount, InterfaceReport, Map, NetnsLabel, NodeReport, TcFilter};
use crate::tc::Hook;
use std::collections::BTreeMap;

/// A map this full (percent of `max_entries`, exclusive) is worth a line.
pub const PRESSURE_PERCENT: f64 = 80.0;
/// The kernel's LRU keeps up to this many free nodes on each CPU's local
/// list (`LOCAL_FREE_TARGET` in kernel/bpf/bpf_lru_list.c), and starts
/// evicting when the shared list cannot refill one: an LRU evicts before its
/// count reaches `max_entries`, so "full" means "within that headroom".
pub const LRU_LOCAL_FREE: u64 = 128;

#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub netns: NetnsLabel,
    /// None for kernel-wide objects (maps).
    pub interface: Option<String>,
    pub kind: FindingKind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FindingKind {
    /// Filters on one hook of one interface running the same program name
    /// (or carrying the same filter name) at different priorities.
    DuplicateFilters { hook: Hook, shared: String, filters: Vec<(u16, u32, u32)> },
    /// A filter named `flowtrace/PID/…` whose flowtrace is gone.
    DeadFlowtraceFilter { hook: Hook, pref: u16, handle: u32, pid: u32 },
    /// A cls_bpf filter without direct-action.
    NotDirectAction { hook: Hook, pref: u16, handle: u32 },
    /// A clsact qdisc with no filter on either hook.
    EmptyClsact,
    /// A map more than [`PRESSURE_PERCENT`] full.
    MapPressure { map_id: u32, name: String, entries: u64, max_entries: u32, at_least: bool },
    /// An LRU map at capacity: inserts evict live entries.
    LruFull { map_id: u32, name: String, entries: u64, max_entries: u32 },
}

impl Finding {
    /// Short name of the rule, for JSON and for tests.
    pub fn rule(&self) -> &'static str {
        match self.kind {
            FindingKind::DuplicateFilters { .. } => "duplicate-filters",
            FindingKind::DeadFlowtraceFilter { .. } => "stale-flowtrace-filter",
            FindingKind::NotDirectAction { .. } => "not-direct-action",
            FindingKind::EmptyClsact => "empty-clsact",
            FindingKind::MapPressure { .. } => "map-pressure",
            FindingKind::LruFull { .. } => "lru-full",
        }
    }

    /// The one line: where, what, what to do.
    pub fn message(&self) -> String {
        let dev = self.interface.as_deref().unwrap_or("?");
        let run = ns_prefix(&self.netns);
        match &self.kind {
            FindingKind::DuplicateFilters { hook, shared, filters } => {
                let prefs: Vec<String> = filters.iter().map(|f| f.0.to_string()).collect();
                let ids: Vec<String> = filters.iter().map(|f| f.2.to_string()).collect();
                // Program ids only grow, so the lowest id was loaded first:
                // the one an upgrade most likely forgot to remove.
                let oldest = filters.iter().min_by_key(|f| f.2).copied().unwrap_or_default();
                format!(
                    "{dev} {}: {} filters of {shared} at prefs {} (programs {}): the older one (prog {}, pref {}) is likely left over from an upgrade; check, then `{run}tc filter del dev {dev} {} pref {} handle 0x{:x} bpf`",
                    hook.name(), filters.len(), prefs.join(", "), ids.join(", "), oldest.2, oldest.0, hook.name(), oldest.0, oldest.1
                )
            }
            FindingKind::DeadFlowtraceFilter { hook, pref, handle, pid } => format!(
                "{dev} {} pref {pref} handle 0x{handle:x}: filter left by flowtrace pid {pid}, which is no longer running; remove it with `{run}flowtrace --cleanup-stale`",
                hook.name()
            ),
            FindingKind::NotDirectAction { hook, pref, handle } => format!(
                "{dev} {} pref {pref} handle 0x{handle:x}: cls_bpf filter is not direct-action, so its program's return value is a class id, not a verdict; re-add it with `da`",
                hook.name()
            ),
            FindingKind::EmptyClsact => {
                format!("{dev}: clsact qdisc holds no filter (left by a removed program?); if nothing needs it, `{run}tc qdisc del dev {dev} clsact`")
            }
            FindingKind::MapPressure { map_id, name, entries, max_entries, at_least } => {
                let pct = *entries as f64 * 100.0 / f64::from((*max_entries).max(1));
                let over = if *at_least { "at least " } else { "" };
                format!(
                    "map {map_id} {name}: {over}{pct:.0}% full ({over}{entries} of {max_entries}); inserts fail when it is full: raise max_entries or expire entries sooner"
                )
            }
            FindingKind::LruFull { map_id, name, entries, max_entries } => format!(
                "map {map_id} {name}: LRU full ({entries} of {max_entries}; what is left is held on the kernel's per-CPU free lists): inserts now evict live entries; raise max_entries"
            ),
        }
    }
}

/// How to run a command in that namespace.
fn ns_prefix(ns: &NetnsLabel) -> String {
    match ns {
        NetnsLabel::Current => String::new(),
        NetnsLabel::Named(n) => format!("ip netns exec {n} "),
        NetnsLabel::HeldBy { pid, .. } => format!("nsenter -t {pid} -n "),
    }
}

/// Every finding of the report: interfaces in report order, then maps by id.
pub fn findings(report: &NodeReport) -> Vec<Finding> {
    let mut out = Vec::new();
    for ns in &report.namespaces {
        for iface in &ns.interfaces {
            let here = |kind| Finding { netns: ns.label.clone(), interface: Some(iface.name.clone()), kind };
            out.extend(interface_findings(iface, report).into_iter().map(here));
        }
    }
    // A map used on several interfaces or namespaces is judged once; it is
    // labelled with the first namespace it was seen in.
    for map in report.maps.values() {
        if let Some(kind) = map_finding(map, report.possible_cpus) {
            let netns = first_namespace_using(report, map.id).unwrap_or(NetnsLabel::Current);
            out.push(Finding { netns, interface: None, kind });
        }
    }
    out
}

fn first_namespace_using(report: &NodeReport, map_id: u32) -> Option<NetnsLabel> {
    report.namespaces.iter().find_map(|ns| {
        let uses = ns.interfaces.iter().flat_map(|i| i.program_ids()).any(|p| report.programs.get(&p).is_some_and(|p| p.map_ids.contains(&map_id)));
        uses.then(|| ns.label.clone())
    })
}

fn interface_findings(iface: &InterfaceReport, report: &NodeReport) -> Vec<FindingKind> {
    let mut out = Vec::new();
    for hook in [Hook::Ingress, Hook::Egress] {
        let on_hook: Vec<&TcFilter> = iface.filters.iter().filter(|f| f.hook == hook && f.kind == "bpf").collect();
        out.extend(duplicates(hook, &on_hook, report));
        for f in on_hook {
            if let Some(owner) = f.flowtrace_owner.filter(|o| !o.alive) {
                out.push(FindingKind::DeadFlowtraceFilter { hook, pref: f.pref, handle: f.handle, pid: owner.pid });
            }
            if !f.direct_action {
                out.push(FindingKind::NotDirectAction { hook, pref: f.pref, handle: f.handle });
            }
        }
    }
    if iface.clsact && iface.filters.is_empty() {
        out.push(FindingKind::EmptyClsact);
    }
    out
}

/// Groups of filters sharing a program name, or a filter name, at more than
/// one priority. A group found both ways is reported once.
fn duplicates(hook: Hook, filters: &[&TcFilter], report: &NodeReport) -> Vec<FindingKind> {
    let program_name = |f: &TcFilter| f.prog_id.and_then(|id| report.programs.get(&id)).map(|p| format!("program {}", p.name));
    let filter_name = |f: &TcFilter| f.name.clone().filter(|n| !n.is_empty()).map(|n| format!("name {n}"));
    let mut seen: Vec<Vec<(u16, u32, u32)>> = Vec::new();
    let mut out = Vec::new();
    for key in [&program_name as &dyn Fn(&TcFilter) -> Option<String>, &filter_name] {
        let mut groups: BTreeMap<String, Vec<(u16, u32, u32)>> = BTreeMap::new();
        for f in filters {
            if let Some(k) = key(f) {
                groups.entry(k).or_default().push((f.pref, f.handle, f.prog_id.unwrap_or(0)));
            }
        }
        for (shared, mut group) in groups {
            group.sort();
            let first = group[0].0;
            if group.iter().all(|g| g.0 == first) || seen.contains(&group) {
                continue;
            }
            seen.push(group.clone());
            out.push(FindingKind::DuplicateFilters { hook, shared, filters: group });
        }
    }
    out
}

/// Headroom below `max_entries` within which an LRU map is evicting.
pub fn lru_headroom(max_entries: u32, possible_cpus: usize) -> u64 {
    let lists = (possible_cpus as u64 + 1) * LRU_LOCAL_FREE;
    // For small maps the free lists could hold most of the map; cap the
    // headroom at 5% so a half-empty LRU is never called full.
    lists.min(u64::from(max_entries) / 20)
}

fn map_finding(map: &Map, possible_cpus: usize) -> Option<FindingKind> {
    let (entries, at_least) = match map.entries {
        EntryCount::Exact(n) => (n, false),
        EntryCount::AtLeast { counted, .. } => (counted, true),
        EntryCount::NotApplicable | EntryCount::Failed(_) => return None,
    };
    let max = u64::from(map.max_entries);
    if map.kind().is_lru() && max > 0 && entries + lru_headroom(map.max_entries, possible_cpus) >= max {
        return Some(FindingKind::LruFull { map_id: map.id, name: map.name.clone(), entries, max_entries: map.max_entries });
    }
    let over = map.pressure().is_some_and(|p| p > PRESSURE_PERCENT);
    over.then(|| FindingKind::MapPressure { map_id: map.id, name: map.name.clone(), entries, max_entries: map.max_entries, at_least })
}

#[cfg(test)]
#[path = "findings_tests.rs"]
mod tests;
