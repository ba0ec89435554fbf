//! tc probes: the packet builtins, read from the `__sk_buff` context and the
//! packet headers.
//!
//! Headers are parsed once at program entry, only when the probe uses a
//! header builtin, into stack slots that the builtins then read (see
//! [`super::packet_parse`]). The context builtins read `__sk_buff` directly;
//! `ifname` looks the interface index up in a map the runtime fills with the
//! names of the interfaces it attached to (a glob attaches one program to
//! many); `skb->FIELD` is a direct `__sk_buff` context load.

use super::{Arg, LowerResult, Lowerer, Mem, Val};
use crate::insn::helper;
use crate::ir::{Cond, Inst, Size, Src};
use crate::object::{BpfMapType, MapRef, MapRole, MapSpec, ProgramKind};
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::span::Span;
use flowtrace_lang::typed::{TExpr, TExprKind, TStmt, TStmtKind};
use flowtrace_lang::types::Type;
use flowtrace_stdlib::Builtin;

/// `struct __sk_buff` field offsets (uapi, stable).
pub(super) const SKB_LEN: i16 = 0;
const SKB_MARK: i16 = 8;
const SKB_IFINDEX: i16 = 40;
pub(super) const SKB_DATA: i16 = 76;
pub(super) const SKB_DATA_END: i16 = 80;
/// The load size of the `struct __sk_buff` field at `offset` (uapi: every
/// field is a u32 except the u64 `tstamp` and `hwtstamp`, the pointer `sk`,
/// the u8 `tstamp_type`); `None` for `flow_keys` (flow dissectors only) and
/// anything past the struct's 192 bytes. The verifier wants exact sizes.
fn skb_field_size(offset: u32) -> Option<Size> {
    match offset {
        144 => None,
        152 | 168 | 184 => Some(Size::DW),
        180 => Some(Size::B),
        o if o < 192 && o % 4 == 0 => Some(Size::W),
        _ => None,
    }
}

/// `IFNAMSIZ`.
const IFNAME_LEN: u32 = 16;
/// Interfaces whose names the `ifname` map can hold.
const IFNAMES_MAX: u32 = 4096;

/// Stack slots the header parse fills; every one is 8 bytes, zero when the
/// packet does not have the header (or it is truncated).
#[derive(Clone, Copy, Debug)]
pub struct PacketSlots {
    pub family: Mem,
    pub proto: Mem,
    pub sport: Mem,
    pub dport: Mem,
    pub tcpflags: Mem,
    /// 24-byte `inet` values: family (u64), then 16 address bytes.
    pub saddr: Mem,
    pub daddr: Mem,
}

impl PacketSlots {
    /// All slots are one contiguous run starting at `daddr` (allocated last).
    pub fn zero_all(&self, l: &mut Lowerer<'_>) {
        l.zero(self.daddr, (self.family.off - self.daddr.off) as u32 + 8);
    }
}

pub(super) fn needs_headers(b: Builtin) -> bool {
    matches!(b, Builtin::Family | Builtin::Proto | Builtin::Saddr | Builtin::Daddr | Builtin::Sport | Builtin::Dport | Builtin::Tcpflags)
}

impl Lowerer<'_> {
    pub fn packet_builtin(&mut self, b: Builtin, e: &TExpr) -> LowerResult<Val> {
        if self.kind != ProgramKind::SchedCls {
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
            // The cgroup v2 id of the packet's socket (0 without a full socket).
            Builtin::Cgroup => Ok(Val::Scalar(self.call(helper::SKB_CGROUP_ID, &[Arg::Reg(ctx)]))),
            Builtin::Ifname => self.ifname(),
            Builtin::Skb => Err(Diagnostic::error(e.span, "`skb` is read through its fields: skb->len, skb->mark, skb->hash, …")
                .with_hint("fields of struct __sk_buff are loaded from the program's context")),
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

    /// `skb->FIELD`: a direct context load. The verifier rewrites `__sk_buff`
    /// accesses into `sk_buff` ones, and only accepts loads of a field's
    /// exact offset and size (or a narrower load at its start).
    pub fn skb_field(&mut self, offset: u32, ty: &Type, span: Span) -> LowerResult<Val> {
        if self.kind != ProgramKind::SchedCls {
            return Err(Diagnostic::error(span, "skb exists only in tc: probes"));
        }
        let Some(sz) = skb_field_size(offset) else {
            return Err(Diagnostic::error(span, "this struct __sk_buff field cannot be read by a tc program")
                .with_hint("readable: len, pkt_type, mark, queue_mapping, protocol, vlan_tci, priority, ifindex, hash, tc_classid, …"));
        };
        let r = self.vreg();
        self.emit(Inst::Load { size: sz, dst: r, base: self.ctx, off: offset as i16 });
        self.normalize(r, ty);
        Ok(Val::Scalar(r))
    }

    /// `ifname`: the name the runtime stored for `skb->ifindex`, or "".
    fn ifname(&mut self) -> LowerResult<Val> {
        let map = self.ifnames_map();
        let key = self.alloc(8)?;
        let ifindex = self.vreg();
        self.emit(Inst::Load { size: Size::W, dst: ifindex, base: self.ctx, off: SKB_IFINDEX });
        self.store_scalar(key, ifindex);
        let name = self.alloc(IFNAME_LEN)?;
        self.zero(name, IFNAME_LEN);
        let p = self.call(helper::MAP_LOOKUP_ELEM, &[Arg::Map(map), Arg::Addr(key)]);
        let end = self.label();
        self.jump(Cond::Eq, p, Src::Imm(0), end);
        self.copy_mem(name, Mem { base: p, off: 0 }, IFNAME_LEN);
        self.place(end);
        Ok(Val::Bytes(name))
    }

    /// The map behind `ifname`, shared by every probe that uses it.
    fn ifnames_map(&mut self) -> MapRef {
        if let Some(i) = self.g.maps.iter().position(|m| matches!(m.role, MapRole::Ifnames)) {
            return MapRef(i as u32);
        }
        let r = MapRef(self.g.maps.len() as u32);
        self.g.maps.push(MapSpec {
            name: "ft_ifnames".into(),
            map_type: BpfMapType::Hash,
            key_size: 4,
            value_size: IFNAME_LEN,
            max_entries: IFNAMES_MAX,
            role: MapRole::Ifnames,
        });
        r
    }

    /// At entry of a tc probe that uses header builtins: parse them.
    pub fn parse_packet_if_used(&mut self) -> LowerResult<()> {
        let probe = self.probe;
        let used = probe.predicate.iter().any(|p| expr_uses(p, &needs_headers)) || stmts_use(&probe.body, &needs_headers);
        if self.kind != ProgramKind::SchedCls || !used {
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
        slots.zero_all(self);
        self.packet = Some(slots);
        self.parse_headers(slots)?;
        self.plan_shared_key()
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
