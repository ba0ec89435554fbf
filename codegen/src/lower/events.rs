//! Asynchronous actions sent to userspace through the ring buffer: `printf`,
//! `print`, `time`, `clear`, `zero`, `exit`. A record is the event id (u64)
//! followed by the arguments laid out by [`crate::layout`]; the id indexes
//! `CompiledProgram::events`.

use super::{Arg, LowerResult, Lowerer, Mem, Val};
use crate::insn::helper;
use crate::ir::{Cond, Inst, Reg, Size, Src};
use crate::layout;
use crate::object::EventKind;
use flowtrace_lang::typed::{MapId, TExpr};
use flowtrace_lang::types::Type;
use flowtrace_stdlib::printf::Format;

/// `bpf_ringbuf_query`'s flag for the bytes not yet consumed.
const BPF_RB_AVAIL_DATA: i32 = 0;
/// `bpf_ringbuf_submit` flags.
const BPF_RB_NO_WAKEUP: i32 = 1;
const BPF_RB_FORCE_WAKEUP: i32 = 2;

/// Whether submitting a record wakes the reader.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// The kernel's default: wake when the reader has caught up. Control
    /// records (`exit`, `clear`, `print`, …) act at once.
    Default,
    /// `printf`: a wake-up per record costs more in the kernel than the
    /// record (irq_work + the reader's context switch), so wake only once
    /// the unread bytes pass `Globals::printf_wake_bytes`; the reader's
    /// short poll timeout picks up the rest.
    Batched,
}

impl Lowerer<'_> {
    /// Reserve a record, fill it, submit it; count it as lost when the ring
    /// buffer is full. Arguments are evaluated before the reservation so no
    /// helper call happens while the record is held.
    pub(super) fn send_event(&mut self, kind: EventKind, args: &[TExpr]) -> LowerResult<()> {
        self.send_event_waking(kind, args, Wake::Default)
    }

    fn send_event_waking(&mut self, kind: EventKind, args: &[TExpr], wake: Wake) -> LowerResult<()> {
        let mut vals = Vec::with_capacity(args.len());
        for a in args {
            let v = self.expr(a)?;
            let v = match v {
                Val::KernelPlace(_) => Val::Bytes(self.bytes_of(v, &a.ty)?),
                other => other,
            };
            vals.push(v);
        }
        let types: Vec<Type> = args.iter().map(|a| a.ty.clone()).collect();
        let (offs, size) = layout::offsets(&types);
        let id = self.g.events.len() as i32;
        self.g.events.push(kind);
        let events = self.g.events_map;
        let flags = match wake {
            Wake::Default => Src::Imm(0),
            Wake::Batched => Src::Reg(self.batched_wake_flags(8 + size)),
        };
        let p = self.call(helper::RINGBUF_RESERVE, &[Arg::Map(events), Arg::Imm(8 + size as i32), Arg::Imm(0)]);
        let (lost, end) = (self.label(), self.label());
        self.jump(Cond::Eq, p, Src::Imm(0), lost);
        self.emit(Inst::Store { size: Size::DW, base: p, off: 0, src: Src::Imm(id) });
        for (i, (v, ty)) in vals.into_iter().zip(&types).enumerate() {
            self.store_value(Mem { base: p, off: 8 + offs[i] as i16 }, ty, v, ty)?;
        }
        match flags {
            Src::Reg(f) => self.call(helper::RINGBUF_SUBMIT, &[Arg::Reg(p), Arg::Reg(f)]),
            Src::Imm(f) => self.call(helper::RINGBUF_SUBMIT, &[Arg::Reg(p), Arg::Imm(f)]),
        };
        self.goto(end);
        self.place(lost);
        let slot = self.g.lost_events_slot();
        self.count_stat(slot);
        self.place(end);
        Ok(())
    }

    /// `-k`: when helper `helper` returned `ret` < 0, send its errno with
    /// the current source span. Nothing without `-k`: a failed read then
    /// leaves its zeroed buffer, as in bpftrace.
    pub fn warn_on_helper_error(&mut self, ret: Reg, helper: i32) {
        if !self.g.helper_warnings {
            return;
        }
        let ok = self.label();
        self.jump(Cond::Sge, ret, Src::Imm(0), ok);
        let id = self.g.events.len() as i32;
        self.g.events.push(EventKind::HelperError { helper, span: self.span });
        let events = self.g.events_map;
        let p = self.call(helper::RINGBUF_RESERVE, &[Arg::Map(events), Arg::Imm(16), Arg::Imm(0)]);
        let lost = self.label();
        self.jump(Cond::Eq, p, Src::Imm(0), lost);
        self.emit(Inst::Store { size: Size::DW, base: p, off: 0, src: Src::Imm(id) });
        self.emit(Inst::Store { size: Size::DW, base: p, off: 8, src: Src::Reg(ret) });
        self.call(helper::RINGBUF_SUBMIT, &[Arg::Reg(p), Arg::Imm(0)]);
        self.goto(ok);
        self.place(lost);
        let slot = self.g.lost_events_slot();
        self.count_stat(slot);
        self.place(ok);
    }

    /// The submit flags of a [`Wake::Batched`] record of `bytes`, asked
    /// before the reservation (no helper call while a record is held): a
    /// wake-up only for the record that takes the unread bytes across the
    /// threshold. Not for every record past it: a reader that is behind is
    /// awake and draining already (it sleeps only once the ring is empty,
    /// and its poll sees data that came meanwhile), and a forced wake-up per
    /// record is what costs.
    fn batched_wake_flags(&mut self, bytes: u32) -> crate::ir::Reg {
        let events = self.g.events_map;
        let unread = self.call(helper::RINGBUF_QUERY, &[Arg::Map(events), Arg::Imm(BPF_RB_AVAIL_DATA)]);
        let flags = self.constant(BPF_RB_NO_WAKEUP as u64);
        let quiet = self.label();
        let threshold = self.g.printf_wake_bytes as i32;
        self.jump(Cond::Ge, unread, Src::Imm(threshold), quiet);
        self.jump(Cond::Lt, unread, Src::Imm(threshold.saturating_sub(bytes as i32).max(0)), quiet);
        self.alu(crate::ir::AluOp::Mov, flags, Src::Imm(BPF_RB_FORCE_WAKEUP));
        self.place(quiet);
        flags
    }

    pub fn printf(&mut self, format: &Format, args: &[TExpr]) -> LowerResult<()> {
        self.comment(format!(">printf {:?}", format.text));
        let types = args.iter().map(|a| a.ty.clone()).collect();
        self.send_event_waking(EventKind::Printf { format: format.clone(), args: types }, args, Wake::Batched)
    }

    pub fn time_event(&mut self, format: &str) -> LowerResult<()> {
        self.comment(">time()".to_string());
        self.send_event(EventKind::Time { format: format.to_string() }, &[])
    }

    pub fn print_map_event(&mut self, map: MapId, top: u64, div: u64) -> LowerResult<()> {
        self.comment(">print(@map)".to_string());
        self.send_event(EventKind::PrintMap { map, top, div }, &[])
    }

    pub fn print_value_event(&mut self, value: &TExpr) -> LowerResult<()> {
        self.comment(">print(value)".to_string());
        self.send_event(EventKind::PrintValue { ty: value.ty.clone() }, std::slice::from_ref(value))
    }

    pub fn clear_event(&mut self, map: MapId) -> LowerResult<()> {
        self.comment(">clear()".to_string());
        self.send_event(EventKind::Clear { map }, &[])
    }

    pub fn zero_event(&mut self, map: MapId) -> LowerResult<()> {
        self.comment(">zero()".to_string());
        self.send_event(EventKind::Zero { map }, &[])
    }

    /// `exit()`, `exit(code)`: tell userspace, then leave this program run.
    pub fn exit_event(&mut self, code: Option<&TExpr>) -> LowerResult<()> {
        self.comment(">exit()".to_string());
        match code {
            None => self.send_event(EventKind::Exit, &[])?,
            Some(c) => self.send_event(EventKind::ExitCode, std::slice::from_ref(c))?,
        }
        let exit = self.exit;
        self.goto(exit);
        Ok(())
    }
}
