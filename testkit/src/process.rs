//! A flowtrace process started by a test.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout};

/// Reads `child`'s first line, which must be bpftrace's `Attaching N
/// probes...` (printed once everything is attached, so events from now on
/// are seen); otherwise panics with what it printed on both streams. `what`
/// says which run it was. Returns the rest of stdout and that line.
pub fn attached(child: &mut Child, what: &str) -> (BufReader<ChildStdout>, String) {
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut head = String::new();
    stdout.read_line(&mut head).expect("reading flowtrace's stdout");
    if !head.starts_with("Attaching") {
        let mut err = String::new();
        if let Some(mut stderr) = child.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        panic!("flowtrace did not attach ({what}): stdout {head:?}, stderr {err}");
    }
    (stdout, head)
}
