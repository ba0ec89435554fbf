pub mod bpf;
pub mod build;
pub mod ringbuf;
pub mod source;
pub mod traffic;
pub mod values;
