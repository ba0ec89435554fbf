//! Expressions: literals, operators, ternaries, casts, tuples, `++`/`--`.
//! Member access, indexing and dereference are in `members.rs`; calls in
//! `calls.rs`; names in `names.rs`.

use super::ints::{arith_result, int_of, is_flexible, literal_type, negative_literal_type, promote, unify};
use super::{type_size, Checker};
use crate::ast::{BinOp, Expr, ExprKind, TypeBase, TypeName, UnOp};
use crate::kernel::TypeKeyword;
use crate::span::Span;
use crate::typed::{TExpr, TExprKind};
use crate::types::{AddrSpace, IntType, Type};

impl Checker<'_> {
    /// Type one expression; `None` after an error has been reported.
    pub(super) fn expr(&mut self, e: &Expr) -> Option<TExpr> {
        let span = e.span;
        let typed = |kind: TExprKind, ty: Type| Some(TExpr { kind, ty, span });
        match &e.kind {
            ExprKind::Int(v) => typed(TExprKind::Int(*v), literal_type(*v)),
            ExprKind::Str(s) => typed(TExprKind::Str(s.clone()), Type::Str { cap: s.len() as u32 + 1 }),
            ExprKind::Bool(b) => typed(TExprKind::Int(u64::from(*b)), Type::Bool),
            ExprKind::Ident(name) => self.ident(name, span),
            ExprKind::Var(name) => self.var_read(name, span),
            ExprKind::Positional(n) => self.positional(*n, span),
            ExprKind::PositionalCount => Some(self.positional_count(span)),
            ExprKind::Map(mref) => self.map_read(mref, span),
            ExprKind::Call { func, args } => self.call_value(func, args, span),
            ExprKind::Unary { op, expr } => self.unary(*op, expr, span),
            ExprKind::Binary { op, lhs, rhs } => {
                let l = self.expr(lhs);
                let r = self.expr(rhs);
                self.binary(*op, l?, r?, span)
            }
            ExprKind::Ternary { cond, then, otherwise } => self.ternary(cond, then, otherwise, span),
            ExprKind::Cast { ty, expr } => self.cast(ty, expr, span),
            ExprKind::Field { expr, field, .. } => self.field(expr, field, span),
            ExprKind::Index { expr, index } => self.index(expr, index, span),
            ExprKind::Tuple(items) => {
                let typed_items: Vec<Option<TExpr>> = items.iter().map(|i| self.expr(i)).collect();
                let items: Vec<TExpr> = typed_items.into_iter().collect::<Option<_>>()?;
                for item in &items {
                    if matches!(item.ty, Type::Void | Type::Agg(_) | Type::Args) {
                        self.error(item.span, format!("a value of type '{}' cannot be part of a tuple", item.ty));
                        return None;
                    }
                }
                let ty = Type::Tuple(items.iter().map(|i| i.ty.clone()).collect());
                typed(TExprKind::Tuple(items), ty)
            }
            ExprKind::IncDec { target, increment, prefix } => self.incdec(target, *increment, *prefix, span),
            ExprKind::Block { stmts, value } => self.block_expr(stmts, value, span),
            ExprKind::TypeArg(_) => {
                self.error_hint(span, "a type is not a value here", Some("types are arguments of sizeof() and offsetof() only".into()));
                None
            }
        }
    }

    /// `{ stmts; value }`: a scope of its own, worth `value`.
    fn block_expr(&mut self, stmts: &[crate::ast::Stmt], value: &Expr, span: Span) -> Option<TExpr> {
        self.enter_block();
        let mut typed = Vec::new();
        for s in stmts {
            self.stmt(s, &mut typed);
        }
        let value = self.expr(value);
        self.leave_block();
        let value = value?;
        if matches!(value.ty, Type::Void) {
            self.error(value.span, "this block has no value: its last expression is 'void'");
            return None;
        }
        let ty = value.ty.clone();
        Some(TExpr { kind: TExprKind::Block { stmts: typed, value: Box::new(value) }, ty, span })
    }

    /// An expression used as a condition (`if`, `while`, predicates, `?:`,
    /// `&&`): integers, booleans and pointers (true when non-null).
    pub(super) fn condition(&mut self, e: &Expr) -> Option<TExpr> {
        let t = self.expr(e)?;
        if t.ty.is_scalar() {
            Some(t)
        } else {
            self.error(e.span, format!("a condition must be an integer, bool or pointer, not '{}'", t.ty));
            None
        }
    }

    pub(super) fn binary(&mut self, op: BinOp, l: TExpr, r: TExpr, span: Span) -> Option<TExpr> {
        let make = |ty: Type, l: TExpr, r: TExpr| {
            Some(TExpr { kind: TExprKind::Binary { op, lhs: Box::new(l), rhs: Box::new(r) }, ty, span })
        };
        if matches!(op, BinOp::And | BinOp::Or) {
            for side in [&l, &r] {
                if !side.ty.is_scalar() {
                    self.error(side.span, format!("'{}' needs integer, bool or pointer operands, not '{}'", op.symbol(), side.ty));
                    return None;
                }
            }
            return make(Type::Bool, l, r);
        }
        if l.ty.is_pointer() || r.ty.is_pointer() {
            return self.pointer_binary(op, l, r, span);
        }
        if let (Some(li), Some(ri)) = (int_of(&l.ty), int_of(&r.ty)) {
            let ty = if op.is_comparison() {
                Type::Bool
            } else {
                arith_result(op, (li, is_flexible(&l)), (ri, is_flexible(&r)))
            };
            return make(ty, l, r);
        }
        // `$t->comm == "bash"`: a char array next to a string is that string.
        let (l, r) = if matches!(op, BinOp::Eq | BinOp::Ne) { super::printf::strings_if_paired(l, r) } else { (l, r) };
        if matches!(op, BinOp::Eq | BinOp::Ne) && self.comparable(&l.ty, &r.ty) {
            return make(Type::Bool, l, r);
        }
        self.error(
            span,
            format!("the '{}' operator cannot be used on '{}' and '{}'", op.symbol(), l.ty, r.ty),
        );
        None
    }

    /// Non-integer values `==`/`!=` can compare: strings (over the shorter
    /// buffer, as strncmp), integer arrays of one size, tuples, addresses.
    fn comparable(&self, a: &Type, b: &Type) -> bool {
        match (a, b) {
            (Type::Str { .. }, Type::Str { .. }) => true,
            (Type::Array { elem: x, len: n }, Type::Array { elem: y, len: m }) => x == y && n == m && x.is_integer(),
            (Type::Tuple(_), Type::Tuple(_)) => unify(a, b).is_some(),
            (Type::Inet, Type::Inet) => true,
            _ => false,
        }
    }

    /// C's pointer arithmetic: `p ± n` moves by `n` elements (the code
    /// generator scales by the pointee's size); pointers compare as integers.
    fn pointer_binary(&mut self, op: BinOp, l: TExpr, r: TExpr, span: Span) -> Option<TExpr> {
        let (ptr, other, ptr_left) = if l.ty.is_pointer() { (&l.ty, &r.ty, true) } else { (&r.ty, &l.ty, false) };
        let ty = if op.is_comparison() && (other.is_pointer() || other.is_integer()) {
            Some(Type::Bool)
        } else if other.is_integer() && (op == BinOp::Add || (op == BinOp::Sub && ptr_left)) {
            Some(ptr.clone())
        } else {
            None
        };
        match ty {
            Some(ty) => Some(TExpr { kind: TExprKind::Binary { op, lhs: Box::new(l), rhs: Box::new(r) }, ty, span }),
            None => {
                self.error(span, format!("the '{}' operator cannot be used on '{}' and '{}'", op.symbol(), l.ty, r.ty));
                None
            }
        }
    }

    fn unary(&mut self, op: UnOp, inner: &Expr, span: Span) -> Option<TExpr> {
        match op {
            UnOp::Deref => return self.deref(inner, span),
            UnOp::AddrOf => return self.address_of(inner, span),
            _ => {}
        }
        let t = self.expr(inner)?;
        let ty = match (op, int_of(&t.ty)) {
            (UnOp::Not, _) if t.ty.is_scalar() => Type::Bool,
            (UnOp::Neg, Some(_)) => Type::I64,
            (UnOp::BitNot, Some(i)) => Type::Int(IntType { bits: 64, signed: i.signed }),
            _ => {
                let sym = match op {
                    UnOp::Neg => "-",
                    UnOp::Not => "!",
                    _ => "~",
                };
                self.error(span, format!("the '{sym}' operator cannot be used on '{}'", t.ty));
                return None;
            }
        };
        // Fold `-LITERAL` so that it stays a literal for lhist bounds etc.
        if let (UnOp::Neg, TExprKind::Int(v)) = (op, &t.kind) {
            let negated = v.wrapping_neg();
            // `-N` is a literal of the smallest type that holds it; only
            // an unsigned literal beyond int64 wraps (as in C).
            let ty = if is_flexible(&t) || *v == 1 << 63 { negative_literal_type(negated as i64) } else { ty };
            return Some(TExpr { kind: TExprKind::Int(negated), ty, span });
        }
        Some(TExpr { kind: TExprKind::Unary { op, expr: Box::new(t) }, ty, span })
    }

    fn ternary(&mut self, cond: &Expr, then: &Expr, otherwise: &Expr, span: Span) -> Option<TExpr> {
        let c = self.condition(cond);
        let t = self.expr(then);
        let o = self.expr(otherwise);
        let (c, t, o) = (c?, t?, o?);
        let (t, o) = super::printf::strings_if_paired(t, o);
        // A literal branch takes the other's signedness (`c ? 1 : $u32` is
        // uint32), as in a variable assigned both.
        let ty = match (&t.ty, &o.ty) {
            (Type::Int(a), Type::Int(b)) => Some(Type::Int(promote((*a, is_flexible(&t)), (*b, is_flexible(&o))).0)),
            _ => unify(&t.ty, &o.ty),
        };
        let Some(ty) = ty else {
            self.error(
                then.span.to(otherwise.span),
                format!("the branches of '?:' have different types: '{}' and '{}'", t.ty, o.ty),
            );
            return None;
        };
        if matches!(ty, Type::Void | Type::Agg(_) | Type::Record(_)) {
            self.error(span, format!("'?:' cannot choose between values of type '{ty}'"));
            return None;
        }
        let kind = TExprKind::Ternary { cond: Box::new(c), then: Box::new(t), otherwise: Box::new(o) };
        Some(TExpr { kind, ty, span })
    }

    /// The type a cast names, resolved through BTF.
    pub(super) fn resolve_type_name(&mut self, name: &TypeName) -> Option<Type> {
        let (keyword, ident) = match &name.base {
            TypeBase::Int { bits, signed } => {
                return Some(wrap_pointers(Type::Int(IntType { bits: *bits, signed: *signed }), name.pointer_depth))
            }
            TypeBase::Void => {
                if name.pointer_depth == 0 {
                    self.error(name.span, "cannot cast to 'void'");
                    return None;
                }
                // `void *` is an address of unknown pointee: byte-sized steps.
                return Some(wrap_pointers(Type::Int(IntType::U8), name.pointer_depth));
            }
            TypeBase::Struct(n) => (TypeKeyword::Struct, n),
            TypeBase::Union(n) => (TypeKeyword::Union, n),
            TypeBase::Enum(n) => (TypeKeyword::Enum, n),
            TypeBase::Named(n) => (TypeKeyword::Typedef, n),
        };
        match self.kernel.find_type(keyword, ident) {
            Some(t) => Some(wrap_pointers(t, name.pointer_depth)),
            None => {
                let what = match keyword {
                    TypeKeyword::Struct => "struct",
                    TypeKeyword::Union => "union",
                    TypeKeyword::Enum => "enum",
                    TypeKeyword::Typedef => "type",
                };
                self.error_hint(
                    name.span,
                    format!("unknown {what} '{ident}'"),
                    Some("types come from the kernel's BTF (/sys/kernel/btf/vmlinux)".into()),
                );
                None
            }
        }
    }

    fn cast(&mut self, name: &TypeName, inner: &Expr, span: Span) -> Option<TExpr> {
        let target = self.resolve_type_name(name);
        let value = self.expr(inner);
        let (target, value) = (target?, value?);
        let ok = match (&target, &value.ty) {
            // bpftrace reads a byte array of the integer's size as that integer.
            (Type::Int(t), Type::Array { elem, len }) => elem.is_integer() && type_size(elem) * len == t.bytes(),
            (Type::Int(_) | Type::Pointer(..), from) => from.is_scalar(),
            (Type::Bool, from) => from.is_scalar(),
            _ => false,
        };
        if !ok {
            let hint = match &target {
                Type::Record(_) => Some(format!("cast to a pointer instead: ({target} *)")),
                _ => None,
            };
            self.error_hint(span, format!("cannot cast '{}' to '{}'", value.ty, target), hint);
            return None;
        }
        // `(struct sockaddr_in *)args.uservaddr` still points to user memory.
        let target = match (&value.ty, target) {
            (Type::Pointer(_, AddrSpace::User), Type::Pointer(to, _)) => Type::Pointer(to, AddrSpace::User),
            (_, target) => target,
        };
        Some(TExpr { kind: TExprKind::Cast { expr: Box::new(value) }, ty: target, span })
    }

    fn incdec(&mut self, target: &Expr, increment: bool, prefix: bool, span: Span) -> Option<TExpr> {
        let t = match &target.kind {
            ExprKind::Var(name) => self.var_read(name, target.span)?,
            ExprKind::Map(mref) => self.map_incdec_target(mref, target.span)?,
            _ => {
                self.error(target.span, "'++' and '--' apply only to a $variable or a @map");
                return None;
            }
        };
        if !matches!(t.ty, Type::Int(_) | Type::Pointer(..)) {
            self.error(target.span, format!("'++' and '--' need an integer or pointer, not '{}'", t.ty));
            return None;
        }
        let mut t = t;
        if let (ExprKind::Var(name), TExprKind::Var(id)) = (&target.kind, &t.kind) {
            t.ty = self.widen_counter(name, *id, increment, target.span)?;
        }
        let ty = t.ty.clone();
        Some(TExpr { kind: TExprKind::IncDec { target: Box::new(t), increment, prefix }, ty, span })
    }

    /// `@m++` on a map nobody assigned yet makes it an int64 map, as in
    /// bpftrace; on an aggregation map it is an error.
    fn map_incdec_target(&mut self, mref: &crate::ast::MapRef, span: Span) -> Option<TExpr> {
        let (id, key) = self.map_key(mref)?;
        let value = match self.maps.value(id) {
            // A pointer map steps by elements (scaled by the code generator).
            Some(p @ Type::Pointer(..)) => p.clone(),
            _ => self.map_write(id, &Type::I64, None, span)?,
        };
        Some(TExpr { kind: TExprKind::MapRead { map: id, key: key.map(Box::new) }, ty: value, span })
    }

    /// `sizeof(expr)`: the size of the expression's type.
    pub(super) fn size_of(&mut self, arg: &Expr, span: Span) -> Option<TExpr> {
        if let ExprKind::TypeArg(name) = &arg.kind {
            let t = self.resolve_type_name(name)?;
            let size = if t.is_pointer() { 8 } else { type_size(&t) };
            return Some(TExpr { kind: TExprKind::Int(u64::from(size)), ty: Type::U64, span });
        }
        let t = self.expr(arg)?;
        let size = match &t.ty {
            Type::Pointer(inner, _) if matches!(arg.kind, ExprKind::Cast { .. }) && type_size(inner) > 0 => 8,
            other => type_size(other),
        };
        Some(TExpr { kind: TExprKind::Int(u64::from(size)), ty: Type::U64, span })
    }
}

fn wrap_pointers(mut t: Type, depth: u8) -> Type {
    for _ in 0..depth {
        t = Type::ptr(t);
    }
    t
}
