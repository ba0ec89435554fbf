//! Compile work grows about linearly with the script (issue 10, item 7).
//!
//! Not a timing budget (that is the bench's job, `scripts/bench`): each test
//! compiles a generated script at two sizes, N and 4N, and compares the two
//! times. Linear work takes ~4x as long; the quadratic and cubic stages this
//! guards against took 16x and more. The bound (8x) is twice the linear
//! figure, and each size is timed as the best of three runs, so a busy
//! machine slowing one run down does not fail the test.

use flowtrace_lang::diag::render_all;
use flowtrace_lang::{CheckOptions, Source};
use std::time::{Duration, Instant};

/// Parse, check and compile `text`: what `flowtrace -d bpf` does.
fn compile_once(text: &str) -> Duration {
    let source = Source::new("scaling.ft", text);
    let start = Instant::now();
    let ast = flowtrace_lang::parse(&source).unwrap_or_else(|d| panic!("parse:\n{}", render_all(&d, &source)));
    let typed = flowtrace_lang::check(&ast, flowtrace_testkit::program::host_kernel(), &CheckOptions::default())
        .unwrap_or_else(|d| panic!("check:\n{}", render_all(&d, &source)));
    let compiled = flowtrace_codegen::compile(&typed, &flowtrace_codegen::CompileOptions::default())
        .unwrap_or_else(|d| panic!("compile:\n{}", render_all(&d[..1], &source)));
    let elapsed = start.elapsed();
    std::hint::black_box(compiled);
    elapsed
}

fn best_of_three(text: &str) -> Duration {
    (0..3).map(|_| compile_once(text)).min().unwrap()
}

/// Time at `n` and at `4n`; fails when the larger took more than 8x as long.
fn assert_near_linear(what: &str, n: usize, script: impl Fn(usize) -> String) {
    // Warm the BTF cache and the allocator so the first timed run is not the slow one.
    compile_once(&script(n / 4));
    let small = best_of_three(&script(n));
    let large = best_of_three(&script(4 * n));
    let ratio = large.as_secs_f64() / small.as_secs_f64().max(1e-6);
    eprintln!("{what}: {n} in {small:?}, {} in {large:?} ({ratio:.1}x)", 4 * n);
    assert!(ratio < 8.0, "{what}: 4x the size took {ratio:.1}x as long ({small:?} -> {large:?}); compile work is not linear");
}

/// Probe clauses with the same attach point: every program gets the same
/// base name, which `ft_` names must still keep unique.
fn probes(n: usize) -> String {
    (0..n).map(|i| format!("interval:ms:100 {{ @a[{i}] = count(); }}\n")).collect()
}

/// One probe of straight-line statements on one variable.
fn statements(n: usize) -> String {
    let mut s = String::from("BEGIN { $x = 1;\n");
    for _ in 0..n {
        s.push_str("  $x = $x + 1;\n");
    }
    s.push_str("  exit(); }\n");
    s
}

#[test]
fn compile_time_is_near_linear_in_probe_clauses() {
    assert_near_linear("probe clauses", 400, probes);
}

#[test]
fn compile_time_is_near_linear_in_statements() {
    assert_near_linear("statements", 1500, statements);
}
