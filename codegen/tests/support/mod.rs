pub mod bpf;
pub mod build;
pub mod traffic;
