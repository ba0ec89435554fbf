//! Lowering of the builtins added for today's bpftrace: `nsecs(CLOCK)`,
//! `strftime`, `macaddr`, `buf`, `strcontains`, `path`, `has_key`.
//! (`offsetof`, `pton`, `cgroupid` and `ncpus` are constants by now.)

use super::{Arg, LowerResult, Lowerer, Mem, Val};
use crate::insn::helper;
use crate::ir::{AluOp, Cond, Inst, Reg, Size, Src};
use crate::layout;
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::typed::{TExpr, TExprKind};
use flowtrace_lang::types::{AddrSpace, Type};
use flowtrace_stdlib::time::Clock;

impl Lowerer<'_> {
    /// `nsecs(CLOCK)`: args are the clock's code and, for sw_tai, the
    /// TAI−boot offset measured when compiling.
    pub(super) fn nsecs_of(&mut self, args: &[TExpr], e: &TExpr) -> LowerResult<Val> {
        let (Some(TExprKind::Int(code)), Some(TExprKind::Int(offset))) = (args.first().map(|a| &a.kind), args.get(1).map(|a| &a.kind)) else {
            return Err(Diagnostic::error(e.span, "internal error: nsecs() without its clock"));
        };
        let r = match Clock::from_code(*code) {
            Some(Clock::Monotonic) => self.call(helper::KTIME_GET_NS, &[]),
            Some(Clock::Boot) | None => self.call(helper::KTIME_GET_BOOT_NS, &[]),
            Some(Clock::Tai) => self.call(helper::KTIME_GET_TAI_NS, &[]),
            Some(Clock::SwTai) => {
                let now = self.call(helper::KTIME_GET_BOOT_NS, &[]);
                let delta = self.constant(*offset);
                self.alu(AluOp::Add, now, Src::Reg(delta));
                now
            }
        };
        Ok(Val::Scalar(r))
    }

    /// `macaddr(x)`: 6 bytes, zero-padded to 8.
    pub(super) fn macaddr(&mut self, src: &TExpr) -> LowerResult<Val> {
        let buf = self.alloc(8)?;
        self.zero(buf, 8);
        self.read_bytes_into(buf, src, 6)?;
        Ok(Val::Bytes(buf))
    }

    /// `buf(x, n)`: the byte count, then `n` bytes (zero-padded).
    pub(super) fn buffer(&mut self, args: &[TExpr], e: &TExpr) -> LowerResult<Val> {
        let (Some(src), Some(len)) = (args.first(), args.get(1)) else {
            return Err(Diagnostic::error(e.span, "internal error: buf() without its length"));
        };
        let TExprKind::Int(n) = &len.kind else { return self.buffer_run_time_length(src, len, e) };
        let n = *n as u32;
        let size = layout::size_of(&e.ty);
        let buf = self.alloc(size)?;
        self.zero(buf, size);
        self.emit(Inst::Store { size: Size::DW, base: buf.base, off: buf.off, src: Src::Imm(n as i32) });
        if n > 0 {
            self.read_bytes_into(buf.at(8), src, n)?;
        }
        Ok(Val::Bytes(buf))
    }

    /// `buf(ptr, len)` with `len` known at run time: at most the buffer's
    /// capacity (the checker made it 64) bytes, fewer when `len` says so;
    /// the count stored is what was asked for, clamped the same way.
    fn buffer_run_time_length(&mut self, src: &TExpr, len: &TExpr, e: &TExpr) -> LowerResult<Val> {
        let Type::Rendered(flowtrace_lang::types::Rendered::Buffer { cap }) = e.ty else {
            return Err(Diagnostic::error(e.span, "internal error: buf() is not a buffer"));
        };
        let size = layout::size_of(&e.ty);
        let buf = self.alloc(size)?;
        self.zero(buf, size);
        let v = self.expr(len)?;
        let v = self.scalar(v)?;
        let n = self.copy_reg(v);
        // Unsigned: a negative length is a huge one, clamped to the capacity.
        let ok = self.label();
        self.jump(Cond::Le, n, Src::Imm(cap as i32), ok);
        self.alu(AluOp::Mov, n, Src::Imm(cap as i32));
        self.place(ok);
        self.emit(Inst::Store { size: Size::DW, base: buf.base, off: buf.off, src: Src::Reg(n) });
        let p = self.expr(src)?;
        let addr = self.scalar(p)?;
        let read = match &src.ty {
            Type::Pointer(_, AddrSpace::User) => helper::PROBE_READ_USER,
            _ if self.kind.is_user_space() => helper::PROBE_READ_USER,
            _ => helper::PROBE_READ_KERNEL,
        };
        self.call(read, &[Arg::Addr(buf.at(8)), Arg::Reg(n), Arg::Reg(addr)]);
        Ok(Val::Bytes(buf))
    }

    /// Copy the first `n` bytes of `src`'s value (an array, a string) or of
    /// the memory it points to into `dst`.
    fn read_bytes_into(&mut self, dst: Mem, src: &TExpr, n: u32) -> LowerResult<()> {
        let v = self.expr(src)?;
        match v {
            Val::Bytes(m) => {
                let avail = match &src.ty {
                    Type::Str { cap } => *cap,
                    other => layout::size_of(other),
                };
                let t = self.vreg();
                for i in 0..n.min(avail) as i16 {
                    self.emit(Inst::Load { size: Size::B, dst: t, base: m.base, off: m.off + i });
                    self.emit(Inst::Store { size: Size::B, base: dst.base, off: dst.off + i, src: Src::Reg(t) });
                }
            }
            Val::KernelPlace(addr) => {
                self.call(helper::PROBE_READ_KERNEL, &[Arg::Addr(dst), Arg::Imm(n as i32), Arg::Reg(addr)]);
            }
            Val::Scalar(addr) => {
                let read = match &src.ty {
                    Type::Pointer(_, AddrSpace::User) => helper::PROBE_READ_USER,
                    // In a uprobe an address (`buf(arg1, n)`) is the traced process's.
                    _ if self.kind.is_user_space() => helper::PROBE_READ_USER,
                    _ => helper::PROBE_READ_KERNEL,
                };
                self.call(read, &[Arg::Addr(dst), Arg::Imm(n as i32), Arg::Reg(addr)]);
            }
            Val::None => return Err(Diagnostic::error(src.span, "this expression has no value")),
        }
        Ok(())
    }

    /// `strcontains(h, "needle")`: the needle's bytes compared at every
    /// position of the haystack before its NUL, unrolled (no loops: this
    /// passes the verifier of every kernel flowtrace supports).
    pub(super) fn str_contains(&mut self, args: &[TExpr], e: &TExpr) -> LowerResult<Val> {
        let [haystack, needle] = args else {
            return Err(Diagnostic::error(e.span, "internal error: strcontains() needs two arguments"));
        };
        let TExprKind::Str(needle) = &needle.kind else {
            return self.str_contains_computed(haystack, needle);
        };
        let needle = needle.as_bytes();
        let cap = match haystack.ty {
            Type::Str { cap } => cap,
            _ => layout::size_of(&haystack.ty),
        };
        let out = self.vreg();
        self.alu(AluOp::Mov, out, Src::Imm(1));
        if needle.is_empty() {
            return Ok(Val::Scalar(out));
        }
        let v = self.expr(haystack)?;
        let h = self.bytes_of(v, &haystack.ty)?;
        let (found, missing, end) = (self.label(), self.label(), self.label());
        let t = self.vreg();
        let last_start = cap.saturating_sub(needle.len() as u32 + 1);
        for pos in 0..=last_start {
            let next = self.label();
            self.emit(Inst::Load { size: Size::B, dst: t, base: h.base, off: h.off + pos as i16 });
            self.jump(Cond::Eq, t, Src::Imm(0), missing);
            for (i, &byte) in needle.iter().enumerate() {
                if i > 0 {
                    self.emit(Inst::Load { size: Size::B, dst: t, base: h.base, off: h.off + (pos as usize + i) as i16 });
                }
                self.jump(Cond::Ne, t, Src::Imm(i32::from(byte)), next);
            }
            self.goto(found);
            self.place(next);
        }
        self.place(missing);
        self.alu(AluOp::Mov, out, Src::Imm(0));
        self.goto(end);
        self.place(found);
        self.alu(AluOp::Mov, out, Src::Imm(1));
        self.place(end);
        Ok(Val::Scalar(out))
    }

    /// `strcontains(h, n)` with a computed needle: at each position of `h`
    /// before its NUL, compare `n` up to its own NUL, all unrolled.
    fn str_contains_computed(&mut self, haystack: &TExpr, needle: &TExpr) -> LowerResult<Val> {
        let cap = |t: &Type| match t {
            Type::Str { cap } => *cap,
            other => layout::size_of(other),
        };
        let (hcap, ncap) = (cap(&haystack.ty), cap(&needle.ty));
        let hv = self.expr(haystack)?;
        let h = self.bytes_of(hv, &haystack.ty)?;
        let nv = self.expr(needle)?;
        let n = self.bytes_of(nv, &needle.ty)?;
        let out = self.vreg();
        let (found, missing, end) = (self.label(), self.label(), self.label());
        let (x, y) = (self.vreg(), self.vreg());
        for pos in 0..hcap {
            let next = self.label();
            for i in 0..ncap {
                // The needle ends here: everything before it matched.
                self.emit(Inst::Load { size: Size::B, dst: y, base: n.base, off: n.off + i as i16 });
                self.jump(Cond::Eq, y, Src::Imm(0), found);
                if pos + i >= hcap {
                    self.goto(missing);
                    break;
                }
                self.emit(Inst::Load { size: Size::B, dst: x, base: h.base, off: h.off + (pos + i) as i16 });
                // The haystack ended first: no later position can match either.
                self.jump(Cond::Eq, x, Src::Imm(0), missing);
                self.jump(Cond::Ne, x, Src::Reg(y), next);
            }
            // A needle filling its whole buffer matched.
            self.goto(found);
            self.place(next);
        }
        self.place(missing);
        self.alu(AluOp::Mov, out, Src::Imm(0));
        self.goto(end);
        self.place(found);
        self.alu(AluOp::Mov, out, Src::Imm(1));
        self.place(end);
        Ok(Val::Scalar(out))
    }

    /// `path(p)`: bpf_d_path into a zeroed string buffer.
    pub(super) fn d_path(&mut self, args: &[TExpr], e: &TExpr) -> LowerResult<Val> {
        let Some(p) = args.first() else {
            return Err(Diagnostic::error(e.span, "internal error: path() without its argument"));
        };
        let cap = match e.ty {
            Type::Str { cap } => cap,
            _ => 64,
        };
        let v = self.expr(p)?;
        let p: Reg = self.scalar(v)?;
        let buf = self.alloc(cap)?;
        self.zero(buf, cap);
        self.call(helper::D_PATH, &[Arg::Reg(p), Arg::Addr(buf), Arg::Imm(cap as i32)]);
        Ok(Val::Bytes(buf))
    }

    /// `percpu_kaddr(name[, cpu])`: the variable's per-CPU address from
    /// bpf_this_cpu_ptr, or bpf_per_cpu_ptr (NULL for a CPU that does not
    /// exist).
    pub(super) fn percpu_kaddr(&mut self, args: &[TExpr], e: &TExpr) -> LowerResult<Val> {
        let Some(TExprKind::Int(btf_id)) = args.first().map(|a| &a.kind) else {
            return Err(Diagnostic::error(e.span, "internal error: percpu_kaddr() without its variable"));
        };
        let var = self.vreg();
        self.emit(Inst::LdBtfVar { dst: var, btf_id: *btf_id as u32 });
        let p = match args.get(1) {
            None => self.call(helper::THIS_CPU_PTR, &[Arg::Reg(var)]),
            Some(cpu) => {
                let v = self.expr(cpu)?;
                let cpu = self.scalar(v)?;
                self.call(helper::PER_CPU_PTR, &[Arg::Reg(var), Arg::Reg(cpu)])
            }
        };
        Ok(Val::Scalar(p))
    }

    /// `has_key(@m, k)`: whether a lookup finds the key.
    pub(super) fn has_key(&mut self, args: &[TExpr], e: &TExpr) -> LowerResult<Val> {
        let Some(TExprKind::MapRead { map, key }) = args.first().map(|a| &a.kind) else {
            return Err(Diagnostic::error(e.span, "internal error: has_key() without its map"));
        };
        let k = self.build_key(*map, key.as_deref())?;
        let m = self.map_ref(*map);
        let p = self.call(helper::MAP_LOOKUP_ELEM, &[Arg::Map(m), Arg::Addr(k)]);
        let out = self.vreg();
        let end = self.label();
        self.alu(AluOp::Mov, out, Src::Imm(0));
        self.jump(Cond::Eq, p, Src::Imm(0), end);
        self.alu(AluOp::Mov, out, Src::Imm(1));
        self.place(end);
        Ok(Val::Scalar(out))
    }
}
