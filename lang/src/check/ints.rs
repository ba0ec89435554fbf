//! Integer typing rules, following bpftrace (≤ 0.21, which flowtrace's users
//! meet in distributions):
//!
//! - a literal is `int64` when it fits, else `uint64`;
//! - arithmetic and bitwise results are 64-bit, signed only when both
//!   operands are signed (a non-negative literal adopts the other side's
//!   signedness, so `(uint32)x + 1` is `uint64`); shifts keep the left
//!   operand's signedness;
//! - comparisons and `&&`/`||`/`!` give `bool`;
//! - a variable or map assigned integers of several widths takes the widest,
//!   signed if any assignment was signed; map keys and values are stored as
//!   64-bit integers.

use crate::ast::BinOp;
use crate::types::{AggKind, IntType, Type};

/// The type of an integer literal's value.
pub(crate) fn literal_type(value: u64) -> Type {
    if value <= i64::MAX as u64 {
        Type::I64
    } else {
        Type::U64
    }
}

/// The integer view of a scalar operand (`bool` is an unsigned integer).
pub(crate) fn int_of(ty: &Type) -> Option<IntType> {
    match ty {
        Type::Int(i) => Some(*i),
        Type::Bool => Some(IntType::U64),
        _ => None,
    }
}

/// Result type of an arithmetic or bitwise operator on two integers.
pub(crate) fn arith_result(op: BinOp, lhs: IntType, rhs: IntType) -> Type {
    let signed = match op {
        BinOp::Shl | BinOp::Shr => lhs.signed,
        _ => lhs.signed && rhs.signed,
    };
    Type::Int(IntType { bits: 64, signed })
}

/// The common type of two values stored in one place (a variable, a map's
/// values or keys), or `None` when they cannot share it.
pub(crate) fn unify(a: &Type, b: &Type) -> Option<Type> {
    match (a, b) {
        (Type::Int(x), Type::Int(y)) => {
            Some(Type::Int(IntType { bits: x.bits.max(y.bits), signed: x.signed || y.signed }))
        }
        (Type::Bool, Type::Int(i)) | (Type::Int(i), Type::Bool) => Some(Type::Int(*i)),
        (Type::Str { cap: x }, Type::Str { cap: y }) => Some(Type::Str { cap: (*x).max(*y) }),
        (Type::Agg(x), Type::Agg(y)) => unify_agg(*x, *y).map(Type::Agg),
        (Type::Tuple(xs), Type::Tuple(ys)) if xs.len() == ys.len() => {
            xs.iter().zip(ys).map(|(x, y)| unify(x, y)).collect::<Option<Vec<_>>>().map(Type::Tuple)
        }
        // A string stored where a probe name was (or back) would need the
        // value in two representations.
        _ if a == b => Some(a.clone()),
        _ => None,
    }
}

fn unify_agg(a: AggKind, b: AggKind) -> Option<AggKind> {
    use AggKind::*;
    Some(match (a, b) {
        (Count, Count) => Count,
        (Sum { signed: x }, Sum { signed: y }) => Sum { signed: x || y },
        (Min { signed: x }, Min { signed: y }) => Min { signed: x || y },
        (Max { signed: x }, Max { signed: y }) => Max { signed: x || y },
        (Avg { signed: x }, Avg { signed: y }) => Avg { signed: x || y },
        (Stats { signed: x }, Stats { signed: y }) => Stats { signed: x || y },
        (Hist, Hist) => Hist,
        // Different bucket layouts cannot share one map.
        (Lhist { .. }, Lhist { .. }) if a == b => a,
        (Tseries { interval_ns: i, intervals: n, agg: g, signed: x }, Tseries { interval_ns: j, intervals: m, agg: h, signed: y })
            if (i, n, g) == (j, m, h) =>
        {
            Tseries { interval_ns: i, intervals: n, agg: g, signed: x || y }
        }
        _ => return None,
    })
}

/// The stored form of a map key element, or `None` if it cannot be a key.
pub(crate) fn key_type(ty: &Type) -> Option<Type> {
    match ty {
        // Integers keep their width: keys are compact in the kernel (see
        // codegen's layout::key_field_size); uses of one map with different
        // widths unify to the widest.
        Type::Int(i) => Some(Type::Int(*i)),
        Type::Bool | Type::Pointer(..) => Some(Type::U64),
        Type::Str { .. } | Type::Inet | Type::ProbeName | Type::CgroupName(_) | Type::Rendered(_) => Some(ty.clone()),
        Type::Array { elem, .. } if elem.is_integer() => Some(ty.clone()),
        Type::Tuple(items) => items.iter().map(key_type).collect::<Option<Vec<_>>>().map(Type::Tuple),
        Type::Void | Type::Record(_) | Type::Array { .. } | Type::Agg(_) | Type::Args => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_int64_unless_too_big() {
        assert_eq!(literal_type(0), Type::I64);
        assert_eq!(literal_type(i64::MAX as u64), Type::I64);
        assert_eq!(literal_type(1 << 63), Type::U64);
    }

    #[test]
    fn arithmetic_is_signed_only_when_both_sides_are() {
        assert_eq!(arith_result(BinOp::Add, IntType::I32, IntType::I64), Type::I64);
        assert_eq!(arith_result(BinOp::Add, IntType::U32, IntType::I64), Type::U64);
        assert_eq!(arith_result(BinOp::Sub, IntType::U8, IntType::U16), Type::U64);
        assert_eq!(arith_result(BinOp::Shr, IntType::I32, IntType::U64), Type::I64);
        assert_eq!(arith_result(BinOp::Shl, IntType::U32, IntType::I64), Type::U64);
    }

    #[test]
    fn unify_widens_integers_and_strings() {
        assert_eq!(unify(&Type::Int(IntType::U32), &Type::I64), Some(Type::I64));
        assert_eq!(unify(&Type::Int(IntType::U16), &Type::Int(IntType::U32)), Some(Type::Int(IntType::U32)));
        assert_eq!(unify(&Type::Str { cap: 16 }, &Type::Str { cap: 4 }), Some(Type::Str { cap: 16 }));
        assert_eq!(unify(&Type::Str { cap: 16 }, &Type::U64), None);
        assert_eq!(
            unify(&Type::Agg(AggKind::Sum { signed: false }), &Type::Agg(AggKind::Sum { signed: true })),
            Some(Type::Agg(AggKind::Sum { signed: true }))
        );
        assert_eq!(unify(&Type::Agg(AggKind::Count), &Type::Agg(AggKind::Hist)), None);
    }

    #[test]
    fn keys_keep_their_integer_width() {
        assert_eq!(key_type(&Type::Int(IntType::U16)), Some(Type::Int(IntType::U16)));
        assert_eq!(key_type(&Type::Bool), Some(Type::U64));
        assert_eq!(key_type(&Type::Agg(AggKind::Count)), None);
    }
}
