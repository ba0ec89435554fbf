//! `fentry:FUNC` / `fexit:FUNC`: `BPF_PROG_TYPE_TRACING` programs. Unlike the
//! other kinds, the target function is fixed at load time (by its BTF id), so
//! loading needs the kernel's BTF. `kprobe:`/`kretprobe:` probes come here
//! too when the kernel has no kprobes ([`super::capabilities::plan`]).

use super::{capabilities, Failure, Link, LoadFailure};
use aya::programs::{FEntry, FExit, Program};
use aya::Btf;
use flowtrace_codegen::object::ProgramKind;
use flowtrace_lang::ast::AttachPoint;
use std::sync::OnceLock;

/// `enum bpf_attach_type`: BPF_TRACE_FENTRY, BPF_TRACE_FEXIT.
pub(crate) fn attach_type(kind: ProgramKind) -> u32 {
    if kind == ProgramKind::Fexit {
        25
    } else {
        24
    }
}

/// The BTF id of kernel function `func` in vmlinux, which a tracing program
/// names at load time. vmlinux BTF is read once per process (a session may
/// load many fentry entries).
pub(crate) fn btf_id(func: &str) -> Result<u32, String> {
    static VMLINUX: OnceLock<Result<flowtrace_kernel::btf::Btf, String>> = OnceLock::new();
    let btf = VMLINUX.get_or_init(|| {
        flowtrace_kernel::btf::Btf::from_file(std::path::Path::new("/sys/kernel/btf/vmlinux")).map_err(|e| e.to_string())
    });
    let btf = btf.as_ref().map_err(|e| format!("fentry/fexit need the kernel's BTF: {e}"))?;
    btf.find_func(func).ok_or_else(|| format!("kernel function {func} is not in the kernel's BTF (fentry/fexit can trace only those)"))
}

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
