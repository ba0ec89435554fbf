//! The type checker: [`ast::Program`] → [`TypedProgram`], or diagnostics.
//!
//! It resolves names (builtins, constants, BTF enum constants), expands
//! wildcard attach points into one probe each, types every expression
//! (bpftrace's rules, see `ints.rs`), turns struct member accesses into byte
//! offsets through [`KernelTypes`], and gives every map one key and one value
//! type for the whole program.
//!
//! Errors do not stop checking: a failed expression yields `None`, which its
//! parents pass on without a second message, so one run reports every
//! independent error.
//!
//! Maps are global while probes are checked one after another, so a map read
//! in an early probe may only be written by a later one. A silent discovery
//! pass therefore runs first and records every map's types; the reporting
//! pass starts from those (see [`check`]).

mod attach;
mod calls;
mod cgroup;
mod calls_host;
mod calls_rendered;
mod expr;
mod getopt;
pub mod iter;
mod ints;
mod maps;
mod members;
mod names;
mod printf;
mod loops;
mod script_types;
mod stmt;
mod vars;
mod walk;

use crate::ast;
use crate::config::Settings;
use crate::diag::Diagnostic;
use crate::kernel::{FuncProto, KernelTypes, TracepointField};
use crate::span::Span;
use crate::typed::{TProbe, TypedProgram, VarId, VarInfo};
use crate::types::Type;
use flowtrace_stdlib::ProbeKind;
use maps::MapTable;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Settings that change what a program means.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Positional parameters: `$1` is `params[0]`.
    pub params: Vec<String>,
    /// `BPFTRACE_*` config variables from the environment: they override the
    /// script's config block ([`crate::config`]).
    pub env_config: Vec<(String, String)>,
    /// Buffer size of `str()` results without an explicit length (NUL
    /// included); bpftrace's BPFTRACE_STRLEN, 64 by default.
    pub default_str_size: u32,
    /// `--unsafe`: allow `system()` and `signal()`.
    pub unsafe_mode: bool,
    /// Named parameters (`--name=VALUE` → `(name, Some(VALUE))`, `--name` →
    /// `(name, None)`), read by `getopt()`.
    pub named: Vec<(String, Option<String>)>,
    /// `-p PID`: `uprobe:*:F` means F in every object PID has mapped.
    pub pid: Option<u32>,
    /// An interactive session: entries run one at a time, so an `iter:`
    /// entry (which runs and is gone) need not be the only probe.
    pub interactive: bool,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions { params: Vec::new(), env_config: Vec::new(), default_str_size: 64, unsafe_mode: false, named: Vec::new(), pid: None, interactive: false }
    }
}

/// Type-check `program` against the kernel's types.
pub fn check(
    program: &ast::Program,
    kernel: &dyn KernelTypes,
    options: &CheckOptions,
) -> Result<TypedProgram, Vec<Diagnostic>> {
    let (settings, mut config_diags) = config_settings(program, options)?;
    let (script_types, type_diags) = script_types::ScriptTypes::new(kernel, program);
    config_diags.extend(type_diags);
    let kernel: &dyn KernelTypes = &script_types;
    let mut effective = options.clone();
    if let Some(size) = settings.max_strlen {
        effective.default_str_size = size;
    }
    let options = &effective;
    // Discovery: map and variable types settle after at most a few rounds
    // (a round can only learn a type that depends on types learnt in the
    // previous: `$b = $a` before `$a` widens).
    let mut maps = MapTable::default();
    let mut hints = HashMap::new();
    for _ in 0..4 {
        let mut discovery = Checker::new(kernel, options, maps.clone(), true);
        discovery.hints = std::mem::take(&mut hints);
        discovery.missing_probes = settings.missing_probes;
        discovery.program(program);
        let learnt: HashMap<Span, Type> = discovery.learnt.into_iter().filter_map(|(s, t)| Some((s, t?))).collect();
        let settled = discovery.maps == maps && learnt == discovery.hints;
        hints = learnt;
        maps = discovery.maps;
        if settled {
            break;
        }
    }
    let mut checker = Checker::new(kernel, options, maps, false);
    checker.hints = hints;
    checker.missing_probes = settings.missing_probes;
    let probes = checker.program(program);
    checker.unexpected_named_params(program);
    let map_infos = checker.maps.finish(&mut checker.diags);
    for map in &map_infos {
        map.key.iter().chain([&map.value]).for_each(|ty| checker.note_records(ty));
    }
    let mut diags = config_diags;
    diags.append(&mut checker.diags);
    let (errors, warnings): (Vec<Diagnostic>, Vec<Diagnostic>) = diags.into_iter().partition(|d| d.is_error());
    if errors.is_empty() {
        Ok(TypedProgram { maps: map_infos, probes, warnings, field_names: checker.field_names, settings, records: checker.records })
    } else {
        let mut all = errors;
        all.extend(warnings);
        Err(all)
    }
}

/// The config block (only one, before any probe, as bpftrace has it) and the
/// environment over it. Errors in the environment have no place in the
/// source: they are reported at the start of the program.
fn config_settings(program: &ast::Program, options: &CheckOptions) -> Result<(Settings, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut block = None;
    let mut probe_seen = false;
    for item in &program.items {
        match item {
            ast::Item::Config(c) if block.is_some() => {
                diags.push(Diagnostic::error(c.span, "a second config block").with_hint("put every setting into the first one"))
            }
            ast::Item::Config(c) if probe_seen => diags.push(
                Diagnostic::error(c.span, "the config block must come before the probes").with_hint("move it to the top of the script"),
            ),
            ast::Item::Config(c) => block = Some(c),
            ast::Item::Probe(_) => probe_seen = true,
            ast::Item::MapDecl(_) | ast::Item::Record(_) | ast::Item::Enum(_) => {}
        }
    }
    let (settings, mut block_diags, env_errors) = crate::config::resolve(block, &options.env_config);
    diags.append(&mut block_diags);
    let start = Span::new(0, 0);
    diags.extend(env_errors.into_iter().map(|e| Diagnostic::error(start, format!("in the environment: {e}"))));
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    Ok((settings, diags))
}

/// One concrete probe being checked: its kind, what its context offers and
/// its `$variables`.
pub(crate) struct ProbeScope {
    pub kind: ProbeKind,
    pub attach: ast::AttachPoint,
    /// Tracepoint fields (tracepoint probes only).
    pub tp_fields: Option<Vec<TracepointField>>,
    /// The traced function's prototype (fentry/fexit only).
    pub func: Option<FuncProto>,
    /// `iter:` only: the iterator's `bpf_iter_NAME` prototype, whose
    /// parameters are the fields of `ctx` (`struct bpf_iter__NAME`).
    pub iter: Option<FuncProto>,
    pub vars: Vec<VarInfo>,
    pub var_ids: HashMap<String, VarId>,
    /// Variables whose assignment failed to type: reads stay silent.
    pub poisoned_vars: HashSet<String>,
    /// Block scopes, typed declarations, loop nesting.
    pub scoping: vars::Scoping,
}

pub(crate) struct Checker<'a> {
    pub kernel: &'a dyn KernelTypes,
    pub options: &'a CheckOptions,
    pub maps: MapTable,
    /// The discovery pass keeps no diagnostics.
    silent: bool,
    diags: Vec<Diagnostic>,
    seen: HashSet<(Span, String)>,
    /// The probe being checked (always set while statements are checked).
    pub scope: Option<ProbeScope>,
    /// See [`TypedProgram::field_names`].
    pub field_names: BTreeMap<Span, String>,
    /// See [`TypedProgram::records`].
    pub records: crate::types::RecordLayouts,
    /// Each variable's final type (by the span that declares it), as the
    /// previous discovery round learnt it: a variable starts at it, so reads
    /// before a widening assignment agree with the assignments.
    pub hints: HashMap<Span, Type>,
    /// What this (discovery) round learns for [`Checker::hints`]; `None`
    /// where expansions of one probe (a wildcard) disagree.
    learnt: HashMap<Span, Option<Type>>,
    /// The script's `missing_probes` setting.
    pub missing_probes: crate::config::MissingProbes,
    /// Every name a `getopt()` asked for (so a named parameter nothing
    /// reads is an error, not silently ignored).
    pub getopt_names: BTreeSet<String>,
}

impl<'a> Checker<'a> {
    fn new(kernel: &'a dyn KernelTypes, options: &'a CheckOptions, maps: MapTable, silent: bool) -> Checker<'a> {
        Checker {
            kernel,
            options,
            maps,
            silent,
            diags: Vec::new(),
            seen: HashSet::new(),
            scope: None,
            field_names: BTreeMap::new(),
            records: Default::default(),
            hints: HashMap::new(),
            learnt: HashMap::new(),
            missing_probes: Default::default(),
            getopt_names: BTreeSet::new(),
        }
    }

    /// Record a diagnostic once: a probe with several attach points is
    /// checked once per attach point and would otherwise repeat itself.
    pub fn report(&mut self, diag: Diagnostic) {
        if self.silent {
            return;
        }
        if self.seen.insert((diag.span, diag.message.clone())) {
            self.diags.push(diag);
        }
    }

    pub fn error(&mut self, span: Span, message: impl Into<String>) {
        self.report(Diagnostic::error(span, message));
    }

    pub fn error_hint(&mut self, span: Span, message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::error(span, message);
        if let Some(h) = hint {
            d = d.with_hint(h);
        }
        self.report(d);
    }

    /// `--bb` given but no `getopt("bb")`: bpftrace refuses it, so a typo
    /// in an option's name is not silently a default. Reported at the
    /// program's first line, as the command line has no source of its own.
    fn unexpected_named_params(&mut self, program: &ast::Program) {
        let unexpected: Vec<String> =
            self.options.named.iter().filter(|(n, _)| !self.getopt_names.contains(n)).map(|(n, _)| format!("--{n}")).collect();
        if unexpected.is_empty() {
            return;
        }
        let at = program.items.first().map_or(Span::default(), |item| match item {
            ast::Item::Probe(p) => p.span,
            ast::Item::MapDecl(d) => d.span,
            ast::Item::Config(c) => c.span,
            ast::Item::Record(r) => r.span,
            ast::Item::Enum(e) => e.span,
        });
        let at = Span { start: at.start, end: at.start };
        let expected: Vec<String> = self.getopt_names.iter().map(|n| format!("--{n}")).collect();
        let hint = if expected.is_empty() { "this program reads no named parameters".to_string() } else { format!("expected program options: {}", expected.join(", ")) };
        self.error_hint(at, format!("unexpected program command line options: {}", unexpected.join(", ")), Some(hint));
    }

    fn program(&mut self, program: &ast::Program) -> Vec<TProbe> {
        let mut probes = Vec::new();
        for item in &program.items {
            match item {
                ast::Item::MapDecl(decl) => self.map_decl(decl),
                ast::Item::Probe(_) | ast::Item::Config(_) | ast::Item::Record(_) | ast::Item::Enum(_) => {}
            }
        }
        if !self.options.interactive {
            self.iterators_alone(program);
        }
        let source_probes = program.items.iter().filter_map(|i| match i {
            ast::Item::Probe(p) => Some(p),
            _ => None,
        });
        for (index, probe) in source_probes.enumerate() {
            for scope in self.expand_probe(probe) {
                probes.push(self.probe(probe, index, scope));
            }
        }
        probes
    }

    fn probe(&mut self, probe: &ast::Probe, index: usize, scope: ProbeScope) -> TProbe {
        self.scope = Some(scope);
        let predicate = probe.predicate.as_ref().and_then(|p| self.condition(p));
        let body = self.block(&probe.body);
        self.learn_var_types();
        for var in self.scope().scoping.unassigned() {
            self.report(Diagnostic::warning(var, "this variable is declared but never assigned: it stays 0"));
        }
        let scope = self.scope.take().expect("scope set above");
        let mut tprobe =
            TProbe { attach: scope.attach, source_probe: index, predicate, body, vars: scope.vars, span: probe.span };
        stmt::settle_var_types(&mut tprobe);
        tprobe
    }

    pub fn scope(&self) -> &ProbeScope {
        self.scope.as_ref().expect("expressions are checked inside a probe")
    }

    pub fn scope_mut(&mut self) -> &mut ProbeScope {
        self.scope.as_mut().expect("expressions are checked inside a probe")
    }

    pub fn probe_kind(&self) -> ProbeKind {
        self.scope().kind
    }
}

/// The size in bytes a value of `ty` occupies (pointers and registers 8).
pub fn type_size(ty: &Type) -> u32 {
    match ty {
        Type::Void | Type::Args => 0,
        Type::Int(i) => i.bytes(),
        Type::Bool | Type::Pointer(..) | Type::ProbeName | Type::CgroupName(_) => 8,
        Type::Str { cap } => *cap,
        // Address family + 16 address bytes, as the runtime lays it out.
        Type::Inet => 24,
        Type::Record(r) => r.size,
        Type::Array { elem, len } => type_size(elem).saturating_mul(*len),
        Type::Tuple(items) => tuple_size(items),
        Type::Agg(_) => 8,
        Type::Rendered(r) => rendered_size(r),
    }
}

/// A tuple's size as bpftrace reports it (`sizeof`): a C struct of its
/// elements, each at its natural alignment, padded to the largest one, so
/// `(int8, int64)` is 16 and `(int8, string[4])` is 5. (flowtrace's own
/// map and event layout widens every integer to 8 bytes: `codegen::layout`.)
fn tuple_size(items: &[Type]) -> u32 {
    let mut size = 0u32;
    let mut max_align = 1;
    for item in items {
        let align = type_align(item);
        max_align = max_align.max(align);
        size = size.next_multiple_of(align).saturating_add(type_size(item));
    }
    size.next_multiple_of(max_align)
}

/// C alignment of a value of `ty`: an integer's own size, a string's bytes 1.
fn type_align(ty: &Type) -> u32 {
    match ty {
        Type::Int(i) => i.bytes(),
        Type::Str { .. } | Type::Void | Type::Args => 1,
        Type::Array { elem, .. } => type_align(elem),
        Type::Tuple(items) => items.iter().map(type_align).max().unwrap_or(1),
        // Kernel records are taken as 8-aligned: BTF does not record alignment.
        Type::Bool | Type::Pointer(..) | Type::ProbeName | Type::CgroupName(_) | Type::Inet | Type::Record(_) | Type::Agg(_) | Type::Rendered(_) => 8,
    }
}

/// `sizeof` of a rendered value, as bpftrace reports it: the data it holds.
fn rendered_size(r: &crate::types::Rendered) -> u32 {
    use crate::types::Rendered;
    match r {
        Rendered::Username | Rendered::Timestamp { .. } | Rendered::Stack(_) | Rendered::Ksym
        | Rendered::Strerror
        | Rendered::SyscallName
        | Rendered::SignalName
        | Rendered::EnumName { .. } => 8,
        Rendered::Usym => 16,
        Rendered::MacAddr => 6,
        Rendered::Buffer { cap } => *cap,
    }
}
