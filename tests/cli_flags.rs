//! bpftrace's command-line flags that need no kernel access: named
//! parameters checked against the program (`getopt`), flag values and
//! combinations bpftrace refuses, listing structs from BTF (readable by
//! anyone) and the notes flowtrace prints. Runs unprivileged (as nobody
//! when the test runs as root).

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_flowtrace");

/// `flowtrace ARGS` as an unprivileged user (nobody when root), stdin closed.
fn flowtrace(args: &[&str]) -> Output {
    // SAFETY: geteuid has no preconditions.
    let mut c = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    c.args(args).env_remove("FLOWTRACE_MAP_KEYS").stdin(Stdio::null()).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_named_parameter_of_the_wrong_type_is_an_error_at_the_call() {
    let out = flowtrace(&["--dry-run", "-e", "BEGIN { printf(\"%d\\n\", getopt(\"aa\", 10)); }", "--", "--aa=False"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "-e:1:24: error: program command line option --aa invalid integer (value: False)\n\
         BEGIN { printf(\"%d\\n\", getopt(\"aa\", 10)); }\n                       ^~~~~~~~~~~~~~~~\n"
    );
    let out = flowtrace(&["--dry-run", "-e", "BEGIN { if (getopt(\"v\")) { exit(); } }", "--", "--v=maybe"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("-e:1:12: error: program command line option --v invalid boolean (value: maybe)"), "{}", stderr(&out));
}

#[test]
fn a_named_parameter_nothing_reads_is_an_error() {
    let out = flowtrace(&["--dry-run", "-e", "BEGIN { printf(\"%d\\n\", getopt(\"aa\", 10)); }", "--", "--bb"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "-e:1:1: error: unexpected program command line options: --bb\n\
         BEGIN { printf(\"%d\\n\", getopt(\"aa\", 10)); }\n^\n  = hint: expected program options: --aa\n"
    );
    // Accepted when something reads it; positional ones still count as $N.
    let out = flowtrace(&["--dry-run", "-e", "BEGIN { printf(\"%d %s\\n\", getopt(\"bb\", 1), str($1)); }", "p1", "--", "--bb=2"]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn flag_values_and_combinations_bpftrace_refuses() {
    let out = flowtrace(&["-B", "sometimes", "-e", "BEGIN { }"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid value 'sometimes' for '-B <MODE>'"), "{}", stderr(&out));
    let out = flowtrace(&["-p", "1", "-c", "true", "-e", "BEGIN { }"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot be used with"), "{}", stderr(&out));
    let out = flowtrace(&["-k", "--no-warnings", "-e", "BEGIN { }"]);
    assert_eq!(out.status.code(), Some(2));
    let out = flowtrace(&["-p", "abc", "-e", "BEGIN { }"]);
    assert!(stderr(&out).contains("'abc' is not a process id"), "{}", stderr(&out));
}

#[test]
fn structs_list_from_btf_without_privileges() {
    let out = flowtrace(&["-l", "struct in6_addr"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "struct in6_addr\n", "{}", stderr(&out));
    let out = flowtrace(&["-lv", "struct in6_addr"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "vmlinux: struct in6_addr {\n\tunion {\n\t\t__u8 u6_addr8[16];\n\t\t__be16 u6_addr16[8];\n\t\t__be32 u6_addr32[4];\n\t} in6_u;\n};\n"
    );
}

#[test]
fn a_missing_script_name_is_listed_as_a_pattern_with_a_warning() {
    // (Listing the pattern then needs tracefs, refused to nobody: only
    // the warning is this test's business.)
    let out = flowtrace(&["-l", "no_such_script.bt"]);
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("warning: 'no_such_script.bt' looks like a file name but no such file exists"), "{}", stderr(&out));
    let out = flowtrace(&["--no-warnings", "-l", "no_such_script.bt"]);
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
}

#[test]
fn k_adds_a_failure_check_after_each_probe_read() {
    // One member read: without -k one probe_read_kernel and no ring-buffer
    // record for it; with -k a record is reserved when the read fails.
    let prog = "BEGIN { $sk = (struct sock *)4096; @[$sk->__sk_common.skc_family] = count(); }";
    let count = |args: &[&str]| {
        let out = flowtrace(&[args, &["-d", "ir", "-e", prog]].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).matches("call ringbuf_reserve").count()
    };
    assert_eq!(count(&[]), 0);
    assert_eq!(count(&["-k"]), 1);
}

#[test]
fn info_needs_privileges_rather_than_reporting_no_features() {
    let out = flowtrace(&["--info"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).starts_with("flowtrace: error: --info loads test programs and maps, which needs root"), "{}", stderr(&out));
}

#[test]
fn a_script_on_stdin_is_checked_as_stdin() {
    let mut child = Command::new(BIN).args(["--dry-run", "-"]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"BEGIN { @x = nosuch; }\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("<stdin>:1:14: error: "), "{}", stderr(&out));
}
