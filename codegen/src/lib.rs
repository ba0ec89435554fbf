//! flowtrace's back end: typed program → IR → eBPF instructions → ELF, plus the
//! BTF reader the front end resolves kernel types with.

pub mod disasm;
pub mod elf;
pub mod insn;
pub mod layout;
pub mod object;
