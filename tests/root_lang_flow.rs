//! Today's bpftrace statements and expressions, run for real on the host
//! kernel (verifier, BEGIN/tracepoint probes, ring-buffer output) with exact
//! expected output: `let` declarations and block scopes, block expressions,
//! `?:`, `for` ranges, `while`/`unroll` with `break`/`continue`/`return`,
//! `exit(code)`, `delete()` as a value, pointer steps, `print()` of values,
//! aggregations read inside a probe as the total over every CPU, and `for`
//! loops over maps.
//!
//! They need root and FLOWTRACE_ROOT_TESTS=1 (otherwise each prints a loud
//! SKIPPED line); run them under `flock /tmp/ft-root.lock` with
//! `--test-threads=1`.

use std::process::{Command, Output};
use std::time::Duration;

use flowtrace_testkit::objects::flowtrace_objects_after_grace as nothing_of_ours_in_kernel;
use flowtrace_testkit::root_tests_enabled as enabled;

/// Runs flowtrace to completion with a hard limit.
fn run(args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowtrace"));
    command.args(args);
    flowtrace_testkit::process::output_within(&mut command, Duration::from_secs(30), || format!("flowtrace did not exit within 30 s: {args:?}"))
}

/// Runs a BEGIN-only program and checks its whole stdout (after the
/// "Attaching" line, up to the exit's map printing) and its exit status.
fn expect(program: &str, want: &str, status: i32) {
    let out = run(&["-e", program]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(status), "{program}\nstdout:\n{stdout}\nstderr:\n{stderr}");
    let body = match stdout.split_once('\n') {
        Some((first, rest)) if first.starts_with("Attaching ") => rest,
        _ => panic!("no Attaching line:\n{stdout}"),
    };
    assert_eq!(body, want, "{program}\nstderr:\n{stderr}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "programs or maps left behind by: {program}");
}

/// What a script with no maps left prints after its own output at exit.
const END: &str = "\n\n";
/// What each map emptied by `delete`/`clear` adds to that (a blank line, as
/// bpftrace 0.17 prints it).
const EMPTY_MAP: &str = "\n";

#[test]
fn root_let_declarations_and_block_scopes() {
    if !enabled("root_let_declarations_and_block_scopes") {
        return;
    }
    expect(
        r#"BEGIN {
            let $a; $a = 10; printf("a=%d\n", $a);
            let $b: uint8 = 200; $b += 100; printf("b=%d\n", $b);
            let $c; if ($c) { $c = 1; } printf("c=%d\n", $c);
            if (1) { $x = 1; printf("x=%d\n", $x); }
            if (1) { $x = "str"; printf("x=%s\n", $x); }
            if (1) { let $y; if ($y) { $y = 5; } printf("y=%d\n", $y); }
            let $s: string; $s = "hi"; printf("s=%s\n", $s);
            let $p: struct task_struct *; $p = curtask; printf("pid ok=%d\n", $p->pid == pid);
            exit();
        }"#,
        &format!("a=10\nb=44\nc=0\nx=1\nx=str\ny=0\ns=hi\npid ok=1\n{END}"),
        0,
    );
}

#[test]
fn root_block_expressions_and_elvis() {
    if !enabled("root_block_expressions_and_elvis") {
        return;
    }
    expect(
        r#"BEGIN {
            $v = { let $t = 3; $t * 2 };
            $w = { let $t = "inner"; $t };
            if ({ let $f = 0; $f }) { printf("wrong\n"); } else { printf("v=%d w=%s\n", $v, $w); }
            $x = 1; $a = $x ?: 10; $b = 0 ?: 20; print(($a, $b));
            $n = 0; $c = $n ?: ($x ?: 5); print($c);
            $x == 1 ? printf("one\n") : printf("other\n");
            $x == 2 ? print("two") : print("not two");
            @d[1] = 1; _ = delete(@d, 1); _ = $x + 1;
            exit();
        }"#,
        &format!("v=6 w=inner\n(1, 20)\n1\none\nnot two\n{END}{EMPTY_MAP}"),
        0,
    );
}

#[test]
fn root_for_ranges() {
    if !enabled("root_for_ranges") {
        return;
    }
    // The cases of bpftrace's own runtime tests for ranges, in one probe.
    expect(
        r#"BEGIN {
            for ($i : 0..3) { printf("basic %d\n", $i); }
            $start = 2; $end = 4; for ($i : $start..$end) { printf("vars %d\n", $i); }
            for ($i : (1+1)..(2*2)) { printf("exprs %d\n", $i); }
            @m[5] = 2; for ($i : 0..@m[5]) { printf("map %d\n", $i); }
            for ($i : 1..0) { printf("never\n"); }
            for ($i : 5..5) { printf("never\n"); }
            for ($i : (-2)..1) { printf("neg %d\n", $i); }
            $sum = 0; for ($i : 1..5) { $sum += $i; } printf("sum %d\n", $sum);
            @a = 3; for ($i : 0..@a) { @a += 1; } printf("bound read once: @a=%d\n", @a);
            $lim = 3; for ($i : 0..$lim) { $lim--; printf("lim %d\n", $i); }
            delete(@m, 5); delete(@a);
            exit();
        }"#,
        &format!(
            "basic 0\nbasic 1\nbasic 2\nvars 2\nvars 3\nexprs 2\nexprs 3\nmap 0\nmap 1\nneg -2\nneg -1\nneg 0\nsum 10\n\
             bound read once: @a=6\nlim 0\nlim 1\nlim 2\n{END}{EMPTY_MAP}{EMPTY_MAP}"
        ),
        0,
    );
}

/// Runs flowtrace with `env` set.
fn run_with_env(env: (&str, &str), args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_flowtrace"));
    command.args(args).env(env.0, env.1);
    flowtrace_testkit::process::output_within(&mut command, Duration::from_secs(30), || format!("flowtrace did not exit within 30 s: {args:?}"))
}

/// A range longer than the round cap (a bound from a map, unknown to the
/// verifier) stops at 1024 rounds when compiled as a back edge (forced with
/// FLOWTRACE_NO_BPF_LOOP=1, the form kernels without `bpf_loop` get), and
/// flowtrace says so at exit.
#[test]
fn root_a_range_cut_at_the_round_cap_is_reported() {
    if !enabled("root_a_range_cut_at_the_round_cap_is_reported") {
        return;
    }
    let back_edge = ("FLOWTRACE_NO_BPF_LOOP", "1");
    let out = run_with_env(back_edge, &["-e", r#"BEGIN { @n = 5000; $c = 0; for ($i : 0..@n) { $c++; } printf("%d\n", $c); delete(@n); exit(); }"#]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("\n1024\n"), "{stdout}");
    assert!(stderr.contains("warning: 1 for-loop range(s) stopped after 1024 rounds before reaching their end"), "{stderr}");
    // Within the cap nothing is reported.
    let out = run_with_env(back_edge, &["-e", r#"BEGIN { @n = 1024; $c = 0; for ($i : 0..@n) { $c++; } printf("%d\n", $c); delete(@n); exit(); }"#]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\n1024\n"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("stopped after"), "{}", String::from_utf8_lossy(&out.stderr));
}

/// With `bpf_loop` (this kernel has it) a range runs every round up to the
/// helper's limit of 2^23, and is cut and reported only beyond that.
#[test]
fn root_ranges_by_bpf_loop_run_past_1024_rounds() {
    if !enabled("root_ranges_by_bpf_loop_run_past_1024_rounds") {
        return;
    }
    let program = r#"BEGIN {
        @n = 5000; $c = 0; $s = 0;
        for ($i : 0..@n) { $c++; $s += $i; if ($i == 4000) { break; } }
        printf("rounds %d sum %d\n", $c, $s);
        $k = 0; for ($i : (-3)..3) { if ($i == 0) { continue; } $k += $i * 10; }
        printf("k %d\n", $k);
        @m[1] = 7; for ($kv : @m) { for ($i : 0..$kv.1) { $k++; } } printf("nested %d\n", $k);
        @big = 9000000; $c = 0; for ($i : 0..@big) { $c++; } printf("cut %d\n", $c);
        delete(@n); delete(@m, 1); delete(@big);
        for ($i : 0..3) { if ($i == 1) { exit(); } printf("i %d\n", $i); }
        printf("not reached\n");
    }"#;
    let out = run(&["-e", program]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    // 0..=4000: 4001 rounds, sum 4000 * 4001 / 2.
    assert!(stdout.contains("rounds 4001 sum 8002000\nk -30\nnested -23\ncut 8388608\ni 0\n"), "{stdout}");
    assert!(!stdout.contains("not reached"), "{stdout}");
    assert!(stderr.contains("warning: 1 for-loop range(s) stopped after 8388608 rounds before reaching their end"), "{stderr}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0));
}

#[test]
fn root_break_continue_return_in_loops() {
    if !enabled("root_break_continue_return_in_loops") {
        return;
    }
    expect(
        r#"BEGIN {
            for ($i : 1..4) { if ($i == 2) { break; } printf("break %d\n", $i); }
            for ($i : 1..4) { if ($i == 2) { continue; } printf("continue %d\n", $i); }
            $j = 0;
            while ($j < 6) { $j++; if ($j % 2 == 0) { continue; } if ($j == 5) { break; } printf("while %d\n", $j); }
            for ($i : 0..3) { for ($k : 0..3) { if ($k == 1) { break; } printf("inner %d %d\n", $i, $k); } }
            for ($i : 1..4) { for ($k : 1..$i) { printf("ret %d\n", $k); if ($k == 2) { exit(); return; } } }
            printf("not reached\n");
        }"#,
        &format!(
            "break 1\ncontinue 1\ncontinue 3\nwhile 1\nwhile 3\ninner 0 0\ninner 1 0\ninner 2 0\nret 1\nret 1\nret 2\n{END}"
        ),
        0,
    );
}

#[test]
fn root_while_and_unroll() {
    if !enabled("root_while_and_unroll") {
        return;
    }
    expect(
        r#"BEGIN {
            $a = 1; unroll (10) { $a = $a + 1; } printf("a=%d\n", $a);
            $i = 0; $f = 1; while ($i < 10) { $i++; $f = $f * 2; } printf("f=%d\n", $f);
            exit();
        }"#,
        &format!("a=11\nf=1024\n{END}"),
        0,
    );
}

#[test]
fn root_exit_code_is_the_status() {
    if !enabled("root_exit_code_is_the_status") {
        return;
    }
    expect(r#"BEGIN { printf("x\n"); exit(3); }"#, &format!("x\n{END}"), 3);
    expect(r#"BEGIN { $c = 40; exit($c + 2); }"#, END, 42);
    // The low byte, as a shell sees any process's exit(261).
    expect(r#"BEGIN { exit(261); }"#, END, 5);
    expect(r#"BEGIN { exit(); }"#, END, 0);
    // The first exit() wins; an END probe still runs.
    expect(r#"BEGIN { exit(9); } END { printf("end\n"); }"#, &format!("end\n{END}"), 9);
}

#[test]
fn root_delete_as_a_value() {
    if !enabled("root_delete_as_a_value") {
        return;
    }
    expect(
        r#"BEGIN {
            @a[1] = 1; @a[2] = 2;
            $d = delete(@a, 1); $e = delete(@a, 7);
            print(($d, $e));
            if (delete(@a[2])) { printf("deleted 2\n"); }
            if (!delete(@a, 2)) { printf("2 is gone\n"); }
            exit();
        }"#,
        &format!("(true, false)\ndeleted 2\n2 is gone\n{END}{EMPTY_MAP}"),
        0,
    );
}

#[test]
fn root_pointer_steps_scale_by_the_pointee() {
    if !enabled("root_pointer_steps_scale_by_the_pointee") {
        return;
    }
    // bpftrace's runtime tests on pointer maps: int32 steps are 4 bytes.
    expect(
        r#"BEGIN {
            @p = (int32 *)0x32; @p += 1; printf("%d ", (uint64)@p);
            @p++; printf("%d ", (uint64)@p);
            @p -= 3; printf("%d ", (uint64)@p);
            @dec = 2; @p -= @dec; printf("%d ", (uint64)@p);
            @q = (int64 *)0x32; @q--; printf("%d ", (uint64)@q);
            @b = (int8 *)0x32; @b += 6; printf("%d\n", (uint64)@b);
            $v = (int16 *)100; $v++; $v += 2; $w = $v--; printf("%d %d %d\n", (uint64)$v, (uint64)$w, (uint64)($v + 5));
            clear(@p); clear(@q); clear(@b); clear(@dec);
            exit();
        }"#,
        &format!("54 58 46 38 42 56\n104 106 114\n{END}{}", EMPTY_MAP.repeat(4)),
        0,
    );
}

#[test]
fn root_print_of_values() {
    if !enabled("root_print_of_values") {
        return;
    }
    expect(
        r#"BEGIN {
            print((1, "a", (2, -3)));
            print("abc"); print(true); print((uint8)255); print(-7);
            $t = (1, "x"); print($t);
            print(ntop(0x0100007f));
            print((1 == 1, (int16)-2, "s"));
            exit();
        }"#,
        &format!("(1, a, (2, -3))\nabc\ntrue\n255\n-7\n(1, x)\n127.0.0.1\n(true, -2, s)\n{END}"),
        0,
    );
}

/// With `bpf_loop`, a `while` needs no bound the verifier can see, and a
/// counter tested in a loop body (which the verifier would otherwise follow
/// round after round) verifies; a `while (1)` is cut at 2^23 rounds and
/// reported.
#[test]
fn root_while_by_bpf_loop_needs_no_visible_bound() {
    if !enabled("root_while_by_bpf_loop_needs_no_visible_bound") {
        return;
    }
    let program = r#"BEGIN {
        @n = 3000; $i = 0;
        while ($i < @n) { $i++; if ($i % 2 == 0) { continue; } if ($i > 2500) { break; } }
        printf("while %d\n", $i);
        $c = 0; for ($r : 0..@n) { $c++; if ($c > 2000) { break; } }
        printf("counter %d\n", $c);
        $j = 0; while (1) { $j++; }
        printf("forever %d\n", $j);
        delete(@n);
        $k = 0; while ($k < 10) { $k++; if ($k == 5) { exit(); } }
        printf("not reached\n");
    }"#;
    let out = run(&["-e", program]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("\nwhile 2501\ncounter 2001\nforever 8388608\n\n\n"), "{stdout}");
    assert!(!stdout.contains("not reached"), "{stdout}");
    assert!(stderr.contains("warning: 1 for-loop range(s) stopped after 8388608 rounds before reaching their end"), "{stderr}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0));
}

/// `for ($kv : @map)` (a `bpf_for_each_map_elem` callback): integer,
/// string and multi-key maps, outer variables read and assigned, break,
/// continue, nested loops, a delete of the map being iterated (by the
/// multi-key `$kv.0`), `exit()` and `return` from inside the body. Each
/// result is independent of the kernel's iteration order.
#[test]
fn root_for_over_maps() {
    if !enabled("root_for_over_maps") {
        return;
    }
    expect(
        r#"BEGIN {
    @n[1] = 10; @n[2] = 20; @n[3] = 30; @n[-4] = 40;
    $sum = 0; $keys = 0;
    for ($kv : @n) { $sum += $kv.1; $keys += $kv.0; }
    printf("sum %d keys %d\n", $sum, $keys);
    @s["abc", 7] = "aa"; @s["de", 8] = "bbb";
    for ($kv : @s) { @back[$kv.1] = ($kv.0.1, $kv.0.0); }
    @one["only"] = 5;
    for ($kv : @one) { printf("key %s value %d\n", $kv.0, $kv.1); print($kv); }
    $seen = 0;
    for ($kv : @n) { $seen++; break; }
    printf("break after %d\n", $seen);
    $odd = 0;
    for ($kv : @n) { if ($kv.1 % 20 == 0) { continue; } $odd += $kv.1; }
    printf("continue: %d\n", $odd);
    for ($kv : @one) { for ($in : @n) { printf("B"); } printf("A\n"); }
    $v = 1;
    for ($kv : @n) { $v *= 2; }
    printf("doubled %d\n", $v);
    for ($kv : @n) { if ($kv.0 < 0) { delete(@n, $kv.0); } }
    for ($kv : @one) { if ($kv.1 == 5) { printf("leaving\n"); exit(); } }
    printf("not reached\n");
}
END { for ($kv : @s) { delete(@s, $kv.0); } for ($kv : @one) { return; } printf("not reached in END\n"); }"#,
        &format!(
            "sum 100 keys 2\nkey only value 5\n(only, 5)\nbreak after 1\ncontinue: 40\nBBBBA\ndoubled 16\nleaving\n{END}\
             @back[aa]: (7, abc)\n@back[bbb]: (8, de)\n@n[1]: 10\n@n[2]: 20\n@n[3]: 30\n@one[only]: 5\n{EMPTY_MAP}"
        ),
        0,
    );
}

/// Two threads pinned to CPU 0 and CPU 1 make 30 and 12 getppid() calls;
/// then the CPU-0 thread calls getpgid(), whose probe reads the aggregations.
/// "This CPU's share" would read 30 calls and a max() of 0.
#[test]
fn root_aggregations_read_in_a_probe_are_totals_over_cpus() {
    if !enabled("root_aggregations_read_in_a_probe_are_totals_over_cpus") {
        return;
    }
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        flowtrace_testkit::gate::skipped("root_aggregations_read_in_a_probe_are_totals_over_cpus", "needs two CPUs");
        return;
    }
    let dir = std::env::temp_dir().join(format!("ft-percpu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // The link's name becomes the process's comm, which the probes filter on.
    let exe = dir.join("ftpercpu");
    let _ = std::fs::remove_file(&exe);
    // The interpreter itself, not a launcher (pyenv's shim reads argv[0]).
    let python = Command::new(flowtrace_testkit::gate::require_tool("python3"))
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    std::os::unix::fs::symlink(String::from_utf8_lossy(&python.stdout).trim(), &exe).unwrap();
    let script = dir.join("calls.py");
    std::fs::write(
        &script,
        "import os, threading\n\
         def calls(cpu, n):\n    os.sched_setaffinity(0, {cpu})\n    for _ in range(n): os.getppid()\n\
         for cpu, n in ((0, 30), (1, 12)):\n    t = threading.Thread(target=calls, args=(cpu, n)); t.start(); t.join()\n\
         os.sched_setaffinity(0, {0})\nos.getpgid(0)\n",
    )
    .unwrap();
    let program = r#"
        tracepoint:syscalls:sys_enter_getppid /comm == "ftpercpu"/ {
            @c = count(); @s = sum(2); @mn = min(cpu); @mx = max(cpu); @a = avg(cpu * 10);
            @k["calls"] = count();
        }
        tracepoint:syscalls:sys_enter_getpgid /comm == "ftpercpu"/ {
            printf("count=%d sum=%d min=%d max=%d avg=%d big=%d\n", (int64)@c, (int64)@s, (int64)@mn, (int64)@mx, (int64)@a, @c > 40);
            for ($kv : @k) { printf("for-map %s=%d\n", $kv.0, $kv.1); }
            printf("len %d\n", len(@k));
            exit();
        }"#;
    let cmd = format!("{} {}", exe.display(), script.display());
    let out = run(&["-e", program, "-c", &cmd]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // 120 / 42 = 2 (truncated, as print(@a) shows an average).
    assert!(stdout.contains("count=42 sum=84 min=0 max=1 avg=2 big=1\n"), "{stdout}");
    // A for loop over a per-CPU map reads each value as that total too.
    assert!(stdout.contains("for-map calls=42\n"), "{stdout}");
    // len() of a per-CPU map counts its key once, whichever CPUs wrote it.
    assert!(stdout.contains("len 1\n"), "{stdout}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0));
}

/// `len(@m)` counts keys in the probe: hash, LRU and per-CPU maps, multi-key
/// maps, after deletes, inside a for-map body, and in a perf-event
/// (interval) program as well as BEGIN.
#[test]
fn root_len_counts_the_keys_of_a_map() {
    if !enabled("root_len_counts_the_keys_of_a_map") {
        return;
    }
    expect(
        r#"let @l = lruhash(16);
let @p = percpuhash(16);
BEGIN {
    printf("empty %d\n", len(@h));
    for ($i : 0..5) { @h[$i] = $i; @l[$i, "x"] = 1; }
    @p[1] = 1; @p[2] = 2; @c["a"] = count(); @c["b"] = count(); @c["a"] = count();
    printf("%d %d %d %d\n", len(@h), len(@l), len(@p), len(@c));
    delete(@h, 0); delete(@h, 1);
    $n = len(@h) * 100 + len(@c);
    printf("after delete %d\n", $n);
    for ($kv : @c) { printf("inside a for-map body %d\n", len(@c)); break; }
    if (len(@h) == 3) { printf("three\n"); }
}
interval:ms:50 { @h[99] = 99; printf("probe %d\n", len(@h)); clear(@h); clear(@l); clear(@p); clear(@c); exit(); }
BEGIN { @h[-1] = 0; delete(@h, -1); }"#,
        &format!(
            "empty 0\n5 5 2 2\nafter delete 302\ninside a for-map body 2\nthree\nprobe 4\n{END}{EMPTY_MAP}{EMPTY_MAP}{EMPTY_MAP}{EMPTY_MAP}"
        ),
        0,
    );
}

/// `print()` of a struct prints it field by field and of a non-text array
/// as a list, as today's bpftrace does (`{ .a = 1, .b = x }`, `[1,2,3]`;
/// 0.17 prints arrays so too), also inside tuples, map values and JSON.
/// The struct is laid over the test's own `comm` ("flowtrace", zero-padded),
/// so every byte is known: `char` arrays are text, `uint8` arrays numbers.
/// `head` holds no NUL, so it prints with the `str_trunc_trailer` ("..",
/// as in today's bpftrace; the config block changes it).
#[test]
fn root_print_of_structs_and_arrays() {
    if !enabled("root_print_of_structs_and_arrays") {
        return;
    }
    let program = r#"struct C { char head[4]; uint8 mid[3]; char rest[3]; uint16 n; };
BEGIN {
  $c = (struct C *)((uint64)curtask + offsetof(struct task_struct, comm));
  print(*$c);
  print(($c->mid, *$c, 7));
  print(pton("10.1.2.3"));
  @arr[$c->n] = $c->mid;
  exit();
}"#;
    let record = "{ .head = flow.., .mid = [116,114,97], .rest = ce, .n = 0 }";
    expect(program, &format!("{record}\n([116,114,97], {record}, 7)\n[10,1,2,3]\n{END}@arr[0]: [116,114,97]\n"), 0);
    for (trailer, head) in [("", "flow"), ("~", "flow~")] {
        let configured = format!("config = {{ str_trunc_trailer = \"{trailer}\" }}\n{program}");
        let record = format!("{{ .head = {head}, .mid = [116,114,97], .rest = ce, .n = 0 }}");
        expect(&configured, &format!("{record}\n([116,114,97], {record}, 7)\n[10,1,2,3]\n{END}@arr[0]: [116,114,97]\n"), 0);
    }
    let out = run(&["-f", "json", "-e", program]);
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{json}");
    let fields = r#"{"head": "flow..", "mid": [116,114,97], "rest": "ce", "n": 0}"#;
    assert!(json.contains(&format!("{{\"type\": \"value\", \"data\": {fields}}}\n")), "{json}");
    assert!(json.contains(r#"{"type": "map", "data": {"@arr": {"0": [116,114,97]}}}"#), "{json}");
}
