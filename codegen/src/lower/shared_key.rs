//! One flow key for several aggregations. A tc script typically keys a few
//! maps by the same 5-tuple (`@pkts[saddr, daddr, sport, dport, proto] =
//! count(); @bytes[…] = sum(len);`). Building that key costs about twenty
//! instructions per map per packet; the header fields cannot change after
//! the parse, so the first top-level aggregation builds it into a buffer
//! that lives for the whole probe and the later ones pass the same buffer.

use super::{LowerResult, Lowerer, Mem};
use crate::layout;
use flowtrace_lang::typed::{MapId, TExpr, TExprKind, TStmtKind};
use flowtrace_lang::types::Type;

pub struct SharedKey {
    key: TExpr,
    types: Vec<Type>,
    buf: Mem,
    /// Whether code that fills `buf` has been emitted (on every path to
    /// what follows, since only top-level statements fill or reuse it).
    built: bool,
}

impl Lowerer<'_> {
    /// After the header parse: when two or more top-level aggregations use
    /// the same header-only key, reserve a probe-lifetime buffer for it.
    pub fn plan_shared_key(&mut self) -> LowerResult<()> {
        let keyed: Vec<(&TExpr, &Vec<Type>)> = self
            .probe
            .body
            .iter()
            .filter_map(|s| match &s.kind {
                TStmtKind::Aggregate { map, key: Some(k), .. } if headers_only(k) => Some((k, &self.prog.maps[map.0 as usize].key)),
                _ => None,
            })
            .collect();
        let repeated = keyed.iter().enumerate().find(|(i, (k, t))| keyed[i + 1..].iter().any(|(k2, t2)| same_key(k, k2) && t == t2));
        let Some((_, (key, types))) = repeated else { return Ok(()) };
        let (key, types) = ((*key).clone(), (*types).clone());
        // Allocated before any statement, so no statement's release frees it.
        let buf = self.alloc(layout::key_size(&types))?;
        self.shared_key = Some(SharedKey { key, types, buf, built: false });
        Ok(())
    }

    /// The key buffer for a top-level statement's own map access: the
    /// shared one when `key` is it (filled the first time), else a new one.
    pub fn statement_key(&mut self, map: MapId, key: Option<&TExpr>) -> LowerResult<Mem> {
        let types = &self.prog.maps[map.0 as usize].key;
        let shared = match (&self.shared_key, key) {
            (Some(s), Some(k)) if self.stmt_depth == 1 && s.types == *types && same_key(&s.key, k) => Some((s.buf, s.built)),
            _ => None,
        };
        match shared {
            Some((buf, true)) => {
                self.comment(">key built above".to_string());
                Ok(buf)
            }
            Some((buf, false)) => {
                self.fill_key(buf, map, key)?;
                if let Some(s) = &mut self.shared_key {
                    s.built = true;
                }
                Ok(buf)
            }
            None => self.build_key(map, key),
        }
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
fn same_key(a: &TExpr, b: &TExpr) -> bool {
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
