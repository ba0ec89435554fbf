//! flowtrace's back end: typed program → IR → eBPF instructions → ELF, plus the
//! BTF reader the front end resolves kernel types with.

pub mod btf;
pub mod disasm;
pub mod elf;
pub mod glob;
pub mod group;
pub mod insn;
pub mod kernel_info;
pub mod layout;
pub mod object;
pub mod tracefs;
pub mod compile;
pub mod emit;
pub mod ir;
pub mod lower;
pub mod regalloc;

pub use compile::{compile, CompileOptions};
