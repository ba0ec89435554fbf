//! SIGINT and SIGTERM end tracing cleanly (print maps, detach, exit 0): the
//! handler only sets a flag that the event loop polls.

use std::sync::atomic::{AtomicBool, Ordering};

static RECEIVED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    RECEIVED.store(true, Ordering::SeqCst);
}

pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler);
        libc::signal(libc::SIGTERM, handler);
    }
}

pub fn received() -> bool {
    RECEIVED.load(Ordering::SeqCst)
}
