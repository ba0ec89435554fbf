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
/// `map_update_elem`: only replace an existing entry.
pub const BPF_EXIST: u64 = 2;

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

const BPF_MAP_CREATE: libc::c_long = 0;
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
const BPF_BTF_LOAD: libc::c_long = 18;

/// Kernel object names: at most 15 bytes plus the NUL.
fn object_name(name: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (o, b) in out.iter_mut().zip(name.bytes().take(15)) {
        *o = b;
    }
    out
}

pub(crate) fn bpf_fd<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: attr is a valid, initialised prefix of `union bpf_attr` for cmd,
    // and every pointer in it refers to memory that outlives the call.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>() as u32) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(ret as i32) })
}

#[repr(C)]
#[derive(Default)]
struct MapCreateAttr {
    map_type: u32,
    key_size: u32,
    value_size: u32,
    max_entries: u32,
    map_flags: u32,
    inner_map_fd: u32,
    numa_node: u32,
    map_name: [u8; 16],
}

/// `BPF_MAP_CREATE` without BTF.
pub fn map_create(name: &str, map_type: u32, key_size: u32, value_size: u32, max_entries: u32) -> io::Result<std::os::fd::OwnedFd> {
    let mut attr = MapCreateAttr { map_type, key_size, value_size, max_entries, map_name: object_name(name), ..Default::default() };
    bpf_fd(BPF_MAP_CREATE, &mut attr)
}

#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
    prog_btf_fd: u32,
    func_info_rec_size: u32,
    func_info: u64,
    func_info_cnt: u32,
    line_info_rec_size: u32,
    line_info: u64,
    line_info_cnt: u32,
    /// fentry/fexit: the traced function's BTF id in vmlinux.
    attach_btf_id: u32,
    attach_prog_fd: u32,
    /// Named so that it is zeroed: as padding it held whatever the stack
    /// had, and a non-zero `core_relo_cnt` makes the kernel refuse the load
    /// (EINVAL before the verifier runs).
    core_relo_cnt: u32,
}

/// The program BTF a program with callback subprograms is loaded with:
/// the BTF object and `struct bpf_func_info` records (first instruction,
/// FUNC type id), one per function.
pub struct ProgBtf<'a> {
    pub fd: std::os::fd::BorrowedFd<'a>,
    pub func_info: &'a [(u32, u32)],
}

#[repr(C)]
#[derive(Default)]
struct BtfLoadAttr {
    btf: u64,
    btf_log_buf: u64,
    btf_size: u32,
    btf_log_size: u32,
    btf_log_level: u32,
    /// Named so that it is zeroed (6.4+ writes the log's full size here):
    /// as trailing padding it held stack garbage, and kernels before 6.4
    /// refuse any non-zero byte past `btf_log_level` with EINVAL.
    btf_log_true_size: u32,
}

/// `BPF_BTF_LOAD` of a BTF blob; a rejection comes back with the kernel's
/// log (it names the offending type).
pub fn btf_load(blob: &[u8]) -> Result<std::os::fd::OwnedFd, ProgLoadError> {
    let mut attr = BtfLoadAttr { btf: blob.as_ptr() as u64, btf_size: blob.len() as u32, ..Default::default() };
    if let Ok(fd) = bpf_fd(BPF_BTF_LOAD, &mut attr) {
        return Ok(fd);
    }
    let mut log = vec![0u8; 64 << 10];
    attr.btf_log_buf = log.as_mut_ptr() as u64;
    attr.btf_log_size = log.len() as u32;
    attr.btf_log_level = 1;
    let error = match bpf_fd(BPF_BTF_LOAD, &mut attr) {
        Ok(fd) => return Ok(fd),
        Err(e) => e,
    };
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    Err(ProgLoadError { error, log: String::from_utf8_lossy(&log[..end]).into_owned() })
}

/// A program the verifier refused, with its log.
pub struct ProgLoadError {
    pub error: io::Error,
    pub log: String,
}

/// `BPF_PROG_LOAD` of encoded instructions. The first attempt runs without a
/// log (a log slows the verifier down); only a rejection is retried with one,
/// sized for the verifier's worst case.
pub fn prog_load(name: &str, prog_type: u32, insns: &[u8]) -> Result<std::os::fd::OwnedFd, ProgLoadError> {
    prog_load_as(name, prog_type, 0, insns)
}

/// [`prog_load`] with an `expected_attach_type` (`enum bpf_attach_type`),
/// which some attachments check at load time (kprobe.multi: 42).
pub fn prog_load_as(name: &str, prog_type: u32, expected_attach_type: u32, insns: &[u8]) -> Result<std::os::fd::OwnedFd, ProgLoadError> {
    prog_load_full(name, prog_type, expected_attach_type, 0, insns, None)
}

/// [`prog_load_as`] for a program bound at load time to the vmlinux BTF
/// type `attach_btf_id` (fentry/fexit: the traced function).
pub fn prog_load_against(
    name: &str,
    prog_type: u32,
    expected_attach_type: u32,
    attach_btf_id: u32,
    insns: &[u8],
) -> Result<std::os::fd::OwnedFd, ProgLoadError> {
    prog_load_full(name, prog_type, expected_attach_type, attach_btf_id, insns, None)
}

/// [`prog_load_as`] with program BTF (needed by programs with callbacks).
pub fn prog_load_with_btf(
    name: &str,
    prog_type: u32,
    expected_attach_type: u32,
    insns: &[u8],
    btf: Option<&ProgBtf<'_>>,
) -> Result<std::os::fd::OwnedFd, ProgLoadError> {
    prog_load_full(name, prog_type, expected_attach_type, 0, insns, btf)
}

/// `BPF_PROG_LOAD` with everything flowtrace sets: the attach type, the
/// vmlinux BTF id of an fentry/fexit target, and program BTF for callbacks.
pub fn prog_load_full(
    name: &str,
    prog_type: u32,
    expected_attach_type: u32,
    attach_btf_id: u32,
    insns: &[u8],
    btf: Option<&ProgBtf<'_>>,
) -> Result<std::os::fd::OwnedFd, ProgLoadError> {
    use std::os::fd::AsRawFd;
    const LICENSE: &std::ffi::CStr = c"GPL";
    let records: Vec<[u32; 2]> = btf.map_or_else(Vec::new, |b| b.func_info.iter().map(|&(at, id)| [at, id]).collect());
    let mut attr = ProgLoadAttr {
        prog_btf_fd: btf.map_or(0, |b| b.fd.as_raw_fd() as u32),
        func_info_rec_size: if btf.is_some() { 8 } else { 0 },
        func_info: if btf.is_some() { records.as_ptr() as u64 } else { 0 },
        func_info_cnt: records.len() as u32,
        prog_type,
        expected_attach_type,
        attach_btf_id,
        insn_cnt: (insns.len() / 8) as u32,
        insns: insns.as_ptr() as u64,
        license: LICENSE.as_ptr() as u64,
        prog_name: object_name(name),
        ..Default::default()
    };
    if let Ok(fd) = bpf_fd(BPF_PROG_LOAD, &mut attr) {
        return Ok(fd);
    }
    let mut log = vec![0u8; 16 << 20];
    attr.log_level = 1;
    attr.log_size = log.len() as u32;
    attr.log_buf = log.as_mut_ptr() as u64;
    match bpf_fd(BPF_PROG_LOAD, &mut attr) {
        Ok(fd) => Ok(fd), // the first failure was transient
        Err(error) => {
            let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
            Err(ProgLoadError { error, log: String::from_utf8_lossy(&log[..end]).into_owned() })
        }
    }
}

#[repr(C)]
struct InfoByFdAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// The kernel id of a program or map: the second u32 of both
/// `bpf_prog_info` and `bpf_map_info`.
pub fn object_id(fd: BorrowedFd<'_>) -> io::Result<u32> {
    let mut info = [0u32; 2];
    let mut attr = InfoByFdAttr { bpf_fd: fd.as_raw_fd() as u32, info_len: 8, info: info.as_mut_ptr() as u64 };
    // SAFETY: attr points at an 8-byte buffer and says so in info_len.
    let ret = unsafe {
        libc::syscall(libc::SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &mut attr as *mut InfoByFdAttr, std::mem::size_of::<InfoByFdAttr>() as u32)
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(info[1])
}

const BPF_OBJ_PIN: libc::c_long = 6;

/// `union bpf_attr` for `BPF_OBJ_PIN`.
#[repr(C)]
struct ObjPinAttr {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}

/// Pins `fd` at `path` on a bpffs. Needs no capability, only write access
/// to the directory (unlike the `*_GET_FD_BY_ID` commands, CAP_SYS_ADMIN).
pub fn obj_pin(fd: BorrowedFd<'_>, path: &std::path::Path) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut attr = ObjPinAttr { pathname: path.as_ptr() as u64, bpf_fd: fd.as_raw_fd() as u32, file_flags: 0 };
    // SAFETY: attr points at a NUL-terminated path that outlives the call.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, BPF_OBJ_PIN, &mut attr as *mut ObjPinAttr, std::mem::size_of::<ObjPinAttr>() as u32) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

// ---- Read-only inspection of what the kernel holds (`flowtrace net`) ----

const BPF_PROG_GET_FD_BY_ID: libc::c_long = 13;
const BPF_MAP_GET_FD_BY_ID: libc::c_long = 14;
const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;

/// `union bpf_attr` for the `*_GET_FD_BY_ID` commands.
#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    id: u32,
    next_id: u32,
    open_flags: u32,
}

/// A program's fd from its id; ENOENT if it was unloaded meanwhile.
pub fn prog_fd_by_id(id: u32) -> io::Result<std::os::fd::OwnedFd> {
    bpf_fd(BPF_PROG_GET_FD_BY_ID, &mut GetFdByIdAttr { id, ..Default::default() })
}

/// A map's fd from its id; ENOENT if it was freed meanwhile.
pub fn map_fd_by_id(id: u32) -> io::Result<std::os::fd::OwnedFd> {
    bpf_fd(BPF_MAP_GET_FD_BY_ID, &mut GetFdByIdAttr { id, ..Default::default() })
}

/// `BPF_OBJ_GET_INFO_BY_FD` into `info` (a zeroed `bpf_*_info` buffer whose
/// pointer fields the caller may have set); the kernel fills what it knows.
fn info_by_fd(fd: BorrowedFd<'_>, info: &mut [u8]) -> io::Result<()> {
    let mut attr = InfoByFdAttr { bpf_fd: fd.as_raw_fd() as u32, info_len: info.len() as u32, info: info.as_mut_ptr() as u64 };
    // SAFETY: attr points at `info` and gives its exact length; any pointer
    // the caller put inside `info` refers to a buffer that outlives the call.
    let ret = unsafe {
        libc::syscall(libc::SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &mut attr as *mut InfoByFdAttr, std::mem::size_of::<InfoByFdAttr>() as u32)
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap_or_default())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap_or_default())
}

fn c_name(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// The fields of `struct bpf_prog_info` that `flowtrace net` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProgInfo {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; 8],
    pub jited_len: u32,
    pub xlated_len: u32,
    /// Nanoseconds since boot (CLOCK_BOOTTIME) when it was loaded.
    pub load_time_ns: u64,
    pub uid: u32,
    pub map_ids: Vec<u32>,
    pub name: String,
    /// Time spent in the program and how often it ran: the kernel counts
    /// only while BPF statistics are on ([`enable_stats`]).
    pub run_time_ns: u64,
    pub run_cnt: u64,
}

/// Offsets in `struct bpf_prog_info` (linux/bpf.h); stable uapi.
const PROG_INFO_LEN: usize = 232;
const PI_NR_MAP_IDS: usize = 52;
const PI_MAP_IDS: usize = 56;
const PI_RUN_TIME_NS: usize = 192;
const PI_RUN_CNT: usize = 200;

/// A program's info, with its map ids. Two calls when it uses more maps
/// than the first guess holds (the kernel reports the real count).
pub fn prog_info(fd: BorrowedFd<'_>) -> io::Result<ProgInfo> {
    let mut want = 16usize;
    loop {
        let mut map_ids = vec![0u32; want];
        let mut b = vec![0u8; PROG_INFO_LEN];
        b[PI_NR_MAP_IDS..PI_NR_MAP_IDS + 4].copy_from_slice(&(want as u32).to_ne_bytes());
        b[PI_MAP_IDS..PI_MAP_IDS + 8].copy_from_slice(&(map_ids.as_mut_ptr() as u64).to_ne_bytes());
        info_by_fd(fd, &mut b)?;
        let nr = u32_at(&b, PI_NR_MAP_IDS) as usize;
        if nr > want {
            want = nr;
            continue;
        }
        map_ids.truncate(nr);
        return Ok(ProgInfo {
            prog_type: u32_at(&b, 0),
            id: u32_at(&b, 4),
            tag: b[8..16].try_into().unwrap_or_default(),
            jited_len: u32_at(&b, 16),
            xlated_len: u32_at(&b, 20),
            load_time_ns: u64_at(&b, 40),
            uid: u32_at(&b, 48),
            map_ids,
            name: c_name(&b[64..80]),
            run_time_ns: u64_at(&b, PI_RUN_TIME_NS),
            run_cnt: u64_at(&b, PI_RUN_CNT),
        });
    }
}

/// The fields of `struct bpf_map_info` that `flowtrace net` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapInfo {
    pub map_type: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub flags: u32,
    pub name: String,
}

pub fn map_info(fd: BorrowedFd<'_>) -> io::Result<MapInfo> {
    let mut b = vec![0u8; 88];
    info_by_fd(fd, &mut b)?;
    Ok(MapInfo {
        map_type: u32_at(&b, 0),
        id: u32_at(&b, 4),
        key_size: u32_at(&b, 8),
        value_size: u32_at(&b, 12),
        max_entries: u32_at(&b, 16),
        flags: u32_at(&b, 20),
        name: c_name(&b[24..40]),
    })
}

/// `union bpf_attr` for `BPF_PROG_QUERY` (the mprog form, Linux 6.6).
#[repr(C)]
#[derive(Default)]
struct ProgQueryAttr {
    target_ifindex: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    count: u32,
    _pad: u32,
    prog_attach_flags: u64,
    link_ids: u64,
    link_attach_flags: u64,
    revision: u64,
}

/// One program of a multi-program hook (TCX, netkit), in run order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainEntry {
    pub prog_id: u32,
    /// 0 when attached without a link (`BPF_PROG_ATTACH`), which then
    /// stays until someone detaches it.
    pub link_id: u32,
}

/// The programs on `ifindex`'s hook `attach_type` (`BPF_TCX_INGRESS` = 46,
/// `BPF_TCX_EGRESS` = 47, `BPF_NETKIT_PRIMARY` = 54, `BPF_NETKIT_PEER` = 55)
/// in the order the kernel runs them. Resolves `ifindex` in the calling
/// thread's network namespace. A kernel without the hook answers EINVAL,
/// which is returned as such for the caller to read as "none".
pub fn prog_query(ifindex: u32, attach_type: u32) -> io::Result<Vec<ChainEntry>> {
    let mut cap = 8usize;
    loop {
        let mut progs = vec![0u32; cap];
        let mut links = vec![0u32; cap];
        let mut attr = ProgQueryAttr {
            target_ifindex: ifindex,
            attach_type,
            prog_ids: progs.as_mut_ptr() as u64,
            link_ids: links.as_mut_ptr() as u64,
            count: cap as u32,
            ..Default::default()
        };
        // SAFETY: attr is a valid prefix of `union bpf_attr` for
        // BPF_PROG_QUERY; both id buffers hold `count` u32s and outlive the call.
        let ret = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_QUERY, &mut attr as *mut ProgQueryAttr, std::mem::size_of::<ProgQueryAttr>() as u32) };
        let n = attr.count as usize;
        if ret < 0 {
            let e = io::Error::last_os_error();
            // ENOSPC: more programs than the buffer; count says how many.
            if e.raw_os_error() == Some(libc::ENOSPC) && n > cap {
                cap = n;
                continue;
            }
            return Err(e);
        }
        return Ok(progs.iter().zip(&links).take(n).map(|(&prog_id, &link_id)| ChainEntry { prog_id, link_id }).collect());
    }
}

/// `union bpf_attr` for the `BPF_MAP_*_BATCH` commands.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

/// The state of a [`map_lookup_batch`] walk: the kernel's cursor between calls.
pub struct BatchCursor {
    token: Vec<u8>,
    started: bool,
}

impl BatchCursor {
    /// `token_size`: large enough for any map's cursor (hash maps use a
    /// u32 bucket index, arrays a key).
    pub fn new(token_size: usize) -> BatchCursor {
        BatchCursor { token: vec![0u8; token_size.max(8)], started: false }
    }

    /// A hash map walk from bucket `bucket` on: a hash map's cursor is the
    /// u32 index of the next bucket to read (kernel/bpf/hashtab.c, since
    /// batch reads exist), so walkers can share a map's buckets.
    pub fn at_bucket(token_size: usize, bucket: u32) -> BatchCursor {
        let mut cursor = BatchCursor::new(token_size);
        cursor.token[..4].copy_from_slice(&bucket.to_ne_bytes());
        cursor.started = true;
        cursor
    }

    /// The next bucket a hash map walk reads (0 before the first batch).
    pub fn bucket(&self) -> u32 {
        if !self.started {
            return 0;
        }
        u32::from_ne_bytes(self.token[..4].try_into().unwrap_or([0; 4]))
    }
}

/// Reads the next batch of up to `keys.len() / key_size` elements
/// (`BPF_MAP_LOOKUP_BATCH`, Linux 5.6): one syscall per batch instead of one
/// per key. Returns how many came back and whether the walk is over.
/// Hash maps answer ENOSPC when one bucket holds more than the batch, and
/// EINVAL/ENOTSUPP where the map type has no batch support.
pub fn map_lookup_batch(fd: BorrowedFd<'_>, cursor: &mut BatchCursor, keys: &mut [u8], values: &mut [u8], count: u32) -> io::Result<(u32, bool)> {
    let mut out = vec![0u8; cursor.token.len()];
    let mut attr = BatchAttr {
        in_batch: if cursor.started { cursor.token.as_ptr() as u64 } else { 0 },
        out_batch: out.as_mut_ptr() as u64,
        keys: keys.as_mut_ptr() as u64,
        values: values.as_mut_ptr() as u64,
        count,
        map_fd: fd.as_raw_fd() as u32,
        ..Default::default()
    };
    // SAFETY: the keys/values buffers hold `count` keys and values as the
    // caller sized them; the batch tokens are as long as any map's cursor.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, BPF_MAP_LOOKUP_BATCH, &mut attr as *mut BatchAttr, std::mem::size_of::<BatchAttr>() as u32) };
    if ret < 0 {
        let e = io::Error::last_os_error();
        // ENOENT: the walk reached the end; `count` still says what this call returned.
        if is_enoent(&e) {
            return Ok((attr.count, true));
        }
        return Err(e);
    }
    cursor.token = out;
    cursor.started = true;
    Ok((attr.count, false))
}
