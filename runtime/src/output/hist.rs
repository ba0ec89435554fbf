//! Histogram buckets as both formatters see them: which rows to show, each
//! row's bounds, and bpftrace's labels and bars for the text form.

use std::ops::RangeInclusive;

/// Width of the `|@@@@ |` bar in the text form.
pub const BAR_WIDTH: usize = 52;

/// The bounds of one row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bounds {
    /// Everything below `max` + 1 (the negative or below-`min` bucket).
    Below { max: i64 },
    /// `min..=max`, both inclusive.
    Between { min: i128, max: i128 },
    /// `min` and above (the last lhist bucket).
    From { min: i64 },
}

/// Rows bpftrace prints: from the first non-empty bucket to the last one,
/// keeping the empty buckets in between. `None` when every bucket is empty.
pub fn shown_rows(buckets: &[u64]) -> Option<RangeInclusive<usize>> {
    let first = buckets.iter().position(|&c| c > 0)?;
    let last = buckets.iter().rposition(|&c| c > 0)?;
    Some(first..=last)
}

/// Bar length for a row, scaled so the fullest row fills the bar. bpftrace
/// computes this in single precision and truncates; doing the same keeps the
/// bars identical (e.g. 1 of 2 → 26 columns).
pub fn bar_len(count: u64, max: u64) -> usize {
    if max == 0 {
        return 0;
    }
    let len = (count as f32 / max as f32 * BAR_WIDTH as f32) as usize;
    len.min(BAR_WIDTH)
}

/// Bounds of log2 bucket `i` (0: negative, 1: zero, 2 + k: `[2^k, 2^(k+1))`).
pub fn log2_bounds(i: usize) -> Bounds {
    match i {
        0 => Bounds::Below { max: -1 },
        1 => Bounds::Between { min: 0, max: 0 },
        _ => {
            let k = (i - 2) as u32;
            let min = 1i128 << k;
            Bounds::Between { min, max: (min << 1) - 1 }
        }
    }
}

/// Text label of log2 bucket `i`: `(..., 0)`, `[0]`, `[1]`, `[2, 4)`, `[1K, 2K)`.
pub fn log2_label(i: usize) -> String {
    match i {
        0 => "(..., 0)".to_string(),
        1 => "[0]".to_string(),
        2 => "[1]".to_string(),
        _ => format!("[{}, {})", power_label(i as u32 - 2), power_label(i as u32 - 1)),
    }
}

/// `2^power` with bpftrace's binary suffixes: 1024 is `1K`, 2^40 is `1T`.
fn power_label(power: u32) -> String {
    let (suffix, rest) = match power {
        40.. => ("T", power - 40),
        30.. => ("G", power - 30),
        20.. => ("M", power - 20),
        10.. => ("K", power - 10),
        _ => ("", power),
    };
    format!("{}{}", 1u64 << rest, suffix)
}

/// The shape of a linear histogram, as given to `lhist(v, min, max, step)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Linear {
    pub min: i64,
    pub max: i64,
    pub step: i64,
    /// Number of buckets, including the below-`min` and at-or-above-`max` ones.
    pub len: usize,
}

impl Linear {
    /// Bounds of bucket `i`: 0 is below `min`, `len - 1` at or above `max`.
    pub fn bounds(&self, i: usize) -> Bounds {
        if i == 0 {
            Bounds::Below { max: self.min.saturating_sub(1) }
        } else if i + 1 >= self.len {
            Bounds::From { min: self.max }
        } else {
            let lo = self.min as i128 + (i as i128 - 1) * self.step as i128;
            Bounds::Between { min: lo, max: lo + self.step as i128 - 1 }
        }
    }

    /// Text label of bucket `i`: `(..., 0)`, `[0, 10)`, `[1K, 2K)`, `[100, ...)`.
    pub fn label(&self, i: usize) -> String {
        match self.bounds(i) {
            Bounds::Below { .. } => format!("(..., {})", linear_label(self.min as i128)),
            Bounds::From { min } => format!("[{}, ...)", linear_label(min as i128)),
            Bounds::Between { min, max } => {
                format!("[{}, {})", linear_label(min), linear_label(max + 1))
            }
        }
    }
}

/// A bucket edge: whole mebibytes as `M`, whole kibibytes as `K`.
fn linear_label(n: i128) -> String {
    const KILO: i128 = 1024;
    const MEGA: i128 = 1024 * 1024;
    if n == 0 {
        "0".to_string()
    } else if n % MEGA == 0 {
        format!("{}M", n / MEGA)
    } else if n % KILO == 0 {
        format!("{}K", n / KILO)
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_labels_use_binary_suffixes() {
        assert_eq!(log2_label(0), "(..., 0)");
        assert_eq!(log2_label(1), "[0]");
        assert_eq!(log2_label(2), "[1]");
        assert_eq!(log2_label(3), "[2, 4)");
        assert_eq!(log2_label(11), "[512, 1K)");
        assert_eq!(log2_label(22), "[1M, 2M)");
        assert_eq!(log2_label(33), "[2G, 4G)");
        assert_eq!(log2_label(42), "[1T, 2T)");
        // The last of our 66 buckets: [2^63, 2^64).
        assert_eq!(log2_label(65), "[8388608T, 16777216T)");
    }

    #[test]
    fn log2_bounds_cover_the_whole_u64_range() {
        assert_eq!(log2_bounds(0), Bounds::Below { max: -1 });
        assert_eq!(log2_bounds(3), Bounds::Between { min: 2, max: 3 });
        assert_eq!(
            log2_bounds(65),
            Bounds::Between { min: 1 << 63, max: u64::MAX as i128 }
        );
    }

    #[test]
    fn bars_truncate_like_single_precision_c() {
        assert_eq!(bar_len(1, 2), 26);
        assert_eq!(bar_len(2, 2), 52);
        assert_eq!(bar_len(0, 2), 0);
        assert_eq!(bar_len(1, 3), 17);
    }

    #[test]
    fn rows_span_first_to_last_nonempty_bucket() {
        assert_eq!(shown_rows(&[0, 0, 3, 0, 1, 0]), Some(2..=4));
        assert_eq!(shown_rows(&[0, 0]), None);
    }

    #[test]
    fn linear_labels() {
        let l = Linear { min: 0, max: 4096, step: 1024, len: 6 };
        assert_eq!(l.label(0), "(..., 0)");
        assert_eq!(l.label(1), "[0, 1K)");
        assert_eq!(l.label(3), "[2K, 3K)");
        assert_eq!(l.label(5), "[4K, ...)");
        let m = Linear { min: 0, max: 3 << 20, step: 1 << 20, len: 5 };
        assert_eq!(m.label(3), "[2M, 3M)");
        assert_eq!(m.label(4), "[3M, ...)");
        assert_eq!(m.bounds(3), Bounds::Between { min: 2 << 20, max: (3 << 20) - 1 });
    }
}
