//! Finding things by name. Each lookup scans the records of the kinds it wants
//! (the opening pass keeps a kind per id, so other records are never read) and
//! compares name bytes; on vmlinux one scan costs well under a millisecond, so
//! no index is built.

use super::{Btf, Kind, TypeId};

/// An enumerator found by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enumerator {
    pub enum_id: TypeId,
    pub value: i64,
}

impl Btf {
    /// The first type of `kind` named `name`.
    pub fn find_named(&self, kind: Kind, name: &str) -> Option<TypeId> {
        let want = name.as_bytes();
        self.ids_of_kind(kind).find(|id| {
            self.get(*id)
                .is_some_and(|t| self.string_is(t.name_off(), want))
        })
    }

    /// A struct or union by name, preferring a full definition over a
    /// forward declaration (vmlinux keeps a few FWDs for opaque types).
    pub fn find_record(&self, name: &str, is_union: bool) -> Option<TypeId> {
        let kind = if is_union { Kind::Union } else { Kind::Struct };
        self.find_named(kind, name).or_else(|| {
            let want = name.as_bytes();
            self.ids_of_kind(Kind::Fwd).find(|id| {
                self.get(*id).is_some_and(|t| {
                    t.kind_flag() == is_union && self.string_is(t.name_off(), want)
                })
            })
        })
    }

    /// An ENUM or ENUM64 by name.
    pub fn find_enum(&self, name: &str) -> Option<TypeId> {
        self.find_named(Kind::Enum, name)
            .or_else(|| self.find_named(Kind::Enum64, name))
    }

    /// A FUNC by name.
    pub fn find_func(&self, name: &str) -> Option<TypeId> {
        self.find_named(Kind::Func, name)
    }

    /// Every FUNC name for which `keep` holds, sorted, without duplicates
    /// (static functions of the same name in several files repeat). `keep`
    /// sees raw bytes so the ~60k rejected names are never decoded.
    pub fn func_names(&self, mut keep: impl FnMut(&[u8]) -> bool) -> Vec<String> {
        let mut names: Vec<String> = self
            .ids_of_kind(Kind::Func)
            .filter_map(|id| self.get(id))
            .map(|t| t.name_bytes())
            .filter(|n| !n.is_empty() && keep(n))
            .filter_map(|n| std::str::from_utf8(n).ok())
            .map(str::to_owned)
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// An enumerator of any enum by name (`TCP_ESTABLISHED`).
    pub fn find_enumerator(&self, name: &str) -> Option<Enumerator> {
        let want = name.as_bytes();
        for id in self.enum_ids() {
            let Some(t) = self.get(id) else { continue };
            for (name_off, value) in t.enum_values() {
                if self.string_is(name_off, want) {
                    return Some(Enumerator { enum_id: id, value });
                }
            }
        }
        None
    }

    /// Every enumerator name for which `keep` holds (for "did you mean").
    pub fn enumerator_names(&self, mut keep: impl FnMut(&str) -> bool) -> Vec<String> {
        let mut out = Vec::new();
        for id in self.enum_ids() {
            let Some(t) = self.get(id) else { continue };
            for (name_off, _) in t.enum_values() {
                let name = self.string(name_off);
                if keep(name) {
                    out.push(name.to_owned());
                }
            }
        }
        out
    }

    fn enum_ids(&self) -> impl Iterator<Item = TypeId> + '_ {
        let (e32, e64) = (Kind::Enum as u8, Kind::Enum64 as u8);
        (1..self.len()).filter(move |id| {
            let k = self.kind_of(*id);
            k == e32 || k == e64
        })
    }
}
