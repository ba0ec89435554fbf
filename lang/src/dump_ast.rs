//! `flowtrace -d ast`: the syntax tree as an indented outline, one node per
//! line, each with its byte range `[start..end)` in the source.
//!
//! ```text
//! Program [0..52)
//!   Probe [0..52)
//!     Attach kprobe:tcp_sendmsg = Kprobe tcp_sendmsg [0..17)
//!     Block [18..52)
//!       AssignMap [20..50)
//!         Map @flows [20..34)
//!           Ident comm [27..31)
//!         Call count [37..44)
//! ```

use crate::ast::*;
use crate::span::Span;
use std::fmt::Write;

pub fn dump_ast(program: &Program) -> String {
    let mut d = Dumper { out: String::new(), indent: 0 };
    d.line("Program", program.span);
    d.nested(|d| {
        for item in &program.items {
            d.item(item);
        }
    });
    d.out
}

/// Just one expression (for tests and error reports).
pub fn dump_expr(expr: &Expr) -> String {
    let mut d = Dumper { out: String::new(), indent: 0 };
    d.expr(expr);
    d.out
}

struct Dumper {
    out: String,
    indent: usize,
}

impl Dumper {
    fn line(&mut self, label: &str, span: Span) {
        let _ = writeln!(self.out, "{:width$}{label} [{}..{})", "", span.start, span.end, width = self.indent * 2);
    }

    fn nested(&mut self, f: impl FnOnce(&mut Dumper)) {
        self.indent += 1;
        f(self);
        self.indent -= 1;
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::MapDecl(decl) => {
                let label = format!("MapDecl @{} {:?}({})", decl.name, decl.kind, decl.max_entries);
                self.line(&label, decl.span);
            }
            Item::Config(block) => {
                self.line("Config", block.span);
                self.nested(|d| {
                    for entry in &block.entries {
                        d.line(&format!("{} = {:?}", entry.key.name, entry.value), entry.key.span.to(entry.value_span));
                    }
                });
            }
            Item::Record(def) => {
                let kw = if def.is_union { "union" } else { "struct" };
                self.line(&format!("Record {kw} {}", def.name.name), def.span);
                self.nested(|d| {
                    for f in &def.fields {
                        let dims: String = f.dims.iter().map(|n| format!("[{n}]")).collect();
                        d.line(&format!("Field {}{dims}: {:?} {}", f.name.name, f.ty.base, "*".repeat(f.ty.pointer_depth.into())), f.span);
                    }
                });
            }
            Item::Enum(def) => {
                let name = def.name.as_ref().map_or("<anon>", |n| n.name.as_str());
                self.line(&format!("Enum {name}"), def.span);
                self.nested(|d| {
                    for (v, value) in &def.variants {
                        d.line(&format!("{} = {value:?}", v.name), v.span);
                    }
                });
            }
            Item::Probe(probe) => {
                self.line("Probe", probe.span);
                self.nested(|d| {
                    for point in &probe.attach {
                        d.line(&format!("Attach {} = {}", point.raw, attach_kind(&point.kind)), point.span);
                    }
                    if let Some(pred) = &probe.predicate {
                        d.line("Predicate", pred.span);
                        d.nested(|d| d.expr(pred));
                    }
                    d.block(&probe.body);
                });
            }
        }
    }

    fn block(&mut self, block: &Block) {
        self.line("Block", block.span);
        self.nested(|d| {
            for stmt in &block.stmts {
                d.stmt(stmt);
            }
        });
    }

    fn stmt(&mut self, stmt: &Stmt) {
        let span = stmt.span;
        match &stmt.kind {
            StmtKind::Expr(e) => {
                self.line("ExprStmt", span);
                self.nested(|d| d.expr(e));
            }
            StmtKind::AssignVar { var, op, value } => {
                self.line(&format!("AssignVar ${}{}", var.name, assign_op(*op)), span);
                self.nested(|d| d.expr(value));
            }
            StmtKind::AssignMap { map, op, value } => {
                self.line(&format!("AssignMap{}", assign_op(*op)), span);
                self.nested(|d| {
                    d.map_ref(map);
                    d.expr(value);
                });
            }
            StmtKind::If { cond, then, otherwise } => {
                self.line("If", span);
                self.nested(|d| {
                    d.expr(cond);
                    d.block(then);
                    if let Some(other) = otherwise {
                        d.line("Else", other.span);
                        d.nested(|d| d.block(other));
                    }
                });
            }
            StmtKind::While { cond, body } => {
                self.line("While", span);
                self.nested(|d| {
                    d.expr(cond);
                    d.block(body);
                });
            }
            StmtKind::Unroll { count, body } => {
                self.line(&format!("Unroll {count}"), span);
                self.nested(|d| d.block(body));
            }
            StmtKind::For { var, iter, body } => {
                self.line(&format!("For ${}", var.name), span);
                self.nested(|d| {
                    match iter {
                        crate::ast::ForIter::Range { start, end } => {
                            d.line("Range", start.span.to(end.span));
                            d.nested(|d| {
                                d.expr(start);
                                d.expr(end);
                            });
                        }
                        crate::ast::ForIter::Map(map) => d.map_ref(map),
                    }
                    d.block(body);
                });
            }
            StmtKind::Let { var, ty, value } => {
                let ty = match ty {
                    Some(crate::ast::LetType::Type(t)) => format!(": {}", type_name(t)),
                    Some(crate::ast::LetType::Name(n)) => format!(": {}", n.name),
                    None => String::new(),
                };
                self.line(&format!("Let ${}{ty}", var.name), span);
                if let Some(value) = value {
                    self.nested(|d| d.expr(value));
                }
            }
            StmtKind::Break => self.line("Break", span),
            StmtKind::Continue => self.line("Continue", span),
            StmtKind::Return => self.line("Return", span),
            StmtKind::Block(b) => self.block(b),
        }
    }

    fn map_ref(&mut self, map: &MapRef) {
        self.line(&format!("Map @{}", map.name), map.span);
        self.nested(|d| {
            for key in &map.keys {
                d.expr(key);
            }
        });
    }

    fn expr(&mut self, expr: &Expr) {
        let span = expr.span;
        match &expr.kind {
            ExprKind::Int(n) => self.line(&format!("Int {n}"), span),
            ExprKind::Str(s) => self.line(&format!("Str {s:?}"), span),
            ExprKind::Bool(b) => self.line(&format!("Bool {b}"), span),
            ExprKind::Ident(name) => self.line(&format!("Ident {name}"), span),
            ExprKind::Var(name) => self.line(&format!("Var ${name}"), span),
            ExprKind::Positional(n) => self.line(&format!("Positional ${n}"), span),
            ExprKind::PositionalCount => self.line("PositionalCount $#", span),
            ExprKind::Map(map) => self.map_ref(map),
            ExprKind::Call { func, args } => {
                self.line(&format!("Call {}", func.name), span);
                self.nested(|d| args.iter().for_each(|a| d.expr(a)));
            }
            ExprKind::Unary { op, expr } => {
                self.line(&format!("Unary {}", unary_symbol(*op)), span);
                self.nested(|d| d.expr(expr));
            }
            ExprKind::Binary { op, lhs, rhs } => {
                self.line(&format!("Binary {}", op.symbol()), span);
                self.nested(|d| {
                    d.expr(lhs);
                    d.expr(rhs);
                });
            }
            ExprKind::Ternary { cond, then, otherwise } => {
                self.line("Ternary", span);
                self.nested(|d| {
                    d.expr(cond);
                    d.expr(then);
                    d.expr(otherwise);
                });
            }
            ExprKind::Cast { ty, expr } => {
                self.line(&format!("Cast ({})", type_name(ty)), span);
                self.nested(|d| d.expr(expr));
            }
            ExprKind::Field { expr, field, arrow } => {
                self.line(&format!("Field {}{}", if *arrow { "->" } else { "." }, field.name), span);
                self.nested(|d| d.expr(expr));
            }
            ExprKind::Index { expr, index } => {
                self.line("Index", span);
                self.nested(|d| {
                    d.expr(expr);
                    d.expr(index);
                });
            }
            ExprKind::Block { stmts, value } => {
                self.line("BlockExpr", span);
                self.nested(|d| {
                    stmts.iter().for_each(|s| d.stmt(s));
                    d.expr(value);
                });
            }
            ExprKind::Tuple(items) => {
                self.line("Tuple", span);
                self.nested(|d| items.iter().for_each(|e| d.expr(e)));
            }
            ExprKind::IncDec { target, increment, prefix } => {
                let op = if *increment { "++" } else { "--" };
                let label = if *prefix { format!("PreIncDec {op}") } else { format!("PostIncDec {op}") };
                self.line(&label, span);
                self.nested(|d| d.expr(target));
            }
            ExprKind::TypeArg(ty) => self.line(&format!("Type ({})", type_name(ty)), span),
        }
    }
}

fn assign_op(op: Option<BinOp>) -> String {
    match op {
        Some(op) => format!(" {}=", op.symbol()),
        None => String::new(),
    }
}

fn unary_symbol(op: UnOp) -> &'static str {
    match op {
        UnOp::Neg => "-",
        UnOp::Not => "!",
        UnOp::BitNot => "~",
        UnOp::Deref => "*",
        UnOp::AddrOf => "&",
    }
}

/// A cast's type as C would write it: `struct sock *`, `uint32`.
pub fn type_name(ty: &TypeName) -> String {
    let base = match &ty.base {
        TypeBase::Int { bits, signed } => format!("{}int{bits}", if *signed { "" } else { "u" }),
        TypeBase::Void => "void".to_string(),
        TypeBase::Struct(n) => format!("struct {n}"),
        TypeBase::Union(n) => format!("union {n}"),
        TypeBase::Enum(n) => format!("enum {n}"),
        TypeBase::Named(n) => n.clone(),
    };
    if ty.pointer_depth == 0 {
        base
    } else {
        format!("{base} {}", "*".repeat(ty.pointer_depth as usize))
    }
}

fn attach_kind(kind: &AttachKind) -> String {
    match kind.target() {
        Some(target) => format!("{:?} {target}", kind.probe_kind()),
        None => format!("{:?}", kind.probe_kind()),
    }
}
