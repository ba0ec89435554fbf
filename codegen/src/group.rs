//! Which probes share one program. A source probe on many kernel functions
//! (`kprobe:tcp_* { … }`, or `kprobe:a, kprobe:b { … }`) is checked once
//! per function, and the checked bodies differ only in what `func` and
//! `probe` name: kprobe contexts are `pt_regs` whatever the function. So
//! such a run is compiled once, and the program learns which function fired
//! from its attach cookie, which the runtime sets per function — on one
//! kprobe.multi link where the kernel has them, else on one link each. One
//! program verified instead of hundreds is most of the start-up time saved.

use flowtrace_lang::ast::AttachKind;
use flowtrace_lang::typed::{TProbe, TypedProgram};

/// The probes of `p` in program order, as runs: a run of several probes is
/// compiled as one program; every other probe is a run of one.
pub fn runs(p: &TypedProgram, kprobes_as_fentry: bool) -> Vec<Vec<usize>> {
    let mut runs: Vec<Vec<usize>> = Vec::new();
    for (i, probe) in p.probes.iter().enumerate() {
        let joins = match runs.last() {
            // fentry programs are loaded against one function's BTF: no sharing.
            Some(run) if !kprobes_as_fentry => shareable(&p.probes[run[0]], probe),
            _ => false,
        };
        match runs.last_mut() {
            Some(run) if joins => run.push(i),
            _ => runs.push(vec![i]),
        }
    }
    runs
}

/// Whether `b` can run as `a`'s program: the same source probe, both
/// kprobes or both kretprobes, on vmlinux functions (a module function's
/// name needs its module on the link; kept to the one-link-each path).
fn shareable(a: &TProbe, b: &TProbe) -> bool {
    a.source_probe == b.source_probe
        && matches!(
            (&a.attach.kind, &b.attach.kind),
            (AttachKind::Kprobe { module: None, .. }, AttachKind::Kprobe { module: None, .. })
                | (AttachKind::Kretprobe { module: None, .. }, AttachKind::Kretprobe { module: None, .. })
        )
}

/// Members of `run` that came from a wildcard: their attach point's span
/// is shared with another member (one wildcard expands to many functions at
/// one place in the source).
pub fn from_wildcard(p: &TypedProgram, run: &[usize]) -> Vec<bool> {
    let span = |i: usize| p.probes[i].attach.span;
    run.iter().map(|&i| run.iter().filter(|&&j| span(j) == span(i)).count() > 1).collect()
}

/// The attach cookie of a member: where its `func` name (low 32 bits) and
/// its `probe` name (high 32 bits) are in the probe-name table.
pub fn cookie(func_index: u32, probe_index: u32) -> u64 {
    (u64::from(probe_index) << 32) | u64::from(func_index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtrace_lang::ast::AttachPoint;
    use flowtrace_lang::span::Span;

    fn probe(source: usize, kind: AttachKind, span: u32) -> TProbe {
        TProbe {
            attach: AttachPoint { kind, raw: String::new(), span: Span { start: span, end: span + 1 } },
            source_probe: source,
            predicate: None,
            body: Vec::new(),
            vars: Vec::new(),
            span: Span::default(),
        }
    }

    fn kp(f: &str) -> AttachKind {
        AttachKind::Kprobe { module: None, func: f.into() }
    }

    fn krp(f: &str) -> AttachKind {
        AttachKind::Kretprobe { module: None, func: f.into() }
    }

    fn program(probes: Vec<TProbe>) -> TypedProgram {
        TypedProgram { maps: Vec::new(), probes, warnings: Vec::new(), field_names: Default::default(), settings: Default::default(), records: Default::default() }
    }

    #[test]
    fn one_source_probe_on_many_kprobes_is_one_run() {
        let p = program(vec![
            probe(0, AttachKind::Begin, 0),
            probe(1, kp("tcp_a"), 5),
            probe(1, kp("tcp_b"), 5),
            probe(1, kp("tcp_sendmsg"), 9),
            // Same source probe, but a kretprobe: a program of its own kind.
            probe(1, krp("tcp_a"), 12),
            probe(1, krp("tcp_b"), 12),
            // A different source probe on the same function.
            probe(2, kp("tcp_a"), 20),
            probe(3, AttachKind::Kprobe { module: Some("nf".into()), func: "x".into() }, 30),
            probe(3, AttachKind::Kprobe { module: Some("nf".into()), func: "y".into() }, 30),
        ]);
        assert_eq!(runs(&p, false), [vec![0], vec![1, 2, 3], vec![4, 5], vec![6], vec![7], vec![8]]);
        // Run as fentry (a kernel without kprobes), each function is its own program.
        assert_eq!(runs(&p, true).len(), 9);
        // tcp_a and tcp_b share the wildcard's span; tcp_sendmsg was named on its own.
        assert_eq!(from_wildcard(&p, &[1, 2, 3]), [true, true, false]);
    }

    #[test]
    fn cookies_carry_both_name_indices() {
        let c = cookie(7, 8);
        assert_eq!((c & 0xffff_ffff, c >> 32), (7, 8));
    }
}
