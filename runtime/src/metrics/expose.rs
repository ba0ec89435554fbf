//! Metric families as text: the Prometheus exposition format 0.0.4 and
//! OpenMetrics 1.0. Pure: families in, bytes out.
//!
//! The two differ where it matters to a parser: OpenMetrics names a counter
//! family without `_total` (its samples carry it), ends with `# EOF`, and
//! forbids a negative `_sum` (a counter), which is then left out.

use std::fmt::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

impl Format {
    /// What a scraper's `Accept` header asks for: OpenMetrics when it names
    /// it (Prometheus does, first), else the classic text format.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FamilyType {
    /// Samples are named `<family>_total`.
    Counter,
    Gauge,
    /// Samples `<family>_bucket{le}`, `_sum`, `_count`.
    Histogram,
    /// Samples `<family>_sum`, `_count` (no quantiles): `stats()`.
    Summary,
}

/// One sample's number: integers stay exact (counts past 2^53 do happen).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Number {
    Int(i128),
    Float(f64),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// `""`, `"_total"`, `"_bucket"`, `"_sum"`, `"_count"`.
    pub suffix: &'static str,
    pub labels: Vec<(String, String)>,
    pub value: Number,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    /// Without `_total` for a counter.
    pub name: String,
    pub help: String,
    pub kind: FamilyType,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn new(name: impl Into<String>, help: impl Into<String>, kind: FamilyType) -> Family {
        Family { name: name.into(), help: help.into(), kind, samples: Vec::new() }
    }

    /// Adds a sample; a counter's gets `_total`.
    pub fn push(&mut self, labels: Vec<(String, String)>, value: Number) {
        let suffix = if self.kind == FamilyType::Counter { "_total" } else { "" };
        self.samples.push(Sample { suffix, labels, value });
    }
}

/// Every family, in order, as `format` says.
pub fn render(families: &[Family], format: Format) -> String {
    let mut out = String::new();
    for f in families {
        family(&mut out, f, format);
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn family(out: &mut String, f: &Family, format: Format) {
    // The classic format names a counter family as its samples are named.
    let head = match (f.kind, format) {
        (FamilyType::Counter, Format::Prometheus) => format!("{}_total", f.name),
        _ => f.name.clone(),
    };
    let kind = match f.kind {
        FamilyType::Counter => "counter",
        FamilyType::Gauge => "gauge",
        FamilyType::Histogram => "histogram",
        FamilyType::Summary => "summary",
    };
    let _ = writeln!(out, "# HELP {head} {}", escape_help(&f.help));
    let _ = writeln!(out, "# TYPE {head} {kind}");
    for s in &f.samples {
        let negative_sum = s.suffix == "_sum" && matches!(s.value, Number::Int(v) if v < 0);
        if negative_sum && format == Format::OpenMetrics {
            continue;
        }
        out.push_str(&f.name);
        out.push_str(s.suffix);
        labels(out, &s.labels);
        out.push(' ');
        match s.value {
            Number::Int(v) => {
                let _ = write!(out, "{v}");
            }
            Number::Float(v) => float(out, v),
        }
        out.push('\n');
    }
}

fn labels(out: &mut String, labels: &[(String, String)]) {
    if labels.is_empty() {
        return;
    }
    out.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{name}=\"{}\"", escape_value(value));
    }
    out.push('}');
}

fn float(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Label values escape `\`, `"` and newlines (both formats).
pub fn escape_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn escape_help(v: &str) -> String {
    v.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn counters_are_named_as_each_format_wants() {
        let mut f = Family::new("flowtrace_x", "the x", FamilyType::Counter);
        f.push(l(&[("comm", "a\"b\\c")]), Number::Int(3));
        assert_eq!(
            render(std::slice::from_ref(&f), Format::Prometheus),
            "# HELP flowtrace_x_total the x\n# TYPE flowtrace_x_total counter\nflowtrace_x_total{comm=\"a\\\"b\\\\c\"} 3\n"
        );
        assert_eq!(
            render(&[f], Format::OpenMetrics),
            "# HELP flowtrace_x the x\n# TYPE flowtrace_x counter\nflowtrace_x_total{comm=\"a\\\"b\\\\c\"} 3\n# EOF\n"
        );
    }

    #[test]
    fn a_negative_sum_is_left_out_of_openmetrics_only() {
        let mut f = Family::new("h", "h", FamilyType::Histogram);
        f.samples.push(Sample { suffix: "_sum", labels: vec![], value: Number::Int(-4) });
        assert!(render(std::slice::from_ref(&f), Format::Prometheus).contains("h_sum -4\n"));
        assert!(!render(&[f], Format::OpenMetrics).contains("h_sum"));
    }

    #[test]
    fn accept_picks_the_format() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Prometheus);
        assert_eq!(Format::negotiate(None), Format::Prometheus);
    }
}
