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
        // One buffer: a million entries made a million Strings, then a joined copy.
        let mut out = String::with_capacity(entries.len() * 32 + 1);
        for (i, e) in entries.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&entry(map, e, div));
        }
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

/// One entry: `@m[k]: v`, or the `@m[k]: ` header and the histogram rows.
fn entry(map: &MapSnapshot, e: &MapEntry, div: u64) -> String {
    let head = format!("{}{}: ", map.name, key_text(e.key.as_ref()));
    match &e.value {
        AggValue::Hist { buckets, .. } => format!("{head}\n{}", log2_rows(buckets, div)),
        AggValue::Lhist { min, max, step, buckets, .. } => {
            let shape = Linear { min: *min, max: *max, step: *step, len: buckets.len() };
            format!("{head}\n{}", linear_rows(&shape, buckets))
        }
        AggValue::Stats { sum, count } => {
            format!("{head}count {count}, average {}, total {sum}", average(*sum, *count))
        }
        AggValue::Tseries { interval_ns, intervals, points } => {
            let rows = crate::tseries::rows(points, last_epoch(map), *intervals);
            format!("{}{}:\n{}", map.name, key_text(e.key.as_ref()), super::tseries::graph(&rows, *interval_ns))
        }
        other => head + &scalar_text(other, div),
    }
}

/// The number (or value) of a one-line entry, divided by `div` where bpftrace divides.
pub(crate) fn scalar_text(v: &AggValue, div: u64) -> String {
    // Signed values divide as signed (C promotes the u32 divisor to i64).
    let sdiv = i64::try_from(div).unwrap_or(i64::MAX);
    match v {
        AggValue::Count(c) => (c / div).to_string(),
        AggValue::Sum(s) | AggValue::Min(s) | AggValue::Max(s) => (s / sdiv).to_string(),
        AggValue::Avg { sum, count } | AggValue::Stats { sum, count } => (average(*sum, *count) / sdiv).to_string(),
        AggValue::Plain(Value::Int(i)) => (i / sdiv).to_string(),
        AggValue::Plain(Value::UInt(u)) => (u / div).to_string(),
        AggValue::Plain(other) => value_text(other),
        // Not one-line values; rendered by `entry`.
        AggValue::Hist { .. } | AggValue::Lhist { .. } | AggValue::Tseries { .. } => String::new(),
    }
}

/// The newest interval any series of `map` holds: every entry is drawn up to it.
pub(crate) fn last_epoch(map: &MapSnapshot) -> u64 {
    let latest = |e: &MapEntry| match &e.value {
        AggValue::Tseries { points, .. } => points.last().map_or(0, |(e, _)| *e),
        _ => 0,
    };
    map.entries.iter().map(latest).max().unwrap_or(0)
}

fn log2_rows(buckets: &[u64], div: u64) -> String {
    let Some(rows) = hist::shown_rows(buckets) else {
        return String::new();
    };
    let max = buckets.iter().copied().max().unwrap_or(0);
    let mut out = String::new();
    for i in rows {
        // bpftrace divides the printed count but scales the bar by the raw one.
        row(&mut out, &hist::log2_label(i), buckets[i] / div, hist::bar_len(buckets[i], max));
    }
    out
}

fn linear_rows(shape: &Linear, buckets: &[u64]) -> String {
    let Some(rows) = hist::shown_rows(buckets) else {
        return String::new();
    };
    let max = buckets.iter().copied().max().unwrap_or(0);
    let mut out = String::new();
    for i in rows {
        // `print(@m, top, div)` does not divide lhist counts in bpftrace.
        row(&mut out, &shape.label(i), buckets[i], hist::bar_len(buckets[i], max));
    }
    out
}

fn row(out: &mut String, label: &str, count: u64, bar: usize) {
    let _ = writeln!(out, "{label:<16}{count:>8} |{:<width$}|", "@".repeat(bar), width = hist::BAR_WIDTH);
}

/// `[k]` or `[k1, k2]`; empty for a scalar map.
pub(crate) fn key_text(key: Option<&Value>) -> String {
    match key {
        None => String::new(),
        Some(k) => format!("[{}]", key_parts(k).join(", ")),
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
    match v {
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Ptr(p) => format!("0x{p:x}"),
        Value::Bool(b) => b.to_string(),
        Value::Str(s) | Value::Probe(s) => s.clone(),
        Value::Inet(addr) => inet_text(addr),
        Value::Buffer(bytes) => flowtrace_stdlib::printf::BufferForm::Escaped.render(bytes),
        Value::Stack { frames, padded } => stack_text(frames, *padded, 8),
        Value::Tuple(items) => {
            let parts: Vec<String> = items.iter().map(value_text).collect();
            format!("({})", parts.join(", "))
        }
        // bpftrace: arrays without spaces, structs with them.
        Value::Array(items) => format!("[{}]", items.iter().map(value_text).collect::<Vec<_>>().join(",")),
        Value::Record(fields) if fields.is_empty() => "{}".to_string(),
        Value::Record(fields) => {
            let parts: Vec<String> = fields.iter().map(|(name, v)| format!(".{name} = {}", value_text(v))).collect();
            format!("{{ {} }}", parts.join(", "))
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
}
