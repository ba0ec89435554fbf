//! A session's maps: user maps by name, shared by every entry, and each
//! entry's own stats map. A program's stats slots are laid out for the maps
//! it was compiled with (slot = map id then, lost events after the last),
//! so every entry keeps its stats map and the counts are summed here by map
//! name: map-full drops, LRU evictions and lost events read the same for a
//! script (one entry) and for an interactive session (many).

use crate::decode::ProbeNames;
use crate::error::RuntimeError;
use crate::events::MapAccess;
use crate::maps::{evictions, Maps};
use crate::values::MapSnapshot;
use flowtrace_codegen::object::{stats_inserts_slot, CompiledProgram, MapRole, MapSpec, STATS_LOST_EVENTS};
use flowtrace_lang::typed::MapId;
use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

pub struct SessionMaps {
    /// The user maps created so far, by name without `@`.
    by_name: HashMap<String, OwnedFd>,
    /// The accepted program's user maps (ids as compiled then), for reading.
    view: Option<Maps>,
    /// (an entry's stats map, the user map names by id when it was compiled).
    stats: Vec<(OwnedFd, Vec<String>)>,
    cpus: usize,
}

/// The user map names of `compiled`, indexed by map id.
fn names_by_id(compiled: &CompiledProgram) -> Vec<String> {
    let mut named: Vec<(MapId, String)> = compiled
        .maps
        .iter()
        .filter_map(|s| match &s.role {
            MapRole::User { id, name, .. } => Some((*id, name.clone())),
            _ => None,
        })
        .collect();
    named.sort();
    named.into_iter().map(|(_, name)| name).collect()
}

/// The name a session keeps map `spec` of `compiled` under: a user map's
/// own name, or for a fused map (`MapRole::FusedStorage`) one made of its
/// members' names (a `#` cannot start a script's map name); `None` for
/// every other map.
pub(crate) fn session_name(compiled: &CompiledProgram, spec: &MapSpec) -> Option<String> {
    match &spec.role {
        MapRole::User { name, .. } => Some(name.clone()),
        MapRole::FusedStorage { members } => {
            let names = names_by_id(compiled);
            let members: Vec<&str> = members.iter().map(|m| names.get(m.0 as usize).map_or("?", String::as_str)).collect();
            Some(format!("#fused:{}", members.join(",")))
        }
        _ => None,
    }
}

impl SessionMaps {
    pub(crate) fn new() -> Result<SessionMaps, RuntimeError> {
        let cpus = crate::sys::possible_cpus()
            .map_err(|error| RuntimeError::Kernel { what: "reading the number of possible CPUs".into(), error })?;
        Ok(SessionMaps { by_name: HashMap::new(), view: None, stats: Vec::new(), cpus: cpus.max(1) })
    }

    /// The same maps through duplicated fds, for a thread that only reads
    /// (`/metrics`): counts and snapshots read as this session's do.
    pub fn try_clone(&self) -> Result<SessionMaps, RuntimeError> {
        let dup = |fd: &OwnedFd| {
            fd.try_clone().map_err(|error| RuntimeError::Kernel { what: "duplicating a map fd".into(), error })
        };
        let by_name = self.by_name.iter().map(|(n, fd)| Ok((n.clone(), dup(fd)?))).collect::<Result<_, RuntimeError>>()?;
        let stats = self.stats.iter().map(|(fd, names)| Ok((dup(fd)?, names.clone()))).collect::<Result<_, RuntimeError>>()?;
        let view = self.view.as_ref().map(Maps::try_clone).transpose()?;
        Ok(SessionMaps { by_name, view, stats, cpus: self.cpus })
    }

    /// Takes user maps `names` out of the session (a reload restarts them);
    /// [`SessionMaps::put_back`] undoes it.
    pub(crate) fn set_aside(&mut self, names: &[String]) -> Vec<(String, OwnedFd)> {
        names.iter().filter_map(|n| self.by_name.remove_entry(n)).collect()
    }

    pub(crate) fn put_back(&mut self, maps: Vec<(String, OwnedFd)>) {
        self.by_name.extend(maps);
    }

    /// The fd of user map `name`, if an entry created it.
    pub(crate) fn fd(&self, name: &str) -> Option<BorrowedFd<'_>> {
        self.by_name.get(name).map(|fd| fd.as_fd())
    }

    pub(crate) fn exists(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// A reading view of `compiled`'s user maps: the session's, or `fresh`
    /// ones (indexed like `compiled.maps`) an entry is about to add.
    pub(crate) fn view_of(&self, compiled: &CompiledProgram, fresh: &[Option<OwnedFd>]) -> Result<Maps, RuntimeError> {
        let mut specs = Vec::new();
        let mut fds = Vec::new();
        // Where each map of `compiled` is in the view, for fused parts.
        let mut at = vec![0u32; compiled.maps.len()];
        for (i, (spec, fresh)) in compiled.maps.iter().zip(fresh).enumerate() {
            let Some(name) = session_name(compiled, spec) else { continue };
            let fd = fresh.as_ref().or_else(|| self.by_name.get(&name));
            at[i] = specs.len() as u32;
            specs.push(spec.clone());
            fds.push(fd.and_then(|fd| fd.try_clone().ok()));
        }
        for spec in &mut specs {
            if let MapRole::User { fused: Some(part), .. } = &mut spec.role {
                part.storage = at[part.storage as usize];
            }
        }
        let stack_fds: Vec<_> = fresh.iter().map(|f| f.as_ref().map(|fd| fd.as_fd())).collect();
        Maps::from_fds(specs, fds, ProbeNames::of(compiled).with_stacks(compiled, &stack_fds))
    }

    /// Installs `view`, returning the one it replaces.
    pub(crate) fn swap_view(&mut self, view: Option<Maps>) -> Option<Maps> {
        std::mem::replace(&mut self.view, view)
    }

    /// After an entry was accepted: its new user maps join the session, its
    /// stats map is kept for the counters; scratch maps live on in the
    /// programs that use them.
    pub(crate) fn keep(&mut self, compiled: &CompiledProgram, fresh: Vec<Option<OwnedFd>>) {
        let names = names_by_id(compiled);
        for (spec, fd) in compiled.maps.iter().zip(fresh) {
            let Some(fd) = fd else { continue };
            match (&spec.role, session_name(compiled, spec)) {
                (_, Some(name)) => {
                    self.by_name.insert(name, fd);
                }
                (MapRole::Stats, None) => self.stats.push((fd, names.clone())),
                _ => {}
            }
        }
    }

    fn maps(&self) -> Result<&Maps, RuntimeError> {
        self.view.as_ref().ok_or_else(|| RuntimeError::Load("no maps yet".into()))
    }

    /// The user maps' specs, in the accepted program's order.
    pub fn specs(&self) -> &[MapSpec] {
        self.view.as_ref().map_or(&[], |m| m.specs())
    }

    /// The user maps (`@…`) in declaration order.
    pub fn user_maps(&self) -> Vec<MapId> {
        self.view.as_ref().map_or_else(Vec::new, |m| m.user_maps())
    }

    fn spec(&self, id: MapId) -> Option<&MapSpec> {
        self.specs().iter().find(|s| matches!(&s.role, MapRole::User { id: i, .. } if *i == id))
    }

    fn name_of(&self, id: MapId) -> Option<&str> {
        self.spec(id).and_then(|s| match &s.role {
            MapRole::User { name, .. } => Some(name.as_str()),
            _ => None,
        })
    }

    /// A user map's id by name (without `@`).
    pub fn find(&self, name: &str) -> Option<MapId> {
        self.specs().iter().find_map(|s| match &s.role {
            MapRole::User { id, name: n, .. } if n == name => Some(*id),
            _ => None,
        })
    }

    /// Every entry of user map `id`, per-CPU shares summed, with the
    /// updates dropped because it was full and (LRU) the keys evicted.
    pub fn snapshot(&self, id: MapId) -> Result<MapSnapshot, RuntimeError> {
        self.snapshot_top(id, 0)
    }

    /// [`Self::snapshot`] keeping only what `print(@m, top)` can print.
    pub fn snapshot_top(&self, id: MapId, top: u64) -> Result<MapSnapshot, RuntimeError> {
        let (mut snap, live) = self.maps()?.snapshot_top(id, top)?;
        let name = self.name_of(id).unwrap_or_default();
        let slot_of = |names: &[String], name: &str| names.iter().position(|n| n == name);
        snap.dropped_updates = self.stats_sum(|names| slot_of(names, name).map(|i| i as u32));
        // A fused map's creations are counted in its group's first member's slot.
        let (created_in, lru) = self.maps()?.eviction_basis(id)?;
        if lru {
            let counter = self.name_of(created_in).unwrap_or_default();
            // Each entry counts the keys it created in its own stats map.
            let created =
                self.stats_sum(|names| Some(stats_inserts_slot(names.len() as u32, MapId(slot_of(names, counter)? as u32))));
            let removed = self.maps()?.removed_keys(id);
            snap.evicted = evictions(created, live as u64, removed);
        }
        Ok(snap)
    }

    pub fn clear(&self, id: MapId) -> Result<(), RuntimeError> {
        self.maps()?.clear(id)
    }

    pub fn zero(&self, id: MapId) -> Result<(), RuntimeError> {
        self.maps()?.zero(id)
    }

    /// Ring-buffer records lost because it was full, over every entry.
    pub fn lost_events(&self) -> u64 {
        self.stats_sum(|names| Some(names.len() as u32 + STATS_LOST_EVENTS))
    }

    /// `for` ranges cut short at the round cap, over every entry.
    pub fn loops_cut(&self) -> u64 {
        self.stats_sum(|names| Some(flowtrace_codegen::object::stats_loops_cut_slot(names.len() as u32)))
    }

    /// `kstack`/`ustack` that `bpf_get_stackid` failed to record, over every entry.
    pub fn stacks_lost(&self) -> u64 {
        self.stats_sum(|names| Some(flowtrace_codegen::object::stats_stacks_lost_slot(names.len() as u32)))
    }

    /// Sum over the entries' stats maps of one slot each (`slot` of the
    /// entry's map names; `None` to skip that entry).
    fn stats_sum(&self, slot: impl Fn(&[String]) -> Option<u32>) -> u64 {
        let mut total = 0u64;
        let mut buf = vec![0u8; 8 * self.cpus];
        for (fd, names) in &self.stats {
            let Some(slot) = slot(names) else { continue };
            if let Ok(true) = crate::sys::map_lookup(fd.as_fd(), &slot.to_le_bytes(), &mut buf) {
                // Per-CPU counters; each CPU's share wraps on its own.
                total = buf
                    .chunks(8)
                    .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    .fold(total, u64::wrapping_add);
            }
        }
        total
    }
}

impl MapAccess for SessionMaps {
    fn snapshot_top(&self, id: MapId, top: u64) -> Result<MapSnapshot, RuntimeError> {
        SessionMaps::snapshot_top(self, id, top)
    }
    fn clear(&self, id: MapId) -> Result<(), RuntimeError> {
        SessionMaps::clear(self, id)
    }
    fn zero(&self, id: MapId) -> Result<(), RuntimeError> {
        SessionMaps::zero(self, id)
    }
}
