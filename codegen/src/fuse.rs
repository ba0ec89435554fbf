//! Fused aggregations: which user maps share one BPF map.
//!
//! `@pkts[k] = count(); @bytes[k] = sum(len);` costs two hash lookups per
//! event when each map has its own BPF map. When the statements sit next to
//! each other under the same key expression, one map whose value holds
//! both aggregations' fields does the same work with one lookup. Fusion is
//! invisible to the script and the user: every reader (print, clear, zero,
//! delete, export, `-d`) goes through `object::FusedPart`, and shows the
//! members as separate maps.
//!
//! A map is fused only where that is plainly safe:
//! - it is written by exactly one statement, an aggregation of fixed-size
//!   fields (`count`, `sum`, `min`, `max`, `avg`), and never read, deleted
//!   or iterated in a probe (those keep their own map, so nothing in the
//!   probe needs to know where its entries live);
//! - that statement is in a run of consecutive such statements with the
//!   same key expression (compared ignoring spans), the same key types and
//!   the same declaration (`lruhash(N)` both, or neither), so the members'
//!   key sets only differ by what userspace removes from one of them;
//! - the key and every argument of the run are pure within one event
//!   (fields, constants, `pid`, … — not `nsecs`, not `$x++`), so
//!   evaluating the key once and the arguments in any order is invisible;
//! - an LRU group is cleared (`clear`) as a whole or not at all: evictions
//!   are counted per BPF entry, which is exact only when every member holds
//!   every entry's key (see `runtime::maps`).

use flowtrace_lang::ast::{MapKind, UnOp};
use flowtrace_lang::typed::{MapId, TExpr, TExprKind, TStmt, TStmtKind, TypedProgram};
use flowtrace_lang::types::{AggKind, Type};
use flowtrace_stdlib::Builtin;

/// One aggregation statement of a fused group.
#[derive(Clone, Debug)]
pub struct FusedMember {
    pub map: MapId,
    pub agg: AggKind,
    pub arg: Option<TExpr>,
    /// Byte offset of this member's fields in the fused value.
    pub offset: u32,
}

/// User maps stored in one BPF map, updated by one statement run.
#[derive(Clone, Debug)]
pub struct FusedGroup {
    /// In statement order; member `i` owns presence bit `i`.
    pub members: Vec<FusedMember>,
    pub key: Option<TExpr>,
    /// The presence word, then each member's fields.
    pub value_size: u32,
}

#[derive(Clone, Debug, Default)]
pub struct FusePlan {
    pub groups: Vec<FusedGroup>,
}

impl FusePlan {
    /// (group, member index) of a fused map.
    pub fn find(&self, map: MapId) -> Option<(usize, usize)> {
        self.groups.iter().enumerate().find_map(|(g, group)| group.members.iter().position(|m| m.map == map).map(|i| (g, i)))
    }
}

/// Most members of one group (their presence bits fit a positive 32-bit
/// immediate).
pub const MAX_MEMBERS: usize = 30;

/// Bytes of the presence word at the start of a fused value.
pub const PRESENCE_BYTES: u32 = 8;

/// The groups of `p` worth fusing (two or more members each).
pub fn plan(p: &TypedProgram) -> FusePlan {
    let mut uses = Uses::new(p.maps.len());
    for probe in &p.probes {
        probe.predicate.iter().for_each(|e| uses.expr(e));
        uses.stmts(&probe.body);
    }
    let mut groups = Vec::new();
    for probe in &p.probes {
        find_groups(&probe.body, p, &uses, &mut groups);
    }
    FusePlan { groups }
}

/// How each map is used anywhere in the program.
struct Uses {
    aggregations: Vec<u32>,
    other: Vec<bool>,
    cleared: Vec<bool>,
}

impl Uses {
    fn new(n: usize) -> Uses {
        Uses { aggregations: vec![0; n], other: vec![false; n], cleared: vec![false; n] }
    }

    fn stmts(&mut self, stmts: &[TStmt]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &TStmt) {
        match &s.kind {
            TStmtKind::Aggregate { map, key, arg, .. } => {
                self.aggregations[map.0 as usize] += 1;
                key.iter().chain(arg.iter()).for_each(|e| self.expr(e));
            }
            TStmtKind::MapStore { map, key, value } | TStmtKind::MapUpdate { map, key, value, .. } => {
                self.other[map.0 as usize] = true;
                key.iter().chain(std::iter::once(value)).for_each(|e| self.expr(e));
            }
            TStmtKind::Delete { map, key } => {
                self.other[map.0 as usize] = true;
                key.iter().for_each(|e| self.expr(e));
            }
            TStmtKind::ForMap { map, body, .. } => {
                self.other[map.0 as usize] = true;
                self.stmts(body);
            }
            // Done by userspace, which reads the fused layout.
            TStmtKind::Clear { map } => self.cleared[map.0 as usize] = true,
            TStmtKind::PrintMap { .. } | TStmtKind::Zero { .. } => {}
            TStmtKind::If { cond, then, otherwise } => {
                self.expr(cond);
                self.stmts(then);
                self.stmts(otherwise);
            }
            TStmtKind::While { cond, body } => {
                self.expr(cond);
                self.stmts(body);
            }
            TStmtKind::ForRange { start, end, body, .. } => {
                self.expr(start);
                self.expr(end);
                self.stmts(body);
            }
            TStmtKind::Expr(e) | TStmtKind::AssignVar { value: e, .. } | TStmtKind::PrintValue { value: e } => self.expr(e),
            TStmtKind::Printf { args, .. } | TStmtKind::Action { args, .. } => args.iter().for_each(|e| self.expr(e)),
            TStmtKind::Exit { code } => code.iter().for_each(|e| self.expr(e)),
            TStmtKind::Break | TStmtKind::Continue | TStmtKind::ZeroVar { .. } | TStmtKind::Return | TStmtKind::Time { .. } => {}
        }
    }

    fn expr(&mut self, e: &TExpr) {
        match &e.kind {
            TExprKind::MapRead { map, key } => {
                self.other[map.0 as usize] = true;
                key.iter().for_each(|k| self.expr(k));
            }
            TExprKind::Block { stmts, value } => {
                self.stmts(stmts);
                self.expr(value);
            }
            _ => children(e).into_iter().for_each(|c| self.expr(c)),
        }
    }
}

/// The sub-expressions of `e` (blocks and map reads are walked by the caller).
fn children(e: &TExpr) -> Vec<&TExpr> {
    match &e.kind {
        TExprKind::Unary { expr, .. } | TExprKind::Cast { expr } => vec![expr],
        TExprKind::Binary { lhs, rhs, .. } => vec![lhs, rhs],
        TExprKind::Ternary { cond, then, otherwise } => vec![cond, then, otherwise],
        TExprKind::Member { base, .. } => vec![base],
        TExprKind::Index { base, index, .. } => vec![base, index],
        TExprKind::Tuple(items) | TExprKind::Call { args: items, .. } => items.iter().collect(),
        TExprKind::IncDec { target, .. } => vec![target],
        TExprKind::MapRead { key, .. } => key.iter().map(|k| &**k).collect(),
        TExprKind::Block { value, .. } => vec![value],
        TExprKind::Int(_)
        | TExprKind::Str(_)
        | TExprKind::Builtin(_)
        | TExprKind::Var(_)
        | TExprKind::TracepointArg { .. }
        | TExprKind::FuncArg { .. }
        | TExprKind::ProbeName(_)
        | TExprKind::Bytes(_) => Vec::new(),
    }
}

/// Aggregations whose fields are a fixed 16 bytes or less, updated in place.
fn fusable_agg(agg: AggKind) -> bool {
    matches!(agg, AggKind::Count | AggKind::Sum { .. } | AggKind::Min { .. } | AggKind::Max { .. } | AggKind::Avg { .. })
}

/// The same value every time it is evaluated within one event, with no
/// side effect.
fn pure(e: &TExpr) -> bool {
    match &e.kind {
        TExprKind::Int(_) | TExprKind::Var(_) | TExprKind::ProbeName(_) | TExprKind::FuncArg { .. } => true,
        TExprKind::TracepointArg { data_loc, .. } => !data_loc,
        TExprKind::Builtin(b) => !matches!(b, Builtin::Nsecs | Builtin::Elapsed | Builtin::Args | Builtin::Skb),
        TExprKind::Unary { op, expr } => !matches!(op, UnOp::Deref) && pure(expr),
        TExprKind::Cast { expr } => pure(expr),
        TExprKind::Binary { lhs, rhs, .. } => pure(lhs) && pure(rhs),
        TExprKind::Tuple(items) => items.iter().all(pure),
        _ => false,
    }
}

/// Whether `a` and `b` are the same expression, ignoring spans (only the
/// shapes [`pure`] accepts).
fn same_expr(a: &TExpr, b: &TExpr) -> bool {
    if a.ty != b.ty {
        return false;
    }
    match (&a.kind, &b.kind) {
        (TExprKind::Int(x), TExprKind::Int(y)) => x == y,
        (TExprKind::Var(x), TExprKind::Var(y)) => x == y,
        (TExprKind::ProbeName(x), TExprKind::ProbeName(y)) => x == y,
        (TExprKind::FuncArg { index: x }, TExprKind::FuncArg { index: y }) => x == y,
        (TExprKind::TracepointArg { offset: o1, size: s1, data_loc: d1 }, TExprKind::TracepointArg { offset: o2, size: s2, data_loc: d2 }) => {
            (o1, s1, d1) == (o2, s2, d2)
        }
        (TExprKind::Builtin(x), TExprKind::Builtin(y)) => x == y,
        (TExprKind::Unary { op: o1, expr: e1 }, TExprKind::Unary { op: o2, expr: e2 }) => o1 == o2 && same_expr(e1, e2),
        (TExprKind::Cast { expr: e1 }, TExprKind::Cast { expr: e2 }) => same_expr(e1, e2),
        (TExprKind::Binary { op: o1, lhs: l1, rhs: r1 }, TExprKind::Binary { op: o2, lhs: l2, rhs: r2 }) => {
            o1 == o2 && same_expr(l1, l2) && same_expr(r1, r2)
        }
        (TExprKind::Tuple(x), TExprKind::Tuple(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_expr(p, q)),
        _ => false,
    }
}

/// The aggregation statement `s`, if its map can be fused at all.
fn candidate<'s>(s: &'s TStmt, p: &TypedProgram, uses: &Uses) -> Option<(MapId, &'s Option<TExpr>, AggKind, &'s Option<TExpr>)> {
    let TStmtKind::Aggregate { map, key, agg, arg } = &s.kind else { return None };
    let i = map.0 as usize;
    let ok = uses.aggregations[i] == 1
        && !uses.other[i]
        && fusable_agg(*agg)
        && matches!(p.maps[i].value, Type::Agg(_))
        && key.as_ref().is_none_or(pure)
        && arg.as_ref().is_none_or(pure);
    ok.then_some((*map, key, *agg, arg))
}

fn same_group(p: &TypedProgram, a: (MapId, &Option<TExpr>), b: (MapId, &Option<TExpr>)) -> bool {
    let (ma, mb) = (&p.maps[a.0 .0 as usize], &p.maps[b.0 .0 as usize]);
    let keys = match (a.1, b.1) {
        (None, None) => true,
        (Some(x), Some(y)) => same_expr(x, y),
        _ => false,
    };
    keys && ma.key == mb.key && ma.declared == mb.declared
}

/// Groups in `stmts` (and nested blocks) into `out`.
fn find_groups(stmts: &[TStmt], p: &TypedProgram, uses: &Uses, out: &mut Vec<FusedGroup>) {
    let mut run: Vec<FusedGroup> = Vec::new();
    for s in stmts {
        match candidate(s, p, uses) {
            Some((map, key, agg, arg)) => {
                let member = FusedMember { map, agg, arg: arg.clone(), offset: 0 };
                match run.iter_mut().find(|g| same_group(p, (g.members[0].map, &g.key), (map, key))) {
                    Some(g) => g.members.push(member),
                    None => run.push(FusedGroup { members: vec![member], key: key.clone(), value_size: 0 }),
                }
            }
            None => {
                close_run(&mut run, p, uses, out);
                match &s.kind {
                    TStmtKind::If { then, otherwise, .. } => {
                        find_groups(then, p, uses, out);
                        find_groups(otherwise, p, uses, out);
                    }
                    TStmtKind::While { body, .. } | TStmtKind::ForRange { body, .. } | TStmtKind::ForMap { body, .. } => {
                        find_groups(body, p, uses, out)
                    }
                    _ => {}
                }
            }
        }
    }
    close_run(&mut run, p, uses, out);
}

/// Keeps the groups of a finished run that are worth fusing, laid out.
fn close_run(run: &mut Vec<FusedGroup>, p: &TypedProgram, uses: &Uses, out: &mut Vec<FusedGroup>) {
    for mut g in run.drain(..) {
        if g.members.len() < 2 {
            continue;
        }
        // Presence bits are stored as a 32-bit immediate; members past
        // that keep their own maps.
        g.members.truncate(MAX_MEMBERS);
        let declared = p.maps[g.members[0].map.0 as usize].declared;
        let lru = matches!(declared, Some((MapKind::LruHash | MapKind::PercpuLruHash, _)));
        let cleared = g.members.iter().filter(|m| uses.cleared[m.map.0 as usize]).count();
        if lru && cleared != 0 && cleared != g.members.len() {
            continue;
        }
        let mut offset = PRESENCE_BYTES;
        for m in &mut g.members {
            m.offset = offset;
            offset += crate::layout::agg_size(m.agg);
        }
        g.value_size = offset;
        out.push(g);
    }
}
