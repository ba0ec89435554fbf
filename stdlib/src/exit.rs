//! `exit()`: stop tracing; END probes run and maps are printed.

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

pub(crate) const FUNCS: &[FuncInfo] = &[FuncInfo {
    func: Func::Exit,
    name: "exit",
    min_args: 0,
    max_args: 1,
    role: FuncRole::Statement,
    signature: "exit([code])",
    doc: "stop tracing: END probes run, then maps are printed; flowtrace exits with `code` (default 0)",
    unsupported: None,
}];
