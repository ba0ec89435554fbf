//! `iter:NAME`: a `BPF_PROG_TYPE_TRACING` program with expected attach type
//! `BPF_TRACE_ITER`, bound at load time to the BTF id of `bpf_iter_NAME`.
//! "Attaching" makes an iterator link (`BPF_LINK_CREATE`, no target); the
//! program runs when an iterator made from that link (`BPF_ITER_CREATE`) is
//! read: once per object, then once more with a NULL object. [`run`] reads
//! it to the end. The program writes nothing to the iterator's seq_file:
//! its printf and the rest go through the ring buffer like any probe's, so
//! output formats, `-f json` and maps behave the same everywhere.
//!
//! Minimum kernel: 5.8 (task, task_file), 5.9 (tcp, udp).

use super::{Failure, Link, LoadFailure};
use aya::programs::{Iter, Program};
use aya::Btf;
use flowtrace_lang::ast::AttachPoint;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

/// `enum bpf_attach_type`: BPF_TRACE_ITER.
pub(crate) const BPF_TRACE_ITER: u32 = 28;

/// The vmlinux BTF id of `bpf_iter_NAME`, which the program names at load.
pub(crate) fn btf_id(point: &AttachPoint) -> Result<u32, String> {
    let name = point.kind.iterator().ok_or("not an iter attach point")?;
    super::fentry::btf_id(&format!("bpf_iter_{name}"))
        .map_err(|_| format!("iterator '{name}' is not in the kernel's BTF (no bpf_iter_{name})"))
}

/// Through aya's own loader (`Loaded::load_with_aya_loader`, tests only).
pub(super) fn load(prog: &mut Program, point: &AttachPoint, btf: impl FnOnce() -> Result<Btf, String>) -> Result<(), LoadFailure> {
    let name = point.kind.iterator().ok_or_else(|| LoadFailure::Other("not an iter attach point".into()))?;
    let btf = btf().map_err(LoadFailure::Other)?;
    let p: &mut Iter = prog.try_into()?;
    Ok(p.load(name, &btf)?)
}

pub(super) fn attach(prog: &mut Program, point: &AttachPoint) -> Result<Link, Failure> {
    let p: &mut Iter = prog.try_into()?;
    let fd = p.fd()?;
    if let Some(pid) = point.kind.iterator_pid() {
        return crate::sys_links::iter_link(fd.as_fd(), Some(pid)).map(Link::Iter).map_err(|e| {
            let text = e.to_string();
            let text = text.split(" (os error").next().unwrap_or(&text).to_string();
            Failure::new(format!("the kernel refused to restrict the iterator to process {pid} (-p): {text}"))
                .hint("restricting a task iterator to one process needs Linux 6.1; filter in the script instead, e.g. /ctx.task->tgid == PID/")
        });
    }
    // The program loaded, so a refusal here is about the iterator's target:
    // some iterators (cgroup, …) want one that flowtrace does not pass.
    let link = crate::sys_links::iter_link(fd.as_fd(), None).map_err(|e| {
        let text = e.to_string();
        let text = text.split(" (os error").next().unwrap_or(&text).to_string();
        Failure::new(format!("the kernel refused the iterator link: {text}"))
            .hint("iterators over one map or cgroup need that target, which flowtrace cannot name yet; task, task_file, task_vma, tcp, udp, unix need none")
    })?;
    Ok(Link::Iter(link))
}

/// Runs the iterator of `link` to its end: reading it runs the program over
/// every object. `between` is called after each chunk the kernel returns
/// (the caller drains the ring buffer there, so a long iteration does not
/// overrun it); it returns `false` to stop early (`exit()` was called).
pub(crate) fn run(link: BorrowedFd<'_>, mut between: impl FnMut() -> bool) -> std::io::Result<()> {
    let fd: OwnedFd = crate::sys_links::iter_create(link)?;
    let mut file = std::fs::File::from(fd);
    // The program writes one byte per object (see the codegen's
    // `iterator_prologue`), so each read runs it over at most this many
    // objects before the ring buffer (256 KiB by default) is drained:
    // room for records of up to 4 KiB each.
    let mut buf = [0u8; 64];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            // More than the kernel's per-read object budget without any
            // output: the next read goes on where this one stopped.
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        if !between() {
            return Ok(());
        }
    }
}
