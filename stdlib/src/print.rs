//! `print(@map[, top[, div]])` and `print(value)`.

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

pub(crate) const FUNCS: &[FuncInfo] = &[FuncInfo {
    func: Func::Print,
    name: "print",
    min_args: 1,
    max_args: 3,
    role: FuncRole::Statement,
    signature: "print(@map [, top [, div]]) or print(value)",
    doc: "print a map (optionally only the `top` largest entries, values divided by `div`) or a value",
    unsupported: None,
}];
