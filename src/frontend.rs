//! Source text → checked program, printing diagnostics against the source.

use crate::cli::{Cli, DumpStage};
use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_lang::diag::render_all;
use flowtrace_lang::typed::TypedProgram;
use flowtrace_lang::span::IncludeSetup;
use flowtrace_lang::{CheckOptions, Source};
use std::io::Write;

/// Why the front end stopped: already reported to stderr.
pub struct Reported;

pub fn read_source(cli: &Cli) -> Result<Source, String> {
    let source = read_text(cli)?;
    // `#include "…"` looks next to the script first; for `-e` and standard
    // input, in the current directory.
    let script_dir = match (&cli.program, &cli.file) {
        (None, Some(path)) if path.as_os_str() != "-" => path.parent().map(|p| p.to_path_buf()),
        _ => None,
    };
    let includes = IncludeSetup { script_dir, dirs: cli.include_dirs.clone(), pre_includes: cli.pre_includes.clone() };
    Ok(source.with_includes(includes))
}

fn read_text(cli: &Cli) -> Result<Source, String> {
    match (&cli.program, &cli.file) {
        (Some(text), _) => Ok(Source::new("-e", text.clone())),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            Ok(Source::new("<stdin>", text))
        }
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|text| Source::new(path.display().to_string(), text))
            .map_err(|e| format!("cannot read {}: {e}", path.display())),
        (None, None) => Err("no program given: use -e PROGRAM or a script FILE".into()),
    }
}

pub fn open_kernel(cli: &Cli) -> Result<KernelInfo, String> {
    match &cli.btf {
        Some(path) => KernelInfo::from_btf_file(path),
        None => KernelInfo::open_default(),
    }
    .map_err(|e| e.to_string())
}

/// Program parameters: with `-e`, every trailing word; with a FILE, the
/// words after it. Those starting `--` are named (`--name=VALUE`, `--name`),
/// for `getopt()`; the rest are positional (`$1`, …), as in bpftrace.
fn program_params(cli: &Cli) -> Vec<String> {
    let mut params = Vec::new();
    if cli.program.is_some() {
        if let Some(file) = &cli.file {
            params.push(file.display().to_string());
        }
    }
    // A `--` clap leaves in place only separates, as in bpftrace.
    params.extend(cli.args.iter().filter(|a| *a != "--").cloned());
    params
}

/// The positional parameters (`$1`, …).
pub fn positional_params(cli: &Cli) -> Vec<String> {
    program_params(cli).into_iter().filter(|p| !p.starts_with("--")).collect()
}

/// The named parameters: `--aa=20` → ("aa", Some("20")), `--bb` → ("bb", None).
pub fn named_params(cli: &Cli) -> Vec<(String, Option<String>)> {
    program_params(cli)
        .iter()
        .filter_map(|p| p.strip_prefix("--"))
        .map(|named| match named.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (named.to_string(), None),
        })
        .collect()
}

pub fn check(cli: &Cli, source: &Source, kernel: &KernelInfo) -> Result<TypedProgram, Reported> {
    let stderr = &mut std::io::stderr();
    // A bad BPFTRACE_* value has no place in the source to point at.
    let env_config = flowtrace_lang::config::env_vars();
    let (_, _, env_errors) = flowtrace_lang::config::resolve(None, &env_config);
    if !env_errors.is_empty() {
        for e in env_errors {
            let _ = writeln!(stderr, "flowtrace: error: {e}");
        }
        return Err(Reported);
    }
    let ast = match flowtrace_lang::parse(source) {
        Ok(ast) => ast,
        Err(diags) => {
            let _ = write!(stderr, "{}", render_all(&diags, source));
            return Err(Reported);
        }
    };
    if cli.dump.contains(&DumpStage::Ast) {
        crate::stdout::print_or_report(&flowtrace_lang::dump_ast::dump_ast(&ast))?;
    }
    let options = CheckOptions {
        params: positional_params(cli),
        env_config,
        unsafe_mode: cli.unsafe_mode,
        named: named_params(cli),
        pid: cli.pid,
        ..CheckOptions::default()
    };
    match flowtrace_lang::check(&ast, kernel, &options) {
        Ok(typed) => {
            if !typed.warnings.is_empty() && !cli.no_warnings {
                let _ = write!(stderr, "{}", render_all(&typed.warnings, source));
            }
            if cli.dump.contains(&DumpStage::Types) {
                crate::stdout::print_or_report(&flowtrace_lang::dump_types::dump_types(&typed))?;
            }
            Ok(typed)
        }
        Err(diags) => {
            let _ = write!(stderr, "{}", render_all(&diags, source));
            Err(Reported)
        }
    }
}
