//! `@m[k] = tseries(v, interval, n[, agg])`: the map value is `n` slots of
//! [`layout::TSERIES_SLOT`] bytes, one per interval modulo `n`; a slot
//! whose epoch is not the current one is stale and starts over. Userspace
//! merges the CPUs' slots of one epoch and prints the latest `n` epochs.

use super::Lowerer;
use crate::insn::helper;
use crate::ir::{AluOp, Cond, Inst, Label, Reg, Size, Src};
use crate::layout::TSERIES_SLOT;
use flowtrace_lang::types::TseriesAgg;

impl Lowerer<'_> {
    pub(super) fn tseries_update(&mut self, p: Reg, v: Reg, (interval_ns, intervals): (u64, u32), agg: TseriesAgg, signed: bool, done: Label) {
        let now = self.call(helper::KTIME_GET_BOOT_NS, &[]);
        if self.g.wall_offset_ns != 0 {
            let offset = self.constant(self.g.wall_offset_ns);
            self.alu(AluOp::Add, now, Src::Reg(offset));
        }
        let epoch = self.copy_reg(now);
        let interval = self.constant(interval_ns);
        self.alu(AluOp::Div, epoch, Src::Reg(interval));
        let slot = self.copy_reg(epoch);
        self.alu(AluOp::Mod, slot, Src::Imm(intervals as i32));
        // The verifier does not bound the result of a modulo: say it.
        self.jump(Cond::Ge, slot, Src::Imm(intervals as i32), done);
        self.alu(AluOp::Mul, slot, Src::Imm(TSERIES_SLOT as i32));
        let q = self.copy_reg(p);
        self.alu(AluOp::Add, q, Src::Reg(slot));
        if agg != TseriesAgg::Last {
            let current = self.label();
            let seen = self.vreg();
            self.emit(Inst::Load { size: Size::DW, dst: seen, base: q, off: 16 });
            self.jump(Cond::Eq, seen, Src::Reg(epoch), current);
            self.emit(Inst::Store { size: Size::DW, base: q, off: 0, src: Src::Imm(0) });
            self.emit(Inst::Store { size: Size::DW, base: q, off: 8, src: Src::Imm(0) });
            self.emit(Inst::Store { size: Size::DW, base: q, off: 16, src: Src::Reg(epoch) });
            self.place(current);
        }
        match agg {
            TseriesAgg::Last => {
                self.emit(Inst::Store { size: Size::DW, base: q, off: 0, src: Src::Reg(v) });
                self.emit(Inst::Store { size: Size::DW, base: q, off: 8, src: Src::Reg(now) });
                self.emit(Inst::Store { size: Size::DW, base: q, off: 16, src: Src::Reg(epoch) });
            }
            TseriesAgg::Sum => self.add_at(q, 0, Src::Reg(v)),
            TseriesAgg::Avg => {
                self.add_at(q, 0, Src::Reg(v));
                self.add_at(q, 8, Src::Imm(1));
            }
            TseriesAgg::Min | TseriesAgg::Max => self.min_max(q, 0, v, agg == TseriesAgg::Min, signed, done),
        }
    }
}
