//! kprobe/fentry behaviour on the host kernel, whatever it supports (the CI
//! host has neither kprobes nor fentry; the guests in tests/vm have both):
//! what `kprobe:` does on a kernel without kprobes, and the host half of the
//! cross-kernel struct-offset check (tests/vm/80-struct-offsets.sh reads the
//! same `struct sock_common` fields through a kprobe on 6.1 and 6.12).
//!
//! They need root: they run when FLOWTRACE_ROOT_TESTS=1, otherwise each
//! prints a loud SKIPPED line.

use flowtrace_runtime::capabilities;
use flowtrace_testkit::gate::{root_tests_enabled as enabled, skipped};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};


fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` with a hard limit, then collects its output.
fn finish(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("flowtrace did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn root_kprobe_without_kprobes_is_fentry_or_a_clear_error() {
    if !enabled("root_kprobe_without_kprobes_is_fentry_or_a_clear_error") {
        return;
    }
    if capabilities::kprobes_available() {
        skipped("root_kprobe_without_kprobes_is_fentry_or_a_clear_error", "this kernel has kprobes");
        return;
    }
    let fentry_works = capabilities::fentry_refusal("tcp_retransmit_skb", false).is_none();
    let out = finish(
        spawn(&["--timeout", "0.5", "-e", "kprobe:tcp_retransmit_skb { @[comm] = count(); }"]),
        Duration::from_secs(30),
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(!stderr.contains("os error"), "a raw errno reached the user:\n{stderr}");
    if fentry_works {
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.starts_with("flowtrace: this kernel has no kprobes; running kprobe/kretprobe probes as fentry/fexit"));
        return;
    }
    assert_eq!(out.status.code(), Some(1), "stdout {stdout}\nstderr {stderr}");
    assert!(stdout.is_empty(), "nothing is attached, so nothing is printed: {stdout}");
    assert!(stderr.contains("cannot attach 'kprobe:tcp_retransmit_skb'"), "{stderr}");
    assert!(stderr.contains("no kprobes (built without CONFIG_KPROBES)"), "{stderr}");
    assert!(stderr.contains("cannot run fentry programs either"), "{stderr}");
    // The hint names the tracepoint, and it exists here.
    assert!(stderr.contains("hint: `tracepoint:tcp:tcp_retransmit_skb` fires in the same place"), "{stderr}");
    assert!(std::path::Path::new("/sys/kernel/tracing/events/tcp/tcp_retransmit_skb").exists());
    // The error is rendered against the source, with a caret line.
    assert!(stderr.contains("^~~~"), "{stderr}");
}

#[test]
fn root_fentry_refusal_is_explained() {
    if !enabled("root_fentry_refusal_is_explained") {
        return;
    }
    if capabilities::fentry_refusal("tcp_sendmsg", false).is_none() {
        skipped("root_fentry_refusal_is_explained", "fentry works on this kernel");
        return;
    }
    let out = finish(spawn(&["-e", "fentry:tcp_sendmsg { @[comm] = count(); }"]), Duration::from_secs(30));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("os error"), "{stderr}");
    assert!(stderr.contains("cannot attach 'fentry:tcp_sendmsg': this kernel cannot run fentry/fexit programs"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
}

/// The host form of tests/vm/80-struct-offsets.sh: the same `struct
/// sock_common` fields, reached from a tracepoint's socket pointer, show the
/// loopback connection (this kernel's offsets differ from 6.1's and 6.12's).
#[test]
fn root_sock_common_fields_through_a_tracepoint_pointer() {
    if !enabled("root_sock_common_fields_through_a_tracepoint_pointer") {
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = "tracepoint:sock:inet_sock_set_state /args.newstate == 1 && args.dport == $1/ {
        $sk = (struct sock *)args.skaddr;
        printf(\"daddr=%s dport=%d family=%d\\n\", ntop($sk->__sk_common.skc_daddr),
               bswap($sk->__sk_common.skc_dport), $sk->__sk_common.skc_family);
        exit();
    }";
    let mut child = spawn(&["--timeout", "20", "-e", script, &port.to_string()]);
    let mut stdout = child.stdout.take().unwrap();
    let mut head = [0u8; 9];
    stdout.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"Attaching", "flowtrace did not attach");
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    let mut rest = String::new();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    stdout.read_to_string(&mut rest).unwrap();
    drop((client, server));
    let expected = format!("daddr=127.0.0.1 dport={port} family=2");
    assert!(rest.lines().any(|l| l == expected), "expected {expected:?} in:\n{rest}");
}
