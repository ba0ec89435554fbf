//! Loading (verification) and attaching, one file per probe kind. Each file
//! knows its aya program type, how to load it, and how to attach it to an
//! [`AttachPoint`]; this module only dispatches on [`ProgramKind`].
//!
//! Detaching is dropping: every attachment is held as an owned aya link whose
//! `Drop` detaches it, so [`Link`]s going out of scope leave nothing behind.

pub mod capabilities;
pub(crate) mod detach;
pub(crate) mod fentry;
pub(crate) mod iter;
pub(crate) mod kprobe;
pub(crate) mod kprobe_multi;
mod perf_event;
mod raw_tracepoint;
pub(crate) mod special;
pub(crate) mod tc;
mod tracepoint;
mod uprobe;

use aya::programs::{
    FEntry, FExit, KProbe, PerfEvent, ProbeKind, Program, ProgramError, ProgramInfo, RawTracePoint, SchedClassifier, TracePoint, UProbe, Iter,
};
use aya::Btf;
use flowtrace_codegen::object::ProgramKind;
use flowtrace_lang::ast::AttachPoint;

/// Why an attach failed, in words for the user.
pub(crate) struct Failure {
    pub reason: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(reason: impl Into<String>) -> Failure {
        Failure { reason: reason.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

impl From<ProgramError> for Failure {
    fn from(e: ProgramError) -> Failure {
        Failure::new(error_chain(&e))
    }
}

/// aya's errors keep the errno in their `source()`; show the whole chain.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cur = s.source();
    }
    text
}

/// An attachment. The links are held only so that dropping them detaches.
#[allow(dead_code)]
pub(crate) enum Link {
    TracePoint(aya::programs::trace_point::TracePointLink),
    /// A tracepoint attached by flowtrace itself (link and perf event kept).
    Tracepoint(detach::PerfPair),
    PerfEvent(aya::programs::perf_event::PerfEventLink),
    /// One perf event per online CPU (`profile:`, `software:`, `hardware:`).
    PerfEvents(Vec<aya::programs::perf_event::PerfEventLink>),
    KProbe(aya::programs::kprobe::KProbeLink),
    RawTracePoint(aya::programs::raw_trace_point::RawTracePointLink),
    FEntry(aya::programs::fentry::FEntryLink),
    FExit(aya::programs::fexit::FExitLink),
    Tc(tc::TcLinks),
    KprobeGroup(kprobe_multi::GroupLinks),
    /// An iterator link (`iter:`); [`iter::run`] reads iterators made from it.
    Iter(std::os::fd::OwnedFd),
}

/// Loads one program into the kernel (this is where the verifier runs).
/// `btf` is needed only by fentry/fexit, to find the traced function.
pub(crate) fn load(
    kind: ProgramKind,
    prog: &mut Program,
    point: &AttachPoint,
    btf: impl FnOnce() -> Result<Btf, String>,
) -> Result<(), LoadFailure> {
    match kind {
        ProgramKind::Tracepoint => tracepoint::load(prog),
        ProgramKind::PerfEvent => perf_event::load(prog),
        ProgramKind::Kprobe | ProgramKind::Kretprobe => kprobe::load(prog),
        ProgramKind::RawTracepoint | ProgramKind::Special => raw_tracepoint::load(prog),
        ProgramKind::Fentry | ProgramKind::Fexit => fentry::load(prog, point, btf),
        ProgramKind::SchedCls => tc::load(prog),
        ProgramKind::Uprobe | ProgramKind::Uretprobe => uprobe::load(prog),
        ProgramKind::Iter => iter::load(prog, point, btf),
    }
}

/// aya's handle for a program `crate::rawload` loaded with bpf(2).
pub(crate) fn from_program_info(kind: ProgramKind, info: ProgramInfo, name: String) -> Result<Program, ProgramError> {
    let name = name.into();
    Ok(match kind {
        ProgramKind::Tracepoint => Program::TracePoint(TracePoint::from_program_info(info, name)?),
        ProgramKind::PerfEvent => Program::PerfEvent(PerfEvent::from_program_info(info, name)?),
        ProgramKind::RawTracepoint | ProgramKind::Special => {
            Program::RawTracePoint(RawTracePoint::from_program_info(info, name)?)
        }
        ProgramKind::SchedCls => Program::SchedClassifier(SchedClassifier::from_program_info(info, name)?),
        // SAFETY: we loaded this fd as BPF_PROG_TYPE_KPROBE just now; the
        // entry/return distinction is ours to make, as the kernel has none.
        ProgramKind::Kprobe => Program::KProbe(unsafe { KProbe::from_program_info(info, name, ProbeKind::Entry)? }),
        ProgramKind::Kretprobe => Program::KProbe(unsafe { KProbe::from_program_info(info, name, ProbeKind::Return)? }),
        // SAFETY: loaded as BPF_PROG_TYPE_TRACING with this attach type just now.
        ProgramKind::Fentry => Program::FEntry(unsafe { FEntry::from_program_info(info, name)? }),
        ProgramKind::Fexit => Program::FExit(unsafe { FExit::from_program_info(info, name)? }),
        // SAFETY: loaded as BPF_PROG_TYPE_KPROBE; uprobes are kprobe programs.
        ProgramKind::Uprobe => Program::UProbe(unsafe { UProbe::from_program_info(info, name, ProbeKind::Entry)? }),
        ProgramKind::Uretprobe => Program::UProbe(unsafe { UProbe::from_program_info(info, name, ProbeKind::Return)? }),
        ProgramKind::Iter => Program::Iter(Iter::from_program_info(info, name)?),
    })
}

/// aya's handle for a program pinned at `path` (see `crate::rawload`: the
/// way to a handle that needs no CAP_SYS_ADMIN). The kernel's 16-byte
/// name replaces ours.
pub(crate) fn from_pinned(kind: ProgramKind, path: &std::path::Path) -> Result<Program, ProgramError> {
    Ok(match kind {
        ProgramKind::Tracepoint => Program::TracePoint(TracePoint::from_pin(path)?),
        ProgramKind::PerfEvent => Program::PerfEvent(PerfEvent::from_pin(path)?),
        ProgramKind::RawTracepoint | ProgramKind::Special => Program::RawTracePoint(RawTracePoint::from_pin(path)?),
        ProgramKind::SchedCls => Program::SchedClassifier(SchedClassifier::from_pin(path)?),
        ProgramKind::Kprobe => Program::KProbe(KProbe::from_pin(path, ProbeKind::Entry)?),
        ProgramKind::Kretprobe => Program::KProbe(KProbe::from_pin(path, ProbeKind::Return)?),
        // aya asks for the traced function's BTF object by id here, which
        // needs CAP_SYS_ADMIN anyway (docs/fleet.md).
        ProgramKind::Fentry => Program::FEntry(FEntry::from_pin(path)?),
        ProgramKind::Fexit => Program::FExit(FExit::from_pin(path)?),
        ProgramKind::Uprobe => Program::UProbe(UProbe::from_pin(path, ProbeKind::Entry)?),
        ProgramKind::Uretprobe => Program::UProbe(UProbe::from_pin(path, ProbeKind::Return)?),
        ProgramKind::Iter => Program::Iter(Iter::from_pin(path)?),
    })
}

/// Attaches a loaded program. `Special` programs are never attached (they
/// run through [`special::run`]); asking is a caller bug reported as a failure.
pub(crate) fn attach(
    kind: ProgramKind,
    prog: &mut Program,
    point: &AttachPoint,
    tc_options: &crate::tc::TcOptions,
    uprobe_pid: Option<i32>,
) -> Result<Link, Failure> {
    match kind {
        ProgramKind::Tracepoint => tracepoint::attach(prog, point),
        ProgramKind::PerfEvent => perf_event::attach(prog, point, uprobe_pid),
        ProgramKind::Kprobe | ProgramKind::Kretprobe => kprobe::attach(prog, point),
        ProgramKind::RawTracepoint => raw_tracepoint::attach(prog, point),
        ProgramKind::Fentry | ProgramKind::Fexit => fentry::attach(prog),
        ProgramKind::SchedCls => tc::attach(prog, point, tc_options),
        ProgramKind::Uprobe | ProgramKind::Uretprobe => uprobe::attach(prog, point, uprobe_pid),
        ProgramKind::Iter => iter::attach(prog, point),
        ProgramKind::Special => Err(Failure::new("BEGIN/END programs are run, not attached")),
    }
}

/// A load that failed: the verifier's log when it ran, or another reason.
pub(crate) enum LoadFailure {
    Verifier { errno: String, log: String },
    Other(String),
}

impl From<ProgramError> for LoadFailure {
    fn from(e: ProgramError) -> LoadFailure {
        match e {
            ProgramError::LoadError { io_error, verifier_log } => {
                LoadFailure::Verifier { errno: io_error.to_string(), log: verifier_log.to_string() }
            }
            other => LoadFailure::Other(error_chain(&other)),
        }
    }
}
pub use capabilities::kprobes_available;
