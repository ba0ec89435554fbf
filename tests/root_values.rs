//! Values flowtrace must compute exactly as bpftrace 0.17 does (issue 10,
//! item 8), run through the binary on the host kernel: each script prints
//! from a BEGIN probe (or one exec of a known command) and exits by itself.
//! The expected text is what bpftrace 0.17 printed for the same script on
//! this host; the scripts that bpftrace can also run on the differential
//! suite's traffic are in `tests/diff/values.bt` too.
//!
//! Root only (FLOWTRACE_ROOT_TESTS=1), like every test that loads programs.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use flowtrace_testkit::root_tests_enabled as enabled;

/// `flowtrace -e PROGRAM PARAMS…` (plus `extra` options first), to its exit.
fn run(extra: &[&str], program: &str, params: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowtrace"));
    command.args(extra).args(["-e", program]).args(params);
    flowtrace_testkit::process::output_within(&mut command, Duration::from_secs(30), || format!("flowtrace did not exit within 30 s: {program}"))
}

/// The printf lines of a successful run (without `Attaching…`, blank lines
/// and map printing).
fn printed(extra: &[&str], program: &str, params: &[&str]) -> Vec<String> {
    let out = run(extra, program, params);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{program}\nstdout:\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    stdout
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("Attaching") && !l.starts_with('@'))
        .map(str::to_string)
        .collect()
}

/// 8a: `execve`'s `filename` and `argv` point to user memory; bpftrace reads
/// them with the user-memory helpers. A kernel read of `argv[0]` fails and
/// printed an empty string.
#[test]
fn root_values_execve_argv_strings_are_read_from_user_memory() {
    if !enabled("root_values_execve_argv_strings_are_read_from_user_memory") {
        return;
    }
    let script = r#"tracepoint:syscalls:sys_enter_execve /str(args.filename) == "/bin/true"/ {
        printf("[%s] [%s] [%s]\n", str(args.filename), str(args.argv[0]), str(args->argv[1]));
        $argv = args.argv;
        printf("[%s]\n", str($argv[1]));
        exit();
    }"#;
    let lines = printed(&["-c", "/bin/true ft-marker-8a"], script, &[]);
    assert_eq!(lines, ["[/bin/true] [/bin/true] [ft-marker-8a]", "[ft-marker-8a]"]);
}

/// 8a, through a cast: `(struct sockaddr_in *)args.uservaddr` still points
/// to user memory, so its fields are read with the user-memory helper (a
/// kernel read gave 0 0). The test connects to a closed loopback port itself.
#[test]
fn root_values_casts_of_syscall_pointers_read_user_memory() {
    if !enabled("root_values_casts_of_syscall_pointers_read_user_memory") {
        return;
    }
    let script = r#"tracepoint:syscalls:sys_enter_connect /pid == $1/ {
        $sa = (struct sockaddr_in *)args.uservaddr;
        printf("%d %d\n", $sa->sin_family, ($sa->sin_port >> 8) | (($sa->sin_port & 0xff) << 8));
        exit();
    }"#;
    let pid = std::process::id().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .args(["-e", script, &pid])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut head = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut head).unwrap();
    assert!(head.starts_with("Attaching"), "flowtrace did not attach: {head:?}");
    // Port 23999 on loopback has no listener (the connect is refused: only
    // the syscall's entry matters), below the ephemeral range.
    let _ = std::net::TcpStream::connect_timeout(&"127.0.0.1:23999".parse().unwrap(), Duration::from_secs(2));
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("flowtrace did not exit after the connect");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest.lines().next(), Some("2 23999"), "whole output: {rest:?}");
}

/// 8b: a string element of a tuple read back from a map, as a `%s` argument
/// and as a map value.
#[test]
fn root_values_tuple_string_elements_read_back_from_a_map() {
    if !enabled("root_values_tuple_string_elements_read_back_from_a_map") {
        return;
    }
    let script = r#"BEGIN {
        @t = (1, "abc", "xyz");
        printf("%s|%s|%d\n", @t.2, @t.1, @t.0);
        $t = ((int8)-3, "hello", (int16)7, ("in", 5));
        printf("%d|%s|%d|%s|%d\n", $t.0, $t.1, $t.2, $t.3.0, $t.3.1);
        @s = @t.2;
        printf("%s\n", @s);
        exit();
    }"#;
    assert_eq!(printed(&[], script, &[]), ["xyz|abc|1", "-3|hello|7|in|5", "xyz"]);
}

/// 8c: `sizeof` of a tuple is that of the C struct bpftrace lays it out as:
/// each element at its natural alignment, the whole padded to the largest.
#[test]
fn root_values_sizeof_tuples_matches_bpftrace() {
    if !enabled("root_values_sizeof_tuples_matches_bpftrace") {
        return;
    }
    let script = r#"BEGIN {
        printf("%d %d %d %d\n", sizeof(((int64)1, "abc")), sizeof(((int8)1, (int8)2)), sizeof(((int8)1, "abc")), sizeof(("abc", "de")));
        printf("%d %d %d %d\n", sizeof(((int32)1, (int8)2)), sizeof(((int16)1, (int32)2, (int8)3)), sizeof(((int8)1, ((int8)2, (int64)3))), sizeof(("a", (int16)1)));
        exit();
    }"#;
    // bpftrace 0.17 on this host: 16 2 5 7 / 8 12 24 4 (the literals are
    // cast: a bare literal is int64 in 0.17 and the smallest type today).
    assert_eq!(printed(&[], script, &[]), ["16 2 5 7", "8 12 24 4"]);
}

/// Integer typing is today's bpftrace's (issue 11; docs/language.md
/// "Integer types"), where it differs from 0.17's: literals are the smallest
/// signed type, `-` and mixed-sign arithmetic are signed, a counter is
/// 64-bit, a variable holds every value assigned to it.
#[test]
fn root_values_integer_types_follow_todays_bpftrace() {
    if !enabled("root_values_integer_types_follow_todays_bpftrace") {
        return;
    }
    let script = r#"BEGIN {
        printf("%d %d %d %d %d %d\n", sizeof(1), sizeof(-1), sizeof(200), sizeof(-1000), sizeof(70000), sizeof(5000000000));
        printf("%d %d %d\n", sizeof((1, 2)), sizeof((1, "abc")), sizeof((1, (int64)2)));
        $i = 0;
        while ($i < 300) { $i++; }
        $a = 1;
        $n = 0;
        while ($n < 3) { printf("%d,", $a); $a = $a + 100; $n++; }
        printf(" %d %d %d\n", $i, sizeof($i), sizeof($a));
        print((uint64)3 - 5);
        print((uint32)1 + (int32)-3);
        print((uint32)0xffffffff + 1);
        $w = (uint32)4000000000;
        $w = 5;
        $s = (uint32)4000000000;
        print($s);
        $s = (int8)-1;
        $f = 1;
        $f = (uint64)2;
        printf("%d %d %d %s\n", sizeof($w), sizeof($s), sizeof($f), (uint64)3 - 5 < 0 ? "negative" : "positive");
        exit();
    }"#;
    assert_eq!(
        printed(&[], script, &[]),
        ["1 1 2 2 4 8", "2 5 16", "1,101,201, 300 8 8", "-2", "-2", "4294967296", "4000000000", "4 8 8 negative"]
    );
}

/// 8d and 8e: a positional parameter is read as a C integer literal (`0x…`
/// hexadecimal, `0…` octal), and `str($N)` is the parameter's text even when
/// it reads as a number.
#[test]
fn root_values_positional_parameters_as_numbers_and_text() {
    if !enabled("root_values_positional_parameters_as_numbers_and_text") {
        return;
    }
    let script = r#"BEGIN {
        printf("%d %d %d %d\n", $1, $2, $3, $4);
        printf("-%s-%s-%s-\n", str($1), str($2), str($5));
        exit();
    }"#;
    let lines = printed(&[], script, &["0775", "0x1f", "42", "0", "text"]);
    // bpftrace 0.17: 509 31 42 0 / -0775-0x1f-text-
    assert_eq!(lines, ["509 31 42 0", "-0775-0x1f-text-"]);
}

/// 8f: division and modulo by the constant 0 and shifts by a constant 64 or
/// more give 0, as bpftrace's do (LLVM folds them; BPF's verifier refused
/// `(uint64)7 % 0` and `1 << 65`, and `7 % 0` gave 7), also in compound
/// assignments. On run-time operands bpftrace prints what the BPF
/// instructions give: `tests/diff/values.bt` compares that with bpftrace.
#[test]
fn root_values_constant_division_by_zero_and_wide_shifts_give_zero() {
    if !enabled("root_values_constant_division_by_zero_and_wide_shifts_give_zero") {
        return;
    }
    let script = r#"BEGIN {
        printf("%d %d %d %d %d %d\n", 7 % 0, 7 / 0, -7 % 0, (uint64)7 % 0, (uint64)7 / 0, 1 << 65);
        printf("%d %d %d %d\n", 1 << 64, 8 >> 64, -8 >> 70, 1 << -1);
        printf("%d %d %d\n", 7 % 3, 7 / 2, (uint64)1 << 63 >> 60);
        @m = 7; @m %= 0; @n = 1; @n <<= 65; $x = 7; $x %= 0; $y = 1; $y <<= 70;
        printf("%d %d %d %d\n", @m, @n, $x, $y);
        exit();
    }"#;
    // bpftrace 0.17 on this host prints the same four lines.
    assert_eq!(printed(&[], script, &[]), ["0 0 0 0 0 0", "0 0 0 0", "1 3 8", "0 0 0 0"]);
}

/// A BTF `char` array is a string where one is wanted, as bpftrace types
/// `char name[N]`: `%s`, `==`/`!=` with a string, `strncmp`, `strcontains`,
/// a `?:` next to a string; in a variable too. BEGIN runs in flowtrace's
/// own task, so `comm` is "flowtrace".
#[test]
fn root_values_char_arrays_are_strings_where_one_is_wanted() {
    if !enabled("root_values_char_arrays_are_strings_where_one_is_wanted") {
        return;
    }
    let script = r#"BEGIN {
        printf("%s|%s|%-12s|\n", curtask->comm, str(curtask->comm), curtask->comm);
        $c = curtask->comm;
        printf("%s\n", $c);
        if (curtask->comm == "flowtrace") { printf("equal\n"); }
        if ($c != "other" && $c == "flowtrace") { printf("variable compares\n"); }
        printf("%d %d %d\n", strcontains(curtask->comm, "trace"), strncmp($c, "flow", 4), strncmp($c, "flaw", 4) != 0);
        $p = pid > 0 ? curtask->comm : "none";
        printf("%s\n", $p);
        exit();
    }"#;
    assert_eq!(
        printed(&[], script, &[]),
        ["flowtrace|flowtrace|flowtrace   |", "flowtrace", "equal", "variable compares", "1 0 1", "flowtrace"]
    );
}

/// A tuple in a variable as a map's first key is the map's keys, one per
/// element (bpftrace's biosnoop: `$key = (dev, sector); @start[$key] = …`
/// then `has_key(@start, (args.dev, args.sector))`): the same map and keys
/// as `@m[a, b]` and `@m[(a, b)]`, printed as `@m[a, b]`.
#[test]
fn root_values_a_tuple_variable_key_is_the_maps_keys() {
    if !enabled("root_values_a_tuple_variable_key_is_the_maps_keys") {
        return;
    }
    let script = r#"BEGIN {
        $k = (1, "a");
        @m[$k] = 5;
        @m[2, "b"] = 6;
        @m[(3, "c")] = 7;
        printf("%d %d %d %d %d\n", has_key(@m, (1, "a")), has_key(@m, (2, "b")), @m[$k], @m[(2, "b")], @m[3, "c"]);
        exit();
    }"#;
    let out = run(&[], script, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout, "Attaching 1 probe...\n1 1 5 6 7\n\n\n@m[1, a]: 5\n@m[2, b]: 6\n@m[3, c]: 7\n");
}

/// `ppid`, `pcomm`, `leader_tid`, `leader_comm` (bare, called, or of a task
/// given), read from the task's `real_parent` / `group_leader` as bpftrace's
/// are. BEGIN runs in flowtrace's main thread, whose parent is this test's
/// thread.
#[test]
fn root_values_parent_and_leader_of_the_task() {
    if !enabled("root_values_parent_and_leader_of_the_task") {
        return;
    }
    let script = r#"BEGIN {
        printf("%d %s %d %d %s\n", ppid, pcomm, leader_tid(), pid, leader_comm(curtask));
        printf("%d %s\n", ppid(curtask), pcomm());
        exit();
    }"#;
    let lines = printed(&[], script, &[]);
    // The parent is the task that forked flowtrace: this test's thread
    // (`real_parent->pid` is its thread id, as bpftrace reads it).
    let thread = std::fs::read_link("/proc/thread-self").unwrap();
    let me = thread.file_name().unwrap().to_string_lossy().into_owned();
    let my_comm = std::fs::read_to_string("/proc/thread-self/comm").unwrap().trim().to_string();
    let first: Vec<&str> = lines[0].split(' ').collect();
    assert_eq!(first[0], me, "{lines:?}");
    assert_eq!(first[1], my_comm, "{lines:?}");
    assert_eq!(first[2], first[3], "leader_tid is flowtrace's pid: {lines:?}");
    assert_eq!(first[4], "flowtrace", "{lines:?}");
    assert_eq!(lines[1], format!("{me} {my_comm}"));
}

/// `strerror(n)` prints the C library's message (as bpftrace 0.17 printed
/// these three), in printf, print() and as a map key; a string's byte is a
/// char by a constant index (`$path[0] != "/"[0]`, today's opensnoop).
#[test]
fn root_values_strerror_and_string_bytes() {
    if !enabled("root_values_strerror_and_string_bytes") {
        return;
    }
    let script = r#"BEGIN {
        printf("%s|%s|%s\n", strerror(2), strerror(111), strerror(-5));
        print(strerror(1));
        @e[strerror(13)] = count();
        $p = "/tmp";
        $q = "rel";
        printf("%d %d %d %c\n", $p[0] == "/"[0], $q[0] != "/"[0], $p[3], $p[1 + 1]);
        exit();
    }"#;
    let out = run(&[], script, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        stdout,
        "Attaching 1 probe...\nNo such file or directory|Connection refused|Unknown error -5\nOperation not permitted\n1 1 112 m\n\n\n@e[Permission denied]: 1\n"
    );
}

/// `syscall_name(nr)` and `signal_name(sig)` print as bpftrace's tables
/// have them (x86_64 names; strsignal(3) descriptions; "Unknown syscall",
/// "N/A" outside), here on the syscalls `true` makes as it exits.
#[test]
fn root_values_syscall_and_signal_names() {
    if !enabled("root_values_syscall_and_signal_names") {
        return;
    }
    let script = r#"BEGIN {
        printf("%s|%s|%s|%s|%s\n", syscall_name(0), syscall_name(257), syscall_name(400), signal_name(9), signal_name(99));
    }
    tracepoint:raw_syscalls:sys_enter /comm == "true"/ { @[syscall_name(args.id)] = count(); }"#;
    let out = run(&["-c", "/bin/true"], script, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("\nread|openat|Unknown syscall|Killed|N/A\n"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("@[exit_group]: ")), "{stdout}");
}

/// `buf(ptr, n)` with `n` known only at run time (bpftrace's undump): the
/// bytes asked for, clamped to 64; here the 8 bytes `printf` writes.
#[test]
fn root_values_buf_with_a_run_time_length() {
    if !enabled("root_values_buf_with_a_run_time_length") {
        return;
    }
    let script = r#"tracepoint:syscalls:sys_enter_write /comm == "printf"/ {
        printf("[%r][%r]\n", buf(args.buf, args.count), buf(args.buf, args.count - 3));
        @len[buf(args.buf, args.count + 100)] = count();
    }"#;
    let out = run(&["-c", "/usr/bin/printf ABCDEFGH"], script, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("[ABCDEFGH][ABCDE]\n"), "{stdout}");
    // Clamped to 64: the 8 bytes and 56 more after them.
    let key = stdout.lines().find(|l| l.starts_with("@len[ABCDEFGH")).unwrap_or_else(|| panic!("{stdout}"));
    let printed = key.trim_start_matches("@len[").rsplit_once("]: ").unwrap().0;
    // Each `\xNN` escape is one byte, every other character one byte.
    let bytes = printed.len() - 3 * printed.matches("\\x").count();
    assert!(printed.starts_with("ABCDEFGH"), "{key}");
    assert_eq!(bytes, 64, "{key}");
}
