//! A fused aggregation group (`crate::fuse`): the run's statements become
//! one lookup (or one create) of the group's map and each member's update
//! at its offset in the value. Lowered where the group's first statement
//! is; the others emit nothing (their keys and arguments are pure, so where
//! they are evaluated is invisible).

use super::maps::ValueStats;
use super::{LowerResult, Lowerer};
use crate::ir::{Cond, Inst, Size, Src};
use flowtrace_lang::typed::MapId;

impl Lowerer<'_> {
    /// `TStmtKind::Aggregate` on `map`, which is member `index` of fused
    /// group `group`.
    pub fn fused_aggregate(&mut self, map: MapId, group: usize, index: usize) -> LowerResult<()> {
        if index != 0 {
            self.comment(format!(">@{} updated with its fused group", self.prog.maps[map.0 as usize].name));
            return Ok(());
        }
        let g = self.g.fuse.groups[group].clone();
        let names: Vec<String> = g.members.iter().map(|m| format!("{} @{}", m.agg, self.prog.maps[m.map.0 as usize].name)).collect();
        self.comment(format!(">fused {}", names.join(", ")));
        let mut values = Vec::with_capacity(g.members.len());
        for m in &g.members {
            values.push(match &m.arg {
                Some(a) => {
                    let v = self.expr(a)?;
                    Some(self.scalar(v)?)
                }
                None => None,
            });
        }
        let k = self.statement_key(map, g.key.as_ref())?;
        let storage = self.g.fused_storage[group];
        // Entries are counted once, in the first member's slot: every
        // member of an LRU group holds every key (see `crate::fuse`).
        let stats = ValueStats {
            created: self.g.is_lru(map).then(|| self.g.inserts_slot(map)),
            failed: g.members.iter().map(|m| m.map.0).collect(),
        };
        let p = self.value_ptr(storage, k, g.value_size, &stats)?;
        let end = self.label();
        self.jump(Cond::Eq, p, Src::Imm(0), end);
        // Every member is updated, so every presence bit is set: a plain
        // store, no read (userspace clears a member's bit on `clear`).
        let all = (1i32 << g.members.len()) - 1;
        self.emit(Inst::Store { size: Size::DW, base: p, off: 0, src: Src::Imm(all) });
        for (m, v) in g.members.iter().zip(values) {
            let done = self.label();
            self.agg_apply(p, m.offset as i16, m.agg, v, done)?;
            self.place(done);
        }
        self.place(end);
        Ok(())
    }
}
