//! Programs compiled from source against the host kernel (its BTF and
//! tracefs) and loaded with the production loader, [`Loaded::load`] — the
//! same path the `flowtrace` binary takes — so a test of generated code also
//! tests the loader. [`MapBytes`] reads maps back as the kernel holds them
//! (through `flowtrace_runtime::sys`), for tests that check the layout of
//! keys and values; tests of what a user sees read `Loaded::maps()` snapshots.

use aya::programs::{RawTracePoint, RawTracePointRunOptions, SchedClassifier, TestRun, TestRunOptions};
use flowtrace_codegen::object::{BpfMapType, CompiledProgram, MapRole};
use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_lang::diag::render_all;
use flowtrace_lang::typed::TypedProgram;
use flowtrace_lang::{CheckOptions, Source};
use flowtrace_runtime::maps::Maps;
use flowtrace_runtime::{sys, Loaded, RuntimeError};
use std::sync::OnceLock;

/// The host kernel's types, opened once per test binary.
pub fn host_kernel() -> &'static KernelInfo {
    static K: OnceLock<KernelInfo> = OnceLock::new();
    K.get_or_init(|| KernelInfo::open_default().expect("host BTF"))
}

pub fn typed(text: &str) -> TypedProgram {
    typed_with(text, &CheckOptions::default())
}

/// Parse and check against the host kernel, or panic with the diagnostics
/// rendered against the source.
pub fn typed_with(text: &str, options: &CheckOptions) -> TypedProgram {
    let source = Source::new("test.ft", text);
    let ast = flowtrace_lang::parse(&source).unwrap_or_else(|d| panic!("parse:\n{}", render_all(&d, &source)));
    flowtrace_lang::check(&ast, host_kernel(), options).unwrap_or_else(|d| panic!("check:\n{}", render_all(&d, &source)))
}

/// Compile or panic with the diagnostics rendered against the source.
pub fn compiled(text: &str) -> CompiledProgram {
    compiled_with(text, &CheckOptions::default())
}

/// Like [`compiled`], with checker options (`str()` sizes). Maps are not
/// fused (codegen's fuse.rs): tests that read a map's bytes by name see
/// each map's own layout; [`compiled_opts`] fuses.
pub fn compiled_with(text: &str, options: &CheckOptions) -> CompiledProgram {
    let opts = flowtrace_codegen::CompileOptions { fuse: false, ..Default::default() };
    compiled_opts(text, options, &opts)
}

/// Like [`compiled_with`], with compile options too.
pub fn compiled_opts(text: &str, options: &CheckOptions, compile: &flowtrace_codegen::CompileOptions) -> CompiledProgram {
    let typed = typed_with(text, options);
    let source = Source::new("test.ft", text);
    flowtrace_codegen::compile(&typed, compile).unwrap_or_else(|d| panic!("compile:\n{}", render_all(&d, &source)))
}

/// A runtime error for a test failure message: a verifier rejection with
/// the last 60 lines of its log (the runtime's own message keeps 3).
pub fn describe(e: &RuntimeError) -> String {
    match e {
        RuntimeError::Verifier(v) => {
            format!("program {} rejected: {}\n--- verifier log (tail) ---\n{}", v.name, v.errno, v.tail(60).join("\n"))
        }
        other => other.to_string(),
    }
}

/// A compiled program in the kernel, loaded by [`Loaded::load`]; nothing is
/// attached until [`TestProgram::attach_all`].
pub struct TestProgram {
    pub compiled: CompiledProgram,
    pub loaded: Loaded,
}

impl TestProgram {
    /// Loads (verifies) every program; the error carries the verifier log.
    pub fn load(compiled: CompiledProgram) -> Result<TestProgram, String> {
        let loaded = Loaded::load(&compiled).map_err(|e| describe(&e))?;
        Ok(TestProgram { compiled, loaded })
    }

    /// Compiles `text` and loads it, or panics with the reason.
    pub fn from_source(text: &str) -> TestProgram {
        TestProgram::load(compiled(text)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Attaches every probe but BEGIN/END, or panics.
    pub fn attach_all(&mut self) {
        self.loaded.attach_all().unwrap_or_else(|e| panic!("attach: {e}"));
    }

    /// Runs a raw-tracepoint program (BEGIN/END are) once with
    /// `BPF_PROG_TEST_RUN`; returns its return value.
    pub fn run_raw_tp(&self, index: usize) -> Result<u32, String> {
        let prog: &RawTracePoint = self.program(index)?.try_into().map_err(|e| format!("program #{index}: {e}"))?;
        let result = prog.test_run(RawTracePointRunOptions::new()).map_err(|e| format!("test run: {e}"))?;
        Ok(result.return_value)
    }

    /// Runs a sched_cls (tc) program once on `packet`; returns its verdict.
    /// An error when the kernel refuses the packet (too short for its
    /// ethertype, for one).
    pub fn run_skb(&self, index: usize, packet: &[u8]) -> Result<u32, String> {
        let prog: &SchedClassifier = self.program(index)?.try_into().map_err(|e| format!("program #{index}: {e}"))?;
        let mut out = vec![0u8; packet.len() + 256];
        let opts = TestRunOptions { data_in: Some(packet), data_out: Some(&mut out), ..TestRunOptions::new() };
        let result = prog.test_run(opts).map_err(|e| format!("test run: {e}"))?;
        Ok(result.return_value)
    }

    fn program(&self, index: usize) -> Result<&aya::programs::Program, String> {
        self.loaded.program(index).map_err(|e| e.to_string())
    }

    pub fn maps(&self) -> MapBytes<'_> {
        MapBytes { compiled: &self.compiled, maps: self.loaded.maps() }
    }
}

/// A loaded program's maps by user name (`@name` without the `@`), read as
/// the bytes the kernel holds.
pub struct MapBytes<'a> {
    pub compiled: &'a CompiledProgram,
    pub maps: &'a Maps,
}

fn is_per_cpu(t: BpfMapType) -> bool {
    matches!(t, BpfMapType::PercpuHash | BpfMapType::PercpuArray | BpfMapType::LruPercpuHash)
}

impl MapBytes<'_> {
    fn index(&self, name: &str) -> usize {
        self.compiled
            .maps
            .iter()
            .position(|m| matches!(&m.role, MapRole::User { name: n, .. } if n == name))
            .unwrap_or_else(|| panic!("no map @{name}"))
    }

    /// The value bytes at `key` of the map at `index`: every CPU's copy, each
    /// padded to 8 bytes, for a per-CPU map.
    fn lookup(&self, index: usize, key: &[u8]) -> Option<Vec<u8>> {
        let spec = &self.compiled.maps[index];
        let size = if is_per_cpu(spec.map_type) {
            spec.value_size.div_ceil(8) as usize * 8 * sys::possible_cpus().expect("possible CPUs")
        } else {
            spec.value_size as usize
        };
        let mut value = vec![0u8; size];
        let fd = self.maps.fd(index).unwrap_or_else(|e| panic!("{e}"));
        sys::map_lookup(fd, key, &mut value).unwrap_or_else(|e| panic!("lookup in {}: {e}", spec.name)).then_some(value)
    }

    /// Per-CPU value words, one vector per possible CPU (min/max do not sum).
    fn per_cpu_at(&self, index: usize, key: &[u8]) -> Option<Vec<Vec<u64>>> {
        let spec = &self.compiled.maps[index];
        assert!(is_per_cpu(spec.map_type), "{} is not a per-CPU map", spec.name);
        let raw = self.lookup(index, key)?;
        let stride = spec.value_size.div_ceil(8) as usize * 8;
        Some(raw.chunks(stride).map(|cpu| words(&cpu[..spec.value_size as usize])).collect())
    }

    /// The value words of `@name[key]`, summed over CPUs for per-CPU maps.
    pub fn words(&self, name: &str, key: &[u8]) -> Option<Vec<u64>> {
        let i = self.index(name);
        if !is_per_cpu(self.compiled.maps[i].map_type) {
            return self.lookup(i, key).map(|b| words(&b));
        }
        let per_cpu = self.per_cpu_at(i, key)?;
        let mut sum = vec![0u64; per_cpu[0].len()];
        for cpu in per_cpu {
            for (s, w) in sum.iter_mut().zip(cpu) {
                *s = s.wrapping_add(w);
            }
        }
        Some(sum)
    }

    /// Per-CPU value words of `@name[key]`.
    pub fn per_cpu(&self, name: &str, key: &[u8]) -> Option<Vec<Vec<u64>>> {
        self.per_cpu_at(self.index(name), key)
    }

    /// The value bytes of a map that is not per-CPU.
    pub fn raw(&self, name: &str, key: &[u8]) -> Option<Vec<u8>> {
        self.lookup(self.index(name), key)
    }

    /// `@name` (a scalar map) as one signed word.
    pub fn scalar(&self, name: &str) -> i64 {
        self.words(name, &0u64.to_le_bytes()).unwrap_or_else(|| panic!("@{name} is empty"))[0] as i64
    }

    pub fn keys(&self, name: &str) -> Vec<Vec<u8>> {
        let i = self.index(name);
        let fd = self.maps.fd(i).unwrap_or_else(|e| panic!("{e}"));
        sys::map_keys(fd, self.compiled.maps[i].key_size as usize).unwrap_or_else(|e| panic!("keys of @{name}: {e}"))
    }

    /// The stats map's counters (failed updates per user map, then lost
    /// events), summed over CPUs.
    pub fn stats(&self) -> Vec<u64> {
        let i = self.compiled.maps.iter().position(|m| matches!(m.role, MapRole::Stats)).expect("a stats map");
        let n = self.compiled.maps[i].max_entries;
        (0..n)
            .map(|slot| {
                let per_cpu = self.per_cpu_at(i, &slot.to_le_bytes()).expect("stats slots always exist");
                per_cpu.iter().fold(0u64, |sum, cpu| sum.wrapping_add(cpu[0]))
            })
            .collect()
    }
}

/// Little-endian u64 words of `bytes` (a multiple of 8 long).
fn words(bytes: &[u8]) -> Vec<u64> {
    bytes.chunks(8).map(|c| u64::from_le_bytes(c.try_into().expect("values are whole words"))).collect()
}

/// A string key/value slot: the bytes, zero-padded to `size`.
pub fn str_bytes(s: &str, size: usize) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    b.resize(size, 0);
    b
}
