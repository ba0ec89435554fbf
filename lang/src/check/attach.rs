//! Attach points: aliases resolved to one canonical name, wildcards expanded
//! through the kernel's lists, and what each probe's context offers
//! (tracepoint fields, function prototypes) looked up once.

use super::{Checker, ProbeScope};
use crate::ast::{AttachKind, AttachPoint, Period, Probe};
use crate::config::MissingProbes;
use crate::diag::Diagnostic;
use crate::kernel::{FuncProto, TracepointField};
use flowtrace_stdlib::provider::Args;

fn has_wildcard(s: &str) -> bool {
    s.contains('*') || s.contains('?') || s.contains('[')
}

impl Checker<'_> {
    /// A probe that does not exist: an error, or (config `missing_probes`,
    /// as in bpftrace) a warning or nothing, and the probe is left out.
    fn missing_probe(&mut self, span: crate::span::Span, message: String, hint: Option<&str>) {
        let mut diag = match self.missing_probes {
            MissingProbes::Error => Diagnostic::error(span, message),
            MissingProbes::Warn => Diagnostic::warning(span, format!("{message}; skipping it (missing_probes = warn)")),
            MissingProbes::Ignore => return,
        };
        if let Some(hint) = hint {
            diag = diag.with_hint(hint);
        }
        self.report(diag);
    }

    /// One scope per concrete attach point of `probe`.
    pub(super) fn expand_probe(&mut self, probe: &Probe) -> Vec<ProbeScope> {
        let mut scopes = Vec::new();
        for ap in &probe.attach {
            for kind in self.expand_attach(ap) {
                let mut attach = AttachPoint { kind, raw: ap.raw.clone(), span: ap.span };
                attach.raw = attach.display_name();
                if let Some(scope) = self.scope_for(attach) {
                    scopes.push(scope);
                }
            }
        }
        scopes
    }

    fn expand_attach(&mut self, ap: &AttachPoint) -> Vec<AttachKind> {
        if let Some(func) = ap.kind.function().filter(|f| has_wildcard(f)) {
            let found = self.kernel.match_functions(func);
            if found.is_empty() {
                self.missing_probe(ap.span, format!("no kernel function matches '{func}'"), None);
            }
            return found.into_iter().filter_map(|f| ap.kind.with_function(f)).collect();
        }
        match &ap.kind {
            AttachKind::Tracepoint { category, name } if has_wildcard(category) || has_wildcard(name) => {
                let found = self.kernel.match_tracepoints(category, name);
                if found.is_empty() {
                    self.missing_probe(ap.span, format!("no tracepoint matches '{category}:{name}'"), None);
                }
                found.into_iter().map(|(category, name)| AttachKind::Tracepoint { category, name }).collect()
            }
            AttachKind::Interval { period } | AttachKind::Profile { period } => {
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
        match (attach.kind.provider().args, attach.kind.tracepoint(), attach.kind.function()) {
            (Args::TracepointFields, Some((category, name)), _) => match self.kernel.tracepoint_fields(category, name) {
                Ok(fields) => tp_fields = Some(fields),
                Err(message) => {
                    self.missing_probe(attach.span, message, None);
                    return None;
                }
            },
            (Args::FunctionParams, _, Some(f)) => match self.kernel.function(f) {
                Some(proto) => func = Some(proto),
                None => {
                    let hint = "fentry/fexit need the function's BTF prototype; kprobe:NAME works without";
                    self.missing_probe(attach.span, format!("kernel function '{f}' is not in BTF"), Some(hint));
                    return None;
                }
            },
            // kprobes can attach to functions BTF does not describe (static
            // ones, some modules), so this is only a warning.
            (_, _, Some(f)) if self.kernel.function(f).is_none() => {
                self.report(Diagnostic::warning(attach.span, format!("kernel function '{f}' is not in BTF; attaching may fail")));
            }
            _ => {}
        }
        Some(ProbeScope {
            kind: attach.kind.probe_kind(),
            attach,
            tp_fields,
            func,
            vars: Vec::new(),
            var_ids: Default::default(),
            poisoned_vars: Default::default(),
            scoping: Default::default(),
        })
    }
}
