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
/// (`decode::aggregate_rank` computes the same number from a map's bytes.)
pub fn sort_value(v: &AggValue) -> Option<i128> {
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

/// The entries `print(@m, top)` shows, by index into `ranks` (each
/// entry's [`sort_value`]): the `top` largest, ties at the boundary
/// settled as [`ordered`] settles them, by key (`key(i)` decodes entry
/// `i`'s key; only tied entries' keys are decoded). `None` when every
/// entry is shown (`top` 0, or not fewer entries than `top`). The caller
/// excludes `stats` maps, which ignore `top`, and maps sorted by key.
pub fn top_indices(ranks: &[i128], top: u64, key: impl Fn(usize) -> Option<Value>) -> Option<Vec<usize>> {
    let keep = usize::try_from(top).ok().filter(|&k| k > 0 && k < ranks.len())?;
    let mut scratch = ranks.to_vec();
    let (_, &mut threshold, _) = scratch.select_nth_unstable(ranks.len() - keep);
    drop(scratch);
    // Fewer than `keep` entries are above the threshold, and at least
    // `keep` are at or above it: `need` is at least 1 and at most `tied`.
    let mut chosen: Vec<usize> = (0..ranks.len()).filter(|&i| ranks[i] > threshold).collect();
    let need = keep - chosen.len();
    let mut tied: Vec<(u64, Option<Value>, usize)> = (0..ranks.len())
        .filter(|&i| ranks[i] == threshold)
        .map(|i| {
            let k = key(i);
            (k.as_ref().map_or(0, key_prefix), k, i)
        })
        .collect();
    let first = tied.len() - need;
    // Among equal values the larger key prints later, so it is the one kept.
    tied.select_nth_unstable_by(first, |(pa, a, _), (pb, b, _)| pa.cmp(pb).then_with(|| compare_keys(a.as_ref(), b.as_ref())));
    chosen.extend(tied[first..].iter().map(|&(_, _, i)| i));
    Some(chosen)
}

/// Entries in print order, keeping only the `top` largest when `top` > 0
/// (still printed smallest first). bpftrace ignores `top` for `stats` maps.
pub fn ordered(map: &MapSnapshot, top: u64) -> Vec<&MapEntry> {
    let entries = &map.entries;
    // Sorted as plain numbers: each entry's sort value (a histogram's is a
    // sum over its buckets) and a prefix of its key, computed once. Only
    // entries equal on both compare their keys in full, so a million
    // entries do not make ~20 million comparisons of `Value`s far apart in
    // memory (that took 0.4 s where all values were equal).
    let ranks: Vec<Option<i128>> = entries.iter().map(|e| sort_value(&e.value)).collect();
    let by_value = ranks.iter().all(Option::is_some);
    let mut ranked: Vec<(u128, u64, u32)> = ranks
        .iter()
        .zip(entries)
        .enumerate()
        .map(|(i, (rank, e))| {
            let rank = if by_value { rank.map_or(0, as_ordered_u128) } else { 0 };
            (rank, e.key.as_ref().map_or(0, key_prefix), i as u32)
        })
        .collect();
    drop(ranks);
    // Keys are unique, so an unstable sort gives the one order there is.
    ranked.sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| compare_keys(entries[a.2 as usize].key.as_ref(), entries[b.2 as usize].key.as_ref()))
    });
    let mut keep = usize::try_from(top).unwrap_or(usize::MAX);
    if keep == 0 || shape_of(map) == Shape::Stats {
        keep = usize::MAX;
    }
    let skip = ranked.len().saturating_sub(keep);
    ranked[skip..].iter().map(|&(_, _, i)| &entries[i as usize]).collect()
}

/// `i128` order as unsigned order.
fn as_ordered_u128(v: i128) -> u128 {
    (v as u128) ^ (1 << 127)
}

/// A number that orders keys as [`compare_values`] does wherever two
/// prefixes differ (equal prefixes say nothing): integers as u64, the
/// first 8 bytes of strings big-endian, a tuple by its first field. Keys
/// of one map share a type, so they are all prefixed the same way; the
/// one mix a type allows (an unset `inet`, decoded as an empty string)
/// prefixes to 0 on both sides.
fn key_prefix(v: &Value) -> u64 {
    let bytes = |b: &[u8]| {
        let mut p = [0u8; 8];
        let n = b.len().min(8);
        p[..n].copy_from_slice(&b[..n]);
        u64::from_be_bytes(p)
    };
    match v {
        Value::Int(_) | Value::UInt(_) | Value::Ptr(_) => as_u64(v),
        Value::Bool(b) => u64::from(*b),
        Value::Str(s) | Value::Probe(s) => bytes(s.as_bytes()),
        Value::Buffer(b) => bytes(b),
        Value::Tuple(items) | Value::Array(items) => items.first().map_or(0, key_prefix),
        Value::Stack { frames, .. } => frames.first().map_or(0, |f| bytes(f.as_bytes())),
        // Equal prefixes: the whole keys decide.
        Value::Inet(_) | Value::Record(_) => 0,
    }
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
    use crate::values::ValueKind;

    fn map_of(entries: Vec<(Value, AggValue)>) -> MapSnapshot {
        MapSnapshot {
            name: "@m".into(),
            entries: entries.into_iter().map(|(k, v)| MapEntry { key: Some(k), value: v }).collect(),
            dropped_updates: 0,
            evicted: 0,
            max_entries: 0,
            kind: ValueKind::Plain,
            keyless: false,
        }
    }

    /// The order by whole values, as before keys were prefixed: the
    /// reference [`ordered`] must agree with.
    fn reference(map: &MapSnapshot, top: u64) -> Vec<&MapEntry> {
        let by_value = map.entries.iter().all(|e| sort_value(&e.value).is_some());
        let mut all: Vec<&MapEntry> = map.entries.iter().collect();
        all.sort_by(|a, b| {
            let by_key = compare_keys(a.key.as_ref(), b.key.as_ref());
            if by_value {
                sort_value(&a.value).cmp(&sort_value(&b.value)).then(by_key)
            } else {
                by_key
            }
        });
        let keep = if top == 0 { all.len() } else { top as usize };
        all.split_off(all.len().saturating_sub(keep))
    }

    /// The top-N entries [`top_indices`] picks, printed as [`ordered`] would.
    fn picked(map: &MapSnapshot, top: u64) -> Vec<&MapEntry> {
        let ranks: Vec<i128> = map.entries.iter().map(|e| sort_value(&e.value).unwrap()).collect();
        let decoded = std::cell::Cell::new(0);
        let chosen = top_indices(&ranks, top, |i| {
            decoded.set(decoded.get() + 1);
            map.entries[i].key.clone()
        });
        let Some(chosen) = chosen else { return ordered(map, top) };
        let mut sub = map.clone();
        sub.entries = chosen.iter().map(|&i| map.entries[i].clone()).collect();
        let keys: Vec<Option<Value>> = ordered(&sub, top).into_iter().map(|e| e.key.clone()).collect();
        keys.iter().map(|k| map.entries.iter().find(|e| &e.key == k).unwrap()).collect()
    }

    fn ints(pairs: &[(i64, i64)]) -> MapSnapshot {
        map_of(pairs.iter().map(|&(k, v)| (Value::Int(k), AggValue::Sum(v))).collect())
    }

    #[test]
    fn top_indices_keep_the_largest_and_settle_ties_by_key() {
        // Top 2 of values [5, 1, 9, 5, 3]: 9, then of the two 5s the larger key (40).
        let m = ints(&[(10, 5), (20, 1), (30, 9), (40, 5), (50, 3)]);
        let ranks = [5, 1, 9, 5, 3];
        let mut chosen = top_indices(&ranks, 2, |i| m.entries[i].key.clone()).unwrap();
        chosen.sort();
        assert_eq!(chosen, vec![2, 3]);
        assert_eq!(picked(&m, 2), reference(&m, 2));
        assert_eq!(top_indices(&ranks, 1, |i| m.entries[i].key.clone()), Some(vec![2]));
    }

    #[test]
    fn top_indices_decode_only_tied_keys() {
        let ranks: Vec<i128> = (0..1000).collect();
        let decoded = std::cell::Cell::new(0);
        let chosen = top_indices(&ranks, 10, |i| {
            decoded.set(decoded.get() + 1);
            Some(Value::UInt(i as u64))
        });
        assert_eq!(chosen.unwrap().len(), 10);
        assert_eq!(decoded.get(), 1, "only the one entry at the boundary value is a tie");
    }

    #[test]
    fn top_indices_with_negative_values_and_all_ties() {
        let m = ints(&[(1, -5), (2, -1), (3, -9), (4, -1), (5, 0), (-1, -1)]);
        for top in 1..=6 {
            assert_eq!(picked(&m, top), reference(&m, top), "top {top}");
        }
        // Every value equal: the largest keys as u64 (so -1 is the largest).
        let same = ints(&[(3, 7), (-1, 7), (2, 7), (9, 7)]);
        let keys: Vec<_> = picked(&same, 2).iter().map(|e| e.key.clone().unwrap()).collect();
        assert_eq!(keys, [Value::Int(9), Value::Int(-1)]);
    }

    #[test]
    fn top_indices_rank_histograms_by_their_total() {
        let hist = |b: &[u64]| AggValue::Hist { buckets: b.to_vec(), sum: 0 };
        let m = map_of(vec![
            (Value::Str("a".into()), hist(&[0, 3, 1])),
            (Value::Str("b".into()), hist(&[5, 0, 0])),
            (Value::Str("c".into()), hist(&[1, 1, 0])),
            (Value::Str("d".into()), hist(&[0, 0, 4])),
        ]);
        for top in 1..=4 {
            assert_eq!(picked(&m, top), reference(&m, top), "top {top}");
        }
        let keys: Vec<_> = picked(&m, 2).iter().map(|e| e.key.clone().unwrap()).collect();
        assert_eq!(keys, [Value::Str("d".into()), Value::Str("b".into())]);
    }

    #[test]
    fn top_indices_are_none_when_every_entry_is_shown() {
        let key = |_| None;
        assert_eq!(top_indices(&[5, 1, 9], 0, key), None, "no top");
        assert_eq!(top_indices(&[5, 1, 9], 3, key), None, "not fewer entries than top");
    }

    /// Key prefixes only speed the sort up: the order is the same as by
    /// whole keys, for integers (signed read as u64), strings sharing long
    /// prefixes, tuples and values sorted by key.
    #[test]
    fn ordered_matches_the_order_by_whole_keys() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut int_keys = Vec::new();
        let mut str_keys = Vec::new();
        let mut tuple_keys = Vec::new();
        for i in 0..2000u64 {
            let v = AggValue::Count(next() % 5);
            int_keys.push((Value::Int((next() % 200) as i64 - 100 + (i as i64) * 1000), v.clone()));
            let s = format!("{}{}", ["same-long-prefix-", "same-long-", "s", ""][(next() % 4) as usize], i);
            str_keys.push((Value::Str(s), v.clone()));
            tuple_keys.push((Value::Tuple(vec![Value::UInt(next() % 3), Value::Str(format!("x{i}"))]), v));
        }
        let by_key: Vec<_> =
            (0..500).map(|i| (Value::UInt(next() % 1000 + i * 1000), AggValue::Plain(Value::Str(format!("v{i}"))))).collect();
        for m in [map_of(int_keys), map_of(str_keys), map_of(tuple_keys), map_of(by_key)] {
            for top in [0, 1, 7, 100] {
                assert_eq!(ordered(&m, top), reference(&m, top));
            }
        }
    }
}
