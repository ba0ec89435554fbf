//! count() keyed by a tracepoint argument, end to end through the kernel:
//! compile, load through the verifier, attach, make loopback TCP traffic,
//! read the per-CPU map back.

mod support;

use flowtrace_codegen::{compile, CompileOptions};
use flowtrace_testkit::program::TestProgram;
use flowtrace_testkit::{root_tests_enabled, traffic};
use support::build::{inet_sock_set_state as tp, *};

#[test]
fn count_per_newstate_matches_tcp_state_machine() {
    if !root_tests_enabled("count_per_newstate_matches_tcp_state_machine") {
        return;
    }
    let (listener, port) = traffic::listener();
    let prog = program(
        vec![map_info("states", vec![I32], flowtrace_lang::types::Type::Agg(flowtrace_lang::types::AggKind::Count))],
        vec![probe(tp::at(), Some(tp::on_port(port)), vec![count(0, Some(tp::newstate()))], vec![])],
    );
    let compiled = compile(&prog, &CompileOptions::default()).expect("compiles");
    let mut prog = TestProgram::load(compiled).unwrap_or_else(|e| panic!("{e}"));
    prog.attach_all();
    const N: u64 = 5;
    traffic::ping_cycles(&listener, N as usize);
    let m = prog.maps();
    let get = |state: i64| m.words("states", &state.to_le_bytes()).map_or(0, |v| v[0]);
    let all: Vec<(i64, u64)> = m.keys("states").iter().map(|k| {
        let s = i64::from_le_bytes(k[..8].try_into().unwrap());
        (s, get(s))
    }).collect();
    eprintln!("newstate counts: {all:?}");
    // TCP_ESTABLISHED: client and server child.
    assert_eq!(get(1), 2 * N);
    assert_eq!(get(2), N, "SYN_SENT");
    assert_eq!(get(3), N, "SYN_RECV");
    assert_eq!(get(4), N, "FIN_WAIT1");
    assert_eq!(get(8), N, "CLOSE_WAIT");
    assert_eq!(get(9), N, "LAST_ACK");
}
