//! BTF types as the checker sees them ([`Type`]), and member lookup through
//! anonymous structs/unions and bitfields.
//!
//! Mapping choices (the checker relies on these):
//! - integers by byte size and signedness; `char` is `int8` whatever the
//!   kernel's `-funsigned-char` says (BTF marks it unsigned since 6.2), `_Bool`
//!   is `uint8`; 128-bit integers and floats become `uint8[size]` (opaque bytes);
//! - enums are integers of the enum's size, signed when BTF says so;
//! - typedefs, `const`, `volatile`, `restrict` and type tags are peeled;
//! - `void *` and function pointers are `Pointer(Void)`: there is nothing
//!   to read through them, and the checker can still print or compare them;
//! - structs/unions are [`Type::Record`] carrying their own BTF id; a forward
//!   declaration resolves to the full definition of the same name when BTF has
//!   one, else to a record of size 0 (members then fail to resolve).

use flowtrace_lang::kernel::{FuncProto, Member};
use flowtrace_lang::types::{IntType, RecordType, Type};

use super::{Btf, Kind, RawMember, TypeId, TypeView};

/// Bound on typedef/pointer/anonymous-member chains: real BTF is far shallower,
/// and a damaged blob with a cycle must not hang or overflow the stack.
const MAX_DEPTH: u32 = 32;

impl Btf {
    /// Follows typedefs and qualifiers to the type they stand for (0 = void).
    pub fn peel(&self, mut id: TypeId) -> TypeId {
        for _ in 0..MAX_DEPTH {
            match self.get(id) {
                Some(t) if t.kind().is_some_and(Kind::is_modifier) => id = t.size_or_type(),
                _ => return id,
            }
        }
        0
    }

    /// The checker's view of type `id`.
    pub fn lang_type(&self, id: TypeId) -> Type {
        self.lang_type_at(id, 0)
    }

    fn lang_type_at(&self, id: TypeId, depth: u32) -> Type {
        let id = self.peel(id);
        let Some(t) = self.get(id) else {
            return Type::Void;
        };
        let Some(kind) = t.kind() else {
            return Type::Void;
        };
        match kind {
            Kind::Int => int_type(&t),
            Kind::Enum | Kind::Enum64 => sized_int(t.size_or_type(), t.kind_flag()),
            Kind::Float => bytes(t.size_or_type()),
            Kind::Ptr => {
                let to = t.size_or_type();
                let pointee =
                    if self.kind_of(self.peel(to)) == Kind::FuncProto as u8 || depth >= MAX_DEPTH {
                        Type::Void
                    } else {
                        self.lang_type_at(to, depth + 1)
                    };
                Type::ptr(pointee)
            }
            Kind::Array => {
                let Some(a) = t.array() else {
                    return Type::Void;
                };
                let elem = if depth >= MAX_DEPTH {
                    Type::Void
                } else {
                    self.lang_type_at(a.elem, depth + 1)
                };
                Type::Array {
                    elem: Box::new(elem),
                    len: a.len,
                }
            }
            Kind::Struct | Kind::Union | Kind::Fwd => {
                Type::Record(self.record_type(id).unwrap_or_else(|| RecordType {
                    btf_id: id,
                    name: t.name().to_owned(),
                    size: 0,
                    is_union: false,
                }))
            }
            // Peeled above; functions, variables and tags are not values.
            Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
                Type::Void
            }
            Kind::Func | Kind::FuncProto | Kind::Var | Kind::Datasec | Kind::DeclTag => Type::Void,
        }
    }

    /// The record behind `id` (modifiers peeled; a FWD replaced by the full
    /// definition when there is one). `None` if `id` is not a record.
    pub fn record_type(&self, id: TypeId) -> Option<RecordType> {
        let mut t = self.get(self.peel(id))?;
        if t.kind()? == Kind::Fwd {
            let is_union = t.kind_flag();
            match self.find_named(if is_union { Kind::Union } else { Kind::Struct }, t.name()) {
                Some(full) => t = self.get(full)?,
                None => {
                    let name = t.name().to_owned();
                    return Some(RecordType {
                        btf_id: t.id,
                        name,
                        size: 0,
                        is_union,
                    });
                }
            }
        }
        let is_union = match t.kind()? {
            Kind::Struct => false,
            Kind::Union => true,
            _ => return None,
        };
        Some(RecordType {
            btf_id: t.id,
            name: t.name().to_owned(),
            size: t.size_or_type(),
            is_union,
        })
    }

    /// Member `name` of record `record_id`, searched through anonymous members
    /// in declaration order (C forbids duplicates, so the first hit is it).
    pub fn member(&self, record_id: TypeId, name: &str) -> Option<Member> {
        let record = self.record_type(record_id)?;
        self.find_member(record.btf_id, name.as_bytes(), 0, 0)
    }

    fn find_member(&self, id: TypeId, name: &[u8], base: u32, depth: u32) -> Option<Member> {
        let t = self.get(id)?;
        for m in t.members() {
            let offset = base.saturating_add(m.bit_offset);
            let member_name = self.string_bytes(m.name_off);
            if member_name.is_empty() {
                if let Some(inner) = self.anonymous_record(m.type_id, depth) {
                    if let Some(found) = self.find_member(inner, name, offset, depth + 1) {
                        return Some(found);
                    }
                }
            } else if member_name == name {
                return Some(self.make_member(m, offset));
            }
        }
        None
    }

    /// The struct/union an unnamed member stands for, if it is one.
    fn anonymous_record(&self, type_id: TypeId, depth: u32) -> Option<TypeId> {
        let inner = self.peel(type_id);
        let k = self.kind_of(inner);
        (depth < MAX_DEPTH && (k == Kind::Struct as u8 || k == Kind::Union as u8)).then_some(inner)
    }

    /// A member with its bitfield made explicit. Structs with kind_flag=1
    /// store the width in the member; with kind_flag=0 a bitfield is an INT
    /// whose encoding has fewer bits than its size (and maybe a bit offset).
    fn make_member(&self, m: RawMember, offset: u32) -> Member {
        let name = self.string(m.name_off).to_owned();
        let ty = self.lang_type(m.type_id);
        if m.bitfield_size != 0 {
            return Member {
                name,
                ty,
                offset_bits: offset,
                bitfield_bits: Some(m.bitfield_size),
            };
        }
        let int = self
            .get(self.peel(m.type_id))
            .and_then(|t| Some((t.int_encoding()?, t.size_or_type())));
        match int {
            Some((enc, size)) if u32::from(enc.bits) != size * 8 || enc.offset != 0 => Member {
                name,
                ty,
                offset_bits: offset + u32::from(enc.offset),
                bitfield_bits: Some(enc.bits),
            },
            _ => Member {
                name,
                ty,
                offset_bits: offset,
                bitfield_bits: None,
            },
        }
    }

    /// Every name [`Self::member`] accepts on `record_id`, in declaration order.
    pub fn member_names(&self, record_id: TypeId) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(record) = self.record_type(record_id) {
            self.collect_member_names(record.btf_id, 0, &mut out);
        }
        out
    }

    fn collect_member_names(&self, id: TypeId, depth: u32, out: &mut Vec<String>) {
        let Some(t) = self.get(id) else { return };
        for m in t.members() {
            let name = self.string(m.name_off);
            if !name.is_empty() {
                out.push(name.to_owned());
            } else if let Some(inner) = self.anonymous_record(m.type_id, depth) {
                self.collect_member_names(inner, depth + 1, out);
            }
        }
    }

    /// The prototype of FUNC `func_id`. A trailing `...` is dropped; unnamed
    /// parameters are called `argN`, as in bpftrace's `args`.
    pub fn func_proto(&self, func_id: TypeId) -> Option<FuncProto> {
        let func = self.get(func_id)?;
        if func.kind()? != Kind::Func {
            return None;
        }
        let proto = self.get(func.size_or_type())?;
        if proto.kind()? != Kind::FuncProto {
            return None;
        }
        let params = proto
            .params()
            .filter(|(name_off, ty)| !(*name_off == 0 && *ty == 0))
            .enumerate()
            .map(|(i, (name_off, ty))| {
                let name = self.string(name_off);
                let name = if name.is_empty() {
                    format!("arg{i}")
                } else {
                    name.to_owned()
                };
                (name, self.lang_type(ty))
            })
            .collect();
        Some(FuncProto {
            name: func.name().to_owned(),
            params,
            ret: self.lang_type(proto.size_or_type()),
        })
    }
}

fn int_type(t: &TypeView<'_>) -> Type {
    let Some(enc) = t.int_encoding() else {
        return Type::Void;
    };
    if enc.bool {
        return Type::Int(IntType::U8);
    }
    let signed = enc.signed || enc.char || t.name() == "char";
    sized_int(t.size_or_type(), signed)
}

fn sized_int(size: u32, signed: bool) -> Type {
    match size {
        1 | 2 | 4 | 8 => Type::Int(IntType {
            bits: (size * 8) as u8,
            signed,
        }),
        _ => bytes(size),
    }
}

fn bytes(size: u32) -> Type {
    Type::Array {
        elem: Box::new(Type::Int(IntType::U8)),
        len: size,
    }
}
