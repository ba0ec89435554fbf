//! A small, self-contained BTF blob cut out of a big one: the named types, the
//! functions, and everything they contain by value. Pointers to records outside
//! the selection become `void *`, which is what keeps the result small (a
//! `struct sock` reaches half the kernel through its pointers). Used to make
//! the unit-test fixture from the host's vmlinux (`examples/make_btf_fixture.rs`).

use std::collections::{HashMap, HashSet};

use super::types::ArrayInfo;
use super::write::{BtfWriter, IntSpec, MemberSpec};
use super::{Btf, IntEncoding, Kind, TypeId, TypeView};

/// What to keep, by name.
#[derive(Clone, Debug, Default)]
pub struct Selection {
    pub structs: Vec<String>,
    pub unions: Vec<String>,
    pub enums: Vec<String>,
    /// Enums to keep by one of their enumerators (`TCP_ESTABLISHED`: the
    /// kernel's TCP state enum has no name).
    pub enums_holding: Vec<String>,
    pub typedefs: Vec<String>,
    pub funcs: Vec<String>,
}

/// Writes the subset of `btf` that `sel` names, with fresh ids (kept types in
/// their original order). Fails naming the first selected type that is missing.
pub fn extract(btf: &Btf, sel: &Selection) -> Result<Vec<u8>, String> {
    let missing = |what: &str, name: &str| format!("{what} `{name}` is not in this BTF");
    let mut roots = Vec::new();
    let mut records = HashSet::new();
    for name in &sel.structs {
        let id = btf
            .find_named(Kind::Struct, name)
            .ok_or_else(|| missing("struct", name))?;
        records.insert(id);
        roots.push(id);
    }
    for name in &sel.unions {
        let id = btf
            .find_named(Kind::Union, name)
            .ok_or_else(|| missing("union", name))?;
        records.insert(id);
        roots.push(id);
    }
    for name in &sel.enums {
        roots.push(btf.find_enum(name).ok_or_else(|| missing("enum", name))?);
    }
    for name in &sel.enums_holding {
        roots.push(
            btf.find_enumerator(name)
                .ok_or_else(|| missing("enumerator", name))?
                .enum_id,
        );
    }
    for name in &sel.typedefs {
        roots.push(
            btf.find_named(Kind::Typedef, name)
                .ok_or_else(|| missing("typedef", name))?,
        );
    }
    for name in &sel.funcs {
        roots.push(
            btf.find_func(name)
                .ok_or_else(|| missing("function", name))?,
        );
    }
    let closure = Closure::walk(btf, &records, roots);
    Ok(closure.write(btf))
}

struct Closure {
    kept: HashSet<TypeId>,
    /// Pointers kept but redirected to void.
    cut: HashSet<TypeId>,
}

impl Closure {
    fn walk(btf: &Btf, records: &HashSet<TypeId>, roots: Vec<TypeId>) -> Closure {
        let mut c = Closure {
            kept: HashSet::new(),
            cut: HashSet::new(),
        };
        let mut stack = roots;
        while let Some(id) = stack.pop() {
            if id == 0 || !c.kept.insert(id) {
                continue;
            }
            let Some(t) = btf.get(id) else { continue };
            match t.kind() {
                Some(Kind::Ptr) if !follows_pointer(btf, records, t.size_or_type()) => {
                    c.cut.insert(id);
                }
                Some(Kind::Ptr | Kind::Func | Kind::Typedef | Kind::Volatile | Kind::Const)
                | Some(Kind::Restrict | Kind::TypeTag) => stack.push(t.size_or_type()),
                Some(Kind::Array) => {
                    if let Some(a) = t.array() {
                        stack.push(a.elem);
                        stack.push(a.index);
                    }
                }
                Some(Kind::Struct | Kind::Union) => stack.extend(t.members().map(|m| m.type_id)),
                Some(Kind::FuncProto) => {
                    stack.push(t.size_or_type());
                    stack.extend(t.params().map(|(_, ty)| ty));
                }
                _ => {}
            }
        }
        c
    }

    fn write(&self, btf: &Btf) -> Vec<u8> {
        let mut order: Vec<TypeId> = self.kept.iter().copied().collect();
        order.sort_unstable();
        let new_ids: HashMap<TypeId, TypeId> = order
            .iter()
            .enumerate()
            .map(|(i, id)| (*id, i as TypeId + 1))
            .collect();
        let map = |id: TypeId| new_ids.get(&id).copied().unwrap_or(0);
        let mut w = BtfWriter::new();
        for id in order {
            let Some(t) = btf.get(id) else { continue };
            let written = copy_type(&mut w, btf, &t, self.cut.contains(&id), &map);
            debug_assert_eq!(written, map(id));
        }
        w.finish()
    }
}

/// A pointer is followed when what it points to is cheap or selected:
/// integers, enums, void, other pointers (decided at their own turn),
/// selected records and forward declarations. Everything else becomes `void *`.
fn follows_pointer(btf: &Btf, records: &HashSet<TypeId>, to: TypeId) -> bool {
    let target = btf.peel(to);
    if target == 0 {
        return true;
    }
    match Kind::from_raw(btf.kind_of(target)) {
        Some(Kind::Int | Kind::Enum | Kind::Enum64 | Kind::Float | Kind::Ptr | Kind::Fwd) => true,
        Some(Kind::Struct | Kind::Union) => records.contains(&target),
        _ => false,
    }
}

/// Re-creates `t` in `w` with type references mapped to new ids.
fn copy_type(
    w: &mut BtfWriter,
    btf: &Btf,
    t: &TypeView<'_>,
    cut: bool,
    map: &dyn Fn(TypeId) -> TypeId,
) -> TypeId {
    let name = t.name();
    let Some(kind) = t.kind() else { return 0 };
    match kind {
        Kind::Int => {
            let e = t.int_encoding().unwrap_or(IntEncoding {
                signed: false,
                char: false,
                bool: false,
                offset: 0,
                bits: 0,
            });
            let spec = IntSpec {
                signed: e.signed,
                char: e.char,
                bool: e.bool,
                offset: e.offset,
                bits: e.bits,
            };
            w.int(name, t.size_or_type(), spec)
        }
        Kind::Ptr => w.ptr(if cut { 0 } else { map(t.size_or_type()) }),
        Kind::Array => {
            let a = t.array().unwrap_or(ArrayInfo {
                elem: 0,
                index: 0,
                len: 0,
            });
            w.array(map(a.elem), map(a.index), a.len)
        }
        Kind::Struct | Kind::Union => {
            let names: Vec<&str> = t.members().map(|m| btf.string(m.name_off)).collect();
            let members: Vec<MemberSpec<'_>> = t
                .members()
                .zip(&names)
                .map(|(m, n)| MemberSpec {
                    name: n,
                    ty: map(m.type_id),
                    bit_offset: m.bit_offset,
                    bitfield_size: m.bitfield_size,
                })
                .collect();
            w.record(name, t.size_or_type(), kind == Kind::Union, &members)
        }
        Kind::Enum | Kind::Enum64 => {
            let values: Vec<(&str, i64)> =
                t.enum_values().map(|(n, v)| (btf.string(n), v)).collect();
            w.enumeration(
                name,
                t.size_or_type(),
                t.kind_flag(),
                kind == Kind::Enum64,
                &values,
            )
        }
        Kind::Fwd => w.fwd(name, t.kind_flag()),
        Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
            w.modifier(kind, name, map(t.size_or_type()))
        }
        Kind::FuncProto => {
            let params: Vec<(&str, TypeId)> =
                t.params().map(|(n, ty)| (btf.string(n), map(ty))).collect();
            w.func_proto(map(t.size_or_type()), &params)
        }
        Kind::Func => w.func(name, map(t.size_or_type()), t.vlen() as u16),
        Kind::Float => w.float(name, t.size_or_type()),
        // Never reached from the selection (nothing by-value refers to them);
        // keep ids aligned anyway with a harmless placeholder.
        Kind::Var | Kind::Datasec | Kind::DeclTag => w.modifier(Kind::Typedef, "", 0),
    }
}
