//! Value-producing builtin functions: `str`, `ntop`, `strncmp`, `bswap`, …

use super::{Arg, LowerResult, Lowerer, Mem, Val};
use crate::insn::helper;
use crate::ir::{AluOp, Cond, Inst, Size, Src};
use crate::layout;
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::typed::{TExpr, TExprKind};
use flowtrace_lang::types::{AddrSpace, Type};
use flowtrace_stdlib::Func;

const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;

impl Lowerer<'_> {
    pub fn call_func(&mut self, func: Func, args: &[TExpr], e: &TExpr) -> LowerResult<Val> {
        self.comment(format!(">{}()", format!("{func:?}").to_lowercase()));
        match func {
            Func::Str => self.str_call(args, e),
            Func::Ntop => self.ntop(args, e),
            Func::Strncmp => {
                let [a, b, n] = args else { return Err(arity(e, "strncmp(a, b, n)")) };
                let TExprKind::Int(limit) = n.kind else {
                    return Err(Diagnostic::error(n.span, "strncmp's length must be a constant"));
                };
                // strncmp returns 0 when equal.
                let eq = self.string_equal(a, b, Some(limit as u32))?;
                self.alu(AluOp::Xor, eq, Src::Imm(1));
                Ok(Val::Scalar(eq))
            }
            Func::Bswap => {
                let [a] = args else { return Err(arity(e, "bswap(n)")) };
                let v = self.expr(a)?;
                let v = self.scalar(v)?;
                let r = self.copy_reg(v);
                let bits = a.ty.int().map_or(64, |t| t.bits);
                if bits > 8 {
                    // BPF's to-big-endian is a swap on the little-endian hosts we run on.
                    self.emit(Inst::ToBe { dst: r, bits });
                }
                self.normalize(r, &e.ty);
                Ok(Val::Scalar(r))
            }
            Func::Sizeof => {
                let size = match args.first().map(|a| &a.ty) {
                    Some(Type::Record(r)) => r.size,
                    Some(Type::Int(t)) => t.bytes(),
                    Some(other) => layout::size_of(other),
                    None => return Err(arity(e, "sizeof(x)")),
                };
                Ok(Val::Scalar(self.constant(u64::from(size))))
            }
            // The cgroup id itself: user space names it by the call's type
            // (runtime::pods), so the kernel side is free.
            Func::CgroupPath | Func::Pod | Func::Container => {
                let Some(a) = args.first() else { return Err(arity(e, "pod(cgroupid)")) };
                let v = self.expr(a)?;
                Ok(Val::Scalar(self.scalar(v)?))
            }
            // The address itself; userspace turns it into a symbol by type.
            Func::Usym => {
                let [a] = args else { return Err(arity(e, "usym(addr)")) };
                self.usym(a)
            }
            Func::Kstack | Func::Ustack => self.stack(e),
            Func::Ksym | Func::Strerror | Func::SyscallName | Func::SignalName => {
                let [a] = args else { return Err(arity(e, "ksym(addr)")) };
                let v = self.expr(a)?;
                Ok(Val::Scalar(self.scalar(v)?))
            }
            Func::Has => self.has_key(args, e),
            Func::MapLen => self.map_len(args, e),
            Func::NsecsOf => self.nsecs_of(args, e),
            // The nanoseconds themselves; userspace formats them by the type.
            Func::Strftime => {
                let [ns] = args else { return Err(arity(e, "strftime(fmt, ns)")) };
                let v = self.expr(ns)?;
                Ok(Val::Scalar(self.scalar(v)?))
            }
            Func::Macaddr => {
                let [src] = args else { return Err(arity(e, "macaddr(x)")) };
                self.macaddr(src)
            }
            Func::Buf => self.buffer(args, e),
            Func::Strcontains => self.str_contains(args, e),
            Func::Path => self.d_path(args, e),
            Func::PercpuKaddr => self.percpu_kaddr(args, e),
            // A constant by now: the checker looked the address up.
            Func::Kaddr
            | Func::Tseries
            | Func::Offsetof
            | Func::Pton
            | Func::Cgroupid
            // getopt() and uaddr() are constants by now: the checker replaced them.
            | Func::Uaddr
            // Task fields by now: the checker read them through BTF.
            | Func::Ppid
            | Func::Pcomm
            | Func::LeaderTid
            | Func::LeaderComm
            | Func::Getopt => Err(self.unsupported(e.span, &format!("{}()", format!("{func:?}").to_lowercase()))),
            Func::Count | Func::Sum | Func::Min | Func::Max | Func::Avg | Func::Stats | Func::Hist | Func::Lhist => {
                Err(Diagnostic::error(e.span, "an aggregation can only be assigned to a map: @m[key] = count()"))
            }
            Func::Delete => {
                let [target] = args else { return Err(arity(e, "delete(@m, key)")) };
                let TExprKind::MapRead { map, key } = &target.kind else { return Err(arity(e, "delete(@m, key)")) };
                let status = self.map_delete(*map, key.as_deref())?;
                // The helper returns 0 when it removed the key.
                let out = self.vreg();
                let done = self.label();
                self.alu(AluOp::Mov, out, Src::Imm(1));
                self.jump(Cond::Eq, status, Src::Imm(0), done);
                self.alu(AluOp::Mov, out, Src::Imm(0));
                self.place(done);
                Ok(Val::Scalar(out))
            }
            Func::Print
            | Func::Clear
            | Func::Zero
            | Func::Printf
            | Func::Time
            | Func::Exit
            | Func::Cat
            | Func::Join
            | Func::Signal
            | Func::System => {
                Err(Diagnostic::error(e.span, "this call has no value"))
            }
        }
    }

    /// `str(p)`, `str(p, n)`: a zero-padded copy of the NUL-terminated string
    /// at `p`. Kernel memory is tried first, then user memory (syscall
    /// tracepoint arguments point into the process).
    fn str_call(&mut self, args: &[TExpr], e: &TExpr) -> LowerResult<Val> {
        let Some(src) = args.first() else { return Err(arity(e, "str(p[, n])")) };
        let cap = match e.ty {
            Type::Str { cap } => cap,
            _ => 64,
        };
        if let Type::Str { .. } = src.ty {
            let v = self.expr(src)?;
            return Ok(v);
        }
        let p = self.expr(src)?;
        // A char array already in a buffer (a variable, a tuple element):
        // its bytes up to the cap, then a NUL.
        if let (Type::Array { len, .. }, Val::Bytes(m)) = (&src.ty, &p) {
            let buf = self.alloc(cap)?;
            self.zero(buf, cap);
            self.copy_exact(buf, *m, (*len).min(cap.saturating_sub(1)));
            return Ok(Val::Bytes(buf));
        }
        let p = self.scalar(p)?;
        let buf = self.alloc(cap)?;
        self.zero(buf, cap);
        let size = match args.get(1) {
            None => Arg::Imm(cap as i32),
            Some(TExpr { kind: TExprKind::Int(n), .. }) => Arg::Imm((*n).saturating_add(1).min(u64::from(cap)) as i32),
            Some(n) => {
                // A run-time length must be provably within the buffer.
                let v = self.expr(n)?;
                let v = self.scalar(v)?;
                let r = self.copy_reg(v);
                self.alu(AluOp::Add, r, Src::Imm(1));
                let ok = self.label();
                self.jump(Cond::Le, r, Src::Imm(cap as i32), ok);
                self.alu(AluOp::Mov, r, Src::Imm(cap as i32));
                self.place(ok);
                Arg::Reg(r)
            }
        };
        if matches!(src.ty, Type::Pointer(_, AddrSpace::User)) || self.kind.is_user_space() {
            let got = self.call(helper::PROBE_READ_USER_STR, &[Arg::Addr(buf), size, Arg::Reg(p)]);
            self.warn_on_helper_error(got, helper::PROBE_READ_USER_STR);
            return Ok(Val::Bytes(buf));
        }
        // Not known to be a user pointer (an integer, a kprobe argument):
        // kernel memory first, then user memory.
        let got = self.call(helper::PROBE_READ_KERNEL_STR, &[Arg::Addr(buf), size, Arg::Reg(p)]);
        let done = self.label();
        self.jump(Cond::Sge, got, Src::Imm(0), done);
        let got = self.call(helper::PROBE_READ_USER_STR, &[Arg::Addr(buf), size, Arg::Reg(p)]);
        // Only when both reads failed: the kernel one failing first is
        // how a user pointer is recognised.
        self.warn_on_helper_error(got, helper::PROBE_READ_USER_STR);
        self.place(done);
        Ok(Val::Bytes(buf))
    }

    /// `ntop([af,] addr)`: the 24-byte `inet` layout (u64 family, 16 bytes of
    /// address). An integer is an IPv4 address in network order as read; a
    /// 4- or 16-byte array or record is copied.
    fn ntop(&mut self, args: &[TExpr], e: &TExpr) -> LowerResult<Val> {
        let (af, addr) = match args {
            [a] => (None, a),
            [f, a] => (Some(f), a),
            _ => return Err(arity(e, "ntop([af,] addr)")),
        };
        if matches!(addr.ty, Type::Inet) {
            return self.expr(addr);
        }
        let buf = self.alloc(layout::INET_SIZE)?;
        self.zero(buf, layout::INET_SIZE);
        let addr_bytes = match &addr.ty {
            Type::Int(_) | Type::Bool | Type::Pointer(..) => 4,
            Type::Array { elem, len } => elem.int().map_or(layout::size_of(elem), |t| t.bytes()) * len,
            Type::Record(r) => r.size,
            other => return Err(Diagnostic::error(addr.span, format!("ntop() needs an address, not {other}"))),
        };
        let default_family = if addr_bytes >= 16 { AF_INET6 } else { AF_INET };
        match af {
            None => self.emit(Inst::Store { size: Size::DW, base: buf.base, off: buf.off, src: Src::Imm(default_family) }),
            Some(TExpr { kind: TExprKind::Int(n), .. }) => {
                self.emit(Inst::Store { size: Size::DW, base: buf.base, off: buf.off, src: Src::Imm(*n as i32) })
            }
            Some(f) => {
                let v = self.expr(f)?;
                let r = self.scalar(v)?;
                self.store_scalar(buf, r);
            }
        }
        let copy = match af {
            Some(TExpr { kind: TExprKind::Int(n), .. }) if *n == AF_INET as u64 => 4,
            _ => addr_bytes.min(16),
        };
        let v = self.expr(addr)?;
        let dst = buf.at(8);
        match v {
            Val::Scalar(r) => self.emit(Inst::Store { size: Size::W, base: dst.base, off: dst.off, src: Src::Reg(r) }),
            Val::Bytes(m) => self.copy_bytes(dst, m, copy),
            Val::KernelPlace(p) => {
                self.call(helper::PROBE_READ_KERNEL, &[Arg::Addr(dst), Arg::Imm(copy as i32), Arg::Reg(p)]);
            }
            Val::None => return Err(Diagnostic::error(addr.span, "ntop() needs an address")),
        }
        Ok(Val::Bytes(buf))
    }

    /// Copy exactly `n` bytes, whatever `n`: whole words, then single bytes,
    /// so nothing past `n` in `dst` changes.
    fn copy_exact(&mut self, dst: Mem, src: Mem, n: u32) {
        let words = n / 8 * 8;
        self.copy_mem(dst, src, words);
        let t = self.vreg();
        for at in words..n {
            let at = at as i16;
            self.emit(Inst::Load { size: Size::B, dst: t, base: src.base, off: src.off + at });
            self.emit(Inst::Store { size: Size::B, base: dst.base, off: dst.off + at, src: Src::Reg(t) });
        }
    }

    /// Copy exactly `n` bytes (4 or a multiple of 8) between buffers.
    fn copy_bytes(&mut self, dst: Mem, src: Mem, n: u32) {
        if n.is_multiple_of(8) {
            self.copy_mem(dst, src, n);
        } else {
            let t = self.vreg();
            for at in (0..n).step_by(4) {
                let at = at as i16;
                self.emit(Inst::Load { size: Size::W, dst: t, base: src.base, off: src.off + at });
                self.emit(Inst::Store { size: Size::W, base: dst.base, off: dst.off + at, src: Src::Reg(t) });
            }
        }
    }
}

fn arity(e: &TExpr, usage: &str) -> Diagnostic {
    Diagnostic::error(e.span, "wrong number of arguments").with_hint(format!("usage: {usage}"))
}
