//! `tc:IFACE:ingress|egress`: a `BPF_PROG_TYPE_SCHED_CLS` program. Loading works
//! now; attaching (TCX on ≥ 6.6, clsact fallback, interface globs, network
//! namespaces) is still to be written and reports that plainly.

use super::{Failure, Link, LoadFailure};
use aya::programs::{Program, SchedClassifier};
use flowtrace_lang::ast::{AttachKind, AttachPoint};

pub(super) fn load(prog: &mut Program) -> Result<(), LoadFailure> {
    let p: &mut SchedClassifier = prog.try_into()?;
    Ok(p.load()?)
}

pub(super) fn attach(_prog: &mut Program, point: &AttachPoint) -> Result<Link, Failure> {
    let AttachKind::Tc { iface, .. } = &point.kind else {
        return Err(Failure::new("not a tc attach point"));
    };
    Err(Failure::new(format!("attaching tc programs (interface `{iface}`) is not implemented yet")))
}
