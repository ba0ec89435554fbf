//! `rawtracepoint:NAME`: a `BPF_PROG_TYPE_RAW_TRACEPOINT` program attached with
//! `BPF_RAW_TRACEPOINT_OPEN`. BEGIN/END use the same program type (see
//! [`super::special`]) because it can be run with `BPF_PROG_TEST_RUN`.

use super::{Failure, Link, LoadFailure};
use aya::programs::{Program, RawTracePoint};
use flowtrace_lang::ast::{AttachKind, AttachPoint};

pub(super) fn load(prog: &mut Program) -> Result<(), LoadFailure> {
    let p: &mut RawTracePoint = prog.try_into()?;
    Ok(p.load()?)
}

pub(super) fn attach(prog: &mut Program, point: &AttachPoint) -> Result<Link, Failure> {
    let AttachKind::RawTracepoint { name } = &point.kind else {
        return Err(Failure::new("not a raw tracepoint attach point"));
    };
    let p: &mut RawTracePoint = prog.try_into()?;
    let id = p.attach(name).map_err(|e| {
        Failure::from(e).hint("raw tracepoint names are the bare event name, e.g. `rawtracepoint:tcp_retransmit_skb`")
    })?;
    Ok(Link::RawTracePoint(p.take_link(id)?))
}
