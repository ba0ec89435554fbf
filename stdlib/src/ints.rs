//! Integer helpers: `sizeof(expr)` (a compile-time constant) and
//! `bswap(int)` (reverse byte order, e.g. network ↔ host order).

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

pub(crate) const FUNCS: &[FuncInfo] = &[
    FuncInfo {
        func: Func::Sizeof,
        name: "sizeof",
        min_args: 1,
        max_args: 1,
        role: FuncRole::Value,
        signature: "uint64 sizeof(expr)",
        doc: "size in bytes of the expression's type, known when compiling",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Bswap,
        name: "bswap",
        min_args: 1,
        max_args: 1,
        role: FuncRole::Value,
        signature: "uintN bswap(intN value)",
        doc: "the value with its bytes reversed (same width, unsigned)",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Offsetof,
        name: "offsetof",
        min_args: 2,
        max_args: 2,
        role: FuncRole::Value,
        signature: "uint64 offsetof(struct NAME | expr, field[.sub…])",
        doc: "byte offset of a (nested) field in a struct, known when compiling",
        unsupported: None,
    },
];
