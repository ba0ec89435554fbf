//! flowtrace with only the capabilities deploy/daemonset.yaml grants — BPF,
//! PERFMON, NET_ADMIN, SYS_RESOURCE, no SYS_ADMIN — runs a tracepoint probe
//! and a `tc:` probe and prints exact counts; without CAP_BPF it fails with
//! an error that names the capability, exits non-zero and leaves nothing
//! attached.
//!
//! The capabilities are dropped with `setpriv --bounding-set`: for a root
//! process, execve grants exactly the bounding set (the inheritable and
//! ambient sets are empty), so the flowtrace under it has no other
//! capability. The test checks that on the child's /proc status rather than
//! trusting the invocation.
//!
//! Root only: they run when FLOWTRACE_ROOT_TESTS=1, else print SKIPPED.

use flowtrace_testkit::gate::require_tool;
use flowtrace_testkit::objects::flowtrace_objects_after_grace as nothing_of_ours_in_kernel;
use flowtrace_testkit::process::attached;
use flowtrace_testkit::root_tests_enabled;
use std::io::Read;
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_SYS_RESOURCE: u32 = 24;
const CAP_PERFMON: u32 = 38;
const CAP_BPF: u32 = 39;

/// The DaemonSet's capabilities, as setpriv spells them.
const FLEET_CAPS: &str = "-all,+bpf,+perfmon,+net_admin,+sys_resource";

/// `program` under setpriv keeping only `bounding` (setpriv's syntax).
fn with_caps(bounding: &str, program: &str) -> Command {
    let mut c = Command::new(require_tool("setpriv"));
    c.args(["--bounding-set", bounding, "--", program]);
    c
}

/// The effective capability bits a process started with `bounding` gets.
fn effective_caps(bounding: &str) -> u64 {
    let out = with_caps(bounding, "cat").arg("/proc/self/status").output().unwrap();
    assert!(out.status.success(), "setpriv: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let hex = text.lines().find_map(|l| l.strip_prefix("CapEff:")).expect("CapEff in /proc/self/status");
    u64::from_str_radix(hex.trim(), 16).unwrap()
}

fn bit(cap: u32) -> u64 {
    1 << cap
}

/// A flowtrace the test started, SIGKILLed if an assertion fails first.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Whether lo has a clsact qdisc now (flowtrace adds one and removes it).
fn lo_has_clsact() -> bool {
    let out = Command::new(require_tool("tc")).args(["qdisc", "show", "dev", "lo"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).contains("clsact")
}

/// The tracepoint counts getppid(2) calls of this process; the tc probe
/// counts UDP datagrams to `port` leaving through lo.
fn script(port: u16) -> String {
    format!(
        "tracepoint:syscalls:sys_enter_getppid /pid == {}/ {{ @calls = count(); }} \
         tc:lo:egress /proto == IPPROTO_UDP && dport == {port}/ {{ @udp[saddr, daddr, dport] = count(); }}",
        std::process::id()
    )
}

fn wait_exit(f: &mut Running) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = f.0.try_wait().unwrap() {
            return s;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "flowtrace did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `flowtrace` (the end of `cmd`) with [`script`], makes 7 getppid
/// calls and 3 datagrams, stops it with SIGINT; what it printed, and the
/// port. Panics (killing it) if it fails.
fn count_traffic(mut cmd: Command, what: &str) -> (String, u16) {
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sink.local_addr().unwrap().port();
    let child = cmd.args(["-e", &script(port)]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut ft = Running(child);
    let (mut stdout, head) = attached(&mut ft.0, what);
    for _ in 0..7 {
        // SAFETY: getppid has no preconditions; glibc does not cache it.
        unsafe { libc::getppid() };
    }
    let sender = UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..3 {
        sender.send_to(b"x", ("127.0.0.1", port)).unwrap();
    }
    // SAFETY: kill(2) on our own unreaped child.
    unsafe { libc::kill(ft.0.id() as i32, libc::SIGINT) };
    let mut out = head;
    stdout.read_to_string(&mut out).unwrap();
    let mut err = String::new();
    ft.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = wait_exit(&mut ft);
    assert!(status.success(), "flowtrace failed ({what}): {status}\n{out}\n{err}");
    (out, port)
}

#[test]
fn root_caps_fleet_capabilities_are_enough_for_tracepoints_and_tc() {
    if !root_tests_enabled("root_caps_fleet_capabilities_are_enough_for_tracepoints_and_tc") {
        return;
    }
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "flowtrace objects left over by an earlier run");
    // The child really runs without CAP_SYS_ADMIN, with the three it needs
    // (CAP_SYS_RESOURCE too, if the test itself has it to give).
    let caps = effective_caps(FLEET_CAPS);
    let needed = bit(CAP_BPF) | bit(CAP_PERFMON) | bit(CAP_NET_ADMIN);
    assert_eq!(caps & needed, needed, "capabilities {caps:#x}");
    assert_eq!(caps & !(needed | bit(CAP_SYS_RESOURCE)), 0, "only the fleet's capabilities: {caps:#x}");
    assert_eq!(caps & bit(CAP_SYS_ADMIN), 0);
    let clsact_before = lo_has_clsact();

    let (out, port) = count_traffic(with_caps(FLEET_CAPS, env!("CARGO_BIN_EXE_flowtrace")), "fleet capabilities");
    let maps: Vec<&str> = out.lines().filter(|l| l.starts_with('@')).collect();
    assert_eq!(maps, ["@calls: 7".to_string(), format!("@udp[127.0.0.1, 127.0.0.1, {port}]: 3")], "{out}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "nothing of flowtrace left after SIGINT");
    assert_eq!(lo_has_clsact(), clsact_before, "lo's qdiscs as they were");
    // Nothing left pinned on bpffs either (the loader unpins at once).
    let pins: Vec<String> = std::fs::read_dir("/sys/fs/bpf")
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    assert!(!pins.iter().any(|p| p.starts_with("flowtrace-load-")), "{pins:?}");
}

#[test]
fn root_caps_without_cap_bpf_fails_clearly_and_leaves_nothing() {
    if !root_tests_enabled("root_caps_without_cap_bpf_fails_clearly_and_leaves_nothing") {
        return;
    }
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "flowtrace objects left over by an earlier run");
    let no_bpf = "-all,+perfmon,+net_admin,+sys_resource";
    assert_eq!(effective_caps(no_bpf) & (bit(CAP_BPF) | bit(CAP_SYS_ADMIN)), 0);
    let clsact_before = lo_has_clsact();
    let child = with_caps(no_bpf, env!("CARGO_BIN_EXE_flowtrace"))
        .args(["-e", &script(9)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ft = Running(child);
    let status = wait_exit(&mut ft);
    let (mut out, mut err) = (String::new(), String::new());
    ft.0.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    ft.0.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(1), "a clean failure, not a crash: {status}\n{err}");
    assert_eq!(out, "", "nothing attached, nothing printed");
    assert!(err.starts_with("flowtrace: error: creating map"), "{err}");
    assert!(err.contains("BPF needs CAP_BPF") && err.contains("Operation not permitted"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "nothing of flowtrace left");
    assert_eq!(lo_has_clsact(), clsact_before, "lo's qdiscs as they were");
}

/// `/sys/fs/bpf/flowtrace` on the host bpffs, removed on drop if the test
/// made it (it must be empty by then: the loader leaves no pins).
struct OwnPinDir {
    made: bool,
}

const OWN_PIN_DIR: &str = "/sys/fs/bpf/flowtrace";

impl OwnPinDir {
    fn new() -> OwnPinDir {
        let made = !std::path::Path::new(OWN_PIN_DIR).exists();
        if made {
            std::fs::create_dir(OWN_PIN_DIR).unwrap();
        }
        OwnPinDir { made }
    }
}

impl Drop for OwnPinDir {
    fn drop(&mut self) {
        if self.made {
            let _ = std::fs::remove_dir(OWN_PIN_DIR);
        }
    }
}

/// flowtrace with the fleet's capabilities in a private mount namespace
/// laid out as deploy/daemonset.yaml mounts bpffs: all of it read-only,
/// and `/sys/fs/bpf/flowtrace` writable when `own_dir_writable`.
fn in_daemonset_layout(own_dir_writable: bool) -> Command {
    let mut layout = "mount --bind /sys/fs/bpf /sys/fs/bpf && mount -o remount,bind,ro /sys/fs/bpf".to_string();
    if own_dir_writable {
        // A bind mount takes its source mount's read-only flag: made writable again.
        layout += &format!(" && mount --bind {OWN_PIN_DIR} {OWN_PIN_DIR} && mount -o remount,bind,rw {OWN_PIN_DIR}");
    }
    let exec = format!("exec setpriv --bounding-set {FLEET_CAPS} -- \"$0\" \"$@\"");
    let mut c = Command::new(require_tool("unshare"));
    c.args(["--mount", "--propagation", "private", "sh", "-c", &format!("{layout} && {exec}"), env!("CARGO_BIN_EXE_flowtrace")]);
    c
}

#[test]
fn root_caps_daemonset_bpffs_layout_pins_only_in_its_own_directory() {
    if !root_tests_enabled("root_caps_daemonset_bpffs_layout_pins_only_in_its_own_directory") {
        return;
    }
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "flowtrace objects left over by an earlier run");
    let own = OwnPinDir::new();

    // Read-only everywhere: the pin is refused, and the error says where to make room.
    let out = in_daemonset_layout(false).args(["-e", &script(9)]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("BPF_PROG_GET_FD_BY_ID, which needs CAP_SYS_ADMIN"), "{err}");
    assert!(err.contains(&format!("pinning it at {OWN_PIN_DIR}/flowtrace-load-")) && err.contains("Read-only file system"), "{err}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "nothing of flowtrace left after the refused pin");

    // With its own directory writable, as the DaemonSet mounts it: exact counts.
    let (out, port) = count_traffic(in_daemonset_layout(true), "DaemonSet bpffs layout");
    let maps: Vec<&str> = out.lines().filter(|l| l.starts_with('@')).collect();
    assert_eq!(maps, ["@calls: 7".to_string(), format!("@udp[127.0.0.1, 127.0.0.1, {port}]: 3")], "{out}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "nothing of flowtrace left after SIGINT");
    let left: Vec<_> = std::fs::read_dir(OWN_PIN_DIR).unwrap().filter_map(Result::ok).map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "pins left in {OWN_PIN_DIR}: {left:?}");
    drop(own);
}
