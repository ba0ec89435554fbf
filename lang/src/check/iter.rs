//! `iter:NAME` probes: the iterator must be one the kernel's BTF describes
//! (a `bpf_iter_NAME` function and its `struct bpf_iter__NAME` context), and
//! `ctx.FIELD` reads that context. The context is the function's parameter
//! list laid out as 8-byte slots (`meta`, then the object: `task`,
//! `sk_common`, …), so a field is a parameter slot, typed from BTF, as
//! fentry's `args.NAME` is.
//!
//! As in bpftrace, an iterator cannot share a script with other probes
//! (BEGIN and END aside): the script runs the iteration once and ends.

use super::Checker;
use crate::ast::{self, Expr, Ident};
use crate::diag::did_you_mean_hint;
use crate::kernel::{FuncProto, KernelTypes, TypeKeyword};
use crate::span::Span;
use crate::typed::{TExpr, TExprKind};

/// The iterators the kernel's BTF describes (`task`, `tcp`, …), sorted:
/// every `bpf_iter_NAME` function that has a `struct bpf_iter__NAME`
/// (which leaves out the open-coded iterator kfuncs `bpf_iter_num_new`, …).
pub fn kernel_iterators(kernel: &dyn KernelTypes) -> Vec<String> {
    let mut names: Vec<String> = kernel
        .match_functions("bpf_iter_*")
        .into_iter()
        .filter_map(|f| f.strip_prefix("bpf_iter_").map(str::to_string))
        .filter(|n| kernel.find_type(TypeKeyword::Struct, &format!("bpf_iter__{n}")).is_some())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The prototype whose parameters are iterator `name`'s context fields.
pub fn iterator_context(kernel: &dyn KernelTypes, name: &str) -> Option<FuncProto> {
    kernel.find_type(TypeKeyword::Struct, &format!("bpf_iter__{name}"))?;
    kernel.function(&format!("bpf_iter_{name}"))
}

/// Iterators over the elements of one map, which the link must name
/// (`iter_info.map.map_fd`); flowtrace has no syntax for that yet.
const OVER_ONE_MAP: &[&str] = &["bpf_map_elem", "bpf_sk_storage_map", "sockmap"];

impl Checker<'_> {
    /// The context of `iter:NAME`, or an error saying which iterators exist.
    pub(super) fn iterator(&mut self, name: &str, span: Span) -> Option<FuncProto> {
        if OVER_ONE_MAP.contains(&name) {
            self.error_hint(
                span,
                format!("iter:{name} iterates over one map, which flowtrace cannot name yet"),
                Some("iterators that need no target: task, task_file, task_vma, tcp, udp, unix, bpf_map, bpf_prog".into()),
            );
            return None;
        }
        if let Some(proto) = iterator_context(self.kernel, name) {
            return Some(proto);
        }
        let known = kernel_iterators(self.kernel);
        let hint = did_you_mean_hint(name, known.iter().map(String::as_str)).or_else(|| {
            (!known.is_empty()).then(|| format!("this kernel's iterators are: {}", known.join(", ")))
        });
        self.error_hint(span, format!("iterator '{name}' is not in this kernel's BTF (no bpf_iter_{name})"), hint);
        None
    }

    /// `ctx.FIELD` in an `iter:` probe; `None` (and no error) elsewhere, so
    /// the caller treats `ctx` as any other name.
    pub(super) fn iter_ctx_field(&mut self, base: &Expr, field: &Ident, span: Span) -> Option<Option<TExpr>> {
        if !matches!(&base.kind, ast::ExprKind::Ident(n) if n == "ctx") {
            return None;
        }
        let proto = self.scope().iter.clone()?;
        let Some(index) = proto.params.iter().position(|(n, _)| *n == field.name) else {
            let names: Vec<&str> = proto.params.iter().map(|(n, _)| n.as_str()).collect();
            let hint = did_you_mean_hint(&field.name, names.iter().copied())
                .or_else(|| Some(format!("its fields are: {}", names.join(", "))));
            let iter = proto.name.trim_start_matches("bpf_iter_").to_string();
            self.error_hint(field.span, format!("the context of iter:{iter} has no field '{}'", field.name), hint);
            return Some(None);
        };
        self.field_names.insert(span, field.name.clone());
        let ty = proto.params[index].1.clone();
        Some(Some(TExpr { kind: TExprKind::FuncArg { index: index as u8 }, ty, span }))
    }

    /// `ctx` alone in an `iter:` probe (a pointer flowtrace does not hand out).
    pub(super) fn bare_iter_ctx(&mut self, name: &str, span: Span) -> bool {
        let Some(proto) = self.scope.as_ref().and_then(|s| s.iter.clone()).filter(|_| name == "ctx") else {
            return false;
        };
        let names: Vec<&str> = proto.params.iter().map(|(n, _)| n.as_str()).collect();
        self.error_hint(span, "'ctx' is only usable with a field: ctx.FIELD", Some(format!("its fields are: {}", names.join(", "))));
        true
    }

    /// An iterator runs alone: at most one `iter:` attach point, and no
    /// other probes but BEGIN and END (bpftrace's rule; the run ends when
    /// the iteration does, which would cut other probes short).
    pub(super) fn iterators_alone(&mut self, program: &ast::Program) {
        let points: Vec<&ast::AttachPoint> = program
            .items
            .iter()
            .filter_map(|i| match i {
                ast::Item::Probe(p) => Some(p),
                _ => None,
            })
            .flat_map(|p| p.attach.iter())
            .collect();
        let Some(first) = points.iter().find(|a| a.kind.iterator().is_some()) else {
            return;
        };
        let first_span = first.span;
        for other in points {
            if other.span == first_span || matches!(other.kind, ast::AttachKind::Begin | ast::AttachKind::End) {
                continue;
            }
            let what = if other.kind.iterator().is_some() { "a second iterator" } else { "another probe" };
            self.error_hint(
                other.span,
                format!("an iter probe runs alone: this script cannot also have {what}"),
                Some("an iterator runs once and the script ends; only BEGIN and END may go with it".into()),
            );
        }
    }
}
