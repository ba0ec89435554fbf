//! `flowtrace -l [PATTERN|FILE]` / `flowtrace -l -e PROGRAM`: what can be
//! traced, as bpftrace lists it. Which providers list what comes from the
//! provider table (`flowtrace_stdlib::provider`): every name and alias of a
//! provider whose target is a kernel function, a tracepoint, a raw
//! tracepoint or a period lists those, under the provider's canonical name.
//! `struct NAME` / `union NAME` patterns list BTF records instead, and with
//! `-v` each probe's arguments and each record's definition follow
//! ([`details`]).

mod details;

use crate::cli::Cli;
use crate::frontend::open_kernel;
pub use details::Details;
use flowtrace_lang::kernel::KernelTypes;
use flowtrace_lang::typed::TypedProgram;
use flowtrace_stdlib::provider::{provider, Provider, Target, PROVIDERS};
use std::process::ExitCode;

/// The units an `interval:` probe takes, listed as bpftrace lists them.
const PERIOD_UNITS: [&str; 4] = ["hz", "us", "ms", "s"];

/// What `-l` was given.
enum Request {
    /// Comma-separated globs (`kprobe:tcp_*,struct sock*`).
    Patterns(String),
    /// A program (`-e`, or a FILE that exists): the probes it attaches.
    Program,
}

pub fn run(cli: &Cli) -> ExitCode {
    let request = match (&cli.program, &cli.file) {
        (Some(_), _) => Request::Program,
        (None, Some(file)) if file.is_file() => Request::Program,
        (None, Some(pattern)) if pattern.as_os_str().is_empty() => Request::Patterns("*".into()),
        (None, Some(pattern)) => {
            let pattern = pattern.display().to_string();
            // bpftrace's warning: a typo in a script's name would otherwise
            // list nothing and look like "no such probes".
            if pattern.contains('.') && !pattern.contains([':', '*']) && !cli.no_warnings {
                eprintln!(
                    "flowtrace: warning: '{pattern}' looks like a file name but no such file exists; \
                     listing it as a search pattern"
                );
            }
            Request::Patterns(pattern)
        }
        (None, None) => Request::Patterns("*".into()),
    };
    let kernel = match open_kernel(cli) {
        Ok(k) => k,
        Err(msg) => return fail(&msg),
    };
    let text = match request {
        Request::Patterns(patterns) => {
            // Tracepoints are listed from tracefs, which only root may read
            // here: an empty list and exit 0 would say there are none.
            let tracefs = patterns.split(',').map(str::trim).filter(|p| !is_record_pattern(p)).any(|p| rows(p).0.iter().any(|r| matches!(r.target, Target::Tracepoint | Target::RawTracepoint)));
            if tracefs {
                if let Err(msg) = kernel.tracefs().root() {
                    return fail(&msg);
                }
            }
            listing(&kernel, &kernel, &patterns, cli.verbose)
        }
        Request::Program => match program_probes(cli, &kernel) {
            Ok(text) => text,
            Err(crate::frontend::Reported) => return ExitCode::from(1),
        },
    };
    match crate::stdout::print(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failed) => failed.report(),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("flowtrace: error: {msg}");
    ExitCode::from(1)
}

/// `-l -e PROGRAM` / `-l FILE`: the program is checked (so wildcards are
/// expanded against this kernel) and each attach point listed once.
fn program_probes(cli: &Cli, kernel: &flowtrace_kernel::KernelInfo) -> Result<String, crate::frontend::Reported> {
    let source = crate::frontend::read_source(cli).map_err(|msg| {
        eprintln!("flowtrace: error: {msg}");
        crate::frontend::Reported
    })?;
    let typed = crate::frontend::check(cli, &source, kernel)?;
    Ok(program_listing(kernel, kernel, &typed, cli.verbose))
}

fn program_listing(kernel: &dyn KernelTypes, details: &dyn Details, typed: &TypedProgram, verbose: bool) -> String {
    let mut seen = Vec::new();
    for probe in &typed.probes {
        let kind = &probe.attach.kind;
        let name = match kind.provider().target {
            Target::Nothing => continue,
            // bpftrace lists the unit, not the period: `interval:s:`.
            Target::Period => match probe.attach.display_name().rsplit_once(':') {
                Some((unit, _)) => format!("{unit}:"),
                None => probe.attach.display_name(),
            },
            _ => probe.attach.display_name(),
        };
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen.iter()
        .map(|name| match provider(name.split(':').next().unwrap_or("")).map(|p| p.target) {
            // Already one probe each (offsets and addresses are no globs to match again).
            Some(Target::UserFunction | Target::Usdt) => format!("{name}\n"),
            _ => listing(kernel, details, name, verbose),
        })
        .collect()
}

/// The lines `-l PATTERNS` prints, pattern by pattern: records for
/// `struct`/`union` patterns; else tracepoints first, then raw tracepoints,
/// then kernel functions, then periods; with `verbose`, each probe's
/// arguments indented under it.
fn listing(kernel: &dyn KernelTypes, details: &dyn Details, patterns: &str, verbose: bool) -> String {
    let mut out = String::new();
    for pattern in patterns.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if is_record_pattern(pattern) {
            out.push_str(&records(details, pattern, verbose));
            continue;
        }
        let (rows, rest, bare) = rows(pattern);
        let order = [
            Target::Tracepoint,
            Target::RawTracepoint,
            Target::KernelFunction,
            Target::Period,
            Target::PerfEvent,
            Target::UserFunction,
            Target::Usdt,
            Target::Iterator,
        ];
        for target in order {
            let providers: Vec<_> = rows.iter().filter(|r| r.target == target).collect();
            if providers.is_empty() {
                continue;
            }
            // Matched once for all providers of a target: `*` lists ~60k
            // kernel functions under each of four providers.
            let matched = targets(kernel, target, rest, bare);
            for row in providers {
                // software: and hardware: share a target but not a table.
                let own = (target == Target::PerfEvent).then(|| perf_events(row.kind, rest));
                for line in own.as_ref().unwrap_or(&matched) {
                    out.push_str(&format!("{}:{line}\n", row.name));
                    if verbose {
                        for arg in args(details, row, line) {
                            out.push_str(&format!("    {arg}\n"));
                        }
                    }
                }
            }
        }
    }
    out
}

/// `struct NAME` / `union NAME`: a search of BTF records, not probes.
fn is_record_pattern(pattern: &str) -> bool {
    pattern.starts_with("struct ") || pattern.starts_with("union ")
}

/// `-l 'struct sock*'`: the names; with `-v`, each definition after
/// `vmlinux: ` (the BTF it comes from, as today's bpftrace shows it).
fn records(details: &dyn Details, pattern: &str, verbose: bool) -> String {
    let mut out = String::new();
    for name in details.records(pattern) {
        match details.record_definition(&name).filter(|_| verbose) {
            Some(definition) => out.push_str(&format!("vmlinux: {definition}\n")),
            None => out.push_str(&format!("{name}\n")),
        }
    }
    out
}

/// What `-v` shows under one probe (`line` is what follows `provider:`).
fn args(details: &dyn Details, row: &Provider, line: &str) -> Vec<String> {
    use flowtrace_stdlib::ProbeKind as K;
    match row.kind {
        K::Tracepoint => line.split_once(':').map(|(c, n)| details.tracepoint_fields(c, n)).unwrap_or_default(),
        K::RawTracepoint => details.raw_tracepoint_args(line),
        K::Fentry => details.function_args(line, false, false),
        K::Fexit => details.function_args(line, true, false),
        // A kprobe reads registers: bpftrace lists them as arg0, arg1, ….
        K::Kprobe => details.function_args(line, false, true),
        // Only the return value is in reach at a kretprobe.
        K::Kretprobe => details.function_args(line, true, false).pop().into_iter().collect(),
        // Without debug info a user function's arguments have no names or types.
        K::Begin | K::End | K::Interval | K::Profile | K::Software | K::Hardware | K::Tc | K::Uprobe | K::Uretprobe | K::Usdt => Vec::new(),
        // The context's fields (`ctx.task`, …): the iterator function's
        // parameters after `meta`, as bpftrace lists them.
        K::Iter => details.function_args(&format!("bpf_iter_{line}"), false, false).into_iter().skip(1).collect(),
    }
}

/// The providers PATTERN lists, the glob after `provider:`, and whether the
/// pattern named no provider (bare). `*` alone, or a provider glob such as
/// `*:NAME` or `k*:NAME`, lists every provider whose name matches.
fn rows(pattern: &str) -> (Vec<&'static Provider>, &str, bool) {
    // User-space targets need a binary: listed only when the provider is named.
    let listable = |p: &&Provider| !matches!(p.target, Target::Nothing | Target::Interface | Target::UserFunction | Target::Usdt);
    match pattern.split_once(':') {
        _ if pattern == "*" => (PROVIDERS.iter().filter(listable).collect(), "*", false),
        Some(("*", rest)) => (PROVIDERS.iter().filter(|p| p.listed_by_default).collect(), rest, true),
        Some((name, rest)) if name.contains('*') => {
            let matching = |p: &&Provider| flowtrace_kernel::glob::glob_match(name, p.name);
            (PROVIDERS.iter().filter(listable).filter(matching).collect(), rest, false)
        }
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
        Target::Period => {
            let unit = rest.split(':').next().unwrap_or("");
            PERIOD_UNITS.iter().filter(|u| flowtrace_kernel::glob::glob_match(unit, u)).map(|u| format!("{u}:")).collect()
        }
        Target::UserFunction => user_functions(kernel, rest),
        Target::Usdt => usdt_probes(kernel, rest),
        Target::Iterator => flowtrace_lang::check::iter::kernel_iterators(kernel)
            .into_iter()
            .filter(|name| flowtrace_kernel::glob::glob_match(rest, name))
            .collect(),
        Target::Nothing | Target::Interface | Target::PerfEvent => Vec::new(),
    }
}

/// The events of `software:`/`hardware:` matching the glob before any
/// `:COUNT`, by canonical name, as today's bpftrace lists them (`cpu-clock:`).
fn perf_events(kind: flowtrace_stdlib::ProbeKind, rest: &str) -> Vec<String> {
    use flowtrace_lang::ast::perf_event;
    let table = match kind {
        flowtrace_stdlib::ProbeKind::Software => perf_event::SOFTWARE,
        flowtrace_stdlib::ProbeKind::Hardware => perf_event::HARDWARE,
        _ => return Vec::new(),
    };
    let glob = rest.split(':').next().unwrap_or("");
    table.iter().filter(|e| flowtrace_kernel::glob::glob_match(glob, e.name)).map(|e| format!("{}:", e.name)).collect()
}

/// `BINARY:GLOB` → `PATH:FUNCTION` for each function of the binary.
fn user_functions(kernel: &dyn KernelTypes, rest: &str) -> Vec<String> {
    let (binary, glob) = rest.split_once(':').unwrap_or((rest, "*"));
    let host = kernel.host();
    let found = host.user_binary(binary).and_then(|path| Ok((host.user_symbols(&path, glob, true)?, path)));
    match found {
        Ok((symbols, path)) => symbols.into_iter().map(|s| format!("{path}:{}", s.name)).collect(),
        Err(why) => {
            eprintln!("flowtrace: error: {why}");
            Vec::new()
        }
    }
}

/// `BINARY:[PROVIDER:]NAME` globs → `PATH:PROVIDER:NAME` for each USDT
/// probe (once per name, however many sites it has), sorted.
fn usdt_probes(kernel: &dyn KernelTypes, rest: &str) -> Vec<String> {
    let mut parts = rest.splitn(3, ':');
    let binary = parts.next().unwrap_or("");
    let (provider, name) = match (parts.next(), parts.next()) {
        (Some(p), Some(n)) => (p, n),
        (Some(n), None) => ("*", n),
        _ => ("*", "*"),
    };
    let host = kernel.host();
    let found = host.user_binary(binary).and_then(|path| Ok((host.usdt_probes(&path, provider, name)?, path)));
    match found {
        Ok((probes, path)) => {
            let mut lines: Vec<String> = probes.into_iter().map(|p| format!("{path}:{}:{}", p.provider, p.name)).collect();
            // Sorted, as bpftrace lists them (notes are in code order).
            lines.sort();
            lines.dedup();
            lines
        }
        Err(why) => {
            eprintln!("flowtrace: error: {why}");
            Vec::new()
        }
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

    impl Details for Fake {
        fn tracepoint_fields(&self, _: &str, name: &str) -> Vec<String> {
            vec![format!("int {name}_field"), "__data_loc char[] text".into()]
        }
        fn function_args(&self, func: &str, retval: bool, registers: bool) -> Vec<String> {
            let name = if registers { "arg0".to_string() } else { format!("{func}_sk") };
            let mut args = vec![format!("struct sock * {name}")];
            args.extend(retval.then(|| "int retval".to_string()));
            args
        }
        fn raw_tracepoint_args(&self, name: &str) -> Vec<String> {
            vec![format!("const struct sock * {name}_sk")]
        }
        fn records(&self, pattern: &str) -> Vec<String> {
            ["struct sock", "struct sock_common", "union u"].into_iter().filter(|r| glob(pattern, r)).map(str::to_string).collect()
        }
        fn record_definition(&self, record: &str) -> Option<String> {
            Some(format!("{record} {{\n\tint a;\n}};"))
        }
    }

    #[test]
    fn verbose_lists_arguments_under_each_probe() {
        assert_eq!(listing(&Fake, &Fake, "t:tcp:*", true), "tracepoint:tcp:tcp_probe\n    int tcp_probe_field\n    __data_loc char[] text\n");
        assert_eq!(listing(&Fake, &Fake, "fentry:tcp_close", true), "fentry:tcp_close\n    struct sock * tcp_close_sk\n");
        assert_eq!(listing(&Fake, &Fake, "fexit:tcp_close", true), "fexit:tcp_close\n    struct sock * tcp_close_sk\n    int retval\n");
        assert_eq!(listing(&Fake, &Fake, "kretprobe:tcp_close", true), "kretprobe:tcp_close\n    int retval\n");
        assert_eq!(listing(&Fake, &Fake, "kprobe:tcp_close", true), "kprobe:tcp_close\n    struct sock * arg0\n");
        assert_eq!(listing(&Fake, &Fake, "rt:tcp_probe", true), "rawtracepoint:tcp_probe\n    const struct sock * tcp_probe_sk\n");
        // Without -v the same patterns list names only.
        assert_eq!(listing(&Fake, &Fake, "fexit:tcp_close", false), "fexit:tcp_close\n");
    }

    #[test]
    fn records_and_comma_separated_patterns() {
        assert_eq!(listing(&Fake, &Fake, "struct sock*", false), "struct sock\nstruct sock_common\n");
        assert_eq!(listing(&Fake, &Fake, "union u", true), "vmlinux: union u {\n\tint a;\n};\n");
        assert_eq!(listing(&Fake, &Fake, "k:tcp_close, struct sock", false), "kprobe:tcp_close\nstruct sock\n");
    }

    #[test]
    fn star_lists_every_provider_and_provider_globs_match_names() {
        let all = listing(&Fake, &Fake, "*", false);
        for line in ["tracepoint:tcp:tcp_probe", "rawtracepoint:tcp_probe", "kprobe:tcp_close", "kretprobe:tcp_close", "fentry:tcp_close", "fexit:tcp_close", "interval:s:"] {
            assert!(all.lines().any(|l| l == line), "{line} missing from:\n{all}");
        }
        assert_eq!(listing(&Fake, &Fake, "f*:tcp_close", false), "fentry:tcp_close\nfexit:tcp_close\n");
    }

    #[test]
    fn every_alias_lists_under_the_canonical_name() {
        // kretprobe:, fexit: and their aliases listed nothing before the
        // provider table, though the parser accepts them.
        assert_eq!(listing(&Fake, &Fake, "kretprobe:tcp_s*", false), "kretprobe:tcp_sendmsg\n");
        assert_eq!(listing(&Fake, &Fake, "kr:tcp_s*", false), "kretprobe:tcp_sendmsg\n");
        assert_eq!(listing(&Fake, &Fake, "kfunc:tcp_c*", false), "fentry:tcp_close\n");
        assert_eq!(listing(&Fake, &Fake, "kretfunc:tcp_c*", false), "fexit:tcp_close\n");
        assert_eq!(listing(&Fake, &Fake, "k:tcp_close", false), "kprobe:tcp_close\n");
        assert_eq!(listing(&Fake, &Fake, "t:tcp:*", false), "tracepoint:tcp:tcp_probe\n");
    }

    #[test]
    fn raw_tracepoints_leave_out_syscall_events() {
        assert_eq!(listing(&Fake, &Fake, "rt:*", false), "rawtracepoint:tcp_probe\n");
        assert_eq!(listing(&Fake, &Fake, "tracepoint:*", false), "tracepoint:tcp:tcp_probe\ntracepoint:syscalls:sys_enter_tcp\n");
    }

    #[test]
    fn a_bare_pattern_lists_tracepoints_then_kprobes() {
        assert_eq!(listing(&Fake, &Fake, "tcp_*", false), "tracepoint:tcp:tcp_probe\nkprobe:tcp_sendmsg\nkprobe:tcp_close\n");
        assert_eq!(listing(&Fake, &Fake, "*:tcp_close", false), "kprobe:tcp_close\n");
        // Unknown providers list nothing; interval lists its units, as
        // today's bpftrace does.
        assert_eq!(listing(&Fake, &Fake, "interval:*", false), "interval:hz:\ninterval:us:\ninterval:ms:\ninterval:s:\n");
        assert_eq!(listing(&Fake, &Fake, "nosuch:*", false), "");
    }

    #[test]
    fn perf_event_providers_list_their_events_by_canonical_name() {
        assert_eq!(listing(&Fake, &Fake, "software:*faults", false).lines().count(), 5);
        assert_eq!(listing(&Fake, &Fake, "s:cpu-*", false), "software:cpu-clock:\nsoftware:cpu-migrations:\n");
        assert_eq!(listing(&Fake, &Fake, "hardware:cache-*", false), "hardware:cache-references:\nhardware:cache-misses:\n");
        assert_eq!(listing(&Fake, &Fake, "profile:*", false), "profile:hz:\nprofile:us:\nprofile:ms:\nprofile:s:\n");
    }
}
