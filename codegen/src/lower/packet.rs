//! tc probes: the packet builtins, read from the `__sk_buff` context and the
//! packet headers.
//!
//! Headers are parsed once at program entry (only when the probe uses a
//! header builtin) into stack slots that the builtins then read. Parsing uses
//! `bpf_skb_load_bytes`, which needs no data/data_end bounds proofs and also
//! reads non-linear skbs. Assumptions: an Ethernet-style 14-byte link header
//! (true for ethernet, veth and loopback), no VLAN tags, no IPv6 extension
//! headers (ports are 0 then).

use super::{Arg, LowerResult, Lowerer, Mem, Val};
use crate::insn::helper;
use crate::ir::{AluOp, Cond, Inst, Size, Src};
use flowtrace_lang::ast::AttachKind;
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::typed::{TExpr, TExprKind, TStmt, TStmtKind};
use flowtrace_stdlib::Builtin;

/// `struct __sk_buff` field offsets (uapi, stable).
const SKB_LEN: i16 = 0;
const SKB_MARK: i16 = 8;
const SKB_PROTOCOL: i16 = 16;
const SKB_IFINDEX: i16 = 40;

const ETH_HLEN: i32 = 14;
/// `skb->protocol` is big-endian in the low 16 bits of a u32.
const ETH_P_IP_BE: i32 = 0x0008;
const ETH_P_IPV6_BE: i32 = 0xdd86;
const IPPROTO_TCP: i32 = 6;
const IPPROTO_UDP: i32 = 17;

/// Stack slots the header parse fills.
#[derive(Clone, Copy, Debug)]
pub struct PacketSlots {
    family: Mem,
    proto: Mem,
    sport: Mem,
    dport: Mem,
    tcpflags: Mem,
    /// 24-byte `inet` values.
    saddr: Mem,
    daddr: Mem,
}

fn needs_headers(b: Builtin) -> bool {
    matches!(b, Builtin::Family | Builtin::Proto | Builtin::Saddr | Builtin::Daddr | Builtin::Sport | Builtin::Dport | Builtin::Tcpflags)
}

impl Lowerer<'_> {
    pub fn packet_builtin(&mut self, b: Builtin, e: &TExpr) -> LowerResult<Val> {
        if self.kind != crate::object::ProgramKind::SchedCls {
            return Err(Diagnostic::error(e.span, format!("{b:?} is a packet builtin: only tc: probes have it")));
        }
        let ctx = self.ctx;
        let ctx_u32 = |l: &mut Self, off: i16| {
            let r = l.vreg();
            l.emit(Inst::Load { size: Size::W, dst: r, base: ctx, off });
            Ok(Val::Scalar(r))
        };
        match b {
            Builtin::Len => ctx_u32(self, SKB_LEN),
            Builtin::Mark => ctx_u32(self, SKB_MARK),
            Builtin::Ifindex => ctx_u32(self, SKB_IFINDEX),
            Builtin::Cookie => Ok(Val::Scalar(self.call(helper::GET_SOCKET_COOKIE, &[Arg::Reg(ctx)]))),
            Builtin::Ifname => {
                // Wildcards are expanded per interface, so the name is a constant.
                let AttachKind::Tc { iface, .. } = &self.probe.attach.kind else { unreachable!("tc probe") };
                let iface = iface.clone();
                let lit = TExpr { kind: TExprKind::Str(iface), ty: e.ty.clone(), span: e.span };
                self.expr(&lit)
            }
            Builtin::Dir => {
                let AttachKind::Tc { dir, .. } = &self.probe.attach.kind else { unreachable!("tc probe") };
                let text = if *dir == flowtrace_lang::ast::TcDir::Ingress { "ingress" } else { "egress" };
                let lit = TExpr { kind: TExprKind::Str(text.into()), ty: e.ty.clone(), span: e.span };
                self.expr(&lit)
            }
            Builtin::Skb => Err(self.unsupported(e.span, "skb (the kernel sk_buff pointer)")),
            _ => {
                let slots = self.packet.ok_or_else(|| Diagnostic::error(e.span, "internal error: packet headers not parsed"))?;
                let slot = match b {
                    Builtin::Family => slots.family,
                    Builtin::Proto => slots.proto,
                    Builtin::Sport => slots.sport,
                    Builtin::Dport => slots.dport,
                    Builtin::Tcpflags => slots.tcpflags,
                    Builtin::Saddr => return Ok(Val::Bytes(slots.saddr)),
                    _ => return Ok(Val::Bytes(slots.daddr)),
                };
                Ok(Val::Scalar(self.load_scalar(slot)))
            }
        }
    }

    /// At entry of a tc probe that uses header builtins: parse them.
    pub fn parse_packet_if_used(&mut self) -> LowerResult<()> {
        let probe = self.probe;
        let used = probe.predicate.iter().any(|p| expr_uses(p, &needs_headers)) || stmts_use(&probe.body, &needs_headers);
        if self.kind != crate::object::ProgramKind::SchedCls || !used {
            return Ok(());
        }
        self.comment(">parse packet headers".to_string());
        let slot = |l: &mut Self, size| l.alloc(size);
        let slots = PacketSlots {
            family: slot(self, 8)?,
            proto: slot(self, 8)?,
            sport: slot(self, 8)?,
            dport: slot(self, 8)?,
            tcpflags: slot(self, 8)?,
            saddr: slot(self, 24)?,
            daddr: slot(self, 24)?,
        };
        let first = slots.family;
        self.zero(slots.daddr, (first.off - slots.daddr.off) as u32 + 8);
        self.packet = Some(slots);
        let buf = self.alloc(8)?;
        let ctx = self.ctx;
        let (v6, l4, done) = (self.label(), self.label(), self.label());
        let proto = self.vreg();
        self.emit(Inst::Load { size: Size::W, dst: proto, base: ctx, off: SKB_PROTOCOL });
        self.jump(Cond::Eq, proto, Src::Imm(ETH_P_IPV6_BE), v6);
        self.jump(Cond::Ne, proto, Src::Imm(ETH_P_IP_BE), done);
        // IPv4: version/IHL, protocol at +9, addresses at +12 and +16.
        let l4_off = self.vreg();
        self.load_bytes(buf, ETH_HLEN, 1);
        self.emit(Inst::Load { size: Size::B, dst: l4_off, base: buf.base, off: buf.off });
        // Mask the IHL before scaling it so the offset stays small and known.
        self.alu(AluOp::And, l4_off, Src::Imm(0x0f));
        self.alu(AluOp::Lsh, l4_off, Src::Imm(2));
        self.alu(AluOp::Add, l4_off, Src::Imm(ETH_HLEN));
        self.emit(Inst::Store { size: Size::DW, base: slots.family.base, off: slots.family.off, src: Src::Imm(2) });
        self.copy_header_byte(ETH_HLEN + 9, slots.proto, buf);
        self.set_inet(slots.saddr, 2, ETH_HLEN + 12, 4);
        self.set_inet(slots.daddr, 2, ETH_HLEN + 16, 4);
        self.goto(l4);
        // IPv6: next header at +6, addresses at +8 and +24, 40-byte header.
        self.place(v6);
        self.emit(Inst::Store { size: Size::DW, base: slots.family.base, off: slots.family.off, src: Src::Imm(10) });
        self.copy_header_byte(ETH_HLEN + 6, slots.proto, buf);
        self.set_inet(slots.saddr, 10, ETH_HLEN + 8, 16);
        self.set_inet(slots.daddr, 10, ETH_HLEN + 24, 16);
        self.alu(AluOp::Mov, l4_off, Src::Imm(ETH_HLEN + 40));
        self.place(l4);
        self.ports_and_flags(slots, l4_off, buf, done);
        self.place(done);
        Ok(())
    }

    fn ports_and_flags(&mut self, slots: PacketSlots, l4_off: crate::ir::Reg, buf: Mem, done: crate::ir::Label) {
        let p = self.load_scalar(slots.proto);
        let ports = self.label();
        self.jump(Cond::Eq, p, Src::Imm(IPPROTO_UDP), ports);
        self.jump(Cond::Ne, p, Src::Imm(IPPROTO_TCP), done);
        self.place(ports);
        // Source and destination port, big-endian, at the start of TCP and UDP.
        let r = self.call(
            helper::SKB_LOAD_BYTES,
            &[Arg::Reg(self.ctx), Arg::Reg(l4_off), Arg::Addr(buf), Arg::Imm(4)],
        );
        self.jump(Cond::Ne, r, Src::Imm(0), done);
        for (at, slot) in [(0, slots.sport), (2, slots.dport)] {
            let v = self.vreg();
            self.emit(Inst::Load { size: Size::H, dst: v, base: buf.base, off: buf.off + at });
            self.emit(Inst::ToBe { dst: v, bits: 16 });
            self.store_scalar(slot, v);
        }
        self.jump(Cond::Ne, p, Src::Imm(IPPROTO_TCP), done);
        let flags_at = self.copy_reg(l4_off);
        self.alu(AluOp::Add, flags_at, Src::Imm(13));
        let r = self.call(helper::SKB_LOAD_BYTES, &[Arg::Reg(self.ctx), Arg::Reg(flags_at), Arg::Addr(buf), Arg::Imm(1)]);
        self.jump(Cond::Ne, r, Src::Imm(0), done);
        let f = self.vreg();
        self.emit(Inst::Load { size: Size::B, dst: f, base: buf.base, off: buf.off });
        self.store_scalar(slots.tcpflags, f);
    }

    /// `skb_load_bytes(ctx, off, buf, len)`; on failure `buf` keeps its bytes.
    fn load_bytes(&mut self, buf: Mem, off: i32, len: i32) {
        self.emit(Inst::Store { size: Size::DW, base: buf.base, off: buf.off, src: Src::Imm(0) });
        self.call(helper::SKB_LOAD_BYTES, &[Arg::Reg(self.ctx), Arg::Imm(off), Arg::Addr(buf), Arg::Imm(len)]);
    }

    fn copy_header_byte(&mut self, off: i32, slot: Mem, buf: Mem) {
        self.load_bytes(buf, off, 1);
        let v = self.load_scalar(buf);
        self.store_scalar(slot, v);
    }

    /// An `inet` slot: family, then `len` address bytes read from the packet.
    fn set_inet(&mut self, slot: Mem, family: i32, off: i32, len: i32) {
        self.emit(Inst::Store { size: Size::DW, base: slot.base, off: slot.off, src: Src::Imm(family) });
        self.call(helper::SKB_LOAD_BYTES, &[Arg::Reg(self.ctx), Arg::Imm(off), Arg::Addr(slot.at(8)), Arg::Imm(len)]);
    }
}

/// Whether any builtin matching `want` occurs in the statements.
pub fn stmts_use(stmts: &[TStmt], want: &dyn Fn(Builtin) -> bool) -> bool {
    stmts.iter().any(|s| stmt_uses(s, want))
}

fn stmt_uses(s: &TStmt, want: &dyn Fn(Builtin) -> bool) -> bool {
    let e = |x: &TExpr| expr_uses(x, want);
    let oe = |x: &Option<TExpr>| x.as_ref().is_some_and(|x| expr_uses(x, want));
    match &s.kind {
        TStmtKind::Expr(x) | TStmtKind::AssignVar { value: x, .. } | TStmtKind::PrintValue { value: x } => e(x),
        TStmtKind::MapStore { key, value, .. } | TStmtKind::MapUpdate { key, value, .. } => oe(key) || e(value),
        TStmtKind::Aggregate { key, arg, .. } => oe(key) || oe(arg),
        TStmtKind::Delete { key, .. } => oe(key),
        TStmtKind::If { cond, then, otherwise } => e(cond) || stmts_use(then, want) || stmts_use(otherwise, want),
        TStmtKind::While { cond, body } => e(cond) || stmts_use(body, want),
        TStmtKind::Printf { args, .. } => args.iter().any(e),
        TStmtKind::Return
        | TStmtKind::Time { .. }
        | TStmtKind::PrintMap { .. }
        | TStmtKind::Clear { .. }
        | TStmtKind::Zero { .. }
        | TStmtKind::Exit => false,
    }
}

pub fn expr_uses(x: &TExpr, want: &dyn Fn(Builtin) -> bool) -> bool {
    let e = |x: &TExpr| expr_uses(x, want);
    match &x.kind {
        TExprKind::Builtin(b) => want(*b),
        TExprKind::MapRead { key, .. } => key.as_deref().is_some_and(e),
        TExprKind::Unary { expr, .. } | TExprKind::Cast { expr } => e(expr),
        TExprKind::Binary { lhs, rhs, .. } => e(lhs) || e(rhs),
        TExprKind::Ternary { cond, then, otherwise } => e(cond) || e(then) || e(otherwise),
        TExprKind::Member { base, .. } => e(base),
        TExprKind::Index { base, index, .. } => e(base) || e(index),
        TExprKind::Tuple(items) | TExprKind::Call { args: items, .. } => items.iter().any(e),
        TExprKind::IncDec { target, .. } => e(target),
        TExprKind::Int(_)
        | TExprKind::Str(_)
        | TExprKind::Var(_)
        | TExprKind::TracepointArg { .. }
        | TExprKind::FuncArg { .. }
        | TExprKind::ProbeName(_) => false,
    }
}
