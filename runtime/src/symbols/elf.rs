//! Function symbols of one ELF object (an executable or a shared library):
//! `.symtab`, `.dynsym`, and the `.symtab` of the xz-compressed ELF in
//! `.gnu_debugdata` (MiniDebugInfo, which Fedora and others ship in place of
//! a stripped binary's symbols). Pure data: bytes in, a sorted table out.
//! Decompressed with lzma-rs (pure Rust, MIT) so no C library is needed.

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SymbolKind};

/// One object's function symbols, by the virtual address the ELF file gives
/// them, and its loadable segments (to turn a file offset into one).
#[derive(Debug, Default)]
pub struct ElfSymbols {
    /// (address, size, name), sorted by address.
    symbols: Vec<(u64, u64, String)>,
    /// (file offset, virtual address, size in the file) of each PT_LOAD.
    segments: Vec<(u64, u64, u64)>,
}

impl ElfSymbols {
    pub fn parse(data: &[u8]) -> Result<ElfSymbols, String> {
        let file = object::File::parse(data).map_err(|e| format!("not an ELF object: {e}"))?;
        let mut symbols = Vec::new();
        collect(&file, &mut symbols);
        if let Some(packed) = file.section_by_name(".gnu_debugdata").and_then(|s| s.data().ok()) {
            // A damaged MiniDebugInfo section leaves the other tables usable.
            let mut inner = Vec::new();
            if lzma_rs::xz_decompress(&mut &packed[..], &mut inner).is_ok() {
                if let Ok(mini) = object::File::parse(&inner[..]) {
                    collect(&mini, &mut symbols);
                }
            }
        }
        symbols.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        symbols.dedup_by(|a, b| a.0 == b.0);
        let segments = file
            .segments()
            .map(|s| {
                let (offset, size) = s.file_range();
                (offset, s.address(), size)
            })
            .collect();
        Ok(ElfSymbols { symbols, segments })
    }

    /// The virtual address of the byte at `offset` in the file.
    pub fn address_of_offset(&self, offset: u64) -> Option<u64> {
        let (file_off, vaddr, _) = self.segments.iter().find(|(o, _, size)| (*o..o + size).contains(&offset))?;
        Some(offset - file_off + vaddr)
    }

    /// The function holding `addr` and the offset into it. A symbol without
    /// a size (hand-written assembly) holds everything up to the next one.
    pub fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self.symbols.partition_point(|(a, _, _)| *a <= addr);
        let (start, size, name) = self.symbols.get(i.checked_sub(1)?)?;
        (*size == 0 || addr < start + size).then(|| (name.as_str(), addr - start))
    }

    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }
}

fn collect(file: &object::File<'_>, out: &mut Vec<(u64, u64, String)>) {
    for sym in file.symbols().chain(file.dynamic_symbols()) {
        if sym.kind() != SymbolKind::Text || sym.address() == 0 || sym.is_undefined() {
            continue;
        }
        if let Ok(name) = sym.name() {
            if !name.is_empty() {
                out.push((sym.address(), sym.size(), name.to_string()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libc's `getpid` as this process has it mapped: its address, through
    /// /proc/self/maps to a file offset, back to libc's own address and its
    /// name. (Not this test binary's own functions: a release build of the
    /// tests is stripped; the .symtab path is covered by the MiniDebugInfo
    /// test's unstripped program.)
    #[test]
    fn a_mapped_librarys_function_resolves_through_its_file_offset() {
        // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the loaded objects.
        let here = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"getpid".as_ptr()) } as u64;
        assert_ne!(here, 0, "getpid is loaded");
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let line = super::super::procmaps::parse(&maps)
            .into_iter()
            .find(|m| (m.start..m.end).contains(&here))
            .expect("a mapping holds getpid");
        let syms = ElfSymbols::parse(&std::fs::read(&line.path).expect("read libc")).expect("parse libc");
        let vaddr = syms.address_of_offset(here - line.start + line.offset).expect("offset in a segment");
        let (name, off) = syms.lookup(vaddr).expect("resolved");
        assert!(name == "getpid" || name == "__getpid", "{name}");
        assert_eq!(off, 0, "a function pointer is the function's first byte");
    }

    #[test]
    fn a_library_with_only_dynsym_resolves_its_exports() {
        // libc is stripped on Debian: .dynsym only.
        let libc = std::fs::read("/usr/lib/x86_64-linux-gnu/libc.so.6").expect("Debian's libc");
        let syms = ElfSymbols::parse(&libc).unwrap();
        assert!(syms.len() > 1000, "{}", syms.len());
        // libc's `getpid` is at 0xd54e0, 8 bytes, with its alias `__getpid`
        // (one name per address is kept).
        let file = object::File::parse(&libc[..]).unwrap();
        let getpid = file.dynamic_symbols().find(|s| s.name() == Ok("getpid")).expect("getpid is exported");
        let (name, off) = syms.lookup(getpid.address() + 1).expect("resolved");
        assert!(name == "getpid" || name == "__getpid", "{name}");
        assert_eq!(off, 1);
        assert!(syms.lookup(getpid.address() + getpid.size()).is_none_or(|(n, _)| !n.ends_with("getpid")));
    }

    /// A stripped program whose only symbol table is the MiniDebugInfo one,
    /// made as distributions make it (objcopy, strip), xz-compressed here.
    #[test]
    fn minidebuginfo_names_a_stripped_programs_functions() {
        let dir = std::env::temp_dir().join(format!("ft-minidebug-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let run = |program: &str, args: &[&str]| {
            let status = std::process::Command::new(program).args(args).current_dir(&dir).status();
            assert!(status.is_ok_and(|s| s.success()), "{program} {args:?}");
        };
        std::fs::write(
            dir.join("p.c"),
            "__attribute__((noinline)) static int ft_mini_secret(int x) { return x * 3 + 1; }\n\
             int main(int argc, char **argv) { (void)argv; return ft_mini_secret(argc); }\n",
        )
        .unwrap();
        run("cc", &["-O1", "-o", "p", "p.c"]);
        let full = ElfSymbols::parse(&std::fs::read(dir.join("p")).unwrap()).unwrap();
        let secret = full.symbols.iter().find(|(_, _, n)| n == "ft_mini_secret").expect("in .symtab before stripping").0;
        std::fs::write(dir.join("keep"), "ft_mini_secret\n").unwrap();
        run("objcopy", &["--only-keep-debug", "p", "mini"]);
        run("objcopy", &["-S", "--keep-symbols=keep", "mini"]);
        run("strip", &["--strip-all", "p"]);
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut &std::fs::read(dir.join("mini")).unwrap()[..], &mut xz).unwrap();
        std::fs::write(dir.join("mini.xz"), xz).unwrap();
        run("objcopy", &["--add-section", ".gnu_debugdata=mini.xz", "p"]);

        let data = std::fs::read(dir.join("p")).unwrap();
        let file = object::File::parse(&data[..]).unwrap();
        assert!(file.symbols().next().is_none(), "stripped: no .symtab left");
        let syms = ElfSymbols::parse(&data).unwrap();
        assert_eq!(syms.lookup(secret + 2), Some(("ft_mini_secret", 2)));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(ElfSymbols::parse(b"not an elf").is_err());
        assert!(ElfSymbols::parse(&[]).is_err());
    }
}
