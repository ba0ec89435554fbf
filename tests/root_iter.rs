//! `iter:` probes on the host kernel. Measured: this project's CI host
//! (6.18) loads iterator programs although it refuses fentry, so these run
//! real iterations; on a kernel that refuses tracing programs each test
//! asserts the clear error instead (which probe, why, exit 1, nothing left).
//! The VM tier (tests/vm/65-iter.sh) covers 6.1 and 6.12, retransmits
//! included.
//!
//! They need root: they run when FLOWTRACE_ROOT_TESTS=1, otherwise each
//! prints a loud SKIPPED line.

use flowtrace_testkit::gate::root_tests_enabled as enabled;
use flowtrace_testkit::objects::flowtrace_objects_after_grace as nothing_of_ours_in_kernel;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs flowtrace with a hard limit (an iterator script ends by itself).
fn flowtrace(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowtrace"));
    command.args(args);
    flowtrace_testkit::process::output_within(&mut command, Duration::from_secs(60), || format!("flowtrace did not exit within 60 s"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// When the kernel refuses tracing programs: the error a user must see.
/// Returns true if that was the case (the caller then stops).
fn refused_clearly(out: &Output, probe: &str) -> bool {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    if !stderr.contains("refuses tracing programs") {
        return false;
    }
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("cannot attach '{probe}'")), "{stderr}");
    assert!(!stderr.contains("os error"), "a raw errno reached the user:\n{stderr}");
    assert!(!stdout.contains("Attaching"), "nothing may attach: {stdout}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "objects left in the kernel");
    eprintln!("NOTE: this kernel refuses tracing programs; checked the error instead of an iteration");
    true
}

#[test]
fn root_iter_tcp_lists_the_tests_own_sockets() {
    if !enabled("root_iter_tcp_lists_the_tests_own_sockets") {
        return;
    }
    // A listener nobody connects to, and one connection that moved 200000
    // bytes, held open while the iterator runs.
    let idle = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let (idle_port, port) = (idle.local_addr().unwrap().port(), server.local_addr().unwrap().port());
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (mut accepted, peer) = server.accept().unwrap();
    client.write_all(&vec![7u8; 200_000]).unwrap();
    let mut buf = vec![0u8; 200_000];
    accepted.read_exact(&mut buf).unwrap();
    let client_port = peer.port();

    let script = format!(
        "iter:tcp {{
            $sk = ctx.sk_common;
            $tp = (struct tcp_sock *)ctx.sk_common;
            if ($sk->skc_num == {idle_port} || $sk->skc_num == {port} || bswap($sk->skc_dport) == {port}) {{
                printf(\"%s:%d %s:%d state %d received %d\\n\", ntop($sk->skc_rcv_saddr), $sk->skc_num,
                       ntop($sk->skc_daddr), bswap($sk->skc_dport), $sk->skc_state, $tp->bytes_received);
                @sockets = count();
            }}
        }}"
    );
    let out = flowtrace(&["-e", &script]);
    if refused_clearly(&out, "iter:tcp") {
        return;
    }
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let mut lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("127.")).collect();
    lines.sort();
    let mut want = vec![
        format!("127.0.0.1:{idle_port} 0.0.0.0:0 state 10 received 0"),
        // The listener that accepted the connection is still open too.
        format!("127.0.0.1:{port} 0.0.0.0:0 state 10 received 0"),
        format!("127.0.0.1:{port} 127.0.0.1:{client_port} state 1 received 200000"),
        format!("127.0.0.1:{client_port} 127.0.0.1:{port} state 1 received 0"),
    ];
    want.sort();
    assert_eq!(lines, want, "{stdout}");
    assert!(stdout.contains("@sockets: 4\n"), "{stdout}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "objects left in the kernel after the run");
    drop((client, accepted, server, idle));
}

#[test]
fn root_iter_task_counts_each_task_once_and_runs_begin_end() {
    if !enabled("root_iter_task_counts_each_task_once_and_runs_begin_end") {
        return;
    }
    let out = flowtrace(&[
        "-e",
        "BEGIN { printf(\"begin\\n\"); }
         iter:task { printf(\"task %d %d\\n\", ctx.task->tgid, ctx.task->pid); @tasks = count();
                     if (ctx.task->tgid == pid) { @self = count(); } }
         END { printf(\"end\\n\"); }",
    ]);
    if refused_clearly(&out, "iter:task") {
        return;
    }
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let first_task = lines.iter().position(|l| l.starts_with("task ")).expect("tasks listed");
    let last_task = lines.iter().rposition(|l| l.starts_with("task ")).unwrap();
    assert_eq!(lines.iter().position(|l| *l == "begin"), Some(first_task - 1), "{stdout}");
    assert!(lines.iter().position(|l| *l == "end").is_some_and(|e| e > last_task), "END runs after the iteration: {stdout}");
    let tasks = lines.iter().filter(|l| l.starts_with("task ")).count();
    // The kernel's extra call with a NULL task after the last one is not
    // counted: one count per task printed.
    assert_eq!(stdout.lines().find_map(|l| l.strip_prefix("@tasks: ")), Some(tasks.to_string().as_str()), "{stdout}");
    // The program runs in flowtrace's own task, which is among the tasks.
    let self_count: u64 = stdout.lines().find_map(|l| l.strip_prefix("@self: ")).expect("@self").parse().unwrap();
    assert!(self_count >= 1, "{stdout}");
    // Our own test process is there, by its pid.
    let me = std::process::id();
    assert!(stdout.lines().any(|l| l == format!("task {me} {me}")), "this test's pid {me} is missing");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "objects left in the kernel after the run");
}

#[test]
fn root_iter_pid_restricts_task_iterators_and_exit_stops() {
    if !enabled("root_iter_pid_restricts_task_iterators_and_exit_stops") {
        return;
    }
    // A process of ours with a known extra descriptor (fd 7 on this file).
    let marker = std::env::temp_dir().join(format!("ft-iter-{}", std::process::id()));
    std::fs::write(&marker, "x").unwrap();
    let mut sleeper = Command::new("/bin/sh")
        .args(["-c", &format!("exec 7<{}; exec sleep 30", marker.display())])
        .spawn()
        .unwrap();
    let pid = sleeper.id().to_string();
    std::thread::sleep(Duration::from_millis(200)); // until the exec'd sleep runs
    let out = flowtrace(&["-p", &pid, "-e", "iter:task { printf(\"%d %d %s\\n\", ctx.task->tgid, ctx.task->pid, str(ctx.task->comm)); }"]);
    let files = flowtrace(&["-p", &pid, "-e", "iter:task_file { printf(\"%d %d\\n\", ctx.task->tgid, ctx.fd); }"]);
    let tcp = flowtrace(&["-p", &pid, "-e", "iter:tcp { @n = count(); }"]);
    let vmas = flowtrace(&["-p", &pid, "-e", "iter:task_vma { printf(\"%lx-%lx\\n\", ctx.vma->vm_start, ctx.vma->vm_end); }"]);
    // /proc/PID/maps lists the same areas, plus the [vsyscall] gate page,
    // which is no VMA of the process.
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let _ = std::fs::remove_file(&marker);
    let stderr = text(&tcp.stderr);
    assert_eq!(tcp.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("-p PID does not apply to 'iter:tcp': only the task iterators"), "{stderr}");
    if refused_clearly(&out, "iter:task") {
        return;
    }
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let tasks: Vec<&str> = stdout.lines().filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit())).collect();
    assert_eq!(tasks, vec![format!("{pid} {pid} sleep").as_str()], "only the process asked for: {stdout}");
    let stdout = text(&files.stdout);
    let fds: Vec<&str> = stdout.lines().filter(|l| l.starts_with(&format!("{pid} "))).collect();
    assert!(fds.contains(&format!("{pid} 7").as_str()), "fd 7 of {pid} missing: {stdout}");
    assert!(stdout.lines().filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_digit())).all(|l| l.starts_with(&format!("{pid} "))), "{stdout}");
    let ranges = |text: &str| -> Vec<(u64, u64)> {
        text.lines()
            .filter(|l| !l.ends_with("[vsyscall]"))
            .filter_map(|l| l.split_whitespace().next()?.split_once('-'))
            .filter_map(|(a, b)| Some((u64::from_str_radix(a, 16).ok()?, u64::from_str_radix(b, 16).ok()?)))
            .collect()
    };
    let (got, want) = (ranges(&text(&vmas.stdout)), ranges(&maps));
    assert!(!want.is_empty(), "{maps}");
    assert_eq!(got, want, "iter:task_vma -p {pid} against /proc/{pid}/maps");

    // exit() ends the iteration early: the third task's exit stops it.
    let out = flowtrace(&["-e", "iter:task { @n = count(); if (ctx.meta->seq_num == 2) { exit(); } }"]);
    if refused_clearly(&out, "iter:task") {
        return;
    }
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let n: u64 = stdout.lines().find_map(|l| l.strip_prefix("@n: ")).expect("@n").parse().unwrap();
    // The program may run on past the exit() (the runtime sees it between
    // reads of the iterator, every 64 objects), never further.
    assert!((3..=66).contains(&n), "{stdout}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "objects left in the kernel after the run");
}

#[test]
fn root_iter_on_a_kernel_refusing_tracing_programs_is_a_clear_error() {
    if !enabled("root_iter_on_a_kernel_refusing_tracing_programs_is_a_clear_error") {
        return;
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowtrace"));
    cmd.env(flowtrace_runtime::capabilities::NO_TRACING_ENV, "1");
    let out = cmd.args(["-e", "BEGIN { printf(\"begin\\n\"); } iter:tcp { @n = count(); }"]).output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("cannot attach 'iter:tcp': this kernel refuses tracing programs (BPF_PROG_TYPE_TRACING)"), "{stderr}");
    assert!(stderr.contains("^~~~"), "rendered against the source: {stderr}");
    assert!(stderr.contains("hint: iterators need a kernel that loads tracing programs"), "{stderr}");
    // Decided before anything loads: BEGIN did not run, nothing attached.
    assert!(!stdout.contains("begin") && !stdout.contains("Attaching"), "{stdout}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "objects left in the kernel");
}

#[test]
fn root_iter_listing_comes_from_btf() {
    if !enabled("root_iter_listing_comes_from_btf") {
        return;
    }
    let out = flowtrace(&["-l", "iter:*"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for it in ["iter:task", "iter:task_file", "iter:tcp", "iter:udp"] {
        assert!(stdout.lines().any(|l| l == it), "{it} missing:\n{stdout}");
    }
    // Open-coded iterator kfuncs (bpf_iter_num_new, …) are not iterators.
    assert!(!stdout.contains("num_new"), "{stdout}");
    let out = flowtrace(&["-lv", "it:task_f*"]);
    let stdout = text(&out.stdout);
    let fields: Vec<&str> = stdout.lines().skip(1).map(str::trim).collect();
    assert_eq!(stdout.lines().next(), Some("iter:task_file"), "{stdout}");
    assert_eq!(fields.len(), 3, "{stdout}");
    assert!(fields[0].starts_with("struct task_struct *") && fields[0].ends_with("task"), "{stdout}");
    assert!(fields[1].ends_with(" fd") && fields[2].starts_with("struct file *"), "{stdout}");
}

#[test]
fn root_iter_in_the_interactive_session_runs_once() {
    if !enabled("root_iter_in_the_interactive_session_runs_once") {
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The entry runs its iteration when typed and is gone, so a later
    // probe may join the session (a script's iterator must run alone);
    // the last line reads the iterator's map.
    child.stdin.take().unwrap().write_all(b"iter:task { @n = count(); }\ninterval:ms:50 { @i = count(); }\n@n\n").unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("the session did not end within 60 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    let all = format!("{stdout}{stderr}");
    let n: u64 = all.lines().find_map(|l| l.strip_prefix("@n: ")).expect("@n printed").parse().unwrap();
    assert!(n > 1, "{all}");
    assert!(all.contains("attached: interval:ms:50"), "{all}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "objects left in the kernel");
}
