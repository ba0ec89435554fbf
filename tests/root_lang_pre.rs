//! The preprocessor and the other top-level features of today's bpftrace
//! scripts, end to end through the `flowtrace` binary.
//!
//! The `root_` tests load and attach on the host kernel (tracepoints, BEGIN)
//! and check exact output against loopback traffic they generate; they run
//! only with FLOWTRACE_ROOT_TESTS=1 (wrap in `flock /tmp/ft-root.lock`). The
//! others are front-end only (`--dry-run` against the committed BTF fixture)
//! and need no root: diagnostics in included files, `-I`, `--include`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use flowtrace_testkit::process::attached;
use flowtrace_testkit::root_tests_enabled as enabled;
use flowtrace_testkit::traffic::{close_cycles, listener};

fn flowtrace() -> Command {
    Command::new(env!("CARGO_BIN_EXE_flowtrace"))
}

fn fixture_btf() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("kernel/tests/fixtures/vmlinux-subset.btf").display().to_string()
}

/// A scratch directory for script and header files, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("ft-lang-pre-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[&str]) -> Output {
    let mut child = flowtrace().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_bounded(&mut child, Duration::from_secs(30));
    child.wait_with_output().unwrap()
}

fn wait_bounded(child: &mut Child, limit: Duration) {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("flowtrace did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The first lines of bpftrace's tcp tools, then constants from a header of
/// the script's own, found next to it.
const TOOL_HEADER: &str = "#!/usr/bin/env flowtrace
#ifndef BPFTRACE_HAVE_BTF
#include <linux/socket.h>
#include <net/sock.h>
#else
#include <sys/socket.h>
#endif
#include \"lib/states.h\"
";

const STATES_H: &str = "#ifndef STATES_H
#define STATES_H
#define ST_ESTABLISHED 1
#define ST_SYN_RECV 3
#define ACCEPTED(old, new) ((old) == ST_SYN_RECV && (new) == ST_ESTABLISHED)
#endif
";

#[test]
fn root_tcpaccept_shaped_script_counts_accepts() {
    if !enabled("root_tcpaccept_shaped_script_counts_accepts") {
        return;
    }
    let dir = Dir::new("accept");
    dir.write("lib/states.h", STATES_H);
    let script = dir.write(
        "tcpaccept.bt",
        &format!(
            "{TOOL_HEADER}#include \"lib/states.h\"
tracepoint:sock:inet_sock_set_state
/ args.protocol == IPPROTO_TCP && args.family == AF_INET && args.sport == $1 &&
  ACCEPTED(args.oldstate, args.newstate) /
{{
#if defined(ST_ESTABLISHED) && ST_ESTABLISHED == 1
  @accepts[ntop(args.saddr), args.sport] = count();
#else
  @wrong_branch = count();
#endif
}}
"
        ),
    );
    let (l, port) = listener();
    let port_arg = port.to_string();
    let mut child = flowtrace().args([&script, &port_arg]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (mut stdout, head) = attached(&mut child, "tcpaccept-shaped script");
    close_cycles(&l, 4).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    wait_bounded(&mut child, Duration::from_secs(20));
    let mut out = head;
    stdout.read_to_string(&mut out).unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    assert_eq!(out, format!("Attaching 1 probe...\n\n\n@accepts[127.0.0.1, {port}]: 4\n"), "output:\n{out}");
}

#[test]
fn root_begin_runs_only_the_taken_branches() {
    if !enabled("root_begin_runs_only_the_taken_branches") {
        return;
    }
    let program = "#define GREETING \"hello\"
#define TWICE(x) ((x) * 2)
#define LEVEL 3
BEGIN {
#if LEVEL >= 3 && defined(BPFTRACE_HAVE_BTF)
  printf(\"%s %d\\n\", GREETING, TWICE(LEVEL + 1));
#elif LEVEL == 2
  printf(\"two\\n\");
#else
  printf(\"low\\n\");
#endif
#undef LEVEL
#ifndef LEVEL
  printf(\"undefined\\n\");
#endif
  exit();
}";
    let out = run(&["-e", program]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Attaching 1 probe...\nhello 8\nundefined\n\n\n");
}

#[test]
fn included_files_come_from_the_script_dir_then_include_dirs() {
    let dir = Dir::new("dirs");
    dir.write("lib/states.h", STATES_H);
    dir.write("other/limits.h", "#define LIMIT 7\n");
    dir.write("pre.h", "#define FROM_PRE 1\n");
    let script = dir.write("s.bt", "#include \"lib/states.h\"\n#include \"limits.h\"\nBEGIN { @x = LIMIT + FROM_PRE + ST_SYN_RECV; }\n");
    let other = dir.0.join("other").display().to_string();
    let pre = dir.0.join("pre.h").display().to_string();
    let ok = run(&["--btf", &fixture_btf(), "--dry-run", "-I", &other, "--include", &pre, &script]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    // Without -I, "limits.h" is taken for a system header (ignored), and LIMIT stays a name.
    let missing = run(&["--btf", &fixture_btf(), "--dry-run", "--include", &pre, &script]);
    assert_eq!(
        stderr(&missing),
        format!("{script}:3:14: error: unknown identifier 'LIMIT'\nBEGIN {{ @x = LIMIT + FROM_PRE + ST_SYN_RECV; }}\n             ^~~~~\n")
    );
    // `--include` is relative to the current directory, and must exist.
    let relative = flowtrace()
        .current_dir(&dir.0)
        .args(["--btf", &fixture_btf(), "--dry-run", "-I", "other", "--include", "pre.h", "s.bt"])
        .output()
        .unwrap();
    assert!(relative.status.success(), "{}", stderr(&relative));
    let absent = run(&["--btf", &fixture_btf(), "--dry-run", "--include", "no-such.h", &script]);
    assert!(stderr(&absent).starts_with(&format!("{script}:1:1: error: cannot find included file 'no-such.h'\n")), "{}", stderr(&absent));
}

#[test]
fn errors_in_included_files_point_into_them() {
    let dir = Dir::new("errors");
    let header = dir.write("bad.h", "#define OK 1\n#if OK +\n#endif\n");
    let script = dir.write("s.bt", "#include \"bad.h\"\nBEGIN { }\n");
    let out = run(&["--btf", &fixture_btf(), "--dry-run", &script]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), format!("{header}:2:1: error: #if condition ends too early\n#if OK +\n^~~~~~~~\n"));

    // A type error in text a header's macro produced: the caret is on the use.
    dir.write("key.h", "\n\n#define KEY comm\n");
    let script = dir.write("t.bt", "#include \"key.h\"\nBEGIN { @m[KEY] = 1; @m[1] = 2; }\n");
    let out = run(&["--btf", &fixture_btf(), "--dry-run", &script]);
    let text = stderr(&out);
    assert!(text.contains(&format!("{script}:2:12: note: @m is first used here")), "{text}");
    assert!(text.contains("BEGIN { @m[KEY] = 1; @m[1] = 2; }\n           ^~~\n"), "{text}");

    // A syntax error after a header: lines of the script are still its own.
    let script = dir.write("u.bt", "#include \"key.h\"\n\nBEGIN { $x = ; }\n");
    let out = run(&["--btf", &fixture_btf(), "--dry-run", &script]);
    assert!(stderr(&out).starts_with(&format!("{script}:3:14: error: expected expression, found ';'")), "{}", stderr(&out));
}

#[test]
fn recursive_includes_are_refused_with_a_caret() {
    let dir = Dir::new("recursive");
    let a = dir.write("a.h", "#include \"b.h\"\n");
    dir.write("b.h", "// b includes a again\n#include \"a.h\"\n");
    let script = dir.write("s.bt", "#include \"a.h\"\nBEGIN { }\n");
    let out = run(&["--btf", &fixture_btf(), "--dry-run", &script]);
    assert_eq!(out.status.code(), Some(1));
    let b = dir.0.join("b.h").display().to_string();
    assert!(
        stderr(&out).starts_with(&format!("{b}:2:1: error: #include of 'a.h' is recursive: it is already being included\n#include \"a.h\"\n^~~~~~~~~~~~~~\n")),
        "{} (a.h is {a})",
        stderr(&out)
    );
}

/// A kprobe script shaped like tcpaccept/tcpconnect (kprobes cannot attach on
/// this host, so it is only checked against the host's BTF).
#[test]
fn tools_shaped_kprobe_script_passes_dry_run() {
    if !Path::new("/sys/kernel/btf/vmlinux").exists() {
        flowtrace_testkit::gate::skipped("tools_shaped_kprobe_script_passes_dry_run", "/sys/kernel/btf/vmlinux is missing");
        return;
    }
    let dir = Dir::new("kprobe");
    dir.write("lib/states.h", STATES_H);
    let script = dir.write(
        "accept.bt",
        &format!(
            "{TOOL_HEADER}
BEGIN {{ printf(\"%-8s %-6s %-14s %5s\\n\", \"TIME\", \"PID\", \"RADDR\", \"LPORT\"); }}
kretprobe:inet_csk_accept
{{
  $sk = (struct sock *)retval;
  $inet_family = $sk->__sk_common.skc_family;
  if ($inet_family == AF_INET || $inet_family == AF_INET6) {{
    $daddr = ntop($sk->__sk_common.skc_daddr);
    $lport = $sk->__sk_common.skc_num;
    time(\"%H:%M:%S \");
    printf(\"%-6d %-14s %5d\\n\", pid, $daddr, $lport);
  }}
}}
"
        ),
    );
    let out = run(&["--dry-run", &script]);
    assert!(out.status.success(), "{}", stderr(&out));
}

/// `cat FILE` under `-c`, traced by a script that counts opens of paths
/// under /tmp/ft-lan… by `str(filename)` with the default string size.
fn opens_by_name(config: &str, env: &[(&str, &str)]) -> Output {
    let dir = Dir::new("config");
    let file = dir.write("a-long-file-name", "x");
    let script = format!(
        "config = {{ {config} }}
tracepoint:syscalls:sys_enter_openat /comm == \"cat\" && strncmp(str(args.filename), \"/tmp/ft-lan\", 7) == 0/ {{
  @[str(args.filename)] = count();
}}"
    );
    let mut cmd = flowtrace();
    cmd.args(["-c", &format!("cat {file} > /dev/null"), "-e", &script]).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    wait_bounded(&mut child, Duration::from_secs(30));
    child.wait_with_output().unwrap()
}

#[test]
fn root_config_max_strlen_sets_the_string_size_and_the_environment_wins() {
    if !enabled("root_config_max_strlen_sets_the_string_size_and_the_environment_wins") {
        return;
    }
    let out = opens_by_name("max_strlen = 12", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    // 12 bytes with the NUL: 11 characters of the path.
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Attaching 1 probe...\n\n\n@[/tmp/ft-lan]: 1\n");
    let out = opens_by_name("max_strlen = 12", &[("BPFTRACE_MAX_STRLEN", "8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Attaching 1 probe...\n\n\n@[/tmp/ft]: 1\n");
    let out = opens_by_name("max_strlen = 12", &[("BPFTRACE_MAX_STRLEN", "4097")]);
    assert_eq!(stderr(&out), "flowtrace: error: BPFTRACE_MAX_STRLEN=4097: max_strlen must be an integer from 1 to 256\n");
}

#[test]
fn root_config_print_maps_on_exit_and_max_map_keys() {
    if !enabled("root_config_print_maps_on_exit_and_max_map_keys") {
        return;
    }
    let out = run(&["-e", "config = { print_maps_on_exit = false } BEGIN { @m[1] = 1; printf(\"done\\n\"); exit(); }"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Attaching 1 probe...\ndone\n");
    let mut cmd = flowtrace();
    cmd.env("BPFTRACE_PRINT_MAPS_ON_EXIT", "true");
    let out = cmd.args(["-e", "config = { print_maps_on_exit = false } BEGIN { @m[1] = 1; exit(); }"]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Attaching 1 probe...\n\n\n@m[1]: 1\n", "the environment wins");

    let out = run(&["-e", "config = { max_map_keys = 2 } BEGIN { @m[1] = 1; @m[2] = 2; @m[3] = 3; exit(); }"]);
    let all = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(all.starts_with("Attaching 1 probe...\n\n\n@m[1]: 1\n@m[2]: 2\n"), "{all}");
    assert!(all.contains("@m: 1 updates dropped: map full (2 keys)"), "{all}");
}

/// The forms of bpftrace's docs on macros that flowtrace supports, run.
#[test]
fn root_macros_expand_hygienically() {
    if !enabled("root_macros_expand_hygienically") {
        return;
    }
    let program = "macro one() { 1 }
macro add_one(x) { x + 1 }
macro add_one_to_each($a, @b) { $a += 1; @b += 1; }
macro side_effects(x) { x; x; x; }
macro add_two(x) { add_one(x) + 1 }
macro own_var(x) { $t = x; printf(\"t=%d\\n\", $t * 2); }
macro inc($x) { $x += 1; $x }
macro twice_once(x) { let $t = x; $t + $t }
BEGIN {
  printf(\"%d %d\\n\", one(), one);
  $a = 10;
  printf(\"%d %d\\n\", add_one($a), add_one(1 + 1));
  @b = 5;
  add_one_to_each($a, @b);
  printf(\"%d\\n\", $a + @b);
  side_effects(printf(\"hi\"));
  printf(\"\\n%d\\n\", add_two(1));
  $t = 100;
  own_var(21);
  printf(\"caller t=%d\\n\", $t);
  $n = 1;
  $y = inc($n) * 10 + twice_once(inc($n));
  printf(\"y=%d n=%d\\n\", $y, $n);
  exit();
}";
    let out = run(&["-e", program]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Attaching 1 probe...\n1 1\n11 3\n17\nhihihi\n3\nt=42\ncaller t=100\ny=26 n=3\n\n\n@b: 6\n");
}

/// A script's own struct read through a real kernel pointer: its C layout
/// must put the ports where the kernel's `struct sock_common` has them
/// (a script's `struct sock_common` replaces BTF's, as in bpftrace), and
/// its enum's constants are names.
#[test]
fn root_script_structs_read_kernel_memory_with_c_layout() {
    if !enabled("root_script_structs_read_kernel_memory_with_c_layout") {
        return;
    }
    let script = "union h { unsigned int hash; };
struct sock_common {
  unsigned int daddr, rcv_saddr;
  union h h;
  unsigned short dport;
  unsigned short num;
};
enum interesting { ST_ESTABLISHED = 1, ST_CLOSE = 7 };
tracepoint:sock:inet_sock_set_state /args.sport == $1 && args.newstate == ST_ESTABLISHED/ {
  $c = (struct sock_common *)args.skaddr;
  @by_num[$c->num, $c->num == args.sport] = count();
}";
    let (l, port) = listener();
    let port_arg = port.to_string();
    let mut child = flowtrace().args(["-e", script, &port_arg]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (mut stdout, head) = attached(&mut child, "script struct");
    close_cycles(&l, 3).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    wait_bounded(&mut child, Duration::from_secs(20));
    let mut out = head;
    stdout.read_to_string(&mut out).unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    assert_eq!(out, format!("Attaching 1 probe...\n\n\n@by_num[{port}, 1]: 3\n"), "output:\n{out}");
}

#[test]
fn script_struct_layout_is_shown_by_the_types_dump() {
    let script = "struct flow { unsigned char proto; u32 saddr; unsigned short ports[2]; struct flow *next; u64 bytes; };
BEGIN { $f = (struct flow *)0; @x = $f->bytes + $f->ports[1] + $f->next->saddr; }";
    let out = run(&["--btf", &fixture_btf(), "-d", "types", "-e", script]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    for line in ["$f->bytes : uint64 (offset 24, 8 bytes)", "$f->ports : uint16[2] (offset 8, 4 bytes)", "$f->next->saddr : uint32 (offset 4, 4 bytes)"] {
        assert!(text.contains(line), "{line} missing in:\n{text}");
    }
}

#[test]
fn root_config_missing_probes_leaves_out_what_does_not_exist() {
    if !enabled("root_config_missing_probes_leaves_out_what_does_not_exist") {
        return;
    }
    let program = "config = { missing_probes = warn }
tracepoint:no_such_category:no_such_event { @never = count(); }
tracepoint:tcp:no_such_prefix_* { @never = count(); }
BEGIN { printf(\"ran\\n\"); exit(); }";
    let out = run(&["-e", program]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Attaching 1 probe...\nran\n\n\n");
    let warnings: Vec<String> = stderr(&out).lines().filter(|l| l.contains("warning")).map(String::from).collect();
    assert_eq!(
        warnings,
        [
            "-e:2:1: warning: tracepoint `no_such_category:no_such_event` does not exist; skipping it (missing_probes = warn)",
            "-e:3:1: warning: no tracepoint matches 'tcp:no_such_prefix_*'; skipping it (missing_probes = warn)"
        ]
    );
    let mut cmd = flowtrace();
    let out = cmd.env("BPFTRACE_MISSING_PROBES", "ignore").args(["-e", program]).output().unwrap();
    assert!(out.status.success() && stderr(&out).is_empty(), "ignore is silent: {}", stderr(&out));
    let out = run(&["-e", "tracepoint:no_such_category:no_such_event { @never = count(); } BEGIN { exit(); }"]);
    assert_eq!(out.status.code(), Some(1), "the default is an error");
}

/// `missing_probes` also covers a probe that exists for the checker but fails
/// to attach at run time (bpftrace: "or there was an issue during
/// attachment"): raw tracepoint names are not checked before attaching, so a
/// wrong one fails only in `bpf_raw_tracepoint_open`.
#[test]
fn root_config_missing_probes_applies_when_attaching() {
    if !enabled("root_config_missing_probes_applies_when_attaching") {
        return;
    }
    let body = "rawtracepoint:no_such_raw_tp_xyz { @never = count(); }
interval:ms:50 { printf(\"ran\\n\"); exit(); }";
    let reason = "cannot attach 'rawtracepoint:no_such_raw_tp_xyz': `bpf_raw_tracepoint_open` failed: No such file or directory (os error 2)";
    let out = run(&["-e", &format!("config = {{ missing_probes = warn }}\n{body}")]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Attaching 2 probes...\nran\n\n\n@never: 0\n");
    assert_eq!(stderr(&out), format!("warning: {reason}; left out (missing_probes = warn)\n"));
    let out = run(&["-e", &format!("config = {{ missing_probes = ignore }}\n{body}")]);
    assert!(out.status.success() && stderr(&out).is_empty(), "ignore is silent: {}", stderr(&out));
    let out = run(&["-e", body]);
    assert_eq!(out.status.code(), Some(1), "the default is an error");
    assert!(stderr(&out).starts_with(&format!("-e:1:1: error: {reason}\n")), "{}", stderr(&out));
    assert_eq!(flowtrace_testkit::objects::flowtrace_objects_after_grace(), (0, 0), "nothing left attached");
}

/// `missing_probes` also covers a probe kind this kernel cannot run at all
/// (no kprobes and no fentry, no tracing programs for `iter:`): under warn
/// or ignore the probe is left out before anything loads and the rest runs.
/// `FLOWTRACE_NO_TRACING=1` makes the kernel's refusal of iterators certain
/// on any host; the kprobe half runs where the kernel has neither kprobes
/// nor fentry (this project's CI host) and says so where it does not.
#[test]
fn root_config_missing_probes_leaves_out_what_this_kernel_cannot_run() {
    if !enabled("root_config_missing_probes_leaves_out_what_this_kernel_cannot_run") {
        return;
    }
    let body = "iter:task { @tasks = count(); }
BEGIN { printf(\"ran\\n\"); exit(); }";
    let with = |setting: &str| {
        let mut cmd = flowtrace();
        cmd.env("FLOWTRACE_NO_TRACING", "1").args(["-e", &format!("config = {{ missing_probes = {setting} }}\n{body}")]);
        flowtrace_testkit::process::output_within(&mut cmd, Duration::from_secs(30), || "flowtrace did not exit".into())
    };
    let out = with("warn");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Attaching 1 probe...\nran\n\n\n@tasks: 0\n");
    let warning = stderr(&out);
    assert!(
        warning.starts_with("warning: cannot attach 'iter:task': this kernel refuses tracing programs")
            && warning.trim_end().ends_with("; left out (missing_probes = warn)")
            && warning.lines().count() == 1,
        "{warning}"
    );
    let out = with("ignore");
    assert!(out.status.success() && stderr(&out).is_empty(), "ignore is silent: {}", stderr(&out));
    let out = with("error");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).starts_with("-e:2:1: error: cannot attach 'iter:task'"), "{}", stderr(&out));

    let kprobes = Path::new("/sys/bus/event_source/devices/kprobe/type").exists();
    let fentry_refused = {
        let out = run(&["-e", "fentry:tcp_sendmsg { @f = count(); } BEGIN { exit(); }"]);
        !out.status.success() && stderr(&out).contains("cannot run fentry")
    };
    if kprobes || !fentry_refused {
        eprintln!("!!! root_config_missing_probes_leaves_out_what_this_kernel_cannot_run: kprobe half NOT RUN here (this kernel runs kprobes or fentry)");
    } else {
        let program = "config = { missing_probes = warn }
kprobe:tcp_sendmsg { @k = count(); }
kretprobe:tcp_sendmsg { @r = count(); }
BEGIN { printf(\"ran\\n\"); exit(); }";
        let out = run(&["-e", program]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), "Attaching 1 probe...\nran\n\n\n@k: 0\n@r: 0\n");
        let text = stderr(&out);
        let warnings: Vec<&str> = text.lines().collect();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].starts_with("warning: cannot attach 'kprobe:tcp_sendmsg': this kernel has no kprobes"), "{warnings:?}");
        assert!(warnings[1].starts_with("warning: cannot attach 'kretprobe:tcp_sendmsg': this kernel has no kprobes"), "{warnings:?}");
    }
    assert_eq!(flowtrace_testkit::objects::flowtrace_objects_after_grace(), (0, 0), "nothing left attached");
}
