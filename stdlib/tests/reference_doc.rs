//! docs/builtins.md is generated from the registry, so the reference cannot
//! drift from what the checker accepts. FLOWTRACE_BLESS=1 rewrites it.

use flowtrace_stdlib::provider::{Args, Target, PROVIDERS};
use flowtrace_stdlib::{builtins, funcs, ProbeKind};
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
        let kinds = match b.usable_in {
            all if all == ProbeKind::ALL => "all".to_string(),
            task if task == ProbeKind::TASK => "all but tc".to_string(),
            some => some.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "),
        };
        let _ = writeln!(out, "| `{}` | `{}` | {} | {} |", b.name, b.ty, kinds, b.doc);
    }
    out.push_str("\n## Functions\n\n| signature | what |\n|---|---|\n");
    for f in funcs() {
        let note = f.unsupported.map(|why| format!(" **Not supported yet:** {why}.")).unwrap_or_default();
        let _ = writeln!(out, "| `{}` | {}{} |", f.signature, f.doc, note);
    }
    out.push_str(&providers());
    out
}

/// The provider table (`stdlib/src/provider.rs`) as the reader needs it.
fn providers() -> String {
    let mut out = String::from(
        "\n## Providers\n\n| provider | aliases | fires | target | `args` | `-l PATTERN` lists it |\n|---|---|---|---|---|---|\n",
    );
    for p in &PROVIDERS {
        let aliases: Vec<String> = p.aliases.iter().map(|a| format!("`{a}`")).collect();
        let target = match p.target {
            Target::Nothing => "—",
            Target::KernelFunction => "`FUNC` or `MODULE:FUNC` (`func` is FUNC)",
            Target::Tracepoint => "`CATEGORY:NAME`",
            Target::RawTracepoint => "`NAME`",
            Target::Period => "`s:N`, `ms:N`, `us:N`, `hz:N`, `1s`",
            Target::Interface => "`IFACE:ingress`, `IFACE:egress`",
            Target::UserFunction => "`BINARY:FUNC`, `BINARY:FUNC+OFF`, `BINARY:0xADDR` (`func` is FUNC)",
            Target::Usdt => "`BINARY:PROVIDER:NAME` or `BINARY:NAME`",
            Target::Iterator => "`NAME` (`task`, `tcp`, …; fields `ctx.NAME`)",
            Target::PerfEvent => "`EVENT` or `EVENT:COUNT`",
        };
        let args = match p.args {
            Args::None => "—",
            Args::TracepointFields => "the tracepoint's fields",
            Args::FunctionParams => "the function's parameters (BTF)",
        };
        let listed = match p.target {
            _ if p.listed_by_default => "yes",
            Target::UserFunction | Target::Usdt => "with its name and binary",
            _ => "with its name",
        };
        let listed = if matches!(p.target, Target::Nothing | Target::Period | Target::Interface | Target::PerfEvent) { "no" } else { listed };
        let _ = writeln!(out, "| `{}` | {} | {} | {target} | {args} | {listed} |", p.name, aliases.join(", "), p.doc);
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

/// docs/language.md's hand-written provider table names every provider and
/// alias the parser accepts (it reads them from the same table).
#[test]
fn language_guide_names_every_provider_and_alias() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/language.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let table: String = text.lines().skip_while(|l| !l.starts_with("| provider |")).take_while(|l| l.starts_with('|')).collect();
    for p in &PROVIDERS {
        for name in p.names() {
            let written = [format!("`{name}:"), format!("`{name}`"), format!("`{name}, ")];
            assert!(written.iter().any(|w| table.contains(w.as_str())), "docs/language.md's provider table does not mention `{name}`");
        }
    }
}
