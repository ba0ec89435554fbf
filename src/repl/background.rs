//! The background reader: waits on the ring buffer and prints what probes
//! send while the prompt waits for typing. It also carries out SIGTERM (and SIGHUP, the terminal going away):
//! the prompt's thread may be blocked reading the terminal, so this thread
//! detaches everything, restores the terminal and exits 0.
//!
//! Signals only set flags here (async-signal-safe). SIGINT is caught for
//! the whole session: at the prompt the terminal is in raw mode and Ctrl-C
//! arrives as a key, but during `.watch` or a slow load it arrives as
//! SIGINT and must interrupt, not kill the session with probes attached.

use super::shared::{lock, Shared};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

static TERM: AtomicBool = AtomicBool::new(false);
static INT: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    TERM.store(true, Ordering::SeqCst);
}

extern "C" fn on_int(_: libc::c_int) {
    INT.store(true, Ordering::SeqCst);
}

pub fn install_signals() {
    // SAFETY: the handlers only store to atomics, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, on_term as extern "C" fn(libc::c_int) as libc::sighandler_t);
        // The terminal went away (an ssh connection dropped): as SIGTERM,
        // so no probe stays attached with nobody watching.
        libc::signal(libc::SIGHUP, on_term as extern "C" fn(libc::c_int) as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_int as extern "C" fn(libc::c_int) as libc::sighandler_t);
    }
}

/// Whether Ctrl-C was pressed since the last call (which forgets it).
pub fn take_interrupt() -> bool {
    INT.swap(false, Ordering::SeqCst)
}

/// The terminal's settings before rustyline changed them, to put back when
/// the session ends (also when SIGTERM ends it from this thread).
#[derive(Clone, Copy)]
pub struct SavedTerminal(Option<libc::termios>);

impl SavedTerminal {
    pub fn capture() -> SavedTerminal {
        // SAFETY: termios is plain data; tcgetattr fills it or fails.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::isatty(0) == 1 && libc::tcgetattr(0, &mut t) == 0 {
                return SavedTerminal(Some(t));
            }
        }
        SavedTerminal(None)
    }

    /// Between two prompts (while an entry loads, during `.watch`) the
    /// terminal stays as quiet as rustyline's raw mode but keeps signals
    /// (Ctrl-C) and output processing: keys that arrive then, such as the
    /// rest of a paste, are neither echoed by the kernel (stray characters
    /// that rustyline would draw a second time) nor rewritten (CR to NL,
    /// erase and kill characters): they wait, byte for byte, for the next
    /// prompt. rustyline takes this as the mode to return to after each line.
    pub fn quiet(&self) {
        if let Some(t) = &self.0 {
            let mut q = *t;
            q.c_lflag &= !(libc::ECHO | libc::ICANON | libc::IEXTEN);
            q.c_iflag &= !(libc::ICRNL | libc::INLCR | libc::IGNCR | libc::IXON);
            q.c_cc[libc::VMIN] = 1;
            q.c_cc[libc::VTIME] = 0;
            // SAFETY: a termios derived from one captured from the same fd.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, &q) };
        }
    }

    pub fn restore(&self) {
        if let Some(t) = &self.0 {
            // SAFETY: a termios captured from the same fd.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
        }
    }
}

pub struct Background {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Background {
    /// Starts the reader of the session's ring buffer.
    pub fn start(shared: Arc<Mutex<Shared>>, terminal: SavedTerminal) -> Background {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                if TERM.load(Ordering::SeqCst) {
                    terminate(&shared, &terminal);
                }
                // The ring buffer exists from the first entry on and stays
                // until the session ends, after this thread stopped.
                // (Its own statement: the lock must not be held while waiting.)
                let ring = lock(&shared).session.event_fd();
                match ring {
                    Some(fd) => wait_readable(fd, Duration::from_millis(100)),
                    None => std::thread::sleep(Duration::from_millis(100)),
                }
                lock(&shared).drain();
                if lock(&shared).should_exit() {
                    exit_as_a_script_does(&shared, &terminal);
                }
            }
        });
        Background { stop, thread: Some(thread) }
    }

    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait_readable(fd: RawFd, timeout: Duration) {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd for the duration of the call; EINTR is fine.
    unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) };
}

/// A probe called `exit()`: the session ends as a script does (probes
/// detached, maps printed), from this thread, which is free while the
/// prompt's thread waits in `readline` (whose printer shows the maps).
fn exit_as_a_script_does(shared: &Arc<Mutex<Shared>>, terminal: &SavedTerminal) -> ! {
    let mut s = lock(shared);
    let gone = s.finish_as_at_exit();
    s.out.flush_drawn();
    terminal.restore();
    outln!("\nflowtrace: exit() ended the session; detached {gone} probe(s)");
    std::process::exit(0);
}

/// SIGTERM: what `.quit` does, from this thread.
fn terminate(shared: &Arc<Mutex<Shared>>, terminal: &SavedTerminal) -> ! {
    let mut s = lock(shared);
    let gone = s.detach(None);
    s.out.flush();
    terminal.restore();
    errln!("\nflowtrace: terminated; detached {} probe(s)", gone.len());
    std::process::exit(0);
}
