//! `interval:…`: a `BPF_PROG_TYPE_PERF_EVENT` program on a software cpu-clock
//! event. One CPU (cpu 0) only, so an interval fires once per period rather
//! than once per CPU per period.

use super::{Failure, Link, LoadFailure};
use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent};
use aya::programs::{PerfEvent, Program};
use flowtrace_lang::ast::{AttachKind, AttachPoint};

pub(super) fn load(prog: &mut Program) -> Result<(), LoadFailure> {
    let p: &mut PerfEvent = prog.try_into()?;
    Ok(p.load()?)
}

pub(super) fn attach(prog: &mut Program, point: &AttachPoint) -> Result<Link, Failure> {
    let AttachKind::Interval { period } = &point.kind else {
        return Err(Failure::new("not an interval attach point"));
    };
    let nanos = period.nanos().max(1);
    let p: &mut PerfEvent = prog.try_into()?;
    let id = p.attach(
        PerfEventConfig::Software(SoftwareEvent::CpuClock),
        PerfEventScope::AllProcessesOneCpu { cpu: 0 },
        SamplePolicy::Period(nanos),
        false,
    )?;
    Ok(Link::PerfEvent(p.take_link(id)?))
}
