//! tc probes end to end: the `flowtrace` binary attached to a veth pair
//! between two network namespaces, with exact packet and byte counts per
//! flow, observer-only behaviour next to drop and pass filters, and cleanup
//! after exit, SIGINT, SIGTERM and SIGKILL — all checked through the kernel
//! (tc filter dumps over netlink, `bpftool prog/link show`), not through
//! flowtrace's own bookkeeping. Both attach paths run: TCX (this kernel's
//! default) and clsact + cls_bpf (`FLOWTRACE_TC_MODE=clsact`).
//!
//! Root only: they run when FLOWTRACE_ROOT_TESTS=1, else print SKIPPED.

mod tc_netns;

use std::io::{BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use flowtrace_testkit::process::attached;
use flowtrace_testkit::root_tests_enabled;
use tc_netns::classifier::{Pinned, TC_ACT_OK, TC_ACT_SHOT};
use tc_netns::ip;
use tc_netns::{in_netns, sa, send_udp, serve, udp_bound, Lab, A4, A6, B4, B6};

/// flowtrace inside namespace `ns`, attached (its "Attaching" line read).
struct Tracer {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
    head: String,
}

fn flowtrace(lab: &Lab, ns: &str, mode: &str, args: &[&str]) -> Command {
    let mut c = lab.exec(ns, env!("CARGO_BIN_EXE_flowtrace"));
    c.args(args).env("FLOWTRACE_TC_MODE", mode).stdout(Stdio::piped()).stderr(Stdio::piped());
    c
}

impl Tracer {
    fn start(lab: &Lab, mode: &str, args: &[&str]) -> Tracer {
        let mut child = flowtrace(lab, &lab.a, mode, args).spawn().unwrap();
        let (stdout, head) = attached(&mut child, mode);
        Tracer { child, stdout, head }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Sends `sig`, waits for the exit; stdout and stderr.
    fn signal(mut self, sig: libc::c_int) -> (String, String) {
        let head = std::mem::take(&mut self.head);
        // SAFETY: kill(2) on our own unreaped child.
        unsafe { libc::kill(self.pid(), sig) };
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < Duration::from_secs(20), "flowtrace did not exit after signal {sig}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut rest = String::new();
        let mut err = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (head + &rest, err)
    }

    fn stop(self) -> String {
        self.signal(libc::SIGINT).0
    }
}

impl Drop for Tracer {
    /// A failed assertion must not leave flowtrace running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn map_lines(out: &str, map: &str) -> Vec<String> {
    let mut lines: Vec<String> = out.lines().filter(|l| l.starts_with(map)).map(str::to_string).collect();
    lines.sort();
    lines
}

/// Nothing of flowtrace's tc attachments is left, per the kernel: no `ft_tc`
/// program loaded (programs die with their last filter or link), no TCX link,
/// no filter on either hook of the veth, and no clsact qdisc unless the test
/// created one (`foreign_qdisc`).
fn assert_nothing_left(lab: &Lab, foreign_qdisc: bool) {
    let start = Instant::now();
    loop {
        let progs: Vec<String> = tc_netns::loaded_program_names().into_iter().filter(|n| n.starts_with("ft_tc")).collect();
        // The kernel frees programs after an RCU grace period.
        if progs.is_empty() || start.elapsed() > Duration::from_secs(3) {
            assert!(progs.is_empty(), "programs still loaded: {progs:?}");
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!tc_netns::flowtrace_tcx_attached(), "a TCX link is left");
    for hook in ["ingress", "egress"] {
        let f = lab.filters(&lab.a, &lab.va, hook);
        assert!(!f.contains("flowtrace") && !f.contains("ft_tc"), "{hook} filters left: {f}");
    }
    let q = lab.qdiscs(&lab.a, &lab.va);
    assert_eq!(q.contains("clsact"), foreign_qdisc, "qdiscs: {q}");
}

const MODES: [&str; 2] = ["tcx", "clsact"];

/// UDP over IPv4 and IPv6, echoed back: exact packets and bytes per 5-tuple,
/// in both directions, with a wildcard interface (`*`: lo and the veth).
///
/// `len` is the skb length the tc hook sees, Ethernet header included, on
/// ingress as on egress: 14 (Ethernet) + 20 (IPv4) or 40 (IPv6) + 8 (UDP)
/// plus the payload. So a 100-byte IPv4 datagram is 142 bytes, a 200-byte
/// IPv6 datagram 262.
#[test]
fn root_tc_counts_every_udp_packet_per_flow() {
    if !root_tests_enabled("root_tc_counts_every_udp_packet_per_flow") {
        return;
    }
    for mode in MODES {
        let lab = Lab::new("c");
        let script = "tc:*:egress, tc:*:ingress /proto == IPPROTO_UDP/ \
                      { @pkts[ifname, dir, saddr, daddr, sport, dport] = count(); \
                        @bytes[ifname, dir, saddr, daddr, sport, dport] = sum(len); }";
        let tracer = Tracer::start(&lab, mode, &["-e", script]);
        let n = 20;
        let srv4 = serve(udp_bound(&lab.b, sa(B4, 9999)), true, Duration::from_millis(700));
        let srv6 = serve(udp_bound(&lab.b, sa(B6, 9998)), true, Duration::from_millis(700));
        assert_eq!(send_udp(&lab.a, sa(A4, 40001), sa(B4, 9999), n, 100, true), n);
        assert_eq!(send_udp(&lab.a, sa(A6, 40002), sa(B6, 9998), n, 200, true), n);
        assert_eq!((srv4.join().unwrap(), srv6.join().unwrap()), (n, n));
        let out = tracer.stop();
        let flow = |dir: &str, s: &str, d: &str, sp: u16, dp: u16| format!("[veth-a, {dir}, {s}, {d}, {sp}, {dp}]");
        let (v4, v6) = (14 + 20 + 8 + 100, 14 + 40 + 8 + 200);
        let mut want_pkts = vec![
            format!("@pkts{}: {n}", flow("egress", A4, B4, 40001, 9999)),
            format!("@pkts{}: {n}", flow("ingress", B4, A4, 9999, 40001)),
            format!("@pkts{}: {n}", flow("egress", A6, B6, 40002, 9998)),
            format!("@pkts{}: {n}", flow("ingress", B6, A6, 9998, 40002)),
        ];
        let mut want_bytes = vec![
            format!("@bytes{}: {}", flow("egress", A4, B4, 40001, 9999), n * v4),
            format!("@bytes{}: {}", flow("ingress", B4, A4, 9999, 40001), n * v4),
            format!("@bytes{}: {}", flow("egress", A6, B6, 40002, 9998), n * v6),
            format!("@bytes{}: {}", flow("ingress", B6, A6, 9998, 40002), n * v6),
        ];
        want_pkts.sort();
        want_bytes.sort();
        assert_eq!(map_lines(&out, "@pkts["), want_pkts, "{mode}:\n{out}");
        assert_eq!(map_lines(&out, "@bytes["), want_bytes, "{mode}:\n{out}");
        assert_nothing_left(&lab, false);
    }
}

/// One TCP connection each over IPv4 and IPv6: exactly one SYN out, one
/// SYN-ACK in, one FIN each way, and the payload bytes (2000 out, 3000 in)
/// counted from `len` minus the headers the packet carries.
#[test]
fn root_tc_sees_a_tcp_exchange() {
    if !root_tests_enabled("root_tc_sees_a_tcp_exchange") {
        return;
    }
    let lab = Lab::new("t");
    let script = "tc:veth-a:egress, tc:veth-a:ingress /proto == IPPROTO_TCP/ { \
                  if (tcpflags & TCP_SYN) { @syn[family, dir, tcpflags] = count(); } \
                  if (tcpflags & TCP_FIN) { @fin[family, dir] = count(); } \
                  @port[family, dir, dir == \"egress\" ? dport : sport] = count(); }";
    let tracer = Tracer::start(&lab, "tcx", &["-e", script]);
    for (b, port) in [(B4, 8080u16), (B6, 8086)] {
        let addr = sa(b, port);
        let listener = in_netns(&lab.b, move || TcpListener::bind(addr).unwrap()).join().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = vec![0u8; 2000];
            s.read_exact(&mut got).unwrap();
            std::io::Write::write_all(&mut s, &[7u8; 3000]).unwrap();
            let mut rest = Vec::new();
            s.read_to_end(&mut rest).unwrap();
        });
        in_netns(&lab.a, move || {
            let mut c = TcpStream::connect(addr).unwrap();
            std::io::Write::write_all(&mut c, &[1u8; 2000]).unwrap();
            let mut got = vec![0u8; 3000];
            c.read_exact(&mut got).unwrap();
        })
        .join()
        .unwrap();
        server.join().unwrap();
    }
    // Let the last FIN/ACKs cross before stopping.
    std::thread::sleep(Duration::from_millis(200));
    let out = tracer.stop();
    assert_eq!(
        map_lines(&out, "@syn["),
        ["@syn[10, egress, 2]: 1", "@syn[10, ingress, 18]: 1", "@syn[2, egress, 2]: 1", "@syn[2, ingress, 18]: 1"],
        "{out}"
    );
    assert_eq!(map_lines(&out, "@fin["), ["@fin[10, egress]: 1", "@fin[10, ingress]: 1", "@fin[2, egress]: 1", "@fin[2, ingress]: 1"], "{out}");
    // Every packet of each connection is keyed by the server's port.
    for line in map_lines(&out, "@port[") {
        assert!(line.contains(", 8080]") || line.contains(", 8086]"), "stray TCP packet: {line}\n{out}");
    }
    assert_nothing_left(&lab, false);
}

/// Observer only: flowtrace's program runs first and returns TC_ACT_UNSPEC,
/// so a drop filter installed after it still drops every packet (flowtrace
/// sees them, the peer gets none); a pass filter's verdict stands with and
/// without flowtrace. The test's clsact qdisc and filters outlive flowtrace.
#[test]
fn root_tc_never_changes_a_packets_fate() {
    if !root_tests_enabled("root_tc_never_changes_a_packets_fate") {
        return;
    }
    let drop = Pinned::verdict(TC_ACT_SHOT, "test_drop");
    let pass = Pinned::verdict(TC_ACT_OK, "test_pass");
    for mode in MODES {
        let lab = Lab::new("o");
        lab.tc(&lab.a, &["qdisc", "add", "dev", &lab.va, "clsact"]);
        lab.tc(&lab.a, &["filter", "add", "dev", &lab.va, "egress", "prio", "10", "handle", "1", "bpf", "da", "object-pinned", &drop.path]);
        let n = 10;
        let script = "tc:veth-a:egress /proto == IPPROTO_UDP/ { @sent = count(); }";
        let tracer = Tracer::start(&lab, mode, &["-e", script]);
        let srv = serve(udp_bound(&lab.b, sa(B4, 9999)), false, Duration::from_millis(500));
        send_udp(&lab.a, sa(A4, 40001), sa(B4, 9999), n, 64, false);
        assert_eq!(srv.join().unwrap(), 0, "{mode}: the drop filter after flowtrace must still drop");
        let out = tracer.stop();
        assert!(out.contains(&format!("@sent: {n}")), "{mode}: flowtrace saw the packets before the drop:\n{out}");

        // With --tc-order last (clsact: after the drop filter) nothing reaches us.
        if mode == "clsact" {
            let tracer = Tracer::start(&lab, mode, &["--tc-order", "last", "-e", script]);
            send_udp(&lab.a, sa(A4, 40001), sa(B4, 9999), n, 64, false);
            let out = tracer.stop();
            let seen = out.lines().any(|l| l.starts_with("@sent: ") && l != "@sent: 0");
            assert!(!seen, "last in the chain, after a drop: nothing seen:\n{out}");
        }

        // A pass filter in front of the drop: packets go through, with and
        // without flowtrace in front of both.
        lab.tc(&lab.a, &["filter", "add", "dev", &lab.va, "egress", "prio", "5", "handle", "1", "bpf", "da", "object-pinned", &pass.path]);
        for with_flowtrace in [false, true] {
            let tracer = with_flowtrace.then(|| Tracer::start(&lab, mode, &["-e", script]));
            let srv = serve(udp_bound(&lab.b, sa(B4, 9999)), false, Duration::from_millis(500));
            send_udp(&lab.a, sa(A4, 40001), sa(B4, 9999), n, 64, false);
            assert_eq!(srv.join().unwrap(), n, "{mode}, flowtrace {with_flowtrace}: the pass verdict stands");
            if let Some(t) = tracer {
                assert!(t.stop().contains(&format!("@sent: {n}")));
            }
        }
        // Ours are gone; the test's qdisc and both of its filters are not.
        assert_nothing_left(&lab, true);
        let f = lab.filters(&lab.a, &lab.va, "egress");
        assert!(f.contains("test_drop") && f.contains("test_pass"), "{mode}: foreign filters must stay:\n{f}");
    }
}

/// A third namespace for [`root_tc_keeps_a_redirect_verdict`], deleted on
/// drop (with its veth pair and so the peer end in namespace a).
struct ExtraNetns(String);

impl Drop for ExtraNetns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn ifindex(ns: &str, dev: &str) -> u32 {
    let text = String::from_utf8_lossy(&ip(&["-n", ns, "-o", "link", "show", dev]).stdout).into_owned();
    text.split(':').next().and_then(|n| n.trim().parse().ok()).unwrap_or_else(|| panic!("no ifindex in {text}"))
}

/// Observer only, with a redirect: a cls_bpf program on veth-a egress sends
/// every packet out of a second veth pair (veth-a1 in a, veth-c in a third
/// namespace c, which owns B's address and MAC too) by bpf_redirect. The
/// datagrams arrive in c and not in b, the same with flowtrace attached in
/// front of the redirect as without it, and flowtrace counts each one.
#[test]
fn root_tc_keeps_a_redirect_verdict() {
    if !root_tests_enabled("root_tc_keeps_a_redirect_verdict") {
        return;
    }
    for mode in MODES {
        let lab = Lab::new("d");
        let c = ExtraNetns(format!("ftdc{}", std::process::id() % 100_000));
        let _ = Command::new("ip").args(["netns", "del", &c.0]).output();
        ip(&["netns", "add", &c.0]);
        ip(&["link", "add", "veth-a1", "netns", &lab.a, "type", "veth", "peer", "name", "veth-c", "netns", &c.0]);
        // Frames keep B's destination MAC when redirected: veth-c takes it
        // so that c's stack accepts them as its own.
        ip(&["-n", &c.0, "link", "set", "veth-c", "address", &lab.mac(&lab.b, &lab.vb)]);
        ip(&["-n", &lab.a, "link", "set", "veth-a1", "up"]);
        ip(&["-n", &c.0, "link", "set", "veth-c", "up"]);
        ip(&["-n", &c.0, "addr", "add", &format!("{B4}/24"), "dev", "veth-c"]);
        let redirect = Pinned::redirect(ifindex(&lab.a, "veth-a1"), "test_redirect");
        lab.tc(&lab.a, &["qdisc", "add", "dev", &lab.va, "clsact"]);
        lab.tc(&lab.a, &["filter", "add", "dev", &lab.va, "egress", "prio", "10", "handle", "1", "bpf", "da", "object-pinned", &redirect.path]);
        let n = 10;
        let script = "tc:veth-a:egress /proto == IPPROTO_UDP/ { @sent = count(); }";
        for with_flowtrace in [false, true] {
            let tracer = with_flowtrace.then(|| Tracer::start(&lab, mode, &["-e", script]));
            let in_b = serve(udp_bound(&lab.b, sa(B4, 9999)), false, Duration::from_millis(500));
            let in_c = serve(udp_bound(&c.0, sa(B4, 9999)), false, Duration::from_millis(500));
            send_udp(&lab.a, sa(A4, 40001), sa(B4, 9999), n, 64, false);
            let (got_b, got_c) = (in_b.join().unwrap(), in_c.join().unwrap());
            assert_eq!((got_b, got_c), (0, n), "{mode}, flowtrace {with_flowtrace}: every datagram is redirected to c");
            if let Some(t) = tracer {
                let out = t.stop();
                assert!(out.contains(&format!("@sent: {n}")), "{mode}: flowtrace saw the packets before the redirect:\n{out}");
            }
        }
        assert_nothing_left(&lab, true);
        let f = lab.filters(&lab.a, &lab.va, "egress");
        assert!(f.contains("test_redirect"), "{mode}: the foreign filter must stay:\n{f}");
    }
}

/// After exit by SIGINT or SIGTERM, on both paths, nothing is attached; a
/// clsact qdisc flowtrace created is removed again.
#[test]
fn root_tc_leaves_nothing_after_signals() {
    if !root_tests_enabled("root_tc_leaves_nothing_after_signals") {
        return;
    }
    let lab = Lab::new("s");
    for mode in MODES {
        for sig in [libc::SIGINT, libc::SIGTERM] {
            let tracer = Tracer::start(&lab, mode, &["-e", "tc:veth*:ingress, tc:veth-a:egress { @n = count(); }"]);
            let attached = match mode {
                "tcx" => tc_netns::flowtrace_tcx_attached(),
                _ => lab.filters(&lab.a, &lab.va, "ingress").contains("flowtrace/"),
            };
            assert!(attached, "{mode}: attached through the expected path");
            tracer.signal(sig);
            assert_nothing_left(&lab, false);
        }
    }
}

/// SIGKILL: TCX links die with the process. On the clsact path the filters
/// stay; the next run names them and the tc command that removes each, and
/// `--cleanup-stale` removes them (the filters only, never the qdisc).
#[test]
fn root_tc_finds_and_removes_filters_of_a_killed_run() {
    if !root_tests_enabled("root_tc_finds_and_removes_filters_of_a_killed_run") {
        return;
    }
    let lab = Lab::new("k");
    let script = "tc:veth-a:egress { @n = count(); }";
    let tracer = Tracer::start(&lab, "tcx", &["-e", script]);
    assert!(tc_netns::flowtrace_tcx_attached());
    tracer.signal(libc::SIGKILL);
    assert_nothing_left(&lab, false);

    let tracer = Tracer::start(&lab, "clsact", &["-e", script]);
    tracer.signal(libc::SIGKILL);
    let left = lab.filters(&lab.a, &lab.va, "egress");
    assert!(left.contains("flowtrace/"), "a SIGKILLed clsact run leaves its filter:\n{left}");

    let (_, err) = Tracer::start(&lab, "clsact", &["-e", "tc:veth-a:ingress { @n = count(); }"]).signal(libc::SIGINT);
    assert!(err.contains("left by a flowtrace that is no longer running"), "{err}");
    assert!(err.contains("tc filter del dev veth-a egress pref 1 handle 0x"), "{err}");
    assert!(lab.filters(&lab.a, &lab.va, "egress").contains("flowtrace/"), "reported, not removed");

    let (_, err) = Tracer::start(&lab, "clsact", &["--cleanup-stale", "-e", script]).signal(libc::SIGINT);
    assert!(err.contains("removed stale tc filter veth-a egress pref 1"), "{err}");
    let left = lab.filters(&lab.a, &lab.va, "egress");
    assert!(!left.contains("flowtrace/"), "{left}");
    // The killed run's qdisc stays: nobody can tell who created it.
    assert!(lab.qdiscs(&lab.a, &lab.va).contains("clsact"));
}

/// An unknown interface is an error listing the interfaces that exist.
#[test]
fn root_tc_unknown_interface_lists_the_real_ones() {
    if !root_tests_enabled("root_tc_unknown_interface_lists_the_real_ones") {
        return;
    }
    let lab = Lab::new("u");
    let out = flowtrace(&lab, &lab.a, "tcx", &["-e", "tc:veth-x:ingress { @n = count(); }"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("there is no network interface 'veth-x' in this network namespace"), "{err}");
    assert!(err.contains("did you mean 'veth-a'? interfaces here: lo, veth-a"), "{err}");
    let out = flowtrace(&lab, &lab.a, "tcx", &["-e", "tc:eth*:ingress { @n = count(); }"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("no network interface matches 'eth*'"));
}

/// `lruhash(N)` keeps at most N flows, evicting old ones; an undeclared map
/// at its --map-keys bound reports the updates it dropped.
#[test]
fn root_tc_flow_maps_stay_bounded() {
    if !root_tests_enabled("root_tc_flow_maps_stay_bounded") {
        return;
    }
    let lab = Lab::new("m");
    // @flows creates keys through count(), @last through a plain store, and
    // @gone deletes every other key it stores (those are not evictions).
    let script = "let @flows = lruhash(4); let @last = lruhash(4); let @gone = lruhash(4); \
                  tc:veth-a:egress /proto == IPPROTO_UDP/ { @flows[sport] = count(); @all[sport] = count(); \
                  @last[sport] = len; @gone[sport] = 1; if (sport % 2 == 0) { delete(@gone[sport]); } }";
    let tracer = Tracer::start(&lab, "tcx", &["--map-keys", "6", "-e", script]);
    let srv = serve(udp_bound(&lab.b, sa(B4, 9999)), false, Duration::from_millis(500));
    for port in 41000..41010 {
        send_udp(&lab.a, sa(A4, port), sa(B4, 9999), 1, 10, false);
    }
    assert_eq!(srv.join().unwrap(), 10);
    let out = tracer.stop();
    let flows = map_lines(&out, "@flows[");
    assert_eq!(flows.len(), 4, "{out}");
    // LRU keeps the most recent flows.
    assert!(flows.iter().any(|l| l.starts_with("@flows[41009]")), "{out}");
    assert_eq!(map_lines(&out, "@all[").len(), 6, "{out}");
    assert!(out.contains("@all: 4 updates dropped: map full (6 keys)"), "{out}");
    // Every key created and not alive now was evicted: 10 flows, of which
    // `live` remain (LRU may evict a little before it is full); @gone
    // deleted 5 of its 10 itself.
    for (map, created) in [("@flows", 10), ("@last", 10), ("@gone", 5)] {
        let live = map_lines(&out, &format!("{map}[")).len();
        let notice = format!("{map}: {} entries evicted (LRU, 4 keys); raise the lruhash size\n", created - live);
        assert!(live < created && out.contains(&notice), "{notice:?} in\n{out}");
    }
    assert!(!out.lines().any(|l| l.starts_with("@all: ") && l.contains("evicted")), "a plain hash evicts nothing: {out}");
}

/// The tc runbooks in examples/ run against real traffic and report it.
#[test]
fn root_tc_runbooks_report_real_traffic() {
    if !root_tests_enabled("root_tc_runbooks_report_real_traffic") {
        return;
    }
    let lab = Lab::new("r");
    // An address that answers nothing: frames reach B, which does not own it.
    let mac = lab.mac(&lab.b, &lab.vb);
    tc_netns::ip(&["-n", &lab.a, "neigh", "replace", "10.199.0.99", "lladdr", &mac, "dev", &lab.va, "nud", "permanent"]);
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let run = |name: &str| {
        let tracer = Tracer::start(&lab, "tcx", &[&format!("{examples}/{name}")]);
        let srv = serve(udp_bound(&lab.b, sa(B4, 9999)), true, Duration::from_millis(300));
        assert_eq!(send_udp(&lab.a, sa(A4, 40001), sa(B4, 9999), 20, 100, true), 20);
        srv.join().unwrap();
        let listener = in_netns(&lab.b, || TcpListener::bind(sa(B4, 8080)).unwrap()).join().unwrap();
        in_netns(&lab.a, move || {
            let answered = TcpStream::connect(sa(B4, 8080)).unwrap();
            let refused = TcpStream::connect(sa(B4, 81));
            assert!(refused.is_err(), "port 81 is closed: a RST comes back");
            let unanswered = TcpStream::connect_timeout(&sa("10.199.0.99", 80), Duration::from_millis(300));
            assert!(unanswered.is_err());
            drop(answered);
        })
        .join()
        .unwrap();
        drop(listener);
        std::thread::sleep(Duration::from_millis(100));
        tracer.stop()
    };

    let out = run("tc-top-talkers.ft");
    // The echoes arriving on veth-a: 20 × (14 + 20 + 8 + 100) bytes.
    assert!(out.contains("@bytes[10.199.0.2, 10.199.0.1, 9999, 40001, 17]: 2840"), "{out}");
    assert!(out.contains("@packets[10.199.0.2, 10.199.0.1, 9999, 40001, 17]: 20"), "{out}");

    let out = run("tc-resets.ft");
    assert!(out.contains("@rst_from[veth-a, 10.199.0.2, 81]: 1"), "{out}");

    let out = run("tc-half-open.ft");
    let pending = map_lines(&out, "@pending[");
    assert!(pending.iter().any(|l| l.starts_with("@pending[10.199.0.1, ") && l.ends_with(", 10.199.0.99, 80]: 1")), "{out}");
    assert!(!pending.iter().any(|l| l.contains("10.199.0.2, 8080]") || l.contains("10.199.0.2, 81]")), "answered SYNs are not pending:\n{out}");

    let out = run("tc-rates.ft");
    assert!(out.lines().any(|l| l.starts_with("@rx_packets[veth-a]: ")), "{out}");
    assert!(out.lines().any(|l| l.starts_with("@tx_bytes[veth-a]: ")), "{out}");
    assert_nothing_left(&lab, false);
}
