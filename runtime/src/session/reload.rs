//! Which running programs a reload can keep: a program of the new script
//! that is the same program as one already attached — same attach point,
//! same instructions, its maps the same maps — is not loaded again; the
//! running one stays attached. So an unchanged probe neither misses an event
//! nor counts one twice while the new script's other programs attach and the
//! old ones detach.

use super::compat::events_keep_meaning;
use flowtrace_codegen::object::{CompiledProgram, MapRef, MapRole, ProgramKind};

/// Pairs (index in `old.programs`, index in `new.programs`) of identical
/// programs, each index at most once. `attached` are the old programs still
/// running; `restarted` the maps the reload recreates (a program writing
/// one of them must be replaced, to write the new map).
pub fn unchanged(old: &CompiledProgram, attached: &[usize], new: &CompiledProgram, restarted: &[String]) -> Vec<(usize, usize)> {
    // Records the old programs send are decoded with the new table.
    if !events_keep_meaning(old, new) {
        return Vec::new();
    }
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    for &i in attached {
        let found = (0..new.programs.len())
            .filter(|j| !pairs.iter().any(|p| p.1 == *j))
            .find(|&j| same_program(old, i, new, j, restarted));
        if let Some(j) = found {
            pairs.push((i, j));
        }
    }
    pairs
}

fn same_program(old: &CompiledProgram, i: usize, new: &CompiledProgram, j: usize, restarted: &[String]) -> bool {
    let (a, b) = (&old.programs[i], &new.programs[j]);
    // BEGIN/END are not attached: the new script's run.
    if a.kind == ProgramKind::Special || a.kind != b.kind || a.attach.raw != b.attach.raw || a.members != b.members {
        return false;
    }
    if a.insns.len() != b.insns.len() || a.map_relocs.len() != b.map_relocs.len() {
        return false;
    }
    let same_maps = a.map_relocs.iter().zip(&b.map_relocs).all(|(&(at_a, ma), &(at_b, mb))| at_a == at_b && same_map(old, ma, new, mb, restarted));
    // A map reference's immediate is the map's index, which may move.
    let relocated = |k: usize| a.map_relocs.iter().any(|&(at, _)| at == k || at + 1 == k);
    same_maps && a.insns.iter().zip(&b.insns).enumerate().all(|(k, (x, y))| x == y || relocated(k))
}

/// Whether the old program's map `ma` is the map the new one's `mb` would be.
fn same_map(old: &CompiledProgram, ma: MapRef, new: &CompiledProgram, mb: MapRef, restarted: &[String]) -> bool {
    let (Some(a), Some(b)) = (old.maps.get(ma.0 as usize), new.maps.get(mb.0 as usize)) else { return false };
    match (&a.role, &b.role) {
        (MapRole::User { name: na, .. }, MapRole::User { name: nb, .. }) => na == nb && !restarted.contains(na),
        // The old program keeps its entry's own stats, scratch and
        // interface-name maps (its stats are summed by map name); the
        // ring buffer is the session's one.
        (MapRole::Stats, MapRole::Stats)
        | (MapRole::Scratch, MapRole::Scratch)
        | (MapRole::Events, MapRole::Events)
        | (MapRole::Ifnames, MapRole::Ifnames) => true,
        _ => false,
    }
}
