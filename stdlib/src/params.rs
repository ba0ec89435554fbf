//! `getopt()`: named program parameters (`flowtrace script.ft --name=value`),
//! as today's bpftrace has them. A constant: the checker replaces each call
//! with the value given on the command line, typed by the default.

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

pub(crate) const FUNCS: &[FuncInfo] = &[FuncInfo {
    func: Func::Getopt,
    name: "getopt",
    min_args: 1,
    max_args: 3,
    role: FuncRole::Value,
    signature: "getopt(string name[, default[, string description]])",
    doc: "the named parameter `--name=VALUE` given after the program, typed as its default (integer, string or bool); `--name` alone is true; without a default it is a bool",
    unsupported: None,
}];
