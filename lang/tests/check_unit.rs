//! Checker rules through the parser and the fake kernel: integer promotion,
//! member offsets and bitfields, wildcard expansion, positional parameters,
//! variable widening, maps.

mod support;

use flowtrace_lang::dump_types::dump_types;
use flowtrace_lang::typed::{Bitfield, TExpr, TExprKind, TStmtKind, TypedProgram};
use flowtrace_lang::types::{AggKind, IntType, Type};
use support::check_text;

fn ok(text: &str) -> TypedProgram {
    ok_with(text, &[])
}

fn ok_with(text: &str, params: &[&str]) -> TypedProgram {
    match check_text(text, params) {
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

/// The value of the probe's `n`-th statement if it is `$v = value`.
fn assigned(p: &TypedProgram, probe: usize, n: usize) -> &TExpr {
    match &p.probes[probe].body[n].kind {
        TStmtKind::AssignVar { value, .. } => value,
        other => panic!("statement {n} is not an assignment: {other:?}"),
    }
}

fn ty_of(text_expr: &str) -> Type {
    let p = ok(&format!("kprobe:tcp_sendmsg {{ $v = {text_expr}; }}"));
    assigned(&p, 0, 0).ty.clone()
}

#[test]
fn literals_and_promotion() {
    // Today's bpftrace: a literal is the smallest signed type that holds it.
    let int = |bits, signed| Type::Int(IntType { bits, signed });
    assert_eq!(ty_of("1"), int(8, true));
    assert_eq!(ty_of("200"), int(16, true));
    assert_eq!(ty_of("-129"), int(16, true));
    assert_eq!(ty_of("70000"), int(32, true));
    assert_eq!(ty_of("5000000000"), Type::I64);
    assert_eq!(ty_of("18446744073709551615"), Type::U64);
    // Arithmetic is 64-bit, signed when either side is, and always for '-';
    // a non-negative literal takes the other side's signedness (pid is uint32).
    assert_eq!(ty_of("1 + 2"), Type::I64);
    assert_eq!(ty_of("pid + 1"), Type::U64);
    assert_eq!(ty_of("pid + (int8)1"), Type::I64);
    assert_eq!(ty_of("pid - 1"), Type::I64);
    assert_eq!(ty_of("pid * tid"), Type::U64);
    assert_eq!(ty_of("(int32)pid - (int8)1"), Type::I64);
    assert_eq!(ty_of("-pid"), Type::I64);
    assert_eq!(ty_of("(int32)pid >> 1"), Type::I64);
    assert_eq!(ty_of("pid << (int64)1"), Type::I64);
    assert_eq!(ty_of("pid << 1"), Type::U64);
    assert_eq!(ty_of("pid > 0 ? 1 : pid"), int(32, false));
    assert_eq!(ty_of("pid > 0 ? 1 : 1000"), int(16, true));
    assert_eq!(ty_of("pid > 1"), Type::Bool);
    assert_eq!(ty_of("pid > 1 && tid > 1"), Type::Bool);
    assert_eq!(ty_of("!pid"), Type::Bool);
    assert_eq!(ty_of("comm == \"curl\""), Type::Bool);
}

#[test]
fn builtin_types() {
    assert_eq!(ty_of("pid"), Type::Int(IntType::U32));
    assert_eq!(ty_of("uid"), Type::U64);
    assert_eq!(ty_of("comm"), Type::Str { cap: 16 });
    assert_eq!(ty_of("nsecs"), Type::U64);
    assert_eq!(ty_of("arg2"), Type::U64);
    assert_eq!(ty_of("AF_INET6"), Type::I64);
    let p = ok("kprobe:tcp_sendmsg { $s = TCP_LISTEN; $f = TCP_SYN | TCP_ACK; }");
    assert!(matches!(assigned(&p, 0, 0).kind, TExprKind::Int(10)));
    let p = ok("tc:lo:egress { $a = saddr; $p = dport; $d = dir; $l = len; }");
    assert_eq!(assigned(&p, 0, 0).ty, Type::Inet);
    assert_eq!(assigned(&p, 0, 1).ty, Type::Int(IntType::U16));
    assert!(matches!(&assigned(&p, 0, 2).kind, TExprKind::Str(s) if s == "egress"));
    assert_eq!(assigned(&p, 0, 3).ty, Type::Int(IntType::U32));
}

#[test]
fn member_offsets_through_anonymous_records() {
    let p = ok("kprobe:tcp_sendmsg { $sk = (struct sock *)arg0; $d = $sk->__sk_common.skc_daddr; $p = $sk->__sk_common.skc_dport; }");
    let daddr = assigned(&p, 0, 1);
    assert_eq!(daddr.ty, Type::Int(IntType::U32));
    let TExprKind::Member { base, offset: 0, bitfield: None } = &daddr.kind else { panic!("{daddr:?}") };
    assert!(matches!(base.kind, TExprKind::Member { offset: 0, .. }), "__sk_common is at 0 of struct sock");
    let dport = assigned(&p, 0, 2);
    assert!(matches!(dport.kind, TExprKind::Member { offset: 12, bitfield: None, .. }));
    assert_eq!(dport.ty, Type::Int(IntType::U16));
    let dump = dump_types(&p);
    assert!(dump.contains("$sk->__sk_common.skc_daddr : uint32 (offset 0, 4 bytes)"), "{dump}");
    assert!(dump.contains("$sk->__sk_common.skc_dport : uint16 (offset 12, 2 bytes)"), "{dump}");
}

#[test]
fn dot_and_arrow_both_dereference() {
    let p = ok("kprobe:tcp_sendmsg { $sk = (struct sock *)arg0; $a = $sk.__sk_common.skc_num; $b = $sk->__sk_common->skc_num; }");
    assert!(matches!(assigned(&p, 0, 1).kind, TExprKind::Member { offset: 14, .. }));
    assert!(matches!(assigned(&p, 0, 2).kind, TExprKind::Member { offset: 14, .. }));
}

#[test]
fn bitfields_split_bit_offset() {
    // sk_userlocks: 4 bits at bit 3 of byte 140 in the fake.
    let p = ok("kprobe:tcp_sendmsg { $l = ((struct sock *)arg0)->sk_userlocks; }");
    let TExprKind::Member { offset, bitfield, .. } = &assigned(&p, 0, 0).kind else { panic!() };
    assert_eq!((*offset, *bitfield), (140, Some(Bitfield { bit_offset: 3, bits: 4 })));
}

#[test]
fn unknown_field_suggests() {
    let e = err("kprobe:tcp_sendmsg { $d = ((struct sock *)arg0)->__sk_common.skc_dadr; }");
    assert!(e.contains("error: unknown field 'skc_dadr' in 'struct sock_common'"), "{e}");
    assert!(e.contains("hint: did you mean 'skc_daddr'?"), "{e}");
}

#[test]
fn tracepoint_args_and_fentry_args() {
    let p = ok("tracepoint:sock:inet_sock_set_state { $n = args.newstate; $s = args.saddr; }");
    let n = assigned(&p, 0, 0);
    assert!(matches!(n.kind, TExprKind::TracepointArg { offset: 20, size: 4, data_loc: false }));
    assert_eq!(n.ty, Type::Int(IntType::I32));
    assert!(matches!(assigned(&p, 0, 1).ty, Type::Array { len: 4, .. }));
    let p = ok("fentry:tcp_sendmsg { $size = args.size; $sk = args.sk; } fexit:tcp_sendmsg { $r = retval; }");
    assert!(matches!(assigned(&p, 0, 0).kind, TExprKind::FuncArg { index: 2 }));
    assert!(matches!(assigned(&p, 0, 1).ty, Type::Pointer(..)));
    assert_eq!(assigned(&p, 1, 0).ty, Type::Int(IntType::I32));
}

#[test]
fn wildcards_expand_to_one_probe_each() {
    let p = ok("kprobe:tcp_*connect { @[probe, func] = count(); }");
    let names: Vec<&str> = p.probes.iter().map(|t| t.attach.raw.as_str()).collect();
    assert_eq!(names, ["kprobe:tcp_v4_connect", "kprobe:tcp_v6_connect", "kprobe:tcp_connect", "kprobe:tcp_finish_connect"]);
    assert!(p.probes.iter().all(|t| t.source_probe == 0));
    let TStmtKind::Aggregate { key: Some(key), .. } = &p.probes[0].body[0].kind else { panic!() };
    let TExprKind::Tuple(items) = &key.kind else { panic!() };
    assert!(matches!(&items[1].kind, TExprKind::ProbeName(f) if f == "tcp_v4_connect"));
    let p = ok("t:sock:inet_sock_set_stat? { @ = count(); }");
    assert_eq!(p.probes.len(), 1);
    assert_eq!(p.probes[0].attach.raw, "tracepoint:sock:inet_sock_set_state");
}

#[test]
fn positional_parameters() {
    let p = ok_with("BEGIN { $a = $1; $b = $2; $c = $#; $d = $3; }", &["8080", "eth0"]);
    assert!(matches!(assigned(&p, 0, 0).kind, TExprKind::Int(8080)));
    assert!(matches!(&assigned(&p, 0, 1).kind, TExprKind::Str(s) if s == "eth0"));
    assert_eq!(assigned(&p, 0, 1).ty, Type::Str { cap: 5 });
    assert!(matches!(assigned(&p, 0, 2).kind, TExprKind::Int(2)));
    // Missing parameters read as 0, as in bpftrace.
    assert!(matches!(assigned(&p, 0, 3).kind, TExprKind::Int(0)));
}

#[test]
fn positional_parameters_are_c_literals_and_str_gives_their_text() {
    let p = ok_with("BEGIN { $a = $1; $b = str($1); $c = str($2, 2); $d = str($3); $e = $2; }", &["0775", "-0x10"]);
    assert!(matches!(assigned(&p, 0, 0).kind, TExprKind::Int(0o775)));
    assert!(matches!(&assigned(&p, 0, 1).kind, TExprKind::Str(s) if s == "0775"));
    assert!(matches!(&assigned(&p, 0, 2).kind, TExprKind::Str(s) if s == "-0"));
    // An absent parameter is 0 as a number and empty as text.
    assert!(matches!(&assigned(&p, 0, 3).kind, TExprKind::Str(s) if s.is_empty()));
    assert!(matches!(assigned(&p, 0, 4).kind, TExprKind::Int(n) if n as i64 == -16));
}

#[test]
fn sizeof_a_tuple_is_that_of_the_c_struct() {
    // bpftrace 0.17's figures: elements at their natural alignment, the whole
    // padded to the largest (a root test prints them from the kernel too).
    let size = |e: &str| match assigned(&ok(&format!("BEGIN {{ $v = sizeof({e}); }}")), 0, 0).kind {
        TExprKind::Int(n) => n,
        ref other => panic!("sizeof({e}) is not a constant: {other:?}"),
    };
    assert_eq!(size(r#"(1, "abc")"#), 5);
    assert_eq!(size(r#"((int64)1, "abc")"#), 16);
    assert_eq!(size("(1, 2)"), 2);
    assert_eq!(size("(1, 1000)"), 4);
    assert_eq!(size("((int8)1, (int8)2)"), 2);
    assert_eq!(size(r#"((int8)1, "abc")"#), 5);
    assert_eq!(size("((int16)1, (int32)2, (int8)3)"), 12);
    assert_eq!(size("((int8)1, ((int8)2, 3))"), 3);
    assert_eq!(size("((int8)1, ((int8)2, (int64)3))"), 24);
}

#[test]
fn variables_widen_and_narrower_assignments_are_cast() {
    let p = ok("kprobe:tcp_sendmsg { $x = pid; $x = -1; $y = $x; }");
    assert_eq!(p.probes[0].vars[0].ty, Type::I64);
    let first = assigned(&p, 0, 0);
    assert_eq!(first.ty, Type::I64);
    assert!(matches!(&first.kind, TExprKind::Cast { expr } if expr.ty == Type::Int(IntType::U32)));
    assert_eq!(assigned(&p, 0, 2).ty, Type::I64);
    let e = err("kprobe:tcp_sendmsg { $x = pid; $x = comm; }");
    assert!(e.contains("test.ft:1:37: error: type mismatch for $x"), "{e}");
}

#[test]
fn maps_have_one_type_for_the_program() {
    // The reader comes first in the text; the discovery pass still types it.
    let p = ok("interval:s:1 { printf(\"%d\\n\", @total); } kprobe:tcp_sendmsg { @total = (uint32)1; @total = -1; }");
    assert_eq!(p.maps[0].value, Type::I64);
    let p = ok("kprobe:tcp_sendmsg { @b[comm, pid] = sum(arg2); @c = count(); @l = lhist(arg2, 0, 100, 10); if (@c > 5) { print(@b, 10); } }");
    // Integer keys keep their width (pid is uint32): keys are compact.
    assert_eq!(p.maps[0].key, vec![Type::Str { cap: 16 }, Type::Int(IntType::U32)]);
    assert_eq!(p.maps[0].value, Type::Agg(AggKind::Sum { signed: false }));
    assert_eq!(p.maps[2].value, Type::Agg(AggKind::Lhist { min: 0, max: 100, step: 10 }));
    let dump = dump_types(&p);
    assert!(dump.contains("@b[string[16], uint32] : sum_t"), "{dump}");
    let e = err("kprobe:tcp_sendmsg { @x[pid] = 1; } kretprobe:tcp_sendmsg { @x[comm] = 1; }");
    assert!(e.contains("note: @x is first used here, with key [uint32]"), "{e}");
    assert!(e.contains("error: map @x is used with key [string[16]]"), "{e}");
}

#[test]
fn literal_keys_and_values_take_the_maps_type_when_they_fit() {
    // Either order: the literal adapts to the uint32 key and the uint64 value.
    for text in [
        "kprobe:tcp_sendmsg { @st[pid] = arg2; } kretprobe:tcp_sendmsg { @st[99] = 0; }",
        "kretprobe:tcp_sendmsg { @st[99] = 0; } kprobe:tcp_sendmsg { @st[pid] = arg2; }",
    ] {
        let p = ok(text);
        assert_eq!(p.maps[0].key, vec![Type::Int(IntType::U32)], "{text}");
        assert_eq!(p.maps[0].value, Type::U64, "{text}");
    }
    // A literal that does not fit widens the map, as any wider value does.
    let p = ok("kprobe:tcp_sendmsg { @st[pid] = 1; @st[5000000000] = -1; }");
    assert_eq!(p.maps[0].key, vec![Type::I64]);
    assert_eq!(p.maps[0].value, Type::I64);
    // Only literals: int64, as before.
    let p = ok("kprobe:tcp_sendmsg { @st[1] = 2; @st[3] = 4; }");
    assert_eq!((p.maps[0].key.clone(), p.maps[0].value.clone()), (vec![Type::I64], Type::I64));
    // A string literal cannot adapt to an integer key: the hint says why.
    let e = err("kprobe:tcp_sendmsg { @st[pid] = 1; @st[\"x\"] = 2; }");
    assert!(e.contains("error: map @st is used with key [string[2]] but was first used with key [uint32]"), "{e}");
    assert!(e.contains("hint: a literal key takes @st's key type (uint32) only when its value is one of that type"), "{e}");
}

#[test]
fn map_increments_and_updates() {
    let p = ok("kprobe:tcp_sendmsg { @n++; @b[comm] += arg2; $old = @n--; }");
    assert!(matches!(p.probes[0].body[0].kind, TStmtKind::MapUpdate { op: flowtrace_lang::ast::BinOp::Add, .. }));
    assert!(matches!(p.probes[0].body[1].kind, TStmtKind::MapUpdate { .. }));
    assert!(matches!(assigned(&p, 0, 2).kind, TExprKind::IncDec { increment: false, prefix: false, .. }));
    assert_eq!(p.maps[0].value, Type::I64);
}

#[test]
fn calls_produce_typed_statements() {
    let p = ok("tracepoint:sock:inet_sock_set_state { printf(\"%-16s %5d %s\\n\", comm, pid, ntop(args.daddr)); time(); \
                @s[ntop(AF_INET6, args.daddr_v6)] = count(); print(@s, 5); clear(@s); delete(@s, ntop(args.saddr)); exit(); }");
    let kinds: Vec<&TStmtKind> = p.probes[0].body.iter().map(|s| &s.kind).collect();
    assert!(matches!(kinds[0], TStmtKind::Printf { args, .. } if args.len() == 3 && args[2].ty == Type::Inet));
    assert!(matches!(kinds[1], TStmtKind::Time { format } if format == "%H:%M:%S\n"));
    assert!(matches!(kinds[3], TStmtKind::PrintMap { top: 5, div: 0, .. }));
    assert!(matches!(kinds[4], TStmtKind::Clear { .. }));
    assert!(matches!(kinds[5], TStmtKind::Delete { key: Some(_), .. }));
    assert!(matches!(kinds[6], TStmtKind::Exit { code: None }));
}

#[test]
fn str_sizes() {
    let p = ok("tracepoint:syscalls:sys_enter_openat { $a = str(args.filename); $b = str(args.filename, 8); }");
    assert_eq!(assigned(&p, 0, 0).ty, Type::Str { cap: 64 });
    assert_eq!(assigned(&p, 0, 1).ty, Type::Str { cap: 8 });
}

#[test]
fn several_errors_are_reported_together() {
    let e = err("kprobe:tcp_sendmsg { $a = nosuch; $b = comm + 1; @c = cnt(); printf(\"%d\\n\"); }");
    assert_eq!(e.matches("error:").count(), 4, "{e}");
}

#[test]
fn errors_do_not_cascade() {
    // $x's assignment fails; its later uses stay quiet.
    let e = err("kprobe:tcp_sendmsg { $x = nosuch; $y = $x + 1; @m[$x] = count(); print(@m); }");
    assert_eq!(e.matches("error:").count(), 1, "{e}");
}

#[test]
fn a_map_that_reads_itself_is_an_int64() {
    // bpftrace: `@n = @n + 1` makes @n an int64 that starts at 0.
    let p = ok("tracepoint:sock:inet_sock_set_state { @n = @n + 1; $x = @m + 2; @m = $x; }");
    assert_eq!(p.maps[0].value, Type::I64);
    assert_eq!(p.maps[1].value, Type::I64);
    // A write that failed to type does not cascade into its readers.
    let e = err("BEGIN { @x = nosuch; @y = @x + 1; }");
    assert_eq!(e.matches("error:").count(), 1, "{e}");
}

/// The name and type of each `$variable` of the first probe, in order.
fn vars(p: &TypedProgram) -> Vec<(String, String)> {
    p.probes[0].vars.iter().map(|v| (v.name.clone(), v.ty.to_string())).collect()
}

#[test]
fn sibling_blocks_declare_separate_variables() {
    // Today's bpftrace scoping: the two $x are two variables of two types.
    let p = ok(r#"BEGIN { if (1) { $x = 1; } if (1) { $x = "s"; } }"#);
    assert_eq!(vars(&p), [("x".into(), "int8".into()), ("x".into(), "string[2]".into())]);
    // A let in a block is its own variable; the loop variable too.
    let p = ok("BEGIN { if (1) { let $y = (uint8)1; } for ($i : 0..3) { let $y = 2; } }");
    assert_eq!(vars(&p), [("y".into(), "uint8".into()), ("i".into(), "int64".into()), ("y".into(), "int8".into())]);
}

#[test]
fn a_bare_let_takes_the_type_of_its_first_assignment() {
    // The read comes first in the text: the discovery pass learns the type.
    let p = ok(r#"BEGIN { let $s; if ($s == "a") { $s = "abc"; } }"#);
    assert_eq!(vars(&p), [("s".into(), "string[4]".into())]);
    assert!(matches!(p.probes[0].body[0].kind, TStmtKind::ZeroVar { .. }));
    // Never assigned: an int64 that stays 0, with a warning.
    let p = ok("BEGIN { let $n; printf(\"%d\\n\", $n); }");
    assert_eq!(vars(&p), [("n".into(), "int64".into())]);
    assert!(p.warnings.iter().any(|w| w.message.contains("never assigned")), "{:?}", p.warnings);
}

#[test]
fn declared_types_convert_assignments() {
    let p = ok("BEGIN { let $a: uint16 = 7; $a = pid; }");
    assert_eq!(vars(&p), [("a".into(), "uint16".into())]);
    // The uint32 is converted, not widening the variable; a literal must fit.
    assert_eq!(assigned(&p, 0, 1).ty, Type::Int(IntType::U16));
    assert!(err("BEGIN { let $a: uint16 = 7; $a = 70000; }").contains("70000 does not fit $a's type 'uint16'"));
}

#[test]
fn a_variable_used_after_its_block_is_bpftrace_0_17_s_with_a_warning() {
    let p = ok(r#"BEGIN { if (1) { $r = "a"; } else { $r = "bb"; } printf("%s\n", $r); }"#);
    // Both arms assign one variable (0.17's probe scope), widened to both.
    assert_eq!(vars(&p), [("r".into(), "string[3]".into())]);
    assert!(p.warnings.iter().any(|w| w.message.contains("today's bpftrace rejects it")), "{:?}", p.warnings);
}

#[test]
fn loop_control_and_exit_codes() {
    assert!(err("BEGIN { break; }").contains("'break' outside of a loop"));
    assert!(err("BEGIN { unroll(2) { continue; } }").contains("'continue' outside of a loop"));
    assert!(err("BEGIN { $i = 1; for ($i : 0..2) { } }").contains("shadows"));
    let p = ok("BEGIN { for ($i : 0..2) { while (1) { break; } continue; } exit(4); }");
    assert!(matches!(&p.probes[0].body[1].kind, TStmtKind::Exit { code: Some(_) }));
    let p = ok("BEGIN { @m[1] = 1; $d = delete(@m, 1); }");
    assert_eq!(assigned(&p, 0, 1).ty, Type::Bool);
}

#[test]
fn variables_take_a_type_that_holds_every_assignment() {
    let types = |text: &str| vars(&ok(text)).into_iter().map(|(_, t)| t).collect::<Vec<_>>();
    // Today's bpftrace: literals widen by what they need, a literal takes an
    // unsigned value's signedness, a counter is 64-bit.
    assert_eq!(types("BEGIN { $a = 1; $a = -1000; }"), ["int16"]);
    assert_eq!(types("BEGIN { $a = 1; $a = (uint64)2; }"), ["uint64"]);
    assert_eq!(types("BEGIN { $a = (uint32)pid; $a = 5; }"), ["uint32"]);
    assert_eq!(types("BEGIN { $a = (uint32)pid; $a = (int8)5; }"), ["int64"]);
    assert_eq!(types("BEGIN { $a = (uint8)pid; $a = (int8)5; }"), ["int16"]);
    assert_eq!(types("BEGIN { $i = 0; $i++; }"), ["int64"]);
    assert_eq!(types("BEGIN { $u = (uint16)pid; $u++; }"), ["uint64"]);
    assert_eq!(types("BEGIN { $u = (uint16)pid; $u--; }"), ["int64"]);
    assert_eq!(types("BEGIN { let $d: uint8 = 1; $d++; }"), ["uint8"]);
    // Reads before the widening assignment (a loop) and what is built from
    // them see the final type: the discovery pass learns it.
    let p = ok("BEGIN { $a = 1; $n = 0; while ($n < 3) { $b = $a; @t = ($a, 1); $a = $a + 1000; $n++; } }");
    assert_eq!(vars(&p), [("a".into(), "int64".into()), ("n".into(), "int64".into()), ("b".into(), "int64".into())]);
    let dump = dump_types(&p);
    assert!(!dump.contains("int8, int8"), "{dump}");
}
