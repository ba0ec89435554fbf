//! The machine flowtrace runs on, asked once when a script is compiled:
//! `ncpus`, `cgroupid("/sys/fs/cgroup/…")` and the TAI offset that
//! `nsecs(sw_tai)` adds. bpftrace looks these up at compile time too.

use flowtrace_lang::kernel::{HostFacts, UserSymbol, UsdtProbe};
use std::os::unix::fs::MetadataExt;

/// The host this process runs on.
pub struct ThisHost;

impl HostFacts for ThisHost {
    fn online_cpus(&self) -> Result<u64, String> {
        let path = "/sys/devices/system/cpu/online";
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        count_cpu_list(text.trim()).ok_or_else(|| format!("cannot parse {path}: {:?}", text.trim()))
    }

    fn cgroup_id(&self, path: &str) -> Result<u64, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("cannot find cgroup '{path}': {e}"))?;
        // Only cgroup v2 directories hold `cgroup.controllers`; a v1
        // hierarchy's inode numbers are not the ids BPF reports.
        if !meta.is_dir() || !std::path::Path::new(path).join("cgroup.controllers").exists() {
            return Err(format!("'{path}' is not a cgroup v2 directory"));
        }
        // On cgroup2 (kernfs) the inode number is the cgroup id that
        // bpf_get_current_cgroup_id returns.
        Ok(meta.ino())
    }

    fn kernel_symbol_exists(&self, name: &str) -> Option<bool> {
        let text = std::fs::read_to_string("/proc/kallsyms").ok()?;
        // `ffffffff82a1c0c0 d process_counts` (a module symbol ends in `[mod]`).
        Some(text.lines().any(|l| l.split(' ').nth(2) == Some(name)))
    }

    fn user_binary(&self, name: &str) -> Result<String, String> {
        crate::uprobe_targets::resolve_binary(name)
    }

    fn mapped_binaries(&self, pid: u32) -> Result<Vec<String>, String> {
        crate::uprobe_targets::mapped_binaries(pid)
    }

    fn user_symbols(&self, binary: &str, pattern: &str, functions_only: bool) -> Result<Vec<UserSymbol>, String> {
        crate::uprobe_targets::matching_symbols(binary, pattern, functions_only)
    }

    fn usdt_probes(&self, binary: &str, provider: &str, name: &str) -> Result<Vec<UsdtProbe>, String> {
        crate::uprobe_targets::matching_usdt(binary, provider, name)
    }

    fn kernel_symbol_address(&self, name: &str) -> Result<Option<u64>, String> {
        let text = std::fs::read_to_string("/proc/kallsyms").map_err(|e| format!("cannot read /proc/kallsyms: {e}"))?;
        // The first match, as bpftrace takes it; an unprivileged reader sees
        // zero addresses, which say nothing.
        let found = text.lines().find(|l| l.split(' ').nth(2) == Some(name));
        match found.and_then(|l| u64::from_str_radix(l.split(' ').next()?, 16).ok()) {
            Some(0) => Err("/proc/kallsyms hides addresses from this user (kernel.kptr_restrict)".into()),
            other => Ok(other),
        }
    }

    fn tai_minus_boot_ns(&self) -> Result<u64, String> {
        let tai = clock_ns(libc::CLOCK_TAI)?;
        let boot = clock_ns(libc::CLOCK_BOOTTIME)?;
        Ok(tai.saturating_sub(boot))
    }
}

fn clock_ns(clock: libc::clockid_t) -> Result<u64, String> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid, writable timespec.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return Err(format!("clock_gettime({clock}): {}", std::io::Error::last_os_error()));
    }
    Ok(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// How many CPUs a list like `0-3,8,10-11` names.
fn count_cpu_list(list: &str) -> Option<u64> {
    let mut n = 0;
    for part in list.split(',').filter(|p| !p.is_empty()) {
        n += match part.split_once('-') {
            Some((a, b)) => b.parse::<u64>().ok()?.checked_sub(a.parse::<u64>().ok()?)? + 1,
            None => part.parse::<u64>().map(|_| 1).ok()?,
        };
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(count_cpu_list("0"), Some(1));
        assert_eq!(count_cpu_list("0-3,8,10-11"), Some(7));
        assert_eq!(count_cpu_list("3-1"), None);
        assert_eq!(count_cpu_list("x"), None);
    }

    #[test]
    fn this_host_answers() {
        assert!(ThisHost.online_cpus().is_ok_and(|n| n >= 1));
        assert!(ThisHost.cgroup_id("/nonexistent-ft").is_err());
        assert!(ThisHost.cgroup_id("/tmp").is_err());
    }
}
