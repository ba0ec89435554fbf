//! Attach points: aliases resolved to one canonical name, wildcards expanded
//! through the kernel's lists, and what each probe's context offers
//! (tracepoint fields, function prototypes) looked up once.

use super::{Checker, ProbeScope};
use crate::ast::{AttachKind, AttachPoint, Period, Probe, TcDir};
use crate::diag::Diagnostic;
use crate::kernel::{FuncProto, TracepointField};
use flowtrace_stdlib::ProbeKind;

fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?') || s.contains('[')
}

pub(crate) fn probe_kind(kind: &AttachKind) -> ProbeKind {
    match kind {
        AttachKind::Begin => ProbeKind::Begin,
        AttachKind::End => ProbeKind::End,
        AttachKind::Kprobe { .. } => ProbeKind::Kprobe,
        AttachKind::Kretprobe { .. } => ProbeKind::Kretprobe,
        AttachKind::Tracepoint { .. } => ProbeKind::Tracepoint,
        AttachKind::RawTracepoint { .. } => ProbeKind::RawTracepoint,
        AttachKind::Fentry { .. } => ProbeKind::Fentry,
        AttachKind::Fexit { .. } => ProbeKind::Fexit,
        AttachKind::Interval { .. } => ProbeKind::Interval,
        AttachKind::Tc { .. } => ProbeKind::Tc,
    }
}

/// The full name of a concrete attach point, as the `probe` builtin shows it
/// (`k:f` becomes `kprobe:f`).
pub(crate) fn canonical_name(kind: &AttachKind, raw: &str) -> String {
    let with_module = |m: &Option<String>, f: &str| match m {
        Some(m) => format!("{m}:{f}"),
        None => f.to_string(),
    };
    match kind {
        AttachKind::Begin => "BEGIN".into(),
        AttachKind::End => "END".into(),
        AttachKind::Kprobe { module, func } => format!("kprobe:{}", with_module(module, func)),
        AttachKind::Kretprobe { module, func } => format!("kretprobe:{}", with_module(module, func)),
        AttachKind::Tracepoint { category, name } => format!("tracepoint:{category}:{name}"),
        AttachKind::RawTracepoint { name } => format!("rawtracepoint:{name}"),
        AttachKind::Fentry { module, func } => format!("fentry:{}", with_module(module, func)),
        AttachKind::Fexit { module, func } => format!("fexit:{}", with_module(module, func)),
        AttachKind::Interval { .. } => match raw.strip_prefix("i:") {
            Some(rest) => format!("interval:{rest}"),
            None => raw.to_string(),
        },
        AttachKind::Tc { iface, dir } => {
            let dir = match dir {
                TcDir::Ingress => "ingress",
                TcDir::Egress => "egress",
            };
            format!("tc:{iface}:{dir}")
        }
    }
}

impl Checker<'_> {
    /// One scope per concrete attach point of `probe`.
    pub(super) fn expand_probe(&mut self, probe: &Probe) -> Vec<ProbeScope> {
        let mut scopes = Vec::new();
        for ap in &probe.attach {
            for kind in self.expand_attach(ap) {
                let attach = AttachPoint { raw: canonical_name(&kind, &ap.raw), kind, span: ap.span };
                if let Some(scope) = self.scope_for(attach) {
                    scopes.push(scope);
                }
            }
        }
        scopes
    }

    fn expand_attach(&mut self, ap: &AttachPoint) -> Vec<AttachKind> {
        let functions = |this: &mut Self, func: &str, make: &dyn Fn(String) -> AttachKind| {
            if !has_wildcard(func) {
                return vec![make(func.to_string())];
            }
            let found = this.kernel.match_functions(func);
            if found.is_empty() {
                this.error(ap.span, format!("no kernel function matches '{func}'"));
            }
            found.into_iter().map(make).collect()
        };
        match &ap.kind {
            AttachKind::Kprobe { module, func } => {
                functions(self, func, &|f| AttachKind::Kprobe { module: module.clone(), func: f })
            }
            AttachKind::Kretprobe { module, func } => {
                functions(self, func, &|f| AttachKind::Kretprobe { module: module.clone(), func: f })
            }
            AttachKind::Fentry { module, func } => {
                functions(self, func, &|f| AttachKind::Fentry { module: module.clone(), func: f })
            }
            AttachKind::Fexit { module, func } => {
                functions(self, func, &|f| AttachKind::Fexit { module: module.clone(), func: f })
            }
            AttachKind::Tracepoint { category, name } if has_wildcard(category) || has_wildcard(name) => {
                let found = self.kernel.match_tracepoints(category, name);
                if found.is_empty() {
                    self.error(ap.span, format!("no tracepoint matches '{category}:{name}'"));
                }
                found.into_iter().map(|(category, name)| AttachKind::Tracepoint { category, name }).collect()
            }
            AttachKind::Interval { period } => {
                let nanos = match period {
                    Period::Nanos(n) => *n,
                    Period::Hz(0) => 0,
                    Period::Hz(hz) => 1_000_000_000 / hz,
                };
                if nanos == 0 {
                    self.error_hint(
                        ap.span,
                        "interval period must be greater than zero",
                        Some("e.g. interval:s:1, interval:ms:100 or interval:hz:99 (at most 1e9 Hz)".into()),
                    );
                    return Vec::new();
                }
                vec![ap.kind.clone()]
            }
            other => vec![other.clone()],
        }
    }

    /// Look up what the probe's context holds; `None` (after an error) when
    /// the probe cannot exist.
    fn scope_for(&mut self, attach: AttachPoint) -> Option<ProbeScope> {
        let mut tp_fields: Option<Vec<TracepointField>> = None;
        let mut func: Option<FuncProto> = None;
        match &attach.kind {
            AttachKind::Tracepoint { category, name } => match self.kernel.tracepoint_fields(category, name) {
                Ok(fields) => tp_fields = Some(fields),
                Err(message) => {
                    self.error(attach.span, message);
                    return None;
                }
            },
            AttachKind::Fentry { func: f, .. } | AttachKind::Fexit { func: f, .. } => match self.kernel.function(f) {
                Some(proto) => func = Some(proto),
                None => {
                    self.error_hint(
                        attach.span,
                        format!("kernel function '{f}' is not in BTF"),
                        Some("fentry/fexit need the function's BTF prototype; kprobe:NAME works without".into()),
                    );
                    return None;
                }
            },
            AttachKind::Kprobe { func: f, .. } | AttachKind::Kretprobe { func: f, .. } => {
                if self.kernel.function(f).is_none() {
                    // kprobes can attach to functions BTF does not describe
                    // (static ones, some modules), so this is only a warning.
                    self.report(Diagnostic::warning(
                        attach.span,
                        format!("kernel function '{f}' is not in BTF; attaching may fail"),
                    ));
                }
            }
            _ => {}
        }
        Some(ProbeScope {
            kind: probe_kind(&attach.kind),
            attach,
            tp_fields,
            func,
            vars: Vec::new(),
            var_ids: Default::default(),
            poisoned_vars: Default::default(),
        })
    }
}
