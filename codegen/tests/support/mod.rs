pub mod bpf;
pub mod build;
pub mod source;
pub mod traffic;
pub mod values;
