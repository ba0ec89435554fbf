//! Statements and `$variables`. A variable's type is fixed by its first
//! assignment in the probe; later assignments may widen an integer (or a
//! string buffer) but not change its kind.

use super::ints::unify;
use super::Checker;
use crate::ast::{Block, BinOp, Expr, ExprKind, Ident, MapRef, Stmt, StmtKind};
use crate::span::Span;
use crate::typed::{TExpr, TExprKind, TProbe, TStmt, TStmtKind, VarId, VarInfo};
use crate::types::Type;

/// bpftrace's limit for `unroll(N)`.
const MAX_UNROLL: u64 = 100;

impl Checker<'_> {
    pub(super) fn block(&mut self, block: &Block) -> Vec<TStmt> {
        let mut out = Vec::new();
        for s in &block.stmts {
            self.stmt(s, &mut out);
        }
        out
    }

    fn stmt(&mut self, s: &Stmt, out: &mut Vec<TStmt>) {
        let span = s.span;
        let kind = match &s.kind {
            StmtKind::Expr(e) => self.expr_stmt(e, span),
            StmtKind::AssignVar { var, op, value } => self.assign_var(var, *op, value, span),
            StmtKind::AssignMap { map, op, value } => self.assign_map(map, *op, value, span),
            StmtKind::If { cond, then, otherwise } => {
                let cond = self.condition(cond);
                let then = self.block(then);
                let otherwise = otherwise.as_ref().map(|b| self.block(b)).unwrap_or_default();
                cond.map(|cond| TStmtKind::If { cond, then, otherwise })
            }
            StmtKind::While { cond, body } => {
                let cond = self.condition(cond);
                let body = self.block(body);
                cond.map(|cond| TStmtKind::While { cond, body })
            }
            StmtKind::Unroll { count, body } => {
                // The typed program has no loop construct for unroll: the
                // body is repeated, which is what the verifier needs anyway.
                let stmts = self.block(body);
                if *count == 0 || *count > MAX_UNROLL {
                    self.error(span, format!("unroll count must be between 1 and {MAX_UNROLL}"));
                    return;
                }
                for _ in 0..*count {
                    out.extend(stmts.iter().cloned());
                }
                return;
            }
            StmtKind::Return => Some(TStmtKind::Return),
            StmtKind::Block(b) => {
                out.extend(self.block(b));
                return;
            }
        };
        if let Some(kind) = kind {
            out.push(TStmt { kind, span });
        }
    }

    fn expr_stmt(&mut self, e: &Expr, span: Span) -> Option<TStmtKind> {
        match &e.kind {
            ExprKind::Call { func, args } => self.call_stmt(func, args, e.span),
            // `@m++` as a statement is a plain read-modify-write of the map.
            ExprKind::IncDec { target, increment, .. } if matches!(target.kind, ExprKind::Map(_)) => {
                let ExprKind::Map(mref) = &target.kind else { return None };
                let op = if *increment { BinOp::Add } else { BinOp::Sub };
                let one = TExpr { kind: TExprKind::Int(1), ty: Type::I64, span };
                self.map_update(mref, op, one, span)
            }
            _ => self.expr(e).map(TStmtKind::Expr),
        }
    }

    fn assign_var(&mut self, var: &Ident, op: Option<BinOp>, value: &Expr, span: Span) -> Option<TStmtKind> {
        let value = match op {
            None => self.expr(value),
            Some(op) => {
                let current = self.var_read(&var.name, var.span);
                let rhs = self.expr(value);
                self.binary(op, current?, rhs?, span)
            }
        };
        let Some(value) = value else {
            self.scope_mut().poisoned_vars.insert(var.name.clone());
            return None;
        };
        if matches!(value.ty, Type::Void | Type::Agg(_) | Type::Args) {
            self.error_hint(
                value.span,
                format!("a value of type '{}' cannot be stored in a variable", value.ty),
                matches!(value.ty, Type::Agg(_)).then(|| "aggregations are stored in maps: @name = count()".to_string()),
            );
            self.scope_mut().poisoned_vars.insert(var.name.clone());
            return None;
        }
        let id = self.var_assign(var, &value.ty, value.span)?;
        Some(TStmtKind::AssignVar { var: id, value })
    }

    /// Declare or widen `$name` for a value of type `ty`.
    fn var_assign(&mut self, var: &Ident, ty: &Type, span: Span) -> Option<VarId> {
        let scope = self.scope_mut();
        let Some(id) = scope.var_ids.get(&var.name).copied() else {
            let id = VarId(scope.vars.len() as u32);
            scope.vars.push(VarInfo { name: var.name.clone(), ty: ty.clone() });
            scope.var_ids.insert(var.name.clone(), id);
            return Some(id);
        };
        let known = scope.vars[id.0 as usize].ty.clone();
        match unify(&known, ty) {
            Some(t) => {
                scope.vars[id.0 as usize].ty = t;
                Some(id)
            }
            None => {
                self.error(
                    span,
                    format!("type mismatch for ${}: assigning '{ty}' to a variable that holds '{known}'", var.name),
                );
                None
            }
        }
    }

    pub(super) fn var_read(&mut self, name: &str, span: Span) -> Option<TExpr> {
        let scope = self.scope();
        if let Some(id) = scope.var_ids.get(name).copied() {
            let ty = scope.vars[id.0 as usize].ty.clone();
            return Some(TExpr { kind: TExprKind::Var(id), ty, span });
        }
        if !scope.poisoned_vars.contains(name) {
            self.error_hint(
                span,
                format!("variable ${name} is used before it is assigned"),
                Some(format!("assign it first in this probe: ${name} = …")),
            );
        }
        None
    }

    fn assign_map(&mut self, map: &MapRef, op: Option<BinOp>, value: &Expr, span: Span) -> Option<TStmtKind> {
        if let (None, ExprKind::Call { func, args }) = (op, &value.kind) {
            if let Some(info) = flowtrace_stdlib::lookup_func(&func.name).filter(|f| f.func.is_aggregation()) {
                return self.aggregate(map, info.func, func, args, value.span);
            }
        }
        if let Some(op) = op {
            let rhs = self.expr(value);
            let Some(rhs) = rhs else {
                self.poison_map(map);
                return None;
            };
            return self.map_update(map, op, rhs, span);
        }
        let v = self.expr(value);
        let key = self.map_key(map);
        let Some(v) = v else {
            self.poison_map(map);
            return None;
        };
        let (id, key) = key?;
        if matches!(v.ty, Type::Void | Type::Agg(_) | Type::Args | Type::Record(_)) {
            let hint = matches!(v.ty, Type::Record(_)).then(|| "store a pointer to it, or its fields".to_string());
            self.error_hint(v.span, format!("a value of type '{}' cannot be stored in a map", v.ty), hint);
            self.poison_map(map);
            return None;
        }
        let stored = self.map_write(id, &v.ty, v.span)?;
        Some(TStmtKind::MapStore { map: id, key, value: super::maps::coerce(v, &stored) })
    }

    /// `@m[k] OP= v` and statement-level `@m[k]++`: the map holds integers
    /// (an unassigned map becomes int64, as in bpftrace).
    fn map_update(&mut self, map: &MapRef, op: BinOp, rhs: TExpr, span: Span) -> Option<TStmtKind> {
        let (id, key) = self.map_key(map)?;
        if !rhs.ty.is_integer() {
            self.error(rhs.span, format!("'{}=' on a map needs an integer, not '{}'", op.symbol(), rhs.ty));
            return None;
        }
        let current = self.maps.value(id).cloned().unwrap_or(Type::I64);
        if !matches!(current, Type::Int(_)) {
            let name = self.maps.name(id);
            let hint = matches!(current, Type::Agg(_)).then(|| format!("{name} is an aggregation; assign it with {name} = count() / sum(x) instead"));
            self.error_hint(span, format!("cannot update {name} arithmetically: it holds '{current}'"), hint);
            return None;
        }
        let result = super::ints::arith_result(op, super::ints::int_of(&current)?, super::ints::int_of(&rhs.ty)?);
        self.map_write(id, &result, span)?;
        Some(TStmtKind::MapUpdate { map: id, key, op, value: rhs })
    }
}

/// After a probe is checked its variables have their final (widest) types:
/// give every read that type, and make narrower assignments explicit casts.
pub(super) fn settle_var_types(probe: &mut TProbe) {
    let vars: Vec<Type> = probe.vars.iter().map(|v| v.ty.clone()).collect();
    if let Some(p) = probe.predicate.as_mut() {
        settle_expr(p, &vars);
    }
    settle_stmts(&mut probe.body, &vars);
}

fn settle_stmts(stmts: &mut [TStmt], vars: &[Type]) {
    for s in stmts {
        match &mut s.kind {
            TStmtKind::AssignVar { var, value } => {
                settle_expr(value, vars);
                let ty = &vars[var.0 as usize];
                if value.ty != *ty && matches!(ty, Type::Int(_)) {
                    let span = value.span;
                    let inner = std::mem::replace(value, TExpr { kind: TExprKind::Int(0), ty: Type::Void, span });
                    *value = TExpr { kind: TExprKind::Cast { expr: Box::new(inner) }, ty: ty.clone(), span };
                }
            }
            TStmtKind::If { cond, then, otherwise } => {
                settle_expr(cond, vars);
                settle_stmts(then, vars);
                settle_stmts(otherwise, vars);
            }
            TStmtKind::While { cond, body } => {
                settle_expr(cond, vars);
                settle_stmts(body, vars);
            }
            _ => for_each_expr_in_stmt(s, &mut |e| settle_expr(e, vars)),
        }
    }
}

fn settle_expr(e: &mut TExpr, vars: &[Type]) {
    if let TExprKind::Var(id) = e.kind {
        e.ty = vars[id.0 as usize].clone();
    }
    super::walk::children_mut(e, &mut |c| settle_expr(c, vars));
}

fn for_each_expr_in_stmt(s: &mut TStmt, f: &mut dyn FnMut(&mut TExpr)) {
    match &mut s.kind {
        TStmtKind::Expr(e) | TStmtKind::PrintValue { value: e } => f(e),
        TStmtKind::AssignVar { value, .. } => f(value),
        TStmtKind::MapStore { key, value, .. } | TStmtKind::MapUpdate { key, value, .. } => {
            if let Some(k) = key {
                f(k);
            }
            f(value);
        }
        TStmtKind::Aggregate { key, arg, .. } => {
            key.iter_mut().chain(arg.iter_mut()).for_each(f);
        }
        TStmtKind::Delete { key, .. } => key.iter_mut().for_each(f),
        TStmtKind::Printf { args, .. } | TStmtKind::Action { args, .. } => args.iter_mut().for_each(f),
        TStmtKind::If { cond, .. } | TStmtKind::While { cond, .. } => f(cond),
        TStmtKind::Return
        | TStmtKind::Time { .. }
        | TStmtKind::PrintMap { .. }
        | TStmtKind::Clear { .. }
        | TStmtKind::Zero { .. }
        | TStmtKind::Exit => {}
    }
}
