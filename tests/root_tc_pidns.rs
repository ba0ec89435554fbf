//! Two flowtraces on one clsact hook, one of them in another PID namespace
//! (as in a container): neither `--cleanup-stale` nor the stale warning at
//! start-up, run from either namespace, may take the other's filter for a
//! dead run's, and both keep counting every packet. A pid alone names no
//! process across PID namespaces, so this is what the owner identity in the
//! filter name has to survive.
//!
//! Root only: they run when FLOWTRACE_ROOT_TESTS=1, else print SKIPPED.

mod tc_netns;

use std::io::{BufReader, Read};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use flowtrace_testkit::process::attached;
use flowtrace_testkit::gate::{require_tool, root_tests_enabled};
use tc_netns::{sa, send_udp, serve, udp_bound, Lab, A4, B4};

/// `flowtrace ARGS` inside the lab's namespace a, on the clsact path; with
/// `new_pidns`, under `unshare --pid --fork --mount-proc` (so it is pid 1 of
/// a PID namespace of its own, and sees only its own processes).
fn flowtrace(lab: &Lab, new_pidns: bool, args: &[&str]) -> Command {
    let bin = env!("CARGO_BIN_EXE_flowtrace");
    let mut c = if new_pidns {
        let mut c = lab.exec(&lab.a, "unshare");
        // --kill-child: a failed test that kills unshare takes flowtrace along.
        c.args(["--pid", "--fork", "--mount-proc", "--kill-child", bin]);
        c
    } else {
        lab.exec(&lab.a, bin)
    };
    c.args(args).env("FLOWTRACE_TC_MODE", "clsact");
    c
}

/// An attached flowtrace (its "Attaching" line read).
struct Instance {
    child: Child,
    /// The flowtrace process itself: the child, or unshare's child.
    pid: i32,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Instance {
    fn start(lab: &Lab, new_pidns: bool, args: &[&str]) -> Instance {
        let mut child = flowtrace(lab, new_pidns, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (stdout, _) = attached(&mut child, &format!("new pid namespace: {new_pidns}"));
        // `ip netns exec` execs its command; unshare forks flowtrace.
        let pid = if new_pidns { only_child(child.id()) } else { child.id() as i32 };
        Instance { child, pid, stdout }
    }

    /// SIGINT, then the exit: stdout and stderr.
    fn stop(mut self) -> (String, String) {
        // SAFETY: kill(2) on a process of this test's.
        unsafe { libc::kill(self.pid, libc::SIGINT) };
        let start = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(start.elapsed() < Duration::from_secs(20), "flowtrace did not exit after SIGINT");
            std::thread::sleep(Duration::from_millis(20));
        }
        let (mut out, mut err) = (String::new(), String::new());
        self.stdout.read_to_string(&mut out).unwrap();
        self.child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        (out, err)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The one child of process `pid` (as the host's PID namespace numbers it).
fn only_child(pid: u32) -> i32 {
    let path = format!("/proc/{pid}/task/{pid}/children");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let kids: Vec<i32> = text.split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert_eq!(kids.len(), 1, "children of unshare: {text:?}");
    kids[0]
}

/// How many of flowtrace's filters are on veth-a egress, per the kernel.
fn our_filters(lab: &Lab) -> usize {
    lab.filters(&lab.a, &lab.va, "egress").matches("flowtrace/").count()
}

/// A run to completion, with its output.
fn run(lab: &Lab, new_pidns: bool, args: &[&str]) -> Output {
    flowtrace(lab, new_pidns, args).output().unwrap()
}

#[test]
fn root_tc_cleanup_spares_live_runs_in_other_pid_namespaces() {
    if !root_tests_enabled("root_tc_cleanup_spares_live_runs_in_other_pid_namespaces") {
        return;
    }
    require_tool("unshare");
    let lab = Lab::new("p");
    let script = "tc:veth-a:egress /proto == IPPROTO_UDP/ { @sent = count(); }";
    let host = Instance::start(&lab, false, &["-e", script]);
    let boxed = Instance::start(&lab, true, &["-e", script]);
    assert_eq!(our_filters(&lab), 2, "{}", lab.filters(&lab.a, &lab.va, "egress"));

    // --cleanup-stale on its own, from the host's PID namespace and from a
    // third one: both live runs' filters stay.
    for new_pidns in [false, true] {
        let out = run(&lab, new_pidns, &["--cleanup-stale"]);
        let err = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "cleanup (new pid namespace: {new_pidns}): {err}");
        assert!(!err.contains("removed"), "cleanup (new pid namespace: {new_pidns}) removed a live filter: {err}");
        assert_eq!(our_filters(&lab), 2, "after cleanup (new pid namespace: {new_pidns}):\n{}", lab.filters(&lab.a, &lab.va, "egress"));
    }
    // A third run starting up, with --cleanup-stale and without, in either
    // namespace, neither warns about nor removes them.
    for (new_pidns, cleanup) in [(false, true), (true, true), (false, false), (true, false)] {
        let mut args = vec!["-e", "tc:veth-a:ingress { @n = count(); }"];
        if cleanup {
            args.insert(0, "--cleanup-stale");
        }
        let (_, err) = Instance::start(&lab, new_pidns, &args).stop();
        assert!(!err.contains("removed stale") && !err.contains("no longer running"), "third run ({new_pidns}, {cleanup}): {err}");
        assert_eq!(our_filters(&lab), 2, "after a third run ({new_pidns}, {cleanup})");
    }

    let n = 20;
    let srv = serve(udp_bound(&lab.b, sa(B4, 9999)), false, Duration::from_millis(500));
    send_udp(&lab.a, sa(A4, 40001), sa(B4, 9999), n, 64, false);
    assert_eq!(srv.join().unwrap(), n);
    for (who, instance) in [("host", host), ("new pid namespace", boxed)] {
        let (out, err) = instance.stop();
        assert!(out.contains(&format!("@sent: {n}\n")), "{who}: every packet counted:\n{out}\n{err}");
    }
    assert_eq!(our_filters(&lab), 0, "both removed their own filters on exit");

    // A SIGKILLed run in a PID namespace of its own is dead to the host's.
    let mut boxed = Instance::start(&lab, true, &["-e", script]);
    // SAFETY: kill(2) on a process of this test's.
    unsafe { libc::kill(boxed.pid, libc::SIGKILL) };
    boxed.child.wait().unwrap();
    assert_eq!(our_filters(&lab), 1, "a SIGKILLed run leaves its filter");
    let out = run(&lab, false, &["--cleanup-stale"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("removed stale filter veth-a egress"), "{out:?}");
    assert_eq!(our_filters(&lab), 0);
}
