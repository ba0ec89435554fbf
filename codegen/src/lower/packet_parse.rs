//! The header parse of tc probes: Ethernet, up to two 802.1Q/802.1ad VLAN
//! tags, IPv4 (options skipped by IHL), IPv6 (hop-by-hop, routing,
//! destination-options, fragment and AH extension headers skipped, up to
//! [`IPV6_EXT_MAX`]), then TCP, UDP, ICMP and ICMPv6.
//!
//! One parse, emitted once, over a window of header bytes (`data` up to
//! `end`):
//! - first over packet memory (the linear part of the skb), which nearly
//!   always holds every header: no check up front;
//! - when a header runs past the linear part and the first
//!   `min(len, COPY_MAX)` bytes are not all linear, those bytes are copied
//!   with `bpf_skb_load_bytes` into a per-CPU buffer and the same code runs
//!   again over the copy (a back edge taken at most once: a constant flag
//!   tells the verifier so). A header the copy cannot hold the linear part
//!   could not have held either, so every packet reads as if the copy had
//!   been parsed from the start.
//!
//! `bpf_skb_pull_data` would make the bytes linear instead, but it also
//! un-clones a cloned skb (a copy of its head, a change of its truesize;
//! TCP transmits clones of its retransmit queue's skbs) and may reallocate
//! the head: an observer must not do that to a packet it does not own.
//!
//! Every read is `if data + off + N > end goto short` (copy, or truncated:
//! all zero). Over packet
//! memory the verifier turns that comparison into a proven range; over the
//! copy it only compares two pointers (allowed for privileged programs) and
//! the range comes from the offset's own bound instead: offsets are checked
//! against [`OFFSET_MAX`] after every variable step, and the buffer is
//! large enough for a read at any offset below that ([`COPY_BUF`]). Small
//! known bounds also keep the verifier fast (it proves packet ranges only
//! for offsets below 64 KiB).
//!
//! Results go to the [`PacketDests`]: value slots and the flow key. A packet
//! that is not IP, or whose headers are malformed or truncated before the
//! end of the transport header, reads as all zero (`family`, `proto`,
//! addresses, ports, flags). A non-first fragment has its addresses and
//! `proto` but zero ports. ICMP and ICMPv6 follow NetFlow: `sport` 0,
//! `dport` = type << 8 | code. Fields nobody reads are checked for length
//! (a truncated packet still reads as zero) but not loaded.

use super::packet::{FieldDest, PacketDests, SKB_DATA, SKB_DATA_END, SKB_LEN};
use super::{Arg, LowerResult, Lowerer};
use crate::insn::helper;
use crate::ir::{AluOp, Cond, Inst, Label, Reg, Size, Src};
use crate::object::{BpfMapType, MapRef, MapRole, MapSpec};

const ETH_HLEN: i32 = 14;
/// Bytes copied when they are not linear: Ethernet, two VLAN tags, an IPv4
/// header with 40 bytes of options and a TCP header fit, as does IPv6 with
/// a few small extension headers.
const COPY_MAX: i32 = 128;
/// Largest header offset the parse accepts.
const OFFSET_MAX: i32 = 1024;
/// Size of the copy buffer: a read of up to [`READ_MAX`] bytes at any
/// offset up to [`OFFSET_MAX`] stays inside it (bytes past the copied
/// length are never read: `end` stops them).
const COPY_BUF: u32 = (OFFSET_MAX + READ_MAX) as u32;
/// The longest single read (the IPv6 header).
const READ_MAX: i32 = 64;
/// Set when compiling, every tc program parses the copied headers: lets
/// tests run the slow path on BPF_PROG_TEST_RUN's (always linear) packets.
pub const FORCE_COPY_ENV: &str = "FLOWTRACE_TEST_TC_COPY";
/// IPv6 extension headers skipped before giving up on the transport header.
const IPV6_EXT_MAX: usize = 4;

// Big-endian 16-bit values as a little-endian load sees them.
const fn be16(v: u16) -> i32 {
    v.swap_bytes() as i32
}
const ETH_P_IP: i32 = be16(0x0800);
const ETH_P_IPV6: i32 = be16(0x86dd);
const ETH_P_8021Q: i32 = be16(0x8100);
const ETH_P_8021AD: i32 = be16(0x88a8);
/// IPv4 fragment offset bits of the frag_off field.
const IP_OFFSET_MASK: i32 = be16(0x1fff);
/// IPv6 fragment header: offset bits (the low 3 are flags).
const IP6_OFFSET_MASK: i32 = be16(0xfff8);

const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;
const IPPROTO_HOPOPTS: i32 = 0;
const IPPROTO_ICMP: i32 = 1;
const IPPROTO_TCP: i32 = 6;
const IPPROTO_UDP: i32 = 17;
const IPPROTO_ROUTING: i32 = 43;
const IPPROTO_FRAGMENT: i32 = 44;
const IPPROTO_AH: i32 = 51;
const IPPROTO_ICMPV6: i32 = 58;
const IPPROTO_DSTOPTS: i32 = 60;

/// The parse's window and exits.
struct Run<'d> {
    /// First header byte, and one past the last readable one.
    data: Reg,
    end: Reg,
    out: &'d PacketDests,
    /// A header runs past `end`: copy and parse again, or truncated.
    short: Label,
    /// Malformed or truncated: zero every destination.
    invalid: Label,
    done: Label,
}

/// Where the transport parse starts: `dispatch` by `proto`, or straight at
/// the TCP or UDP header when the protocol is already known. Each stores
/// `proto` into its destinations; `fragment` (a non-first fragment, with
/// no transport header) stores only `proto`.
struct Transport {
    dispatch: Label,
    tcp: Label,
    udp: Label,
    fragment: Label,
}

impl Lowerer<'_> {
    /// Emits the parse (every destination is zero on entry).
    pub(super) fn parse_headers(&mut self, out: &PacketDests) -> LowerResult<()> {
        let (parse, short, invalid, done) = (self.label(), self.label(), self.label(), self.label());
        let (data, end, copied) = (self.vreg(), self.vreg(), self.vreg());
        let ctx = self.ctx;
        self.emit(Inst::Load { size: Size::W, dst: data, base: ctx, off: SKB_DATA });
        self.emit(Inst::Load { size: Size::W, dst: end, base: ctx, off: SKB_DATA_END });
        // A constant on each path: the verifier follows the second pass
        // (over the copy) to its end, and sees the back edge taken once.
        self.alu(AluOp::Mov, copied, Src::Imm(0));
        let force_copy = std::env::var_os(FORCE_COPY_ENV).is_some();
        if force_copy {
            self.goto(short);
        }

        self.place(parse);
        self.comment(">headers".into());
        self.parse_run(&Run { data, end, out, short, invalid, done });

        self.place(short);
        self.comment(">a header past the window's end: parse a copy if the packet has more".into());
        self.jump(Cond::Ne, copied, Src::Imm(0), invalid);
        let need = self.vreg();
        self.emit(Inst::Load { size: Size::W, dst: need, base: ctx, off: SKB_LEN });
        let fits = self.label();
        self.jump(Cond::Le, need, Src::Imm(COPY_MAX), fits);
        self.alu(AluOp::Mov, need, Src::Imm(COPY_MAX));
        self.place(fits);
        if !force_copy {
            // The linear part held every byte a copy would: truly truncated.
            let linear_end = self.copy_reg(data);
            self.alu(AluOp::Add, linear_end, Src::Reg(need));
            self.jump(Cond::Le, linear_end, Src::Reg(end), invalid);
        }
        // `< 1`, not `== 0`: Linux 6.1's verifier learns a minimum of 1 only
        // from an ordered comparison, and skb_load_bytes refuses a size that
        // may be 0.
        self.jump(Cond::Lt, need, Src::Imm(1), invalid);
        // The copy goes to a per-CPU map value, not the stack: the verifier
        // demands aligned stack accesses, and header fields at variable
        // offsets are not aligned; map values have no such rule on x86.
        let map = self.packet_copy_map();
        let key = self.alloc(8)?;
        self.emit(Inst::Store { size: Size::DW, base: key.base, off: key.off, src: Src::Imm(0) });
        let buf = self.call(helper::MAP_LOOKUP_ELEM, &[Arg::Map(map), Arg::Addr(key)]);
        self.jump(Cond::Eq, buf, Src::Imm(0), invalid);
        let r = self.call(helper::SKB_LOAD_BYTES, &[Arg::Reg(ctx), Arg::Imm(0), Arg::Reg(buf), Arg::Reg(need)]);
        self.jump(Cond::Ne, r, Src::Imm(0), invalid);
        self.alu(AluOp::Mov, data, Src::Reg(buf));
        self.alu(AluOp::Mov, end, Src::Reg(buf));
        self.alu(AluOp::Add, end, Src::Reg(need));
        self.alu(AluOp::Mov, copied, Src::Imm(1));
        // No reset before the second pass: the copy is longer than the
        // linear part (else no copy), so the second pass takes the first's
        // path over the same bytes up to where that one stopped, rewriting
        // every destination the first wrote with the same values.
        self.goto(parse);

        self.place(invalid);
        out.reset(self);
        self.place(done);
        Ok(())
    }

    /// The per-CPU buffer non-linear headers are copied into, shared by
    /// every tc probe (a program runs to completion on its CPU).
    fn packet_copy_map(&mut self) -> MapRef {
        const NAME: &str = "ft_pktcopy";
        if let Some(i) = self.g.maps.iter().position(|m| m.name == NAME) {
            return MapRef(i as u32);
        }
        let r = MapRef(self.g.maps.len() as u32);
        self.g.maps.push(MapSpec {
            name: NAME.into(),
            map_type: BpfMapType::PercpuArray,
            key_size: 4,
            value_size: COPY_BUF,
            max_entries: 1,
            role: MapRole::Scratch,
        });
        r
    }

    /// A pointer to `n` readable bytes at header offset `off`, or a jump to
    /// `run.short`.
    fn header_bytes(&mut self, run: &Run, off: Reg, n: i32) -> Reg {
        debug_assert!(n <= READ_MAX);
        let p = self.copy_reg(run.data);
        self.alu(AluOp::Add, p, Src::Reg(off));
        let past = self.copy_reg(p);
        self.alu(AluOp::Add, past, Src::Imm(n));
        // Over packet memory the verifier learns "n bytes at p" from this.
        self.jump(Cond::Gt, past, Src::Reg(run.end), run.short);
        p
    }

    /// Stores `v` at every destination, each at its width.
    fn put(&mut self, dests: &[FieldDest], v: Src) {
        for d in dests {
            self.emit(Inst::Store { size: d.size, base: d.at.base, off: d.at.off, src: v });
        }
    }

    fn load_at(&mut self, size: Size, p: Reg, off: i16) -> Reg {
        let r = self.vreg();
        self.emit(Inst::Load { size, dst: r, base: p, off });
        r
    }

    /// `n` readable bytes at the constant header offset `at` (from `run.data`),
    /// or a jump to `run.short`: no offset register to add.
    fn header_bytes_at(&mut self, run: &Run, at: i32, n: i32) {
        let past = self.copy_reg(run.data);
        self.alu(AluOp::Add, past, Src::Imm(at + n));
        self.jump(Cond::Gt, past, Src::Reg(run.end), run.short);
    }

    fn parse_run(&mut self, run: &Run) {
        self.header_bytes_at(run, 0, ETH_HLEN);
        let ethertype = self.load_at(Size::H, run.data, 12);
        let off = self.vreg();
        self.alu(AluOp::Mov, off, Src::Imm(ETH_HLEN));
        let (v4, v6) = (self.label(), self.label());
        // Up to two VLAN tags (802.1ad outer, 802.1Q inner): 4 bytes each,
        // the inner ethertype in their last two. IP is tested first, so an
        // untagged frame pays one or two comparisons.
        for _ in 0..2 {
            self.jump(Cond::Eq, ethertype, Src::Imm(ETH_P_IP), v4);
            self.jump(Cond::Eq, ethertype, Src::Imm(ETH_P_IPV6), v6);
            let tagged = self.label();
            self.jump(Cond::Eq, ethertype, Src::Imm(ETH_P_8021Q), tagged);
            // Not IP: everything stays zero.
            self.jump(Cond::Ne, ethertype, Src::Imm(ETH_P_8021AD), run.done);
            self.place(tagged);
            let p = self.header_bytes(run, off, 4);
            self.emit(Inst::Load { size: Size::H, dst: ethertype, base: p, off: 2 });
            self.alu(AluOp::Add, off, Src::Imm(4));
        }
        self.jump(Cond::Eq, ethertype, Src::Imm(ETH_P_IP), v4);
        self.jump(Cond::Ne, ethertype, Src::Imm(ETH_P_IPV6), run.done);
        let l4 = Transport { dispatch: self.label(), tcp: self.label(), udp: self.label(), fragment: self.label() };
        let proto = self.vreg();
        self.place(v6);
        self.ipv6(run, off, proto, &l4);
        // IPv4 last: it falls through into the transport dispatch.
        self.place(v4);
        self.ipv4(run, off, proto, l4.fragment);
        self.transport(run, off, proto, &l4);
    }

    /// IPv4: sets `proto`, the addresses, and `off` past the options; a
    /// non-first fragment goes to `fragment`, the rest falls through.
    fn ipv4(&mut self, run: &Run, off: Reg, proto: Reg, fragment: Label) {
        let out = run.out;
        let p = self.header_bytes(run, off, 20);
        // Version 4 with an IHL of at least 5 is the byte range 0x45..=0x4f.
        let vihl = self.load_at(Size::B, p, 0);
        self.jump(Cond::Lt, vihl, Src::Imm(0x45), run.invalid);
        self.jump(Cond::Gt, vihl, Src::Imm(0x4f), run.invalid);
        // Mask the IHL before scaling it: the verifier then knows the
        // header length is at most 60.
        self.alu(AluOp::And, vihl, Src::Imm(0x0f));
        self.alu(AluOp::Lsh, vihl, Src::Imm(2));
        self.emit(Inst::Load { size: Size::B, dst: proto, base: p, off: 9 });
        self.set_family(out, AF_INET);
        for (dests, at) in [(&out.saddr, 12), (&out.daddr, 16)] {
            if dests.is_empty() {
                continue;
            }
            let a = self.load_at(Size::W, p, at);
            for d in dests {
                self.emit(Inst::Store { size: Size::W, base: d.addr.base, off: d.addr.off, src: Src::Reg(a) });
            }
        }
        self.alu(AluOp::Add, off, Src::Reg(vihl));
        // A fragment other than the first has no transport header.
        let frag = self.load_at(Size::H, p, 6);
        self.jump(Cond::Set, frag, Src::Imm(IP_OFFSET_MASK), fragment);
    }

    /// IPv6: sets `proto` (after the extension headers), the addresses, and
    /// `off` past the extension headers.
    fn ipv6(&mut self, run: &Run, off: Reg, proto: Reg, l4: &Transport) {
        let out = run.out;
        let p = self.header_bytes(run, off, 40);
        self.emit(Inst::Load { size: Size::B, dst: proto, base: p, off: 6 });
        self.set_family(out, AF_INET6);
        for (dests, at) in [(&out.saddr, 8), (&out.daddr, 24)] {
            for half in [0, 8] {
                if dests.is_empty() {
                    continue;
                }
                let a = self.load_at(Size::DW, p, at + half);
                for d in dests {
                    self.emit(Inst::Store { size: Size::DW, base: d.addr.base, off: d.addr.off + half, src: Src::Reg(a) });
                }
            }
        }
        self.alu(AluOp::Add, off, Src::Imm(40));
        for _ in 0..IPV6_EXT_MAX {
            self.ipv6_extension(run, off, proto, l4);
        }
        self.goto(l4.dispatch);
    }

    /// One extension header, if `proto` names one we can skip; otherwise
    /// on to the transport header.
    fn ipv6_extension(&mut self, run: &Run, off: Reg, proto: Reg, l4: &Transport) {
        // TCP and UDP straight away: most packets have no extension header,
        // and they need not pay five comparisons to learn it.
        self.jump(Cond::Eq, proto, Src::Imm(IPPROTO_UDP), l4.udp);
        self.jump(Cond::Eq, proto, Src::Imm(IPPROTO_TCP), l4.tcp);
        let (options, fragment, next) = (self.label(), self.label(), self.label());
        for kind in [IPPROTO_HOPOPTS, IPPROTO_ROUTING, IPPROTO_DSTOPTS] {
            self.jump(Cond::Eq, proto, Src::Imm(kind), options);
        }
        self.jump(Cond::Eq, proto, Src::Imm(IPPROTO_FRAGMENT), fragment);
        self.jump(Cond::Ne, proto, Src::Imm(IPPROTO_AH), l4.dispatch);

        // AH: length in 4-byte units, not counting the first 8.
        let p = self.header_bytes(run, off, 2);
        self.emit(Inst::Load { size: Size::B, dst: proto, base: p, off: 0 });
        let len = self.load_at(Size::B, p, 1);
        self.alu(AluOp::Add, len, Src::Imm(2));
        self.alu(AluOp::Lsh, len, Src::Imm(2));
        self.alu(AluOp::Add, off, Src::Reg(len));
        self.goto(next);

        // Options-style headers: next header, length in 8-byte units not
        // counting the first 8.
        self.place(options);
        let p = self.header_bytes(run, off, 2);
        self.emit(Inst::Load { size: Size::B, dst: proto, base: p, off: 0 });
        let len = self.load_at(Size::B, p, 1);
        self.alu(AluOp::Add, len, Src::Imm(1));
        self.alu(AluOp::Lsh, len, Src::Imm(3));
        self.alu(AluOp::Add, off, Src::Reg(len));
        self.goto(next);

        // Fragment header: 8 bytes; a non-first fragment has no transport header.
        self.place(fragment);
        let p = self.header_bytes(run, off, 8);
        self.emit(Inst::Load { size: Size::B, dst: proto, base: p, off: 0 });
        let frag = self.load_at(Size::H, p, 2);
        self.alu(AluOp::Add, off, Src::Imm(8));
        self.jump(Cond::Set, frag, Src::Imm(IP6_OFFSET_MASK), l4.fragment);
        self.goto(next);

        self.place(next);
        // Keeps the offset's known range small (see the module comment).
        self.jump(Cond::Gt, off, Src::Imm(OFFSET_MAX), run.invalid);
    }

    /// `proto` into its destinations; ports, TCP flags, ICMP type/code. The
    /// header's length is checked even when no field of it is read: a
    /// truncated packet reads as zero.
    fn transport(&mut self, run: &Run, off: Reg, proto: Reg, l4: &Transport) {
        let out = run.out;
        self.place(l4.dispatch);
        let icmp = self.label();
        self.jump(Cond::Eq, proto, Src::Imm(IPPROTO_TCP), l4.tcp);
        self.jump(Cond::Eq, proto, Src::Imm(IPPROTO_UDP), l4.udp);
        self.put(&out.proto, Src::Reg(proto));
        self.jump(Cond::Eq, proto, Src::Imm(IPPROTO_ICMP), icmp);
        self.jump(Cond::Ne, proto, Src::Imm(IPPROTO_ICMPV6), run.done);

        self.place(icmp);
        let p = self.header_bytes(run, off, 8);
        if !out.dport.is_empty() {
            // type << 8 | code is the big-endian u16 at the header's start.
            let tc = self.load_at(Size::H, p, 0);
            self.emit(Inst::ToBe { dst: tc, bits: 16 });
            self.put(&out.dport, Src::Reg(tc));
        }
        self.goto(run.done);

        self.place(l4.tcp);
        self.put(&out.proto, Src::Imm(IPPROTO_TCP));
        let p = self.header_bytes(run, off, 20);
        self.ports(out, p);
        if !out.tcpflags.is_empty() {
            let flags = self.load_at(Size::B, p, 13);
            self.put(&out.tcpflags, Src::Reg(flags));
        }
        self.goto(run.done);

        self.place(l4.udp);
        self.put(&out.proto, Src::Imm(IPPROTO_UDP));
        let p = self.header_bytes(run, off, 8);
        self.ports(out, p);
        self.goto(run.done);

        self.place(l4.fragment);
        self.put(&out.proto, Src::Reg(proto));
        self.goto(run.done);
    }

    /// Source and destination port, big-endian at the header's start.
    fn ports(&mut self, out: &PacketDests, p: Reg) {
        for (at, dests) in [(0, &out.sport), (2, &out.dport)] {
            if dests.is_empty() {
                continue;
            }
            let v = self.load_at(Size::H, p, at);
            self.emit(Inst::ToBe { dst: v, bits: 16 });
            self.put(dests, Src::Reg(v));
        }
    }

    fn set_family(&mut self, out: &PacketDests, family: i32) {
        self.put(&out.family, Src::Imm(family));
        for d in out.saddr.iter().chain(&out.daddr) {
            self.put(&[d.family], Src::Imm(family));
        }
    }
}
