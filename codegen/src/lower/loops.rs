//! Loops: `while`, `for ($i : a..b)`, and `break`/`continue`.
//!
//! Both loops are plain back edges. Kernels since 5.3 verify such a loop by
//! walking it round by round, so it must visibly terminate: the verifier
//! follows the counter as a known constant and stops once the condition is
//! known false. A `for` range therefore also stops after `MAX_ROUNDS`
//! rounds whatever its bounds, which makes every range verifiable (a bound
//! read from a map is unknown to the verifier); its rounds cost verifier
//! work, so the cap is kept modest. A range cut short is counted in the
//! stats map and reported at exit, never silent.
//!
//! Where the kernel has `bpf_loop` (5.17, `CompileOptions::bpf_loop`), a
//! `for` range runs its body as a callback instead (as bpftrace does), up
//! to the helper's own limit of `BPF_LOOP_MAX_ROUNDS` rounds, cut and
//! counted the same way beyond it ([`super::callbacks`]).

use super::{LoopLabels, LowerResult, Lowerer};
use crate::ir::{AluOp, Cond, Reg, Src};
use flowtrace_lang::typed::{TExpr, TStmt, VarId};

/// The most rounds one `for` range makes as a back edge (see the module
/// comment).
pub const MAX_ROUNDS: i32 = 1024;
/// The most rounds `bpf_loop` makes (the kernel's `BPF_MAX_LOOPS`; more is
/// refused with -E2BIG).
pub const BPF_LOOP_MAX_ROUNDS: i32 = 1 << 23;

/// The round cap of a `for` range compiled with or without `bpf_loop`.
pub fn round_cap(bpf_loop: bool) -> i32 {
    if bpf_loop {
        BPF_LOOP_MAX_ROUNDS
    } else {
        MAX_ROUNDS
    }
}

impl Lowerer<'_> {
    pub(super) fn while_loop(&mut self, cond: &TExpr, body: &[TStmt]) -> LowerResult<()> {
        self.comment(">while".to_string());
        if self.g.bpf_loop && self.scratch.is_none() {
            return self.while_by_bpf_loop(cond, body);
        }
        let (top, end) = (self.label(), self.label());
        self.place(top);
        self.cond_jump_false(cond, end)?;
        self.loop_body(body, LoopLabels { next: top, end })?;
        self.goto(top);
        self.place(end);
        Ok(())
    }

    /// `for ($i : start..end)`: both bounds evaluated once, then `$i` runs
    /// from `start` while it is below `end` (signed), at most `MAX_ROUNDS`
    /// rounds.
    pub(super) fn for_range(&mut self, var: VarId, start: &TExpr, end: &TExpr, body: &[TStmt]) -> LowerResult<()> {
        self.comment(format!(">for ${}", self.probe.vars[var.0 as usize].name));
        let first = self.expr(start)?;
        let first = self.scalar(first)?;
        let last = self.expr(end)?;
        let last = self.scalar(last)?;
        if self.g.bpf_loop && self.scratch.is_none() {
            return self.for_range_by_bpf_loop(var, first, last, body);
        }
        // The bound and the round count live on the stack: the body's own
        // statements may use every register.
        let (last_slot, rounds_slot) = (self.alloc(8)?, self.alloc(8)?);
        self.store_scalar(last_slot, last);
        let zero = self.constant(0);
        self.store_scalar(rounds_slot, zero);
        let slot = self.vars[var.0 as usize];
        self.store_scalar(slot, first);
        let (top, step, end) = (self.label(), self.label(), self.label());
        self.place(top);
        let i = self.load_scalar(slot);
        let bound = self.load_scalar(last_slot);
        self.jump(Cond::Sge, i, Src::Reg(bound), end);
        let rounds = self.load_scalar(rounds_slot);
        let (go_on, cut) = (self.label(), self.label());
        self.jump(Cond::Sge, rounds, Src::Imm(MAX_ROUNDS), cut);
        self.goto(go_on);
        // Cutting a range short is never silent: the runtime reports the count.
        self.place(cut);
        let stat = crate::object::stats_loops_cut_slot(self.g.user_maps.len() as u32);
        self.count_stat(stat);
        self.goto(end);
        self.place(go_on);
        self.loop_body(body, LoopLabels { next: step, end })?;
        self.place(step);
        // `$i` is the loop's own: the body cannot assign it (bpftrace's rule
        // too), but it is reloaded anyway so the step never trusts a register.
        for s in [slot, rounds_slot] {
            let v = self.load_scalar(s);
            self.alu(AluOp::Add, v, Src::Imm(1));
            self.store_scalar(s, v);
        }
        self.goto(top);
        self.place(end);
        Ok(())
    }

    /// `first..last` as `bpf_loop(last - first, …)`: no round when the range
    /// is empty, at most `BPF_LOOP_MAX_ROUNDS` (a cut counted as above).
    fn for_range_by_bpf_loop(&mut self, var: VarId, first: Reg, last: Reg, body: &[TStmt]) -> LowerResult<()> {
        let rounds = self.copy_reg(last);
        self.alu(AluOp::Sub, rounds, Src::Reg(first));
        let (fits, end) = (self.label(), self.label());
        self.jump(Cond::Sle, rounds, Src::Imm(0), end);
        self.jump(Cond::Sle, rounds, Src::Imm(BPF_LOOP_MAX_ROUNDS), fits);
        let stat = crate::object::stats_loops_cut_slot(self.g.user_maps.len() as u32);
        self.count_stat(stat);
        self.alu(AluOp::Mov, rounds, Src::Imm(BPF_LOOP_MAX_ROUNDS));
        self.place(fits);
        self.range_by_bpf_loop(var, first, rounds, body)?;
        self.place(end);
        Ok(())
    }

    fn loop_body(&mut self, body: &[TStmt], labels: LoopLabels) -> LowerResult<()> {
        self.loops.push(labels);
        let done = body.iter().try_for_each(|s| self.stmt(s));
        self.loops.pop();
        done
    }

    /// `break` (`true`) or `continue`.
    pub(super) fn loop_jump(&mut self, is_break: bool) -> LowerResult<()> {
        let Some(labels) = self.loops.last().copied() else {
            return Err(flowtrace_lang::diag::Diagnostic::error(self.span, "'break'/'continue' outside of a loop"));
        };
        self.comment(if is_break { ">break" } else { ">continue" }.to_string());
        self.goto(if is_break { labels.end } else { labels.next });
        Ok(())
    }
}
