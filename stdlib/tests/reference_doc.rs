//! docs/builtins.md is generated from the registry, so the reference cannot
//! drift from what the checker accepts. FLOWTRACE_BLESS=1 rewrites it.

use flowtrace_stdlib::{builtins, funcs};
use std::fmt::Write;
use std::path::Path;

fn render() -> String {
    let mut out = String::from(
        "# Builtins reference\n\n\
         Generated from `stdlib/` by `cargo test -p flowtrace-stdlib` \
         (`FLOWTRACE_BLESS=1` rewrites this file). Do not edit by hand.\n\n\
         ## Variables\n\n| name | type | probes | what |\n|---|---|---|---|\n",
    );
    for b in builtins() {
        let kinds: Vec<&str> = b.usable_in.iter().map(|k| k.name()).collect();
        let kinds = if kinds.len() >= 9 { "all but tc".to_string() } else { kinds.join(", ") };
        let _ = writeln!(out, "| `{}` | `{}` | {} | {} |", b.name, b.ty, kinds, b.doc);
    }
    out.push_str("\n## Functions\n\n| signature | what |\n|---|---|\n");
    for f in funcs() {
        let note = f.unsupported.map(|why| format!(" **Not supported yet:** {why}.")).unwrap_or_default();
        let _ = writeln!(out, "| `{}` | {}{} |", f.signature, f.doc, note);
    }
    out
}

#[test]
fn builtins_reference_is_up_to_date() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/builtins.md");
    let want = render();
    if std::env::var_os("FLOWTRACE_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "docs/builtins.md is stale: run FLOWTRACE_BLESS=1 cargo test -p flowtrace-stdlib");
}
