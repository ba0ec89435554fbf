//! Top-level items, probes, blocks and statements from pest pairs.

use super::attach::parse_attach_point;
use super::literal::parse_int;
use super::{Builder, Rule};
use crate::ast::{
    Block, ConfigBlock, ConfigEntry, ConfigValue, Expr, ExprKind, ForIter, Ident, Item, LetType, MapDecl, MapKind, Probe, Stmt, StmtKind,
};
use crate::diag::{did_you_mean_hint, Diagnostic};
use crate::macros::{MacroDef, Param, ParamKind};
use crate::span::Span;
use pest::iterators::Pair;

/// The pairs of `pair` that carry content: punctuation and keywords, which
/// the grammar names only for error messages, are dropped.
pub(super) fn content(pair: Pair<Rule>) -> impl Iterator<Item = Pair<Rule>> {
    pair.into_inner().filter(|p| !is_token(p.as_rule()))
}

fn is_token(rule: Rule) -> bool {
    use Rule::*;
    matches!(
        rule,
        semi | comma
            | lparen
            | rparen
            | lbrace
            | rbrace
            | lbracket
            | rbracket
            | question
            | colon
            | pred_open
            | pred_close
            | stmt_end
            | assign_eq
            | kw_let
            | kw_config
            | kw_macro
            | kw_if
            | kw_else
            | kw_while
            | kw_unroll
            | kw_return
            | kw_for
            | kw_break
            | kw_continue
            | dotdot
            | EOI
    )
}

impl Builder<'_> {
    pub(super) fn items(&mut self, program: Pair<Rule>, out: &mut Vec<Item>) {
        for pair in content(program) {
            match pair.as_rule() {
                Rule::preproc => {
                    if let Some(item) = self.preproc(&pair) {
                        out.push(item);
                    }
                }
                Rule::map_decl => {
                    if let Some(decl) = self.map_decl(pair) {
                        out.push(Item::MapDecl(decl));
                    }
                }
                Rule::probe => out.push(Item::Probe(self.probe(pair))),
                Rule::config_block => out.push(Item::Config(self.config_block(pair))),
                Rule::record_def => out.extend(self.record_def(pair).map(Item::Record)),
                Rule::enum_def => out.extend(self.enum_def(pair).map(Item::Enum)),
                Rule::macro_def => {
                    if let Some(def) = self.macro_def(pair) {
                        self.macros.push(def);
                    }
                }
                _ => {}
            }
        }
    }

    /// A `#` line can reach the parser only where the preprocessor does not
    /// look for directives (inside a block comment's line, after text).
    fn preproc(&mut self, pair: &Pair<Rule>) -> Option<Item> {
        let span = self.span(pair);
        self.error(
            Diagnostic::error(span, "a preprocessor directive must start its own line")
                .with_hint("put the '#' line on a line of its own, outside any probe"),
        );
        None
    }

    fn macro_def(&mut self, pair: Pair<Rule>) -> Option<MacroDef> {
        let span = self.span(&pair);
        let mut parts = content(pair);
        let name = parts.next()?.as_str().to_string();
        let mut params = Vec::new();
        let mut body = None;
        for part in parts {
            if part.as_rule() == Rule::block {
                body = Some(part);
                continue;
            }
            let Some(inner) = part.into_inner().next() else { continue };
            let text = inner.as_str();
            let (kind, name) = match inner.as_rule() {
                Rule::var => (ParamKind::Var, &text[1..]),
                Rule::map_name => (ParamKind::Map, &text[1..]),
                _ => (ParamKind::Expr, text),
            };
            params.push(Param { kind, name: name.to_string(), span: self.span(&inner) });
        }
        let body = body?;
        // A value: the last statement is an expression its `}` ends, not a `;`.
        let tokens: Vec<(Rule, &str)> = body.clone().into_inner().map(|p| (p.as_rule(), p.as_str())).collect();
        let has_value = matches!(tokens.as_slice(), [.., (Rule::expr_stmt, _), (Rule::stmt_end, ""), (Rule::rbrace, _)]);
        Some(MacroDef { name, params, body: self.block(body), has_value, span })
    }

    fn config_block(&mut self, pair: Pair<Rule>) -> ConfigBlock {
        let span = self.span(&pair);
        let mut entries = Vec::new();
        for entry in content(pair) {
            let mut parts = content(entry);
            let (Some(key), Some(value)) = (parts.next(), parts.next()) else { continue };
            let value_span = self.span(&value);
            let Some(inner) = content(value).next() else { continue };
            let value = match inner.as_rule() {
                Rule::string_lit => match self.string(inner, value_span) {
                    ExprKind::Str(text) => ConfigValue::Str(text),
                    _ => continue,
                },
                Rule::bool_lit => ConfigValue::Bool(inner.as_str() == "true"),
                Rule::int_lit => match self.int(&inner) {
                    Some(n) => ConfigValue::Int(n),
                    None => continue,
                },
                _ => ConfigValue::Word(inner.as_str().to_string()),
            };
            entries.push(ConfigEntry { key: Ident { name: key.as_str().to_string(), span: self.span(&key) }, value, value_span });
        }
        ConfigBlock { entries, span }
    }

    fn map_decl(&mut self, pair: Pair<Rule>) -> Option<MapDecl> {
        let span = self.span(&pair);
        let mut parts = content(pair);
        let (name, kind, size) = (parts.next()?, parts.next()?, parts.next()?);
        let kind_span = self.span(&kind);
        let map_kind = match kind.as_str() {
            "hash" => MapKind::Hash,
            "lruhash" => MapKind::LruHash,
            "percpuhash" => MapKind::PercpuHash,
            "percpulruhash" => MapKind::PercpuLruHash,
            other => {
                let kinds = ["hash", "lruhash", "percpuhash", "percpulruhash"];
                let mut diag = Diagnostic::error(kind_span, format!("unknown map kind '{other}'"));
                if let Some(hint) = did_you_mean_hint(other, kinds) {
                    diag = diag.with_hint(hint);
                }
                self.error(diag.with_hint("map kinds: hash, lruhash, percpuhash, percpulruhash"));
                return None;
            }
        };
        let max_entries = self.int(&size)?;
        if max_entries == 0 || max_entries > u32::MAX as u64 {
            self.error(Diagnostic::error(self.span(&size), "a map's size must be between 1 and 4294967295"));
            return None;
        }
        Some(MapDecl {
            name: name.as_str()[1..].to_string(),
            name_span: self.span(&name),
            kind: map_kind,
            kind_span,
            max_entries,
            span,
        })
    }

    /// An integer literal's value, or a diagnostic and `None`.
    pub(super) fn int(&mut self, pair: &Pair<Rule>) -> Option<u64> {
        let span = self.span(pair);
        match parse_int(pair.as_str()) {
            Ok(value) => Some(value),
            Err(e) => {
                let mut diag = Diagnostic::error(e.span_in(span), e.message);
                if let Some(hint) = e.hint {
                    diag = diag.with_hint(hint);
                }
                self.error(diag);
                None
            }
        }
    }

    fn probe(&mut self, pair: Pair<Rule>) -> Probe {
        let span = self.span(&pair);
        let mut attach = Vec::new();
        let mut predicate = None;
        let mut body = Block { stmts: Vec::new(), span };
        for part in content(pair) {
            match part.as_rule() {
                Rule::attach_point => match parse_attach_point(part.as_str(), self.span(&part)) {
                    Ok(point) => attach.push(point),
                    Err(diag) => self.error(diag),
                },
                Rule::predicate => {
                    predicate = content(part).next().map(|e| self.expr(e));
                }
                Rule::block => body = self.block(part),
                _ => {}
            }
        }
        Probe { attach, predicate, body, span }
    }

    pub(super) fn block(&mut self, pair: Pair<Rule>) -> Block {
        let span = self.span(&pair);
        if !self.enter(1, span) {
            return Block { stmts: Vec::new(), span };
        }
        let stmts = content(pair).filter_map(|p| self.stmt(p)).collect();
        self.leave(1);
        Block { stmts, span }
    }

    fn stmt(&mut self, pair: Pair<Rule>) -> Option<Stmt> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let kind = match rule {
            Rule::block => StmtKind::Block(self.block(pair)),
            Rule::return_stmt => StmtKind::Return,
            Rule::break_stmt => StmtKind::Break,
            Rule::continue_stmt => StmtKind::Continue,
            Rule::for_stmt => self.for_stmt(pair)?,
            Rule::expr_stmt => StmtKind::Expr(self.expr(content(pair).next()?)),
            Rule::discard_stmt => StmtKind::Expr(self.expr(content(pair).find(|p| p.as_rule() == Rule::expr)?)),
            Rule::assign_stmt => self.assign(content(pair))?,
            Rule::let_stmt => self.let_stmt(pair)?,
            Rule::if_stmt => self.if_stmt(pair),
            Rule::while_stmt => {
                let mut parts = content(pair);
                let cond = self.expr(parts.next()?);
                StmtKind::While { cond, body: self.block(parts.next()?) }
            }
            Rule::unroll_stmt => self.unroll(pair)?,
            _ => return None,
        };
        Some(Stmt { kind, span })
    }

    fn if_stmt(&mut self, pair: Pair<Rule>) -> StmtKind {
        let span = self.span(&pair);
        let mut parts = content(pair);
        let cond = match parts.next() {
            Some(c) => self.expr(c),
            None => placeholder(span),
        };
        let then = match parts.next() {
            Some(b) => self.block(b),
            None => Block { stmts: Vec::new(), span },
        };
        let otherwise = parts.next().map(|other| match other.as_rule() {
            Rule::if_stmt => {
                // `else if` nests as deeply as a block: the chain is an else
                // block holding the next `if`, and every later pass recurses
                // down it, so each arm counts towards the nesting limit.
                let nested_span = self.span(&other);
                if !self.enter(1, nested_span) {
                    return Block { stmts: Vec::new(), span: nested_span };
                }
                let nested = Stmt { kind: self.if_stmt(other), span: nested_span };
                self.leave(1);
                Block { stmts: vec![nested], span: nested_span }
            }
            _ => self.block(other),
        });
        StmtKind::If { cond, then, otherwise }
    }

    fn unroll(&mut self, pair: Pair<Rule>) -> Option<StmtKind> {
        let mut parts = content(pair);
        let count_pair = parts.next()?;
        let count = self.int(&count_pair);
        let body = self.block(parts.next()?);
        match count? {
            // The verifier has to see every copy; bpftrace caps it the same way.
            n @ 1..=100 => Some(StmtKind::Unroll { count: n, body }),
            _ => {
                self.error(Diagnostic::error(self.span(&count_pair), "unroll count must be between 1 and 100"));
                None
            }
        }
    }

    fn assign<'i>(&mut self, mut parts: impl Iterator<Item = Pair<'i, Rule>>) -> Option<StmtKind> {
        let target = parts.next()?;
        let op_pair = parts.next()?;
        let value = self.expr(parts.next()?);
        let op = super::expr::compound_op(op_pair.as_str());
        Some(match target.as_rule() {
            Rule::var => StmtKind::AssignVar { var: self.var_ident(&target), op, value },
            _ => StmtKind::AssignMap { map: self.map_ref(target), op, value },
        })
    }

    /// `let $x[: TYPE][ = e];`
    fn let_stmt(&mut self, pair: Pair<Rule>) -> Option<StmtKind> {
        let mut parts = content(pair);
        let var = self.var_ident(&parts.next()?);
        let mut ty = None;
        let mut value = None;
        for part in parts {
            match part.as_rule() {
                Rule::let_type => ty = self.let_type(part),
                _ => value = Some(self.expr(part)),
            }
        }
        Some(StmtKind::Let { var, ty, value })
    }

    fn let_type(&mut self, pair: Pair<Rule>) -> Option<LetType> {
        let inner = pair.into_inner().next()?;
        match inner.as_rule() {
            Rule::type_name => Some(LetType::Type(self.type_name(inner))),
            _ => Some(LetType::Name(Ident { name: inner.as_str().to_string(), span: self.span(&inner) })),
        }
    }

    /// `for ($i : a..b) { … }` / `for ($kv : @m) { … }`.
    fn for_stmt(&mut self, pair: Pair<Rule>) -> Option<StmtKind> {
        let mut parts = content(pair);
        let var = self.var_ident(&parts.next()?);
        let iter = parts.next()?;
        let iter = match iter.as_rule() {
            Rule::for_range => {
                let mut bounds = content(iter);
                let start = self.expr_term(bounds.next()?);
                let end = self.expr_term(bounds.next()?);
                ForIter::Range { start, end }
            }
            _ => ForIter::Map(self.map_ref(iter)),
        };
        let body = self.block(parts.next()?);
        Some(StmtKind::For { var, iter, body })
    }

    /// `$name` as an [`Ident`] without the `$`.
    pub(super) fn var_ident(&self, pair: &Pair<Rule>) -> Ident {
        Ident { name: pair.as_str()[1..].to_string(), span: self.span(pair) }
    }
}

/// Stands in for an expression that could not be built (an error was reported).
pub(super) fn placeholder(span: Span) -> Expr {
    Expr { kind: ExprKind::Int(0), span }
}
