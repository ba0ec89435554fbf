//! The intermediate representation: eBPF instructions over *virtual*
//! registers, plus labels and comments. Lowering produces it, register
//! allocation maps every [`Reg::V`] onto r0–r9, and [`crate::emit`] resolves
//! labels into jump offsets. Physical registers appear only where the ABI
//! fixes them: r1–r5 helper arguments, r0 helper result and program return
//! value, r10 the frame pointer.

pub mod cleanup;
mod dump;
#[cfg(test)]
pub(crate) mod interp;

pub use dump::{dump_ir, format_inst, helper_name};

use crate::object::MapRef;
use flowtrace_lang::span::Span;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reg {
    /// A virtual register, numbered per program.
    V(u32),
    /// A physical register r0–r10.
    P(u8),
}

pub const R0: Reg = Reg::P(0);
pub const R1: Reg = Reg::P(1);
pub const R2: Reg = Reg::P(2);
pub const R3: Reg = Reg::P(3);
pub const R4: Reg = Reg::P(4);
pub const R5: Reg = Reg::P(5);
pub const FP: Reg = Reg::P(10);

/// The helper argument registers, in order.
pub const ARG_REGS: [Reg; 5] = [R1, R2, R3, R4, R5];

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reg::V(n) => write!(f, "v{n}"),
            Reg::P(10) => write!(f, "fp"),
            Reg::P(n) => write!(f, "r{n}"),
        }
    }
}

/// The second operand of an ALU, store or jump instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Src {
    Reg(Reg),
    Imm(i32),
}

impl fmt::Display for Src {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Src::Reg(r) => write!(f, "{r}"),
            Src::Imm(i) => write!(f, "{i}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    B,
    H,
    W,
    DW,
}

impl Size {
    pub fn bytes(self) -> u32 {
        match self {
            Size::B => 1,
            Size::H => 2,
            Size::W => 4,
            Size::DW => 8,
        }
    }

    /// The access size for an integer of `bytes` bytes (1, 2, 4 or 8).
    pub fn of_bytes(bytes: u32) -> Option<Size> {
        match bytes {
            1 => Some(Size::B),
            2 => Some(Size::H),
            4 => Some(Size::W),
            8 => Some(Size::DW),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Or,
    And,
    Xor,
    Lsh,
    Rsh,
    Arsh,
    Mov,
}

impl AluOp {
    pub fn name(self) -> &'static str {
        match self {
            AluOp::Add => "add",
            AluOp::Sub => "sub",
            AluOp::Mul => "mul",
            AluOp::Div => "div",
            AluOp::Mod => "mod",
            AluOp::Or => "or",
            AluOp::And => "and",
            AluOp::Xor => "xor",
            AluOp::Lsh => "lsh",
            AluOp::Rsh => "rsh",
            AluOp::Arsh => "arsh",
            AluOp::Mov => "mov",
        }
    }
}

/// Jump conditions; `S` variants compare signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cond {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Sgt,
    Sge,
    Slt,
    Sle,
    /// `lhs & rhs != 0`.
    Set,
}

impl Cond {
    /// The condition that holds exactly when `self` does not.
    pub fn negate(self) -> Option<Cond> {
        Some(match self {
            Cond::Eq => Cond::Ne,
            Cond::Ne => Cond::Eq,
            Cond::Gt => Cond::Le,
            Cond::Ge => Cond::Lt,
            Cond::Lt => Cond::Ge,
            Cond::Le => Cond::Gt,
            Cond::Sgt => Cond::Sle,
            Cond::Sge => Cond::Slt,
            Cond::Slt => Cond::Sge,
            Cond::Sle => Cond::Sgt,
            Cond::Set => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Cond::Eq => "jeq",
            Cond::Ne => "jne",
            Cond::Gt => "jgt",
            Cond::Ge => "jge",
            Cond::Lt => "jlt",
            Cond::Le => "jle",
            Cond::Sgt => "jsgt",
            Cond::Sge => "jsge",
            Cond::Slt => "jslt",
            Cond::Sle => "jsle",
            Cond::Set => "jset",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(pub u32);

#[derive(Clone, Debug, PartialEq)]
pub enum Inst {
    /// 64-bit `dst = dst OP src` (`Mov`: `dst = src`).
    Alu { op: AluOp, dst: Reg, src: Src },
    /// 32-bit ALU; the result is zero-extended into the full register.
    Alu32 { op: AluOp, dst: Reg, src: Src },
    /// `dst = -dst`.
    Neg { dst: Reg },
    /// Byte swap of the low `bits` (16, 32, 64) to big-endian (a swap on
    /// little-endian hosts), zero-extending.
    ToBe { dst: Reg, bits: u8 },
    /// Two-slot `lddw`.
    LdImm64 { dst: Reg, imm: u64 },
    /// `lddw dst, map` whose immediate is relocated to the map's fd.
    LdMap { dst: Reg, map: MapRef },
    /// `lddw dst, btf#id`: the address of the vmlinux variable with BTF id
    /// `btf_id` (BPF_PSEUDO_BTF_ID), resolved by the verifier.
    LdBtfVar { dst: Reg, btf_id: u32 },
    /// `lddw dst, callback` (`BPF_PSEUDO_FUNC`): the address of callback
    /// subprogram `func` (an index into [`IrFunc::callbacks`] of the
    /// program's main function), for helpers such as `bpf_for_each_map_elem`.
    LdFunc { dst: Reg, func: u32 },
    /// `dst = *(size *)(base + off)`, zero-extended.
    Load { size: Size, dst: Reg, base: Reg, off: i16 },
    /// `*(size *)(base + off) = src`.
    Store { size: Size, base: Reg, off: i16, src: Src },
    Jump { cond: Cond, lhs: Reg, rhs: Src, target: Label },
    Goto(Label),
    /// Helper call taking its first `args` arguments in r1…; clobbers r0–r5.
    Call { helper: i32, args: u8 },
    Exit,
    Label(Label),
    /// Emits nothing: a note for `-d ir`/`-d bpf` attached to the next instruction.
    Comment(String),
}

impl Inst {
    /// Registers read, in operand order (r10 included).
    pub fn uses(&self) -> Vec<Reg> {
        let mut out = Vec::with_capacity(2);
        let src = |s: &Src, out: &mut Vec<Reg>| {
            if let Src::Reg(r) = s {
                out.push(*r)
            }
        };
        match self {
            Inst::Alu { op, dst, src: s } | Inst::Alu32 { op, dst, src: s } => {
                if *op != AluOp::Mov {
                    out.push(*dst);
                }
                src(s, &mut out);
            }
            Inst::Neg { dst } | Inst::ToBe { dst, .. } => out.push(*dst),
            Inst::Load { base, .. } => out.push(*base),
            Inst::Store { base, src: s, .. } => {
                out.push(*base);
                src(s, &mut out);
            }
            Inst::Jump { lhs, rhs, .. } => {
                out.push(*lhs);
                src(rhs, &mut out);
            }
            Inst::Call { args, .. } => out.extend(ARG_REGS.iter().take(*args as usize)),
            Inst::Exit => out.push(R0),
            Inst::LdImm64 { .. }
            | Inst::LdMap { .. }
            | Inst::LdBtfVar { .. }
            | Inst::LdFunc { .. }
            | Inst::Goto(_)
            | Inst::Label(_)
            | Inst::Comment(_) => {}
        }
        out
    }

    /// Registers written.
    pub fn defs(&self) -> Vec<Reg> {
        match self {
            Inst::Alu { dst, .. }
            | Inst::Alu32 { dst, .. }
            | Inst::Neg { dst }
            | Inst::ToBe { dst, .. }
            | Inst::LdImm64 { dst, .. }
            | Inst::LdMap { dst, .. }
            | Inst::LdBtfVar { dst, .. }
            | Inst::LdFunc { dst, .. }
            | Inst::Load { dst, .. } => vec![*dst],
            Inst::Call { .. } => vec![R0, R1, R2, R3, R4, R5],
            _ => Vec::new(),
        }
    }

    /// Apply `f` to every register operand (uses and defs).
    pub fn map_regs(&mut self, mut f: impl FnMut(Reg) -> Reg) {
        let src = |s: &mut Src, f: &mut dyn FnMut(Reg) -> Reg| {
            if let Src::Reg(r) = s {
                *r = f(*r)
            }
        };
        match self {
            Inst::Alu { dst, src: s, .. } | Inst::Alu32 { dst, src: s, .. } => {
                *dst = f(*dst);
                src(s, &mut f);
            }
            Inst::Neg { dst }
            | Inst::ToBe { dst, .. }
            | Inst::LdImm64 { dst, .. }
            | Inst::LdMap { dst, .. }
            | Inst::LdBtfVar { dst, .. }
            | Inst::LdFunc { dst, .. } => {
                *dst = f(*dst)
            }
            Inst::Load { dst, base, .. } => {
                *dst = f(*dst);
                *base = f(*base);
            }
            Inst::Store { base, src: s, .. } => {
                *base = f(*base);
                src(s, &mut f);
            }
            Inst::Jump { lhs, rhs, .. } => {
                *lhs = f(*lhs);
                src(rhs, &mut f);
            }
            Inst::Call { .. } | Inst::Exit | Inst::Goto(_) | Inst::Label(_) | Inst::Comment(_) => {}
        }
    }

    /// Number of 8-byte instruction slots this takes once emitted.
    pub fn slots(&self) -> usize {
        match self {
            Inst::LdImm64 { .. } | Inst::LdMap { .. } | Inst::LdBtfVar { .. } | Inst::LdFunc { .. } => 2,
            Inst::Label(_) | Inst::Comment(_) => 0,
            _ => 1,
        }
    }
}

/// One IR instruction and the source construct it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Line {
    pub inst: Inst,
    pub span: Span,
}

/// One program's IR.
#[derive(Clone, Debug, Default)]
pub struct IrFunc {
    pub lines: Vec<Line>,
    /// Bytes of stack the lowering uses below r10 (spill slots go beneath).
    pub stack_size: u32,
    pub next_vreg: u32,
    pub next_label: u32,
    /// The main function only: the callback subprograms its `LdFunc`s (and
    /// theirs) name, each a function of its own (own registers, own stack
    /// frame), emitted after the main function.
    pub callbacks: Vec<IrFunc>,
}

impl IrFunc {
    pub fn new_vreg(&mut self) -> Reg {
        self.next_vreg += 1;
        Reg::V(self.next_vreg - 1)
    }

    pub fn new_label(&mut self) -> Label {
        self.next_label += 1;
        Label(self.next_label - 1)
    }

    pub fn push(&mut self, inst: Inst, span: Span) {
        self.lines.push(Line { inst, span });
    }

    /// Instruction slots once emitted.
    pub fn slot_count(&self) -> usize {
        self.lines.iter().map(|l| l.inst.slots()).sum()
    }
}
