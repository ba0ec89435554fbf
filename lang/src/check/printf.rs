//! `printf` format checking, and the argument helpers other calls share
//! (constant integers, literal strings, `str()` and `ntop()` operands).

use super::Checker;
use crate::ast::{Expr, ExprKind};
use crate::span::Span;
use crate::typed::{TExpr, TExprKind, TStmtKind};
use crate::types::{IntType, Rendered, Type};
use flowtrace_stdlib::printf::{ArgKind, ConvSpec, Format};

impl Checker<'_> {
    /// `printf(fmt, args…)`: as many arguments as conversions, each of the
    /// kind its conversion prints (bpftrace's rule: `%s` takes strings and
    /// values that print as text, the integer conversions take integers and
    /// pointers). Everything the renderer cannot print is rejected here, by
    /// the one format parser, so nothing fails per event at run time.
    pub(super) fn printf(&mut self, args: &[Expr], span: Span) -> Option<TStmtKind> {
        let (format, args) = self.formatted("printf", args, span)?;
        Some(TStmtKind::Printf { format, args })
    }

    /// A printf-style format and its arguments, checked against each other
    /// (`printf`, and `cat` and `system`, which format a path or command).
    pub(super) fn formatted(&mut self, func: &str, args: &[Expr], span: Span) -> Option<(Format, Vec<TExpr>)> {
        let text = self.literal_string(&args[0], &format!("{func}()'s format"));
        let values: Vec<Option<TExpr>> = args[1..].iter().map(|a| self.expr(a)).collect();
        let text = text?;
        let format = match Format::parse(&text) {
            Ok(f) => f,
            Err(e) => {
                let at = within_literal(args[0].span, &text, e.range);
                self.error(at, format!("{func}: {}", e.message));
                return None;
            }
        };
        let convs: Vec<&ConvSpec> = format.conversions().collect();
        let given = args.len() - 1;
        if convs.len() != given {
            let (what, at) = if given < convs.len() { ("not enough", span) } else { ("too many", args[convs.len() + 1].span.to(args[given].span)) };
            self.error(at, format!("{func}: {what} arguments for the format ({given} given, {} expected)", convs.len()));
            return None;
        }
        let mut values: Vec<TExpr> = values.into_iter().collect::<Option<_>>()?;
        for (conv, value) in convs.iter().zip(values.iter_mut()) {
            if conv.conv.arg_kind() == ArgKind::Text {
                *value = as_string(std::mem::replace(value, placeholder()));
            }
        }
        let mut ok = true;
        for (conv, value) in convs.iter().zip(&values) {
            ok &= self.printf_arg(func, &text[conv.range.clone()], conv.conv.arg_kind(), value);
        }
        ok.then_some((format, values))
    }

    /// Whether `value` fits conversion `spec`; reports it when not.
    fn printf_arg(&mut self, func: &str, spec: &str, kind: ArgKind, value: &TExpr) -> bool {
        let fits = match (kind, &value.ty) {
            (ArgKind::Text, Type::Rendered(r)) => !matches!(r, Rendered::Buffer { .. }),
            (ArgKind::Text, ty) => matches!(ty, Type::Str { .. } | Type::Inet) || ty.is_named_id(),
            (ArgKind::Integer, ty) => ty.is_scalar(),
            (ArgKind::Buffer, ty) => matches!(ty, Type::Rendered(Rendered::Buffer { .. })),
        };
        if !fits {
            let hint = match (kind, &value.ty) {
                (ArgKind::Text, Type::Array { .. } | Type::Pointer(..)) => Some("read it as a string with str(…)".to_string()),
                (ArgKind::Text, Type::Int(_)) => Some("print integers with %d, %u or %x".to_string()),
                (ArgKind::Integer, Type::Str { .. } | Type::Inet | Type::ProbeName | Type::CgroupName(_)) => Some("print text with %s".to_string()),
                (ArgKind::Text | ArgKind::Integer, Type::Rendered(Rendered::Buffer { .. })) => Some("print a buffer with %r".to_string()),
                (ArgKind::Buffer, _) => Some("%r prints buf(…) values".to_string()),
                _ => None,
            };
            let wanted = match kind {
                ArgKind::Text => "a string",
                ArgKind::Integer => "an integer",
                ArgKind::Buffer => "a buffer",
            };
            self.error_hint(value.span, format!("{func}: {spec} expects {wanted}, but this is '{}'", value.ty), hint);
        }
        fits
    }

    /// A string literal argument (formats must be known when compiling).
    pub(super) fn literal_string(&mut self, arg: &Expr, what: &str) -> Option<String> {
        match &arg.kind {
            ExprKind::Str(s) => Some(s.clone()),
            _ => {
                self.error(arg.span, format!("{what} must be a string literal"));
                None
            }
        }
    }

    /// An integer known when compiling: a literal, a constant, `-N`, `$1`.
    pub(super) fn const_int(&mut self, arg: &Expr, what: &str) -> Option<i64> {
        let t = self.expr(arg)?;
        match (&t.kind, &t.ty) {
            (TExprKind::Int(v), Type::Int(_) | Type::Bool) => Some(*v as i64),
            _ => {
                self.error(arg.span, format!("{what} must be a constant integer"));
                None
            }
        }
    }

    /// An integer-valued argument (aggregations, `bswap`).
    pub(super) fn int_arg(&mut self, arg: &Expr, func: &str) -> Option<TExpr> {
        let t = self.expr(arg)?;
        if t.ty.is_scalar() {
            Some(t)
        } else {
            self.error(arg.span, format!("{func}() needs an integer, not '{}'", t.ty));
            None
        }
    }

    /// A string operand of `strncmp`.
    pub(super) fn string_arg(&mut self, arg: &Expr) -> Option<TExpr> {
        let t = as_string(self.expr(arg)?);
        if matches!(t.ty, Type::Str { .. }) {
            Some(t)
        } else {
            let hint = matches!(t.ty, Type::Pointer(..) | Type::Array { .. }).then(|| "read it first with str(…)".to_string());
            self.error_hint(arg.span, format!("expected a string, not '{}'", t.ty), hint);
            None
        }
    }

    /// `str(p[, n])`: the operands and the result's buffer size. A char
    /// array's own length bounds the buffer; a literal `n` sets it
    /// (at most the default size, as bpftrace limits it to its maximum).
    pub(super) fn str_args(&mut self, args: &[Expr]) -> Option<(Vec<TExpr>, u32)> {
        let src = self.expr(&args[0]);
        let len = args.get(1).map(|a| self.expr(a));
        let src = src?;
        let default = self.options.default_str_size;
        let mut cap = match &src.ty {
            Type::Str { cap } => *cap,
            Type::Int(_) | Type::Pointer(..) => default,
            Type::Array { elem, len } if matches!(elem.as_ref(), Type::Int(IntType { bits: 8, .. })) => len.saturating_add(1),
            other => {
                self.error(args[0].span, format!("str() needs a char pointer, char array or address, not '{other}'"));
                return None;
            }
        };
        let mut out = vec![src];
        if let Some(len) = len {
            let len = len?;
            if !len.ty.is_integer() {
                self.error(len.span, format!("str()'s length must be an integer, not '{}'", len.ty));
                return None;
            }
            if let TExprKind::Int(n) = len.kind {
                if n == 0 {
                    self.error(len.span, "str()'s length must be greater than zero");
                    return None;
                }
                cap = cap.min(n.min(u64::from(default)) as u32);
            }
            out.push(len);
        }
        Some((out, cap))
    }

    /// `ntop([af,] addr)`: integers and 4-byte values are IPv4, 16-byte
    /// values IPv6; an explicit `af` must agree when it is a constant.
    pub(super) fn ntop_args(&mut self, args: &[Expr]) -> Option<Vec<TExpr>> {
        let typed: Vec<Option<TExpr>> = args.iter().map(|a| self.expr(a)).collect();
        let typed: Vec<TExpr> = typed.into_iter().collect::<Option<_>>()?;
        let addr = typed.last()?;
        let bytes = match &addr.ty {
            Type::Int(_) => Some(4),
            Type::Inet => None,
            Type::Array { elem, len } if elem.is_integer() && super::type_size(elem) == 1 && matches!(len, 4 | 16) => Some(*len),
            Type::Record(r) if matches!(r.size, 4 | 16) => Some(r.size),
            other => {
                self.error(addr.span, format!("ntop() needs an IPv4 address (integer or uint8[4]) or an IPv6 address (uint8[16]), not '{other}'"));
                return None;
            }
        };
        if typed.len() == 2 {
            let af = &typed[0];
            if !af.ty.is_integer() {
                self.error(af.span, format!("ntop()'s address family must be an integer (AF_INET, AF_INET6), not '{}'", af.ty));
                return None;
            }
            let wanted = match af.kind {
                TExprKind::Int(2) => Some(4),
                TExprKind::Int(10) => Some(16),
                _ => None,
            };
            if let (Some(w), Some(b)) = (wanted, bytes) {
                if w > b {
                    self.error(addr.span, format!("AF_INET6 needs a 16-byte address, but this is '{}'", addr.ty));
                    return None;
                }
            }
        }
        Some(typed)
    }
}

/// The source span of bytes `range` of a string literal's text, so a bad
/// conversion is underlined rather than the whole format. `literal` spans the
/// quotes. The checker has no source text, so the mapping assumes no escape
/// precedes the range, which holds when the literal is as long as its text
/// and is very likely when no byte before the range is one that must be
/// escaped (`\n`, `\t`, `"`, `\\`); otherwise the whole literal is underlined.
/// (Only `\x41`-style escapes of printable bytes could shift the caret.)
fn within_literal(literal: Span, text: &str, range: std::ops::Range<usize>) -> Span {
    let escaped = |b: &u8| b.is_ascii_control() || matches!(b, b'"' | b'\\');
    let exact = literal.range().len() == text.len() + 2 || !text.as_bytes()[..range.start].iter().any(escaped);
    let end = range.end.min(text.len());
    if !exact || text.as_bytes()[range.start..end].iter().any(escaped) {
        return literal;
    }
    let base = literal.start as usize + 1;
    Span::new(base + range.start, base + end)
}

/// A `char` (`int8`) array where a string is wanted — `%s`, a comparison
/// with a string, a string function — is that string, as bpftrace types a
/// BTF `char name[N]` (`printf("%s", curtask->comm)`, `$t->comm == "bash"`):
/// `str()` of it, the bytes up to the first NUL. Other values are unchanged.
pub(crate) fn as_string(e: TExpr) -> TExpr {
    let Type::Array { elem, len } = &e.ty else { return e };
    if !matches!(elem.as_ref(), Type::Int(IntType { bits: 8, signed: true })) {
        return e;
    }
    let (span, ty) = (e.span, Type::Str { cap: len.saturating_add(1) });
    TExpr { kind: TExprKind::Call { func: flowtrace_stdlib::Func::Str, args: vec![e] }, ty, span }
}

/// Two values side by side (`==`, the branches of `?:`): a char array
/// next to a string is that string ([`as_string`]); otherwise unchanged.
pub(crate) fn strings_if_paired(a: TExpr, b: TExpr) -> (TExpr, TExpr) {
    match (&a.ty, &b.ty) {
        (Type::Str { .. }, Type::Array { .. }) | (Type::Array { .. }, Type::Str { .. }) => (as_string(a), as_string(b)),
        _ => (a, b),
    }
}

fn placeholder() -> TExpr {
    TExpr { kind: TExprKind::Int(0), ty: Type::Void, span: Span::default() }
}
