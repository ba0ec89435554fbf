//! A tracer (flowtrace or bpftrace) running a script in the background, with
//! its stdout and stderr collected as they arrive so a test can wait for the
//! "Attaching N probes..." line and then stop it with SIGINT.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One output stream, filled by a reader thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }

    fn collect(&self, mut from: impl Read + Send + 'static) -> JoinHandle<()> {
        let sink = self.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&buf[..n]);
            }
        })
    }
}

/// What a finished tracer left behind.
#[derive(Debug)]
pub struct Finished {
    pub stdout: String,
    pub stderr: String,
    pub status: ExitStatus,
    pub sigint_repeats: u32,
}

/// A running tracer; killed (SIGKILL) if dropped before [`Tracer::finish`].
pub struct Tracer {
    pub label: String,
    child: Child,
    stdout: Captured,
    stderr: Captured,
    readers: Vec<JoinHandle<()>>,
    /// How often [`Tracer::finish`] had to repeat SIGINT.
    pub sigint_repeats: u32,
}

impl Tracer {
    /// Starts `program` with `args`; `label` names it in messages.
    pub fn spawn(label: &str, program: &Path, args: &[String]) -> Result<Tracer, String> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{label}: cannot start {}: {e}", program.display()))?;
        let (stdout, stderr) = (Captured::default(), Captured::default());
        let readers = vec![
            stdout.collect(child.stdout.take().expect("piped stdout")),
            stderr.collect(child.stderr.take().expect("piped stderr")),
        ];
        Ok(Tracer { label: label.to_string(), child, stdout, stderr, readers, sigint_repeats: 0 })
    }

    /// Output so far.
    pub fn stdout_so_far(&self) -> String {
        self.stdout.text()
    }

    /// True once the tracer has printed its "Attaching N probe(s)..." line:
    /// both tracers print it after every probe is attached.
    pub fn attached(&self) -> bool {
        self.stdout.text().lines().any(|l| l.starts_with("Attaching ") && l.ends_with("..."))
    }

    /// User plus system CPU time so far, in clock ticks (/proc/PID/stat).
    pub fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the parenthesised command name (which may hold
        // spaces): state is field 3, utime and stime are fields 14 and 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }

    /// Exited already (a failed compile or attach)?
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Asks the tracer to stop the way Ctrl-C does; both print their maps then.
    pub fn interrupt(&self) {
        // SAFETY: kill(2) on our own child's pid; a child that already exited
        // but was not reaped keeps its pid, so this cannot hit another process.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGINT) };
    }

    /// Waits up to `limit` for the tracer to exit and returns its output.
    /// With `repeat_sigint`, a tracer that is still running and has printed
    /// nothing new for 3 s gets SIGINT again: bpftrace 0.17 can miss a
    /// SIGINT under load and then sits in epoll_wait forever (seen here with
    /// 16 tracers on 2 CPUs). Do not use it for the tracer under test, where
    /// a lost SIGINT is a bug to see.
    pub fn finish(mut self, limit: Duration, repeat_sigint: bool) -> Result<Finished, String> {
        let start = Instant::now();
        let (mut last_len, mut last_change) = (self.stdout.text().len(), Instant::now());
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() < limit => {
                    std::thread::sleep(Duration::from_millis(20));
                    let len = self.stdout.text().len();
                    if len != last_len {
                        (last_len, last_change) = (len, Instant::now());
                    } else if repeat_sigint && last_change.elapsed() > Duration::from_secs(3) {
                        self.interrupt();
                        self.sigint_repeats += 1;
                        last_change = Instant::now();
                    }
                }
                Ok(None) => {
                    return Err(format!(
                        "{}: did not exit within {limit:?} of SIGINT; threads: {}\nstdout:\n{}\nstderr:\n{}",
                        self.label,
                        self.thread_states(),
                        self.stdout.text(),
                        self.stderr.text()
                    ))
                }
                Err(e) => return Err(format!("{}: wait failed: {e}", self.label)),
            }
        };
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        Ok(Finished { stdout: self.stdout.text(), stderr: self.stderr.text(), status, sigint_repeats: self.sigint_repeats })
    }

    /// Each thread's state and kernel wait channel, to say where a hung
    /// tracer waits.
    fn thread_states(&self) -> String {
        let dir = format!("/proc/{}/task", self.child.id());
        let Ok(tasks) = std::fs::read_dir(&dir) else { return "(gone)".to_string() };
        let mut out = Vec::new();
        for task in tasks.flatten() {
            let path = task.path();
            let read = |f: &str| std::fs::read_to_string(path.join(f)).unwrap_or_default();
            let state = read("stat").rsplit_once(") ").map(|(_, r)| r.chars().next().unwrap_or('?')).unwrap_or('?');
            let status = read("status");
            let signals: Vec<&str> = status.lines().filter(|l| l.starts_with("Sig") || l.starts_with("ShdPnd")).collect();
            out.push(format!("{} {} {state} wchan={} {}", task.file_name().to_string_lossy(), read("comm").trim(), read("wchan"), signals.join(" ")));
        }
        out.join("; ")
    }

    /// Everything printed so far, for error messages.
    pub fn describe(&self) -> String {
        format!("{}\nstdout:\n{}\nstderr:\n{}", self.label, self.stdout.text(), self.stderr.text())
    }
}

impl Drop for Tracer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until every tracer has printed its "Attaching…" line and then gone
/// idle. The line alone is not enough: bpftrace 0.17 prints it *before* it
/// attaches, and with several tracers compiling at once on two cores the
/// attach can lag by hundreds of milliseconds. A tracer that has attached
/// sits in its poll loop and stops using CPU, so "no more than one clock
/// tick in each of the last three 100 ms windows" means attached.
pub fn wait_all_attached(tracers: &mut [&mut Tracer], limit: Duration) -> Result<(), String> {
    let start = Instant::now();
    let mut last: Vec<Option<u64>> = vec![None; tracers.len()];
    let mut quiet_windows = 0;
    loop {
        for t in tracers.iter_mut() {
            if !t.attached() && t.exited() {
                return Err(format!("exited before attaching: {}", t.describe()));
            }
        }
        let now: Vec<Option<u64>> = tracers.iter().map(|t| t.cpu_ticks()).collect();
        let quiet = tracers.iter().all(|t| t.attached())
            && now.iter().zip(&last).all(|(n, l)| matches!((n, l), (Some(n), Some(l)) if n.saturating_sub(*l) <= 1));
        quiet_windows = if quiet { quiet_windows + 1 } else { 0 };
        if quiet_windows >= 3 {
            return Ok(());
        }
        last = now;
        if start.elapsed() > limit {
            let late: Vec<String> = tracers.iter().filter(|t| !t.attached()).map(|t| t.describe()).collect();
            return Err(format!("not attached (or never idle) after {limit:?}:\n{}", late.join("\n")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
