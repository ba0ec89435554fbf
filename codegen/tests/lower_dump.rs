//! `-d ir` / `-d bpf` output and the diagnostics for limits we can predict.
//! No kernel needed.

mod support;

use flowtrace_codegen::compile::dump_ir;
use flowtrace_codegen::disasm::disassemble_program;
use flowtrace_codegen::CompileOptions;
use flowtrace_lang::types::{AggKind, Type};
use support::build::{inet_sock_set_state as tp, *};

fn count_by_state() -> flowtrace_lang::typed::TypedProgram {
    program(
        vec![map_info("states", vec![I32], Type::Agg(AggKind::Count))],
        vec![probe(tp::at(), None, vec![count(0, Some(tp::newstate()))], vec![])],
    )
}

#[test]
fn ir_dump_marks_the_source_constructs() {
    let text = dump_ir(&count_by_state(), &CompileOptions::default()).unwrap();
    assert!(text.starts_with("ft_inet_sock_se (tracepoint:sock:inet_sock_set_state):\n"), "{text}");
    for needle in [";; >probe tracepoint:sock:inet_sock_set_state", ";; >count @states", "ldxw v", "call map_lookup_elem", "exit"] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn bpf_dump_shows_comments_and_map_loads() {
    let compiled = flowtrace_codegen::compile(&count_by_state(), &CompileOptions::default()).unwrap();
    let code = &compiled.programs[0];
    let text = disassemble_program(code, &compiled.maps);
    assert!(text.contains(">count @states"), "{text}");
    assert!(text.contains("map[ft_states]"), "{text}");
    // args.newstate: a 4-byte context load, sign-extended.
    assert!(text.contains("= *(u32 *)(r1 + 20)"), "{text}");
    assert!(text.contains("s>>= 32"), "{text}");
    assert!(text.trim_end().ends_with("exit"), "{text}");
    assert_eq!(code.spans.len(), code.insns.len());
    assert!(!code.map_relocs.is_empty());
}

#[test]
fn buffers_beyond_the_stack_move_to_the_scratch_map() {
    // Three 200-byte strings in one key cannot fit the 512-byte stack.
    let str200 = Type::Str { cap: 200 };
    let prog = program(
        vec![map_info("m", vec![str200.clone(), str200.clone(), str200], Type::Agg(AggKind::Count))],
        vec![probe(tp::at(), None, vec![count(0, Some(tuple(vec![s("a"), s("b"), s("c")])))], vec![])],
    );
    let compiled = flowtrace_codegen::compile(&prog, &CompileOptions::default()).unwrap();
    let scratch = compiled.maps.iter().find(|m| m.name == "ft_scratch").expect("a scratch map");
    assert!(scratch.value_size >= 600, "{}", scratch.value_size);
}

#[test]
fn more_than_the_scratch_limit_is_a_diagnostic() {
    let huge = Type::Str { cap: 20_000 };
    let prog = program(
        vec![map_info("m", vec![huge.clone(), huge], Type::Agg(AggKind::Count))],
        vec![probe(tp::at(), None, vec![count(0, Some(tuple(vec![s("a"), s("b")])))], vec![])],
    );
    let err = flowtrace_codegen::compile(&prog, &CompileOptions::default()).unwrap_err();
    assert_eq!(err.len(), 1);
    assert!(err[0].message.contains("scratch space"), "{}", err[0].message);
}
