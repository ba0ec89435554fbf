//! Attach points: aliases resolved to one canonical name, wildcards expanded
//! through the kernel's lists, and what each probe's context offers
//! (tracepoint fields, function prototypes) looked up once.

use super::{Checker, ProbeScope};
use crate::ast::{AttachKind, AttachPoint, Period, Probe, UserTarget};
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
            AttachKind::Uprobe { .. } | AttachKind::Uretprobe { .. } => self.expand_uprobe(ap),
            AttachKind::Usdt { binary, provider, name, .. } => self.expand_usdt(ap, binary, provider.as_deref(), name),
            other => vec![other.clone()],
        }
    }

    /// The binary's path, or (after reporting why) nothing.
    fn user_binary(&mut self, ap: &AttachPoint, binary: &str) -> Option<String> {
        match self.kernel.host().user_binary(binary) {
            Ok(path) => Some(path),
            Err(why) => {
                self.missing_probe(ap.span, why, Some("give the binary's absolute path, or a library name such as libc"));
                None
            }
        }
    }

    /// `uprobe:BIN:FUNC` with BIN resolved to a path and FUNC (a glob) to
    /// the functions it defines, one attach point each.
    fn expand_uprobe(&mut self, ap: &AttachPoint) -> Vec<AttachKind> {
        let Some((binary, target)) = ap.kind.user_target() else { return Vec::new() };
        if binary == "*" {
            return self.expand_uprobe_in_process(ap, target);
        }
        let Some(path) = self.user_binary(ap, binary) else { return Vec::new() };
        let UserTarget::Function { name, offset } = target else {
            return ap.kind.with_user_target(path, target.clone()).into_iter().collect();
        };
        let found = match self.kernel.host().user_symbols(&path, name, true) {
            Ok(found) => found,
            Err(why) => {
                self.missing_probe(ap.span, why, None);
                return Vec::new();
            }
        };
        if found.is_empty() {
            let message = if has_wildcard(name) {
                format!("no function of '{path}' matches '{name}'")
            } else {
                format!("function '{name}' not found in '{path}'")
            };
            let hint = format!("`flowtrace -l 'uprobe:{path}:*'` lists its functions");
            self.missing_probe(ap.span, message, Some(&hint));
            return Vec::new();
        }
        if let [only] = found.as_slice() {
            if *offset > 0 && only.size > 0 && *offset >= only.size {
                self.error(ap.span, format!("offset {offset} is past the end of '{name}' ({} bytes)", only.size));
                return Vec::new();
            }
        }
        found
            .into_iter()
            .filter_map(|f| ap.kind.with_user_target(path.clone(), UserTarget::Function { name: f.name, offset: *offset }))
            .collect()
    }

    /// bpftrace's `uprobe:*:F` with `-p PID`: F (a glob) in every ELF
    /// object PID has mapped.
    fn expand_uprobe_in_process(&mut self, ap: &AttachPoint, target: &UserTarget) -> Vec<AttachKind> {
        let (Some(pid), UserTarget::Function { name, offset: 0 }) = (self.options.pid, target) else {
            self.error_hint(
                ap.span,
                "'*' as the binary needs -p PID and a function without an offset",
                Some("with -p PID, uprobe:*:FUNC probes FUNC in every object the process has mapped".into()),
            );
            return Vec::new();
        };
        let binaries = match self.kernel.host().mapped_binaries(pid) {
            Ok(b) => b,
            Err(why) => {
                self.missing_probe(ap.span, why, None);
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for path in binaries {
            let found = self.kernel.host().user_symbols(&path, name, true).unwrap_or_default();
            out.extend(found.into_iter().filter_map(|f| {
                ap.kind.with_user_target(path.clone(), UserTarget::Function { name: f.name, offset: 0 })
            }));
        }
        if out.is_empty() {
            self.missing_probe(ap.span, format!("no object mapped by process {pid} has a function matching '{name}'"), None);
        }
        out
    }

    /// `usdt:BIN:[PROVIDER:]NAME`: one attach point per matching note.
    fn expand_usdt(&mut self, ap: &AttachPoint, binary: &str, provider: Option<&str>, name: &str) -> Vec<AttachKind> {
        let Some(path) = self.user_binary(ap, binary) else { return Vec::new() };
        let found = match self.kernel.host().usdt_probes(&path, provider.unwrap_or("*"), name) {
            Ok(found) => found,
            Err(why) => {
                self.missing_probe(ap.span, why, None);
                return Vec::new();
            }
        };
        if found.is_empty() {
            let what = provider.map_or(name.to_string(), |p| format!("{p}:{name}"));
            let hint = format!("`flowtrace -l 'usdt:{path}:*'` lists its USDT probes");
            self.missing_probe(ap.span, format!("no USDT probe '{what}' in '{path}'"), Some(&hint));
            return Vec::new();
        }
        let mut out = Vec::new();
        for p in found {
            match p.site {
                Ok(site) => out.push(AttachKind::Usdt { binary: path.clone(), provider: Some(p.provider), name: p.name, site: Some(site) }),
                Err(why) => self.error(ap.span, format!("USDT probe {}:{} of '{path}': {why}", p.provider, p.name)),
            }
        }
        out
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
        let iter = match attach.kind.iterator() {
            Some(name) => Some(self.iterator(name, attach.span)?),
            None => None,
        };
        Some(ProbeScope {
            kind: attach.kind.probe_kind(),
            attach,
            tp_fields,
            func,
            iter,
            vars: Vec::new(),
            var_ids: Default::default(),
            poisoned_vars: Default::default(),
            scoping: Default::default(),
        })
    }
}
