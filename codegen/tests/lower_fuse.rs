//! Fused aggregations (codegen's fuse.rs) without a kernel: which maps are
//! fused, and that a fused run does one map lookup where separate maps do
//! one each. Their runs on real events are in the root tests
//! (tests/root_fuse.rs).

use flowtrace_codegen::insn::{helper, BPF_CALL, BPF_JMP};
use flowtrace_codegen::object::{CompiledProgram, MapRole, ProgramCode};
use flowtrace_codegen::CompileOptions;
use flowtrace_lang::CheckOptions;
use flowtrace_testkit::program::compiled_opts;

const FLOW: &str = "saddr, daddr, sport, dport, proto";

fn build(text: &str, fuse: bool) -> CompiledProgram {
    compiled_opts(text, &CheckOptions::default(), &CompileOptions { fuse, ..CompileOptions::default() })
}

/// Helper calls `which` on maps holding script data (user maps and fused
/// maps) in `p`: each call's map is the last map loaded before it.
fn calls_on_data_maps(c: &CompiledProgram, p: &ProgramCode, which: i32) -> usize {
    let mut n = 0;
    for (i, insn) in p.insns.iter().enumerate() {
        if insn.code != (BPF_JMP | BPF_CALL) || insn.imm != which || insn.src != 0 {
            continue;
        }
        let map = p.map_relocs.iter().filter(|(at, _)| *at < i).max_by_key(|(at, _)| *at).map(|(_, m)| m.0 as usize);
        let data = map.is_some_and(|m| matches!(c.maps[m].role, MapRole::User { .. } | MapRole::FusedStorage { .. }));
        n += usize::from(data);
    }
    n
}

fn program<'c>(c: &'c CompiledProgram, prefix: &str) -> &'c ProgramCode {
    c.programs.iter().find(|p| p.name.starts_with(prefix)).expect("the program")
}

fn fused_maps(c: &CompiledProgram) -> Vec<Vec<u32>> {
    c.maps
        .iter()
        .filter_map(|s| match &s.role {
            MapRole::FusedStorage { members } => Some(members.iter().map(|m| m.0).collect()),
            _ => None,
        })
        .collect()
}

/// The tc 5-tuple runbook: packets and bytes per flow. Fused, a packet of a
/// known flow costs one lookup (the code after it is the create path: one
/// NOEXIST update and a second lookup); unfused, it costs one per map.
#[test]
fn a_fused_pair_does_one_lookup_per_packet() {
    let text = format!(
        "let @bytes = lruhash(1024); let @packets = lruhash(1024);
         tc:lo:ingress {{ @bytes[{FLOW}] = sum(len); @packets[{FLOW}] = count(); }}"
    );
    let fused = build(&text, true);
    let separate = build(&text, false);
    assert_eq!(fused_maps(&fused), [vec![0, 1]]);
    assert!(fused_maps(&separate).is_empty());
    let (f, s) = (program(&fused, "ft_tc"), program(&separate, "ft_tc"));
    // Found, or created and found again.
    assert_eq!(calls_on_data_maps(&fused, f, helper::MAP_LOOKUP_ELEM), 2);
    assert_eq!(calls_on_data_maps(&fused, f, helper::MAP_UPDATE_ELEM), 1);
    assert_eq!(calls_on_data_maps(&separate, s, helper::MAP_LOOKUP_ELEM), 4);
    assert_eq!(calls_on_data_maps(&separate, s, helper::MAP_UPDATE_ELEM), 2);
    // The first helper call on a data map is the lookup, and the next one
    // (the NOEXIST create) is only reached when it found nothing: the
    // instruction after the lookup tests r0 and jumps over the create.
    assert!(f.insns.len() < s.insns.len(), "fused {} insns, separate {}", f.insns.len(), s.insns.len());
}

#[test]
fn a_tracepoint_run_with_the_same_key_is_fused() {
    let c = build(
        "tracepoint:syscalls:sys_exit_read { @n[pid, comm] = count(); @b[pid, comm] = sum(args.ret); @mx[pid, comm] = max(args.ret); @avg[pid, comm] = avg(args.ret); }",
        true,
    );
    assert_eq!(fused_maps(&c), [vec![0, 1, 2, 3]]);
    let p = program(&c, "ft_");
    assert_eq!(calls_on_data_maps(&c, p, helper::MAP_LOOKUP_ELEM), 2);
}

/// Whatever is not plainly safe stays unfused.
#[test]
fn unsafe_groups_are_not_fused() {
    let none = |text: &str| assert!(fused_maps(&build(text, true)).is_empty(), "fused: {text}");
    // Different keys; a key that changes between evaluations.
    none("tracepoint:syscalls:sys_enter_read { @a[pid] = count(); @b[tid] = count(); }");
    none("tracepoint:syscalls:sys_enter_read { @a[nsecs] = count(); @b[nsecs] = count(); }");
    // Not next to each other: a statement in between may change the key.
    none("tracepoint:syscalls:sys_enter_read { @a[pid] = count(); $x = 1; @b[pid] = count(); }");
    // Read, deleted or iterated in a probe; written twice.
    none("tracepoint:syscalls:sys_enter_read { @a[pid] = count(); @b[pid] = count(); if (@a[pid] > 3) { printf(\"x\\n\"); } }");
    none("tracepoint:syscalls:sys_enter_read { @a[pid] = count(); @b[pid] = count(); delete(@a[pid]); }");
    none("tracepoint:syscalls:sys_enter_read /@a[pid] < 5/ { @a[pid] = count(); @b[pid] = count(); }");
    none("tracepoint:syscalls:sys_enter_read { @a[pid] = count(); @b[pid] = count(); if (has_key(@a, pid)) { printf(\"x\\n\"); } }");
    none("tracepoint:syscalls:sys_enter_read { @a[pid] = count(); @b[pid] = count(); } interval:s:1 { for ($kv : @a) { printf(\"%d\\n\", $kv.1); } }");
    none("tracepoint:syscalls:sys_enter_read { @a[pid] = count(); @b[pid] = count(); } tracepoint:syscalls:sys_enter_write { @a[pid] = count(); }");
    // hist() is not a fixed few fields; different declarations.
    none("tracepoint:syscalls:sys_enter_read { @a[pid] = count(); @b[pid] = hist(args.count); }");
    none("let @a = lruhash(64); tracepoint:syscalls:sys_enter_read { @a[pid] = count(); @b[pid] = count(); }");
    // An LRU group cleared in part: evictions are counted per entry.
    none("let @a = lruhash(64); let @b = lruhash(64); tracepoint:syscalls:sys_enter_read { @a[pid] = count(); @b[pid] = count(); } interval:s:1 { clear(@a); }");
}

/// Userspace-side uses keep fusion: print, clear, zero.
#[test]
fn printing_and_clearing_keep_fusion() {
    let c = build(
        "tracepoint:syscalls:sys_enter_read { @a[pid] = count(); @b[pid] = sum(args.count); } interval:s:1 { print(@a); clear(@a); zero(@b); }",
        true,
    );
    assert_eq!(fused_maps(&c), [vec![0, 1]]);
}
