//! uprobe, uretprobe and usdt probes on the host kernel (uprobes work here):
//! a C program the test builds (tests/uprobe/prog.c: `add`, `mul3`, `greet`
//! called a known number of times with known arguments, and two USDT probes,
//! one behind a semaphore) and the system's libssl during a loopback TLS
//! exchange. Every count, argument and return value is checked exactly.
//!
//! They need root: they run when FLOWTRACE_ROOT_TESTS=1, otherwise each
//! prints a loud SKIPPED line.

use flowtrace_testkit::gate::{root_tests_enabled as enabled, skipped};
use flowtrace_testkit::objects::flowtrace_objects_after_grace;
use flowtrace_testkit::process::attached;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The test program, built once per test process into cargo's scratch
/// directory for integration tests (nothing is left in /tmp).
fn prog() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("ft-uprobe");
        std::fs::create_dir_all(&dir).unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/uprobe/prog.c");
        let out = dir.join("prog");
        let status = Command::new("cc").args(["-O1", "-o"]).arg(&out).arg(&source).status().expect("running cc");
        assert!(status.success(), "cc failed on {}", source.display());
        out
    })
}

fn bin() -> String {
    prog().display().to_string()
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_flowtrace")).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Waits for `child` with a hard limit, then collects its output.
fn finish(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `program` with `-c CMD` (the command starts once every probe is
/// attached); returns stdout's lines as a set, after checking the run
/// succeeded.
fn run_with_command(program: &str, command: &str) -> BTreeSet<String> {
    let out = finish(spawn(&["-e", program, "-c", command]), Duration::from_secs(60));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "flowtrace failed:\nstdout {stdout}\nstderr {stderr}");
    stdout.lines().map(str::to_string).collect()
}

fn has_all(lines: &BTreeSet<String>, expected: &[&str]) {
    for line in expected {
        assert!(lines.contains(*line), "missing line {line:?} in:\n{}", lines.iter().cloned().collect::<Vec<_>>().join("\n"));
    }
}

/// The lines of one map (`@name[` or `@name:` prefix).
fn map_lines(lines: &BTreeSet<String>, name: &str) -> Vec<String> {
    lines.iter().filter(|l| l.starts_with(&format!("{name}[")) || l.starts_with(&format!("{name}:"))).cloned().collect()
}

#[test]
fn root_uprobe_and_uretprobe_see_exact_calls_arguments_and_return_values() {
    if !enabled("root_uprobe_and_uretprobe_see_exact_calls_arguments_and_return_values") {
        return;
    }
    let b = bin();
    let program = format!(
        "uprobe:{b}:add {{ @calls = count(); @args[arg0, arg1] = count(); }}
         uretprobe:{b}:add {{ @ret[retval] = count(); }}
         ur:{b}:mul3 {{ @mul = sum(retval); }}
         u:{b}:greet {{ @s = str(arg0); @b = buf(arg0, 5); @f[func, probe] = count(); }}"
    );
    let lines = run_with_command(&program, &format!("{b} 4"));
    has_all(
        &lines,
        &[
            "Attaching 4 probes...",
            "total=84 ticks=0",
            "@calls: 4",
            "@args[0, 0]: 1",
            "@args[1, 10]: 1",
            "@args[2, 20]: 1",
            "@args[3, 30]: 1",
            "@ret[0]: 1",
            "@ret[11]: 1",
            "@ret[22]: 1",
            "@ret[33]: 1",
            "@mul: 18",
            "@s: hello flowtrace",
            "@b: hello",
        ],
    );
    assert_eq!(map_lines(&lines, "@args").len(), 4);
    assert_eq!(map_lines(&lines, "@ret").len(), 4);
    assert_eq!(map_lines(&lines, "@f"), [format!("@f[greet, uprobe:{b}:greet]: 1")]);
}

#[test]
fn root_uprobe_wildcards_offsets_and_addresses() {
    if !enabled("root_uprobe_wildcards_offsets_and_addresses") {
        return;
    }
    let b = bin();
    // m* is main and mul3 (bpftrace lists the same two).
    let lines = run_with_command(&format!("uprobe:{b}:m* {{ @[func] = count(); }}"), &format!("{b} 5"));
    has_all(&lines, &["Attaching 2 probes...", "@[main]: 1", "@[mul3]: 5"]);
    assert_eq!(map_lines(&lines, "@").len(), 2);

    // add's address and the length of its first instruction, from objdump.
    let (address, second) = add_instructions(prog());
    let offset = second - address;
    let program = format!(
        "uprobe:{b}:add+{offset} {{ @off[arg0, arg1] = count(); }}
         uprobe:{b}:{address:#x} {{ @addr = count(); }}"
    );
    let lines = run_with_command(&program, &format!("{b} 3"));
    has_all(&lines, &["Attaching 2 probes...", "@off[0, 0]: 1", "@off[1, 10]: 1", "@off[2, 20]: 1", "@addr: 3"]);
}

/// The addresses of `add`'s first and second instructions.
fn add_instructions(prog: &Path) -> (u64, u64) {
    let out = Command::new("objdump").args(["-d", "--no-show-raw-insn"]).arg(prog).output().expect("running objdump");
    let text = text(&out.stdout);
    let body: Vec<u64> = text
        .split("<add>:\n")
        .nth(1)
        .expect("objdump shows add")
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| u64::from_str_radix(l.trim().split(':').next()?, 16).ok())
        .collect();
    assert!(body.len() >= 2, "add has at least two instructions: {body:?}");
    (body[0], body[1])
}

#[test]
fn root_usdt_reads_arguments_and_sets_the_semaphore() {
    if !enabled("root_usdt_reads_arguments_and_sets_the_semaphore") {
        return;
    }
    let b = bin();
    // Both probes: the semaphore is raised, so the gated probe runs (ticks=3).
    let program = format!(
        "usdt:{b}:ft:plain {{ @p[arg0, arg1] = count(); }}
         usdt:{b}:tick {{ @t[arg0, arg1] = count(); @n[probe] = count(); }}"
    );
    let lines = run_with_command(&program, &format!("{b} 3"));
    has_all(
        &lines,
        &[
            "Attaching 2 probes...",
            "total=42 ticks=3",
            "@p[0, -5]: 1",
            "@p[1, -6]: 1",
            "@p[2, -7]: 1",
            "@t[0, 0]: 1",
            "@t[1, 14]: 1",
            "@t[2, 42]: 1",
        ],
    );
    assert_eq!(map_lines(&lines, "@n"), [format!("@n[usdt:{b}:ft:tick]: 3")]);
    // Only the ungated probe: the semaphore stays 0 and the gated site never runs.
    let lines = run_with_command(&format!("usdt:{b}:ft:* {{ @all[probe] = count(); }}"), &format!("{b} 2"));
    has_all(
        &lines,
        &[
            "Attaching 3 probes...",
            "total=14 ticks=2",
            &format!("@all[usdt:{b}:ft:plain]: 2"),
            &format!("@all[usdt:{b}:ft:indexed]: 2"),
            &format!("@all[usdt:{b}:ft:tick]: 2"),
        ],
    );
    // An indexed memory argument, 8(%base,%index,8): table[i % 8 + 1] = 1000 × (i + 1).
    let lines = run_with_command(&format!("usdt:{b}:ft:indexed {{ @i[arg0] = count(); }}"), &format!("{b} 3"));
    has_all(&lines, &["@i[1000]: 1", "@i[2000]: 1", "@i[3000]: 1"]);
    assert_eq!(map_lines(&lines, "@i").len(), 3);
    let lines = run_with_command(&format!("usdt:{b}:ft:plain {{ @x = count(); }}"), &format!("{b} 2"));
    has_all(&lines, &["Attaching 1 probe...", "total=14 ticks=0", "@x: 2"]);
}

#[test]
fn root_uprobe_pid_filter_counts_one_process() {
    if !enabled("root_uprobe_pid_filter_counts_one_process") {
        return;
    }
    let b = bin();
    let go = std::env::temp_dir().join(format!("ft-uprobe-go-{}", std::process::id()));
    let _ = std::fs::remove_file(&go);
    let start = |n: &str| Command::new(prog()).arg(n).arg(&go).stdout(Stdio::piped()).spawn().unwrap();
    let (first, second) = (start("5"), start("7"));
    let pid = first.id().to_string();
    // The tick probe's semaphore shows where the kernel installed the
    // probes: raised in PID only, so only PID runs the guarded site.
    // `uprobe:*:F` (bpftrace's form with -p): F in whatever PID has mapped.
    let program = format!(
        "uprobe:{b}:add {{ @c = count(); @pids[pid] = count(); }} usdt:{b}:ft:tick {{ @t = count(); }}
         uprobe:*:mul3 {{ @m[probe] = count(); }}"
    );
    let mut tracer = spawn(&["-p", &pid, "-e", &program]);
    let (mut stdout, _) = attached(&mut tracer, "-p");
    std::fs::write(&go, b"go").unwrap();
    let (first, second) = (finish(first, Duration::from_secs(30)), finish(second, Duration::from_secs(30)));
    assert_eq!(text(&first.stdout), "total=140 ticks=5\n");
    assert_eq!(text(&second.stdout), "total=294 ticks=0\n");
    // The run ends when PID exits.
    let out = finish(tracer, Duration::from_secs(30));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let lines: BTreeSet<String> = rest.lines().map(str::to_string).collect();
    assert!(out.status.success(), "{}", text(&out.stderr));
    has_all(&lines, &["@c: 5", "@t: 5", &format!("@pids[{pid}]: 5"), &format!("@m[uprobe:{b}:mul3]: 5")]);
    // Without -p, `*` is refused at the attach point.
    let out = finish(spawn(&["-e", "uprobe:*:mul3 { @ = count(); }"]), Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("'*' as the binary needs -p PID"), "{}", text(&out.stderr));
    let _ = std::fs::remove_file(&go);
}

/// `SSL_write_ex` (what Python's ssl module calls; `SSL_write` is the same
/// with an int length) on the system libssl, named by library name, sees
/// the exact lengths a loopback TLS client writes.
#[test]
fn root_uprobe_libssl_sees_exact_tls_write_sizes() {
    if !enabled("root_uprobe_libssl_sees_exact_tls_write_sizes") {
        return;
    }
    let libssl = "/usr/lib/x86_64-linux-gnu/libssl.so.3";
    if !Path::new(libssl).exists() {
        skipped("root_uprobe_libssl_sees_exact_tls_write_sizes", "no libssl.so.3 here");
        return;
    }
    let dir = std::env::temp_dir().join(format!("ft-uprobe-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("running openssl");
    assert!(status.success());
    let go = dir.join("go");
    let script = dir.join("tls.py");
    std::fs::write(&script, TLS_SCRIPT).unwrap();
    let python = Command::new("python3").arg("-c").arg("import sys; print(sys.executable)").output().unwrap();
    let python = text(&python.stdout).trim().to_string();
    let client = Command::new(&python).arg(&script).arg(&cert).arg(&key).arg(&go).stdout(Stdio::piped()).spawn().unwrap();
    let pid = client.id().to_string();
    let program = format!(
        "uprobe:{libssl}:SSL_write,uprobe:libssl:SSL_write_ex {{ @w[func, arg2] = count(); }}
         uretprobe:libssl:SSL_write_ex {{ @ok[retval] = count(); }}"
    );
    let mut tracer = spawn(&["-p", &pid, "-e", &program]);
    let (mut stdout, head) = attached(&mut tracer, "libssl");
    assert_eq!(head, "Attaching 3 probes...\n");
    std::fs::write(&go, b"go").unwrap();
    let client = finish(client, Duration::from_secs(30));
    assert_eq!(text(&client.stdout), "received 6332\n");
    let out = finish(tracer, Duration::from_secs(30));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let lines: BTreeSet<String> = rest.lines().map(str::to_string).collect();
    has_all(&lines, &["@w[SSL_write_ex, 1234]: 1", "@w[SSL_write_ex, 777]: 1", "@w[SSL_write_ex, 4321]: 1", "@ok[1]: 3"]);
    assert_eq!(map_lines(&lines, "@w").len(), 3, "{rest}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A TLS server thread and a client in one process on 127.0.0.1; the client
/// writes 1234, 777 and 4321 bytes once the go file exists (bounded waits).
const TLS_SCRIPT: &str = r#"
import os, socket, ssl, sys, threading, time
cert, key, go = sys.argv[1], sys.argv[2], sys.argv[3]
server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
server_ctx.load_cert_chain(cert, key)
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(1)
listener.settimeout(20)
port = listener.getsockname()[1]
got = []
def serve():
    conn, _ = listener.accept()
    conn.settimeout(20)
    with server_ctx.wrap_socket(conn, server_side=True) as tls:
        total = 0
        while total < 6332:
            data = tls.recv(65536)
            if not data:
                break
            total += len(data)
        got.append(total)
for _ in range(2000):
    if os.path.exists(go):
        break
    time.sleep(0.01)
t = threading.Thread(target=serve)
t.start()
client_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
client_ctx.load_verify_locations(cert)
client_ctx.check_hostname = False
with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
    with client_ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        for n in (1234, 777, 4321):
            tls.sendall(b"x" * n)
        t.join(20)
print("received", got[0] if got else 0)
"#;

#[test]
fn root_uprobe_bad_targets_are_errors_at_the_attach_point() {
    if !enabled("root_uprobe_bad_targets_are_errors_at_the_attach_point") {
        return;
    }
    let b = bin();
    let cases = [
        ("uprobe:/nonexistent/prog:main", "binary '/nonexistent/prog' does not exist"),
        (&*format!("uprobe:{b}:no_such_function"), &*format!("function 'no_such_function' not found in '{b}'")),
        (&*format!("uprobe:{b}:zz*"), &*format!("no function of '{b}' matches 'zz*'")),
        (&*format!("usdt:{b}:ft:nothing"), &*format!("no USDT probe 'ft:nothing' in '{b}'")),
        (&*format!("uretprobe:{b}:add+4"), "a uretprobe fires at the function's return; it takes no offset"),
    ];
    for (point, message) in cases {
        let program = format!("BEGIN {{ printf(\"begun\\n\"); }} {point} {{ @ = count(); }}");
        let out = finish(spawn(&["-e", &program]), Duration::from_secs(30));
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{point}: stdout {stdout}\nstderr {stderr}");
        assert!(stderr.contains(message), "{point}: {stderr}");
        assert!(stderr.contains("^~~"), "{point}: the error is shown at the attach point: {stderr}");
        assert!(!stdout.contains("begun"), "{point}: nothing ran: {stdout}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // An address outside the binary is found when attaching (BEGIN has run
    // by then, as for any attach failure): the error still names the probe.
    let program = format!("uprobe:{b}:add {{ @a = count(); }} uprobe:{b}:0x99999999 {{ @ = count(); }}");
    let out = finish(spawn(&["-e", &program]), Duration::from_secs(30));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("cannot attach 'uprobe:{b}:0x99999999': address 0x99999999 is in no loadable segment")), "{stderr}");
    assert!(stderr.contains("^~~"), "{stderr}");
    // uaddr() outside a user-space probe.
    let out = finish(spawn(&["-e", "BEGIN { @ = uaddr(\"main\"); }"]), Duration::from_secs(30));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("uaddr() can only be used in uprobe, uretprobe and usdt probes"), "{stderr}");
    assert_eq!(flowtrace_objects_after_grace(), (0, 0), "nothing is left loaded");
}

#[test]
fn root_uprobe_uaddr_and_listing() {
    if !enabled("root_uprobe_uaddr_and_listing") {
        return;
    }
    let b = bin();
    let nm = Command::new("nm").arg(prog()).output().expect("running nm");
    let address = text(&nm.stdout)
        .lines()
        .find(|l| l.ends_with(" ft_tick_semaphore"))
        .and_then(|l| u64::from_str_radix(l.split(' ').next()?, 16).ok())
        .expect("nm lists the semaphore");
    let lines = run_with_command(&format!("uprobe:{b}:greet {{ @a = uaddr(\"ft_tick_semaphore\"); }}"), &format!("{b} 1"));
    has_all(&lines, &[&format!("@a: {address}")]);

    let list = |pattern: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_flowtrace")).args(["-l", pattern]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let functions = list(&format!("uprobe:{b}:*"));
    for f in ["add", "greet", "main", "mul3"] {
        assert!(functions.lines().any(|l| l == format!("uprobe:{b}:{f}")), "{f} in:\n{functions}");
    }
    assert!(!functions.contains("ft_tick_semaphore"), "variables are not functions:\n{functions}");
    assert_eq!(list(&format!("uprobe:{b}:m*")), format!("uprobe:{b}:main\nuprobe:{b}:mul3\n"));
    assert_eq!(list(&format!("usdt:{b}:*")), format!("usdt:{b}:ft:indexed\nusdt:{b}:ft:plain\nusdt:{b}:ft:tick\n"));
}

#[test]
fn root_uprobe_listing_matches_bpftrace() {
    if !enabled("root_uprobe_listing_matches_bpftrace") {
        return;
    }
    let Some(bpftrace) = flowtrace_testkit::gate::find_on_path("bpftrace") else {
        skipped("root_uprobe_listing_matches_bpftrace", "bpftrace is not installed");
        return;
    };
    let b = bin();
    for pattern in [format!("uprobe:{b}:*"), format!("usdt:{b}:*")] {
        let ours = Command::new(env!("CARGO_BIN_EXE_flowtrace")).args(["-l", &pattern]).output().unwrap();
        let theirs = Command::new(&bpftrace).args(["-l", &pattern]).output().unwrap();
        assert_eq!(text(&ours.stdout), text(&theirs.stdout), "{pattern}");
    }
    // A stripped system library: its .dynsym plus the debug file its build
    // id names, where there is one. bpftrace also lists a versioned
    // `name@@VERSION` beside `name`; flowtrace lists the name once.
    let libc = "/lib/x86_64-linux-gnu/libc.so.6";
    if Path::new(libc).exists() {
        let pattern = format!("uprobe:{libc}:*");
        let ours = Command::new(env!("CARGO_BIN_EXE_flowtrace")).args(["-l", &pattern]).output().unwrap();
        let theirs = Command::new(&bpftrace).args(["-l", &pattern]).output().unwrap();
        let ours: BTreeSet<String> = text(&ours.stdout).lines().map(str::to_string).collect();
        let theirs: BTreeSet<String> = text(&theirs.stdout).lines().map(|l| l.split('@').next().unwrap_or(l).to_string()).collect();
        assert!(ours.len() > 1000, "{}", ours.len());
        assert_eq!(ours.difference(&theirs).collect::<Vec<_>>(), Vec::<&String>::new(), "listed by flowtrace only");
        assert_eq!(theirs.difference(&ours).collect::<Vec<_>>(), Vec::<&String>::new(), "listed by bpftrace only");
    }
}

/// The same script under bpftrace 0.17 and flowtrace on the test program:
/// the same lines (bpftrace prints equal counts in hash order, flowtrace in
/// key order, so the lines are compared as sets). Not `func`: bpftrace
/// 0.17 stores a uprobe's `func` in a map as the raw address.
#[test]
fn root_uprobe_matches_bpftrace_on_the_test_program() {
    if !enabled("root_uprobe_matches_bpftrace_on_the_test_program") {
        return;
    }
    let Some(bpftrace) = flowtrace_testkit::gate::find_on_path("bpftrace") else {
        skipped("root_uprobe_matches_bpftrace_on_the_test_program", "bpftrace is not installed");
        return;
    };
    let b = bin();
    let program = format!(
        "usdt:{b}:ft:plain {{ @p[arg0, arg1] = count(); }}
         usdt:{b}:ft:tick {{ @t[arg0, arg1] = count(); }}
         uprobe:{b}:add {{ @a[arg0, arg1] = count(); }}
         uretprobe:{b}:add {{ @r[retval] = count(); }}
         uprobe:{b}:greet {{ @s = str(arg0); @u = uaddr(\"ft_tick_semaphore\"); }}"
    );
    let command = format!("{b} 3");
    let theirs = finish(
        Command::new(&bpftrace).args(["-e", &program, "-c", &command]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap(),
        Duration::from_secs(60),
    );
    assert!(theirs.status.success(), "bpftrace: {}", text(&theirs.stderr));
    let theirs: BTreeSet<String> = text(&theirs.stdout).lines().map(str::to_string).collect();
    let ours = run_with_command(&program, &command);
    assert_eq!(ours, theirs);
    assert!(ours.contains("@p[2, -7]: 1") && ours.contains("total=42 ticks=3"), "{ours:?}");
}

/// `uprobe:./prog:F` and `uprobe:../DIR/prog:F`: a relative path is read
/// from the directory flowtrace runs in (as bpftrace reads it), not taken
/// for a predicate; the probe sees the same calls as the absolute path.
#[test]
fn root_uprobe_relative_paths_name_the_binary_from_the_working_directory() {
    if !enabled("root_uprobe_relative_paths_name_the_binary_from_the_working_directory") {
        return;
    }
    let dir = prog().parent().unwrap();
    let parent_name = dir.file_name().unwrap().to_string_lossy().into_owned();
    for target in ["./prog".to_string(), format!("../{parent_name}/prog")] {
        let program = format!("uprobe:{target}:add {{ @calls = count(); }} uretprobe:{target}:add /retval > 0/ {{ @positive = count(); }}");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowtrace"));
        cmd.current_dir(dir).args(["-e", &program, "-c", "./prog 4"]);
        let out = flowtrace_testkit::process::output_within(&mut cmd, Duration::from_secs(60), || format!("flowtrace did not exit: {program}"));
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(out.status.success(), "{program}\nstdout {stdout}\nstderr {stderr}");
        let lines: BTreeSet<String> = stdout.lines().map(str::to_string).collect();
        has_all(&lines, &["Attaching 2 probes...", "@calls: 4", "@positive: 3"]);
    }
}
