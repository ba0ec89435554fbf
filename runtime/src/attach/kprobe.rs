//! `kprobe:FUNC` / `kretprobe:FUNC`. The program type loads on any kernel
//! (the verifier does not need kprobe support); attaching needs
//! CONFIG_KPROBES, which some kernels (this project's CI host among them)
//! lack: [`super::capabilities::plan`] then runs these probes as fentry/fexit
//! or explains why they cannot run, before anything is loaded.

use super::capabilities::{self, kprobes_available, tracepoint_for};
use super::{Failure, Link, LoadFailure};
use crate::error::RuntimeError;
use aya::programs::{KProbe, Program};
use flowtrace_codegen::object::ProgramKind;
use flowtrace_lang::ast::AttachPoint;
use flowtrace_lang::span::Span;

pub(super) fn load(prog: &mut Program) -> Result<(), LoadFailure> {
    let p: &mut KProbe = prog.try_into()?;
    Ok(p.load()?)
}

pub(super) fn attach(prog: &mut Program, point: &AttachPoint) -> Result<Link, Failure> {
    let Some(func) = point.kind.function() else {
        return Err(Failure::new("not a kprobe attach point"));
    };
    if !kprobes_available() {
        return Err(no_kprobes(func));
    }
    let p: &mut KProbe = prog.try_into()?;
    let id = p.attach(func, 0).map_err(|e| {
        capabilities::failure(&e)
            .hint(format!("`flowtrace -l 'kprobe:{func}*'` lists the kernel functions flowtrace knows by that name"))
    })?;
    Ok(Link::KProbe(p.take_link(id).map_err(|e| capabilities::failure(&e))?))
}

/// Why `kprobe:func` cannot attach on a kernel without kprobes.
pub(super) fn no_kprobes(func: &str) -> Failure {
    let hint = match tracepoint_for(func) {
        Some(tp) => format!("`{tp}` fires in the same place; its fields are `args.NAME` instead of argN"),
        None => "use a tracepoint instead (`flowtrace -l 'tracepoint:tcp:*'` lists some)".into(),
    };
    Failure::new("kprobes are unavailable on this kernel (built without CONFIG_KPROBES)").hint(hint)
}

/// The one warning line for the functions of a wildcard (`names`, of
/// `total`) that were skipped.
pub(crate) fn warn_skipped(names: &[&str], total: usize) {
    let more = match names.len() {
        n if n > 6 => format!(" and {} more", n - 6),
        _ => String::new(),
    };
    eprintln!(
        "flowtrace: warning: skipped {} of {total} probes matched by a wildcard (the kernel cannot trace them): {}{more}",
        names.len(),
        names[..names.len().min(6)].join(", ")
    );
}

/// For each program (in order): the index of the first program of its
/// wildcard group, when it is one of several kprobe/kretprobe/fentry/fexit
/// or uprobe/uretprobe/usdt programs expanded from one attach point (they
/// share its span).
pub(crate) fn wildcard_groups<'a>(programs: impl Iterator<Item = (ProgramKind, &'a AttachPoint)>) -> Vec<Option<usize>> {
    let traced: Vec<Option<Span>> = programs
        .map(|(kind, point)| {
            matches!(
                kind,
                ProgramKind::Kprobe
                    | ProgramKind::Kretprobe
                    | ProgramKind::Fentry
                    | ProgramKind::Fexit
                    | ProgramKind::Uprobe
                    | ProgramKind::Uretprobe
            )
            .then_some(point.span)
        })
        .collect();
    traced
        .iter()
        .map(|span| {
            let span = (*span)?;
            let mut same = traced.iter().enumerate().filter(|(_, s)| **s == Some(span)).map(|(i, _)| i);
            let first = same.next()?;
            same.next().map(|_| first)
        })
        .collect()
}

/// After attaching: a wildcard none of whose functions attached is an error
/// (the first function's); otherwise one warning line per wildcard names the
/// functions that were skipped.
pub(crate) fn report_skipped<'a>(
    groups: &[Option<usize>],
    skipped: Vec<(usize, RuntimeError)>,
    name_of: impl Fn(usize) -> &'a str,
) -> Result<(), RuntimeError> {
    // (first program of the group, the group's failures in program order)
    let mut by_group: Vec<(usize, Vec<(usize, RuntimeError)>)> = Vec::new();
    for (index, error) in skipped {
        let first = groups[index].unwrap_or(index);
        match by_group.iter_mut().find(|(f, _)| *f == first) {
            Some((_, failures)) => failures.push((index, error)),
            None => by_group.push((first, vec![(index, error)])),
        }
    }
    for (first, failures) in by_group {
        let members = groups.iter().filter(|g| **g == Some(first)).count();
        if failures.len() >= members {
            if let Some((_, error)) = failures.into_iter().next() {
                return Err(error);
            }
            continue;
        }
        let names: Vec<&str> = failures.iter().map(|(i, _)| name_of(*i)).collect();
        warn_skipped(&names, members);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtrace_lang::ast::AttachKind;

    fn point(func: &str, start: u32) -> AttachPoint {
        AttachPoint {
            kind: AttachKind::Kprobe { module: None, func: func.into() },
            raw: format!("kprobe:{func}"),
            span: Span { start, end: start + 5 },
        }
    }

    #[test]
    fn functions_expanded_from_one_wildcard_form_a_group() {
        let points = [point("a", 0), point("b", 0), point("c", 10), point("d", 0)];
        let mut kinds = [ProgramKind::Kprobe; 4];
        let groups = wildcard_groups(kinds.iter().copied().zip(points.iter()));
        assert_eq!(groups, [Some(0), Some(0), None, Some(0)]);
        // A tracepoint sharing a span is not part of a kprobe group.
        kinds[1] = ProgramKind::Tracepoint;
        let groups = wildcard_groups(kinds.iter().copied().zip(points.iter()));
        assert_eq!(groups, [Some(0), None, None, Some(0)]);
    }

    fn failed(i: usize) -> (usize, RuntimeError) {
        let e = crate::error::AttachError { program: i, probe: format!("p{i}"), reason: "no".into(), hint: None };
        (i, RuntimeError::Attach(e))
    }

    #[test]
    fn a_wildcard_fails_only_when_nothing_attached() {
        let groups = [Some(0), Some(0), Some(0), None];
        let names = ["kprobe:a", "kprobe:b", "kprobe:c", "kprobe:d"];
        assert!(report_skipped(&groups, vec![failed(1)], |i| names[i]).is_ok());
        let all = report_skipped(&groups, vec![failed(0), failed(1), failed(2)], |i| names[i]);
        match all {
            Err(RuntimeError::Attach(a)) => assert_eq!(a.probe, "p0"),
            other => panic!("expected the first attach error, got {other:?}"),
        }
    }
}
