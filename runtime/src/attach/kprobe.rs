//! `kprobe:FUNC` / `kretprobe:FUNC`. The program type loads on any kernel
//! (the verifier does not need kprobe support); attaching needs
//! CONFIG_KPROBES, which some kernels (this project's CI host among them)
//! lack: [`super::capabilities::plan`] then runs these probes as fentry/fexit
//! or explains why they cannot run, before anything is loaded.

use super::capabilities::{self, kprobes_available, tracepoint_for};
use super::{Failure, Link, LoadFailure};
use aya::programs::{KProbe, Program};
use flowtrace_lang::ast::{AttachKind, AttachPoint};

pub(super) fn load(prog: &mut Program) -> Result<(), LoadFailure> {
    let p: &mut KProbe = prog.try_into()?;
    Ok(p.load()?)
}

pub(super) fn attach(prog: &mut Program, point: &AttachPoint) -> Result<Link, Failure> {
    let func = match &point.kind {
        AttachKind::Kprobe { func, .. } | AttachKind::Kretprobe { func, .. } => func,
        _ => return Err(Failure::new("not a kprobe attach point")),
    };
    if !kprobes_available() {
        let hint = match tracepoint_for(func) {
            Some(tp) => format!("`{tp}` fires in the same place; its fields are `args.NAME` instead of argN"),
            None => "use a tracepoint instead (`flowtrace -l 'tracepoint:tcp:*'` lists some)".into(),
        };
        return Err(Failure::new("kprobes are unavailable on this kernel (built without CONFIG_KPROBES)").hint(hint));
    }
    let p: &mut KProbe = prog.try_into()?;
    let id = p.attach(func, 0).map_err(|e| {
        capabilities::failure(&e)
            .hint(format!("`flowtrace -l 'kprobe:{func}*'` lists the kernel functions flowtrace knows by that name"))
    })?;
    Ok(Link::KProbe(p.take_link(id).map_err(|e| capabilities::failure(&e))?))
}
