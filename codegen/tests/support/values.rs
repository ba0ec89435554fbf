//! Reading a loaded program's user maps back by name.

#![allow(dead_code)]

use super::bpf::{self, Loaded};
use flowtrace_codegen::object::{CompiledProgram, MapRole, MapValue};

pub struct Maps<'a> {
    pub compiled: &'a CompiledProgram,
    pub loaded: &'a Loaded,
}

impl Maps<'_> {
    fn index(&self, name: &str) -> usize {
        self.compiled
            .maps
            .iter()
            .position(|m| matches!(&m.role, MapRole::User { name: n, .. } if n == name))
            .unwrap_or_else(|| panic!("no map @{name}"))
    }

    /// The value words of `@name[key]`, summed over CPUs for aggregations.
    pub fn words(&self, name: &str, key: &[u8]) -> Option<Vec<u64>> {
        let i = self.index(name);
        let spec = &self.compiled.maps[i];
        let fd = &self.loaded.maps[i];
        match &spec.role {
            MapRole::User { value: MapValue::Agg(_), .. } => bpf::percpu_u64s(fd, key, spec.value_size as usize),
            _ => bpf::lookup(fd, key, spec.value_size as usize)
                .map(|b| b.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap())).collect()),
        }
    }

    /// Per-CPU value words (min/max do not sum).
    pub fn per_cpu(&self, name: &str, key: &[u8]) -> Option<Vec<Vec<u64>>> {
        let i = self.index(name);
        bpf::percpu_values(&self.loaded.maps[i], key, self.compiled.maps[i].value_size as usize)
    }

    pub fn raw(&self, name: &str, key: &[u8]) -> Option<Vec<u8>> {
        let i = self.index(name);
        bpf::lookup(&self.loaded.maps[i], key, self.compiled.maps[i].value_size as usize)
    }

    /// `@name` (scalar map) as one signed word.
    pub fn scalar(&self, name: &str) -> i64 {
        self.words(name, &0u64.to_le_bytes()).unwrap_or_else(|| panic!("@{name} is empty"))[0] as i64
    }

    pub fn keys(&self, name: &str) -> Vec<Vec<u8>> {
        let i = self.index(name);
        bpf::keys(&self.loaded.maps[i], self.compiled.maps[i].key_size as usize)
    }

    /// The stats map's counters (failed updates per user map, then lost events).
    pub fn stats(&self) -> Vec<u64> {
        let i = self.compiled.maps.iter().position(|m| matches!(m.role, MapRole::Stats)).unwrap();
        let n = self.compiled.maps[i].max_entries;
        (0..n).map(|slot| bpf::percpu_u64s(&self.loaded.maps[i], &slot.to_le_bytes(), 8).unwrap()[0]).collect()
    }
}

/// A string key/value slot: the bytes, zero-padded to `size`.
pub fn str_bytes(s: &str, size: usize) -> Vec<u8> {
    let mut b = s.as_bytes().to_vec();
    b.resize(size, 0);
    b
}
