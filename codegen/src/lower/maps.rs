//! Map access: keys, reads, stores, read-modify-write, delete, and the
//! aggregation updates (`count()`, `hist()`, …) on per-CPU values.

use super::{Arg, LowerResult, Lowerer, Mem, Val};
use crate::insn::helper;
use crate::ir::{AluOp, Cond, Inst, Reg, Size, Src};
use crate::layout;
use crate::object::MapRef;
use flowtrace_lang::ast::BinOp;
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::typed::{MapId, TExpr, TExprKind};
use flowtrace_lang::types::{AggKind, Type};

/// Stats slots a value lookup-or-create bumps: `created` (LRU maps only)
/// when it created the key, each of `failed` when the map was full.
pub(super) struct ValueStats {
    pub created: Option<u32>,
    pub failed: Vec<u32>,
}

/// `map_update_elem` flags.
const BPF_ANY: i32 = 0;
const BPF_NOEXIST: i32 = 1;

impl Lowerer<'_> {
    pub(super) fn map_ref(&self, map: MapId) -> MapRef {
        self.g.user_maps[map.0 as usize]
    }

    fn map_name(&self, map: MapId) -> String {
        format!("@{}", self.prog.maps[map.0 as usize].name)
    }

    /// Build the key on the stack, laid out by `layout::key_offsets` over
    /// the map's key types. Padding is part of the key bytes (two keys that
    /// differ only there would be different entries), so the words holding
    /// padding are zeroed first; every other byte is written by a field.
    pub fn build_key(&mut self, map: MapId, key: Option<&TExpr>) -> LowerResult<Mem> {
        let buf = self.alloc(layout::key_size(&self.prog.maps[map.0 as usize].key))?;
        self.fill_key(buf, map, key)
    }

    /// Writes the key of `map` for `key` into `buf` (see [`Self::build_key`]).
    pub fn fill_key(&mut self, buf: Mem, map: MapId, key: Option<&TExpr>) -> LowerResult<Mem> {
        let types = self.prog.maps[map.0 as usize].key.clone();
        let (offs, _) = layout::key_offsets(&types);
        for word in layout::key_padding_words(&types) {
            self.emit(Inst::Store { size: Size::DW, base: buf.base, off: buf.at(word).off, src: Src::Imm(0) });
        }
        let Some(key) = key else { return Ok(buf) };
        match (&key.kind, types.len()) {
            (TExprKind::Tuple(items), n) if n > 1 && items.len() == n => {
                for (i, item) in items.iter().enumerate() {
                    let v = self.expr(item)?;
                    self.store_key_field(buf.at(offs[i]), &types[i], v, &item.ty)?;
                }
            }
            (_, 1) => {
                let v = self.expr(key)?;
                self.store_key_field(buf, &types[0], v, &key.ty)?;
            }
            _ => {
                // A tuple value used as several keys: its fields sit at
                // their value-layout offsets and move to the key's.
                let Type::Tuple(items) = &key.ty else {
                    return Err(Diagnostic::error(key.span, format!("a key of type {} for a map keyed by {} values", key.ty, types.len())));
                };
                let v = self.expr(key)?;
                let src = self.bytes_of(v, &key.ty)?;
                let (soffs, _) = layout::offsets(items);
                for (i, item_ty) in items.iter().enumerate().take(types.len()) {
                    let item = if item_ty.is_scalar() || item_ty.is_named_id() {
                        Val::Scalar(self.load_scalar(src.at(soffs[i])))
                    } else {
                        Val::Bytes(src.at(soffs[i]))
                    };
                    self.store_key_field(buf.at(offs[i]), &types[i], item, item_ty)?;
                }
            }
        }
        Ok(buf)
    }

    /// One key field at `dst`, in the key layout (`layout::key_field_size`).
    fn store_key_field(&mut self, dst: Mem, ty: &Type, val: Val, val_ty: &Type) -> LowerResult<()> {
        let width = match ty {
            Type::Int(t) => t.bytes(),
            Type::Bool => 1,
            Type::Inet => {
                // Value layout: u64 family, then 16 address bytes.
                let src = self.bytes_of(val, val_ty)?;
                let t = self.vreg();
                for at in [0, 8] {
                    self.emit(Inst::Load { size: Size::DW, dst: t, base: src.base, off: src.at(8 + at).off });
                    self.emit(Inst::Store { size: Size::DW, base: dst.base, off: dst.at(at).off, src: Src::Reg(t) });
                }
                self.emit(Inst::Load { size: Size::B, dst: t, base: src.base, off: src.off });
                let family = dst.at(layout::KEY_INET_FAMILY);
                self.emit(Inst::Store { size: Size::B, base: family.base, off: family.off, src: Src::Reg(t) });
                return Ok(());
            }
            _ => return self.store_value(dst, ty, val, val_ty),
        };
        let r = self.scalar(val)?;
        let size = Size::of_bytes(width).unwrap_or(Size::DW);
        self.emit(Inst::Store { size, base: dst.base, off: dst.off, src: Src::Reg(r) });
        Ok(())
    }

    /// `@m[k]`: the stored value, or zero/empty when the key is absent.
    pub fn map_read(&mut self, map: MapId, key: Option<&TExpr>) -> LowerResult<Val> {
        self.comment(format!(">read {}", self.map_name(map)));
        let value_ty = self.prog.maps[map.0 as usize].value.clone();
        let k = self.build_key(map, key)?;
        if let Type::Agg(agg) = value_ty {
            return self.agg_total(map, k, agg);
        }
        let m = self.map_ref(map);
        let p = self.call(helper::MAP_LOOKUP_ELEM, &[Arg::Map(m), Arg::Addr(k)]);
        let end = self.label();
        if super::expr::is_value_type(&value_ty) {
            let out = self.vreg();
            self.alu(AluOp::Mov, out, Src::Imm(0));
            self.jump(Cond::Eq, p, Src::Imm(0), end);
            self.emit(Inst::Load { size: Size::DW, dst: out, base: p, off: 0 });
            self.place(end);
            return Ok(Val::Scalar(out));
        }
        let size = layout::size_of(&value_ty);
        let buf = self.alloc(size)?;
        self.zero(buf, size);
        self.jump(Cond::Eq, p, Src::Imm(0), end);
        self.copy_mem(buf, Mem { base: p, off: 0 }, size);
        self.place(end);
        Ok(Val::Bytes(buf))
    }

    /// `@m[k] = v`.
    pub fn map_store(&mut self, map: MapId, key: Option<&TExpr>, value: &TExpr) -> LowerResult<()> {
        self.comment(format!(">store {}", self.map_name(map)));
        let value_ty = self.prog.maps[map.0 as usize].value.clone();
        let v = self.expr(value)?;
        let size = layout::size_of(&value_ty).max(8);
        let buf = self.alloc(size)?;
        if !super::expr::is_value_type(&value_ty) {
            self.zero(buf, size);
        }
        self.store_value(buf, &value_ty, v, &value.ty)?;
        let k = self.build_key(map, key)?;
        self.store_counting_inserts(map, k, buf, None);
        Ok(())
    }

    /// `map_update_elem(BPF_ANY)`; in an LRU map, a key that was absent
    /// (`existing` is the lookup's result, or looked up here) is created with
    /// BPF_NOEXIST first, so that exactly the creations are counted: the
    /// kernel evicts silently, and the runtime derives evictions from
    /// creations minus live keys.
    fn store_counting_inserts(&mut self, map: MapId, key: Mem, value: Mem, existing: Option<Reg>) {
        if !self.g.is_lru(map) {
            self.update(map, key, value, BPF_ANY);
            return;
        }
        let m = self.map_ref(map);
        let p = match existing {
            Some(p) => p,
            None => self.call(helper::MAP_LOOKUP_ELEM, &[Arg::Map(m), Arg::Addr(key)]),
        };
        let (replace, done) = (self.label(), self.label());
        self.jump(Cond::Ne, p, Src::Imm(0), replace);
        let r = self.call(helper::MAP_UPDATE_ELEM, &[Arg::Map(m), Arg::Addr(key), Arg::Addr(value), Arg::Imm(BPF_NOEXIST)]);
        // -EEXIST: another CPU created it meanwhile; overwrite it below.
        self.jump(Cond::Ne, r, Src::Imm(0), replace);
        self.add_stat(self.g.inserts_slot(map), 1);
        self.goto(done);
        self.place(replace);
        self.update(map, key, value, BPF_ANY);
        self.place(done);
    }

    /// `map_update_elem`, counting a failure (map full) in the stats map.
    fn update(&mut self, map: MapId, key: Mem, value: Mem, flags: i32) {
        let m = self.map_ref(map);
        let r = self.call(helper::MAP_UPDATE_ELEM, &[Arg::Map(m), Arg::Addr(key), Arg::Addr(value), Arg::Imm(flags)]);
        let ok = self.label();
        self.jump(Cond::Eq, r, Src::Imm(0), ok);
        self.count_stat(map.0);
        self.place(ok);
    }

    /// `@m[k] OP= v`: read (0 if absent), combine, write back.
    pub fn map_update(&mut self, map: MapId, key: Option<&TExpr>, op: BinOp, value: &TExpr) -> LowerResult<()> {
        self.comment(format!(">update {} {}=", self.map_name(map), op.symbol()));
        let value_ty = self.prog.maps[map.0 as usize].value.clone();
        let mut rhs = self.operand(value)?;
        if let Type::Pointer(to, _) = &value_ty {
            // `@p += n` on a pointer moves it by n elements, as in C.
            rhs = self.scale_by_pointee(rhs, to);
        }
        let (k, found, cur) = self.lookup_scalar(map, key)?;
        let alu = match op {
            BinOp::Add => AluOp::Add,
            BinOp::Sub => AluOp::Sub,
            BinOp::Mul => AluOp::Mul,
            BinOp::Div => AluOp::Div,
            BinOp::Mod => AluOp::Mod,
            BinOp::Shl => AluOp::Lsh,
            BinOp::Shr => AluOp::Rsh,
            BinOp::BitAnd => AluOp::And,
            BinOp::BitOr => AluOp::Or,
            BinOp::BitXor => AluOp::Xor,
            _ => return Err(Diagnostic::error(self.span, format!("'{}=' is not an update operator", op.symbol()))),
        };
        self.zero_where_bpftrace_does(op, cur, rhs, |l| {
            l.alu(alu, cur, rhs);
            l.normalize(cur, &value_ty);
            Ok(())
        })?;
        self.store_back(map, k, found, cur)
    }

    /// `@m[k]++` and friends: (old, new).
    pub fn map_add(&mut self, map: MapId, key: Option<&TExpr>, delta: i32, ty: &Type) -> LowerResult<(Reg, Reg)> {
        self.comment(format!(">{} {}", if delta > 0 { "++" } else { "--" }, self.map_name(map)));
        let (k, found, old) = self.lookup_scalar(map, key)?;
        let new = self.copy_reg(old);
        let delta = match ty {
            Type::Pointer(to, _) => self.scale_by_pointee(Src::Imm(delta), to),
            _ => Src::Imm(delta),
        };
        self.alu(AluOp::Add, new, delta);
        self.normalize(new, ty);
        self.store_back(map, k, found, new)?;
        Ok((old, new))
    }

    /// Key buffer, the lookup's result (0 when absent) and the current
    /// scalar value (0 when absent).
    fn lookup_scalar(&mut self, map: MapId, key: Option<&TExpr>) -> LowerResult<(Mem, Reg, Reg)> {
        let k = self.build_key(map, key)?;
        let m = self.map_ref(map);
        let p = self.call(helper::MAP_LOOKUP_ELEM, &[Arg::Map(m), Arg::Addr(k)]);
        let cur = self.vreg();
        let end = self.label();
        self.alu(AluOp::Mov, cur, Src::Imm(0));
        self.jump(Cond::Eq, p, Src::Imm(0), end);
        self.emit(Inst::Load { size: Size::DW, dst: cur, base: p, off: 0 });
        self.place(end);
        Ok((k, p, cur))
    }

    fn store_back(&mut self, map: MapId, key: Mem, found: Reg, value: Reg) -> LowerResult<()> {
        let buf = self.alloc(8)?;
        self.store_scalar(buf, value);
        self.store_counting_inserts(map, key, buf, Some(found));
        Ok(())
    }

    /// `delete(@m[k])`; the helper's result (0 when the key was removed).
    pub fn map_delete(&mut self, map: MapId, key: Option<&TExpr>) -> LowerResult<Reg> {
        self.comment(format!(">delete {}", self.map_name(map)));
        let k = self.build_key(map, key)?;
        let m = self.map_ref(map);
        let r = self.call(helper::MAP_DELETE_ELEM, &[Arg::Map(m), Arg::Addr(k)]);
        if self.g.is_lru(map) {
            // A key this program removed is not an eviction.
            let absent = self.label();
            self.jump(Cond::Ne, r, Src::Imm(0), absent);
            self.add_stat(self.g.inserts_slot(map), -1);
            self.place(absent);
        }
        Ok(r)
    }

    /// `@m[k] = count()` etc.: find this CPU's value (creating a zeroed one
    /// with BPF_NOEXIST if absent) and modify it in place; per-CPU values
    /// need no atomics.
    pub fn aggregate(&mut self, map: MapId, key: Option<&TExpr>, agg: AggKind, arg: Option<&TExpr>) -> LowerResult<()> {
        self.comment(format!(">{} {}", agg.to_string().trim_end_matches("_t"), self.map_name(map)));
        let value = match arg {
            Some(a) => {
                let v = self.expr(a)?;
                Some(self.scalar(v)?)
            }
            None => None,
        };
        let k = self.statement_key(map, key)?;
        let p = self.agg_value_ptr(map, k, agg)?;
        let done = self.label();
        self.jump(Cond::Eq, p, Src::Imm(0), done);
        self.agg_apply(p, 0, agg, value, done)?;
        self.place(done);
        Ok(())
    }

    /// The update of one aggregation whose fields are at `p + base`
    /// (`p` not null); `done` is where a min/max that keeps its value jumps.
    /// Only fixed-field aggregations are fused (`crate::fuse`): hist, lhist
    /// and tseries values always start at `p` (base 0).
    pub(super) fn agg_apply(&mut self, p: Reg, base: i16, agg: AggKind, value: Option<Reg>, done: crate::ir::Label) -> LowerResult<()> {
        let need = |v: Option<Reg>, l: &Self| v.ok_or_else(|| Diagnostic::error(l.span, format!("{agg} needs a value")));
        match agg {
            AggKind::Count => self.add_at(p, base, Src::Imm(1)),
            AggKind::Sum { .. } => self.add_at(p, base, Src::Reg(need(value, self)?)),
            AggKind::Avg { .. } | AggKind::Stats { .. } => {
                self.add_at(p, base, Src::Reg(need(value, self)?));
                self.add_at(p, base + 8, Src::Imm(1));
            }
            AggKind::Min { signed } | AggKind::Max { signed } => {
                let v = need(value, self)?;
                let is_min = matches!(agg, AggKind::Min { .. });
                self.min_max(p, base, v, is_min, signed, done);
            }
            AggKind::Hist => {
                let v = need(value, self)?;
                self.add_at(p, base + layout::hist_sum_offset(agg) as i16, Src::Reg(v));
                let idx = self.log2_bucket(v);
                self.bump_bucket(p, idx, layout::HIST_BUCKETS, done);
            }
            AggKind::Lhist { min, max, step } => {
                let v = need(value, self)?;
                let sum_at = i16::try_from(layout::hist_sum_offset(agg))
                    .map_err(|_| Diagnostic::error(self.span, "lhist() has too many buckets".to_string()))?;
                self.add_at(p, base + sum_at, Src::Reg(v));
                let idx = self.linear_bucket(v, min, max, step)?;
                self.bump_bucket(p, idx, layout::lhist_buckets(agg), done);
            }
            AggKind::Tseries { interval_ns, intervals, agg, signed } => {
                let v = need(value, self)?;
                self.tseries_update(p, v, (interval_ns, intervals), agg, signed, done);
            }
        }
        Ok(())
    }

    /// Pointer to this CPU's value for `key`, or 0 (already counted in the
    /// stats map) when the map is full.
    fn agg_value_ptr(&mut self, map: MapId, key: Mem, agg: AggKind) -> LowerResult<Reg> {
        let stats = ValueStats { created: self.g.is_lru(map).then(|| self.g.inserts_slot(map)), failed: vec![map.0] };
        self.value_ptr(self.map_ref(map), key, layout::agg_size(agg), &stats)
    }

    /// Pointer to this CPU's value of `size` bytes for `key` in `m`,
    /// created zeroed with BPF_NOEXIST when absent; 0 when the map is full.
    pub(super) fn value_ptr(&mut self, m: MapRef, key: Mem, size: u32, stats: &ValueStats) -> LowerResult<Reg> {
        let p = self.call(helper::MAP_LOOKUP_ELEM, &[Arg::Map(m), Arg::Addr(key)]);
        let have = self.label();
        self.jump(Cond::Ne, p, Src::Imm(0), have);
        // The zero value: small ones on the stack; hist()'s 528 bytes exceed
        // what a statement can spare, so they come from the scratch map's
        // never-written zero area.
        let zero_src = if size <= 64 {
            let z = self.alloc(size)?;
            self.zero(z, size);
            Arg::Addr(z)
        } else {
            let z = self.scratch_zero(size)?;
            let after = self.label();
            self.jump(Cond::Eq, z, Src::Imm(0), after);
            let r = self.call(helper::MAP_UPDATE_ELEM, &[Arg::Map(m), Arg::Addr(key), Arg::Reg(z), Arg::Imm(BPF_NOEXIST)]);
            self.count_insert(stats, r);
            self.place(after);
            let again = self.call(helper::MAP_LOOKUP_ELEM, &[Arg::Map(m), Arg::Addr(key)]);
            self.alu(AluOp::Mov, p, Src::Reg(again));
            self.count_if_null(p, stats);
            self.place(have);
            return Ok(p);
        };
        // NOEXIST may lose a race with another CPU inserting the same key
        // (-EEXIST): harmless, the second lookup finds that entry.
        let r = self.call(helper::MAP_UPDATE_ELEM, &[Arg::Map(m), Arg::Addr(key), zero_src, Arg::Imm(BPF_NOEXIST)]);
        self.count_insert(stats, r);
        let again = self.call(helper::MAP_LOOKUP_ELEM, &[Arg::Map(m), Arg::Addr(key)]);
        self.alu(AluOp::Mov, p, Src::Reg(again));
        self.count_if_null(p, stats);
        self.place(have);
        Ok(p)
    }

    /// Counts a key that BPF_NOEXIST created (`r` == 0), where creations
    /// are counted (LRU maps).
    fn count_insert(&mut self, stats: &ValueStats, r: Reg) {
        let Some(slot) = stats.created else { return };
        let not_created = self.label();
        self.jump(Cond::Ne, r, Src::Imm(0), not_created);
        self.add_stat(slot, 1);
        self.place(not_created);
    }

    /// A null value pointer is an update the full map refused: one dropped
    /// update for each map it was for.
    fn count_if_null(&mut self, p: Reg, stats: &ValueStats) {
        let ok = self.label();
        self.jump(Cond::Ne, p, Src::Imm(0), ok);
        for &slot in &stats.failed {
            self.count_stat(slot);
        }
        self.place(ok);
    }

    /// Pointer to `size` zero bytes in the scratch map (0 if the lookup fails).
    fn scratch_zero(&mut self, size: u32) -> LowerResult<Reg> {
        let scratch = self.g.zero_map(size);
        let key = self.alloc(8)?;
        self.emit(Inst::Store { size: Size::DW, base: key.base, off: key.off, src: Src::Imm(0) });
        Ok(self.call(helper::MAP_LOOKUP_ELEM, &[Arg::Map(scratch), Arg::Addr(key)]))
    }

    pub(super) fn add_at(&mut self, p: Reg, off: i16, v: Src) {
        let t = self.vreg();
        self.emit(Inst::Load { size: Size::DW, dst: t, base: p, off });
        self.alu(AluOp::Add, t, v);
        self.emit(Inst::Store { size: Size::DW, base: p, off, src: Src::Reg(t) });
    }

    /// (value, has_value): replace when there is no value yet or `v` wins.
    pub(super) fn min_max(&mut self, p: Reg, base: i16, v: Reg, is_min: bool, signed: bool, done: crate::ir::Label) {
        let set = self.label();
        let has = self.vreg();
        self.emit(Inst::Load { size: Size::DW, dst: has, base: p, off: base + 8 });
        self.jump(Cond::Eq, has, Src::Imm(0), set);
        let cur = self.vreg();
        self.emit(Inst::Load { size: Size::DW, dst: cur, base: p, off: base });
        // Keep the current value unless v is strictly better.
        let keep = match (is_min, signed) {
            (true, true) => Cond::Sge,
            (true, false) => Cond::Ge,
            (false, true) => Cond::Sle,
            (false, false) => Cond::Le,
        };
        self.jump(keep, v, Src::Reg(cur), done);
        self.place(set);
        self.emit(Inst::Store { size: Size::DW, base: p, off: base, src: Src::Reg(v) });
        self.emit(Inst::Store { size: Size::DW, base: p, off: base + 8, src: Src::Imm(1) });
    }

    /// `layout::hist_bucket`: 0 for negative, 1 for zero, 2 + floor(log2 v)
    /// otherwise, by a binary search over shifts (six steps, no loop).
    fn log2_bucket(&mut self, v: Reg) -> Reg {
        let idx = self.vreg();
        let end = self.label();
        self.alu(AluOp::Mov, idx, Src::Imm(0));
        self.jump(Cond::Slt, v, Src::Imm(0), end);
        self.alu(AluOp::Mov, idx, Src::Imm(1));
        self.jump(Cond::Eq, v, Src::Imm(0), end);
        self.alu(AluOp::Mov, idx, Src::Imm(2));
        let t = self.copy_reg(v);
        let s = self.vreg();
        for shift in [32, 16, 8, 4, 2, 1] {
            let skip = self.label();
            self.alu(AluOp::Mov, s, Src::Reg(t));
            self.alu(AluOp::Rsh, s, Src::Imm(shift));
            self.jump(Cond::Eq, s, Src::Imm(0), skip);
            self.alu(AluOp::Mov, t, Src::Reg(s));
            self.alu(AluOp::Add, idx, Src::Imm(shift));
            self.place(skip);
        }
        self.place(end);
        idx
    }

    /// `layout::lhist_bucket`.
    fn linear_bucket(&mut self, v: Reg, min: i64, max: i64, step: i64) -> LowerResult<Reg> {
        let (min32, max32, step32) = match (i32::try_from(min), i32::try_from(max), i32::try_from(step.max(1))) {
            (Ok(a), Ok(b), Ok(c)) => (a, b, c),
            _ => return Err(self.unsupported(self.span, "lhist() bounds beyond 32 bits")),
        };
        let last = ((max - min) / step.max(1)) as i32 + 1;
        let idx = self.vreg();
        let end = self.label();
        self.alu(AluOp::Mov, idx, Src::Imm(0));
        self.jump(Cond::Slt, v, Src::Imm(min32), end);
        self.alu(AluOp::Mov, idx, Src::Imm(last));
        self.jump(Cond::Sge, v, Src::Imm(max32), end);
        self.alu(AluOp::Mov, idx, Src::Reg(v));
        self.alu(AluOp::Sub, idx, Src::Imm(min32));
        self.alu(AluOp::Div, idx, Src::Imm(step32));
        self.alu(AluOp::Add, idx, Src::Imm(1));
        self.place(end);
        Ok(idx)
    }

    /// `p[idx] += 1` on u64 buckets. The explicit bound check is what lets
    /// the verifier prove the variable-offset access stays in the value.
    fn bump_bucket(&mut self, p: Reg, idx: Reg, buckets: u32, done: crate::ir::Label) {
        self.jump(Cond::Gt, idx, Src::Imm(buckets as i32 - 1), done);
        let at = self.copy_reg(idx);
        self.alu(AluOp::Lsh, at, Src::Imm(3));
        let q = self.copy_reg(p);
        self.alu(AluOp::Add, q, Src::Reg(at));
        self.add_at(q, 0, Src::Imm(1));
    }
}
