//! Checker unit tests through the parser and the fake kernel.

mod support;

use flowtrace_lang::dump_types::dump_types;
use flowtrace_lang::typed::{Bitfield, TExpr, TExprKind, TStmtKind, TypedProgram};
use flowtrace_lang::types::{AggKind, IntType, Type};
use support::check_text;

fn ok(text: &str) -> TypedProgram {
    match check_text(text, &[]) {
        Ok(p) => p,
        Err(e) => panic!("expected success, got:\n{e}"),
    }
}

fn err(text: &str) -> String {
    match check_text(text, &[]) {
        Ok(p) => panic!("expected errors, got:\n{}", dump_types(&p)),
        Err(e) => e,
    }
}

#[test]
fn smoke_dump() {
    let p = ok("kprobe:tcp_sendmsg { $sk = (struct sock *)arg0; @b[comm, $sk->__sk_common.skc_dport] = count(); printf(\"%d\\n\", $sk->__sk_common.skc_daddr); }");
    println!("{}", dump_types(&p));
}
