//! What differs per program kind (`ProgramKind`, which knows its BPF program
//! type and ELF section): the return value, and
//! how arguments are read from the context (`pt_regs` for kprobes, the
//! tracepoint record, the u64 argument array of raw tracepoints and
//! fentry/fexit, `__sk_buff` for tc).

use super::{Arg, LowerResult, Lowerer, Mem, Val};
use crate::insn::helper;
use crate::ir::{AluOp, Inst, Size, Src};
use crate::layout;
use crate::object::ProgramKind;
use flowtrace_lang::ast::{AttachKind, UsdtArg, UsdtLocation};
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::types::{IntType, Type};

/// The one place that decides what programs return. Everything is an
/// observer: tc programs return `TC_ACT_UNSPEC` (-1), which for TCX means
/// "next" and for cls_bpf "continue", so flowtrace never changes a packet's
/// fate; the other kinds ignore the value, 0 by convention.
pub fn return_value(kind: ProgramKind) -> i32 {
    match kind {
        ProgramKind::SchedCls => -1,
        _ => 0,
    }
}

/// `struct pt_regs` offsets of the x86-64 argument registers di, si, dx, cx, r8, r9.
const PT_REGS_ARGS: [i16; 6] = [112, 104, 96, 88, 72, 64];
/// `bpf_get_func_ret(ctx, &value)` (tracing programs, Linux 5.17).
const BPF_FUNC_GET_FUNC_RET: i32 = 184;
/// `bpf_seq_write(seq, data, len)` (iterator programs, Linux 5.8).
const BPF_FUNC_SEQ_WRITE: i32 = 127;

/// `struct pt_regs` offset of ax (the return value).
const PT_REGS_RAX: i16 = 80;

/// The x86-64 `struct pt_regs` offset of a register as the assembler names
/// it in a USDT argument spec (any width: `rdi`, `edi`, `di`, `dil`; the
/// value's low bytes are the narrower register). `ah`-style high bytes are
/// not supported.
fn pt_regs_offset(name: &str) -> Option<i16> {
    let legacy = |base: &str| -> Option<i16> {
        Some(match base {
            "bp" => 32,
            "bx" => 40,
            "ax" => 80,
            "cx" => 88,
            "dx" => 96,
            "si" => 104,
            "di" => 112,
            "ip" => 128,
            "sp" => 152,
            _ => return None,
        })
    };
    let numbered = |n: &str| -> Option<i16> {
        Some(match n.parse::<u8>().ok()? {
            8 => 72,
            9 => 64,
            10 => 56,
            11 => 48,
            12 => 24,
            13 => 16,
            14 => 8,
            15 => 0,
            _ => return None,
        })
    };
    if let Some(rest) = name.strip_prefix('r') {
        // r8, r8d, r8w, r8b / rax, rdi …
        let digits = rest.trim_end_matches(['d', 'w', 'b']);
        if let Some(off) = numbered(digits) {
            return Some(off);
        }
        return legacy(rest);
    }
    if let Some(rest) = name.strip_prefix('e') {
        return legacy(rest);
    }
    // ax, di … and the byte registers al, bl, cl, dl, sil, dil, bpl, spl.
    let byte = match name {
        "al" => "ax",
        "bl" => "bx",
        "cl" => "cx",
        "dl" => "dx",
        "sil" => "si",
        "dil" => "di",
        "bpl" => "bp",
        "spl" => "sp",
        other => other,
    };
    legacy(byte)
}

impl Lowerer<'_> {
    /// `argN`.
    pub fn lower_arg(&mut self, n: u8) -> LowerResult<Val> {
        let ctx = self.ctx;
        if let AttachKind::Usdt { site: Some(site), .. } = &self.probe.attach.kind {
            let arg = site.args.get(usize::from(n)).cloned().ok_or_else(|| {
                Diagnostic::error(self.span, format!("arg{n} is out of range: this USDT probe has {} arguments", site.args.len()))
            })?;
            return self.lower_usdt_arg(&arg);
        }
        match self.kind {
            // Direct 8-byte aligned loads from pt_regs are allowed in kprobe programs.
            ProgramKind::Kprobe | ProgramKind::Kretprobe | ProgramKind::Uprobe | ProgramKind::Uretprobe => {
                let off = *PT_REGS_ARGS.get(n as usize).ok_or_else(|| self.arg_range(n))?;
                let r = self.vreg();
                self.emit(Inst::Load { size: Size::DW, dst: r, base: ctx, off });
                Ok(Val::Scalar(r))
            }
            // The context is an array of u64 arguments.
            ProgramKind::RawTracepoint => {
                let r = self.vreg();
                self.emit(Inst::Load { size: Size::DW, dst: r, base: ctx, off: i16::from(n) * 8 });
                Ok(Val::Scalar(r))
            }
            // Only a kprobe run as fentry gets here (the checker offers
            // fentry probes `args.NAME`, not `argN`). A direct context load
            // would give pointer arguments the verifier's BTF pointer type,
            // on which masks, shifts and multiplications are refused, and is
            // refused past the function's last argument; copying the slot
            // with probe_read_kernel yields a plain u64, as a pt_regs read does.
            ProgramKind::Fentry | ProgramKind::Fexit => {
                if usize::from(n) >= PT_REGS_ARGS.len() {
                    return Err(self.arg_range(n));
                }
                let buf = self.alloc(8)?;
                self.zero(buf, 8);
                let slot = Mem { base: ctx, off: i16::from(n) * 8 };
                self.call(helper::PROBE_READ_KERNEL, &[Arg::Addr(buf), Arg::Imm(8), Arg::Addr(slot)]);
                Ok(Val::Scalar(self.load_scalar(buf)))
            }
            _ => Err(Diagnostic::error(self.span, format!("arg{n} is not available in {} probes", self.probe.attach.raw))),
        }
    }

    /// A USDT argument as its note's spec says: a constant, a register of
    /// the user `pt_regs`, or user memory at a register plus an offset;
    /// then narrowed to the spec's size and sign-extended when signed.
    fn lower_usdt_arg(&mut self, arg: &UsdtArg) -> LowerResult<Val> {
        let ctx = self.ctx;
        let ty = Type::Int(IntType { bits: arg.size * 8, signed: arg.signed });
        let span = self.span;
        let register = |name: &str| {
            pt_regs_offset(name).ok_or_else(|| Diagnostic::error(span, format!("USDT argument register '%{name}' is not supported")))
        };
        let r = match &arg.location {
            UsdtLocation::Constant(c) => self.constant(*c as u64),
            UsdtLocation::Register(name) => {
                let off = register(name)?;
                let r = self.vreg();
                self.emit(Inst::Load { size: Size::DW, dst: r, base: ctx, off });
                r
            }
            UsdtLocation::Memory { register: name, offset, index } => {
                let off = register(name)?;
                let addr = self.vreg();
                self.emit(Inst::Load { size: Size::DW, dst: addr, base: ctx, off });
                if let Some((index, scale)) = index {
                    let off = register(index)?;
                    let i = self.vreg();
                    self.emit(Inst::Load { size: Size::DW, dst: i, base: ctx, off });
                    // The index register is used at its full 64-bit width.
                    self.alu(AluOp::Mul, i, Src::Imm(i32::from(*scale)));
                    self.alu(AluOp::Add, addr, Src::Reg(i));
                }
                if *offset != 0 {
                    let delta = i32::try_from(*offset).map_err(|_| Diagnostic::error(self.span, "USDT argument offset out of range"))?;
                    self.alu(AluOp::Add, addr, Src::Imm(delta));
                }
                let buf = self.alloc(8)?;
                self.zero(buf, 8);
                self.call(helper::PROBE_READ_USER, &[Arg::Addr(buf), Arg::Imm(i32::from(arg.size)), Arg::Reg(addr)]);
                self.load_scalar(buf)
            }
        };
        self.normalize(r, &ty);
        Ok(Val::Scalar(r))
    }

    /// `ctx.FIELD` of an iterator: the index-th u64 of `struct bpf_iter__NAME`.
    /// The kernel types its pointer fields "BTF pointer or NULL": loaded
    /// directly, the verifier refuses any arithmetic on them before a NULL
    /// check, so the slot is copied out with probe_read_kernel (a plain u64,
    /// as fentry's kprobe emulation does). A NULL object pointer ends the
    /// run of the program for this object, as bpftrace does: the kernel
    /// calls the program once more after the last object with NULLs.
    pub fn lower_iter_field(&mut self, index: u8, ty: &Type) -> LowerResult<Val> {
        let ctx = self.ctx;
        let buf = self.alloc(8)?;
        self.zero(buf, 8);
        let slot = Mem { base: ctx, off: i16::from(index) * 8 };
        self.call(helper::PROBE_READ_KERNEL, &[Arg::Addr(buf), Arg::Imm(8), Arg::Addr(slot)]);
        let r = self.load_scalar(buf);
        if matches!(ty, Type::Pointer(..)) {
            let exit = self.exit;
            self.jump(crate::ir::Cond::Eq, r, Src::Imm(0), exit);
        }
        self.normalize(r, ty);
        Ok(Val::Scalar(r))
    }

    /// At the start of an iterator program: return at once when the
    /// iterator's object (the slot after `meta`) is NULL, which is the
    /// kernel's extra call after the last object, so `count()` and other
    /// statements that do not read `ctx` see each object exactly once.
    ///
    /// Then one byte goes to the iterator's seq_file (`meta->seq`): a read
    /// of the iterator returns once the reader's buffer is full, so the
    /// runtime, reading a few dozen bytes at a time, drains the ring buffer
    /// every few dozen objects. Without it one read would run the program
    /// over every object (up to the kernel's million) before anyone drains,
    /// and a large iteration would overrun the ring buffer.
    pub fn iterator_prologue(&mut self) -> LowerResult<()> {
        let ctx = self.ctx;
        let object = self.vreg();
        self.emit(Inst::Load { size: Size::DW, dst: object, base: ctx, off: 8 });
        let exit = self.exit;
        self.jump(crate::ir::Cond::Eq, object, Src::Imm(0), exit);
        // ctx->meta is a trusted BTF pointer and meta->seq its first field;
        // the verifier turns the load into a checked kernel read.
        let meta = self.vreg();
        self.emit(Inst::Load { size: Size::DW, dst: meta, base: ctx, off: 0 });
        let seq = self.vreg();
        self.emit(Inst::Load { size: Size::DW, dst: seq, base: meta, off: 0 });
        let byte = self.alloc(8)?;
        self.zero(byte, 8);
        self.call(BPF_FUNC_SEQ_WRITE, &[Arg::Reg(seq), Arg::Addr(byte), Arg::Imm(1)]);
        Ok(())
    }

    fn arg_range(&self, n: u8) -> Diagnostic {
        Diagnostic::error(self.span, format!("arg{n} is out of range: x86-64 passes six arguments in registers"))
    }

    /// `retval`, narrowed to the function's return type.
    pub fn lower_retval(&mut self, ty: &Type) -> LowerResult<Val> {
        let ctx = self.ctx;
        let r = match self.kind {
            ProgramKind::Kretprobe | ProgramKind::Uretprobe => {
                let r = self.vreg();
                self.emit(Inst::Load { size: Size::DW, dst: r, base: ctx, off: PT_REGS_RAX });
                r
            }
            // fexit's context is the arguments then the return value; the
            // helper finds it without us knowing the argument count.
            ProgramKind::Fexit => {
                let buf = self.alloc(8)?;
                self.zero(buf, 8);
                self.call(BPF_FUNC_GET_FUNC_RET, &[Arg::Reg(ctx), Arg::Addr(buf)]);
                self.load_scalar(buf)
            }
            _ => return Err(Diagnostic::error(self.span, "retval is only available in kretprobe, uretprobe and fexit probes")),
        };
        self.normalize(r, ty);
        Ok(Val::Scalar(r))
    }

    /// `args.FIELD` of a tracepoint: read straight from the record. Tracepoint
    /// programs may load from the context only with naturally aligned 1, 2, 4
    /// or 8-byte loads; arrays and strings are copied with probe_read_kernel,
    /// which accepts the context pointer as a plain address.
    pub fn lower_tracepoint_arg(&mut self, offset: u32, size: u32, data_loc: bool, ty: &Type) -> LowerResult<Val> {
        let ctx = self.ctx;
        let off = i16::try_from(offset).map_err(|_| Diagnostic::error(self.span, "tracepoint field offset out of range"))?;
        if data_loc {
            // __data_loc: a u32 whose low 16 bits are the data's offset in the record.
            let loc = self.vreg();
            self.emit(Inst::Load { size: Size::W, dst: loc, base: ctx, off });
            self.alu(AluOp::And, loc, Src::Imm(0xffff));
            let addr = self.copy_reg(ctx);
            self.alu(AluOp::Add, addr, Src::Reg(loc));
            let cap = match ty {
                Type::Str { cap } => *cap,
                other => layout::size_of(other),
            };
            let buf = self.alloc(cap)?;
            self.zero(buf, cap);
            self.call(helper::PROBE_READ_KERNEL_STR, &[Arg::Addr(buf), Arg::Imm(cap as i32), Arg::Reg(addr)]);
            return Ok(Val::Bytes(buf));
        }
        if ty.is_scalar() {
            if let Some(sz) = Size::of_bytes(size) {
                let r = self.vreg();
                self.emit(Inst::Load { size: sz, dst: r, base: ctx, off });
                self.normalize(r, ty);
                return Ok(Val::Scalar(r));
            }
        }
        let total = layout::size_of(ty).max(layout::round_up(size));
        let buf = self.alloc(total)?;
        self.zero(buf, total);
        let src = Mem { base: ctx, off };
        let copy = match ty {
            // Leave the last byte of a char[N] as the terminating NUL.
            Type::Str { cap } => size.min(cap.saturating_sub(1)),
            _ => size,
        };
        self.call(helper::PROBE_READ_KERNEL, &[Arg::Addr(buf), Arg::Imm(copy as i32), Arg::Addr(src)]);
        Ok(Val::Bytes(buf))
    }

    /// fentry/fexit `args.NAME`: the index-th u64 of the context. In an
    /// iterator it is `ctx.FIELD` (see [`Self::lower_iter_field`]).
    pub fn lower_func_arg(&mut self, index: u8, ty: &Type) -> LowerResult<Val> {
        if self.kind == ProgramKind::Iter {
            return self.lower_iter_field(index, ty);
        }
        let ctx = self.ctx;
        let r = self.load_int(ctx, i16::from(index) * 8, &Type::U64);
        self.normalize(r, ty);
        Ok(Val::Scalar(r))
    }
}

#[cfg(test)]
mod tests {
    use super::pt_regs_offset;

    #[test]
    fn usdt_register_names() {
        assert_eq!(pt_regs_offset("rdi"), Some(112));
        assert_eq!(pt_regs_offset("edi"), Some(112));
        assert_eq!(pt_regs_offset("dil"), Some(112));
        assert_eq!(pt_regs_offset("r9d"), Some(64));
        assert_eq!(pt_regs_offset("r15"), Some(0));
        assert_eq!(pt_regs_offset("rbp"), Some(32));
        assert_eq!(pt_regs_offset("ah"), None);
    }
}
