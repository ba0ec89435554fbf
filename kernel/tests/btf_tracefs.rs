//! Tracepoint formats on a fake tracefs tree (a temporary directory holding
//! `events/CAT/NAME/format` files copied from a 6.18 kernel), with the BTF
//! fixture resolving `struct sock *`: no root or mounted tracefs needed.

use std::fs;
use std::path::{Path, PathBuf};

use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_kernel::tracefs::{parse_format, Location, Tracefs};
use flowtrace_lang::kernel::KernelTypes;
use flowtrace_lang::types::{IntType, Type};

const COMMON: &str = "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;
\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;
\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;
\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n\n";

const SET_STATE: &str = "\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;
\tfield:int oldstate;\toffset:16;\tsize:4;\tsigned:1;
\tfield:int newstate;\toffset:20;\tsize:4;\tsigned:1;
\tfield:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;
\tfield:__u16 family;\toffset:28;\tsize:2;\tsigned:0;
\tfield:__u8 saddr[4];\toffset:32;\tsize:4;\tsigned:0;
\tfield:__u8 saddr_v6[16];\toffset:40;\tsize:16;\tsigned:0;\n";

/// Made-up fields covering the other mappings.
const ODDITIES: &str = "\tfield:__data_loc char[] name;\toffset:8;\tsize:4;\tsigned:0;
\tfield:char comm[16];\toffset:12;\tsize:16;\tsigned:0;
\tfield:const struct sock * sk;\toffset:32;\tsize:8;\tsigned:0;
\tfield:struct sk_buff * skb;\toffset:40;\tsize:8;\tsigned:0;
\tfield:const char * msg;\toffset:48;\tsize:8;\tsigned:0;
\tfield:unsigned long args[6];\toffset:56;\tsize:48;\tsigned:0;
\tfield:__data_loc u32[] ids;\toffset:104;\tsize:4;\tsigned:0;
\tfield:char task[TASK_COMM_LEN];\toffset:108;\tsize:16;\tsigned:0;
\tfield:bool ok;\toffset:124;\tsize:1;\tsigned:0;
\tfield:__rel_loc char[] rel;\toffset:128;\tsize:4;\tsigned:0;
\tfield:s64 delta;\toffset:136;\tsize:8;\tsigned:1;\n";

/// A fake tracefs root, removed on drop.
struct FakeTracefs(PathBuf);

impl FakeTracefs {
    fn new(tag: &str) -> FakeTracefs {
        let root =
            std::env::temp_dir().join(format!("flowtrace-tracefs-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        for (cat, name, body) in [
            ("sock", "inet_sock_set_state", SET_STATE),
            ("test", "oddities", ODDITIES),
        ] {
            let dir = root.join("events").join(cat).join(name);
            fs::create_dir_all(&dir).unwrap();
            let text = format!("name: {name}\nID: 1\nformat:\n{COMMON}{body}\nprint fmt: \"\"\n");
            fs::write(dir.join("format"), text).unwrap();
        }
        fs::create_dir_all(root.join("events/tcp/tcp_retransmit_skb")).unwrap();
        fs::write(
            root.join("events/tcp/tcp_retransmit_skb/format"),
            format!("format:\n{COMMON}"),
        )
        .unwrap();
        FakeTracefs(root)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for FakeTracefs {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn kernel(root: &Path) -> KernelInfo {
    let fixture =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vmlinux-subset.btf");
    KernelInfo::from_btf_file(&fixture)
        .unwrap()
        .with_tracefs_root(root)
}

#[test]
fn parses_field_lines() {
    let fields = parse_format(&format!("format:\n{COMMON}{ODDITIES}"));
    assert_eq!(fields.len(), 11, "common_* fields are skipped");
    let name = &fields[0];
    assert_eq!((name.c_type.as_str(), name.name.as_str()), ("char", "name"));
    assert_eq!(
        (name.location, name.array_len, name.offset, name.size),
        (Location::DataLoc, Some(0), 8, 4)
    );
    let comm = &fields[1];
    assert_eq!(
        (comm.c_type.as_str(), comm.name.as_str(), comm.array_len),
        ("char", "comm", Some(16))
    );
    assert_eq!(
        (fields[2].c_type.as_str(), fields[2].name.as_str()),
        ("const struct sock *", "sk")
    );
    assert!(fields[10].signed);
}

#[test]
fn inet_sock_set_state_fields() {
    let fake = FakeTracefs::new("set-state");
    let k = kernel(fake.path());
    let fields = k.tracepoint_fields("sock", "inet_sock_set_state").unwrap();
    let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["skaddr", "oldstate", "newstate", "sport", "family", "saddr", "saddr_v6"]
    );
    assert_eq!(
        (fields[0].ty.clone(), fields[0].offset, fields[0].size),
        (Type::ptr(Type::Void), 8, 8)
    );
    assert_eq!(fields[1].ty, Type::Int(IntType::I32));
    assert_eq!(fields[3].ty, Type::Int(IntType::U16));
    assert_eq!(
        fields[5].ty,
        Type::Array {
            elem: Box::new(Type::Int(IntType::U8)),
            len: 4
        }
    );
    assert_eq!((fields[6].offset, fields[6].size), (40, 16));
}

#[test]
fn field_type_mapping() {
    let fake = FakeTracefs::new("oddities");
    let k = kernel(fake.path());
    let fields = k.tracepoint_fields("test", "oddities").unwrap();
    let field = |n: &str| fields.iter().find(|f| f.name == n).unwrap().clone();
    let name = field("name");
    assert_eq!((name.ty, name.data_loc), (Type::Str { cap: 64 }, true));
    assert_eq!(field("comm").ty, Type::Str { cap: 16 });
    assert_eq!(
        field("task").ty,
        Type::Str { cap: 16 },
        "symbolic length: taken from size"
    );
    let is_ptr_to = |t: &Type, want: &str| matches!(t, Type::Pointer(to, _) if matches!(&**to, Type::Record(r) if r.name == want));
    assert!(is_ptr_to(&field("sk").ty, "sock"), "{:?}", field("sk").ty);
    assert!(is_ptr_to(&field("skb").ty, "sk_buff"));
    assert_eq!(
        field("msg").ty,
        Type::ptr(Type::Int(IntType::I8))
    );
    assert_eq!(
        field("args").ty,
        Type::Array {
            elem: Box::new(Type::Int(IntType::U64)),
            len: 6
        }
    );
    let ids = field("ids");
    assert_eq!(
        (ids.ty, ids.data_loc),
        (
            Type::Array {
                elem: Box::new(Type::Int(IntType::U32)),
                len: 16
            },
            true
        )
    );
    assert_eq!(field("ok").ty, Type::Int(IntType::U8));
    let rel = field("rel");
    assert_eq!((rel.ty, rel.data_loc), (Type::Int(IntType::U32), false));
    assert_eq!(field("delta").ty, Type::Int(IntType::I64));
}

#[test]
fn missing_tracepoints_and_mounts() {
    let fake = FakeTracefs::new("missing");
    let k = kernel(fake.path());
    let err = k
        .tracepoint_fields("sock", "inet_sock_set_stat")
        .unwrap_err();
    assert!(
        err.contains("`sock:inet_sock_set_stat` does not exist"),
        "{err}"
    );
    assert!(
        err.contains("did you mean `sock:inet_sock_set_state`"),
        "{err}"
    );
    let err = k
        .tracepoint_fields("net", "inet_sock_set_state")
        .unwrap_err();
    assert!(
        err.contains("`sock:inet_sock_set_state`"),
        "same name in another category: {err}"
    );
    let err = k.tracepoint_fields("sock", "../../../etc").unwrap_err();
    assert!(err.contains("does not exist"), "{err}");
    let err = k.tracepoint_fields("tcp", "tcp_retransmit_skb");
    assert_eq!(
        err,
        Ok(vec![]),
        "a tracepoint with only common fields has no args"
    );

    let empty =
        std::env::temp_dir().join(format!("flowtrace-tracefs-empty-{}", std::process::id()));
    fs::create_dir_all(&empty).unwrap();
    let err = kernel(&empty)
        .tracepoint_fields("sock", "inet_sock_set_state")
        .unwrap_err();
    fs::remove_dir_all(&empty).unwrap();
    assert!(
        err.starts_with("tracefs is not mounted") && err.contains("mount -t tracefs tracefs"),
        "{err}"
    );
}

#[test]
fn wildcards_walk_the_events_tree() {
    let fake = FakeTracefs::new("glob");
    let k = kernel(fake.path());
    let pair = |c: &str, n: &str| (c.to_owned(), n.to_owned());
    assert_eq!(
        k.match_tracepoints("sock", "*"),
        [pair("sock", "inet_sock_set_state")]
    );
    assert_eq!(
        k.match_tracepoints("*", "*_skb"),
        [pair("tcp", "tcp_retransmit_skb")]
    );
    assert_eq!(k.match_tracepoints("t*", "*").len(), 2);
    assert!(k.match_tracepoints("udp", "*").is_empty());
    let all = Tracefs::new(Some(fake.path().to_owned())).events().unwrap();
    assert_eq!(all.len(), 3);
}

/// A field of type `enum NAME` keeps the enum's name, and the enum's
/// values come from BTF, so a map key of it can print the enumerator.
#[test]
fn enum_fields_name_their_enum() {
    let root = std::env::temp_dir().join(format!("flowtrace-tracefs-enum-{}", std::process::id()));
    let dir = root.join("events/xenum/map_event");
    fs::create_dir_all(&dir).unwrap();
    let body = "\tfield:enum bpf_map_type kind;\toffset:8;\tsize:4;\tsigned:0;\n\tfield:int plain;\toffset:12;\tsize:4;\tsigned:1;\n";
    fs::write(dir.join("format"), format!("format:\n{COMMON}{body}\nprint fmt: \"\"\n")).unwrap();
    let k = kernel(&root);
    let fields = k.tracepoint_fields("xenum", "map_event").unwrap();
    let _ = fs::remove_dir_all(&root);
    assert_eq!(fields[0].enum_name.as_deref(), Some("bpf_map_type"));
    assert_eq!(fields[1].enum_name, None);
    let variants = k.enum_variants("bpf_map_type");
    assert!(variants.contains(&(1, "BPF_MAP_TYPE_HASH".to_string())), "{variants:?}");
    assert!(k.enum_variants("no_such_enum").is_empty());
}
