//! Which functions an ELF binary defines and where, and its USDT probes:
//! what `uprobe:`, `usdt:`, `uaddr()` and `flowtrace -l 'uprobe:BIN:*'`
//! ask of a binary. Only "name → virtual address" and "virtual address →
//! file offset" (what the kernel's uprobe API takes); symbolising stack
//! addresses is another module's job.
//!
//! Symbols come from `.symtab` and `.dynsym` (a stripped library still has
//! the latter); USDT probes from the `stapsdt` notes in `.note.stapsdt`.

use crate::glob::glob_match;
use flowtrace_lang::ast::{parse_usdt_arg, UsdtSite};
use flowtrace_lang::kernel::{UserSymbol, UsdtProbe};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SymbolKind};
use std::path::Path;
use std::sync::{Arc, Mutex};

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read '{path}': {e}"))
}

fn parse<'a>(path: &str, data: &'a [u8]) -> Result<object::File<'a>, String> {
    object::File::parse(data).map_err(|e| format!("'{path}' is not an ELF binary: {e}"))
}

/// Every defined function and variable symbol, one per name, sorted by
/// name: from `.symtab` (it has the local functions too) and `.dynsym`, and
/// from the separate debug file a stripped library names by build id
/// (`/usr/lib/debug/.build-id/xx/yyyy.debug`, as bpftrace finds it), whose
/// addresses are the library's own.
pub fn symbols(path: &str) -> Result<Arc<Vec<UserSymbol>>, String> {
    Ok(elf_facts(path)?.symbols.clone())
}

/// What is read from one binary, once per process: a wildcard over libc
/// expands to thousands of probes, each resolved at attach time.
struct ElfFacts {
    symbols: Arc<Vec<UserSymbol>>,
    /// Loadable segments: (virtual address, bytes in the file, file offset).
    segments: Vec<(u64, u64, u64)>,
}

fn elf_facts(path: &str) -> Result<Arc<ElfFacts>, String> {
    static CACHE: Mutex<Vec<(String, Arc<ElfFacts>)>> = Mutex::new(Vec::new());
    if let Some((_, facts)) = CACHE.lock().ok().and_then(|c| c.iter().find(|(p, _)| p == path).cloned()) {
        return Ok(facts);
    }
    let data = read(path)?;
    let file = parse(path, &data)?;
    let mut out: Vec<UserSymbol> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    add_symbols(&file, &mut out, &mut seen);
    if let Some(debug) = debug_file(&file) {
        if let Ok(debug_data) = std::fs::read(&debug) {
            if let Ok(debug_file) = object::File::parse(&*debug_data) {
                add_symbols(&debug_file, &mut out, &mut seen);
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    let segments = file
        .segments()
        .map(|seg| {
            let (offset, size) = seg.file_range();
            (seg.address(), size, offset)
        })
        .collect();
    let facts = Arc::new(ElfFacts { symbols: Arc::new(out), segments });
    if let Ok(mut cache) = CACHE.lock() {
        cache.push((path.to_string(), facts.clone()));
    }
    Ok(facts)
}

fn add_symbols(file: &object::File<'_>, out: &mut Vec<UserSymbol>, seen: &mut std::collections::HashSet<String>) {
    for sym in file.symbols().chain(file.dynamic_symbols()) {
        // Text includes GNU indirect functions (`strlen`): a probe on one
        // fires in its resolver, as in bpftrace.
        let function = match sym.kind() {
            SymbolKind::Text => true,
            SymbolKind::Data => false,
            _ => continue,
        };
        if sym.is_undefined() || sym.address() == 0 {
            continue;
        }
        // Versioned names (`memcpy@@GLIBC_2.14`) go by their base name.
        let Ok(name) = sym.name() else { continue };
        let name = name.split('@').next().unwrap_or(name);
        // GCC's partial-inlining fragments (`f.part.0`) are no function a
        // caller enters by name; bpftrace 0.17 does not list them either
        // (compared on this host's libc, where it lists `f.cold` pieces).
        if name.is_empty() || name.contains(".part.") || !seen.insert(name.to_string()) {
            continue;
        }
        out.push(UserSymbol { name: name.to_string(), address: sym.address(), size: sym.size(), function });
    }
}

/// The debug file of a stripped binary, by its GNU build id.
fn debug_file(file: &object::File<'_>) -> Option<std::path::PathBuf> {
    if file.symbols().next().is_some() {
        return None;
    }
    let id = file.build_id().ok()??;
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let (dir, rest) = hex.split_at(2.min(hex.len()));
    let path = Path::new("/usr/lib/debug/.build-id").join(dir).join(format!("{rest}.debug"));
    path.exists().then_some(path)
}

/// The symbols matching the glob `pattern`.
pub fn matching_symbols(path: &str, pattern: &str, functions_only: bool) -> Result<Vec<UserSymbol>, String> {
    Ok(symbols(path)?.iter().filter(|s| (s.function || !functions_only) && glob_match(pattern, &s.name)).cloned().collect())
}

/// Where the virtual address `address` lies in the file: the offset the
/// kernel's uprobe API takes (through the loadable segment holding it).
pub fn file_offset(path: &str, address: u64) -> Result<u64, String> {
    let facts = elf_facts(path)?;
    for &(start, size, offset) in &facts.segments {
        if address >= start && address < start + size {
            return Ok(address - start + offset);
        }
    }
    Err(format!("address {address:#x} is in no loadable segment of '{path}'"))
}

/// A USDT note as read: its argument specs are parsed only for the probes
/// a script asks for, so one spec flowtrace cannot decode (an indexed
/// address, `8@(%rax,%rbx,8)`) spoils only its own probe.
struct RawNote {
    provider: String,
    name: String,
    address: u64,
    semaphore: u64,
    specs: String,
}

/// The `stapsdt` notes of `path`. A binary prelinked to another base has
/// its `.stapsdt.base` moved: the difference between the section's address
/// and the base each note recorded moves the probe too.
fn usdt_notes(path: &str) -> Result<Vec<RawNote>, String> {
    let data = read(path)?;
    let file = parse(path, &data)?;
    let Some(notes) = file.section_by_name(".note.stapsdt") else {
        return Ok(Vec::new());
    };
    let bytes = notes.data().map_err(|e| format!("cannot read the USDT notes of '{path}': {e}"))?;
    let actual_base = file.section_by_name(".stapsdt.base").map(|s| s.address());
    stapsdt_descs(bytes)
        .into_iter()
        .map(|desc| parse_note(desc, actual_base).ok_or_else(|| format!("malformed USDT note in '{path}'")))
        .collect()
}

/// The descriptors of the notes named "stapsdt" of type 3 (an ELF note is
/// namesz, descsz, type, then name and descriptor, each padded to 4 bytes).
fn stapsdt_descs(mut bytes: &[u8]) -> Vec<&[u8]> {
    let word = |b: &[u8], at: usize| b.get(at..at + 4).map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) as usize);
    let pad = |n: usize| n.div_ceil(4) * 4;
    let mut out = Vec::new();
    while let (Some(namesz), Some(descsz), Some(kind)) = (word(bytes, 0), word(bytes, 4), word(bytes, 8)) {
        let name_end = 12 + pad(namesz);
        let Some(name) = bytes.get(12..12 + namesz) else { break };
        let Some(desc) = bytes.get(name_end..name_end + descsz) else { break };
        if kind == 3 && name == b"stapsdt\0" {
            out.push(desc);
        }
        bytes = bytes.get(name_end + pad(descsz)..).unwrap_or(&[]);
    }
    out
}

/// pc, base and semaphore (u64 each), then provider, name and argument
/// specs as NUL-terminated strings.
fn parse_note(desc: &[u8], actual_base: Option<u64>) -> Option<RawNote> {
    let u64_at = |at: usize| desc.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])));
    let (pc, base, semaphore) = (u64_at(0)?, u64_at(8)?, u64_at(16)?);
    let mut strings = desc.get(24..)?.split(|b| *b == 0).map(|s| String::from_utf8_lossy(s).into_owned());
    let (provider, name, specs) = (strings.next()?, strings.next()?, strings.next().unwrap_or_default());
    let address = match actual_base {
        Some(actual) if base != 0 => pc.wrapping_add(actual).wrapping_sub(base),
        _ => pc,
    };
    Some(RawNote { provider, name, address, semaphore, specs })
}

/// The USDT probes matching the provider and name globs, with their
/// arguments decoded (or why they cannot be).
pub fn matching_usdt(path: &str, provider: &str, name: &str) -> Result<Vec<UsdtProbe>, String> {
    let mut out = Vec::new();
    for note in usdt_notes(path)?.into_iter().filter(|n| glob_match(provider, &n.provider) && glob_match(name, &n.name)) {
        let args = note.specs.split_whitespace().map(parse_usdt_arg).collect::<Result<Vec<_>, String>>();
        let site = args.map(|args| UsdtSite { address: note.address, semaphore: note.semaphore, args });
        out.push(UsdtProbe { provider: note.provider, name: note.name, site });
    }
    Ok(out)
}

/// The ELF files mapped executable by process `pid`, from /proc/PID/maps,
/// in the order they first appear (the program, then its libraries).
pub fn mapped_binaries(pid: u32) -> Result<Vec<String>, String> {
    let path = format!("/proc/{pid}/maps");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        // address perms offset dev inode path
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (Some(perms), Some(file)) = (fields.get(1), fields.get(5)) else { continue };
        if perms.contains('x') && file.starts_with('/') && !out.iter().any(|f| f == file) && is_elf(Path::new(file)) {
            out.push(file.to_string());
        }
    }
    Ok(out)
}

/// Library directories searched for a bare library name (bpftrace asks
/// ld.so.cache; these are the directories it lists on Debian and Fedora).
const LIBRARY_DIRS: &[&str] =
    &["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"];

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && magic == *b"\x7fELF"
}

/// A path as given (it must be an ELF file); a library name (`libc`,
/// `libssl.so.3`) found in the library directories; else a program on PATH.
pub fn resolve_binary(name: &str) -> Result<String, String> {
    if name.contains('/') {
        let path = Path::new(name);
        if !path.exists() {
            return Err(format!("binary '{name}' does not exist"));
        }
        if !is_elf(path) {
            return Err(format!("'{name}' is not an ELF binary"));
        }
        // `./app` or `../bin/app`: from the directory flowtrace runs in, as
        // bpftrace reads it; the probe keeps working whatever the cwd later.
        if !path.is_absolute() {
            return std::fs::canonicalize(path).map(|p| p.to_string_lossy().into_owned()).map_err(|e| format!("binary '{name}': {e}"));
        }
        return Ok(name.to_string());
    }
    if let Some(found) = find_library(name) {
        return Ok(found);
    }
    let path = std::env::var("PATH").unwrap_or_default();
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(name);
        if is_elf(&candidate) {
            return Ok(candidate.to_string_lossy().into_owned());
        }
    }
    Err(format!("no library or program called '{name}' was found"))
}

/// `libc` or `c` matches `libc.so.6`; an exact file name matches itself.
/// The linker's unversioned `libc.so` may be a text script: only ELF files count.
fn find_library(name: &str) -> Option<String> {
    let stem = if name.starts_with("lib") { name.to_string() } else { format!("lib{name}") };
    for dir in LIBRARY_DIRS {
        let exact = Path::new(dir).join(name);
        if name.contains(".so") && is_elf(&exact) {
            return Some(exact.to_string_lossy().into_owned());
        }
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut found: Vec<std::path::PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|f| f.to_str()).is_some_and(|f| f.starts_with(&format!("{stem}.so"))))
            .filter(|p| is_elf(p))
            .collect();
        // The shortest name is the soname (`libc.so.6`, not `libc.so.6.debug`).
        found.sort_by_key(|p| (p.as_os_str().len(), p.clone()));
        if let Some(first) = found.into_iter().next() {
            return Some(first.to_string_lossy().into_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(desc: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&8u32.to_le_bytes());
        out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(b"stapsdt\0");
        out.extend_from_slice(desc);
        out.resize(out.len().div_ceil(4) * 4, 0);
        out
    }

    #[test]
    fn stapsdt_notes_are_read_and_rebased() {
        let mut desc = Vec::new();
        for word in [0x1130u64, 0x2000, 0x4010] {
            desc.extend_from_slice(&word.to_le_bytes());
        }
        desc.extend_from_slice(b"prov\0name\0-4@%edi 8@-16(%rbp)\0");
        let bytes = [note(&desc), note(&desc)].concat();
        let descs = stapsdt_descs(&bytes);
        assert_eq!(descs.len(), 2);
        let note = parse_note(descs[0], Some(0x2100)).unwrap();
        assert_eq!((note.provider.as_str(), note.name.as_str()), ("prov", "name"));
        assert_eq!((note.address, note.semaphore, note.specs.as_str()), (0x1230, 0x4010, "-4@%edi 8@-16(%rbp)"));
    }

    #[test]
    fn libc_resolves_to_an_elf_file() {
        if let Ok(path) = resolve_binary("libc") {
            assert!(path.contains("libc.so"), "{path}");
            assert!(symbols(&path).unwrap().iter().any(|s| s.name == "malloc" && s.function));
        }
        assert!(resolve_binary("/nonexistent/bin").unwrap_err().contains("does not exist"));
    }
}
