//! `struct`/`union`/`enum` definitions in a script, from pest pairs.

use super::items::content;
use super::literal::parse_int;
use super::{Builder, Rule};
use crate::ast::{EnumDef, FieldDef, Ident, RecordDef, TypeName};
use crate::diag::Diagnostic;
use pest::iterators::Pair;

impl Builder<'_> {
    fn ident(&self, pair: &Pair<Rule>) -> Ident {
        Ident { name: pair.as_str().to_string(), span: self.span(pair) }
    }

    pub(super) fn record_def(&mut self, pair: Pair<Rule>) -> Option<RecordDef> {
        let span = self.span(&pair);
        let mut parts = pair.into_inner();
        let is_union = parts.next()?.as_rule() == Rule::kw_union;
        let name = self.ident(&parts.next()?);
        let mut fields = Vec::new();
        for decl in parts.filter(|p| p.as_rule() == Rule::field_decl) {
            let mut inner = content(decl);
            let field_type = inner.next()?;
            let type_span = self.span(&field_type);
            let base = self.type_base(field_type.into_inner().next()?);
            for declarator in inner {
                let decl_span = self.span(&declarator);
                let mut stars = 0u8;
                let mut name = None;
                let mut dims = Vec::new();
                for part in content(declarator) {
                    match part.as_rule() {
                        Rule::type_star => stars = stars.saturating_add(1),
                        Rule::field_name => name = Some(self.ident(&part)),
                        Rule::field_dim => {
                            let n = content(part).next()?;
                            match self.int(&n) {
                                Some(len @ 1..=65536) => dims.push(len as u32),
                                Some(_) => self.error(Diagnostic::error(self.span(&n), "an array field needs 1 to 65536 elements")),
                                None => {}
                            }
                        }
                        _ => {}
                    }
                }
                let ty = TypeName { base: base.clone(), pointer_depth: stars, span: type_span.to(decl_span) };
                fields.push(FieldDef { ty, name: name?, dims, span: type_span.to(decl_span) });
            }
        }
        Some(RecordDef { name, is_union, fields, span })
    }

    pub(super) fn enum_def(&mut self, pair: Pair<Rule>) -> Option<EnumDef> {
        let span = self.span(&pair);
        let mut name = None;
        let mut variants = Vec::new();
        for part in content(pair) {
            match part.as_rule() {
                Rule::ident => name = Some(self.ident(&part)),
                Rule::enumerator => {
                    let mut inner = content(part);
                    let variant = self.ident(&inner.next()?);
                    let value = match inner.next() {
                        Some(v) => Some(self.enum_value(&v)?),
                        None => None,
                    };
                    variants.push((variant, value));
                }
                _ => {}
            }
        }
        Some(EnumDef { name, variants, span })
    }

    fn enum_value(&mut self, pair: &Pair<Rule>) -> Option<i64> {
        let text = pair.as_str();
        let (negative, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text),
        };
        match parse_int(digits).ok().and_then(|v| i64::try_from(v).ok()) {
            Some(v) if negative => Some(-v),
            Some(v) => Some(v),
            None => {
                self.error(Diagnostic::error(self.span(pair), format!("'{text}' is not an enumerator value")));
                None
            }
        }
    }
}
