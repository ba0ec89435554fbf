//! Kernel memory: `e.f` / `e->f` (both dereference a pointer, as in bpftrace
//! ≥ 0.25), `args.NAME`, `e[i]`, `*p` and `&e`. Member accesses become byte
//! offsets (and bit positions for bitfields) so code generation never looks
//! at BTF.

use super::{type_size, Checker};
use crate::ast::{AttachKind, Expr, ExprKind, Ident};
use crate::diag::did_you_mean_hint;
use crate::span::Span;
use crate::typed::{Bitfield, TExpr, TExprKind};
use crate::types::{IntType, RecordField, RecordType, Type};

impl Checker<'_> {
    pub(super) fn field(&mut self, base: &Expr, field: &Ident, span: Span) -> Option<TExpr> {
        if matches!(&base.kind, ExprKind::Ident(n) if n == "args") {
            return self.args_field(base, field, span);
        }
        if let Some(read) = self.iter_ctx_field(base, field, span) {
            return read;
        }
        let b = self.expr(base)?;
        if let (Type::Tuple(items), Ok(n)) = (&b.ty, field.name.parse::<usize>()) {
            return self.tuple_field(b.clone(), items.get(n).cloned(), n, field, span);
        }
        let record = match &b.ty {
            Type::Record(r) => r.clone(),
            Type::Pointer(inner, _) => match inner.as_ref() {
                Type::Record(r) => r.clone(),
                other => {
                    self.error(field.span, format!("'{}' is not a field of '{}': it points to '{other}', not to a struct", field.name, b.ty));
                    return None;
                }
            },
            other => {
                self.error_hint(
                    field.span,
                    format!("cannot read field '{}' of a value of type '{other}'", field.name),
                    other.is_integer().then(|| "cast the address to a struct pointer first, e.g. ((struct sock *)arg0)->field".to_string()),
                );
                return None;
            }
        };
        self.member(b, &record, field, span)
    }

    /// `$t.0`: a tuple element, as an `Index` with a constant index.
    fn tuple_field(&mut self, base: TExpr, elem: Option<Type>, n: usize, field: &Ident, span: Span) -> Option<TExpr> {
        let Some(ty) = elem else {
            self.error(field.span, format!("'{}' has no element {n}", base.ty));
            return None;
        };
        let index = TExpr { kind: TExprKind::Int(n as u64), ty: Type::I64, span: field.span };
        let elem_size = type_size(&ty);
        Some(TExpr { kind: TExprKind::Index { base: Box::new(base), index: Box::new(index), elem_size }, ty, span })
    }

    fn member(&mut self, base: TExpr, record: &RecordType, field: &Ident, span: Span) -> Option<TExpr> {
        let Some(m) = self.kernel.member(record, &field.name) else {
            let names = self.kernel.member_names(record);
            let hint = did_you_mean_hint(&field.name, names.iter().map(String::as_str));
            let rec = Type::Record(record.clone());
            self.error_hint(field.span, format!("unknown field '{}' in '{rec}'", field.name), hint);
            return None;
        };
        self.field_names.insert(span, field.name.clone());
        let (offset, bitfield) = match m.bitfield_bits {
            Some(bits) => (m.offset_bits / 8, Some(Bitfield { bit_offset: (m.offset_bits % 8) as u8, bits })),
            None => (m.offset_bits / 8, None),
        };
        Some(TExpr { kind: TExprKind::Member { base: Box::new(base), offset, bitfield }, ty: m.ty, span })
    }

    /// `args.NAME`: a tracepoint field read from the context, or an
    /// fentry/fexit parameter slot.
    fn args_field(&mut self, base: &Expr, field: &Ident, span: Span) -> Option<TExpr> {
        let scope = self.scope();
        let (tp_fields, func, tp) = (scope.tp_fields.clone(), scope.func.clone(), scope.attach.raw.clone());
        if let Some(fields) = &tp_fields {
            let Some(f) = fields.iter().find(|f| f.name == field.name) else {
                let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                let hint = did_you_mean_hint(&field.name, names.iter().copied())
                    .or_else(|| Some(format!("this tracepoint's fields are: {}", names.join(", "))));
                self.error_hint(field.span, format!("'{tp}' has no field '{}'", field.name), hint);
                return None;
            };
            self.field_names.insert(span, field.name.clone());
            let kind = TExprKind::TracepointArg { offset: f.offset, size: f.size, data_loc: f.data_loc };
            // A syscall's pointer arguments point into the calling process.
            let syscall = matches!(&self.scope().attach.kind, AttachKind::Tracepoint { category, .. } if category == "syscalls");
            let ty = if syscall { f.ty.clone().in_user_memory() } else { f.ty.clone() };
            return Some(TExpr { kind, ty, span });
        }
        if let Some(proto) = &func {
            let Some(index) = proto.params.iter().position(|(n, _)| *n == field.name) else {
                let names: Vec<&str> = proto.params.iter().map(|(n, _)| n.as_str()).collect();
                let hint = did_you_mean_hint(&field.name, names.iter().copied())
                    .or_else(|| Some(format!("{}'s parameters are: {}", proto.name, names.join(", "))));
                let func = proto.name.clone();
                self.error_hint(field.span, format!("function '{func}' has no parameter '{}'", field.name), hint);
                return None;
            };
            let ty = proto.params[index].1.clone();
            if index > 5 {
                // fentry programs see at most the register-passed arguments.
                self.error(field.span, format!("parameter '{}' is not passed in a register and cannot be read", field.name));
                return None;
            }
            self.field_names.insert(span, field.name.clone());
            return Some(TExpr { kind: TExprKind::FuncArg { index: index as u8 }, ty, span });
        }
        // Not a probe with named arguments: `ident` reports why.
        self.ident("args", base.span)
    }

    pub(super) fn index(&mut self, base: &Expr, index: &Expr, span: Span) -> Option<TExpr> {
        let b = self.expr(base);
        let i = self.expr(index);
        let (b, i) = (b?, i?);
        if !i.ty.is_integer() {
            self.error(index.span, format!("an index must be an integer, not '{}'", i.ty));
            return None;
        }
        let elem = match &b.ty {
            Type::Array { elem, len } => {
                if let TExprKind::Int(v) = i.kind {
                    if v >= u64::from(*len) {
                        self.error(index.span, format!("index {v} is out of bounds for '{}' ({len} elements)", b.ty));
                        return None;
                    }
                }
                elem.as_ref().clone()
            }
            Type::Pointer(inner, _) => inner.as_ref().clone(),
            // `$path[0] != "/"[0]` (bpftrace's opensnoop): a string's byte, as
            // a char; the index must be a constant within the buffer.
            Type::Str { cap } => {
                let v = match constant(&i) {
                    Some(v) if v < u64::from(*cap) => v,
                    Some(v) => {
                        self.error(index.span, format!("index {v} is out of bounds for '{}'", b.ty));
                        return None;
                    }
                    None => {
                        self.error(index.span, "a string index must be a constant integer");
                        return None;
                    }
                };
                let i = TExpr { kind: TExprKind::Int(v), ..i };
                let kind = TExprKind::Index { base: Box::new(b), index: Box::new(i), elem_size: 1 };
                return Some(TExpr { kind, ty: Type::Int(IntType::I8), span });
            }
            Type::Tuple(items) => {
                // bpftrace accepts any index it can compute when compiling
                // (`t[1 - 1]`), never a run-time value.
                let Some(v) = constant(&i) else {
                    self.error(index.span, "a tuple index must be a constant integer (a literal or arithmetic on literals)");
                    return None;
                };
                let i = TExpr { kind: TExprKind::Int(v), ..i };
                let Some(ty) = items.get(v as usize).cloned() else {
                    self.error(index.span, format!("index {v} is out of bounds for '{}'", b.ty));
                    return None;
                };
                let elem_size = type_size(&ty);
                return Some(TExpr { kind: TExprKind::Index { base: Box::new(b), index: Box::new(i), elem_size }, ty, span });
            }
            other => {
                self.error(base.span, format!("cannot index a value of type '{other}'"));
                return None;
            }
        };
        let elem_size = type_size(&elem);
        Some(TExpr { kind: TExprKind::Index { base: Box::new(b), index: Box::new(i), elem_size }, ty: elem, span })
    }

    /// `*p`: the pointee, read from kernel memory (a place when it is a
    /// struct). Modelled as a member at offset 0.
    pub(super) fn deref(&mut self, inner: &Expr, span: Span) -> Option<TExpr> {
        let p = self.expr(inner)?;
        let Type::Pointer(pointee, _) = &p.ty else {
            self.error(span, format!("cannot dereference a value of type '{}': it is not a pointer", p.ty));
            return None;
        };
        let ty = pointee.as_ref().clone();
        Some(TExpr { kind: TExprKind::Member { base: Box::new(p), offset: 0, bitfield: None }, ty, span })
    }

    /// `&e`: the address of kernel memory: a struct member or array element
    /// (not a bitfield; not a `$variable`, whose storage is the BPF stack).
    pub(super) fn address_of(&mut self, inner: &Expr, span: Span) -> Option<TExpr> {
        let t = self.expr(inner)?;
        let place = match &t.kind {
            TExprKind::Member { bitfield: None, .. } => true,
            TExprKind::Index { base, .. } => matches!(base.ty, Type::Array { .. } | Type::Pointer(..)),
            _ => false,
        };
        if !place {
            self.error(span, "'&' can only take the address of a struct member or an array element in kernel memory");
            return None;
        }
        let ty = Type::ptr(t.ty.clone());
        Some(TExpr { kind: TExprKind::Unary { op: crate::ast::UnOp::AddrOf, expr: Box::new(t) }, ty, span })
    }
}

impl Checker<'_> {
    /// Records the fields of every struct or union inside `ty` (through
    /// arrays, tuples and other records, not through pointers), so that user
    /// space can print them field by field.
    pub(crate) fn note_records(&mut self, ty: &Type) {
        match ty {
            Type::Record(r) => {
                if self.records.contains_key(&r.btf_id) {
                    return;
                }
                // Inserted first: a record holding an array of itself
                // cannot exist, but a cycle must never loop here.
                self.records.insert(r.btf_id, Vec::new());
                let fields: Vec<RecordField> = self
                    .kernel
                    .member_names(r)
                    .into_iter()
                    .filter_map(|name| self.kernel.member(r, &name))
                    .map(|m| RecordField { name: m.name, ty: m.ty, offset_bits: m.offset_bits, bitfield_bits: m.bitfield_bits })
                    .collect();
                for f in &fields {
                    self.note_records(&f.ty);
                }
                self.records.insert(r.btf_id, fields);
            }
            Type::Array { elem, .. } => self.note_records(elem),
            Type::Tuple(items) => items.iter().for_each(|t| self.note_records(t)),
            _ => {}
        }
    }
}

/// The value of an integer expression built only from literals, computed as
/// the BPF instructions would (64-bit, wrapping); `None` when it reads
/// anything else or divides by zero.
fn constant(e: &TExpr) -> Option<u64> {
    use crate::ast::{BinOp, UnOp};
    match &e.kind {
        TExprKind::Int(v) => Some(*v),
        TExprKind::Unary { op: UnOp::Neg, expr } => constant(expr).map(u64::wrapping_neg),
        TExprKind::Unary { op: UnOp::BitNot, expr } => constant(expr).map(|v| !v),
        TExprKind::Binary { op, lhs, rhs } => {
            let (a, b) = (constant(lhs)?, constant(rhs)?);
            match op {
                BinOp::Add => Some(a.wrapping_add(b)),
                BinOp::Sub => Some(a.wrapping_sub(b)),
                BinOp::Mul => Some(a.wrapping_mul(b)),
                BinOp::Div => a.checked_div(b),
                BinOp::Mod => a.checked_rem(b),
                BinOp::Shl => Some(a.wrapping_shl(b as u32)),
                BinOp::Shr => Some(a.wrapping_shr(b as u32)),
                BinOp::BitAnd => Some(a & b),
                BinOp::BitOr => Some(a | b),
                BinOp::BitXor => Some(a ^ b),
                _ => None,
            }
        }
        _ => None,
    }
}
