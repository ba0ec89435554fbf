//! Helpers shared by the top-level (`flowtrace` package) integration tests:
//! the root gate, tracer processes, loopback traffic generators and an
//! nftables random-drop rule. Each test file includes it with `mod support;`
//! and uses what it needs.

#![allow(dead_code)]

pub mod gate;
pub mod kernel;
pub mod nft;
pub mod tracer;
pub mod traffic;
