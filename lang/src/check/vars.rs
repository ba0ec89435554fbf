//! `$variables` and their scopes, as today's bpftrace has them: a variable
//! lives in the block that first assigns or declares it (`let`) and the
//! blocks inside it; a sibling block may use the same name for a new
//! variable; a declaration may not shadow a visible one.
//!
//! Each declaration is its own [`VarId`] (its own stack slot). A variable's
//! type is fixed by `let $x: TYPE`, or else by its assignments: one type that
//! holds them all ([`promote`]: `$i = 0` is int8, `$i++` makes it int64). The
//! silent discovery pass learns each variable's final type
//! (`Checker::hints`, by the span that declares it), so reads that come
//! before a widening assignment — in a loop, or a bare `let $x;` — and
//! everything built from them see the final type too.

use super::ints::{is_flexible, promote, unify};
use super::Checker;
use crate::ast::{Expr, Ident, LetType};
use crate::span::Span;
use crate::typed::{TExpr, TExprKind, TStmtKind, VarId, VarInfo};
use crate::types::{IntType, Type};
use std::collections::{HashMap, HashSet};

/// Per-probe scope bookkeeping (part of [`super::ProbeScope`]).
#[derive(Debug, Default)]
pub(crate) struct Scoping {
    /// The names each open block declared, innermost last; they go out of
    /// sight when the block ends.
    blocks: Vec<Vec<String>>,
    /// `let $x;` variables whose type no assignment has given yet, with
    /// the declaration's span.
    untyped: HashMap<VarId, Span>,
    /// Variables whose type a `let $x: TYPE` fixed.
    declared: HashSet<VarId>,
    /// The latest variable of each name whose block has ended. bpftrace
    /// 0.17 gave variables probe scope, so scripts written for it use such
    /// a variable after its block: that still works, with a warning, and an
    /// assignment in a later block reuses it when the types agree.
    ended: HashMap<String, VarId>,
    /// Names already warned about (one warning per name and probe).
    warned: HashSet<String>,
    /// Loops (`while`, `for`) around the statement being checked.
    pub loops: u32,
    /// Variables assigned nothing but non-negative literals so far: they
    /// take the signedness of what they are mixed with ([`promote`]).
    flexible: HashSet<VarId>,
    /// The span that declared each variable (by [`VarId`]), where its
    /// final type is learnt and looked up (`Checker::hints`).
    decl_spans: Vec<Span>,
}

impl Scoping {
    /// Bare `let $x;` declarations nothing ever assigns.
    pub fn unassigned(&self) -> Vec<Span> {
        let mut spans: Vec<Span> = self.untyped.values().copied().collect();
        spans.sort();
        spans
    }
}

impl Checker<'_> {
    /// Open a block scope.
    pub(super) fn enter_block(&mut self) {
        self.scope_mut().scoping.blocks.push(Vec::new());
    }

    /// Close the innermost block scope: its variables go out of sight.
    pub(super) fn leave_block(&mut self) {
        let scope = self.scope_mut();
        for name in scope.scoping.blocks.pop().unwrap_or_default() {
            if let Some(id) = scope.var_ids.remove(&name) {
                scope.scoping.ended.insert(name, id);
            }
        }
    }

    /// A new variable `name` of type `ty` in the innermost block, declared
    /// at `span`. It starts at the final type the discovery pass learnt for
    /// it when that holds `ty`.
    fn declare(&mut self, name: &str, ty: Type, span: Span) -> VarId {
        let ty = match self.hints.get(&span) {
            Some(h) if unify(h, &ty).as_ref() == Some(h) => h.clone(),
            _ => ty,
        };
        let scope = self.scope_mut();
        let id = VarId(scope.vars.len() as u32);
        scope.vars.push(VarInfo { name: name.to_string(), ty });
        scope.scoping.decl_spans.push(span);
        self.make_visible(name, id);
        id
    }

    /// At the end of a probe in the discovery pass: learn each variable's
    /// final type by the span that declared it. A probe that expands to
    /// several (a wildcard) learns one type that holds all, or none.
    pub(super) fn learn_var_types(&mut self) {
        if !self.silent {
            return;
        }
        let scope = self.scope.as_ref().expect("scope set while checking a probe");
        for (i, (var, span)) in scope.vars.iter().zip(&scope.scoping.decl_spans).enumerate() {
            // A bare `let $x;` nothing assigned has no type to learn.
            if scope.scoping.untyped.contains_key(&VarId(i as u32)) {
                continue;
            }
            let entry = self.learnt.entry(*span).or_insert_with(|| Some(var.ty.clone()));
            *entry = entry.as_ref().and_then(|known| unify(known, &var.ty));
        }
    }

    fn make_visible(&mut self, name: &str, id: VarId) {
        let scope = self.scope_mut();
        scope.var_ids.insert(name.to_string(), id);
        scope.poisoned_vars.remove(name);
        if let Some(block) = scope.scoping.blocks.last_mut() {
            block.push(name.to_string());
        }
    }

    /// The variable of an ended block that `$name = (ty)` takes over, as
    /// under bpftrace 0.17's probe scope: only when the types agree (else
    /// it is a new variable, as today's bpftrace has it).
    fn reusable(&self, name: &str, ty: &Type) -> Option<VarId> {
        let scope = self.scope();
        let id = *scope.scoping.ended.get(name)?;
        let known = &scope.vars[id.0 as usize].ty;
        (!scope.scoping.declared.contains(&id) && unify(known, ty).is_some()).then_some(id)
    }

    /// A declaration (`let`, a `for` variable) of a name already in sight
    /// is an error, as in bpftrace: shadowing is not allowed.
    fn check_not_shadowing(&mut self, var: &Ident, what: &str) -> bool {
        if !self.scope().var_ids.contains_key(&var.name) {
            return true;
        }
        self.error_hint(
            var.span,
            format!("{what} ${} shadows a variable of the same name", var.name),
            Some(format!("${} is already declared in this block or one around it; pick another name", var.name)),
        );
        false
    }

    /// The loop variable of `for ($i : …)`, of type `ty`, in the loop's scope.
    pub(super) fn declare_loop_var(&mut self, var: &Ident, ty: Type) -> Option<VarId> {
        self.check_not_shadowing(var, "loop variable").then(|| self.declare(&var.name, ty, var.span))
    }

    /// `let $x[: TYPE][ = value];`
    pub(super) fn let_stmt(&mut self, var: &Ident, ty: Option<&LetType>, value: Option<&Expr>) -> Option<TStmtKind> {
        let declared = match ty {
            Some(t) => Some(self.let_type(t)?),
            None => None,
        };
        let typed = value.map(|v| self.expr(v));
        if !self.check_not_shadowing(var, "variable") {
            return None;
        }
        let Some(typed) = typed else {
            // No value: the variable starts at zero.
            let hint = self.hints.get(&var.span).cloned();
            let id = self.declare(&var.name, declared.clone().or(hint).unwrap_or(Type::I64), var.span);
            let hinted = self.hints.contains_key(&var.span);
            let scoping = &mut self.scope_mut().scoping;
            if declared.is_some() {
                scoping.declared.insert(id);
            } else if !hinted {
                scoping.untyped.insert(id, var.span);
            }
            return Some(TStmtKind::ZeroVar { var: id });
        };
        let Some(value) = typed else {
            self.scope_mut().poisoned_vars.insert(var.name.clone());
            return None;
        };
        self.storable(&value)?;
        let ty = declared.clone().unwrap_or_else(|| value.ty.clone());
        let id = self.declare(&var.name, ty.clone(), var.span);
        if declared.is_none() && is_flexible(&value) {
            self.scope_mut().scoping.flexible.insert(id);
        }
        if declared.is_some() {
            self.scope_mut().scoping.declared.insert(id);
            let value = self.convert_to_declared(var, &ty, value)?;
            return Some(TStmtKind::AssignVar { var: id, value });
        }
        Some(TStmtKind::AssignVar { var: id, value })
    }

    /// The type a `let` names: a C-like type through BTF, or `string`.
    fn let_type(&mut self, ty: &LetType) -> Option<Type> {
        match ty {
            LetType::Type(t) => {
                let resolved = self.resolve_type_name(t)?;
                if matches!(resolved, Type::Record(_)) {
                    self.error_hint(t.span, format!("a variable cannot hold a whole '{resolved}'"), Some(format!("declare a pointer: '{resolved} *'")));
                    return None;
                }
                Some(resolved)
            }
            LetType::Name(n) if n.name == "string" => Some(Type::Str { cap: self.options.default_str_size }),
            LetType::Name(n) => {
                self.error_hint(
                    n.span,
                    format!("unknown type '{}'", n.name),
                    Some("variable types: int8…int64, uint8…uint64, bool, string, or a pointer such as 'struct sock *'".into()),
                );
                None
            }
        }
    }

    /// A value assigned to a `let $x: TYPE` variable, made that type:
    /// integers are converted (a literal must fit), other kinds must match.
    fn convert_to_declared(&mut self, var: &Ident, declared: &Type, value: TExpr) -> Option<TExpr> {
        if let (Type::Int(to), true) = (declared, value.ty.is_integer()) {
            if let TExprKind::Int(bits) = value.kind {
                if !literal_fits(bits, &value.ty, *to) {
                    self.error_hint(
                        value.span,
                        format!("{} does not fit ${}'s type '{declared}'", literal_text(bits, &value.ty), var.name),
                        Some(format!("cast it if that is meant: ({declared})…")),
                    );
                    return None;
                }
            }
            return Some(super::maps::coerce(value, declared));
        }
        if unify(declared, &value.ty).as_ref() == Some(declared) || (declared.is_pointer() && value.ty.is_pointer()) {
            return Some(value);
        }
        self.error(value.span, format!("${} is declared '{declared}': it cannot hold '{}'", var.name, value.ty));
        None
    }

    /// Whether a value of this type can live in a variable.
    fn storable(&mut self, value: &TExpr) -> Option<()> {
        if !matches!(value.ty, Type::Void | Type::Agg(_) | Type::Args) {
            return Some(());
        }
        self.error_hint(
            value.span,
            format!("a value of type '{}' cannot be stored in a variable", value.ty),
            matches!(value.ty, Type::Agg(_)).then(|| "aggregations are stored in maps: @name = count()".to_string()),
        );
        None
    }

    /// `$x = value` (after `$x OP= e` became `$x = $x OP e`).
    pub(super) fn assign_var_value(&mut self, var: &Ident, value: Option<TExpr>) -> Option<TStmtKind> {
        let Some(value) = value else {
            self.scope_mut().poisoned_vars.insert(var.name.clone());
            return None;
        };
        if self.storable(&value).is_none() {
            self.scope_mut().poisoned_vars.insert(var.name.clone());
            return None;
        }
        let Some(id) = self.scope().var_ids.get(&var.name).copied() else {
            let id = match self.reusable(&var.name, &value.ty) {
                Some(id) => {
                    self.make_visible(&var.name, id);
                    self.widen_var(var, id, &value.ty, is_flexible(&value), value.span)?;
                    id
                }
                None => {
                    let id = self.declare(&var.name, value.ty.clone(), var.span);
                    if is_flexible(&value) {
                        self.scope_mut().scoping.flexible.insert(id);
                    }
                    id
                }
            };
            return Some(TStmtKind::AssignVar { var: id, value });
        };
        if self.scope().scoping.declared.contains(&id) {
            let ty = self.scope().vars[id.0 as usize].ty.clone();
            let value = self.convert_to_declared(var, &ty, value)?;
            return Some(TStmtKind::AssignVar { var: id, value });
        }
        if self.scope_mut().scoping.untyped.remove(&id).is_some() {
            // The first assignment of a bare `let $x;` gives it its type.
            self.scope_mut().vars[id.0 as usize].ty = value.ty.clone();
            if is_flexible(&value) {
                self.scope_mut().scoping.flexible.insert(id);
            }
            return Some(TStmtKind::AssignVar { var: id, value });
        }
        self.widen_var(var, id, &value.ty, is_flexible(&value), value.span)?;
        Some(TStmtKind::AssignVar { var: id, value })
    }

    /// Widen `$name` (an existing variable) for a value of type `ty`
    /// (`flexible`: a non-negative literal).
    pub(super) fn widen_var(&mut self, var: &Ident, id: VarId, ty: &Type, flexible: bool, span: Span) -> Option<()> {
        let known = self.scope().vars[id.0 as usize].ty.clone();
        let was_flexible = self.scope().scoping.flexible.contains(&id);
        let widened = match (&known, ty) {
            (Type::Int(a), Type::Int(b)) => {
                let (t, still) = promote((*a, was_flexible), (*b, flexible));
                Some((Type::Int(t), still))
            }
            _ => unify(&known, ty).map(|t| (t, false)),
        };
        match widened {
            Some((t, still_flexible)) => {
                self.scope_mut().vars[id.0 as usize].ty = t;
                if !still_flexible {
                    self.scope_mut().scoping.flexible.remove(&id);
                }
                Some(())
            }
            None => {
                let char_array = |t: &Type| matches!(t, Type::Array { elem, .. } if **elem == Type::Int(IntType::I8));
                let hint = match (&known, ty) {
                    (a, Type::Str { .. }) | (Type::Str { .. }, a) if char_array(a) => {
                        Some("a char array and a string share a variable as strings: assign str(…) of the array".to_string())
                    }
                    _ => None,
                };
                self.error_hint(
                    span,
                    format!("type mismatch for ${}: assigning '{ty}' to a variable that holds '{known}'", var.name),
                    hint,
                );
                None
            }
        }
    }

    /// `$x++` / `$x--`: a counter is 64-bit (`$i = 0; $i++` makes `$i` an
    /// int64; as the int8 its literal is it would wrap at 127), as in
    /// today's bpftrace; a `let $x: TYPE` keeps its type. Returns the
    /// variable's type.
    pub(super) fn widen_counter(&mut self, name: &str, id: VarId, increment: bool, span: Span) -> Option<Type> {
        let ty = self.scope().vars[id.0 as usize].ty.clone();
        let Type::Int(i) = ty else { return Some(ty) };
        if self.scope().scoping.declared.contains(&id) {
            return Some(ty);
        }
        let wide = Type::Int(IntType { bits: 64, signed: i.signed || !increment });
        self.widen_var(&Ident { name: name.to_string(), span }, id, &wide, false, span)?;
        Some(self.scope().vars[id.0 as usize].ty.clone())
    }

    pub(super) fn var_read(&mut self, name: &str, span: Span) -> Option<TExpr> {
        let scope = self.scope();
        if let Some(id) = scope.var_ids.get(name).copied() {
            if scope.scoping.untyped.contains_key(&id) && self.silent {
                // Discovery: the type comes from a later assignment.
                return None;
            }
            let ty = scope.vars[id.0 as usize].ty.clone();
            return Some(TExpr { kind: TExprKind::Var(id), ty, span });
        }
        if scope.poisoned_vars.contains(name) {
            return None;
        }
        if let Some(id) = scope.scoping.ended.get(name).copied() {
            let ty = scope.vars[id.0 as usize].ty.clone();
            if self.scope_mut().scoping.warned.insert(name.to_string()) {
                let message = format!(
                    "${name} is used after the block that assigned it: bpftrace 0.17 allowed this, today's bpftrace rejects it"
                );
                let hint = format!("declare it before that block: let ${name};");
                self.report(crate::diag::Diagnostic::warning(span, message).with_hint(hint));
            }
            return Some(TExpr { kind: TExprKind::Var(id), ty, span });
        } else {
            self.error_hint(
                span,
                format!("variable ${name} is used before it is assigned"),
                Some(format!("assign it first in this probe: ${name} = …")),
            );
        }
        None
    }
}

/// Whether an integer literal fits an integer type.
fn literal_fits(bits: u64, ty: &Type, to: IntType) -> bool {
    let negative = matches!(ty, Type::Int(i) if i.signed) && (bits as i64) < 0;
    let value = if negative { i128::from(bits as i64) } else { i128::from(bits) };
    let (min, max) = if to.signed {
        (-(1i128 << (to.bits - 1)), (1i128 << (to.bits - 1)) - 1)
    } else {
        (0, (1i128 << to.bits) - 1)
    };
    (min..=max).contains(&value)
}

fn literal_text(bits: u64, ty: &Type) -> String {
    match ty {
        Type::Int(i) if i.signed => (bits as i64).to_string(),
        _ => bits.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_fit_their_declared_type() {
        assert!(literal_fits(255, &Type::I64, IntType::U8));
        assert!(!literal_fits(256, &Type::I64, IntType::U8));
        assert!(!literal_fits((-1i64) as u64, &Type::I64, IntType::U16));
        assert!(literal_fits((-128i64) as u64, &Type::I64, IntType::I8));
        assert!(!literal_fits((-129i64) as u64, &Type::I64, IntType::I8));
        assert!(literal_fits(u64::MAX, &Type::U64, IntType::U64));
    }
}
