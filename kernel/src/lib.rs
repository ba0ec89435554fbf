//! What flowtrace knows about the running kernel, as data: its BTF types
//! ([`btf`]), its tracepoint formats ([`tracefs`]), the [`KernelTypes`] view
//! the checker asks through ([`kernel_info::KernelInfo`]), and the glob and
//! "did you mean" matching used on kernel names. Nothing here makes a bpf(2)
//! call or knows about code generation.
//!
//! [`KernelTypes`]: flowtrace_lang::kernel::KernelTypes

pub mod btf;
pub mod glob;
pub mod host;
pub mod kernel_info;
pub mod tracefs;
pub mod uprobe_targets;

pub use kernel_info::{KernelInfo, DEFAULT_BTF_PATH};
