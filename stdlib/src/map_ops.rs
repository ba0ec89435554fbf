//! Whole-map and per-key operations: `clear`, `zero`, `delete`, `has_key`, `len`.

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

pub(crate) const FUNCS: &[FuncInfo] = &[
    FuncInfo {
        func: Func::Clear,
        name: "clear",
        min_args: 1,
        max_args: 1,
        role: FuncRole::Statement,
        signature: "clear(@map)",
        doc: "remove every key of a map (done by userspace when the event arrives)",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Zero,
        name: "zero",
        min_args: 1,
        max_args: 1,
        role: FuncRole::Statement,
        signature: "zero(@map)",
        doc: "set every value of a map to zero (done by userspace)",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Delete,
        name: "delete",
        min_args: 1,
        max_args: 2,
        role: FuncRole::Statement,
        signature: "bool delete(@map, key) or delete(@map[key])",
        doc: "remove one key from a map; as a value, true when the key was there",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Has,
        name: "has_key",
        min_args: 2,
        max_args: 2,
        role: FuncRole::Value,
        signature: "bool has_key(@map, key)",
        doc: "whether the map holds the key",
        unsupported: None,
    },
    FuncInfo {
        func: Func::MapLen,
        name: "len",
        min_args: 1,
        max_args: 1,
        role: FuncRole::Value,
        signature: "int64 len(@map)",
        doc: "how many keys the map holds (counted in the probe by bpf_for_each_map_elem, kernel 5.13)",
        unsupported: None,
    },
];
