//! End-to-end tests of the `flowtrace` binary on the host kernel: real
//! verifier, real tracepoints and perf events, deterministic loopback traffic,
//! exact values, and cleanup checked through the kernel (bpf prog/map ids),
//! not through flowtrace's own bookkeeping.
//!
//! They need root. They run when FLOWTRACE_ROOT_TESTS=1 (the test command's
//! root tier sets it, with --test-threads=1 so traffic of one test cannot reach
//! another's probes); otherwise each prints a loud SKIPPED line.

use std::io::{BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use flowtrace_testkit::process::attached;
use flowtrace_testkit::objects::{flowtrace_objects as ours_in_kernel, flowtrace_objects_after_grace as nothing_of_ours_in_kernel};
use flowtrace_testkit::root_tests_enabled as enabled;
use flowtrace_testkit::traffic::close_cycles;

fn flowtrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flowtrace"))
}

/// Runs flowtrace to completion with a hard limit.
fn run(args: &[&str]) -> Output {
    let mut child = flowtrace().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_bounded(&mut child, Duration::from_secs(30));
    child.wait_with_output().unwrap()
}

fn wait_bounded(child: &mut Child, limit: Duration) {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("flowtrace did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A flowtrace running in the background, attached (its "Attaching" line seen).
struct Tracer {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
    head: String,
}

impl Tracer {
    fn start(args: &[&str]) -> Tracer {
        let mut child = flowtrace().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (stdout, head) = attached(&mut child, &args.join(" "));
        Tracer { child, stdout, head }
    }

    fn signal(mut self, sig: libc::c_int) -> (String, std::process::ExitStatus) {
        unsafe { libc::kill(self.child.id() as i32, sig) };
        wait_bounded(&mut self.child, Duration::from_secs(20));
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        (self.head + &rest, self.child.wait().unwrap())
    }
}



fn map_lines(out: &str, map: &str) -> Vec<String> {
    let mut lines: Vec<String> = out.lines().filter(|l| l.starts_with(map)).map(str::to_string).collect();
    lines.sort();
    lines
}

#[test]
fn root_state_transitions_are_counted_exactly() {
    if !enabled("root_state_transitions_are_counted_exactly") {
        return;
    }
    // The port is only known once bound, so bind first and pass it as $1.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    drop(listener);
    let script = "tracepoint:sock:inet_sock_set_state /args.sport == $1 || args.dport == $1/ \
                  { @s[args.oldstate, args.newstate] = count(); }";
    let tracer = Tracer::start(&["-e", script, &port]);
    let n = 5;
    let listener = TcpListener::bind(("127.0.0.1", port.parse::<u16>().unwrap())).unwrap();
    close_cycles(&listener, n).unwrap();
    drop(listener);
    std::thread::sleep(Duration::from_millis(100));
    let (out, status) = tracer.signal(libc::SIGINT);
    assert!(status.success(), "{out}");
    // TCP_ESTABLISHED=1 SYN_SENT=2 SYN_RECV=3 FIN_WAIT1=4 FIN_WAIT2=5 CLOSE=7
    // CLOSE_WAIT=8 LAST_ACK=9 LISTEN=10.
    let expected = [
        "@s[1, 4]: 5",  // client: ESTABLISHED -> FIN_WAIT1
        "@s[1, 8]: 5",  // server: ESTABLISHED -> CLOSE_WAIT
        "@s[10, 3]: 5", // listener: request socket LISTEN -> SYN_RECV
        "@s[10, 7]: 1", // listener closed
        "@s[2, 1]: 5",  // client: SYN_SENT -> ESTABLISHED
        "@s[3, 1]: 5",  // server: SYN_RECV -> ESTABLISHED
        "@s[4, 5]: 5",  // FIN_WAIT1 -> FIN_WAIT2
        "@s[5, 7]: 5",  // FIN_WAIT2 -> CLOSE (into TIME_WAIT)
        "@s[7, 10]: 1", // listen()
        "@s[7, 2]: 5",  // connect()
        "@s[8, 9]: 5",  // CLOSE_WAIT -> LAST_ACK
        "@s[9, 7]: 5",  // LAST_ACK -> CLOSE
    ];
    assert_eq!(map_lines(&out, "@s["), expected.map(String::from).to_vec(), "output:\n{out}");
}

#[test]
fn root_command_mode_prints_maps_when_the_command_exits() {
    if !enabled("root_command_mode_prints_maps_when_the_command_exits") {
        return;
    }
    let out = run(&[
        "-c",
        "/bin/sh -c 'for i in 1 2 3 4 5 6 7; do /bin/true; done'",
        "-e",
        "tracepoint:sched:sched_process_exec /comm == \"true\"/ { @execs[comm] = count(); }",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(map_lines(&stdout, "@execs"), vec!["@execs[true]: 7"], "{stdout}");
}

#[test]
fn root_interval_ticks_and_exit() {
    if !enabled("root_interval_ticks_and_exit") {
        return;
    }
    let start = Instant::now();
    let out = run(&["-e", "interval:ms:100 { @ticks = count(); if (@ticks == 5) { printf(\"done\\n\"); exit(); } }"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(stdout.contains("done\n"), "{stdout}");
    assert!(stdout.contains("@ticks: 5\n"), "{stdout}");
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(450), "5 ticks of 100 ms took only {took:?}");
}

#[test]
fn root_printf_conversions() {
    if !enabled("root_printf_conversions") {
        return;
    }
    let out = run(&[
        "-e",
        r#"BEGIN { printf("%d|%5d|%-5d|%u|%x|%08x|%s|%-6s|%c|%lu|%%\n", -3, 42, 7, 9, 255, 48879, "str", "ab", 65, 18446744073709551615); exit(); }"#,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // The trailing `%%` prints `%%`, as bpftrace 0.17 prints this very program
    // (it copies the text after the last conversion unchanged).
    assert!(stdout.contains("-3|   42|7    |9|ff|0000beef|str|ab    |A|18446744073709551615|%%\n"), "{stdout}");
}

/// The widest width the checker accepts pads exactly, through the kernel.
#[test]
fn root_printf_widest_width() {
    if !enabled("root_printf_widest_width") {
        return;
    }
    let w = flowtrace_stdlib::printf::MAX_WIDTH;
    let program = format!(r#"BEGIN {{ printf("%{w}d|%-{w}s|%.{w}s|\n", 42, "ab", "cd"); exit(); }}"#);
    let out = run(&["-e", &program]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let want = format!("{}42|ab{}|cd|", " ".repeat(w - 2), " ".repeat(w - 2));
    let printed: Vec<&str> = stdout.lines().filter(|l| l.ends_with("|cd|")).collect();
    assert_eq!(printed.len(), 1, "{stdout}");
    assert!(printed[0] == want, "expected a line of {} bytes, got {}: {:?}", want.len(), printed[0].len(), printed[0]);
    // One wider is a compile-time error pointing at the conversion.
    let out = run(&["-e", &format!(r#"BEGIN {{ printf("%{}d\n", 42); exit(); }}"#, w + 1)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("width or precision above") && stderr.contains("^~"), "{stderr}");
}

#[test]
fn root_sigint_and_sigterm_leave_nothing_attached() {
    if !enabled("root_sigint_and_sigterm_leave_nothing_attached") {
        return;
    }
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "flowtrace objects left over by an earlier run");
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let tracer = Tracer::start(&[
            "-e",
            "tracepoint:sock:inet_sock_set_state { @[args.newstate] = count(); } interval:s:1 { @ticks = count(); }",
        ]);
        let (progs, maps) = ours_in_kernel();
        assert_eq!(progs, 2, "two programs loaded while tracing");
        assert!(maps >= 2, "maps exist while tracing");
        close_cycles(&TcpListener::bind("127.0.0.1:0").unwrap(), 2).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let (out, status) = tracer.signal(sig);
        assert!(status.success(), "signal {sig}: {status:?}");
        assert!(out.contains("@[1]: 4"), "maps printed at exit on signal {sig}:\n{out}");
        assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "nothing of flowtrace left after signal {sig}");
    }
}

#[test]
fn root_timeout_output_file_and_json() {
    if !enabled("root_timeout_output_file_and_json") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("ft-out-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("out.json");
    let out = run(&[
        "--timeout",
        "0.5",
        "-f",
        "json",
        "-o",
        file.to_str().unwrap(),
        "-e",
        "BEGIN { @start = 1; printf(\"begun\\n\"); }",
    ]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines,
        vec![
            r#"{"type": "attached_probes", "data": {"probes": 1}}"#,
            r#"{"type": "printf", "data": "begun\n"}"#,
            r#"{"type": "map", "data": {"@start": 1}}"#,
        ],
        "{text}"
    );
}

#[test]
fn root_bad_input_exits_1_and_attaches_nothing() {
    if !enabled("root_bad_input_exits_1_and_attaches_nothing") {
        return;
    }
    for (script, needle) in [
        ("tracepoint:sock:inet_sock_set_state { @x = args.nosuch; }", "error:"),
        ("tracepoint:nosuch:thing { @x = count(); }", "error:"),
        ("kprobe:tcp_retransmit_skb { @[comm] = count(); }", "tracepoint:tcp:tcp_retransmit_skb"),
    ] {
        let out = run(&["-e", script]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{script}: {stderr}");
        assert!(stderr.contains(needle), "{script}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "nothing left after {script}");
    }
}

#[test]
fn root_map_full_is_reported_not_silent() {
    if !enabled("root_map_full_is_reported_not_silent") {
        return;
    }
    let out = run(&["--map-keys", "4", "-e", "interval:ms:10 { @n = count(); @k[@n] = count(); if (@n >= 10) { exit(); } }"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert_eq!(map_lines(&stdout, "@k[").len(), 4, "{stdout}");
    assert!(stdout.contains("@k: 6 updates dropped: map full (4 keys); raise --map-keys\n"), "{stdout}");
}

#[test]
fn root_verifier_rejection_points_at_the_source() {
    if !enabled("root_verifier_rejection_points_at_the_source") {
        return;
    }
    // An unbounded loop: the verifier gives up after a million instructions.
    // (As a back edge: with bpf_loop, which this kernel has, such a while is
    // accepted and cut at 2^23 rounds.)
    let mut child = flowtrace()
        .args(["-e", "BEGIN { $i = 0; while ($i >= 0) { $i = $i + 1; } }"])
        .env("FLOWTRACE_NO_BPF_LOOP", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_bounded(&mut child, Duration::from_secs(30));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("error: the kernel verifier rejected the program for 'BEGIN'"), "{stderr}");
    assert!(stderr.contains("BEGIN { $i = 0; while ($i >= 0) { $i = $i + 1; } }\n"), "source line shown: {stderr}");
    assert!(stderr.contains("verifier log (last lines):"), "{stderr}");
    assert!(stderr.contains("processed 1000001 insns"), "{stderr}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0));
}

#[test]
fn root_list_matches_tracepoints_and_functions() {
    if !enabled("root_list_matches_tracepoints_and_functions") {
        return;
    }
    let out = run(&["-l", "tracepoint:tcp:tcp_re*"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().any(|l| l == "tracepoint:tcp:tcp_retransmit_skb"), "{stdout}");
    assert!(stdout.lines().all(|l| l.starts_with("tracepoint:tcp:tcp_re")), "{stdout}");
    let out = run(&["-l", "kprobe:tcp_retransmit_sk*"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kprobe:tcp_retransmit_skb\n");
    // Every provider naming functions or tracepoints lists, under its canonical name.
    let out = run(&["-l", "kr:tcp_retransmit_sk*"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "kretprobe:tcp_retransmit_skb\n");
    let out = run(&["-l", "rawtracepoint:tcp_retransmit_sk*"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "rawtracepoint:tcp_retransmit_skb\n");
}
