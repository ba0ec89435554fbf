//! Reading an aggregation inside a probe (`if (@c > 5)`, `(int64)@s`): the
//! value is the total over every CPU's copy, as bpftrace reads it, not the
//! running CPU's share.
//!
//! `bpf_map_lookup_percpu_elem` (5.19) returns CPU `n`'s copy, or NULL once
//! `n` reaches the kernel's CPU count (or when the key is absent), which ends
//! the walk. The walk is a bounded loop over `possible_cpus` rounds (the
//! verifier walks it round by round, the counter being a known constant).

use super::{Arg, LowerResult, Lowerer, Mem, Val};
use crate::insn::helper;
use crate::ir::{AluOp, Cond, Inst, Label, Reg, Size, Src};
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::typed::MapId;
use flowtrace_lang::types::AggKind;

/// The most CPUs a read adds up when the machine's count is unknown.
pub const MAX_CPUS: u32 = 256;

/// Stack slots the walk keeps its state in (the loop body calls a helper,
/// which clobbers r0–r5).
struct Acc {
    cpu: Mem,
    /// The sum (count, sum, avg) or the best value so far (min, max).
    value: Mem,
    /// avg: the number of values; min/max: whether any CPU had one.
    count: Mem,
}

impl Lowerer<'_> {
    /// The total of `@map[key]` (key already built at `key`) over all CPUs.
    pub(super) fn agg_total(&mut self, map: MapId, key: Mem, agg: AggKind) -> LowerResult<Val> {
        if matches!(agg, AggKind::Stats { .. } | AggKind::Hist | AggKind::Lhist { .. }) {
            return Err(Diagnostic::error(self.span, format!("a {agg} value cannot be read in an expression")));
        }
        self.comment(format!(">total over CPUs ({agg})"));
        let acc = Acc { cpu: self.alloc(8)?, value: self.alloc(8)?, count: self.alloc(8)? };
        for slot in [acc.cpu, acc.value, acc.count] {
            self.zero(slot, 8);
        }
        let cpus = if self.g.possible_cpus == 0 { MAX_CPUS } else { self.g.possible_cpus };
        let (top, done) = (self.label(), self.label());
        self.place(top);
        let cpu = self.load_scalar(acc.cpu);
        self.jump(Cond::Ge, cpu, Src::Imm(cpus as i32), done);
        let m = self.map_ref(map);
        let p = self.call(helper::MAP_LOOKUP_PERCPU_ELEM, &[Arg::Map(m), Arg::Addr(key), Arg::Reg(cpu)]);
        self.jump(Cond::Eq, p, Src::Imm(0), done);
        self.add_copy(&acc, p, agg);
        let cpu = self.load_scalar(acc.cpu);
        self.alu(AluOp::Add, cpu, Src::Imm(1));
        self.store_scalar(acc.cpu, cpu);
        self.goto(top);
        self.place(done);
        let out = self.load_scalar(acc.value);
        if matches!(agg, AggKind::Avg { .. }) {
            // sum / count, truncated as userspace prints it; 0 when empty.
            let count = self.load_scalar(acc.count);
            let end = self.label();
            self.jump(Cond::Eq, count, Src::Imm(0), end);
            self.signed_div(out, Src::Reg(count), false);
            self.place(end);
        }
        Ok(Val::Scalar(out))
    }

    /// Fold one CPU's copy at `p` into the accumulator.
    fn add_copy(&mut self, acc: &Acc, p: Reg, agg: AggKind) {
        let load = |l: &mut Self, off: i16| {
            let r = l.vreg();
            l.emit(Inst::Load { size: Size::DW, dst: r, base: p, off });
            r
        };
        let add = |l: &mut Self, slot: Mem, v: Reg| {
            let t = l.load_scalar(slot);
            l.alu(AluOp::Add, t, Src::Reg(v));
            l.store_scalar(slot, t);
        };
        match agg {
            AggKind::Count | AggKind::Sum { .. } => {
                let v = load(self, 0);
                add(self, acc.value, v);
            }
            AggKind::Avg { .. } => {
                let (sum, n) = (load(self, 0), load(self, 8));
                add(self, acc.value, sum);
                add(self, acc.count, n);
            }
            AggKind::Min { signed } | AggKind::Max { signed } => {
                let skip = self.label();
                let has = load(self, 8);
                self.jump(Cond::Eq, has, Src::Imm(0), skip);
                let v = load(self, 0);
                self.keep_best(acc, v, matches!(agg, AggKind::Min { .. }), signed, skip);
                self.place(skip);
            }
            AggKind::Stats { .. } | AggKind::Hist | AggKind::Lhist { .. } | AggKind::Tseries { .. } => {}
        }
    }

    /// Take `v` if no CPU had a value yet or it beats the best so far.
    fn keep_best(&mut self, acc: &Acc, v: Reg, is_min: bool, signed: bool, skip: Label) {
        let take = self.label();
        let seen = self.load_scalar(acc.count);
        self.jump(Cond::Eq, seen, Src::Imm(0), take);
        let best = self.load_scalar(acc.value);
        let keep = match (is_min, signed) {
            (true, true) => Cond::Sge,
            (true, false) => Cond::Ge,
            (false, true) => Cond::Sle,
            (false, false) => Cond::Le,
        };
        self.jump(keep, v, Src::Reg(best), skip);
        self.place(take);
        self.store_scalar(acc.value, v);
        let one = self.constant(1);
        self.store_scalar(acc.count, one);
    }
}
