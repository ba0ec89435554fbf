use super::*;
use flowtrace_runtime::inspect::{findings, FlowtraceOwner, NetnsLabel, NetnsReport, TcFilter, XdpMode, XdpProgram};
use flowtrace_runtime::tc::Hook;

fn sample() -> NodeReport {
    let filter = TcFilter {
        hook: Hook::Ingress,
        pref: 1,
        handle: 0xf712_3401,
        chain: 0,
        kind: "bpf".into(),
        name: Some("flowtrace/4242/ft_tc_x".into()),
        direct_action: true,
        prog_id: Some(8),
        tag: Some([0xab; 8]),
        flowtrace_owner: Some(FlowtraceOwner { pid: 4242, alive: false }),
    };
    let iface = InterfaceReport {
        index: 3,
        name: "veth-a".into(),
        kind: Some("veth".into()),
        xdp: vec![XdpProgram { mode: XdpMode::Generic, prog_id: 9 }],
        clsact: true,
        filters: vec![filter],
        chains: vec![],
    };
    let prog = |id, name: &str, maps: Vec<u32>| Program { id, prog_type: 3, name: name.into(), loaded_at: Some(1_000_000), map_ids: maps, ..Default::default() };
    let map = Map { id: 4, map_type: 1, name: "big".into(), key_size: 4, value_size: 8, max_entries: 1_000_000, entries: EntryCount::AtLeast { counted: 500_000, limit: CountLimit::Time { budget_ms: 100 } } };
    NodeReport {
        namespaces: vec![
            NetnsReport { label: NetnsLabel::Current, inode: 7, interfaces: vec![], quiet_interfaces: 2 },
            NetnsReport { label: NetnsLabel::Named("lab".into()), inode: 8, interfaces: vec![iface], quiet_interfaces: 1 },
        ],
        programs: [(8, prog(8, "ft_tc_x", vec![4])), (9, prog(9, "xdp_fw", vec![]))].into_iter().collect(),
        maps: [(4, map)].into_iter().collect(),
        errors: vec![],
        possible_cpus: 2,
    }
}

#[test]
fn text_shows_hooks_objects_and_findings() {
    let r = sample();
    let text = render(&r, &findings(&r), 1_000_090);
    let expect = [
        "netns current (inode 7): nothing attached to its 2 interface(s)",
        "netns lab (inode 8)",
        "  veth-a (ifindex 3, veth)",
        "    xdp generic                 prog 9 xdp_fw",
        "    tc ingress pref 1 handle 0xf7123401 bpf da prog 8 ft_tc_x tag abababababababab name flowtrace/4242/ft_tc_x",
        "  (1 more interface(s) with nothing attached)",
        "programs:",
        "  id  type       name     tag               loaded                            uid  xlated  jited  maps",
        "  8   sched_cls  ft_tc_x  0000000000000000  1970-01-12 13:46:40Z (1m30s ago)  0    0 B     0 B    4",
        "maps:",
        "  id  type  name  key  value  max_entries  entries                           full",
        "  4   hash  big   4    8      1000000      >= 500000 (stopped after 100 ms)  >= 50.0%",
        "findings (1):",
        "  [lab] veth-a ingress pref 1 handle 0xf7123401: filter left by flowtrace pid 4242, which is no longer running; remove it with `ip netns exec lab flowtrace --cleanup-stale`",
    ];
    for line in expect {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn json_is_one_document_with_the_same_facts() {
    let r = sample();
    let doc = super::super::json::render(&r, &findings(&r));
    assert_eq!(doc.lines().count(), 1);
    for part in [
        r#""label":"lab","inode":8,"name":"lab","held_by":null"#,
        r#""flowtrace_owner":{"pid":4242,"alive":false}"#,
        r#""xdp":[{"mode":"generic","prog_id":9}]"#,
        r#""entries":500000,"complete":false,"stopped_early":{"budget":"map","ms":100}"#,
        r#""rule":"stale-flowtrace-filter","netns":"lab","interface":"veth-a""#,
    ] {
        assert!(doc.contains(part), "missing {part} in {doc}");
    }
}

#[test]
fn dates_and_ages() {
    assert_eq!(utc(0), "1970-01-01 00:00:00Z");
    assert_eq!(utc(1_767_225_600 + 86_399), "2026-01-01 23:59:59Z");
    assert_eq!(utc(951_782_400), "2000-02-29 00:00:00Z");
    assert_eq!(age(59), "59s");
    assert_eq!(age(3 * 3600 + 125), "3h02m");
    assert_eq!(age(2 * 86_400 + 7200), "2d02h");
}
