//! Strings: `str(ptr[, len])` reads a NUL-terminated string from kernel
//! memory; `strncmp(a, b, n)` compares two strings.

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

pub(crate) const FUNCS: &[FuncInfo] = &[
    FuncInfo {
        func: Func::Str,
        name: "str",
        min_args: 1,
        max_args: 2,
        role: FuncRole::Value,
        signature: "string str(char *ptr [, int len])",
        doc: "read a NUL-terminated string (at most `len` bytes, NUL included) from kernel memory",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Strncmp,
        name: "strncmp",
        min_args: 3,
        max_args: 3,
        role: FuncRole::Value,
        signature: "uint64 strncmp(string a, string b, int n)",
        doc: "0 when the first `n` bytes of both strings are equal, else non-zero",
        unsupported: None,
    },
];
