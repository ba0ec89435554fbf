//! Detaching many tracepoints without making the user wait for the kernel.
//!
//! Releasing the last reference to a tracepoint perf event makes the kernel
//! unregister the tracepoint and wait for two RCU grace periods (tasks-trace,
//! then normal) while it holds the global `event_mutex` (`perf_trace_destroy`):
//! 35–70 ms per tracepoint, one after another however many threads close them
//! (measured: 20 events closed from 20 threads take as long as closed in a
//! loop). Detaching the *program* is cheap: releasing its BPF perf link takes
//! it out of the tracepoint's program array at once.
//!
//! So [`detach`] closes every link in this process
//! (no program runs after that, and none is left loaded once the process
//! exits) and hands the last references to the now inert, disabled perf
//! events to a background process, `ft-detach`, that releases them and
//! exits. Exit then costs a fork instead of 70 ms per tracepoint.
//! `FLOWTRACE_DETACH=wait` keeps the old way: wait for each release here.

use super::Link;
use crate::sys_links::PERF_EVENT_IOC_DISABLE;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// A program linked to a perf event: dropping `link` detaches the program,
/// dropping the last reference to `event` unregisters the tracepoint.
/// (Field order is drop order: the link goes first.)
pub(crate) struct PerfPair {
    #[allow(dead_code)] // held only so that dropping it detaches
    pub link: OwnedFd,
    pub event: OwnedFd,
}

/// Detaches `links`, adding one to `done` as each goes.
pub(crate) fn detach(links: Vec<Link>, done: &AtomicUsize) {
    let (tracepoints, others): (Vec<Link>, Vec<Link>) = links.into_iter().partition(|l| matches!(l, Link::Tracepoint(_)));
    drop_all(others, done);
    // Even one tracepoint: a fork costs ~1 ms, the release 35-70 ms.
    if tracepoints.is_empty() || wait_requested() {
        drop_all(tracepoints, done);
        return;
    }
    let events: Vec<RawFd> = tracepoints
        .iter()
        .filter_map(|l| match l {
            Link::Tracepoint(pair) => Some(pair.event.as_raw_fd()),
            _ => None,
        })
        .collect();
    for &fd in &events {
        // SAFETY: a plain ioctl on a perf event fd `tracepoints` owns. A
        // disabled event leaves the tracepoint's per-CPU list, so the hits
        // until the background release cost next to nothing.
        unsafe { libc::ioctl(fd, PERF_EVENT_IOC_DISABLE as _, 0) };
    }
    // On failure every release simply happens here, as without it.
    let go_ahead = hand_over(&events).ok();
    drop_in_parallel(tracepoints, done);
    // ft-detach releases the events once this closes: after our own
    // references are gone, so that its releases are the last ones.
    drop(go_ahead);
}

fn drop_all(links: Vec<Link>, done: &AtomicUsize) {
    for link in links {
        drop(link);
        done.fetch_add(1, Ordering::SeqCst);
    }
}

/// Each link release still waits for an RCU grace period in the kernel
/// (~40 ms) but outside any global lock: releasing them from several
/// threads lets the waits overlap (50 links: 2 s one by one, 50 ms so).
fn drop_in_parallel(links: Vec<Link>, done: &AtomicUsize) {
    let slots: Vec<Mutex<Option<Link>>> = links.into_iter().map(|l| Mutex::new(Some(l))).collect();
    let next = AtomicUsize::new(0);
    let work = || loop {
        let Some(slot) = slots.get(next.fetch_add(1, Ordering::SeqCst)) else { return };
        let link = slot.lock().map(|mut l| l.take()).unwrap_or(None);
        drop(link);
        done.fetch_add(1, Ordering::SeqCst);
    };
    std::thread::scope(|scope| {
        for _ in 1..slots.len().min(MAX_DETACH_THREADS) {
            // A thread that cannot start leaves more to the others.
            let _ = std::thread::Builder::new().name("ft-unlink".into()).spawn_scoped(scope, work);
        }
        work();
    });
}

/// Enough threads for the waits of a few hundred probes to overlap,
/// without a thread per probe for thousands.
const MAX_DETACH_THREADS: usize = 64;

fn wait_requested() -> bool {
    std::env::var("FLOWTRACE_DETACH").is_ok_and(|v| v == "wait")
}

/// Starts `ft-detach` holding a reference to each of `events` and nothing
/// else, and returns once it has let go of every other fd it inherited (so
/// no map or program outlives this process because of it). It releases the
/// events when the returned fd is closed (or this process dies). Double
/// fork: the middle process exits at once, so `ft-detach` is reaped by init
/// rather than left a zombie of a long-running session.
fn hand_over(events: &[RawFd]) -> io::Result<OwnedFd> {
    // `ready`: ft-detach closes its write end when it holds only the events.
    // `go`: this process closes its write end when ft-detach may release them.
    let (ready_r, ready_w) = pipe()?;
    let (go_r, go_w) = pipe()?;
    let mut keep: Vec<RawFd> = events.iter().copied().chain([ready_w.as_raw_fd(), go_r.as_raw_fd()]).collect();
    keep.sort_unstable();
    // SAFETY: after fork only async-signal-safe calls run in the children
    // (another thread may have held the allocator's lock): fork, close,
    // prctl, read, _exit, on memory prepared before the fork.
    let middle = unsafe { libc::fork() };
    if middle < 0 {
        return Err(io::Error::last_os_error());
    }
    if middle == 0 {
        if unsafe { libc::fork() } == 0 {
            release(&keep, events, ready_w.as_raw_fd(), go_r.as_raw_fd());
        }
        unsafe { libc::_exit(0) };
    }
    drop((ready_w, go_r));
    let mut status = 0;
    // SAFETY: waits for our own child.
    while unsafe { libc::waitpid(middle, &mut status, 0) } < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {}
    wait_for_eof(ready_r.as_raw_fd())?;
    Ok(go_w)
}

fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: two new fds owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Reads `fd` until end of file (async-signal-safe: also used in ft-detach).
fn wait_for_eof(fd: RawFd) -> io::Result<()> {
    let mut byte = 0u8;
    loop {
        // SAFETY: reads at most one byte into `byte`.
        let n = unsafe { libc::read(fd, (&mut byte as *mut u8).cast(), 1) };
        if n == 0 {
            return Ok(());
        }
        if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return Err(io::Error::last_os_error());
        }
    }
}

/// The body of `ft-detach`: close everything but the perf events, tell the
/// parent by closing `ready`, wait until `go` reads end of file (every
/// other reference is gone: the middle process has exited and the parent
/// has dropped its own), then release the events one by one.
fn release(keep: &[RawFd], events: &[RawFd], ready: RawFd, go: RawFd) -> ! {
    // SAFETY (whole function): raw syscalls on fds this process owns.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, c"ft-detach".as_ptr(), 0, 0, 0);
        close_all_but(keep);
        libc::close(ready);
        let _ = wait_for_eof(go);
        for &fd in events {
            libc::close(fd);
        }
        libc::_exit(0)
    }
}

/// Closes every fd not in `keep` (sorted), with close_range(2) over the gaps.
unsafe fn close_all_but(keep: &[RawFd]) {
    let mut from: u32 = 0;
    for &fd in keep.iter().chain([&(i32::MAX)]) {
        let fd = fd as u32;
        if fd > from {
            let last = fd - 1;
            if libc::syscall(libc::SYS_close_range, from, last, 0u32) < 0 {
                // Before Linux 5.9: one by one, up to a generous fd limit.
                for each in from..=last.min(65535) {
                    libc::close(each as RawFd);
                }
            }
        }
        from = fd.saturating_add(1);
    }
}
