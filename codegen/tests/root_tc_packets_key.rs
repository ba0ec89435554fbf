//! The flow key the header parse writes in place (codegen's
//! lower/shared_key.rs) against the same fields read as values, on every
//! crafted packet of `root_tc_packets.rs` and every truncation of it, over packet
//! memory and over the copy: each run adds one to exactly the key the value
//! builtins describe.

#[path = "root_tc_packets.rs"]
#[allow(dead_code)]
mod fast;

use flowtrace_testkit::program::{compiled, MapBytes, TestProgram};
use flowtrace_testkit::root_tests_enabled;
use flowtrace_codegen::layout;
use flowtrace_lang::types::{IntType, Type};
use std::collections::HashMap;

const SCRIPT: &str = "tc:lo:ingress { @k[saddr, daddr, sport, dport, proto, family, tcpflags] = count(); \
                      @family = family; @proto = proto; @saddr = saddr; @daddr = daddr; \
                      @sport = sport; @dport = dport; @flags = tcpflags; }";

/// The key bytes `layout::key_offsets` gives the fields the value maps hold.
fn expected_key(m: &MapBytes<'_>) -> Vec<u8> {
    let u = |bits| Type::Int(IntType { bits, signed: false });
    let types = [Type::Inet, Type::Inet, u(16), u(16), u(8), u(16), u(8)];
    let (offs, size) = layout::key_offsets(&types);
    let mut key = vec![0u8; size as usize];
    let zero = 0u64.to_le_bytes();
    for (i, name) in ["saddr", "daddr"].into_iter().enumerate() {
        let v = m.raw(name, &zero).unwrap();
        let at = offs[i] as usize;
        key[at..at + 16].copy_from_slice(&v[8..24]);
        key[at + layout::KEY_INET_FAMILY as usize] = v[0];
    }
    for (i, (name, width)) in [("sport", 2), ("dport", 2), ("proto", 1), ("family", 2), ("flags", 1)].into_iter().enumerate() {
        let v = (m.scalar(name) as u64).to_le_bytes();
        let at = offs[i + 2] as usize;
        key[at..at + width].copy_from_slice(&v[..width]);
    }
    key
}

fn check_every_cut(label: &str) {
    let prog = TestProgram::load(compiled(SCRIPT)).unwrap_or_else(|e| panic!("{e}"));
    let m = prog.maps();
    let mut want: HashMap<Vec<u8>, u64> = HashMap::new();
    let mut runs = 0;
    for (name, packet, _) in fast::cases() {
        for n in 15..=packet.len() {
            // BPF_PROG_TEST_RUN refuses some cuts inside an IP header.
            let Ok(ret) = prog.run_skb(0, &packet[..n]) else { continue };
            assert_eq!(ret, u32::MAX, "{name}");
            *want.entry(expected_key(&m)).or_default() += 1;
            runs += 1;
        }
    }
    assert!(runs > 500, "{label}: only {runs} packets ran");
    let got: HashMap<Vec<u8>, u64> = m.keys("k").into_iter().map(|k| (k.clone(), m.words("k", &k).unwrap()[0])).collect();
    assert_eq!(got, want, "{label}: flow keys built in place");
}

#[test]
fn flow_key_in_place_matches_the_value_builtins() {
    if !root_tests_enabled("flow_key_in_place_matches_the_value_builtins") {
        return;
    }
    check_every_cut("packet memory");
    // SAFETY of set_var: read when compiling; the other tests of this binary
    // read packets alike on either path.
    unsafe { std::env::set_var("FLOWTRACE_TEST_TC_COPY", "1") };
    check_every_cut("copied headers");
}
