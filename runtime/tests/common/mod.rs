//! Shared by the kernel tests: a tiny assembler over `codegen::insn` and
//! builders for `CompiledProgram`s. The root gate and the kernel-object
//! checks are the test kit's (re-exported here).

#![allow(dead_code)]

use flowtrace_codegen::insn::*;
use flowtrace_codegen::object::*;
use flowtrace_lang::ast::{AttachKind, AttachPoint};
use flowtrace_lang::span::Span;
use flowtrace_lang::typed::MapId;
use flowtrace_lang::types::{AggKind, Type};
use flowtrace_runtime::values::{MapSnapshot, Value};
use flowtrace_runtime::EventSink;
use flowtrace_stdlib::printf::Format;
use std::io;

pub use flowtrace_testkit::objects::{assert_maps_freed, assert_unloaded};
pub use flowtrace_testkit::root_tests_enabled;

/// A program under construction; `map` loads record their relocation.
#[derive(Default)]
pub struct Asm {
    pub insns: Vec<Insn>,
    pub relocs: Vec<(usize, MapRef)>,
}

impl Asm {
    pub fn at(&self) -> usize {
        self.insns.len()
    }
    pub fn push(&mut self, i: Insn) -> &mut Self {
        self.insns.push(i);
        self
    }
    pub fn mov_imm(&mut self, dst: u8, imm: i32) -> &mut Self {
        self.push(Insn::new(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm))
    }
    pub fn mov(&mut self, dst: u8, src: u8) -> &mut Self {
        self.push(Insn::new(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0))
    }
    pub fn add_imm(&mut self, dst: u8, imm: i32) -> &mut Self {
        self.push(Insn::new(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm))
    }
    pub fn rsh_imm(&mut self, dst: u8, imm: i32) -> &mut Self {
        self.push(Insn::new(BPF_ALU64 | BPF_RSH | BPF_K, dst, 0, 0, imm))
    }
    pub fn store_imm(&mut self, base: u8, off: i16, imm: i32) -> &mut Self {
        self.push(Insn::new(BPF_ST | BPF_MEM | BPF_DW, base, 0, off, imm))
    }
    pub fn store(&mut self, base: u8, off: i16, src: u8) -> &mut Self {
        self.push(Insn::new(BPF_STX | BPF_MEM | BPF_DW, base, src, off, 0))
    }
    pub fn load(&mut self, dst: u8, base: u8, off: i16) -> &mut Self {
        self.push(Insn::new(BPF_LDX | BPF_MEM | BPF_DW, dst, base, off, 0))
    }
    pub fn atomic_add(&mut self, base: u8, off: i16, src: u8) -> &mut Self {
        self.push(Insn::new(BPF_STX | BPF_ATOMIC | BPF_DW, base, src, off, BPF_ADD as i32))
    }
    pub fn map(&mut self, dst: u8, map: u32) -> &mut Self {
        self.relocs.push((self.at(), MapRef(map)));
        self.push(Insn::new(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, map as i32));
        self.push(Insn::new(0, 0, 0, 0, 0))
    }
    pub fn call(&mut self, helper: i32) -> &mut Self {
        self.push(Insn::new(BPF_JMP | BPF_CALL, 0, 0, 0, helper))
    }
    /// A forward jump whose offset is patched by [`Asm::land`].
    pub fn jump_if_imm(&mut self, op: u8, dst: u8, imm: i32) -> usize {
        let at = self.at();
        self.push(Insn::new(BPF_JMP | op | BPF_K, dst, 0, 0, imm));
        at
    }
    pub fn goto(&mut self) -> usize {
        let at = self.at();
        self.push(Insn::new(BPF_JMP | BPF_JA, 0, 0, 0, 0));
        at
    }
    /// Points the jump at `from` to the next instruction.
    pub fn land(&mut self, from: usize) -> &mut Self {
        self.insns[from].off = (self.at() - from - 1) as i16;
        self
    }
    pub fn exit(&mut self) -> &mut Self {
        self.push(Insn::new(BPF_JMP | BPF_EXIT, 0, 0, 0, 0))
    }

    /// `@map[0] += 1` on a per-CPU hash of u64 → u64 (key at fp-8, value at fp-16).
    pub fn count_key_zero(&mut self, map: u32) -> &mut Self {
        self.store_imm(10, -8, 0).map(1, map).mov(2, 10).add_imm(2, -8).call(helper::MAP_LOOKUP_ELEM);
        let missing = self.jump_if_imm(BPF_JEQ, 0, 0);
        self.mov_imm(1, 1).atomic_add(0, 0, 1);
        let done = self.goto();
        self.land(missing);
        self.store_imm(10, -16, 1).map(1, map).mov(2, 10).add_imm(2, -8).mov(3, 10).add_imm(3, -16);
        self.mov_imm(4, 0).call(helper::MAP_UPDATE_ELEM);
        self.land(done)
    }

    /// Sends the `len` bytes at fp+`off` to the ring buffer `map`.
    pub fn ringbuf_output(&mut self, map: u32, off: i16, len: i32) -> &mut Self {
        self.map(1, map).mov(2, 10).add_imm(2, off as i32).mov_imm(3, len).mov_imm(4, 0).call(helper::RINGBUF_OUTPUT)
    }

    pub fn program(&self, name: &str, kind: ProgramKind, attach: AttachKind, raw: &str) -> ProgramCode {
        ProgramCode {
            name: name.into(),
            kind,
            attach: AttachPoint { kind: attach, raw: raw.into(), span: Span::default() },
            insns: self.insns.clone(),
            map_relocs: self.relocs.clone(),
            spans: vec![Span::default(); self.insns.len()],
            comments: vec![],
            members: vec![],
            btf: None,
        }
    }
}

pub fn count_map(name: &str, id: u32) -> MapSpec {
    MapSpec {
        name: name.into(),
        map_type: BpfMapType::PercpuHash,
        key_size: 8,
        value_size: 8,
        max_entries: 16,
        role: MapRole::User { fused: None,
            id: MapId(id),
            name: format!("@{}", name.trim_start_matches("ft_")),
            keys: vec![],
            value: MapValue::Agg(AggKind::Count),
            declared: None,
        },
    }
}

pub fn plain_map(name: &str, id: u32, ty: Type) -> MapSpec {
    MapSpec {
        name: name.into(),
        map_type: BpfMapType::Hash,
        key_size: 8,
        value_size: 8,
        max_entries: 16,
        role: MapRole::User { id: MapId(id), name: format!("@{id}"), keys: vec![], value: MapValue::Plain(ty), declared: None, fused: None },
    }
}

pub fn events_map(name: &str) -> MapSpec {
    MapSpec { name: name.into(), map_type: BpfMapType::RingBuf, key_size: 0, value_size: 0, max_entries: 1 << 16, role: MapRole::Events }
}

/// Collects what the runtime hands the output layer.
#[derive(Default)]
pub struct Collect {
    pub printf: Vec<(String, Vec<Value>)>,
    pub maps: Vec<MapSnapshot>,
    pub values: Vec<Value>,
    pub times: usize,
    pub texts: Vec<String>,
}

impl EventSink for Collect {
    fn printf(&mut self, format: &Format, args: &[Value]) -> io::Result<()> {
        self.printf.push((format.text.clone(), args.to_vec()));
        Ok(())
    }
    fn print_map(&mut self, map: &MapSnapshot, _top: u64, _div: u64) -> io::Result<()> {
        self.maps.push(map.clone());
        Ok(())
    }
    fn print_value(&mut self, value: &Value) -> io::Result<()> {
        self.values.push(value.clone());
        Ok(())
    }
    fn time(&mut self, _format: &str) -> io::Result<()> {
        self.times += 1;
        Ok(())
    }
    fn text(&mut self, text: &str) -> io::Result<()> {
        self.texts.push(text.to_string());
        Ok(())
    }
}
