//! `flowtrace net` at node scale: 500 veth interfaces in 10 network
//! namespaces, 200 programs on them (100 cls_bpf filters, 100 TCX links),
//! each with a small hash map, and one program holding a hash map of 2^20
//! slots filled with 1M entries. Measures `flowtrace net --all-netns` wall
//! time (median of RUNS) and shows how the 1M-entry map is counted: within
//! the default budget, with a tiny one (stopped early, and saying so), and
//! with a budget large enough to count it all. Prints figures; never fails
//! on a figure. Everything it creates goes away at the end (drop guards).
//!
//! Usage: net_bench FLOWTRACE [RUNS]   (root)
//!        net_bench FLOWTRACE --demo   (the picture of docs/net.md, then
//!                                      `flowtrace net --all-netns` on it)

#[path = "../../tests/net_lab/mod.rs"]
mod net_lab;

use net_lab::*;
use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;
use std::time::{Duration, Instant};

const NAMESPACES: usize = 10;
const PAIRS_PER_NS: usize = 25; // two interfaces each: 500 in all
const FILTERS: usize = 100;
const TCX_LINKS: usize = 100;
const BIG_ENTRIES: u32 = 1_000_000;

struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command runs");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn batch(ns: &str, tool: &str, lines: &[String]) {
    let path = format!("/tmp/ft_net_bench_{}_{tool}.batch", std::process::id());
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    run(Command::new("ip").args(["netns", "exec", ns, tool, "-batch", &path]));
    let _ = std::fs::remove_file(&path);
}

/// The namespaces with their veth pairs `vaJ`/`vbJ`, all up.
fn build_namespaces() -> Namespaces {
    let names: Vec<String> = (0..NAMESPACES).map(|i| format!("ftbench{i}_{}", std::process::id())).collect();
    let guard = Namespaces(names.clone());
    for ns in &names {
        run(Command::new("ip").args(["netns", "add", ns]));
        let mut lines = Vec::new();
        for j in 0..PAIRS_PER_NS {
            lines.push(format!("link add va{j} type veth peer name vb{j}"));
            lines.push(format!("link set va{j} up"));
            lines.push(format!("link set vb{j} up"));
        }
        batch(ns, "ip", &lines);
    }
    guard
}

/// (namespace, device) of the i-th of 500 interfaces.
fn device(names: &[String], i: usize) -> (String, String) {
    let ns = &names[i % NAMESPACES];
    let j = i / NAMESPACES;
    let dev = if j < PAIRS_PER_NS { format!("va{j}") } else { format!("vb{}", j - PAIRS_PER_NS) };
    (ns.clone(), dev)
}

struct Objects {
    _maps: Vec<OwnedFd>,
    _progs: Vec<OwnedFd>,
    _links: Vec<OwnedFd>,
    _fs: Bpffs,
}

fn attach_programs(names: &[String]) -> Objects {
    let fs = Bpffs::mount("net_bench");
    let (mut maps, mut progs, mut links) = (Vec::new(), Vec::new(), Vec::new());
    let mut filters: Vec<Vec<String>> = vec![Vec::new(); NAMESPACES];
    for i in 0..FILTERS + TCX_LINKS {
        let m = map(&format!("nb_m{i}"), MAP_HASH, 1024);
        fill(m.as_fd(), 0, (i % 10) as u32 * 100);
        let p = program(&format!("nb_p{i}"), PROG_SCHED_CLS, Some(m.as_fd()), TC_NEXT);
        let (ns, dev) = device(names, i);
        if i < FILTERS {
            let path = fs.pin(p.as_fd(), &format!("p{i}"));
            let lines = &mut filters[i % NAMESPACES];
            lines.push(format!("qdisc add dev {dev} clsact"));
            lines.push(format!("filter add dev {dev} egress pref 1 handle 1 bpf da object-pinned {path}"));
        } else {
            links.push(tcx_link(&ns, &dev, p.as_fd(), TCX_INGRESS));
        }
        maps.push(m);
        progs.push(p);
    }
    for (ns, lines) in names.iter().zip(&filters) {
        batch(ns, "tc", lines);
    }
    // The big map, on the last TCX program's interface as a second TCX program.
    let big = map("nb_big", MAP_HASH, 1 << 20);
    let filled = Instant::now();
    fill(big.as_fd(), 0, BIG_ENTRIES);
    println!("filled nb_big with {BIG_ENTRIES} entries in {:.1} s", filled.elapsed().as_secs_f64());
    let p = program("nb_big_user", PROG_SCHED_CLS, Some(big.as_fd()), TC_NEXT);
    let (ns, dev) = device(names, FILTERS + TCX_LINKS - 1);
    links.push(tcx_link(&ns, &dev, p.as_fd(), TCX_INGRESS));
    maps.push(big);
    progs.push(p);
    Objects { _maps: maps, _progs: progs, _links: links, _fs: fs }
}

fn timed(flowtrace: &str, args: &[&str]) -> (Duration, String) {
    let start = Instant::now();
    let out = Command::new(flowtrace).arg("net").args(args).output().expect("flowtrace runs");
    let took = start.elapsed();
    let code = out.status.code();
    assert!(matches!(code, Some(0) | Some(2)), "flowtrace net failed ({code:?}): {}", String::from_utf8_lossy(&out.stderr));
    (took, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn big_map_line(text: &str) -> String {
    text.lines().find(|l| l.contains(" nb_big ")).unwrap_or("(nb_big not listed)").trim().to_string()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flowtrace = args.get(1).expect("usage: net_bench FLOWTRACE [RUNS]").clone();
    if args.get(2).map(String::as_str) == Some("--demo") {
        return demo(&flowtrace);
    }
    let runs: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(9);
    let built = Instant::now();
    let names = build_namespaces();
    let _objects = attach_programs(&names.0);
    println!("built {} interfaces in {NAMESPACES} namespaces, {} programs, in {:.1} s", NAMESPACES * PAIRS_PER_NS * 2, FILTERS + TCX_LINKS + 1, built.elapsed().as_secs_f64());

    let (_, json) = timed(&flowtrace, &["--all-netns", "-f", "json"]);
    let ours: usize = json.matches("\"name\":\"ftbench").count();
    println!("flowtrace net sees {ours} bench namespaces, {} programs, {} maps in all", json.matches("{\"id\":").count() - json.matches("\"key_size\"").count(), json.matches("\"key_size\"").count());

    let mut times: Vec<Duration> = (0..runs).map(|_| timed(&flowtrace, &["--all-netns"]).0).collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "flowtrace net --all-netns: median {:.0} ms, min {:.0} ms, max {:.0} ms over {runs} runs (goal < 1000 ms)",
        ms(times[runs / 2]),
        ms(times[0]),
        ms(times[runs - 1])
    );
    for (what, count_ms) in [("default budget (100 ms per map)", "100"), ("tiny budget", "5"), ("budget to count it all", "10000")] {
        let (took, text) = timed(&flowtrace, &["--all-netns", "--count-ms", count_ms]);
        println!("1M-entry map, {what}: whole run {:.0} ms; {}", ms(took), big_map_line(&text));
    }
}

/// The seed picture of issue 13 in namespaces `pod-a`/`pod-b`: two filters
/// of one program name at prefs 1 and 2, a SIGKILLed flowtrace's filter,
/// XDP with an LRU map past capacity, TCX with a hash map at 90 %.
fn demo(flowtrace: &str) {
    let names = Namespaces(vec!["pod-a".into(), "pod-b".into()]);
    for ns in &names.0 {
        run(Command::new("ip").args(["netns", "add", ns]));
    }
    run(Command::new("ip").args(["link", "add", "veth-a", "netns", "pod-a", "type", "veth", "peer", "name", "veth-b", "netns", "pod-b"]));
    run(Command::new("ip").args(["-n", "pod-a", "link", "set", "veth-a", "up"]));
    run(Command::new("ip").args(["-n", "pod-b", "link", "set", "veth-b", "up"]));
    let fs = Bpffs::mount("net_demo");
    let tc = |args: &[&str]| run(Command::new("ip").args(["netns", "exec", "pod-a", "tc"]).args(args));
    tc(&["qdisc", "add", "dev", "veth-a", "clsact"]);
    let old = program("cni_egress", PROG_SCHED_CLS, None, TC_NEXT);
    let new = program("cni_egress", PROG_SCHED_CLS, None, TC_NEXT);
    for (pref, fd, pin) in [("1", &old, "cni_v1"), ("2", &new, "cni_v2")] {
        let path = fs.pin(fd.as_fd(), pin);
        tc(&["filter", "add", "dev", "veth-a", "egress", "pref", pref, "handle", "1", "bpf", "da", "object-pinned", &path]);
    }
    let mut child = Command::new("ip")
        .args(["netns", "exec", "pod-a", flowtrace, "-e", "tc:veth-a:ingress { @packets = count(); }"])
        .env("FLOWTRACE_TC_MODE", "clsact")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let lru = map("flows_lru", MAP_LRU_HASH, 4096);
    fill(lru.as_fd(), 0, 8192);
    let hash = map("conntrack", MAP_HASH, 1000);
    fill(hash.as_fd(), 0, 900);
    let xdp = program("xdp_guard", PROG_XDP, Some(lru.as_fd()), XDP_PASS);
    let path = fs.pin(xdp.as_fd(), "xdp_guard");
    run(Command::new("ip").args(["-n", "pod-b", "link", "set", "dev", "veth-b", "xdp", "pinned", &path]));
    let tcx = program("tcx_policy", PROG_SCHED_CLS, Some(hash.as_fd()), TC_NEXT);
    let _link = tcx_link("pod-b", "veth-b", tcx.as_fd(), TCX_INGRESS);
    for args in [&["--all-netns"][..], &["veth-*"][..], &["--all-netns", "-f", "json", "veth-b"][..]] {
        let out = Command::new(flowtrace).arg("net").args(args).output().unwrap();
        println!("# flowtrace net {}\n{}{}# exit status {}\n", args.join(" "), String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr), out.status.code().unwrap_or(-1));
    }
    // Leave no ft_ program behind: the killed run's filter goes with its namespace,
    // but remove it the documented way first.
    let _ = Command::new("ip").args(["netns", "exec", "pod-a", flowtrace, "--cleanup-stale"]).status();
}
