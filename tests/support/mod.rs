//! Helpers only the differential suite (tests/root_diff.rs) uses: tracer
//! processes and an nftables random-drop rule. What every crate's tests
//! share (the root gate, traffic, kernel-object checks) is in the test kit,
//! `flowtrace_testkit`.

#![allow(dead_code)]

pub mod nft;
pub mod tracer;
