//! `ntop([af,] addr)`: an IP address value, printed as text. An integer or a
//! 4-byte array is IPv4, a 16-byte array IPv6; `af` (AF_INET/AF_INET6) can
//! say it explicitly.

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

pub(crate) const FUNCS: &[FuncInfo] = &[
    FuncInfo {
    func: Func::Ntop,
    name: "ntop",
    min_args: 1,
    max_args: 2,
    role: FuncRole::Value,
    signature: "inet ntop([int af,] int|uint8[4]|uint8[16] addr)",
    doc: "an IPv4/IPv6 address that prints as text",
    unsupported: None,
    },
    FuncInfo {
        func: Func::Pton,
        name: "pton",
        min_args: 1,
        max_args: 1,
        role: FuncRole::Value,
        signature: "uint8[4]|uint8[16] pton(string literal)",
        doc: "an IPv4 or IPv6 address literal as bytes in network order, converted when compiling",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Macaddr,
        name: "macaddr",
        min_args: 1,
        max_args: 1,
        role: FuncRole::Value,
        signature: "macaddr_t macaddr(uint8[6] | pointer mac)",
        doc: "six bytes that print as a MAC address, `AA:BB:CC:DD:EE:FF`",
        unsupported: None,
    },
];
