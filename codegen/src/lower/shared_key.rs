//! The flow key, built in place by the header parse. A tc script typically
//! keys its maps by the 5-tuple (`@pkts[saddr, daddr, sport, dport, proto]
//! = count(); @bytes[…] = sum(len);`). Header fields cannot change after
//! the parse, so the parse writes them straight into the key buffer, at
//! their key offsets and widths (`layout::key_offsets`), instead of into
//! value slots that each aggregation then copies into its own key: every
//! aggregation keyed by the same header fields (at any depth: the key is
//! complete from the probe's entry on) passes that one buffer.

use super::packet::{FieldDest, InetDest, PacketDests};
use super::{LowerResult, Lowerer, Mem};
use crate::ir::Size;
use crate::layout;
use flowtrace_lang::typed::{MapId, TExpr, TExprKind, TStmt, TStmtKind, TypedProgram};
use flowtrace_lang::types::Type;
use flowtrace_stdlib::Builtin;

pub struct SharedKey {
    key: TExpr,
    types: Vec<Type>,
    buf: Mem,
}

impl SharedKey {
    /// The key expression the buffer holds.
    pub fn key(&self) -> &TExpr {
        &self.key
    }
}

impl Lowerer<'_> {
    /// Before the header parse: when an aggregation is keyed only by header
    /// fields and constants, reserve a probe-lifetime key buffer and add
    /// its fields to `dests`. The first such key wins; others are built
    /// where they are used.
    pub fn plan_packet_key(&mut self, dests: &mut PacketDests) -> LowerResult<()> {
        let (probe, prog) = (self.probe, self.prog);
        let Some((key, types)) = first_header_key(&probe.body, prog) else { return Ok(()) };
        let items: Vec<&TExpr> = match (&key.kind, types.len()) {
            (TExprKind::Tuple(items), n) if n > 1 && items.len() == n => items.iter().collect(),
            (_, 1) => vec![key],
            _ => return Ok(()),
        };
        if !items.iter().zip(types.iter()).all(|(item, ty)| in_place(item, ty)) {
            return Ok(());
        }
        let (offs, size) = layout::key_offsets(types);
        // Allocated before any statement, so no statement's release frees it.
        let buf = self.alloc(size)?;
        for ((item, ty), off) in items.iter().zip(types.iter()).zip(offs) {
            let at = buf.at(off);
            match (item.kind.clone(), ty) {
                (TExprKind::Builtin(b), Type::Inet) => {
                    let family = FieldDest { at: at.at(layout::KEY_INET_FAMILY), size: Size::B };
                    dests.inets(b).expect("in_place checked").push(InetDest { addr: at, family });
                }
                (TExprKind::Builtin(b), Type::Int(t)) => {
                    let size = Size::of_bytes(t.bytes()).expect("in_place checked");
                    dests.scalars(b).expect("in_place checked").push(FieldDest { at, size });
                }
                (TExprKind::Int(v), Type::Int(t)) => {
                    let size = Size::of_bytes(t.bytes()).expect("in_place checked");
                    dests.constants.push((FieldDest { at, size }, v as i64));
                }
                _ => unreachable!("in_place checked"),
            }
        }
        dests.zeroed.push((buf, size));
        self.shared_key = Some(SharedKey { key: key.clone(), types: types.clone(), buf });
        Ok(())
    }

    /// The key buffer for an aggregation's map access: the flow key when
    /// `key` is it, else one built here.
    pub fn statement_key(&mut self, map: MapId, key: Option<&TExpr>) -> LowerResult<Mem> {
        let types = &self.prog.maps[map.0 as usize].key;
        if let (Some(s), Some(k)) = (&self.shared_key, key) {
            if s.types == *types && same_key(&s.key, k) {
                let buf = s.buf;
                self.comment(">key built by the header parse".to_string());
                return Ok(buf);
            }
        }
        self.build_key(map, key)
    }
}

/// The first aggregation key (in statement order, at any depth) made only
/// of header fields and constants, with its map's key types.
fn first_header_key<'p>(stmts: &'p [TStmt], prog: &'p TypedProgram) -> Option<(&'p TExpr, &'p Vec<Type>)> {
    stmts.iter().find_map(|s| match &s.kind {
        TStmtKind::Aggregate { map, key: Some(k), .. } if headers_only(k) => Some((k, &prog.maps[map.0 as usize].key)),
        TStmtKind::If { then, otherwise, .. } => first_header_key(then, prog).or_else(|| first_header_key(otherwise, prog)),
        TStmtKind::While { body, .. } => first_header_key(body, prog),
        _ => None,
    })
}

/// Whether the parse can write key field `item` of type `ty` itself.
fn in_place(item: &TExpr, ty: &Type) -> bool {
    match (&item.kind, ty) {
        (TExprKind::Builtin(Builtin::Saddr | Builtin::Daddr), Type::Inet) => true,
        (TExprKind::Builtin(b), Type::Int(t)) => {
            super::packet::needs_headers(*b) && !matches!(b, Builtin::Saddr | Builtin::Daddr) && Size::of_bytes(t.bytes()).is_some()
        }
        (TExprKind::Int(_), Type::Int(t)) => Size::of_bytes(t.bytes()).is_some(),
        _ => false,
    }
}

/// Header fields parsed once per packet (never written afterwards) and
/// constants: a key made only of these has the same bytes all probe long.
fn headers_only(e: &TExpr) -> bool {
    match &e.kind {
        TExprKind::Builtin(b) => super::packet::needs_headers(*b),
        TExprKind::Int(_) => true,
        TExprKind::Tuple(items) => items.iter().all(headers_only),
        _ => false,
    }
}

/// The same header-only key, ignoring spans.
pub fn same_key(a: &TExpr, b: &TExpr) -> bool {
    if a.ty != b.ty {
        return false;
    }
    match (&a.kind, &b.kind) {
        (TExprKind::Builtin(x), TExprKind::Builtin(y)) => x == y,
        (TExprKind::Int(x), TExprKind::Int(y)) => x == y,
        (TExprKind::Tuple(x), TExprKind::Tuple(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_key(p, q)),
        _ => false,
    }
}
