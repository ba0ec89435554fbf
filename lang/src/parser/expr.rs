//! Expressions from pest pairs: C precedence for the flat operator lists the
//! grammar produces, prefix/postfix operators, casts and literals.

use super::items::{content, placeholder};
use super::literal::parse_string;
use super::{Builder, Rule};
use crate::ast::{BinOp, Expr, ExprKind, Ident, MapRef, Stmt, StmtKind, TypeBase, TypeName, UnOp};
use crate::diag::Diagnostic;
use crate::span::Span;
use pest::iterators::Pair;

/// The operator of a compound assignment (`+=` → `Add`); `None` for `=`.
pub(super) fn compound_op(text: &str) -> Option<BinOp> {
    text.strip_suffix('=').and_then(binary_op)
}

fn binary_op(text: &str) -> Option<BinOp> {
    Some(match text {
        "*" => BinOp::Mul,
        "/" => BinOp::Div,
        "%" => BinOp::Mod,
        "+" => BinOp::Add,
        "-" => BinOp::Sub,
        "<<" => BinOp::Shl,
        ">>" => BinOp::Shr,
        "<" => BinOp::Lt,
        "<=" => BinOp::Le,
        ">" => BinOp::Gt,
        ">=" => BinOp::Ge,
        "==" => BinOp::Eq,
        "!=" => BinOp::Ne,
        "&" => BinOp::BitAnd,
        "^" => BinOp::BitXor,
        "|" => BinOp::BitOr,
        "&&" => BinOp::And,
        "||" => BinOp::Or,
        _ => return None,
    })
}

/// Binding strength, as in C (higher binds tighter); all left-associative.
fn precedence(op: BinOp) -> u8 {
    match op {
        BinOp::Or => 1,
        BinOp::And => 2,
        BinOp::BitOr => 3,
        BinOp::BitXor => 4,
        BinOp::BitAnd => 5,
        BinOp::Eq | BinOp::Ne => 6,
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => 7,
        BinOp::Shl | BinOp::Shr => 8,
        BinOp::Add | BinOp::Sub => 9,
        BinOp::Mul | BinOp::Div | BinOp::Mod => 10,
    }
}

fn binary(op: BinOp, lhs: Expr, rhs: Expr) -> Expr {
    let span = lhs.span.to(rhs.span);
    Expr { kind: ExprKind::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }, span }
}

impl Builder<'_> {
    /// `expr`: a binary expression, optionally `? then : else`.
    pub(super) fn expr(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        if !self.enter(1, span) {
            return placeholder(span);
        }
        let mut parts = content(pair);
        let cond = match parts.next() {
            Some(p) if p.as_rule() == Rule::block_expr => self.block_expr(p, span),
            Some(p) => self.binary_expr(p),
            None => placeholder(span),
        };
        let result = match (parts.next(), parts.next()) {
            (Some(then), Some(otherwise)) => {
                let then = self.expr(then);
                let otherwise = self.expr(otherwise);
                Expr {
                    kind: ExprKind::Ternary { cond: Box::new(cond), then: Box::new(then), otherwise: Box::new(otherwise) },
                    span,
                }
            }
            // `a ?: b` is `a ? a : b`; like bpftrace, `a` is evaluated again
            // when it is true.
            (Some(otherwise), None) => {
                let otherwise = self.expr(otherwise);
                let then = cond.clone();
                Expr {
                    kind: ExprKind::Ternary { cond: Box::new(cond), then: Box::new(then), otherwise: Box::new(otherwise) },
                    span,
                }
            }
            _ => cond,
        };
        self.leave(1);
        result
    }

    /// Operator-precedence parsing of `term (op term)*`, with explicit stacks
    /// so that long chains cost no recursion.
    fn binary_expr(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        let pairs: Vec<Pair<Rule>> = pair.into_inner().collect();
        let levels = (pairs.len() / 2) as u32;
        if !self.enter(levels, span) {
            return placeholder(span);
        }
        let mut operands: Vec<Expr> = Vec::new();
        let mut operators: Vec<BinOp> = Vec::new();
        for p in pairs {
            if p.as_rule() == Rule::infix_op {
                let op = binary_op(p.as_str()).unwrap_or(BinOp::Add);
                while operators.last().is_some_and(|&top| precedence(top) >= precedence(op)) {
                    reduce(&mut operands, &mut operators);
                }
                operators.push(op);
            } else {
                operands.push(self.term(p));
            }
        }
        while !operators.is_empty() {
            reduce(&mut operands, &mut operators);
        }
        self.leave(levels);
        operands.pop().unwrap_or_else(|| placeholder(span))
    }

    /// A `term` on its own (the bounds of a `for` range).
    pub(super) fn expr_term(&mut self, pair: Pair<Rule>) -> Expr {
        self.term(pair)
    }

    /// `prefix* primary postfix*`: postfix operators bind tighter than prefix
    /// ones, so `-$x++` is `-($x++)` and `(struct sock *)arg0->x` casts the field.
    fn term(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        let mut prefixes = Vec::new();
        let mut primary = None;
        let mut postfixes = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::prefix_op => prefixes.push(p),
                Rule::postfix_op => postfixes.push(p),
                _ => primary = Some(p),
            }
        }
        let levels = (prefixes.len() + postfixes.len()) as u32;
        if !self.enter(levels, span) {
            return placeholder(span);
        }
        let mut expr = primary.map_or_else(|| placeholder(span), |p| self.primary(p));
        for op in postfixes {
            expr = self.postfix(expr, op);
        }
        for op in prefixes.into_iter().rev() {
            expr = self.prefix(op, expr);
        }
        self.leave(levels);
        expr
    }

    fn postfix(&mut self, target: Expr, op: Pair<Rule>) -> Expr {
        let op_span = self.span(&op);
        let span = target.span.to(op_span);
        let text = op.as_str();
        let Some(inner) = op.into_inner().next() else {
            // `++` / `--`
            return self.inc_dec(target, text == "++", false, op_span, span);
        };
        let kind = match inner.as_rule() {
            Rule::field_op | Rule::arrow_op => {
                let arrow = inner.as_rule() == Rule::arrow_op;
                let name = inner.into_inner().next();
                let field = match name {
                    Some(n) => Ident { name: n.as_str().to_string(), span: self.span(&n) },
                    None => Ident { name: String::new(), span: op_span },
                };
                ExprKind::Field { expr: Box::new(target), field, arrow }
            }
            _ => {
                let index = content(inner).next().map_or_else(|| placeholder(op_span), |e| self.expr(e));
                ExprKind::Index { expr: Box::new(target), index: Box::new(index) }
            }
        };
        Expr { kind, span }
    }

    fn prefix(&mut self, op: Pair<Rule>, operand: Expr) -> Expr {
        let op_span = self.span(&op);
        let span = op_span.to(operand.span);
        let text = op.as_str();
        if let Some(cast) = op.into_inner().next() {
            let ty = self.cast_type(cast);
            return Expr { kind: ExprKind::Cast { ty, expr: Box::new(operand) }, span };
        }
        let op = match text {
            "++" | "--" => return self.inc_dec(operand, text == "++", true, op_span, span),
            "-" => UnOp::Neg,
            "!" => UnOp::Not,
            "~" => UnOp::BitNot,
            "*" => UnOp::Deref,
            _ => UnOp::AddrOf,
        };
        Expr { kind: ExprKind::Unary { op, expr: Box::new(operand) }, span }
    }

    fn inc_dec(&mut self, target: Expr, increment: bool, prefix: bool, op_span: Span, span: Span) -> Expr {
        if !matches!(target.kind, ExprKind::Var(_) | ExprKind::Map(_)) {
            let op = if increment { "++" } else { "--" };
            self.error(
                Diagnostic::error(op_span, format!("'{op}' needs a variable or a map"))
                    .with_hint(format!("write '$x{op}' or '@m[k]{op}'")),
            );
        }
        Expr { kind: ExprKind::IncDec { target: Box::new(target), increment, prefix }, span }
    }

    fn primary(&mut self, pair: Pair<Rule>) -> Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::int_lit => ExprKind::Int(self.int(&pair).unwrap_or(0)),
            Rule::string_lit => self.string(pair, span),
            Rule::bool_lit => ExprKind::Bool(pair.as_str() == "true"),
            Rule::ident => ExprKind::Ident(pair.as_str().to_string()),
            Rule::var => ExprKind::Var(pair.as_str()[1..].to_string()),
            Rule::positional_count => ExprKind::PositionalCount,
            Rule::positional => match pair.as_str()[1..].parse::<u32>() {
                Ok(n) if n > 0 => ExprKind::Positional(n),
                _ => {
                    self.error(Diagnostic::error(span, format!("invalid positional parameter '{}'", pair.as_str()))
                        .with_hint("positional parameters are $1, $2, …; '$#' is their count"));
                    ExprKind::Positional(1)
                }
            },
            Rule::map_ref => ExprKind::Map(self.map_ref(pair)),
            Rule::call => {
                let mut parts = content(pair);
                let func = parts.next().map(|f| Ident { name: f.as_str().to_string(), span: self.span(&f) });
                let args = parts
                    .map(|a| match a.as_rule() {
                        Rule::type_arg => {
                            let span = self.span(&a);
                            Expr { kind: ExprKind::TypeArg(self.cast_type(a)), span }
                        }
                        _ => self.expr(a),
                    })
                    .collect();
                let func = func.unwrap_or(Ident { name: String::new(), span });
                ExprKind::Call { func, args }
            }
            Rule::paren_expr => {
                let mut items: Vec<Expr> = content(pair).map(|e| self.expr(e)).collect();
                if items.len() == 1 {
                    // A grouping keeps its operand's node, widened to cover the
                    // parentheses so that diagnostics underline what was written.
                    let mut inner = items.remove(0);
                    inner.span = span;
                    return inner;
                }
                ExprKind::Tuple(items)
            }
            _ => return placeholder(span),
        };
        Expr { kind, span }
    }

    /// `{ stmt; …; value }`: the last statement must be an expression
    /// without a `;`.
    fn block_expr(&mut self, pair: Pair<Rule>, span: Span) -> Expr {
        let block = self.block(pair.clone());
        let terminated = pair.into_inner().filter(|p| p.as_rule() != Rule::rbrace).last().is_none_or(|p| p.as_str() == ";");
        let mut stmts = block.stmts;
        match stmts.pop() {
            Some(Stmt { kind: StmtKind::Expr(value), .. }) if !terminated => {
                Expr { kind: ExprKind::Block { stmts, value: Box::new(value) }, span }
            }
            _ => {
                self.error(
                    Diagnostic::error(span, "a block used as a value must end with an expression")
                        .with_hint("write the value last, without a ';': { let $a = 1; $a + 1 }"),
                );
                placeholder(span)
            }
        }
    }

    pub(super) fn string(&mut self, pair: Pair<Rule>, span: Span) -> ExprKind {
        let body = pair.into_inner().next().map_or("", |b| b.as_str());
        match parse_string(body) {
            Ok(s) => ExprKind::Str(s),
            Err(e) => {
                let mut diag = Diagnostic::error(e.span_in(span), e.message);
                if let Some(hint) = e.hint {
                    diag = diag.with_hint(hint);
                }
                self.error(diag);
                ExprKind::Str(String::new())
            }
        }
    }

    pub(super) fn map_ref(&mut self, pair: Pair<Rule>) -> MapRef {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let name = inner.next();
        let (name, name_span) = match &name {
            Some(n) => (n.as_str()[1..].to_string(), self.span(n)),
            None => (String::new(), span),
        };
        let keys = inner.next().map_or_else(Vec::new, |keys| content(keys).map(|k| self.expr(k)).collect());
        MapRef { name, name_span, keys, span }
    }

    /// `cast_prefix` → `(TYPE)`: the type inside the parentheses.
    fn cast_type(&mut self, cast: Pair<Rule>) -> TypeName {
        let cast_span = self.span(&cast);
        let Some(type_name) = content(cast).next() else {
            return TypeName { base: TypeBase::Void, pointer_depth: 0, span: cast_span };
        };
        self.type_name(type_name)
    }

    /// A `type_name` pair: `struct sock *`, `uint32`.
    pub(super) fn type_name(&mut self, type_name: Pair<Rule>) -> TypeName {
        let span = self.span(&type_name);
        let mut parts = type_name.into_inner();
        let base_pair = parts.next();
        let stars = parts.filter(|p| p.as_rule() == Rule::type_star).count();
        let pointer_depth = u8::try_from(stars).unwrap_or(u8::MAX);
        let base = match base_pair {
            Some(b) => self.type_base(b),
            None => TypeBase::Void,
        };
        TypeName { base, pointer_depth, span }
    }

    pub(super) fn type_base(&mut self, pair: Pair<Rule>) -> TypeBase {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::record_type => {
                let mut inner = pair.into_inner();
                let keyword = inner.next().map_or("", |k| k.as_str());
                let name = inner.next().map_or(String::new(), |n| n.as_str().to_string());
                match keyword {
                    "union" => TypeBase::Union(name),
                    "enum" => TypeBase::Enum(name),
                    _ => TypeBase::Struct(name),
                }
            }
            Rule::fixed_int => fixed_int(pair.as_str()),
            Rule::c_int => {
                let words: Vec<&str> = pair.into_inner().map(|w| w.as_str()).collect();
                c_int(&words).unwrap_or_else(|| {
                    self.error(Diagnostic::error(span, format!("invalid type '{}'", words.join(" ")))
                        .with_hint("integer types: char, short, int, long, long long, optionally signed/unsigned; or int8…int64, uint8…uint64, u8…u64, s8…s64"));
                    TypeBase::Int { bits: 64, signed: true }
                })
            }
            Rule::kw_bool => TypeBase::Int { bits: 8, signed: false },
            Rule::kw_void => TypeBase::Void,
            _ => TypeBase::Named(pair.as_str().trim().to_string()),
        }
    }
}

/// Pop two operands and one operator and push their combination.
fn reduce(operands: &mut Vec<Expr>, operators: &mut Vec<BinOp>) {
    let (Some(op), Some(rhs), Some(lhs)) = (operators.pop(), operands.pop(), operands.pop()) else {
        return;
    };
    operands.push(binary(op, lhs, rhs));
}

/// `int8`…`int64`, `uint8`…, `u8`…, `s8`…, `i8`…
fn fixed_int(text: &str) -> TypeBase {
    let digits = text.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let bits = digits.parse().unwrap_or(64);
    let signed = !(text.starts_with("uint") || text.starts_with('u'));
    TypeBase::Int { bits, signed }
}

/// C integer type words in any valid combination (`unsigned long long int`).
/// Widths are those of the BPF target (LP64).
fn c_int(words: &[&str]) -> Option<TypeBase> {
    let count = |w: &str| words.iter().filter(|x| **x == w).count();
    let (unsigned, signed, chars, shorts, ints, longs) =
        (count("unsigned"), count("signed"), count("char"), count("short"), count("int"), count("long"));
    let sizes = usize::from(chars > 0) + usize::from(shorts > 0) + usize::from(longs > 0);
    if unsigned + signed > 1 || ints > 1 || chars > 1 || shorts > 1 || longs > 2 || sizes > 1 || (chars > 0 && ints > 0) {
        return None;
    }
    let bits = if chars > 0 {
        8
    } else if shorts > 0 {
        16
    } else if longs > 0 {
        64
    } else {
        32
    };
    Some(TypeBase::Int { bits, signed: unsigned == 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_integer_types() {
        assert_eq!(c_int(&["unsigned", "int"]), Some(TypeBase::Int { bits: 32, signed: false }));
        assert_eq!(c_int(&["long", "long"]), Some(TypeBase::Int { bits: 64, signed: true }));
        assert_eq!(c_int(&["unsigned", "char"]), Some(TypeBase::Int { bits: 8, signed: false }));
        assert_eq!(c_int(&["unsigned"]), Some(TypeBase::Int { bits: 32, signed: false }));
        assert_eq!(c_int(&["short", "int"]), Some(TypeBase::Int { bits: 16, signed: true }));
        assert_eq!(c_int(&["char", "int"]), None);
        assert_eq!(c_int(&["unsigned", "signed", "int"]), None);
        assert_eq!(c_int(&["long", "short"]), None);
    }

    #[test]
    fn fixed_integer_types() {
        assert_eq!(fixed_int("uint32"), TypeBase::Int { bits: 32, signed: false });
        assert_eq!(fixed_int("int8"), TypeBase::Int { bits: 8, signed: true });
        assert_eq!(fixed_int("u64"), TypeBase::Int { bits: 64, signed: false });
        assert_eq!(fixed_int("s16"), TypeBase::Int { bits: 16, signed: true });
        assert_eq!(fixed_int("i8"), TypeBase::Int { bits: 8, signed: true });
    }
}
