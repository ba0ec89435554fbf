//! The order bpftrace prints a map's entries in, and `print(@m, top)`.
//!
//! bpftrace sorts by value ascending: counts, sums, min/max and integers by
//! their value, histograms by their total count, avg/stats by their average.
//! Maps of other values (strings, addresses, tuples) are sorted by key.
//! Integer keys compare as unsigned 64-bit numbers, as bpftrace reads them,
//! so `-1` sorts after every positive key.
//!
//! Where bpftrace leaves ties in the kernel's hash order (arbitrary, and
//! different between two implementations), we break them by key so the
//! output is the same on every run.

use std::cmp::Ordering;

use crate::values::{AggValue, MapEntry, MapSnapshot, Value};

/// How a map's entries are laid out; every entry of a map has the same shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One `@m[k]: v` line per entry.
    Lines,
    /// A multi-line histogram per entry (hist, lhist).
    Hist,
    /// `avg` (one number) or `stats` (count/average/total) per entry.
    Avg,
    Stats,
}

pub fn shape_of(map: &MapSnapshot) -> Shape {
    match map.entries.first().map(|e| &e.value) {
        Some(AggValue::Hist { .. } | AggValue::Lhist { .. } | AggValue::Tseries { .. }) => Shape::Hist,
        Some(AggValue::Avg { .. }) => Shape::Avg,
        Some(AggValue::Stats { .. }) => Shape::Stats,
        _ => Shape::Lines,
    }
}

/// The mean bpftrace prints: integer division truncating toward zero, 0 when empty.
pub fn average(sum: i64, count: u64) -> i64 {
    if count == 0 {
        return 0;
    }
    (sum as i128 / count as i128) as i64
}

/// The number an entry is sorted by, or `None` for values sorted by key.
fn sort_value(v: &AggValue) -> Option<i128> {
    Some(match v {
        AggValue::Count(c) => *c as i128,
        AggValue::Sum(s) | AggValue::Min(s) | AggValue::Max(s) => *s as i128,
        AggValue::Avg { sum, count } | AggValue::Stats { sum, count } => average(*sum, *count) as i128,
        AggValue::Hist { buckets: b, .. } | AggValue::Lhist { buckets: b, .. } => b.iter().map(|&c| c as i128).sum(),
        AggValue::Plain(Value::Int(i)) => *i as i128,
        AggValue::Plain(Value::UInt(u) | Value::Ptr(u)) => *u as i128,
        AggValue::Plain(_) => return None,
        // bpftrace prints the series updated least recently first.
        AggValue::Tseries { points, .. } => points.last().map_or(0, |(e, _)| *e as i128),
    })
}

/// Indices of the `values` that can be among the `top` largest (ties at the
/// boundary included: they are ordered by key, which is not decoded yet);
/// `None` when every entry is needed (`top` 0 or not fewer than the
/// entries, values printed in key order). [`ordered`] then drops the extra
/// ties. The caller excludes `stats` maps, which ignore `top`.
pub fn top_candidates(values: &[Option<AggValue>], top: u64) -> Option<Vec<usize>> {
    let keep = usize::try_from(top).ok().filter(|&k| k > 0 && k < values.len())?;
    let ranks: Vec<i128> = values.iter().map(|v| sort_value(v.as_ref()?)).collect::<Option<_>>()?;
    let mut sorted = ranks.clone();
    let (_, &mut threshold, _) = sorted.select_nth_unstable(ranks.len() - keep);
    Some((0..ranks.len()).filter(|&i| ranks[i] >= threshold).collect())
}

/// Entries in print order, keeping only the `top` largest when `top` > 0
/// (still printed smallest first). bpftrace ignores `top` for `stats` maps.
pub fn ordered(map: &MapSnapshot, top: u64) -> Vec<&MapEntry> {
    // Each entry's sort value computed once (a histogram's is a sum over its
    // buckets), not per comparison: a million entries take ~20 comparisons each.
    let mut ranked: Vec<(Option<i128>, &MapEntry)> = map.entries.iter().map(|e| (sort_value(&e.value), e)).collect();
    let by_value = ranked.iter().all(|(rank, _)| rank.is_some());
    // Keys are unique, so an unstable sort gives the one order there is.
    ranked.sort_unstable_by(|(ra, a), (rb, b)| {
        let by_key = || compare_keys(a.key.as_ref(), b.key.as_ref());
        if by_value {
            ra.cmp(rb).then_with(by_key)
        } else {
            by_key()
        }
    });
    let mut entries: Vec<&MapEntry> = ranked.into_iter().map(|(_, e)| e).collect();
    let keep = usize::try_from(top).unwrap_or(usize::MAX);
    if keep > 0 && entries.len() > keep && shape_of(map) != Shape::Stats {
        entries.drain(..entries.len() - keep);
    }
    entries
}

fn compare_keys(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => compare_values(a, b),
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}

/// Key order: integers as u64, strings bytewise, tuples field by field.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Int(_) | Value::UInt(_) | Value::Ptr(_), Value::Int(_) | Value::UInt(_) | Value::Ptr(_)) => as_u64(a).cmp(&as_u64(b)),
        (Value::Str(x), Value::Str(y)) | (Value::Probe(x), Value::Probe(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Inet(x), Value::Inet(y)) => x.cmp(y),
        (Value::Buffer(x), Value::Buffer(y)) => x.cmp(y),
        (Value::Stack { frames: x, .. }, Value::Stack { frames: y, .. }) => x.cmp(y),
        (Value::Tuple(x), Value::Tuple(y)) | (Value::Array(x), Value::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(p, q)| compare_values(p, q))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn as_u64(v: &Value) -> u64 {
    match v {
        Value::Int(i) => *i as u64,
        Value::UInt(u) | Value::Ptr(u) => *u,
        _ => 0,
    }
}

fn rank(v: &Value) -> u8 {
    match v {
        Value::Int(_) | Value::UInt(_) | Value::Ptr(_) => 0,
        Value::Bool(_) => 1,
        Value::Str(_) => 2,
        Value::Probe(_) => 3,
        Value::Inet(_) => 4,
        Value::Tuple(_) => 5,
        Value::Buffer(_) => 6,
        Value::Array(_) => 7,
        Value::Record(_) => 8,
        Value::Stack { .. } => 9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(values: &[u64]) -> Vec<Option<AggValue>> {
        values.iter().map(|&c| Some(AggValue::Count(c))).collect()
    }

    #[test]
    fn top_candidates_keep_the_largest_and_every_tie_at_the_boundary() {
        // Top 2 of [5, 1, 9, 5, 3]: 9 and one of the two 5s (which one
        // depends on the keys, not decoded yet): both 5s are candidates.
        assert_eq!(top_candidates(&counts(&[5, 1, 9, 5, 3]), 2), Some(vec![0, 2, 3]));
        assert_eq!(top_candidates(&counts(&[5, 1, 9, 5, 3]), 1), Some(vec![2]));
    }

    #[test]
    fn top_candidates_are_none_when_every_entry_is_needed() {
        assert_eq!(top_candidates(&counts(&[5, 1, 9]), 0), None, "no top");
        assert_eq!(top_candidates(&counts(&[5, 1, 9]), 3), None, "not fewer entries than top");
        let strings = vec![Some(AggValue::Plain(Value::Str("a".into()))), Some(AggValue::Count(1))];
        assert_eq!(top_candidates(&strings, 1), None, "values printed in key order");
    }
}
