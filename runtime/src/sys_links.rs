//! The kprobe attachments aya 0.14 cannot make: a kprobe.multi link (one
//! link, many functions, a cookie each; Linux 5.18) and a kprobe perf event
//! linked to a program with a cookie (`BPF_LINK_CREATE` on a perf event;
//! Linux 5.15). Raw syscalls only; what to attach is decided in
//! `attach::kprobe_multi`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

const BPF_LINK_CREATE: libc::c_long = 28;
/// `enum bpf_attach_type`.
const BPF_PERF_EVENT: u32 = 41;
pub const BPF_TRACE_KPROBE_MULTI: u32 = 42;
/// `kprobe_multi.flags`: attach at function return.
const BPF_F_KPROBE_MULTI_RETURN: u32 = 1;

/// `union bpf_attr` for `BPF_LINK_CREATE` with the `kprobe_multi` member.
#[repr(C)]
#[derive(Default)]
struct KprobeMultiLinkAttr {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    kprobe_flags: u32,
    cnt: u32,
    syms: u64,
    addrs: u64,
    cookies: u64,
}

/// `union bpf_attr` for `BPF_LINK_CREATE` with the `perf_event` member.
#[repr(C)]
#[derive(Default)]
struct PerfLinkAttr {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    bpf_cookie: u64,
}

/// Attaches `prog` (loaded with expected attach type
/// [`BPF_TRACE_KPROBE_MULTI`]) to every function in `funcs`, at entry or
/// return; `bpf_get_attach_cookie` gives `cookies[i]` when `funcs[i]`
/// fires. The kernel refuses the whole link if any one function cannot be
/// traced. Closing the returned fd detaches.
pub fn kprobe_multi_link(prog: BorrowedFd<'_>, funcs: &[&str], cookies: &[u64], retprobe: bool) -> io::Result<OwnedFd> {
    if funcs.len() != cookies.len() || funcs.is_empty() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let names = funcs.iter().map(|f| CString::new(*f)).collect::<Result<Vec<_>, _>>().map_err(io::Error::other)?;
    let ptrs: Vec<u64> = names.iter().map(|n| n.as_ptr() as u64).collect();
    let mut attr = KprobeMultiLinkAttr {
        prog_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_TRACE_KPROBE_MULTI,
        kprobe_flags: if retprobe { BPF_F_KPROBE_MULTI_RETURN } else { 0 },
        cnt: funcs.len() as u32,
        syms: ptrs.as_ptr() as u64,
        cookies: cookies.as_ptr() as u64,
        ..Default::default()
    };
    crate::sys::bpf_fd(BPF_LINK_CREATE, &mut attr)
}

/// The first fields of `struct perf_event_attr` (PERF_ATTR_SIZE_VER1, which
/// every kernel accepts): enough for a kprobe PMU event.
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    kind: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    /// kprobe PMU: the function name's address.
    config1: u64,
    /// kprobe PMU: the offset in the function.
    config2: u64,
}

const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 8;
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
pub(crate) const PERF_EVENT_IOC_DISABLE: libc::c_ulong = 0x2401;
const PERF_TYPE_TRACEPOINT: u32 = 2;

/// The kprobe PMU's type number and its `retprobe` config bit, from sysfs.
fn kprobe_pmu() -> io::Result<(u32, u64)> {
    let dir = std::path::Path::new("/sys/bus/event_source/devices/kprobe");
    let kind = std::fs::read_to_string(dir.join("type"))?.trim().parse().map_err(io::Error::other)?;
    // "config:0": the bit of `config` that makes it a return probe.
    let format = std::fs::read_to_string(dir.join("format/retprobe"))?;
    let bit: u32 = format.trim().strip_prefix("config:").and_then(|b| b.parse().ok()).unwrap_or(0);
    Ok((kind, 1u64 << bit.min(63)))
}

/// A kprobe (or kretprobe) on `func` as a perf event on all CPUs.
pub fn kprobe_perf_event(func: &str, retprobe: bool) -> io::Result<OwnedFd> {
    let (kind, retbit) = kprobe_pmu()?;
    let name = CString::new(func).map_err(io::Error::other)?;
    let attr = PerfEventAttr {
        kind,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: if retprobe { retbit } else { 0 },
        config1: name.as_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: attr is a valid perf_event_attr prefix whose size field says
    // how long it is; `name` outlives the call. pid -1 with cpu 0 is how a
    // kprobe event covering every task on every CPU is opened.
    let fd = unsafe {
        libc::syscall(libc::SYS_perf_event_open, &attr as *const PerfEventAttr, -1i32, 0i32, -1i32, PERF_FLAG_FD_CLOEXEC)
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd the kernel just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The uprobe PMU's type number, its `retprobe` config bit and the shift
/// of the USDT semaphore's offset in `config` (`ref_ctr_offset`, Linux
/// 4.20), from sysfs.
fn uprobe_pmu() -> io::Result<(u32, u64, Option<u32>)> {
    let dir = std::path::Path::new("/sys/bus/event_source/devices/uprobe");
    let kind = std::fs::read_to_string(dir.join("type"))?.trim().parse().map_err(io::Error::other)?;
    let format = std::fs::read_to_string(dir.join("format/retprobe"))?;
    let bit: u32 = format.trim().strip_prefix("config:").and_then(|b| b.parse().ok()).unwrap_or(0);
    // "config:32-63"
    let ref_ctr = std::fs::read_to_string(dir.join("format/ref_ctr_offset"))
        .ok()
        .and_then(|f| f.trim().strip_prefix("config:")?.split('-').next()?.parse().ok());
    Ok((kind, 1u64 << bit.min(63), ref_ctr))
}

/// A uprobe (or uretprobe) at file offset `offset` of `path` as a perf
/// event: for every process (`pid` None) or one. `ref_ctr_offset` is the
/// file offset of a USDT semaphore the kernel increments in every process
/// mapping the file while the probe exists (0: none).
pub fn uprobe_perf_event(path: &str, offset: u64, retprobe: bool, pid: Option<i32>, ref_ctr_offset: u64) -> io::Result<OwnedFd> {
    let (kind, retbit, ref_ctr_shift) = uprobe_pmu()?;
    let name = CString::new(path).map_err(io::Error::other)?;
    let mut config = if retprobe { retbit } else { 0 };
    if ref_ctr_offset != 0 {
        let shift = ref_ctr_shift.ok_or_else(|| io::Error::from_raw_os_error(libc::EOPNOTSUPP))?;
        config |= ref_ctr_offset << shift;
    }
    let attr = PerfEventAttr {
        kind,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config,
        config1: name.as_ptr() as u64,
        config2: offset,
        ..Default::default()
    };
    // pid -1 with cpu 0 covers every task; a pid with cpu -1 that task on every CPU.
    let (pid, cpu) = match pid {
        Some(pid) => (pid, -1i32),
        None => (-1i32, 0i32),
    };
    // SAFETY: attr is a valid perf_event_attr prefix whose size field says
    // how long it is; `name` outlives the call.
    let fd = unsafe { libc::syscall(libc::SYS_perf_event_open, &attr as *const PerfEventAttr, pid, cpu, -1i32, PERF_FLAG_FD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd the kernel just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// The tracepoint with tracefs id `id` as a perf event on all tasks (cpu 0
/// with pid -1 covers every CPU for a tracepoint), one sample per hit.
pub fn tracepoint_perf_event(id: u64) -> io::Result<OwnedFd> {
    let attr = PerfEventAttr {
        kind: PERF_TYPE_TRACEPOINT,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: id,
        sample_period: 1,
        wakeup_events: 1,
        ..Default::default()
    };
    // SAFETY: attr is a valid perf_event_attr prefix whose size field says how long it is.
    let fd = unsafe {
        libc::syscall(libc::SYS_perf_event_open, &attr as *const PerfEventAttr, -1i32, 0i32, -1i32, PERF_FLAG_FD_CLOEXEC)
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a new fd the kernel just returned, owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Links `prog` to the perf event `event` with `cookie`, and enables the
/// event. Closing the returned fd detaches.
pub fn perf_event_link(prog: BorrowedFd<'_>, event: BorrowedFd<'_>, cookie: u64) -> io::Result<OwnedFd> {
    let mut attr = PerfLinkAttr {
        prog_fd: prog.as_raw_fd() as u32,
        target_fd: event.as_raw_fd() as u32,
        attach_type: BPF_PERF_EVENT,
        bpf_cookie: cookie,
        ..Default::default()
    };
    let link = crate::sys::bpf_fd(BPF_LINK_CREATE, &mut attr)?;
    // SAFETY: a plain ioctl on a perf event fd we own.
    if unsafe { libc::ioctl(event.as_raw_fd(), PERF_EVENT_IOC_ENABLE as _, 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(link)
}

/// `union bpf_attr` for `BPF_LINK_CREATE` of an iterator (no target, no
/// `iter_info`: task, task_file, tcp and udp iterate over everything).
#[repr(C)]
#[derive(Default)]
struct IterLinkAttr {
    prog_fd: u32,
    target_fd: u32,
    attach_type: u32,
    flags: u32,
    iter_info: u64,
    iter_info_len: u32,
    _pad: u32,
}

/// `union bpf_iter_link_info`'s `task` member: iterate only the tasks of
/// process `pid` (Linux 6.1; `tid` and `pid_fd` are other ways to say it).
#[repr(C)]
#[derive(Default)]
struct IterTaskInfo {
    tid: u32,
    pid: u32,
    pid_fd: u32,
}

/// An iterator link for `prog` (loaded with attach type BPF_TRACE_ITER);
/// with `pid`, a task iterator visits only that process's tasks. Closing
/// the returned fd releases it.
pub fn iter_link(prog: BorrowedFd<'_>, pid: Option<u32>) -> io::Result<OwnedFd> {
    let info = IterTaskInfo { pid: pid.unwrap_or(0), ..Default::default() };
    let mut attr = IterLinkAttr {
        prog_fd: prog.as_raw_fd() as u32,
        attach_type: crate::attach::iter::BPF_TRACE_ITER,
        ..Default::default()
    };
    if pid.is_some() {
        attr.iter_info = &info as *const IterTaskInfo as u64;
        attr.iter_info_len = std::mem::size_of::<IterTaskInfo>() as u32;
    }
    crate::sys::bpf_fd(BPF_LINK_CREATE, &mut attr)
}

/// `union bpf_attr` for `BPF_ITER_CREATE`.
#[repr(C)]
#[derive(Default)]
struct IterCreateAttr {
    link_fd: u32,
    flags: u32,
}

const BPF_ITER_CREATE: libc::c_long = 33;

/// A new iterator over `link`'s objects: reading it runs the program.
pub fn iter_create(link: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    let mut attr = IterCreateAttr { link_fd: link.as_raw_fd() as u32, flags: 0 };
    crate::sys::bpf_fd(BPF_ITER_CREATE, &mut attr)
}
