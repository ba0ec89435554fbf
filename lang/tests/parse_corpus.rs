//! The shared corpus in `tests/corpus/` (at the workspace root):
//! - every `valid/*.ft` must parse;
//! - every `invalid_syntax/NAME.ft` must fail, and its rendered diagnostics
//!   must equal `invalid_syntax/NAME.expected` byte for byte.
//!
//! Re-blessing: after an intended change to a message, run
//!     FLOWTRACE_BLESS=1 cargo test -p flowtrace-lang --test parse_corpus
//! which rewrites every `.expected` file from the current output instead of
//! comparing; review the diff before committing it.

use flowtrace_lang::diag::render_all;
use flowtrace_lang::{parse, Source};
use flowtrace_testkit::corpus::{corpus, file_name};
use std::fs;
use std::path::Path;

fn source(path: &Path) -> Source {
    Source::new(file_name(path), fs::read_to_string(path).expect("readable corpus file"))
}

#[test]
fn valid_programs_parse() {
    let files = corpus("valid");
    assert!(files.len() >= 60, "expected at least 60 valid programs, found {}", files.len());
    let mut failures = String::new();
    for path in &files {
        let src = source(path);
        if let Err(diags) = parse(&src) {
            failures.push_str(&render_all(&diags, &src));
        }
    }
    assert!(failures.is_empty(), "valid corpus programs failed to parse:\n{failures}");
}

#[test]
fn invalid_programs_report_expected_diagnostics() {
    let bless = std::env::var_os("FLOWTRACE_BLESS").is_some_and(|v| v == "1");
    let files = corpus("invalid_syntax");
    assert!(files.len() >= 20, "expected at least 20 invalid programs, found {}", files.len());
    let mut mismatches = Vec::new();
    for path in &files {
        let src = source(path);
        let rendered = match parse(&src) {
            Ok(_) => format!("{}: parsed without errors\n", src.name),
            Err(diags) => render_all(&diags, &src),
        };
        let expected_path = path.with_extension("expected");
        if bless {
            fs::write(&expected_path, &rendered).expect("writing .expected");
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if rendered != expected {
            mismatches.push(format!("== {}\n-- expected:\n{expected}-- got:\n{rendered}", src.name));
        }
    }
    assert!(mismatches.is_empty(), "{} mismatches (FLOWTRACE_BLESS=1 rewrites):\n{}", mismatches.len(), mismatches.join("\n"));
}
