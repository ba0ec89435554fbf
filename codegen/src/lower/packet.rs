//! tc packet builtins (`len`, `saddr`, `dport`, …) read from the `__sk_buff`
//! context and the packet headers.

use super::{LowerResult, Lowerer, Val};
use flowtrace_lang::typed::TExpr;
use flowtrace_stdlib::Builtin;

impl Lowerer<'_> {
    pub fn packet_builtin(&mut self, b: Builtin, e: &TExpr) -> LowerResult<Val> {
        Err(self.unsupported(e.span, &format!("the tc builtin {b:?}")))
    }
}
