//! ns/packet of tc programs under BPF_PROG_TEST_RUN: flowtrace's code for the
//! 5-tuple `count()` + `sum(len)` runbook (lruhash maps) against an empty
//! program (the cost of the test harness itself) and against the same work
//! hand-written in C and compiled with clang -O2 (`five_tuple.c`): one LRU
//! map whose value holds packets and bytes (the reference), and two per-CPU
//! hash maps with flowtrace's and with a compact key layout. Also flowtrace
//! with one aggregation (`sum(len)` alone): one lookup per packet, as once the
//! runbook's two aggregations share one map. On an IPv4 TCP and an IPv6 UDP
//! packet; instruction counts of flowtrace's programs and the one-map C
//! program. Built as an example of the runtime crate; run through
//! `benches/tc/run`, which builds the C objects.
//!
//! flowtrace's program is measured fused (one map holding packets and
//! bytes, the default) and unfused (two maps, FLOWTRACE_NO_FUSE=1).
//!
//! Usage: tc_bench ONE_MAP_OBJECT SAME_KEY_OBJECT COMPACT_KEY_OBJECT [REPEAT] [ROUNDS]

use flowtrace_codegen::insn::{encode_all, BPF_PSEUDO_MAP_FD};
use flowtrace_codegen::object::ProgramKind;
use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_lang::{CheckOptions, Source};
use flowtrace_runtime::sys;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

const SCRIPT: &str = "let @pkts = lruhash(4096); let @bytes = lruhash(4096); \
                      tc:lo:ingress { @pkts[saddr, daddr, sport, dport, proto] = count(); \
                      @bytes[saddr, daddr, sport, dport, proto] = sum(len); }";
/// The runbook's work with one lookup per packet: what SCRIPT costs once its
/// two aggregations share one map (fused aggregations, issue 14), less one
/// in-place add. Sets the header parse against the one-map C program alone.
/// The header parse alone: the predicate reads parsed fields and is never
/// true for the bench packets, so no map is touched.
const PARSE_ONLY_SCRIPT: &str = "tc:lo:ingress /proto == 255 && sport == 1 && dport == 1/ { @n = count(); }";
const ONE_LOOKUP_SCRIPT: &str = "let @bytes = lruhash(4096); \
                      tc:lo:ingress { @bytes[saddr, daddr, sport, dport, proto] = sum(len); }";
const BPF_PROG_TEST_RUN: libc::c_long = 10;

/// A 94-byte IPv6 UDP packet (32 bytes of payload).
fn packet_v6() -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd];
    p.extend([0x60, 0, 0, 0, 0, 40, 17, 64]);
    p.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    p.extend([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    p.extend(5353u16.to_be_bytes());
    p.extend(53u16.to_be_bytes());
    p.extend(40u16.to_be_bytes());
    p.extend([0, 0]);
    p.extend([0x61u8; 32]);
    p
}

/// A 74-byte IPv4 TCP packet (20 bytes of payload).
fn packet() -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    p.extend([0x45, 0, 0, 60, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    let mut tcp = vec![0u8; 20];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&443u16.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = 0x18;
    p.extend(tcp);
    p.extend([0x61u8; 20]);
    p
}

/// Average ns per run over `repeat` runs (the kernel's own timing).
fn test_run(prog: RawFd, data: &[u8], repeat: u32) -> u32 {
    let mut out = vec![0u8; data.len() + 256];
    let mut attr = [0u8; 80];
    attr[0..4].copy_from_slice(&(prog as u32).to_le_bytes());
    attr[8..12].copy_from_slice(&(data.len() as u32).to_le_bytes());
    attr[12..16].copy_from_slice(&(out.len() as u32).to_le_bytes());
    attr[16..24].copy_from_slice(&(data.as_ptr() as u64).to_le_bytes());
    attr[24..32].copy_from_slice(&(out.as_mut_ptr() as u64).to_le_bytes());
    attr[32..36].copy_from_slice(&repeat.to_le_bytes());
    // SAFETY: attr is a prefix of union bpf_attr with valid buffer pointers.
    let r = unsafe { libc::syscall(libc::SYS_bpf, BPF_PROG_TEST_RUN, attr.as_mut_ptr(), attr.len() as u32) };
    assert!(r == 0, "BPF_PROG_TEST_RUN: {}", std::io::Error::last_os_error());
    let retval = u32::from_le_bytes(attr[4..8].try_into().unwrap());
    assert_eq!(retval, u32::MAX, "every program must return TC_ACT_UNSPEC");
    u32::from_le_bytes(attr[36..40].try_into().unwrap())
}

/// flowtrace's program for `script`, with its maps (kept open); `fuse`:
/// aggregations under one key share one map (codegen's fuse.rs), as by default.
fn flowtrace_program(kernel: &KernelInfo, script: &str, fuse: bool) -> (OwnedFd, Vec<OwnedFd>, usize) {
    let source = Source::new("bench.ft", script);
    let ast = flowtrace_lang::parse(&source).expect("parses");
    let typed = flowtrace_lang::check(&ast, kernel, &CheckOptions::default()).expect("checks");
    let options = flowtrace_codegen::CompileOptions { fuse, ..Default::default() };
    let compiled = flowtrace_codegen::compile(&typed, &options).expect("compiles");
    let maps: Vec<OwnedFd> = compiled
        .maps
        .iter()
        .map(|m| {
            let entries = if m.map_type as u32 == 27 { 4096 } else { m.max_entries };
            sys::map_create(&m.name, m.map_type as u32, m.key_size, m.value_size, entries).expect("map")
        })
        .collect();
    let p = compiled.programs.iter().find(|p| p.name.starts_with("ft_tc")).expect("tc program");
    let mut insns = p.insns.clone();
    for &(at, map) in &p.map_relocs {
        insns[at].src = BPF_PSEUDO_MAP_FD;
        insns[at].imm = maps[map.0 as usize].as_raw_fd();
        insns[at + 1].imm = 0;
    }
    let fd = sys::prog_load(&p.name, ProgramKind::SchedCls.bpf_prog_type(), &encode_all(&insns)).unwrap_or_else(|e| panic!("{}", e.log));
    (fd, maps, insns.len())
}

fn empty_program() -> OwnedFd {
    // mov r0, -1; exit
    let insns = [0xb7, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x95, 0, 0, 0, 0, 0, 0, 0];
    sys::prog_load("ft_bench_empty", ProgramKind::SchedCls.bpf_prog_type(), &insns).unwrap_or_else(|e| panic!("{}", e.log))
}

fn median(mut v: Vec<u32>) -> u32 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: tc_bench ONE_MAP_OBJECT SAME_KEY_OBJECT COMPACT_KEY_OBJECT [REPEAT] [ROUNDS]";
    let (one, same, compact) = (args.get(1).expect(usage), args.get(2).expect(usage), args.get(3).expect(usage));
    let repeat: u32 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let rounds: usize = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(7);

    let one_insns = elf_insns(one);
    let mut one = clang_program(one);
    let mut same = clang_program(same);
    let mut compact = clang_program(compact);
    let kernel = KernelInfo::open_default().expect("kernel BTF");
    let (ft, _maps, ft_insns) = flowtrace_program(&kernel, SCRIPT, true);
    let (unfused, _unfused_maps, unfused_insns) = flowtrace_program(&kernel, SCRIPT, false);
    let (ft1, _maps1, ft1_insns) = flowtrace_program(&kernel, ONE_LOOKUP_SCRIPT, true);
    let (parse, _maps2, _) = flowtrace_program(&kernel, PARSE_ONLY_SCRIPT, true);
    let empty = empty_program();
    let fds = [
        empty.as_raw_fd(),
        fd_of(&mut one),
        fd_of(&mut same),
        fd_of(&mut compact),
        ft.as_raw_fd(),
        unfused.as_raw_fd(),
        ft1.as_raw_fd(),
        parse.as_raw_fd(),
    ];

    println!("BPF_PROG_TEST_RUN, {repeat} runs x {rounds} rounds, median ns/packet");
    let vs = |n: usize| format!("{n} ({:.2}x)", n as f64 / one_insns as f64);
    println!(
        "  instructions: clang -O2 one map {one_insns}, flowtrace runbook fused {}, unfused (FLOWTRACE_NO_FUSE=1) {}, one lookup {}",
        vs(ft_insns),
        vs(unfused_insns),
        vs(ft1_insns)
    );
    for (what, data) in [("IPv4 TCP", packet()), ("IPv6 UDP", packet_v6())] {
        let mut samples: [Vec<u32>; 8] = Default::default();
        for _ in 0..rounds {
            // Interleaved, so drift (frequency, other load) hits all alike.
            for (i, fd) in fds.into_iter().enumerate() {
                samples[i].push(test_run(fd, &data, repeat));
            }
        }
        let [e, o, s, c, f, u, f1, p] = samples.map(median);
        let over = |x: u32| x.saturating_sub(e);
        let ratio = |x: u32, y: u32| format!("{:.3}x (over empty: {:.3}x)", x as f64 / y as f64, over(x) as f64 / over(y).max(1) as f64);
        println!("{}-byte {what} packet:", data.len());
        println!("  empty program                              {e:>4} ns");
        println!("  clang -O2, one LRU map (packets+bytes)     {o:>4} ns  ({:>3} ns over empty)", over(o));
        println!("  clang -O2, two maps, flowtrace's key       {s:>4} ns  ({:>3} ns over empty)", over(s));
        println!("  clang -O2, two maps, compact 40-byte key   {c:>4} ns  ({:>3} ns over empty)", over(c));
        println!("  flowtrace runbook (lruhash), fused         {f:>4} ns  ({:>3} ns over empty)", over(f));
        println!("  flowtrace runbook, unfused (two maps)      {u:>4} ns  ({:>3} ns over empty)", over(u));
        println!("  flowtrace one lookup (sum(len) only)       {f1:>4} ns  ({:>3} ns over empty)", over(f1));
        println!("  flowtrace header parse alone (no map)      {p:>4} ns  ({:>3} ns over empty)", over(p));
        println!("  flowtrace fused / unfused                  {}", ratio(f, u));
        println!("  flowtrace runbook (fused) / clang one map  {}", ratio(f, o));
        println!("  flowtrace unfused / clang two maps         {}  (the parse and code; its two lookups are per-CPU hash, not LRU)", ratio(u, s));
        println!("  flowtrace one lookup / clang one map       {}", ratio(f1, o));
    }
}

/// Instructions of the `classifier` section of a BPF ELF object (8 bytes
/// each; an lddw counts twice, as in flowtrace's count).
fn elf_insns(path: &str) -> usize {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let u16_at = |at: usize| u16::from_le_bytes(b[at..at + 2].try_into().unwrap()) as usize;
    let u64_at = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum, shstrndx) = (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let section = |i: usize| shoff + i * shentsize;
    let names = u64_at(section(shstrndx) + 0x18);
    (0..shnum)
        .find(|&i| {
            let name = names + u32::from_le_bytes(b[section(i)..section(i) + 4].try_into().unwrap()) as usize;
            b[name..].starts_with(b"classifier\0")
        })
        .map(|i| u64_at(section(i) + 0x20) / 8)
        .expect("a classifier section")
}

fn clang_program(path: &str) -> aya::Ebpf {
    let mut ebpf = aya::Ebpf::load_file(path).unwrap_or_else(|e| panic!("loading {path}: {e}"));
    let prog: &mut aya::programs::SchedClassifier =
        ebpf.program_mut("count_flows").expect("count_flows").try_into().expect("classifier");
    prog.load().expect("verifying the clang program");
    ebpf
}

fn fd_of(ebpf: &mut aya::Ebpf) -> RawFd {
    let prog: &mut aya::programs::SchedClassifier = ebpf.program_mut("count_flows").unwrap().try_into().unwrap();
    prog.fd().expect("loaded").as_fd().as_raw_fd()
}
