//! Which tests may run here: root tests need euid 0 and FLOWTRACE_ROOT_TESTS=1.

use std::io::Write;
use std::path::PathBuf;

/// True when root tests may run; otherwise prints a loud skip line naming the
/// test. The line goes straight to fd 2 because libtest captures `eprintln!`
/// of passing tests, and a skip must not look like a pass.
pub fn root_tests_enabled(test: &str) -> bool {
    let enabled = std::env::var_os("FLOWTRACE_ROOT_TESTS").is_some_and(|v| v == "1");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if enabled && root {
        return true;
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED (needs root and FLOWTRACE_ROOT_TESTS=1): {test}");
    false
}

/// Writes a progress line to fd 2 even when libtest captures output, so a
/// long root test shows what it is doing.
pub fn progress(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
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
