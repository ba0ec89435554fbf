//! The BTF reader and `KernelInfo` on the committed fixture (cut from a 6.18
//! vmlinux by `examples/make_btf_fixture.rs`): no root, no host kernel needed.
//! Expected offsets were read with `bpftool btf dump file` on that kernel.

use std::path::PathBuf;
use std::time::Instant;

use flowtrace_kernel::btf::{Btf, Kind};
use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_lang::kernel::{KernelTypes, Member, TypeKeyword};
use flowtrace_lang::types::{IntType, RecordType, Type};

fn fixture_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vmlinux-subset.btf")
}

fn kernel() -> KernelInfo {
    KernelInfo::from_btf_file(&fixture_path()).expect("fixture parses")
}

fn record(k: &KernelInfo, name: &str) -> RecordType {
    match k.find_type(TypeKeyword::Struct, name) {
        Some(Type::Record(r)) => r,
        other => panic!("struct {name}: {other:?}"),
    }
}

fn member(k: &KernelInfo, rec: &str, name: &str) -> Member {
    k.member(&record(k, rec), name)
        .unwrap_or_else(|| panic!("{rec}.{name} not found"))
}

#[test]
fn records_have_their_sizes_and_ids() {
    let k = kernel();
    let sock = record(&k, "sock");
    assert_eq!(
        (sock.name.as_str(), sock.size, sock.is_union),
        ("sock", 784, false)
    );
    assert_eq!(
        k.btf().get(sock.btf_id).map(|t| t.kind()),
        Some(Some(Kind::Struct))
    );
    assert_eq!(record(&k, "sk_buff").size, 224);
    assert_eq!(record(&k, "tcp_sock").size, 2304);
    assert_eq!(record(&k, "in6_addr").size, 16);
    assert_eq!(k.find_type(TypeKeyword::Struct, "no_such_struct"), None);
    assert_eq!(
        k.find_type(TypeKeyword::Union, "sock"),
        None,
        "a struct is not a union"
    );
}

#[test]
fn members_through_anonymous_unions() {
    let k = kernel();
    let common = member(&k, "sock", "__sk_common");
    assert_eq!((common.offset_bits, common.bitfield_bits), (0, None));
    assert!(matches!(&common.ty, Type::Record(r) if r.name == "sock_common" && r.size == 136));

    let daddr = member(&k, "sock_common", "skc_daddr");
    assert_eq!(
        (daddr.offset(), daddr.ty.clone()),
        (0, Type::Int(IntType::U32))
    );
    let dport = member(&k, "sock_common", "skc_dport");
    assert_eq!(
        (dport.offset(), dport.ty.clone()),
        (12, Type::Int(IntType::U16))
    );
    let num = member(&k, "sock_common", "skc_num");
    assert_eq!((num.offset(), num.ty), (14, Type::Int(IntType::U16)));
    // `volatile unsigned char`: the qualifier is peeled.
    let state = member(&k, "sock_common", "skc_state");
    assert_eq!((state.offset_bits, state.ty), (144, Type::Int(IntType::U8)));
    let v6 = member(&k, "sock_common", "skc_v6_daddr");
    assert!(matches!(v6.ty, Type::Record(ref r) if r.name == "in6_addr"));
    assert_eq!(v6.offset(), 56);
    // Two levels down: sk_buff's `union { struct { ... protocol ... }; struct headers; }`.
    assert_eq!(member(&k, "sk_buff", "protocol").offset_bits, 1408);
    assert_eq!(member(&k, "tcp_sock", "snd_cwnd").offset_bits, 11552);
}

#[test]
fn bitfields_with_kind_flag() {
    let k = kernel();
    let reuse = member(&k, "sock_common", "skc_reuse");
    assert_eq!(
        (reuse.offset_bits, reuse.bitfield_bits, reuse.ty),
        (152, Some(4), Type::Int(IntType::U8))
    );
    let reuseport = member(&k, "sock_common", "skc_reuseport");
    assert_eq!(
        (reuseport.offset_bits, reuseport.bitfield_bits),
        (156, Some(1))
    );
    let pkt_type = member(&k, "sk_buff", "pkt_type");
    assert_eq!(
        (pkt_type.offset_bits, pkt_type.bitfield_bits),
        (1024, Some(3))
    );
    let kern = member(&k, "sock", "sk_kern_sock");
    assert_eq!((kern.offset_bits, kern.bitfield_bits), (4593, Some(1)));
    // Not a bitfield (any more): a plain u16.
    let proto = member(&k, "sock", "sk_protocol");
    assert_eq!(
        (proto.offset_bits, proto.bitfield_bits, proto.ty),
        (4256, None, Type::Int(IntType::U16))
    );
}

#[test]
fn member_types() {
    let k = kernel();
    // char cb[48] stays an array of int8; the checker decides about strings.
    let cb = member(&k, "sk_buff", "cb");
    assert_eq!(
        cb.ty,
        Type::Array {
            elem: Box::new(Type::Int(IntType::I8)),
            len: 48
        }
    );
    assert_eq!(cb.offset(), 40);
    // A pointer to a selected record keeps its pointee.
    let sk = member(&k, "sk_buff", "sk");
    assert!(
        matches!(&sk.ty, Type::Pointer(to, _) if matches!(&**to, Type::Record(r) if r.name == "sock"))
    );
    // The fixture cut `struct proto *` to `void *`.
    assert_eq!(
        member(&k, "sock_common", "skc_prot").ty,
        Type::ptr(Type::Void)
    );
    assert_eq!(member(&k, "sk_buff", "tstamp").ty, Type::Int(IntType::I64));
}

#[test]
fn member_names_include_anonymous_members() {
    let k = kernel();
    let names = k.member_names(&record(&k, "sock_common"));
    for want in [
        "skc_addrpair",
        "skc_daddr",
        "skc_rcv_saddr",
        "skc_dport",
        "skc_num",
        "skc_family",
        "skc_reuse",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    assert!(names.iter().all(|n| !n.is_empty()));
    assert!(k.member(&record(&k, "sock_common"), "skc_dadr").is_none());
}

#[test]
fn enums_and_typedefs() {
    let k = kernel();
    let est = k.enum_constant("TCP_ESTABLISHED").expect("TCP_ESTABLISHED");
    assert_eq!(
        (est.value, est.enum_name.as_str()),
        (1, ""),
        "the kernel's TCP state enum is anonymous"
    );
    assert_eq!(k.enum_constant("TCP_LISTEN").map(|c| c.value), Some(10));
    assert_eq!(
        k.enum_constant("BPF_MAP_TYPE_HASH")
            .map(|c| (c.value, c.enum_name)),
        Some((1, "bpf_map_type".into()))
    );
    assert_eq!(k.enum_constant("TCP_NOPE"), None);
    assert_eq!(
        k.similar_enum_constants("TCP_ESTABLISHE"),
        vec!["TCP_ESTABLISHED"]
    );
    assert!(k
        .similar_enum_constants("ESTABLISHED")
        .contains(&"TCP_ESTABLISHED".to_owned()));
    assert!(k
        .similar_enum_constants("TCP_LISTN")
        .contains(&"TCP_LISTEN".to_owned()));
    assert_eq!(
        k.find_type(TypeKeyword::Enum, "bpf_map_type"),
        Some(Type::Int(IntType::U32))
    );
    assert_eq!(
        k.find_type(TypeKeyword::Typedef, "__be32"),
        Some(Type::Int(IntType::U32))
    );
    assert_eq!(
        k.find_type(TypeKeyword::Typedef, "int"),
        Some(Type::Int(IntType::I32)),
        "base types too"
    );
    assert_eq!(
        k.find_type(TypeKeyword::Typedef, "bool"),
        Some(Type::Int(IntType::U8))
    );
}

#[test]
fn functions() {
    let k = kernel();
    let f = k.function("tcp_sendmsg").expect("tcp_sendmsg");
    let names: Vec<&str> = f.params.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["sk", "msg", "size"]);
    assert!(
        matches!(&f.params[0].1, Type::Pointer(to, _) if matches!(&**to, Type::Record(r) if r.name == "sock"))
    );
    assert_eq!(f.params[2].1, Type::Int(IntType::U64));
    assert_eq!(f.ret, Type::Int(IntType::I32));
    assert_eq!(k.function("tcp_close").map(|f| f.ret), Some(Type::Void));
    assert_eq!(
        k.function("inet_csk_accept").map(|f| f.params.len()),
        Some(2)
    );
    assert_eq!(k.function("nope"), None);
    assert_eq!(
        k.match_functions("tcp_*"),
        [
            "tcp_close",
            "tcp_retransmit_skb",
            "tcp_sendmsg",
            "tcp_v4_connect"
        ]
    );
    assert_eq!(k.match_functions("*_accept"), ["inet_csk_accept"]);
    assert_eq!(k.match_functions("tcp_sendmsg"), ["tcp_sendmsg"]);
    assert!(k.match_functions("udp_*").is_empty());
}

#[test]
fn opening_and_lookups_are_fast() {
    let bytes = std::fs::read(fixture_path()).unwrap();
    let t = Instant::now();
    let btf = Btf::from_bytes(bytes).unwrap();
    let k = KernelInfo::from_btf(btf);
    let opened = t.elapsed();
    let daddr = member(&k, "sock_common", "skc_daddr");
    eprintln!(
        "fixture: open {opened:?}, open + first member lookup {:?}",
        t.elapsed()
    );
    assert_eq!(daddr.offset(), 0);
}

/// The generator's extraction, applied to the fixture itself: a smaller blob
/// that still resolves the same members, with pointers out of it cut to void.
#[test]
fn subsets_keep_by_value_types_and_cut_pointers() {
    use flowtrace_kernel::btf::subset::{extract, Selection};
    let btf = Btf::from_file(&fixture_path()).unwrap();
    let sel = Selection {
        structs: vec!["sock_common".into()],
        funcs: vec!["tcp_close".into()],
        ..Selection::default()
    };
    let k = KernelInfo::from_btf_bytes(extract(&btf, &sel).unwrap()).unwrap();
    assert!(
        k.btf().len() < btf.len() / 2,
        "{} of {} types kept",
        k.btf().len(),
        btf.len()
    );
    assert_eq!(member(&k, "sock_common", "skc_dport").offset(), 12);
    assert_eq!(
        member(&k, "sock_common", "skc_reuse").bitfield_bits,
        Some(4)
    );
    assert!(
        matches!(member(&k, "sock_common", "skc_v6_daddr").ty, Type::Record(ref r) if r.size == 16)
    );
    // `struct sock *skc_listener` pointed into the selection's complement.
    assert_eq!(
        member(&k, "sock_common", "skc_listener").ty,
        Type::ptr(Type::Void)
    );
    assert_eq!(k.find_type(TypeKeyword::Struct, "sock"), None);
    assert_eq!(k.function("tcp_close").map(|f| f.params.len()), Some(2));
    let err = extract(
        &btf,
        &Selection {
            structs: vec!["nope".into()],
            ..Selection::default()
        },
    )
    .unwrap_err();
    assert_eq!(err, "struct `nope` is not in this BTF");
}
