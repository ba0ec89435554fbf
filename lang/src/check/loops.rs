//! `for` loops, `break` and `continue`. (`while` is checked with the other
//! statements; it only adds a loop level here.)

use super::Checker;
use crate::ast::{self, Block, ForIter, Ident, StmtKind};
use crate::span::Span;
use crate::typed::{TStmt, TStmtKind};
use crate::types::{AggKind, IntType, Type};

impl Checker<'_> {
    /// A loop's body: `break`/`continue` are allowed inside.
    pub(super) fn loop_body(&mut self, body: &Block) -> Vec<TStmt> {
        self.scope_mut().scoping.loops += 1;
        let stmts = self.block(body);
        self.scope_mut().scoping.loops -= 1;
        stmts
    }

    /// `for ($i : start..end) { … }` and `for ($kv : @m) { … }`.
    pub(super) fn for_loop(&mut self, var: &Ident, iter: &ForIter, body: &Block) -> Option<TStmtKind> {
        let (start, end) = match iter {
            ForIter::Range { start, end } => (start, end),
            ForIter::Map(map) => return self.for_map(var, map, body),
        };
        let start = self.expr(start);
        let end = self.expr(end);
        let mut bounds_ok = true;
        for bound in [&start, &end].into_iter().flatten() {
            if !bound.ty.is_integer() {
                self.error(bound.span, format!("a range bound must be an integer, not '{}'", bound.ty));
                bounds_ok = false;
            }
        }
        // The loop variable lives in a scope around the body.
        self.enter_block();
        let id = self.declare_loop_var(var, Type::I64);
        let body = self.loop_body(body);
        self.leave_block();
        let (start, end, var) = (start?, end?, id?);
        bounds_ok.then_some(TStmtKind::ForRange {
            var,
            start: super::maps::coerce(start, &Type::I64),
            end: super::maps::coerce(end, &Type::I64),
            body,
        })
    }

    /// `for ($kv : @m)`: `$kv` is `(key, value)`, the key a tuple when the
    /// map has several. An aggregation's value is its total over CPUs, as
    /// reading it anywhere else is.
    fn for_map(&mut self, var: &Ident, mref: &ast::MapRef, body: &Block) -> Option<TStmtKind> {
        if let Some(first) = mref.keys.first() {
            let span = first.span.to(mref.keys.last().map_or(first.span, |k| k.span));
            self.error_hint(span, "a for loop iterates over a whole map, not one key", Some(format!("write for ($kv : @{})", mref.name)));
            return None;
        }
        let id = self.maps.id(&mref.name, mref.name_span);
        let value = self.defined_map_value(id, mref.span)?;
        let name = self.maps.name(id);
        let key = match self.maps.key(id) {
            None | Some([]) => {
                self.error_hint(
                    mref.span,
                    format!("{name} has no keys: there is nothing to iterate over"),
                    Some(format!("read it directly: {name}")),
                );
                return None;
            }
            Some([one]) => one.clone(),
            Some(many) => Type::Tuple(many.to_vec()),
        };
        let value = match value {
            Type::Agg(agg) => match agg {
                AggKind::Count => Type::Int(IntType::U64),
                AggKind::Sum { signed } | AggKind::Min { signed } | AggKind::Max { signed } | AggKind::Avg { signed } => {
                    Type::Int(IntType { bits: 64, signed })
                }
                AggKind::Stats { .. } | AggKind::Hist | AggKind::Lhist { .. } | AggKind::Tseries { .. } => {
                    self.error_hint(
                        mref.span,
                        format!("{name} holds {}() values, which a for loop cannot read", agg.func_name()),
                        Some(format!("print it instead: print({name})")),
                    );
                    return None;
                }
            },
            other => other,
        };
        self.enter_block();
        let id_var = self.declare_loop_var(var, Type::Tuple(vec![key, value]));
        let body = self.loop_body(body);
        self.leave_block();
        Some(TStmtKind::ForMap { var: id_var?, map: id, body })
    }

    /// `break` / `continue`: only inside a loop.
    pub(super) fn loop_jump(&mut self, kind: &StmtKind, span: Span) -> Option<TStmtKind> {
        let (word, typed) = match kind {
            StmtKind::Break => ("break", TStmtKind::Break),
            _ => ("continue", TStmtKind::Continue),
        };
        if self.scope().scoping.loops == 0 {
            self.error_hint(
                span,
                format!("'{word}' outside of a loop"),
                Some(format!("'{word}' applies to the innermost for or while loop; to leave the probe use 'return'")),
            );
            return None;
        }
        Some(typed)
    }
}
