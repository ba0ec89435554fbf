//! The interactive session driven through a real pseudo-terminal, as a
//! person would type: rustyline runs in raw mode on a tty, Enter is `\r`,
//! Ctrl-C is a key at the prompt and a signal during `.watch`. Counts are
//! exact (loopback TCP on ports chosen here, filtered in the probes), and
//! cleanup is checked through the kernel's list of BPF objects.
//!
//! Root only: they run when FLOWTRACE_ROOT_TESTS=1, otherwise each prints a
//! loud SKIPPED line (like tests/root_cli.rs).

mod repl_pty;

use flowtrace_testkit::root_tests_enabled as enabled;
use repl_pty::*;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn root_repl_attach_share_detach_save_quit() {
    if !enabled("root_repl_attach_share_detach_save_quit") {
        return;
    }
    let before = ours_in_kernel();
    let home = temp_home("repl");
    let (port_a, port_b) = (free_port(), free_port());
    let mut repl = Repl::spawn(&home);
    repl.expect(PROMPT);

    // A probe typed over three lines: the open brace continues the entry.
    repl.line(&format!("{} {{", probe(port_a)));
    repl.line("  @s[args.oldstate, args.newstate] = count();");
    let out = repl.run("}");
    assert!(out.contains("probe 1 attached: tracepoint:sock:inet_sock_set_state"), "{out}");
    tcp_cycles(port_a, 3);
    let out = repl.run("@s");
    assert_eq!(map_lines(&out, "@s["), transitions(3, 1), "{out}");

    // A conflicting entry is an error for that entry only, with a caret.
    let out = repl.run("tracepoint:tcp:tcp_send_reset { @s = 1; }");
    assert!(out.contains("<input>:1:33: error: map @s is used without a key"), "{out}");
    assert!(out.contains("\n                                ^~"), "{out}");

    // A second probe, pasted over three lines, shares @s.
    repl.paste(&format!("{} {{\n  @s[args.oldstate, args.newstate] = count();\n}}", probe(port_b)));
    let out = repl.run("");
    assert!(out.contains("probe 2 attached"), "{out}");
    tcp_cycles(port_b, 2);
    let out = repl.run("print(@s)");
    assert_eq!(map_lines(&out, "@s["), transitions(5, 2), "{out}");

    // Detached, probe 1 no longer counts port A; probe 2 still counts B.
    let out = repl.run(".detach 1");
    assert!(out.contains("detached 1 probe(s): 1"), "{out}");
    tcp_cycles(port_a, 2);
    tcp_cycles(port_b, 1);
    let out = repl.run("@s");
    assert_eq!(map_lines(&out, "@s["), transitions(6, 3), "{out}");
    let session_objects = loaded_since(&before);
    let out = repl.run(".probes");
    let rows: Vec<&str> = out.lines().filter(|l| l.contains("tracepoint:")).collect();
    assert_eq!(rows.len(), 1, "{out}");
    let fields: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(fields[0], "2", "{out}");
    assert!(fields[1].parse::<u64>().unwrap() >= 30, "probe 2 saw 3 connections' transitions: {out}");

    // .save writes the live probe; the script runs on its own.
    let saved = home.join("runbook.ft");
    let out = repl.run(&format!(".save {}", saved.display()));
    assert!(out.contains("saved 1 probe(s)"), "{out}");
    let script = std::fs::read_to_string(&saved).unwrap();
    assert!(script.contains(&probe(port_b)) && !script.contains(&probe(port_a)), "{script}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .arg(&saved)
        .args(["--timeout", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut head = String::new();
    stdout.read_line(&mut head).unwrap();
    assert!(head.starts_with("Attaching 1 probe"), "{head}");
    tcp_cycles(port_b, 4);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(child.wait().unwrap().success(), "{rest}");
    assert_eq!(map_lines(&rest, "@s["), transitions(4, 1), "{rest}");

    // The session saw that traffic too: probe 2 is still attached.
    let out = repl.run("@s[1, 4]");
    assert!(out.contains("\n@s[1, 4]: 10\n"), "{out}");

    repl.line(".quit");
    let out = repl.expect("detached 1 probe(s)");
    assert!(out.contains("detached"), "{out}");
    assert!(repl.wait().success());
    assert_gone(&session_objects);
    let history = std::fs::read_to_string(home.join(".flowtrace_history")).unwrap();
    assert!(history.contains(".detach 1"), "{history}");
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn root_repl_errors_ctrl_c_watch_and_ctrl_d() {
    if !enabled("root_repl_errors_ctrl_c_watch_and_ctrl_d") {
        return;
    }
    let before = ours_in_kernel();
    let home = temp_home("keys");
    let port = free_port();
    let mut repl = Repl::spawn(&home);
    repl.expect(PROMPT);
    // Syntax errors, unknown commands and kernel errors never end the session.
    let out = repl.run("tracepoint:sock:inet_sock_set_state { @x = ; }");
    assert!(out.contains("<input>:1:"), "{out}");
    let out = repl.run(".prob");
    assert!(out.contains("unknown command '.prob'") && out.contains("did you mean '.probes'"), "{out}");
    let out = repl.run("tracepoint:nosuch:tracepoint { @n = count(); }");
    assert!(out.contains("error"), "{out}");
    // Tab completes tracepoint names from tracefs; Ctrl-C drops the line.
    repl.type_keys("tracepoint:sock:inet_sock_set_s");
    repl.send("\t");
    repl.expect("tracepoint:sock:inet_sock_set_state");
    repl.send("\x03");
    repl.expect(PROMPT);
    // Ctrl-C at the prompt drops the half-typed line.
    repl.type_keys("print(@nothing_here");
    repl.send("\x03");
    repl.expect(PROMPT);
    let out = repl.run(&format!("{} {{ @s[args.oldstate, args.newstate] = count(); }}", probe(port)));
    assert!(out.contains("probe 1 attached") && !out.contains("nothing_here\n"), "{out}");
    // .watch prints until Ctrl-C (a SIGINT: the terminal is not raw then).
    tcp_cycles(port, 1);
    repl.line(".watch @s 0.2");
    repl.expect("watching @s every 0.2s");
    let ticks = repl.expect("@s[9, 7]: 1");
    assert!(ticks.contains("@s[7, 2]: 1"), "{ticks}");
    repl.expect("@s[9, 7]: 1");
    repl.send("\x03");
    repl.expect(PROMPT);
    let out = repl.run(".probes");
    assert!(out.contains("tracepoint:sock:inet_sock_set_state"), "{out}");
    // Enter stops a watch too.
    repl.line(".watch @s 5");
    repl.expect("@s[9, 7]: 1");
    let out = repl.run("");
    assert!(!out.contains("error"), "{out}");
    // With a top-N, each tick prints only the N largest entries.
    let out = repl.run("@top[1] = 5; @top[2] = 3; @top[3] = 9");
    assert!(!out.contains("error"), "{out}");
    repl.line(".watch @top 0.2 2");
    repl.expect("watching @top (top 2) every 0.2s");
    for _ in 0..2 {
        let tick = repl.expect("@top[3]: 9");
        assert!(tick.contains("@top[1]: 5") && !tick.contains("@top[2]"), "{tick}");
    }
    repl.run("");
    // .load: one entry per probe; the declaration shapes the map.
    let script = home.join("load.ft");
    std::fs::write(&script, "let @lru = lruhash(64);\ninterval:ms:100 { @lru[1] = count(); }\ninterval:ms:100 { @lru[2] = count(); }\n").unwrap();
    let out = repl.run(&format!(".load {}", script.display()));
    assert!(out.contains("probe 2 attached: interval:ms:100") && out.contains("probe 3 attached: interval:ms:100"), "{out}");
    std::thread::sleep(Duration::from_millis(400));
    let out = repl.run(".maps");
    assert!(out.contains("@lru[int64]: count, 2 of 64 entries"), "{out}");
    let out = repl.run(".detach 3");
    assert!(out.contains("detached 1 probe(s): 3"), "{out}");
    // Ctrl-D: detach everything, exit 0.
    let session_objects = loaded_since(&before);
    repl.send("\x04");
    repl.expect("detached 2 probe(s)");
    assert!(repl.wait().success());
    assert_gone(&session_objects);
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn root_repl_sigterm_and_hangup_detach_and_exit_zero() {
    if !enabled("root_repl_sigterm_and_hangup_detach_and_exit_zero") {
        return;
    }
    let home = temp_home("term");
    for hang_up in [false, true] {
        let before = ours_in_kernel();
        let mut repl = Repl::spawn(&home);
        repl.expect(PROMPT);
        let out = repl.run("interval:ms:100 { @ticks = count(); }");
        assert!(out.contains("probe 1 attached: interval:ms:100"), "{out}");
        let session_objects = loaded_since(&before);
        assert!(session_objects.iter().any(|o| o.0 == 'p'), "the probe is not in the kernel");
        repl.type_keys("half typed");
        if hang_up {
            // The terminal goes away, as when an ssh connection drops.
            repl.master = File::open("/dev/null").unwrap();
        } else {
            unsafe { libc::kill(repl.child.id() as i32, libc::SIGTERM) };
            repl.expect("terminated; detached 1 probe(s)");
        }
        assert!(repl.wait().success());
        assert_gone(&session_objects);
    }
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn root_repl_stays_responsive_under_a_flood_of_output() {
    if !enabled("root_repl_stays_responsive_under_a_flood_of_output") {
        return;
    }
    let home = temp_home("flood");
    let before = ours_in_kernel();
    let mut repl = Repl::spawn(&home);
    repl.expect(PROMPT);
    // A thousand lines a second, printed above the prompt while we type.
    let out = repl.run(r#"interval:ms:1 { printf("tick\n"); }"#);
    assert!(out.contains("probe 1 attached"), "{out}");
    let session_objects = loaded_since(&before);
    // Typed one key at a time, and in one write (no key waits for another).
    for round in 0..6 {
        let started = Instant::now();
        if round % 2 == 0 {
            repl.line(".maps");
        } else {
            repl.send(".maps\r");
        }
        repl.expect("no maps yet");
        // Bounded, with room for a machine busy with other work.
        assert!(started.elapsed() < Duration::from_secs(20), "the prompt lagged {:?}", started.elapsed());
    }
    repl.line(".detach all");
    repl.expect("detached 1 probe(s): 1");
    repl.send("\x04");
    repl.expect("detached 0 probe(s)");
    assert!(repl.wait().success());
    assert_gone(&session_objects);
    let _ = std::fs::remove_dir_all(&home);
}

/// A tc probe typed at the prompt works as in a script: `ifname` names the
/// interface (its map is filled at attach), counts are exact, and nothing
/// stays attached after Ctrl-D.
#[test]
fn root_repl_tc_probe_counts_and_names_the_interface() {
    if !enabled("root_repl_tc_probe_counts_and_names_the_interface") {
        return;
    }
    let before = ours_in_kernel();
    let home = temp_home("tc");
    let port = free_port();
    let mut repl = Repl::spawn(&home);
    repl.expect(PROMPT);
    let out = repl.run(&format!("tc:lo:ingress /proto == IPPROTO_UDP && dport == {port}/ {{ @n[ifname, dport] = count(); }}"));
    assert!(out.contains("probe 1 attached: tc:lo:ingress"), "{out}");
    let session_objects = loaded_since(&before);
    // Nobody listens: the datagrams still pass lo's ingress hook once each.
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for _ in 0..7 {
        sock.send_to(b"flowtrace", ("127.0.0.1", port)).unwrap();
    }
    let out = repl.run("@n");
    assert_eq!(map_lines(&out, "@n["), vec![format!("@n[lo, {port}]: 7")], "{out}");
    repl.send("\x04");
    assert!(repl.wait().success());
    assert_gone(&session_objects);
    let _ = std::fs::remove_dir_all(&home);
}

/// `flowtrace ARGS` run to the end (bounded): its exit code and stderr.
fn cli(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), stderr);
        }
        assert!(Instant::now() < deadline, "flowtrace {args:?} did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// On a kernel without kprobes, a kprobe typed at the prompt gets what the
/// command line gets for it: run as fentry after the notice, or the same
/// error, caret and tracepoint hint (the CLI's `-e` label is `<input>` here).
#[test]
fn root_repl_kprobe_without_kprobes_matches_the_cli() {
    if !enabled("root_repl_kprobe_without_kprobes_matches_the_cli") {
        return;
    }
    if flowtrace_runtime::capabilities::kprobes_available() {
        eprintln!("!!! SKIPPED root_repl_kprobe_without_kprobes_matches_the_cli (this kernel has kprobes)");
        return;
    }
    let program = "kprobe:tcp_sendmsg { @[comm] = count(); }";
    let (code, cli_err) = cli(&["--timeout", "0.5", "-e", program]);
    let home = temp_home("kprobe");
    let before = ours_in_kernel();
    let mut repl = Repl::spawn(&home);
    repl.expect(PROMPT);
    let out = repl.run(program);
    if code == Some(0) {
        let notice = "flowtrace: this kernel has no kprobes; running kprobe/kretprobe probes as fentry/fexit";
        assert!(cli_err.starts_with(notice), "{cli_err}");
        assert!(out.contains(notice) && out.contains("probe 1 attached: kprobe:tcp_sendmsg"), "{out}");
    } else {
        assert_eq!(code, Some(1), "{cli_err}");
        assert!(cli_err.contains("hint: `tracepoint:"), "the CLI names a tracepoint: {cli_err}");
        let expected = cli_err.replace("-e:1:", "<input>:1:");
        assert!(out.contains(&expected), "the REPL says what the CLI says:\n{expected}\nREPL:\n{out}");
        assert!(loaded_since(&before).is_empty(), "nothing was loaded");
        let out = repl.run(".probes");
        assert!(out.contains("no probes attached"), "{out}");
    }
    repl.send("\x04");
    assert!(repl.wait().success());
    let _ = std::fs::remove_dir_all(&home);
}

/// A verifier rejection of a typed probe is shown as for a script: at the
/// construct the verifier stopped in, in the typed text, with its log.
#[test]
fn root_repl_verifier_rejection_points_at_the_typed_text() {
    if !enabled("root_repl_verifier_rejection_points_at_the_typed_text") {
        return;
    }
    let program = "BEGIN { $i = 0; while ($i >= 0) { $i = $i + 1; } }";
    // With bpf_loop this loop verifies (and runs 2^23 rounds); the bounded
    // back-edge form is what the verifier refuses. Both the CLI and the
    // session spawned below inherit it; removed at the end of the test.
    std::env::set_var("FLOWTRACE_NO_BPF_LOOP", "1");
    let (code, cli_err) = cli(&["-e", program]);
    assert_eq!(code, Some(1), "{cli_err}");
    let home = temp_home("verifier");
    let mut repl = Repl::spawn(&home);
    repl.expect(PROMPT);
    let out = repl.run(program);
    // The diagnostic (message, source line, caret, hint) is the CLI's.
    let head: Vec<String> = cli_err.lines().take(4).map(|l| l.replace("-e:1:", "<input>:1:")).collect();
    assert!(head[0].starts_with("<input>:1:24: error: the kernel verifier rejected the program for 'BEGIN'"), "{cli_err}");
    assert!(out.contains(&head.join("\n")), "expected\n{}\nin\n{out}", head.join("\n"));
    assert!(out.contains("verifier log (last lines):") && out.contains("processed 1000001 insns"), "{out}");
    // The session goes on.
    let out = repl.run("interval:ms:50 { @n = count(); }");
    assert!(out.contains("probe 1 attached"), "{out}");
    repl.send("\x04");
    assert!(repl.wait().success());
    std::env::remove_var("FLOWTRACE_NO_BPF_LOOP");
    let _ = std::fs::remove_dir_all(&home);
}

/// Runs `n` getpid and `m` getppid system calls on a thread pinned to `cpu`.
fn syscalls_on_cpu(cpu: usize, n: usize, m: usize) {
    std::thread::spawn(move || {
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        unsafe { libc::CPU_SET(cpu, &mut set) };
        let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
        assert_eq!(rc, 0, "pinning to CPU {cpu}: {}", std::io::Error::last_os_error());
        for _ in 0..n {
            unsafe { libc::syscall(libc::SYS_getpid) };
        }
        for _ in 0..m {
            unsafe { libc::syscall(libc::SYS_getppid) };
        }
    })
    .join()
    .unwrap();
}

/// `@m[0b1]`, `@m[1_000]` and a bare `@m` read through the front end and
/// the session's maps: every CPU's share of a per-CPU count, as a read in
/// the kernel (`print(@m[1])`) adds them up too.
#[test]
fn root_repl_literal_keys_read_every_cpus_share() {
    if !enabled("root_repl_literal_keys_read_every_cpus_share") {
        return;
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(cpus >= 2, "needs two CPUs to split the counts over");
    let home = temp_home("cpus");
    let pid = std::process::id();
    let mut repl = Repl::spawn(&home);
    repl.expect(PROMPT);
    let out = repl.run(&format!("tracepoint:syscalls:sys_enter_getpid /pid == {pid}/ {{ @m[1] = count(); }}"));
    assert!(out.contains("probe 1 attached"), "{out}");
    let out = repl.run(&format!("tracepoint:syscalls:sys_enter_getppid /pid == {pid}/ {{ @m[1000] = count(); }}"));
    assert!(out.contains("probe 2 attached"), "{out}");
    syscalls_on_cpu(0, 25, 10);
    syscalls_on_cpu(1, 25, 10);
    let out = repl.run("@m[0b1]");
    assert_eq!(map_lines(&out, "@m["), ["@m[1]: 50"], "{out}");
    let out = repl.run("@m[1_000]");
    assert_eq!(map_lines(&out, "@m["), ["@m[1000]: 20"], "{out}");
    let out = repl.run("@m[1]; @m[0x3e8]");
    assert_eq!(map_lines(&out, "@m["), ["@m[1000]: 20", "@m[1]: 50"], "{out}");
    let out = repl.run("@m");
    assert_eq!(map_lines(&out, "@m["), ["@m[1000]: 20", "@m[1]: 50"], "{out}");
    let out = repl.run("@m[7]");
    assert!(out.contains("@m[7]: no such key in @m"), "{out}");
    // In the kernel too, a read adds up every CPU's share (issue 11: it used
    // to see only the share of the CPU it ran on, 25 here).
    let out = repl.run("print(@m[1])");
    assert!(out.lines().any(|l| l.trim() == "50"), "{out}");
    repl.send("\x04");
    assert!(repl.wait().success());
    let _ = std::fs::remove_dir_all(&home);
}

/// HOME pointing at a user's home (as under sudo) with `.flowtrace_history`
/// planted there as a symlink, or as a file of another user: the session
/// neither reads, rewrites nor chmods it, says so once, and runs without
/// history.
#[test]
fn root_repl_history_refuses_symlinks_and_other_users_files() {
    if !enabled("root_repl_history_refuses_symlinks_and_other_users_files") {
        return;
    }
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let home = temp_home("history");
    let planted = home.join(".flowtrace_history");
    let victim = home.join("victim");
    for symlink in [true, false] {
        let _ = std::fs::remove_file(&planted);
        let target = if symlink { &victim } else { &planted };
        std::fs::write(target, "precious\n").unwrap();
        std::fs::set_permissions(target, std::fs::Permissions::from_mode(0o644)).unwrap();
        if symlink {
            std::os::unix::fs::symlink(&victim, &planted).unwrap();
        } else {
            std::os::unix::fs::chown(&planted, Some(65534), Some(65534)).unwrap();
        }
        let mut repl = Repl::spawn(&home);
        let out = repl.expect(PROMPT);
        repl.run(".probes");
        repl.run(".probes");
        repl.send("\x04");
        assert!(repl.wait().success());
        let why = if symlink { "it is a symbolic link" } else { "it belongs to uid 65534, not to this user (uid 0)" };
        let all = clean(&repl.raw);
        assert_eq!(all.matches("not using the history file").count(), 1, "said once:\n{all}");
        assert!(out.contains(why), "{out}");
        assert_eq!(std::fs::read_to_string(target).unwrap(), "precious\n", "symlink: {symlink}");
        let meta = std::fs::metadata(target).unwrap();
        assert_eq!((meta.permissions().mode() & 0o777, meta.uid()), (0o644, if symlink { 0 } else { 65534 }), "symlink: {symlink}");
    }
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn root_repl_literal_key_adapts_to_an_existing_map() {
    if !enabled("root_repl_literal_key_adapts_to_an_existing_map") {
        return;
    }
    let home = temp_home("literal-key");
    let port = free_port(); // nobody listens: every connect is refused
    let mut repl = Repl::spawn(&home);
    repl.expect(PROMPT);
    let out = repl.run(&format!("{} {{ @st[args.newstate] = count(); }}", probe(port)));
    assert!(out.contains("probe 1 attached"), "{out}");
    // `args.newstate` is an int32; the literal 99 fits it, so the entry
    // shares the map instead of asking to widen its key.
    let out = repl.run(&format!("tracepoint:tcp:tcp_receive_reset /args.dport == {port}/ {{ @st[99] = count(); }}"));
    assert!(out.contains("probe 2 attached: tracepoint:tcp:tcp_receive_reset"), "{out}");
    flowtrace_testkit::traffic::refused_connects(port, 3).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // SYN_SENT (2) and CLOSE (7) per connect, and the reset each received.
    let out = repl.run("@st");
    assert_eq!(map_lines(&out, "@st["), ["@st[2]: 3", "@st[7]: 3", "@st[99]: 3"], "{out}");
    let out = repl.run(".maps");
    assert!(out.contains("@st[int32]: count, 3 of 4096 entries"), "{out}");

    // A string cannot be an int32 key: refused, the caret under it.
    let out = repl.run("tracepoint:tcp:tcp_receive_reset { @st[\"x\"] = count(); }");
    assert!(out.contains("<input>:1:40: error: map @st is used with key [string[2]] but was first used with key [int32]"), "{out}");
    assert!(out.contains(&format!("\n{}^~~\n", " ".repeat(39))), "{out}");
    assert!(out.contains("hint: a literal key takes @st's key type (int32) only when its value is one of that type"), "{out}");
    assert!(out.contains("<probe 1>:1:"), "the note points at the entry that made the map: {out}");
    // A literal too big for int32 would widen the key the kernel map has.
    let out = repl.run("tracepoint:tcp:tcp_receive_reset { @st[5000000000] = count(); }");
    assert!(out.contains("error: this entry changes map @st, which earlier entries use"), "{out}");
    assert!(out.contains("[int32]") && out.contains("a literal key or value takes them only when it fits"), "{out}");
    let out = repl.run(".probes");
    assert_eq!(out.matches("tracepoint:").count(), 2, "nothing changed: {out}");
    repl.line(".quit");
    assert!(repl.wait().success());
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn root_repl_exit_ends_the_session_as_a_script_does() {
    if !enabled("root_repl_exit_ends_the_session_as_a_script_does") {
        return;
    }
    let home = temp_home("exit");
    let before = ours_in_kernel();
    let (port, closed) = (free_port(), free_port());
    let mut repl = Repl::spawn(&home);
    repl.expect(PROMPT);
    let out = repl.run(&format!("{} {{ @s[args.oldstate, args.newstate] = count(); }}", probe(port)));
    assert!(out.contains("probe 1 attached"), "{out}");
    let reset = format!("tracepoint:tcp:tcp_receive_reset /args.dport == {closed}/ {{ printf(\"reset: exit\\n\"); exit(); }}");
    let out = repl.run(&reset);
    assert!(out.contains("probe 2 attached"), "{out}");
    let session_objects = loaded_since(&before);
    tcp_cycles(port, 2);
    // A probe calls exit() while the prompt waits: the session ends by
    // itself, printing the maps as a script does at exit.
    flowtrace_testkit::traffic::refused_connects(closed, 1).unwrap();
    let out = repl.expect("exit() ended the session; detached 2 probe(s)");
    assert!(out.contains("reset: exit"), "{out}");
    assert_eq!(map_lines(&out, "@s["), transitions(2, 1), "{out}");
    assert!(repl.wait().success());
    assert_gone(&session_objects);
    assert_eq!(flowtrace_testkit::objects::flowtrace_objects_after_grace(), (0, 0), "no ft_ program or map is left");

    // exit() typed at the prompt does the same.
    let before = ours_in_kernel();
    let mut repl = Repl::spawn(&home);
    repl.expect(PROMPT);
    let out = repl.run(&format!("{} {{ @s[args.oldstate, args.newstate] = count(); }}", probe(port)));
    assert!(out.contains("probe 1 attached"), "{out}");
    let session_objects = loaded_since(&before);
    tcp_cycles(port, 1);
    repl.line("exit()");
    let out = repl.expect("exit() ended the session; detached 1 probe(s)");
    assert_eq!(map_lines(&out, "@s["), transitions(1, 1), "{out}");
    assert!(repl.wait().success());
    assert_gone(&session_objects);
    assert_eq!(flowtrace_testkit::objects::flowtrace_objects_after_grace(), (0, 0), "no ft_ program or map is left");
    let _ = std::fs::remove_dir_all(&home);
}
