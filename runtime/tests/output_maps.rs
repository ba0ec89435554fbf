//! Map output beyond what bpftrace 0.17 itself can show: our map-full notice,
//! log2 buckets above 2^32 (0.17 folds them into [2G, 4G)), deterministic
//! tie order, and edge cases (all-zero histograms, huge divisors).

use flowtrace_runtime::output::{Formatter, Json, OutputFormat, Printer, Text};
use flowtrace_runtime::values::{ValueKind, AggValue, MapEntry, MapSnapshot, Value};

fn map(name: &str, entries: Vec<(Option<Value>, AggValue)>) -> MapSnapshot {
    MapSnapshot {
        name: name.to_string(),
        entries: entries.into_iter().map(|(key, value)| MapEntry { key, value }).collect(),
        dropped_updates: 0,
        evicted: 0,
        max_entries: 4096,
        kind: ValueKind::Plain,
        keyless: false,
    }
}

fn key(i: i64) -> Option<Value> {
    Some(Value::Int(i))
}

fn printed(format: OutputFormat, f: impl FnOnce(&mut Printer<&mut Vec<u8>>)) -> String {
    let mut buf = Vec::new();
    f(&mut Printer::new(&mut buf, format));
    String::from_utf8(buf).unwrap()
}

#[test]
fn map_full_notice_follows_the_map() {
    let mut m = map("@flows", vec![(key(1), AggValue::Count(3))]);
    m.dropped_updates = 1234;
    let text = printed(OutputFormat::Text, |p| p.map(&m, 0, 0).unwrap());
    assert_eq!(text, "@flows[1]: 3\n@flows: 1234 updates dropped: map full (4096 keys); raise --map-keys\n");
    let json = printed(OutputFormat::Json, |p| p.exit_maps(std::slice::from_ref(&m)).unwrap());
    assert_eq!(
        json,
        "{\"type\": \"map\", \"data\": {\"@flows\": {\"1\": 3}}}\n\
         {\"type\": \"map_full\", \"data\": {\"@flows\": {\"dropped\": 1234, \"max_entries\": 4096}}}\n"
    );
    // No notice without drops.
    m.dropped_updates = 0;
    assert_eq!(printed(OutputFormat::Text, |p| p.map(&m, 0, 0).unwrap()), "@flows[1]: 3\n");
}

#[test]
fn lru_eviction_notice_follows_the_map() {
    let mut m = map("@flows", vec![(key(1), AggValue::Count(3))]);
    m.evicted = 1234;
    let text = printed(OutputFormat::Text, |p| p.map(&m, 0, 0).unwrap());
    assert_eq!(text, "@flows[1]: 3\n@flows: 1234 entries evicted (LRU, 4096 keys); raise the lruhash size\n");
    let json = printed(OutputFormat::Json, |p| p.exit_maps(std::slice::from_ref(&m)).unwrap());
    assert_eq!(
        json,
        "{\"type\": \"map\", \"data\": {\"@flows\": {\"1\": 3}}}\n\
         {\"type\": \"map_evicted\", \"data\": {\"@flows\": {\"evicted\": 1234, \"max_entries\": 4096}}}\n"
    );
    m.evicted = 0;
    assert_eq!(printed(OutputFormat::Text, |p| p.map(&m, 0, 0).unwrap()), "@flows[1]: 3\n");
}

#[test]
fn log2_buckets_beyond_four_gigabytes() {
    let mut buckets = vec![0u64; 66];
    buckets[2 + 32] = 1; // [4G, 8G)
    buckets[2 + 40] = 2; // [1T, 2T)
    let m = map("@bytes", vec![(None, AggValue::Hist { buckets, sum: 0 })]);
    let text = Text.map(&m, 0, 0);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 9 + 1);
    assert_eq!(lines[0], "@bytes: ");
    assert_eq!(lines[1], format!("{:<16}{:>8} |{:<52}|", "[4G, 8G)", 1, "@".repeat(26)));
    assert_eq!(lines[9], format!("{:<16}{:>8} |{}|", "[1T, 2T)", 2, "@".repeat(52)));
    assert_eq!(lines[10], "");
    let json = Json.map(&m, 0, 0);
    assert!(json.starts_with("{\"type\": \"hist\", \"data\": {\"@bytes\": [{\"min\": 4294967296, \"max\": 8589934591, \"count\": 1}, "));
    assert!(json.ends_with("{\"min\": 1099511627776, \"max\": 2199023255551, \"count\": 2}]}}\n"));
}

#[test]
fn ties_are_broken_by_key() {
    let m = map(
        "@c",
        vec![
            (Some(Value::Str("b".into())), AggValue::Count(1)),
            (Some(Value::Str("c".into())), AggValue::Count(1)),
            (Some(Value::Str("a".into())), AggValue::Count(1)),
            (Some(Value::Str("z".into())), AggValue::Count(0)),
        ],
    );
    assert_eq!(Text.map(&m, 0, 0), "@c[z]: 0\n@c[a]: 1\n@c[b]: 1\n@c[c]: 1\n");
}

#[test]
fn top_keeps_the_largest_and_ignores_stats() {
    let counts = map("@c", (1..=5).map(|i| (key(i), AggValue::Count(10 * i as u64))).collect());
    assert_eq!(Text.map(&counts, 2, 0), "@c[4]: 40\n@c[5]: 50\n");
    // bpftrace 0.17: "print()'s top and div arguments are ignored when used on stats() maps".
    let stats = map("@s", (1..=3).map(|i| (key(i), AggValue::Stats { sum: i, count: 1 })).collect());
    assert_eq!(Text.map(&stats, 1, 2).lines().count(), 3 + 1);
    assert!(Text.map(&stats, 1, 2).contains("@s[1]: count 1, average 1, total 1\n"));
}

#[test]
fn division_truncates_toward_zero() {
    let m = map(
        "@s",
        vec![(key(1), AggValue::Sum(-7)), (key(2), AggValue::Min(7)), (key(3), AggValue::Plain(Value::UInt(9)))],
    );
    assert_eq!(Text.map(&m, 0, 2), "@s[1]: -3\n@s[2]: 3\n@s[3]: 4\n");
    // A divisor beyond i64 does not overflow.
    assert_eq!(Text.map(&m, 0, u64::MAX), "@s[1]: 0\n@s[2]: 0\n@s[3]: 0\n");
}

#[test]
fn all_zero_histogram_prints_only_its_header() {
    let m = map("@h", vec![(key(1), AggValue::Hist { buckets: vec![0; 66], sum: 0 })]);
    assert_eq!(Text.map(&m, 0, 0), "@h[1]: \n\n");
    assert_eq!(Json.map(&m, 0, 0), "{\"type\": \"hist\", \"data\": {\"@h\": {\"1\": []}}}\n");
}

#[test]
fn exit_maps_are_sorted_by_name() {
    let maps = vec![
        map("@z", vec![(None, AggValue::Count(1))]),
        map("@", vec![(None, AggValue::Count(2))]),
        map("@a", vec![(None, AggValue::Count(3))]),
    ];
    let text = printed(OutputFormat::Text, |p| p.exit_maps(&maps).unwrap());
    assert_eq!(text, "\n\n@: 2\n@a: 3\n@z: 1\n");
}

#[test]
fn bools_and_nested_tuples() {
    let m = map(
        "@b",
        vec![(Some(Value::Tuple(vec![Value::Bool(true), Value::UInt(7)])), AggValue::Plain(Value::Bool(false)))],
    );
    assert_eq!(Text.map(&m, 0, 0), "@b[true, 7]: false\n");
    assert_eq!(Json.map(&m, 0, 0), "{\"type\": \"map\", \"data\": {\"@b\": {\"true,7\": false}}}\n");
    let t = Value::Tuple(vec![Value::Int(1), Value::Tuple(vec![Value::Str("a".into()), Value::Int(-2)])]);
    assert_eq!(Text.value(&t), "(1, (a, -2))\n");
    assert_eq!(Json.value(&t), "{\"type\": \"value\", \"data\": [1,[\"a\",-2]]}\n");
}

#[test]
fn events_and_messages() {
    assert_eq!(Text.attached_probes(3), "Attaching 3 probes...\n");
    assert_eq!(Text.lost_events(12), "Lost 12 events\n");
    assert_eq!(Json.lost_events(12), "{\"type\": \"lost_events\", \"data\": {\"events\": 12}}\n");
    assert_eq!(Json.time("01:19:00\n"), "{\"type\": \"time\", \"data\": \"01:19:00\\n\"}\n");
    let now = printed(OutputFormat::Text, |p| p.time("%H:%M:%S\n").unwrap());
    let b = now.as_bytes();
    assert_eq!((b.len(), b[2], b[5], b[8]), (9, b':', b':', b'\n'), "{now:?}");
    assert_eq!("json".parse::<OutputFormat>(), Ok(OutputFormat::Json));
    assert!("yaml".parse::<OutputFormat>().is_err());
}

/// Captured from bpftrace 0.17 on this host:
/// `bpftrace -e 'BEGIN { exit(); } tracepoint:tcp:tcp_retransmit_skb { @r = sum(1); @q[1] = count(); @s = stats(2); @c = count(); }'`
/// prints the banner, `@c: 0`, one blank line for each empty map and two for the empty stats map;
/// with `-f json` only `{"type": "map", "data": {"@c": 0}}`.
#[test]
fn empty_maps_at_exit_print_as_bpftrace_prints_them() {
    let empty = |name: &str, kind: ValueKind, keyless: bool| MapSnapshot { kind, keyless, ..map(name, vec![]) };
    let maps = [
        empty("@c", ValueKind::Count, true),
        empty("@q", ValueKind::Count, false),
        empty("@r", ValueKind::Sum, true),
        empty("@s", ValueKind::Stats, true),
    ];
    assert_eq!(printed(OutputFormat::Text, |p| p.exit_maps(&maps).unwrap()), "\n\n@c: 0\n\n\n\n\n");
    assert_eq!(printed(OutputFormat::Json, |p| p.exit_maps(&maps).unwrap()), "{\"type\": \"map\", \"data\": {\"@c\": 0}}\n");
}
