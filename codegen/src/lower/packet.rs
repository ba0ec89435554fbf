//! tc probes: the packet builtins, read from the `__sk_buff` context and the
//! packet headers.
//!
//! Headers are parsed once at program entry, only when the probe uses a
//! header builtin (see [`super::packet_parse`]): into the flow key that
//! aggregations share ([`super::shared_key`]), and into value slots for the
//! header builtins read anywhere else. The context builtins read `__sk_buff` directly;
//! `ifname` looks the interface index up in a map the runtime fills with the
//! names of the interfaces it attached to (a glob attaches one program to
//! many); `skb->FIELD` is a direct `__sk_buff` context load.

use super::{Arg, LowerResult, Lowerer, Mem, Val};
use crate::insn::helper;
use crate::ir::{Cond, Inst, Reg, Size, Src};
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

/// Where the header parse writes one integer field, at its width.
#[derive(Clone, Copy, Debug)]
pub struct FieldDest {
    pub at: Mem,
    pub size: Size,
}

/// Where it writes an address: its 16 bytes (IPv4 in the first 4) at
/// `addr`, the family at `family`.
#[derive(Clone, Copy, Debug)]
pub struct InetDest {
    pub addr: Mem,
    pub family: FieldDest,
}

/// Every place the header parse writes: the value slots of header builtins
/// read in expressions, and the fields of the flow key it builds in place
/// (`shared_key`). A field nobody reads has no destination and is not
/// loaded. What the packet does not have stays zero.
#[derive(Clone, Debug, Default)]
pub struct PacketDests {
    pub family: Vec<FieldDest>,
    pub proto: Vec<FieldDest>,
    pub sport: Vec<FieldDest>,
    pub dport: Vec<FieldDest>,
    pub tcpflags: Vec<FieldDest>,
    pub saddr: Vec<InetDest>,
    pub daddr: Vec<InetDest>,
    /// Zeroed before the parse and again when the headers turn out
    /// invalid: every destination's bytes, and the flow key's padding.
    pub zeroed: Vec<(Mem, u32)>,
    /// Constant fields of the flow key, written after each zeroing.
    pub constants: Vec<(FieldDest, i64)>,
}

impl PacketDests {
    /// The integer destinations of header builtin `b`.
    pub fn scalars(&mut self, b: Builtin) -> Option<&mut Vec<FieldDest>> {
        match b {
            Builtin::Family => Some(&mut self.family),
            Builtin::Proto => Some(&mut self.proto),
            Builtin::Sport => Some(&mut self.sport),
            Builtin::Dport => Some(&mut self.dport),
            Builtin::Tcpflags => Some(&mut self.tcpflags),
            _ => None,
        }
    }

    /// The address destinations of `saddr`/`daddr`.
    pub fn inets(&mut self, b: Builtin) -> Option<&mut Vec<InetDest>> {
        match b {
            Builtin::Saddr => Some(&mut self.saddr),
            Builtin::Daddr => Some(&mut self.daddr),
            _ => None,
        }
    }

    /// Zero every destination (and padding), then write the constants.
    pub fn reset(&self, l: &mut Lowerer<'_>) {
        for &(m, size) in &self.zeroed {
            l.zero(m, size);
        }
        for (d, v) in &self.constants {
            let r = l.constant(*v as u64);
            l.emit(Inst::Store { size: d.size, base: d.at.base, off: d.at.off, src: Src::Reg(r) });
        }
    }
}

/// The value slots of the header builtins read in expressions: 8-byte
/// integers, 24-byte `inet` values.
#[derive(Clone, Debug, Default)]
pub struct PacketSlots {
    slots: Vec<(Builtin, Mem)>,
}

impl PacketSlots {
    /// The same slots seen from a callback: stack slots through `frame0`,
    /// the register holding frame 0's frame pointer there.
    pub fn rebased(&self, frame0: Reg) -> PacketSlots {
        let slots = self.slots.iter().map(|&(b, m)| (b, if m.base == crate::ir::FP { Mem { base: frame0, off: m.off } } else { m })).collect();
        PacketSlots { slots }
    }

    fn get(&self, b: Builtin) -> Option<Mem> {
        self.slots.iter().find(|(x, _)| *x == b).map(|(_, m)| *m)
    }
}

/// The builtins the header parse provides.
pub const HEADER_BUILTINS: [Builtin; 7] =
    [Builtin::Family, Builtin::Proto, Builtin::Saddr, Builtin::Daddr, Builtin::Sport, Builtin::Dport, Builtin::Tcpflags];

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
                let slot = self.packet.as_ref().and_then(|s| s.get(b));
                let slot = slot.ok_or_else(|| Diagnostic::error(e.span, "internal error: packet headers not parsed"))?;
                match b {
                    Builtin::Saddr | Builtin::Daddr => Ok(Val::Bytes(slot)),
                    _ => Ok(Val::Scalar(self.load_scalar(slot))),
                }
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

    /// At entry of a tc probe that uses header builtins: parse them, into
    /// the flow key (built in place, see `shared_key`) and into value slots
    /// for the builtins read anywhere else.
    pub fn parse_packet_if_used(&mut self) -> LowerResult<()> {
        let probe = self.probe;
        let used = probe.predicate.iter().any(|p| expr_uses(p, &needs_headers)) || stmts_use(&probe.body, &needs_headers, None);
        if self.kind != ProgramKind::SchedCls || !used {
            return Ok(());
        }
        self.comment(">parse packet headers".to_string());
        let mut dests = PacketDests::default();
        self.plan_packet_key(&mut dests)?;
        let key = self.shared_key.as_ref().map(|k| k.key().clone());
        let mut slots = PacketSlots::default();
        for b in HEADER_BUILTINS {
            let want = |x: Builtin| x == b;
            let read = probe.predicate.iter().any(|p| expr_uses(p, &want)) || stmts_use(&probe.body, &want, key.as_ref());
            if !read {
                continue;
            }
            let inet = matches!(b, Builtin::Saddr | Builtin::Daddr);
            let m = self.alloc(if inet { 24 } else { 8 })?;
            let family = FieldDest { at: m, size: Size::DW };
            if let Some(v) = dests.inets(b) {
                // Value layout: u64 family, then the address.
                v.push(InetDest { addr: m.at(8), family });
            } else if let Some(v) = dests.scalars(b) {
                v.push(family);
            }
            dests.zeroed.push((m, if inet { 24 } else { 8 }));
            slots.slots.push((b, m));
        }
        dests.reset(self);
        self.packet = Some(slots);
        self.parse_headers(&dests)
    }
}

/// Whether any builtin matching `want` occurs in the statements; with
/// `key`, not counting aggregation keys that are that key (the parse writes
/// those fields straight into it).
pub fn stmts_use(stmts: &[TStmt], want: &dyn Fn(Builtin) -> bool, key: Option<&TExpr>) -> bool {
    stmts.iter().any(|s| stmt_uses(s, want, key))
}

fn stmt_uses(s: &TStmt, want: &dyn Fn(Builtin) -> bool, in_key: Option<&TExpr>) -> bool {
    let e = |x: &TExpr| expr_uses(x, want);
    let oe = |x: &Option<TExpr>| x.as_ref().is_some_and(|x| expr_uses(x, want));
    match &s.kind {
        TStmtKind::Expr(x) | TStmtKind::AssignVar { value: x, .. } | TStmtKind::PrintValue { value: x } => e(x),
        TStmtKind::MapStore { key, value, .. } | TStmtKind::MapUpdate { key, value, .. } => oe(key) || e(value),
        TStmtKind::Aggregate { key: Some(k), arg, .. } if in_key.is_some_and(|s| super::shared_key::same_key(s, k)) => oe(arg),
        TStmtKind::Aggregate { key, arg, .. } => oe(key) || oe(arg),
        TStmtKind::Delete { key, .. } => oe(key),
        TStmtKind::If { cond, then, otherwise } => e(cond) || stmts_use(then, want, in_key) || stmts_use(otherwise, want, in_key),
        TStmtKind::While { cond, body } => e(cond) || stmts_use(body, want, in_key),
        TStmtKind::ForRange { start, end, body, .. } => e(start) || e(end) || stmts_use(body, want, in_key),
        // A for-map body is a callback without the shared key: its
        // aggregations build their own keys from the value slots.
        TStmtKind::ForMap { body, .. } => stmts_use(body, want, None),
        TStmtKind::Exit { code } => oe(code),
        TStmtKind::Printf { args, .. } | TStmtKind::Action { args, .. } => args.iter().any(e),
        TStmtKind::Return
        | TStmtKind::Time { .. }
        | TStmtKind::PrintMap { .. }
        | TStmtKind::Clear { .. }
        | TStmtKind::Zero { .. }
        | TStmtKind::Break
        | TStmtKind::Continue
        | TStmtKind::ZeroVar { .. } => false,
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
        TExprKind::Block { stmts, value } => stmts_use(stmts, want, None) || e(value),
        TExprKind::Int(_)
        | TExprKind::Str(_)
        | TExprKind::Var(_)
        | TExprKind::TracepointArg { .. }
        | TExprKind::FuncArg { .. }
        | TExprKind::ProbeName(_)
        | TExprKind::Bytes(_) => false,
    }
}
