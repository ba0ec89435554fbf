//! What `flowtrace net` found, as plain data: the per-namespace interfaces
//! with their hooks, and the kernel-wide programs and maps they refer to.
//! Collected by [`super::collect`], judged by [`super::findings`], rendered
//! by the CLI.

use crate::tc::Hook;
use std::collections::BTreeMap;

/// Everything attached to the node's interfaces, and the objects behind it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeReport {
    pub namespaces: Vec<NetnsReport>,
    /// Programs and maps are kernel-wide (not per namespace): each once, by id.
    pub programs: BTreeMap<u32, Program>,
    pub maps: BTreeMap<u32, Map>,
    /// Namespaces that could not be entered or read, with why; the rest of
    /// the report stands.
    pub errors: Vec<String>,
    /// Possible CPUs: how much of an LRU map the kernel's per-CPU free
    /// lists can hold back.
    pub possible_cpus: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetnsLabel {
    /// The namespace flowtrace itself runs in.
    Current,
    /// A name under /run/netns.
    Named(String),
    /// Unnamed, held by a process (the lowest pid holding it).
    HeldBy { pid: u32, comm: String },
}

impl std::fmt::Display for NetnsLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetnsLabel::Current => f.write_str("current"),
            NetnsLabel::Named(n) => f.write_str(n),
            NetnsLabel::HeldBy { pid, comm } => write!(f, "pid {pid} ({comm})"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NetnsReport {
    pub label: NetnsLabel,
    /// The namespace's inode number (`ls -iL /proc/PID/ns/net`).
    pub inode: u64,
    /// The interfaces shown: every one with something attached, plus those
    /// the interface glob named.
    pub interfaces: Vec<InterfaceReport>,
    /// How many interfaces of this namespace had nothing attached and were
    /// left out.
    pub quiet_interfaces: usize,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct InterfaceReport {
    pub index: u32,
    pub name: String,
    /// `IFLA_INFO_KIND`: "veth", "netkit", "bridge", … (None for physical).
    pub kind: Option<String>,
    pub xdp: Vec<XdpProgram>,
    /// The interface has a clsact qdisc.
    pub clsact: bool,
    /// Classic tc filters on the clsact hooks, ingress first, in priority order.
    pub filters: Vec<TcFilter>,
    /// TCX and netkit programs, per hook in run order.
    pub chains: Vec<ChainProgram>,
}

impl InterfaceReport {
    pub fn is_quiet(&self) -> bool {
        self.xdp.is_empty() && !self.clsact && self.filters.is_empty() && self.chains.is_empty()
    }

    /// Every program id attached here.
    pub fn program_ids(&self) -> impl Iterator<Item = u32> + '_ {
        let xdp = self.xdp.iter().map(|x| x.prog_id);
        let tc = self.filters.iter().filter_map(|f| f.prog_id);
        xdp.chain(tc).chain(self.chains.iter().map(|c| c.prog_id))
    }
}

/// `IFLA_XDP_ATTACHED` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XdpMode {
    /// In the driver (`xdpdrv`).
    Driver,
    /// In the generic, skb-based path (`xdpgeneric`).
    Generic,
    /// On the NIC (`xdpoffload`).
    Offload,
}

impl XdpMode {
    pub fn name(self) -> &'static str {
        match self {
            XdpMode::Driver => "driver",
            XdpMode::Generic => "generic",
            XdpMode::Offload => "offload",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XdpProgram {
    pub mode: XdpMode,
    pub prog_id: u32,
}

/// Who attached a filter named `flowtrace/PID/…`, and whether it still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowtraceOwner {
    pub pid: u32,
    pub alive: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcFilter {
    pub hook: Hook,
    pub pref: u16,
    pub handle: u32,
    pub chain: u32,
    /// The classifier: "bpf" for cls_bpf, else "u32", "flower", …
    pub kind: String,
    /// `TCA_BPF_NAME`, the name the loader gave the filter.
    pub name: Option<String>,
    pub direct_action: bool,
    pub prog_id: Option<u32>,
    pub tag: Option<[u8; 8]>,
    /// Set when the filter is named like flowtrace's own.
    pub flowtrace_owner: Option<FlowtraceOwner>,
}

/// The multi-program hooks (`BPF_PROG_QUERY` attach types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChainHook {
    TcxIngress,
    TcxEgress,
    NetkitPrimary,
    NetkitPeer,
}

impl ChainHook {
    pub const ALL: [ChainHook; 4] = [ChainHook::TcxIngress, ChainHook::TcxEgress, ChainHook::NetkitPrimary, ChainHook::NetkitPeer];

    /// `enum bpf_attach_type`.
    pub fn attach_type(self) -> u32 {
        match self {
            ChainHook::TcxIngress => 46,
            ChainHook::TcxEgress => 47,
            ChainHook::NetkitPrimary => 54,
            ChainHook::NetkitPeer => 55,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ChainHook::TcxIngress => "tcx ingress",
            ChainHook::TcxEgress => "tcx egress",
            ChainHook::NetkitPrimary => "netkit primary",
            ChainHook::NetkitPeer => "netkit peer",
        }
    }

    pub fn is_netkit(self) -> bool {
        matches!(self, ChainHook::NetkitPrimary | ChainHook::NetkitPeer)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainProgram {
    pub hook: ChainHook,
    /// 1-based place in the run order.
    pub position: usize,
    pub prog_id: u32,
    /// None when attached without a link.
    pub link_id: Option<u32>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Program {
    pub id: u32,
    /// `enum bpf_prog_type`.
    pub prog_type: u32,
    pub name: String,
    pub tag: [u8; 8],
    /// Seconds since the Unix epoch (None where the kernel does not say).
    pub loaded_at: Option<u64>,
    pub uid: u32,
    pub xlated_bytes: u32,
    pub jited_bytes: u32,
    pub map_ids: Vec<u32>,
}

impl Program {
    pub fn tag_hex(&self) -> String {
        hex(&self.tag)
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `enum bpf_prog_type` names as bpftool prints them.
pub fn prog_type_name(t: u32) -> &'static str {
    const NAMES: [&str; 33] = [
        "unspec", "socket_filter", "kprobe", "sched_cls", "sched_act", "tracepoint", "xdp", "perf_event",
        "cgroup_skb", "cgroup_sock", "lwt_in", "lwt_out", "lwt_xmit", "sock_ops", "sk_skb", "cgroup_device",
        "sk_msg", "raw_tracepoint", "cgroup_sock_addr", "lwt_seg6local", "lirc_mode2", "sk_reuseport",
        "flow_dissector", "cgroup_sysctl", "raw_tracepoint_writable", "cgroup_sockopt", "tracing", "struct_ops",
        "ext", "lsm", "sk_lookup", "syscall", "netfilter",
    ];
    NAMES.get(t as usize).copied().unwrap_or("unknown")
}

/// Map types, as far as counting and judging them differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    Hash,
    PercpuHash,
    LruHash,
    LruPercpuHash,
    LpmTrie,
    HashOfMaps,
    SockHash,
    DevmapHash,
    /// Arrays and every other kind whose `max_entries` slots all exist from
    /// creation (or that are not key/value stores): no fill level to count.
    Other(u32),
}

impl MapKind {
    pub fn from_type(t: u32) -> MapKind {
        match t {
            1 => MapKind::Hash,
            5 => MapKind::PercpuHash,
            9 => MapKind::LruHash,
            10 => MapKind::LruPercpuHash,
            11 => MapKind::LpmTrie,
            13 => MapKind::HashOfMaps,
            18 => MapKind::SockHash,
            25 => MapKind::DevmapHash,
            other => MapKind::Other(other),
        }
    }

    /// Elements exist only once inserted, so counting them means something.
    pub fn fills_up(self) -> bool {
        !matches!(self, MapKind::Other(_))
    }

    pub fn is_lru(self) -> bool {
        matches!(self, MapKind::LruHash | MapKind::LruPercpuHash)
    }

    pub fn is_percpu(self) -> bool {
        matches!(self, MapKind::PercpuHash | MapKind::LruPercpuHash)
    }

    /// The kernel can walk it a batch at a time (`BPF_MAP_LOOKUP_BATCH`).
    pub fn has_batch_lookup(self) -> bool {
        matches!(self, MapKind::Hash | MapKind::PercpuHash | MapKind::LruHash | MapKind::LruPercpuHash)
    }
}

/// `enum bpf_map_type` names as bpftool prints them.
pub fn map_type_name(t: u32) -> &'static str {
    const NAMES: [&str; 34] = [
        "unspec", "hash", "array", "prog_array", "perf_event_array", "percpu_hash", "percpu_array", "stack_trace",
        "cgroup_array", "lru_hash", "lru_percpu_hash", "lpm_trie", "array_of_maps", "hash_of_maps", "devmap",
        "sockmap", "cpumap", "xskmap", "sockhash", "cgroup_storage", "reuseport_sockarray",
        "percpu_cgroup_storage", "queue", "stack", "sk_storage", "devmap_hash", "struct_ops", "ringbuf",
        "inode_storage", "task_storage", "bloom_filter", "user_ringbuf", "cgrp_storage", "arena",
    ];
    NAMES.get(t as usize).copied().unwrap_or("unknown")
}

/// Why a count stopped before the end of the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CountLimit {
    /// The per-map time budget ran out.
    Time { budget_ms: u64 },
    /// The time budget for all maps together ran out.
    Total { budget_ms: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EntryCount {
    /// A kind without a fill level (arrays, ring buffers, …).
    NotApplicable,
    Exact(u64),
    /// The walk stopped early: at least this many.
    AtLeast { counted: u64, limit: CountLimit },
    /// The kernel refused the walk (the text says why).
    Failed(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Map {
    pub id: u32,
    /// `enum bpf_map_type`.
    pub map_type: u32,
    pub name: String,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub entries: EntryCount,
}

impl Map {
    pub fn kind(&self) -> MapKind {
        MapKind::from_type(self.map_type)
    }

    /// Entries (counted so far) per `max_entries`, in percent.
    pub fn pressure(&self) -> Option<f64> {
        let n = match self.entries {
            EntryCount::Exact(n) | EntryCount::AtLeast { counted: n, .. } => n,
            EntryCount::NotApplicable | EntryCount::Failed(_) => return None,
        };
        (self.max_entries > 0).then(|| n as f64 * 100.0 / f64::from(self.max_entries))
    }
}
