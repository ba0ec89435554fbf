//! What the type checker asks of the running kernel: BTF types, enum constants,
//! tracepoint formats, function prototypes and the lists that wildcards match.
//! The checker sees only this trait; `flowtrace-codegen`'s BTF reader implements
//! it for real kernels, and tests implement it with small fakes.

use crate::types::{RecordType, Type};

/// The keyword written before a type name in a cast.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeKeyword {
    Struct,
    Union,
    Enum,
    /// No keyword: a typedef name.
    Typedef,
}

/// A struct/union member, resolved through any anonymous structs and unions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub ty: Type,
    /// Offset from the start of the record, in bits.
    pub offset_bits: u32,
    /// Width in bits for a bitfield; `None` for a whole member.
    pub bitfield_bits: Option<u8>,
}

impl Member {
    /// Byte offset of a non-bitfield member.
    pub fn offset(&self) -> u32 {
        self.offset_bits / 8
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnumConstant {
    pub name: String,
    pub value: i64,
    /// The enum's name (`tcp_state` or empty).
    pub enum_name: String,
}

/// One field of a tracepoint's `args`, from tracefs `format`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TracepointField {
    pub name: String,
    /// Integers, `Str` for `char[N]` arrays and `__data_loc char[]`, arrays,
    /// pointers (to BTF types where the C type names one).
    pub ty: Type,
    /// Byte offset in the tracepoint context (the 8-byte common header included).
    pub offset: u32,
    pub size: u32,
    /// `__data_loc`: the field holds a u32 (offset | len << 16) to the data.
    pub data_loc: bool,
    /// `enum NAME`: the enum the field's value is one of (its `ty` is an
    /// integer); a map key of it prints the enumerator's name.
    pub enum_name: Option<String>,
}

/// A kernel function's prototype from BTF (for `fentry`/`fexit` and to check
/// that a kprobe target exists).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncProto {
    pub name: String,
    pub params: Vec<(String, Type)>,
    pub ret: Type,
}

pub trait KernelTypes {
    /// A named type: `struct sock`, `union bpf_attr`, `enum tcp_state`, a typedef.
    fn find_type(&self, keyword: TypeKeyword, name: &str) -> Option<Type>;

    /// A member of a record, looked up through anonymous members.
    fn member(&self, record: &RecordType, name: &str) -> Option<Member>;

    /// The names [`Self::member`] would accept (for "did you mean").
    fn member_names(&self, record: &RecordType) -> Vec<String>;

    /// An enumerator of any BTF enum (`TCP_ESTABLISHED`).
    fn enum_constant(&self, name: &str) -> Option<EnumConstant>;

    /// Enumerator names close to `name` (for "did you mean"): implementations
    /// may search however they like.
    fn similar_enum_constants(&self, name: &str) -> Vec<String>;

    /// The tracepoint's fields, or a message saying why they cannot be read
    /// (tracefs not mounted: say how to mount it; no such tracepoint).
    fn tracepoint_fields(&self, category: &str, name: &str) -> Result<Vec<TracepointField>, String>;

    /// Tracepoints matching `category:name` globs, as (category, name).
    fn match_tracepoints(&self, category: &str, name: &str) -> Vec<(String, String)>;

    /// A kernel function's prototype.
    fn function(&self, name: &str) -> Option<FuncProto>;

    /// Kernel functions matching a glob (for `kprobe:tcp_*`).
    fn match_functions(&self, pattern: &str) -> Vec<String>;

    /// The enumerators of `enum NAME` (value, name), for printing a value of
    /// it by name; empty when the enum is unknown.
    fn enum_variants(&self, _enum_name: &str) -> Vec<(i64, String)> {
        Vec::new()
    }

    /// A kernel variable (`percpu_kaddr("runqueues")`): its BTF id and type.
    fn kernel_var(&self, _name: &str) -> Option<(u32, Type)> {
        None
    }

    /// Host facts a script reads when it is compiled. The defaults say the
    /// host cannot be asked (fakes for the checker's tests override them).
    fn host(&self) -> &dyn HostFacts {
        &NoHost
    }
}

/// What `ncpus`, `cgroupid("…")` and `nsecs(sw_tai)` ask of the machine at
/// compile time, behind one trait so the checker stays testable.
pub trait HostFacts {
    /// Online CPUs (`ncpus`).
    fn online_cpus(&self) -> Result<u64, String>;
    /// The cgroup v2 id of the cgroup directory `path` (its inode number).
    fn cgroup_id(&self, path: &str) -> Result<u64, String>;
    /// CLOCK_TAI minus CLOCK_BOOTTIME now, for `nsecs(sw_tai)`.
    fn tai_minus_boot_ns(&self) -> Result<u64, String>;
    /// Whether /proc/kallsyms has an address for `name`: the verifier
    /// resolves `percpu_kaddr()`'s variable through it, and a kernel built
    /// without CONFIG_KALLSYMS_ALL lists no data symbols. `None`: unknown.
    fn kernel_symbol_exists(&self, _name: &str) -> Option<bool> {
        None
    }
    /// The path of a uprobe's binary: a path as given (it must be an ELF
    /// file), or a library or program name looked up as bpftrace does.
    fn user_binary(&self, name: &str) -> Result<String, String> {
        Err(format!("cannot look up the binary '{name}' here"))
    }
    /// The ELF files process `pid` has mapped (its program and libraries).
    fn mapped_binaries(&self, pid: u32) -> Result<Vec<String>, String> {
        Err(format!("cannot read the mappings of process {pid} here"))
    }
    /// The symbols of `binary` matching the glob `pattern` (functions
    /// only, or variables too).
    fn user_symbols(&self, binary: &str, _pattern: &str, _functions_only: bool) -> Result<Vec<UserSymbol>, String> {
        Err(format!("cannot read the symbols of '{binary}' here"))
    }
    /// The USDT probe sites of `binary` whose provider and name match the globs.
    fn usdt_probes(&self, binary: &str, _provider: &str, _name: &str) -> Result<Vec<UsdtProbe>, String> {
        Err(format!("cannot read the USDT notes of '{binary}' here"))
    }
    /// The address /proc/kallsyms gives `name` (`kaddr("…")`): `Ok(None)`
    /// when it lists no such symbol, `Err` when it cannot be read.
    fn kernel_symbol_address(&self, _name: &str) -> Result<Option<u64>, String> {
        Err("kernel symbols cannot be looked up here".into())
    }
}

/// A symbol an ELF binary defines (`uprobe:` functions, `uaddr()`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserSymbol {
    pub name: String,
    /// The virtual address the ELF file gives it.
    pub address: u64,
    pub size: u64,
    /// A function (`STT_FUNC`), not a variable.
    pub function: bool,
}

/// A USDT probe site of a binary, from its `.note.stapsdt` notes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsdtProbe {
    pub provider: String,
    pub name: String,
    /// The site, or why its argument specs cannot be decoded (an error only
    /// when a script attaches to this probe).
    pub site: Result<crate::ast::UsdtSite, String>,
}

/// A host that cannot be asked.
pub struct NoHost;

impl HostFacts for NoHost {
    fn online_cpus(&self) -> Result<u64, String> {
        Err("the number of CPUs is not known here".into())
    }
    fn cgroup_id(&self, _path: &str) -> Result<u64, String> {
        Err("cgroups cannot be looked up here".into())
    }
    fn tai_minus_boot_ns(&self) -> Result<u64, String> {
        Err("the clocks cannot be read here".into())
    }
}
