//! Maps: one key type and one value type for the whole program, learnt from
//! the first write and checked at every later use; `let @m = lruhash(N)`
//! declarations; reading aggregation maps back as integers.

use super::ints::{key_type, unify};
use super::Checker;
use crate::ast::{self, MapKind};
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::typed::{MapId, MapInfo, TExpr, TExprKind};
use crate::types::{AggKind, IntType, Type};
use std::collections::HashMap;

#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct MapTable {
    entries: Vec<MapState>,
    index: HashMap<String, MapId>,
}

#[derive(Clone, Debug, PartialEq)]
struct MapState {
    name: String,
    /// `None` until the first use with a well-typed key.
    key: Option<Vec<Type>>,
    /// Per key element: the values, while every use so far was a literal.
    key_literals: Vec<Option<Literals>>,
    key_span: Span,
    /// `None` until the first well-typed write.
    value: Option<Type>,
    /// The values, while every write so far was an integer literal.
    value_literals: Option<Literals>,
    value_span: Span,
    declared: Option<(MapKind, u64, Span)>,
    first_span: Span,
    /// A write failed to type: later uses stay silent instead of cascading.
    poisoned: bool,
}

/// The range of the integer literals stored in one place (a key element or
/// a map's values), while nothing else was. Such a place takes the type of
/// the map's other uses when every literal fits it, instead of widening it:
/// `@st[99]` next to `@st[args.newstate]` keeps the int32 key, so a session
/// can add that entry to a map it already created (and a script gets the
/// same, compact key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Literals {
    min: i128,
    max: i128,
}

impl Literals {
    /// `e`'s value if it is an integer literal (`-3` is folded to one).
    pub(crate) fn of(e: &TExpr) -> Option<Literals> {
        let (TExprKind::Int(bits), Type::Int(i)) = (&e.kind, &e.ty) else { return None };
        let v = if i.signed { *bits as i64 as i128 } else { *bits as i128 };
        Some(Literals { min: v, max: v })
    }

    fn join(self, o: Literals) -> Literals {
        Literals { min: self.min.min(o.min), max: self.max.max(o.max) }
    }

    fn fit(self, ty: &Type) -> bool {
        let Type::Int(i) = ty else { return false };
        let (lo, hi) = match (i.signed, i.bits) {
            (true, b) => (-(1i128 << (b - 1)), (1i128 << (b - 1)) - 1),
            (false, b) => (0, (1i128 << b) - 1),
        };
        lo <= self.min && self.max <= hi
    }
}

/// The type of one stored place (a key element, the value) used as `known`
/// before and as `new` now, with the literals behind each; `None` when the
/// two cannot share a type.
fn merge(known: &Type, known_lit: Option<Literals>, new: &Type, new_lit: Option<Literals>) -> Option<(Type, Option<Literals>)> {
    match (known_lit, new_lit) {
        (Some(a), Some(b)) => Some((unify(known, new)?, Some(a.join(b)))),
        (None, Some(b)) if b.fit(known) => Some((known.clone(), None)),
        (Some(a), None) if a.fit(new) => Some((new.clone(), None)),
        _ => Some((unify(known, new)?, None)),
    }
}

pub(crate) fn display_name(name: &str) -> String {
    format!("@{name}")
}

/// "with key [uint64, string[16]]" or "without a key".
fn key_text(key: &[Type]) -> String {
    let items: Vec<String> = key.iter().map(|t| t.to_string()).collect();
    if items.is_empty() {
        "without a key".to_string()
    } else {
        format!("with key [{}]", items.join(", "))
    }
}

impl MapTable {
    pub fn id(&mut self, name: &str, span: Span) -> MapId {
        if let Some(id) = self.index.get(name) {
            return *id;
        }
        let id = MapId(self.entries.len() as u32);
        self.entries.push(MapState {
            name: name.to_string(),
            key: None,
            key_literals: Vec::new(),
            key_span: span,
            value: None,
            value_literals: None,
            value_span: span,
            declared: None,
            first_span: span,
            poisoned: false,
        });
        self.index.insert(name.to_string(), id);
        id
    }

    fn get(&self, id: MapId) -> &MapState {
        &self.entries[id.0 as usize]
    }

    fn get_mut(&mut self, id: MapId) -> &mut MapState {
        &mut self.entries[id.0 as usize]
    }

    pub fn value(&self, id: MapId) -> Option<&Type> {
        self.get(id).value.as_ref()
    }

    /// The map's key types once known (empty for a map without a key).
    pub fn key(&self, id: MapId) -> Option<&[Type]> {
        self.get(id).key.as_deref()
    }

    pub fn name(&self, id: MapId) -> String {
        display_name(&self.get(id).name)
    }

    pub fn is_poisoned(&self, id: MapId) -> bool {
        self.get(id).poisoned
    }

    /// The final table. Every map here was either written or an error was
    /// reported about it, so unknown types only reach failed programs.
    pub fn finish(&self, diags: &mut Vec<Diagnostic>) -> Vec<MapInfo> {
        let mut out = Vec::new();
        for m in &self.entries {
            if m.value.is_none() && m.declared.is_some() && !m.poisoned {
                let span = m.declared.map_or(m.first_span, |d| d.2);
                diags.push(Diagnostic::warning(span, format!("map {} is declared but never used", display_name(&m.name))));
            }
            out.push(MapInfo {
                name: m.name.clone(),
                key: m.key.clone().unwrap_or_default(),
                value: m.value.clone().unwrap_or(Type::Void),
                declared: m.declared.map(|(k, n, _)| (k, n)),
                span: m.declared.map_or(m.first_span, |d| d.2),
            });
        }
        out
    }
}

impl Checker<'_> {
    pub(super) fn map_decl(&mut self, decl: &ast::MapDecl) {
        let id = self.maps.id(&decl.name, decl.name_span);
        let name = display_name(&decl.name);
        if decl.max_entries == 0 {
            self.error(decl.span, format!("map {name} must have at least one entry"));
        }
        let state = self.maps.get_mut(id);
        // The discovery pass has seen every declaration already: only a
        // second declaration at another place is a duplicate.
        match state.declared {
            Some((_, _, first)) if first != decl.span => {
                let first = first;
                self.report(
                    Diagnostic::error(decl.name_span, format!("map {name} is declared twice"))
                        .with_hint("a map can be declared once; remove one of the declarations"),
                );
                self.report(Diagnostic::note(first, format!("{name} is first declared here")));
            }
            _ => state.declared = Some((decl.kind, decl.max_entries, decl.span)),
        }
    }

    /// Check a map's key expressions against its key type (learning it on
    /// first use). `Some(None)` for a scalar map; `None` after an error.
    pub(super) fn map_key(&mut self, mref: &ast::MapRef) -> Option<(MapId, Option<TExpr>)> {
        let id = self.maps.id(&mref.name, mref.name_span);
        let mut keys = Vec::new();
        let mut failed = false;
        for k in &mref.keys {
            match self.expr(k) {
                Some(t) => keys.push(t),
                None => failed = true,
            }
        }
        // `@m[(a, b)]` is the same key as `@m[a, b]`.
        if keys.len() == 1 && matches!(keys[0].kind, TExprKind::Tuple(_)) {
            if let Some(TExpr { kind: TExprKind::Tuple(items), .. }) = keys.pop() {
                keys = items;
            }
        }
        if keys.len() == 1 {
            keys = self.split_tuple_key(id, keys);
        }
        if failed {
            return None;
        }
        let keys: Vec<TExpr> = keys.into_iter().map(|k| self.enum_key(k)).collect();
        let mut types = Vec::new();
        for k in &keys {
            // A literal key is stored as a 64-bit integer (as a literal
            // value is): `@m[1]` and `@m[1000]` are one key type, and a
            // REPL session's later `@m[200]` fits the map it created.
            let ty = match (&k.ty, Literals::of(k)) {
                (Type::Int(i), Some(_)) => Type::Int(IntType { bits: 64, signed: i.signed }),
                _ => k.ty.clone(),
            };
            match key_type(&ty) {
                Some(t) => types.push(t),
                None => {
                    self.error(k.span, format!("a value of type '{}' cannot be a map key", k.ty));
                    return None;
                }
            }
        }
        let key_span = mref.keys.first().map_or(mref.span, |f| f.span.to(mref.keys.last().map_or(f.span, |l| l.span)));
        let types = self.unify_key(id, types, &keys, key_span, mref.span)?;
        // The discovery pass has already widened the key to its final type:
        // make each element's conversion to it explicit.
        let mut keys: Vec<TExpr> = keys.into_iter().zip(&types).map(|(k, t)| coerce(k, t)).collect();
        let key = match keys.len() {
            0 => None,
            1 => keys.pop(),
            _ => Some(TExpr { kind: TExprKind::Tuple(keys), ty: Type::Tuple(types), span: key_span }),
        };
        Some((id, key))
    }

    /// A tracepoint field of type `enum NAME` as a key prints by name
    /// (`@[args.reason]` shows `SKB_DROP_REASON_NO_SOCKET`): the key keeps
    /// the value, its type says how to print it.
    fn enum_key(&mut self, key: TExpr) -> TExpr {
        let TExprKind::TracepointArg { offset, .. } = key.kind else { return key };
        let field = self.scope().tp_fields.as_ref().and_then(|fs| fs.iter().find(|f| f.offset == offset).cloned());
        let Some(name) = field.and_then(|f| f.enum_name) else { return key };
        let variants = self.kernel.enum_variants(&name);
        if variants.is_empty() {
            return key;
        }
        let (span, ty) = (key.span, Type::Rendered(crate::types::Rendered::EnumName { name, variants }));
        TExpr { kind: TExprKind::Cast { expr: Box::new(key) }, ty, span }
    }

    /// A tuple-typed variable (or element of one) given as the key of a map
    /// with that many keys — `delete(@m, $kv.0)` in `for ($kv : @m)` — is
    /// those keys, one element each, as bpftrace reads it. Only a variable
    /// read is split: it can be read once per element.
    fn split_tuple_key(&self, id: MapId, mut keys: Vec<TExpr>) -> Vec<TExpr> {
        let Type::Tuple(items) = &keys[0].ty else { return keys };
        // A map not keyed yet takes the tuple's elements as its keys, so a
        // later `@m[a, b]` or `has_key(@m, (a, b))` is the same key.
        let wanted = self.maps.key(id).map_or(items.len(), |k| k.len());
        if items.len() < 2 || wanted != items.len() || !is_variable_read(&keys[0]) {
            return keys;
        }
        let (items, whole) = (items.clone(), keys.remove(0));
        items
            .into_iter()
            .enumerate()
            .map(|(n, ty)| {
                let index = TExpr { kind: TExprKind::Int(n as u64), ty: Type::I64, span: whole.span };
                let elem_size = super::type_size(&ty);
                TExpr { kind: TExprKind::Index { base: Box::new(whole.clone()), index: Box::new(index), elem_size }, ty, span: whole.span }
            })
            .collect()
    }

    fn unify_key(&mut self, id: MapId, types: Vec<Type>, keys: &[TExpr], span: Span, use_span: Span) -> Option<Vec<Type>> {
        let literals: Vec<Option<Literals>> = keys.iter().map(Literals::of).collect();
        let state = self.maps.get(id);
        let Some(known) = state.key.clone() else {
            let state = self.maps.get_mut(id);
            state.key = Some(types.clone());
            state.key_literals = literals;
            state.key_span = span;
            return Some(types);
        };
        let merged: Option<Vec<(Type, Option<Literals>)>> = if known.len() == types.len() {
            (0..known.len()).map(|i| merge(&known[i], state.key_literals[i], &types[i], literals[i])).collect()
        } else {
            None
        };
        match merged {
            Some(m) => {
                let (m, lits): (Vec<Type>, Vec<Option<Literals>>) = m.into_iter().unzip();
                let state = self.maps.get_mut(id);
                state.key = Some(m.clone());
                state.key_literals = lits;
                Some(m)
            }
            None => {
                let name = self.maps.name(id);
                let first = state.key_span;
                let report_span = if types.is_empty() { use_span } else { span };
                let mut d = Diagnostic::error(
                    report_span,
                    format!("map {name} is used {} but was first used {}", key_text(&types), key_text(&known)),
                );
                // `@st["x"]` against an int32 key: say why the literal did not adapt.
                let one_literal = keys.len() == 1 && known.len() == 1 && matches!(keys[0].kind, TExprKind::Int(_) | TExprKind::Str(_));
                if one_literal {
                    d = d.with_hint(format!("a literal key takes {name}'s key type ({}) only when its value is one of that type", known[0]));
                }
                self.report(d);
                self.report(Diagnostic::note(first, format!("{name} is first used here, {}", key_text(&known))));
                None
            }
        }
    }

    /// Record a write of `ty` into the map (learning the value type on the
    /// first one); `literal` if the value is an integer literal. Returns the
    /// map's value type after the write.
    pub(super) fn map_write(&mut self, id: MapId, ty: &Type, literal: Option<Literals>, span: Span) -> Option<Type> {
        let stored = match ty {
            Type::Int(i) => Type::Int(IntType { bits: 64, signed: i.signed }),
            other => other.clone(),
        };
        let state = self.maps.get(id);
        let Some(known) = state.value.clone() else {
            let state = self.maps.get_mut(id);
            state.value = Some(stored.clone());
            state.value_literals = literal;
            state.value_span = span;
            return Some(stored);
        };
        if let Some((merged, lits)) = merge(&known, state.value_literals, &stored, literal) {
            let state = self.maps.get_mut(id);
            state.value = Some(merged.clone());
            state.value_literals = lits;
            return Some(merged);
        }
        let name = self.maps.name(id);
        let first = state.value_span;
        let message = match (&known, ty) {
            (Type::Agg(AggKind::Lhist { min, max, step }), Type::Agg(AggKind::Lhist { min: m2, max: x2, step: s2 })) => format!(
                "lhist() buckets differ for {name}: ({m2}, {x2}, {s2}) here, ({min}, {max}, {step}) at the first assignment"
            ),
            (Type::Agg(a @ AggKind::Tseries { .. }), Type::Agg(b @ AggKind::Tseries { .. })) => {
                format!("tseries() shapes differ for {name}: {} here, {} at the first assignment", tseries_shape(b), tseries_shape(a))
            }
            _ => format!("type mismatch for {name}: assigning a value of type '{ty}' to a map that holds '{known}'"),
        };
        let mut d = Diagnostic::error(span, message);
        if let Type::Agg(agg) = known {
            d = d.with_hint(format!("{name} is filled by {}(…); keep one kind of value per map", agg.func_name()));
        }
        self.report(d);
        self.report(Diagnostic::note(first, format!("{name} is first assigned here, as '{known}'")));
        None
    }

    /// A write whose value failed to type: remember it so the map's other
    /// uses do not report "undefined map".
    pub(super) fn poison_map(&mut self, mref: &ast::MapRef) {
        let id = self.maps.id(&mref.name, mref.name_span);
        if self.maps.value(id).is_none() {
            self.maps.get_mut(id).poisoned = true;
        }
    }

    /// `@m[k]` as a value.
    pub(super) fn map_read(&mut self, mref: &ast::MapRef, span: Span) -> Option<TExpr> {
        let (id, key) = self.map_key(mref)?;
        let value = self.defined_map_value(id, mref.span)?;
        let read = TExpr { kind: TExprKind::MapRead { map: id, key: key.map(Box::new) }, ty: value.clone(), span };
        let Type::Agg(agg) = value else {
            return Some(read);
        };
        // count/sum/min/max/avg maps read back as one integer (summed over
        // CPUs by the code generator); histograms and stats have no single
        // value to read.
        let int = match agg {
            AggKind::Count => IntType::U64,
            AggKind::Sum { signed } | AggKind::Min { signed } | AggKind::Max { signed } | AggKind::Avg { signed } => {
                IntType { bits: 64, signed }
            }
            AggKind::Stats { .. } | AggKind::Hist | AggKind::Lhist { .. } | AggKind::Tseries { .. } => {
                let name = self.maps.name(id);
                self.error_hint(
                    span,
                    format!("{name} holds {}() values, which cannot be read in an expression", agg.func_name()),
                    Some(format!("print it instead: print({name})")),
                );
                return None;
            }
        };
        Some(TExpr { kind: TExprKind::Cast { expr: Box::new(read) }, ty: Type::Int(int), span })
    }

    /// The map's value type, or an "undefined map" error if nothing ever
    /// writes it.
    pub(super) fn defined_map_value(&mut self, id: MapId, span: Span) -> Option<Type> {
        if let Some(v) = self.maps.value(id) {
            return Some(v.clone());
        }
        if self.maps.is_poisoned(id) {
            // Written, but no write has a type yet: either the write failed
            // (already reported) or it reads the map itself (`@n = @n + 1`).
            // bpftrace reads such a map as an int64 that starts at 0; doing the
            // same types the self-referential write on the next pass.
            return Some(Type::I64);
        }
        {
            let name = self.maps.name(id);
            self.error_hint(
                span,
                format!("undefined map {name}: it is used but never assigned"),
                Some(format!("assign it somewhere, e.g. {name}[key] = count()")),
            );
        }
        None
    }
}

/// `$v`, `$v.0`, `$v.0.1`: reads without side effects.
fn is_variable_read(e: &TExpr) -> bool {
    match &e.kind {
        TExprKind::Var(_) => true,
        TExprKind::Index { base, index, .. } => matches!(index.kind, TExprKind::Int(_)) && is_variable_read(base),
        _ => false,
    }
}

/// `e` converted to the stored integer type `ty` (a no-op for other types,
/// whose stored form only differs in buffer size).
pub(crate) fn coerce(e: TExpr, ty: &Type) -> TExpr {
    if e.ty == *ty || !matches!(ty, Type::Int(_)) || !e.ty.is_scalar() {
        return e;
    }
    let span = e.span;
    TExpr { kind: TExprKind::Cast { expr: Box::new(e) }, ty: ty.clone(), span }
}


/// `(interval 1000000000 ns, 3 intervals, sum)`, to tell two tseries() apart.
fn tseries_shape(agg: &AggKind) -> String {
    match agg {
        AggKind::Tseries { interval_ns, intervals, agg, .. } => {
            format!("(interval {interval_ns} ns, {intervals} intervals, {})", format!("{agg:?}").to_lowercase())
        }
        other => other.to_string(),
    }
}
