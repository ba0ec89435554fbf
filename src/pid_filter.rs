//! `-p PID` as bpftrace applies it to the probes flowtrace has: a predicate
//! `pid == PID` on every probe that runs in a task's context (tracepoints,
//! kprobes, fentry, …). BEGIN/END run once; `interval:` fires on a timer,
//! unfiltered (bpftrace 0.17's fires with `-p` even while PID sleeps), and
//! so do `profile:`, `software:` and `hardware:` (system-wide, as bpftrace's);
//! `tc:` runs for packets, in no task. The run also ends when PID exits
//! (`run.rs`). Uprobes and USDT probes are moreover installed in PID only
//! (`Session::uprobe_pid`), so USDT semaphores are raised there only.

use flowtrace_lang::ast::BinOp;
use flowtrace_lang::typed::{TExpr, TExprKind, TypedProgram};
use flowtrace_lang::types::{IntType, Type};
use flowtrace_stdlib::{Builtin, ProbeKind};

pub fn apply(program: &mut TypedProgram, pid: u32) {
    for probe in &mut program.probes {
        // A task iterator is restricted when its link is made (bpftrace
        // passes the pid at attach time too); the program runs in
        // flowtrace's own task, so `pid == PID` would drop everything.
        if let flowtrace_lang::ast::AttachKind::Iter { pid: restricted, .. } = &mut probe.attach.kind {
            *restricted = Some(pid);
            continue;
        }
        let kind = probe.attach.kind.probe_kind();
        let filtered = probe.attach.kind.provider().task_context
            && !matches!(
                kind,
                ProbeKind::Begin
                    | ProbeKind::End
                    | ProbeKind::Interval
                    | ProbeKind::Iter
                    | ProbeKind::Profile
                    | ProbeKind::Software
                    | ProbeKind::Hardware
            );
        if !filtered {
            continue;
        }
        let span = probe.span;
        let int = |kind, ty| TExpr { kind, ty, span };
        let same_pid = int(
            TExprKind::Binary {
                op: BinOp::Eq,
                lhs: Box::new(int(TExprKind::Builtin(Builtin::Pid), Type::Int(IntType::U32))),
                rhs: Box::new(int(TExprKind::Int(u64::from(pid)), Type::Int(IntType::U32))),
            },
            Type::Bool,
        );
        // The user's predicate runs only for PID's events, as with `&&`.
        probe.predicate = Some(match probe.predicate.take() {
            None => same_pid,
            Some(own) => int(TExprKind::Binary { op: BinOp::And, lhs: Box::new(same_pid), rhs: Box::new(own) }, Type::Bool),
        });
    }
}
