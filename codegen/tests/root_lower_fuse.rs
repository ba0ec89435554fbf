//! Fused aggregations (codegen's fuse.rs) in the kernel, through the
//! runtime's map API: a tc program run on crafted packets with
//! BPF_PROG_TEST_RUN, then `delete`, `clear` and `zero` on one member, each
//! step's snapshots compared with the same program unfused. Root only.

use flowtrace_codegen::CompileOptions;
use flowtrace_lang::typed::MapId;
use flowtrace_lang::CheckOptions;
use flowtrace_runtime::maps::Maps;
use flowtrace_testkit::program::{compiled_opts, TestProgram};
use flowtrace_testkit::root_tests_enabled;

const SCRIPT: &str = "tc:lo:ingress { @pkts[dport] = count(); @bytes[dport] = sum(len); @big[dport] = max(len); }";

/// Ethernet + IPv4 + UDP to `dport` with `payload` bytes.
fn packet(dport: u16, payload: usize) -> Vec<u8> {
    let mut p = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = (20 + 8 + payload) as u16;
    p.extend([0x45, 0]);
    p.extend(total.to_be_bytes());
    p.extend([0, 1, 0, 0, 64, 17, 0, 0, 10, 1, 2, 3, 10, 1, 2, 4]);
    p.extend(5353u16.to_be_bytes());
    p.extend(dport.to_be_bytes());
    p.extend(((8 + payload) as u16).to_be_bytes());
    p.extend([0, 0]);
    p.extend(std::iter::repeat_n(b'x', payload));
    p
}

fn id(p: &TestProgram, name: &str) -> MapId {
    p.compiled
        .maps
        .iter()
        .find_map(|s| match &s.role {
            flowtrace_codegen::object::MapRole::User { id, name: n, .. } if n == name => Some(*id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no map {name}"))
}

/// Every user map's entries, sorted, as text.
fn state(p: &TestProgram) -> String {
    let maps: &Maps = p.loaded.maps();
    let mut out = String::new();
    for name in ["pkts", "bytes", "big"] {
        let snap = maps.snapshot(id(p, name)).unwrap();
        let mut entries: Vec<String> = snap.entries.iter().map(|e| format!("{:?}={:?}", e.key, e.value)).collect();
        entries.sort();
        out.push_str(&format!("@{name}: {}\n", entries.join(" ")));
    }
    out
}

/// The dport key in the map's key layout.
fn key(p: &TestProgram, dport: u16) -> Vec<u8> {
    let types = p.loaded.maps().key_types(id(p, "pkts")).unwrap().to_vec();
    let mut k = vec![0u8; flowtrace_codegen::layout::key_size(&types) as usize];
    k[..2].copy_from_slice(&dport.to_ne_bytes());
    k
}

/// Runs the steps; returns each step's state.
fn steps(fuse: bool) -> Vec<String> {
    let opts = CompileOptions { fuse, ..CompileOptions::default() };
    let compiled = compiled_opts(SCRIPT, &CheckOptions::default(), &opts);
    let fused_maps = compiled.maps.iter().filter(|s| matches!(s.role, flowtrace_codegen::object::MapRole::FusedStorage { .. })).count();
    assert_eq!(fused_maps, usize::from(fuse), "fuse {fuse}");
    let tc = compiled.programs.iter().position(|p| p.name.starts_with("ft_tc")).expect("a tc program");
    let p = TestProgram::load(compiled).unwrap_or_else(|e| panic!("{e}"));
    let run = |dport: u16, payload: usize, n: usize| {
        for _ in 0..n {
            p.run_skb(tc, &packet(dport, payload)).unwrap();
        }
    };
    let maps = p.loaded.maps();
    let (pkts, bytes, big) = (id(&p, "pkts"), id(&p, "bytes"), id(&p, "big"));
    let mut out = Vec::new();
    run(80, 10, 3);
    run(443, 100, 2);
    out.push(state(&p));
    assert!(maps.delete(pkts, &key(&p, 80)).unwrap(), "@pkts[80] was there");
    assert!(!maps.delete(pkts, &key(&p, 80)).unwrap(), "and is gone");
    out.push(state(&p));
    maps.clear(bytes).unwrap();
    out.push(state(&p));
    run(80, 10, 1);
    out.push(state(&p));
    maps.zero(big).unwrap();
    run(443, 20, 1);
    out.push(state(&p));
    out
}

#[test]
fn root_fused_members_delete_clear_and_zero_alone() {
    if !root_tests_enabled("root_fused_members_delete_clear_and_zero_alone") {
        return;
    }
    let fused = steps(true);
    let len = |payload: usize| packet(80, payload).len();
    let (l10, l100, l20) = (len(10), len(100), len(20));
    let want = [
        format!("@pkts: Some(UInt(443))=Count(2) Some(UInt(80))=Count(3)\n@bytes: Some(UInt(443))=Sum({}) Some(UInt(80))=Sum({})\n@big: Some(UInt(443))=Max({l100}) Some(UInt(80))=Max({l10})\n", 2 * l100, 3 * l10),
        // delete(@pkts[80]): @bytes[80] and @big[80] stay.
        format!("@pkts: Some(UInt(443))=Count(2)\n@bytes: Some(UInt(443))=Sum({}) Some(UInt(80))=Sum({})\n@big: Some(UInt(443))=Max({l100}) Some(UInt(80))=Max({l10})\n", 2 * l100, 3 * l10),
        // clear(@bytes): the others stay.
        format!("@pkts: Some(UInt(443))=Count(2)\n@bytes: \n@big: Some(UInt(443))=Max({l100}) Some(UInt(80))=Max({l10})\n"),
        // A new packet brings key 80 back in every member, counted from zero where removed.
        format!("@pkts: Some(UInt(443))=Count(2) Some(UInt(80))=Count(1)\n@bytes: Some(UInt(80))=Sum({l10})\n@big: Some(UInt(443))=Max({l100}) Some(UInt(80))=Max({l10})\n"),
        // zero(@big): keys kept at 0; then a 443 packet.
        format!("@pkts: Some(UInt(443))=Count(3) Some(UInt(80))=Count(1)\n@bytes: Some(UInt(443))=Sum({l20}) Some(UInt(80))=Sum({l10})\n@big: Some(UInt(443))=Max({l20}) Some(UInt(80))=Max(0)\n"),
    ];
    for (i, (got, want)) in fused.iter().zip(&want).enumerate() {
        assert_eq!(got, want, "step {i}");
    }
    assert_eq!(fused, steps(false), "fused and unfused differ");
}
