//! The reader on hand-built BTF: cases vmlinux does not show (kind_flag=0
//! bitfields, ENUM64, damaged blobs, typedef cycles) and the type-mapping
//! choices documented in `btf::resolve`.

use flowtrace_kernel::btf::write::{BtfWriter, IntSpec, MemberSpec};
use flowtrace_kernel::btf::{Btf, Kind};
use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_lang::kernel::{KernelTypes, TypeKeyword};
use flowtrace_lang::types::{IntType, RecordType, Type};

fn int(w: &mut BtfWriter, name: &str, size: u32, signed: bool) -> u32 {
    w.int(
        name,
        size,
        IntSpec {
            signed,
            ..IntSpec::default()
        },
    )
}

fn record_of(k: &KernelInfo, name: &str) -> RecordType {
    match k.find_type(TypeKeyword::Struct, name) {
        Some(Type::Record(r)) => r,
        other => panic!("{name}: {other:?}"),
    }
}

/// struct flags { u32 a; u8 lo:3 (INT encoding offset 0, 3 bits); u8 hi:5
/// (INT encoding offset 3); } — the old, kind_flag=0 way of writing bitfields.
#[test]
fn bitfields_without_kind_flag() {
    let mut w = BtfWriter::new();
    let u32_ = int(&mut w, "unsigned int", 4, false);
    let lo = w.int(
        "unsigned char",
        1,
        IntSpec {
            bits: 3,
            ..IntSpec::default()
        },
    );
    let hi = w.int(
        "unsigned char",
        1,
        IntSpec {
            bits: 5,
            offset: 3,
            ..IntSpec::default()
        },
    );
    w.record(
        "flags",
        8,
        false,
        &[
            MemberSpec::new("a", u32_, 0),
            MemberSpec::new("lo", lo, 32),
            MemberSpec::new("hi", hi, 32),
        ],
    );
    let k = KernelInfo::from_btf_bytes(w.finish()).unwrap();
    let flags = record_of(&k, "flags");
    let a = k.member(&flags, "a").unwrap();
    assert_eq!(
        (a.offset_bits, a.bitfield_bits, a.ty),
        (0, None, Type::Int(IntType::U32))
    );
    let lo = k.member(&flags, "lo").unwrap();
    assert_eq!(
        (lo.offset_bits, lo.bitfield_bits, lo.ty),
        (32, Some(3), Type::Int(IntType::U8))
    );
    let hi = k.member(&flags, "hi").unwrap();
    assert_eq!((hi.offset_bits, hi.bitfield_bits), (35, Some(5)));
}

/// Offsets add up through nested anonymous members, and the names list
/// reaches them; an anonymous member behind a typedef counts too.
#[test]
fn nested_anonymous_members() {
    let mut w = BtfWriter::new();
    let u16_ = int(&mut w, "short unsigned int", 2, false);
    let inner = w.record(
        "",
        4,
        false,
        &[
            MemberSpec::new("x", u16_, 0),
            MemberSpec::new("y", u16_, 16),
        ],
    );
    let middle = w.record(
        "",
        4,
        true,
        &[
            MemberSpec::new("", inner, 0),
            MemberSpec::new("whole", u16_, 0),
        ],
    );
    let td = w.modifier(Kind::Typedef, "middle_t", middle);
    let flagged = MemberSpec {
        name: "bit",
        ty: u16_,
        bit_offset: 96 + 5,
        bitfield_size: 2,
    };
    let outer = [
        MemberSpec::new("first", u16_, 0),
        MemberSpec::new("", middle, 32),
        MemberSpec::new("", td, 64),
        flagged,
    ];
    w.record("outer", 16, false, &outer);
    let k = KernelInfo::from_btf_bytes(w.finish()).unwrap();
    let outer = record_of(&k, "outer");
    assert_eq!(
        k.member(&outer, "y").map(|m| m.offset_bits),
        Some(48),
        "first anonymous match wins"
    );
    assert_eq!(k.member(&outer, "whole").map(|m| m.offset_bits), Some(32));
    assert_eq!(
        k.member(&outer, "bit")
            .map(|m| (m.offset_bits, m.bitfield_bits)),
        Some((101, Some(2)))
    );
    assert_eq!(
        k.member_names(&outer),
        ["first", "x", "y", "whole", "x", "y", "whole", "bit"]
    );
    assert!(
        k.member(&outer, "").is_none(),
        "anonymous members have no name to look up"
    );
}

#[test]
fn type_mapping_choices() {
    let mut w = BtfWriter::new();
    let char_ = int(&mut w, "char", 1, false); // -funsigned-char kernels say unsigned
    let bool_ = w.int(
        "_Bool",
        1,
        IntSpec {
            bool: true,
            ..IntSpec::default()
        },
    );
    let i128 = int(&mut w, "__int128", 16, true);
    let i32_ = int(&mut w, "int", 4, true);
    let void_ptr = w.ptr(0);
    let proto = w.func_proto(i32_, &[("", i32_)]);
    let fn_ptr = w.ptr(proto);
    let char_arr = w.array(char_, i32_, 16);
    let cst = w.modifier(Kind::Const, "", i32_);
    let vol = w.modifier(Kind::Volatile, "", cst);
    let e64 = w.enumeration(
        "big",
        8,
        true,
        true,
        &[("BIG_NEG", -2), ("BIG_POS", 1 << 40)],
    );
    let fwd = w.fwd("opaque", false);
    let fwd_ptr = w.ptr(fwd);
    let f = w.float("double", 8);
    let members = [
        MemberSpec::new("c", char_, 0),
        MemberSpec::new("b", bool_, 8),
        MemberSpec::new("wide", i128, 128),
        MemberSpec::new("vp", void_ptr, 256),
        MemberSpec::new("fp", fn_ptr, 320),
        MemberSpec::new("name", char_arr, 384),
        MemberSpec::new("cv", vol, 512),
        MemberSpec::new("e", e64, 576),
        MemberSpec::new("o", fwd_ptr, 640),
        MemberSpec::new("d", f, 704),
    ];
    w.record("mix", 96, false, &members);
    let k = KernelInfo::from_btf_bytes(w.finish()).unwrap();
    let mix = record_of(&k, "mix");
    let ty = |name: &str| k.member(&mix, name).unwrap().ty;
    let u8s = |len| Type::Array {
        elem: Box::new(Type::Int(IntType::U8)),
        len,
    };
    assert_eq!(ty("c"), Type::Int(IntType::I8));
    assert_eq!(ty("b"), Type::Int(IntType::U8));
    assert_eq!(ty("wide"), u8s(16));
    assert_eq!(ty("vp"), Type::ptr(Type::Void));
    assert_eq!(ty("fp"), Type::ptr(Type::Void));
    assert_eq!(
        ty("name"),
        Type::Array {
            elem: Box::new(Type::Int(IntType::I8)),
            len: 16
        }
    );
    assert_eq!(ty("cv"), Type::Int(IntType::I32));
    assert_eq!(ty("e"), Type::Int(IntType::I64));
    let opaque = RecordType {
        btf_id: fwd,
        name: "opaque".into(),
        size: 0,
        is_union: false,
    };
    assert_eq!(
        ty("o"),
        Type::ptr(Type::Record(opaque.clone()))
    );
    assert_eq!(ty("d"), u8s(8));
    assert_eq!(
        k.find_type(TypeKeyword::Struct, "opaque"),
        Some(Type::Record(opaque))
    );
    assert_eq!(k.enum_constant("BIG_NEG").map(|c| c.value), Some(-2));
    assert_eq!(
        k.enum_constant("BIG_POS").map(|c| (c.value, c.enum_name)),
        Some((1 << 40, "big".into()))
    );
}

/// A forward declaration resolves to the full definition when BTF has both.
#[test]
fn forward_declarations_resolve_to_definitions() {
    let mut w = BtfWriter::new();
    let fwd = w.fwd("thing", false);
    let ptr = w.ptr(fwd);
    let i32_ = int(&mut w, "int", 4, true);
    let full = w.record("thing", 4, false, &[MemberSpec::new("v", i32_, 0)]);
    w.record("holder", 8, false, &[MemberSpec::new("p", ptr, 0)]);
    let k = KernelInfo::from_btf_bytes(w.finish()).unwrap();
    let holder = record_of(&k, "holder");
    let Type::Pointer(to, _) = k.member(&holder, "p").unwrap().ty else {
        panic!()
    };
    let Type::Record(thing) = *to else { panic!() };
    assert_eq!((thing.btf_id, thing.size), (full, 4));
    assert!(k.member(&thing, "v").is_some());
}

#[test]
fn prototypes_name_unnamed_params_and_drop_varargs() {
    let mut w = BtfWriter::new();
    let i32_ = int(&mut w, "int", 4, true);
    let proto = w.func_proto(i32_, &[("fmt", i32_), ("", i32_), ("", 0)]);
    w.func("printk_like", proto, 1);
    let k = KernelInfo::from_btf_bytes(w.finish()).unwrap();
    let f = k.function("printk_like").unwrap();
    assert_eq!(
        f.params,
        [
            ("fmt".to_owned(), Type::Int(IntType::I32)),
            ("arg1".to_owned(), Type::Int(IntType::I32))
        ]
    );
}

#[test]
fn cycles_do_not_hang() {
    let mut w = BtfWriter::new();
    // typedef a → typedef b → typedef a (ids 1 and 2).
    w.modifier(Kind::Typedef, "loop_a", 2);
    w.modifier(Kind::Typedef, "loop_b", 1);
    let k = KernelInfo::from_btf_bytes(w.finish()).unwrap();
    assert_eq!(
        k.find_type(TypeKeyword::Typedef, "loop_a"),
        Some(Type::Void)
    );
}

#[test]
fn damaged_blobs_are_errors() {
    let mut w = BtfWriter::new();
    int(&mut w, "int", 4, true);
    let good = w.finish();
    assert!(Btf::from_bytes(good.clone()).is_ok());
    assert!(
        Btf::from_bytes(good[..10].to_vec()).is_err(),
        "short header"
    );
    let mut bad_magic = good.clone();
    bad_magic[0] ^= 0xff;
    assert!(Btf::from_bytes(bad_magic).is_err());
    let mut cut = good.clone();
    cut[12..16].copy_from_slice(&100u32.to_ne_bytes()); // type_len past the end
    assert!(Btf::from_bytes(cut).is_err());
    let mut unknown = good;
    unknown[24 + 7] = 31; // kind 31 in the first record's info word
    let err = Btf::from_bytes(unknown).err().unwrap().to_string();
    assert!(err.contains("unknown kind 31"), "{err}");
}
