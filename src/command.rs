//! `-c CMD` runs under /bin/sh. A command that is not there used to show only
//! as the shell's "not found" after the probes were attached, and flowtrace
//! exited 0 as if it had traced it. So its first word is looked up first, as
//! the shell will, and a missing one is an error before anything loads.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Words the shell itself handles (keywords and builtins): no file to find.
const SHELL_WORDS: [&str; 31] = [
    "!", ".", ":", "[", "alias", "break", "case", "cd", "command", "continue", "echo", "eval", "exec", "exit", "export", "false",
    "for", "if", "printf", "read", "readonly", "set", "shift", "source", "test", "time", "trap", "true", "ulimit", "umask", "while",
];

/// Characters that make the first word shell syntax rather than a plain
/// command name (quotes, expansions, assignments, redirections, groups).
const SHELL_SYNTAX: &[char] = &['\'', '"', '\\', '$', '`', '=', '<', '>', '(', ')', '{', '}', ';', '&', '|', '*', '?', '[', '~'];

/// Whether the shell will find CMD's command; the error says why not.
pub fn check(cmd: &str) -> Result<(), String> {
    let Some(first) = cmd.split_whitespace().next() else {
        return Err("-c: the command is empty".to_string());
    };
    if SHELL_WORDS.contains(&first) || first.contains(SHELL_SYNTAX) {
        return Ok(());
    }
    if first.contains('/') {
        return match std::fs::metadata(first) {
            Ok(_) if executable(Path::new(first)) => Ok(()),
            Ok(_) => Err(format!("-c: cannot run '{first}': not an executable file")),
            Err(e) => Err(format!("-c: cannot run '{first}': {e}")),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    if std::env::split_paths(&path).any(|dir| executable(&dir.join(first))) {
        return Ok(());
    }
    Err(format!("-c: cannot run '{first}': no such command in PATH"))
}

/// A regular file this user may execute (access(2) answers for root too).
fn executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else { return false };
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
    // SAFETY: access(2) on a NUL-terminated path we own.
    meta.is_file() && unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_looked_up_as_the_shell_would() {
        assert_eq!(check("sleep 1"), Ok(()));
        assert_eq!(check("/bin/sh -c true"), Ok(()));
        assert_eq!(check("exec sleep 1"), Ok(()), "a builtin");
        assert_eq!(check("FOO=1 env"), Ok(()), "shell syntax: the shell decides");
        assert!(check("/nonexistent --flag").unwrap_err().starts_with("-c: cannot run '/nonexistent': "));
        let text = std::env::temp_dir().join(format!("ft-not-executable-{}", std::process::id()));
        std::fs::write(&text, "data").unwrap();
        let cmd = text.to_str().unwrap();
        assert_eq!(check(cmd).unwrap_err(), format!("-c: cannot run '{cmd}': not an executable file"));
        std::fs::remove_file(&text).unwrap();
        assert_eq!(check("/").unwrap_err(), "-c: cannot run '/': not an executable file");
        assert_eq!(check("ft-no-such-command x").unwrap_err(), "-c: cannot run 'ft-no-such-command': no such command in PATH");
        assert_eq!(check("  ").unwrap_err(), "-c: the command is empty");
    }
}
