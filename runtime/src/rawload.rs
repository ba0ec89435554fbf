//! Loading without aya's ELF loader. `EbpfLoader::new()` always reads and
//! parses the kernel's BTF (~25 ms of a ~28 ms load in a release build, here),
//! although a flowtrace object has no BTF relocations to apply. So maps are
//! created and programs verified with plain bpf(2) calls, and the results are
//! handed to aya's program and map types (`from_program_info`, `Map::from_fd`)
//! for attaching and reading. fentry/fexit too: they are bound at load time to
//! the traced function's BTF id, which flowtrace's own BTF reader finds
//! ([`crate::attach::fentry::btf_id`]); so an interactive session can load an
//! fentry entry against the maps earlier entries created, exactly as a script
//! loads it (aya's loader would create maps of its own).

use crate::error::{failing_insn, RuntimeError, VerifierError};
use crate::sys;
use aya::maps::{Map, MapData};
use aya::programs::{Program, ProgramInfo};
use flowtrace_codegen::insn::{encode_all, BPF_PSEUDO_MAP_FD};
use flowtrace_codegen::object::{BpfMapType, CompiledProgram, MapSpec, ProgramCode, ProgramKind};
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};

/// Whether every program can be loaded this way (all kinds can now; aya's
/// loader stays for comparison in tests).
pub(crate) fn supports(_compiled: &CompiledProgram) -> bool {
    true
}

fn kernel(what: String) -> impl FnOnce(std::io::Error) -> RuntimeError {
    move |error| RuntimeError::Kernel { what, error }
}

/// A ring buffer's size must be a power-of-two multiple of the page size.
fn ring_size(requested: u32) -> u32 {
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as u32;
    requested.max(page).div_ceil(page).next_power_of_two() * page
}

pub(crate) fn create_map(spec: &MapSpec) -> Result<OwnedFd, RuntimeError> {
    let max_entries = match spec.map_type {
        BpfMapType::RingBuf => ring_size(spec.max_entries),
        _ => spec.max_entries,
    };
    sys::map_create(&spec.name, spec.map_type as u32, spec.key_size, spec.value_size, max_entries).map_err(|error| {
        // The first bpf(2) call a run makes: EPERM here is the missing capability.
        let what = match error.raw_os_error() {
            Some(libc::EPERM) => format!("creating map {} (BPF needs CAP_BPF, or CAP_SYS_ADMIN on kernels before 5.8)", spec.name),
            _ => format!("creating map {}", spec.name),
        };
        RuntimeError::Kernel { what, error }
    })
}

/// For a program serving several kprobe functions on a kernel with
/// kprobe.multi: its relocated instructions, loaded with the kprobe.multi
/// attach type, kept to load it again as a plain kprobe program if the
/// kernel refuses the link (see `attach::kprobe_multi`).
pub(crate) type MultiBytes = Option<Vec<u8>>;

/// A loaded program's aya handle and, when loaded for kprobe.multi, its bytes.
pub(crate) type LoadedProgram = (Program, MultiBytes);

fn load_program(index: usize, p: &ProgramCode, map_fds: &[BorrowedFd<'_>]) -> Result<(OwnedFd, MultiBytes), RuntimeError> {
    let mut insns = p.insns.clone();
    for &(at, map) in &p.map_relocs {
        let fd = map_fds.get(map.0 as usize).map(|f| f.as_raw_fd());
        match (fd, at + 1 < insns.len()) {
            (Some(fd), true) => {
                insns[at].src = BPF_PSEUDO_MAP_FD;
                insns[at].imm = fd;
                insns[at + 1].imm = 0;
            }
            _ => return Err(RuntimeError::Elf(format!("program {}: bad map relocation at {at}", p.name))),
        }
    }
    let bytes = encode_all(&insns);
    // A kprobe.multi program refused at attach time is loaded again without
    // its BTF (`load::attach_group`): one with callbacks is attached per
    // function instead.
    let multi = !p.members.is_empty() && p.btf.is_none() && crate::attach::capabilities::kprobe_multi_available();
    let (attach_type, btf_id) = match p.kind {
        ProgramKind::Fentry | ProgramKind::Fexit => {
            let func = p.attach.kind.function().unwrap_or_default();
            let id = crate::attach::fentry::btf_id(func).map_err(RuntimeError::Load)?;
            (crate::attach::fentry::attach_type(p.kind), id)
        }
        ProgramKind::Iter => {
            let id = crate::attach::iter::btf_id(&p.attach).map_err(RuntimeError::Load)?;
            (crate::attach::iter::BPF_TRACE_ITER, id)
        }
        _ if multi => (crate::sys_links::BPF_TRACE_KPROBE_MULTI, 0),
        _ => (0, 0),
    };
    let btf_fd = match &p.btf {
        Some(btf) => Some(sys::btf_load(&btf.blob).map_err(|e| RuntimeError::Load(format!("program {}: loading its BTF: {}: {}", p.name, e.error, e.log.trim())))?),
        None => None,
    };
    let prog_btf = btf_fd.as_ref().zip(p.btf.as_ref()).map(|(fd, b)| sys::ProgBtf { fd: fd.as_fd(), func_info: &b.func_info });
    let fd = sys::prog_load_full(&p.name, p.kind.bpf_prog_type(), attach_type, btf_id, &bytes, prog_btf.as_ref()).map_err(|e| {
        RuntimeError::Verifier(VerifierError {
            program: index,
            name: p.name.clone(),
            errno: e.error.to_string(),
            insn: failing_insn(&e.log),
            log: e.log,
        })
    })?;
    Ok((fd, multi.then_some(bytes)))
}

/// aya builds a program handle from an fd only by way of a `ProgramInfo`,
/// which it hands out through its listing of every loaded program (one pass
/// finds ours) — or from a bpffs pin. Both the listing and the handle it
/// gives (`BPF_PROG_GET_NEXT_ID`, `BPF_PROG_GET_FD_BY_ID`) need
/// CAP_SYS_ADMIN; without it the listing is empty and [`pinned_handle`]
/// makes the handle instead.
fn program_infos(ids: &[u32]) -> HashMap<u32, ProgramInfo> {
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter(|info| ids.contains(&info.id()))
        .map(|info| (info.id(), info))
        .collect()
}

/// Where programs are pinned for a moment when aya cannot be given their fd
/// otherwise: flowtrace's own directory on bpffs if there is one (the
/// DaemonSet mounts only that one writable, the rest of bpffs read-only),
/// else the conventional bpffs mount itself.
const BPFFS: &str = "/sys/fs/bpf";
const BPFFS_OWN: &str = "/sys/fs/bpf/flowtrace";

fn pin_dir() -> &'static std::path::Path {
    let own = std::path::Path::new(BPFFS_OWN);
    if own.is_dir() { own } else { std::path::Path::new(BPFFS) }
}

/// aya's handle for the program `fd` without CAP_SYS_ADMIN: pinned on
/// bpffs (no capability needed, only a writable directory), opened again by
/// path (`BPF_OBJ_GET`, no capability either), and unpinned at once, so the
/// program still lives exactly as long as its handle.
fn pinned_handle(p: &ProgramCode, fd: BorrowedFd<'_>, id: u32) -> Result<Program, RuntimeError> {
    let path = pin_dir().join(format!("flowtrace-load-{}-{id}", std::process::id()));
    sys::obj_pin(fd, &path).map_err(|e| {
        RuntimeError::Load(format!(
            "program {}: aya can take a loaded program only by id (BPF_PROG_GET_FD_BY_ID, which needs CAP_SYS_ADMIN) \
             or from a pin, and pinning it at {} failed: {e}; run with CAP_SYS_ADMIN or make {BPFFS_OWN} (or {BPFFS}) a writable bpffs directory",
            p.name,
            path.display()
        ))
    })?;
    let handle = crate::attach::from_pinned(p.kind, &path);
    let _ = std::fs::remove_file(&path);
    handle.map_err(|e| RuntimeError::Load(format!("program {}: {}", p.name, crate::attach::error_chain(&e))))
}

/// Creates every map and loads every program; returns aya handles indexed
/// like `compiled.maps` and `compiled.programs`.
pub(crate) fn load(compiled: &CompiledProgram) -> Result<(Vec<Map>, Vec<LoadedProgram>), RuntimeError> {
    let map_fds = compiled.maps.iter().map(create_map).collect::<Result<Vec<_>, _>>()?;
    let all: Vec<usize> = (0..compiled.programs.len()).collect();
    let borrowed: Vec<BorrowedFd<'_>> = map_fds.iter().map(|fd| fd.as_fd()).collect();
    let programs = load_programs(compiled, &all, &borrowed)?;
    let maps = map_fds
        .into_iter()
        .zip(&compiled.maps)
        .map(|(fd, spec)| {
            MapData::from_fd(fd).and_then(Map::from_map_data).map_err(|e| RuntimeError::Load(format!("map {}: {}", spec.name, crate::attach::error_chain(&e))))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((maps, programs))
}

/// Loads the programs `which` (indices into `compiled.programs`) against maps
/// that already exist: `map_fds` is indexed like `compiled.maps`. The
/// interactive session uses this to load one entry's probes against the maps
/// earlier entries created.
pub(crate) fn load_programs(
    compiled: &CompiledProgram,
    which: &[usize],
    map_fds: &[BorrowedFd<'_>],
) -> Result<Vec<LoadedProgram>, RuntimeError> {
    let mut prog_fds = Vec::with_capacity(which.len());
    let mut multi_bytes = Vec::with_capacity(which.len());
    for &index in which {
        let p = compiled.programs.get(index).ok_or_else(|| RuntimeError::Load(format!("no program #{index}")))?;
        let (fd, bytes) = load_program(index, p, map_fds)?;
        prog_fds.push(fd);
        multi_bytes.push(bytes);
    }
    let ids = prog_fds
        .iter()
        .map(|fd| sys::object_id(fd.as_fd()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(kernel("reading program ids".into()))?;
    let mut infos = program_infos(&ids);
    let mut programs = Vec::with_capacity(ids.len());
    for (((&index, id), bytes), fd) in which.iter().zip(&ids).zip(multi_bytes).zip(&prog_fds) {
        let p = &compiled.programs[index];
        // aya keeps its own duplicate of the fd; ours closes at the end of this function.
        let prog = match infos.remove(id) {
            Some(info) => crate::attach::from_program_info(p.kind, info, p.name.clone())
                .map_err(|e| RuntimeError::Load(format!("program {}: {}", p.name, crate::attach::error_chain(&e))))?,
            None => pinned_handle(p, fd.as_fd(), *id)?,
        };
        programs.push((prog, bytes));
    }
    Ok(programs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_buffers_round_to_power_of_two_pages() {
        assert_eq!(ring_size(1), 4096);
        assert_eq!(ring_size(4096 * 3), 4096 * 4);
        assert_eq!(ring_size(1 << 16), 1 << 16);
    }
}
