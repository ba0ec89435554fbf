//! `uprobe:BIN:FUNC`, `uretprobe:BIN:FUNC` and `usdt:BIN:PROVIDER:NAME`:
//! a kprobe-type program on a uprobe perf event at a file offset of the
//! binary. The checker has resolved BIN to a path and FUNC (or the USDT
//! note) to an address; here the address becomes the file offset the
//! kernel takes (through the ELF's loadable segments).
//!
//! The perf event is opened here rather than by aya for two reasons: aya
//! 0.14 cannot pass a USDT semaphore (`ref_ctr_offset`, which makes the
//! kernel increment the semaphore in every process that maps the binary
//! while the probe exists, and decrement it when it goes), and keeping both
//! fds lets detaching hand the slow perf-event release to the background,
//! as for tracepoints (`super::detach`).

use super::detach::PerfPair;
use super::{Failure, Link, LoadFailure};
use crate::sys_links::{perf_event_link, uprobe_perf_event};
use aya::programs::{Program, UProbe};
use flowtrace_kernel::uprobe_targets;
use flowtrace_lang::ast::{AttachKind, AttachPoint, UserTarget};
use std::os::fd::AsFd;

pub(super) fn load(prog: &mut Program) -> Result<(), LoadFailure> {
    let p: &mut UProbe = prog.try_into()?;
    Ok(p.load()?)
}

/// Where the probe goes: binary, file offset, USDT semaphore file offset.
fn location(point: &AttachPoint) -> Result<(&str, u64, u64), Failure> {
    let (binary, address, semaphore) = match &point.kind {
        AttachKind::Uprobe { binary, target } | AttachKind::Uretprobe { binary, target } => {
            let address = match target {
                UserTarget::Address(a) => *a,
                UserTarget::Function { name, offset } => {
                    let symbols = uprobe_targets::symbols(binary).map_err(Failure::new)?;
                    let f = symbols.iter().find(|s| s.name == *name && s.function).ok_or_else(|| {
                        Failure::new(format!("function '{name}' not found in '{binary}'"))
                            .hint(format!("`flowtrace -l 'uprobe:{binary}:*'` lists its functions"))
                    })?;
                    f.address + offset
                }
            };
            (binary, address, 0)
        }
        AttachKind::Usdt { binary, site: Some(site), .. } => (binary, site.address, site.semaphore),
        _ => return Err(Failure::new("not a uprobe or USDT attach point")),
    };
    let offset = uprobe_targets::file_offset(binary, address).map_err(Failure::new)?;
    let semaphore = match semaphore {
        0 => 0,
        s => uprobe_targets::file_offset(binary, s).map_err(Failure::new)?,
    };
    Ok((binary, offset, semaphore))
}

/// `pid`: only in that process (`-p PID`), else in every process.
pub(super) fn attach(prog: &mut Program, point: &AttachPoint, pid: Option<i32>) -> Result<Link, Failure> {
    let (binary, offset, semaphore) = location(point)?;
    let retprobe = matches!(point.kind, AttachKind::Uretprobe { .. });
    let p: &mut UProbe = prog.try_into()?;
    let event = uprobe_perf_event(binary, offset, retprobe, pid, semaphore).map_err(|e| refused(&e, binary, offset))?;
    match perf_event_link(p.fd()?.as_fd(), event.as_fd(), 0) {
        Ok(link) => Ok(Link::Tracepoint(PerfPair { link, event })),
        Err(e) => Err(refused(&e, binary, offset)),
    }
}

fn refused(e: &std::io::Error, binary: &str, offset: u64) -> Failure {
    let why = match e.raw_os_error() {
        Some(libc::ENOENT) => "the uprobe PMU is missing (a kernel without CONFIG_UPROBE_EVENTS?)".to_string(),
        Some(libc::EINVAL) => format!("the kernel refused a uprobe at offset {offset:#x} of '{binary}' (not an instruction boundary?)"),
        Some(libc::EPERM | libc::EACCES) => "the kernel does not permit uprobes here".to_string(),
        Some(libc::EOPNOTSUPP) => "this kernel cannot increment USDT semaphores (needs Linux 4.20)".to_string(),
        _ => format!("attaching a uprobe to '{binary}' failed: {e}"),
    };
    Failure::new(why)
}
