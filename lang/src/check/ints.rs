//! Integer typing rules, following today's bpftrace (0.17 gave every literal
//! `int64`; see docs/language.md "Differences"):
//!
//! - a literal is the smallest signed type that holds it (`int8` for `1`,
//!   `int16` for `-1000`), `uint64` above `int64`'s range; a non-negative
//!   literal is *sign-flexible*: next to an unsigned value it is unsigned;
//! - arithmetic and bitwise results are 64-bit, signed when either operand
//!   is (after a flexible literal took the other side's signedness) and
//!   always for `-`;
//! - comparisons and `&&`/`||`/`!` give `bool`;
//! - a variable assigned integers of several types takes one that holds
//!   them all (`promote`); `++`/`--` make it 64-bit. Map values are stored
//!   as 64-bit integers, and so are map keys given as literals.

use crate::ast::BinOp;
use crate::typed::{TExpr, TExprKind};
use crate::types::{AggKind, IntType, Type};

/// The type of a non-negative integer literal's value.
pub(crate) fn literal_type(value: u64) -> Type {
    let bits = match value {
        0..=0x7f => 8,
        0x80..=0x7fff => 16,
        0x8000..=0x7fff_ffff => 32,
        _ if value <= i64::MAX as u64 => 64,
        _ => return Type::U64,
    };
    Type::Int(IntType { bits, signed: true })
}

/// The type of a number given on the command line (a positional parameter,
/// a `getopt()` value or default): `int64`, `uint64` past its range, as in
/// bpftrace — the value is not the program's to choose.
pub(crate) fn parameter_type(value: u64) -> Type {
    if value <= i64::MAX as u64 {
        Type::I64
    } else {
        Type::U64
    }
}

/// The type of a negative literal (`-N`, folded): the smallest signed type
/// that holds it.
pub(crate) fn negative_literal_type(value: i64) -> Type {
    let bits = if i8::try_from(value).is_ok() {
        8
    } else if i16::try_from(value).is_ok() {
        16
    } else if i32::try_from(value).is_ok() {
        32
    } else {
        64
    };
    Type::Int(IntType { bits, signed: true })
}

/// Whether `e` is a sign-flexible value: a non-negative literal within
/// `int64`'s range (`(uint64)x + 1` stays unsigned).
pub(crate) fn is_flexible(e: &TExpr) -> bool {
    matches!((&e.kind, &e.ty), (TExprKind::Int(v), Type::Int(i)) if i.signed && (*v as i64) >= 0)
}

/// The integer view of a scalar operand (`bool` is an unsigned integer).
pub(crate) fn int_of(ty: &Type) -> Option<IntType> {
    match ty {
        Type::Int(i) => Some(*i),
        Type::Bool => Some(IntType::U64),
        _ => None,
    }
}

/// Result type of an arithmetic or bitwise operator on two integers, each
/// with whether it is sign-flexible ([`is_flexible`]).
pub(crate) fn arith_result(op: BinOp, lhs: (IntType, bool), rhs: (IntType, bool)) -> Type {
    let (l, r) = match (lhs, rhs) {
        ((_, true), (r, false)) => (r.signed, r.signed),
        ((l, false), (_, true)) => (l.signed, l.signed),
        ((l, _), (r, _)) => (l.signed, r.signed),
    };
    Type::Int(IntType { bits: 64, signed: l || r || op == BinOp::Sub })
}

/// The integer type that holds values of both `a` and `b`, each with
/// whether it is sign-flexible, and whether the result still is: a
/// flexible side takes the other's signedness; of a signed and an unsigned
/// type, the signed one if it is wider, else a signed type twice the wider
/// one's size (at most `int64`, where large unsigned values wrap).
pub(crate) fn promote(a: (IntType, bool), b: (IntType, bool)) -> (IntType, bool) {
    let ((x, x_flex), (y, y_flex)) = (a, b);
    let bits = x.bits.max(y.bits);
    let flexible = x_flex && y_flex;
    if x.signed == y.signed {
        return (IntType { bits, signed: x.signed }, flexible);
    }
    if x_flex || y_flex {
        let signed = if x_flex { y.signed } else { x.signed };
        return (IntType { bits, signed }, flexible);
    }
    let (s, u) = if x.signed { (x, y) } else { (y, x) };
    if s.bits > u.bits {
        return (s, false);
    }
    (IntType { bits: (bits * 2).min(64), signed: true }, false)
}

/// The common type of two values stored in one place (a variable, a map's
/// values or keys), or `None` when they cannot share it.
pub(crate) fn unify(a: &Type, b: &Type) -> Option<Type> {
    match (a, b) {
        (Type::Int(x), Type::Int(y)) => Some(Type::Int(promote((*x, false), (*y, false)).0)),
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
    fn literals_take_the_smallest_signed_type() {
        let int = |bits| Type::Int(IntType { bits, signed: true });
        assert_eq!(literal_type(0), int(8));
        assert_eq!(literal_type(127), int(8));
        assert_eq!(literal_type(128), int(16));
        assert_eq!(literal_type(65_536), int(32));
        assert_eq!(literal_type(1 << 31), int(64));
        assert_eq!(literal_type(i64::MAX as u64), Type::I64);
        assert_eq!(literal_type(1 << 63), Type::U64);
        assert_eq!(negative_literal_type(-1), int(8));
        assert_eq!(negative_literal_type(-128), int(8));
        assert_eq!(negative_literal_type(-129), int(16));
        assert_eq!(negative_literal_type(-1000), int(16));
        assert_eq!(negative_literal_type(i64::MIN), Type::I64);
    }

    #[test]
    fn arithmetic_is_signed_when_either_side_is() {
        let (fixed, flex) = (false, true);
        assert_eq!(arith_result(BinOp::Add, (IntType::I32, fixed), (IntType::I64, fixed)), Type::I64);
        assert_eq!(arith_result(BinOp::Add, (IntType::U32, fixed), (IntType::I64, fixed)), Type::I64);
        assert_eq!(arith_result(BinOp::Mul, (IntType::U8, fixed), (IntType::U16, fixed)), Type::U64);
        // A literal takes the other side's signedness; `-` is always signed.
        assert_eq!(arith_result(BinOp::Add, (IntType::U32, fixed), (IntType::I8, flex)), Type::U64);
        assert_eq!(arith_result(BinOp::Shr, (IntType::I8, flex), (IntType::U64, fixed)), Type::U64);
        assert_eq!(arith_result(BinOp::Add, (IntType::I8, flex), (IntType::I8, flex)), Type::I64);
        assert_eq!(arith_result(BinOp::Sub, (IntType::U64, fixed), (IntType::U64, fixed)), Type::I64);
    }

    #[test]
    fn promotion_holds_both_sides() {
        let int = |bits, signed| IntType { bits, signed };
        assert_eq!(promote((int(8, true), true), (int(16, true), true)), (int(16, true), true));
        assert_eq!(promote((int(8, true), true), (int(32, false), false)), (int(32, false), false));
        assert_eq!(promote((int(32, false), false), (int(8, true), true)), (int(32, false), false));
        assert_eq!(promote((int(32, false), false), (int(8, true), false)), (int(64, true), false));
        assert_eq!(promote((int(8, false), false), (int(8, true), false)), (int(16, true), false));
        assert_eq!(promote((int(16, false), false), (int(32, true), false)), (int(32, true), false));
        assert_eq!(promote((int(64, false), false), (int(64, true), false)), (int(64, true), false));
    }

    #[test]
    fn unify_widens_integers_and_strings() {
        assert_eq!(unify(&Type::Int(IntType::U32), &Type::I64), Some(Type::I64));
        assert_eq!(unify(&Type::Int(IntType::U32), &Type::Int(IntType::I32)), Some(Type::I64));
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
