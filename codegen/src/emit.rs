//! Allocated IR → `struct bpf_insn`s: labels become jump offsets, map loads
//! become relocation entries, comments and spans are carried per instruction.

use crate::insn::*;
use crate::ir::{AluOp, Cond, Inst, IrFunc, Label, Reg, Size, Src};
use crate::object::MapRef;
use flowtrace_lang::span::Span;
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct Emitted {
    pub insns: Vec<Insn>,
    pub spans: Vec<Span>,
    pub map_relocs: Vec<(usize, MapRef)>,
    /// `lddw` of a callback (by index of its first slot): the immediate
    /// must become the callback's first instruction relative to the next
    /// one, once every function's place is known (`link`).
    pub func_relocs: Vec<(usize, u32)>,
    pub comments: Vec<(usize, String)>,
}

/// Why emission failed (a jump farther than 32767 instructions).
#[derive(Debug, Clone)]
pub struct EmitError {
    pub message: String,
    pub span: Span,
}

pub fn emit(func: &IrFunc) -> Result<Emitted, EmitError> {
    let mut at: HashMap<Label, usize> = HashMap::new();
    let mut slot = 0;
    for line in &func.lines {
        if let Inst::Label(l) = line.inst {
            at.insert(l, slot);
        }
        slot += line.inst.slots();
    }
    let mut out = Emitted::default();
    for line in &func.lines {
        let here = out.insns.len();
        let jump_off = |target: &Label| -> Result<i16, EmitError> {
            let to = *at.get(target).ok_or_else(|| EmitError { message: format!("undefined label L{}", target.0), span: line.span })?;
            i16::try_from(to as i64 - here as i64 - 1).map_err(|_| EmitError {
                message: "jump farther than 32767 instructions: the program is too large".into(),
                span: line.span,
            })
        };
        let encoded: Vec<Insn> = match &line.inst {
            Inst::Comment(text) => {
                out.comments.push((here, text.clone()));
                continue;
            }
            Inst::Label(_) => continue,
            Inst::Alu { op, dst, src } => vec![alu(BPF_ALU64, *op, *dst, *src)],
            Inst::Alu32 { op, dst, src } => vec![alu(BPF_ALU, *op, *dst, *src)],
            Inst::Neg { dst } => vec![Insn::new(BPF_ALU64 | BPF_NEG, reg(*dst), 0, 0, 0)],
            // BPF_END with BPF_X means "to big-endian".
            Inst::ToBe { dst, bits } => vec![Insn::new(BPF_ALU | BPF_END | BPF_X, reg(*dst), 0, 0, *bits as i32)],
            Inst::LdImm64 { dst, imm } => lddw(reg(*dst), 0, *imm),
            // The immediate holds the map's index until the loader puts the fd there.
            Inst::LdMap { dst, map } => {
                out.map_relocs.push((here, *map));
                lddw(reg(*dst), BPF_PSEUDO_MAP_FD, u64::from(map.0))
            }
            // The second slot's immediate (a module's BTF fd) stays 0: vmlinux.
            Inst::LdBtfVar { dst, btf_id } => lddw(reg(*dst), BPF_PSEUDO_BTF_ID, u64::from(*btf_id)),
            Inst::LdFunc { dst, func } => {
                out.func_relocs.push((here, *func));
                lddw(reg(*dst), BPF_PSEUDO_FUNC, 0)
            }
            Inst::Load { size, dst, base, off } => vec![Insn::new(BPF_LDX | size_bits(*size) | BPF_MEM, reg(*dst), reg(*base), *off, 0)],
            Inst::Store { size, base, off, src: Src::Reg(r) } => {
                vec![Insn::new(BPF_STX | size_bits(*size) | BPF_MEM, reg(*base), reg(*r), *off, 0)]
            }
            Inst::Store { size, base, off, src: Src::Imm(i) } => {
                vec![Insn::new(BPF_ST | size_bits(*size) | BPF_MEM, reg(*base), 0, *off, *i)]
            }
            Inst::Jump { cond, lhs, rhs, target } => {
                let off = jump_off(target)?;
                match rhs {
                    Src::Reg(r) => vec![Insn::new(BPF_JMP | cond_bits(*cond) | BPF_X, reg(*lhs), reg(*r), off, 0)],
                    Src::Imm(i) => vec![Insn::new(BPF_JMP | cond_bits(*cond) | BPF_K, reg(*lhs), 0, off, *i)],
                }
            }
            Inst::Goto(target) => vec![Insn::new(BPF_JMP | BPF_JA, 0, 0, jump_off(target)?, 0)],
            Inst::Call { helper, .. } => vec![Insn::new(BPF_JMP | BPF_CALL, 0, 0, 0, *helper)],
            Inst::Exit => vec![Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)],
        };
        for insn in encoded {
            out.insns.push(insn);
            out.spans.push(line.span);
        }
    }
    Ok(out)
}

/// The main function followed by its callbacks, as one instruction stream:
/// each `LdFunc` immediate becomes its callback's offset (the kernel reads
/// it relative to the instruction after the `lddw`, like a call). Also
/// returns where each function starts (the main one at 0).
pub fn link(main: Emitted, callbacks: Vec<Emitted>) -> (Emitted, Vec<usize>) {
    let mut out = main;
    let mut starts = vec![0];
    let mut pending = std::mem::take(&mut out.func_relocs);
    for cb in callbacks {
        let base = out.insns.len();
        starts.push(base);
        out.insns.extend(cb.insns);
        out.spans.extend(cb.spans);
        out.map_relocs.extend(cb.map_relocs.into_iter().map(|(at, m)| (at + base, m)));
        pending.extend(cb.func_relocs.into_iter().map(|(at, f)| (at + base, f)));
        out.comments.extend(cb.comments.into_iter().map(|(at, c)| (at + base, c)));
    }
    for (at, func) in pending {
        if let Some(&start) = starts.get(func as usize + 1) {
            out.insns[at].imm = (start as i64 - at as i64 - 1) as i32;
        }
    }
    (out, starts)
}

fn reg(r: Reg) -> u8 {
    match r {
        Reg::P(p) => p,
        // Allocation runs first; an unallocated register is a compiler bug,
        // encoded as r0 so the verifier (not a panic) reports it.
        Reg::V(_) => 0,
    }
}

fn lddw(dst: u8, src: u8, imm: u64) -> Vec<Insn> {
    vec![
        Insn::new(BPF_LD | BPF_DW | BPF_IMM, dst, src, 0, imm as u32 as i32),
        Insn::new(0, 0, 0, 0, (imm >> 32) as u32 as i32),
    ]
}

fn alu(class: u8, op: AluOp, dst: Reg, src: Src) -> Insn {
    let code = class | alu_bits(op);
    match src {
        Src::Reg(r) => Insn::new(code | BPF_X, reg(dst), reg(r), 0, 0),
        Src::Imm(i) => Insn::new(code | BPF_K, reg(dst), 0, 0, i),
    }
}

fn alu_bits(op: AluOp) -> u8 {
    match op {
        AluOp::Add => BPF_ADD,
        AluOp::Sub => BPF_SUB,
        AluOp::Mul => BPF_MUL,
        AluOp::Div => BPF_DIV,
        AluOp::Mod => BPF_MOD,
        AluOp::Or => BPF_OR,
        AluOp::And => BPF_AND,
        AluOp::Xor => BPF_XOR,
        AluOp::Lsh => BPF_LSH,
        AluOp::Rsh => BPF_RSH,
        AluOp::Arsh => BPF_ARSH,
        AluOp::Mov => BPF_MOV,
    }
}

fn cond_bits(c: Cond) -> u8 {
    match c {
        Cond::Eq => BPF_JEQ,
        Cond::Ne => BPF_JNE,
        Cond::Gt => BPF_JGT,
        Cond::Ge => BPF_JGE,
        Cond::Lt => BPF_JLT,
        Cond::Le => BPF_JLE,
        Cond::Sgt => BPF_JSGT,
        Cond::Sge => BPF_JSGE,
        Cond::Slt => BPF_JSLT,
        Cond::Sle => BPF_JSLE,
        Cond::Set => BPF_JSET,
    }
}

fn size_bits(s: Size) -> u8 {
    match s {
        Size::B => BPF_B,
        Size::H => BPF_H,
        Size::W => BPF_W,
        Size::DW => BPF_DW,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::{R0, R1};

    #[test]
    fn resolves_forward_and_backward_jumps_counting_lddw_as_two() {
        let mut f = IrFunc::default();
        let (top, end) = (f.new_label(), f.new_label());
        let s = Span::default();
        f.push(Inst::Label(top), s);
        f.push(Inst::LdImm64 { dst: R1, imm: 0x1_0000_0002 }, s);
        f.push(Inst::Jump { cond: Cond::Eq, lhs: R1, rhs: Src::Imm(0), target: end }, s);
        f.push(Inst::Comment("back".into()), s);
        f.push(Inst::Goto(top), s);
        f.push(Inst::Label(end), s);
        f.push(Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Imm(0) }, s);
        f.push(Inst::Exit, s);
        let e = emit(&f).unwrap();
        assert_eq!(e.insns.len(), 6);
        assert_eq!(e.insns[0], Insn::new(0x18, 1, 0, 0, 2));
        assert_eq!(e.insns[1].imm, 1);
        assert_eq!(e.insns[2], Insn::new(0x15, 1, 0, 1, 0));
        assert_eq!(e.insns[3], Insn::new(0x05, 0, 0, -4, 0));
        assert_eq!(e.comments, vec![(3, "back".to_string())]);
        assert_eq!(e.spans.len(), 6);
    }

    #[test]
    fn link_points_each_callback_load_at_its_function() {
        let s = Span::default();
        let mut main = IrFunc::default();
        main.push(Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Imm(0) }, s);
        main.push(Inst::LdFunc { dst: crate::ir::R2, func: 1 }, s);
        main.push(Inst::LdFunc { dst: crate::ir::R2, func: 0 }, s);
        main.push(Inst::Exit, s);
        let mut cb = IrFunc::default();
        cb.push(Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Imm(0) }, s);
        cb.push(Inst::Exit, s);
        let (e, starts) = link(emit(&main).unwrap(), vec![emit(&cb).unwrap(), emit(&cb).unwrap()]);
        assert_eq!(starts, vec![0, 6, 8]);
        // lddw at 1 → callback#1 at 8; lddw at 3 → callback#0 at 6.
        assert_eq!((e.insns[1].src, e.insns[1].imm), (BPF_PSEUDO_FUNC, 8 - 1 - 1));
        assert_eq!((e.insns[3].src, e.insns[3].imm), (BPF_PSEUDO_FUNC, 6 - 3 - 1));
        assert_eq!(e.insns.len(), 10);
        assert_eq!(e.spans.len(), 10);
    }
}
