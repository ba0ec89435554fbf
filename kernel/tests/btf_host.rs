//! `KernelInfo` against the running kernel's BTF (/sys/kernel/btf/vmlinux,
//! readable without root; tracefs is root_tracefs_host.rs). Without BTF a
//! test says "!!! SKIPPED" on stderr and returns (CI machines without BTF
//! must not fail, nor pass silently).
//! Offsets are those of the 6.18 development host; they hold for any kernel
//! whose `struct sock_common` starts the same way (all of 4.x–6.x do).

use std::path::Path;
use std::time::Instant;

use flowtrace_kernel::btf::Btf;
use flowtrace_kernel::kernel_info::{KernelInfo, DEFAULT_BTF_PATH};
use flowtrace_lang::kernel::{KernelTypes, TypeKeyword};
use flowtrace_lang::types::{IntType, RecordType, Type};
use flowtrace_testkit::gate::skipped;

/// The host kernel's BTF, or a loud SKIPPED line naming `test`.
fn host(test: &str) -> Option<KernelInfo> {
    if !Path::new(DEFAULT_BTF_PATH).exists() {
        skipped(test, &format!("{DEFAULT_BTF_PATH} does not exist: kernel without BTF"));
        return None;
    }
    match KernelInfo::from_btf_file(Path::new(DEFAULT_BTF_PATH)) {
        Ok(k) => Some(k),
        Err(e) => {
            skipped(test, &e.to_string());
            None
        }
    }
}

fn record(k: &KernelInfo, name: &str) -> RecordType {
    match k.find_type(TypeKeyword::Struct, name) {
        Some(Type::Record(r)) => r,
        other => panic!("struct {name}: {other:?}"),
    }
}

#[test]
fn open_and_first_lookups_are_fast() {
    if !Path::new(DEFAULT_BTF_PATH).exists() {
        skipped("open_and_first_lookups_are_fast", &format!("{DEFAULT_BTF_PATH} does not exist"));
        return;
    }
    let t = Instant::now();
    let btf = Btf::from_file(Path::new(DEFAULT_BTF_PATH)).expect("vmlinux BTF parses");
    let opened = t.elapsed();
    let types = btf.len();
    let k = KernelInfo::from_btf(btf);
    let t1 = Instant::now();
    let sock = record(&k, "sock");
    let common = k.member(&sock, "__sk_common").unwrap();
    let Type::Record(common) = common.ty else {
        panic!("sock_common")
    };
    let dport = k.member(&common, "skc_dport").unwrap();
    let lookups = t1.elapsed();
    let t2 = Instant::now();
    let est = k.enum_constant("TCP_ESTABLISHED").unwrap();
    let enum_time = t2.elapsed();
    let t3 = Instant::now();
    let f = k.function("tcp_sendmsg");
    let func_time = t3.elapsed();
    let t4 = Instant::now();
    let tcp_funcs = k.match_functions("tcp_*").len();
    let glob_time = t4.elapsed();
    eprintln!(
        "vmlinux BTF ({types} types): open {opened:?}; struct sock + 2 members {lookups:?}; \
         enum constant {enum_time:?}; function {func_time:?}; match_functions(tcp_*) = {tcp_funcs} in {glob_time:?}; \
         total {:?}",
        t.elapsed()
    );
    assert_eq!((dport.offset(), est.value), (12, 1));
    assert!(f.is_some() && tcp_funcs > 100);
}

#[test]
fn sock_offsets() {
    let Some(k) = host("sock_offsets") else { return };
    let sock = record(&k, "sock");
    let common = k.member(&sock, "__sk_common").expect("__sk_common");
    assert_eq!((common.offset_bits, common.bitfield_bits), (0, None));
    let common = record(&k, "sock_common");
    let daddr = k.member(&common, "skc_daddr").unwrap();
    assert_eq!((daddr.offset(), daddr.ty), (0, Type::Int(IntType::U32)));
    let rcv_saddr = k.member(&common, "skc_rcv_saddr").unwrap();
    assert_eq!(rcv_saddr.offset(), 4);
    let dport = k.member(&common, "skc_dport").unwrap();
    assert_eq!((dport.offset(), dport.ty), (12, Type::Int(IntType::U16)));
    let family = k.member(&common, "skc_family").unwrap();
    assert_eq!((family.offset(), family.ty), (16, Type::Int(IntType::U16)));
}

#[test]
fn bitfields() {
    let Some(k) = host("bitfields") else { return };
    let skb = record(&k, "sk_buff");
    let pkt_type = k.member(&skb, "pkt_type").unwrap();
    assert_eq!(pkt_type.bitfield_bits, Some(3));
    // `__u8 __pkt_type_offset[0]` marks the byte pkt_type starts in (the
    // kernel's own BPF code reads it that way).
    let marker = k.member(&skb, "__pkt_type_offset").unwrap();
    assert_eq!(pkt_type.offset_bits, marker.offset_bits);
    assert_eq!(pkt_type.offset_bits % 8, 0);
    let common = record(&k, "sock_common");
    let reuse = k.member(&common, "skc_reuse").unwrap();
    let reuseport = k.member(&common, "skc_reuseport").unwrap();
    assert_eq!(reuse.bitfield_bits, Some(4));
    assert_eq!(
        (reuseport.bitfield_bits, reuseport.offset_bits),
        (Some(1), reuse.offset_bits + 4)
    );
    let state = k.member(&common, "skc_state").unwrap();
    assert_eq!(
        reuse.offset_bits,
        state.offset_bits + 8,
        "skc_reuse sits in the byte after skc_state"
    );
}

#[test]
fn enums_and_functions() {
    let Some(k) = host("enums_and_functions") else { return };
    assert_eq!(k.enum_constant("TCP_ESTABLISHED").map(|c| c.value), Some(1));
    assert_eq!(k.enum_constant("TCP_CLOSE").map(|c| c.value), Some(7));
    assert_eq!(
        k.enum_constant("BPF_MAP_TYPE_HASH").map(|c| c.value),
        Some(1)
    );
    assert!(k
        .similar_enum_constants("TCP_ESTABLISHD")
        .contains(&"TCP_ESTABLISHED".to_owned()));
    let f = k
        .function("tcp_retransmit_skb")
        .expect("tcp_retransmit_skb");
    assert_eq!(
        f.params.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["sk", "skb", "segs"]
    );
    assert!(
        matches!(&f.params[1].1, Type::Pointer(to, _) if matches!(&**to, Type::Record(r) if r.name == "sk_buff"))
    );
    let tcp = k.match_functions("tcp_*");
    assert!(tcp.contains(&"tcp_sendmsg".to_owned()) && tcp.contains(&"tcp_v4_connect".to_owned()));
    assert!(tcp.iter().all(|n| n.starts_with("tcp_")));
}
