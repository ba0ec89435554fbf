//! Names from today's bpftrace standard library (its docs/stdlib.md) that
//! flowtrace does not have, so that using one is an error saying so rather
//! than "unknown". One row per name: what it is in bpftrace, and why it is
//! missing here. docs/language.md lists the same status for users.

/// A bpftrace builtin flowtrace lacks.
pub struct NotSupported {
    pub name: &'static str,
    pub why: &'static str,
}

const STACKS: &str = "DWARF-based unwinding is not implemented; ustack walks frame pointers";
const TYPES: &str = "flowtrace has no type introspection (typeof) yet";
const LATER: &str = "not implemented in flowtrace yet";

pub const NOT_SUPPORTED: &[NotSupported] = &[
    NotSupported { name: "assert", why: LATER },
    NotSupported { name: "assert_str", why: LATER },
    NotSupported { name: "config", why: "read config keys in the script's config block instead" },
    NotSupported { name: "container_of", why: LATER },
    NotSupported { name: "cpid", why: "the -c child's pid is not exposed to probes yet" },
    NotSupported { name: "default_str_length", why: "use max_strlen in the config block" },
    NotSupported { name: "dw_ustack", why: STACKS },
    NotSupported { name: "errorf", why: LATER },
    NotSupported { name: "fail", why: LATER },
    NotSupported { name: "find", why: LATER },
    NotSupported { name: "has_cpid", why: "the -c child's pid is not exposed to probes yet" },
    NotSupported { name: "is_array", why: TYPES },
    NotSupported { name: "is_err", why: TYPES },
    NotSupported { name: "is_integer", why: TYPES },
    NotSupported { name: "is_literal", why: TYPES },
    NotSupported { name: "is_ptr", why: TYPES },
    NotSupported { name: "is_str", why: TYPES },
    NotSupported { name: "is_unsigned_integer", why: TYPES },
    NotSupported { name: "jiffies", why: LATER },
    NotSupported { name: "kfunc_allowed", why: "flowtrace does not call kfuncs" },
    NotSupported { name: "kfunc_exist", why: "flowtrace does not call kfuncs" },
    NotSupported { name: "kptr", why: "flowtrace does not track address spaces by annotation" },
    NotSupported { name: "memcmp", why: LATER },
    NotSupported { name: "override", why: "flowtrace never changes what the kernel returns (observer only)" },
    NotSupported { name: "probetype", why: LATER },
    NotSupported { name: "rand", why: LATER },
    NotSupported { name: "reg", why: "registers are read only in kprobes, as arg0…arg5" },
    NotSupported { name: "signal_thread", why: LATER },
    NotSupported { name: "skboutput", why: "flowtrace writes no pcap files" },
    NotSupported { name: "socket_cookie", why: "in tc: probes the builtin `cookie` is the packet's socket cookie" },
    NotSupported { name: "static_assert", why: LATER },
    NotSupported { name: "str_concat", why: LATER },
    NotSupported { name: "strcap", why: LATER },
    NotSupported { name: "strlen", why: LATER },
    NotSupported { name: "strstr", why: LATER },
    NotSupported { name: "typeof", why: TYPES },
    NotSupported { name: "unwatch", why: "flowtrace has no watchpoint provider" },
    NotSupported { name: "uptr", why: "flowtrace does not track address spaces by annotation" },
    NotSupported { name: "usermode", why: LATER },
    NotSupported { name: "warnf", why: LATER },
    NotSupported { name: "write_user", why: "flowtrace never writes to traced memory (observer only)" },
];

/// The reason `name` is missing, when it is a bpftrace builtin.
pub fn not_supported(name: &str) -> Option<&'static str> {
    NOT_SUPPORTED.iter().find(|n| n.name == name).map(|n| n.why)
}

#[cfg(test)]
mod tests {
    /// docs/language.md names every unsupported builtin, so that its status
    /// list cannot fall behind this table.
    #[test]
    fn the_language_doc_lists_every_unsupported_name() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md")).unwrap();
        let missing: Vec<&str> = super::NOT_SUPPORTED.iter().map(|n| n.name).filter(|n| !doc.contains(&format!("`{n}`"))).collect();
        assert!(missing.is_empty(), "docs/language.md does not list: {missing:?}");
    }
}
