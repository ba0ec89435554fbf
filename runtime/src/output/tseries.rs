//! `tseries()` as bpftrace draws it: a 53-column plot between the smallest
//! and largest value, one row per interval stamped with its local start
//! time, a `.` column at zero when the range spans it, `-` for an interval
//! without a value.

use std::fmt::Write as _;

const GRAPH_WIDTH: usize = 53;
/// Where the minimum's label ends and the maximum's begins.
const PADDING: usize = 21;

/// The plot of `rows` (epochs of `interval_ns`, values), each line ending
/// in a newline; `<no data>` without a newline when there is none.
pub fn graph(rows: &[(u64, Option<i64>)], interval_ns: u64) -> String {
    let values: Vec<i64> = rows.iter().filter_map(|(_, v)| *v).collect();
    let (Some(&lo), Some(&hi)) = (values.iter().min(), values.iter().max()) else {
        return "<no data>".to_string();
    };
    // A flat series still gets a range, one step either side.
    let (lo, hi) = if lo == hi { (lo.saturating_sub(1), hi.saturating_add(1)) } else { (lo, hi) };
    let (unit, digits) = unit_of(interval_ns);
    let time_fmt = if digits == 0 { "hh:mm:ss".to_string() } else { format!("hh:mm:ss.{unit}") };
    // bpftrace pads by bytes, and sizes the column by the unit's digits.
    let time_size = 8 + if digits == 0 { 0 } else { 1 + digits };
    let pad = |n: usize| " ".repeat(n);
    let labels = |out: &mut String, indent: usize| {
        let _ = writeln!(out, "{}{:<PADDING$}{:>w$}", pad(indent), lo, hi, w = GRAPH_WIDTH - PADDING);
    };
    let mut out = String::new();
    labels(&mut out, time_size + 1);
    let _ = writeln!(out, "{}{}|{}|", time_fmt, pad((time_size + 1).saturating_sub(time_fmt.len())), "_".repeat(GRAPH_WIDTH - 2));
    let span = (hi as i128 - lo as i128) as f32;
    let zero = if lo < 0 && hi > 0 { (GRAPH_WIDTH as f32 * (-(lo as i128)) as f32 / span) as usize } else { 0 };
    for &(epoch, value) in rows {
        let mut line = vec![b' '; GRAPH_WIDTH];
        line[0] = b'|';
        line[GRAPH_WIDTH - 1] = b'|';
        if zero > 0 {
            line[zero.min(GRAPH_WIDTH - 1)] = b'.';
        }
        let stamp = timestamp(epoch.saturating_mul(interval_ns), digits);
        let tail = match value {
            Some(v) => {
                let at = ((GRAPH_WIDTH - 1) as f32 * (v as i128 - lo as i128) as f32 / span) as usize;
                line[at.min(GRAPH_WIDTH - 1)] = b'*';
                v.to_string()
            }
            None => "-".to_string(),
        };
        let _ = writeln!(out, "{stamp} {} {tail}", String::from_utf8_lossy(&line));
    }
    let mut bottom = "_".repeat(GRAPH_WIDTH);
    bottom.replace_range(0..1, "v");
    bottom.replace_range(GRAPH_WIDTH - 1.., "v");
    let _ = writeln!(out, "{} {bottom}", pad(time_size));
    labels(&mut out, time_size + 1);
    out
}

/// The unit an interval is shown in and its digits after the seconds.
fn unit_of(interval_ns: u64) -> (&'static str, usize) {
    match interval_ns {
        n if n >= 1_000_000_000 => ("s", 0),
        n if n >= 1_000_000 => ("ms", 3),
        n if n >= 1_000 => ("μs", 6),
        _ => ("ns", 9),
    }
}

/// `%H:%M:%S` of wall-clock `ns` in local time, plus `digits` of fraction.
fn timestamp(ns: u64, digits: usize) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let mut text = super::time::format_local_time("%H:%M:%S", std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs as u64));
    if digits > 0 {
        let frac = ns % 1_000_000_000 / 10u64.pow(9 - digits as u32);
        let _ = write!(text, ".{frac:0digits$}");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_series_is_centered_with_one_step_either_side() {
        // bpftrace's tseries.txt: five intervals of 100 ms, all 9.
        let rows: Vec<(u64, Option<i64>)> = (5..10).map(|e| (e, Some(9))).collect();
        let g = graph(&rows, 100_000_000);
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(lines[0], format!("{}8{}10", " ".repeat(13), " ".repeat(50)));
        assert_eq!(lines[1], format!("hh:mm:ss.ms  |{}|", "_".repeat(51)));
        assert!(lines[2].ends_with(".500 |                         *                         | 9"), "{}", lines[2]);
        assert_eq!(lines[7], format!("{}v{}v", " ".repeat(13), "_".repeat(51)));
        assert_eq!(lines.len(), 9);
    }

    #[test]
    fn zero_line_gaps_and_extremes() {
        let rows = [(1, Some(-5)), (2, None), (3, Some(0)), (4, Some(5))];
        let g = graph(&rows, 1_000_000_000);
        let lines: Vec<&str> = g.lines().collect();
        assert_eq!(lines[1], format!("hh:mm:ss |{}|", "_".repeat(51)));
        assert!(lines[2].ends_with(" *                         .                         | -5"), "{}", lines[2]);
        assert!(lines[3].ends_with(" |                         .                         | -"), "{}", lines[3]);
        assert!(lines[4].ends_with(" |                         *                         | 0"), "{}", lines[4]);
        assert!(lines[5].ends_with(" |                         .                         * 5"), "{}", lines[5]);
        assert_eq!(graph(&[(1, None)], 1), "<no data>");
    }
}
