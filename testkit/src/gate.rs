//! Which tests may run here. Root tests need euid 0 AND the environment
//! variable `FLOWTRACE_ROOT_TESTS` set to exactly `1`; anything else skips
//! them, loudly.
//!
//! Why the skip line is written with write(2) on fd 2: libtest captures what
//! `eprintln!` prints and shows it only for failing tests, so a skipped root
//! test would look exactly like a passing one. A raw write to the file
//! descriptor bypasses the capture.

use std::path::PathBuf;

/// The variable that turns the root tier on.
pub const ROOT_TESTS_VAR: &str = "FLOWTRACE_ROOT_TESTS";

/// True when root tests may run; otherwise writes
/// `!!! SKIPPED (needs root and FLOWTRACE_ROOT_TESTS=1): TEST` to fd 2.
pub fn root_tests_enabled(test: &str) -> bool {
    let enabled = std::env::var_os(ROOT_TESTS_VAR).is_some_and(|v| v == "1");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if enabled && root {
        return true;
    }
    skipped(test, "needs root and FLOWTRACE_ROOT_TESTS=1");
    false
}

/// Says loudly that `test` (or a part of it) did not run, and why.
pub fn skipped(test: &str, why: &str) {
    loud(&format!("!!! SKIPPED ({why}): {test}"));
}

/// Writes one line straight to fd 2, uncaptured: for skips and for progress
/// of long root tests.
pub fn loud(line: &str) {
    let text = format!("{line}\n");
    let mut rest = text.as_bytes();
    while !rest.is_empty() {
        // SAFETY: writes from a live buffer of the given length.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n > 0 {
            rest = &rest[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        } else {
            return; // stderr closed: nowhere left to say it
        }
    }
}

/// A progress line of a long root test (uncaptured, like [`loud`]).
pub fn progress(line: &str) {
    loud(line);
}

/// The full path of `program` on PATH, if any.
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file())
}

/// The path of a tool the root tier cannot do without. Missing tools are a
/// failure, not a skip: CI installs them with scripts/setup.
pub fn require_tool(program: &str) -> PathBuf {
    match find_on_path(program) {
        Some(p) => p,
        None => panic!("`{program}` is not installed: run `bash scripts/setup` (CI installs it)"),
    }
}
