//! `-v` when running: what was compiled (before loading) and what the
//! kernel accepted (after attaching), on stderr. bpftrace prints its AST
//! size, libbpf's load messages and each program's id; flowtrace's
//! equivalents are its programs, instruction counts and maps, then each
//! loaded program's id and the size the verifier left it at.

use flowtrace_codegen::object::CompiledProgram;
use flowtrace_runtime::sys;
use std::os::fd::AsFd;

/// Before loading: programs, instructions and maps.
pub fn compiled(compiled: &CompiledProgram) -> String {
    let insns: usize = compiled.programs.iter().map(|p| p.insns.len()).sum();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    let (programs, maps) = (compiled.programs.len(), compiled.maps.len());
    let mut out = format!("{programs} program{}, {insns} instructions, {maps} map{}\n", plural(programs), plural(maps));
    for p in &compiled.programs {
        out.push_str(&format!("  {} ({}, {:?}): {} instructions\n", p.attach.raw, p.name, p.kind, p.insns.len()));
    }
    out
}

/// After attaching: each program's kernel id and its size as verified
/// (`xlated`) and as machine code (`jited`). Programs are found by name
/// among those loaded since `since` (CLOCK_BOOTTIME ns), so another
/// flowtrace's programs of the same name, loaded earlier, are not shown.
pub fn loaded(compiled: &CompiledProgram, since: u64) -> String {
    let loaded = sys::programs_named("ft_").unwrap_or_default();
    let mut out = String::new();
    for p in &compiled.programs {
        for candidate in loaded.iter().filter(|l| l.name == p.name) {
            let Ok(fd) = sys::prog_fd_by_id(candidate.id) else { continue };
            let Ok(info) = sys::prog_info(fd.as_fd()) else { continue };
            if info.load_time_ns < since {
                continue;
            }
            out.push_str(&format!(
                "Program ID: {} ({}): {} bytes verified, {} bytes jited\n",
                info.id, p.attach.raw, info.xlated_len, info.jited_len
            ));
        }
    }
    out
}

/// The clock `bpf_prog_info.load_time` counts in.
pub fn boottime_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
