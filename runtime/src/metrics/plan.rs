//! What each user map becomes on `/metrics`, decided once from the typed
//! program: the family name, its label names (from the key expressions, as
//! an SRE would name them), and counter or gauge. Pure: no kernel here.
//!
//! A script renames with a comment line, so it stays a valid bpftrace script:
//!
//! ```text
//! // metric @retx name=tcp_retransmits labels=daddr,dport help="TCP retransmits by destination"
//! ```

use flowtrace_lang::typed::{MapId, TExpr, TExprKind, TProbe, TStmt, TStmtKind, TypedProgram};
use flowtrace_lang::types::{AggKind, Type};
use flowtrace_stdlib::Func;
use flowtrace_lang::span::Span;
use std::collections::{BTreeMap, HashMap};

/// Prometheus' own meaning of a family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// Only ever goes up: a `count()`/`sum()` map nothing clears, zeroes or deletes from.
    Counter,
    Gauge,
    /// `hist()`/`lhist()`: cumulative `le` buckets, `_count`, `_sum`.
    Histogram,
    /// `stats()`: a summary without quantiles, `_count` and `_sum` (the
    /// average is their ratio, as PromQL computes it anyway).
    Stats,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapPlan {
    /// The script's name, with `@` (`@retx`, `@` for the anonymous map).
    pub map: String,
    /// `flowtrace_<map>`, without the `_total` a counter adds.
    pub family: String,
    /// One per key expression; empty for a scalar map.
    pub labels: Vec<String>,
    pub kind: MetricKind,
    pub help: String,
}

/// A `// metric @m …` line.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Directive {
    name: Option<String>,
    labels: Option<Vec<String>>,
    help: Option<String>,
    gauge: bool,
}

/// The plan for every map of `typed` (indexed by [`MapId`]), and warnings
/// about directives that could not apply.
pub fn plan(typed: &TypedProgram, source: &str) -> (Vec<MapPlan>, Vec<String>) {
    let (directives, mut warnings) = directives(source);
    let uses = MapUses::of(typed);
    let mut plans = Vec::new();
    for (i, info) in typed.maps.iter().enumerate() {
        let id = MapId(i as u32);
        let map = format!("@{}", info.name);
        let directive = directives.get(&info.name).cloned().unwrap_or_default();
        let family = match &directive.name {
            Some(n) => format!("flowtrace_{}", sanitize(n)),
            None if info.name.is_empty() => "flowtrace_anon".to_string(),
            None => format!("flowtrace_{}", sanitize(&info.name)),
        };
        let mut labels = label_names(&uses.keys(id), info.key.len());
        if let Some(named) = &directive.labels {
            if named.len() == labels.len() {
                labels = unique(named.iter().map(|n| Some(label(n))).collect());
            } else {
                warnings.push(format!("metric {map}: {} labels given, the map has {} keys; ignored", named.len(), labels.len()));
            }
        }
        let kind = match &info.value {
            Type::Agg(AggKind::Hist | AggKind::Lhist { .. }) => MetricKind::Histogram,
            Type::Agg(AggKind::Stats { .. }) => MetricKind::Stats,
            Type::Agg(AggKind::Count | AggKind::Sum { .. }) if !uses.reset.contains(&id) && !directive.gauge => MetricKind::Counter,
            _ => MetricKind::Gauge,
        };
        let help = directive.help.clone().unwrap_or_else(|| format!("flowtrace map {map}"));
        plans.push(MapPlan { map, family, labels, kind, help });
    }
    for name in directives.keys() {
        if !typed.maps.iter().any(|m| &m.name == name) {
            warnings.push(format!("metric @{name}: no such map"));
        }
    }
    (plans, warnings)
}

/// Key expressions per map, and the maps some statement clears, zeroes or
/// deletes from (their values can go down, so they are gauges).
struct MapUses<'a> {
    keys: HashMap<MapId, Vec<(&'a TProbe, &'a TExpr)>>,
    reset: Vec<MapId>,
    /// The field each member read names (`typed.field_names`).
    fields: &'a BTreeMap<Span, String>,
}

impl<'a> MapUses<'a> {
    fn of(typed: &'a TypedProgram) -> MapUses<'a> {
        let mut uses = MapUses { keys: HashMap::new(), reset: Vec::new(), fields: &typed.field_names };
        for probe in &typed.probes {
            uses.stmts(probe, &probe.body);
        }
        uses
    }

    fn stmts(&mut self, probe: &'a TProbe, body: &'a [TStmt]) {
        for s in body {
            match &s.kind {
                TStmtKind::MapStore { map, key, .. }
                | TStmtKind::MapUpdate { map, key, .. }
                | TStmtKind::Aggregate { map, key, .. } => {
                    if let Some(k) = key {
                        self.keys.entry(*map).or_default().push((probe, k));
                    }
                }
                TStmtKind::Clear { map } | TStmtKind::Zero { map } | TStmtKind::Delete { map, .. } => self.reset.push(*map),
                TStmtKind::If { then, otherwise, .. } => {
                    self.stmts(probe, then);
                    self.stmts(probe, otherwise);
                }
                TStmtKind::While { body, .. } => self.stmts(probe, body),
                _ => {}
            }
        }
    }

    /// Per key position, the names the statements writing `map` suggest.
    fn keys(&self, map: MapId) -> Vec<Vec<Option<String>>> {
        let Some(uses) = self.keys.get(&map) else { return Vec::new() };
        uses.iter().map(|(probe, key)| key_names(self.fields, probe, key)).collect()
    }
}

/// One name (or none) per key of a key expression: a tuple of several keys
/// is several.
fn key_names(fields: &BTreeMap<Span, String>, probe: &TProbe, key: &TExpr) -> Vec<Option<String>> {
    match &key.kind {
        TExprKind::Tuple(items) => items.iter().map(|e| expr_name(fields, probe, e)).collect(),
        _ => vec![expr_name(fields, probe, key)],
    }
}

/// The name an SRE would give the value of `e`: the builtin, the variable,
/// the last field read, the address `ntop()` shows.
fn expr_name(fields: &BTreeMap<Span, String>, probe: &TProbe, e: &TExpr) -> Option<String> {
    match &e.kind {
        TExprKind::Builtin(b) => Some(b.name().to_string()),
        TExprKind::Var(v) => probe.vars.get(v.0 as usize).map(|v| v.name.trim_start_matches('$').to_string()),
        TExprKind::Member { .. } | TExprKind::TracepointArg { .. } | TExprKind::FuncArg { .. } => fields.get(&e.span).cloned(),
        TExprKind::Cast { expr } => expr_name(fields, probe, expr),
        // ntop(x), ntop(af, x), str(x), … name the value they show.
        TExprKind::Call { func: Func::Ntop | Func::Str, args } => args.last().and_then(|a| expr_name(fields, probe, a)),
        // pod(cgroup), container(cgroup), cgroup_path(cgroup) name what they show.
        TExprKind::Call { func: Func::Pod, .. } => Some("pod".to_string()),
        TExprKind::Call { func: Func::Container, .. } => Some("container".to_string()),
        TExprKind::Call { func: Func::CgroupPath, .. } => Some("cgroup_path".to_string()),
        _ => None,
    }
    .map(|n| label(&n))
    .filter(|n| !n.is_empty())
}

/// Label names per key position: the name every use agrees on, else
/// `key1`, `key2`, … (positional, 1-based); a name two positions share
/// falls back too.
fn label_names(uses: &[Vec<Option<String>>], keys: usize) -> Vec<String> {
    let agreed: Vec<Option<String>> = (0..keys)
        .map(|i| {
            let mut names = uses.iter().map(|u| u.get(i).cloned().flatten());
            let first = names.next().flatten()?;
            names.all(|n| n.as_deref() == Some(first.as_str())).then_some(first)
        })
        .collect();
    unique(agreed)
}

fn unique(names: Vec<Option<String>>) -> Vec<String> {
    let single = names.len() == 1;
    let clash = |n: &str| names.iter().filter(|m| m.as_deref() == Some(n)).count() > 1;
    (0..names.len())
        .map(|i| match &names[i] {
            Some(n) if !clash(n) && !is_reserved(n) => n.clone(),
            _ if single => "key".to_string(),
            _ => format!("key{}", i + 1),
        })
        .collect()
}

/// Labels Prometheus keeps for itself or that would collide with ours.
fn is_reserved(name: &str) -> bool {
    name.starts_with("__") || matches!(name, "le" | "quantile" | "map" | "job" | "instance")
}

/// A label name: `[a-zA-Z_][a-zA-Z0-9_]*`, without the leading `__`
/// Prometheus reserves (`__sk_common` → `sk_common`).
fn label(name: &str) -> String {
    sanitize(name.trim_start_matches('_'))
}

/// A metric or label name part: anything else becomes `_`.
pub fn sanitize(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// Every `// metric @m key=value …` line, by map name (without `@`).
fn directives(source: &str) -> (HashMap<String, Directive>, Vec<String>) {
    let mut found = HashMap::new();
    let mut warnings = Vec::new();
    for line in source.lines() {
        let Some(rest) = line.trim_start().strip_prefix("//") else { continue };
        let Some(rest) = rest.trim_start().strip_prefix("metric ") else { continue };
        let mut words = split_words(rest.trim()).into_iter();
        let Some(map) = words.next().and_then(|m| m.strip_prefix('@').map(str::to_string)) else {
            warnings.push(format!("'{}': a metric line names a map first (// metric @m name=…)", line.trim()));
            continue;
        };
        let mut d = Directive::default();
        for word in words {
            match word.split_once('=') {
                Some(("name", v)) => d.name = Some(v.to_string()),
                Some(("labels", v)) => d.labels = Some(v.split(',').map(|l| l.trim().to_string()).collect()),
                Some(("help", v)) => d.help = Some(v.trim_matches('"').to_string()),
                Some(("type", "gauge")) => d.gauge = true,
                _ => warnings.push(format!("metric @{map}: '{word}' is not name=, labels=, help= or type=gauge")),
            }
        }
        found.insert(map, d);
    }
    (found, warnings)
}

/// Words split at spaces, except inside double quotes.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                word.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}
