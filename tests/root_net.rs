//! `flowtrace net` against a real picture built in two network namespaces
//! joined by a veth pair — the seed picture of issue 13: two cls_bpf
//! filters of the same program name at prefs 1 and 2 on one egress hook, an
//! XDP program, a TCX program, an LRU map filled past capacity and a hash
//! map at 90 %, plus the filter a SIGKILLed flowtrace left behind.
//! `flowtrace net --all-netns` must find each, report exactly the expected
//! findings and entry counts, and show the same program, filter and link
//! ids as `tc filter show`, `bpftool net list` and `bpftool link show`.
//!
//! Root only: runs when FLOWTRACE_ROOT_TESTS=1, else prints SKIPPED.

mod net_lab;
mod tc_netns;

use net_lab::*;
use std::io::{BufRead, BufReader};
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use flowtrace_testkit::gate::{require_tool, root_tests_enabled};
use tc_netns::Lab;

fn flowtrace_net(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flowtrace")).arg("net").args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The part of the JSON report about namespace `label`.
fn namespace_part<'a>(doc: &'a str, label: &str) -> &'a str {
    let key = format!("\"label\":\"{label}\"");
    let start = doc.find(&key).unwrap_or_else(|| panic!("no namespace {label} in {doc}"));
    let rest = &doc[start + key.len()..];
    let end = rest.find("\"label\":").or_else(|| rest.find("\"programs\":")).unwrap_or(rest.len());
    &doc[start..start + key.len() + end]
}

/// (rule, netns) of every finding in the JSON report.
fn findings(doc: &str) -> Vec<(String, String)> {
    doc.split("{\"rule\":\"")
        .skip(1)
        .map(|p| {
            let rule = p.split('"').next().unwrap().to_string();
            let ns = p.split("\"netns\":\"").nth(1).unwrap().split('"').next().unwrap().to_string();
            (rule, ns)
        })
        .collect()
}

/// (hook, prog id) of every clsact filter in a JSON part.
fn filter_progs(part: &str) -> Vec<(String, u32)> {
    let mut out: Vec<(String, u32)> = part
        .split("{\"hook\":\"")
        .skip(1)
        .filter(|p| p.starts_with("ingress\"") || p.starts_with("egress\""))
        .map(|p| {
            let id = p.split("\"prog_id\":").nth(1).unwrap().split(|c: char| !c.is_ascii_digit()).next().unwrap();
            (p.split('"').next().unwrap().to_string(), id.parse().unwrap())
        })
        .collect();
    out.sort();
    out
}

fn word_after<'a>(line: &'a str, word: &str) -> Option<&'a str> {
    line.split_whitespace().skip_while(|w| *w != word).nth(1)
}

/// Each filter of `tc filter show` as the JSON fragment flowtrace must print for it.
fn tc_filters_as_json(text: &str, hook: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("filter") && l.contains(" handle "))
        .map(|l| {
            let handle = u32::from_str_radix(word_after(l, "handle").unwrap().trim_start_matches("0x"), 16).unwrap();
            let name = word_after(l, &format!("0x{handle:x}")).unwrap();
            format!(
                "\"hook\":\"{hook}\",\"pref\":{},\"handle\":{handle},\"chain\":{},\"kind\":\"bpf\",\"name\":\"{name}\",\"direct_action\":{},\"prog_id\":{},\"tag\":\"{}\"",
                word_after(l, "pref").unwrap(),
                word_after(l, "chain").unwrap(),
                l.contains("direct-action"),
                word_after(l, "id").unwrap(),
                word_after(l, "tag").unwrap()
            )
        })
        .collect()
}

/// `bpftool net list` in `ns`: (device, attachment, prog id) per line.
fn bpftool_net(lab: &Lab, ns: &str) -> Vec<(String, String, u32)> {
    let out = lab.exec(ns, "bpftool").args(["net", "list"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter(|l| l.contains('(') && l.contains(" id "))
        .map(|l| {
            let dev = l.split('(').next().unwrap().to_string();
            let what = l.split_whitespace().nth(1).unwrap().to_string();
            (dev, what, word_after(l, "id").unwrap().parse().unwrap())
        })
        .collect()
}

/// A flowtrace on the clsact path in `ns`, attached and then SIGKILLed: its
/// filter stays. Returns its pid.
fn killed_flowtrace(lab: &Lab, ns: &str) -> u32 {
    let mut child = lab
        .exec(ns, env!("CARGO_BIN_EXE_flowtrace"))
        .args(["-e", "tc:veth-a:ingress { @packets = count(); }"])
        .env("FLOWTRACE_TC_MODE", "clsact")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("Attaching"), "flowtrace did not attach: {line:?}");
    child.kill().unwrap(); // SIGKILL: no chance to remove its filter
    child.wait().unwrap();
    // `ip netns exec` execs flowtrace itself, so the child's pid is flowtrace's.
    child.id()
}

#[test]
fn root_net_finds_the_seed_picture() {
    if !root_tests_enabled("root_net_finds_the_seed_picture") {
        return;
    }
    for tool in ["bpftool", "tc", "ip"] {
        require_tool(tool);
    }
    let lab = Lab::new("nt");
    let fs = Bpffs::mount("net");
    let (a, b) = (lab.a.clone(), lab.b.clone());

    // Namespace a, veth-a egress: the same program name at prefs 1 and 2
    // (an "upgrade" that forgot to remove the old filter).
    let old = program("nt_egress", PROG_SCHED_CLS, None, TC_NEXT);
    let new = program("nt_egress", PROG_SCHED_CLS, None, TC_NEXT);
    let (old_id, new_id) = (id(old.as_fd()), id(new.as_fd()));
    lab.tc(&a, &["qdisc", "add", "dev", "veth-a", "clsact"]);
    for (pref, fd, pin) in [("1", &old, "old"), ("2", &new, "new")] {
        let path = fs.pin(fd.as_fd(), pin);
        lab.tc(&a, &["filter", "add", "dev", "veth-a", "egress", "pref", pref, "handle", "1", "bpf", "da", "object-pinned", &path]);
    }
    let dead_pid = killed_flowtrace(&lab, &a);

    // Namespace b, veth-b: XDP holding an LRU map filled past capacity, TCX
    // holding a hash map at 90 %.
    let lru = map("nt_lru", MAP_LRU_HASH, 4096);
    fill(lru.as_fd(), 0, 8192);
    let hash = map("nt_hash", MAP_HASH, 1000);
    fill(hash.as_fd(), 0, 900);
    let xdp = program("nt_xdp", PROG_XDP, Some(lru.as_fd()), XDP_PASS);
    let xdp_path = fs.pin(xdp.as_fd(), "xdp");
    tc_netns::ip(&["-n", &b, "link", "set", "dev", "veth-b", "xdp", "pinned", &xdp_path]);
    let tcx = program("nt_tcx", PROG_SCHED_CLS, Some(hash.as_fd()), TC_NEXT);
    let _tcx_link = tcx_link(&b, "veth-b", tcx.as_fd(), TCX_INGRESS);
    let (xdp_id, tcx_id, lru_id, hash_id) = (id(xdp.as_fd()), id(tcx.as_fd()), id(lru.as_fd()), id(hash.as_fd()));

    let started = Instant::now();
    let (code, doc, err) = flowtrace_net(&["--all-netns", "-f", "json"]);
    let took = started.elapsed();
    assert_eq!(code, Some(2), "findings must exit 2; stderr {err}\n{doc}");
    assert!(took < Duration::from_secs(5), "flowtrace net took {took:?}");

    // Exactly the expected findings in our namespaces.
    let mut ours: Vec<(String, String)> = findings(&doc).into_iter().filter(|f| f.1 == a || f.1 == b).collect();
    ours.sort();
    let mut expect: Vec<(String, String)> =
        [("duplicate-filters", &a), ("stale-flowtrace-filter", &a), ("lru-full", &b), ("map-pressure", &b)].iter().map(|(r, n)| (r.to_string(), n.to_string())).collect();
    expect.sort();
    assert_eq!(ours, expect, "{doc}");
    assert!(doc.contains(&format!("filter left by flowtrace pid {dead_pid}, which is no longer running")), "{doc}");
    assert!(doc.contains(&format!("(programs {old_id}, {new_id})")), "{doc}");

    // Filters: exactly what tc(8) dumps, field by field.
    let part_a = namespace_part(&doc, &a);
    for hook in ["ingress", "egress"] {
        let shown = lab.filters(&a, "veth-a", hook);
        let fragments = tc_filters_as_json(&shown, hook);
        assert_eq!(fragments.len(), if hook == "egress" { 2 } else { 1 }, "{shown}");
        for f in fragments {
            assert!(part_a.contains(&f), "tc shows {f}\nflowtrace: {part_a}");
        }
    }
    assert!(part_a.contains(&format!("\"flowtrace_owner\":{{\"pid\":{dead_pid},\"alive\":false}}")), "{part_a}");

    // Program ids: the same as bpftool net list, per namespace.
    let mut from_bpftool: Vec<(String, u32)> =
        bpftool_net(&lab, &a).into_iter().filter_map(|(_, what, id)| Some((what.strip_prefix("clsact/")?.to_string(), id))).collect();
    from_bpftool.sort();
    assert_eq!(filter_progs(part_a), from_bpftool);
    assert!(from_bpftool.contains(&("egress".to_string(), old_id)) && from_bpftool.contains(&("egress".to_string(), new_id)));
    let part_b = namespace_part(&doc, &b);
    let xdp_b = bpftool_net(&lab, &b);
    assert_eq!(xdp_b.len(), 1, "{xdp_b:?}");
    let (_, mode, bpftool_xdp) = &xdp_b[0];
    assert_eq!(*bpftool_xdp, xdp_id);
    assert!(part_b.contains(&format!("\"xdp\":[{{\"mode\":\"{mode}\",\"prog_id\":{xdp_id}}}]")), "{part_b}");

    // TCX: the link bpftool lists for our program, first in the chain.
    let links = Command::new("bpftool").args(["link", "show"]).output().unwrap();
    let links = String::from_utf8_lossy(&links.stdout);
    let link_id: u32 = links
        .lines()
        .find(|l| word_after(l, "prog") == Some(&tcx_id.to_string()))
        .and_then(|l| l.split(':').next()?.trim().parse().ok())
        .unwrap_or_else(|| panic!("bpftool link show has no link for prog {tcx_id}:\n{links}"));
    assert!(part_b.contains(&format!("{{\"hook\":\"tcx ingress\",\"position\":1,\"prog_id\":{tcx_id},\"link_id\":{link_id}}}")), "{part_b}");

    // Entry counts: the hash map exactly; the LRU map as bpftool counts it.
    assert!(doc.contains(&format!("{{\"id\":{hash_id},\"type\":\"hash\",\"name\":\"nt_hash\",\"key_size\":4,\"value_size\":8,\"max_entries\":1000,\"entries\":900,\"complete\":true")), "{doc}");
    let dump = Command::new("bpftool").args(["map", "dump", "id", &lru_id.to_string()]).output().unwrap();
    let dump = String::from_utf8_lossy(&dump.stdout);
    let lru_entries: u64 = dump.lines().filter_map(|l| l.strip_prefix("Found ")?.split_whitespace().next()?.parse().ok()).next().unwrap();
    assert!(lru_entries > 3000, "LRU holds only {lru_entries}");
    assert!(doc.contains(&format!("\"name\":\"nt_lru\",\"key_size\":4,\"value_size\":8,\"max_entries\":4096,\"entries\":{lru_entries},\"complete\":true")), "{doc}");

    // The hint works: --cleanup-stale in that namespace removes the dead
    // run's filter, and the finding goes with it.
    let cleaned = lab.exec(&a, env!("CARGO_BIN_EXE_flowtrace")).arg("--cleanup-stale").output().unwrap();
    assert!(cleaned.status.success(), "{}", String::from_utf8_lossy(&cleaned.stderr));
    let (code, doc, _) = flowtrace_net(&["--all-netns", "-f", "json"]);
    assert_eq!(code, Some(2));
    assert!(!findings(&doc).contains(&("stale-flowtrace-filter".to_string(), a.clone())), "{doc}");

    // Text: the same findings, one line each.
    let (code, text, _) = flowtrace_net(&["--all-netns"]);
    assert_eq!(code, Some(2));
    assert!(text.lines().any(|l| l.starts_with(&format!("  [{a}] veth-a egress: 2 filters of program nt_egress at prefs 1, 2"))), "{text}");
}

#[test]
fn root_net_without_findings_exits_0_and_filters_by_glob() {
    if !root_tests_enabled("root_net_without_findings_exits_0_and_filters_by_glob") {
        return;
    }
    let lab = Lab::new("nq");
    // A glob naming our quiet veth end: shown though nothing is attached.
    let out = lab.exec(&lab.a, env!("CARGO_BIN_EXE_flowtrace")).args(["net", "veth-*"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("netns {} (inode ", lab.a)), "{text}");
    assert!(text.contains("  veth-a (ifindex ") && text.contains("no findings"), "{text}");
    let out = lab.exec(&lab.a, env!("CARGO_BIN_EXE_flowtrace")).args(["net", "eth9"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no network interface matches 'eth9'"));
}
