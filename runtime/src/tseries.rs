//! `tseries()` values between the kernel's slots and the printed graph:
//! [`merge`] combines the per-CPU copies of each slot as bpftrace does
//! (values of one epoch are aggregated; the newest epoch of a slot wins),
//! [`rows`] picks the intervals a map prints.

use flowtrace_codegen::layout::TSERIES_SLOT;
use flowtrace_lang::types::TseriesAgg;
use std::collections::BTreeMap;

/// One slot of one CPU: (value, meta, epoch).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    value: i128,
    meta: u64,
    epoch: u64,
}

/// The (epoch, value) of each slot that holds one, oldest epoch first.
/// `per_cpu(c)` is CPU `c`'s copy of the map value.
pub fn merge<'a>(per_cpu: impl Fn(usize) -> &'a [u8], cpus: usize, intervals: u32, agg: TseriesAgg, signed: bool) -> Vec<(u64, i64)> {
    let slot_at = |bytes: &[u8], i: usize| {
        let word = |at: usize| bytes.get(at..at + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_le_bytes);
        let base = i * TSERIES_SLOT as usize;
        let raw = word(base);
        let value = if signed { i128::from(raw as i64) } else { i128::from(raw) };
        Slot { value, meta: word(base + 8), epoch: word(base + 16) }
    };
    let mut out = Vec::new();
    for i in 0..intervals as usize {
        let copies: Vec<Slot> = (0..cpus).map(|c| slot_at(per_cpu(c), i)).filter(|s| s.epoch != 0).collect();
        if let Some(slot) = reduce(&copies, agg) {
            out.push((slot.epoch, slot.value as i64));
        }
    }
    out.sort_unstable();
    out
}

/// The newest epoch among `copies`, its copies combined by `agg`.
fn reduce(copies: &[Slot], agg: TseriesAgg) -> Option<Slot> {
    let latest = copies.iter().map(|s| s.epoch).max()?;
    let mut same = copies.iter().filter(|s| s.epoch == latest);
    let mut acc = *same.next()?;
    for s in same {
        match agg {
            // The write with the latest time stamp (meta) wins.
            TseriesAgg::Last if s.meta > acc.meta => acc = *s,
            TseriesAgg::Last => {}
            TseriesAgg::Avg => {
                acc.value += s.value;
                acc.meta += s.meta;
            }
            TseriesAgg::Sum => acc.value += s.value,
            TseriesAgg::Min => acc.value = acc.value.min(s.value),
            TseriesAgg::Max => acc.value = acc.value.max(s.value),
        }
    }
    if agg == TseriesAgg::Avg && acc.meta > 0 {
        acc.value /= i128::from(acc.meta);
    }
    Some(acc)
}

/// The rows one entry prints: epochs from its first one with a value (at
/// most `intervals` before the map's newest epoch `last`) to `last`; `None`
/// where an interval has no value.
pub fn rows(points: &[(u64, i64)], last: u64, intervals: u32) -> Vec<(u64, Option<i64>)> {
    let start = last.saturating_sub(u64::from(intervals) - 1);
    let values: BTreeMap<u64, i64> = points.iter().copied().filter(|(e, _)| (start..=last).contains(e)).collect();
    let Some(&first) = values.keys().next() else {
        return Vec::new();
    };
    (first..=last).map(|e| (e, values.get(&e).copied())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(items: &[(u64, u64, u64)]) -> Vec<u8> {
        items.iter().flat_map(|(v, m, e)| [v.to_le_bytes(), m.to_le_bytes(), e.to_le_bytes()].concat()).collect()
    }

    #[test]
    fn cpus_of_one_epoch_combine_and_the_newest_epoch_wins() {
        // Two slots, two CPUs. Slot 0: epoch 10 on both; slot 1: epoch 11 on
        // CPU 0 and a stale epoch 9 on CPU 1.
        let cpu0 = slots(&[(4, 2, 10), (7, 1, 11)]);
        let cpu1 = slots(&[(6, 1, 10), (100, 5, 9)]);
        let per_cpu = |c: usize| if c == 0 { &cpu0[..] } else { &cpu1[..] };
        assert_eq!(merge(per_cpu, 2, 2, TseriesAgg::Sum, false), [(10, 10), (11, 7)]);
        assert_eq!(merge(per_cpu, 2, 2, TseriesAgg::Avg, false), [(10, 3), (11, 7)]);
        assert_eq!(merge(per_cpu, 2, 2, TseriesAgg::Min, false), [(10, 4), (11, 7)]);
        assert_eq!(merge(per_cpu, 2, 2, TseriesAgg::Last, false), [(10, 4), (11, 7)]);
        let negative = slots(&[((-3i64) as u64, 1, 5)]);
        assert_eq!(merge(|_| &negative[..], 1, 1, TseriesAgg::Max, true), [(5, -3)]);
    }

    #[test]
    fn rows_start_at_the_first_value_and_mark_gaps() {
        let points = [(3, 1), (5, 2), (9, 3)];
        assert_eq!(rows(&points, 9, 5), [(5, Some(2)), (6, None), (7, None), (8, None), (9, Some(3))]);
        assert_eq!(rows(&points, 12, 3), []);
        assert_eq!(rows(&points, 5, 10), [(3, Some(1)), (4, None), (5, Some(2))]);
    }
}
