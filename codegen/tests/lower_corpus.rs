//! Every valid corpus program and example that checks against the host
//! kernel must compile, and every compiled program must pass the verifier
//! (fentry/fexit excepted: loading them is refused on this host).

mod support;

use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_codegen::object::ProgramKind;
use flowtrace_lang::diag::render_all;
use flowtrace_lang::{CheckOptions, Source};
use std::path::{Path, PathBuf};
use support::bpf;

fn files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Vec::new();
    for dir in ["tests/corpus/valid", "examples"] {
        if let Ok(rd) = std::fs::read_dir(root.join(dir)) {
            out.extend(rd.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "ft")));
        }
    }
    out.sort();
    out
}

fn params(text: &str) -> Vec<String> {
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("// params:"))
        .map(|rest| rest.split_whitespace().map(String::from).collect())
        .unwrap_or_default()
}

#[test]
fn corpus_programs_compile_and_verify() {
    if !bpf::root_tests_enabled("corpus_programs_compile_and_verify") {
        return;
    }
    let kernel = KernelInfo::open_default().expect("host BTF");
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
        let typed = match flowtrace_lang::check(&ast, &kernel, &options) {
            Ok(t) => t,
            Err(d) => {
                // Written against the checker's fake kernel (interfaces, functions this host lacks).
                not_checked.push(format!("{name}: {}", d[0].message));
                continue;
            }
        };
        let compiled = match flowtrace_codegen::compile(&typed, &Default::default()) {
            Ok(c) => c,
            Err(d) => {
                failures.push(format!("{name}: compile failed\n{}", render_all(&d, &source)));
                continue;
            }
        };
        let maps: Result<Vec<_>, _> =
            compiled.maps.iter().map(|m| bpf::create_map(m.map_type, m.key_size, m.value_size, m.max_entries, &m.name)).collect();
        let maps = maps.unwrap();
        for p in compiled.programs.iter().filter(|p| !matches!(p.kind, ProgramKind::Fentry | ProgramKind::Fexit)) {
            match bpf::load_program(p, &maps) {
                Ok(_) => verified += 1,
                Err(e) => failures.push(format!("{name}: {e}")),
            }
        }
    }
    eprintln!("{verified} programs verified; not checkable on this host: {not_checked:#?}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n\n"));
    assert!(verified >= 50, "only {verified} programs verified");
}
