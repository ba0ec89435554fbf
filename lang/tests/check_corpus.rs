//! Golden tests for the checker's diagnostics.
//!
//! Every `tests/corpus/invalid/NAME.ft` is parsed and checked against the
//! fake kernel in `support/`; the rendered diagnostics must equal
//! `NAME.expected` exactly. After an intended change in messages, rewrite
//! the expected files with:
//!
//!     FLOWTRACE_BLESS=1 cargo test -p flowtrace-lang --test check_corpus
//!
//! and review the diff. Every `tests/corpus/valid/NAME.ft` must check
//! without errors.

mod support;

use flowtrace_lang::diag::render_all;
use flowtrace_lang::{check, parse, CheckOptions, Source};
use flowtrace_testkit::corpus::{corpus, params};
use std::path::Path;

fn run(path: &Path) -> (bool, String) {
    let text = std::fs::read_to_string(path).expect("corpus file is readable");
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?").to_string();
    let source = Source::new(name, text.clone());
    let options = CheckOptions { params: params(&text), ..Default::default() };
    let program = match parse(&source) {
        Ok(p) => p,
        Err(diags) => return (false, format!("(parse failed)\n{}", render_all(&diags, &source))),
    };
    match check(&program, &support::FakeKernel::new(), &options) {
        Ok(typed) => (true, render_all(&typed.warnings, &source)),
        Err(diags) => (false, render_all(&diags, &source)),
    }
}

#[test]
fn invalid_programs_report_expected_diagnostics() {
    let bless = std::env::var_os("FLOWTRACE_BLESS").is_some();
    let files = corpus("invalid");
    assert!(files.len() >= 40, "expected at least 40 invalid programs, found {}", files.len());
    let mut failures = Vec::new();
    for path in files {
        let (passed, rendered) = run(&path);
        let expected_path = path.with_extension("expected");
        if passed {
            failures.push(format!("{}: checked without errors", path.display()));
            continue;
        }
        if bless {
            std::fs::write(&expected_path, &rendered).expect("write expected file");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != rendered {
            failures.push(format!("{}:\n--- expected\n{expected}--- got\n{rendered}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Files of the (parser's) valid corpus that parse but must not check,
/// with the reason. Each must keep failing, so the list stays true.
const PARSE_ONLY: &[(&str, &str)] = &[];

#[test]
fn valid_programs_check() {
    let mut failures = Vec::new();
    for path in corpus("valid") {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let (passed, rendered) = run(&path);
        let parse_only = PARSE_ONLY.iter().find(|(n, _)| *n == name);
        match (passed, parse_only) {
            (false, None) => failures.push(format!("{}:\n{rendered}", path.display())),
            (true, Some((_, why))) => failures.push(format!("{}: checks now, but is listed as parse-only ({why})", path.display())),
            _ => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
