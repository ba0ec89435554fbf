//! bpftrace's `-f json` output: one object per line,
//! `{"type": "map", "data": {"@m": {"k1,k2": 3}}}`. Types: `map`, `hist`
//! (hist and lhist), `stats` (avg and stats), `value`, `printf`, `time`,
//! `attached_probes`, `lost_events`; ours: `map_full`.
//!
//! Differences from bpftrace 0.17, all deliberate:
//! - no two empty lines before the final map dump (they break line-by-line
//!   JSON readers);
//! - log2 buckets above 2^31 get their real bounds (0.17 overflows a C `int`
//!   and prints `{"min": -2147483648, "max": 0}` for [2G, 4G)).

use std::fmt::Write as _;

use super::hist::{self, Bounds, Linear};
use super::order::{self, average, Shape};
use super::text::{key_parts, scalar_text, value_text};
use super::Formatter;
use crate::values::{AggValue, MapEntry, MapSnapshot, Value};

/// The JSON formatter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Json;

impl Formatter for Json {
    fn map(&self, map: &MapSnapshot, top: u64, div: u64) -> String {
        let entries = order::ordered(map, top);
        if entries.is_empty() {
            return String::new();
        }
        let kind = match order::shape_of(map) {
            Shape::Hist if map.kind == crate::values::ValueKind::Tseries => "tseries",
            Shape::Lines => "map",
            Shape::Hist => "hist",
            Shape::Avg | Shape::Stats => "stats",
        };
        let div = div.max(1);
        let keyed = entries.iter().any(|e| e.key.is_some());
        let last = super::text::last_epoch(map);
        let items: Vec<String> = entries.iter().map(|e| item(e, div, last)).collect();
        let body = if keyed { format!("{{{}}}", items.join(", ")) } else { items.join(", ") };
        format!("{{\"type\": \"{kind}\", \"data\": {{{}: {body}}}}}\n", quote(&map.name))
    }

    fn value(&self, v: &Value) -> String {
        format!("{{\"type\": \"value\", \"data\": {}}}\n", value_json(v))
    }

    fn printf(&self, text: &str) -> String {
        message("printf", text)
    }

    fn time(&self, text: &str) -> String {
        message("time", text)
    }

    fn attached_probes(&self, n: u64) -> String {
        format!("{{\"type\": \"attached_probes\", \"data\": {{\"probes\": {n}}}}}\n")
    }

    fn lost_events(&self, n: u64) -> String {
        format!("{{\"type\": \"lost_events\", \"data\": {{\"events\": {n}}}}}\n")
    }

    fn stacks_lost(&self, n: u64) -> String {
        format!("{{\"type\": \"stacks_lost\", \"data\": {{\"stacks\": {n}}}}}\n")
    }

    fn map_full(&self, map: &MapSnapshot) -> String {
        format!(
            "{{\"type\": \"map_full\", \"data\": {{{}: {{\"dropped\": {}, \"max_entries\": {}}}}}}}\n",
            quote(&map.name),
            map.dropped_updates,
            map.max_entries
        )
    }

    fn map_evicted(&self, map: &MapSnapshot) -> String {
        format!(
            "{{\"type\": \"map_evicted\", \"data\": {{{}: {{\"evicted\": {}, \"max_entries\": {}}}}}}}\n",
            quote(&map.name),
            map.evicted,
            map.max_entries
        )
    }

    fn exit_banner(&self) -> String {
        String::new()
    }
}

fn message(kind: &str, text: &str) -> String {
    format!("{{\"type\": \"{kind}\", \"data\": {}}}\n", quote(text))
}

/// `"k1,k2": value`, or just the value for a scalar map.
fn item(e: &MapEntry, div: u64, last_epoch: u64) -> String {
    let value = match &e.value {
        AggValue::Tseries { interval_ns, intervals, points } => {
            tseries_json(&crate::tseries::rows(points, last_epoch, *intervals), *interval_ns)
        }
        AggValue::Hist { buckets, .. } => log2_json(buckets, div),
        AggValue::Lhist { min, max, step, buckets, .. } => {
            linear_json(&Linear { min: *min, max: *max, step: *step, len: buckets.len() }, buckets)
        }
        AggValue::Stats { sum, count } => format!(
            "{{\"count\": {count}, \"average\": {}, \"total\": {sum}}}",
            average(*sum, *count)
        ),
        AggValue::Plain(v) if !is_integer(v) => value_json(v),
        other => scalar_text(other, div),
    };
    match &e.key {
        // bpftrace joins the keys' text with "," into one JSON string.
        Some(k) => format!("{}: {value}", quote(&key_parts(k).join(","))),
        None => value,
    }
}

/// bpftrace's shape: `[{"interval_start": "2025-01-01 10:00:00.500000000", "value": 9}, …]`,
/// `null` for an interval without a value.
fn tseries_json(rows: &[(u64, Option<i64>)], interval_ns: u64) -> String {
    let items: Vec<String> = rows
        .iter()
        .map(|(epoch, v)| {
            let ns = epoch.saturating_mul(interval_ns);
            let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(ns / 1_000_000_000);
            let start = format!("{}.{:09}", super::time::format_local_time("%Y-%m-%d %H:%M:%S", when), ns % 1_000_000_000);
            let value = v.map_or("null".to_string(), |v| v.to_string());
            format!("{{\"interval_start\": {}, \"value\": {value}}}", quote(&start))
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn is_integer(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::UInt(_))
}

fn log2_json(buckets: &[u64], div: u64) -> String {
    let Some(rows) = hist::shown_rows(buckets) else {
        return "[]".to_string();
    };
    let items: Vec<String> = rows.map(|i| bucket_json(hist::log2_bounds(i), buckets[i] / div)).collect();
    format!("[{}]", items.join(", "))
}

fn linear_json(shape: &Linear, buckets: &[u64]) -> String {
    let Some(rows) = hist::shown_rows(buckets) else {
        return "[]".to_string();
    };
    let items: Vec<String> = rows.map(|i| bucket_json(shape.bounds(i), buckets[i])).collect();
    format!("[{}]", items.join(", "))
}

fn bucket_json(bounds: Bounds, count: u64) -> String {
    match bounds {
        Bounds::Below { max } => format!("{{\"max\": {max}, \"count\": {count}}}"),
        Bounds::Between { min, max } => format!("{{\"min\": {min}, \"max\": {max}, \"count\": {count}}}"),
        Bounds::From { min } => format!("{{\"min\": {min}, \"count\": {count}}}"),
    }
}

/// A value in JSON: numbers bare, text quoted, tuples as arrays.
pub fn value_json(v: &Value) -> String {
    match v {
        Value::Int(_) | Value::UInt(_) | Value::Bool(_) => value_text(v),
        // A number in JSON, as the other integers.
        Value::Ptr(p) => p.to_string(),
        Value::Str(_) | Value::Probe(_) | Value::Inet(_) | Value::Buffer(_) | Value::Stack { .. } => quote(&value_text(v)),
        // bpftrace writes tuples without spaces: [1,"x"].
        Value::Tuple(items) | Value::Array(items) => format!("[{}]", items.iter().map(value_json).collect::<Vec<_>>().join(",")),
        Value::Record(fields) => {
            let parts: Vec<String> = fields.iter().map(|(name, v)| format!("{}: {}", quote(name), value_json(v))).collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

/// `s` as a JSON string literal, escaped the way bpftrace escapes.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_escapes_controls_and_quotes() {
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote("x\ty\n\r\u{1}"), r#""x\ty\n\r\u0001""#);
        assert_eq!(quote("ü"), "\"ü\"");
    }
}
