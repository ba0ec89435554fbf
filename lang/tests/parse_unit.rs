//! Parser behaviour in small pieces: precedence and associativity, spans,
//! statement forms, and the wording and position of syntax errors.

use flowtrace_lang::ast::*;
use flowtrace_lang::diag::render_all;
use flowtrace_lang::dump_ast::{dump_ast, dump_expr};
use flowtrace_lang::{parse, Source, Span};

fn program(text: &str) -> Program {
    let src = Source::new("t.ft", text);
    parse(&src).unwrap_or_else(|d| panic!("{}", render_all(&d, &src)))
}

fn errors(text: &str) -> String {
    let src = Source::new("t.ft", text);
    match parse(&src) {
        Ok(p) => panic!("expected an error, parsed:\n{}", dump_ast(&p)),
        Err(d) => render_all(&d, &src),
    }
}

fn probes(p: &Program) -> Vec<&Probe> {
    p.items.iter().filter_map(|i| if let Item::Probe(p) = i { Some(p) } else { None }).collect()
}

fn body(text: &str) -> Vec<Stmt> {
    let p = program(&format!("BEGIN {{ {text} }}"));
    probes(&p)[0].body.stmts.clone()
}

/// The value of `$r = EXPR;`.
fn expr(text: &str) -> Expr {
    match body(&format!("$r = {text};")).remove(0).kind {
        StmtKind::AssignVar { value, .. } => value,
        other => panic!("{other:?}"),
    }
}

/// A compact, span-free rendering: `(op lhs rhs)`.
fn sexp(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Int(n) => n.to_string(),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Ident(n) => n.clone(),
        ExprKind::Var(n) => format!("${n}"),
        ExprKind::Positional(n) => format!("${n}"),
        ExprKind::PositionalCount => "$#".into(),
        ExprKind::Map(m) => format!("@{}[{}]", m.name, m.keys.iter().map(sexp).collect::<Vec<_>>().join(" ")),
        ExprKind::Call { func, args } => format!("{}({})", func.name, args.iter().map(sexp).collect::<Vec<_>>().join(" ")),
        ExprKind::Unary { op, expr } => format!("({op:?} {})", sexp(expr)),
        ExprKind::Binary { op, lhs, rhs } => format!("({} {} {})", op.symbol(), sexp(lhs), sexp(rhs)),
        ExprKind::Ternary { cond, then, otherwise } => format!("(? {} {} {})", sexp(cond), sexp(then), sexp(otherwise)),
        ExprKind::Cast { ty, expr } => format!("(cast {:?}*{} {})", ty.base, ty.pointer_depth, sexp(expr)),
        ExprKind::Field { expr, field, arrow } => format!("({} {} {})", if *arrow { "->" } else { "." }, sexp(expr), field.name),
        ExprKind::Index { expr, index } => format!("([] {} {})", sexp(expr), sexp(index)),
        ExprKind::Tuple(items) => format!("(tuple {})", items.iter().map(sexp).collect::<Vec<_>>().join(" ")),
        ExprKind::IncDec { target, increment, prefix } => {
            let op = if *increment { "++" } else { "--" };
            if *prefix { format!("({op}pre {})", sexp(target)) } else { format!("({op}post {})", sexp(target)) }
        }
        ExprKind::Block { stmts, value } => format!("(block {} {})", stmts.len(), sexp(value)),
        ExprKind::TypeArg(ty) => format!("(type {:?} {})", ty.base, ty.pointer_depth),
    }
}

fn s(text: &str) -> String {
    sexp(&expr(text))
}

#[test]
fn elvis_and_block_expressions() {
    // `a ?: b` is `a ? a : b`; it binds like the ternary (right-associative).
    assert_eq!(s("$x ?: 10"), "(? $x $x 10)");
    assert_eq!(s("$a + 1 ?: $b ?: 3"), "(? (+ $a 1) (+ $a 1) (? $b $b 3))");
    assert_eq!(s("{ let $a = 1; $a + 1 }"), "(block 1 (+ $a 1))");
    assert_eq!(s("({ 1 }) + 2"), "(+ (block 0 1) 2)");
    // `_ = e;` keeps only the expression; `_x` is still a name.
    let stmts = body("_ = delete(@m, 1); _x;");
    assert!(matches!(&stmts[0].kind, StmtKind::Expr(e) if sexp(e) == "delete(@m[] 1)"), "{:?}", stmts[0].kind);
    assert!(matches!(&stmts[1].kind, StmtKind::Expr(_)));
}

#[test]
fn declarations_and_loops() {
    let stmts = body("let $a; let $b: uint16 = 2; let $c: struct sock *; let $s: string; for ($i : 0..$n) { break; continue } for $kv : @m { }");
    let kinds: Vec<String> = stmts
        .iter()
        .map(|st| match &st.kind {
            StmtKind::Let { var, ty, value } => format!("let {} {} {}", var.name, ty.is_some(), value.as_ref().map_or("-".into(), sexp)),
            StmtKind::For { var, iter: ForIter::Range { start, end }, body } => {
                format!("for {} {}..{} {}", var.name, sexp(start), sexp(end), body.stmts.len())
            }
            StmtKind::For { var, iter: ForIter::Map(m), .. } => format!("for {} @{}", var.name, m.name),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, ["let a false -", "let b true 2", "let c true -", "let s true -", "for i 0..$n 2", "for kv @m"]);
    let StmtKind::Let { ty: Some(LetType::Type(t)), .. } = &stmts[2].kind else { panic!() };
    assert_eq!((t.base.clone(), t.pointer_depth), (TypeBase::Struct("sock".into()), 1));
    let StmtKind::Let { ty: Some(LetType::Name(n)), .. } = &stmts[3].kind else { panic!() };
    assert_eq!(n.name, "string");
    let StmtKind::For { body, .. } = &stmts[4].kind else { panic!() };
    assert!(matches!((&body.stmts[0].kind, &body.stmts[1].kind), (StmtKind::Break, StmtKind::Continue)));
}

#[test]
fn c_precedence() {
    assert_eq!(s("1 + 2 * 3 << 1 == 14 && !x"), "(&& (== (<< (+ 1 (* 2 3)) 1) 14) (Not x))");
    assert_eq!(s("a || b && c | d ^ e & f"), "(|| a (&& b (| c (^ d (& e f)))))");
    assert_eq!(s("a < b == c > d"), "(== (< a b) (> c d))");
    assert_eq!(s("a + b >> c - d"), "(>> (+ a b) (- c d))");
    assert_eq!(s("a % b * c / d"), "(/ (* (% a b) c) d)");
    assert_eq!(s("(1 + 2) * 3"), "(* (+ 1 2) 3)");
}

#[test]
fn associativity() {
    assert_eq!(s("a - b - c"), "(- (- a b) c)");
    assert_eq!(s("a / b / c"), "(/ (/ a b) c)");
    assert_eq!(s("a ? b : c ? d : e"), "(? a b (? c d e))");
    assert_eq!(s("a ? b ? c : d : e"), "(? a (? b c d) e)");
    assert_eq!(s("a || b ? 1 : 2"), "(? (|| a b) 1 2)");
}

#[test]
fn unary_postfix_and_casts() {
    assert_eq!(s("-$x++"), "(Neg (++post $x))");
    assert_eq!(s("!~-*&x"), "(Not (BitNot (Neg (Deref (AddrOf x)))))");
    assert_eq!(s("(struct sock *)arg0->x"), "(cast Struct(\"sock\")*1 (-> arg0 x))");
    assert_eq!(s("((struct sock *)arg0)->__sk_common.skc_dport >> 8"), "(>> (. (-> (cast Struct(\"sock\")*1 arg0) __sk_common) skc_dport) 8)");
    assert_eq!(s("(uint32)x"), "(cast Int { bits: 32, signed: false }*0 x)");
    assert_eq!(s("(int8)-1"), "(cast Int { bits: 8, signed: true }*0 (Neg 1))");
    assert_eq!(s("(unsigned long long)x"), "(cast Int { bits: 64, signed: false }*0 x)");
    assert_eq!(s("(union bpf_attr **)x"), "(cast Union(\"bpf_attr\")*2 x)");
    assert_eq!(s("(sk_buff_data_t *)x"), "(cast Named(\"sk_buff_data_t\")*1 x)");
    assert_eq!(s("(u64) - 1"), "(cast Int { bits: 64, signed: false }*0 (Neg 1))");
    // A parenthesised name that is not a type keyword is a grouping.
    assert_eq!(s("(x) - 1"), "(- x 1)");
    assert_eq!(s("(x * y)"), "(* x y)");
}

#[test]
fn primaries() {
    assert_eq!(s("@m[comm, $1]"), "@m[comm $1]");
    assert_eq!(s("@"), "@[]");
    assert_eq!(s("@[1]"), "@[1]");
    assert_eq!(s("(1, \"a\", true)"), "(tuple 1 \"a\" true)");
    assert_eq!(s("$t.0 + $#"), "(+ (. $t 0) $#)");
    assert_eq!(s("ntop(AF_INET, $d)"), "ntop(AF_INET $d)");
    assert_eq!(s("exit()"), "exit()");
    assert_eq!(s("arr[1][2]"), "([] ([] arr 1) 2)");
    assert_eq!(s("1e6 + 0x10 + 0b11 + 017 + 1_000 + 10ul + 2ms"), "(+ (+ (+ (+ (+ (+ 1000000 16) 3) 15) 1000) 10) 2000000)");
    assert_eq!(s("\"a\\tb\\x41\\101\\0\""), "\"a\\tbAA\\0\"");
}

#[test]
fn statements() {
    let stmts = body("$x += 1; @m[k] <<= 2; @ = 1; $x++; --@m[k]; return; { $y = 1 } if x { } ;; while ($i < 3) { $i++ } unroll(2) { }");
    let kinds: Vec<String> = stmts
        .iter()
        .map(|st| match &st.kind {
            StmtKind::AssignVar { var, op, .. } => format!("var {} {op:?}", var.name),
            StmtKind::AssignMap { map, op, .. } => format!("map {} {} {op:?}", map.name, map.keys.len()),
            StmtKind::Expr(e) => format!("expr {}", sexp(e)),
            StmtKind::If { otherwise, .. } => format!("if {}", otherwise.is_some()),
            StmtKind::While { .. } => "while".into(),
            StmtKind::Unroll { count, .. } => format!("unroll {count}"),
            StmtKind::Return => "return".into(),
            StmtKind::Block(b) => format!("block {}", b.stmts.len()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "var x Some(Add)",
            "map m 1 Some(Shl)",
            "map  0 None",
            "expr (++post $x)",
            "expr (--pre @m[k])",
            "return",
            "block 1",
            "if false",
            "while",
            "unroll 2",
        ]
    );
}

#[test]
fn else_if_is_an_else_block_holding_an_if() {
    let stmts = body("if (a) { $x = 1 } else if b { $x = 2 } else { $x = 3 }");
    let StmtKind::If { otherwise: Some(other), .. } = &stmts[0].kind else { panic!() };
    assert_eq!(other.stmts.len(), 1);
    let StmtKind::If { cond, otherwise: Some(last), .. } = &other.stmts[0].kind else { panic!() };
    assert_eq!(sexp(cond), "b");
    assert_eq!(last.stmts.len(), 1);
}

#[test]
fn spans_cover_what_was_written() {
    let text = "kprobe:tcp_sendmsg /pid == 1/ { @flows[comm] = count(); $d = (x + 1) * 2; }";
    let p = program(text);
    let probe = probes(&p)[0];
    let at = |span: Span| &text[span.range()];
    assert_eq!(at(probe.span), text);
    assert_eq!(at(probe.attach[0].span), "kprobe:tcp_sendmsg");
    assert_eq!(at(probe.predicate.as_ref().unwrap().span), "pid == 1");
    let StmtKind::AssignMap { map, value, .. } = &probe.body.stmts[0].kind else { panic!() };
    assert_eq!(at(probe.body.stmts[0].span), "@flows[comm] = count()");
    assert_eq!(at(map.span), "@flows[comm]");
    assert_eq!(at(map.name_span), "@flows");
    assert_eq!(at(map.keys[0].span), "comm");
    assert_eq!(at(value.span), "count()");
    let StmtKind::AssignVar { var, value, .. } = &probe.body.stmts[1].kind else { panic!() };
    assert_eq!(at(var.span), "$d");
    assert_eq!(at(value.span), "(x + 1) * 2");
    let ExprKind::Binary { lhs, .. } = &value.kind else { panic!() };
    assert_eq!(at(lhs.span), "(x + 1)");
}

#[test]
fn spans_of_casts_fields_and_calls() {
    let text = "BEGIN { $a = (struct sock *)arg0; $b = $sk->__sk_common.skc_daddr; printf(\"%d\", $x); }";
    let p = program(text);
    let at = |span: Span| &text[span.range()];
    let stmts = &probes(&p)[0].body.stmts;
    let StmtKind::AssignVar { value, .. } = &stmts[0].kind else { panic!() };
    let ExprKind::Cast { ty, .. } = &value.kind else { panic!() };
    assert_eq!((at(value.span), at(ty.span)), ("(struct sock *)arg0", "struct sock *"));
    let StmtKind::AssignVar { value, .. } = &stmts[1].kind else { panic!() };
    let ExprKind::Field { field, expr, .. } = &value.kind else { panic!() };
    assert_eq!((at(value.span), at(field.span), at(expr.span)), ("$sk->__sk_common.skc_daddr", "skc_daddr", "$sk->__sk_common"));
    let StmtKind::Expr(call) = &stmts[2].kind else { panic!() };
    let ExprKind::Call { func, args } = &call.kind else { panic!() };
    assert_eq!((at(func.span), at(args[0].span)), ("printf", "\"%d\""));
}

#[test]
fn top_level_items() {
    let p = program("#!/usr/bin/env flowtrace\n#include <linux/socket.h>\nlet @flows = lruhash(1024);\nlet @x = percpuhash(8)\nBEGIN, END, {}\n");
    // The preprocessor drops `#include <…>`: BTF has the types.
    assert_eq!(p.items.len(), 3);
    let Item::MapDecl(decl) = &p.items[0] else { panic!() };
    assert_eq!((decl.name.as_str(), decl.kind, decl.max_entries), ("flows", MapKind::LruHash, 1024));
    assert!(matches!(&p.items[1], Item::MapDecl(d) if d.kind == MapKind::PercpuHash));
    let Item::Probe(probe) = &p.items[2] else { panic!() };
    let kinds: Vec<&AttachKind> = probe.attach.iter().map(|a| &a.kind).collect();
    assert_eq!(kinds, [&AttachKind::Begin, &AttachKind::End]);
}

#[test]
fn comments_anywhere() {
    let p = program("// a\nBEGIN /* b */ { // c\n $x = /* d */ 1; /* e\n */ }\n// end");
    assert_eq!(probes(&p)[0].body.stmts.len(), 1);
}

#[test]
fn dump_is_one_node_per_line() {
    let p = program("BEGIN { @x[1] = 2 + 3; }");
    assert_eq!(
        dump_ast(&p),
        "Program [0..24)\n  Probe [0..24)\n    Attach BEGIN = Begin [0..5)\n    Block [6..24)\n      AssignMap [8..21)\n        Map @x [8..13)\n          Int 1 [11..12)\n        Binary + [16..21)\n          Int 2 [16..17)\n          Int 3 [20..21)\n"
    );
    assert_eq!(dump_expr(&expr("-1")), "Unary - [13..15)\n  Int 1 [14..15)\n");
}

#[test]
fn missing_semicolon() {
    assert_eq!(
        errors("BEGIN {\n  $x = 1\n  $y = 2;\n}\n"),
        "t.ft:3:3: error: expected ';' or '}' after statement, found '$y'\n  $y = 2;\n  ^~\n"
    );
}

#[test]
fn missing_expression() {
    assert_eq!(errors("BEGIN { $x = ; }"), "t.ft:1:14: error: expected expression, found ';'\nBEGIN { $x = ; }\n             ^\n");
}

#[test]
fn unterminated_string_points_at_its_start() {
    let out = errors("BEGIN {\n  printf(\"abc);\n}\n");
    assert!(out.starts_with("t.ft:2:10: error: unterminated string\n  printf(\"abc);\n         ^~~~~~\n"), "{out}");
}

#[test]
fn unknown_provider_lists_valid_ones() {
    let out = errors("kprobex:tcp_sendmsg { }");
    assert!(out.starts_with("t.ft:1:1: error: unknown probe provider 'kprobex'\n"), "{out}");
    assert!(out.contains("= hint: did you mean one of 'kprobe', 'uprobe'?"), "{out}");
    assert!(out.contains("= hint: valid providers: BEGIN, END, kprobe"), "{out}");
}

#[test]
fn every_bad_probe_is_reported() {
    let out = errors("kprobex:a { }\ntracepoint:tcp { }\nBEGIN { $x = ; }\ninterval:s:0 { }\nEND { }\n");
    let locations: Vec<&str> = out.lines().filter(|l| l.starts_with("t.ft:")).collect();
    assert_eq!(
        locations,
        [
            "t.ft:1:1: error: unknown probe provider 'kprobex'",
            "t.ft:2:1: error: malformed tracepoint attach point",
            "t.ft:3:14: error: expected expression, found ';'",
            "t.ft:4:12: error: an interval must be longer than zero",
        ]
    );
}

#[test]
fn literal_errors_point_at_the_literal() {
    let out = errors("BEGIN { $x = 99999999999999999999 + 1; }");
    assert!(out.starts_with("t.ft:1:14: error: integer literal '99999999999999999999' does not fit in 64 bits\n"), "{out}");
    assert!(out.contains("             ^~~~~~~~~~~~~~~~~~~~\n"), "{out}");
    assert!(errors("BEGIN { $x = \"a\\qb\"; }").starts_with("t.ft:1:16: error: unknown escape sequence '\\q'"));
}

#[test]
fn unclosed_brace_names_the_opening() {
    let out = errors("BEGIN {\n  if (1) {\n    $x = 1;\n}\n");
    assert!(out.contains("found end of input"), "{out}");
    assert!(out.contains("= hint: the '{' at 1:7 has no matching '}'"), "{out}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("BEGIN {{ $x = {}1{}; }}", "(".repeat(300), ")".repeat(300));
    assert!(errors(&deep).contains("nested too deeply"));
    let long_chain = format!("BEGIN {{ $x = 1{}; }}", " + 1".repeat(500));
    assert!(errors(&long_chain).contains("nested too deeply"));
    // Long but flat programs are fine.
    let many = "BEGIN { $x = 1 + 2 + 3; }\n".repeat(500);
    assert_eq!(probes(&program(&many)).len(), 500);
}

#[test]
fn bare_typedef_cast_gets_a_hint_but_a_call_does_not() {
    assert!(errors("BEGIN { $x = (sk_buff_data_t)$y; }").contains("is a parenthesised name, not a cast"));
    assert!(!errors("BEGIN { $x = f(y) $z = 1; }").contains("not a cast"));
}

#[test]
fn map_names_start_with_a_letter() {
    assert!(errors("BEGIN { @1 = 2; }").contains("t.ft:1:10: error:"));
    assert_eq!(s("@_x + @a1"), "(+ @_x[] @a1[])");
}

/// A chain of `if … else if …` is as deep in the AST as nested blocks (each
/// arm's `if` sits in the previous one's else block), and later passes
/// recurse down it: thousands of arms overflowed their stacks.
#[test]
fn else_if_arms_count_towards_the_nesting_limit() {
    let chain = |arms: usize| {
        let rest: String = (1..arms).map(|i| format!("\n  else if ($x == {i}) {{ $y = {i}; }}")).collect();
        format!("BEGIN {{ $x = 1; if ($x == 0) {{ $y = 0; }}{rest}\n}}")
    };
    assert_eq!(probes(&program(&chain(150))).len(), 1);
    let src = Source::new("t.ft", chain(500));
    match parse(&src) {
        Ok(_) => panic!("a 500-arm else-if chain was accepted"),
        Err(d) => {
            let out = render_all(&d, &src);
            assert!(out.contains("error: this is nested too deeply"), "{out}");
            assert!(out.contains("at most 200 levels"), "{out}");
        }
    }
}

#[test]
fn macros_expand_in_the_tree_with_their_spans() {
    let text = "macro inc($v, n) { $v += n; $tmp = n; }\nmacro sq(x) { x * x }\nBEGIN { $a = 1; inc($a, 2); $b = sq($a + 1); }";
    let p = program(text);
    assert_eq!(p.items.len(), 1, "definitions are not items");
    let Item::Probe(probe) = &p.items[0] else { panic!() };
    let StmtKind::Block(body) = &probe.body.stmts[1].kind else { panic!("a macro statement becomes a block") };
    let StmtKind::AssignVar { var, value, .. } = &body.stmts[0].kind else { panic!() };
    assert_eq!(var.name, "a", "$v is the caller's $a");
    assert_eq!(&text[value.span.range()], "2", "the argument keeps its span at the call");
    let StmtKind::AssignVar { var, .. } = &body.stmts[1].kind else { panic!() };
    assert_ne!(var.name, "tmp", "the body's own variable is renamed apart");
    let StmtKind::AssignVar { value, .. } = &probe.body.stmts[2].kind else { panic!() };
    let ExprKind::Binary { lhs, .. } = &value.kind else { panic!("sq(…) is its expression: {value:?}") };
    assert_eq!(&text[lhs.span.range()], "$a + 1");
}

#[test]
fn config_blocks_and_type_definitions_are_items() {
    let text = "config = { max_strlen = 32; missing_probes = warn; license = \"GPL\"; print_maps_on_exit = false }\nstruct s { u8 a, *b; char n[2][3]; };\nenum { X = -2, Y }\nBEGIN { }";
    let p = program(text);
    let Item::Config(c) = &p.items[0] else { panic!() };
    let values: Vec<&ConfigValue> = c.entries.iter().map(|e| &e.value).collect();
    assert_eq!(
        values,
        [&ConfigValue::Int(32), &ConfigValue::Word("warn".into()), &ConfigValue::Str("GPL".into()), &ConfigValue::Bool(false)]
    );
    assert_eq!(&text[c.entries[1].value_span.range()], "warn");
    let Item::Record(r) = &p.items[1] else { panic!() };
    let fields: Vec<(&str, u8, &[u32])> = r.fields.iter().map(|f| (f.name.name.as_str(), f.ty.pointer_depth, f.dims.as_slice())).collect();
    assert_eq!(fields, [("a", 0, &[][..]), ("b", 1, &[][..]), ("n", 0, &[2, 3][..])]);
    let Item::Enum(e) = &p.items[2] else { panic!() };
    assert_eq!((e.name.is_none(), e.variants[0].1, e.variants[1].1), (true, Some(-2), None));
    assert!(matches!(p.items[3], Item::Probe(_)));
}

#[test]
fn relative_uprobe_paths_are_attach_points_not_predicates() {
    let p = program("uprobe:./app:main, ur:../bin/app:f /pid > 1/ { @ = count(); }");
    let raw: Vec<&str> = probes(&p)[0].attach.iter().map(|a| a.raw.as_str()).collect();
    assert_eq!(raw, ["uprobe:./app:main", "ur:../bin/app:f"]);
    assert!(probes(&p)[0].predicate.is_some());
}
