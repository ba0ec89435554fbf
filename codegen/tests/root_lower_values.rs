//! Programs run in the kernel, their maps read back and compared with what
//! the source says: BEGIN programs run once with BPF_PROG_TEST_RUN;
//! tracepoint programs are attached and fed deterministic events. Loading
//! and attaching is the production loader's (`flowtrace_runtime::Loaded`).

use flowtrace_testkit::program::{compiled, compiled_with, str_bytes, MapBytes, TestProgram};
use flowtrace_testkit::{root_tests_enabled, traffic};

/// Compile, load, run every BEGIN program once, hand the maps to `check`.
fn run_begin(text: &str, check: impl FnOnce(&MapBytes)) {
    let prog = TestProgram::from_source(text);
    for (i, p) in prog.compiled.programs.iter().enumerate() {
        if matches!(p.attach.kind, flowtrace_lang::ast::AttachKind::Begin) {
            let ret = prog.run_raw_tp(i).unwrap();
            assert_eq!(ret, 0);
        }
    }
    check(&prog.maps());
}

#[test]
fn integer_semantics_match_c() {
    if !root_tests_enabled("integer_semantics_match_c") {
        return;
    }
    run_begin(
        r#"BEGIN {
            $a = -7; $b = 2; $c = 3;
            @div = $a / $b; @mod = $a % $c; @udiv = 7 / 2; @umod = 7 % 3;
            @neg_div = 7 / -2; @both = -8 / -2;
            @shr = $a >> 1; @shl = 3 << 4;
            @lt = $a < $b ? 1 : 0; @and = 6 & 3; @or = 6 | 3; @xor = 6 ^ 3; @not = ~0;
            @narrow = (uint8)300; @signed8 = (int8)200;
            @logic = (1 == 1 && 2 > 3) || 5 != 5 ? 100 : 200;
            $i = 0; $s = 0; while ($i < 10) { $s += $i; $i++; } @loop = $s;
        }"#,
        |m| {
            assert_eq!(m.scalar("div"), -3);
            assert_eq!(m.scalar("mod"), -1);
            assert_eq!(m.scalar("udiv"), 3);
            assert_eq!(m.scalar("umod"), 1);
            assert_eq!(m.scalar("neg_div"), -3);
            assert_eq!(m.scalar("both"), 4);
            assert_eq!(m.scalar("shr"), -4);
            assert_eq!(m.scalar("shl"), 48);
            assert_eq!(m.scalar("lt"), 1);
            assert_eq!((m.scalar("and"), m.scalar("or"), m.scalar("xor")), (2, 7, 5));
            assert_eq!(m.scalar("not"), -1);
            assert_eq!(m.scalar("narrow"), 44);
            assert_eq!(m.scalar("signed8"), -56);
            assert_eq!(m.scalar("logic"), 200);
            assert_eq!(m.scalar("loop"), 45);
        },
    );
}

#[test]
fn aggregations_hold_exact_values() {
    if !root_tests_enabled("aggregations_hold_exact_values") {
        return;
    }
    run_begin(
        r#"BEGIN {
            @c = count(); @c = count(); @c = count();
            @s = sum(5); @s = sum(-2);
            @mn = min(5); @mn = min(-3); @mn = min(7);
            @mx = max(5); @mx = max(-3); @mx = max(7);
            @a = avg(10); @a = avg(20); @a = avg(60);
            @h = hist(-1); @h = hist(0); @h = hist(1); @h = hist(3); @h = hist(1024); @h = hist(1099511627776);
            @l = lhist(-5, 0, 100, 10); @l = lhist(0, 0, 100, 10); @l = lhist(55, 0, 100, 10); @l = lhist(100, 0, 100, 10);
            @k[1, "x"] = count(); @k[1, "x"] = count(); @k[2, "x"] = count();
        }"#,
        |m| {
            assert_eq!(m.scalar("c"), 3);
            assert_eq!(m.scalar("s"), 3);
            let zero = 0u64.to_le_bytes();
            let cpu_with = |name: &str| m.per_cpu(name, &zero).unwrap().into_iter().find(|v| v[1] != 0).unwrap();
            assert_eq!(cpu_with("mn")[0] as i64, -3);
            assert_eq!(cpu_with("mx")[0] as i64, 7);
            assert_eq!(m.words("a", &zero).unwrap(), vec![90, 3]);
            let h = m.words("h", &zero).unwrap();
            let mut want = vec![0u64; 66];
            let values = [-1i64, 0, 1, 3, 1024, 1 << 40];
            for v in values {
                want[flowtrace_codegen::layout::hist_bucket(v) as usize] += 1;
            }
            // After the buckets, the sum of the values (a metric's `_sum`).
            want.push(values.iter().sum::<i64>() as u64);
            assert_eq!(h, want);
            let l = m.words("l", &zero).unwrap();
            let mut want = vec![0u64; 12];
            for v in [-5i64, 0, 55, 100] {
                want[flowtrace_codegen::layout::lhist_bucket(v, 0, 100, 10) as usize] += 1;
            }
            want.push(150);
            assert_eq!(l, want);
            let key = |n: u64| [n.to_le_bytes().to_vec(), str_bytes("x", 8)].concat();
            assert_eq!(m.words("k", &key(1)).unwrap(), vec![2]);
            assert_eq!(m.words("k", &key(2)).unwrap(), vec![1]);
            assert_eq!(m.keys("k").len(), 2);
            assert!(m.stats().iter().all(|&s| s == 0));
        },
    );
}

#[test]
fn map_reads_stores_and_strings() {
    if !root_tests_enabled("map_reads_stores_and_strings") {
        return;
    }
    run_begin(
        r#"BEGIN {
            @n[1] = 5; @n[1] += 3; @n[1]++; @n[2] = @n[1] * 2; @n[3] = @n[99];
            @gone[1] = 1; delete(@gone[1]);
            @str = "hello";
            @eq = "abc" == "abc" ? 1 : 0; @ne = "abc" == "abd" ? 1 : 0; @pre = "ab" == "abc" ? 1 : 0;
            @t = (7, "ab");
            $s = "xy"; @v[$s] = 1;
        }"#,
        |m| {
            assert_eq!(m.words("n", &1u64.to_le_bytes()).unwrap()[0], 9);
            assert_eq!(m.words("n", &2u64.to_le_bytes()).unwrap()[0], 18);
            assert_eq!(m.words("n", &3u64.to_le_bytes()).unwrap()[0], 0);
            assert!(m.keys("gone").is_empty());
            assert_eq!(m.raw("str", &0u64.to_le_bytes()).unwrap(), str_bytes("hello", 8));
            assert_eq!((m.scalar("eq"), m.scalar("ne"), m.scalar("pre")), (1, 0, 0));
            let t = m.raw("t", &0u64.to_le_bytes()).unwrap();
            assert_eq!(t, [7u64.to_le_bytes().to_vec(), str_bytes("ab", 8)].concat());
            assert_eq!(m.keys("v"), vec![str_bytes("xy", 8)]);
        },
    );
}

#[test]
fn tracepoint_builtins_see_the_calling_thread() {
    if !root_tests_enabled("tracepoint_builtins_see_the_calling_thread") {
        return;
    }
    let me = std::process::id();
    let text = format!(
        "tracepoint:syscalls:sys_enter_getpid /pid == {me}/ {{ @c[comm] = count(); @p = pid; @t[tid] = count(); @id = args.__syscall_nr; }}"
    );
    let compiled = compiled(&text);
    let mut prog = TestProgram::load(compiled).unwrap_or_else(|e| panic!("{e}"));
    prog.attach_all();
    let worker = std::thread::Builder::new()
        .name("ft-getpid".into())
        .spawn(|| {
            for _ in 0..7 {
                unsafe { libc::syscall(libc::SYS_getpid) };
            }
            unsafe { libc::syscall(libc::SYS_gettid) as u64 }
        })
        .unwrap();
    let tid = worker.join().unwrap();
    let m = prog.maps();
    assert_eq!(m.words("c", &str_bytes("ft-getpid", 16)).unwrap(), vec![7]);
    assert_eq!(m.scalar("p"), i64::from(me));
    assert_eq!(m.words("t", &tid.to_le_bytes()).unwrap(), vec![7]);
    assert_eq!(m.scalar("id"), libc::SYS_getpid);
}

#[test]
fn tuple_keys_with_addresses_from_tcp_state_changes() {
    if !root_tests_enabled("tuple_keys_with_addresses_from_tcp_state_changes") {
        return;
    }
    let (listener, port) = traffic::listener();
    let text = format!(
        "tracepoint:sock:inet_sock_set_state /args.dport == {port}/ {{ @c[ntop(args.daddr), args.dport] = count(); @last = args.newstate; }}"
    );
    let compiled = compiled(&text);
    let mut prog = TestProgram::load(compiled).unwrap_or_else(|e| panic!("{e}"));
    prog.attach_all();
    traffic::ping_cycles(&listener, 3);
    let m = prog.maps();
    // A compact key: inet as 16 address bytes and a family byte (AF_INET),
    // then the u16 port at its natural alignment (18), padded to 24.
    let mut key = vec![127, 0, 0, 1];
    key.resize(16, 0);
    key.extend([2, 0]);
    key.extend(port.to_le_bytes());
    key.resize(24, 0);
    let keys = m.keys("c");
    assert_eq!(keys, vec![key.clone()], "keys: {keys:?}");
    // Client side per connection: SYN_SENT, ESTABLISHED, FIN_WAIT1, FIN_WAIT2, CLOSE.
    assert_eq!(m.words("c", &key).unwrap(), vec![15]);
    assert_eq!(m.scalar("last"), 7);
}

#[test]
fn keys_bigger_than_the_stack_live_in_the_scratch_map() {
    if !root_tests_enabled("keys_bigger_than_the_stack_live_in_the_scratch_map") {
        return;
    }
    let me = std::process::id();
    let text = format!(
        "tracepoint:syscalls:sys_enter_openat /pid == {me}/ {{ @f[str(args.filename, 250), str(args.filename, 250), comm] = count(); }}"
    );
    let options = flowtrace_lang::CheckOptions { default_str_size: 256, ..Default::default() };
    let compiled = compiled_with(&text, &options);
    assert!(compiled.maps.iter().any(|m| m.name == "ft_scratch"));
    let mut prog = TestProgram::load(compiled).unwrap_or_else(|e| panic!("{e}"));
    prog.attach_all();
    let path = "/proc/self/flowtrace-scratch-test-does-not-exist";
    let worker = std::thread::Builder::new()
        .name("ft-open".into())
        .spawn(move || {
            for _ in 0..4 {
                let _ = std::fs::File::open(path);
            }
        })
        .unwrap();
    worker.join().unwrap();
    let m = prog.maps();
    let keys = m.keys("f");
    let key_size = keys.first().map_or(0, |k| k.len());
    let str_size = (key_size - 16) / 2;
    let key = [str_bytes(path, str_size), str_bytes(path, str_size), str_bytes("ft-open", 16)].concat();
    assert_eq!(m.words("f", &key), Some(vec![4]), "keys: {}", keys.len());
}
