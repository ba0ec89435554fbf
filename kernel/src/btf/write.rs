//! Writing BTF blobs: the fixture generator ([`super::subset`]) and tests that
//! need hand-built types (kind_flag=0 bitfields, which vmlinux lacks) use it.
//! Types get ids in the order they are added, starting at 1.

use std::collections::HashMap;

use super::{Kind, TypeId, HEADER_LEN, MAGIC};

/// One member for [`BtfWriter::record`].
#[derive(Clone, Copy, Debug)]
pub struct MemberSpec<'a> {
    pub name: &'a str,
    pub ty: TypeId,
    pub bit_offset: u32,
    /// Non-zero makes the record use kind_flag=1 (sizes packed into offsets).
    pub bitfield_size: u8,
}

impl<'a> MemberSpec<'a> {
    pub fn new(name: &'a str, ty: TypeId, bit_offset: u32) -> Self {
        MemberSpec {
            name,
            ty,
            bit_offset,
            bitfield_size: 0,
        }
    }
}

/// Integer encoding for [`BtfWriter::int`].
#[derive(Clone, Copy, Debug, Default)]
pub struct IntSpec {
    pub signed: bool,
    pub char: bool,
    pub bool: bool,
    pub offset: u8,
    pub bits: u8,
}

pub struct BtfWriter {
    types: Vec<u8>,
    strings: Vec<u8>,
    string_ids: HashMap<String, u32>,
    next_id: TypeId,
}

impl Default for BtfWriter {
    fn default() -> Self {
        BtfWriter::new()
    }
}

impl BtfWriter {
    pub fn new() -> Self {
        BtfWriter {
            types: Vec::new(),
            strings: vec![0],
            string_ids: HashMap::new(),
            next_id: 1,
        }
    }

    /// The id the next added type will get.
    pub fn next_id(&self) -> TypeId {
        self.next_id
    }

    /// Offset of `s` in the string section (added once); "" is offset 0.
    pub fn string(&mut self, s: &str) -> u32 {
        if s.is_empty() {
            return 0;
        }
        if let Some(off) = self.string_ids.get(s) {
            return *off;
        }
        let off = self.strings.len() as u32;
        self.strings.extend_from_slice(s.as_bytes());
        self.strings.push(0);
        self.string_ids.insert(s.to_owned(), off);
        off
    }

    fn word(&mut self, w: u32) {
        self.types.extend_from_slice(&w.to_ne_bytes());
    }

    fn head(
        &mut self,
        name: &str,
        kind: Kind,
        vlen: usize,
        kind_flag: bool,
        size_or_type: u32,
    ) -> TypeId {
        let name_off = self.string(name);
        let info = (u32::from(kind_flag) << 31) | ((kind as u32) << 24) | (vlen as u32 & 0xffff);
        self.word(name_off);
        self.word(info);
        self.word(size_or_type);
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn int(&mut self, name: &str, size: u32, enc: IntSpec) -> TypeId {
        let id = self.head(name, Kind::Int, 0, false, size);
        let flags = u32::from(enc.signed) | u32::from(enc.char) << 1 | u32::from(enc.bool) << 2;
        let bits = if enc.bits == 0 {
            (size * 8) as u8
        } else {
            enc.bits
        };
        self.word(flags << 24 | u32::from(enc.offset) << 16 | u32::from(bits));
        id
    }

    pub fn ptr(&mut self, to: TypeId) -> TypeId {
        self.head("", Kind::Ptr, 0, false, to)
    }

    /// TYPEDEF, VOLATILE, CONST, RESTRICT or TYPE_TAG of `to`.
    pub fn modifier(&mut self, kind: Kind, name: &str, to: TypeId) -> TypeId {
        debug_assert!(kind.is_modifier());
        self.head(name, kind, 0, false, to)
    }

    pub fn array(&mut self, elem: TypeId, index: TypeId, len: u32) -> TypeId {
        let id = self.head("", Kind::Array, 0, false, 0);
        self.word(elem);
        self.word(index);
        self.word(len);
        id
    }

    pub fn record(
        &mut self,
        name: &str,
        size: u32,
        is_union: bool,
        members: &[MemberSpec<'_>],
    ) -> TypeId {
        let packed = members.iter().any(|m| m.bitfield_size != 0);
        let kind = if is_union { Kind::Union } else { Kind::Struct };
        let id = self.head(name, kind, members.len(), packed, size);
        for m in members {
            let name_off = self.string(m.name);
            let offset = if packed {
                u32::from(m.bitfield_size) << 24 | (m.bit_offset & 0xff_ffff)
            } else {
                m.bit_offset
            };
            self.word(name_off);
            self.word(m.ty);
            self.word(offset);
        }
        id
    }

    /// An ENUM (or ENUM64 when `wide`) of `size` bytes.
    pub fn enumeration(
        &mut self,
        name: &str,
        size: u32,
        signed: bool,
        wide: bool,
        values: &[(&str, i64)],
    ) -> TypeId {
        let kind = if wide { Kind::Enum64 } else { Kind::Enum };
        let id = self.head(name, kind, values.len(), signed, size);
        for (name, value) in values {
            let name_off = self.string(name);
            self.word(name_off);
            self.word(*value as u32);
            if wide {
                self.word((*value as u64 >> 32) as u32);
            }
        }
        id
    }

    pub fn fwd(&mut self, name: &str, is_union: bool) -> TypeId {
        self.head(name, Kind::Fwd, 0, is_union, 0)
    }

    pub fn func_proto(&mut self, ret: TypeId, params: &[(&str, TypeId)]) -> TypeId {
        let id = self.head("", Kind::FuncProto, params.len(), false, ret);
        for (name, ty) in params {
            let name_off = self.string(name);
            self.word(name_off);
            self.word(*ty);
        }
        id
    }

    /// A FUNC; `linkage` is 0 static, 1 global, 2 extern.
    pub fn func(&mut self, name: &str, proto: TypeId, linkage: u16) -> TypeId {
        self.head(name, Kind::Func, usize::from(linkage), false, proto)
    }

    pub fn float(&mut self, name: &str, size: u32) -> TypeId {
        self.head(name, Kind::Float, 0, false, size)
    }

    /// The finished blob: header, types, strings.
    pub fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.types.len() + self.strings.len());
        out.extend_from_slice(&MAGIC.to_ne_bytes());
        out.push(1); // version
        out.push(0); // flags
        let words = [
            HEADER_LEN as u32,
            0,
            self.types.len() as u32,
            self.types.len() as u32,
            self.strings.len() as u32,
        ];
        for w in words {
            out.extend_from_slice(&w.to_ne_bytes());
        }
        out.extend_from_slice(&self.types);
        out.extend_from_slice(&self.strings);
        out
    }
}
