//! A tiny interpreter for allocated IR (physical registers only), for unit
//! tests of register allocation and arithmetic lowering: ALU, jumps, and
//! loads/stores on the 512-byte stack. Helper calls return 0 and scramble
//! r1–r5, so a value wrongly kept in a caller-saved register shows up.

use super::{AluOp, Cond, Inst, IrFunc, Reg, Size, Src};
use std::collections::HashMap;

pub fn run(func: &IrFunc) -> u64 {
    let mut regs = [0u64; 11];
    let mut stack = [0u8; 512];
    regs[10] = 512;
    let labels: HashMap<_, _> =
        func.lines.iter().enumerate().filter_map(|(i, l)| if let Inst::Label(x) = l.inst { Some((x, i)) } else { None }).collect();
    let reg = |r: Reg| match r {
        Reg::P(p) => p as usize,
        Reg::V(v) => panic!("unallocated v{v}"),
    };
    let mut pc = 0;
    for _ in 0..1_000_000 {
        let inst = &func.lines[pc].inst;
        pc += 1;
        let val = |regs: &[u64; 11], s: &Src| match s {
            Src::Reg(r) => regs[reg(*r)],
            Src::Imm(i) => *i as i64 as u64,
        };
        match inst {
            Inst::Alu { op, dst, src } => {
                let (a, b) = (regs[reg(*dst)], val(&regs, src));
                regs[reg(*dst)] = alu(*op, a, b);
            }
            Inst::Alu32 { op, dst, src } => {
                let (a, b) = (regs[reg(*dst)] as u32, val(&regs, src) as u32);
                regs[reg(*dst)] = alu32(*op, a, b) as u64;
            }
            Inst::Neg { dst } => regs[reg(*dst)] = regs[reg(*dst)].wrapping_neg(),
            Inst::ToBe { dst, bits } => {
                let v = regs[reg(*dst)];
                regs[reg(*dst)] = match bits {
                    16 => (v as u16).swap_bytes() as u64,
                    32 => (v as u32).swap_bytes() as u64,
                    _ => v.swap_bytes(),
                };
            }
            Inst::LdImm64 { dst, imm } => regs[reg(*dst)] = *imm,
            Inst::LdMap { dst, .. } | Inst::LdBtfVar { dst, .. } | Inst::LdFunc { dst, .. } => regs[reg(*dst)] = 0,
            Inst::Load { size, dst, base, off } => {
                let at = (regs[reg(*base)] as i64 + *off as i64) as usize;
                let mut b = [0u8; 8];
                let n = size.bytes() as usize;
                b[..n].copy_from_slice(&stack[at..at + n]);
                regs[reg(*dst)] = u64::from_le_bytes(b);
            }
            Inst::Store { size, base, off, src } => {
                let at = (regs[reg(*base)] as i64 + *off as i64) as usize;
                let n = size.bytes() as usize;
                stack[at..at + n].copy_from_slice(&val(&regs, src).to_le_bytes()[..n]);
            }
            Inst::Jump { cond, lhs, rhs, target } => {
                if holds(*cond, regs[reg(*lhs)], val(&regs, rhs)) {
                    pc = labels[target];
                }
            }
            Inst::Goto(t) => pc = labels[t],
            Inst::Call { .. } => {
                regs[0] = 0;
                for r in regs.iter_mut().take(6).skip(1) {
                    *r = 0xdead_beef;
                }
            }
            Inst::Exit => return regs[0],
            Inst::Label(_) | Inst::Comment(_) => {}
        }
        let _ = Size::DW;
    }
    panic!("no exit after 1M steps")
}

fn alu(op: AluOp, a: u64, b: u64) -> u64 {
    match op {
        AluOp::Add => a.wrapping_add(b),
        AluOp::Sub => a.wrapping_sub(b),
        AluOp::Mul => a.wrapping_mul(b),
        AluOp::Div => a.checked_div(b).unwrap_or(0),
        AluOp::Mod => if b == 0 { a } else { a % b },
        AluOp::Or => a | b,
        AluOp::And => a & b,
        AluOp::Xor => a ^ b,
        AluOp::Lsh => a.wrapping_shl(b as u32),
        AluOp::Rsh => a.wrapping_shr(b as u32),
        AluOp::Arsh => ((a as i64).wrapping_shr(b as u32)) as u64,
        AluOp::Mov => b,
    }
}

fn alu32(op: AluOp, a: u32, b: u32) -> u32 {
    alu(op, a as u64, b as u64) as u32
}

fn holds(c: Cond, a: u64, b: u64) -> bool {
    let (sa, sb) = (a as i64, b as i64);
    match c {
        Cond::Eq => a == b,
        Cond::Ne => a != b,
        Cond::Gt => a > b,
        Cond::Ge => a >= b,
        Cond::Lt => a < b,
        Cond::Le => a <= b,
        Cond::Sgt => sa > sb,
        Cond::Sge => sa >= sb,
        Cond::Slt => sa < sb,
        Cond::Sle => sa <= sb,
        Cond::Set => a & b != 0,
    }
}
