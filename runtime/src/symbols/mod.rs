//! Naming what the kernel recorded: stacks (`kstack`/`ustack`, read from the
//! programs' stack maps by id), kernel addresses (`ksym`) and user addresses
//! (`usym`, through the process's mappings and each mapped ELF object's
//! symbols). Formats as bpftrace 0.17 does: `sym+offset` frames, `perf`
//! mode's `\t<hex addr> sym+offset` (and ` (object)` for user frames), `raw`
//! mode's bare hex, and an unresolved address as `0x…`.
//!
//! Everything is loaded lazily, once: /proc/kallsyms on the first kernel
//! address, a process's maps on its first address, an object's symbols on
//! the first address in it (cached by path, shared by every process).

pub mod elf;
pub mod kallsyms;
pub mod procmaps;

use crate::values::Value;
use elf::ElfSymbols;
use flowtrace_lang::types::{StackMode, StackType};
use kallsyms::Kallsyms;
use procmaps::Mapping;
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, OnceLock};

/// Resolves a compiled program's stacks and symbols.
#[derive(Debug, Default)]
pub struct Symbolizer {
    /// The stack maps, by depth (`MapRole::Stacks`).
    stacks: HashMap<u32, OwnedFd>,
    kernel: OnceLock<Kallsyms>,
    user: Mutex<UserSymbols>,
}

#[derive(Debug, Default)]
struct UserSymbols {
    /// By pid; `None` once the process was found gone.
    maps: HashMap<u32, Option<Vec<Mapping>>>,
    /// By path; `None` for a file that is not a readable ELF object.
    objects: HashMap<String, Option<Arc<ElfSymbols>>>,
}

impl Symbolizer {
    pub fn new(stacks: HashMap<u32, OwnedFd>) -> Symbolizer {
        Symbolizer { stacks, ..Symbolizer::default() }
    }

    /// A `kstack`/`ustack` value (stack id | pid << 32) as its frames.
    pub fn stack(&self, stack: &StackType, raw: u64) -> Value {
        let (id, pid) = (raw as u32, (raw >> 32) as u32);
        let padded = stack.mode == StackMode::Bpftrace;
        // A negative id: the kernel recorded nothing (counted as lost).
        let addrs = if (id as i32) < 0 { Vec::new() } else { self.read_stack(stack.limit, id) };
        let frames = addrs.into_iter().take_while(|a| *a != 0).map(|a| self.frame(stack, pid, a)).collect();
        Value::Stack { frames, padded }
    }

    fn frame(&self, stack: &StackType, pid: u32, addr: u64) -> String {
        match stack.mode {
            StackMode::Raw => format!("{addr:x}"),
            StackMode::Bpftrace if stack.user => self.usym_text(addr, pid, true, false),
            StackMode::Bpftrace => self.ksym_text(addr, true),
            StackMode::Perf if stack.user => format!("\t{addr:x} {}", self.usym_text(addr, pid, true, true)),
            StackMode::Perf => format!("\t{addr:x} {}", self.ksym_text(addr, true)),
        }
    }

    fn read_stack(&self, limit: u32, id: u32) -> Vec<u64> {
        let Some(fd) = self.stacks.get(&limit) else { return Vec::new() };
        let mut bytes = vec![0u8; limit as usize * 8];
        match crate::sys::map_lookup(fd.as_fd(), &id.to_ne_bytes(), &mut bytes) {
            Ok(true) => bytes.chunks_exact(8).map(|c| u64::from_ne_bytes(c.try_into().unwrap_or_default())).collect(),
            // Gone (evicted by a newer stack with the same hash) or unreadable.
            _ => Vec::new(),
        }
    }

    /// `ksym(addr)`, and a kernel frame with `offset`.
    pub fn ksym_text(&self, addr: u64, offset: bool) -> String {
        let table = self.kernel.get_or_init(|| Kallsyms::load().unwrap_or_default());
        match table.lookup(addr) {
            Some((name, off)) if offset => format!("{name}+{off}"),
            Some((name, _)) => name.to_string(),
            None => hex(addr),
        }
    }

    /// `usym(addr)` in process `pid`, and a user frame (with `offset`, and
    /// `module` in perf mode: ` (/path/of/object)`).
    pub fn usym_text(&self, addr: u64, pid: u32, offset: bool, module: bool) -> String {
        let found = self.user.lock().map(|mut u| u.resolve(pid, addr)).unwrap_or(None);
        match found {
            Some((name, off, path)) => {
                let mut s = if offset { format!("{name}+{off}") } else { name };
                if module {
                    s.push_str(&format!(" ({path})"));
                }
                s
            }
            None if module => format!("{} ([unknown])", hex(addr)),
            None => hex(addr),
        }
    }
}

impl UserSymbols {
    /// (symbol, offset, object path) of `addr` in process `pid`.
    fn resolve(&mut self, pid: u32, addr: u64) -> Option<(String, u64, String)> {
        let maps = self.maps.entry(pid).or_insert_with(|| {
            std::fs::read_to_string(format!("/proc/{pid}/maps")).ok().map(|text| procmaps::parse(&text))
        });
        let mapping = procmaps::find(maps.as_ref()?, addr)?.clone();
        let objects = &mut self.objects;
        let object = objects
            .entry(mapping.path.clone())
            .or_insert_with(|| {
                // Through the process's root, so a container's files resolve.
                let data = std::fs::read(format!("/proc/{pid}/root{}", mapping.path)).or_else(|_| std::fs::read(&mapping.path));
                data.ok().and_then(|d| ElfSymbols::parse(&d).ok()).map(Arc::new)
            })
            .clone()?;
        let vaddr = object.address_of_offset(addr - mapping.start + mapping.offset)?;
        let (name, off) = object.lookup(vaddr)?;
        Some((name.to_string(), off, mapping.path))
    }
}

/// An address nothing names, as bpftrace prints a `void *`: `0x…`, and `0`
/// for zero.
fn hex(addr: u64) -> String {
    if addr == 0 {
        "0".to_string()
    } else {
        format!("{addr:#x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unresolved_addresses_print_as_bpftrace_prints_them() {
        let s = Symbolizer::default();
        assert_eq!(hex(0), "0");
        assert_eq!(hex(0x7ff93fbcd7c0), "0x7ff93fbcd7c0");
        // No such process: hex, and perf mode names no object.
        assert_eq!(s.usym_text(0x1234, u32::MAX, true, false), "0x1234");
        assert_eq!(s.usym_text(0x1234, u32::MAX, true, true), "0x1234 ([unknown])");
    }

    #[test]
    fn own_process_symbols_resolve() {
        // libc's getpid as mapped here (a release build of this test binary
        // is stripped, so its own functions have no names to find).
        let s = Symbolizer::default();
        // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the loaded objects.
        let here = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"getpid".as_ptr()) } as u64;
        let name = s.usym_text(here + 2, std::process::id(), true, false);
        assert!(name == "getpid+2" || name == "__getpid+2", "{name}");
        let perf = s.usym_text(here, std::process::id(), true, true);
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let libc = procmaps::parse(&maps).into_iter().find(|m| (m.start..m.end).contains(&here)).expect("mapped").path;
        assert!(perf.ends_with(&format!("+0 ({})", libc)), "{perf}");
    }

    #[test]
    fn a_failed_stack_is_empty() {
        let s = Symbolizer::default();
        let kstack = StackType { user: false, mode: StackMode::Bpftrace, limit: 127 };
        // Id -EFAULT (as bpf_get_stackid returns it, low 32 bits).
        assert_eq!(s.stack(&kstack, (-14i32) as u32 as u64), Value::Stack { frames: Vec::new(), padded: true });
    }
}
