//! How values sit in map keys, map values and ring-buffer records. Both the
//! code generator (which writes them) and the runtime (which decodes them) use
//! these functions, so the two cannot disagree.

use flowtrace_lang::types::{AggKind, Type};

/// Every field is 8-byte aligned: integers, booleans and pointers are widened
/// to 8 bytes, so userspace never needs the declared width to decode.
pub const ALIGN: u32 = 8;

/// `inet`: u64 address family (`AF_INET` = 2, `AF_INET6` = 10), then 16 bytes
/// of address (IPv4 in the first 4, network byte order).
pub const INET_SIZE: u32 = 24;

/// Log2 histogram buckets: index 0 counts negative values, 1 counts zero,
/// 2 + k counts values in [2^k, 2^(k+1)) for k in 0..64.
pub const HIST_BUCKETS: u32 = 66;

pub fn round_up(n: u32) -> u32 {
    n.div_ceil(ALIGN) * ALIGN
}

/// Size of a value of `ty` in a key, value or event record.
pub fn size_of(ty: &Type) -> u32 {
    match ty {
        Type::Int(_) | Type::Bool | Type::Pointer(_) | Type::ProbeName => 8,
        Type::Str { cap } => round_up(*cap),
        Type::Inet => INET_SIZE,
        Type::Tuple(items) => items.iter().map(size_of).sum(),
        Type::Array { elem, len } => round_up(size_of_packed(elem) * len),
        Type::Record(r) => round_up(r.size),
        Type::Agg(a) => agg_size(*a),
        Type::Void | Type::Args => 0,
    }
}

/// Element size inside an array copied from the kernel (not widened).
fn size_of_packed(ty: &Type) -> u32 {
    match ty {
        Type::Int(t) => t.bytes(),
        other => size_of(other),
    }
}

/// Offsets of each field in a record of `types` laid out one after another.
pub fn offsets(types: &[Type]) -> (Vec<u32>, u32) {
    let mut offs = Vec::with_capacity(types.len());
    let mut at = 0;
    for t in types {
        offs.push(at);
        at += size_of(t);
    }
    (offs, at)
}

/// Size of a map key for these key expressions (a scalar map uses u64 0).
pub fn key_size(keys: &[Type]) -> u32 {
    if keys.is_empty() {
        8
    } else {
        offsets(keys).1
    }
}

/// Per-CPU value size of an aggregation.
pub fn agg_size(agg: AggKind) -> u32 {
    match agg {
        AggKind::Count | AggKind::Sum { .. } => 8,
        // (value, has_value) for min/max; (sum, count) for avg/stats.
        AggKind::Min { .. } | AggKind::Max { .. } | AggKind::Avg { .. } | AggKind::Stats { .. } => 16,
        AggKind::Hist => HIST_BUCKETS * 8,
        AggKind::Lhist { .. } => lhist_buckets(agg) * 8,
    }
}

/// Linear histogram buckets: index 0 counts values below `min`, the last one
/// values at or above `max`, the ones between `[min + i*step, min + (i+1)*step)`.
pub fn lhist_buckets(agg: AggKind) -> u32 {
    match agg {
        AggKind::Lhist { min, max, step } => (((max - min) / step.max(1)) as u32) + 2,
        _ => 0,
    }
}

/// The log2 bucket of `v` (mirrors the generated code).
pub fn hist_bucket(v: i64) -> u32 {
    if v < 0 {
        0
    } else if v == 0 {
        1
    } else {
        2 + (63 - (v as u64).leading_zeros())
    }
}

/// The linear bucket of `v` (mirrors the generated code).
pub fn lhist_bucket(v: i64, min: i64, max: i64, step: i64) -> u32 {
    if v < min {
        0
    } else if v >= max {
        (((max - min) / step) as u32) + 1
    } else {
        (((v - min) / step) as u32) + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hist_buckets_cover_the_powers_of_two() {
        assert_eq!(hist_bucket(-5), 0);
        assert_eq!(hist_bucket(0), 1);
        assert_eq!(hist_bucket(1), 2);
        assert_eq!(hist_bucket(2), 3);
        assert_eq!(hist_bucket(3), 3);
        assert_eq!(hist_bucket(4), 4);
        assert_eq!(hist_bucket(i64::MAX), 2 + 62);
    }

    #[test]
    fn lhist_buckets_clamp_at_the_ends() {
        assert_eq!(lhist_bucket(-1, 0, 100, 10), 0);
        assert_eq!(lhist_bucket(0, 0, 100, 10), 1);
        assert_eq!(lhist_bucket(99, 0, 100, 10), 10);
        assert_eq!(lhist_bucket(100, 0, 100, 10), 11);
        assert_eq!(lhist_buckets(AggKind::Lhist { min: 0, max: 100, step: 10 }), 12);
    }
}
