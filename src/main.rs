//! The `flowtrace` command: one-liners (`-e`), runbook scripts, listing, and
//! the interactive session.

mod cli;
mod frontend;
mod list;
mod net;
mod repl;
mod run;
mod signals;

use clap::Parser;
use cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `net` is a subcommand only as the very first word: a script file
    // named `net` still runs as `flowtrace ./net`.
    if std::env::args_os().nth(1).is_some_and(|a| a == "net") {
        let rest: Vec<String> = std::env::args_os().skip(2).map(|a| a.to_string_lossy().into_owned()).collect();
        return net::main(&rest);
    }
    let cli = Cli::parse();
    if let Some(pattern) = &cli.list {
        return list::run(&cli, pattern);
    }
    if cli.cleanup_stale && cli.program.is_none() && cli.file.is_none() {
        return cleanup_stale_filters();
    }
    if cli.interactive || (cli.program.is_none() && cli.file.is_none()) {
        return repl::run(&cli);
    }
    let source = match frontend::read_source(&cli) {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("flowtrace: error: {msg}");
            return ExitCode::from(1);
        }
    };
    let kernel = match frontend::open_kernel(&cli) {
        Ok(k) => k,
        Err(msg) => {
            eprintln!("flowtrace: error: {msg}");
            return ExitCode::from(1);
        }
    };
    let typed = match frontend::check(&cli, &source, &kernel) {
        Ok(t) => t,
        Err(frontend::Reported) => return ExitCode::from(1),
    };
    if cli.dry_run || (!cli.dump.is_empty() && cli.dump.iter().all(|d| matches!(d, cli::DumpStage::Ast | cli::DumpStage::Types))) {
        return ExitCode::SUCCESS;
    }
    let compiled = match run::compile_program(&cli, &source, &typed) {
        Ok(c) => c,
        Err(frontend::Reported) => return ExitCode::from(1),
    };
    if !cli.dump.is_empty() {
        return ExitCode::SUCCESS;
    }
    match run::run(&cli, &source, &compiled) {
        Ok(()) => ExitCode::SUCCESS,
        Err(frontend::Reported) => ExitCode::from(1),
    }
}

/// `flowtrace --cleanup-stale` alone: remove tc filters left by a flowtrace
/// that was killed (SIGKILL) on the clsact path, and say what was removed.
fn cleanup_stale_filters() -> ExitCode {
    match flowtrace_runtime::tc::cleanup_stale() {
        Ok(removed) if removed.is_empty() => {
            println!("no stale flowtrace tc filters found");
            ExitCode::SUCCESS
        }
        Ok(removed) => {
            for f in &removed {
                println!("removed stale filter {f}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("flowtrace: error: cannot remove stale tc filters: {e}");
            ExitCode::from(1)
        }
    }
}
