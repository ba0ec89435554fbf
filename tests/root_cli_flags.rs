//! bpftrace's command-line flags on the host kernel: `-l`/`-lv` against
//! what tracefs and BTF say (read here independently, through tracefs and
//! bpftool), `-l FILE`, `-q`, `-p PID`, `-B`, named parameters, a script on
//! standard input, `-v` and `--info`. Root only (FLOWTRACE_ROOT_TESTS=1).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use flowtrace_testkit::objects::flowtrace_objects_after_grace as nothing_of_ours_in_kernel;
use flowtrace_testkit::process::attached;
use flowtrace_testkit::root_tests_enabled as enabled;

fn flowtrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flowtrace"))
}

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

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "exit {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A tracepoint's fields as its tracefs format declares them, minus the
/// `common_` header: what `-lv` must print, read without flowtrace.
fn format_fields(category: &str, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(format!("/sys/kernel/tracing/events/{category}/{name}/format")).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("field:"))
        .map(|l| l.split(';').next().unwrap().trim().to_string())
        .filter(|decl| !decl.rsplit(' ').next().unwrap().starts_with("common_"))
        .collect()
}

#[test]
fn root_lv_tracepoint_fields_match_tracefs() {
    if !enabled("root_lv_tracepoint_fields_match_tracefs") {
        return;
    }
    for (category, name) in [("tcp", "tcp_probe"), ("sock", "inet_sock_set_state"), ("sched", "sched_process_exec"), ("syscalls", "sys_enter_openat")] {
        let out = stdout(&run(&["-lv", &format!("tracepoint:{category}:{name}")]));
        let mut want = format!("tracepoint:{category}:{name}\n");
        for decl in format_fields(category, name) {
            want.push_str(&format!("    {decl}\n"));
        }
        assert_eq!(out, want);
    }
    // The same as bpftrace 0.17 prints (it has -lv for tracepoints).
    let bpftrace = flowtrace_testkit::gate::require_tool("bpftrace");
    for tp in ["tracepoint:tcp:tcp_probe", "tracepoint:sched:sched_process_exec"] {
        let theirs = Command::new(&bpftrace).args(["-lv", tp]).output().unwrap();
        assert_eq!(stdout(&run(&["-lv", tp])), String::from_utf8_lossy(&theirs.stdout), "{tp}");
    }
    // bpftrace's long form and -l -v in either order list the same.
    let a = stdout(&run(&["--list", "-v", "tracepoint:tcp:tcp_probe"]));
    let b = stdout(&run(&["-v", "-l", "tracepoint:tcp:tcp_probe"]));
    assert_eq!(a, b);
    assert!(a.starts_with("tracepoint:tcp:tcp_probe\n    "), "{a}");
}

/// `struct NAME { … };` as bpftool prints it from the same BTF (libbpf's C
/// dumper, which bpftrace also uses).
fn bpftool_struct(name: &str) -> String {
    let out = Command::new("bpftool").args(["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"]).output().unwrap();
    assert!(out.status.success(), "bpftool: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let head = format!("\nstruct {name} {{\n");
    let start = text.find(&head).unwrap_or_else(|| panic!("no struct {name} in bpftool's dump")) + 1;
    let end = start + text[start..].find("\n};\n").unwrap() + 3;
    text[start..end].to_string()
}

#[test]
fn root_lv_struct_matches_btf() {
    if !enabled("root_lv_struct_matches_btf") {
        return;
    }
    // Structs without alignment holes (bpftool writes those as `long: N;`
    // padding members; flowtrace and bpftrace's listing leave them out).
    for name in ["in6_addr", "sk_buff", "tcphdr", "iphdr", "sock_common"] {
        let out = stdout(&run(&["-lv", &format!("struct {name}")]));
        assert_eq!(out, format!("vmlinux: {}\n", bpftool_struct(name)), "struct {name}");
    }
    // bpftrace 0.17 prints the same definitions, without today's `vmlinux: `
    // prefix and with a blank line after each.
    let bpftrace = flowtrace_testkit::gate::require_tool("bpftrace");
    for name in ["in6_addr", "sk_buff", "tcphdr", "iphdr"] {
        let theirs = Command::new(&bpftrace).args(["-lv", &format!("struct {name}")]).output().unwrap();
        let ours = stdout(&run(&["-lv", &format!("struct {name}")]));
        assert_eq!(format!("{}\n", ours.strip_prefix("vmlinux: ").unwrap()), String::from_utf8_lossy(&theirs.stdout), "struct {name}");
    }
    // Without -v: the names matching the glob, sorted.
    let out = stdout(&run(&["-l", "struct sock_c*"]));
    assert!(out.lines().any(|l| l == "struct sock_common"), "{out}");
    assert!(out.lines().all(|l| l.starts_with("struct sock_c")), "{out}");
    // Several patterns at once, as bpftrace takes them.
    let out = stdout(&run(&["-lv", "struct in6_addr,struct iphdr"]));
    assert_eq!(out, format!("vmlinux: {}\nvmlinux: {}\n", bpftool_struct("in6_addr"), bpftool_struct("iphdr")));
}

#[test]
fn root_lv_raw_tracepoint_args_come_from_btf() {
    if !enabled("root_lv_raw_tracepoint_args_come_from_btf") {
        return;
    }
    // tcp_probe's raw arguments: (struct sock *sk, const struct sk_buff *skb)
    // after the `void *__data` every __bpf_trace_ function starts with.
    let out = stdout(&run(&["-lv", "rawtracepoint:tcp_probe"]));
    assert_eq!(out, "rawtracepoint:tcp_probe\n    struct sock * sk\n    const struct sk_buff * skb\n");
    let out = stdout(&run(&["-lv", "fentry:tcp_close,fexit:tcp_v4_connect"]));
    assert_eq!(
        out,
        "fentry:tcp_close\n    struct sock * sk\n    long int timeout\n\
         fexit:tcp_v4_connect\n    struct sock * sk\n    struct sockaddr * uaddr\n    int addr_len\n    int retval\n"
    );
    // A kprobe reads registers: the same parameters, named as it reads them.
    let out = stdout(&run(&["-lv", "kprobe:tcp_v4_connect,kr:tcp_v4_connect"]));
    assert_eq!(out, "kprobe:tcp_v4_connect\n    struct sock * arg0\n    struct sockaddr * arg1\n    int arg2\nkretprobe:tcp_v4_connect\n    int retval\n");
    let out = stdout(&run(&["-l", "interval:*"]));
    assert_eq!(out, "interval:hz:\ninterval:us:\ninterval:ms:\ninterval:s:\n");
}

#[test]
fn root_list_file_and_program_list_what_they_attach() {
    if !enabled("root_list_file_and_program_list_what_they_attach") {
        return;
    }
    let script = std::env::temp_dir().join(format!("ft-list-{}.ft", std::process::id()));
    std::fs::write(&script, "tracepoint:tcp:tcp_re* { @[probe] = count(); }\ninterval:ms:500 { exit(); }\nBEGIN { }\n").unwrap();
    let out = stdout(&run(&["-l", script.to_str().unwrap()]));
    let mut want: String = format_events("tcp", "tcp_re").iter().map(|n| format!("tracepoint:tcp:{n}\n")).collect();
    want.push_str("interval:ms:\n");
    assert_eq!(out, want);
    // -l -e lists the same program the same way; nothing is loaded.
    let text = std::fs::read_to_string(&script).unwrap();
    assert_eq!(stdout(&run(&["-l", "-e", &text])), want);
    std::fs::remove_file(&script).unwrap();
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0));
}

/// Event names in CATEGORY starting with PREFIX, sorted, from tracefs.
fn format_events(category: &str, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(format!("/sys/kernel/tracing/events/{category}"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("format").is_file())
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

#[test]
fn root_quiet_leaves_out_the_attaching_line() {
    if !enabled("root_quiet_leaves_out_the_attaching_line") {
        return;
    }
    let prog = "BEGIN { printf(\"x\\n\"); exit(); }";
    // bpftrace 0.17 prints exactly this for -q (checked by hand): the line,
    // then the blank lines it ends a run with.
    assert_eq!(stdout(&run(&["-q", "-e", prog])), "x\n\n\n");
    assert_eq!(stdout(&run(&["-e", prog])), "Attaching 1 probe...\nx\n\n\n");
}

#[test]
fn root_pid_filters_events_and_ends_when_the_process_exits() {
    if !enabled("root_pid_filters_events_and_ends_when_the_process_exits") {
        return;
    }
    // A shell that reads two lines from us and exits: its reads are its own
    // syscalls; this test process's reads (of the tracer's output) are not.
    let mut target = Command::new("/bin/sh").args(["-c", "read a; read b"]).stdin(Stdio::piped()).spawn().unwrap();
    let pid = target.id().to_string();
    let prog = "tracepoint:syscalls:sys_enter_read { printf(\"%d\\n\", pid); }";
    let mut tracer = flowtrace().args(["-p", &pid, "-e", prog]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (mut out, head) = attached(&mut tracer, "-p");
    let mut input = target.stdin.take().unwrap();
    input.write_all(b"one\ntwo\n").unwrap();
    drop(input);
    // The shell exits; the tracer must notice and stop by itself.
    let started = Instant::now();
    wait_bounded(&mut tracer, Duration::from_secs(10));
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?} to notice the exit", started.elapsed());
    let _ = target.wait();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = tracer.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let pids: Vec<&str> = rest.lines().filter(|l| !l.is_empty()).collect();
    assert!(!pids.is_empty(), "no read seen from {pid}: {head}{rest}");
    assert!(pids.iter().all(|p| *p == pid), "events from other processes: {pids:?}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0));
}

#[test]
fn root_pid_that_does_not_exist_is_refused() {
    if !enabled("root_pid_that_does_not_exist_is_refused") {
        return;
    }
    let out = run(&["-p", "999999999", "-e", "BEGIN { exit(); }"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("'999999999' is not a process id") || String::from_utf8_lossy(&out.stderr).contains("no process with PID"));
}

/// Lines from the tracer's stdout pipe with when each arrived.
fn timed_lines(child: &mut Child) -> mpsc::Receiver<(Instant, String)> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    rx
}

#[test]
fn root_buffering_none_streams_and_full_waits_for_exit() {
    if !enabled("root_buffering_none_streams_and_full_waits_for_exit") {
        return;
    }
    let prog = "interval:ms:100 { printf(\"tick\\n\"); }";
    for mode in ["none", "line"] {
        let started = Instant::now();
        let mut child = flowtrace().args(["-B", mode, "--timeout", "3", "-e", prog]).stdout(Stdio::piped()).spawn().unwrap();
        let lines = timed_lines(&mut child);
        // The first tick arrives through the pipe while tracing runs.
        let (at, _) = lines.iter().find(|(_, l)| l == "tick").expect("a tick");
        assert!(at.duration_since(started) < Duration::from_millis(2500), "-B {mode}: first tick after {:?}", at.duration_since(started));
        wait_bounded(&mut child, Duration::from_secs(10));
    }
    let started = Instant::now();
    let mut child = flowtrace().args(["-B", "full", "--timeout", "2", "-e", prog]).stdout(Stdio::piped()).spawn().unwrap();
    let lines = timed_lines(&mut child);
    let all: Vec<(Instant, String)> = lines.iter().collect();
    wait_bounded(&mut child, Duration::from_secs(10));
    assert_eq!(all[0].1, "Attaching 1 probe...");
    let ticks = all.iter().filter(|(_, l)| l == "tick").count();
    assert!(ticks >= 10, "{ticks} ticks");
    // Nothing reached the pipe before the timeout ended the run.
    assert!(all[0].0.duration_since(started) >= Duration::from_secs(2), "-B full wrote after {:?}", all[0].0.duration_since(started));
}

#[test]
fn root_named_parameters_are_typed_by_their_default() {
    if !enabled("root_named_parameters_are_typed_by_their_default") {
        return;
    }
    let prog = "BEGIN { printf(\"%lu %d %d %d %s %s\\n\", getopt(\"aa\", 20), getopt(\"bb\", -1), getopt(\"cc\", true), \
                getopt(\"dd\"), getopt(\"ee\", \"hello\"), $1); exit(); }";
    let out = run(&["-q", "-e", prog, "pos1", "--", "--dd", "--aa=0xffffffffffffffff", "--bb=-10", "--cc=False"]);
    assert_eq!(stdout(&out), "18446744073709551615 -10 0 1 hello pos1\n\n\n");
    // Defaults when nothing is given.
    let out = run(&["-q", "-e", prog, "pos1"]);
    assert_eq!(stdout(&out), "20 -1 1 0 hello pos1\n\n\n");
    // A script file takes them after its name, with or without `--`.
    let script = std::env::temp_dir().join(format!("ft-getopt-{}.ft", std::process::id()));
    std::fs::write(&script, "BEGIN { printf(\"%d %s\\n\", getopt(\"n\", 1), getopt(\"name\", \"x\")); exit(); }\n").unwrap();
    let path = script.to_str().unwrap();
    assert_eq!(stdout(&run(&["-q", path, "--n=5", "--name=flow"])), "5 flow\n\n\n");
    assert_eq!(stdout(&run(&["-q", path, "--", "--n=7"])), "7 x\n\n\n");
    std::fs::remove_file(&script).unwrap();
}

#[test]
fn root_script_from_stdin() {
    if !enabled("root_script_from_stdin") {
        return;
    }
    let mut child = flowtrace().args(["-q", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"BEGIN { printf(\"from stdin %d\\n\", 1 + 2); exit(); }\n").unwrap();
    wait_bounded(&mut child, Duration::from_secs(30));
    assert_eq!(stdout(&child.wait_with_output().unwrap()), "from stdin 3\n\n\n");
    // Errors point into <stdin>.
    let mut child = flowtrace().arg("-").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"BEGIN { nosuch(); }\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("<stdin>:1:9: error: unknown function 'nosuch'"), "{out:?}");
}

#[test]
fn root_verbose_and_info() {
    if !enabled("root_verbose_and_info") {
        return;
    }
    let out = run(&["-v", "-q", "-e", "BEGIN { @n = count(); exit(); }"]);
    assert_eq!(stdout(&out), "\n\n@n: 1\n");
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err.lines().next().unwrap_or("");
    assert!(first.starts_with("1 program, ") && first.ends_with(" maps") || first.ends_with(" map"), "{err}");
    assert!(err.lines().nth(1).is_some_and(|l| l.starts_with("  BEGIN (ft_")), "{err}");
    // After attaching: the kernel's id of each program, as loaded.
    let out = run(&["-v", "-e", "tracepoint:syscalls:sys_enter_getpid { @n = count(); } interval:ms:100 { exit(); }"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let ids: Vec<&str> = err.lines().filter(|l| l.starts_with("Program ID: ")).collect();
    assert_eq!(ids.len(), 2, "{err}");
    assert!(ids[0].contains("(tracepoint:syscalls:sys_enter_getpid): ") && ids[0].ends_with(" bytes jited"), "{err}");
    let out = run(&["--info"]);
    let text = stdout(&out);
    for line in ["  BTF: yes", "  tracepoint: yes", "  perf_event (interval): yes", "  ringbuf: yes", "  probe_read_kernel: yes", "  kprobes: "] {
        assert!(text.lines().any(|l| l.starts_with(line)), "{line} missing:\n{text}");
    }
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0));
}

#[test]
fn root_k_warns_when_a_probe_read_fails() {
    if !enabled("root_k_warns_when_a_probe_read_fails") {
        return;
    }
    // Address 8 is never readable kernel memory: the read fails, the value
    // is 0 either way, and only -k says so (with the kernel's errno).
    let prog = "BEGIN { $p = (struct sock *)8; printf(\"%d\\n\", $p->__sk_common.skc_family); exit(); }";
    let out = run(&["-q", "-k", "-e", prog]);
    assert_eq!(stdout(&out), "0\n\n\n");
    let err = String::from_utf8_lossy(&out.stderr);
    let mut lines = err.lines();
    let first = lines.next().unwrap_or("");
    assert!(first.starts_with("-e:1:47: warning: Failed to probe_read_kernel: "), "{err}");
    assert!(first.ends_with(")") && first.contains("(-"), "{err}");
    assert_eq!(lines.next(), Some(prog));
    assert_eq!(lines.next(), Some(&*format!("{}^{}", " ".repeat(46), "~".repeat(25))));
    let out = run(&["-q", "-e", prog]);
    assert_eq!(stdout(&out), "0\n\n\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}
