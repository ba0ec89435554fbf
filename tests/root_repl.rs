//! The interactive session driven through a real pseudo-terminal, as a
//! person would type: rustyline runs in raw mode on a tty, Enter is `\r`,
//! Ctrl-C is a key at the prompt and a signal during `.watch`. Counts are
//! exact (loopback TCP on ports chosen here, filtered in the probes), and
//! cleanup is checked through the kernel's list of BPF objects.
//!
//! Root only: they run when FLOWTRACE_ROOT_TESTS=1, otherwise each prints a
//! loud SKIPPED line (like tests/root_cli.rs).

use flowtrace_testkit::root_tests_enabled as enabled;
use flowtrace_testkit::traffic;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};


/// What [`clean`] turns the start of each `readline` into: rustyline
/// switches bracketed paste on (`ESC[?2004h`) only there, not when it
/// redraws the prompt of a multi-line entry.
const PROMPT: &str = "[prompt]";

/// Terminal output without escape sequences and carriage returns, with
/// each new prompt marked by [`PROMPT`].
fn clean(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // Parameters and intermediates, then one final byte.
                    let mut seq = String::new();
                    while let Some(&p) = chars.peek() {
                        chars.next();
                        seq.push(p);
                        if ('\x40'..='\x7e').contains(&p) {
                            break;
                        }
                    }
                    if seq == "?2004h" {
                        out.push_str(PROMPT);
                    }
                } else {
                    chars.next();
                }
            }
            '\r' | '\x07' => {}
            c => out.push(c),
        }
    }
    out
}

/// flowtrace's REPL on the slave side of a pty we hold the master of.
struct Repl {
    master: File,
    child: Child,
    raw: Vec<u8>,
    /// How much of the cleaned output earlier `expect`s consumed.
    seen: usize,
}

impl Repl {
    fn spawn(home: &PathBuf) -> Repl {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize { ws_row: 50, ws_col: 200, ws_xpixel: 0, ws_ypixel: 0 };
        let rc = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        // Not inherited by the child: it must see the terminal hang up when
        // the test ends, whatever happens.
        unsafe { libc::fcntl(master.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowtrace"));
        cmd.env("HOME", home).env("TERM", "xterm");
        cmd.stdin(Stdio::from(slave.try_clone().unwrap()));
        cmd.stdout(Stdio::from(slave.try_clone().unwrap()));
        cmd.stderr(Stdio::from(slave));
        // A session of its own with the pty as controlling terminal, so
        // Ctrl-C becomes SIGINT when the terminal is not in raw mode.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        let child = cmd.spawn().unwrap();
        Repl { master: File::from(master), child, raw: Vec::new(), seen: 0 }
    }

    fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
    }

    /// Types like a person: one key at a time, each after the previous one
    /// was echoed. (rustyline 14 with an external printer handles only the
    /// first of several keys that arrive in one read until another key
    /// comes; terminals send pastes as bracketed pastes, see [`Repl::paste`].)
    fn type_keys(&mut self, keys: &str) {
        for c in keys.chars() {
            let before = self.raw.len();
            let mut bytes = [0u8; 4];
            let key = c.encode_utf8(&mut bytes).as_bytes().to_vec();
            self.master.write_all(&key).unwrap();
            if c.is_control() {
                // Enter: a redraw or the end of the entry; let it settle.
                self.read_until(Instant::now() + Duration::from_secs(5), |raw| raw.len() > before);
                self.settle();
            } else {
                // A typed character is echoed by itself.
                let echoed = |raw: &[u8]| raw[before..].windows(key.len()).any(|w| w == key);
                self.read_until(Instant::now() + Duration::from_secs(5), echoed);
            }
        }
    }

    /// Reads until the output has been quiet for a moment (at most 1 s:
    /// a busy probe may never be quiet).
    fn settle(&mut self) {
        let give_up = Instant::now() + Duration::from_secs(1);
        while Instant::now() < give_up {
            let len = self.raw.len();
            self.read_until(Instant::now() + Duration::from_millis(30), |raw| raw.len() > len);
            if self.raw.len() == len {
                return;
            }
        }
    }

    /// Pastes text as a terminal does with bracketed paste on.
    fn paste(&mut self, text: &str) {
        self.send(&format!("\x1b[200~{text}\x1b[201~"));
        self.settle();
    }

    /// Types a line and presses Enter.
    fn line(&mut self, text: &str) {
        self.type_keys(text);
        self.type_keys("\r");
    }

    /// Reads output until `done` says so or the deadline passes.
    fn read_until(&mut self, deadline: Instant, done: impl Fn(&[u8]) -> bool) -> bool {
        while !done(&self.raw) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut pfd = libc::pollfd { fd: self.master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            if unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(200) as i32) } > 0 {
                let mut buf = [0u8; 4096];
                match self.master.read(&mut buf) {
                    Ok(n) if n > 0 => self.raw.extend_from_slice(&buf[..n]),
                    // EIO: the child closed the terminal (it exited).
                    _ => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        }
        true
    }

    /// Reads until `needle` appears in the output after what was already
    /// seen; returns that stretch of output (up to and including it).
    fn expect(&mut self, needle: &str) -> String {
        let seen = self.seen;
        let found = |raw: &[u8]| clean(raw).get(seen..).is_some_and(|t| t.contains(needle));
        if !self.read_until(Instant::now() + Duration::from_secs(30), found) {
            let _ = self.child.kill();
            let tail = String::from_utf8_lossy(&self.raw[self.raw.len().saturating_sub(600)..]).into_owned();
            panic!("no {needle:?} within 30 s; output so far:\n{}\nraw tail: {tail:?}", &clean(&self.raw)[seen..]);
        }
        let text = clean(&self.raw);
        let end = seen + text[seen..].find(needle).unwrap_or(0) + needle.len();
        self.seen = end;
        text[seen..end].to_string()
    }

    /// Types `text`, then waits for the next prompt; the output in between.
    fn run(&mut self, text: &str) -> String {
        self.line(text);
        self.expect(PROMPT)
    }

    fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the session did not exit; output:\n{}", clean(&self.raw));
            }
            // Keep the pty drained so the child never blocks writing.
            let mut pfd = libc::pollfd { fd: self.master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            if unsafe { libc::poll(&mut pfd, 1, 50) } > 0 {
                let mut buf = [0u8; 4096];
                if let Ok(n) = self.master.read(&mut buf) {
                    self.raw.extend_from_slice(&buf[..n]);
                }
            }
        }
    }
}

impl Drop for Repl {
    fn drop(&mut self) {
        // A failed assertion must not leave a session with probes attached.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `n` loopback connections to a listener on `port`: connect, accept,
/// client closes first, then the server side.
fn tcp_cycles(port: u16, n: usize) {
    let listener = traffic::listen(port).unwrap();
    traffic::close_cycles(&listener, n).unwrap();
    drop(listener);
    // Let the last transitions happen and reach the maps.
    std::thread::sleep(Duration::from_millis(100));
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn map_lines(out: &str, prefix: &str) -> Vec<String> {
    let mut lines: Vec<String> = out.lines().map(str::trim).filter(|l| l.starts_with(prefix)).map(str::to_string).collect();
    lines.sort();
    lines
}

/// The state-transition counts of `conns` connections and `listens`
/// listeners (TCP_ESTABLISHED=1 SYN_SENT=2 SYN_RECV=3 FIN_WAIT1=4
/// FIN_WAIT2=5 CLOSE=7 CLOSE_WAIT=8 LAST_ACK=9 LISTEN=10), sorted as text.
fn transitions(conns: u32, listens: u32) -> Vec<String> {
    let per_conn = ["1, 4", "1, 8", "10, 3", "2, 1", "3, 1", "4, 5", "5, 7", "7, 2", "8, 9", "9, 7"];
    let per_listen = ["10, 7", "7, 10"];
    let mut lines: Vec<String> = per_conn
        .iter()
        .map(|k| format!("@s[{k}]: {conns}"))
        .chain(per_listen.iter().map(|k| format!("@s[{k}]: {listens}")))
        .collect();
    lines.sort();
    lines
}

/// Ids of every flowtrace program and map in the kernel (`ft_…` names).
fn ours_in_kernel() -> Vec<(char, u32)> {
    let progs = flowtrace_runtime::sys::programs_named("ft_").unwrap().into_iter().map(|p| ('p', p.id));
    let maps = flowtrace_runtime::sys::maps_named("ft_").into_iter().map(|(id, _)| ('m', id));
    progs.chain(maps).collect()
}

/// What the session loaded: objects there now that were not before it.
fn loaded_since(before: &[(char, u32)]) -> Vec<(char, u32)> {
    ours_in_kernel().into_iter().filter(|o| !before.contains(o)).collect()
}

/// Checks through the kernel that none of `objects` is left. The kernel
/// frees programs and maps shortly after their last fd closes (RCU), so
/// with a short grace period. (Ids, not a count of `ft_` objects: other
/// flowtrace processes may run at the same time.)
fn assert_gone(objects: &[(char, u32)]) {
    assert!(!objects.is_empty(), "saw nothing of the session in the kernel");
    let start = Instant::now();
    loop {
        let left: Vec<(char, u32)> = ours_in_kernel().into_iter().filter(|o| objects.contains(o)).collect();
        if left.is_empty() {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(3), "the session left BPF objects behind: {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn probe(port: u16) -> String {
    format!("tracepoint:sock:inet_sock_set_state /args.sport == {port} || args.dport == {port}/")
}

fn temp_home(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowtrace-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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
    for _ in 0..3 {
        let started = Instant::now();
        repl.line(".maps");
        repl.expect("no maps yet");
        assert!(started.elapsed() < Duration::from_secs(10), "the prompt lagged {:?}", started.elapsed());
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
