//! How values sit in map keys, map values and ring-buffer records. Both the
//! code generator (which writes them) and the runtime (which decodes them) use
//! these functions, so the two cannot disagree.

use flowtrace_lang::types::{AggKind, Rendered, Type};

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
        Type::Int(_) | Type::Bool | Type::Pointer(..) | Type::ProbeName | Type::CgroupName(_) => 8,
        Type::Str { cap } => round_up(*cap),
        Type::Inet => INET_SIZE,
        Type::Tuple(items) => items.iter().map(size_of).sum(),
        Type::Array { elem, len } => round_up(size_of_packed(elem) * len),
        Type::Record(r) => round_up(r.size),
        Type::Agg(a) => agg_size(*a),
        Type::Void | Type::Args => 0,
        Type::Rendered(r) => rendered_size(r),
    }
}

/// `username` and timestamps are a u64; a MAC address is 6 bytes in 8; a
/// buffer is its byte count (u64) then its bytes.
pub fn rendered_size(r: &Rendered) -> u32 {
    match r {
        Rendered::Username
        | Rendered::Timestamp { .. }
        | Rendered::MacAddr
        | Rendered::Stack(_)
        | Rendered::Ksym
        | Rendered::Strerror
        | Rendered::SyscallName
        | Rendered::SignalName
        | Rendered::EnumName { .. } => 8,
        // The address, then the pid whose mappings it is resolved in.
        Rendered::Usym => 16,
        Rendered::Buffer { cap } => 8 + round_up(*cap),
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

/// Map keys are compact, unlike values: the kernel hashes and compares
/// every key byte on each lookup, so a 5-tuple of widened fields (72 bytes)
/// costs measurably more per packet than the same fields at their natural
/// width (48). Integers take their declared width, aligned to it; `inet`
/// is [`KEY_INET_SIZE`] bytes; strings and compound types keep their value
/// layout. The key is rounded up to 8 bytes; padding bytes are zero.
pub fn key_field_size(ty: &Type) -> u32 {
    match ty {
        Type::Int(t) => t.bytes(),
        Type::Bool => 1,
        Type::Inet => KEY_INET_SIZE,
        other => size_of(other),
    }
}

/// `inet` in a key: the 16 address bytes (IPv4 in the first 4, the rest
/// zero), then the family as one byte (`AF_INET` = 2, `AF_INET6` = 10).
/// Aligned to 8 so the address copies as two 8-byte words.
pub const KEY_INET_SIZE: u32 = 17;
/// Offset of the family byte in a key's `inet`.
pub const KEY_INET_FAMILY: u32 = 16;

fn key_field_align(ty: &Type) -> u32 {
    match ty {
        Type::Int(t) => t.bytes(),
        Type::Bool => 1,
        _ => ALIGN,
    }
}

/// Offsets of the key fields `types` and the key size (see
/// [`key_field_size`]). A scalar map's key is a u64 0.
pub fn key_offsets(types: &[Type]) -> (Vec<u32>, u32) {
    if types.is_empty() {
        return (Vec::new(), 8);
    }
    let mut offs = Vec::with_capacity(types.len());
    let mut at = 0u32;
    for t in types {
        at = at.div_ceil(key_field_align(t)) * key_field_align(t);
        offs.push(at);
        at += key_field_size(t);
    }
    (offs, round_up(at))
}

/// Size of a map key for these key expressions (a scalar map uses u64 0).
pub fn key_size(keys: &[Type]) -> u32 {
    key_offsets(keys).1
}

/// The 8-byte words of a key that hold padding: zeroing just these (before
/// the fields are written) makes equal keys equal byte for byte without
/// storing every byte twice.
pub fn key_padding_words(keys: &[Type]) -> Vec<u32> {
    let (offs, size) = key_offsets(keys);
    let mut used = vec![false; size as usize];
    for (t, at) in keys.iter().zip(offs) {
        for b in at..at + key_field_size(t) {
            used[b as usize] = true;
        }
    }
    if keys.is_empty() {
        return vec![0];
    }
    (0..size).step_by(ALIGN as usize).filter(|w| used[*w as usize..(*w + ALIGN) as usize].iter().any(|u| !u)).collect()
}

/// One `tseries()` interval slot: value (u64), meta (u64: the count for
/// avg, "has a value" for min/max, the write time for last-wins), epoch
/// (u64: wall-clock nanoseconds / interval; 0 for a slot never written).
pub const TSERIES_SLOT: u32 = 24;

/// Per-CPU value size of an aggregation.
pub fn agg_size(agg: AggKind) -> u32 {
    match agg {
        AggKind::Count | AggKind::Sum { .. } => 8,
        // (value, has_value) for min/max; (sum, count) for avg/stats.
        AggKind::Min { .. } | AggKind::Max { .. } | AggKind::Avg { .. } | AggKind::Stats { .. } => 16,
        // The buckets, then the sum of every value seen: a Prometheus
        // histogram's `_sum`, which the buckets alone cannot give.
        AggKind::Hist | AggKind::Lhist { .. } => hist_sum_offset(agg) + 8,
        AggKind::Tseries { intervals, .. } => intervals * TSERIES_SLOT,
    }
}

/// Where a hist/lhist value keeps the sum of its values (after the buckets).
pub fn hist_sum_offset(agg: AggKind) -> u32 {
    match agg {
        AggKind::Hist => HIST_BUCKETS * 8,
        AggKind::Lhist { .. } => lhist_buckets(agg) * 8,
        _ => 0,
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
    fn keys_are_compact_and_padding_is_known() {
        use flowtrace_lang::types::IntType;
        let five_tuple = [Type::Inet, Type::Inet, Type::Int(IntType::U16), Type::Int(IntType::U16), Type::Int(IntType::U8)];
        assert_eq!(key_offsets(&five_tuple), (vec![0, 24, 42, 44, 46], 48));
        assert_eq!(key_padding_words(&five_tuple), [16, 40]);
        let mixed = [Type::Int(IntType::U8), Type::U64, Type::Str { cap: 16 }, Type::Int(IntType::U32)];
        assert_eq!(key_offsets(&mixed), (vec![0, 8, 16, 32], 40));
        assert_eq!(key_padding_words(&mixed), [0, 32]);
        assert_eq!(key_offsets(&[]), (vec![], 8));
        assert_eq!(key_padding_words(&[]), [0]);
        assert_eq!(key_size(&[Type::Int(IntType::U32)]), 8);
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
