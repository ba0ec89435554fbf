//! BTF types written back as C, for `flowtrace -lv`: one declaration
//! (`struct sock *sk`, `char comm[16]`, `void (*fn)(int)`) and whole
//! struct/union bodies with anonymous members written inline, the way
//! bpftrace lists them. Pure text from the blob; nothing is resolved to the
//! checker's types here, because listing shows what the kernel declares.

use super::{Btf, Kind, TypeId};

/// How deep anonymous records and pointer chains are followed: BTF from
/// the kernel has no cycles without a named record in between, but a
/// damaged blob must not recurse forever.
const MAX_DEPTH: u32 = 32;

impl Btf {
    /// `TYPE NAME` in C declarator syntax; `name` may be empty (a type name).
    pub fn c_decl(&self, id: TypeId, name: &str) -> String {
        self.declarator(id, name.to_string(), 0)
    }

    /// The full definition of struct/union `id` (`struct x {\n\tint a;\n};`),
    /// or just its name for other kinds.
    pub fn c_definition(&self, id: TypeId) -> String {
        let Some(t) = self.get(id) else { return "void".into() };
        match t.kind() {
            Some(Kind::Struct | Kind::Union) => {
                let mut out = format!("{} {{\n", self.record_head(id));
                self.record_body(id, 1, &mut out);
                out.push_str("};");
                out
            }
            _ => self.c_decl(id, ""),
        }
    }

    /// `struct NAME` / `union NAME` (an anonymous one has only the keyword).
    fn record_head(&self, id: TypeId) -> String {
        let Some(t) = self.get(id) else { return "void".into() };
        let keyword = if t.kind() == Some(Kind::Union) { "union" } else { "struct" };
        if t.name().is_empty() {
            keyword.to_string()
        } else {
            format!("{keyword} {}", t.name())
        }
    }

    fn record_body(&self, id: TypeId, depth: u32, out: &mut String) {
        let Some(t) = self.get(id) else { return };
        let indent = "\t".repeat(depth as usize);
        for m in t.members() {
            let name = self.string(m.name_off);
            let anonymous = self.get(m.type_id).filter(|mt| {
                matches!(mt.kind(), Some(Kind::Struct | Kind::Union)) && mt.name().is_empty()
            });
            let decl = match anonymous {
                // Anonymous records have no name to refer to: written inline.
                Some(_) if depth < MAX_DEPTH => {
                    let mut inner = format!("{} {{\n", self.record_head(m.type_id));
                    self.record_body(m.type_id, depth + 1, &mut inner);
                    inner.push_str(&indent);
                    inner.push('}');
                    if name.is_empty() { inner } else { format!("{inner} {name}") }
                }
                _ => self.c_decl(m.type_id, name),
            };
            let bits = if m.bitfield_size > 0 { format!(": {}", m.bitfield_size) } else { String::new() };
            out.push_str(&format!("{indent}{decl}{bits};\n"));
        }
    }

    /// C's inside-out declarators: `inner` is what has been built around
    /// the name so far; each pointer, array and function wraps it.
    fn declarator(&self, id: TypeId, inner: String, depth: u32) -> String {
        let join = |base: &str, inner: &str| if inner.is_empty() { base.to_string() } else { format!("{base} {inner}") };
        let Some(t) = self.get(id).filter(|_| id != 0 && depth < MAX_DEPTH) else {
            return join("void", &inner);
        };
        let Some(kind) = t.kind() else { return join("void", &inner) };
        let target = t.size_or_type();
        // Arrays and functions bind tighter than `*`: a pointer inside one
        // needs parentheses (`(*fn)(int)`, `(*rows)[4]`).
        let grouped = |inner: String| if inner.starts_with('*') { format!("({inner})") } else { inner };
        match kind {
            Kind::Ptr => self.declarator(target, format!("*{inner}"), depth + 1),
            Kind::Array => {
                let Some(a) = t.array() else { return join("void", &inner) };
                self.declarator(a.elem, format!("{}[{}]", grouped(inner), a.len), depth + 1)
            }
            Kind::FuncProto => {
                let params: Vec<String> = t
                    .params()
                    .map(|(n, ty)| if n == 0 && ty == 0 { "...".to_string() } else { self.c_decl(ty, self.string(n)) })
                    .collect();
                let params = if params.is_empty() { "void".to_string() } else { params.join(", ") };
                self.declarator(target, format!("{}({params})", grouped(inner)), depth + 1)
            }
            Kind::Const | Kind::Volatile | Kind::Restrict => {
                let q = match kind {
                    Kind::Const => "const",
                    Kind::Volatile => "volatile",
                    _ => "restrict",
                };
                // `const char *` qualifies the pointee; `char *const` the pointer.
                if self.get(target).and_then(|x| x.kind()) == Some(Kind::Ptr) {
                    self.declarator(target, format!("{q} {inner}").trim_end().to_string(), depth + 1)
                } else {
                    format!("{q} {}", self.declarator(target, inner, depth + 1))
                }
            }
            Kind::TypeTag | Kind::DeclTag => self.declarator(target, inner, depth + 1),
            Kind::Struct | Kind::Union => join(&self.record_head(id), &inner),
            Kind::Enum | Kind::Enum64 => join(&format!("enum {}", t.name()), &inner),
            Kind::Fwd => {
                let keyword = if t.kind_flag() { "union" } else { "struct" };
                join(&format!("{keyword} {}", t.name()), &inner)
            }
            Kind::Int | Kind::Float | Kind::Typedef => join(t.name(), &inner),
            Kind::Func | Kind::Var | Kind::Datasec => join(t.name(), &inner),
        }
    }

    /// Every named struct and union, as `struct NAME` / `union NAME`, with
    /// its type id (the first of duplicates: BTF may repeat a definition).
    pub fn records(&self) -> Vec<(String, TypeId)> {
        let mut out: Vec<(String, TypeId)> = [Kind::Struct, Kind::Union]
            .into_iter()
            .flat_map(|k| self.ids_of_kind(k))
            .filter(|&id| self.get(id).is_some_and(|t| !t.name().is_empty()))
            .map(|id| (self.record_head(id), id))
            .collect();
        out.sort();
        out.dedup_by(|a, b| a.0 == b.0);
        out
    }

    /// The parameters of FUNC `func_id`: each type as C (`struct sock *`)
    /// and its name. Unnamed ones are `argN`, as `args` names them.
    pub fn c_params(&self, func_id: TypeId) -> Option<Vec<(String, String)>> {
        let func = self.get(func_id).filter(|f| f.kind() == Some(Kind::Func))?;
        let proto = self.get(func.size_or_type()).filter(|p| p.kind() == Some(Kind::FuncProto))?;
        let params = proto
            .params()
            .filter(|&(n, ty)| !(n == 0 && ty == 0))
            .enumerate()
            .map(|(i, (n, ty))| {
                let name = self.string(n);
                let name = if name.is_empty() { format!("arg{i}") } else { name.to_string() };
                (self.c_decl(ty, ""), name)
            })
            .collect();
        Some(params)
    }

    /// The return type of FUNC `func_id` as C (`int`, `struct sk_buff *`).
    pub fn c_return(&self, func_id: TypeId) -> Option<String> {
        let func = self.get(func_id).filter(|f| f.kind() == Some(Kind::Func))?;
        let proto = self.get(func.size_or_type()).filter(|p| p.kind() == Some(Kind::FuncProto))?;
        Some(self.c_decl(proto.size_or_type(), ""))
    }
}

#[cfg(test)]
mod tests {
    use super::super::write::{BtfWriter, IntSpec, MemberSpec};
    use super::*;

    /// A hand-built record with what C declarators make hard: a function
    /// pointer, a pointer to an array, a const pointer, an array of
    /// pointers, an anonymous union, a bitfield and a forward-declared struct.
    fn fixture() -> (Btf, TypeId, TypeId) {
        let mut w = BtfWriter::new();
        let int = w.int("int", 4, IntSpec { signed: true, ..Default::default() });
        let ch = w.int("char", 1, IntSpec { signed: true, ..Default::default() });
        let cchar = w.modifier(Kind::Const, "", ch);
        let cstr = w.ptr(cchar);
        let pint = w.ptr(int);
        let const_pint = w.modifier(Kind::Const, "", pint);
        let arr4 = w.array(int, int, 4);
        let parr4 = w.ptr(arr4);
        let ptrs = w.array(cstr, int, 2);
        let proto = w.func_proto(int, &[("a", int), ("s", cstr)]);
        let fnptr = w.ptr(proto);
        let opaque = w.fwd("opaque", false);
        let popaque = w.ptr(opaque);
        let anon = w.record("", 4, true, &[MemberSpec::new("i", int, 0), MemberSpec::new("c", ch, 0)]);
        let flags = MemberSpec { bitfield_size: 3, ..MemberSpec::new("flags", int, 352) };
        let rec = w.record(
            "shape",
            64,
            false,
            &[
                MemberSpec::new("cb", fnptr, 0),
                MemberSpec::new("rows", parr4, 64),
                MemberSpec::new("fixed", const_pint, 128),
                MemberSpec::new("names", ptrs, 192),
                MemberSpec::new("", anon, 320),
                flags,
                MemberSpec::new("o", popaque, 384),
            ],
        );
        let btf = Btf::from_bytes(w.finish()).unwrap();
        (btf, rec, proto)
    }

    #[test]
    fn declarators_read_as_c() {
        let (btf, rec, proto) = fixture();
        assert_eq!(
            btf.c_definition(rec),
            "struct shape {\n\tint (*cb)(int a, const char *s);\n\tint (*rows)[4];\n\tint *const fixed;\n\
             \tconst char *names[2];\n\tunion {\n\t\tint i;\n\t\tchar c;\n\t};\n\tint flags: 3;\n\tstruct opaque *o;\n};"
        );
        assert_eq!(btf.c_decl(proto, ""), "int (int a, const char *s)");
        assert_eq!(btf.c_decl(0, "p"), "void p");
        assert_eq!(btf.records(), vec![("struct shape".to_string(), rec)]);
    }
}
