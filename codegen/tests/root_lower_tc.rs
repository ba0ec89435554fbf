//! tc probes: packet builtins parsed from real packet bytes, run with
//! BPF_PROG_TEST_RUN on sched_cls programs loaded by the production loader.

use flowtrace_testkit::program::{compiled, TestProgram};
use flowtrace_testkit::root_tests_enabled;

fn ipv4_tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8) -> Vec<u8> {
    let mut p = vec![0u8; 14];
    p[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0];
    ip.extend(src);
    ip.extend(dst);
    p.extend(ip);
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&dport.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    p.extend(tcp);
    p
}

fn ipv6_udp(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16) -> Vec<u8> {
    let mut p = vec![0u8; 14];
    p[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
    let mut ip = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
    ip.extend(src);
    ip.extend(dst);
    p.extend(ip);
    let mut udp = vec![0u8; 8];
    udp[0..2].copy_from_slice(&sport.to_be_bytes());
    udp[2..4].copy_from_slice(&dport.to_be_bytes());
    p.extend(udp);
    p
}

#[test]
fn packet_builtins_decode_ipv4_and_ipv6_headers() {
    if !root_tests_enabled("packet_builtins_decode_ipv4_and_ipv6_headers") {
        return;
    }
    let compiled = compiled(
        "tc:lo:ingress { @flows[saddr, daddr, sport, dport, proto] = count(); @f[family] = count(); @flags = tcpflags; @len = len; }",
    );
    let prog = TestProgram::load(compiled).unwrap_or_else(|e| panic!("{e}"));
    let v4 = ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], 40000, 443, 0x12);
    let mut a6 = [0u8; 16];
    a6[0] = 0xfd;
    a6[15] = 1;
    let mut b6 = a6;
    b6[15] = 2;
    let v6 = ipv6_udp(a6, b6, 5353, 53);
    for p in [&v4, &v4, &v6] {
        // TC_ACT_UNSPEC: an observer never decides a packet's fate.
        assert_eq!(prog.run_skb(0, p).unwrap(), u32::MAX);
    }
    let m = prog.maps();
    // The compact key (codegen's layout::key_offsets): inet = 16 address
    // bytes + family byte at 0 and 24, then u16 ports at 42 and 44, the u8
    // protocol at 46, padding zero.
    let key = |fam: u8, s: &[u8], d: &[u8], sp: u16, dp: u16, proto: u8| {
        let mut k = vec![0u8; 48];
        k[..s.len()].copy_from_slice(s);
        k[16] = fam;
        k[24..24 + d.len()].copy_from_slice(d);
        k[40] = fam;
        k[42..44].copy_from_slice(&sp.to_le_bytes());
        k[44..46].copy_from_slice(&dp.to_le_bytes());
        k[46] = proto;
        k
    };
    let k4 = key(2, &[10, 0, 0, 1], &[10, 0, 0, 2], 40000, 443, 6);
    let k6 = key(10, &a6, &b6, 5353, 53, 17);
    assert_eq!(m.words("flows", &k4), Some(vec![2]), "keys: {:?}", m.keys("flows"));
    assert_eq!(m.words("flows", &k6), Some(vec![1]));
    assert_eq!(m.words("f", &2u64.to_le_bytes()), Some(vec![2]));
    assert_eq!(m.words("f", &10u64.to_le_bytes()), Some(vec![1]));
    // The last packet was UDP: no TCP flags; its length is the whole frame.
    assert_eq!(m.scalar("flags"), 0);
    assert_eq!(m.scalar("len"), v6.len() as i64);
}

#[test]
fn tc_context_builtins_pass_the_verifier() {
    if !root_tests_enabled("tc_context_builtins_pass_the_verifier") {
        return;
    }
    let compiled = compiled(
        r#"tc:lo:egress /dport == 80 && tcpflags & 2/ { @m[mark, ifindex, ifname, dir] = count(); @k[cookie] = count(); printf("%s -> %s\n", ntop(saddr), ntop(daddr)); }"#,
    );
    TestProgram::load(compiled).unwrap_or_else(|e| panic!("{e}"));
}

/// The shared key in a kernel: the second and third maps count the same
/// flows as the first, and a map keyed inside an `if` gets its own key.
#[test]
fn shared_flow_key_counts_in_every_map() {
    if !root_tests_enabled("shared_flow_key_counts_in_every_map") {
        return;
    }
    let compiled = compiled(
        "tc:lo:ingress { @p[saddr, daddr, sport, dport, proto] = count(); \
         if (sport == 40000) { @big[saddr, daddr, sport, dport, proto] = count(); } \
         @b[saddr, daddr, sport, dport, proto] = sum(len); @m[saddr, daddr, sport, dport, proto] = max(sport); }",
    );
    assert!(flowtrace_codegen::disasm::disassemble_program(&compiled.programs[0], &compiled.maps).contains(">key built by the header parse"));
    let prog = TestProgram::load(compiled).unwrap_or_else(|e| panic!("{e}"));
    let a = ipv4_tcp([10, 0, 0, 1], [10, 0, 0, 2], 40000, 443, 0x12);
    let b = ipv4_tcp([10, 0, 0, 3], [10, 0, 0, 2], 40001, 443, 0x12);
    for p in [&a, &a, &b] {
        assert_eq!(prog.run_skb(0, p).unwrap(), u32::MAX);
    }
    let m = prog.maps();
    let key = |s: [u8; 4], sp: u16| {
        let mut k = vec![0u8; 48];
        k[..4].copy_from_slice(&s);
        k[16] = 2;
        k[24..28].copy_from_slice(&[10, 0, 0, 2]);
        k[40] = 2;
        k[42..44].copy_from_slice(&sp.to_le_bytes());
        k[44..46].copy_from_slice(&443u16.to_le_bytes());
        k[46] = 6;
        k
    };
    let (ka, kb) = (key([10, 0, 0, 1], 40000), key([10, 0, 0, 3], 40001));
    assert_eq!(m.words("p", &ka), Some(vec![2]), "keys: {:?}", m.keys("p"));
    assert_eq!(m.words("p", &kb), Some(vec![1]));
    assert_eq!(m.words("big", &ka), Some(vec![2]));
    assert_eq!(m.keys("big").len(), 1);
    assert_eq!(m.words("b", &ka), Some(vec![2 * a.len() as u64]));
    assert_eq!(m.words("b", &kb), Some(vec![b.len() as u64]));
    assert_eq!(m.keys("m").len(), 2);
}
