//! The tc header parse on crafted packets, run in the kernel with
//! BPF_PROG_TEST_RUN: IPv4 with options, IPv6 with extension headers, VLAN
//! tags, ICMP, fragments, non-IP, and every truncation of each — the
//! builtins read as specified, the verifier accepts the program, and the
//! program always returns TC_ACT_UNSPEC.

use flowtrace_testkit::program::{compiled, TestProgram};
use flowtrace_testkit::root_tests_enabled;

/// What the header builtins read for one packet.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Fields {
    family: i64,
    proto: i64,
    saddr: Vec<u8>,
    daddr: Vec<u8>,
    sport: i64,
    dport: i64,
    flags: i64,
    len: i64,
}

const SCRIPT: &str = "tc:lo:ingress { @family = family; @proto = proto; @saddr = saddr; @daddr = daddr; \
                      @sport = sport; @dport = dport; @flags = tcpflags; @len = len; }";

fn inet(family: i64, addr: &[u8]) -> Vec<u8> {
    if family == 0 {
        return vec![0; 24];
    }
    let mut v = family.to_le_bytes().to_vec();
    v.extend(addr);
    v.resize(24, 0);
    v
}

fn zero(len: usize) -> Fields {
    Fields { family: 0, proto: 0, saddr: vec![0; 24], daddr: vec![0; 24], sport: 0, dport: 0, flags: 0, len: len as i64 }
}

pub struct Parser {
    prog: TestProgram,
}

impl Parser {
    pub fn load() -> Parser {
        Parser { prog: TestProgram::from_source(SCRIPT) }
    }

    pub fn run(&self, packet: &[u8]) -> Fields {
        self.try_run(packet).unwrap_or_else(|| panic!("BPF_PROG_TEST_RUN refused a {}-byte packet", packet.len()))
    }

    /// `None` when BPF_PROG_TEST_RUN refuses the packet: it wants a whole
    /// IPv4 (IPv6) header behind an IPv4 (IPv6) ethertype, so only
    /// VLAN-tagged frames can be cut inside their IP header.
    pub fn try_run(&self, packet: &[u8]) -> Option<Fields> {
        let ret = self.prog.run_skb(0, packet).ok()?;
        // TC_ACT_UNSPEC: an observer never decides a packet's fate.
        assert_eq!(ret, u32::MAX);
        let m = self.prog.maps();
        let k = 0u64.to_le_bytes();
        Some(Fields {
            family: m.scalar("family"),
            proto: m.scalar("proto"),
            saddr: m.raw("saddr", &k).unwrap()[..24].to_vec(),
            daddr: m.raw("daddr", &k).unwrap()[..24].to_vec(),
            sport: m.scalar("sport"),
            dport: m.scalar("dport"),
            flags: m.scalar("flags"),
            len: m.scalar("len"),
        })
    }
}

// ---- packet builders ----

fn eth(ethertype: u16) -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    p.extend(ethertype.to_be_bytes());
    p
}

fn vlan(tpid: u16, inner: u16) -> Vec<u8> {
    let mut p = eth(tpid);
    p.extend([0x00, 0x64]); // VLAN id 100
    p.extend(inner.to_be_bytes());
    p
}

fn ipv4(proto: u8, options: usize, frag: u16, payload: &[u8]) -> Vec<u8> {
    assert_eq!(options % 4, 0);
    let ihl = 5 + options / 4;
    let total = (ihl * 4 + payload.len()) as u16;
    let mut ip = vec![0x40 | ihl as u8, 0];
    ip.extend(total.to_be_bytes());
    ip.extend([0, 1]);
    ip.extend(frag.to_be_bytes());
    ip.extend([64, proto, 0, 0]);
    ip.extend(A4);
    ip.extend(B4);
    // NOP options then end-of-list: content is irrelevant to the parse.
    ip.extend(std::iter::repeat_n(1u8, options));
    ip.extend(payload);
    ip
}

fn ipv6(next: u8, payload: &[u8]) -> Vec<u8> {
    let mut ip = vec![0x60, 0, 0, 0];
    ip.extend((payload.len() as u16).to_be_bytes());
    ip.extend([next, 64]);
    ip.extend(A6);
    ip.extend(B6);
    ip.extend(payload);
    ip
}

fn tcp(flags: u8) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&40000u16.to_be_bytes());
    t[2..4].copy_from_slice(&443u16.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t
}

fn udp(payload: usize) -> Vec<u8> {
    let mut u = vec![0u8; 8 + payload];
    u[0..2].copy_from_slice(&5353u16.to_be_bytes());
    u[2..4].copy_from_slice(&53u16.to_be_bytes());
    u[4..6].copy_from_slice(&((8 + payload) as u16).to_be_bytes());
    u
}

/// An IPv6 options-style extension header (`len8` extra 8-byte units).
fn ext(next: u8, len8: u8, rest: &[u8]) -> Vec<u8> {
    let mut e = vec![next, len8];
    e.resize(8 + 8 * len8 as usize, 0);
    e.extend(rest);
    e
}

fn frag6(next: u8, offset8: u16, rest: &[u8]) -> Vec<u8> {
    let mut e = vec![next, 0];
    e.extend((offset8 << 3 | 1).to_be_bytes()); // M flag set
    e.extend([0, 0, 0, 7]);
    e.extend(rest);
    e
}

const A4: [u8; 4] = [10, 1, 2, 3];
const B4: [u8; 4] = [192, 168, 9, 8];
const A6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const B6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn v4_fields(proto: i64, sport: i64, dport: i64, flags: i64, len: usize) -> Fields {
    Fields { family: 2, proto, saddr: inet(2, &A4), daddr: inet(2, &B4), sport, dport, flags, len: len as i64 }
}

fn v6_fields(proto: i64, sport: i64, dport: i64, flags: i64, len: usize) -> Fields {
    Fields { family: 10, proto, saddr: inet(10, &A6), daddr: inet(10, &B6), sport, dport, flags, len: len as i64 }
}

/// Every packet of the suite with what the builtins must read.
pub fn cases() -> Vec<(&'static str, Vec<u8>, Fields)> {
    let mut out = Vec::new();
    let mut add = |name, p: Vec<u8>, f: fn(usize) -> Fields| {
        let n = p.len();
        out.push((name, p, f(n)));
    };
    add("ipv4 tcp", cat(&[&eth(0x0800), &ipv4(6, 0, 0, &tcp(0x02))]), |n| v4_fields(6, 40000, 443, 0x02, n));
    add("ipv4 options tcp", cat(&[&eth(0x0800), &ipv4(6, 12, 0, &tcp(0x12))]), |n| v4_fields(6, 40000, 443, 0x12, n));
    add("ipv4 max options udp", cat(&[&eth(0x0800), &ipv4(17, 40, 0, &udp(3))]), |n| v4_fields(17, 5353, 53, 0, n));
    add("ipv4 icmp echo", cat(&[&eth(0x0800), &ipv4(1, 0, 0, &[8, 0, 0, 0, 0, 1, 0, 1])]), |n| v4_fields(1, 0, 0x0800, 0, n));
    // A later fragment: no transport header, so no ports (MF + offset 185*8).
    add("ipv4 later fragment", cat(&[&eth(0x0800), &ipv4(17, 0, 0x2000 | 185, &[0xab; 16])]), |n| v4_fields(17, 0, 0, 0, n));
    add("ipv4 first fragment", cat(&[&eth(0x0800), &ipv4(17, 0, 0x2000, &udp(32))]), |n| v4_fields(17, 5353, 53, 0, n));
    add("vlan ipv4 udp", cat(&[&vlan(0x8100, 0x0800), &ipv4(17, 0, 0, &udp(10))]), |n| v4_fields(17, 5353, 53, 0, n));
    add(
        "qinq ipv4 tcp",
        cat(&[&vlan(0x88a8, 0x8100), &[0x00, 0x07, 0x08, 0x00], &ipv4(6, 4, 0, &tcp(0x14))]),
        |n| v4_fields(6, 40000, 443, 0x14, n),
    );
    add("ipv6 udp", cat(&[&eth(0x86dd), &ipv6(17, &udp(5))]), |n| v6_fields(17, 5353, 53, 0, n));
    add("vlan ipv6 tcp", cat(&[&vlan(0x8100, 0x86dd), &ipv6(6, &tcp(0x04))]), |n| v6_fields(6, 40000, 443, 0x04, n));
    add(
        "ipv6 hop-by-hop + dstopts + tcp",
        cat(&[&eth(0x86dd), &ipv6(0, &ext(60, 1, &ext(6, 0, &tcp(0x11))))]),
        |n| v6_fields(6, 40000, 443, 0x11, n),
    );
    add(
        "ipv6 routing + first fragment + udp",
        cat(&[&eth(0x86dd), &ipv6(43, &ext(44, 0, &frag6(17, 0, &udp(4))))]),
        |n| v6_fields(17, 5353, 53, 0, n),
    );
    add("ipv6 later fragment", cat(&[&eth(0x86dd), &ipv6(44, &frag6(17, 100, &[0xcd; 24]))]), |n| v6_fields(17, 0, 0, 0, n));
    add("ipv6 icmpv6 echo", cat(&[&eth(0x86dd), &ipv6(58, &[128, 0, 0, 0, 0, 1, 0, 1])]), |n| v6_fields(58, 0, 0x8000, 0, n));
    // An unknown transport: addresses and proto, no ports.
    add("ipv4 gre", cat(&[&eth(0x0800), &ipv4(47, 0, 0, &[0; 8])]), |n| v4_fields(47, 0, 0, 0, n));
    add("arp", cat(&[&eth(0x0806), &[0, 1, 8, 0, 6, 4, 0, 1], &[0; 20]]), zero);
    add("ipv4 bad ihl", cat(&[&eth(0x0800), &{
        let mut ip = ipv4(6, 0, 0, &tcp(2));
        ip[0] = 0x44;
        ip
    }]), zero);
    add("ipv4 version 6 in a v4 frame", cat(&[&eth(0x0800), &{
        let mut ip = ipv4(6, 0, 0, &tcp(2));
        ip[0] = 0x65;
        ip
    }]), zero);
    out
}

/// Every length from one byte past the Ethernet header up to one byte short
/// of the headers reads as all zero (BPF_PROG_TEST_RUN refuses packets of
/// 14 bytes or less).
pub fn check_truncations(parser: &Parser, name: &str, packet: &[u8], full: &Fields) {
    if full.family == 0 {
        return;
    }
    // Where the transport header ends: anything shorter is truncated.
    let needed = headers_len(packet, full);
    let mut refused = 0;
    for n in 15..needed {
        match parser.try_run(&packet[..n]) {
            Some(f) => assert_eq!(f, zero(n), "{name} truncated to {n} of {needed} header bytes"),
            None => refused += 1,
        }
    }
    if name.contains("vlan") || name.contains("qinq") {
        assert_eq!(refused, 0, "{name}: every cut of a tagged frame runs");
    }
    assert_eq!(parser.run(&packet[..needed]), Fields { len: needed as i64, ..full.clone() }, "{name}: exactly its headers");
}

/// Length of the headers the parse needs: network headers, then the
/// transport header (TCP 20, UDP/ICMP 8) unless it is a later fragment.
fn headers_len(packet: &[u8], full: &Fields) -> usize {
    let transport = match full.proto {
        6 => 20,
        17 | 1 | 58 => 8,
        _ => 0,
    };
    let later_fragment = full.sport == 0 && full.dport == 0 && transport != 0;
    let l3 = l3_end(packet);
    if later_fragment {
        l3
    } else {
        l3 + transport
    }
}

/// Offset just past the network headers of one of our crafted packets.
fn l3_end(p: &[u8]) -> usize {
    let mut off = 12;
    let mut et = u16::from_be_bytes([p[off], p[off + 1]]);
    off += 2;
    while et == 0x8100 || et == 0x88a8 {
        et = u16::from_be_bytes([p[off + 2], p[off + 3]]);
        off += 4;
    }
    if et == 0x0800 {
        return off + (p[off] & 0x0f) as usize * 4;
    }
    let mut next = p[off + 6];
    off += 40;
    loop {
        match next {
            0 | 43 | 60 => {
                next = p[off];
                off += 8 + 8 * p[off + 1] as usize;
            }
            44 => {
                next = p[off];
                off += 8;
            }
            _ => return off,
        }
    }
}

#[test]
fn crafted_packets_read_as_specified() {
    if !root_tests_enabled("crafted_packets_read_as_specified") {
        return;
    }
    let parser = Parser::load();
    for (name, packet, want) in cases() {
        assert_eq!(parser.run(&packet), want, "{name}");
    }
}

#[test]
fn every_truncation_reads_as_zero() {
    if !root_tests_enabled("every_truncation_reads_as_zero") {
        return;
    }
    let parser = Parser::load();
    for (name, packet, want) in cases() {
        check_truncations(&parser, name, &packet, &want);
    }
}

/// The context builtins load and read what the kernel put in `__sk_buff`:
/// `skb->protocol` is the ethertype in network byte order, `skb->len` the
/// frame length; `cgroup` is the cgroup of the packet's socket — here the
/// dummy socket BPF_PROG_TEST_RUN creates in the calling task's cgroup;
/// `ifname` is "" until the runtime writes the interface's name into the map.
#[test]
fn context_builtins_and_skb_fields() {
    if !root_tests_enabled("context_builtins_and_skb_fields") {
        return;
    }
    let compiled = compiled(
        "tc:lo:ingress { @proto = skb->protocol; @len = skb->len; @same = skb->len == len; \
         @cg = cgroup; @cookie = cookie; @name = ifname; @ix = ifindex; }",
    );
    let prog = TestProgram::load(compiled).unwrap_or_else(|e| panic!("{e}"));
    let packet = cat(&[&eth(0x0800), &ipv4(17, 0, 0, &udp(3))]);
    assert_eq!(prog.run_skb(0, &packet).unwrap(), u32::MAX);
    let m = prog.maps();
    assert_eq!(m.scalar("proto"), 0x0008);
    assert_eq!(m.scalar("len"), packet.len() as i64);
    assert_eq!(m.scalar("same"), 1);
    assert_eq!(m.scalar("cg") as u64, own_cgroup_id());
    assert!(m.scalar("cookie") > 0, "the dummy socket has a cookie");
    // BPF_PROG_TEST_RUN runs on loopback (ifindex 1); no name was written.
    assert_eq!(m.scalar("ix"), 1);
    assert_eq!(m.raw("name", &0u64.to_le_bytes()).unwrap()[..16], [0u8; 16]);
}

/// The cgroup v2 id of this process: the inode of its cgroup directory.
fn own_cgroup_id() -> u64 {
    use std::os::unix::fs::MetadataExt;
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let path = text.lines().find_map(|l| l.strip_prefix("0::")).expect("cgroup v2");
    std::fs::metadata(format!("/sys/fs/cgroup{path}")).unwrap().ino()
}
