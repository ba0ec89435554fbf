//! Printing big maps (issue 14): a million-key `lruhash` prints every
//! entry with the value the script stored, `print(@m, N)` shows the right
//! N, and batch reads (`BPF_MAP_LOOKUP_BATCH`) print what per-key reads
//! (`FLOWTRACE_NO_BATCH=1`) print, on maps a probe keeps writing while they
//! are read. Timing is in `benches/print.py`, not here.
//!
//! Root only (FLOWTRACE_ROOT_TESTS=1), like every test that loads programs.

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flowtrace_testkit::root_tests_enabled as enabled;

/// `flowtrace OPTIONS… -e PROGRAM PARAMS…` with `env`, to its exit (within `limit`).
fn run(env: &[(&str, &str)], options: &[&str], program: &str, params: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .envs(env.iter().copied())
        .args(options)
        .args(["-e", program])
        .args(params)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read while it runs: megabytes of output would fill the pipe.
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut buf).unwrap();
        buf
    });
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("flowtrace did not exit within {limit:?}: {program}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut out = child.wait_with_output().unwrap();
    out.stdout = reader.join().unwrap();
    assert!(out.status.success(), "{program}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// `@NAME[key]: value` lines of `stdout`, in order, as (key, value) texts.
fn lines_of<'a>(stdout: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
    let head = format!("@{name}[");
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix(head.as_str()))
        .map(|rest| rest.split_once("]: ").unwrap_or_else(|| panic!("not a map line: @{name}[{rest}")))
        .collect()
}

/// A BEGIN loop fills a million keys of an `lruhash` (sized so that none is
/// evicted); END prints the top 3, then every entry prints at exit: a
/// million lines, sorted by value, each with the value the loop stored.
#[test]
fn root_print_a_million_key_lruhash() {
    if !enabled("root_print_a_million_key_lruhash") {
        return;
    }
    const KEYS: u64 = 1_000_000;
    let program = format!(
        "let @m = lruhash(1048576);
         BEGIN {{ $i = 0; while ($i < {KEYS}) {{ @m[$i] = $i * 7 + 1; $i++; }} exit(); }}
         END {{ print(@m, 3); }}"
    );
    let out = run(&[], &[], &program, &[], Duration::from_secs(120));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("evicted") && !stderr.contains("stopped after"), "{stderr}");
    let lines = lines_of(&stdout, "m");
    assert_eq!(lines.len() as u64, 3 + KEYS, "the top 3, then every key once");
    let top: Vec<_> = lines[..3].to_vec();
    assert_eq!(top, [("999997", "6999980"), ("999998", "6999987"), ("999999", "6999994")]);
    // Sorted by value ascending, and the value is 7k+1: line i is key i.
    for (i, (key, value)) in lines[3..].iter().enumerate() {
        let k: u64 = key.parse().unwrap_or_else(|_| panic!("line {i}: key {key}"));
        assert_eq!(k, i as u64, "line {i} is out of order or a key is missing");
        assert_eq!(value.parse::<u64>().ok(), Some(7 * k + 1), "line {i}: @m[{key}]: {value}");
    }
    // Spot checks on the raw text, not only on the parse.
    assert!(stdout.contains("\n@m[0]: 1\n") && stdout.contains("\n@m[123456]: 864193\n"));
    assert!(stdout.contains("\n@m[999999]: 6999994\n"));
}

/// Under a writer on another CPU (this process's own getpgrp calls), four
/// `print`s (the timer may fire again before `exit()` takes effect, hence
/// the `@n` guard) and the exit dump of three maps, read in batches and
/// then key by key:
/// - `@m` is written in place with the value it holds (`max` of the same
///   number), so every dump must be the same, byte for byte, in both modes;
/// - `@c` counts in place: every key once per dump in both modes;
/// - `@t` is overwritten with a new pair (t, 3t+1) on every write: every
///   printed pair must be one write's, never half of two. Each overwrite
///   replaces the kernel's element with a new one at the head of its hash
///   bucket, so a key-by-key walk (`BPF_MAP_GET_NEXT_KEY`, what bpftrace
///   0.17 and kernels before 5.6 use) can step over a key that moved behind
///   it: batch reads, which copy a bucket under its lock, print every key
///   once per dump; per-key reads print no key twice.
#[test]
fn root_print_batch_and_per_key_reads_agree_on_maps_being_written() {
    if !enabled("root_print_batch_and_per_key_reads_agree_on_maps_being_written") {
        return;
    }
    const M: u64 = 20_000;
    const T: u64 = 5_000;
    const DUMPS: usize = 5;
    let program = format!(
        "BEGIN {{ $i = 0; while ($i < {M}) {{ @m[$i] = max($i * 3); if ($i < {T}) {{ @t[$i] = (0, 1); @c[$i] = count(); }} $i++; }} }}
         tracepoint:syscalls:sys_enter_getpgrp /pid == $1/ {{
             $k = nsecs % {M}; $t = nsecs;
             @m[$k] = max($k * 3);
             @c[$k % {T}] = count();
             @t[$k % {T}] = ($t, $t * 3 + 1);
             @writes = count();
         }}
         interval:ms:150 {{ if (@n < {dumps}) {{ print(@m); print(@c); print(@t); @n++; if (@n == {dumps}) {{ exit(); }} }} }}",
        dumps = DUMPS - 1
    );
    let pid = std::process::id().to_string();
    let stop = AtomicBool::new(false);
    let (batch, per_key) = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: getpgrp has no arguments and cannot fail.
                unsafe { libc::getpgrp() };
            }
        });
        // Maps of 2^19 buckets: big enough that batch reads use two walkers.
        let keys = ["--map-keys", "300000"];
        let batch = run(&[], &keys, &program, &[&pid], Duration::from_secs(60));
        let per_key = run(&[("FLOWTRACE_NO_BATCH", "1")], &keys, &program, &[&pid], Duration::from_secs(60));
        stop.store(true, Ordering::Relaxed);
        (String::from_utf8(batch.stdout).unwrap(), String::from_utf8(per_key.stdout).unwrap())
    });
    for (mode, stdout) in [("batch", &batch), ("per key", &per_key)] {
        let writes: u64 = stdout.lines().find_map(|l| l.strip_prefix("@writes: ")).and_then(|n| n.parse().ok()).unwrap_or(0);
        assert!(writes > 10_000, "{mode}: the writer made only {writes} writes while the maps were read");
        let m = lines_of(stdout, "m");
        assert_eq!(m.len(), DUMPS * M as usize, "{mode}: every key of @m once per dump");
        for (key, value) in &m {
            let k: u64 = key.parse().unwrap();
            assert_eq!(value.parse::<u64>().ok(), Some(3 * k), "{mode}: @m[{key}]: {value}");
        }
        let c = times_printed(&lines_of(stdout, "c"));
        assert!(c.len() as u64 == T && c.values().all(|&n| n == DUMPS), "{mode}: every key of @c once per dump");
        let t = lines_of(stdout, "t");
        for (key, value) in &t {
            let pair = value.strip_prefix('(').and_then(|v| v.strip_suffix(')')).and_then(|v| v.split_once(", "));
            let (a, b) = pair.unwrap_or_else(|| panic!("{mode}: @t[{key}]: {value}"));
            let (a, b): (u64, u64) = (a.parse().unwrap(), b.parse().unwrap());
            assert_eq!(b, a.wrapping_mul(3).wrapping_add(1), "{mode}: torn value @t[{key}]: {value}");
        }
        let t = times_printed(&t);
        assert!(t.keys().all(|&k| k < T) && t.values().all(|&n| n <= DUMPS), "{mode}: a key of @t printed twice in a dump");
        if mode == "batch" {
            assert!(t.len() as u64 == T && t.values().all(|&n| n == DUMPS), "{mode}: every key of @t once per dump");
        }
    }
    assert_eq!(lines_of(&batch, "m"), lines_of(&per_key, "m"), "batch and per-key reads printed different @m dumps");
}

/// How many times each (numeric) key was printed.
fn times_printed(lines: &[(&str, &str)]) -> BTreeMap<u64, usize> {
    let mut times = BTreeMap::new();
    for (key, _) in lines {
        *times.entry(key.parse().unwrap()).or_default() += 1;
    }
    times
}
