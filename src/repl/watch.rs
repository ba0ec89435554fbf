//! `.watch @m [SECS [TOP]]`: print a map (its TOP largest entries, as
//! `print(@m, TOP)` does) every SECS seconds until Enter or Ctrl-C.
//! The terminal is in the session's quiet mode here (no echo, no line
//! editing, signals on), so Enter makes standard input readable and Ctrl-C
//! is a SIGINT that the session catches.

use super::background::take_interrupt;
use super::shared::{lock, Shared};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn run(shared: &Arc<Mutex<Shared>>, map: &str, secs: f64, top: u64) -> Result<(), String> {
    let id = lock(shared).session.maps().find(map).ok_or_else(|| format!("no map @{map} in this session (see .maps)"))?;
    let which = if top > 0 { format!(" (top {top})") } else { String::new() };
    outln!("watching @{map}{which} every {secs}s; press Enter or Ctrl-C to stop");
    take_interrupt();
    loop {
        {
            let mut s = lock(shared);
            let snapshot = s.session.maps().snapshot(id).map_err(|e| e.to_string())?;
            let printer = s.session.sink();
            let _ = printer.time("%H:%M:%S\n");
            let _ = printer.map(&snapshot, top, 0);
        }
        if wait_for_stop(Duration::from_secs_f64(secs)) {
            return Ok(());
        }
    }
}

/// Waits `period`; `true` as soon as Enter or Ctrl-C says stop.
fn wait_for_stop(period: Duration) -> bool {
    let deadline = Instant::now() + period;
    loop {
        if take_interrupt() {
            return true;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        // Short slices: SIGINT may be delivered to the reader thread, in
        // which case this poll is not interrupted and only the flag tells.
        let slice = left.min(Duration::from_millis(100));
        let mut pfd = libc::pollfd { fd: 0, events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd for the duration of the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, slice.as_millis().max(1) as i32) };
        if ready > 0 {
            // Consume the line that stopped us, so it does not reach the prompt.
            let mut buf = [0u8; 256];
            // SAFETY: reading into a buffer we own, at most its length.
            unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
            return true;
        }
    }
}
