//! `tracepoint:CATEGORY:NAME`: a perf-event attachment of a
//! `BPF_PROG_TYPE_TRACEPOINT` program to `/sys/kernel/tracing/events/CAT/NAME`.

use super::{Failure, Link, LoadFailure};
use aya::programs::{Program, TracePoint};
use flowtrace_lang::ast::{AttachKind, AttachPoint};
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
    let tp: &mut TracePoint = prog.try_into()?;
    let id = tp.attach(category, name)?;
    Ok(Link::TracePoint(tp.take_link(id)?))
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
