//! Statements and control flow.

use super::{LowerResult, Lowerer, Val};
use crate::ir::{Cond, Src};
use crate::layout;
use flowtrace_lang::ast::BinOp;
use flowtrace_lang::typed::{TExpr, TExprKind, TStmt, TStmtKind};
use flowtrace_lang::ast::UnOp;

impl Lowerer<'_> {
    pub fn stmt(&mut self, s: &TStmt) -> LowerResult<()> {
        // Temporaries die with their statement: release their stack.
        let mark = self.stack_top;
        let scratch_mark = self.scratch.map(|a| a.top);
        self.span = s.span;
        self.stmt_depth += 1;
        let done = self.stmt_inner(s);
        self.stmt_depth -= 1;
        done?;
        self.stack_top = mark;
        if let (Some(area), Some(top)) = (&mut self.scratch, scratch_mark) {
            area.top = top;
        }
        Ok(())
    }

    fn stmt_inner(&mut self, s: &TStmt) -> LowerResult<()> {
        match &s.kind {
            TStmtKind::Expr(e) => {
                self.comment(format!(">expr {}", short(e)));
                self.expr(e)?;
            }
            TStmtKind::AssignVar { var, value } => {
                let info = &self.probe.vars[var.0 as usize];
                self.comment(format!(">assign ${}", info.name));
                let ty = info.ty.clone();
                let v = self.expr(value)?;
                let slot = self.vars[var.0 as usize];
                self.store_value(slot, &ty, v, &value.ty)?;
            }
            TStmtKind::MapStore { map, key, value } => self.map_store(*map, key.as_ref(), value)?,
            TStmtKind::MapUpdate { map, key, op, value } => self.map_update(*map, key.as_ref(), *op, value)?,
            TStmtKind::Aggregate { map, key, agg, arg } => match self.g.fuse.find(*map) {
                Some((group, index)) => self.fused_aggregate(*map, group, index)?,
                None => self.aggregate(*map, key.as_ref(), *agg, arg.as_ref())?,
            },
            TStmtKind::Delete { map, key } => {
                self.map_delete(*map, key.as_ref())?;
            }
            TStmtKind::If { cond, then, otherwise } => {
                self.comment(">if".to_string());
                let (else_l, end) = (self.label(), self.label());
                self.cond_jump_false(cond, else_l)?;
                for st in then {
                    self.stmt(st)?;
                }
                self.goto(end);
                self.place(else_l);
                for st in otherwise {
                    self.stmt(st)?;
                }
                self.place(end);
            }
            TStmtKind::While { cond, body } => self.while_loop(cond, body)?,
            TStmtKind::ForRange { var, start, end, body } => self.for_range(*var, start, end, body)?,
            TStmtKind::ForMap { var, map, body } => self.for_map(*var, *map, body)?,
            TStmtKind::Break | TStmtKind::Continue => self.loop_jump(matches!(s.kind, TStmtKind::Break))?,
            TStmtKind::ZeroVar { var } => {
                let info = &self.probe.vars[var.0 as usize];
                self.comment(format!(">let ${}", info.name));
                let size = layout::size_of(&info.ty).max(8);
                let slot = self.vars[var.0 as usize];
                self.zero(slot, size);
            }
            TStmtKind::Return => {
                self.comment(">return".to_string());
                let exit = self.exit;
                self.goto(exit);
            }
            TStmtKind::Printf { format, args } => self.printf(format, args)?,
            TStmtKind::Time { format } => self.time_event(format)?,
            TStmtKind::PrintMap { map, top, div } => self.print_map_event(*map, *top, *div)?,
            TStmtKind::PrintValue { value } => self.print_value_event(value)?,
            TStmtKind::Clear { map } => self.clear_event(*map)?,
            TStmtKind::Zero { map } => self.zero_event(*map)?,
            TStmtKind::Exit { code } => self.exit_event(code.as_ref())?,
            TStmtKind::Action { action, args } => self.action(action, args)?,
        }
        Ok(())
    }

    /// Jump to `target` when `e` is false; fall through when true.
    /// Comparisons and `&&`/`||`/`!` become jumps without materialising 0/1.
    pub fn cond_jump_false(&mut self, e: &TExpr, target: crate::ir::Label) -> LowerResult<()> {
        match &e.kind {
            TExprKind::Binary { op: BinOp::And, lhs, rhs } => {
                self.cond_jump_false(lhs, target)?;
                self.cond_jump_false(rhs, target)
            }
            TExprKind::Binary { op: BinOp::Or, lhs, rhs } => {
                let pass = self.label();
                self.cond_jump_true(lhs, pass)?;
                self.cond_jump_false(rhs, target)?;
                self.place(pass);
                Ok(())
            }
            TExprKind::Unary { op: UnOp::Not, expr } => self.cond_jump_true(expr, target),
            TExprKind::Binary { op, lhs, rhs } if op.is_comparison() && lhs.ty.is_scalar() && rhs.ty.is_scalar() => {
                let (cond, l, r) = self.compare_operands(*op, lhs, rhs)?;
                let neg = cond.negate().unwrap_or(Cond::Eq);
                self.jump(neg, l, r, target);
                Ok(())
            }
            _ => {
                let v = self.expr(e)?;
                let r = self.truthy(v, e)?;
                self.jump(Cond::Eq, r, Src::Imm(0), target);
                Ok(())
            }
        }
    }

    /// Jump to `target` when `e` is true.
    pub fn cond_jump_true(&mut self, e: &TExpr, target: crate::ir::Label) -> LowerResult<()> {
        let fall = self.label();
        self.cond_jump_false(e, fall)?;
        self.goto(target);
        self.place(fall);
        Ok(())
    }

    /// A register that is non-zero exactly when the value is true (a string
    /// is true when non-empty).
    pub fn truthy(&mut self, v: Val, e: &TExpr) -> LowerResult<crate::ir::Reg> {
        match v {
            Val::Bytes(m) if matches!(e.ty, flowtrace_lang::types::Type::Str { .. }) => {
                let r = self.vreg();
                self.emit(crate::ir::Inst::Load { size: crate::ir::Size::B, dst: r, base: m.base, off: m.off });
                Ok(r)
            }
            other => self.scalar(other),
        }
    }
}

/// A short description of an expression statement for IR comments.
fn short(e: &TExpr) -> String {
    match &e.kind {
        TExprKind::Call { func, .. } => format!("{func:?}").to_lowercase() + "()",
        TExprKind::IncDec { increment, .. } => if *increment { "++" } else { "--" }.to_string(),
        _ => "value".to_string(),
    }
}
