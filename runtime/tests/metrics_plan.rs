//! What each map becomes on `/metrics` (runtime::metrics::plan): label names
//! from key expressions, counter or gauge from the whole program, the
//! `// metric` rename line. Checked against the host's BTF; no probes load.

use flowtrace_runtime::metrics::plan::{plan, MapPlan, MetricKind};
use flowtrace_testkit::program::typed;

fn plans(text: &str) -> (Vec<MapPlan>, Vec<String>) {
    plan(&typed(text), text)
}

fn find<'a>(plans: &'a [MapPlan], map: &str) -> &'a MapPlan {
    plans.iter().find(|p| p.map == map).unwrap_or_else(|| panic!("no plan for {map}: {plans:?}"))
}

#[test]
fn tc_packet_builtins_name_their_labels_and_counts_are_counters() {
    let (p, warnings) = plans("tc:lo:egress { @f[saddr, daddr, sport, dport, proto, ifname] = count(); @b[saddr] = sum(len); }");
    assert!(warnings.is_empty(), "{warnings:?}");
    let f = find(&p, "@f");
    assert_eq!((f.family.as_str(), f.kind), ("flowtrace_f", MetricKind::Counter));
    assert_eq!(f.labels, ["saddr", "daddr", "sport", "dport", "proto", "ifname"]);
    assert_eq!(find(&p, "@b").kind, MetricKind::Counter);
}

#[test]
fn a_map_that_can_go_down_is_a_gauge() {
    let text = "interval:s:1 { @c[pid] = count(); @s = sum(5); @k[pid] = count(); @m = max(3); }
                interval:s:5 { clear(@c); zero(@s); delete(@k[1]); }";
    let (p, _) = plans(text);
    for map in ["@c", "@s", "@k", "@m"] {
        assert_eq!(find(&p, map).kind, MetricKind::Gauge, "{map}");
    }
}

#[test]
fn variables_fields_and_ntop_give_names_else_positions() {
    let text = "interval:s:1 {
        $daddr = 1;
        $sk = (struct sock *)0;
        @v[$daddr, pid / 2] = max(3);
        @p[$sk->__sk_common.skc_dport, ntop($sk->__sk_common.skc_daddr)] = count();
        @c[pid, pid] = count();
        @one[pid * 2] = count();
        @ = count();
        @h = hist(5);
        @st = stats(1);
    }";
    let (p, _) = plans(text);
    assert_eq!(find(&p, "@v").labels, ["daddr", "key2"]);
    assert_eq!(find(&p, "@p").labels, ["skc_dport", "skc_daddr"]);
    assert_eq!(find(&p, "@c").labels, ["key1", "key2"], "a clash falls back to positions");
    assert_eq!(find(&p, "@one").labels, ["key"]);
    let anon = find(&p, "@");
    assert_eq!((anon.family.as_str(), anon.labels.len()), ("flowtrace_anon", 0));
    assert_eq!(find(&p, "@h").kind, MetricKind::Histogram);
    assert_eq!(find(&p, "@st").kind, MetricKind::Stats);
}

#[test]
fn uses_that_disagree_on_a_name_fall_back_to_positions() {
    let text = "interval:s:1 { $a = 1; $b = 2; @m[$a] = count(); }
                interval:s:2 { $a = 1; $b = 2; @m[$b] = count(); }";
    assert_eq!(find(&plans(text).0, "@m").labels, ["key"]);
}

#[test]
fn a_metric_line_renames_relabels_and_documents() {
    let text = "// metric @f name=udp_flows labels=src,dst help=\"UDP flows by address\"
// metric @g type=gauge
// metric @nope name=x
// metric @f2 labels=a
tc:lo:egress { @f[saddr, daddr] = count(); @g = count(); @f2[saddr, daddr] = count(); }";
    let (p, warnings) = plans(text);
    let f = find(&p, "@f");
    assert_eq!((f.family.as_str(), f.help.as_str()), ("flowtrace_udp_flows", "UDP flows by address"));
    assert_eq!(f.labels, ["src", "dst"]);
    assert_eq!(find(&p, "@g").kind, MetricKind::Gauge);
    assert_eq!(find(&p, "@f2").labels, ["saddr", "daddr"], "a wrong label count is ignored");
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("@nope: no such map")), "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("1 labels given, the map has 2 keys")), "{warnings:?}");
}

#[test]
fn pod_builtins_name_their_labels() {
    let text = "tracepoint:sock:inet_sock_set_state { @c[pod(cgroup), container(cgroup), cgroup_path(cgroup)] = count(); }";
    let (p, _) = plans(text);
    assert_eq!(find(&p, "@c").labels, ["pod", "container", "cgroup_path"]);
}
