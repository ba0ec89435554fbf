//! Every valid corpus program and example that checks against the host
//! kernel must compile, and every compiled program must pass the verifier
//! (fentry/fexit excepted: loading them is refused on this host). Programs
//! are loaded one at a time by the production loader
//! (`Loaded::load_selected`), so every rejection is reported.

use flowtrace_codegen::compile::CompileOptions;
use flowtrace_codegen::object::ProgramKind;
use flowtrace_lang::diag::render_all;
use flowtrace_lang::{CheckOptions, Source};
use flowtrace_runtime::{load::create_map, Loaded};
use flowtrace_testkit::corpus::{corpus, examples, params};
use flowtrace_testkit::program::{describe, host_kernel};
use flowtrace_testkit::root_tests_enabled;
use std::os::fd::AsFd;
use std::path::PathBuf;

fn files() -> Vec<PathBuf> {
    let mut out = corpus("valid");
    out.extend(examples());
    out.sort();
    out
}

#[test]
fn corpus_programs_compile_and_verify() {
    if !root_tests_enabled("corpus_programs_compile_and_verify") {
        return;
    }
    verify_corpus(&CompileOptions::default());
}

/// With `-k`, every probe read is followed by a branch and a ring-buffer
/// record on failure: the same programs must still pass the verifier.
#[test]
fn corpus_programs_verify_with_helper_warnings() {
    if !root_tests_enabled("corpus_programs_verify_with_helper_warnings") {
        return;
    }
    verify_corpus(&CompileOptions { helper_warnings: true, ..CompileOptions::default() });
}

fn verify_corpus(compile_options: &CompileOptions) {
    let kernel = host_kernel();
    let (mut verified, mut not_checked) = (0, Vec::new());
    let mut failures = Vec::new();
    for path in files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let source = Source::new(name.clone(), text.clone());
        let Ok(ast) = flowtrace_lang::parse(&source) else {
            failures.push(format!("{name}: does not parse"));
            continue;
        };
        let options = CheckOptions { params: params(&text), ..Default::default() };
        let typed = match flowtrace_lang::check(&ast, kernel, &options) {
            Ok(t) => t,
            Err(d) => {
                // Written against the checker's fake kernel (interfaces, functions this host lacks).
                not_checked.push(format!("{name}: {}", d[0].message));
                continue;
            }
        };
        let compiled = match flowtrace_codegen::compile(&typed, compile_options) {
            Ok(c) => c,
            Err(d) => {
                failures.push(format!("{name}: compile failed\n{}", render_all(&d, &source)));
                continue;
            }
        };
        let maps: Result<Vec<_>, _> = compiled.maps.iter().map(create_map).collect();
        let maps = maps.unwrap_or_else(|e| panic!("{name}: {e}"));
        let fds: Vec<_> = maps.iter().map(|m| m.as_fd()).collect();
        for (i, _) in compiled.programs.iter().enumerate().filter(|(_, p)| !matches!(p.kind, ProgramKind::Fentry | ProgramKind::Fexit)) {
            match Loaded::load_selected(&compiled, &[i], &fds) {
                Ok(_) => verified += 1,
                Err(e) => failures.push(format!("{name}: {}", describe(&e))),
            }
        }
    }
    eprintln!("{verified} programs verified; not checkable on this host: {not_checked:#?}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n\n"));
    assert!(verified >= 50, "only {verified} programs verified");
}
