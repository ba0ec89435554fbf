//! count() keyed by a tracepoint argument, end to end through the kernel:
//! compile, load through the verifier, attach, make loopback TCP traffic,
//! read the per-CPU map back.

mod support;

use flowtrace_codegen::{compile, CompileOptions};
use support::bpf;
use support::build::{inet_sock_set_state as tp, *};

#[test]
fn count_per_newstate_matches_tcp_state_machine() {
    if !bpf::root_tests_enabled("count_per_newstate_matches_tcp_state_machine") {
        return;
    }
    let (listener, port) = support::traffic::listener();
    let prog = program(
        vec![map_info("states", vec![I32], flowtrace_lang::types::Type::Agg(flowtrace_lang::types::AggKind::Count))],
        vec![probe(tp::at(), Some(tp::on_port(port)), vec![count(0, Some(tp::newstate()))], vec![])],
    );
    let compiled = compile(&prog, &CompileOptions::default()).expect("compiles");
    let loaded = bpf::load_all(&compiled).unwrap_or_else(|e| panic!("{e}"));
    let _link = bpf::attach_tracepoint(&loaded.progs[0], "sock", "inet_sock_set_state").unwrap();
    const N: u64 = 5;
    support::traffic::cycles(&listener, N as usize);
    let map = &loaded.maps[0];
    let get = |state: i64| bpf::percpu_u64s(map, &state.to_le_bytes(), 8).map_or(0, |v| v[0]);
    let all: Vec<(i64, u64)> = bpf::keys(map, 8).iter().map(|k| {
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
