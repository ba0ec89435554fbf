//! `kprobe:FUNC` / `kretprobe:FUNC`. The program type loads on any kernel
//! (the verifier does not need kprobe support); attaching needs
//! CONFIG_KPROBES, which some kernels (this project's CI host among them) lack.

use super::{Failure, Link, LoadFailure};
use aya::programs::{KProbe, Program};
use flowtrace_lang::ast::{AttachKind, AttachPoint};
use std::path::Path;

pub(super) fn load(prog: &mut Program) -> Result<(), LoadFailure> {
    let p: &mut KProbe = prog.try_into()?;
    Ok(p.load()?)
}

/// Without CONFIG_KPROBES the kernel registers no `kprobe` PMU and tracefs has
/// no `kprobe_events` file; either one means kprobes can work.
pub fn kprobes_available() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe/type").exists()
        || Path::new("/sys/kernel/tracing/kprobe_events").exists()
}

pub(super) fn attach(prog: &mut Program, point: &AttachPoint) -> Result<Link, Failure> {
    let func = match &point.kind {
        AttachKind::Kprobe { func, .. } | AttachKind::Kretprobe { func, .. } => func,
        _ => return Err(Failure::new("not a kprobe attach point")),
    };
    if !kprobes_available() {
        return Err(Failure::new("kprobes are unavailable on this kernel (built without CONFIG_KPROBES)")
            .hint("use a tracepoint instead, e.g. `tracepoint:tcp:tcp_retransmit_skb` or `tracepoint:sock:inet_sock_set_state`"));
    }
    let p: &mut KProbe = prog.try_into()?;
    let id = p.attach(func, 0).map_err(|e| {
        Failure::from(e).hint(format!("is `{func}` a kernel function that can be probed (not inlined, not notrace)?"))
    })?;
    Ok(Link::KProbe(p.take_link(id)?))
}
