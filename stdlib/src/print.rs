//! `print(@map[, top[, div]])` and `print(value)`; `cat(fmt, …)`, which
//! prints a file, and `join(argv[, sep])`, which prints a string array.

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

pub(crate) const FUNCS: &[FuncInfo] = &[
    FuncInfo {
    func: Func::Print,
    name: "print",
    min_args: 1,
    max_args: 3,
    role: FuncRole::Statement,
    signature: "print(@map [, top [, div]]) or print(value)",
    doc: "print a map (optionally only the `top` largest entries, values divided by `div`) or a value",
    unsupported: None,
    },
    FuncInfo {
        func: Func::Cat,
        name: "cat",
        min_args: 1,
        max_args: usize::MAX,
        role: FuncRole::Statement,
        signature: "cat(string format, args…)",
        doc: "print the contents of the file named by the printf-formatted path, read in userspace when the event arrives",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Join,
        name: "join",
        min_args: 1,
        max_args: 2,
        role: FuncRole::Statement,
        signature: "join(char *arr[] [, string sep])",
        doc: "print the strings of a NULL-terminated pointer array (at most 16, 64 bytes each) separated by `sep` (default ' ')",
        unsupported: None,
    },
];
