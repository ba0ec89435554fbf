//! The `flowtrace` command: one-liners (`-e`), runbook scripts, listing, and
//! the interactive session.

mod cli;
mod frontend;
mod list;
mod repl;
mod run;
mod signals;

use clap::Parser;
use cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(pattern) = &cli.list {
        return list::run(&cli, pattern);
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
