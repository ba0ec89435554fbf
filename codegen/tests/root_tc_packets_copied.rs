//! The slow path of the tc header parse (headers copied with
//! bpf_skb_load_bytes, taken for non-linear skbs), forced for every packet
//! so that BPF_PROG_TEST_RUN's linear packets exercise it: the same crafted
//! packets and truncations must read exactly as on the fast path.
//! A separate test binary, because the switch is an environment variable
//! read at compile time.

#[path = "root_tc_packets.rs"]
#[allow(dead_code)]
mod fast;

use flowtrace_testkit::root_tests_enabled;

#[test]
fn copied_headers_read_like_packet_memory() {
    if !root_tests_enabled("copied_headers_read_like_packet_memory") {
        return;
    }
    // SAFETY of set_var: this binary's only test sets it before compiling.
    unsafe { std::env::set_var("FLOWTRACE_TEST_TC_COPY", "1") };
    let parser = fast::Parser::load();
    for (name, packet, want) in fast::cases() {
        assert_eq!(parser.run(&packet), want, "{name} (copied)");
        fast::check_truncations(&parser, name, &packet, &want);
    }
}
