//! Writing to standard output, which may be a pipe whose reader has gone
//! (`flowtrace -l | head -1`) or a full device (`>/dev/full`). `print!`
//! panics on both; these return what happened instead.
//!
//! Rust ignores SIGPIPE, so a closed pipe is an EPIPE error here. A Unix tool
//! stops quietly then (bpftrace and cat die of SIGPIPE): the reader wanted no
//! more, and there is nobody to tell. Any other failure is a real loss of
//! output and is reported.

use std::io::{self, Write};
use std::process::ExitCode;

/// Why output stopped.
#[derive(Debug)]
pub enum Failed {
    /// The reader closed the pipe.
    Closed,
    /// Anything else (a full disk, an I/O error): the message says which.
    Error(io::Error),
}

impl Failed {
    /// Says what happened (nothing, for a closed pipe) and gives the exit
    /// status: the status a shell reports for a SIGPIPE death (128 + 13) for
    /// a closed pipe, as `bpftrace -l | head -1` gives, and 1 otherwise.
    pub fn report(&self) -> ExitCode {
        match self {
            Failed::Closed => ExitCode::from(141),
            Failed::Error(e) => {
                eprintln!("flowtrace: error: writing to standard output: {e}");
                ExitCode::from(1)
            }
        }
    }
}

/// Writes `text` and flushes it (stdout buffers lines, and a full device
/// fails only at the flush).
pub fn print(text: &str) -> Result<(), Failed> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes()).and_then(|()| out.flush()).map_err(|e| match e.kind() {
        io::ErrorKind::BrokenPipe => Failed::Closed,
        _ => Failed::Error(e),
    })
}

/// [`print`] where the caller reports failure as [`Reported`](crate::frontend::Reported)
/// (exit status 1): the message is printed here.
pub fn print_or_report(text: &str) -> Result<(), crate::frontend::Reported> {
    print(text).map_err(|f| {
        f.report();
        crate::frontend::Reported
    })
}
