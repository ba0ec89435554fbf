//! Statements that act outside the probe: `cat` and `system` (events that
//! userspace carries out), `join` (strings read into the event itself) and
//! `signal` (a helper call).

use super::{Arg, LowerResult, Lowerer, Mem};
use crate::insn::helper;
use crate::ir::{Cond, Inst, Size, Src};
use crate::object::EventKind;
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::typed::{Action, TExpr, TExprKind, JOIN_ITEM_SIZE, JOIN_MAX_ITEMS};
use flowtrace_lang::types::{AddrSpace, Type};

impl Lowerer<'_> {
    pub(super) fn action(&mut self, action: &Action, args: &[TExpr]) -> LowerResult<()> {
        let types = || args.iter().map(|a| a.ty.clone()).collect();
        match action {
            Action::Cat { format } => {
                self.comment(format!(">cat {:?}", format.text));
                self.send_event(EventKind::Cat { format: format.clone(), args: types() }, args)
            }
            Action::System { format } => {
                self.comment(format!(">system {:?}", format.text));
                self.send_event(EventKind::System { format: format.clone(), args: types() }, args)
            }
            Action::Join { sep } => self.join(sep, args),
            Action::Signal => {
                self.comment(">signal()".to_string());
                let Some(TExpr { kind: TExprKind::Int(sig), .. }) = args.first() else {
                    return Err(Diagnostic::error(self.span, "internal error: signal() without a constant signal"));
                };
                self.call(helper::SEND_SIGNAL, &[Arg::Imm(*sig as i32)]);
                Ok(())
            }
        }
    }

    /// `join(argv)`: the strings go straight into the ring-buffer record
    /// (16 × 64 bytes would not fit the stack). The pointer array is walked
    /// unrolled until its NULL; the count tells userspace how many strings
    /// the record holds, since reserved ring memory is not zeroed.
    fn join(&mut self, sep: &str, args: &[TExpr]) -> LowerResult<()> {
        self.comment(">join()".to_string());
        let Some(array) = args.first() else {
            return Err(Diagnostic::error(self.span, "internal error: join() without its array"));
        };
        let user = matches!(array.ty, Type::Pointer(_, AddrSpace::User));
        let (read, read_str) = if user {
            (helper::PROBE_READ_USER, helper::PROBE_READ_USER_STR)
        } else {
            (helper::PROBE_READ_KERNEL, helper::PROBE_READ_KERNEL_STR)
        };
        let v = self.expr(array)?;
        let base = self.scalar(v)?;
        let slot = self.alloc(8)?;
        let id = self.g.events.len() as i32;
        self.g.events.push(EventKind::Join { sep: sep.to_string() });
        let size = 16 + JOIN_MAX_ITEMS * JOIN_ITEM_SIZE;
        let events = self.g.events_map;
        let p = self.call(helper::RINGBUF_RESERVE, &[Arg::Map(events), Arg::Imm(size as i32), Arg::Imm(0)]);
        let (lost, done, end) = (self.label(), self.label(), self.label());
        self.jump(Cond::Eq, p, Src::Imm(0), lost);
        self.emit(Inst::Store { size: Size::DW, base: p, off: 0, src: Src::Imm(id) });
        self.emit(Inst::Store { size: Size::DW, base: p, off: 8, src: Src::Imm(0) });
        for i in 0..JOIN_MAX_ITEMS {
            let at = self.copy_reg(base);
            self.alu(crate::ir::AluOp::Add, at, Src::Imm((i * 8) as i32));
            self.emit(Inst::Store { size: Size::DW, base: slot.base, off: slot.off, src: Src::Imm(0) });
            self.call(read, &[Arg::Addr(slot), Arg::Imm(8), Arg::Reg(at)]);
            let item = self.load_scalar(slot);
            self.jump(Cond::Eq, item, Src::Imm(0), done);
            let dst = Mem { base: p, off: (16 + i * JOIN_ITEM_SIZE) as i16 };
            self.call(read_str, &[Arg::Addr(dst), Arg::Imm(JOIN_ITEM_SIZE as i32), Arg::Reg(item)]);
            self.emit(Inst::Store { size: Size::DW, base: p, off: 8, src: Src::Imm(i as i32 + 1) });
        }
        self.place(done);
        self.call(helper::RINGBUF_SUBMIT, &[Arg::Reg(p), Arg::Imm(0)]);
        self.goto(end);
        self.place(lost);
        let slot = self.g.lost_events_slot();
        self.count_stat(slot);
        self.place(end);
        Ok(())
    }
}
