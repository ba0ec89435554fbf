//! `flowtrace -l [PATTERN]`: tracepoints and kernel functions matching a glob.
//! Which providers list what comes from the provider table
//! (`flowtrace_stdlib::provider`): every name and alias of a provider whose
//! target is a kernel function, a tracepoint or a raw tracepoint lists those,
//! under the provider's canonical name.

use crate::cli::Cli;
use crate::frontend::open_kernel;
use flowtrace_lang::kernel::KernelTypes;
use flowtrace_stdlib::provider::{provider, Provider, Target, PROVIDERS};
use std::process::ExitCode;

/// PATTERN is `tracepoint:CAT:NAME`, `kprobe:FUNC` (or any provider or alias
/// naming functions or tracepoints), or a bare glob matched against the
/// providers listed by default (bpftrace's `-l` behaviour).
pub fn run(cli: &Cli, pattern: &str) -> ExitCode {
    let kernel = match open_kernel(cli) {
        Ok(k) => k,
        Err(msg) => {
            eprintln!("flowtrace: error: {msg}");
            return ExitCode::from(1);
        }
    };
    // Tracepoints are listed from tracefs, which only root may read here: an
    // empty list and exit 0 would say there are none.
    let (rows, _, _) = rows(pattern);
    if rows.iter().any(|r| matches!(r.target, Target::Tracepoint | Target::RawTracepoint)) {
        if let Err(msg) = kernel.tracefs().root() {
            eprintln!("flowtrace: error: {msg}");
            return ExitCode::from(1);
        }
    }
    match crate::stdout::print(&listing(&kernel, pattern)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failed) => failed.report(),
    }
}

/// The lines `-l PATTERN` prints: tracepoints first, then raw tracepoints,
/// then kernel functions.
fn listing(kernel: &dyn KernelTypes, pattern: &str) -> String {
    let (rows, rest, bare) = rows(pattern);
    let mut out = String::new();
    for target in [Target::Tracepoint, Target::RawTracepoint, Target::KernelFunction] {
        for row in rows.iter().filter(|r| r.target == target) {
            for line in targets(kernel, target, rest, bare) {
                out.push_str(&format!("{}:{line}\n", row.name));
            }
        }
    }
    out
}

/// The providers PATTERN lists, the glob after `provider:`, and whether the
/// pattern named no provider (bare).
fn rows(pattern: &str) -> (Vec<&'static Provider>, &str, bool) {
    match pattern.split_once(':') {
        Some(("*", rest)) => (PROVIDERS.iter().filter(|p| p.listed_by_default).collect(), rest, true),
        Some((name, rest)) => (provider(name).into_iter().collect(), rest, false),
        None => (PROVIDERS.iter().filter(|p| p.listed_by_default).collect(), pattern, true),
    }
}

/// What follows `provider:` for each match of `rest`. A bare pattern
/// without `:` is a tracepoint name in any category.
fn targets(kernel: &dyn KernelTypes, target: Target, rest: &str, bare: bool) -> Vec<String> {
    match target {
        Target::Tracepoint => {
            let (cat, name) = match rest.split_once(':') {
                Some(parts) => parts,
                None if bare => ("*", rest),
                None => (rest, "*"),
            };
            kernel.match_tracepoints(cat, name).into_iter().map(|(c, n)| format!("{c}:{n}")).collect()
        }
        Target::RawTracepoint => raw_tracepoints(&kernel.match_tracepoints("*", rest)),
        Target::KernelFunction => kernel.match_functions(rest),
        Target::Nothing | Target::Period | Target::Interface => Vec::new(),
    }
}

/// The raw-tracepoint names among `tracepoints` (category, name): every
/// tracefs event is a kernel tracepoint, and so a raw tracepoint, except
/// the `syscalls` events (ftrace builds those on the `raw_syscalls` ones)
/// and ftrace's own (measured: each other event has its `btf_trace_NAME`).
pub fn raw_tracepoints(tracepoints: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> = tracepoints
        .iter()
        .filter(|(category, _)| !matches!(category.as_str(), "syscalls" | "ftrace"))
        .map(|(_, name)| name.clone())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtrace_lang::kernel::{EnumConstant, FuncProto, Member, TracepointField, TypeKeyword};
    use flowtrace_lang::types::{RecordType, Type};

    /// Two tracepoints and two functions; globs are `*` suffixes only.
    struct Fake;

    fn glob(pattern: &str, name: &str) -> bool {
        match pattern.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => pattern == name,
        }
    }

    impl KernelTypes for Fake {
        fn find_type(&self, _: TypeKeyword, _: &str) -> Option<Type> {
            None
        }
        fn member(&self, _: &RecordType, _: &str) -> Option<Member> {
            None
        }
        fn member_names(&self, _: &RecordType) -> Vec<String> {
            Vec::new()
        }
        fn enum_constant(&self, _: &str) -> Option<EnumConstant> {
            None
        }
        fn similar_enum_constants(&self, _: &str) -> Vec<String> {
            Vec::new()
        }
        fn tracepoint_fields(&self, _: &str, _: &str) -> Result<Vec<TracepointField>, String> {
            Ok(Vec::new())
        }
        fn match_tracepoints(&self, category: &str, name: &str) -> Vec<(String, String)> {
            [("tcp", "tcp_probe"), ("syscalls", "sys_enter_tcp")]
                .into_iter()
                .filter(|(c, n)| glob(category, c) && glob(name, n))
                .map(|(c, n)| (c.to_string(), n.to_string()))
                .collect()
        }
        fn function(&self, _: &str) -> Option<FuncProto> {
            None
        }
        fn match_functions(&self, pattern: &str) -> Vec<String> {
            ["tcp_sendmsg", "tcp_close"].into_iter().filter(|f| glob(pattern, f)).map(str::to_string).collect()
        }
    }

    #[test]
    fn every_alias_lists_under_the_canonical_name() {
        // kretprobe:, fexit: and their aliases listed nothing before the
        // provider table, though the parser accepts them.
        assert_eq!(listing(&Fake, "kretprobe:tcp_s*"), "kretprobe:tcp_sendmsg\n");
        assert_eq!(listing(&Fake, "kr:tcp_s*"), "kretprobe:tcp_sendmsg\n");
        assert_eq!(listing(&Fake, "kfunc:tcp_c*"), "fentry:tcp_close\n");
        assert_eq!(listing(&Fake, "kretfunc:tcp_c*"), "fexit:tcp_close\n");
        assert_eq!(listing(&Fake, "k:tcp_close"), "kprobe:tcp_close\n");
        assert_eq!(listing(&Fake, "t:tcp:*"), "tracepoint:tcp:tcp_probe\n");
    }

    #[test]
    fn raw_tracepoints_leave_out_syscall_events() {
        assert_eq!(listing(&Fake, "rt:*"), "rawtracepoint:tcp_probe\n");
        assert_eq!(listing(&Fake, "tracepoint:*"), "tracepoint:tcp:tcp_probe\ntracepoint:syscalls:sys_enter_tcp\n");
    }

    #[test]
    fn a_bare_pattern_lists_tracepoints_then_kprobes() {
        assert_eq!(listing(&Fake, "tcp_*"), "tracepoint:tcp:tcp_probe\nkprobe:tcp_sendmsg\nkprobe:tcp_close\n");
        assert_eq!(listing(&Fake, "*:tcp_close"), "kprobe:tcp_close\n");
        // Providers with nothing to list, and unknown ones, list nothing.
        assert_eq!(listing(&Fake, "interval:*"), "");
        assert_eq!(listing(&Fake, "nosuch:*"), "");
    }
}
