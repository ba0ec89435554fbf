//! Typed views of one BTF record. A [`TypeView`] is a cursor into the blob:
//! decoding happens field by field, when asked.

use super::{Btf, TypeId, RECORD_HEAD};

/// BTF kinds (`BTF_KIND_*`), numbered as in the kernel's uapi `btf.h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Kind {
    Int = 1,
    Ptr = 2,
    Array = 3,
    Struct = 4,
    Union = 5,
    Enum = 6,
    Fwd = 7,
    Typedef = 8,
    Volatile = 9,
    Const = 10,
    Restrict = 11,
    Func = 12,
    FuncProto = 13,
    Var = 14,
    Datasec = 15,
    Float = 16,
    DeclTag = 17,
    TypeTag = 18,
    Enum64 = 19,
}

impl Kind {
    pub fn from_raw(raw: u8) -> Option<Kind> {
        use Kind::*;
        const ALL: [Kind; 19] = [
            Int, Ptr, Array, Struct, Union, Enum, Fwd, Typedef, Volatile, Const, Restrict, Func,
            FuncProto, Var, Datasec, Float, DeclTag, TypeTag, Enum64,
        ];
        ALL.get(usize::from(raw).checked_sub(1)?).copied()
    }

    /// Kinds that only qualify or rename the type they point to.
    pub fn is_modifier(self) -> bool {
        matches!(
            self,
            Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag
        )
    }
}

/// Bytes that follow the 12-byte head of a record of `kind` with `vlen` items;
/// `None` for a kind this reader does not know (its length is unknowable).
pub(super) fn trailing_len(kind: u8, vlen: usize) -> Option<usize> {
    let kind = Kind::from_raw(kind)?;
    Some(match kind {
        Kind::Int | Kind::Var | Kind::DeclTag => 4,
        Kind::Array => 12,
        Kind::Struct | Kind::Union | Kind::Datasec | Kind::Enum64 => 12 * vlen,
        Kind::Enum | Kind::FuncProto => 8 * vlen,
        Kind::Ptr | Kind::Fwd | Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict => 0,
        Kind::Func | Kind::Float | Kind::TypeTag => 0,
    })
}

/// The word after a `BTF_KIND_INT` head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IntEncoding {
    pub signed: bool,
    /// `BTF_INT_CHAR`: pahole sets it rarely; `char` is recognised by name too.
    pub char: bool,
    pub bool: bool,
    /// Bit offset of the value inside its storage: a kind_flag=0 bitfield.
    pub offset: u8,
    pub bits: u8,
}

/// The words after a `BTF_KIND_ARRAY` head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArrayInfo {
    pub elem: TypeId,
    /// The index type (an int); meaningless to readers, kept for writers.
    pub index: TypeId,
    pub len: u32,
}

/// One member of a struct or union, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawMember {
    pub name_off: u32,
    pub type_id: TypeId,
    /// From the start of the record, in bits.
    pub bit_offset: u32,
    /// Non-zero only for a bitfield in a struct with kind_flag set.
    pub bitfield_size: u8,
}

#[derive(Clone, Copy)]
pub struct TypeView<'a> {
    btf: &'a Btf,
    pub id: TypeId,
    at: usize,
}

impl<'a> TypeView<'a> {
    pub(super) fn new(btf: &'a Btf, id: TypeId, at: usize) -> Self {
        TypeView { btf, id, at }
    }

    fn info(&self) -> u32 {
        self.btf.u32_at(self.at + 4)
    }

    pub fn raw_kind(&self) -> u8 {
        ((self.info() >> 24) & 0x1f) as u8
    }

    /// Always `Some` for a view: the opening pass rejected unknown kinds.
    pub fn kind(&self) -> Option<Kind> {
        Kind::from_raw(self.raw_kind())
    }

    pub fn vlen(&self) -> usize {
        (self.info() & 0xffff) as usize
    }

    /// Struct/union: offsets hold bitfield sizes. Enum: signed. Fwd: union.
    pub fn kind_flag(&self) -> bool {
        self.info() >> 31 == 1
    }

    pub fn name_off(&self) -> u32 {
        self.btf.u32_at(self.at)
    }

    pub fn name(&self) -> &'a str {
        self.btf.string(self.name_off())
    }

    pub fn name_bytes(&self) -> &'a [u8] {
        self.btf.string_bytes(self.name_off())
    }

    /// The third head word: a byte size for ints, records, enums, floats and
    /// datasecs; a type id for the rest.
    pub fn size_or_type(&self) -> u32 {
        self.btf.u32_at(self.at + 8)
    }

    /// Word `i` after the head.
    fn word(&self, i: usize) -> u32 {
        self.btf.u32_at(self.at + RECORD_HEAD + 4 * i)
    }

    /// The whole record, head included (for copying into a new blob).
    pub fn bytes(&self) -> &'a [u8] {
        let extra = trailing_len(self.raw_kind(), self.vlen()).unwrap_or(0);
        self.btf.record_bytes(self.at, RECORD_HEAD + extra)
    }

    pub fn int_encoding(&self) -> Option<IntEncoding> {
        if self.kind()? != Kind::Int {
            return None;
        }
        let w = self.word(0);
        let enc = (w >> 24) & 0xf;
        Some(IntEncoding {
            signed: enc & 1 != 0,
            char: enc & 2 != 0,
            bool: enc & 4 != 0,
            offset: ((w >> 16) & 0xff) as u8,
            bits: (w & 0xff) as u8,
        })
    }

    pub fn array(&self) -> Option<ArrayInfo> {
        (self.kind()? == Kind::Array).then(|| ArrayInfo {
            elem: self.word(0),
            index: self.word(1),
            len: self.word(2),
        })
    }

    /// Members of a struct or union (empty for other kinds).
    pub fn members(&self) -> impl Iterator<Item = RawMember> + 'a {
        let this = *self;
        let n = if matches!(self.kind(), Some(Kind::Struct | Kind::Union)) {
            self.vlen()
        } else {
            0
        };
        let packed = self.kind_flag();
        (0..n).map(move |i| {
            let offset = this.word(3 * i + 2);
            let (bit_offset, bitfield_size) = if packed {
                (offset & 0xff_ffff, (offset >> 24) as u8)
            } else {
                (offset, 0)
            };
            RawMember {
                name_off: this.word(3 * i),
                type_id: this.word(3 * i + 1),
                bit_offset,
                bitfield_size,
            }
        })
    }

    /// `(name_off, value)` of each enumerator of an ENUM or ENUM64. Values of
    /// unsigned enums above `i64::MAX` wrap (none exist in practice).
    pub fn enum_values(&self) -> impl Iterator<Item = (u32, i64)> + 'a {
        let this = *self;
        let signed = self.kind_flag();
        let (n, stride) = match self.kind() {
            Some(Kind::Enum) => (self.vlen(), 2),
            Some(Kind::Enum64) => (self.vlen(), 3),
            _ => (0, 2),
        };
        (0..n).map(move |i| {
            let lo = this.word(stride * i + 1);
            let value = if stride == 3 {
                (u64::from(this.word(stride * i + 2)) << 32 | u64::from(lo)) as i64
            } else if signed {
                i64::from(lo as i32)
            } else {
                i64::from(lo)
            };
            (this.word(stride * i), value)
        })
    }

    /// `(name_off, type)` of each parameter of a FUNC_PROTO.
    pub fn params(&self) -> impl Iterator<Item = (u32, TypeId)> + 'a {
        let this = *self;
        let n = if self.kind() == Some(Kind::FuncProto) {
            self.vlen()
        } else {
            0
        };
        (0..n).map(move |i| (this.word(2 * i), this.word(2 * i + 1)))
    }
}
