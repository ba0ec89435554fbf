//! Whether a session's next compilation can run next to what is loaded.
//!
//! A new entry is compiled together with every earlier one, so maps are
//! typed exactly as in a script. Event ids and probe-name indices are
//! assigned in order of appearance, so appending keeps the earlier ones; map
//! ids may move (declared maps are numbered first), so maps are matched by
//! name.

use super::maps::SessionMaps;
use flowtrace_codegen::object::{CompiledProgram, EventKind, MapRole, MapSpec, MapValue};
use flowtrace_lang::typed::MapId;

/// Why a new compilation cannot join the session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The map it changes (without `@`); empty for an internal error.
    pub map: String,
    pub why: String,
}

/// Every map earlier entries created must be the same map in the new
/// compilation, and every earlier event must keep its id and meaning.
pub(crate) fn check(old: &CompiledProgram, new: &CompiledProgram, maps: &SessionMaps) -> Result<(), Conflict> {
    for o in user_specs(old) {
        let MapRole::User { name, keys, value, .. } = &o.role else { continue };
        if !maps.exists(name) {
            continue; // not created yet: its type may still settle
        }
        let conflict = |why: String| Conflict { map: name.clone(), why };
        let Some(n) = user_specs(new).find(|n| matches!(&n.role, MapRole::User { name: m, .. } if m == name)) else {
            return Err(conflict("it disappeared (internal error)".into()));
        };
        let MapRole::User { keys: n_keys, value: n_value, .. } = &n.role else { continue };
        let same_layout = (o.map_type, o.key_size, o.value_size, o.max_entries) == (n.map_type, n.key_size, n.value_size, n.max_entries)
            && fused_in(old, o) == fused_in(new, n);
        if n_keys != keys || n_value != value || !same_layout {
            return Err(conflict(format!("it was {} and would become {}", describe(o), describe(n))));
        }
    }
    if !events_keep_meaning(old, new) {
        return Err(Conflict { map: String::new(), why: "event ids moved (internal error)".into() });
    }
    Ok(())
}

/// Whether every event id and probe-name index of `old` means the same in
/// `new` (maps matched by name), so records a program of `old` sends decode
/// right with `new`'s table.
pub(crate) fn events_keep_meaning(old: &CompiledProgram, new: &CompiledProgram) -> bool {
    let renamed = renumber_events(old, new);
    renamed.len() <= new.events.len()
        && renamed[..] == new.events[..renamed.len()]
        && old.probe_names.len() <= new.probe_names.len()
        && old.probe_names[..] == new.probe_names[..old.probe_names.len()]
}

/// For a reload: the maps `new` declares by a name the session has, but
/// with another type or size. Those cannot be shared, so they restart; maps
/// `new` no longer has are simply no longer read.
pub(crate) fn changed_maps(new: &CompiledProgram, maps: &SessionMaps, old: &CompiledProgram) -> Vec<Conflict> {
    let mut changed = Vec::new();
    for n in user_specs(new) {
        let MapRole::User { name, keys, value, .. } = &n.role else { continue };
        if !maps.exists(name) {
            continue;
        }
        let found = user_specs(old).find(|o| matches!(&o.role, MapRole::User { name: m, .. } if m == name));
        let same = found.is_some_and(|o| {
            let MapRole::User { keys: o_keys, value: o_value, .. } = &o.role else { return false };
            o_keys == keys
                && o_value == value
                && (o.map_type, o.key_size, o.value_size, o.max_entries) == (n.map_type, n.key_size, n.value_size, n.max_entries)
                && fused_in(old, o) == fused_in(new, n)
        });
        if !same {
            let was = found.map_or_else(|| "unknown".to_string(), describe);
            changed.push(Conflict { map: name.clone(), why: format!("it was {was} and is now {}", describe(n)) });
        }
    }
    changed
}

/// `old`'s event table with its map ids translated to `new`'s (by name).
fn renumber_events(old: &CompiledProgram, new: &CompiledProgram) -> Vec<EventKind> {
    let name_of = |want: MapId| -> Option<&String> {
        user_specs(old).find_map(|s| match &s.role {
            MapRole::User { id, name, .. } if *id == want => Some(name),
            _ => None,
        })
    };
    let renumber = |m: MapId| {
        let name = name_of(m);
        user_specs(new)
            .find_map(|s| match &s.role {
                MapRole::User { id, name: n, .. } if Some(n) == name => Some(*id),
                _ => None,
            })
            .unwrap_or(m)
    };
    old.events
        .iter()
        .map(|e| match e {
            EventKind::PrintMap { map, top, div } => EventKind::PrintMap { map: renumber(*map), top: *top, div: *div },
            EventKind::Clear { map } => EventKind::Clear { map: renumber(*map) },
            EventKind::Zero { map } => EventKind::Zero { map: renumber(*map) },
            other => other.clone(),
        })
        .collect()
}

/// Where a fused user map's entries are, in terms that compare across
/// compilations: its offset and bit in the fused map, and that map's
/// session name (its members). A map can only be shared as it was fused.
fn fused_in(c: &CompiledProgram, spec: &MapSpec) -> Option<(u32, u32, Option<String>)> {
    let MapRole::User { fused: Some(part), .. } = &spec.role else { return None };
    let storage = c.maps.get(part.storage as usize)?;
    Some((part.offset, part.bit, super::maps::session_name(c, storage)))
}

fn user_specs(c: &CompiledProgram) -> impl Iterator<Item = &MapSpec> {
    c.maps.iter().filter(|s| matches!(s.role, MapRole::User { .. }))
}

fn describe(spec: &MapSpec) -> String {
    let MapRole::User { keys, value, .. } = &spec.role else { return spec.name.clone() };
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    let value = match value {
        MapValue::Plain(t) => t.to_string(),
        MapValue::Agg(a) => format!("{a:?}").to_lowercase(),
    };
    format!("[{}] → {value} ({:?}, {} entries)", keys.join(", "), spec.map_type, spec.max_entries)
}
