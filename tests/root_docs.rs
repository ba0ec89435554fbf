//! Docs that run: every fenced `ft` block in README.md and docs/*.md, and every
//! runbook in examples/, must type-check against this kernel (`--dry-run`).
//! Needs root for tracefs (tracepoint formats); gated like tests/root_cli.rs.

use std::path::Path;
use std::process::Command;

fn ft_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```ft") => current = Some(String::new()),
            (Some(block), l) if l.starts_with("```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

fn dry_run(name: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_flowtrace")).arg("--dry-run").args(args).output().unwrap();
    (!out.status.success()).then(|| format!("{name}:\n{}", String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn root_docs_and_examples_check() {
    if std::env::var_os("FLOWTRACE_ROOT_TESTS").is_none() || unsafe { libc::geteuid() } != 0 {
        eprintln!("!!! SKIPPED root_docs_and_examples_check (needs root and FLOWTRACE_ROOT_TESTS=1)");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut docs = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (i, block) in ft_blocks(&text).iter().enumerate() {
            checked += 1;
            // Blocks may use $1; give them a parameter.
            failures.extend(dry_run(&format!("{} block {}", doc.display(), i + 1), &["-e", block, "8080"]));
        }
    }
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "ft") {
            checked += 1;
            failures.extend(dry_run(&path.display().to_string(), &[path.to_str().unwrap()]));
        }
    }
    assert!(checked >= 5, "only {checked} documented programs found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
