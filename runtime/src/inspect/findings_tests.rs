use super::*;
use crate::inspect::model::*;

fn prog(id: u32, name: &str, maps: &[u32]) -> Program {
    Program { id, name: name.into(), prog_type: 3, map_ids: maps.to_vec(), ..Default::default() }
}

fn bpf_filter(hook: Hook, pref: u16, handle: u32, prog_id: u32, name: &str) -> TcFilter {
    TcFilter {
        hook,
        pref,
        handle,
        chain: 0,
        kind: "bpf".into(),
        name: Some(name.into()),
        direct_action: true,
        prog_id: Some(prog_id),
        tag: None,
        flowtrace_owner: None,
    }
}

fn map(id: u32, map_type: u32, max: u32, entries: EntryCount) -> Map {
    Map { id, map_type, name: format!("m{id}"), key_size: 4, value_size: 8, max_entries: max, entries }
}

/// One namespace "lab" with one interface holding `filters`, using `programs`.
fn report(filters: Vec<TcFilter>, programs: Vec<Program>, maps: Vec<Map>) -> NodeReport {
    let iface = InterfaceReport { index: 3, name: "veth-a".into(), clsact: true, filters, ..Default::default() };
    NodeReport {
        namespaces: vec![NetnsReport { label: NetnsLabel::Named("lab".into()), inode: 1, interfaces: vec![iface], quiet_interfaces: 0 }],
        programs: programs.into_iter().map(|p| (p.id, p)).collect(),
        maps: maps.into_iter().map(|m| (m.id, m)).collect(),
        errors: vec![],
        possible_cpus: 2,
    }
}

fn rules(r: &NodeReport) -> Vec<&'static str> {
    findings(r).iter().map(Finding::rule).collect()
}

#[test]
fn same_program_name_at_two_priorities_is_the_stale_filter_pattern() {
    let r = report(
        vec![bpf_filter(Hook::Egress, 1, 1, 52, "cni.o:[egress]"), bpf_filter(Hook::Egress, 2, 1, 60, "cni-v2.o:[egress]")],
        vec![prog(52, "cni_egress", &[]), prog(60, "cni_egress", &[])],
        vec![],
    );
    let f = findings(&r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::DuplicateFilters { hook: Hook::Egress, shared: "program cni_egress".into(), filters: vec![(1, 1, 52), (2, 1, 60)] });
    let line = f[0].message();
    assert!(line.starts_with("veth-a egress: 2 filters of program cni_egress at prefs 1, 2 (programs 52, 60)"), "{line}");
    assert!(line.ends_with("`ip netns exec lab tc filter del dev veth-a egress pref 1 handle 0x1 bpf`"), "{line}");
}

#[test]
fn same_filter_name_counts_too_but_once() {
    // Different program names, same loader-given filter name.
    let r = report(
        vec![bpf_filter(Hook::Ingress, 1, 1, 5, "lxc.o:[from]"), bpf_filter(Hook::Ingress, 9, 1, 6, "lxc.o:[from]")],
        vec![prog(5, "from_a", &[]), prog(6, "from_b", &[])],
        vec![],
    );
    assert_eq!(rules(&r), ["duplicate-filters"]);
    // Same program and same filter name: still one finding.
    let r = report(
        vec![bpf_filter(Hook::Ingress, 1, 1, 5, "x"), bpf_filter(Hook::Ingress, 2, 1, 6, "x")],
        vec![prog(5, "same", &[]), prog(6, "same", &[])],
        vec![],
    );
    assert_eq!(rules(&r), ["duplicate-filters"]);
}

#[test]
fn one_priority_or_other_hooks_are_not_duplicates() {
    let r = report(
        vec![
            bpf_filter(Hook::Egress, 1, 1, 5, "a"),
            bpf_filter(Hook::Egress, 1, 2, 6, "a"),
            bpf_filter(Hook::Ingress, 2, 1, 7, "a"),
        ],
        vec![prog(5, "p", &[]), prog(6, "p", &[]), prog(7, "p", &[])],
        vec![],
    );
    assert_eq!(rules(&r), Vec::<&str>::new());
}

#[test]
fn a_dead_flowtraces_filter_names_the_pid() {
    let mut dead = bpf_filter(Hook::Ingress, 1, 0xf712_3401, 8, "flowtrace/4242/ft_tc_x");
    dead.flowtrace_owner = Some(FlowtraceOwner { pid: 4242, alive: false });
    let mut live = bpf_filter(Hook::Egress, 1, 0xf712_3501, 9, "flowtrace/77/ft_tc_y");
    live.flowtrace_owner = Some(FlowtraceOwner { pid: 77, alive: true });
    let r = report(vec![dead, live], vec![prog(8, "ft_tc_x", &[]), prog(9, "ft_tc_y", &[])], vec![]);
    let f = findings(&r);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].kind, FindingKind::DeadFlowtraceFilter { hook: Hook::Ingress, pref: 1, handle: 0xf712_3401, pid: 4242 });
    let line = f[0].message();
    assert!(line.contains("flowtrace pid 4242, which is no longer running"), "{line}");
    assert!(line.contains("`ip netns exec lab flowtrace --cleanup-stale`"), "{line}");
}

#[test]
fn not_direct_action_and_empty_clsact() {
    let mut f = bpf_filter(Hook::Ingress, 3, 1, 5, "legacy");
    f.direct_action = false;
    let r = report(vec![f], vec![prog(5, "legacy", &[])], vec![]);
    assert_eq!(rules(&r), ["not-direct-action"]);
    let r = report(vec![], vec![], vec![]);
    assert_eq!(rules(&r), ["empty-clsact"]);
    assert_eq!(findings(&r)[0].message(), "veth-a: clsact qdisc holds no filter (left by a removed program?); if nothing needs it, `ip netns exec lab tc qdisc del dev veth-a clsact`");
    // A non-bpf classifier is neither judged for `da` nor empty.
    let mut u32f = bpf_filter(Hook::Ingress, 3, 1, 0, "");
    u32f.kind = "u32".into();
    u32f.direct_action = false;
    u32f.prog_id = None;
    assert_eq!(rules(&report(vec![u32f], vec![], vec![])), Vec::<&str>::new());
}

#[test]
fn map_pressure_over_80_percent() {
    let uses = vec![bpf_filter(Hook::Egress, 1, 1, 5, "p")];
    let progs = vec![prog(5, "p", &[10, 11, 12, 13, 14])];
    let maps = vec![
        map(10, 1, 1000, EntryCount::Exact(900)),
        map(11, 1, 1000, EntryCount::Exact(800)), // exactly 80 %: not over
        map(12, 2, 1000, EntryCount::NotApplicable),
        map(13, 1, 1_000_000, EntryCount::AtLeast { counted: 850_000, limit: CountLimit::Time { budget_ms: 200 } }),
        map(14, 1, 1000, EntryCount::Failed("EPERM".into())),
    ];
    let f = findings(&report(uses, progs, maps));
    let got: Vec<(&str, Option<&str>)> = f.iter().map(|f| (f.rule(), f.interface.as_deref())).collect();
    assert_eq!(got, [("map-pressure", None), ("map-pressure", None)]);
    assert_eq!(f[0].message(), "map 10 m10: 90% full (900 of 1000); inserts fail when it is full: raise max_entries or expire entries sooner");
    assert!(f[1].message().starts_with("map 13 m13: at least 85% full (at least 850000 of 1000000)"), "{}", f[1].message());
    assert_eq!(f[0].netns, NetnsLabel::Named("lab".into()));
}

#[test]
fn lru_at_capacity_is_evicting() {
    let uses = vec![bpf_filter(Hook::Egress, 1, 1, 5, "p")];
    let progs = vec![prog(5, "p", &[20, 21, 22, 23])];
    // 2 CPUs: headroom min(3 * 128, max / 20).
    assert_eq!(lru_headroom(4096, 2), 204);
    assert_eq!(lru_headroom(100_000, 2), 384);
    let maps = vec![
        map(20, 9, 4096, EntryCount::Exact(4096 - 204)), // within the free lists: full
        map(21, 9, 4096, EntryCount::Exact(4096 - 205)), // 95 %: only pressure
        map(22, 10, 100, EntryCount::Exact(100)),
        map(23, 9, 4096, EntryCount::Exact(10)),
    ];
    let f = findings(&report(uses, progs, maps));
    assert_eq!(f.iter().map(Finding::rule).collect::<Vec<_>>(), ["lru-full", "map-pressure", "lru-full"]);
    assert_eq!(f[0].kind, FindingKind::LruFull { map_id: 20, name: "m20".into(), entries: 3892, max_entries: 4096 });
    assert!(f[0].message().contains("LRU full (3892 of 4096;"), "{}", f[0].message());
}
