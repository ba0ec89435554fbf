//! bpftrace's human-readable output: `@m[k1, k2]: value` lines, histograms
//! with `|@@@@ |` bars, `count 2, average 3, total 7` for stats.
//!
//! Layout facts (bpftrace 0.17, checked on this host):
//! - plain maps end with their last line: no blank line after them;
//! - histogram, avg and stats maps end with a blank line, and histograms of
//!   different keys are separated by one;
//! - an empty map prints a single empty line.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv6Addr};

use super::hist::{self, Linear};
use super::order::{self, average, Shape};
use super::Formatter;
use crate::values::{AggValue, MapEntry, MapSnapshot, Value, ValueKind};

/// The text formatter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Text;

impl Formatter for Text {
    fn map(&self, map: &MapSnapshot, top: u64, div: u64) -> String {
        let div = div.max(1);
        let entries = order::ordered(map, top);
        let last = if map.kind == ValueKind::Tseries { last_epoch(map) } else { 0 };
        let mut out = if entries.len() >= PARALLEL_ENTRIES {
            // Formatting is pure: two threads each write half, joined in order.
            let (a, b) = entries.split_at(entries.len() / 2);
            let (mut a, b) = std::thread::scope(|scope| {
                let second = scope.spawn(|| entries_text(map, b, div, last));
                (entries_text(map, a, div, last), second.join())
            });
            match b {
                Ok(b) => {
                    a.push('\n');
                    a.push_str(&b);
                    a
                }
                Err(_) => entries_text(map, &entries, div, last),
            }
        } else {
            entries_text(map, &entries, div, last)
        };
        out.push('\n');
        // bpftrace ends avg/stats maps with a blank line, empty ones too.
        if matches!(order::shape_of(map), Shape::Avg | Shape::Stats)
            || (entries.is_empty() && matches!(map.kind, ValueKind::Avg | ValueKind::Stats))
        {
            out.push('\n');
        }
        out
    }

    fn value(&self, v: &Value) -> String {
        format!("{}\n", value_text(v))
    }

    fn printf(&self, text: &str) -> String {
        text.to_string()
    }

    fn time(&self, text: &str) -> String {
        text.to_string()
    }

    fn attached_probes(&self, n: u64) -> String {
        let plural = if n == 1 { "" } else { "s" };
        format!("Attaching {n} probe{plural}...\n")
    }

    fn lost_events(&self, n: u64) -> String {
        format!("Lost {n} events\n")
    }

    fn map_full(&self, map: &MapSnapshot) -> String {
        format!(
            "{}: {} updates dropped: map full ({} keys); raise --map-keys\n",
            map.name, map.dropped_updates, map.max_entries
        )
    }

    fn stacks_lost(&self, n: u64) -> String {
        format!("{n} stacks not recorded (printed empty): stack map full or a hash collision; raise --map-keys\n")
    }

    fn map_evicted(&self, map: &MapSnapshot) -> String {
        format!("{}: {} entries evicted (LRU, {} keys); raise the lruhash size\n", map.name, map.evicted, map.max_entries)
    }

    fn exit_banner(&self) -> String {
        // bpftrace separates the run's output from the final map dump this way.
        "\n\n".to_string()
    }
}

/// From this many entries, a map's text is written by two threads.
const PARALLEL_ENTRIES: usize = 200_000;

/// `entries`, separated by newlines (none after the last). Everything is
/// written straight into one buffer sized for one-line entries: a String
/// per entry (and per key part) cost a million allocations for a million
/// entries.
fn entries_text(map: &MapSnapshot, entries: &[&MapEntry], div: u64, last: u64) -> String {
    let mut out = String::with_capacity(entries.len() * (map.name.len() + 28) + 2);
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        write_entry(&mut out, map, e, div, last);
    }
    out
}

/// One entry: `@m[k]: v`, or the `@m[k]: ` header and the histogram rows.
/// `last` is [`last_epoch`] of the map (for tseries).
fn write_entry(out: &mut String, map: &MapSnapshot, e: &MapEntry, div: u64, last: u64) {
    out.push_str(&map.name);
    write_key(out, e.key.as_ref());
    match &e.value {
        AggValue::Hist { buckets, .. } => {
            out.push_str(": \n");
            log2_rows(out, buckets, div);
        }
        AggValue::Lhist { min, max, step, buckets, .. } => {
            out.push_str(": \n");
            linear_rows(out, &Linear { min: *min, max: *max, step: *step, len: buckets.len() }, buckets);
        }
        AggValue::Stats { sum, count } => {
            let _ = write!(out, ": count {count}, average {}, total {sum}", average(*sum, *count));
        }
        AggValue::Tseries { interval_ns, intervals, points } => {
            let rows = crate::tseries::rows(points, last, *intervals);
            out.push_str(":\n");
            out.push_str(&super::tseries::graph(&rows, *interval_ns));
        }
        other => {
            out.push_str(": ");
            write_scalar(out, other, div);
        }
    }
}

/// The number (or value) of a one-line entry, divided by `div` where bpftrace divides.
pub(crate) fn scalar_text(v: &AggValue, div: u64) -> String {
    let mut out = String::new();
    write_scalar(&mut out, v, div);
    out
}

fn write_scalar(out: &mut String, v: &AggValue, div: u64) {
    // Signed values divide as signed (C promotes the u32 divisor to i64).
    let sdiv = i64::try_from(div).unwrap_or(i64::MAX);
    match v {
        AggValue::Count(c) => push_u64(out, c / div),
        AggValue::Sum(s) | AggValue::Min(s) | AggValue::Max(s) => push_i64(out, s / sdiv),
        AggValue::Avg { sum, count } | AggValue::Stats { sum, count } => push_i64(out, average(*sum, *count) / sdiv),
        AggValue::Plain(Value::Int(i)) => push_i64(out, i / sdiv),
        AggValue::Plain(Value::UInt(u)) => push_u64(out, u / div),
        AggValue::Plain(other) => write_value(out, other),
        // Not one-line values; rendered by `write_entry`.
        AggValue::Hist { .. } | AggValue::Lhist { .. } | AggValue::Tseries { .. } => {}
    }
}

/// Decimal digits without going through `fmt` (a third of the time of
/// printing a big map went to formatting machinery).
fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // ASCII digits: always UTF-8, checked in a few instructions.
    out.push_str(std::str::from_utf8(&digits[at..]).unwrap_or_default());
}

fn push_i64(out: &mut String, n: i64) {
    if n < 0 {
        out.push('-');
    }
    push_u64(out, n.unsigned_abs());
}

/// The newest interval any series of `map` holds: every entry is drawn up to it.
pub(crate) fn last_epoch(map: &MapSnapshot) -> u64 {
    let latest = |e: &MapEntry| match &e.value {
        AggValue::Tseries { points, .. } => points.last().map_or(0, |(e, _)| *e),
        _ => 0,
    };
    map.entries.iter().map(latest).max().unwrap_or(0)
}

fn log2_rows(out: &mut String, buckets: &[u64], div: u64) {
    let Some(rows) = hist::shown_rows(buckets) else {
        return;
    };
    let max = buckets.iter().copied().max().unwrap_or(0);
    for i in rows {
        // bpftrace divides the printed count but scales the bar by the raw one.
        row(out, &hist::log2_label(i), buckets[i] / div, hist::bar_len(buckets[i], max));
    }
}

fn linear_rows(out: &mut String, shape: &Linear, buckets: &[u64]) {
    let Some(rows) = hist::shown_rows(buckets) else {
        return;
    };
    let max = buckets.iter().copied().max().unwrap_or(0);
    for i in rows {
        // `print(@m, top, div)` does not divide lhist counts in bpftrace.
        row(out, &shape.label(i), buckets[i], hist::bar_len(buckets[i], max));
    }
}

fn row(out: &mut String, label: &str, count: u64, bar: usize) {
    let _ = write!(out, "{label:<16}{count:>8} |");
    out.extend(std::iter::repeat_n('@', bar));
    out.extend(std::iter::repeat_n(' ', hist::BAR_WIDTH.saturating_sub(bar)));
    out.push_str("|\n");
}

/// `[k]` or `[k1, k2]`; nothing for a scalar map.
fn write_key(out: &mut String, key: Option<&Value>) {
    let Some(key) = key else { return };
    out.push('[');
    match key {
        Value::Tuple(parts) => {
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_key_part(out, part);
            }
        }
        single => write_key_part(out, single),
    }
    out.push(']');
}

/// One key expression: a stack is indented by 4 in a key (8 elsewhere), as
/// bpftrace prints them.
fn write_key_part(out: &mut String, part: &Value) {
    match part {
        Value::Stack { frames, padded } => out.push_str(&stack_text(frames, *padded, 4)),
        other => write_value(out, other),
    }
}

/// Values separated by `, `.
fn write_joined(out: &mut String, items: &[Value]) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_value(out, item);
    }
}

/// The text of each key expression (a tuple key is several keys).
pub(crate) fn key_parts(key: &Value) -> Vec<String> {
    match key {
        Value::Tuple(parts) => parts.iter().map(key_part).collect(),
        single => vec![key_part(single)],
    }
}

/// A key expression's text: a stack is indented by 4 in a key, by 8
/// elsewhere, as bpftrace prints them.
fn key_part(v: &Value) -> String {
    match v {
        Value::Stack { frames, padded } => stack_text(frames, *padded, 4),
        other => value_text(other),
    }
}

/// A value as text: strings unquoted, addresses as `inet_ntop` writes them,
/// tuples as `(1, x)`.
pub fn value_text(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Int(i) => push_i64(out, *i),
        Value::UInt(u) => push_u64(out, *u),
        Value::Ptr(p) => {
            let _ = write!(out, "0x{p:x}");
        }
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Str(s) | Value::Probe(s) => out.push_str(s),
        Value::Inet(addr) => out.push_str(&inet_text(addr)),
        Value::Buffer(bytes) => out.push_str(&flowtrace_stdlib::printf::BufferForm::Escaped.render(bytes)),
        Value::Stack { frames, padded } => out.push_str(&stack_text(frames, *padded, 8)),
        Value::Tuple(items) => {
            out.push('(');
            write_joined(out, items);
            out.push(')');
        }
        // bpftrace: arrays without spaces, structs with them.
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Record(fields) if fields.is_empty() => out.push_str("{}"),
        Value::Record(fields) => {
            out.push_str("{ ");
            for (i, (name, v)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push('.');
                out.push_str(name);
                out.push_str(" = ");
                write_value(out, v);
            }
            out.push_str(" }");
        }
    }
}

/// A stack as bpftrace prints one: a newline, then each frame on a line of
/// its own (bpftrace-mode frames indented by `indent`); an empty stack (one
/// the kernel did not record) prints as nothing at all.
pub fn stack_text(frames: &[String], padded: bool, indent: usize) -> String {
    if frames.is_empty() {
        return String::new();
    }
    let pad = if padded { " ".repeat(indent) } else { String::new() };
    let mut out = String::from("\n");
    for frame in frames {
        let _ = writeln!(out, "{pad}{frame}");
    }
    out
}

/// An address as glibc's `inet_ntop` (which bpftrace uses) writes it. Unlike
/// Rust's `Display`, it shows IPv4-compatible addresses with a dotted tail
/// (`::1.2.3.4`).
pub fn inet_text(addr: &IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => ipv6_text(v6),
    }
}

fn ipv6_text(addr: &Ipv6Addr) -> String {
    let words = addr.segments();
    let run = longest_zero_run(&words);
    let mut out = String::new();
    for (i, word) in words.iter().enumerate() {
        if let Some((base, _)) = run.filter(|(b, l)| (*b..b + l).contains(&i)) {
            // The whole run becomes one `::`; its first word writes the second colon.
            if i == base {
                out.push(':');
            }
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        // An embedded IPv4 address: ::a.b.c.d or ::ffff:a.b.c.d.
        let v4_tail = matches!(run, Some((0, 6))) || (run == Some((0, 5)) && words[5] == 0xffff);
        if i == 6 && v4_tail {
            let o = addr.octets();
            let _ = write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            return out;
        }
        let _ = write!(out, "{word:x}");
    }
    if matches!(run, Some((base, len)) if base + len == 8) {
        out.push(':');
    }
    out
}

/// Start and length of the first longest run of at least two zero words.
fn longest_zero_run(words: &[u16; 8]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut i = 0;
    while i < 8 {
        let len = words[i..].iter().take_while(|&&w| w == 0).count();
        if len >= 2 && best.is_none_or(|(_, l)| len > l) {
            best = Some((i, len));
        }
        i += len.max(1);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6(s: &str) -> String {
        inet_text(&IpAddr::V6(s.parse().unwrap()))
    }

    #[test]
    fn ipv6_matches_glibc_inet_ntop() {
        // Reference: bpftrace -e 'BEGIN { printf("%s ...", ntop(pton("::2")), …) }'
        assert_eq!(v6("::2"), "::2");
        assert_eq!(v6("::102:304"), "::1.2.3.4");
        assert_eq!(v6("::ffff:102:304"), "::ffff:1.2.3.4");
        assert_eq!(v6("1:0:2::3"), "1:0:2::3");
        assert_eq!(v6("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
        assert_eq!(v6("::"), "::");
        assert_eq!(v6("::1"), "::1");
        assert_eq!(v6("fe80::1"), "fe80::1");
        assert_eq!(v6("2001:db8::ff00:42:8329"), "2001:db8::ff00:42:8329");
        assert_eq!(v6("1::"), "1::");
        assert_eq!(v6("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8");
    }

    /// A map big enough to be written by two threads reads as one thread writes it.
    #[test]
    fn two_threads_write_what_one_writes() {
        use crate::values::{MapEntry, MapSnapshot};
        let entries = (0..PARALLEL_ENTRIES as u64 + 11)
            .map(|i| MapEntry { key: Some(Value::UInt(i * 7 % 1000)), value: AggValue::Count(i) })
            .collect();
        let map = MapSnapshot {
            name: "@m".into(),
            entries,
            dropped_updates: 0,
            evicted: 0,
            max_entries: 0,
            kind: ValueKind::Count,
            keyless: false,
        };
        let ordered = order::ordered(&map, 0);
        let one = entries_text(&map, &ordered, 1, 0) + "\n";
        assert_eq!(Text.map(&map, 0, 0), one);
        assert!(one.starts_with("@m[0]: 0\n@m[7]: 1\n") && one.ends_with("]: 200010\n"));
        assert_eq!(one.lines().count(), PARALLEL_ENTRIES + 11);
    }
}
