//! Types a script defines itself (`struct flow { … };`, `enum state { … };`)
//! in front of the kernel's BTF: the checker sees one [`KernelTypes`] where
//! the script's definitions come first, as in bpftrace (a script's `struct
//! sock` replaces BTF's).
//!
//! Records get C layout: each field at the next multiple of its alignment,
//! the size rounded up to the largest alignment; a union's fields all at 0.
//! A BTF record's alignment is not in BTF: it is taken as the largest power
//! of two (at most 8) that divides its size, which is what its largest
//! member gives on x86-64 and arm64 for kernel structs.

use crate::ast::{self, TypeBase, TypeName};
use crate::diag::{did_you_mean, Diagnostic};
use crate::kernel::{EnumConstant, FuncProto, KernelTypes, Member, TracepointField, TypeKeyword};
use crate::types::{IntType, RecordType, Type};

/// Record ids at and past this are the script's (BTF ids are far smaller).
const SCRIPT_ID_BASE: u32 = 0xF000_0000;

pub(crate) struct ScriptTypes<'k> {
    kernel: &'k dyn KernelTypes,
    records: Vec<ScriptRecord>,
    enums: Vec<String>,
    constants: Vec<EnumConstant>,
    /// Every record the script defines, as (name, is_union): one defined
    /// later may already be pointed to.
    declared: Vec<(String, bool)>,
}

struct ScriptRecord {
    ty: RecordType,
    align: u32,
    members: Vec<Member>,
}

/// A field's type with its size and alignment.
struct Laid {
    ty: Type,
    size: u32,
    align: u32,
}

impl<'k> ScriptTypes<'k> {
    pub(crate) fn new(kernel: &'k dyn KernelTypes, program: &ast::Program) -> (ScriptTypes<'k>, Vec<Diagnostic>) {
        let mut types = ScriptTypes { kernel, records: Vec::new(), enums: Vec::new(), constants: Vec::new(), declared: Vec::new() };
        let mut diags = Vec::new();
        for item in &program.items {
            if let ast::Item::Enum(e) = item {
                types.add_enum(e, &mut diags);
            }
        }
        let defs: Vec<&ast::RecordDef> = program
            .items
            .iter()
            .filter_map(|i| match i {
                ast::Item::Record(r) => Some(r),
                _ => None,
            })
            .collect();
        types.declared = defs.iter().map(|d| (d.name.name.clone(), d.is_union)).collect();
        for (i, def) in defs.iter().enumerate() {
            if defs[..i].iter().any(|d| d.name.name == def.name.name && d.is_union == def.is_union) {
                diags.push(Diagnostic::error(def.name.span, format!("{} is defined twice", keyword(def.is_union, &def.name.name))));
            }
        }
        // Sizes first, in order (a field of record type needs an earlier
        // definition), then member types, when every record's size is known
        // (so that `struct node *next` can point at its own record).
        for (i, def) in defs.iter().enumerate() {
            let (size, align) = types.layout(def, &mut diags).map_or((0, 1), |(s, a, _)| (s, a));
            let ty = RecordType { btf_id: SCRIPT_ID_BASE + i as u32, name: def.name.name.clone(), size, is_union: def.is_union };
            types.records.push(ScriptRecord { ty, align, members: Vec::new() });
        }
        for (i, def) in defs.iter().enumerate() {
            if let Some((_, _, members)) = types.layout(def, &mut Vec::new()) {
                types.records[i].members = members;
            }
        }
        (types, diags)
    }

    fn add_enum(&mut self, def: &ast::EnumDef, diags: &mut Vec<Diagnostic>) {
        let enum_name = def.name.as_ref().map_or(String::new(), |n| n.name.clone());
        let mut next = 0i64;
        for (variant, value) in &def.variants {
            let value = value.unwrap_or(next);
            next = value.wrapping_add(1);
            if self.constants.iter().any(|c| c.name == variant.name) {
                diags.push(Diagnostic::error(variant.span, format!("enumerator '{}' is defined twice", variant.name)));
                continue;
            }
            self.constants.push(EnumConstant { name: variant.name.clone(), value, enum_name: enum_name.clone() });
        }
        if !enum_name.is_empty() {
            self.enums.push(enum_name);
        }
    }

    /// Size, alignment and members of `def` with the records known so far.
    fn layout(&self, def: &ast::RecordDef, diags: &mut Vec<Diagnostic>) -> Option<(u32, u32, Vec<Member>)> {
        let mut members = Vec::new();
        let (mut end, mut align) = (0u32, 1u32);
        for field in &def.fields {
            if members.iter().any(|m: &Member| m.name == field.name.name) {
                diags.push(Diagnostic::error(field.name.span, format!("field '{}' is defined twice", field.name.name)));
                return None;
            }
            let laid = match self.field(field, &def.name.name) {
                Ok(l) => l,
                Err(d) => {
                    diags.push(d);
                    return None;
                }
            };
            let offset = if def.is_union { 0 } else { end.next_multiple_of(laid.align) };
            end = end.max(offset + laid.size);
            align = align.max(laid.align);
            members.push(Member { name: field.name.name.clone(), ty: laid.ty, offset_bits: offset * 8, bitfield_bits: None });
        }
        Some((end.next_multiple_of(align), align, members))
    }

    fn field(&self, field: &ast::FieldDef, record: &str) -> Result<Laid, Diagnostic> {
        let mut laid = if field.ty.pointer_depth > 0 {
            let pointee = self.base(&field.ty, record, true)?.ty;
            let ty = (1..field.ty.pointer_depth).fold(Type::ptr(pointee), |t, _| Type::ptr(t));
            Laid { ty, size: 8, align: 8 }
        } else {
            self.base(&field.ty, record, false)?
        };
        for &len in field.dims.iter().rev() {
            laid = Laid { ty: Type::Array { elem: Box::new(laid.ty), len }, size: laid.size * len, align: laid.align };
        }
        Ok(laid)
    }

    /// The type a field names; `behind_pointer`: its size need not be known.
    fn base(&self, name: &TypeName, record: &str, behind_pointer: bool) -> Result<Laid, Diagnostic> {
        let (keyword, ident) = match &name.base {
            TypeBase::Int { bits, signed } => {
                let bytes = u32::from(*bits) / 8;
                return Ok(Laid { ty: Type::Int(IntType { bits: *bits, signed: *signed }), size: bytes, align: bytes });
            }
            TypeBase::Void if behind_pointer => return Ok(Laid { ty: Type::Int(IntType::U8), size: 1, align: 1 }),
            TypeBase::Void => return Err(Diagnostic::error(name.span, "a field cannot be 'void'")),
            TypeBase::Struct(n) => (TypeKeyword::Struct, n),
            TypeBase::Union(n) => (TypeKeyword::Union, n),
            TypeBase::Enum(n) => (TypeKeyword::Enum, n),
            TypeBase::Named(n) => (TypeKeyword::Typedef, n),
        };
        let incomplete = || {
            Diagnostic::error(name.span, format!("'{}' has no size yet inside 'struct {record}'", type_text(keyword, ident)))
                .with_hint("define it before this record, or hold a pointer to it")
        };
        let union = keyword == TypeKeyword::Union;
        let declared = keyword != TypeKeyword::Enum && self.declared.iter().any(|(n, u)| n == ident && *u == union);
        let ty = match self.find_type(keyword, ident) {
            Some(ty) => ty,
            // Only while sizes are computed: a pointee's size does not matter yet.
            None if declared && behind_pointer => return Ok(Laid { ty: Type::Int(IntType::U8), size: 0, align: 1 }),
            None if declared => return Err(incomplete()),
            None => {
                return Err(Diagnostic::error(name.span, format!("unknown type '{}'", type_text(keyword, ident)))
                    .with_hint("a field's type must be defined earlier in the script or be in the kernel's BTF"))
            }
        };
        let (size, align) = match &ty {
            Type::Record(r) if r.btf_id >= SCRIPT_ID_BASE => match self.records.get((r.btf_id - SCRIPT_ID_BASE) as usize) {
                Some(rec) if !behind_pointer && rec.ty.name == record => return Err(incomplete()),
                Some(rec) => (rec.ty.size, rec.align),
                None if behind_pointer => (0, 1),
                None => return Err(incomplete()),
            },
            other => size_align(other).ok_or_else(|| Diagnostic::error(name.span, format!("'{other}' cannot be a field here")))?,
        };
        Ok(Laid { ty, size, align })
    }

    fn record(&self, r: &RecordType) -> Option<&ScriptRecord> {
        r.btf_id.checked_sub(SCRIPT_ID_BASE).and_then(|i| self.records.get(i as usize))
    }
}

fn keyword(is_union: bool, name: &str) -> String {
    format!("{} {name}", if is_union { "union" } else { "struct" })
}

fn type_text(keyword: TypeKeyword, name: &str) -> String {
    match keyword {
        TypeKeyword::Struct => format!("struct {name}"),
        TypeKeyword::Union => format!("union {name}"),
        TypeKeyword::Enum => format!("enum {name}"),
        TypeKeyword::Typedef => name.to_string(),
    }
}

/// Size and alignment of a BTF type used by value in a script's record.
fn size_align(ty: &Type) -> Option<(u32, u32)> {
    match ty {
        Type::Int(t) => Some((t.bytes(), t.bytes())),
        Type::Bool => Some((1, 1)),
        Type::Pointer(..) => Some((8, 8)),
        Type::Record(r) => Some((r.size, (1u32 << r.size.trailing_zeros().min(3)).max(1))),
        Type::Array { elem, len } => size_align(elem).map(|(s, a)| (s * len, a)),
        _ => None,
    }
}

impl KernelTypes for ScriptTypes<'_> {
    fn find_type(&self, keyword: TypeKeyword, name: &str) -> Option<Type> {
        let own = match keyword {
            TypeKeyword::Struct | TypeKeyword::Union => {
                let union = keyword == TypeKeyword::Union;
                // While sizes are being computed, `records` holds the ones laid out so far.
                self.records.iter().find(|r| r.ty.name == name && r.ty.is_union == union).map(|r| Type::Record(r.ty.clone()))
            }
            TypeKeyword::Enum => self.enums.iter().any(|e| e == name).then_some(Type::Int(IntType::I32)),
            TypeKeyword::Typedef => None,
        };
        own.or_else(|| self.kernel.find_type(keyword, name))
    }

    fn member(&self, record: &RecordType, name: &str) -> Option<Member> {
        match self.record(record) {
            Some(r) => r.members.iter().find(|m| m.name == name).cloned(),
            None => self.kernel.member(record, name),
        }
    }

    fn member_names(&self, record: &RecordType) -> Vec<String> {
        match self.record(record) {
            Some(r) => r.members.iter().map(|m| m.name.clone()).collect(),
            None => self.kernel.member_names(record),
        }
    }

    fn enum_constant(&self, name: &str) -> Option<EnumConstant> {
        self.constants.iter().find(|c| c.name == name).cloned().or_else(|| self.kernel.enum_constant(name))
    }

    fn similar_enum_constants(&self, name: &str) -> Vec<String> {
        let mut names: Vec<String> = did_you_mean(name, self.constants.iter().map(|c| c.name.as_str())).into_iter().map(String::from).collect();
        names.extend(self.kernel.similar_enum_constants(name));
        names
    }

    fn tracepoint_fields(&self, category: &str, name: &str) -> Result<Vec<TracepointField>, String> {
        self.kernel.tracepoint_fields(category, name)
    }

    fn match_tracepoints(&self, category: &str, name: &str) -> Vec<(String, String)> {
        self.kernel.match_tracepoints(category, name)
    }

    fn function(&self, name: &str) -> Option<FuncProto> {
        self.kernel.function(name)
    }

    fn match_functions(&self, pattern: &str) -> Vec<String> {
        self.kernel.match_functions(pattern)
    }

    fn kernel_var(&self, name: &str) -> Option<(u32, Type)> {
        self.kernel.kernel_var(name)
    }

    fn enum_variants(&self, enum_name: &str) -> Vec<(i64, String)> {
        // A script's own `enum NAME { … }` names its values first.
        let own: Vec<(i64, String)> =
            self.constants.iter().filter(|c| c.enum_name == enum_name).map(|c| (c.value, c.name.clone())).collect();
        if own.is_empty() {
            self.kernel.enum_variants(enum_name)
        } else {
            own
        }
    }

    fn host(&self) -> &dyn crate::kernel::HostFacts {
        self.kernel.host()
    }
}
