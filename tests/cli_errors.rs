//! Mistakes that must end in a clear error and a non-zero exit before
//! anything is loaded: no probes, a `-c` command that does not exist, a map
//! size no kernel accepts, and tracing without the privileges for it (run as
//! user nobody when the test runs as root).

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_flowtrace");

/// Exit status and stderr of `flowtrace ARGS` (killed after 10 s: some of
/// these used to wait forever).
fn run(mut cmd: Command) -> (Option<i32>, String) {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status.code(), err)
}

fn flowtrace(args: &[&str]) -> (Option<i32>, String) {
    let mut c = Command::new(BIN);
    c.args(args).env_remove("FLOWTRACE_MAP_KEYS");
    run(c)
}

/// `flowtrace ARGS` as an unprivileged user: this one, or nobody when root.
fn unprivileged(args: &[&str]) -> (Option<i32>, String) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return flowtrace(args);
    }
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]).args(args);
    run(c)
}

#[test]
fn a_program_without_probes_is_an_error() {
    let empty = std::env::temp_dir().join(format!("ft-empty-{}.ft", std::process::id()));
    std::fs::write(&empty, "// nothing here\n").unwrap();
    for args in [vec!["-e", ""], vec!["-e", "  \n"], vec![empty.to_str().unwrap()]] {
        let (code, err) = flowtrace(&args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert!(err.contains("error: the program has no probes: nothing to attach"), "{args:?}: {err}");
    }
    let _ = std::fs::remove_file(&empty);
}

#[test]
fn a_missing_command_is_an_error() {
    for cmd in ["/nonexistent", "/nonexistent --flag", "ft-no-such-command-here"] {
        let (code, err) = flowtrace(&["-c", cmd, "-e", "BEGIN { exit(); }"]);
        assert_eq!(code, Some(1), "-c {cmd}: {err}");
        let name = cmd.split_whitespace().next().unwrap();
        assert!(err.contains(&format!("error: -c: cannot run '{name}'")), "-c {cmd}: {err}");
    }
}

#[test]
fn map_keys_beyond_the_limit_are_refused_with_a_hint() {
    for keys in ["4294967295", "0", "16777217"] {
        let (code, err) = flowtrace(&["--map-keys", keys, "-e", "BEGIN { @m[1] = 1; exit(); }"]);
        assert_eq!(code, Some(2), "--map-keys {keys}: {err}");
        assert!(err.contains(&format!("invalid value '{keys}' for '--map-keys <N>'")), "{err}");
        assert!(err.contains("1 to 16777216 keys"), "{err}");
        assert!(err.contains("lruhash"), "a hint for the bounded alternative: {err}");
    }
}

#[test]
fn tracing_unprivileged_says_it_needs_root() {
    let needs_root = "needs root (or CAP_BPF + CAP_PERFMON)";
    let (code, err) = unprivileged(&["--dry-run", "-e", "tracepoint:sock:inet_sock_set_state { @[args.newstate] = count(); }"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(needs_root) && !err.contains("not mounted"), "{err}");
    for pattern in ["tracepoint:tcp:*", "*"] {
        let (code, err) = unprivileged(&["-l", pattern]);
        assert_eq!(code, Some(1), "-l {pattern}: {err}");
        assert!(err.contains(needs_root), "-l {pattern}: {err}");
    }
}
