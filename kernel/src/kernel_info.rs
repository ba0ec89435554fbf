//! The running kernel's types, as the checker asks for them: BTF from
//! `/sys/kernel/btf/vmlinux` (or `$FLOWTRACE_BTF`) plus tracepoint formats
//! from tracefs. See [`crate::btf::resolve`] and [`crate::tracefs`] for how
//! kernel types map onto [`Type`].

use std::path::{Path, PathBuf};

use flowtrace_lang::kernel::{
    EnumConstant, FuncProto, KernelTypes, Member, TracepointField, TypeKeyword,
};
use flowtrace_lang::types::{RecordType, Type};

use crate::btf::{Btf, BtfError, Kind};
use crate::glob::{closest, glob_match_bytes, is_glob};
use crate::tracefs::{self, Tracefs};

/// Where vmlinux BTF is read from unless `FLOWTRACE_BTF` names another file.
pub const DEFAULT_BTF_PATH: &str = "/sys/kernel/btf/vmlinux";

/// How many "did you mean" names to offer.
const HINTS: usize = 5;

pub struct KernelInfo {
    btf: Btf,
    tracefs: Tracefs,
    /// FUNC name → first id, built once many functions are looked up (a
    /// wildcard checks hundreds; each scan of ~60k FUNCs costs ~1 ms, ten
    /// times that under emulation).
    funcs: std::sync::OnceLock<std::collections::HashMap<Vec<u8>, crate::btf::TypeId>>,
    func_lookups: std::sync::atomic::AtomicU32,
}

impl KernelInfo {
    /// The host kernel: `$FLOWTRACE_BTF` or [`DEFAULT_BTF_PATH`], tracefs at
    /// its usual places.
    pub fn open_default() -> Result<KernelInfo, BtfError> {
        let path = std::env::var_os("FLOWTRACE_BTF")
            .map_or_else(|| PathBuf::from(DEFAULT_BTF_PATH), PathBuf::from);
        KernelInfo::from_btf_file(&path)
    }

    pub fn from_btf_file(path: &Path) -> Result<KernelInfo, BtfError> {
        Ok(KernelInfo::from_btf(Btf::from_file(path)?))
    }

    pub fn from_btf_bytes(bytes: Vec<u8>) -> Result<KernelInfo, BtfError> {
        Ok(KernelInfo::from_btf(Btf::from_bytes(bytes)?))
    }

    pub fn from_btf(btf: Btf) -> KernelInfo {
        KernelInfo {
            btf,
            tracefs: Tracefs::default(),
            funcs: std::sync::OnceLock::new(),
            func_lookups: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// Reads tracepoint formats under `root` instead of the default mounts
    /// (tests point this at a directory of hand-written format files).
    pub fn with_tracefs_root(mut self, root: impl Into<PathBuf>) -> KernelInfo {
        self.tracefs = Tracefs::new(Some(root.into()));
        self
    }

    /// `Btf::find_func`, through a name index after the first few lookups.
    pub fn find_func(&self, name: &str) -> Option<crate::btf::TypeId> {
        use std::sync::atomic::Ordering;
        if self.funcs.get().is_none() && self.func_lookups.fetch_add(1, Ordering::Relaxed) < 8 {
            return self.btf.find_func(name);
        }
        let index = self.funcs.get_or_init(|| {
            let mut index = std::collections::HashMap::new();
            for id in self.btf.ids_of_kind(Kind::Func) {
                if let Some(t) = self.btf.get(id) {
                    index.entry(self.btf.string_bytes(t.name_off()).to_vec()).or_insert(id);
                }
            }
            index
        });
        index.get(name.as_bytes()).copied()
    }

    pub fn btf(&self) -> &Btf {
        &self.btf
    }

    pub fn tracefs(&self) -> &Tracefs {
        &self.tracefs
    }

    /// A typedef, or failing that a base type of that name (`int`,
    /// `unsigned int`), so tracepoint pointer types resolve either way.
    fn typedef_or_base(&self, name: &str) -> Option<Type> {
        let id = self
            .btf
            .find_named(Kind::Typedef, name)
            .or_else(|| self.btf.find_named(Kind::Int, name))?;
        Some(self.btf.lang_type(id))
    }
}

impl KernelTypes for KernelInfo {
    fn host(&self) -> &dyn flowtrace_lang::kernel::HostFacts {
        &crate::host::ThisHost
    }

    fn enum_variants(&self, enum_name: &str) -> Vec<(i64, String)> {
        let Some(t) = self.btf.find_enum(enum_name).and_then(|id| self.btf.get(id)) else { return Vec::new() };
        t.enum_values().map(|(name_off, value)| (value, self.btf.string(name_off).to_owned())).collect()
    }

    fn kernel_var(&self, name: &str) -> Option<(u32, Type)> {
        let id = self.btf.find_named(crate::btf::Kind::Var, name)?;
        let ty = self.btf.get(id)?.size_or_type();
        Some((id, self.btf.lang_type(ty)))
    }

    fn find_type(&self, keyword: TypeKeyword, name: &str) -> Option<Type> {
        let id = match keyword {
            TypeKeyword::Struct => self.btf.find_record(name, false)?,
            TypeKeyword::Union => self.btf.find_record(name, true)?,
            TypeKeyword::Enum => self.btf.find_enum(name)?,
            TypeKeyword::Typedef => return self.typedef_or_base(name),
        };
        Some(self.btf.lang_type(id))
    }

    fn member(&self, record: &RecordType, name: &str) -> Option<Member> {
        self.btf.member(record.btf_id, name)
    }

    fn member_names(&self, record: &RecordType) -> Vec<String> {
        self.btf.member_names(record.btf_id)
    }

    fn enum_constant(&self, name: &str) -> Option<EnumConstant> {
        let found = self.btf.find_enumerator(name)?;
        let enum_name = self
            .btf
            .get(found.enum_id)
            .map(|t| t.name().to_owned())
            .unwrap_or_default();
        Some(EnumConstant {
            name: name.to_owned(),
            value: found.value,
            enum_name,
        })
    }

    fn similar_enum_constants(&self, name: &str) -> Vec<String> {
        // Pre-filter cheaply on length or containment so the edit distance
        // runs on a few hundred of vmlinux's ~40k enumerators, not all.
        let len = name.len();
        let names = self
            .btf
            .enumerator_names(|n| n.len().abs_diff(len) <= 3 || n.contains(name));
        closest(name, names.iter().map(String::as_str), HINTS)
    }

    fn tracepoint_fields(
        &self,
        category: &str,
        name: &str,
    ) -> Result<Vec<TracepointField>, String> {
        let text = self.tracefs.read_format(category, name)?;
        let resolve = |keyword: TypeKeyword, name: &str| self.find_type(keyword, name);
        let fields: Vec<TracepointField> = tracefs::parse_format(&text)
            .iter()
            .map(|f| tracefs::tracepoint_field(f, &resolve))
            .collect();
        if fields.is_empty() && !text.contains("field:") {
            return Err(format!(
                "the format of tracepoint `{category}:{name}` has no fields"
            ));
        }
        Ok(fields)
    }

    fn match_tracepoints(&self, category: &str, name: &str) -> Vec<(String, String)> {
        self.tracefs.matching(category, name)
    }

    fn function(&self, name: &str) -> Option<FuncProto> {
        self.btf.func_proto(self.find_func(name)?)
    }

    fn match_functions(&self, pattern: &str) -> Vec<String> {
        if !is_glob(pattern) {
            return self
                .btf
                .find_func(pattern)
                .map(|_| vec![pattern.to_owned()])
                .unwrap_or_default();
        }
        self.btf
            .func_names(|n| glob_match_bytes(pattern.as_bytes(), n))
    }
}
