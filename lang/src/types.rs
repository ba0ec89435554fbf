//! The types the checker assigns. Kernel types (structs, unions, pointers to
//! them) come from BTF through [`crate::kernel::KernelTypes`].

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IntType {
    /// 8, 16, 32 or 64.
    pub bits: u8,
    pub signed: bool,
}

impl IntType {
    pub const U8: IntType = IntType { bits: 8, signed: false };
    pub const U16: IntType = IntType { bits: 16, signed: false };
    pub const U32: IntType = IntType { bits: 32, signed: false };
    pub const U64: IntType = IntType { bits: 64, signed: false };
    pub const I8: IntType = IntType { bits: 8, signed: true };
    pub const I16: IntType = IntType { bits: 16, signed: true };
    pub const I32: IntType = IntType { bits: 32, signed: true };
    pub const I64: IntType = IntType { bits: 64, signed: true };

    pub fn bytes(self) -> u32 {
        u32::from(self.bits) / 8
    }
}

/// A struct or union from BTF.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordType {
    /// BTF type id (of the struct/union itself, typedefs and qualifiers peeled).
    pub btf_id: u32,
    /// `sock`, `sock_common`; empty for an anonymous one.
    pub name: String,
    pub size: u32,
    pub is_union: bool,
}

/// One field of a struct or union as printed: a bitfield is `bitfield_bits`
/// wide at `offset_bits`; a whole field is `ty` at `offset_bits / 8`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordField {
    pub name: String,
    pub ty: Type,
    pub offset_bits: u32,
    pub bitfield_bits: Option<u8>,
}

/// The printed fields of records, by [`RecordType::btf_id`].
pub type RecordLayouts = std::collections::BTreeMap<u32, Vec<RecordField>>;

/// The value kinds a map can hold after an aggregation call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggKind {
    Count,
    Sum { signed: bool },
    Min { signed: bool },
    Max { signed: bool },
    Avg { signed: bool },
    Stats { signed: bool },
    /// log2 histogram.
    Hist,
    /// `lhist(v, min, max, step)`.
    Lhist { min: i64, max: i64, step: i64 },
    /// `tseries(v, interval, intervals[, agg])`: one value per interval of
    /// `interval_ns`, for the latest `intervals` intervals.
    Tseries { interval_ns: u64, intervals: u32, agg: TseriesAgg, signed: bool },
}

/// How `tseries()` combines the values of one interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TseriesAgg {
    /// No fourth argument: the last value written wins.
    Last,
    Avg,
    Max,
    Min,
    Sum,
}

impl TseriesAgg {
    pub fn from_name(name: &str) -> Option<TseriesAgg> {
        Some(match name {
            "avg" => TseriesAgg::Avg,
            "max" => TseriesAgg::Max,
            "min" => TseriesAgg::Min,
            "sum" => TseriesAgg::Sum,
            _ => return None,
        })
    }
}

/// Which memory a pointer points into. Reads through a user pointer use
/// the user-memory helpers, as bpftrace's do: a kernel read of a user
/// address fails (x86 refuses it), so `str(args.argv[0])` read nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum AddrSpace {
    #[default]
    Kernel,
    /// Process memory: the pointer fields of `syscalls` tracepoints.
    User,
}

/// Values whose bytes are plain data but which userspace prints by a rule
/// of their own (bpftrace's `username`, `timestamp`, `macaddr_t`, `buffer`).
/// They can be stored, used as keys and printed, not computed with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Rendered {
    /// A uid (8 bytes), printed as the user's name: `username`.
    Username,
    /// Nanoseconds (8 bytes) of `clock`, printed as local wall-clock time
    /// with strftime(3) `format` (plus `%f`, `%k`, `%l`): `strftime()`.
    Timestamp { format: String, clock: TimestampClock },
    /// Six bytes (in 8), printed as `AA:BB:CC:DD:EE:FF`: `macaddr()`.
    MacAddr,
    /// `buf()`: the byte count (8 bytes), then `cap` bytes of data, printed
    /// with `\xNN` escapes by `%r`, in hex by `%rx`/`%rh`.
    Buffer { cap: u32 },
    /// `kstack`/`ustack`: in 8 bytes, the stack id `bpf_get_stackid` gave
    /// (low 32 bits, negative when the kernel took no stack) and, for a
    /// user stack, the pid (high 32 bits) its addresses belong to; printed
    /// as the stack's frames.
    Stack(StackType),
    /// `ksym(addr)`: an address (8 bytes), printed as the kernel symbol
    /// holding it.
    Ksym,
    /// `strerror(errno)`: the error number (8 bytes), printed as the C
    /// library's message for it.
    Strerror,
    /// `syscall_name(nr)`, `signal_name(sig)`: the number (8 bytes),
    /// printed as the syscall's name / the signal's description.
    SyscallName,
    SignalName,
    /// `usym(addr)`: an address, then the pid (16 bytes), printed as the
    /// symbol holding it in that process.
    Usym,
    /// A map key read from a tracepoint field of type `enum NAME` (8 bytes),
    /// printed as the enumerator's name (`SKB_DROP_REASON_NO_SOCKET`), or as
    /// the number when no enumerator has that value.
    EnumName { name: String, variants: Vec<(i64, String)> },
}

/// Which stack a [`Rendered::Stack`] holds and how it prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StackType {
    /// `ustack` (the user-space stack) rather than `kstack`.
    pub user: bool,
    pub mode: StackMode,
    /// Frames kept (bpftrace's default 127).
    pub limit: u32,
}

/// bpftrace's stack modes: how each frame prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StackMode {
    /// `sym+offset`, indented.
    Bpftrace,
    /// A tab, the address in hex, then `sym+offset` (and the object for a
    /// user frame), as `perf script` shows them.
    Perf,
    /// The address in hex only.
    Raw,
}

impl StackMode {
    pub fn from_name(name: &str) -> Option<StackMode> {
        Some(match name {
            "bpftrace" => StackMode::Bpftrace,
            "perf" => StackMode::Perf,
            "raw" => StackMode::Raw,
            _ => return None,
        })
    }
}

impl StackType {
    /// bpftrace's default depth, which is also the kernel's default
    /// `kernel.perf_event_max_stack`.
    pub const DEFAULT_LIMIT: u32 = 127;
    /// The most frames bpftrace accepts.
    pub const MAX_LIMIT: u32 = 1024;
}

/// Which clock a `strftime()` timestamp counts on, so userspace knows what
/// to add to reach the epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimestampClock {
    /// Since boot (`nsecs`, `nsecs(boot)`): userspace adds the boot time.
    Boot,
    /// Since the epoch (`nsecs(tai)`, `nsecs(sw_tai)`): printed as is.
    Epoch,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    /// No value (`printf(…)`, `exit()`).
    Void,
    Int(IntType),
    /// The result of a comparison or `!`; stored as 0/1 in 8 bytes.
    Bool,
    /// A NUL-terminated string in a buffer of `cap` bytes (NUL included).
    Str { cap: u32 },
    /// An IPv4 or IPv6 address with its family (`ntop()`, `saddr` in tc
    /// probes); printed as an address.
    Inet,
    /// A pointer to a value of the boxed type, in kernel or user memory.
    Pointer(Box<Type>, AddrSpace),
    Record(RecordType),
    Array { elem: Box<Type>, len: u32 },
    Tuple(Vec<Type>),
    /// What a map holds after `count()`, `hist()`, … .
    Agg(AggKind),
    /// The probe name (`probe`) or kernel function (`func`): a string chosen in
    /// userspace, carried as an index.
    ProbeName,
    /// A cgroup id that user space names when the value is printed
    /// (`cgroup_path()`, `pod()`, `container()`); 8 bytes, the id itself.
    CgroupName(CgroupView),
    /// `args` in tracepoint, rawtracepoint and fentry probes: only its fields are
    /// values.
    Args,
    Rendered(Rendered),
}

/// Which name of a cgroup a [`Type::CgroupName`] value prints as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum CgroupView {
    /// bpftrace's `cgroup_path(id, filter)`: the path in each hierarchy whose
    /// name (`unified` for cgroup v2) matches the wildcard `filter`.
    Path { filter: String },
    /// The Kubernetes pod as `namespace/name`.
    Pod,
    /// The container id.
    Container,
}

impl Type {
    pub const U64: Type = Type::Int(IntType::U64);
    pub const I64: Type = Type::Int(IntType::I64);

    /// A pointer to kernel memory.
    pub fn ptr(to: Type) -> Type {
        Type::Pointer(Box::new(to), AddrSpace::Kernel)
    }

    /// The same type with every pointer in it (a pointer's pointee included)
    /// pointing to user memory: `const char *const *argv` in a syscall.
    pub fn in_user_memory(self) -> Type {
        match self {
            Type::Pointer(to, _) => Type::Pointer(Box::new(to.in_user_memory()), AddrSpace::User),
            other => other,
        }
    }

    pub fn is_integer(&self) -> bool {
        matches!(self, Type::Int(_) | Type::Bool)
    }

    pub fn is_pointer(&self) -> bool {
        matches!(self, Type::Pointer(..))
    }

    /// Integers, booleans and pointers: values that fit a register.
    pub fn is_scalar(&self) -> bool {
        matches!(self, Type::Int(_) | Type::Bool | Type::Pointer(..))
    }

    /// Values carried as an 8-byte id that user space turns into text
    /// (`probe`, `cgroup_path()`): copied like integers, printed as names.
    pub fn is_named_id(&self) -> bool {
        matches!(self, Type::ProbeName | Type::CgroupName(_))
    }

    pub fn int(&self) -> Option<IntType> {
        match self {
            Type::Int(t) => Some(*t),
            Type::Bool => Some(IntType::U64),
            Type::Pointer(..) => Some(IntType::U64),
            _ => None,
        }
    }
}

impl AggKind {
    /// The function that produces this kind of value (`count`, `hist`, …).
    pub fn func_name(self) -> &'static str {
        match self {
            AggKind::Count => "count",
            AggKind::Sum { .. } => "sum",
            AggKind::Min { .. } => "min",
            AggKind::Max { .. } => "max",
            AggKind::Avg { .. } => "avg",
            AggKind::Stats { .. } => "stats",
            AggKind::Hist => "hist",
            AggKind::Lhist { .. } => "lhist",
            AggKind::Tseries { .. } => "tseries",
        }
    }
}

impl fmt::Display for AggKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}_t", self.func_name())
    }
}

/// Written the way a user would write the type (used in messages and `-d types`).
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Void => write!(f, "void"),
            Type::Int(t) => write!(f, "{}int{}", if t.signed { "" } else { "u" }, t.bits),
            Type::Bool => write!(f, "bool"),
            Type::Str { cap } => write!(f, "string[{cap}]"),
            Type::Inet => write!(f, "inet"),
            Type::Pointer(to, _) => write!(f, "{to} *"),
            Type::Record(r) => {
                let kw = if r.is_union { "union" } else { "struct" };
                if r.name.is_empty() {
                    write!(f, "{kw} <anon>")
                } else {
                    write!(f, "{kw} {}", r.name)
                }
            }
            Type::Array { elem, len } => write!(f, "{elem}[{len}]"),
            Type::Tuple(items) => {
                write!(f, "(")?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{t}")?;
                }
                write!(f, ")")
            }
            Type::Agg(a) => write!(f, "{a}"),
            Type::ProbeName => write!(f, "probe"),
            Type::CgroupName(CgroupView::Path { .. }) => write!(f, "cgroup_path_t"),
            Type::CgroupName(CgroupView::Pod) => write!(f, "pod_t"),
            Type::CgroupName(CgroupView::Container) => write!(f, "container_t"),
            Type::Args => write!(f, "args"),
            Type::Rendered(r) => write!(f, "{r}"),
        }
    }
}

impl fmt::Display for Rendered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rendered::Username => write!(f, "username"),
            Rendered::Timestamp { .. } => write!(f, "timestamp"),
            Rendered::MacAddr => write!(f, "macaddr_t"),
            Rendered::Buffer { cap } => write!(f, "buffer[{cap}]"),
            Rendered::Stack(s) => write!(f, "{}", if s.user { "ustack" } else { "kstack" }),
            Rendered::Ksym => write!(f, "ksym_t"),
            Rendered::Strerror => write!(f, "strerror_t"),
            Rendered::SyscallName => write!(f, "syscall_name_t"),
            Rendered::SignalName => write!(f, "signal_name_t"),
            Rendered::Usym => write!(f, "usym_t"),
            Rendered::EnumName { name, .. } => write!(f, "enum {name}"),
        }
    }
}
