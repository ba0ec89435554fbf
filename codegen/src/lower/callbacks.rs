//! Loops whose body is a callback subprogram: `for ($kv : @map)` through
//! `bpf_for_each_map_elem` (kernel 5.13; the callback gets `(map, key,
//! value, ctx)` in r1–r4) and, where the kernel has `bpf_loop` (5.17),
//! `for ($i : a..b)` (the callback gets `(index, ctx)`). A callback returns
//! 0 to go on, 1 to stop.
//!
//! The callback has its own registers and stack frame, but every `$variable`
//! stays in the probe's frame (frame 0), where lowering put them all up
//! front: the callback's `ctx` argument points at a small record in its
//! caller's frame holding frame 0's address (and the range's start), so the
//! body reads and assigns the probe's variables as today's bpftrace allows.
//! The verifier follows such pointers into other frames (reads, writes,
//! helper arguments alike). Frame 0 also holds the probe's context pointer
//! (for `args`, stacks, …) and a flag the body sets when it leaves the whole
//! probe (`return`, `exit()`), which the caller checks after the helper.

use super::{Arg, LoopLabels, LowerResult, Lowerer, Mem};
use crate::insn::helper;
use crate::ir::{AluOp, Cond, Inst, IrFunc, Label, Reg, Size, Src, FP, R0, R1, R2, R3, R4};
use crate::layout;
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::typed::{MapId, TExpr, TStmt, VarId};
use flowtrace_lang::types::Type;

/// Where the function being lowered finds frame 0's shared slots.
#[derive(Clone, Copy, Debug)]
pub struct CallbackFrame {
    /// Holds frame 0's frame pointer: r10 in the probe's own function, a
    /// register set up at entry in a callback.
    pub frame0: Reg,
    /// Frame-0 slot holding the probe's context pointer.
    pub ctx_off: i16,
    /// Frame-0 slot set to 1 when the body leaves the probe.
    pub left_off: i16,
}

/// What a callback's body iterates over.
#[derive(Clone, Copy, Debug)]
enum Walk<'e> {
    /// `for ($kv : @map)`: fill `$kv` from the entry.
    MapEntry { var: VarId, map: MapId },
    /// `for ($i : a..b)` with `bpf_loop`: `$i` = start + round index.
    Range { var: VarId },
    /// `while (cond)` with `bpf_loop`: each round tests `cond` first; the
    /// record's second word becomes 1 when the loop ends by itself.
    While { cond: &'e TExpr },
}

/// The record a callback's `ctx` points at, in its caller's frame: frame
/// 0's address, then the range's first value (`while`: whether the loop
/// ended by itself).
const ARGS_SIZE: u32 = 16;

/// What is particular to the function being lowered, set aside while a
/// callback is lowered.
struct FuncState {
    f: IrFunc,
    stack_top: u32,
    vars: Vec<Mem>,
    exit: Label,
    loops: Vec<LoopLabels>,
    ctx: Reg,
    packet: Option<super::packet::PacketSlots>,
    shared_key: Option<super::shared_key::SharedKey>,
    frame: Option<CallbackFrame>,
}

impl Lowerer<'_> {
    pub(super) fn for_map(&mut self, var: VarId, map: MapId, body: &[TStmt]) -> LowerResult<()> {
        let name = self.prog.maps[map.0 as usize].name.clone();
        self.comment(format!(">for ${} : @{name}", self.probe.vars[var.0 as usize].name));
        let m = self.map_ref(map);
        let zero = self.constant(0);
        // bpf_for_each_map_elem(map, callback, ctx, flags = 0)
        self.call_with_callback(Walk::MapEntry { var, map }, body, zero, |func, args| {
            (helper::FOR_EACH_MAP_ELEM, vec![Arg::Map(m), Arg::Func(func), Arg::Addr(args), Arg::Imm(0)])
        })?;
        Ok(())
    }

    /// `len(@map)`: `bpf_for_each_map_elem` returns how many entries it
    /// visited, so a callback that only says "go on" counts the keys (each
    /// key once, per-CPU maps too: their callback sees one entry per key).
    pub(super) fn map_len(&mut self, args: &[TExpr], e: &TExpr) -> LowerResult<super::Val> {
        let Some(flowtrace_lang::typed::TExprKind::MapRead { map, .. }) = args.first().map(|a| &a.kind) else {
            return Err(Diagnostic::error(e.span, "internal error: len() without its map"));
        };
        let name = self.prog.maps[map.0 as usize].name.clone();
        self.comment(format!(">len(@{name})"));
        let m = self.map_ref(*map);
        let mut count_only = IrFunc::default();
        count_only.push(Inst::Comment(format!(">callback: len(@{name})")), e.span);
        count_only.push(Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Imm(0) }, e.span);
        count_only.push(Inst::Exit, e.span);
        self.callbacks.push(count_only);
        let func = self.callbacks.len() as u32 - 1;
        // No callback context: the helper takes NULL there.
        let n = self.call(helper::FOR_EACH_MAP_ELEM, &[Arg::Map(m), Arg::Func(func), Arg::Imm(0), Arg::Imm(0)]);
        Ok(super::Val::Scalar(n))
    }

    /// `for ($i : first..first + rounds)` with `bpf_loop(rounds, callback,
    /// ctx, 0)`; `rounds` is positive and at most the helper's limit.
    pub(super) fn range_by_bpf_loop(&mut self, var: VarId, first: Reg, rounds: Reg, body: &[TStmt]) -> LowerResult<()> {
        self.call_with_callback(Walk::Range { var }, body, first, |func, args| {
            (helper::LOOP, vec![Arg::Reg(rounds), Arg::Func(func), Arg::Addr(args), Arg::Imm(0)])
        })?;
        Ok(())
    }

    /// `while (cond)` with `bpf_loop(BPF_LOOP_MAX_ROUNDS, …)`: a loop still
    /// going after the last round is counted as cut, like a range.
    pub(super) fn while_by_bpf_loop(&mut self, cond: &TExpr, body: &[TStmt]) -> LowerResult<()> {
        let zero = self.constant(0);
        let args = self.call_with_callback(Walk::While { cond }, body, zero, |func, args| {
            let rounds = Arg::Imm(super::loops::BPF_LOOP_MAX_ROUNDS);
            (helper::LOOP, vec![rounds, Arg::Func(func), Arg::Addr(args), Arg::Imm(0)])
        })?;
        let ended = self.load_scalar(args.at(8));
        let done = self.label();
        self.jump(Cond::Ne, ended, Src::Imm(0), done);
        let stat = crate::object::stats_loops_cut_slot(self.g.user_maps.len() as u32);
        self.count_stat(stat);
        self.place(done);
        Ok(())
    }

    /// Lowers `body` as a callback, then calls the helper `call` names
    /// with it; leaves the probe when the body did. Returns the record the
    /// callback's `ctx` pointed at.
    fn call_with_callback(
        &mut self,
        walk: Walk<'_>,
        body: &[TStmt],
        extra: Reg,
        call: impl FnOnce(u32, Mem) -> (i32, Vec<Arg>),
    ) -> LowerResult<Mem> {
        if self.scratch.is_some() {
            return Err(Diagnostic::error(self.span, "a loop with a callback body in a probe whose buffers do not fit the BPF stack")
                .with_hint("use shorter strings (str(p, N)) or fewer variables in this probe"));
        }
        let frame = match self.frame {
            Some(frame) => frame,
            None => {
                let slots = self.alloc(16)?;
                let ctx = self.ctx;
                self.store_scalar(slots, ctx);
                CallbackFrame { frame0: FP, ctx_off: slots.off, left_off: slots.off + 8 }
            }
        };
        if !matches!(walk, Walk::MapEntry { .. }) {
            self.forget_variables(frame.frame0)?;
        }
        let args = self.alloc(ARGS_SIZE)?;
        self.store_scalar(args, frame.frame0);
        self.store_scalar(args.at(8), extra);
        let left = Mem { base: frame.frame0, off: frame.left_off };
        self.zero(left, 8);
        let func = self.callback(walk, body, frame)?;
        let (helper_id, call_args) = call(func, args);
        self.call(helper_id, &call_args);
        let has_left = self.load_scalar(left);
        let exit = self.exit;
        self.jump(Cond::Ne, has_left, Src::Imm(0), exit);
        Ok(args)
    }

    /// Makes every variable's value unknown to the verifier (without
    /// changing it) before a `bpf_loop`. Since 6.8 the verifier checks a
    /// `bpf_loop` callback round after round until a round starts in a
    /// state it has seen; a counter it knows exactly and tests in a branch
    /// (`$c++; if ($c > 100) { break; }`) differs every round, so that never
    /// happens and the program is refused as too complex. Adding a value
    /// read from the never-written zero map (0 at run time, unknown to the
    /// verifier) makes each variable any value from the start, which every
    /// later round's state falls within.
    fn forget_variables(&mut self, frame0: Reg) -> LowerResult<()> {
        let words: u32 = self.probe.vars.iter().map(|v| layout::size_of(&v.ty).max(8) / 8).sum();
        if words == 0 {
            return Ok(());
        }
        let zero_map = self.g.zero_map(8);
        let key = self.alloc(8)?;
        self.zero(key, 8);
        let p = self.call(helper::MAP_LOOKUP_ELEM, &[Arg::Map(zero_map), Arg::Addr(key)]);
        // A per-CPU array always has key 0: never taken.
        let exit = self.exit;
        self.jump(Cond::Eq, p, Src::Imm(0), exit);
        let unknown_zero = self.load_scalar(Mem { base: p, off: 0 });
        let slots: Vec<(Mem, u32)> = self.vars.iter().zip(&self.probe.vars).map(|(m, v)| (*m, layout::size_of(&v.ty).max(8))).collect();
        for (slot, size) in slots {
            for at in (0..layout::round_up(size)).step_by(8) {
                let word = Mem { base: frame0, off: slot.off + at as i16 };
                let v = self.load_scalar(word);
                self.alu(AluOp::Add, v, Src::Reg(unknown_zero));
                self.store_scalar(word, v);
            }
        }
        Ok(())
    }

    /// Lowers the body as a callback; returns its index among the callbacks.
    fn callback(&mut self, walk: Walk<'_>, body: &[TStmt], parent: CallbackFrame) -> LowerResult<u32> {
        let mut f = IrFunc::default();
        let (frame0, ctx, exit) = (f.new_vreg(), f.new_vreg(), f.new_label());
        let frame = CallbackFrame { frame0, ..parent };
        let vars = self.vars.iter().map(|m| Mem { base: frame0, off: m.off }).collect();
        let packet = self.packet.as_ref().map(|p| p.rebased(frame0));
        let saved = FuncState {
            f: std::mem::replace(&mut self.f, f),
            stack_top: std::mem::replace(&mut self.stack_top, 0),
            vars: std::mem::replace(&mut self.vars, vars),
            exit: std::mem::replace(&mut self.exit, exit),
            loops: std::mem::take(&mut self.loops),
            ctx: std::mem::replace(&mut self.ctx, ctx),
            packet: std::mem::replace(&mut self.packet, packet),
            shared_key: self.shared_key.take(),
            frame: self.frame.replace(frame),
        };
        let done = self.callback_body(walk, body);
        let callback = std::mem::replace(&mut self.f, saved.f);
        self.stack_top = saved.stack_top;
        self.vars = saved.vars;
        self.exit = saved.exit;
        self.loops = saved.loops;
        self.ctx = saved.ctx;
        self.packet = saved.packet;
        self.shared_key = saved.shared_key;
        self.frame = saved.frame;
        done?;
        self.callbacks.push(callback);
        Ok(self.callbacks.len() as u32 - 1)
    }

    fn callback_body(&mut self, walk: Walk<'_>, body: &[TStmt]) -> LowerResult<()> {
        let frame = self.frame.ok_or_else(|| Diagnostic::error(self.span, "internal error: callback without a frame"))?;
        let what = match walk {
            Walk::MapEntry { var, .. } | Walk::Range { var } => format!("for ${}", self.probe.vars[var.0 as usize].name),
            Walk::While { .. } => "while".to_string(),
        };
        self.comment(format!(">callback: {what}"));
        // Copy the arguments out of r1–r4 before anything clobbers them.
        let (first_arg, args) = match walk {
            Walk::MapEntry { .. } => (self.copy_reg(R2), self.copy_reg(R4)),
            Walk::Range { .. } | Walk::While { .. } => (self.copy_reg(R1), self.copy_reg(R2)),
        };
        // bpf_loop passes two arguments: r3 is not readable there.
        let value_p = match walk {
            Walk::MapEntry { .. } => self.copy_reg(R3),
            Walk::Range { .. } | Walk::While { .. } => first_arg,
        };
        self.emit(Inst::Load { size: Size::DW, dst: frame.frame0, base: args, off: 0 });
        let ctx = self.ctx;
        self.emit(Inst::Load { size: Size::DW, dst: ctx, base: frame.frame0, off: frame.ctx_off });
        let (next, stop) = (self.label(), self.label());
        let mut end = stop;
        match walk {
            Walk::MapEntry { var, map } => self.fill_pair(self.vars[var.0 as usize], map, first_arg, value_p)?,
            Walk::Range { var } => {
                // $i = first + the helper's round index.
                let first = self.load_scalar(Mem { base: args, off: 8 });
                self.alu(AluOp::Add, first, Src::Reg(first_arg));
                self.store_scalar(self.vars[var.0 as usize], first);
            }
            Walk::While { cond } => {
                // The condition turned false or `break`: the loop ended by
                // itself (the caller tells that from running out of rounds).
                end = self.label();
                self.cond_jump_false(cond, end)?;
            }
        }
        self.loops.push(LoopLabels { next, end });
        for s in body {
            self.stmt(s)?;
        }
        self.goto(next);
        if end != stop {
            self.place(end);
            self.emit(Inst::Store { size: Size::DW, base: args, off: 8, src: Src::Imm(1) });
            self.goto(stop);
        }
        // Leaving the probe from the body: tell the caller, stop iterating.
        let exit = self.exit;
        self.place(exit);
        self.emit(Inst::Store { size: Size::DW, base: frame.frame0, off: frame.left_off, src: Src::Imm(1) });
        self.place(stop);
        self.emit(Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Imm(1) });
        self.emit(Inst::Exit);
        self.place(next);
        self.emit(Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Imm(0) });
        self.emit(Inst::Exit);
        Ok(())
    }

    /// `$kv = (key, value)` from the entry's key and value: the key turns
    /// from the compact key layout into the value layout of a tuple, an
    /// aggregation's value into its total over CPUs.
    fn fill_pair(&mut self, kv: Mem, map: MapId, key_p: Reg, value_p: Reg) -> LowerResult<()> {
        let info = &self.prog.maps[map.0 as usize];
        let (keys, value_ty) = (info.key.clone(), info.value.clone());
        // A copy of the key on this frame: helpers then see stack memory.
        let key = self.alloc(layout::key_size(&keys))?;
        self.copy_mem(key, Mem { base: key_p, off: 0 }, layout::key_size(&keys));
        let (koffs, _) = layout::key_offsets(&keys);
        let (voffs, key_size) = layout::offsets(&keys);
        for (i, ty) in keys.iter().enumerate() {
            self.key_field_to_value(kv.at(voffs[i]), key.at(koffs[i]), ty);
        }
        let value_at = kv.at(key_size);
        match value_ty {
            Type::Agg(agg) => {
                let total = self.agg_total(map, key, agg)?;
                let r = self.scalar(total)?;
                self.store_scalar(value_at, r);
            }
            ty => self.copy_mem(value_at, Mem { base: value_p, off: 0 }, layout::size_of(&ty)),
        }
        Ok(())
    }

    /// One key field at `src` (key layout) into `dst` (value layout).
    fn key_field_to_value(&mut self, dst: Mem, src: Mem, ty: &Type) {
        match ty {
            Type::Int(_) => {
                let r = self.load_int(src.base, src.off, ty);
                self.store_scalar(dst, r);
            }
            Type::Bool => {
                let r = self.vreg();
                self.emit(Inst::Load { size: Size::B, dst: r, base: src.base, off: src.off });
                self.store_scalar(dst, r);
            }
            Type::Inet => {
                let r = self.vreg();
                let family = src.at(layout::KEY_INET_FAMILY);
                self.emit(Inst::Load { size: Size::B, dst: r, base: family.base, off: family.off });
                self.store_scalar(dst, r);
                self.copy_mem(dst.at(8), src, 16);
            }
            other => self.copy_mem(dst, src, layout::size_of(other)),
        }
    }
}
