//! `for` loops, `break` and `continue`. (`while` is checked with the other
//! statements; it only adds a loop level here.)

use super::Checker;
use crate::ast::{Block, ForIter, Ident, StmtKind};
use crate::span::Span;
use crate::typed::{TStmt, TStmtKind};
use crate::types::Type;

impl Checker<'_> {
    /// A loop's body: `break`/`continue` are allowed inside.
    pub(super) fn loop_body(&mut self, body: &Block) -> Vec<TStmt> {
        self.scope_mut().scoping.loops += 1;
        let stmts = self.block(body);
        self.scope_mut().scoping.loops -= 1;
        stmts
    }

    /// `for ($i : start..end) { … }`; `for ($kv : @m)` is reported as not
    /// available yet.
    pub(super) fn for_loop(&mut self, var: &Ident, iter: &ForIter, body: &Block) -> Option<TStmtKind> {
        let (start, end) = match iter {
            ForIter::Range { start, end } => (start, end),
            ForIter::Map(map) => {
                self.error_hint(
                    map.span,
                    "for loops over a map are not supported yet",
                    Some("they need a BPF callback program (bpf_for_each_map_elem), which flowtrace does not emit yet; print(@m) or a ranged for over known keys instead".into()),
                );
                return None;
            }
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
