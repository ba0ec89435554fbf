//! Regenerates `kernel/tests/fixtures/vmlinux-subset.btf`, the small BTF blob
//! the unit tests read instead of the host kernel's:
//!
//! ```text
//! cargo run -p flowtrace-kernel --features fixture-writer --example make_btf_fixture -- [VMLINUX_BTF] [OUT]
//! ```
//!
//! Defaults: `/sys/kernel/btf/vmlinux` → `kernel/tests/fixtures/vmlinux-subset.btf`.
//! The fixture keeps the types below and everything they hold by value;
//! pointers to records outside the list become `void *` (see `btf::subset`).
//! Tests assert offsets of the kernel the fixture was cut from (6.18); after
//! regenerating from another kernel, re-check them against
//! `bpftool btf dump file OUT`.

use std::path::PathBuf;

use flowtrace_kernel::btf::subset::{extract, Selection};
use flowtrace_kernel::btf::Btf;

const STRUCTS: &[&str] = &[
    "sock",
    "sock_common",
    "sk_buff",
    "tcp_sock",
    "inet_sock",
    "in6_addr",
    "msghdr",
];
const ENUMS: &[&str] = &["bpf_map_type", "sk_pacing"];
/// The TCP state enum is anonymous in the kernel; pick it by an enumerator.
const ENUMS_HOLDING: &[&str] = &["TCP_ESTABLISHED"];
const FUNCS: &[&str] = &[
    "tcp_sendmsg",
    "tcp_retransmit_skb",
    "inet_csk_accept",
    "tcp_v4_connect",
    "tcp_close",
];

fn main() {
    let mut args = std::env::args_os().skip(1);
    let input = args
        .next()
        .map_or_else(|| PathBuf::from("/sys/kernel/btf/vmlinux"), PathBuf::from);
    let output = args.next().map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vmlinux-subset.btf"),
        PathBuf::from,
    );
    if let Err(e) = run(&input, &output) {
        eprintln!("make_btf_fixture: {e}");
        std::process::exit(1);
    }
}

fn run(input: &std::path::Path, output: &std::path::Path) -> Result<(), String> {
    let btf = Btf::from_file(input).map_err(|e| e.to_string())?;
    let owned = |names: &[&str]| names.iter().map(|s| s.to_string()).collect();
    let selection = Selection {
        structs: owned(STRUCTS),
        enums: owned(ENUMS),
        enums_holding: owned(ENUMS_HOLDING),
        funcs: owned(FUNCS),
        ..Selection::default()
    };
    let blob = extract(&btf, &selection)?;
    let check = Btf::from_bytes(blob.clone())
        .map_err(|e| format!("the written blob does not parse: {e}"))?;
    std::fs::write(output, &blob).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
    println!(
        "wrote {} ({} bytes, {} types)",
        output.display(),
        blob.len(),
        check.len() - 1
    );
    Ok(())
}
