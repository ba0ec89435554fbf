//! Expressions: arithmetic, comparisons, variables, casts, kernel memory
//! (members, indexing), tuples and `++`/`--`.

use super::{Arg, LowerResult, Lowerer, Mem, Val};
use crate::insn::helper;
use crate::ir::{AluOp, Cond, Inst, Reg, Size, Src};
use crate::layout;
use flowtrace_lang::ast::{BinOp, UnOp};
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::typed::{Bitfield, TExpr, TExprKind};
use flowtrace_lang::types::{AddrSpace, Type};

/// Values read as a whole (not places): integers, pointers and the like.
pub fn is_value_type(ty: &Type) -> bool {
    ty.is_scalar() || ty.is_named_id()
}

impl Lowerer<'_> {
    pub fn expr(&mut self, e: &TExpr) -> LowerResult<Val> {
        let saved = self.span;
        self.span = e.span;
        let v = self.expr_inner(e);
        self.span = saved;
        v
    }

    fn expr_inner(&mut self, e: &TExpr) -> LowerResult<Val> {
        Ok(match &e.kind {
            TExprKind::Int(n) => Val::Scalar(self.constant(*n)),
            TExprKind::Str(s) => Val::Bytes(self.string_literal(s, &e.ty)?),
            TExprKind::Builtin(b) => self.builtin(*b, e)?,
            TExprKind::Var(id) => {
                let slot = self.vars[id.0 as usize];
                if is_value_type(&self.probe.vars[id.0 as usize].ty) {
                    Val::Scalar(self.load_scalar(slot))
                } else {
                    Val::Bytes(slot)
                }
            }
            TExprKind::MapRead { map, key } => self.map_read(*map, key.as_deref())?,
            TExprKind::Unary { op, expr } => self.unary(*op, expr, e)?,
            TExprKind::Binary { op: BinOp::And | BinOp::Or, .. } => {
                let out = self.vreg();
                let end = self.label();
                self.alu(AluOp::Mov, out, Src::Imm(0));
                self.cond_jump_false(e, end)?;
                self.alu(AluOp::Mov, out, Src::Imm(1));
                self.place(end);
                Val::Scalar(out)
            }
            TExprKind::Binary { op, lhs, rhs } if op.is_comparison() => self.comparison(*op, lhs, rhs)?,
            TExprKind::Binary { op, lhs, rhs } => self.arithmetic(*op, lhs, rhs, &e.ty)?,
            TExprKind::Ternary { cond, then, otherwise } => self.ternary(cond, then, otherwise, &e.ty)?,
            TExprKind::Cast { expr } => {
                let mut v = self.expr(expr)?;
                // `(uint32)pton("…")`: the array's bytes, read in host order.
                if let Type::Array { .. } = expr.ty {
                    v = Val::Bytes(self.bytes_of(v, &expr.ty)?);
                }
                let src = self.scalar(v)?;
                let r = self.copy_reg(src);
                self.normalize(r, &e.ty);
                Val::Scalar(r)
            }
            // `skb->FIELD` in tc probes: a direct `__sk_buff` context load.
            TExprKind::Member { base, offset, bitfield: None } if matches!(base.kind, TExprKind::Builtin(flowtrace_stdlib::Builtin::Skb)) => {
                self.skb_field(*offset, &e.ty, e.span)?
            }
            TExprKind::Member { base, offset, bitfield } => {
                let addr = self.address_plus(base, *offset)?;
                self.read_memory(addr, &e.ty, *bitfield, memory_of(base))?
            }
            TExprKind::Index { base, index, elem_size } => self.index(base, index, *elem_size, &e.ty)?,
            TExprKind::TracepointArg { offset, size, data_loc } => {
                self.lower_tracepoint_arg(*offset, *size, *data_loc, &e.ty)?
            }
            TExprKind::FuncArg { index } => self.lower_func_arg(*index, &e.ty)?,
            TExprKind::Tuple(items) => self.tuple(items, &e.ty)?,
            TExprKind::IncDec { target, increment, prefix } => self.inc_dec(target, *increment, *prefix)?,
            TExprKind::Call { func, args } => self.call_func(*func, args, e)?,
            TExprKind::ProbeName(name) => Val::Scalar(self.probe_name_value(name)),
            TExprKind::Block { stmts, value } => self.block_value(stmts, value)?,
            TExprKind::Bytes(bytes) => Val::Bytes(self.constant_bytes(bytes)?),
        })
    }

    /// `{ stmts; value }`: the statements, then the value. A bytes value
    /// is copied: it may be a block variable's slot, which a later
    /// declaration in the enclosing statement may zero.
    fn block_value(&mut self, stmts: &[flowtrace_lang::typed::TStmt], value: &TExpr) -> LowerResult<Val> {
        for s in stmts {
            self.stmt(s)?;
        }
        match self.expr(value)? {
            Val::Bytes(m) => {
                let size = layout::size_of(&value.ty);
                let buf = self.alloc(size)?;
                self.copy_mem(buf, m, size);
                Ok(Val::Bytes(buf))
            }
            other => Ok(other),
        }
    }

    /// `pton(…)`'s bytes in a zeroed buffer of their array's layout size.
    fn constant_bytes(&mut self, bytes: &[u8]) -> LowerResult<Mem> {
        let size = layout::round_up(bytes.len() as u32);
        let buf = self.alloc(size)?;
        self.zero(buf, size);
        for (i, chunk) in bytes.chunks(4).enumerate() {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            let imm = i32::from_le_bytes(word);
            self.emit(Inst::Store { size: Size::W, base: buf.base, off: buf.off + (i * 4) as i16, src: Src::Imm(imm) });
        }
        Ok(buf)
    }

    fn string_literal(&mut self, s: &str, ty: &Type) -> LowerResult<Mem> {
        let cap = match ty {
            Type::Str { cap } => *cap,
            _ => s.len() as u32 + 1,
        };
        let buf = self.alloc(cap)?;
        self.zero(buf, cap);
        let bytes = s.as_bytes();
        let n = bytes.len().min(cap.saturating_sub(1) as usize);
        for (i, chunk) in bytes[..n].chunks(4).enumerate() {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            let imm = i32::from_le_bytes(word);
            self.emit(Inst::Store { size: Size::W, base: buf.base, off: buf.off + (i * 4) as i16, src: Src::Imm(imm) });
        }
        Ok(buf)
    }

    fn unary(&mut self, op: UnOp, inner: &TExpr, e: &TExpr) -> LowerResult<Val> {
        if op == UnOp::AddrOf {
            return Ok(Val::Scalar(self.address_of(inner)?));
        }
        if op == UnOp::Not {
            let out = self.vreg();
            let end = self.label();
            self.alu(AluOp::Mov, out, Src::Imm(0));
            self.cond_jump_true(inner, end)?;
            self.alu(AluOp::Mov, out, Src::Imm(1));
            self.place(end);
            return Ok(Val::Scalar(out));
        }
        let v = self.expr(inner)?;
        let src = self.scalar(v)?;
        match op {
            UnOp::Deref => self.read_memory(src, &e.ty, None, memory_of(inner)),
            UnOp::Neg | UnOp::BitNot => {
                let r = self.copy_reg(src);
                if op == UnOp::Neg {
                    self.emit(Inst::Neg { dst: r });
                } else {
                    self.alu(AluOp::Xor, r, Src::Imm(-1));
                }
                self.normalize(r, &e.ty);
                Ok(Val::Scalar(r))
            }
            UnOp::Not | UnOp::AddrOf => unreachable!("handled above"),
        }
    }

    /// The kernel address an lvalue-like expression denotes (`&x`, and the
    /// base of member accesses).
    pub fn address_of(&mut self, e: &TExpr) -> LowerResult<Reg> {
        match &e.kind {
            TExprKind::Member { base, offset, .. } => self.address_plus(base, *offset),
            TExprKind::Unary { op: UnOp::Deref, expr } => {
                let v = self.expr(expr)?;
                self.scalar(v)
            }
            _ => {
                let v = self.expr(e)?;
                match v {
                    Val::KernelPlace(r) => Ok(r),
                    _ => Err(Diagnostic::error(e.span, "cannot take the address of this expression")),
                }
            }
        }
    }

    /// `address(base) + offset`, where `base` is a pointer or a record/array place.
    fn address_plus(&mut self, base: &TExpr, offset: u32) -> LowerResult<Reg> {
        let v = self.expr(base)?;
        let r = match v {
            Val::Scalar(r) | Val::KernelPlace(r) => r,
            _ => return Err(Diagnostic::error(base.span, "this value is not in kernel memory")),
        };
        let addr = self.copy_reg(r);
        if offset != 0 {
            self.alu(AluOp::Add, addr, Src::Imm(offset as i32));
        }
        Ok(addr)
    }

    /// Read a value of type `ty` at address `addr` of kernel or user memory
    /// (records and arrays stay places).
    pub fn read_memory(&mut self, addr: Reg, ty: &Type, bitfield: Option<Bitfield>, space: AddrSpace) -> LowerResult<Val> {
        let read = match space {
            AddrSpace::Kernel => helper::PROBE_READ_KERNEL,
            AddrSpace::User => helper::PROBE_READ_USER,
        };
        if matches!(ty, Type::Record(_) | Type::Array { .. }) {
            return Ok(Val::KernelPlace(addr));
        }
        let bytes = match (bitfield, ty.int()) {
            (Some(bf), _) => (u32::from(bf.bit_offset) + u32::from(bf.bits)).div_ceil(8).min(8),
            (None, Some(t)) => t.bytes(),
            (None, None) => {
                let size = layout::size_of(ty);
                let buf = self.alloc(size)?;
                self.zero(buf, size);
                let ret = self.call(read, &[Arg::Addr(buf), Arg::Imm(size as i32), Arg::Reg(addr)]);
                self.warn_on_helper_error(ret, read);
                return Ok(Val::Bytes(buf));
            }
        };
        let buf = self.alloc(8)?;
        if bitfield.is_some() {
            // Only `bytes` are read: the rest of the slot must be zero.
            self.zero(buf, 8);
        }
        let ret = self.call(read, &[Arg::Addr(buf), Arg::Imm(bytes as i32), Arg::Reg(addr)]);
        self.warn_on_helper_error(ret, read);
        match bitfield {
            None => Ok(Val::Scalar(self.load_int(buf.base, buf.off, ty))),
            Some(bf) => {
                let r = self.load_scalar(buf);
                let signed = matches!(ty, Type::Int(t) if t.signed);
                let (lo, bits) = (i32::from(bf.bit_offset), i32::from(bf.bits));
                self.alu(AluOp::Lsh, r, Src::Imm(64 - lo - bits));
                self.alu(if signed { AluOp::Arsh } else { AluOp::Rsh }, r, Src::Imm(64 - bits));
                Ok(Val::Scalar(r))
            }
        }
    }

    fn index(&mut self, base: &TExpr, index: &TExpr, elem_size: u32, ty: &Type) -> LowerResult<Val> {
        let b = self.expr(base)?;
        if let (Val::Bytes(mem), Type::Tuple(items)) = (b, &base.ty) {
            return self.tuple_element(mem, items, index);
        }
        if let Val::Bytes(mem) = b {
            // An array already copied to the stack (a tracepoint field): the
            // index must be a constant so the access stays provably in bounds.
            let TExprKind::Int(i) = index.kind else {
                return Err(self.unsupported(index.span, "a non-constant index into a copied array"));
            };
            let at = (i as u32).saturating_mul(elem_size);
            if at >= layout::size_of(&base.ty) {
                return Err(Diagnostic::error(index.span, format!("index {i} is out of bounds")));
            }
            let r = self.load_int(mem.base, mem.off + at as i16, ty);
            return Ok(Val::Scalar(r));
        }
        let base_reg = self.scalar(b)?;
        let addr = self.copy_reg(base_reg);
        let iv = self.expr(index)?;
        let i = self.scalar(iv)?;
        let off = self.copy_reg(i);
        self.alu(AluOp::Mul, off, Src::Imm(elem_size as i32));
        self.alu(AluOp::Add, addr, Src::Reg(off));
        self.read_memory(addr, ty, None, memory_of(base))
    }

    /// `t.N` of a tuple in `mem`: elements sit at their layout offsets (not
    /// at N × the element's size, which holds only for arrays), and a string
    /// or nested tuple element is a place, not an integer to load.
    fn tuple_element(&mut self, mem: Mem, items: &[Type], index: &TExpr) -> LowerResult<Val> {
        let (offs, _) = layout::offsets(items);
        let TExprKind::Int(i) = index.kind else {
            return Err(self.unsupported(index.span, "a non-constant tuple index"));
        };
        let (Some(&off), Some(ty)) = (offs.get(i as usize), items.get(i as usize)) else {
            return Err(Diagnostic::error(index.span, format!("index {i} is out of bounds")));
        };
        let at = mem.at(off);
        Ok(if is_value_type(ty) { Val::Scalar(self.load_int(at.base, at.off, ty)) } else { Val::Bytes(at) })
    }

    fn tuple(&mut self, items: &[TExpr], ty: &Type) -> LowerResult<Val> {
        let types: Vec<Type> = match ty {
            Type::Tuple(t) if t.len() == items.len() => t.clone(),
            _ => items.iter().map(|i| i.ty.clone()).collect(),
        };
        let (offs, size) = layout::offsets(&types);
        let buf = self.alloc(size)?;
        self.zero(buf, size);
        for (i, item) in items.iter().enumerate() {
            let v = self.expr(item)?;
            self.store_value(buf.at(offs[i]), &types[i], v, &item.ty)?;
        }
        Ok(Val::Bytes(buf))
    }

    fn ternary(&mut self, cond: &TExpr, then: &TExpr, otherwise: &TExpr, ty: &Type) -> LowerResult<Val> {
        let (else_l, end) = (self.label(), self.label());
        if is_value_type(ty) {
            let out = self.vreg();
            self.cond_jump_false(cond, else_l)?;
            let a = self.expr(then)?;
            let a = self.scalar(a)?;
            self.alu(AluOp::Mov, out, Src::Reg(a));
            self.goto(end);
            self.place(else_l);
            let b = self.expr(otherwise)?;
            let b = self.scalar(b)?;
            self.alu(AluOp::Mov, out, Src::Reg(b));
            self.place(end);
            return Ok(Val::Scalar(out));
        }
        let size = layout::size_of(ty);
        let buf = self.alloc(size)?;
        self.cond_jump_false(cond, else_l)?;
        let a = self.expr(then)?;
        self.store_value(buf, ty, a, &then.ty)?;
        self.goto(end);
        self.place(else_l);
        let b = self.expr(otherwise)?;
        self.store_value(buf, ty, b, &otherwise.ty)?;
        self.place(end);
        Ok(Val::Bytes(buf))
    }

    /// `n` elements of `to` in bytes: C's scaling of `p + n`.
    pub(super) fn scale_by_pointee(&mut self, n: Src, to: &Type) -> Src {
        let scale = pointee_size(to);
        if scale <= 1 {
            return n;
        }
        match n {
            Src::Imm(i) => Src::Imm(i.wrapping_mul(scale as i32)),
            Src::Reg(x) => {
                let s = self.copy_reg(x);
                self.alu(AluOp::Mul, s, Src::Imm(scale as i32));
                Src::Reg(s)
            }
        }
    }

    fn inc_dec(&mut self, target: &TExpr, increment: bool, prefix: bool) -> LowerResult<Val> {
        let delta: i32 = if increment { 1 } else { -1 };
        let (old, new) = match &target.kind {
            TExprKind::Var(id) => {
                let slot = self.vars[id.0 as usize];
                let old = self.load_scalar(slot);
                let new = self.copy_reg(old);
                let step = match &target.ty {
                    Type::Pointer(to, _) => self.scale_by_pointee(Src::Imm(delta), to),
                    _ => Src::Imm(delta),
                };
                self.alu(AluOp::Add, new, step);
                self.normalize(new, &target.ty);
                self.store_scalar(slot, new);
                (old, new)
            }
            TExprKind::MapRead { map, key } => self.map_add(*map, key.as_deref(), delta, &target.ty)?,
            _ => return Err(Diagnostic::error(target.span, "++/-- needs a variable or a map element")),
        };
        Ok(Val::Scalar(if prefix { new } else { old }))
    }

    // ---- operators ----

    /// The jump condition and operands for a scalar comparison.
    pub fn compare_operands(&mut self, op: BinOp, lhs: &TExpr, rhs: &TExpr) -> LowerResult<(Cond, Reg, Src)> {
        let signed = signed_pair(lhs, rhs);
        let lv = self.expr(lhs)?;
        let l = self.scalar(lv)?;
        let r = self.operand(rhs)?;
        let cond = match (op, signed) {
            (BinOp::Eq, _) => Cond::Eq,
            (BinOp::Ne, _) => Cond::Ne,
            (BinOp::Lt, false) => Cond::Lt,
            (BinOp::Le, false) => Cond::Le,
            (BinOp::Gt, false) => Cond::Gt,
            (BinOp::Ge, false) => Cond::Ge,
            (BinOp::Lt, true) => Cond::Slt,
            (BinOp::Le, true) => Cond::Sle,
            (BinOp::Gt, true) => Cond::Sgt,
            (BinOp::Ge, true) => Cond::Sge,
            _ => return Err(Diagnostic::error(self.span, "not a comparison")),
        };
        Ok((cond, l, r))
    }

    /// An expression as a second operand: small literals stay immediates.
    pub(super) fn operand(&mut self, e: &TExpr) -> LowerResult<Src> {
        if let TExprKind::Int(n) = e.kind {
            if let Ok(small) = i32::try_from(n as i64) {
                return Ok(Src::Imm(small));
            }
        }
        let v = self.expr(e)?;
        Ok(Src::Reg(self.scalar(v)?))
    }

    fn comparison(&mut self, op: BinOp, lhs: &TExpr, rhs: &TExpr) -> LowerResult<Val> {
        if matches!(lhs.ty, Type::Str { .. }) || matches!(rhs.ty, Type::Str { .. }) {
            let eq = self.string_equal(lhs, rhs, None)?;
            if op == BinOp::Ne {
                self.alu(AluOp::Xor, eq, Src::Imm(1));
            } else if op != BinOp::Eq {
                return Err(self.unsupported(self.span, "ordering comparison of strings"));
            }
            return Ok(Val::Scalar(eq));
        }
        if !is_value_type(&lhs.ty) || !is_value_type(&rhs.ty) {
            return Err(self.unsupported(self.span, &format!("comparing {} with {}", lhs.ty, rhs.ty)));
        }
        let (cond, l, r) = self.compare_operands(op, lhs, rhs)?;
        let out = self.vreg();
        let end = self.label();
        self.alu(AluOp::Mov, out, Src::Imm(1));
        self.jump(cond, l, r, end);
        self.alu(AluOp::Mov, out, Src::Imm(0));
        self.place(end);
        Ok(Val::Scalar(out))
    }

    fn arithmetic(&mut self, op: BinOp, lhs: &TExpr, rhs: &TExpr, ty: &Type) -> LowerResult<Val> {
        let lv = self.expr(lhs)?;
        let l = self.scalar(lv)?;
        let out = self.copy_reg(l);
        let mut r = self.operand(rhs)?;
        // C pointer arithmetic: `p + n` and `n + p` move by n elements.
        if matches!(op, BinOp::Add | BinOp::Sub) {
            if let (Type::Pointer(to, _), true) = (&lhs.ty, rhs.ty.is_integer()) {
                r = self.scale_by_pointee(r, to);
            } else if let Type::Pointer(to, _) = &rhs.ty {
                let scale = pointee_size(to);
                if scale > 1 && lhs.ty.is_integer() {
                    self.alu(AluOp::Mul, out, Src::Imm(scale as i32));
                }
            }
        }
        self.zero_where_bpftrace_does(op, out, r, |l| l.arithmetic_op(op, out, r, lhs, ty))?;
        Ok(Val::Scalar(out))
    }

    /// Emits `body` (which computes `out = out OP r`), or sets `out` to 0
    /// when `r` is a constant for which bpftrace gives 0: a division or
    /// modulo by 0, a shift by 64 or more or by a negative amount. bpftrace
    /// gets those from LLVM folding the constants; BPF's verifier would
    /// refuse the division and the shift, and `x % 0` would keep x. On
    /// run-time operands bpftrace 0.17 prints what the BPF instructions give
    /// (`x % 0` is x, `x / 0` is 0, a shift by the amount mod 64), and so
    /// does this (`tests/diff/values.bt` compares both).
    pub(super) fn zero_where_bpftrace_does(
        &mut self,
        op: BinOp,
        out: Reg,
        r: Src,
        body: impl FnOnce(&mut Self) -> LowerResult<()>,
    ) -> LowerResult<()> {
        let folds_to_zero = match (op, r) {
            (BinOp::Div | BinOp::Mod, Src::Imm(0)) => true,
            (BinOp::Shl | BinOp::Shr, Src::Imm(k)) => !(0..64).contains(&k),
            _ => false,
        };
        if folds_to_zero {
            self.alu(AluOp::Mov, out, Src::Imm(0));
            return Ok(());
        }
        body(self)
    }

    /// `out = out OP r`, normalized to `ty`.
    fn arithmetic_op(&mut self, op: BinOp, out: Reg, r: Src, lhs: &TExpr, ty: &Type) -> LowerResult<()> {
        let signed = matches!(ty, Type::Int(t) if t.signed);
        let alu = match op {
            BinOp::Add => AluOp::Add,
            BinOp::Sub => AluOp::Sub,
            BinOp::Mul => AluOp::Mul,
            BinOp::Div | BinOp::Mod if signed => {
                self.signed_div(out, r, op == BinOp::Mod);
                self.normalize(out, ty);
                return Ok(());
            }
            BinOp::Div => AluOp::Div,
            BinOp::Mod => AluOp::Mod,
            BinOp::Shl => AluOp::Lsh,
            BinOp::Shr if matches!(lhs.ty, Type::Int(t) if t.signed) => AluOp::Arsh,
            BinOp::Shr => AluOp::Rsh,
            BinOp::BitAnd => AluOp::And,
            BinOp::BitOr => AluOp::Or,
            BinOp::BitXor => AluOp::Xor,
            _ => return Err(Diagnostic::error(self.span, format!("'{}' is not an arithmetic operator", op.symbol()))),
        };
        self.alu(alu, out, r);
        self.normalize(out, ty);
        Ok(())
    }

    /// `out = out / r` (or `%`) with C's truncating signed semantics: BPF's
    /// div/mod are unsigned before cpu v4, so divide magnitudes and fix the
    /// sign (the quotient's sign is that of `a ^ b`, the remainder's that of `a`).
    pub(super) fn signed_div(&mut self, out: Reg, r: Src, modulo: bool) {
        let sign = self.copy_reg(out);
        let b = self.vreg();
        self.alu(AluOp::Mov, b, r);
        if !modulo {
            self.alu(AluOp::Xor, sign, Src::Reg(b));
        }
        for x in [out, b] {
            let pos = self.label();
            self.jump(Cond::Sge, x, Src::Imm(0), pos);
            self.emit(Inst::Neg { dst: x });
            self.place(pos);
        }
        self.alu(if modulo { AluOp::Mod } else { AluOp::Div }, out, Src::Reg(b));
        let done = self.label();
        self.jump(Cond::Sge, sign, Src::Imm(0), done);
        self.emit(Inst::Neg { dst: out });
        self.place(done);
    }

    /// 1 when the strings are equal (up to `limit` bytes), else 0. Compares
    /// byte by byte, stopping at the first NUL; unrolled, so the cost is
    /// bounded by the smaller capacity.
    pub fn string_equal(&mut self, lhs: &TExpr, rhs: &TExpr, limit: Option<u32>) -> LowerResult<Reg> {
        let cap = |t: &Type| match t {
            Type::Str { cap } => *cap,
            other => layout::size_of(other),
        };
        let (ca, cb) = (cap(&lhs.ty), cap(&rhs.ty));
        let av = self.expr(lhs)?;
        let a = self.bytes_of(av, &lhs.ty)?;
        let bv = self.expr(rhs)?;
        let b = self.bytes_of(bv, &rhs.ty)?;
        let n = ca.min(cb).min(limit.unwrap_or(u32::MAX));
        let out = self.vreg();
        let (differ, equal, end) = (self.label(), self.label(), self.label());
        let (x, y) = (self.vreg(), self.vreg());
        for i in 0..n as i16 {
            self.emit(Inst::Load { size: Size::B, dst: x, base: a.base, off: a.off + i });
            self.emit(Inst::Load { size: Size::B, dst: y, base: b.base, off: b.off + i });
            self.jump(Cond::Ne, x, Src::Reg(y), differ);
            self.jump(Cond::Eq, x, Src::Imm(0), equal);
        }
        // All n bytes matched without a NUL: equal if the limit was reached
        // or the longer string ends right here.
        if limit.is_none_or(|l| l > n) && ca != cb {
            let longer = if ca > cb { a } else { b };
            self.emit(Inst::Load { size: Size::B, dst: x, base: longer.base, off: longer.off + n as i16 });
            self.jump(Cond::Ne, x, Src::Imm(0), differ);
        }
        self.place(equal);
        self.alu(AluOp::Mov, out, Src::Imm(1));
        self.goto(end);
        self.place(differ);
        self.alu(AluOp::Mov, out, Src::Imm(0));
        self.place(end);
        Ok(out)
    }
}

/// The memory `e` points into (a pointer) or lies in (a record or array
/// place, reached through a pointer): user memory only through a pointer
/// typed as one (a syscall tracepoint's argument, or a cast of one).
pub fn memory_of(e: &TExpr) -> AddrSpace {
    match (&e.ty, &e.kind) {
        (Type::Pointer(_, space), _) => *space,
        (Type::Record(_) | Type::Array { .. }, TExprKind::Member { base, .. } | TExprKind::Index { base, .. }) => memory_of(base),
        _ => AddrSpace::Kernel,
    }
}

/// Bytes a pointer to `to` moves per element (1 for `void *`).
fn pointee_size(to: &Type) -> u32 {
    match to {
        Type::Record(rec) => rec.size,
        Type::Void => 1,
        other => other.int().map_or_else(|| layout::size_of(other).max(1), |t| t.bytes()),
    }
}

/// Whether a comparison is signed: literals adapt to the other side.
fn signed_pair(lhs: &TExpr, rhs: &TExpr) -> bool {
    let s = |e: &TExpr| match (&e.kind, &e.ty) {
        (TExprKind::Int(_), _) => None,
        (_, Type::Int(t)) => Some(t.signed),
        _ => Some(false),
    };
    match (s(lhs), s(rhs)) {
        (Some(a), Some(b)) => a && b,
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => true,
    }
}
