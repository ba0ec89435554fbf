//! Map snapshots → metric families: values as the map printer shows them
//! become label values, aggregations become counters, gauges, histograms.
//! Pure: snapshots and plans in, families out.

use super::expose::{Family, FamilyType, Number, Sample};
use super::plan::{MapPlan, MetricKind};
use crate::output::hist::{log2_bounds, Bounds, Linear};
use crate::output::order::average;
use crate::output::text::{key_parts, value_text};
use crate::values::{AggValue, MapSnapshot, Value};
use std::collections::HashMap;

/// One map as a family, keeping the `max_series` largest entries; returns
/// how many entries (after merging) were left out.
pub fn map_family(plan: &MapPlan, snap: &MapSnapshot, max_series: usize) -> (Family, u64) {
    let kind = match plan.kind {
        MetricKind::Counter => FamilyType::Counter,
        MetricKind::Gauge => FamilyType::Gauge,
        MetricKind::Histogram => FamilyType::Histogram,
        MetricKind::Stats => FamilyType::Summary,
    };
    let mut family = Family::new(plan.family.clone(), plan.help.clone(), kind);
    let mut series = merged(plan, snap);
    let dropped = series.len().saturating_sub(max_series) as u64;
    if dropped > 0 {
        // The largest values are the ones a dashboard's topk() would show.
        series.sort_by_key(|(_, v)| std::cmp::Reverse(size(v)));
        series.truncate(max_series);
    }
    for (labels, value) in series {
        entry(&mut family, labels, &value);
    }
    (family, dropped)
}

/// One series per label set. Keys the kernel keeps apart can print alike:
/// `pod(cgroup)` is the cgroup id in the map, so two containers of one pod,
/// or every cgroup that is not a pod's (`""`), are two keys with one name.
/// A series may appear only once in a scrape (Prometheus drops the scrape
/// otherwise), and the pod's count is what the user asked for: their values
/// are combined (counts and sums add, hists add bucket-wise, min/max keep
/// the extreme, avg/stats add both parts).
fn merged(plan: &MapPlan, snap: &MapSnapshot) -> Vec<(Vec<(String, String)>, AggValue)> {
    let mut series: Vec<(Vec<(String, String)>, AggValue)> = Vec::with_capacity(snap.entries.len());
    let mut index: HashMap<Vec<(String, String)>, usize> = HashMap::with_capacity(snap.entries.len());
    for e in &snap.entries {
        let labels = labels(&plan.labels, e.key.as_ref());
        match index.get(&labels) {
            Some(&at) => series[at].1 = combine(&series[at].1, &e.value),
            None => {
                index.insert(labels.clone(), series.len());
                series.push((labels, e.value.clone()));
            }
        }
    }
    series
}

/// Two values of one map under one label set, as one.
fn combine(a: &AggValue, b: &AggValue) -> AggValue {
    let add = |x: &[u64], y: &[u64]| x.iter().zip(y).map(|(p, q)| p.wrapping_add(*q)).collect::<Vec<u64>>();
    match (a, b) {
        (AggValue::Count(x), AggValue::Count(y)) => AggValue::Count(x.wrapping_add(*y)),
        (AggValue::Sum(x), AggValue::Sum(y)) => AggValue::Sum(x.wrapping_add(*y)),
        (AggValue::Min(x), AggValue::Min(y)) => AggValue::Min(*x.min(y)),
        (AggValue::Max(x), AggValue::Max(y)) => AggValue::Max(*x.max(y)),
        (AggValue::Avg { sum: s, count: c }, AggValue::Avg { sum: t, count: d }) => {
            AggValue::Avg { sum: s.wrapping_add(*t), count: c.wrapping_add(*d) }
        }
        (AggValue::Stats { sum: s, count: c }, AggValue::Stats { sum: t, count: d }) => {
            AggValue::Stats { sum: s.wrapping_add(*t), count: c.wrapping_add(*d) }
        }
        (AggValue::Hist { buckets: x, sum: s }, AggValue::Hist { buckets: y, sum: t }) if x.len() == y.len() => {
            AggValue::Hist { buckets: add(x, y), sum: s.wrapping_add(*t) }
        }
        (AggValue::Lhist { min, max, step, buckets: x, sum: s }, AggValue::Lhist { buckets: y, sum: t, .. }) if x.len() == y.len() => {
            AggValue::Lhist { min: *min, max: *max, step: *step, buckets: add(x, y), sum: s.wrapping_add(*t) }
        }
        // A stored value has no sum that means anything (`@m[k] = v` is the
        // last v): the larger one stands for the label set.
        _ if size(b) > size(a) => b.clone(),
        _ => a.clone(),
    }
}

/// Label pairs for a key: one part per label, as the map printer writes
/// them (addresses as addresses). A key whose parts do not match the labels
/// (a tuple-valued single key) is shown whole.
fn labels(names: &[String], key: Option<&Value>) -> Vec<(String, String)> {
    let Some(key) = key else { return Vec::new() };
    let parts = key_parts(key);
    if parts.len() == names.len() {
        names.iter().cloned().zip(parts).collect()
    } else {
        let whole = value_text(key);
        names.first().map(|n| vec![(n.clone(), whole)]).unwrap_or_default()
    }
}

/// What "largest" means for `--metrics-max-series`.
fn size(v: &AggValue) -> i128 {
    match v {
        AggValue::Count(c) => *c as i128,
        AggValue::Sum(s) | AggValue::Min(s) | AggValue::Max(s) => *s as i128,
        AggValue::Avg { sum, count } => average(*sum, *count) as i128,
        AggValue::Stats { count, .. } => *count as i128,
        AggValue::Hist { buckets, .. } | AggValue::Lhist { buckets, .. } => buckets.iter().map(|&b| b as i128).sum(),
        AggValue::Tseries { points, .. } => latest(points).unwrap_or(0) as i128,
        AggValue::Plain(Value::Int(i)) => *i as i128,
        AggValue::Plain(Value::UInt(u)) => *u as i128,
        AggValue::Plain(Value::Bool(b)) => *b as i128,
        AggValue::Plain(_) => 0,
    }
}

fn entry(f: &mut Family, labels: Vec<(String, String)>, value: &AggValue) {
    let int = |v: i128| Number::Int(v);
    match value {
        AggValue::Count(c) => f.push(labels, int(*c as i128)),
        AggValue::Sum(s) | AggValue::Min(s) | AggValue::Max(s) => f.push(labels, int(*s as i128)),
        AggValue::Avg { sum, count } => f.push(labels, int(average(*sum, *count) as i128)),
        AggValue::Stats { sum, count } => {
            f.samples.push(Sample { suffix: "_count", labels: labels.clone(), value: int(*count as i128) });
            f.samples.push(Sample { suffix: "_sum", labels, value: int(*sum as i128) });
        }
        AggValue::Hist { buckets, sum } => {
            let bounds: Vec<Option<i128>> = (0..buckets.len()).map(|i| upper(log2_bounds(i))).collect();
            histogram(f, labels, buckets, &bounds, *sum);
        }
        AggValue::Lhist { min, max, step, buckets, sum } => {
            let shape = Linear { min: *min, max: *max, step: *step, len: buckets.len() };
            let bounds: Vec<Option<i128>> = (0..buckets.len()).map(|i| upper(shape.bounds(i))).collect();
            histogram(f, labels, buckets, &bounds, *sum);
        }
        // A time series is drawn by the printer; Prometheus keeps its own
        // history, so the gauge is the newest interval's value.
        AggValue::Tseries { points, .. } => {
            if let Some(v) = latest(points) {
                f.push(labels, int(v as i128));
            }
        }
        AggValue::Plain(v) => match v {
            Value::Int(i) => f.push(labels, int(*i as i128)),
            Value::UInt(u) => f.push(labels, int(*u as i128)),
            Value::Bool(b) => f.push(labels, int(*b as i128)),
            // A string or address stored as a value: an info-style gauge of
            // 1 with the text as a label, so it is not lost.
            other => {
                let mut labels = labels;
                labels.push(("value".to_string(), value_text(other)));
                f.push(labels, int(1));
            }
        },
    }
}

/// The value of a `tseries()` map's newest interval (points are (epoch, value)).
fn latest(points: &[(u64, i64)]) -> Option<i64> {
    points.iter().max_by_key(|(epoch, _)| *epoch).map(|(_, v)| *v)
}

/// A bucket's inclusive upper bound, the printer's own bounds (values are
/// integers, so `[4, 8)` is `le="7"`); `None` for an open-ended last bucket.
fn upper(bounds: Bounds) -> Option<i128> {
    match bounds {
        Bounds::Below { max } => Some(max as i128),
        Bounds::Between { max, .. } => Some(max),
        Bounds::From { .. } => None,
    }
}

/// Cumulative `le` buckets up to the highest one in use, `+Inf`, `_count`
/// and `_sum`. Buckets past the last used one add no information and cost
/// series; the empty negative bucket is left out for the same reason.
fn histogram(f: &mut Family, labels: Vec<(String, String)>, buckets: &[u64], bounds: &[Option<i128>], sum: i64) {
    let used = buckets.iter().rposition(|&b| b > 0).unwrap_or(0);
    let mut cumulative = 0u64;
    for (i, (&count, bound)) in buckets.iter().zip(bounds).enumerate().take(used + 1) {
        cumulative += count;
        let Some(le) = bound else { break };
        if i == 0 && count == 0 {
            continue;
        }
        let mut l = labels.clone();
        l.push(("le".to_string(), le.to_string()));
        f.samples.push(Sample { suffix: "_bucket", labels: l, value: Number::Int(cumulative as i128) });
    }
    let total: u64 = buckets.iter().sum();
    let mut inf = labels.clone();
    inf.push(("le".to_string(), "+Inf".to_string()));
    f.samples.push(Sample { suffix: "_bucket", labels: inf, value: Number::Int(total as i128) });
    f.samples.push(Sample { suffix: "_count", labels: labels.clone(), value: Number::Int(total as i128) });
    f.samples.push(Sample { suffix: "_sum", labels, value: Number::Int(sum as i128) });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{MapEntry, ValueKind};
    use std::net::{IpAddr, Ipv4Addr};

    fn snap(entries: Vec<MapEntry>) -> MapSnapshot {
        MapSnapshot { name: "@m".into(), entries, dropped_updates: 0, evicted: 0, max_entries: 10, kind: ValueKind::Count, keyless: false }
    }

    fn plan(labels: &[&str], kind: MetricKind) -> MapPlan {
        MapPlan { map: "@m".into(), family: "flowtrace_m".into(), labels: labels.iter().map(|s| s.to_string()).collect(), kind, help: "h".into() }
    }

    #[test]
    fn keys_become_labels_as_printed_and_the_largest_are_kept() {
        let key = |addr: [u8; 4], port: u64| {
            Some(Value::Tuple(vec![Value::Inet(IpAddr::V4(Ipv4Addr::from(addr))), Value::UInt(port)]))
        };
        let s = snap(vec![
            MapEntry { key: key([10, 0, 0, 1], 80), value: AggValue::Count(5) },
            MapEntry { key: key([10, 0, 0, 2], 443), value: AggValue::Count(9) },
            MapEntry { key: key([10, 0, 0, 3], 22), value: AggValue::Count(1) },
        ]);
        let (f, dropped) = map_family(&plan(&["daddr", "dport"], MetricKind::Counter), &s, 2);
        assert_eq!(dropped, 1);
        let lines: Vec<String> = f.samples.iter().map(|s| format!("{:?} {:?}", s.labels, s.value)).collect();
        assert_eq!(
            lines,
            [
                r#"[("daddr", "10.0.0.2"), ("dport", "443")] Int(9)"#,
                r#"[("daddr", "10.0.0.1"), ("dport", "80")] Int(5)"#,
            ]
        );
        assert!(f.samples.iter().all(|s| s.suffix == "_total"));
    }

    #[test]
    fn keys_that_print_alike_are_one_series() {
        // Two cgroups of one pod and two cgroups of no pod, as decoded.
        let key = |pod: &str| Some(Value::Str(pod.to_string()));
        let s = snap(vec![
            MapEntry { key: key("default/payment-7d9f"), value: AggValue::Count(3) },
            MapEntry { key: key(""), value: AggValue::Count(7) },
            MapEntry { key: key("default/payment-7d9f"), value: AggValue::Count(4) },
            MapEntry { key: key(""), value: AggValue::Count(1) },
            MapEntry { key: key("shop/cart-5c4b"), value: AggValue::Count(5) },
        ]);
        let (f, dropped) = map_family(&plan(&["pod"], MetricKind::Counter), &s, 2);
        let text = super::super::expose::render(&[f], super::super::expose::Format::Prometheus);
        assert!(text.contains("flowtrace_m_total{pod=\"default/payment-7d9f\"} 7\n"), "{text}");
        assert!(text.contains("flowtrace_m_total{pod=\"\"} 8\n"), "{text}");
        assert!(!text.contains("cart"), "{text}");
        assert_eq!(dropped, 1, "three series, two kept");
        let mut buckets = vec![0u64; 4];
        buckets[1] = 2;
        let h = |b: &[u64], sum| AggValue::Hist { buckets: b.to_vec(), sum };
        assert_eq!(combine(&h(&buckets, 0), &h(&[0, 1, 0, 5], 40)), h(&[0, 3, 0, 5], 40));
        assert_eq!(combine(&AggValue::Min(3), &AggValue::Min(-2)), AggValue::Min(-2));
        assert_eq!(combine(&AggValue::Avg { sum: 10, count: 2 }, &AggValue::Avg { sum: 5, count: 3 }), AggValue::Avg { sum: 15, count: 5 });
    }

    #[test]
    fn a_log2_histogram_has_cumulative_integer_buckets_count_and_sum() {
        let mut buckets = vec![0u64; 66];
        buckets[1] = 1; // 0
        buckets[2] = 2; // 1
        buckets[4] = 3; // [4, 8)
        let s = snap(vec![MapEntry { key: None, value: AggValue::Hist { buckets, sum: 20 } }]);
        let (f, _) = map_family(&plan(&[], MetricKind::Histogram), &s, 10);
        let text = super::super::expose::render(&[f], super::super::expose::Format::Prometheus);
        let expected = "flowtrace_m_bucket{le=\"0\"} 1\nflowtrace_m_bucket{le=\"1\"} 3\nflowtrace_m_bucket{le=\"3\"} 3\n\
                        flowtrace_m_bucket{le=\"7\"} 6\nflowtrace_m_bucket{le=\"+Inf\"} 6\nflowtrace_m_count 6\nflowtrace_m_sum 20\n";
        assert!(text.ends_with(expected), "{text}");
    }

    #[test]
    fn a_linear_histogram_bounds_each_step() {
        let s = snap(vec![MapEntry {
            key: None,
            value: AggValue::Lhist { min: 0, max: 30, step: 10, buckets: vec![0, 1, 0, 2, 4], sum: 100 },
        }]);
        let (f, _) = map_family(&plan(&[], MetricKind::Histogram), &s, 10);
        let le: Vec<(String, &Number)> = f.samples.iter().map(|s| (s.labels.last().map(|l| l.1.clone()).unwrap_or_default(), &s.value)).collect();
        let want = [("9", 1), ("19", 1), ("29", 3), ("+Inf", 7)];
        for (i, (bound, n)) in want.iter().enumerate() {
            assert_eq!((le[i].0.as_str(), le[i].1), (*bound, &Number::Int(*n)));
        }
    }
}
