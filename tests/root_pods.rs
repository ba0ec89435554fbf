//! Pod identity end to end: a kubelet-like cgroup v2 tree (systemd and
//! cgroupfs driver layouts, under a test-unique prefix) and pod log directory
//! are built, traffic generators run inside those cgroups and make loopback
//! TCP connections, and the `flowtrace` binary must name their pods and
//! containers in printed maps — from a tracepoint (the current task's cgroup)
//! and from a `tc:lo:egress` probe (the packet's socket cgroup) — and print
//! "" for a cgroup that is not a pod's. The cgroups are removed at the end,
//! also when an assertion fails (a guard's Drop).
//!
//! Root only: they run when FLOWTRACE_ROOT_TESTS=1, else print SKIPPED.

use flowtrace_testkit::process::attached;
use flowtrace_testkit::root_tests_enabled;
use std::ffi::CString;
use std::io::Read;
use std::net::TcpListener;
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

/// `bash` making `n` TCP connections to `port` on loopback, each sending one
/// line, started inside cgroup `dir`: the child moves itself (writes 0 to
/// `cgroup.procs`) between fork and exec, so every socket it makes belongs
/// to that cgroup.
fn generator(dir: &Path, port: u16, n: usize) -> Child {
    let procs = CString::new(dir.join("cgroup.procs").into_os_string().into_encoded_bytes()).unwrap();
    let script = format!("for i in $(seq {n}); do exec 3<>/dev/tcp/127.0.0.1/{port}; echo x >&3; exec 3>&-; done");
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

/// Accepts `total` connections on a thread, reading each to its end.
fn server(total: usize) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
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

/// Runs flowtrace on `script` while the generators connect, then SIGINT;
/// returns what it printed.
fn trace(script: &str, logs: &Path, runs: &[(&Path, usize)], port: u16) -> String {
    let mut ft = Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .args(["--pod-logs", logs.to_str().unwrap(), "-e", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut stdout, head) = attached(&mut ft, "pods");
    for (dir, n) in runs {
        wait_ok(generator(dir, port, *n), "traffic generator");
    }
    // SAFETY: kill(2) on our own unreaped child.
    unsafe { libc::kill(ft.id() as i32, libc::SIGINT) };
    let mut out = head;
    stdout.read_to_string(&mut out).unwrap();
    let mut err = String::new();
    ft.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = ft.wait().unwrap();
    assert!(status.success(), "flowtrace failed: {status}\n{out}\n{err}");
    out
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
    let (port, server) = server(3 + 5 + 7);
    // SYN_SENT is set inside connect(2), so `cgroup` is the connecting task's;
    // on loopback egress the packet's socket is the generator's. `@sock` reads
    // the socket's cgroup through BTF, as docs/fleet.md's runbook does where
    // the current task is not the socket's owner (retransmit timers).
    let script = format!(
        "tracepoint:sock:inet_sock_set_state /args.dport == {port} && args.newstate == 2/ \
         {{ @conn[pod(cgroup), container(cgroup)] = count(); @path[cgroup_path(cgroup, \"unified\")] = count(); \
         $sk = (struct sock *)args.skaddr; @sock[pod($sk->sk_cgrp_data.cgroup->kn->id)] = count(); }} \
         tc:lo:egress /dport == {port}/ {{ @tx[pod(cgroup), container(cgroup)] = count(); }}"
    );
    let out = trace(&script, &logs, &[(&pay, 3), (&cart, 5), (&plain, 7)], port);
    server.join().unwrap();
    let _ = std::fs::remove_dir_all(&logs);

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
    ] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in:\n{out}");
    }
    assert_eq!(out.lines().filter(|l| l.starts_with("@conn[")).count(), 3, "{out}");
    // Each connection sends at least SYN, ACK with data, and FIN to the port.
    let tx = |key: &str| -> u64 {
        let prefix = format!("@tx[{key}]: ");
        let line = out.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {prefix} in:\n{out}"));
        line[prefix.len()..].parse().unwrap()
    };
    assert!(tx(&format!("default/payment-7d9f, {PAY_CID}")) >= 3 * 3, "{out}");
    assert!(tx(&format!("shop/cart-5c4b, {CART_CID}")) >= 5 * 3, "{out}");
    assert!(tx(", ") >= 7 * 3, "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("@tx[")).count(), 3, "{out}");
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
    let logs = pod_logs();
    let (port, server) = server(2 + 4);
    let script = format!(
        "tracepoint:sock:inet_sock_set_state /args.dport == {port} && args.newstate == 2/ \
         {{ @[pod(cgroup), container(cgroup)] = count(); printf(\"conn %s|%s\\n\", pod(cgroup), container(cgroup)); }}"
    );
    let out = trace(&script, &logs, &[(&pay, 2), (&unknown, 4)], port);
    server.join().unwrap();
    let _ = std::fs::remove_dir_all(&logs);
    for line in ["@[default/payment-7d9f, ]: 2".to_string(), format!("@[{unknown_uid}, {PAY_CID}]: 4")] {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in:\n{out}");
    }
    // printf names them too, event by event.
    let count = |line: &str| out.lines().filter(|l| *l == line).count();
    assert_eq!(count("conn default/payment-7d9f|"), 2, "{out}");
    assert_eq!(count(&format!("conn {unknown_uid}|{PAY_CID}")), 4, "{out}");
}
