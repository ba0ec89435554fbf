//! Stacks, symbols and the perf-event probes (issue 15) on the host kernel:
//! `kstack` on real packet drops, compared line for line with bpftrace 0.17
//! tracing the same traffic at the same time; `profile:` sampling a busy
//! child's system calls; `software:` counting; `ustack`/`usym` naming the
//! functions of a program this test compiles; and `hardware:` doing what the
//! machine's PMUs allow. Expectations come from outside flowtrace: the
//! child's own function names, the syscall it makes, bpftrace's output and
//! /sys/bus/event_source.
//!
//! Root only (FLOWTRACE_ROOT_TESTS=1), like every test that loads programs.

use std::io::{BufRead, Read};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use flowtrace_testkit::process::attached;
use flowtrace_testkit::root_tests_enabled as enabled;

/// `flowtrace OPTIONS… -e PROGRAM`, to its exit (at most 30 s).
fn run(options: &[&str], program: &str) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .args(options)
        .args(["-e", program])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait(child, program)
}

fn wait(mut child: Child, what: &str) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("did not exit within 30 s: {what}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stdout_of(out: &Output, what: &str) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{what}\nstdout:\n{text}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    text
}

/// A port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `n` connection attempts to a closed loopback port: each SYN is dropped
/// with SKB_DROP_REASON_NO_SOCKET (and answered with a reset).
fn connect_refused(port: u16, n: usize) {
    for _ in 0..n {
        let e = TcpStream::connect(("127.0.0.1", port)).expect_err("the port is closed");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}

/// A tracer (flowtrace or bpftrace) started on `program`, attached.
struct Tracer {
    child: Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl Tracer {
    /// flowtrace prints `Attaching` once its probes are attached.
    fn start(binary: &str, program: &str) -> Tracer {
        let mut child = Command::new(binary).args(["-e", program]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (stdout, _) = attached(&mut child, binary);
        Tracer { child, stdout }
    }

    /// bpftrace prints `Attaching` before it attaches, and runs BEGIN
    /// after: `program` must print READY from BEGIN, and that is awaited.
    fn start_bpftrace(binary: &str, program: &str) -> Tracer {
        let mut t = Tracer::start(binary, program);
        let mut line = String::new();
        while line.trim_end() != "READY" {
            line.clear();
            assert!(t.stdout.read_line(&mut line).unwrap() > 0, "bpftrace ended before BEGIN ran");
        }
        t
    }

    /// SIGINT, then everything it printed after attaching.
    fn stop(mut self) -> String {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest).unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "tracer failed: {status:?}\n{rest}");
        rest
    }
}

/// The map entries of text output: each `@…: value` entry with the lines
/// its key spans (a stack key is several lines).
fn entries(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        if (line.is_empty() && cur.is_empty()) || line.starts_with("Attaching") {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if line.contains("]: ") || (line.starts_with('@') && line.contains(": ")) {
            out.push(std::mem::take(&mut cur));
        }
    }
    out
}

/// The entry whose key ends with `, REASON]` and whose stack holds `tcp_v4_rcv`.
fn no_socket_entry(text: &str, reason: &str) -> Option<String> {
    entries(text).into_iter().find(|e| e.contains("tcp_v4_rcv+") && e.contains(&format!("\n, {reason}]: ")))
}

/// SKB_DROP_REASON_NO_SOCKET's value, as bpftool reads it from BTF.
fn no_socket_reason() -> String {
    let bpftool = flowtrace_testkit::gate::require_tool("bpftool");
    let out = Command::new(bpftool).args(["btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.trim_start().starts_with("SKB_DROP_REASON_NO_SOCKET = ")).expect("the enum is in BTF");
    line.split(" = ").nth(1).unwrap().trim_end_matches(',').trim().to_string()
}

fn count_of(entry: &str) -> u64 {
    entry.trim_end().rsplit(": ").next().unwrap().parse().unwrap()
}

/// The key part of an entry (without its count).
fn key_of(entry: &str) -> &str {
    entry.trim_end().rsplit_once(": ").unwrap().0
}

#[test]
fn root_stacks_kfree_skb_stacks_match_bpftrace() {
    if !enabled("root_stacks_kfree_skb_stacks_match_bpftrace") {
        return;
    }
    let bpftrace = flowtrace_testkit::gate::require_tool("bpftrace");
    let ft = Tracer::start(env!("CARGO_BIN_EXE_flowtrace"), "tracepoint:skb:kfree_skb { @[kstack, args.reason] = count(); }");
    let bt = Tracer::start_bpftrace(
        bpftrace.to_str().unwrap(),
        "BEGIN { printf(\"READY\\n\"); } tracepoint:skb:kfree_skb { @[kstack, args->reason] = count(); }",
    );
    let port = closed_port();
    connect_refused(port, 5);
    let (ft_out, bt_out) = (ft.stop(), bt.stop());

    // flowtrace names the enum-typed reason, as today's bpftrace does;
    // bpftrace 0.17 prints its number (from the kernel's BTF here).
    let ours = no_socket_entry(&ft_out, "SKB_DROP_REASON_NO_SOCKET").unwrap_or_else(|| panic!("no NO_SOCKET drop in:\n{ft_out}"));
    let reason = no_socket_reason();
    let theirs = no_socket_entry(&bt_out, &reason).unwrap_or_else(|| panic!("bpftrace saw no NO_SOCKET drop:\n{bt_out}"));
    // Every one of our 5 SYNs was dropped on that path (other drops on the
    // host may add to the count, never take from it).
    assert!(count_of(&ours) >= 5, "{ours}");
    // The same stack, frame for frame and byte for byte: the newline after
    // `@[`, 4-space indentation, `sym+offset`, `, ` before the next key.
    let stack = |entry: &str| key_of(entry).rsplit_once("\n, ").unwrap().0.to_string();
    assert_eq!(stack(&ours), stack(&theirs), "flowtrace:\n{ft_out}\nbpftrace:\n{bt_out}");
    let frames: Vec<&str> = key_of(&ours).lines().filter(|l| l.starts_with("    ")).collect();
    assert!(frames.len() >= 5, "{ours}");
    assert!(frames.iter().any(|f| f.starts_with("    kfree_skb") || f.starts_with("    sk_skb_reason_drop")), "{ours}");
    for frame in &frames {
        let (name, offset) = frame.trim_start().rsplit_once('+').unwrap_or_else(|| panic!("no +offset: {frame:?}"));
        assert!(!name.is_empty() && offset.parse::<u64>().is_ok(), "{frame:?}");
    }
    // Every stack line either tracer printed has the same form.
    let shape = |text: &str| text.lines().filter(|l| l.starts_with(' ')).all(|l| l.starts_with("    ") && l.contains('+'));
    assert!(shape(&ft_out) && shape(&bt_out), "flowtrace:\n{ft_out}\nbpftrace:\n{bt_out}");
}

#[test]
fn root_stacks_modes_depth_ksym_and_kaddr() {
    if !enabled("root_stacks_modes_depth_ksym_and_kaddr") {
        return;
    }
    let port = closed_port();
    let program = "tracepoint:skb:kfree_skb /args.reason == SKB_DROP_REASON_NO_SOCKET/ { @b[kstack(3)] = count(); @p[kstack(perf, 2)] = count(); \
                   @r[kstack(raw, 1)] = count(); @s[ksym(args.location)] = count(); @a = kaddr(\"tcp_v4_rcv\"); }";
    let ft = Tracer::start(env!("CARGO_BIN_EXE_flowtrace"), program);
    connect_refused(port, 3);
    let out = ft.stop();
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let address = |name: &str| {
        let line = kallsyms.lines().find(|l| l.split(' ').nth(2) == Some(name)).unwrap_or_else(|| panic!("{name} not in kallsyms"));
        u64::from_str_radix(line.split(' ').next().unwrap(), 16).unwrap()
    };
    // kaddr is the address /proc/kallsyms gives.
    assert!(out.contains(&format!("@a: {}\n", address("tcp_v4_rcv"))), "{out}");
    // The location of a NO_SOCKET drop is in tcp_v4_rcv (ksym: no offset).
    assert!(out.contains("@s[tcp_v4_rcv]: "), "{out}");
    let all = entries(&out);
    let b = all.iter().find(|e| e.starts_with("@b[") && e.contains("    tcp_v4_rcv+")).unwrap_or_else(|| panic!("{out}"));
    assert_eq!(key_of(b).lines().filter(|l| l.starts_with("    ")).count(), 3, "depth 3: {b}");
    // perf mode: a tab, the address in hex, the symbol with its offset; the
    // address is the symbol's plus the offset.
    let p = all.iter().find(|e| e.starts_with("@p[")).unwrap_or_else(|| panic!("{out}"));
    let perf: Vec<&str> = key_of(p).lines().filter(|l| l.starts_with('\t')).collect();
    assert_eq!(perf.len(), 2, "{p}");
    for line in perf {
        let (hex, sym) = line[1..].split_once(' ').unwrap();
        let (name, off) = sym.rsplit_once('+').unwrap();
        assert_eq!(u64::from_str_radix(hex, 16).unwrap(), address(name) + off.parse::<u64>().unwrap(), "{line}");
    }
    // raw mode: the bare hex address, no indentation.
    let r = all.iter().find(|e| e.starts_with("@r[")).unwrap_or_else(|| panic!("{out}"));
    let raw: Vec<&str> = key_of(r).lines().filter(|l| !l.starts_with('@') && *l != "]").collect();
    assert_eq!(raw.len(), 1, "{r}");
    assert!(u64::from_str_radix(raw[0], 16).is_ok_and(|a| a > address("_stext")), "{r}");
}

/// A C program whose known functions make `getpid` system calls until it
/// is killed (at most 30 s: it sets an alarm), built with frame pointers so
/// the user stack can be walked.
fn spinner() -> (PathBuf, Child) {
    let cc = flowtrace_testkit::gate::require_tool("cc");
    let dir = std::env::temp_dir().join(format!("ft-stacks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("spin.c");
    std::fs::write(
        &src,
        "#include <unistd.h>\n#include <sys/syscall.h>\n\
         __attribute__((noinline)) void ft_spin_leaf(void) { for (int i = 0; i < 1000; i++) syscall(SYS_getpid); __asm__ volatile(\"\"); }\n\
         __attribute__((noinline)) void ft_spin_middle(void) { ft_spin_leaf(); __asm__ volatile(\"\"); }\n\
         __attribute__((noinline)) void ft_spin_round(void) { ft_spin_middle(); syscall(SYS_lseek, -1, (long)&ft_spin_middle, 0); }\n\
         int main(void) { alarm(30); for (;;) ft_spin_round(); }\n",
    )
    .unwrap();
    let bin = dir.join("ft_spin");
    let status = Command::new(cc).args(["-O1", "-fno-omit-frame-pointer", "-o"]).arg(&bin).arg(&src).status().unwrap();
    assert!(status.success(), "cc failed");
    let child = Command::new(&bin).spawn().unwrap();
    (bin, child)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn root_stacks_profile_shows_the_syscall_path() {
    if !enabled("root_stacks_profile_shows_the_syscall_path") {
        return;
    }
    let (_bin, child) = spinner();
    let pid = child.id();
    let program = format!("profile:hz:99 /pid == {pid}/ {{ @[kstack] = count(); @n = count(); }}");
    let out = run(&["--timeout", "2"], &program);
    stop(child);
    let text = stdout_of(&out, &program);
    // The child spends its time in getpid: sampled in the kernel, its stack
    // runs through the syscall entry into getpid's implementation.
    let getpid = entries(&text).into_iter().find(|e| e.contains("__x64_sys_getpid+") && e.contains("entry_SYSCALL_64"));
    assert!(getpid.is_some(), "{text}");
    let n: u64 = text.lines().find_map(|l| l.strip_prefix("@n: ")).unwrap_or_else(|| panic!("{text}")).parse().unwrap();
    assert!(n > 0, "{text}");
}

#[test]
fn root_stacks_ustack_and_usym_name_the_childs_functions() {
    if !enabled("root_stacks_ustack_and_usym_name_the_childs_functions") {
        return;
    }
    let (bin, child) = spinner();
    let pid = child.id();
    let program = format!(
        "tracepoint:syscalls:sys_enter_getpid /pid == {pid}/ {{ @[ustack(3)] = count(); @p[ustack(perf, 3)] = count(); }}"
    );
    let out = run(&["--timeout", "1"], &program);
    stop(child);
    let text = stdout_of(&out, &program);
    let all = entries(&text);
    // libc's syscall() has no frame of its own: the return address into
    // ft_spin_leaf is skipped, and ft_spin_middle is its caller's frame.
    let bpftrace_mode = all.iter().find(|e| e.starts_with("@[") && e.contains("    ft_spin_middle+")).unwrap_or_else(|| panic!("{text}"));
    assert!(bpftrace_mode.contains("\n    syscall+"), "{bpftrace_mode}");
    let perf = all.iter().find(|e| e.starts_with("@p[") && e.contains(" ft_spin_middle+")).unwrap_or_else(|| panic!("{text}"));
    assert!(perf.contains(&format!(" ({})\n", bin.display())), "perf mode names the object: {perf}");
    assert!(perf.contains("libc.so.6)\n"), "{perf}");

    // usym() of an address the child hands the kernel itself: each round
    // it calls lseek(-1, &ft_spin_middle, 0), which fails with EBADF.
    let (_bin2, child2) = spinner();
    let pid2 = child2.id();
    let program = format!("tracepoint:syscalls:sys_enter_lseek /pid == {pid2}/ {{ @[usym(args.offset)] = count(); @z[usym(0)] = count(); }}");
    let out = run(&["--timeout", "1"], &program);
    stop(child2);
    let text = stdout_of(&out, &program);
    assert!(text.contains("@[ft_spin_middle]: "), "{text}");
    // An address nothing maps prints as bpftrace prints a pointer.
    assert!(text.contains("@z[0]: "), "{text}");
}

#[test]
fn root_stacks_software_events_count() {
    if !enabled("root_stacks_software_events_count") {
        return;
    }
    let program = "software:cpu-clock:100000 { @ = count(); } s:cs:1 { @cs = count(); } software:page-faults:1 { @pf = count(); }";
    let text = stdout_of(&run(&["--timeout", "1"], program), program);
    for name in ["@: ", "@cs: ", "@pf: "] {
        let n: u64 = text.lines().find_map(|l| l.strip_prefix(name)).unwrap_or_else(|| panic!("no {name}in {text}")).parse().unwrap();
        assert!(n > 0, "{name}{n}");
    }
}

#[test]
fn root_stacks_hardware_counts_or_says_why_not() {
    if !enabled("root_stacks_hardware_counts_or_says_why_not") {
        return;
    }
    let pmus: Vec<String> = std::fs::read_dir("/sys/bus/event_source/devices")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let has_cpu_pmu = pmus.iter().any(|p| p == "cpu" || p == "cpu_core" || p == "cpu_atom");
    let program = "hardware:instructions:1000000 { @ = count(); }";
    let out = run(&["--timeout", "1"], program);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if has_cpu_pmu {
        let text = stdout_of(&out, program);
        assert!(text.lines().any(|l| l.strip_prefix("@: ").is_some_and(|n| n.parse::<u64>().unwrap() > 0)), "{text}");
    } else {
        assert!(!out.status.success(), "attached without a PMU: {}", String::from_utf8_lossy(&out.stdout));
        assert!(stderr.contains("cannot attach 'hardware:instructions:1000000'"), "{stderr}");
        assert!(stderr.contains("no hardware performance counters") && stderr.contains("'instructions'"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        // Nothing of it stays in the kernel.
        assert_eq!(flowtrace_testkit::objects::flowtrace_objects_after_grace(), (0, 0), "{pmus:?}");
    }
}

/// With room for one stack (`--map-keys 1`), the child's two different user
/// stacks (its getpid and its lseek calls) cannot both be kept: the kernel
/// refuses the second (-EEXIST), and the run says how many were lost.
#[test]
fn root_stacks_lost_stacks_are_reported() {
    if !enabled("root_stacks_lost_stacks_are_reported") {
        return;
    }
    let (_bin, child) = spinner();
    let pid = child.id();
    let program = format!("tracepoint:raw_syscalls:sys_enter /pid == {pid}/ {{ @last = ustack(2); @calls = count(); }}");
    let out = run(&["--timeout", "1", "--map-keys", "1"], &program);
    stop(child);
    let text = stdout_of(&out, &program);
    let lost: u64 = text
        .lines()
        .find_map(|l| l.strip_suffix(" stacks not recorded (printed empty): stack map full or a hash collision; raise --map-keys"))
        .unwrap_or_else(|| panic!("no lost-stacks notice:\n{text}"))
        .parse()
        .unwrap();
    let calls: u64 = text.lines().find_map(|l| l.strip_prefix("@calls: ")).unwrap().parse().unwrap();
    assert!(lost > 0 && lost < calls, "lost {lost} of {calls}:\n{text}");

    // With the default room, nothing is lost and no notice is printed.
    let (_bin, child) = spinner();
    let program = program.replace(&pid.to_string(), &child.id().to_string());
    let out = run(&["--timeout", "1"], &program);
    stop(child);
    let text = stdout_of(&out, &program);
    assert!(!text.contains("stacks not recorded"), "{text}");
    assert!(text.contains("@last: \n        syscall+"), "{text}");
}

/// With `-p PID`, `profile:` samples that task only (bpftrace opens its
/// perf events for the pid): two identical spinners run, one is named.
#[test]
fn root_stacks_profile_with_pid_samples_that_task_only() {
    if !enabled("root_stacks_profile_with_pid_samples_that_task_only") {
        return;
    }
    let (bin, chosen) = spinner();
    let other = Command::new(&bin).spawn().unwrap();
    let (pid, other_pid) = (chosen.id(), other.id());
    let program = "profile:hz:199 { @[pid] = count(); } software:cpu-clock:1000000 { @sw[pid] = count(); }";
    let out = run(&["-p", &pid.to_string(), "--timeout", "2"], program);
    stop(chosen);
    stop(other);
    let text = stdout_of(&out, program);
    let keys: Vec<&str> = text.lines().filter(|l| l.starts_with('@')).map(|l| l.split(':').next().unwrap_or("")).collect();
    assert_eq!(keys, [format!("@[{pid}]"), format!("@sw[{pid}]")], "only pid {pid} (not {other_pid}):\n{text}");
}
