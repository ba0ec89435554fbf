//! printf batching (issue 14): a `printf` record wakes the reader only once
//! the ring buffer's unread bytes pass a threshold, so output must still be
//! prompt when a single event happens (the reader's short poll picks it up)
//! and complete under load, with lost events counted exactly. Root only
//! (FLOWTRACE_ROOT_TESTS=1): the probes are really attached.

use std::io::{BufRead, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flowtrace_testkit::objects::flowtrace_objects_after_grace as nothing_of_ours_in_kernel;
use flowtrace_testkit::process::attached;
use flowtrace_testkit::root_tests_enabled as enabled;

fn getppid_printf() -> String {
    format!("tracepoint:syscalls:sys_enter_getppid /pid == {}/ {{ printf(\"hit %d\\n\", pid); }}", std::process::id())
}

#[test]
fn root_a_lone_printf_line_appears_promptly() {
    if !enabled("root_a_lone_printf_line_appears_promptly") {
        return;
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .args(["-e", &getppid_printf()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut stdout, _) = attached(&mut child, "printf on getppid");
    std::thread::sleep(Duration::from_millis(300));
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let start = Instant::now();
        // SAFETY: a plain syscall.
        unsafe { libc::syscall(libc::SYS_getppid) };
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        slowest = slowest.max(start.elapsed());
        assert_eq!(line, format!("hit {}\n", std::process::id()));
        std::thread::sleep(Duration::from_millis(120));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert!(child.wait().unwrap().success());
    // The reader polls every 50 ms; no wake-up is needed for a lone event.
    assert!(slowest < Duration::from_millis(300), "a lone printf line took {slowest:?} to appear");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0));
}

#[test]
fn root_printf_under_load_is_complete_and_lost_events_exact() {
    if !enabled("root_printf_under_load_is_complete_and_lost_events_exact") {
        return;
    }
    const EVENTS: usize = 100_000;
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .args(["-e", &getppid_printf()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut stdout, _) = attached(&mut child, "printf on getppid");
    std::thread::sleep(Duration::from_millis(300));
    // About 100k events a second: batches of 1000 every 10 ms.
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        stdout.read_to_string(&mut out).unwrap();
        out
    });
    let start = Instant::now();
    for batch in 0..EVENTS / 1000 {
        for _ in 0..1000 {
            // SAFETY: a plain syscall.
            unsafe { libc::syscall(libc::SYS_getppid) };
        }
        let due = start + Duration::from_millis(10 * (batch as u64 + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    std::thread::sleep(Duration::from_millis(200));
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    assert!(child.wait().unwrap().success());
    let out = reader.join().unwrap();
    let hits = out.lines().filter(|l| l.starts_with("hit ")).count();
    let lost: usize = out
        .lines()
        .find_map(|l| l.strip_prefix("Lost ")?.strip_suffix(" events")?.parse().ok())
        .unwrap_or(0);
    assert_eq!(hits + lost, EVENTS, "every event printed or counted lost ({hits} printed, {lost} lost)");
    assert_eq!(lost, 0, "no event lost at 100k events/s");
    assert_eq!(nothing_of_ours_in_kernel(), (0, 0));
}
