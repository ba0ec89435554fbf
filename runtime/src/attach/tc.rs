//! `tc:IFACE:ingress|egress`: a `BPF_PROG_TYPE_SCHED_CLS` program attached to
//! every interface IFACE names (a name or a glob, resolved now, in this
//! network namespace). TCX links where the kernel has them, clsact + cls_bpf
//! otherwise; see [`crate::tc`] for the safety rules of each path.

use super::{Failure, Link, LoadFailure};
use crate::tc::{self, ClsactFilter, Hook, Interface, TcMode, TcOptions, TcOrder};
use aya::programs::links::LinkOrder;
use aya::programs::tc::{SchedClassifierLink, TcAttachOptions};
use aya::programs::{Program, ProgramError, SchedClassifier, TcAttachType};
use flowtrace_lang::ast::{AttachKind, AttachPoint, TcDir};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicBool, Ordering};

pub(super) fn load(prog: &mut Program) -> Result<(), LoadFailure> {
    let p: &mut SchedClassifier = prog.try_into()?;
    Ok(p.load()?)
}

/// One program on one interface, held only so that dropping it detaches.
#[allow(dead_code)]
pub(crate) enum TcAttachment {
    Tcx(SchedClassifierLink),
    Clsact(ClsactFilter),
}

/// Everything one `tc:` probe attached; dropping it detaches all of it.
pub(crate) struct TcLinks {
    pub interfaces: Vec<Interface>,
    #[allow(dead_code)]
    attachments: Vec<TcAttachment>,
}

/// Set once a TCX attach failed because the kernel has no TCX: later
/// probes go straight to clsact.
static NO_TCX: AtomicBool = AtomicBool::new(false);
/// Stale filters are looked for once per process.
static STALE_CHECKED: AtomicBool = AtomicBool::new(false);

pub(super) fn attach(prog: &mut Program, point: &AttachPoint, opts: &TcOptions) -> Result<Link, Failure> {
    let AttachKind::Tc { iface, dir } = &point.kind else {
        return Err(Failure::new("not a tc attach point"));
    };
    let hook = match dir {
        TcDir::Ingress => Hook::Ingress,
        TcDir::Egress => Hook::Egress,
    };
    let all = tc::interfaces().map_err(|e| Failure::new(format!("listing network interfaces: {e}")))?;
    let targets = tc::resolve(iface, &all).map_err(|(reason, hint)| Failure::new(reason).hint(hint))?;
    if !STALE_CHECKED.swap(true, Ordering::SeqCst) {
        report_stale(opts.cleanup_stale)?;
    }
    let p: &mut SchedClassifier = prog.try_into().map_err(|e: ProgramError| Failure::from(e))?;
    let name = p.info().ok().and_then(|i| i.name_as_str().map(str::to_string)).unwrap_or_default();
    let mut attachments = Vec::with_capacity(targets.len());
    for target in &targets {
        // On failure the attachments made so far drop here, detaching them.
        let a = attach_one(p, target, hook, opts, &name)
            .map_err(|f| Failure { reason: format!("interface {}: {}", target.name, f.reason), hint: f.hint })?;
        attachments.push(a);
    }
    Ok(Link::Tc(TcLinks { interfaces: targets, attachments }))
}

fn attach_one(p: &mut SchedClassifier, target: &Interface, hook: Hook, opts: &TcOptions, name: &str) -> Result<TcAttachment, Failure> {
    let mode = opts.effective_mode();
    if mode == TcMode::Tcx || (mode == TcMode::Auto && !NO_TCX.load(Ordering::SeqCst)) {
        match attach_tcx(p, target, hook, opts.order) {
            Ok(link) => return Ok(TcAttachment::Tcx(link)),
            Err(e) if mode == TcMode::Auto && no_tcx(&e) => NO_TCX.store(true, Ordering::SeqCst),
            Err(e) => return Err(Failure::from(e).hint("TCX needs Linux 6.6; FLOWTRACE_TC_MODE=clsact uses the clsact qdisc")),
        }
    }
    let fd = p.fd().map_err(Failure::from)?.as_fd().as_raw_fd();
    ClsactFilter::attach(target.index, hook, opts.order, fd, name)
        .map(TcAttachment::Clsact)
        .map_err(|e| Failure::new(format!("adding a cls_bpf filter: {e}")))
}

fn attach_tcx(p: &mut SchedClassifier, target: &Interface, hook: Hook, order: TcOrder) -> Result<SchedClassifierLink, ProgramError> {
    let kind = match hook {
        Hook::Ingress => TcAttachType::Ingress,
        Hook::Egress => TcAttachType::Egress,
    };
    let order = match order {
        TcOrder::First => LinkOrder::first(),
        TcOrder::Last => LinkOrder::last(),
    };
    let id = p.attach_with_options(&target.name, kind, TcAttachOptions::TcxOrder(order))?;
    p.take_link(id)
}

/// Whether a TCX attach failed because this kernel has no TCX (6.1: the
/// attach type is unknown, EINVAL).
fn no_tcx(e: &ProgramError) -> bool {
    let ProgramError::SyscallError(s) = e else { return false };
    matches!(s.io_error.raw_os_error(), Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) | Some(524))
}

/// Filters left by a SIGKILLed flowtrace: reported with the way to remove
/// them, or removed when the user asked for it.
fn report_stale(cleanup: bool) -> Result<(), Failure> {
    let stale = match tc::find_stale() {
        Ok(s) => s,
        // Not being able to look is no reason not to trace.
        Err(e) => {
            eprintln!("flowtrace: warning: could not look for stale tc filters: {e}");
            return Ok(());
        }
    };
    if stale.is_empty() {
        return Ok(());
    }
    if cleanup {
        let removed = tc::remove_stale(&stale).map_err(|e| Failure::new(format!("removing stale tc filters: {e}")))?;
        for s in &removed {
            eprintln!("flowtrace: removed stale tc filter {s}");
        }
        return Ok(());
    }
    eprintln!(
        "flowtrace: warning: {} tc filter(s) left by a flowtrace that is no longer running (killed with SIGKILL?) still run on every packet:",
        stale.len()
    );
    for s in &stale {
        eprintln!("  {s}\n    remove: {}", s.tc_command());
    }
    eprintln!("  or run flowtrace again with --cleanup-stale to remove them all");
    Ok(())
}
