//! The loaded BPF maps, indexed like `CompiledProgram::maps`: reading a user
//! map into a [`MapSnapshot`], `clear`/`zero`/`delete`, and the stats map's
//! counters (failed updates per map, lost ring-buffer records).

use crate::decode::{self, ProbeNames};
use crate::error::RuntimeError;
use crate::sys;
use crate::output::order;
use crate::values::{AggValue, MapEntry, MapSnapshot, ValueKind};
use aya::maps::MapData;
use flowtrace_codegen::layout;
use flowtrace_codegen::object::{stats_inserts_slot, BpfMapType, FusedPart, MapRole, MapSpec, MapValue, STATS_LOST_EVENTS};
use flowtrace_lang::typed::MapId;
use flowtrace_lang::types::{AggKind, Type};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct Maps {
    specs: Vec<MapSpec>,
    /// `None` where the map was handed elsewhere (the ring buffer).
    data: Vec<Option<MapData>>,
    cpus: usize,
    /// Names for `Type::ProbeName` values, by program index.
    probes: ProbeNames,
    /// Per map (indexed like `specs`): keys this process deleted with
    /// `clear`/`delete`, which the kernel's creation count cannot know of.
    /// Shared with [`Maps::try_clone`]'s copies, so a scrape thread sees them.
    removed: Arc<[AtomicU64]>,
}

fn kernel(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let what = what.into();
    move |error| RuntimeError::Kernel { what, error }
}

fn is_per_cpu(t: BpfMapType) -> bool {
    matches!(t, BpfMapType::PercpuHash | BpfMapType::PercpuArray | BpfMapType::LruPercpuHash)
}

fn is_lru(t: BpfMapType) -> bool {
    matches!(t, BpfMapType::LruHash | BpfMapType::LruPercpuHash)
}

fn is_array(t: BpfMapType) -> bool {
    matches!(t, BpfMapType::Array | BpfMapType::PercpuArray)
}

impl Maps {
    pub(crate) fn new(specs: Vec<MapSpec>, data: Vec<Option<MapData>>, probes: ProbeNames) -> Result<Maps, RuntimeError> {
        let cpus = sys::possible_cpus().map_err(kernel("reading the number of possible CPUs"))?;
        let removed = specs.iter().map(|_| AtomicU64::new(0)).collect();
        Ok(Maps { specs, data, cpus, probes, removed })
    }

    /// Maps over file descriptors the caller created (indexed like `specs`;
    /// `None` for one that is not read, like the ring buffer).
    pub fn from_fds(specs: Vec<MapSpec>, fds: Vec<Option<std::os::fd::OwnedFd>>, probes: ProbeNames) -> Result<Maps, RuntimeError> {
        let mut data = Vec::with_capacity(fds.len());
        for (spec, fd) in specs.iter().zip(fds) {
            data.push(match fd {
                Some(fd) => Some(MapData::from_fd(fd).map_err(|e| RuntimeError::Load(format!("map {}: {e}", spec.name)))?),
                None => None,
            });
        }
        Maps::new(specs, data, probes)
    }

    /// The same maps through duplicated fds, for reading from another
    /// thread (a `/metrics` scrape) while this one runs the programs.
    pub fn try_clone(&self) -> Result<Maps, RuntimeError> {
        let mut data = Vec::with_capacity(self.data.len());
        for (spec, d) in self.specs.iter().zip(&self.data) {
            data.push(match d {
                Some(d) => {
                    let fd = d.fd().as_fd().try_clone_to_owned().map_err(kernel(format!("duplicating the fd of {}", spec.name)))?;
                    Some(MapData::from_fd(fd).map_err(|e| RuntimeError::Load(format!("map {}: {e}", spec.name)))?)
                }
                None => None,
            });
        }
        Ok(Maps { specs: self.specs.clone(), data, cpus: self.cpus, probes: self.probes.clone(), removed: Arc::clone(&self.removed) })
    }

    /// Fills the `ifname` map ([`MapRole::Ifnames`]) if the program has one.
    pub(crate) fn write_ifnames(&self, interfaces: &[crate::tc::Interface]) -> Result<(), RuntimeError> {
        let Some(index) = self.specs.iter().position(|s| matches!(s.role, MapRole::Ifnames)) else { return Ok(()) };
        let fd = self.fd(index)?;
        for iface in interfaces {
            let mut name = [0u8; 16];
            let n = iface.name.len().min(15);
            name[..n].copy_from_slice(&iface.name.as_bytes()[..n]);
            sys::map_update(fd, &iface.index.to_ne_bytes(), &name, sys::BPF_ANY)
                .map_err(kernel(format!("writing the name of interface {}", iface.name)))?;
        }
        Ok(())
    }

    pub fn specs(&self) -> &[MapSpec] {
        &self.specs
    }

    /// The user maps (`@…`) in declaration order.
    pub fn user_maps(&self) -> Vec<MapId> {
        self.specs
            .iter()
            .filter_map(|s| match &s.role {
                MapRole::User { id, .. } => Some(*id),
                _ => None,
            })
            .collect()
    }

    /// The map at `index` (like `CompiledProgram::maps`), for reading its
    /// bytes as the kernel holds them ([`sys::map_lookup`]): tests check the
    /// layout of keys and values with it.
    pub fn fd(&self, index: usize) -> Result<BorrowedFd<'_>, RuntimeError> {
        match self.data.get(index) {
            Some(Some(d)) => Ok(d.fd().as_fd()),
            _ => Err(RuntimeError::Load(format!("map #{index} is not available for reading"))),
        }
    }

    fn user(&self, id: MapId) -> Result<(usize, &MapSpec), RuntimeError> {
        self.specs
            .iter()
            .position(|s| matches!(&s.role, MapRole::User { id: m, .. } if *m == id))
            .map(|i| (i, &self.specs[i]))
            .ok_or_else(|| RuntimeError::Load(format!("no BPF map for user map #{}", id.0)))
    }

    /// Bytes a lookup returns: per-CPU maps hold one copy per possible CPU,
    /// each rounded up to 8 bytes.
    fn value_buf_size(&self, spec: &MapSpec) -> usize {
        if is_per_cpu(spec.map_type) {
            layout::round_up(spec.value_size) as usize * self.cpus
        } else {
            spec.value_size as usize
        }
    }

    fn keys_of(&self, index: usize) -> Result<Vec<Vec<u8>>, RuntimeError> {
        let spec = &self.specs[index];
        let fd = self.fd(index)?;
        sys::map_keys(fd, spec.key_size as usize).map_err(kernel(format!("listing keys of {}", spec.name)))
    }

    /// Every key and value of map `index`, as the kernel holds them: one
    /// `BPF_MAP_LOOKUP_BATCH` per up to 65 536 entries of a hash map (a
    /// million-key map in 16 syscalls, by two threads), else — an array, a kernel before
    /// 5.6, a bucket larger than a batch, `FLOWTRACE_NO_BATCH=1` — one
    /// lookup per key.
    fn raw_entries(&self, index: usize) -> Result<RawEntries, RuntimeError> {
        let spec = &self.specs[index];
        let fd = self.fd(index)?;
        let value_size = self.value_buf_size(spec);
        let hash = !is_array(spec.map_type);
        if hash && !batch_disabled() {
            // The kernel's bucket count for a hash map (kernel/bpf/hashtab.c).
            let buckets = spec.max_entries.max(1).checked_next_power_of_two().unwrap_or(u32::MAX);
            if let Ok(raw) = batched(fd, spec.key_size as usize, value_size, buckets) {
                return Ok(raw);
            }
        }
        per_key(fd, spec.key_size as usize, value_size).map_err(kernel(format!("reading {}", spec.name)))
    }

    /// Every entry of a user map, per-CPU copies merged.
    pub fn snapshot(&self, id: MapId) -> Result<MapSnapshot, RuntimeError> {
        self.snapshot_top(id, 0).map(|(snap, _)| snap)
    }

    /// For `print(@m, top)`: the entries it shows (every entry when `top` is
    /// 0), with the number of entries the map holds (for a fused map, the
    /// entries of its BPF map, which its evictions are counted against).
    /// Entries are ranked on their values read straight from the bytes, and
    /// only those shown are decoded: a top 10 of a million keys decodes ten
    /// keys (and the keys of entries tied with the tenth, which ties are
    /// settled by).
    pub fn snapshot_top(&self, id: MapId, top: u64) -> Result<(MapSnapshot, usize), RuntimeError> {
        let (index, spec) = self.user(id)?;
        let MapRole::User { name, keys, value, .. } = &spec.role else { unreachable!("user() checked the role") };
        let (read, fused) = self.storage(index);
        let read_spec = &self.specs[read];
        let raw = self.raw_entries(read)?;
        let counted = raw.len();
        let cpus = if is_per_cpu(read_spec.map_type) { self.cpus } else { 1 };
        let stride = layout::round_up(read_spec.value_size) as usize;
        // A fused member's entries are those with its presence bit, and its
        // value is its own fields of each CPU's copy: repacked as its own
        // map would hold them, they decode like any map's.
        let (raw, stride) = match (fused, value) {
            (Some(part), MapValue::Agg(agg)) => {
                let size = layout::agg_size(*agg);
                let own_stride = layout::round_up(size) as usize;
                let mut own = RawEntries { key_size: raw.key_size, value_size: own_stride * cpus, keys: Vec::new(), values: Vec::new() };
                for i in (0..raw.len()).filter(|&i| fused_present(raw.value(i), stride, cpus, part)) {
                    own.keys.extend_from_slice(raw.key(i));
                    own.values.extend_from_slice(&fused_fields(raw.value(i), stride, cpus, part, size).0);
                }
                (own, own_stride)
            }
            _ => (raw, stride),
        };
        let live = raw.len();
        let decoder = EntryDecoder { keys: decode::KeyDecoder::new(keys), value, stride, cpus, probes: &self.probes };
        // bpftrace ignores `top` for stats maps.
        let chosen = if top == 0 || value_kind(value) == ValueKind::Stats { None } else { decoder.top(&raw, top) };
        let entries: Vec<MapEntry> = match chosen {
            Some(chosen) => chosen.into_iter().map(|i| decoder.entry(raw.key(i), raw.value(i))).collect(),
            None => raw.iter().map(|(k, v)| decoder.entry(k, v)).collect(),
        };
        drop(raw);
        let counted = if fused.is_some() { counted } else { live };
        let name = if name.starts_with('@') { name.clone() } else { format!("@{name}") };
        // A fused LRU map counts creations per BPF entry (in its first
        // member's slot), and every member holds every entry's key.
        let evicted = match (is_lru(read_spec.map_type), fused) {
            (false, _) => 0,
            (true, None) => self.evicted(read, id, live as u64)?,
            (true, Some(_)) => self.evicted(read, self.fused_first(read).unwrap_or(id), counted as u64)?,
        };
        let snap = MapSnapshot {
            name,
            entries,
            evicted,
            dropped_updates: self.dropped_updates(id)?,
            max_entries: read_spec.max_entries,
            kind: value_kind(value),
            keyless: keys.is_empty(),
        };
        Ok((snap, counted))
    }

    /// The map holding user map `index`'s entries: its own, or the fused
    /// map (with where in it) when it is fused.
    fn storage(&self, index: usize) -> (usize, Option<FusedPart>) {
        match &self.specs[index].role {
            MapRole::User { fused: Some(part), .. } => (part.storage as usize, Some(*part)),
            _ => (index, None),
        }
    }

    /// The first member of fused map `storage`, whose stats slot counts its creations.
    fn fused_first(&self, storage: usize) -> Option<MapId> {
        match &self.specs[storage].role {
            MapRole::FusedStorage { members } => members.first().copied(),
            _ => None,
        }
    }

    /// Removes fused member `part` from the entries with `keys` of fused
    /// map `storage` (`zero_only`: zeroes its fields, keeps it present).
    /// An entry no member is left in is deleted. Between the read and the
    /// write, an update a probe makes to another member of that key is
    /// lost, as with `zero` on any map; the fused value cannot be written
    /// in part.
    fn fused_remove(&self, storage: usize, part: FusedPart, keys: &[Vec<u8>], size: u32, zero_only: bool) -> Result<u64, RuntimeError> {
        let spec = &self.specs[storage];
        let fd = self.fd(storage)?;
        let stride = layout::round_up(spec.value_size) as usize;
        let cpus = if is_per_cpu(spec.map_type) { self.cpus } else { 1 };
        let mut buf = vec![0u8; self.value_buf_size(spec)];
        let mut deleted = 0;
        for k in keys {
            if !sys::map_lookup(fd, k, &mut buf).map_err(kernel(format!("reading {}", spec.name)))? {
                continue;
            }
            if !fused_present(&buf, stride, cpus, part) {
                continue;
            }
            let mut others = false;
            for cpu in 0..cpus {
                let at = cpu * stride;
                let fields = at + part.offset as usize;
                buf[fields..fields + size as usize].fill(0);
                let mut bits = u64::from_ne_bytes(buf[at..at + 8].try_into().expect("8 bytes"));
                if !zero_only {
                    bits &= !(1u64 << part.bit);
                }
                others |= bits != 0;
                buf[at..at + 8].copy_from_slice(&bits.to_ne_bytes());
            }
            if others {
                sys::map_update(fd, k, &buf, sys::BPF_EXIST).map_err(kernel(format!("clearing {}", spec.name)))?;
            } else if sys::map_delete(fd, k).map_err(kernel(format!("clearing {}", spec.name)))? {
                self.removed[storage].fetch_add(1, Ordering::Relaxed);
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Bytes of the aggregation fields of the user map at `index` (its
    /// share of a fused value).
    fn fused_size(&self, index: usize) -> u32 {
        match &self.specs[index].role {
            MapRole::User { value: MapValue::Agg(agg), .. } => layout::agg_size(*agg),
            _ => 0,
        }
    }

    /// `clear(@m)`: removes every key (arrays cannot lose keys, so they are zeroed).
    pub fn clear(&self, id: MapId) -> Result<(), RuntimeError> {
        let (index, spec) = self.user(id)?;
        if let (storage, Some(part)) = self.storage(index) {
            let keys = self.keys_of(storage)?;
            self.fused_remove(storage, part, &keys, self.fused_size(index), false)?;
            return Ok(());
        }
        if is_array(spec.map_type) {
            return self.zero(id);
        }
        let fd = self.fd(index)?;
        for k in self.keys_of(index)? {
            if sys::map_delete(fd, &k).map_err(kernel(format!("clearing {}", spec.name)))? {
                self.removed[index].fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// `zero(@m)`: keeps the keys, sets every value (on every CPU) to zero.
    pub fn zero(&self, id: MapId) -> Result<(), RuntimeError> {
        let (index, spec) = self.user(id)?;
        if let (storage, Some(part)) = self.storage(index) {
            let keys = self.keys_of(storage)?;
            self.fused_remove(storage, part, &keys, self.fused_size(index), true)?;
            return Ok(());
        }
        let fd = self.fd(index)?;
        let zeros = vec![0u8; self.value_buf_size(spec)];
        for k in self.keys_of(index)? {
            sys::map_update(fd, &k, &zeros, sys::BPF_ANY).map_err(kernel(format!("zeroing {}", spec.name)))?;
        }
        Ok(())
    }

    /// Deletes one key, given in the map's key layout. `Ok(false)` if absent.
    pub fn delete(&self, id: MapId, key: &[u8]) -> Result<bool, RuntimeError> {
        let (index, spec) = self.user(id)?;
        if let (storage, Some(part)) = self.storage(index) {
            let spec = &self.specs[storage];
            if key.len() != spec.key_size as usize {
                return Err(RuntimeError::Load(format!("key of {} bytes for {} (needs {})", key.len(), spec.name, spec.key_size)));
            }
            let keys = [key.to_vec()];
            let stride = layout::round_up(spec.value_size) as usize;
            let cpus = if is_per_cpu(spec.map_type) { self.cpus } else { 1 };
            let mut buf = vec![0u8; self.value_buf_size(spec)];
            let found = sys::map_lookup(self.fd(storage)?, key, &mut buf).map_err(kernel(format!("reading {}", spec.name)))?;
            if !found || !fused_present(&buf, stride, cpus, part) {
                return Ok(false);
            }
            self.fused_remove(storage, part, &keys, self.fused_size(index), false)?;
            return Ok(true);
        }
        if key.len() != spec.key_size as usize {
            return Err(RuntimeError::Load(format!("key of {} bytes for {} (needs {})", key.len(), spec.name, spec.key_size)));
        }
        let deleted = sys::map_delete(self.fd(index)?, key).map_err(kernel(format!("deleting from {}", spec.name)))?;
        if deleted {
            self.removed[index].fetch_add(1, Ordering::Relaxed);
        }
        Ok(deleted)
    }

    /// Keys of LRU map `id` (at `index`) the kernel evicted to make room:
    /// the keys the programs created (less those they deleted, both counted
    /// in the stats map), less the `live` keys, less those this process
    /// removed. Read while programs run, a creation may land between the
    /// two reads, so this is exact once the programs are quiet.
    fn evicted(&self, index: usize, created_in: MapId, live: u64) -> Result<u64, RuntimeError> {
        let users = self.user_maps().len() as u32;
        let created = self.stats_slot(stats_inserts_slot(users, created_in))?;
        Ok(evictions(created, live, self.removed[index].load(Ordering::Relaxed)))
    }

    /// For counting user map `id`'s LRU evictions: the map whose stats
    /// slot counts its creations (its fused group's first member, or
    /// itself), and whether it is an LRU map at all. The live count
    /// [`Maps::snapshot_top`] returns goes with it.
    pub fn eviction_basis(&self, id: MapId) -> Result<(MapId, bool), RuntimeError> {
        let (index, _) = self.user(id)?;
        let (read, fused) = self.storage(index);
        let created_in = if fused.is_some() { self.fused_first(read).unwrap_or(id) } else { id };
        Ok((created_in, is_lru(self.specs[read].map_type)))
    }

    /// Keys this process removed from user map `id` with `clear`/`delete`.
    pub fn removed_keys(&self, id: MapId) -> u64 {
        self.user(id).map_or(0, |(index, _)| self.removed[self.storage(index).0].load(Ordering::Relaxed))
    }

    /// Updates of `id` the kernel could not make because the map was full.
    pub fn dropped_updates(&self, id: MapId) -> Result<u64, RuntimeError> {
        self.stats_slot(id.0)
    }

    /// Ring-buffer records that could not be reserved (the buffer was full).
    pub fn lost_events(&self) -> Result<u64, RuntimeError> {
        let users = self.user_maps().len() as u32;
        self.stats_slot(users + STATS_LOST_EVENTS)
    }

    /// One slot of the per-CPU u64 stats array, summed over CPUs; 0 when the
    /// program has no stats map.
    fn stats_slot(&self, slot: u32) -> Result<u64, RuntimeError> {
        let Some(index) = self.specs.iter().position(|s| matches!(s.role, MapRole::Stats)) else {
            return Ok(0);
        };
        let spec = &self.specs[index];
        if slot >= spec.max_entries {
            return Ok(0);
        }
        let mut buf = vec![0u8; self.value_buf_size(spec)];
        let found = sys::map_lookup(self.fd(index)?, &slot.to_le_bytes(), &mut buf)
            .map_err(kernel("reading the stats map"))?;
        if !found {
            return Ok(0);
        }
        let stride = layout::round_up(spec.value_size) as usize;
        let cpus = if is_per_cpu(spec.map_type) { self.cpus } else { 1 };
        match decode::aggregate(flowtrace_lang::types::AggKind::Count, &buf, stride, cpus) {
            crate::values::AggValue::Count(n) => Ok(n),
            _ => Ok(0),
        }
    }

    /// The type of a user map's keys (for callers that build delete keys).
    pub fn key_types(&self, id: MapId) -> Result<&[Type], RuntimeError> {
        match &self.user(id)?.1.role {
            MapRole::User { keys, .. } => Ok(keys),
            _ => Ok(&[]),
        }
    }
}

/// Whether a fused value (one copy per CPU, `stride` apart) holds member
/// `part` on any CPU.
fn fused_present(buf: &[u8], stride: usize, cpus: usize, part: FusedPart) -> bool {
    (0..cpus).any(|cpu| {
        let bits = buf.get(cpu * stride..cpu * stride + 8).map_or(0, |b| u64::from_ne_bytes(b.try_into().expect("8 bytes")));
        bits & (1u64 << part.bit) != 0
    })
}

/// Member `part`'s `size` bytes of each CPU's copy, packed as its own
/// per-CPU value would be, with that value's stride.
fn fused_fields(buf: &[u8], stride: usize, cpus: usize, part: FusedPart, size: u32) -> (Vec<u8>, usize) {
    let own = layout::round_up(size) as usize;
    let mut out = vec![0u8; own * cpus];
    for cpu in 0..cpus {
        let at = cpu * stride + part.offset as usize;
        if let Some(src) = buf.get(at..at + size as usize) {
            out[cpu * own..cpu * own + size as usize].copy_from_slice(src);
        }
    }
    (out, own)
}

/// `FLOWTRACE_NO_BATCH=1`: read maps one key at a time even where the
/// kernel has batch reads (to compare the two, or to work around a kernel
/// whose batch reads misbehave).
fn batch_disabled() -> bool {
    std::env::var_os("FLOWTRACE_NO_BATCH").is_some_and(|v| v == "1")
}

/// Turns one user map's raw entries into [`MapEntry`]s.
struct EntryDecoder<'a> {
    keys: decode::KeyDecoder<'a>,
    value: &'a MapValue,
    /// Distance between per-CPU copies of an aggregation.
    stride: usize,
    cpus: usize,
    probes: &'a ProbeNames,
}

impl EntryDecoder<'_> {
    fn entry(&self, key: &[u8], value: &[u8]) -> MapEntry {
        MapEntry { key: self.keys.decode(key, self.probes), value: self.value(value) }
    }

    fn value(&self, bytes: &[u8]) -> AggValue {
        match self.value {
            MapValue::Agg(agg) => decode::aggregate(*agg, bytes, self.stride, self.cpus),
            MapValue::Plain(ty) => decode::plain(ty, bytes, self.probes),
        }
    }

    /// What an entry is sorted by, without building its value where the
    /// bytes say it (aggregations); `None` for values sorted by key.
    fn rank(&self, bytes: &[u8]) -> Option<i128> {
        if let MapValue::Agg(agg) = self.value {
            if let Some(rank) = decode::aggregate_rank(*agg, bytes, self.stride, self.cpus) {
                return Some(rank);
            }
        }
        order::sort_value(&self.value(bytes))
    }

    /// The entries `print(@m, top)` shows ([`order::top_indices`]); `None`
    /// when it shows them all or sorts by key.
    fn top(&self, raw: &RawEntries, top: u64) -> Option<Vec<usize>> {
        if usize::try_from(top).is_ok_and(|t| t >= raw.len()) {
            return None;
        }
        let ranks: Vec<i128> = (0..raw.len()).map(|i| self.rank(raw.value(i))).collect::<Option<_>>()?;
        order::top_indices(&ranks, top, |i| self.keys.decode(raw.key(i), self.probes))
    }
}

/// Keys and values read from a map, each packed back to back.
struct RawEntries {
    key_size: usize,
    value_size: usize,
    keys: Vec<u8>,
    values: Vec<u8>,
}

impl RawEntries {
    fn len(&self) -> usize {
        self.keys.len() / self.key_size.max(1)
    }

    fn key(&self, i: usize) -> &[u8] {
        &self.keys[i * self.key_size..(i + 1) * self.key_size]
    }

    fn value(&self, i: usize) -> &[u8] {
        &self.values[i * self.value_size..(i + 1) * self.value_size]
    }

    fn iter(&self) -> impl ExactSizeIterator<Item = (&[u8], &[u8])> {
        (0..self.len()).map(|i| (self.key(i), self.value(i)))
    }
}

/// The whole of a hash map by `BPF_MAP_LOOKUP_BATCH`; an error where the
/// kernel or map type has no batch support (or a bucket outgrew a batch),
/// for the caller to read key by key instead. A big map (`buckets`, the
/// kernel's bucket count, from a few hundred thousand) is read by two
/// walkers at once, each from its half of the buckets: the kernel's walk
/// (a lock and two copies per bucket) is most of a million-key print.
fn batched(fd: BorrowedFd<'_>, key_size: usize, value_size: usize, buckets: u32) -> std::io::Result<RawEntries> {
    let walkers = if buckets >= 1 << 18 { std::thread::available_parallelism().map_or(1, |n| n.get().min(2)) } else { 1 };
    if walkers == 1 {
        return walk(fd, key_size, value_size, 0, u32::MAX).map(|w| w.raw);
    }
    let share = buckets / walkers as u32;
    let parts: Vec<std::io::Result<Walk>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..walkers as u32)
            .map(|w| {
                // The last walker reads to the end, whatever the bucket count is.
                let end = if w + 1 == walkers as u32 { u32::MAX } else { (w + 1) * share };
                scope.spawn(move || walk(fd, key_size, value_size, w * share, end))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(std::io::Error::other("batch reader panicked")))).collect()
    });
    let parts = parts.into_iter().collect::<std::io::Result<Vec<Walk>>>()?;
    Ok(join_walks(parts, key_size, value_size))
}

/// One walker's read: entries from bucket `start` to past `end`.
struct Walk {
    raw: RawEntries,
    /// Per call: the bucket it started at, and the entries it returned
    /// (`raw`'s indices).
    calls: Vec<(u32, std::ops::Range<usize>)>,
    /// The bucket after the last one read (u32::MAX at the map's end).
    reached: u32,
}

/// Batches from bucket `start` until a batch ends at or past bucket `end`.
/// The last batch may run past `end`, into the next walker's buckets.
fn walk(fd: BorrowedFd<'_>, key_size: usize, value_size: usize, start: u32, end: u32) -> std::io::Result<Walk> {
    // Up to 16 MiB of values per call: 16 calls for a million 8-byte
    // values. Batch size hardly matters to the kernel (it walks every
    // bucket either way); fewer calls mean fewer copies into `raw`.
    let batch = ((16 << 20) / value_size.max(1)).clamp(64, 65536);
    let mut raw = RawEntries { key_size, value_size, keys: Vec::new(), values: Vec::new() };
    let mut keys = vec![0u8; key_size * batch];
    let mut values = vec![0u8; value_size * batch];
    let mut cursor = if start == 0 { sys::BatchCursor::new(key_size) } else { sys::BatchCursor::at_bucket(key_size, start) };
    let mut calls = Vec::new();
    loop {
        let from = cursor.bucket();
        let (n, done) = sys::map_lookup_batch(fd, &mut cursor, &mut keys, &mut values, batch as u32)?;
        let n = n as usize;
        let first = raw.len();
        raw.keys.extend_from_slice(&keys[..n * key_size]);
        raw.values.extend_from_slice(&values[..n * value_size]);
        calls.push((from, first..first + n));
        let reached = if done { u32::MAX } else { cursor.bucket() };
        if reached >= end {
            return Ok(Walk { raw, calls, reached });
        }
    }
}

/// The walkers' entries as one read. A walker's last batch may have run
/// into the buckets of the walkers after it, which read them too: those
/// entries are dropped from it (a key lives in one bucket, so a key that a
/// later walker's batches from before `reached` also hold is one of them).
fn join_walks(parts: Vec<Walk>, key_size: usize, value_size: usize) -> RawEntries {
    let mut raw = RawEntries { key_size, value_size, keys: Vec::new(), values: Vec::new() };
    for (w, part) in parts.iter().enumerate() {
        let last = part.calls.last().map_or(0..0, |(_, r)| r.clone());
        let mut later = std::collections::HashSet::new();
        for next in &parts[w + 1..] {
            for (from, range) in &next.calls {
                if *from < part.reached {
                    later.extend(range.clone().map(|i| next.raw.key(i)));
                }
            }
        }
        for i in 0..part.raw.len() {
            if last.contains(&i) && later.contains(part.raw.key(i)) {
                continue;
            }
            raw.keys.extend_from_slice(part.raw.key(i));
            raw.values.extend_from_slice(part.raw.value(i));
        }
    }
    raw
}

/// The whole of a map, one `BPF_MAP_GET_NEXT_KEY` and one lookup per key.
fn per_key(fd: BorrowedFd<'_>, key_size: usize, value_size: usize) -> std::io::Result<RawEntries> {
    let mut raw = RawEntries { key_size, value_size, keys: Vec::new(), values: Vec::new() };
    let mut buf = vec![0u8; value_size];
    let mut seen = std::collections::HashSet::new();
    for k in sys::map_keys(fd, key_size)? {
        // An update replaces a hash map's element by a new one at the head
        // of its bucket, so a walk through a map being written can list a
        // key twice: it is one entry. A key deleted since we listed it is
        // simply not in the snapshot.
        if !seen.insert(k.clone()) {
            continue;
        }
        if sys::map_lookup(fd, &k, &mut buf)? {
            raw.keys.extend_from_slice(&k);
            raw.values.extend_from_slice(&buf);
        }
    }
    Ok(raw)
}

/// `created` is a wrapping per-CPU sum (a key created on one CPU may be
/// deleted on another); read as signed so a net removal counts as none.
pub fn evictions(created: u64, live: u64, removed: u64) -> u64 {
    let net = (created as i64).saturating_sub(removed as i64).saturating_sub(live as i64);
    net.max(0) as u64
}

fn value_kind(value: &MapValue) -> ValueKind {
    match value {
        MapValue::Plain(_) => ValueKind::Plain,
        MapValue::Agg(agg) => match agg {
            AggKind::Count => ValueKind::Count,
            AggKind::Sum { .. } => ValueKind::Sum,
            AggKind::Min { .. } => ValueKind::Min,
            AggKind::Max { .. } => ValueKind::Max,
            AggKind::Avg { .. } => ValueKind::Avg,
            AggKind::Stats { .. } => ValueKind::Stats,
            AggKind::Hist => ValueKind::Hist,
            AggKind::Lhist { .. } => ValueKind::Lhist,
            AggKind::Tseries { .. } => ValueKind::Tseries,
        },
    }
}

#[cfg(test)]
mod fused_tests {
    use super::{fused_fields, fused_present};
    use flowtrace_codegen::object::FusedPart;

    /// Two CPUs' copies of `{bits, count, sum}`: member 1 (the sum, at
    /// byte 16) is present where either CPU set its bit, and its fields
    /// come out with its own stride, each CPU's share in place.
    #[test]
    fn a_member_is_present_on_any_cpu_and_decoded_alone() {
        let words: [u64; 6] = [0b01, 3, 0, 0b10, 0, 40];
        let buf: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
        let count = FusedPart { storage: 0, offset: 8, bit: 0 };
        let sum = FusedPart { storage: 0, offset: 16, bit: 1 };
        assert!(fused_present(&buf, 24, 2, count) && fused_present(&buf, 24, 2, sum));
        assert!(!fused_present(&buf, 24, 2, FusedPart { storage: 0, offset: 8, bit: 2 }));
        let (own, stride) = fused_fields(&buf, 24, 2, sum, 8);
        assert_eq!(stride, 8);
        assert_eq!(own, [0u64, 40].iter().flat_map(|w| w.to_ne_bytes()).collect::<Vec<u8>>());
    }
}

#[cfg(test)]
mod tests {
    use super::{batched, evictions, per_key, walk, RawEntries};
    use crate::sys;
    use std::collections::BTreeMap;
    use std::os::fd::AsFd;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn as_map(raw: &RawEntries) -> BTreeMap<u64, u64> {
        let mut map = BTreeMap::new();
        for (k, v) in raw.iter() {
            let key = u64::from_le_bytes(k.try_into().unwrap());
            let old = map.insert(key, u64::from_le_bytes(v.try_into().unwrap()));
            assert!(old.is_none(), "key {key} read twice");
        }
        map
    }

    /// Batch reads agree with per-key reads on a hash map that a writer keeps
    /// updating (every value growing, new keys arriving) while it is read:
    /// read per key, then in batches, then per key again, each key of the
    /// first read is in the batch read once, with a value between the two
    /// per-key reads'; once the writer stops, both reads are identical.
    #[test]
    fn batch_reads_match_per_key_reads_while_the_map_changes() {
        if !flowtrace_testkit::root_tests_enabled("batch_reads_match_per_key_reads_while_the_map_changes") {
            return;
        }
        const HASH: u32 = 1;
        let fd = sys::map_create("ft_t_batchread", HASH, 8, 8, 200_000).unwrap();
        let put = |k: u64, v: u64| sys::map_update(fd.as_fd(), &k.to_le_bytes(), &v.to_le_bytes(), sys::BPF_ANY).unwrap();
        for k in 0..50_000 {
            put(k, 1);
        }
        let stop = AtomicBool::new(false);
        let batch = std::thread::scope(|scope| {
            scope.spawn(|| {
                let (mut round, mut next_new) = (1u64, 50_000u64);
                while !stop.load(Ordering::SeqCst) {
                    round += 1;
                    for k in (0..50_000).step_by(7) {
                        put(k, round);
                    }
                    for _ in 0..500 {
                        if next_new < 150_000 {
                            put(next_new, 1);
                            next_new += 1;
                        }
                    }
                }
            });
            let (before, batch, after) = (
                as_map(&per_key(fd.as_fd(), 8, 8).unwrap()),
                as_map(&batched(fd.as_fd(), 8, 8, 1 << 18).unwrap()),
                as_map(&per_key(fd.as_fd(), 8, 8).unwrap()),
            );
            stop.store(true, Ordering::SeqCst);
            // A per-key walk may step over a key the writer overwrites
            // meanwhile (the kernel moves it to its bucket's head), so
            // `before` and `after` may each lack a few keys; the batch read
            // may not (no key is ever deleted).
            for (k, v) in &before {
                let b = batch.get(k).unwrap_or_else(|| panic!("key {k} missing from the batch read"));
                assert!(b >= v, "key {k}: per key {v}, then batch {b}");
                if let Some(a) = after.get(k) {
                    assert!(a >= b, "key {k}: batch {b}, then per key {a}");
                }
            }
            batch
        });
        let quiet = as_map(&per_key(fd.as_fd(), 8, 8).unwrap());
        for (k, b) in &batch {
            assert!(quiet.get(k).is_some_and(|q| q >= b), "key {k} from the batch read ({b}) is not in the map as read after");
        }
        let quiet_batch = as_map(&batched(fd.as_fd(), 8, 8, 1 << 18).unwrap());
        assert_eq!(quiet_batch, as_map(&per_key(fd.as_fd(), 8, 8).unwrap()));
        // Two walkers (this map has 2^18 buckets) read what one reads, each
        // key once (`as_map` panics on a key read twice), whatever bucket
        // count they are told.
        let one_walker = as_map(&walk(fd.as_fd(), 8, 8, 0, u32::MAX).unwrap().raw);
        assert_eq!(quiet_batch, one_walker);
        assert_eq!(as_map(&batched(fd.as_fd(), 8, 8, 1 << 22).unwrap()), one_walker);
        assert_eq!(as_map(&batched(fd.as_fd(), 8, 8, 1 << 16).unwrap()), one_walker);
        assert!(quiet_batch.len() > 50_000, "the writer added keys while the map was read");
    }

    #[test]
    fn evictions_are_creations_not_accounted_for() {
        assert_eq!(evictions(100, 4, 0), 96);
        assert_eq!(evictions(100, 4, 10), 86);
        // More removed than created (a key deleted twice, a racing read): none.
        assert_eq!(evictions(3, 4, 0), 0);
        // Per-CPU creations minus deletions wrap below zero on one CPU.
        assert_eq!(evictions(0u64.wrapping_sub(1), 0, 0), 0);
    }
}
