//! Lowering checked without a kernel: expressions are lowered, allocated and
//! run on the IR interpreter (anything that needs no helper call).

use super::{Globals, Lowerer};
use crate::ir::{interp, AluOp, Inst, Src, R0};
use crate::regalloc;
use flowtrace_lang::ast::{AttachKind, AttachPoint, BinOp, UnOp};
use flowtrace_lang::span::Span;
use flowtrace_lang::typed::{TExpr, TExprKind, TProbe, TStmt, TStmtKind, TypedProgram, VarId, VarInfo};
use flowtrace_lang::types::{IntType, Type};

fn program() -> TypedProgram {
    let attach = AttachPoint { kind: AttachKind::Begin, raw: "BEGIN".into(), span: Span::default() };
    let probe = TProbe { attach, source_probe: 0, predicate: None, body: vec![], vars: vec![], span: Span::default() };
    TypedProgram { maps: vec![], probes: vec![probe], warnings: vec![], field_names: Default::default(), settings: Default::default(), records: Default::default() }
}

fn eval(e: &TExpr) -> i64 {
    let prog = program();
    let mut g = Globals::new(0);
    let mut l = Lowerer::new(&prog, 0, &mut g);
    let v = l.expr(e).expect("lowers");
    let r = l.truthy(v, e).expect("has a value");
    l.emit(Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Reg(r) });
    l.emit(Inst::Exit);
    let mut f = l.f;
    crate::ir::cleanup::simplify(&mut f).unwrap();
    interp::run(&regalloc::allocate(&f).unwrap().func) as i64
}

fn int(n: i64) -> TExpr {
    TExpr { kind: TExprKind::Int(n as u64), ty: Type::I64, span: Span::default() }
}

fn uint(n: u64) -> TExpr {
    TExpr { kind: TExprKind::Int(n), ty: Type::U64, span: Span::default() }
}

fn s(text: &str) -> TExpr {
    TExpr { kind: TExprKind::Str(text.into()), ty: Type::Str { cap: text.len() as u32 + 1 }, span: Span::default() }
}

fn bin(op: BinOp, a: TExpr, b: TExpr) -> TExpr {
    let ty = if op.is_comparison() || matches!(op, BinOp::And | BinOp::Or) { Type::Bool } else { a.ty.clone() };
    TExpr { kind: TExprKind::Binary { op, lhs: Box::new(a), rhs: Box::new(b) }, ty, span: Span::default() }
}

/// A non-literal copy of `e` (so comparisons do not fold it into an immediate).
fn opaque(e: TExpr) -> TExpr {
    let ty = e.ty.clone();
    TExpr { kind: TExprKind::Cast { expr: Box::new(e) }, ty, span: Span::default() }
}

fn cast(ty: IntType, e: TExpr) -> TExpr {
    TExpr { kind: TExprKind::Cast { expr: Box::new(e) }, ty: Type::Int(ty), span: Span::default() }
}

#[test]
fn constant_division_by_zero_and_wide_shifts_give_zero_as_in_bpftrace() {
    // BPF's verifier refuses these with constant operands, and x % 0 keeps x.
    for (op, a, b) in [(BinOp::Mod, 7, 0), (BinOp::Div, 7, 0), (BinOp::Mod, -7, 0), (BinOp::Shl, 1, 65), (BinOp::Shl, 1, 64), (BinOp::Shr, 8, 64), (BinOp::Shl, 1, -1)] {
        assert_eq!(eval(&bin(op, int(a), int(b))), 0, "{a} {op:?} {b} as constants");
    }
    assert_eq!(eval(&bin(BinOp::Mod, uint(7), uint(0))), 0);
}

#[test]
fn run_time_division_by_zero_and_wide_shifts_are_what_bpf_gives() {
    // What bpftrace 0.17 prints for run-time operands (tests/diff/values.bt).
    assert_eq!(eval(&bin(BinOp::Mod, int(7), opaque(int(0)))), 7);
    assert_eq!(eval(&bin(BinOp::Mod, int(-7), opaque(int(0)))), -7);
    assert_eq!(eval(&bin(BinOp::Div, int(7), opaque(int(0)))), 0);
    assert_eq!(eval(&bin(BinOp::Shl, int(1), opaque(int(65)))), 2);
    assert_eq!(eval(&bin(BinOp::Shl, int(1), opaque(int(63)))), i64::MIN);
}

#[test]
fn signed_division_truncates_toward_zero() {
    for (a, b) in [(-7, 2), (7, -2), (-7, -2), (7, 2), (-9, 3), (0, 5)] {
        assert_eq!(eval(&bin(BinOp::Div, int(a), int(b))), a / b, "{a} / {b}");
        assert_eq!(eval(&bin(BinOp::Mod, int(a), int(b))), a % b, "{a} % {b}");
    }
    // Unsigned operands divide as unsigned.
    assert_eq!(eval(&bin(BinOp::Div, uint(u64::MAX), uint(2))), (u64::MAX / 2) as i64);
}

#[test]
fn comparisons_follow_operand_signedness() {
    let minus_one = opaque(int(-1));
    assert_eq!(eval(&bin(BinOp::Lt, minus_one.clone(), opaque(int(1)))), 1);
    // As u64, -1 is the largest value.
    assert_eq!(eval(&bin(BinOp::Lt, opaque(uint(u64::MAX)), opaque(uint(1)))), 0);
    assert_eq!(eval(&bin(BinOp::Ge, minus_one, int(-1))), 1);
}

#[test]
fn logic_short_circuits_and_negates() {
    let t = || bin(BinOp::Eq, opaque(int(1)), int(1));
    let f = || bin(BinOp::Eq, opaque(int(1)), int(2));
    assert_eq!(eval(&bin(BinOp::And, t(), f())), 0);
    assert_eq!(eval(&bin(BinOp::Or, f(), t())), 1);
    let not = TExpr { kind: TExprKind::Unary { op: UnOp::Not, expr: Box::new(f()) }, ty: Type::Bool, span: Span::default() };
    assert_eq!(eval(&not), 1);
    let tern = TExpr {
        kind: TExprKind::Ternary { cond: Box::new(f()), then: Box::new(int(10)), otherwise: Box::new(int(20)) },
        ty: Type::I64,
        span: Span::default(),
    };
    assert_eq!(eval(&tern), 20);
}

#[test]
fn casts_truncate_and_extend() {
    assert_eq!(eval(&cast(IntType::U8, int(300))), 44);
    assert_eq!(eval(&cast(IntType::I8, int(200))), -56);
    assert_eq!(eval(&cast(IntType::U32, int(-1))), 0xffff_ffff);
    assert_eq!(eval(&cast(IntType::I16, int(0x18000))), -32768);
}

#[test]
fn string_equality_stops_at_the_terminator() {
    assert_eq!(eval(&bin(BinOp::Eq, s("abc"), s("abc"))), 1);
    assert_eq!(eval(&bin(BinOp::Eq, s("abc"), s("abd"))), 0);
    assert_eq!(eval(&bin(BinOp::Eq, s("ab"), s("abc"))), 0);
    assert_eq!(eval(&bin(BinOp::Ne, s("abc"), s("ab"))), 1);
    assert_eq!(eval(&bin(BinOp::Eq, s(""), s(""))), 1);
}

#[test]
fn pointer_arithmetic_scales_by_the_pointee() {
    let p = |n: u64| TExpr { kind: TExprKind::Int(n), ty: Type::ptr(Type::Int(IntType::U32)), span: Span::default() };
    let add = |a: TExpr, b: TExpr| {
        let ty = if a.ty.is_pointer() { a.ty.clone() } else { b.ty.clone() };
        TExpr { kind: TExprKind::Binary { op: BinOp::Add, lhs: Box::new(a), rhs: Box::new(b) }, ty, span: Span::default() }
    };
    assert_eq!(eval(&add(p(1000), int(3))), 1012);
    assert_eq!(eval(&add(opaque(int(3)), p(1000))), 1012);
    assert_eq!(eval(&add(p(1000), opaque(int(2)))), 1008);
}

/// Runs `e` in a probe whose variables are `vars` (`$v0`, `$v1`, … of
/// the given types), each in a zeroed stack slot as `lower_body` makes them.
fn eval_in(vars: &[Type], e: &TExpr) -> i64 {
    let mut prog = program();
    prog.probes[0].vars = vars.iter().enumerate().map(|(i, ty)| VarInfo { name: format!("v{i}"), ty: ty.clone() }).collect();
    let mut g = Globals::new(0);
    let mut l = Lowerer::new(&prog, 0, &mut g);
    for _ in vars {
        let slot = l.alloc(8).unwrap();
        l.zero(slot, 8);
        l.vars.push(slot);
    }
    let v = l.expr(e).expect("lowers");
    let r = l.truthy(v, e).expect("has a value");
    l.emit(Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Reg(r) });
    l.emit(Inst::Exit);
    let mut f = l.f;
    crate::ir::cleanup::simplify(&mut f).unwrap();
    interp::run(&regalloc::allocate(&f).unwrap().func) as i64
}

fn var(n: u32) -> TExpr {
    TExpr { kind: TExprKind::Var(VarId(n)), ty: Type::I64, span: Span::default() }
}

fn stmt(kind: TStmtKind) -> TStmt {
    TStmt { kind, span: Span::default() }
}

fn set(n: u32, value: TExpr) -> TStmt {
    stmt(TStmtKind::AssignVar { var: VarId(n), value })
}

fn block(stmts: Vec<TStmt>, value: TExpr) -> TExpr {
    let ty = value.ty.clone();
    TExpr { kind: TExprKind::Block { stmts, value: Box::new(value) }, ty, span: Span::default() }
}

fn when(cond: TExpr, then: Vec<TStmt>) -> TStmt {
    stmt(TStmtKind::If { cond, then, otherwise: vec![] })
}

#[test]
fn for_ranges_continue_and_break() {
    // { $v0 = 0; for ($v1 : 2..8) { if ($v1 == 4) { continue } if ($v1 == 6) { break } $v0 = $v0 + $v1 } $v0 }
    let body = vec![
        when(bin(BinOp::Eq, var(1), int(4)), vec![stmt(TStmtKind::Continue)]),
        when(bin(BinOp::Eq, var(1), int(6)), vec![stmt(TStmtKind::Break)]),
        set(0, bin(BinOp::Add, var(0), var(1))),
    ];
    let e = block(vec![set(0, int(0)), stmt(TStmtKind::ForRange { var: VarId(1), start: int(2), end: int(8), body })], var(0));
    assert_eq!(eval_in(&[Type::I64, Type::I64], &e), 2 + 3 + 5);
    // Empty and negative ranges.
    let count = |start: i64, end: i64| {
        let body = vec![set(0, bin(BinOp::Add, var(0), int(1)))];
        block(vec![stmt(TStmtKind::ForRange { var: VarId(1), start: int(start), end: opaque(int(end)), body })], var(0))
    };
    assert_eq!(eval_in(&[Type::I64, Type::I64], &count(5, 5)), 0);
    assert_eq!(eval_in(&[Type::I64, Type::I64], &count(1, 0)), 0);
    assert_eq!(eval_in(&[Type::I64, Type::I64], &count(-3, 3)), 6);
}

#[test]
fn a_for_range_stops_at_the_round_cap() {
    // The verifier must see every range end; a bound it cannot know (here
    // 5000, opaque) is cut at MAX_ROUNDS.
    let body = vec![set(0, bin(BinOp::Add, var(0), int(1)))];
    let e = block(vec![stmt(TStmtKind::ForRange { var: VarId(1), start: int(0), end: opaque(int(5000)), body })], var(0));
    assert_eq!(eval_in(&[Type::I64, Type::I64], &e), i64::from(super::loops::MAX_ROUNDS));
}

#[test]
fn while_breaks_and_continues() {
    // { while (1) { $v0++; if ($v0 % 2 == 0) { continue } $v1 = $v1 + $v0; if ($v0 >= 7) { break } } $v1 }
    let body = vec![
        set(0, bin(BinOp::Add, var(0), int(1))),
        when(bin(BinOp::Eq, bin(BinOp::Mod, var(0), int(2)), int(0)), vec![stmt(TStmtKind::Continue)]),
        set(1, bin(BinOp::Add, var(1), var(0))),
        when(bin(BinOp::Ge, var(0), int(7)), vec![stmt(TStmtKind::Break)]),
    ];
    let e = block(vec![stmt(TStmtKind::While { cond: opaque(int(1)), body })], var(1));
    assert_eq!(eval_in(&[Type::I64, Type::I64], &e), 1 + 3 + 5 + 7);
}

#[test]
fn pointer_variables_step_by_elements() {
    let ptr = Type::ptr(Type::Int(IntType::U32));
    let p = TExpr { kind: TExprKind::Var(VarId(0)), ty: ptr.clone(), span: Span::default() };
    let inc = TExpr {
        kind: TExprKind::IncDec { target: Box::new(p.clone()), increment: true, prefix: true },
        ty: ptr.clone(),
        span: Span::default(),
    };
    let start = TExpr { kind: TExprKind::Int(100), ty: ptr.clone(), span: Span::default() };
    let e = block(vec![set(0, start), stmt(TStmtKind::Expr(inc))], p);
    assert_eq!(eval_in(&[ptr], &e), 104);
}
