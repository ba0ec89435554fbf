//! What flowtrace has in the kernel, asked of the kernel (bpf prog/map ids),
//! not of flowtrace's own bookkeeping.

use std::time::{Duration, Instant};

/// Loaded programs and maps named `ft_…` (every flowtrace object is).
pub fn flowtrace_objects() -> (usize, usize) {
    let progs = flowtrace_runtime::sys::programs_named("ft_").map(|p| p.len()).unwrap_or(usize::MAX);
    let maps = flowtrace_runtime::sys::maps_named("ft_").len();
    (progs, maps)
}

/// The kernel frees programs and maps shortly after their last fd closes
/// (RCU), so "nothing left" gets a short grace period; returns what is left.
pub fn flowtrace_objects_after_grace() -> (usize, usize) {
    let start = Instant::now();
    loop {
        let now = flowtrace_objects();
        if now == (0, 0) || start.elapsed() > Duration::from_secs(3) {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
