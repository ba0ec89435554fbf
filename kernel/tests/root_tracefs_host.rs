//! Tracepoint formats of the running kernel, read from tracefs through
//! `KernelInfo`. tracefs (/sys/kernel/tracing) is readable only by root, so
//! these run in the root tier; the BTF half is btf_host.rs.

use std::path::Path;

use flowtrace_kernel::kernel_info::{KernelInfo, DEFAULT_BTF_PATH};
use flowtrace_lang::kernel::KernelTypes;
use flowtrace_lang::types::{IntType, Type};
use flowtrace_testkit::gate::{root_tests_enabled, skipped};

/// The host kernel with tracefs mounted; otherwise a loud SKIPPED line.
fn host_with_tracefs(test: &str) -> Option<KernelInfo> {
    if !root_tests_enabled(test) {
        return None;
    }
    let k = match KernelInfo::from_btf_file(Path::new(DEFAULT_BTF_PATH)) {
        Ok(k) => k,
        Err(e) => {
            skipped(test, &format!("{DEFAULT_BTF_PATH}: {e}"));
            return None;
        }
    };
    if let Err(e) = k.tracefs().root() {
        skipped(test, &e.to_string());
        return None;
    }
    Some(k)
}

#[test]
fn tracepoint_inet_sock_set_state() {
    let Some(k) = host_with_tracefs("tracepoint_inet_sock_set_state") else { return };
    let fields = k
        .tracepoint_fields("sock", "inet_sock_set_state")
        .expect("format");
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("{name}"))
            .clone()
    };
    assert!(fields.iter().all(|f| !f.name.starts_with("common_")));
    assert_eq!(field("skaddr").ty, Type::ptr(Type::Void));
    assert_eq!(field("skaddr").offset, 8);
    assert_eq!(field("oldstate").ty, Type::Int(IntType::I32));
    assert_eq!(field("newstate").ty, Type::Int(IntType::I32));
    assert_eq!(field("family").ty, Type::Int(IntType::U16));
    assert_eq!(field("sport").ty, Type::Int(IntType::U16));
    assert_eq!(
        field("saddr").ty,
        Type::Array {
            elem: Box::new(Type::Int(IntType::U8)),
            len: 4
        }
    );
    assert_eq!(
        field("saddr_v6").ty,
        Type::Array {
            elem: Box::new(Type::Int(IntType::U8)),
            len: 16
        }
    );
    assert_eq!(field("saddr_v6").size, 16);
    assert!(fields.iter().all(|f| !f.data_loc));
}

#[test]
fn tracepoint_tcp_retransmit_skb() {
    let Some(k) = host_with_tracefs("tracepoint_tcp_retransmit_skb") else { return };
    let fields = k
        .tracepoint_fields("tcp", "tcp_retransmit_skb")
        .expect("format");
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    for want in [
        "skbaddr", "skaddr", "state", "sport", "dport", "family", "saddr", "daddr", "saddr_v6",
        "daddr_v6",
    ] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    let skbaddr = fields.iter().find(|f| f.name == "skbaddr").unwrap();
    assert_eq!((skbaddr.offset, skbaddr.size), (8, 8));
}

#[test]
fn tracepoint_errors_and_wildcards() {
    let Some(k) = host_with_tracefs("tracepoint_errors_and_wildcards") else { return };
    let err = k.tracepoint_fields("tcp", "tcp_retransmit").unwrap_err();
    assert!(err.contains("`tcp:tcp_retransmit_skb`"), "{err}");
    let err = k.tracepoint_fields("../..", "x").unwrap_err();
    assert!(err.contains("does not exist"), "{err}");
    let tcp = k.match_tracepoints("tcp", "*");
    assert!(
        tcp.contains(&("tcp".into(), "tcp_retransmit_skb".into())),
        "{tcp:?}"
    );
    assert!(tcp.iter().all(|(c, _)| c == "tcp"));
    let set_state = k.match_tracepoints("*", "inet_sock_set_state");
    assert_eq!(
        set_state,
        [("sock".to_owned(), "inet_sock_set_state".to_owned())]
    );
    // A __data_loc string: sched_process_exec's filename.
    if let Ok(fields) = k.tracepoint_fields("sched", "sched_process_exec") {
        let filename = fields.iter().find(|f| f.name == "filename").unwrap();
        assert!(
            filename.data_loc && filename.ty == Type::Str { cap: 64 },
            "{filename:?}"
        );
    }
}
