//! Docs that run: every fenced `ft` block in README.md and docs/*.md, and every
//! runbook in examples/, must type-check against this kernel (`--dry-run`).
//! Needs root for tracefs (tracepoint formats), so behind the root gate.

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
    if !flowtrace_testkit::root_tests_enabled("root_docs_and_examples_check") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut docs = vec![root.join("README.md")];
    docs.extend(flowtrace_testkit::corpus::files_with_extension(&root.join("docs"), "md"));
    for doc in docs {
        let text = std::fs::read_to_string(&doc).unwrap();
        for (i, block) in ft_blocks(&text).iter().enumerate() {
            checked += 1;
            // Blocks may use $1; give them a parameter.
            failures.extend(dry_run(&format!("{} block {}", doc.display(), i + 1), &["-e", block, "8080"]));
        }
    }
    for path in flowtrace_testkit::corpus::examples() {
        checked += 1;
        failures.extend(dry_run(&path.display().to_string(), &[path.to_str().unwrap()]));
    }
    assert!(checked >= 5, "only {checked} documented programs found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
