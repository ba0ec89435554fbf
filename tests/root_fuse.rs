//! Fused aggregations (codegen's fuse.rs) on real events: maps that share
//! one BPF map print exactly what they counted, and exactly what the same
//! script prints with fusion off (FLOWTRACE_NO_FUSE=1) — same order, same
//! format; `clear(@a)` while the other member keeps counting leaves it
//! intact. Events are this test's own syscalls (`pid == $1`) and its own
//! UDP datagrams on loopback (`tc:lo:ingress`, filtered on their port).
//! Root only (FLOWTRACE_ROOT_TESTS=1).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flowtrace_testkit::gate::root_tests_enabled as enabled;
use flowtrace_testkit::traffic;
use support::tracer::Tracer;

const LIMIT: Duration = Duration::from_secs(60);

fn flowtrace() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_flowtrace"))
}

/// Starts the script (through `env`, to set FLOWTRACE_NO_FUSE for the
/// unfused run) with this process's pid as `$1`, and waits until attached.
fn start(label: &str, script: &Path, fuse: bool, args: &[String]) -> Tracer {
    let mut argv = vec![format!("FLOWTRACE_NO_FUSE={}", if fuse { "" } else { "1" }), flowtrace().display().to_string()];
    argv.push(script.display().to_string());
    argv.push(std::process::id().to_string());
    argv.extend(args.iter().cloned());
    let mut t = Tracer::spawn(label, Path::new("/usr/bin/env"), &argv).unwrap();
    let start = Instant::now();
    while !t.attached() {
        assert!(!t.exited(), "{label} exited before attaching: {}", t.stdout_so_far());
        assert!(start.elapsed() < LIMIT, "{label} did not attach: {}", t.stdout_so_far());
        std::thread::sleep(Duration::from_millis(20));
    }
    t
}

fn wait_for(t: &Tracer, marker: &str) {
    let start = Instant::now();
    while !t.stdout_so_far().contains(marker) {
        assert!(start.elapsed() < LIMIT, "{}: no {marker:?} in {}", t.label, t.stdout_so_far());
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn getsid(arg: i32, times: usize) {
    for _ in 0..times {
        // SAFETY: getsid has no preconditions; a pid that does not exist
        // only makes it fail (the tracepoint fires on entry either way).
        unsafe { libc::getsid(arg) };
    }
}

fn temp_script(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ft-fuse-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The syscall run: known calls, `clear(@n)` and `zero(@av)` (which the
/// other members of their fused map must survive) and `delete(@d[k])` on
/// an unfused pair, more calls, then the exit print.
fn syscall_run(fuse: bool) -> String {
    let script = temp_script(
        "syscalls.ft",
        r#"tracepoint:syscalls:sys_enter_getsid /pid == $1 && args.pid != 99999999/ {
    @n[args.pid] = count(); @s[args.pid] = sum(args.pid); @mx[args.pid] = max(args.pid); @av[args.pid] = avg(args.pid);
}
tracepoint:syscalls:sys_enter_getpgid /pid == $1/ { @d[args.pid] = count(); @e[args.pid] = count(); }
tracepoint:syscalls:sys_enter_getpgid /pid == $1 && args.pid == 99999999/ { delete(@d[3]); }
tracepoint:syscalls:sys_enter_getsid /pid == $1 && args.pid == 99999999/ { clear(@n); zero(@av); printf("cleared\n"); }
"#,
    );
    let t = start(if fuse { "fused" } else { "unfused" }, &script, fuse, &[]);
    for i in 1..=5 {
        getsid(i * 1000, i as usize);
        // SAFETY: getpgid has no preconditions.
        unsafe { libc::getpgid(i) };
        unsafe { libc::getpgid(3) };
    }
    // The clear is done by userspace, before it prints the marker.
    getsid(99999999, 1);
    wait_for(&t, "cleared");
    unsafe { libc::getpgid(99999999) };
    getsid(1000, 2);
    getsid(7000, 1);
    std::thread::sleep(Duration::from_millis(300));
    t.interrupt();
    let done = t.finish(LIMIT, false).unwrap();
    assert!(done.status.success(), "{}\n{}", done.stdout, done.stderr);
    done.stdout
}

#[test]
fn root_fuse_fused_maps_print_clear_and_delete_as_separate_maps() {
    if !enabled("root_fuse_fused_maps_print_clear_and_delete_as_separate_maps") {
        return;
    }
    let fused = syscall_run(true);
    // After clear(@n): only what came after it (printed by value, as bpftrace does).
    assert!(fused.contains("\n@n[7000]: 1\n@n[1000]: 2\n"), "{fused}");
    assert!(!fused.contains("@n[2000]"), "{fused}");
    // @s and @mx kept counting through the clear: every call.
    for (k, n) in [(1000, 3), (2000, 2), (3000, 3), (4000, 4), (5000, 5), (7000, 1)] {
        assert!(fused.contains(&format!("@s[{k}]: {}\n", k * n)), "@s[{k}] in {fused}");
        assert!(fused.contains(&format!("@mx[{k}]: {k}\n")), "@mx[{k}] in {fused}");
    }
    // zero(@av) kept its keys at 0; only later calls count.
    for k in [2000, 3000, 4000, 5000] {
        assert!(fused.contains(&format!("@av[{k}]: 0\n")), "@av[{k}] in {fused}");
    }
    assert!(fused.contains("@av[1000]: 1000\n") && fused.contains("@av[7000]: 7000\n"), "{fused}");
    // delete(@d[3]) left @e[3] (both counted getpgid(3) six times).
    assert!(fused.contains("@e[3]: 6\n") && !fused.contains("@d[3]"), "{fused}");
    let unfused = syscall_run(false);
    assert_eq!(fused, unfused, "fused and unfused output differ");
}

/// The tc runbook's shape: packets and bytes per 5-tuple in LRU maps, both
/// cleared each interval; this test's own datagrams to one port.
#[test]
fn root_fuse_tc_flow_counts_are_exact() {
    if !enabled("root_fuse_tc_flow_counts_are_exact") {
        return;
    }
    let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let script = temp_script(
        "tc.ft",
        &format!(
            "let @bytes = lruhash(64); let @packets = lruhash(64);
tc:lo:ingress /dport == {port}/ {{ @bytes[saddr, daddr, sport, dport, proto] = sum(len); @packets[saddr, daddr, sport, dport, proto] = count(); }}
"
        ),
    );
    let sizes: Vec<usize> = (1..=40).map(|i| i * 10).collect();
    let run = |fuse: bool| {
        let t = start(if fuse { "tc fused" } else { "tc unfused" }, &script, fuse, &[]);
        traffic::udp_datagrams(port, &sizes).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        t.interrupt();
        let done = t.finish(LIMIT, false).unwrap();
        assert!(done.status.success(), "{}\n{}", done.stdout, done.stderr);
        done.stdout
    };
    let fused = run(true);
    let value = |map: &str, text: &str| -> u64 {
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(&format!("{map}["))).collect();
        assert_eq!(lines.len(), 1, "one flow in {map}: {text}");
        lines[0].rsplit(": ").next().unwrap().parse().unwrap()
    };
    assert_eq!(value("@packets", &fused), 40, "{fused}");
    let payload: u64 = sizes.iter().map(|&n| n as u64).sum();
    let headers = value("@bytes", &fused) - payload;
    // IPv4 + UDP headers, with or without the Ethernet header, per packet.
    assert!(headers == 40 * 28 || headers == 40 * 42, "bytes beyond the payload: {headers}\n{fused}");
    // The sender's port differs between runs: compare with it masked.
    let unfused = run(false);
    let mask = |text: &str| -> String {
        let masked = text.lines().map(|l| match (l.find('['), l.find(']')) {
            (Some(a), Some(b)) if a < b => {
                let mut fields: Vec<&str> = l[a + 1..b].split(", ").collect();
                if fields.len() == 5 {
                    fields[2] = "*";
                }
                format!("{}[{}]{}", &l[..a], fields.join(", "), &l[b + 1..])
            }
            _ => l.to_string(),
        });
        masked.collect::<Vec<_>>().join("\n")
    };
    assert_eq!(mask(&fused), mask(&unfused));
}

/// LRU accounting stays exact: 1000 keys into two 16-key LRU maps, fused
/// into one map or not, and for each map the keys it still holds plus the
/// evictions it reports are the 1000 keys it was given.
#[test]
fn root_fuse_lru_evictions_are_counted_per_map() {
    if !enabled("root_fuse_lru_evictions_are_counted_per_map") {
        return;
    }
    let script = temp_script(
        "lru.ft",
        "let @a = lruhash(16); let @b = lruhash(16);
tracepoint:syscalls:sys_enter_getsid /pid == $1/ { @a[args.pid] = count(); @b[args.pid] = sum(args.pid); }
",
    );
    for fuse in [true, false] {
        let t = start(if fuse { "lru fused" } else { "lru unfused" }, &script, fuse, &[]);
        for i in 0..1000 {
            getsid(1_000_000 + i, 1);
        }
        std::thread::sleep(Duration::from_millis(300));
        t.interrupt();
        let done = t.finish(LIMIT, false).unwrap();
        assert!(done.status.success(), "{}\n{}", done.stdout, done.stderr);
        let all = format!("{}{}", done.stdout, done.stderr);
        for map in ["@a", "@b"] {
            let live = done.stdout.lines().filter(|l| l.starts_with(&format!("{map}["))).count();
            let evicted: usize = all
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{map}: ")).and_then(|r| r.split(" entries evicted").next()?.parse().ok()))
                .unwrap_or_else(|| panic!("no eviction count for {map} (fuse {fuse}):\n{all}"));
            assert!(live <= 16 && live > 0, "{map}: {live} live (fuse {fuse})");
            assert_eq!(live + evicted, 1000, "{map} (fuse {fuse}): {live} live + {evicted} evicted\n{all}");
        }
    }
}
