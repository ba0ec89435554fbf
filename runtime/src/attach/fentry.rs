//! `fentry:FUNC` / `fexit:FUNC`: `BPF_PROG_TYPE_TRACING` programs. Unlike the
//! other kinds, the target function is fixed at load time (by its BTF id), so
//! loading needs the kernel's BTF. `kprobe:`/`kretprobe:` probes come here
//! too when the kernel has no kprobes ([`super::capabilities::plan`]).

use super::{capabilities, Failure, Link, LoadFailure};
use aya::programs::{FEntry, FExit, Program};
use aya::Btf;
use flowtrace_lang::ast::AttachPoint;

pub(super) fn load(
    prog: &mut Program,
    point: &AttachPoint,
    btf: impl FnOnce() -> Result<Btf, String>,
) -> Result<(), LoadFailure> {
    // A kprobe run as fentry (a kernel without kprobes) comes here too.
    let Some(func) = point.kind.function() else {
        return Err(LoadFailure::Other("not a function attach point".into()));
    };
    let btf = btf().map_err(LoadFailure::Other)?;
    match prog {
        Program::FEntry(p) => Ok(p.load(func, &btf)?),
        Program::FExit(p) => Ok(p.load(func, &btf)?),
        _ => Err(LoadFailure::Other("not an fentry/fexit program".into())),
    }
}

pub(super) fn attach(prog: &mut Program) -> Result<Link, Failure> {
    match prog {
        Program::FEntry(p) => {
            let p: &mut FEntry = p;
            let id = p.attach().map_err(|e| capabilities::failure(&e))?;
            Ok(Link::FEntry(p.take_link(id)?))
        }
        Program::FExit(p) => {
            let p: &mut FExit = p;
            let id = p.attach().map_err(|e| capabilities::failure(&e))?;
            Ok(Link::FExit(p.take_link(id)?))
        }
        _ => Err(Failure::new("not an fentry/fexit program")),
    }
}
