//! bpftrace's `macro` definitions, expanded in the syntax tree before
//! checking, so that later passes never see them.
//!
//! ```text
//! macro add_one_to_each($a, @b) { $a += 1; @b += 1; }
//! ```
//!
//! A parameter says what its argument must be: `$x` a scratch variable (the
//! body's `$x` becomes the caller's), `@m` a map (likewise), a bare `x` any
//! expression (substituted wherever the body names `x`, so evaluated once per
//! use, as in bpftrace). Macros are hygienic as bpftrace documents: the body
//! may touch only the maps it is given, and its other variables are its own
//! (renamed apart from the caller's). A body whose last statement is an
//! expression without `;` has that value and can be used inside
//! expressions (with statements before the value, as a block expression).
//!
//! Expanded nodes keep their spans: the body's point into the definition,
//! the arguments' into the call.

use crate::ast::{Block, Expr, ExprKind, ForIter, Item, MapRef, Stmt, StmtKind};
use crate::diag::Diagnostic;
use crate::span::Span;
use std::collections::HashMap;

#[derive(Clone, Debug)]
pub(crate) struct MacroDef {
    pub name: String,
    pub params: Vec<Param>,
    pub body: Block,
    /// The body ends in an expression without `;`: the macro has a value.
    pub has_value: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub(crate) struct Param {
    pub kind: ParamKind,
    /// Without `$` or `@`.
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParamKind {
    Var,
    Map,
    Expr,
}

/// Deepest nesting of macro uses inside macro bodies.
const MAX_DEPTH: usize = 32;

/// Expand every macro use in `items`; errors for misuse.
pub(crate) fn expand(items: &mut [Item], defs: Vec<MacroDef>) -> Vec<Diagnostic> {
    let mut ex = Expander { defs: HashMap::new(), diags: Vec::new(), stack: Vec::new(), fresh: 0 };
    for def in defs {
        for (i, p) in def.params.iter().enumerate() {
            if def.params[..i].iter().any(|q| q.name == p.name) {
                ex.diags.push(Diagnostic::error(p.span, format!("macro '{}' has two parameters named '{}'", def.name, p.name)));
            }
        }
        if let Some(old) = ex.defs.get(&def.name) {
            let (line_of_old, span) = (old.span, def.span);
            ex.diags.push(Diagnostic::error(span, format!("macro '{}' is defined twice", def.name)).with_hint(format!(
                "the first definition is at byte {}; rename one of them",
                line_of_old.start
            )));
            continue;
        }
        ex.defs.insert(def.name.clone(), def);
    }
    if ex.defs.is_empty() {
        return ex.diags;
    }
    for item in items.iter_mut() {
        if let Item::Probe(probe) = item {
            if let Some(pred) = &mut probe.predicate {
                ex.expr(pred);
            }
            ex.block(&mut probe.body);
        }
    }
    ex.diags
}

struct Expander {
    defs: HashMap<String, MacroDef>,
    diags: Vec<Diagnostic>,
    /// Macros being expanded, innermost last: a use of one of them is a cycle.
    stack: Vec<String>,
    /// Counter for renaming a body's own variables apart.
    fresh: u32,
}

/// What a macro's parameters stand for in one use.
#[derive(Default)]
struct Binding {
    vars: HashMap<String, String>,
    maps: HashMap<String, String>,
    exprs: HashMap<String, Expr>,
    /// The body's own variables, renamed.
    locals: HashMap<String, String>,
    fresh: u32,
}

impl Expander {
    fn block(&mut self, block: &mut Block) {
        for stmt in &mut block.stmts {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, stmt: &mut Stmt) {
        if let StmtKind::Expr(Expr { kind: ExprKind::Call { func, args }, span }) = &stmt.kind {
            if self.defs.contains_key(&func.name) {
                let (name, args, span) = (func.name.clone(), args.clone(), *span);
                if let Some(body) = self.instantiate(&name, args, span, false) {
                    stmt.kind = StmtKind::Block(body);
                }
                return;
            }
        }
        match &mut stmt.kind {
            StmtKind::Expr(e) => self.expr(e),
            StmtKind::AssignVar { value, .. } => self.expr(value),
            StmtKind::AssignMap { map, value, .. } => {
                self.map_keys(map);
                self.expr(value);
            }
            StmtKind::If { cond, then, otherwise } => {
                self.expr(cond);
                self.block(then);
                if let Some(b) = otherwise {
                    self.block(b);
                }
            }
            StmtKind::While { cond, body } => {
                self.expr(cond);
                self.block(body);
            }
            StmtKind::Unroll { body, .. } | StmtKind::Block(body) => self.block(body),
            StmtKind::For { iter, body, .. } => {
                match iter {
                    ForIter::Range { start, end } => {
                        self.expr(start);
                        self.expr(end);
                    }
                    ForIter::Map(m) => self.map_keys(m),
                }
                self.block(body);
            }
            StmtKind::Let { value, .. } => {
                if let Some(v) = value {
                    self.expr(v);
                }
            }
            StmtKind::Break | StmtKind::Continue | StmtKind::Return => {}
        }
    }

    fn map_keys(&mut self, map: &mut MapRef) {
        for k in &mut map.keys {
            self.expr(k);
        }
    }

    fn expr(&mut self, expr: &mut Expr) {
        let used = match &expr.kind {
            ExprKind::Call { func, args } if self.defs.contains_key(&func.name) => Some((func.name.clone(), args.clone())),
            ExprKind::Ident(name) if self.defs.get(name).is_some_and(|d| d.params.is_empty()) => Some((name.clone(), Vec::new())),
            _ => None,
        };
        if let Some((name, args)) = used {
            if let Some(value) = self.value_of(&name, args, expr.span) {
                *expr = value;
            }
            return;
        }
        match &mut expr.kind {
            ExprKind::Map(m) => self.map_keys(m),
            ExprKind::Call { args, .. } | ExprKind::Tuple(args) => args.iter_mut().for_each(|a| self.expr(a)),
            ExprKind::Unary { expr: e, .. }
            | ExprKind::Cast { expr: e, .. }
            | ExprKind::Field { expr: e, .. }
            | ExprKind::IncDec { target: e, .. } => self.expr(e),
            ExprKind::Binary { lhs, rhs, .. } | ExprKind::Index { expr: lhs, index: rhs } => {
                self.expr(lhs);
                self.expr(rhs);
            }
            ExprKind::Ternary { cond, then, otherwise } => {
                self.expr(cond);
                self.expr(then);
                self.expr(otherwise);
            }
            ExprKind::Block { stmts, value } => {
                stmts.iter_mut().for_each(|s| self.stmt(s));
                self.expr(value);
            }
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Bool(_)
            | ExprKind::Ident(_)
            | ExprKind::Var(_)
            | ExprKind::Positional(_)
            | ExprKind::PositionalCount
            | ExprKind::TypeArg(_) => {}
        }
    }

    /// A macro used where a value is needed. A body that is one expression
    /// is that expression; one with statements before its value becomes a
    /// block expression (`{ stmts; value }`), as bpftrace expands it, so
    /// the statements run first, in a scope of their own, wherever the use
    /// is evaluated.
    fn value_of(&mut self, name: &str, args: Vec<Expr>, at: Span) -> Option<Expr> {
        let def = &self.defs[name];
        if !def.has_value {
            self.diags.push(
                Diagnostic::error(at, format!("macro '{name}' has no value"))
                    .with_hint("its body does not end in an expression without ';'; use it as a statement"),
            );
            return None;
        }
        let mut body = self.instantiate(name, args, at, true)?;
        let value = match body.stmts.pop().map(|s| s.kind) {
            Some(StmtKind::Expr(e)) => e,
            _ => return None,
        };
        if body.stmts.is_empty() {
            return Some(value);
        }
        Some(Expr { kind: ExprKind::Block { stmts: body.stmts, value: Box::new(value) }, span: at })
    }

    /// The body of `name` for one use, parameters bound and variables renamed,
    /// with the macros it uses expanded in turn (`as_value`: its one
    /// expression, as an expression, not as a statement).
    fn instantiate(&mut self, name: &str, args: Vec<Expr>, at: Span, as_value: bool) -> Option<Block> {
        if self.stack.iter().any(|n| n == name) || self.stack.len() >= MAX_DEPTH {
            self.diags.push(Diagnostic::error(at, format!("macro '{name}' uses itself")).with_hint(format!("expanding {}", self.stack.join(" → "))));
            return None;
        }
        let def = self.defs[name].clone();
        if def.params.len() != args.len() {
            self.diags.push(Diagnostic::error(at, format!("macro '{name}' takes {} arguments, {} given", def.params.len(), args.len())));
            return None;
        }
        let mut binding = Binding { fresh: self.fresh, ..Binding::default() };
        self.fresh += 1;
        for (param, arg) in def.params.iter().zip(args) {
            match (param.kind, &arg.kind) {
                (ParamKind::Var, ExprKind::Var(v)) => _ = binding.vars.insert(param.name.clone(), v.clone()),
                (ParamKind::Map, ExprKind::Map(m)) if m.keys.is_empty() => _ = binding.maps.insert(param.name.clone(), m.name.clone()),
                (ParamKind::Expr, _) => _ = binding.exprs.insert(param.name.clone(), arg),
                // Bound to themselves after the error, so that the body's
                // uses of them do not report a second, misleading one.
                (ParamKind::Var, _) => {
                    self.diags.push(Diagnostic::error(arg.span, format!("macro '{name}' expects a scratch variable for ${}", param.name)));
                    binding.vars.insert(param.name.clone(), param.name.clone());
                }
                (ParamKind::Map, _) => {
                    self.diags.push(Diagnostic::error(arg.span, format!("macro '{name}' expects a map (without keys) for @{}", param.name)));
                    binding.maps.insert(param.name.clone(), param.name.clone());
                }
            }
        }
        let mut body = def.body.clone();
        let before = self.diags.len();
        binding.block(&mut body, name, &mut self.diags);
        if self.diags.len() > before {
            return None;
        }
        self.stack.push(name.to_string());
        match body.stmts.split_last_mut() {
            Some((Stmt { kind: StmtKind::Expr(value), .. }, before)) if as_value => {
                before.iter_mut().for_each(|s| self.stmt(s));
                self.expr(value);
            }
            _ => self.block(&mut body),
        }
        self.stack.pop();
        Some(body)
    }
}

impl Binding {
    fn local(&mut self, var: &str) -> String {
        if let Some(caller) = self.vars.get(var) {
            return caller.clone();
        }
        let fresh = self.fresh;
        self.locals.entry(var.to_string()).or_insert_with(|| format!("__macro{fresh}_{var}")).clone()
    }

    /// Hygiene for variables: the body reads only its parameters and the
    /// variables it assigned itself (earlier in the body).
    fn check_readable(&self, var: &str, span: Span, macro_name: &str, diags: &mut Vec<Diagnostic>) {
        if self.vars.contains_key(var) || self.locals.contains_key(var) {
            return;
        }
        diags.push(
            Diagnostic::error(span, format!("macro '{macro_name}' uses ${var}, which it was not given"))
                .with_hint(format!("macros see only the variables passed to them: add a parameter ${var}, or assign it in the body first")),
        );
    }

    fn map(&mut self, map: &mut MapRef, macro_name: &str, diags: &mut Vec<Diagnostic>) {
        match self.maps.get(&map.name) {
            Some(caller) => map.name = caller.clone(),
            None => diags.push(
                Diagnostic::error(map.name_span, format!("macro '{macro_name}' uses @{}, which it was not given", map.name))
                    .with_hint(format!("macros see only the maps passed to them: add a parameter @{}", map.name)),
            ),
        }
        for k in &mut map.keys {
            self.expr(k, macro_name, diags);
        }
    }

    fn block(&mut self, block: &mut Block, m: &str, diags: &mut Vec<Diagnostic>) {
        self.stmts(&mut block.stmts, m, diags);
    }

    fn stmts(&mut self, stmts: &mut [Stmt], m: &str, diags: &mut Vec<Diagnostic>) {
        for stmt in stmts {
            match &mut stmt.kind {
                StmtKind::Expr(e) => self.expr(e, m, diags),
                StmtKind::AssignVar { var, value, op } => {
                    self.expr(value, m, diags);
                    if op.is_some() {
                        self.check_readable(&var.name, var.span, m, diags);
                    }
                    var.name = self.local(&var.name);
                }
                StmtKind::AssignMap { map, value, .. } => {
                    self.map(map, m, diags);
                    self.expr(value, m, diags);
                }
                StmtKind::If { cond, then, otherwise } => {
                    self.expr(cond, m, diags);
                    self.block(then, m, diags);
                    if let Some(b) = otherwise {
                        self.block(b, m, diags);
                    }
                }
                StmtKind::While { cond, body } => {
                    self.expr(cond, m, diags);
                    self.block(body, m, diags);
                }
                StmtKind::Unroll { body, .. } | StmtKind::Block(body) => self.block(body, m, diags),
                StmtKind::For { var, iter, body } => {
                    match iter {
                        ForIter::Range { start, end } => {
                            self.expr(start, m, diags);
                            self.expr(end, m, diags);
                        }
                        ForIter::Map(map) => self.map(map, m, diags),
                    }
                    var.name = self.local(&var.name);
                    self.block(body, m, diags);
                }
                StmtKind::Let { var, value, .. } => {
                    if let Some(v) = value {
                        self.expr(v, m, diags);
                    }
                    var.name = self.local(&var.name);
                }
                StmtKind::Break | StmtKind::Continue | StmtKind::Return => {}
            }
        }
    }

    fn expr(&mut self, expr: &mut Expr, m: &str, diags: &mut Vec<Diagnostic>) {
        match &mut expr.kind {
            ExprKind::Ident(name) => {
                if let Some(arg) = self.exprs.get(name.as_str()) {
                    *expr = arg.clone();
                }
            }
            ExprKind::Var(name) => {
                self.check_readable(name, expr.span, m, diags);
                *name = self.local(name);
            }
            ExprKind::Map(map) => self.map(map, m, diags),
            ExprKind::Call { args, .. } | ExprKind::Tuple(args) => args.iter_mut().for_each(|a| self.expr(a, m, diags)),
            ExprKind::Unary { expr: e, .. }
            | ExprKind::Cast { expr: e, .. }
            | ExprKind::Field { expr: e, .. }
            | ExprKind::IncDec { target: e, .. } => self.expr(e, m, diags),
            ExprKind::Binary { lhs, rhs, .. } | ExprKind::Index { expr: lhs, index: rhs } => {
                self.expr(lhs, m, diags);
                self.expr(rhs, m, diags);
            }
            ExprKind::Ternary { cond, then, otherwise } => {
                self.expr(cond, m, diags);
                self.expr(then, m, diags);
                self.expr(otherwise, m, diags);
            }
            ExprKind::Block { stmts, value } => {
                self.stmts(stmts, m, diags);
                self.expr(value, m, diags);
            }
            ExprKind::Int(_)
            | ExprKind::Str(_)
            | ExprKind::Bool(_)
            | ExprKind::Positional(_)
            | ExprKind::PositionalCount
            | ExprKind::TypeArg(_) => {}
        }
    }
}
