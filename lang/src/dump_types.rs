//! `flowtrace -d types`: the checked program as text. Maps with their key and
//! value types, then each concrete probe with its variables and statements;
//! under each statement, every expression as a tree with its type. Kernel
//! memory reads show where they read: `(offset 12, 2 bytes)`.
//!
//! ```text
//! probe kprobe:tcp_sendmsg (source probe 0)
//!   $sk = (struct sock *)arg0
//!     (struct sock *)arg0 : struct sock *
//!       arg0 : uint64
//! ```

use crate::ast::UnOp;
use crate::check::type_size;
use crate::typed::{TExpr, TExprKind, TProbe, TStmt, TStmtKind, TypedProgram};
use crate::types::Type;
use std::fmt::Write;

pub fn dump_types(p: &TypedProgram) -> String {
    let mut out = String::new();
    if !p.maps.is_empty() {
        out.push_str("maps:\n");
        for m in &p.maps {
            let key = if m.key.is_empty() {
                String::new()
            } else {
                format!("[{}]", m.key.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", "))
            };
            let _ = write!(out, "  @{}{key} : {}", m.name, m.value);
            if let Some((kind, n)) = m.declared {
                let _ = write!(out, "  ({kind:?}, {n} entries)");
            }
            out.push('\n');
        }
    }
    for probe in &p.probes {
        Dumper { program: p, probe, out: &mut out }.probe();
    }
    out
}

struct Dumper<'a> {
    program: &'a TypedProgram,
    probe: &'a TProbe,
    out: &'a mut String,
}

impl Dumper<'_> {
    fn probe(&mut self) {
        let _ = writeln!(self.out, "probe {} (source probe {})", self.probe.attach.raw, self.probe.source_probe);
        for v in &self.probe.vars {
            let _ = writeln!(self.out, "  var ${} : {}", v.name, v.ty);
        }
        if let Some(pred) = &self.probe.predicate {
            let _ = writeln!(self.out, "  predicate /{}/", self.text(pred));
            self.tree(pred, 2);
        }
        for s in &self.probe.body {
            self.stmt(s, 1);
        }
    }

    fn line(&mut self, depth: usize, text: &str) {
        let _ = writeln!(self.out, "{}{text}", "  ".repeat(depth));
    }

    fn stmt(&mut self, s: &TStmt, depth: usize) {
        let map = |id: crate::typed::MapId| format!("@{}", self.program.maps.get(id.0 as usize).map_or("?", |m| m.name.as_str()));
        let key = |k: &Option<TExpr>| k.as_ref().map_or(String::new(), |k| format!("[{}]", self.key_text(k)));
        let (header, exprs): (String, Vec<&TExpr>) = match &s.kind {
            TStmtKind::Expr(e) => (self.text(e), vec![e]),
            TStmtKind::AssignVar { var, value } => (format!("{} = {}", self.var(var.0), self.text(value)), vec![value]),
            TStmtKind::MapStore { map: m, key: k, value } => {
                (format!("{}{} = {}", map(*m), key(k), self.text(value)), k.iter().chain([value]).collect())
            }
            TStmtKind::MapUpdate { map: m, key: k, op, value } => {
                (format!("{}{} {}= {}", map(*m), key(k), op.symbol(), self.text(value)), k.iter().chain([value]).collect())
            }
            TStmtKind::Aggregate { map: m, key: k, agg, arg } => {
                let arg_text = arg.as_ref().map_or(String::new(), |a| self.text(a));
                let f = agg.func_name();
                (format!("{}{} = {f}({arg_text}) : {}", map(*m), key(k), Type::Agg(*agg)), k.iter().chain(arg.iter()).collect())
            }
            TStmtKind::If { cond, then, otherwise } => {
                self.line(depth, &format!("if ({})", self.text(cond)));
                self.tree(cond, depth + 1);
                for s in then {
                    self.stmt(s, depth + 1);
                }
                if !otherwise.is_empty() {
                    self.line(depth, "else");
                    for s in otherwise {
                        self.stmt(s, depth + 1);
                    }
                }
                return;
            }
            TStmtKind::While { cond, body } => {
                self.line(depth, &format!("while ({})", self.text(cond)));
                self.tree(cond, depth + 1);
                for s in body {
                    self.stmt(s, depth + 1);
                }
                return;
            }
            TStmtKind::ForRange { var, start, end, body } => {
                self.line(depth, &format!("for ({} : {}..{})", self.var(var.0), self.text(start), self.text(end)));
                self.tree(start, depth + 1);
                self.tree(end, depth + 1);
                for s in body {
                    self.stmt(s, depth + 1);
                }
                return;
            }
            TStmtKind::ForMap { var, map: m, body } => {
                self.line(depth, &format!("for ({} : {})", self.var(var.0), map(*m)));
                for s in body {
                    self.stmt(s, depth + 1);
                }
                return;
            }
            TStmtKind::Break => ("break".into(), vec![]),
            TStmtKind::Continue => ("continue".into(), vec![]),
            TStmtKind::ZeroVar { var } => (format!("let {}", self.var(var.0)), vec![]),
            TStmtKind::Return => ("return".into(), vec![]),
            TStmtKind::Printf { format, args } => {
                let mut h = format!("printf({:?}", format.text);
                for a in args {
                    let _ = write!(h, ", {}", self.text(a));
                }
                h.push(')');
                (h, args.iter().collect())
            }
            TStmtKind::Time { format } => (format!("time({format:?})"), vec![]),
            TStmtKind::PrintMap { map: m, top, div } => (format!("print({}, top {top}, div {div})", map(*m)), vec![]),
            TStmtKind::PrintValue { value } => (format!("print({})", self.text(value)), vec![value]),
            TStmtKind::Clear { map: m } => (format!("clear({})", map(*m)), vec![]),
            TStmtKind::Zero { map: m } => (format!("zero({})", map(*m)), vec![]),
            TStmtKind::Delete { map: m, key: k } => (format!("delete({}{})", map(*m), key(k)), k.iter().collect()),
            TStmtKind::Exit { code: None } => ("exit()".into(), vec![]),
            TStmtKind::Exit { code: Some(c) } => (format!("exit({})", self.text(c)), vec![c]),
            TStmtKind::Action { action, args } => {
                let mut h = match action {
                    crate::typed::Action::Cat { format } => format!("cat({:?}", format.text),
                    crate::typed::Action::System { format } => format!("system({:?}", format.text),
                    crate::typed::Action::Join { sep } => format!("join(sep {sep:?}"),
                    crate::typed::Action::Signal => "signal(".to_string(),
                };
                for a in args {
                    let _ = write!(h, ", {}", self.text(a));
                }
                h.push(')');
                (h, args.iter().collect())
            }
        };
        self.line(depth, &header);
        for e in exprs {
            self.tree(e, depth + 1);
        }
    }

    /// The expression and each sub-expression, one per line, with types.
    fn tree(&mut self, e: &TExpr, depth: usize) {
        let mut line = format!("{} : {}", self.text(e), e.ty);
        match &e.kind {
            TExprKind::Member { offset, bitfield, .. } => {
                match bitfield {
                    Some(b) => {
                        let _ = write!(line, " (offset {offset}, bits {}..{})", b.bit_offset, b.bit_offset + b.bits);
                    }
                    None => {
                        let _ = write!(line, " (offset {offset}, {} bytes)", type_size(&e.ty));
                    }
                }
            }
            TExprKind::TracepointArg { offset, size, data_loc } => {
                let loc = if *data_loc { ", __data_loc" } else { "" };
                let _ = write!(line, " (context offset {offset}, {size} bytes{loc})");
            }
            TExprKind::FuncArg { index } => {
                let _ = write!(line, " (argument {index})");
            }
            TExprKind::Index { elem_size, .. } => {
                let _ = write!(line, " ({elem_size}-byte elements)");
            }
            _ => {}
        }
        self.line(depth, &line);
        for child in children(e) {
            self.tree(child, depth + 1);
        }
    }

    /// A map key without the tuple's parentheses: `@m[a, b]`.
    fn key_text(&self, k: &TExpr) -> String {
        match &k.kind {
            TExprKind::Tuple(items) => items.iter().map(|i| self.text(i)).collect::<Vec<_>>().join(", "),
            _ => self.text(k),
        }
    }

    fn var(&self, id: u32) -> String {
        format!("${}", self.probe.vars.get(id as usize).map_or("?", |v| v.name.as_str()))
    }

    fn field(&self, e: &TExpr) -> String {
        self.program.field_names.get(&e.span).cloned().unwrap_or_else(|| "?".into())
    }

    /// Source-like text of an expression.
    fn text(&self, e: &TExpr) -> String {
        match &e.kind {
            TExprKind::Int(v) => match &e.ty {
                Type::Int(i) if i.signed => (*v as i64).to_string(),
                Type::Bool => (*v != 0).to_string(),
                _ => v.to_string(),
            },
            TExprKind::Str(s) => format!("{s:?}"),
            TExprKind::Builtin(b) => b.name().to_string(),
            TExprKind::Var(id) => self.var(id.0),
            TExprKind::MapRead { map, key } => {
                let name = self.program.maps.get(map.0 as usize).map_or("?", |m| m.name.as_str());
                let key = key.as_ref().map_or(String::new(), |k| format!("[{}]", self.key_text(k)));
                format!("@{name}{key}")
            }
            TExprKind::Unary { op, expr } => {
                let sym = match op {
                    UnOp::Neg => "-",
                    UnOp::Not => "!",
                    UnOp::BitNot => "~",
                    UnOp::Deref => "*",
                    UnOp::AddrOf => "&",
                };
                format!("{sym}{}", self.text(expr))
            }
            TExprKind::Binary { op, lhs, rhs } => format!("({} {} {})", self.text(lhs), op.symbol(), self.text(rhs)),
            TExprKind::Ternary { cond, then, otherwise } => {
                format!("({} ? {} : {})", self.text(cond), self.text(then), self.text(otherwise))
            }
            TExprKind::Cast { expr } => format!("({}){}", e.ty, self.text(expr)),
            TExprKind::Member { base, offset: 0, .. } if !self.program.field_names.contains_key(&e.span) => {
                format!("*{}", self.text(base))
            }
            TExprKind::Member { base, .. } => {
                let sep = if base.ty.is_pointer() { "->" } else { "." };
                format!("{}{sep}{}", self.text(base), self.field(e))
            }
            TExprKind::Index { base, index, .. } => format!("{}[{}]", self.text(base), self.text(index)),
            TExprKind::TracepointArg { .. } | TExprKind::FuncArg { .. } => format!("args.{}", self.field(e)),
            TExprKind::Tuple(items) => {
                format!("({})", items.iter().map(|i| self.text(i)).collect::<Vec<_>>().join(", "))
            }
            TExprKind::IncDec { target, increment, prefix } => {
                let op = if *increment { "++" } else { "--" };
                if *prefix {
                    format!("{op}{}", self.text(target))
                } else {
                    format!("{}{op}", self.text(target))
                }
            }
            TExprKind::Call { func, args } => {
                format!("{}({})", func.name(), args.iter().map(|a| self.text(a)).collect::<Vec<_>>().join(", "))
            }
            TExprKind::ProbeName(name) => format!("{name:?}"),
            TExprKind::Block { stmts, value } => format!("{{ {} statements; {} }}", stmts.len(), self.text(value)),
            TExprKind::Bytes(bytes) => format!("bytes{bytes:?}"),
        }
    }
}

fn children(e: &TExpr) -> Vec<&TExpr> {
    match &e.kind {
        TExprKind::Int(_)
        | TExprKind::Str(_)
        | TExprKind::Builtin(_)
        | TExprKind::Var(_)
        | TExprKind::TracepointArg { .. }
        | TExprKind::FuncArg { .. }
        | TExprKind::ProbeName(_)
        | TExprKind::Bytes(_) => vec![],
        TExprKind::MapRead { key, .. } => key.iter().map(|k| k.as_ref()).collect(),
        TExprKind::Unary { expr, .. } | TExprKind::Cast { expr } | TExprKind::Member { base: expr, .. } => vec![expr],
        TExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
        TExprKind::Ternary { cond, then, otherwise } => vec![cond, then, otherwise],
        TExprKind::Index { base, index, .. } => vec![base, index],
        TExprKind::Tuple(items) | TExprKind::Call { args: items, .. } => items.iter().collect(),
        TExprKind::IncDec { target, .. } | TExprKind::Block { value: target, .. } => vec![target],
    }
}
