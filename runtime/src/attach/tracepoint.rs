//! `tracepoint:CATEGORY:NAME`: a perf-event attachment of a
//! `BPF_PROG_TYPE_TRACEPOINT` program to `/sys/kernel/tracing/events/CAT/NAME`.
//!
//! The perf event and the BPF link are opened here rather than by aya so
//! that both fds are kept: detaching closes the link at once and can leave
//! the slow release of the perf event to a background process
//! (`super::detach`).

use super::capabilities::errno_words;
use super::detach::PerfPair;
use super::{Failure, Link, LoadFailure};
use crate::sys_links::{perf_event_link, tracepoint_perf_event};
use aya::programs::{Program, TracePoint};
use flowtrace_lang::ast::{AttachKind, AttachPoint};
use std::os::fd::AsFd;
use std::path::Path;

const TRACEFS: &str = "/sys/kernel/tracing";

pub(super) fn load(prog: &mut Program) -> Result<(), LoadFailure> {
    let tp: &mut TracePoint = prog.try_into()?;
    Ok(tp.load()?)
}

pub(super) fn attach(prog: &mut Program, point: &AttachPoint) -> Result<Link, Failure> {
    let AttachKind::Tracepoint { category, name } = &point.kind else {
        return Err(Failure::new("not a tracepoint attach point"));
    };
    ensure_tracefs();
    let events = Path::new(TRACEFS).join("events").join(category).join(name);
    if !events.exists() {
        return Err(Failure::new(format!("tracepoint {category}:{name} does not exist on this kernel"))
            .hint(format!("list the available ones with `ls {TRACEFS}/events/{category}/`")));
    }
    let id: u64 = std::fs::read_to_string(events.join("id"))
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or_else(|| Failure::new(format!("cannot read the id of tracepoint {category}:{name} from tracefs")))?;
    let tp: &mut TracePoint = prog.try_into()?;
    let words = |e: std::io::Error| Failure::new(errno_words(e.raw_os_error().unwrap_or(0)));
    let event = tracepoint_perf_event(id).map_err(words)?;
    match perf_event_link(tp.fd()?.as_fd(), event.as_fd(), 0) {
        Ok(link) => Ok(Link::Tracepoint(PerfPair { link, event })),
        // Kernels before 5.15 have no BPF link for perf events: aya attaches
        // with PERF_EVENT_IOC_SET_BPF instead (detached only by closing).
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            drop(event);
            let id = tp.attach(category, name)?;
            Ok(Link::TracePoint(tp.take_link(id)?))
        }
        Err(e) => Err(words(e)),
    }
}

/// aya finds tracepoint ids through a mounted tracefs; a fresh machine or
/// container may not have it mounted yet. Mounting needs root, which loading
/// BPF programs needs anyway; if it fails, the attach error says why.
pub(crate) fn ensure_tracefs() {
    if Path::new(TRACEFS).join("events").exists() {
        return;
    }
    let (src, target, fstype) = (c"tracefs", c"/sys/kernel/tracing", c"tracefs");
    // SAFETY: static NUL-terminated strings; no mount data.
    unsafe {
        libc::mount(src.as_ptr(), target.as_ptr(), fstype.as_ptr(), 0, std::ptr::null());
    }
}
