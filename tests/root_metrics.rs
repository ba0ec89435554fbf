//! `--metrics` end to end (issue 12): a real Prometheus scrapes a runbook
//! while the test makes known traffic, and its query API must give the exact
//! counts with the right labels; the raw exposition passes `promtool`;
//! OpenMetrics on request; concurrent scrapes; SIGHUP reload.
//! Root only (FLOWTRACE_ROOT_TESTS=1): the probes are really attached.

mod tc_netns;

use flowtrace_testkit::gate::require_tool;
use flowtrace_testkit::objects::flowtrace_objects_after_grace as nothing_of_ours_in_kernel;
use flowtrace_testkit::root_tests_enabled as enabled;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tc_netns::{in_netns, sa, send_udp, serve, udp_bound, Lab, A4, B4};

/// A process the test started, killed if an assertion fails first.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// A fresh directory under the target dir, removed first if a crashed run left it.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ft-metrics-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A free TCP port on loopback in namespace `ns` (`None`: this one).
fn free_port(ns: Option<&str>) -> u16 {
    let pick = || TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    match ns {
        Some(ns) => in_netns(ns, pick).join().unwrap(),
        None => pick(),
    }
}

/// One HTTP/1.0 GET: (status, head, body). Run in `ns` when given.
fn http_get(ns: Option<&str>, addr: SocketAddr, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let request = match accept {
        Some(a) => format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: {a}\r\n\r\n"),
        None => format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n"),
    };
    let get = move || -> Option<(u16, String, String)> {
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        s.write_all(request.as_bytes()).ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split_whitespace().nth(1)?.parse().ok()?;
        Some((status, head.to_string(), body.to_string()))
    };
    let got = match ns {
        Some(ns) => in_netns(ns, get).join().unwrap(),
        None => get(),
    };
    got.unwrap_or((0, String::new(), String::new()))
}

/// Polls `what` every 100 ms until it returns `Some`, at most `limit`.
fn wait_for<T>(limit: Duration, mut what: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(v) = what() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// The value of the exposition's sample line that starts with `series `.
fn sample(exposition: &str, series: &str) -> Option<String> {
    exposition.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ').map(str::to_string))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Prometheus' answer to an instant `query`: each result's value (as
/// text), read from the JSON without a JSON library: every result has
/// `"value":[<time>,"<value>"]`.
fn prom_query(ns: &str, prom: SocketAddr, query: &str) -> Vec<String> {
    let (status, _, body) = http_get(Some(ns), prom, &format!("/api/v1/query?query={}", percent_encode(query)), None);
    if status != 200 {
        return Vec::new();
    }
    body.split("\"value\":[").skip(1).filter_map(|rest| rest.split('"').nth(1).map(str::to_string)).collect()
}

/// Waits until `query` gives exactly one result equal to `want`; panics
/// with what it gave last otherwise.
fn assert_prom(ns: &str, prom: SocketAddr, query: &str, want: &str) {
    let mut last = Vec::new();
    let found = wait_for(Duration::from_secs(20), || {
        last = prom_query(ns, prom, query);
        (last.len() == 1 && last[0] == want).then_some(())
    });
    assert!(found.is_some(), "Prometheus: {query} gave {last:?}, want [{want}]");
}

/// A Prometheus server on loopback in `ns` scraping `target` every second,
/// its storage in `dir`.
fn start_prometheus(ns: &str, dir: &Path, target: SocketAddr) -> (Running, SocketAddr) {
    let prometheus = require_tool("prometheus");
    let config = dir.join("prometheus.yml");
    let text = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: flowtrace\n    static_configs:\n      - targets: ['{target}']\n"
    );
    std::fs::write(&config, text).unwrap();
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port(Some(ns))));
    let child = in_ns_command(ns, prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running(child);
    let ready = wait_for(Duration::from_secs(30), || (http_get(Some(ns), addr, "/-/ready", None).0 == 200).then_some(()));
    assert!(ready.is_some(), "Prometheus did not become ready on {addr}");
    (running, addr)
}

/// `program`, to run in network namespace `ns` — only that: `ip netns
/// exec` would also remount /sys, hiding tracefs from flowtrace.
fn in_ns_command(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    use std::os::unix::process::CommandExt;
    let path = format!("/var/run/netns/{ns}");
    let netns = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut c = Command::new(program);
    // SAFETY: setns(2) between fork and exec touches only the child; the
    // fd stays open in the parent's `netns`, moved into the closure.
    unsafe {
        c.pre_exec(move || {
            use std::os::fd::AsRawFd;
            match libc::setns(netns.as_raw_fd(), libc::CLONE_NEWNET) {
                0 => Ok(()),
                _ => Err(std::io::Error::last_os_error()),
            }
        });
    }
    c
}

/// flowtrace serving `script` (a file) on `metrics`, in `ns` if given.
fn start_flowtrace(ns: Option<&str>, script: &Path, metrics: SocketAddr, extra: &[&str]) -> Running {
    let mut c = match ns {
        Some(ns) => in_ns_command(ns, env!("CARGO_BIN_EXE_flowtrace")),
        None => Command::new(env!("CARGO_BIN_EXE_flowtrace")),
    };
    c.arg("--quiet").arg("--metrics").arg(metrics.to_string()).args(extra).arg(script);
    c.arg(std::process::id().to_string());
    let child = c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut running = Running(child);
    // Attached once /healthz says so (stdout is quiet).
    let up = wait_for(Duration::from_secs(30), || {
        if let Ok(Some(status)) = running.0.try_wait() {
            let mut err = String::new();
            let _ = running.0.stderr.take().map(|mut e| e.read_to_string(&mut err));
            panic!("flowtrace exited ({status}): {err}");
        }
        (http_get(ns, metrics, "/healthz", None).0 == 200).then_some(())
    });
    assert!(up.is_some(), "/healthz never answered 200");
    running
}

/// Stops flowtrace with `signal`; its exit status and stderr.
fn stop(mut f: Running, signal: libc::c_int) -> (std::process::ExitStatus, String) {
    // SAFETY: kill(2) on our own unreaped child.
    unsafe { libc::kill(f.0.id() as i32, signal) };
    let start = Instant::now();
    let status = loop {
        if let Some(s) = f.0.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "flowtrace did not exit after signal {signal}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    let _ = f.0.stderr.take().map(|mut e| e.read_to_string(&mut err));
    (status, err)
}

/// `n` getppid(2) calls on a thread named `comm` (its `comm` in the kernel).
fn getppid_calls(comm: &str, n: usize) {
    std::thread::Builder::new()
        .name(comm.to_string())
        .spawn(move || {
            for _ in 0..n {
                // SAFETY: getppid has no preconditions; glibc does not cache it.
                unsafe { libc::getppid() };
            }
        })
        .unwrap()
        .join()
        .unwrap();
}

/// A thread making getppid(2) calls without pause until stopped (at most
/// 50 million), named `comm`.
struct BusyCalls {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl BusyCalls {
    fn start(comm: &str) -> BusyCalls {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(comm.to_string())
            .spawn(move || {
                let mut n = 0u64;
                while !flag.load(std::sync::atomic::Ordering::Relaxed) && n < 50_000_000 {
                    // SAFETY: getppid has no preconditions.
                    unsafe { libc::getppid() };
                    n += 1;
                }
                n
            })
            .unwrap();
        BusyCalls { stop, thread }
    }

    /// Stops the thread; how many calls it made.
    fn stop(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// pwrite(2)s of these sizes to /dev/null.
fn pwrites(sizes: &[usize]) {
    let f = std::fs::OpenOptions::new().write(true).open("/dev/null").unwrap();
    for &n in sizes {
        let buf = vec![0u8; n];
        std::os::unix::fs::FileExt::write_at(&f, &buf, 0).unwrap();
    }
}

const RUNBOOK: &str = "\
// metric @wsize help=\"pwrite sizes of the test process\"
tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @calls[comm] = count(); }
tracepoint:syscalls:sys_enter_pwrite64 /pid == $1/ { @wsize = hist(args.count); }
tc:veth-a:egress /proto == IPPROTO_UDP/ { @flows[saddr, daddr, sport, dport, proto] = count(); }
";

#[test]
fn root_metrics_prometheus_scrapes_exact_counts() {
    if !enabled("root_metrics_prometheus_scrapes_exact_counts") {
        return;
    }
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "flowtrace objects left over by an earlier run");
    let lab = Lab::new("m");
    let dir = temp_dir("prom");
    let script = dir.join("runbook.ft");
    std::fs::write(&script, RUNBOOK).unwrap();
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port(Some(&lab.a))));
    let flowtrace = start_flowtrace(Some(&lab.a), &script, metrics, &[]);
    let (prometheus, prom) = start_prometheus(&lab.a, &dir, metrics);

    getppid_calls("ftm-getppid", 7);
    pwrites(&[100, 100, 100, 100, 100, 3000, 3000, 3000]);
    let server = serve(udp_bound(&lab.b, sa(B4, 9999)), false, Duration::from_millis(700));
    send_udp(&lab.a, sa(A4, 40001), sa(B4, 9999), 11, 64, false);
    assert_eq!(server.join().unwrap(), 11, "every datagram arrived");

    let ns = lab.a.as_str();
    assert_prom(ns, prom, r#"flowtrace_calls_total{comm="ftm-getppid"}"#, "7");
    let flow = r#"flowtrace_flows_total{saddr="10.199.0.1",daddr="10.199.0.2",sport="40001",dport="9999",proto="17"}"#;
    assert_prom(ns, prom, flow, "11");
    assert_prom(ns, prom, r#"flowtrace_wsize_bucket{le="127"}"#, "5");
    assert_prom(ns, prom, r#"flowtrace_wsize_bucket{le="4095"}"#, "8");
    assert_prom(ns, prom, r#"flowtrace_wsize_bucket{le="+Inf"}"#, "8");
    assert_prom(ns, prom, "flowtrace_wsize_count", "8");
    assert_prom(ns, prom, "flowtrace_wsize_sum", "9500");
    // The median lies in the bucket of the 100-byte writes, (63, 127].
    let median = prom_query(ns, prom, "histogram_quantile(0.5, flowtrace_wsize_bucket)");
    let m: f64 = median.first().and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
    assert!(m > 63.0 && m <= 127.0, "histogram_quantile gave {median:?}");
    // Pressure: one key of 4096 in @calls.
    assert_prom(ns, prom, r#"flowtrace_map_entries{map="@calls"}"#, "1");
    assert_prom(ns, prom, r#"flowtrace_map_max_entries{map="@flows"}"#, "4096");
    assert_prom(ns, prom, r#"flowtrace_map_pressure{map="@calls"}"#, &(1.0f64 / 4096.0).to_string());
    assert_prom(ns, prom, r#"flowtrace_map_update_failures_total{map="@flows"}"#, "0");
    assert_prom(ns, prom, r#"up{job="flowtrace"}"#, "1");
    // Prometheus asked for OpenMetrics, and parsed it (up is 1).
    assert_prom(ns, prom, r#"flowtrace_scrapes_total{format="openmetrics"} > bool 0"#, "1");

    exposition_checks(ns, metrics);
    drop(prometheus);
    let (status, err) = stop(flowtrace, libc::SIGTERM);
    assert!(status.success(), "SIGTERM exits 0: {status:?}, stderr {err}");
    drop(lab);
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "nothing of flowtrace left after SIGTERM");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The raw exposition: `promtool check metrics` passes; OpenMetrics when
/// asked; eight scrapes at once all complete.
fn exposition_checks(ns: &str, metrics: SocketAddr) {
    let (status, head, text) = http_get(Some(ns), metrics, "/metrics", None);
    assert_eq!(status, 200);
    assert!(head.contains("Content-Type: text/plain; version=0.0.4"), "{head}");
    assert_eq!(sample(&text, r#"flowtrace_calls_total{comm="ftm-getppid"}"#).as_deref(), Some("7"), "{text}");
    let mut promtool = Command::new(require_tool("promtool"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let checked = promtool.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&checked.stdout).into_owned() + &String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "promtool check metrics: {said}\n{text}");

    let (status, head, om) = http_get(Some(ns), metrics, "/metrics", Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"));
    assert_eq!(status, 200);
    assert!(head.contains("Content-Type: application/openmetrics-text; version=1.0.0"), "{head}");
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE flowtrace_calls counter\n"), "{om}");
    assert_eq!(sample(&om, r#"flowtrace_calls_total{comm="ftm-getppid"}"#).as_deref(), Some("7"));

    let scrapes: Vec<_> = (0..8)
        .map(|_| {
            let ns = ns.to_string();
            std::thread::spawn(move || http_get(Some(&ns), metrics, "/metrics", None))
        })
        .collect();
    for s in scrapes {
        let (status, _, body) = s.join().unwrap();
        assert_eq!(status, 200);
        assert!(body.contains("flowtrace_build_info{version="), "a concurrent scrape was cut short: {body}");
    }
}

const RELOAD_V1: &str = "\
tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @calls[comm] = count(); }
";

/// v1's probe unchanged, and a new map on the same events.
const RELOAD_V2: &str = "\
tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @calls[comm] = count(); }
tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @added[comm] = count(); }
";

/// @added changes type (count → sum): it restarts; @calls carries on.
const RELOAD_V3: &str = "\
tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @calls[comm] = count(); }
tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @added[comm] = sum(10); }
";

const RELOAD_BROKEN: &str = "\
tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @calls[comm] = count(; }
";

/// Scrapes until `series` reads `want`; panics with the last exposition.
fn assert_scraped(metrics: SocketAddr, series: &str, want: &str) {
    let mut last = String::new();
    let found = wait_for(Duration::from_secs(15), || {
        last = http_get(None, metrics, "/metrics", None).2;
        (sample(&last, series).as_deref() == Some(want)).then_some(())
    });
    assert!(found.is_some(), "{series} is not {want}:\n{last}");
}

#[test]
fn root_metrics_sighup_reloads_the_runbook_without_a_gap() {
    if !enabled("root_metrics_sighup_reloads_the_runbook_without_a_gap") {
        return;
    }
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "flowtrace objects left over by an earlier run");
    let dir = temp_dir("reload");
    let script = dir.join("runbook.ft");
    std::fs::write(&script, RELOAD_V1).unwrap();
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port(None)));
    let flowtrace = start_flowtrace(None, &script, metrics, &[]);
    let pid = flowtrace.0.id() as i32;
    let calls = r#"flowtrace_calls_total{comm="ftm-reload"}"#;
    let added = r#"flowtrace_added_total{comm="ftm-reload"}"#;

    getppid_calls("ftm-reload", 5);
    assert_scraped(metrics, calls, "5");

    // A changed runbook takes effect; the unchanged probe's map keeps its count.
    std::fs::write(&script, RELOAD_V2).unwrap();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    assert_scraped(metrics, "flowtrace_reloads_total", "1");
    getppid_calls("ftm-reload", 4);
    assert_scraped(metrics, calls, "9");
    assert_scraped(metrics, added, "4");
    assert_eq!(http_get(None, metrics, "/healthz", None).0, 200);

    // A runbook that no longer compiles: the old one runs on, the failure is counted.
    std::fs::write(&script, RELOAD_BROKEN).unwrap();
    unsafe { libc::kill(pid, libc::SIGHUP) };
    assert_scraped(metrics, "flowtrace_reload_failures_total", "1");
    getppid_calls("ftm-reload", 3);
    assert_scraped(metrics, calls, "12");
    assert_scraped(metrics, added, "7");
    assert_scraped(metrics, "flowtrace_reloads_total", "1");

    // A map whose type changed restarts from empty, and the log says why.
    // Meanwhile a thread makes calls without pause: the unchanged probe
    // counts every one of them exactly once (no gap, no overlap).
    std::fs::write(&script, RELOAD_V3).unwrap();
    let busy = BusyCalls::start("ftm-busy");
    std::thread::sleep(Duration::from_millis(200));
    unsafe { libc::kill(pid, libc::SIGHUP) };
    assert_scraped(metrics, "flowtrace_reloads_total", "2");
    std::thread::sleep(Duration::from_millis(200));
    let made = busy.stop();
    assert!(made > 1000, "the busy thread made only {made} calls");
    assert_scraped(metrics, r#"flowtrace_calls_total{comm="ftm-busy"}"#, &made.to_string());
    getppid_calls("ftm-reload", 2);
    assert_scraped(metrics, calls, "14");
    assert_scraped(metrics, added, "20");

    let (status, err) = stop(flowtrace, libc::SIGTERM);
    assert!(status.success(), "SIGTERM exits 0: {status:?}, stderr {err}");
    assert!(err.contains("reload of") && err.contains("failed, the running script is kept"), "the failure is logged: {err}");
    assert!(err.contains("^"), "with the compile error shown against the source: {err}");
    assert!(err.contains("@added restarts from empty"), "a restarted map is logged: {err}");
    // The @calls probe is the same program in every version: it was never replaced.
    assert_eq!(err.matches("(1 unchanged probe(s) kept running)").count(), 2, "{err}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "nothing of flowtrace left after the reloads");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--metrics-max-series` keeps the largest and says how many were left out;
/// a 20 000-key map scrapes in well under a second.
#[test]
fn root_metrics_series_are_bounded_and_large_maps_scrape_fast() {
    if !enabled("root_metrics_series_are_bounded_and_large_maps_scrape_fast") {
        return;
    }
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "flowtrace objects left over by an earlier run");
    let dir = temp_dir("series");
    let script = dir.join("runbook.ft");
    // @top: three threads make 1, 2 and 3 calls; @big: 20 000 keys;
    // @full and @lru: 10 keys each into room for 3 and 4.
    let text = "\
let @full = hash(3);
let @lru = lruhash(4);
tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @top[comm] = count(); }
tracepoint:syscalls:sys_enter_getpgrp /pid == $1/ { @big[nsecs] = count(); }
tracepoint:syscalls:sys_enter_getsid /pid == $1/ { @full[nsecs] = count(); @lru[nsecs] = count(); }
";
    std::fs::write(&script, text).unwrap();
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port(None)));
    let flowtrace = start_flowtrace(None, &script, metrics, &["--metrics-max-series", "2", "--map-keys", "30000"]);
    for (comm, n) in [("ftm-one", 1), ("ftm-two", 2), ("ftm-three", 3)] {
        getppid_calls(comm, n);
    }
    for _ in 0..20_000 {
        // SAFETY: getpgrp has no preconditions.
        unsafe { libc::getpgrp() };
    }
    for _ in 0..10 {
        // SAFETY: getsid(0) has no preconditions.
        unsafe { libc::getsid(0) };
    }
    // Map pressure: the full map says so, the LRU map's lost keys are evictions.
    assert_scraped(metrics, r#"flowtrace_map_update_failures_total{map="@full"}"#, "7");
    assert_scraped(metrics, r#"flowtrace_map_entries{map="@full"}"#, "3");
    assert_scraped(metrics, r#"flowtrace_map_pressure{map="@full"}"#, "1");
    let text = http_get(None, metrics, "/metrics", None).2;
    let read = |series: &str| sample(&text, series).and_then(|v| v.parse::<u64>().ok()).unwrap_or_else(|| panic!("{series}:\n{text}"));
    let (lru_entries, evicted) = (read(r#"flowtrace_map_entries{map="@lru"}"#), read(r#"flowtrace_map_evictions_total{map="@lru"}"#));
    // The kernel's LRU may evict before the map is full (per-CPU free lists).
    assert!(lru_entries <= 4 && lru_entries + evicted == 10, "@lru: {lru_entries} entries, {evicted} evicted");
    assert_eq!(read(r#"flowtrace_map_update_failures_total{map="@lru"}"#), 0);
    assert_scraped(metrics, r#"flowtrace_series_dropped{map="@top"}"#, "1");
    assert_scraped(metrics, r#"flowtrace_map_entries{map="@big"}"#, "20000");
    let text = http_get(None, metrics, "/metrics", None).2;
    let mut top: Vec<&str> = text.lines().filter(|l| l.starts_with("flowtrace_top_total{")).collect();
    top.sort();
    assert_eq!(top, [r#"flowtrace_top_total{comm="ftm-three"} 3"#, r#"flowtrace_top_total{comm="ftm-two"} 2"#], "{text}");
    assert_eq!(sample(&text, r#"flowtrace_series_dropped{map="@big"}"#).as_deref(), Some("19998"));
    let started = Instant::now();
    let (status, _, _) = http_get(None, metrics, "/metrics", None);
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert!(took < Duration::from_millis(500), "a 20 000-key scrape took {took:?}");
    let (status, err) = stop(flowtrace, libc::SIGINT);
    assert!(status.success(), "SIGINT exits 0: {status:?}, stderr {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `-e` and the interactive session serve too; with `-e` SIGHUP still ends
/// the script (there is no file to reload), exit 0.
#[test]
fn root_metrics_serves_one_liners_and_the_interactive_session() {
    if !enabled("root_metrics_serves_one_liners_and_the_interactive_session") {
        return;
    }
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "flowtrace objects left over by an earlier run");
    let me = std::process::id();
    let probe = format!("tracepoint:syscalls:sys_enter_getppid /pid == {me}/ {{ @calls[comm] = count(); }}");

    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port(None)));
    let child = Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .args(["--metrics", &metrics.to_string(), "-e", &probe])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let one_liner = Running(child);
    assert!(wait_for(Duration::from_secs(30), || (http_get(None, metrics, "/healthz", None).0 == 200).then_some(())).is_some());
    getppid_calls("ftm-oneliner", 3);
    assert_scraped(metrics, r#"flowtrace_calls_total{comm="ftm-oneliner"}"#, "3");
    let (status, err) = stop(one_liner, libc::SIGHUP);
    assert!(status.success(), "SIGHUP ends a -e script, exit 0: {status:?}, stderr {err}");
    assert!(!err.contains("reload"), "no reload without a file: {err}");

    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port(None)));
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .args(["--metrics", &metrics.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let repl = Running(child);
    writeln!(stdin, "{probe}").unwrap();
    assert!(wait_for(Duration::from_secs(30), || (http_get(None, metrics, "/healthz", None).0 == 200).then_some(())).is_some());
    getppid_calls("ftm-repl", 4);
    assert_scraped(metrics, r#"flowtrace_calls_total{comm="ftm-repl"}"#, "4");
    drop(stdin); // end of input: the session detaches and ends
    let mut repl = repl;
    let ended = wait_for(Duration::from_secs(20), || repl.0.try_wait().unwrap());
    assert!(ended.is_some_and(|s| s.success()), "the session ends with its input: {ended:?}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "nothing of flowtrace left");
}

/// Two aggregations under one key (fused into one BPF map by codegen's
/// fuse.rs) export as two families with their exact values, and a SIGHUP
/// reload that keeps them keeps their counts (the session shares the fused
/// map by its members' names).
#[test]
fn root_metrics_fused_maps_export_as_two_and_survive_a_reload() {
    if !enabled("root_metrics_fused_maps_export_as_two_and_survive_a_reload") {
        return;
    }
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "flowtrace objects left over by an earlier run");
    let dir = temp_dir("fused");
    let script = dir.join("runbook.ft");
    let v1 = "tracepoint:syscalls:sys_enter_getppid /pid == $1/ { @fcalls[comm] = count(); @fsum[comm] = sum(7); }\n";
    std::fs::write(&script, v1).unwrap();
    let metrics = SocketAddr::from(([127, 0, 0, 1], free_port(None)));
    let flowtrace = start_flowtrace(None, &script, metrics, &[]);
    let pid = flowtrace.0.id() as i32;
    getppid_calls("ftm-fused", 5);
    assert_scraped(metrics, r#"flowtrace_fcalls_total{comm="ftm-fused"}"#, "5");
    assert_scraped(metrics, r#"flowtrace_fsum_total{comm="ftm-fused"}"#, "35");
    // A new probe of its own; the fused pair's probe is unchanged.
    std::fs::write(&script, format!("{v1}tracepoint:syscalls:sys_enter_getpgrp /pid == $1/ {{ @other[comm] = count(); }}\n")).unwrap();
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(pid, libc::SIGHUP) };
    assert_scraped(metrics, "flowtrace_reloads_total", "1");
    getppid_calls("ftm-fused", 2);
    assert_scraped(metrics, r#"flowtrace_fcalls_total{comm="ftm-fused"}"#, "7");
    assert_scraped(metrics, r#"flowtrace_fsum_total{comm="ftm-fused"}"#, "49");
    let (status, err) = stop(flowtrace, libc::SIGTERM);
    assert!(status.success(), "SIGTERM exits 0: {status:?}, stderr {err}");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0), "nothing of flowtrace left after SIGTERM");
    let _ = std::fs::remove_dir_all(&dir);
}
