//! Where a script's output goes: standard output or `-o FILE`, written so
//! that a signal is never held up by the reader.
//!
//! Until a stop signal arrives, writes block as usual (a slow reader slows
//! flowtrace down; lost ring-buffer events are counted and reported). Once
//! one has arrived, the reader gets [`GRACE`] in all to take what is left —
//! END's output and the maps — and what it does not take in that time is
//! dropped and reported: probes are detached whatever the output does.

use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

/// How long a stalled reader may hold up exit after a signal.
const GRACE: Duration = Duration::from_millis(250);

pub struct Output {
    fd: RawFd,
    /// Keeps `-o FILE` open; standard output is not ours to close.
    _file: Option<OwnedFd>,
    /// When the first write after a stop signal began.
    stopping_since: Option<Instant>,
    /// Bytes the reader did not take before the grace time ran out.
    pub dropped: u64,
    /// A regular file has no reader to wait for: a write to it never
    /// stalls, so it is written whole even after a signal (in one call,
    /// not a page at a time: 5 000 poll+write pairs for a million-key map).
    regular_file: bool,
}

fn is_regular_file(fd: RawFd) -> bool {
    // SAFETY: `stat` is plain integers, so all zeros is a valid value;
    // fstat writes into that buffer we own, for an fd the caller holds open.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstat(fd, &mut st) == 0 && (st.st_mode & libc::S_IFMT) == libc::S_IFREG
    }
}

impl Output {
    pub fn open(path: Option<&std::path::Path>) -> Result<Output, String> {
        match path {
            Some(path) => {
                let file = std::fs::File::create(path).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                let fd: OwnedFd = file.into();
                let raw = fd.as_raw_fd();
                Ok(Output { fd: raw, _file: Some(fd), stopping_since: None, dropped: 0, regular_file: is_regular_file(raw) })
            }
            None => {
                let fd = libc::STDOUT_FILENO;
                Ok(Output { fd, _file: None, stopping_since: None, dropped: 0, regular_file: is_regular_file(fd) })
            }
        }
    }

    /// After a signal: waits until the reader can take more, within what is
    /// left of the grace time. `false` when it ran out.
    fn ready_in_grace(&mut self) -> bool {
        let since = *self.stopping_since.get_or_insert_with(Instant::now);
        let left = GRACE.saturating_sub(since.elapsed());
        let mut poll = libc::pollfd { fd: self.fd, events: libc::POLLOUT, revents: 0 };
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one pollfd we own, for the length of the call.
        let n = unsafe { libc::poll(&mut poll, 1, ms) };
        n > 0
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        loop {
            let stopping = crate::signals::received() && !self.regular_file;
            // After a signal, write no more than a pipe takes without
            // blocking once it polls writable (one page).
            let len = if stopping { buf.len().min(4096) } else { buf.len() };
            if stopping && !self.ready_in_grace() {
                self.dropped += buf.len() as u64;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the output's reader stopped taking output; the rest was dropped to stop promptly",
                ));
            }
            // SAFETY: writes from a buffer we borrow, of its length at most.
            let n = unsafe { libc::write(self.fd, buf.as_ptr().cast(), len) };
            if n >= 0 {
                return Ok(n as usize);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
            // EINTR: a signal arrived while blocked; loop to see it.
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `-B full`: output is written when the buffer fills and at exit, not
/// at each print, so the printer's per-print flush is ignored. Dropping it
/// (at exit, after the maps) writes the rest.
pub struct FullBuffer(io::BufWriter<Output>);

impl FullBuffer {
    pub fn new(out: Output) -> FullBuffer {
        FullBuffer(io::BufWriter::with_capacity(64 * 1024, out))
    }
}

impl Write for FullBuffer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for FullBuffer {
    fn drop(&mut self) {
        // Nothing is left to report a failure to this late; the grace
        // rules of `Output` still bound how long this can block.
        let _ = self.0.flush();
    }
}
