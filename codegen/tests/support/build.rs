//! Build typed programs by hand (the checker is written in parallel).

#![allow(dead_code)]

use flowtrace_lang::ast::{AttachKind, AttachPoint, BinOp, MapKind};
use flowtrace_lang::span::Span;
use flowtrace_lang::typed::*;
use flowtrace_lang::types::{AggKind, IntType, Type};
use flowtrace_stdlib::{Builtin, Func};

pub fn sp() -> Span {
    Span::new(0, 1)
}

pub fn ex(kind: TExprKind, ty: Type) -> TExpr {
    TExpr { kind, ty, span: sp() }
}

pub fn int(n: i64) -> TExpr {
    ex(TExprKind::Int(n as u64), Type::I64)
}

pub fn uint(n: u64) -> TExpr {
    ex(TExprKind::Int(n), Type::U64)
}

pub fn s(text: &str) -> TExpr {
    ex(TExprKind::Str(text.into()), Type::Str { cap: text.len() as u32 + 1 })
}

pub fn tp_arg(offset: u32, size: u32, ty: Type) -> TExpr {
    ex(TExprKind::TracepointArg { offset, size, data_loc: false }, ty)
}

pub fn builtin(b: Builtin, ty: Type) -> TExpr {
    ex(TExprKind::Builtin(b), ty)
}

pub fn bin(op: BinOp, l: TExpr, r: TExpr, ty: Type) -> TExpr {
    ex(TExprKind::Binary { op, lhs: Box::new(l), rhs: Box::new(r) }, ty)
}

pub fn var(id: u32, ty: Type) -> TExpr {
    ex(TExprKind::Var(VarId(id)), ty)
}

pub fn call(func: Func, args: Vec<TExpr>, ty: Type) -> TExpr {
    ex(TExprKind::Call { func, args }, ty)
}

pub fn map_read(id: u32, key: Option<TExpr>, ty: Type) -> TExpr {
    ex(TExprKind::MapRead { map: MapId(id), key: key.map(Box::new) }, ty)
}

pub fn tuple(items: Vec<TExpr>) -> TExpr {
    let ty = Type::Tuple(items.iter().map(|i| i.ty.clone()).collect());
    ex(TExprKind::Tuple(items), ty)
}

pub fn st(kind: TStmtKind) -> TStmt {
    TStmt { kind, span: sp() }
}

pub fn agg(map: u32, key: Option<TExpr>, agg: AggKind, arg: Option<TExpr>) -> TStmt {
    st(TStmtKind::Aggregate { map: MapId(map), key, agg, arg })
}

pub fn count(map: u32, key: Option<TExpr>) -> TStmt {
    agg(map, key, AggKind::Count, None)
}

pub fn map_info(name: &str, key: Vec<Type>, value: Type) -> MapInfo {
    MapInfo { name: name.into(), key, value, declared: None, span: sp() }
}

pub fn declared(mut m: MapInfo, kind: MapKind, n: u64) -> MapInfo {
    m.declared = Some((kind, n));
    m
}

pub fn attach(kind: AttachKind, raw: &str) -> AttachPoint {
    AttachPoint { kind, raw: raw.into(), span: sp() }
}

pub fn tracepoint_at(cat: &str, name: &str) -> AttachPoint {
    attach(AttachKind::Tracepoint { category: cat.into(), name: name.into() }, &format!("tracepoint:{cat}:{name}"))
}

pub fn probe(at: AttachPoint, predicate: Option<TExpr>, body: Vec<TStmt>, vars: Vec<(&str, Type)>) -> TProbe {
    TProbe {
        attach: at,
        source_probe: 0,
        predicate,
        body,
        vars: vars.into_iter().map(|(n, t)| VarInfo { name: n.into(), ty: t }).collect(),
        span: sp(),
    }
}

pub fn program(maps: Vec<MapInfo>, probes: Vec<TProbe>) -> TypedProgram {
    TypedProgram { maps, probes, warnings: Vec::new(), field_names: Default::default(), settings: Default::default(), records: Default::default() }
}

pub const I32: Type = Type::Int(IntType::I32);
pub const U16: Type = Type::Int(IntType::U16);
pub const U32: Type = Type::Int(IntType::U32);
pub const U8: Type = Type::Int(IntType::U8);

/// sock:inet_sock_set_state fields (from its tracefs format).
pub mod inet_sock_set_state {
    use super::*;
    pub fn oldstate() -> TExpr {
        tp_arg(16, 4, I32)
    }
    pub fn newstate() -> TExpr {
        tp_arg(20, 4, I32)
    }
    pub fn sport() -> TExpr {
        tp_arg(24, 2, U16)
    }
    pub fn dport() -> TExpr {
        tp_arg(26, 2, U16)
    }
    pub fn family() -> TExpr {
        tp_arg(28, 2, U16)
    }
    pub fn saddr() -> TExpr {
        tp_arg(32, 4, Type::Array { elem: Box::new(U8), len: 4 })
    }
    pub fn daddr() -> TExpr {
        tp_arg(36, 4, Type::Array { elem: Box::new(U8), len: 4 })
    }
    pub fn saddr_v6() -> TExpr {
        tp_arg(40, 16, Type::Array { elem: Box::new(U8), len: 16 })
    }
    /// `args.sport == port || args.dport == port`
    pub fn on_port(port: u16) -> TExpr {
        bin(
            BinOp::Or,
            bin(BinOp::Eq, sport(), int(port as i64), Type::Bool),
            bin(BinOp::Eq, dport(), int(port as i64), Type::Bool),
            Type::Bool,
        )
    }
    pub fn at() -> AttachPoint {
        tracepoint_at("sock", "inet_sock_set_state")
    }
}
