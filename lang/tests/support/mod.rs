//! A small fake kernel for checker tests: a handful of networking structs
//! with their real x86-64 offsets (anonymous unions flattened), the
//! `tcp_state` enum, a few tracepoint formats as this host's tracefs shows
//! them, and some function prototypes.
#![allow(dead_code)]

use flowtrace_lang::ast::{parse_usdt_arg, UsdtSite};
use flowtrace_lang::kernel::{EnumConstant, FuncProto, HostFacts, KernelTypes, Member, TracepointField, TypeKeyword, UserSymbol, UsdtProbe};
use flowtrace_lang::types::{IntType, RecordType, Type};

pub struct FakeKernel {
    records: Vec<(RecordType, Vec<Member>)>,
    enums: Vec<EnumConstant>,
    tracepoints: Vec<(String, String, Vec<TracepointField>)>,
    functions: Vec<FuncProto>,
}

fn int(bits: u8, signed: bool) -> Type {
    Type::Int(IntType { bits, signed })
}

fn ptr(t: Type) -> Type {
    Type::ptr(t)
}

fn array(elem: Type, len: u32) -> Type {
    Type::Array { elem: Box::new(elem), len }
}

fn field(name: &str, ty: Type, offset_bytes: u32) -> Member {
    Member { name: name.into(), ty, offset_bits: offset_bytes * 8, bitfield_bits: None }
}

fn bits(name: &str, ty: Type, offset_bits: u32, width: u8) -> Member {
    Member { name: name.into(), ty, offset_bits, bitfield_bits: Some(width) }
}

/// Tracepoint formats as this development host's tracefs showed them
/// (`formats/CATEGORY:NAME`, the `field:` lines without the common header).
fn load_formats() -> Vec<(String, String, Vec<TracepointField>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/formats");
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else { return out };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        let Some((category, name)) = file.split_once(':') else { continue };
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let fields = text.lines().filter_map(parse_field).collect();
        out.push((category.to_string(), name.to_string(), fields));
    }
    out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    out
}

/// `field:const void * skaddr;	offset:8;	size:8;	signed:0;`
fn parse_field(line: &str) -> Option<TracepointField> {
    let mut parts = line.split(';').map(str::trim);
    let decl = parts.next()?.strip_prefix("field:")?;
    let num = |p: Option<&str>, key: &str| p.and_then(|p| p.strip_prefix(key)).and_then(|v| v.parse::<u32>().ok());
    let offset = num(parts.next(), "offset:")?;
    let size = num(parts.next(), "size:")?;
    let signed = num(parts.next(), "signed:")? == 1;
    let data_loc = decl.starts_with("__data_loc");
    let (ctype, name) = decl.rsplit_once(' ')?;
    let (name, len) = match name.split_once('[') {
        Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<u32>().ok()),
        None => (name, None),
    };
    let is_char = ctype.trim_end_matches("[]").ends_with("char");
    let ty = if data_loc {
        if is_char { Type::Str { cap: 64 } } else { array(int(8, false), 64) }
    } else if ctype.contains('*') {
        // `const char *const * argv` is a pointer to pointers.
        let base = if ctype.contains("char") { int(8, true) } else { Type::Void };
        (0..ctype.matches('*').count()).fold(base, |t, _| ptr(t))
    } else if let Some(len) = len {
        if is_char { Type::Str { cap: len } } else { array(int(((size / len.max(1)) * 8) as u8, signed), len) }
    } else {
        int((size * 8) as u8, signed)
    };
    Some(TracepointField { name: name.to_string(), ty, offset, size, data_loc, enum_name: None })
}

/// `*` (any run) and `?` (one character), on ASCII names.
fn glob(pattern: &str, text: &str) -> bool {
    match (pattern.as_bytes().first(), text.as_bytes().first()) {
        (None, _) => text.is_empty(),
        (Some(b'*'), _) => (0..=text.len()).any(|i| glob(&pattern[1..], &text[i..])),
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

impl FakeKernel {
    pub fn new() -> FakeKernel {
        let rec = |id: u32, name: &str, size: u32| RecordType { btf_id: id, name: name.into(), size, is_union: false };
        let sock = rec(1, "sock", 760);
        let sock_common = rec(2, "sock_common", 136);
        let sk_buff = rec(3, "sk_buff", 232);
        let task = rec(4, "task_struct", 9792);
        let in6 = rec(5, "in6_addr", 16);
        let net_device = rec(6, "net_device", 2560);
        let tcp_sock = rec(7, "tcp_sock", 2400);
        let inet_sock = rec(8, "inet_sock", 1000);
        let msghdr = rec(9, "msghdr", 96);
        let iphdr = rec(10, "iphdr", 20);
        let u8t = int(8, false);
        let u16t = int(16, false);
        let u32t = int(32, false);
        let i32t = int(32, true);
        let records = vec![
            (
                sock.clone(),
                vec![
                    field("__sk_common", Type::Record(sock_common.clone()), 0),
                    // A bitfield, as older kernels had: 4 bits at bit 3 of byte 140.
                    bits("sk_userlocks", u8t.clone(), 140 * 8 + 3, 4),
                    field("sk_protocol", u16t.clone(), 516),
                    field("sk_type", u16t.clone(), 518),
                    field("sk_rcvbuf", i32t.clone(), 260),
                    field("sk_sndbuf", i32t.clone(), 276),
                    field("sk_mark", u32t.clone(), 488),
                    field("sk_ack_backlog", u32t.clone(), 296),
                    field("sk_max_ack_backlog", u32t.clone(), 300),
                ],
            ),
            (
                sock_common.clone(),
                vec![
                    field("skc_daddr", u32t.clone(), 0),
                    field("skc_rcv_saddr", u32t.clone(), 4),
                    field("skc_hash", u32t.clone(), 8),
                    field("skc_dport", u16t.clone(), 12),
                    field("skc_num", u16t.clone(), 14),
                    field("skc_family", u16t.clone(), 16),
                    field("skc_state", u8t.clone(), 18),
                    field("skc_bound_dev_if", i32t.clone(), 20),
                    field("skc_v6_daddr", Type::Record(in6.clone()), 56),
                    field("skc_v6_rcv_saddr", Type::Record(in6.clone()), 72),
                ],
            ),
            (
                sk_buff.clone(),
                vec![
                    field("dev", ptr(Type::Record(net_device.clone())), 16),
                    field("sk", ptr(Type::Record(sock.clone())), 24),
                    field("len", u32t.clone(), 112),
                    field("data_len", u32t.clone(), 116),
                    field("mark", u32t.clone(), 168),
                    field("protocol", u16t.clone(), 180),
                    field("head", ptr(u8t.clone()), 200),
                    field("data", ptr(u8t.clone()), 208),
                ],
            ),
            (
                task.clone(),
                vec![
                    field("pid", i32t.clone(), 2464),
                    field("tgid", i32t.clone(), 2468),
                    field("comm", array(int(8, true), 16), 3000),
                    field("real_parent", ptr(Type::Record(task.clone())), 2480),
                ],
            ),
            (
                in6.clone(),
                vec![
                    field("in6_u", Type::Record(RecordType { btf_id: 11, name: String::new(), size: 16, is_union: true }), 0),
                    field("s6_addr", array(u8t.clone(), 16), 0),
                ],
            ),
            (
                RecordType { btf_id: 11, name: String::new(), size: 16, is_union: true },
                vec![
                    field("u6_addr8", array(u8t.clone(), 16), 0),
                    field("u6_addr16", array(u16t.clone(), 8), 0),
                    field("u6_addr32", array(u32t.clone(), 4), 0),
                ],
            ),
            (
                rec(12, "sockaddr_in", 16),
                vec![
                    field("sin_family", u16t.clone(), 0),
                    field("sin_port", u16t.clone(), 2),
                    field("sin_addr", Type::Record(rec(13, "in_addr", 4)), 4),
                ],
            ),
            (rec(13, "in_addr", 4), vec![field("s_addr", u32t.clone(), 0)]),
            (
                rec(14, "sockaddr_in6", 28),
                vec![
                    field("sin6_family", u16t.clone(), 0),
                    field("sin6_port", u16t.clone(), 2),
                    field("sin6_addr", Type::Record(in6.clone()), 8),
                ],
            ),
            (
                RecordType { btf_id: 15, name: "bpf_attr".into(), size: 144, is_union: true },
                vec![field("map_type", u32t.clone(), 0), field("prog_type", u32t.clone(), 0)],
            ),
            (
                net_device.clone(),
                vec![field("name", array(int(8, true), 16), 0), field("ifindex", i32t.clone(), 224)],
            ),
            (
                tcp_sock.clone(),
                vec![
                    field("srtt_us", u32t.clone(), 1672),
                    field("snd_cwnd", u32t.clone(), 1720),
                    field("total_retrans", u32t.clone(), 1776),
                    field("bytes_acked", int(64, false), 1560),
                    field("bytes_received", int(64, false), 1528),
                ],
            ),
            (inet_sock.clone(), vec![field("sk", Type::Record(sock.clone()), 0), field("inet_sport", u16t.clone(), 798)]),
            (msghdr, vec![field("msg_flags", u32t.clone(), 88)]),
            (
                iphdr,
                vec![
                    bits("ihl", u8t.clone(), 0, 4),
                    bits("version", u8t.clone(), 4, 4),
                    field("tos", u8t.clone(), 1),
                    field("tot_len", u16t.clone(), 2),
                    field("ttl", u8t.clone(), 8),
                    field("protocol", u8t.clone(), 9),
                    field("saddr", u32t.clone(), 12),
                    field("daddr", u32t.clone(), 16),
                ],
            ),
        ];
        let states = [
            "TCP_ESTABLISHED", "TCP_SYN_SENT", "TCP_SYN_RECV", "TCP_FIN_WAIT1", "TCP_FIN_WAIT2", "TCP_TIME_WAIT",
            "TCP_CLOSE", "TCP_CLOSE_WAIT", "TCP_LAST_ACK", "TCP_LISTEN", "TCP_CLOSING", "TCP_NEW_SYN_RECV",
        ];
        let mut enums: Vec<EnumConstant> = states
            .iter()
            .enumerate()
            .map(|(i, n)| EnumConstant { name: n.to_string(), value: i as i64 + 1, enum_name: "tcp_state".into() })
            .collect();
        for (i, n) in ["SKB_DROP_REASON_NOT_SPECIFIED", "SKB_DROP_REASON_NO_SOCKET", "SKB_DROP_REASON_TCP_CSUM"].iter().enumerate() {
            enums.push(EnumConstant { name: n.to_string(), value: i as i64 + 2, enum_name: "skb_drop_reason".into() });
        }
        let void_ptr = ptr(Type::Void);
        let tracepoints = load_formats();
        let sock_ptr = ptr(Type::Record(sock));
        let skb_ptr = ptr(Type::Record(sk_buff));
        let proto = |name: &str, params: Vec<(&str, Type)>, ret: Type| FuncProto {
            name: name.into(),
            params: params.into_iter().map(|(n, t)| (n.to_string(), t)).collect(),
            ret,
        };
        let functions = vec![
            proto(
                "tcp_sendmsg",
                vec![("sk", sock_ptr.clone()), ("msg", ptr(Type::Record(rec(9, "msghdr", 96)))), ("size", int(64, false))],
                i32t.clone(),
            ),
            proto("tcp_retransmit_skb", vec![("sk", sock_ptr.clone()), ("skb", skb_ptr.clone()), ("segs", i32t.clone())], i32t.clone()),
            proto("tcp_recvmsg", vec![("sk", sock_ptr.clone()), ("msg", void_ptr.clone()), ("len", int(64, false))], i32t.clone()),
            proto("tcp_v4_connect", vec![("sk", sock_ptr.clone()), ("uaddr", void_ptr.clone()), ("addr_len", i32t.clone())], i32t.clone()),
            proto("tcp_close", vec![("sk", sock_ptr.clone()), ("timeout", int(64, true))], Type::Void),
            proto("tcp_set_state", vec![("sk", sock_ptr.clone()), ("state", i32t.clone())], Type::Void),
            proto("tcp_rcv_established", vec![("sk", sock_ptr.clone()), ("skb", skb_ptr)], Type::Void),
            // For path(): bpf_d_path's allow-listed vfs functions take a struct path *.
            proto("vfs_truncate", vec![("path", ptr(Type::Record(rec(16, "path", 16)))), ("length", int(64, true))], i32t.clone()),
        ];
        let mut functions = functions;
        // Iterators: `bpf_iter_NAME` with its `struct bpf_iter__NAME`; the
        // open-coded iterator kfunc `bpf_iter_num_new` has no such struct.
        let meta = rec(22, "bpf_iter_meta", 24);
        let mut records = records;
        records.push((meta.clone(), vec![field("seq", void_ptr.clone(), 0), field("session_id", int(64, false), 8), field("seq_num", int(64, false), 16)]));
        let meta_ptr = ptr(Type::Record(meta.clone()));
        let task_ptr = ptr(Type::Record(rec(4, "task_struct", 9792)));
        let sk_common_ptr = ptr(Type::Record(rec(2, "sock_common", 136)));
        records.push((rec(20, "bpf_iter__task", 16), vec![field("meta", meta_ptr.clone(), 0), field("task", task_ptr.clone(), 8)]));
        records.push((rec(21, "bpf_iter__tcp", 24), vec![field("meta", meta_ptr.clone(), 0), field("sk_common", sk_common_ptr.clone(), 8), field("uid", u32t.clone(), 16)]));
        functions.push(proto("bpf_iter_task", vec![("meta", meta_ptr.clone()), ("task", task_ptr)], i32t.clone()));
        functions.push(proto("bpf_iter_tcp", vec![("meta", meta_ptr), ("sk_common", sk_common_ptr), ("uid", u32t.clone())], i32t.clone()));
        functions.push(proto("bpf_iter_num_new", vec![("it", void_ptr.clone()), ("start", i32t.clone())], i32t.clone()));
        // Functions only kprobes use (by name or wildcard) need no real prototype.
        for name in [
            "tcp_v6_connect", "tcp_connect", "tcp_finish_connect", "tcp_cleanup_rbuf", "tcp_v4_rcv",
            "tcp_v4_syn_recv_sock", "tcp_v6_syn_recv_sock", "udp_sendmsg", "udpv6_sendmsg", "inet_csk_accept",
            "inet_sock_set_state", "inet_sk_set_state", "sock_exceed_buf_limit", "sock_rcvqueue_full", "kfree_skb",
        ] {
            functions.push(proto(name, vec![("sk", sock_ptr.clone())], int(64, true)));
        }
        FakeKernel { records, enums, tracepoints, functions }
    }
}

impl KernelTypes for FakeKernel {
    fn find_type(&self, keyword: TypeKeyword, name: &str) -> Option<Type> {
        match keyword {
            TypeKeyword::Struct | TypeKeyword::Union => self
                .records
                .iter()
                .find(|(r, _)| r.name == name && r.is_union == (keyword == TypeKeyword::Union))
                .map(|(r, _)| Type::Record(r.clone())),
            TypeKeyword::Enum => matches!(name, "tcp_state" | "tcp_ca_state" | "skb_drop_reason").then(|| int(32, false)),
            TypeKeyword::Typedef => match name {
                "u8" | "__u8" => Some(int(8, false)),
                "u16" | "__u16" | "__be16" => Some(int(16, false)),
                "u32" | "__u32" | "__be32" => Some(int(32, false)),
                "u64" | "__u64" | "size_t" => Some(int(64, false)),
                "pid_t" => Some(int(32, true)),
                "sk_buff_data_t" => Some(int(32, false)),
                _ => None,
            },
        }
    }

    fn member(&self, record: &RecordType, name: &str) -> Option<Member> {
        let (_, members) = self.records.iter().find(|(r, _)| r.btf_id == record.btf_id)?;
        members.iter().find(|m| m.name == name).cloned()
    }

    fn member_names(&self, record: &RecordType) -> Vec<String> {
        self.records
            .iter()
            .find(|(r, _)| r.btf_id == record.btf_id)
            .map(|(_, ms)| ms.iter().map(|m| m.name.clone()).collect())
            .unwrap_or_default()
    }

    fn enum_constant(&self, name: &str) -> Option<EnumConstant> {
        self.enums.iter().find(|e| e.name == name).cloned()
    }

    fn similar_enum_constants(&self, name: &str) -> Vec<String> {
        let names: Vec<&str> = self.enums.iter().map(|e| e.name.as_str()).collect();
        flowtrace_lang::diag::did_you_mean(name, names).into_iter().map(String::from).collect()
    }

    fn tracepoint_fields(&self, category: &str, name: &str) -> Result<Vec<TracepointField>, String> {
        self.tracepoints
            .iter()
            .find(|(c, n, _)| *c == category && *n == name)
            .map(|(_, _, f)| f.clone())
            .ok_or_else(|| format!("tracepoint '{category}:{name}' does not exist"))
    }

    fn match_tracepoints(&self, category: &str, name: &str) -> Vec<(String, String)> {
        self.tracepoints
            .iter()
            .filter(|(c, n, _)| glob(category, c) && glob(name, n))
            .map(|(c, n, _)| (c.to_string(), n.to_string()))
            .collect()
    }

    fn function(&self, name: &str) -> Option<FuncProto> {
        self.functions.iter().find(|f| f.name == name).cloned()
    }

    fn match_functions(&self, pattern: &str) -> Vec<String> {
        self.functions.iter().filter(|f| glob(pattern, &f.name)).map(|f| f.name.clone()).collect()
    }

    fn host(&self) -> &dyn HostFacts {
        &FakeHost
    }

    fn kernel_var(&self, name: &str) -> Option<(u32, Type)> {
        (name == "process_counts").then(|| (90_001, int(64, false)))
    }
}

/// A 4-CPU host with one cgroup v2 directory, id 4242; everything else
/// errs as a real host would.
pub struct FakeHost;

impl HostFacts for FakeHost {
    fn online_cpus(&self) -> Result<u64, String> {
        Ok(4)
    }
    fn cgroup_id(&self, path: &str) -> Result<u64, String> {
        match path {
            "/sys/fs/cgroup/unified" => Ok(4242),
            _ => Err(format!("cannot find cgroup '{path}': No such file or directory (os error 2)")),
        }
    }
    fn tai_minus_boot_ns(&self) -> Result<u64, String> {
        Ok(1_700_000_000_000_000_000)
    }
    /// /bin/bash, libc (by name) and /opt/app with two USDT probes.
    fn user_binary(&self, name: &str) -> Result<String, String> {
        match name {
            "/bin/bash" | "/opt/app" => Ok(name.to_string()),
            "libc" => Ok("/lib/x86_64-linux-gnu/libc.so.6".into()),
            _ if name.contains('/') => Err(format!("binary '{name}' does not exist")),
            _ => Err(format!("no library or program called '{name}' was found")),
        }
    }
    fn user_symbols(&self, binary: &str, pattern: &str, functions_only: bool) -> Result<Vec<UserSymbol>, String> {
        let symbols: &[(&str, u64, bool)] = match binary {
            "/bin/bash" => &[("readline", 0x1000, true), ("rl_line_buffer", 0x9000, false)],
            "/lib/x86_64-linux-gnu/libc.so.6" => &[("free", 0x2000, true), ("malloc", 0x3000, true)],
            _ => &[("main", 0x1100, true)],
        };
        Ok(symbols
            .iter()
            .filter(|(name, _, function)| glob(pattern, name) && (*function || !functions_only))
            .map(|(name, address, function)| UserSymbol { name: name.to_string(), address: *address, size: 64, function: *function })
            .collect())
    }
    fn usdt_probes(&self, binary: &str, provider: &str, name: &str) -> Result<Vec<UsdtProbe>, String> {
        let probes = match binary {
            "/opt/app" => vec![("app", "request", "-4@%edi 8@%rsi"), ("app", "done", ""), ("app", "indexed", "8@(,%rbx,8)")],
            _ => Vec::new(),
        };
        Ok(probes
            .into_iter()
            .filter(|(p, n, _)| glob(provider, p) && glob(name, n))
            .map(|(p, n, spec)| UsdtProbe {
                provider: p.into(),
                name: n.into(),
                site: spec
                    .split_whitespace()
                    .map(parse_usdt_arg)
                    .collect::<Result<Vec<_>, _>>()
                    .map(|args| UsdtSite { address: 0x1200, semaphore: 0, args }),
            })
            .collect())
    }
    /// One kernel function, `tcp_v4_rcv`, at the address this host's
    /// /proc/kallsyms gave it.
    fn kernel_symbol_address(&self, name: &str) -> Result<Option<u64>, String> {
        Ok((name == "tcp_v4_rcv").then_some(0xffff_ffff_8209_4eb0))
    }
}

/// Parse and check `text` against the fake kernel.
pub fn check_text(text: &str, params: &[&str]) -> Result<flowtrace_lang::typed::TypedProgram, String> {
    let source = flowtrace_lang::Source::new("test.ft", text);
    let options = flowtrace_lang::CheckOptions {
        params: params.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let program = flowtrace_lang::parse(&source).map_err(|d| flowtrace_lang::diag::render_all(&d, &source))?;
    flowtrace_lang::check(&program, &FakeKernel::new(), &options).map_err(|d| flowtrace_lang::diag::render_all(&d, &source))
}
