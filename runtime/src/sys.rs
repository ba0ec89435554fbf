//! The few bpf(2) calls aya does not expose in the shape flowtrace needs: map
//! access with byte buffers whose sizes are known only at run time (aya's map
//! types want compile-time `Pod` keys and values), and the kernel-wide listings
//! used to check that nothing flowtrace loaded is left behind.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

const BPF_MAP_LOOKUP_ELEM: libc::c_long = 1;
const BPF_MAP_UPDATE_ELEM: libc::c_long = 2;
const BPF_MAP_DELETE_ELEM: libc::c_long = 3;
const BPF_MAP_GET_NEXT_KEY: libc::c_long = 4;

/// `BPF_ANY` for map updates: create or replace.
pub const BPF_ANY: u64 = 0;

/// The map-element part of `union bpf_attr`. The kernel accepts an attr
/// shorter than its own union as long as the bytes it knows beyond ours
/// would be zero, so the prefix suffices.
#[repr(C)]
#[derive(Default)]
struct MapElemAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    /// `value` for lookup/update, `next_key` for get-next-key.
    value: u64,
    flags: u64,
}

fn map_call(cmd: libc::c_long, attr: &mut MapElemAttr) -> io::Result<()> {
    // SAFETY: attr is a valid, initialised prefix of `union bpf_attr`; the
    // pointers in it were taken from live slices sized by the caller to the
    // map's key and value sizes.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut MapElemAttr,
            std::mem::size_of::<MapElemAttr>() as u32,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn is_enoent(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ENOENT)
}

/// Looks `key` up; `value` must hold the map's whole value (for per-CPU maps:
/// `round_up(value_size, 8) * possible CPUs`). `Ok(false)` if absent.
pub fn map_lookup(fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8]) -> io::Result<bool> {
    let mut attr = MapElemAttr {
        map_fd: fd.as_raw_fd() as u32,
        key: key.as_ptr() as u64,
        value: value.as_mut_ptr() as u64,
        ..Default::default()
    };
    match map_call(BPF_MAP_LOOKUP_ELEM, &mut attr) {
        Ok(()) => Ok(true),
        Err(e) if is_enoent(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn map_update(fd: BorrowedFd<'_>, key: &[u8], value: &[u8], flags: u64) -> io::Result<()> {
    let mut attr = MapElemAttr {
        map_fd: fd.as_raw_fd() as u32,
        key: key.as_ptr() as u64,
        value: value.as_ptr() as u64,
        flags,
        ..Default::default()
    };
    map_call(BPF_MAP_UPDATE_ELEM, &mut attr)
}

/// `Ok(false)` if the key was already gone (a program may delete it first).
pub fn map_delete(fd: BorrowedFd<'_>, key: &[u8]) -> io::Result<bool> {
    let mut attr =
        MapElemAttr { map_fd: fd.as_raw_fd() as u32, key: key.as_ptr() as u64, ..Default::default() };
    match map_call(BPF_MAP_DELETE_ELEM, &mut attr) {
        Ok(()) => Ok(true),
        Err(e) if is_enoent(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The key after `key` (the first key for `None`) into `next`; `Ok(false)` at
/// the end.
pub fn map_next_key(fd: BorrowedFd<'_>, key: Option<&[u8]>, next: &mut [u8]) -> io::Result<bool> {
    let mut attr = MapElemAttr {
        map_fd: fd.as_raw_fd() as u32,
        key: key.map_or(0, |k| k.as_ptr() as u64),
        value: next.as_mut_ptr() as u64,
        ..Default::default()
    };
    match map_call(BPF_MAP_GET_NEXT_KEY, &mut attr) {
        Ok(()) => Ok(true),
        Err(e) if is_enoent(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Every key of a hash map. Keys a program inserts or deletes while we walk
/// may be missed or seen twice; deduplicating is the caller's choice.
pub fn map_keys(fd: BorrowedFd<'_>, key_size: usize) -> io::Result<Vec<Vec<u8>>> {
    let mut keys: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut next = vec![0u8; key_size];
        let prev = keys.last().map(Vec::as_slice);
        if !map_next_key(fd, prev, &mut next)? {
            return Ok(keys);
        }
        keys.push(next);
    }
}

/// Number of possible CPUs: the count of copies a per-CPU map value has.
pub fn possible_cpus() -> io::Result<usize> {
    aya::util::nr_cpus().map_err(|(path, e)| io::Error::new(e.kind(), format!("{path}: {e}")))
}

/// A program the kernel has loaded, as `bpftool prog` would list it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadedProgram {
    pub id: u32,
    pub name: String,
    /// Only counted while BPF stats are enabled ([`enable_stats`]).
    pub run_count: u64,
    pub run_time_ns: u64,
}

/// Every loaded program whose name starts with `prefix` (flowtrace names all
/// of its programs `ft_…`), so tests and `--check-leaks` can prove cleanup.
pub fn programs_named(prefix: &str) -> io::Result<Vec<LoadedProgram>> {
    let mut found = Vec::new();
    for info in aya::programs::loaded_programs() {
        // A program unloaded between listing and the info call is not ours to report.
        let Ok(info) = info else { continue };
        let name = info.name_as_str().unwrap_or_default();
        if name.starts_with(prefix) {
            found.push(LoadedProgram {
                id: info.id(),
                name: name.to_string(),
                run_count: info.run_count(),
                run_time_ns: info.run_time().as_nanos() as u64,
            });
        }
    }
    Ok(found)
}

/// Ids and names of every loaded map whose name starts with `prefix`.
pub fn maps_named(prefix: &str) -> Vec<(u32, String)> {
    aya::maps::loaded_maps()
        .filter_map(Result::ok)
        .filter_map(|m| {
            let name = m.name_as_str().unwrap_or_default().to_string();
            name.starts_with(prefix).then(|| (m.id(), name))
        })
        .collect()
}

/// Turns on the kernel's per-program run-time statistics for as long as the
/// returned fd lives (`BPF_ENABLE_STATS`; same as `kernel.bpf_stats_enabled=1`).
pub fn enable_stats() -> io::Result<std::os::fd::OwnedFd> {
    aya::sys::enable_stats(aya::sys::Stats::RunTime).map_err(|e| io::Error::other(e.to_string()))
}
