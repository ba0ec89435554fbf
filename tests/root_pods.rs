//! Pod identity end to end: a kubelet-like cgroup v2 tree (systemd and
//! cgroupfs driver layouts, under a test-unique prefix) and pod log directory
//! are built, traffic generators run inside those cgroups and make loopback
//! TCP connections, and the `flowtrace` binary must name their pods and
//! containers in printed maps — from a tracepoint (the current task's cgroup)
//! and from a `tc:lo:egress` probe (the packet's socket cgroup) — and print
//! "" for a cgroup that is not a pod's. Every run also serves `--metrics`,
//! scraped while the probes are attached: the same names must be the
//! `pod`/`container`/`cgroup_path` labels, with the same exact counts, and
//! keys that print alike (two containers of one pod) one series. The cgroups are removed at the end,
//! also when an assertion fails (a guard's Drop).
//!
//! Root only: they run when FLOWTRACE_ROOT_TESTS=1, else print SKIPPED.

use flowtrace_testkit::process::attached;
use flowtrace_testkit::root_tests_enabled;
use std::ffi::CString;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PAY_UID: &str = "3f6c1b2a-8d4e-4a7b-9c0d-1e2f3a4b5c6d";
const PAY_CID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const CART_UID: &str = "7e8f9a0b-1c2d-4e3f-8a9b-0c1d2e3f4a5b";
const CART_CID: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Where cgroup v2 is mounted here (`/sys/fs/cgroup`, or
/// `/sys/fs/cgroup/unified` on a hybrid host).
fn cgroup2_mount() -> PathBuf {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = info.lines().find(|l| l.split(" - ").nth(1).is_some_and(|t| t.starts_with("cgroup2 ")));
    PathBuf::from(line.expect("cgroup v2 is mounted").split(' ').nth(4).unwrap())
}

/// The test's cgroups, removed deepest first on drop after killing whatever
/// still runs in them.
struct CgroupTree {
    top: PathBuf,
    dirs: Vec<PathBuf>,
}

impl CgroupTree {
    fn new() -> CgroupTree {
        let top = cgroup2_mount().join(format!("ft-pods-{}", std::process::id()));
        std::fs::create_dir(&top).unwrap();
        CgroupTree { top: top.clone(), dirs: vec![top] }
    }

    /// Creates `rel` (and its parents) under the test's prefix.
    fn make(&mut self, rel: &str) -> PathBuf {
        let mut dir = self.top.clone();
        for part in rel.split('/') {
            dir.push(part);
            if !dir.exists() {
                std::fs::create_dir(&dir).unwrap();
                self.dirs.push(dir.clone());
            }
        }
        dir
    }

    fn path_of(&self, dir: &Path) -> String {
        format!("/{}", dir.strip_prefix(cgroup2_mount()).unwrap().display())
    }
}

impl Drop for CgroupTree {
    fn drop(&mut self) {
        for dir in self.dirs.iter().rev() {
            let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|p| p.parse::<i32>().ok()) {
                // SAFETY: kill(2); only processes this test placed in its own cgroups.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            for _ in 0..50 {
                if std::fs::remove_dir(dir).is_ok() || !dir.exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

/// The test server's loopback ports.
#[derive(Clone, Copy)]
struct Ports {
    tcp: u16,
    /// Datagrams to it are exactly one packet each on lo's egress.
    udp: u16,
}

/// `bash` making `n` TCP connections to the server on loopback, each
/// sending one line, and sending `n` UDP datagrams, started inside cgroup
/// `dir`: the child moves itself (writes 0 to `cgroup.procs`) between fork
/// and exec, so every socket it makes belongs to that cgroup.
fn generator(dir: &Path, ports: Ports, n: usize) -> Child {
    let procs = CString::new(dir.join("cgroup.procs").into_os_string().into_encoded_bytes()).unwrap();
    let Ports { tcp, udp } = ports;
    let script = format!(
        "for i in $(seq {n}); do exec 3<>/dev/tcp/127.0.0.1/{tcp}; echo x >&3; exec 3>&-; echo u >/dev/udp/127.0.0.1/{udp}; done"
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script]);
    // SAFETY: only open/write/close between fork and exec (async-signal-safe).
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            let ok = fd >= 0 && libc::write(fd, b"0".as_ptr().cast(), 1) == 1;
            if fd >= 0 {
                libc::close(fd);
            }
            if ok { Ok(()) } else { Err(std::io::Error::last_os_error()) }
        });
    }
    cmd.spawn().unwrap()
}

/// Accepts `total` connections on a thread, reading each to its end; a UDP
/// socket bound alongside takes the datagrams (until the last connection).
fn server(total: usize) -> (Ports, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = Ports { tcp: listener.local_addr().unwrap().port(), udp: udp.local_addr().unwrap().port() };
    let handle = std::thread::spawn(move || {
        let _udp = udp;
        for _ in 0..total {
            let (mut s, _) = listener.accept().unwrap();
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
        }
    });
    (port, handle)
}

/// The kubelet's pod log directory with two pods in it.
fn pod_logs() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ft-pod-logs-{}", std::process::id()));
    for entry in [format!("default_payment-7d9f_{PAY_UID}"), format!("shop_cart-5c4b_{CART_UID}")] {
        std::fs::create_dir_all(dir.join(entry).join("app")).unwrap();
    }
    dir
}

fn wait_ok(mut child: Child, what: &str) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{what} failed: {status}");
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{what} did not finish");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A free TCP port on loopback for `--metrics`.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `GET /metrics` from flowtrace's exporter on `port`: the body, or "" if
/// it did not answer.
fn scrape(port: u16) -> String {
    let get = || -> Option<String> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        s.write_all(format!("GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes()).ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        Some(text.split_once("\r\n\r\n")?.1.to_string())
    };
    get().unwrap_or_default()
}

/// Scrapes until every line of `want` is a sample line of the exposition
/// (the generators have finished, but the last packets' probes may still
/// be running); returns the last exposition.
fn scrape_until(port: u16, want: &[String]) -> String {
    let start = Instant::now();
    loop {
        let text = scrape(port);
        if want.iter().all(|w| text.lines().any(|l| l == w)) || start.elapsed() > Duration::from_secs(10) {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGKILLs a running flowtrace when dropped during a panic; forgotten once
/// the child is reaped (its pid could be reused after that).
struct KillOnPanic(i32);

impl Drop for KillOnPanic {
    fn drop(&mut self) {
        // SAFETY: kill(2) on our own child, not yet reaped.
        unsafe { libc::kill(self.0, libc::SIGKILL) };
    }
}

/// What one run gave: the printed maps and, with `--metrics`, a scrape
/// taken while the probes were still attached.
struct Traced {
    out: String,
    exposition: String,
}

/// Runs flowtrace on `script` while the generators connect, serving
/// `/metrics` on a free port; scrapes until `exported` are all there, then
/// SIGINT; returns what it printed and the scrape.
fn trace(script: &str, logs: &Path, runs: &[(&Path, usize)], ports: Ports, exported: &[String]) -> Traced {
    let metrics = free_port();
    let mut ft = Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .args(["--pod-logs", logs.to_str().unwrap(), "--metrics", &format!("127.0.0.1:{metrics}"), "-e", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Killed (and its probes detached) if an assertion below fails first.
    let guard = KillOnPanic(ft.id() as i32);
    let (mut stdout, head) = attached(&mut ft, "pods");
    for (dir, n) in runs {
        wait_ok(generator(dir, ports, *n), "traffic generator");
    }
    let exposition = scrape_until(metrics, exported);
    // SAFETY: kill(2) on our own unreaped child.
    unsafe { libc::kill(ft.id() as i32, libc::SIGINT) };
    let mut out = head;
    stdout.read_to_string(&mut out).unwrap();
    let mut err = String::new();
    ft.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = ft.wait().unwrap();
    std::mem::forget(guard);
    assert!(status.success(), "flowtrace failed: {status}\n{out}\n{err}");
    Traced { out, exposition }
}

/// Every line of `want` is a sample line of `exposition`.
fn assert_exported(exposition: &str, want: &[String]) {
    for line in want {
        assert!(exposition.lines().any(|l| l == line), "missing {line:?} in the exposition:\n{exposition}");
    }
}

#[test]
fn pods_are_named_in_tracepoint_and_tc_maps() {
    if !root_tests_enabled("pods_are_named_in_tracepoint_and_tc_maps") {
        return;
    }
    let mut tree = CgroupTree::new();
    let pay_slice = format!("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{}.slice", PAY_UID.replace('-', "_"));
    let pay = tree.make(&format!("{pay_slice}/cri-containerd-{PAY_CID}.scope"));
    let cart = tree.make(&format!("kubepods/besteffort/pod{CART_UID}/{CART_CID}"));
    let plain = tree.make("system.slice/cron.service");
    let logs = pod_logs();
    let (ports, server) = server(3 + 5 + 7);
    let Ports { tcp: port, udp } = ports;
    // SYN_SENT is set inside connect(2), so `cgroup` is the connecting task's;
    // on loopback egress the packet's socket is the generator's. `@sock` reads
    // the socket's cgroup through BTF, as docs/fleet.md's runbook does where
    // the current task is not the socket's owner (retransmit timers).
    let script = format!(
        "tracepoint:sock:inet_sock_set_state /args.dport == {port} && args.newstate == 2/ \
         {{ @conn[pod(cgroup), container(cgroup)] = count(); @path[cgroup_path(cgroup, \"unified\")] = count(); \
         $sk = (struct sock *)args.skaddr; @sock[pod($sk->sk_cgrp_data.cgroup->kn->id)] = count(); }} \
         tc:lo:egress /dport == {port}/ {{ @tx[pod(cgroup), container(cgroup)] = count(); }} \
         tc:lo:egress /proto == IPPROTO_UDP && dport == {udp}/ {{ @udp[pod(cgroup), container(cgroup)] = count(); }}"
    );
    let pay_labels = format!("pod=\"default/payment-7d9f\",container=\"{PAY_CID}\"");
    let cart_labels = format!("pod=\"shop/cart-5c4b\",container=\"{CART_CID}\"");
    let exported = [
        format!("flowtrace_conn_total{{{pay_labels}}} 3"),
        format!("flowtrace_conn_total{{{cart_labels}}} 5"),
        "flowtrace_conn_total{pod=\"\",container=\"\"} 7".to_string(),
        format!("flowtrace_path_total{{cgroup_path=\"unified:{}\"}} 7", tree.path_of(&plain)),
        format!("flowtrace_path_total{{cgroup_path=\"unified:{}\"}} 3", tree.path_of(&pay)),
        "flowtrace_sock_total{pod=\"default/payment-7d9f\"} 3".to_string(),
        "flowtrace_sock_total{pod=\"shop/cart-5c4b\"} 5".to_string(),
        "flowtrace_sock_total{pod=\"\"} 7".to_string(),
        // One datagram is one packet: the tc probe's exact counts.
        format!("flowtrace_udp_total{{{pay_labels}}} 3"),
        format!("flowtrace_udp_total{{{cart_labels}}} 5"),
        "flowtrace_udp_total{pod=\"\",container=\"\"} 7".to_string(),
    ];
    let traced = trace(&script, &logs, &[(&pay, 3), (&cart, 5), (&plain, 7)], ports, &exported);
    server.join().unwrap();
    let _ = std::fs::remove_dir_all(&logs);
    let out = &traced.out;

    for line in [
        format!("@conn[default/payment-7d9f, {PAY_CID}]: 3"),
        format!("@conn[shop/cart-5c4b, {CART_CID}]: 5"),
        "@conn[, ]: 7".to_string(),
        format!("@path[unified:{}]: 7", tree.path_of(&plain)),
        format!("@path[unified:{}]: 3", tree.path_of(&pay)),
        // The socket's own cgroup, as a probe in softirq context must read it.
        "@sock[default/payment-7d9f]: 3".to_string(),
        "@sock[shop/cart-5c4b]: 5".to_string(),
        "@sock[]: 7".to_string(),
        format!("@udp[default/payment-7d9f, {PAY_CID}]: 3"),
        format!("@udp[shop/cart-5c4b, {CART_CID}]: 5"),
        "@udp[, ]: 7".to_string(),
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in:\n{out}");
    }
    assert_eq!(out.lines().filter(|l| l.starts_with("@conn[")).count(), 3, "{out}");
    // The same names as labels, with the same counts.
    let exposition = &traced.exposition;
    assert_exported(exposition, &exported);
    assert_eq!(exposition.lines().filter(|l| l.starts_with("flowtrace_conn_total{")).count(), 3, "{exposition}");
    for family in ["flowtrace_sock_total{", "flowtrace_udp_total{"] {
        assert_eq!(exposition.lines().filter(|l| l.starts_with(family)).count(), 3, "{exposition}");
    }
    assert_eq!(out.lines().filter(|l| l.starts_with("@udp[")).count(), 3, "{out}");
    // Each connection sends at least SYN, ACK with data, and FIN to the port.
    let tx = |key: &str| -> u64 {
        let prefix = format!("@tx[{key}]: ");
        let line = out.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {prefix} in:\n{out}"));
        line[prefix.len()..].parse().unwrap()
    };
    // The tc probe's series: scraped while attached, so at least the
    // minimum and at most what was printed after detaching (a counter).
    let tx_exported = |labels: &str| -> u64 {
        let prefix = format!("flowtrace_tx_total{{{labels}}} ");
        let line = exposition.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {prefix} in:\n{exposition}"));
        line[prefix.len()..].parse().unwrap()
    };
    for (printed, labels, least) in [
        (format!("default/payment-7d9f, {PAY_CID}"), pay_labels.clone(), 3 * 3),
        (format!("shop/cart-5c4b, {CART_CID}"), cart_labels.clone(), 5 * 3),
        (", ".to_string(), "pod=\"\",container=\"\"".to_string(), 7 * 3),
    ] {
        let (printed, exported) = (tx(&printed), tx_exported(&labels));
        assert!(printed >= least, "{out}");
        assert!(exported >= least && exported <= printed, "{labels}: exported {exported}, printed {printed}\n{exposition}");
    }
    assert_eq!(out.lines().filter(|l| l.starts_with("@tx[")).count(), 3, "{out}");
    assert_eq!(exposition.lines().filter(|l| l.starts_with("flowtrace_tx_total{")).count(), 3, "{exposition}");
}

/// A pod's own cgroup (no container below it) names the pod and no
/// container; a pod the log directory does not list is named by its UID;
/// printf prints the same names.
#[test]
fn pod_cgroup_without_container_and_unknown_pod() {
    if !root_tests_enabled("pod_cgroup_without_container_and_unknown_pod") {
        return;
    }
    let mut tree = CgroupTree::new();
    let pay = tree.make(&format!("kubepods/burstable/pod{PAY_UID}"));
    let unknown_uid = "99999999-8888-4777-8666-555555555555";
    let unknown = tree.make(&format!("kubepods.slice/kubepods-pod{}.slice/crio-{PAY_CID}.scope", unknown_uid.replace('-', "_")));
    // A second container of the same pod: @pods has two cgroup ids that
    // both name default/payment-7d9f, exported as one series.
    let sidecar = tree.make(&format!("kubepods/burstable/pod{PAY_UID}/{CART_CID}"));
    let logs = pod_logs();
    let (ports, server) = server(2 + 4 + 3);
    let port = ports.tcp;
    let script = format!(
        "tracepoint:sock:inet_sock_set_state /args.dport == {port} && args.newstate == 2/ \
         {{ @[pod(cgroup), container(cgroup)] = count(); @pods[pod(cgroup)] = count(); \
         printf(\"conn %s|%s\\n\", pod(cgroup), container(cgroup)); }}"
    );
    let exported = [
        "flowtrace_anon_total{pod=\"default/payment-7d9f\",container=\"\"} 2".to_string(),
        format!("flowtrace_anon_total{{pod=\"{unknown_uid}\",container=\"{PAY_CID}\"}} 4"),
        format!("flowtrace_anon_total{{pod=\"default/payment-7d9f\",container=\"{CART_CID}\"}} 3"),
        "flowtrace_pods_total{pod=\"default/payment-7d9f\"} 5".to_string(),
        format!("flowtrace_pods_total{{pod=\"{unknown_uid}\"}} 4"),
    ];
    let traced = trace(&script, &logs, &[(&pay, 2), (&unknown, 4), (&sidecar, 3)], ports, &exported);
    server.join().unwrap();
    let _ = std::fs::remove_dir_all(&logs);
    let out = &traced.out;
    for line in ["@[default/payment-7d9f, ]: 2".to_string(), format!("@[{unknown_uid}, {PAY_CID}]: 4")] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in:\n{out}");
    }
    // The printer shows each kernel key (one per cgroup); together they are the pod's 5.
    let printed: u64 = out.lines().filter_map(|l| l.strip_prefix("@pods[default/payment-7d9f]: ")).map(|n| n.parse::<u64>().unwrap()).sum();
    assert_eq!(printed, 5, "{out}");
    assert_exported(&traced.exposition, &exported);
    let payment_series = traced.exposition.lines().filter(|l| l.starts_with("flowtrace_pods_total{pod=\"default/payment-7d9f\"}")).count();
    assert_eq!(payment_series, 1, "one series per pod:\n{}", traced.exposition);
    // printf names them too, event by event.
    let count = |line: &str| out.lines().filter(|l| *l == line).count();
    assert_eq!(count("conn default/payment-7d9f|"), 2, "{out}");
    assert_eq!(count(&format!("conn {unknown_uid}|{PAY_CID}")), 4, "{out}");
}
