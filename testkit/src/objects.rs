//! What flowtrace has in the kernel, asked of the kernel (bpf prog/map ids),
//! not of flowtrace's own bookkeeping. Every flowtrace object is named `ft_…`.

use std::time::{Duration, Instant};

/// Loaded programs and maps named `ft_…`, machine-wide.
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

/// Waits (up to 2 s: the kernel frees programs after an RCU grace period)
/// until no program with this exact name is loaded.
pub fn assert_unloaded(name: &str) {
    for _ in 0..200 {
        let left = flowtrace_runtime::sys::programs_named(name).expect("listing loaded programs");
        if left.iter().all(|p| p.name != name) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("program {name} is still loaded after drop");
}

/// Like [`assert_unloaded`], for maps whose names start with `prefix`.
pub fn assert_maps_freed(prefix: &str) {
    for _ in 0..200 {
        if flowtrace_runtime::sys::maps_named(prefix).is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("maps {prefix}* still exist after drop");
}
