//! `cgroup_path(id[, filter])`, `pod(id)`, `container(id)`: an integer cgroup
//! id tagged with how user space will name it (stdlib/src/cgroup.rs).

use super::Checker;
use crate::ast::Expr;
use crate::span::Span;
use crate::typed::{TExpr, TExprKind};
use crate::types::{CgroupView, Type};
use flowtrace_stdlib::Func;

impl Checker<'_> {
    pub(super) fn cgroup_name(&mut self, func: Func, args: &[Expr], span: Span) -> Option<TExpr> {
        let id = self.expr(&args[0]);
        // bpftrace's default filter: every hierarchy.
        let filter = match args.get(1) {
            Some(f) => self.literal_string(f, "cgroup_path()'s filter"),
            None => Some("*".to_string()),
        };
        let id = id?;
        if !id.ty.is_integer() {
            let hint = "pass a cgroup id such as `cgroup`";
            self.error(args[0].span, format!("{}() needs an integer cgroup id, not '{}'; {hint}", func.name(), id.ty));
            return None;
        }
        let view = match func {
            Func::Pod => CgroupView::Pod,
            Func::Container => CgroupView::Container,
            _ => CgroupView::Path { filter: filter? },
        };
        Some(TExpr { kind: TExprKind::Call { func, args: vec![id] }, ty: Type::CgroupName(view), span })
    }
}
