//! [`CompiledProgram`] → a relocatable eBPF ELF object that aya's `EbpfLoader`
//! loads: one executable section per program, named the way aya recognises
//! the program type; a legacy `maps` section of `bpf_map_def` records with one
//! symbol per map; `R_BPF_64_64` relocations on every map `lddw`; and a
//! `license` section. No `.BTF`: every map is described by its legacy record,
//! which the kernel accepts for hash, array, per-CPU and ring-buffer maps.

use crate::insn::{Insn, BPF_DW, BPF_IMM, BPF_LD};
use crate::object::{CompiledProgram, MapSpec, ProgramCode};
use object::write::{Object, Relocation, Symbol, SymbolId, SymbolSection};
use object::{
    elf, Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags,
    SymbolKind, SymbolScope,
};

/// Size of aya's `bpf_map_def`: type, key_size, value_size, max_entries,
/// map_flags, id, pinning — seven u32s.
const MAP_DEF_SIZE: usize = 28;

/// The first byte of an `lddw` (64-bit immediate load).
const LDDW: u8 = BPF_LD | BPF_DW | BPF_IMM;

/// The ELF section a program lives in ([`ProgramKind::section_name`]).
pub fn section_name(p: &ProgramCode) -> String {
    p.kind.section_name(&p.attach.kind)
}

/// Writes the ELF object for `p`. Errors name the program or map at fault;
/// they are compiler bugs, not user errors.
pub fn write_elf(p: &CompiledProgram) -> Result<Vec<u8>, String> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);

    let map_symbols = add_maps(&mut obj, &p.maps)?;
    for prog in &p.programs {
        add_program(&mut obj, prog, &map_symbols)?;
    }

    let license = obj.add_section(Vec::new(), b"license".to_vec(), SectionKind::Data);
    obj.append_section_data(license, b"GPL\0", 1);

    obj.write().map_err(|e| format!("writing the ELF object: {e}"))
}

fn add_maps(obj: &mut Object<'_>, maps: &[MapSpec]) -> Result<Vec<SymbolId>, String> {
    if maps.is_empty() {
        return Ok(Vec::new());
    }
    let section = obj.add_section(Vec::new(), b"maps".to_vec(), SectionKind::Data);
    let mut symbols = Vec::with_capacity(maps.len());
    for m in maps {
        check_object_name(&m.name, "map")?;
        let offset = obj.append_section_data(section, &map_def(m), 4);
        symbols.push(obj.add_symbol(Symbol {
            name: m.name.as_bytes().to_vec(),
            value: offset,
            size: MAP_DEF_SIZE as u64,
            kind: SymbolKind::Data,
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        }));
    }
    Ok(symbols)
}

fn map_def(m: &MapSpec) -> [u8; MAP_DEF_SIZE] {
    let fields = [m.map_type as u32, m.key_size, m.value_size, m.max_entries, 0, 0, 0];
    let mut out = [0u8; MAP_DEF_SIZE];
    for (chunk, v) in out.chunks_exact_mut(4).zip(fields) {
        chunk.copy_from_slice(&v.to_le_bytes());
    }
    out
}

fn add_program(
    obj: &mut Object<'_>,
    prog: &ProgramCode,
    map_symbols: &[SymbolId],
) -> Result<(), String> {
    check_object_name(&prog.name, "program")?;
    if prog.insns.is_empty() {
        return Err(format!("program {} has no instructions", prog.name));
    }
    let name = section_name(prog).into_bytes();
    let section = obj.add_section(Vec::new(), name, SectionKind::Text);
    let bytes = crate::insn::encode_all(&prog.insns);
    let size = bytes.len() as u64;
    obj.append_section_data(section, &bytes, 8);
    obj.add_symbol(Symbol {
        name: prog.name.as_bytes().to_vec(),
        value: 0,
        size,
        kind: SymbolKind::Text,
        scope: SymbolScope::Linkage,
        weak: false,
        section: SymbolSection::Section(section),
        flags: SymbolFlags::None,
    });
    for &(at, map) in &prog.map_relocs {
        check_lddw(prog, at)?;
        let symbol = *map_symbols
            .get(map.0 as usize)
            .ok_or_else(|| format!("program {}: map reference {} out of range", prog.name, map.0))?;
        let reloc = Relocation {
            offset: (at * 8) as u64,
            symbol,
            addend: 0,
            flags: RelocationFlags::Elf { r_type: elf::R_BPF_64_64 },
        };
        obj.add_relocation(section, reloc)
            .map_err(|e| format!("program {}: relocation at {at}: {e}", prog.name))?;
    }
    Ok(())
}

fn check_lddw(prog: &ProgramCode, at: usize) -> Result<(), String> {
    let first: Option<&Insn> = prog.insns.get(at);
    match first {
        Some(i) if i.code == LDDW && at + 1 < prog.insns.len() => Ok(()),
        _ => Err(format!("program {}: map relocation at {at} is not an lddw", prog.name)),
    }
}

/// The kernel takes object names of at most 15 characters from
/// `[A-Za-z0-9_.]`; anything else makes program or map creation fail with a
/// bare EINVAL, so catch it here with a message.
fn check_object_name(name: &str, what: &str) -> Result<(), String> {
    let valid_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if name.is_empty() || name.len() > 15 || !valid_chars {
        return Err(format!("invalid BPF {what} name `{name}` (1–15 chars of [A-Za-z0-9_.])"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insn::*;
    use crate::object::{BpfMapType, MapRef, MapRole, ProgramKind};
    use flowtrace_lang::ast::{AttachKind, AttachPoint};
    use flowtrace_lang::span::Span;
    use object::read::{Object as _, ObjectSection as _, ObjectSymbol as _};

    fn program(kind: ProgramKind, attach: AttachKind) -> ProgramCode {
        let insns = vec![
            Insn::new(LDDW, 1, BPF_PSEUDO_MAP_FD, 0, 0),
            Insn::new(0, 0, 0, 0, 0),
            Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, 0, 0, 0, 0),
            Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0),
        ];
        ProgramCode {
            name: "ft_test".into(),
            kind,
            attach: AttachPoint { kind: attach, raw: String::new(), span: Span::default() },
            spans: vec![Span::default(); insns.len()],
            insns,
            map_relocs: vec![(0, MapRef(0))],
            comments: vec![],
            members: vec![],
            btf: None,
        }
    }

    fn compiled() -> CompiledProgram {
        let tp = AttachKind::Tracepoint { category: "sock".into(), name: "inet_sock_set_state".into() };
        CompiledProgram {
            programs: vec![program(ProgramKind::Tracepoint, tp)],
            maps: vec![MapSpec {
                name: "ft_events".into(),
                map_type: BpfMapType::RingBuf,
                key_size: 0,
                value_size: 0,
                max_entries: 1 << 16,
                role: MapRole::Events,
            }],
            events: vec![],
            probe_names: vec![], records: Default::default(), str_trunc_trailer: String::new(), missing_probes: Default::default()
        }
    }

    #[test]
    fn writes_sections_symbols_and_relocations() {
        let bytes = write_elf(&compiled()).unwrap();
        let file = object::read::File::parse(&*bytes).unwrap();
        assert_eq!(file.architecture(), Architecture::Bpf);
        let prog = file.section_by_name("tracepoint/sock/inet_sock_set_state").unwrap();
        assert_eq!(prog.size(), 32);
        let relocs: Vec<_> = prog.relocations().collect();
        assert_eq!(relocs.len(), 1);
        assert_eq!(relocs[0].0, 0);
        assert_eq!(relocs[0].1.flags(), RelocationFlags::Elf { r_type: elf::R_BPF_64_64 });
        let maps = file.section_by_name("maps").unwrap();
        let def = maps.data().unwrap();
        assert_eq!(&def[0..4], &27u32.to_le_bytes());
        assert_eq!(&def[12..16], &(1u32 << 16).to_le_bytes());
        let license = file.section_by_name("license").unwrap();
        assert_eq!(license.data().unwrap(), b"GPL\0");
        let names: Vec<_> = file.symbols().filter_map(|s| s.name().ok().map(String::from)).collect();
        assert!(names.contains(&"ft_test".to_string()));
        assert!(names.contains(&"ft_events".to_string()));
    }

    #[test]
    fn rejects_a_relocation_that_is_not_an_lddw() {
        let mut c = compiled();
        c.programs[0].map_relocs = vec![(2, MapRef(0))];
        assert!(write_elf(&c).unwrap_err().contains("not an lddw"));
        c.programs[0].map_relocs = vec![(0, MapRef(5))];
        assert!(write_elf(&c).unwrap_err().contains("out of range"));
    }

    #[test]
    fn rejects_names_the_kernel_would_refuse() {
        let mut c = compiled();
        c.maps[0].name = "ft_this_name_is_too_long".into();
        assert!(write_elf(&c).unwrap_err().contains("invalid BPF map name"));
    }

    #[test]
    fn names_sections_by_program_type() {
        let k = program(ProgramKind::Kprobe, AttachKind::Kprobe { module: None, func: "tcp_sendmsg".into() });
        assert_eq!(section_name(&k), "kprobe/tcp_sendmsg");
        let b = program(ProgramKind::Special, AttachKind::Begin);
        assert!(section_name(&b).starts_with("raw_tracepoint/"));
        let i = program(ProgramKind::PerfEvent, AttachKind::Begin);
        assert_eq!(section_name(&i), "perf_event");
        // A kretprobe run as fexit (kernel without kprobes) is named by its function.
        let r = program(ProgramKind::Fexit, AttachKind::Kretprobe { module: Some("m".into()), func: "f".into() });
        assert_eq!(section_name(&r), "fexit/f");
        let raw = program(ProgramKind::RawTracepoint, AttachKind::RawTracepoint { name: "kfree_skb".into() });
        assert_eq!(section_name(&raw), "raw_tracepoint/kfree_skb");
    }
}
