//! The programs attached to interfaces and the maps they use: their info
//! (`BPF_OBJ_GET_INFO_BY_FD`) and, for maps that fill up, how many entries
//! they hold — counted a batch at a time (`BPF_MAP_LOOKUP_BATCH`) where the
//! kernel can, key by key (`BPF_MAP_GET_NEXT_KEY`) elsewhere, always within a
//! time budget, and saying so when the budget ran out.

use super::model::{CountLimit, EntryCount, Map, MapKind, Program};
use crate::sys;
use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// How long counting may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CountBudget {
    /// Per map.
    pub per_map: Duration,
    /// For all maps together; maps after it ran out are not walked.
    pub total: Duration,
}

impl Default for CountBudget {
    fn default() -> CountBudget {
        CountBudget { per_map: Duration::from_millis(100), total: Duration::from_millis(400) }
    }
}

/// Info of each program in `ids`; one unloaded meanwhile is left out.
pub(super) fn programs(ids: impl IntoIterator<Item = u32>) -> BTreeMap<u32, Program> {
    let boot = boot_time_unix();
    let mut out = BTreeMap::new();
    for id in ids {
        let Ok(fd) = sys::prog_fd_by_id(id) else { continue };
        let Ok(info) = sys::prog_info(fd.as_fd()) else { continue };
        let loaded_at = (info.load_time_ns > 0).then(|| boot + info.load_time_ns / 1_000_000_000);
        out.insert(
            id,
            Program {
                id,
                prog_type: info.prog_type,
                name: info.name,
                tag: info.tag,
                loaded_at,
                uid: info.uid,
                xlated_bytes: info.xlated_len,
                jited_bytes: info.jited_len,
                map_ids: info.map_ids,
            },
        );
    }
    out
}

/// Seconds since the epoch at boot: load times are CLOCK_BOOTTIME.
fn boot_time_unix() -> u64 {
    let now = |clock| {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: clock_gettime writes one timespec.
        unsafe { libc::clock_gettime(clock, &mut ts) };
        ts.tv_sec as u64
    };
    now(libc::CLOCK_REALTIME).saturating_sub(now(libc::CLOCK_BOOTTIME))
}

/// Info and entry count of each map in `ids`.
pub(super) fn maps(ids: impl IntoIterator<Item = u32>, budget: CountBudget, cpus: usize) -> BTreeMap<u32, Map> {
    let all_done = Instant::now() + budget.total;
    let mut out = BTreeMap::new();
    for id in ids {
        let Ok(fd) = sys::map_fd_by_id(id) else { continue };
        let Ok(info) = sys::map_info(fd.as_fd()) else { continue };
        let kind = MapKind::from_type(info.map_type);
        let entries = if !kind.fills_up() {
            EntryCount::NotApplicable
        } else if Instant::now() >= all_done {
            EntryCount::AtLeast { counted: 0, limit: CountLimit::Total { budget_ms: budget.total.as_millis() as u64 } }
        } else {
            let per_map = Instant::now() + budget.per_map;
            let (deadline, limit) = if per_map <= all_done {
                (per_map, CountLimit::Time { budget_ms: budget.per_map.as_millis() as u64 })
            } else {
                (all_done, CountLimit::Total { budget_ms: budget.total.as_millis() as u64 })
            };
            count(fd.as_fd(), &info, kind, cpus, deadline, limit)
        };
        let map = Map {
            id,
            map_type: info.map_type,
            name: info.name,
            key_size: info.key_size,
            value_size: info.value_size,
            max_entries: info.max_entries,
            entries,
        };
        out.insert(id, map);
    }
    out
}

fn count(fd: BorrowedFd<'_>, info: &sys::MapInfo, kind: MapKind, cpus: usize, deadline: Instant, limit: CountLimit) -> EntryCount {
    if kind.has_batch_lookup() {
        match count_batched(fd, info, kind.is_percpu(), cpus, deadline) {
            Ok((n, true)) => return EntryCount::Exact(n),
            Ok((n, false)) => return EntryCount::AtLeast { counted: n, limit },
            // No batch support here (EINVAL/ENOTSUPP), or a bucket larger
            // than a batch (ENOSPC): walk key by key instead.
            Err(_) => {}
        }
    }
    match count_by_keys(fd, info.key_size as usize, deadline) {
        Ok((n, true)) => EntryCount::Exact(n),
        Ok((n, false)) => EntryCount::AtLeast { counted: n, limit },
        Err(e) => EntryCount::Failed(e.to_string()),
    }
}

/// Elements per batch: enough to make syscalls rare, small enough that
/// the value buffer stays a few MiB whatever the value size.
fn batch_size(value_bytes: usize) -> usize {
    (8 << 20) / value_bytes.max(1)
}

/// `(count, complete)`.
fn count_batched(fd: BorrowedFd<'_>, info: &sys::MapInfo, percpu: bool, cpus: usize, deadline: Instant) -> io::Result<(u64, bool)> {
    let value_bytes = if percpu { (info.value_size as usize).div_ceil(8) * 8 * cpus } else { info.value_size as usize };
    let batch = batch_size(value_bytes).clamp(1, 4096);
    let mut keys = vec![0u8; info.key_size as usize * batch];
    let mut values = vec![0u8; value_bytes * batch];
    let mut cursor = sys::BatchCursor::new(info.key_size as usize);
    let mut total = 0u64;
    loop {
        let (n, done) = sys::map_lookup_batch(fd, &mut cursor, &mut keys, &mut values, batch as u32)?;
        total += u64::from(n);
        if done {
            return Ok((total, true));
        }
        if Instant::now() >= deadline {
            return Ok((total, false));
        }
    }
}

/// `(count, complete)`, one `BPF_MAP_GET_NEXT_KEY` per key.
fn count_by_keys(fd: BorrowedFd<'_>, key_size: usize, deadline: Instant) -> io::Result<(u64, bool)> {
    let (mut key, mut next) = (vec![0u8; key_size], vec![0u8; key_size]);
    let mut total = 0u64;
    let mut first = true;
    loop {
        let prev = (!first).then_some(key.as_slice());
        if !sys::map_next_key(fd, prev, &mut next)? {
            return Ok((total, true));
        }
        first = false;
        total += 1;
        std::mem::swap(&mut key, &mut next);
        // The clock is cheap next to a syscall, but not free: look every 256 keys.
        if total.is_multiple_of(256) && Instant::now() >= deadline {
            return Ok((total, false));
        }
    }
}
