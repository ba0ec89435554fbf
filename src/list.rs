//! `flowtrace -l [PATTERN]`: tracepoints and kernel functions matching a glob.

use crate::cli::Cli;
use crate::frontend::open_kernel;
use flowtrace_lang::kernel::KernelTypes;
use std::process::ExitCode;

/// PATTERN is `tracepoint:CAT:NAME`, `kprobe:FUNC` (or `fentry:`), or a bare
/// glob matched against both (bpftrace's `-l` behaviour).
pub fn run(cli: &Cli, pattern: &str) -> ExitCode {
    let kernel = match open_kernel(cli) {
        Ok(k) => k,
        Err(msg) => {
            eprintln!("flowtrace: error: {msg}");
            return ExitCode::from(1);
        }
    };
    let (provider, rest) = match pattern.split_once(':') {
        Some((p, r)) => (p, r),
        None => ("*", pattern),
    };
    let mut lines = Vec::new();
    let wants = |name: &str| provider == "*" || provider == name;
    if wants("tracepoint") || wants("t") {
        let (cat, name) = rest.split_once(':').unwrap_or((rest, "*"));
        let (cat, name) = if provider == "*" && !rest.contains(':') { ("*", rest) } else { (cat, name) };
        for (c, n) in kernel.match_tracepoints(cat, name) {
            lines.push(format!("tracepoint:{c}:{n}"));
        }
    }
    for (aliases, shown) in [(["kprobe", "k"], "kprobe"), (["fentry", "f"], "fentry")] {
        if provider == "*" && shown == "fentry" {
            continue;
        }
        if aliases.iter().any(|a| wants(a)) {
            for f in kernel.match_functions(rest) {
                lines.push(format!("{shown}:{f}"));
            }
        }
    }
    let mut out = String::new();
    for l in &lines {
        out.push_str(l);
        out.push('\n');
    }
    print!("{out}");
    ExitCode::SUCCESS
}
