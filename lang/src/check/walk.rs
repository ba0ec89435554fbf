//! Visiting the sub-expressions of a typed expression.

use crate::typed::{TExpr, TExprKind};

/// Call `f` on each direct child of `e`.
pub(crate) fn children_mut(e: &mut TExpr, f: &mut dyn FnMut(&mut TExpr)) {
    match &mut e.kind {
        TExprKind::Int(_)
        | TExprKind::Str(_)
        | TExprKind::Builtin(_)
        | TExprKind::Var(_)
        | TExprKind::TracepointArg { .. }
        | TExprKind::FuncArg { .. }
        | TExprKind::ProbeName(_)
        | TExprKind::Bytes(_) => {}
        TExprKind::MapRead { key, .. } => {
            if let Some(k) = key {
                f(k);
            }
        }
        TExprKind::Unary { expr, .. } | TExprKind::Cast { expr } => f(expr),
        TExprKind::Member { base, .. } => f(base),
        TExprKind::Binary { lhs, rhs, .. } => {
            f(lhs);
            f(rhs);
        }
        TExprKind::Ternary { cond, then, otherwise } => {
            f(cond);
            f(then);
            f(otherwise);
        }
        TExprKind::Index { base, index, .. } => {
            f(base);
            f(index);
        }
        TExprKind::Tuple(items) | TExprKind::Call { args: items, .. } => items.iter_mut().for_each(f),
        // A block's statements are visited by the statement walkers.
        TExprKind::IncDec { target, .. } | TExprKind::Block { value: target, .. } => f(target),
    }
}
