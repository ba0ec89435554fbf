//! flowtrace's back end: typed program → IR → eBPF instructions → ELF object.
//! Kernel introspection (BTF, tracefs) lives in `flowtrace-kernel`.

pub mod disasm;
pub mod elf;
pub mod fuse;
pub mod group;
pub mod insn;
pub mod layout;
pub mod object;
pub mod prog_btf;
pub mod compile;
pub mod emit;
pub mod ir;
pub mod lower;
pub mod regalloc;

pub use compile::{compile, CompileOptions};
