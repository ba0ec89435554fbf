//! SIGINT, SIGTERM and SIGHUP end tracing cleanly (detach, END, print maps,
//! exit 0). The handler only counts, and the event loop polls the count.
//!
//! The handler is installed without `SA_RESTART`: a write to a stalled
//! reader (`flowtrace … | sleep 20`) then returns `EINTR` instead of
//! blocking on, so the loop sees the signal and detaches at once (the
//! output writer, [`crate::output`], stops waiting for the reader). SIGHUP is
//! a dropped ssh session: the terminal is gone, but the probes must still be
//! detached and clsact filters removed.

use std::sync::atomic::{AtomicU32, Ordering};

static RECEIVED: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    RECEIVED.fetch_add(1, Ordering::SeqCst);
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
