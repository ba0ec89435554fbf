//! Packet builtins, only in flowtrace's `tc:IFACE:DIR` probes. They read the
//! `__sk_buff` context and the IPv4/IPv6 and TCP/UDP headers of the packet.
//! For a packet that is not IP (or whose transport is not TCP/UDP) the
//! header-derived values are zero.
//!
//! `dir` is known when the program is compiled (each attach point has one
//! direction), so it is the constant string `"ingress"` or `"egress"`.

use crate::registry::{BuiltinInfo, ProbeKind};
use crate::Builtin;

const TC: &[ProbeKind] = &[ProbeKind::Tc];

macro_rules! packet {
    ($variant:ident, $name:literal, $ty:literal, $doc:literal) => {
        BuiltinInfo { builtin: Builtin::$variant, name: $name, ty: $ty, usable_in: TC, doc: $doc }
    };
}

pub(crate) const BUILTINS: &[BuiltinInfo] = &[
    packet!(Len, "len", "uint32", "packet length in bytes (skb->len)"),
    packet!(Ifindex, "ifindex", "uint32", "index of the interface the packet is on"),
    packet!(Ifname, "ifname", "string[16]", "name of the interface the packet is on"),
    packet!(Dir, "dir", "string[8]", "\"ingress\" or \"egress\" (constant per attach point)"),
    packet!(Family, "family", "uint16", "AF_INET or AF_INET6; 0 for non-IP packets"),
    packet!(Proto, "proto", "uint8", "IP protocol (IPPROTO_TCP, IPPROTO_UDP, …)"),
    packet!(Saddr, "saddr", "inet", "source IP address"),
    packet!(Daddr, "daddr", "inet", "destination IP address"),
    packet!(Sport, "sport", "uint16", "TCP/UDP source port, host byte order"),
    packet!(Dport, "dport", "uint16", "TCP/UDP destination port, host byte order"),
    packet!(Tcpflags, "tcpflags", "uint8", "TCP flags byte (TCP_SYN, TCP_ACK, …); 0 if not TCP"),
    packet!(Mark, "mark", "uint32", "skb->mark"),
    packet!(Cookie, "cookie", "uint64", "socket cookie of the packet's socket (0 if none)"),
    packet!(Skb, "skb", "struct __sk_buff *", "the packet's context: skb->len, skb->mark, skb->hash, skb->vlan_tci, … (loaded directly)"),
];
