//! What `cat` and `system` do in userspace when their event arrives. Like
//! bpftrace, a failure is reported in the output stream rather than
//! stopping the tracer: the script keeps running.

use std::process::{Command, Stdio};

/// `cat(path)`: the file's contents, or an error line.
pub fn cat(path: &str) -> String {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => {
            eprintln!("ERROR: failed to open file '{path}': {e}");
            String::new()
        }
    }
}

/// `system(command)`: runs it with `sh -c` (bpftrace uses popen, which does
/// the same), waits for it, and returns what it wrote to stdout; its stderr
/// goes to ours.
pub fn system(command: &str) -> String {
    match Command::new("/bin/sh").arg("-c").arg(command).stdin(Stdio::null()).stderr(Stdio::inherit()).output() {
        Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
        Err(e) => {
            eprintln!("ERROR: system(\"{command}\"): {e}");
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cat_reads_and_system_runs() {
        assert_eq!(cat("/proc/sys/kernel/ostype"), "Linux\n");
        assert_eq!(cat("/nonexistent-ft"), "");
        assert_eq!(system("echo hi; echo err >&2"), "hi\n");
    }
}
