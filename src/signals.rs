//! SIGINT, SIGTERM and SIGHUP end tracing cleanly (detach, END, print maps,
//! exit 0). The handler only counts, and the event loop polls the count.
//!
//! The handler is installed without `SA_RESTART`: a write to a stalled
//! reader (`flowtrace … | sleep 20`) then returns `EINTR` instead of
//! blocking on, so the loop sees the signal and detaches at once (the
//! output writer, [`crate::output`], stops waiting for the reader). SIGHUP is
//! a dropped ssh session: the terminal is gone, but the probes must still be
//! detached and clsact filters removed. Except for a daemon: with
//! `--metrics` and a script file, SIGHUP reloads the file instead
//! ([`install_with_reload`]).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

static RECEIVED: AtomicU32 = AtomicU32::new(0);
/// SIGHUPs asking for a reload (only with [`install_with_reload`]).
static HANGUPS: AtomicU32 = AtomicU32::new(0);
static RELOAD_ON_HUP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signal: libc::c_int) {
    if signal == libc::SIGHUP && RELOAD_ON_HUP.load(Ordering::SeqCst) {
        HANGUPS.fetch_add(1, Ordering::SeqCst);
    } else {
        RECEIVED.fetch_add(1, Ordering::SeqCst);
    }
}

/// As [`install`], but SIGHUP asks for a reload (a daemon serving
/// `--metrics` from a script file: the usual meaning of SIGHUP for a
/// daemon) instead of ending the script.
pub fn install_with_reload() {
    RELOAD_ON_HUP.store(true, Ordering::SeqCst);
    install();
}

/// Whether a SIGHUP asked for a reload since the last call.
pub fn take_reload() -> bool {
    HANGUPS.swap(0, Ordering::SeqCst) > 0
}

pub fn install() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: a zeroed sigaction is valid (empty mask, no flags); the
        // handler only adds to an atomic, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = 0; // no SA_RESTART: blocked writes return EINTR
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

pub fn received() -> bool {
    count() > 0
}

/// How many stop signals arrived: a second one during a long detach asks
/// what is going on.
pub fn count() -> u32 {
    RECEIVED.load(Ordering::SeqCst)
}

/// Runs `finish` (detach, END, print) and, while it runs, answers every
/// further stop signal with how far detaching has got: the probes are never
/// left attached, so the wait cannot be cut short, but it is not silent.
pub fn report_detach_progress<T>(finish: impl FnOnce() -> T) -> T {
    use flowtrace_runtime::DETACH_PROGRESS as P;
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut seen = count();
            while !done.load(Ordering::SeqCst) {
                if count() > seen {
                    seen = count();
                    // Not eprintln!: a full or closed stderr must not panic here.
                    let _ = writeln!(
                        std::io::stderr(),
                        "flowtrace: detaching probes: {} of {} detached (each tracepoint waits for the kernel); exiting when all are",
                        P.done.load(Ordering::SeqCst),
                        P.total.load(Ordering::SeqCst),
                    );
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        let result = finish();
        done.store(true, Ordering::SeqCst);
        result
    })
}
