//! Statements. Variables and their scopes are in `vars.rs`, loops in
//! `loops.rs`.

use super::Checker;
use crate::ast::{Block, BinOp, Expr, ExprKind, Ident, MapRef, Stmt, StmtKind};
use crate::span::Span;
use crate::typed::{TExpr, TExprKind, TProbe, TStmt, TStmtKind};
use crate::types::Type;

/// bpftrace's limit for `unroll(N)`.
const MAX_UNROLL: u64 = 100;

impl Checker<'_> {
    /// A `{ … }`: a scope of its own.
    pub(super) fn block(&mut self, block: &Block) -> Vec<TStmt> {
        self.stmts_in_scope(&block.stmts)
    }

    pub(super) fn stmts_in_scope(&mut self, stmts: &[Stmt]) -> Vec<TStmt> {
        self.enter_block();
        let mut out = Vec::new();
        for s in stmts {
            self.stmt(s, &mut out);
        }
        self.leave_block();
        out
    }

    pub(super) fn stmt(&mut self, s: &Stmt, out: &mut Vec<TStmt>) {
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
                let body = self.loop_body(body);
                cond.map(|cond| TStmtKind::While { cond, body })
            }
            StmtKind::For { var, iter, body } => self.for_loop(var, iter, body),
            StmtKind::Break | StmtKind::Continue => self.loop_jump(&s.kind, span),
            StmtKind::Let { var, ty, value } => self.let_stmt(var, ty.as_ref(), value.as_ref()),
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
                // Its variables are gone after it, but the code is the same
                // as if it were inlined: each declaration has its own slot.
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
            // `c ? print("a") : print("b");`: a ternary of statements is an if.
            ExprKind::Ternary { cond, then, otherwise } if is_statement_call(then) || is_statement_call(otherwise) => {
                let cond = self.condition(cond);
                let then = self.branch(then);
                let otherwise = self.branch(otherwise);
                Some(TStmtKind::If { cond: cond?, then, otherwise })
            }
            _ => self.expr(e).map(TStmtKind::Expr),
        }
    }

    /// One arm of a statement ternary, as a statement of its own.
    fn branch(&mut self, e: &Expr) -> Vec<TStmt> {
        self.expr_stmt(e, e.span).map(|kind| TStmt { kind, span: e.span }).into_iter().collect()
    }

    fn assign_var(&mut self, var: &Ident, op: Option<BinOp>, value: &Expr, span: Span) -> Option<TStmtKind> {
        let value = match op {
            None => self.expr(value),
            Some(op) => {
                let current = self.var_read(&var.name, var.span);
                let rhs = self.expr(value);
                current.zip(rhs).and_then(|(current, rhs)| self.binary(op, current, rhs, span))
            }
        };
        self.assign_var_value(var, value)
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
        let stored = self.map_write(id, &v.ty, super::maps::Literals::of(&v), v.span)?;
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
        if current.is_pointer() && matches!(op, BinOp::Add | BinOp::Sub) {
            // C's pointer arithmetic: the code generator scales by the pointee.
            return Some(TStmtKind::MapUpdate { map: id, key, op, value: rhs });
        }
        if !matches!(current, Type::Int(_)) {
            let name = self.maps.name(id);
            let hint = matches!(current, Type::Agg(_)).then(|| format!("{name} is an aggregation; assign it with {name} = count() / sum(x) instead"));
            self.error_hint(span, format!("cannot update {name} arithmetically: it holds '{current}'"), hint);
            return None;
        }
        let result = super::ints::arith_result(op, (super::ints::int_of(&current)?, false), (super::ints::int_of(&rhs.ty)?, super::ints::is_flexible(&rhs)));
        self.map_write(id, &result, None, span)?;
        Some(TStmtKind::MapUpdate { map: id, key, op, value: rhs })
    }
}

/// A call of a function that has no value (`print`, `printf`, `exit`, …).
fn is_statement_call(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Call { func, .. }
        if flowtrace_stdlib::lookup_func(&func.name).is_some_and(|f| f.role == flowtrace_stdlib::FuncRole::Statement))
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
            TStmtKind::ForRange { start, end, body, .. } => {
                settle_expr(start, vars);
                settle_expr(end, vars);
                settle_stmts(body, vars);
            }
            TStmtKind::ForMap { body, .. } => settle_stmts(body, vars),
            _ => for_each_expr_in_stmt(s, &mut |e| settle_expr(e, vars)),
        }
    }
}

fn settle_expr(e: &mut TExpr, vars: &[Type]) {
    match &mut e.kind {
        TExprKind::Var(id) => e.ty = vars[id.0 as usize].clone(),
        TExprKind::Block { stmts, .. } => settle_stmts(stmts, vars),
        _ => {}
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
        TStmtKind::ForRange { start, end, .. } => {
            f(start);
            f(end);
        }
        TStmtKind::Exit { code } => code.iter_mut().for_each(f),
        TStmtKind::Break | TStmtKind::Continue | TStmtKind::ZeroVar { .. } | TStmtKind::ForMap { .. } => {}
        TStmtKind::Return
        | TStmtKind::Time { .. }
        | TStmtKind::PrintMap { .. }
        | TStmtKind::Clear { .. }
        | TStmtKind::Zero { .. } => {}
    }
}
