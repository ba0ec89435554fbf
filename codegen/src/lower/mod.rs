//! Lowering: one [`TProbe`] → one [`IrFunc`]. Split by responsibility:
//! statements ([`stmt`]), expressions ([`expr`]), maps and aggregations
//! ([`maps`]), builtin variables ([`builtins`]), value-producing calls
//! ([`calls`]), ring-buffer events ([`events`]) and what differs per probe kind
//! ([`context`]). This file holds the shared machinery: the value model, stack
//! buffers and helper-call plumbing.

pub mod builtins;
mod actions;
pub mod callbacks;
pub mod calls;
mod calls_host;
pub mod context;
pub mod events;
pub mod expr;
mod fused;
pub mod loops;
pub mod maps;
pub mod packet;
pub mod percpu;
mod packet_parse;
pub mod shared_key;
mod stacks;
pub mod stmt;
mod tseries;
#[cfg(test)]
mod tests;

use crate::insn::helper;
use crate::ir::{AluOp, Cond, Inst, IrFunc, Label, Reg, Size, Src, ARG_REGS, FP, R0};
use crate::layout;
use crate::object::{EventKind, MapRef, MapSpec, ProgramKind};
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::span::Span;
use flowtrace_lang::typed::{TProbe, TypedProgram};
use flowtrace_lang::types::Type;

/// What lowering shares across the probes of one program: the maps, the
/// event kinds and the probe-name table.
#[derive(Debug)]
pub struct Globals {
    pub maps: Vec<MapSpec>,
    /// Indexed by `MapId`.
    pub user_maps: Vec<MapRef>,
    pub stats: MapRef,
    pub events_map: MapRef,
    /// Per-CPU array that is never written: the source of zero values too
    /// big for the stack (`hist()` buckets).
    pub zero: Option<MapRef>,
    /// Per-CPU array holding the buffers of probes too big for the stack;
    /// each program owns `[base, base + size)` of it.
    pub scratch: Option<MapRef>,
    /// Bytes of the scratch value handed out so far.
    pub scratch_used: u32,
    pub events: Vec<EventKind>,
    /// What `ProbeName` values index (`CompiledProgram::probe_names`).
    pub probe_names: Vec<String>,
    /// Nanoseconds since boot at start, for `elapsed`.
    pub start_ns: u64,
    /// `CompileOptions::kprobes_as_fentry`.
    pub kprobes_as_fentry: bool,
    /// `CompileOptions::possible_cpus`.
    pub possible_cpus: u32,
    /// `CompileOptions::wall_offset_ns`.
    pub wall_offset_ns: u64,
    /// `CompileOptions::helper_warnings`.
    pub helper_warnings: bool,
    /// `CompileOptions::bpf_loop`.
    pub bpf_loop: bool,
    /// Unread bytes in the ring buffer past which a `printf` record wakes
    /// user space (below it the record waits for the reader's next poll).
    pub printf_wake_bytes: u32,
    /// The fused aggregation groups, and the BPF map of each.
    pub fuse: crate::fuse::FusePlan,
    pub fused_storage: Vec<MapRef>,
    /// max_entries of the stack maps: `--map-keys`, as bpftrace sizes
    /// its stack maps like its other maps.
    pub stack_entries: u32,
}

impl Globals {
    pub fn new(start_ns: u64) -> Globals {
        Globals {
            maps: Vec::new(),
            user_maps: Vec::new(),
            stats: MapRef(0),
            events_map: MapRef(0),
            zero: None,
            scratch: None,
            scratch_used: 0,
            events: Vec::new(),
            probe_names: Vec::new(),
            start_ns,
            kprobes_as_fentry: false,
            possible_cpus: 0,
            wall_offset_ns: 0,
            helper_warnings: false,
            bpf_loop: false,
            printf_wake_bytes: crate::compile::printf_wake_bytes(crate::compile::CompileOptions::default().ringbuf_bytes),
            fuse: Default::default(),
            fused_storage: Vec::new(),
            stack_entries: 4096,
        }
    }

    /// Stats slot counting records lost because the ring buffer was full.
    pub fn lost_events_slot(&self) -> u32 {
        self.user_maps.len() as u32 + crate::object::STATS_LOST_EVENTS
    }

    /// Stats slot counting keys created minus deleted in LRU map `map`.
    pub fn inserts_slot(&self, map: flowtrace_lang::typed::MapId) -> u32 {
        crate::object::stats_inserts_slot(self.user_maps.len() as u32, map)
    }

    /// Whether user map `map` is an LRU hash (whose evictions are silent).
    pub fn is_lru(&self, map: flowtrace_lang::typed::MapId) -> bool {
        let m = match self.fuse.find(map) {
            Some((group, _)) => self.fused_storage[group],
            None => self.user_maps[map.0 as usize],
        };
        matches!(self.maps[m.0 as usize].map_type, crate::object::BpfMapType::LruHash | crate::object::BpfMapType::LruPercpuHash)
    }

    /// Where `name` is in the probe-name table (added if new).
    pub fn probe_name_index(&mut self, name: &str) -> u32 {
        let names = &mut self.probe_names;
        let index = names.iter().position(|n| n == name).unwrap_or_else(|| {
            names.push(name.to_string());
            names.len() - 1
        });
        index as u32
    }

    /// The zero-source map, created on first use, at least `bytes` long.
    pub fn zero_map(&mut self, bytes: u32) -> MapRef {
        let (m, _) = Self::percpu_array(&mut self.maps, &mut self.zero, "ft_zero", bytes);
        m
    }

    /// The scratch map, grown to at least `bytes`.
    pub fn scratch_map(&mut self, bytes: u32) -> MapRef {
        let (m, _) = Self::percpu_array(&mut self.maps, &mut self.scratch, "ft_scratch", bytes);
        m
    }

    fn percpu_array(maps: &mut Vec<MapSpec>, slot: &mut Option<MapRef>, name: &str, bytes: u32) -> (MapRef, u32) {
        let bytes = layout::round_up(bytes.max(8));
        match *slot {
            Some(m) => {
                let spec = &mut maps[m.0 as usize];
                spec.value_size = spec.value_size.max(bytes);
                (m, spec.value_size)
            }
            None => {
                let m = MapRef(maps.len() as u32);
                maps.push(MapSpec {
                    name: name.to_string(),
                    map_type: crate::object::BpfMapType::PercpuArray,
                    key_size: 4,
                    value_size: bytes,
                    max_entries: 1,
                    role: crate::object::MapRole::Scratch,
                });
                *slot = Some(m);
                (m, bytes)
            }
        }
    }
}

/// A memory location: `base + off`, where `base` is r10 (the stack) or a
/// register holding a map-value pointer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mem {
    pub base: Reg,
    pub off: i16,
}

impl Mem {
    pub fn at(self, delta: u32) -> Mem {
        Mem { base: self.base, off: self.off + delta as i16 }
    }
}

/// A lowered expression's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    /// Integers, booleans, pointers: 64 bits, narrow types sign- or
    /// zero-extended by their type.
    Scalar(Reg),
    /// Strings, `inet`, tuples, copied arrays: `layout::size_of(ty)` bytes.
    Bytes(Mem),
    /// A kernel struct/array not read yet: its address.
    KernelPlace(Reg),
    /// No value (`void`).
    None,
}

/// A helper-call argument, materialised straight into its r1–r5 register.
#[derive(Clone, Copy, Debug)]
pub enum Arg {
    Reg(Reg),
    Imm(i32),
    Map(MapRef),
    Addr(Mem),
    /// A callback subprogram's address (an index into `Lowerer::callbacks`).
    Func(u32),
}

/// Jump targets of one loop.
#[derive(Clone, Copy, Debug)]
pub struct LoopLabels {
    /// Where `continue` goes: the step (`for`) or the condition (`while`).
    pub next: Label,
    /// Where `break` goes: just after the loop.
    pub end: Label,
}

/// Why a probe could not be lowered (already a diagnostic).
pub type LowerResult<T> = Result<T, Diagnostic>;

/// Why lowering a whole probe failed: running out of stack is worth a retry
/// with buffers in the scratch map.
#[derive(Debug)]
pub enum Failure {
    Stack(Diagnostic),
    Other(Diagnostic),
}

/// Buffers of 16 bytes and more go to the scratch map in scratch mode.
const SCRATCH_MIN: u32 = 16;
/// A per-CPU value is limited to 32 KiB (PCPU_MIN_UNIT_SIZE).
const SCRATCH_MAX: u32 = 32 * 1024;

/// This program's part of the scratch map: `ptr` holds the value's address
/// (looked up at entry); buffers live at `base + …`.
#[derive(Clone, Copy, Debug)]
pub struct ScratchArea {
    pub ptr: Reg,
    pub base: u32,
    pub top: u32,
    pub max: u32,
}

pub struct Lowerer<'a> {
    pub prog: &'a TypedProgram,
    pub probe: &'a TProbe,
    /// Index of this probe's program in `CompiledProgram::programs`.
    pub probe_index: usize,
    pub kind: ProgramKind,
    pub g: &'a mut Globals,
    pub f: IrFunc,
    /// The context pointer (r1 at entry), saved.
    pub ctx: Reg,
    /// Source construct new instructions are attributed to.
    pub span: Span,
    /// Stack bytes in use below r10 (buffers are released per statement).
    pub stack_top: u32,
    /// Stack slot of each `$variable` (indexed by `VarId`).
    pub vars: Vec<Mem>,
    /// The common exit: set r0 to the kind's return value and exit.
    pub exit: Label,
    /// tc probes: where the parsed packet headers are.
    pub packet: Option<packet::PacketSlots>,
    /// Statements being lowered, nested: 1 while a top-level one is.
    pub stmt_depth: u32,
    /// tc probes: the flow key several top-level aggregations share.
    pub shared_key: Option<shared_key::SharedKey>,
    /// Scratch mode: big buffers go to the scratch map instead of the stack.
    pub scratch: Option<ScratchArea>,
    /// Set when the stack ran out (lowering then fails with `Failure::Stack`).
    pub stack_overflowed: bool,
    /// The loops around the statement being lowered, innermost last: where
    /// `continue` and `break` jump.
    pub loops: Vec<LoopLabels>,
    /// The program serves several kprobe functions ([`crate::group`]):
    /// `func` and `probe` are read from the attach cookie.
    pub names_from_cookie: bool,
    /// Callback subprograms lowered so far (`for ($kv : @m)` bodies).
    pub callbacks: Vec<IrFunc>,
    /// Set while a callback is lowered, and in the probe's own function
    /// during a `for` over a map: where frame 0's shared slots are.
    pub frame: Option<callbacks::CallbackFrame>,
}

impl<'a> Lowerer<'a> {
    pub fn new(prog: &'a TypedProgram, probe_index: usize, g: &'a mut Globals) -> Lowerer<'a> {
        let probe = &prog.probes[probe_index];
        let mut f = IrFunc::default();
        let ctx = f.new_vreg();
        let exit = f.new_label();
        Lowerer {
            prog,
            probe,
            probe_index,
            kind: crate::object::ProgramKind::for_attach(&probe.attach.kind, g.kprobes_as_fentry),
            g,
            f,
            ctx,
            span: probe.span,
            stack_top: 0,
            vars: Vec::new(),
            exit,
            packet: None,
            stmt_depth: 0,
            shared_key: None,
            scratch: None,
            stack_overflowed: false,
            names_from_cookie: false,
            loops: Vec::new(),
            callbacks: Vec::new(),
            frame: None,
        }
    }

    /// Put buffers of `SCRATCH_MIN` bytes or more in the scratch map.
    pub fn with_scratch(mut self) -> Self {
        let ptr = self.f.new_vreg();
        self.scratch = Some(ScratchArea { ptr, base: self.g.scratch_used, top: 0, max: 0 });
        self
    }

    /// Lower the whole probe: save ctx, zero the variables, the predicate,
    /// the body, then the common exit.
    pub fn lower_probe(mut self) -> Result<IrFunc, Failure> {
        match self.lower_body() {
            Ok(()) => {}
            Err(d) if self.stack_overflowed => return Err(Failure::Stack(d)),
            Err(d) => return Err(Failure::Other(d)),
        }
        if let Some(area) = self.scratch {
            self.g.scratch_map(area.base + area.max);
            self.g.scratch_used = area.base + area.max;
        }
        self.f.callbacks = std::mem::take(&mut self.callbacks);
        Ok(self.f)
    }

    fn lower_body(&mut self) -> LowerResult<()> {
        let probe = self.probe;
        self.comment(format!(">probe {}", probe.attach.raw));
        self.emit(Inst::Alu { op: AluOp::Mov, dst: self.ctx, src: Src::Reg(crate::ir::R1) });
        if self.kind == ProgramKind::Iter {
            self.iterator_prologue()?;
        }
        if let Some(area) = self.scratch {
            // The scratch map is created by the time the program loads.
            let m = self.g.scratch_map(8);
            let key = self.alloc(8)?;
            self.emit(Inst::Store { size: Size::DW, base: key.base, off: key.off, src: Src::Imm(0) });
            let p = self.call(helper::MAP_LOOKUP_ELEM, &[Arg::Map(m), Arg::Addr(key)]);
            let exit = self.exit;
            self.jump(Cond::Eq, p, Src::Imm(0), exit);
            self.alu(AluOp::Mov, area.ptr, Src::Reg(p));
        }
        // Variables live in stack slots, zeroed up front: the verifier rejects
        // reads of stack bytes never written, and a variable assigned on one
        // branch only may be read after it.
        for var in &probe.vars {
            let size = layout::size_of(&var.ty).max(8);
            let slot = self.alloc(size)?;
            self.zero(slot, size);
            self.vars.push(slot);
        }
        self.parse_packet_if_used()?;
        if let Some(pred) = &probe.predicate {
            self.span = pred.span;
            self.comment(">predicate".to_string());
            let exit = self.exit;
            self.cond_jump_false(pred, exit)?;
        }
        for s in &probe.body {
            self.stmt(s)?;
        }
        self.span = probe.span;
        let exit = self.exit;
        self.emit(Inst::Label(exit));
        self.emit(Inst::Alu { op: AluOp::Mov, dst: R0, src: Src::Imm(context::return_value(self.kind)) });
        self.emit(Inst::Exit);
        Ok(())
    }

    // ---- instruction plumbing ----

    pub fn emit(&mut self, inst: Inst) {
        self.f.push(inst, self.span);
    }

    pub fn comment(&mut self, text: String) {
        self.emit(Inst::Comment(text));
    }

    pub fn vreg(&mut self) -> Reg {
        self.f.new_vreg()
    }

    pub fn label(&mut self) -> Label {
        self.f.new_label()
    }

    pub fn place(&mut self, l: Label) {
        self.emit(Inst::Label(l));
    }

    pub fn goto(&mut self, l: Label) {
        self.emit(Inst::Goto(l));
    }

    pub fn jump(&mut self, cond: Cond, lhs: Reg, rhs: Src, target: Label) {
        self.emit(Inst::Jump { cond, lhs, rhs, target });
    }

    pub fn alu(&mut self, op: AluOp, dst: Reg, src: Src) {
        self.emit(Inst::Alu { op, dst, src });
    }

    /// A fresh register holding `value`.
    pub fn constant(&mut self, value: u64) -> Reg {
        let r = self.vreg();
        if let Ok(small) = i32::try_from(value as i64) {
            // mov with an imm32 sign-extends to 64 bits.
            self.alu(AluOp::Mov, r, Src::Imm(small));
        } else {
            self.emit(Inst::LdImm64 { dst: r, imm: value });
        }
        r
    }

    /// A fresh register holding a copy of `src`.
    pub fn copy_reg(&mut self, src: Reg) -> Reg {
        let r = self.vreg();
        self.alu(AluOp::Mov, r, Src::Reg(src));
        r
    }

    /// Call `helper` with `args` in r1…; the result, copied out of r0.
    pub fn call(&mut self, helper_id: i32, args: &[Arg]) -> Reg {
        for (arg, &reg) in args.iter().zip(ARG_REGS.iter()) {
            match *arg {
                Arg::Reg(r) => self.alu(AluOp::Mov, reg, Src::Reg(r)),
                Arg::Imm(i) => self.alu(AluOp::Mov, reg, Src::Imm(i)),
                Arg::Map(m) => self.emit(Inst::LdMap { dst: reg, map: m }),
                Arg::Func(func) => self.emit(Inst::LdFunc { dst: reg, func }),
                Arg::Addr(mem) => {
                    self.alu(AluOp::Mov, reg, Src::Reg(mem.base));
                    if mem.off != 0 {
                        self.alu(AluOp::Add, reg, Src::Imm(mem.off as i32));
                    }
                }
            }
        }
        self.emit(Inst::Call { helper: helper_id, args: args.len() as u8 });
        let out = self.vreg();
        self.alu(AluOp::Mov, out, Src::Reg(R0));
        out
    }

    // ---- stack buffers ----

    /// `size` bytes (rounded up to 8) of stack, released at the end of the
    /// current statement.
    pub fn alloc(&mut self, size: u32) -> LowerResult<Mem> {
        let size = layout::round_up(size.max(1));
        if let Some(area) = &mut self.scratch {
            if size >= SCRATCH_MIN {
                let off = area.base + area.top;
                area.top += size;
                area.max = area.max.max(area.top);
                if off + size > SCRATCH_MAX {
                    return Err(Diagnostic::error(self.span, format!(
                        "the buffers of this probe need more than {SCRATCH_MAX} bytes of scratch space")));
                }
                return Ok(Mem { base: area.ptr, off: off as i16 });
            }
        }
        self.stack_top += size;
        self.f.stack_size = self.f.stack_size.max(self.stack_top);
        if self.stack_top > crate::compile::MAX_STACK {
            self.stack_overflowed = true;
            return Err(Diagnostic::error(self.span, format!(
                "this needs {} bytes of BPF stack, more than the 512 the kernel allows", self.stack_top))
                .with_hint("use shorter strings (str(p, N)) or fewer keys in one statement"));
        }
        Ok(Mem { base: FP, off: -(self.stack_top as i16) })
    }

    pub fn addr(&mut self, mem: Mem) -> Reg {
        let r = self.copy_reg(mem.base);
        if mem.off != 0 {
            self.alu(AluOp::Add, r, Src::Imm(mem.off as i32));
        }
        r
    }

    /// Zero `size` bytes (a multiple of 8) at `mem`.
    pub fn zero(&mut self, mem: Mem, size: u32) {
        for at in (0..layout::round_up(size)).step_by(8) {
            self.emit(Inst::Store { size: Size::DW, base: mem.base, off: mem.off + at as i16, src: Src::Imm(0) });
        }
    }

    /// Copy `size` bytes (rounded up to 8) from `src` to `dst`.
    pub fn copy_mem(&mut self, dst: Mem, src: Mem, size: u32) {
        let t = self.vreg();
        for at in (0..layout::round_up(size)).step_by(8) {
            let at = at as i16;
            self.emit(Inst::Load { size: Size::DW, dst: t, base: src.base, off: src.off + at });
            self.emit(Inst::Store { size: Size::DW, base: dst.base, off: dst.off + at, src: Src::Reg(t) });
        }
    }

    pub fn store_scalar(&mut self, dst: Mem, r: Reg) {
        self.emit(Inst::Store { size: Size::DW, base: dst.base, off: dst.off, src: Src::Reg(r) });
    }

    pub fn load_scalar(&mut self, src: Mem) -> Reg {
        let r = self.vreg();
        self.emit(Inst::Load { size: Size::DW, dst: r, base: src.base, off: src.off });
        r
    }

    /// Write `val` (of type `val_ty`) into a slot of type `dst_ty` at `dst`,
    /// converting string capacities; the slot's bytes beyond the value are
    /// zeroed so equal keys compare equal byte for byte.
    pub fn store_value(&mut self, dst: Mem, dst_ty: &Type, val: Val, val_ty: &Type) -> LowerResult<()> {
        if dst_ty.is_scalar() || dst_ty.is_named_id() {
            let r = self.scalar(val)?;
            self.store_scalar(dst, r);
            return Ok(());
        }
        let src = self.bytes_of(val, val_ty)?;
        match (dst_ty, val_ty) {
            (Type::Tuple(dst_items), Type::Tuple(src_items)) if dst_items != src_items && dst_items.len() == src_items.len() => {
                let (doffs, _) = layout::offsets(dst_items);
                let (soffs, _) = layout::offsets(src_items);
                for i in 0..dst_items.len() {
                    let item = if src_items[i].is_scalar() || src_items[i].is_named_id() {
                        Val::Scalar(self.load_scalar(src.at(soffs[i])))
                    } else {
                        Val::Bytes(src.at(soffs[i]))
                    };
                    self.store_value(dst.at(doffs[i]), &dst_items[i], item, &src_items[i])?;
                }
            }
            _ => {
                let (dsize, ssize) = (layout::size_of(dst_ty), layout::size_of(val_ty));
                self.copy_mem(dst, src, dsize.min(ssize));
                if dsize > ssize {
                    self.zero(dst.at(ssize), dsize - ssize);
                }
            }
        }
        Ok(())
    }

    /// The register of a scalar value.
    pub fn scalar(&mut self, val: Val) -> LowerResult<Reg> {
        match val {
            Val::Scalar(r) | Val::KernelPlace(r) => Ok(r),
            Val::Bytes(m) => Ok(self.load_scalar(m)),
            Val::None => Err(Diagnostic::error(self.span, "this expression has no value")),
        }
    }

    /// The value's bytes in memory (a kernel place is read into a buffer).
    pub fn bytes_of(&mut self, val: Val, ty: &Type) -> LowerResult<Mem> {
        match val {
            Val::Bytes(m) => Ok(m),
            Val::Scalar(r) => {
                let m = self.alloc(8)?;
                self.store_scalar(m, r);
                Ok(m)
            }
            Val::KernelPlace(addr) => {
                let size = layout::size_of(ty);
                let buf = self.alloc(size)?;
                self.zero(buf, size);
                let exact = match ty {
                    Type::Record(r) => r.size,
                    Type::Array { elem, len } => elem.int().map_or(layout::size_of(elem), |t| t.bytes()) * len,
                    _ => size,
                };
                self.call(helper::PROBE_READ_KERNEL, &[Arg::Addr(buf), Arg::Imm(exact as i32), Arg::Reg(addr)]);
                Ok(buf)
            }
            Val::None => Err(Diagnostic::error(self.span, "this expression has no value")),
        }
    }

    /// Sign- or zero-extend the low bits of `r` as `ty` says.
    pub fn normalize(&mut self, r: Reg, ty: &Type) {
        let Type::Int(t) = ty else { return };
        match (t.bits, t.signed) {
            (64, _) => {}
            (bits, true) => {
                let sh = 64 - i32::from(bits);
                self.alu(AluOp::Lsh, r, Src::Imm(sh));
                self.alu(AluOp::Arsh, r, Src::Imm(sh));
            }
            (32, false) => self.emit(Inst::Alu32 { op: AluOp::Mov, dst: r, src: Src::Reg(r) }),
            (bits, false) => self.alu(AluOp::And, r, Src::Imm(((1u64 << bits) - 1) as i32)),
        }
    }

    /// Load an integer of `ty` from memory with its width, extended.
    pub fn load_int(&mut self, base: Reg, off: i16, ty: &Type) -> Reg {
        let bytes = ty.int().map_or(8, |t| t.bytes());
        let r = self.vreg();
        self.emit(Inst::Load { size: Size::of_bytes(bytes).unwrap_or(Size::DW), dst: r, base, off });
        if matches!(ty, Type::Int(t) if t.signed && t.bits < 64) {
            self.normalize(r, ty);
        }
        r
    }

    /// Add one to the u64 at `slot` of the per-CPU stats map.
    pub fn count_stat(&mut self, slot: u32) {
        self.add_stat(slot, 1);
    }

    /// Add `delta` to the u64 at `slot` of the per-CPU stats map (per-CPU:
    /// no atomics needed).
    pub fn add_stat(&mut self, slot: u32, delta: i32) {
        let key = match self.alloc(8) {
            Ok(k) => k,
            Err(_) => return,
        };
        self.emit(Inst::Store { size: Size::DW, base: key.base, off: key.off, src: Src::Imm(slot as i32) });
        let stats = self.g.stats;
        let p = self.call(helper::MAP_LOOKUP_ELEM, &[Arg::Map(stats), Arg::Addr(key)]);
        let skip = self.label();
        self.jump(Cond::Eq, p, Src::Imm(0), skip);
        let t = self.load_scalar(Mem { base: p, off: 0 });
        self.alu(AluOp::Add, t, Src::Imm(delta));
        self.store_scalar(Mem { base: p, off: 0 }, t);
        self.place(skip);
    }

    /// A `ProbeName` value: the index of `name` in the probe-name table.
    /// In a program serving several functions (`names_from_cookie`), the
    /// probe's own `probe`/`func` names are only this member's: the index
    /// is read from the attach cookie the runtime gave each function
    /// (`crate::group::cookie`: `func` low, `probe` high 32 bits).
    pub fn probe_name_value(&mut self, name: &str) -> Reg {
        if self.names_from_cookie && (name == self.probe.attach.raw || Some(name) == self.probe.attach.kind.function()) {
            let ctx = self.ctx;
            // bpf_get_attach_cookie(ctx): kprobe programs since 5.15,
            // kprobe.multi since 5.18 (one cookie per function).
            let r = self.call(helper::GET_ATTACH_COOKIE, &[Arg::Reg(ctx)]);
            if name == self.probe.attach.raw {
                self.alu(AluOp::Rsh, r, Src::Imm(32));
            } else {
                self.emit(Inst::Alu32 { op: AluOp::Mov, dst: r, src: Src::Reg(r) });
            }
            return r;
        }
        let index = self.g.probe_name_index(name);
        self.constant(u64::from(index))
    }

    pub fn unsupported(&self, span: Span, what: &str) -> Diagnostic {
        Diagnostic::error(span, format!("{what} is not supported by the code generator yet"))
    }
}
