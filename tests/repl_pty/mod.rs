//! The pty harness of the interactive-session tests: flowtrace's REPL on
//! the slave side of a pseudo-terminal, typed at and pasted into as a person
//! would, plus the traffic and kernel-object helpers those tests share.
#![allow(dead_code)] // each test file uses its own part

use flowtrace_testkit::traffic;
use std::fs::File;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};


/// What [`clean`] turns the start of each `readline` into: rustyline
/// switches bracketed paste on (`ESC[?2004h`) only there, not when it
/// redraws the prompt of a multi-line entry.
pub const PROMPT: &str = "[prompt]";

/// How long [`Repl::expect`] waits for an answer.
pub const EXPECT_WITHIN: Duration = Duration::from_secs(60);

/// Terminal output without escape sequences and carriage returns, with
/// each new prompt marked by [`PROMPT`].
pub fn clean(raw: &[u8]) -> String {
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
pub struct Repl {
    pub master: File,
    pub child: Child,
    pub raw: Vec<u8>,
    /// How much of the cleaned output earlier `expect`s consumed.
    pub seen: usize,
}

impl Repl {
    pub fn spawn(home: &PathBuf) -> Repl {
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

    pub fn send(&mut self, keys: &str) {
        self.master.write_all(keys.as_bytes()).unwrap();
    }

    /// Types like a person: one key at a time, each after the previous one
    /// was echoed. (Keys that arrive together, as in a paste without
    /// brackets, are tested in root_repl_input.rs.)
    pub fn type_keys(&mut self, keys: &str) {
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
    pub fn settle(&mut self) {
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
    pub fn paste(&mut self, text: &str) {
        self.send(&format!("\x1b[200~{text}\x1b[201~"));
        self.settle();
    }

    /// Types a line and presses Enter.
    pub fn line(&mut self, text: &str) {
        self.type_keys(text);
        self.type_keys("\r");
    }

    /// Reads output until `done` says so or the deadline passes.
    pub fn read_until(&mut self, deadline: Instant, done: impl Fn(&[u8]) -> bool) -> bool {
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
    /// seen; returns that stretch of output (up to and including it). The
    /// deadline is generous (the machine may be busy with other builds and
    /// tests) but bounded: a session that never answers fails the test.
    pub fn expect(&mut self, needle: &str) -> String {
        let seen = self.seen;
        let found = |raw: &[u8]| clean(raw).get(seen..).is_some_and(|t| t.contains(needle));
        if !self.read_until(Instant::now() + EXPECT_WITHIN, found) {
            let _ = self.child.kill();
            let tail = String::from_utf8_lossy(&self.raw[self.raw.len().saturating_sub(600)..]).into_owned();
            panic!("no {needle:?} within {EXPECT_WITHIN:?}; output so far:\n{}\nraw tail: {tail:?}", &clean(&self.raw)[seen..]);
        }
        let text = clean(&self.raw);
        let end = seen + text[seen..].find(needle).unwrap_or(0) + needle.len();
        self.seen = end;
        text[seen..end].to_string()
    }

    /// Types `text`, then waits for the next prompt; the output in between.
    pub fn run(&mut self, text: &str) -> String {
        self.line(text);
        self.expect(PROMPT)
    }

    pub fn wait(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(40);
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
pub fn tcp_cycles(port: u16, n: usize) {
    let listener = traffic::listen(port).unwrap();
    for _ in 0..n {
        closed_in_step(&listener);
    }
    drop(listener);
    // The last transitions (FIN_WAIT2 -> CLOSE, LAST_ACK -> CLOSE) come when
    // the peers' FINs and ACKs have crossed: wait until every socket on the
    // port is gone or in TIME_WAIT, which is after them (a tracepoint counts
    // in the kernel as the state changes, so the map holds them by then).
    // A fixed pause lost the last connection's on a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sockets_still_closing(port) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One connection closed a step at a time, each side waiting for what the
/// other sent, so the client is never an orphan while its states change:
/// the client shuts down writing (ESTABLISHED -> FIN_WAIT1, and FIN_WAIT2
/// when its FIN is acknowledged), the server reads end-of-file and closes
/// (CLOSE_WAIT -> LAST_ACK), the client reads end-of-file (FIN_WAIT2 ->
/// CLOSE, into TIME_WAIT) and then closes. The same transitions as closing
/// the client outright, without the races of a dropped socket's timers.
fn closed_in_step(listener: &TcpListener) {
    use std::net::{Shutdown, TcpStream};
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (mut server, _) = listener.accept().unwrap();
    for s in [&client, &server] {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    }
    let mut byte = [0u8; 1];
    client.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.read(&mut byte).unwrap(), 0, "the server sees the client's FIN");
    drop(server);
    assert_eq!(client.read(&mut byte).unwrap(), 0, "the client sees the server's FIN");
    drop(client);
}

/// Whether /proc/net/tcp{,6} lists a socket on `port` (either end) in a
/// state other than TIME_WAIT (06).
fn sockets_still_closing(port: u16) -> bool {
    let hex = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"].iter().any(|path| {
        std::fs::read_to_string(path).unwrap_or_default().lines().skip(1).any(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            f.len() > 3 && (f[1].ends_with(&hex) || f[2].ends_with(&hex)) && f[3] != "06"
        })
    })
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn map_lines(out: &str, prefix: &str) -> Vec<String> {
    let mut lines: Vec<String> = out.lines().map(str::trim).filter(|l| l.starts_with(prefix)).map(str::to_string).collect();
    lines.sort();
    lines
}

/// The state-transition counts of `conns` connections and `listens`
/// listeners (TCP_ESTABLISHED=1 SYN_SENT=2 SYN_RECV=3 FIN_WAIT1=4
/// FIN_WAIT2=5 CLOSE=7 CLOSE_WAIT=8 LAST_ACK=9 LISTEN=10), sorted as text.
pub fn transitions(conns: u32, listens: u32) -> Vec<String> {
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
pub fn ours_in_kernel() -> Vec<(char, u32)> {
    let progs = flowtrace_runtime::sys::programs_named("ft_").unwrap().into_iter().map(|p| ('p', p.id));
    let maps = flowtrace_runtime::sys::maps_named("ft_").into_iter().map(|(id, _)| ('m', id));
    progs.chain(maps).collect()
}

/// What the session loaded: objects there now that were not before it.
pub fn loaded_since(before: &[(char, u32)]) -> Vec<(char, u32)> {
    ours_in_kernel().into_iter().filter(|o| !before.contains(o)).collect()
}

/// Checks through the kernel that none of `objects` is left. The kernel
/// frees programs and maps shortly after their last fd closes (RCU), so
/// with a short grace period. (Ids, not a count of `ft_` objects: other
/// flowtrace processes may run at the same time.)
pub fn assert_gone(objects: &[(char, u32)]) {
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

pub fn probe(port: u16) -> String {
    format!("tracepoint:sock:inet_sock_set_state /args.sport == {port} || args.dport == {port}/")
}

pub fn temp_home(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("flowtrace-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What a terminal shows after `raw`: the text of every row, trailing blanks
/// cut, on a screen tall enough that nothing scrolls away (rustyline moves
/// the cursor relative to the prompt, so the height does not change what it
/// draws). Unlike [`clean`], this is what a person sees: a character drawn
/// twice over the same cell shows once, an echo the program did not ask for
/// shows up.
pub fn screen(raw: &[u8]) -> Vec<String> {
    let mut term = vt100::Parser::new(2000, 200, 0);
    term.process(raw);
    let mut rows: Vec<String> = term.screen().rows(0, 200).map(|r| r.trim_end().to_string()).collect();
    while rows.last().is_some_and(|r| r.is_empty()) {
        rows.pop();
    }
    rows
}

impl Repl {
    /// Writes `bytes` in pieces of 1 to 64 bytes with pauses of 0 to 20 ms,
    /// as a slow serial console or a web terminal delivers a paste. The
    /// pieces come from `seed`, so a failure can be replayed.
    pub fn send_in_chunks(&mut self, bytes: &[u8], seed: u64) {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let mut next = move |n: u64| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        let mut at = 0;
        while at < bytes.len() {
            let len = (1 + next(64) as usize).min(bytes.len() - at);
            self.master.write_all(&bytes[at..at + len]).unwrap();
            at += len;
            std::thread::sleep(Duration::from_millis(next(21)));
        }
    }
}
