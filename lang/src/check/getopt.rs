//! `getopt("name"[, default[, "description"]])`: a named program parameter,
//! given after the program as `--name=VALUE` (or `--name` for a bool). The
//! call is a constant: the given text read as the default's type (integer,
//! string or bool; no default means bool, false unless given). Text that
//! does not read as that type is an error at the call, as in bpftrace.

use super::Checker;
use crate::ast::{Expr, ExprKind};
use crate::span::Span;
use crate::typed::{TExpr, TExprKind};
use crate::types::Type;

/// What a `getopt` evaluates to, before the command line is applied.
enum Default {
    Bool(bool),
    Int(u64, Type),
    Str(String),
}

impl Checker<'_> {
    pub(super) fn getopt(&mut self, args: &[Expr], span: Span) -> Option<TExpr> {
        let ExprKind::Str(name) = &args[0].kind else {
            self.error(args[0].span, "getopt()'s name must be a string literal");
            return None;
        };
        if let Some(description) = args.get(2).filter(|d| !matches!(d.kind, ExprKind::Str(_))) {
            self.error(description.span, "getopt()'s description must be a string literal");
            return None;
        }
        let default = match args.get(1) {
            None => Default::Bool(false),
            Some(arg) => {
                let value = self.expr(arg)?;
                match (value.kind, value.ty) {
                    (TExprKind::Int(v), Type::Bool) => Default::Bool(v != 0),
                    (TExprKind::Int(v), Type::Int(i)) => {
                        // A default typed like a value given on the command line.
                        Default::Int(v, if i.signed && (v as i64) < 0 { Type::I64 } else { super::ints::parameter_type(v) })
                    }
                    (TExprKind::Str(s), _) => Default::Str(s),
                    _ => {
                        self.error(arg.span, "getopt()'s default must be a literal integer, string or bool");
                        return None;
                    }
                }
            }
        };
        self.getopt_names.insert(name.clone());
        let given = self.options.named.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_deref());
        let (kind, ty) = match (default, given) {
            (Default::Bool(b), None) => (TExprKind::Int(u64::from(b)), Type::Bool),
            (Default::Bool(_), Some(None)) => (TExprKind::Int(1), Type::Bool),
            (Default::Bool(_), Some(Some(text))) => match text.to_ascii_lowercase().as_str() {
                "true" | "1" => (TExprKind::Int(1), Type::Bool),
                "false" | "0" => (TExprKind::Int(0), Type::Bool),
                _ => return self.invalid(span, name, "boolean", text),
            },
            (Default::Int(v, ty), None) => (TExprKind::Int(v), ty),
            (Default::Int(..), Some(text)) => match text.and_then(parse_number) {
                Some((v, ty)) => (TExprKind::Int(v), ty),
                None => return self.invalid(span, name, "integer", text.unwrap_or("")),
            },
            (Default::Str(s), None) => (TExprKind::Str(s), Type::Void),
            (Default::Str(_), Some(text)) => (TExprKind::Str(text.unwrap_or("").to_string()), Type::Void),
        };
        let ty = match &kind {
            TExprKind::Str(s) => Type::Str { cap: s.len() as u32 + 1 },
            _ => ty,
        };
        Some(TExpr { kind, ty, span })
    }

    fn invalid(&mut self, span: Span, name: &str, what: &str, text: &str) -> Option<TExpr> {
        self.error(span, format!("program command line option --{name} invalid {what} (value: {text})"));
        None
    }
}

/// An integer as bpftrace reads one: decimal, `0x` hexadecimal or a
/// negative decimal; up to u64's range (`0xffffffffffffffff`).
fn parse_number(text: &str) -> Option<(u64, Type)> {
    let t = text.trim();
    if let Some(neg) = t.strip_prefix('-') {
        if !neg.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let v: i64 = neg.parse::<i64>().ok()?.checked_neg()?;
        return Some((v as u64, Type::I64));
    }
    let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok()?,
        None => t.parse().ok()?,
    };
    Some((v, super::ints::parameter_type(v)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_bpftrace_reads_them() {
        assert_eq!(parse_number("20").map(|n| n.0), Some(20));
        assert_eq!(parse_number("0xffffffffffffffff").map(|n| n.0), Some(u64::MAX));
        assert_eq!(parse_number("-10").map(|n| n.0 as i64), Some(-10));
        for bad in ["False", "", "1e3", "0x", "--1"] {
            assert_eq!(parse_number(bad), None, "{bad}");
        }
    }
}
