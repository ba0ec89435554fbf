//! Errors only the kernel can produce, worded for what happened.
//!
//! Root only: they run when FLOWTRACE_ROOT_TESTS=1, else print SKIPPED.


use std::process::Command;
use flowtrace_testkit::gate::root_tests_enabled;

/// A loop the verifier cannot bound makes it walk a million instructions and
/// give up; its log overflows the buffer, so the errno is ENOSPC ("No space
/// left on device"), which says nothing about the program. The message must
/// say what the verifier found.
#[test]
fn root_an_unbounded_loop_is_rejected_for_what_it_is() {
    if !root_tests_enabled("root_an_unbounded_loop_is_rejected_for_what_it_is") {
        return;
    }
    // The bounded back-edge form is what the verifier refuses; with bpf_loop
    // this loop verifies and runs 2^23 rounds, and a BEGIN-only run never ends.
    let out = Command::new(env!("CARGO_BIN_EXE_flowtrace"))
        .args(["-e", "BEGIN { $i = 0; while (1) { $i++; } }"])
        .env("FLOWTRACE_NO_BPF_LOOP", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error: the kernel verifier rejected the program for 'BEGIN'"), "{err}");
    assert!(err.contains("the program is too large or has a loop the verifier cannot bound"), "{err}");
    assert!(!err.contains("No space left on device"), "{err}");
}
