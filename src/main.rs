//! The `flowtrace` command: one-liners (`-e`), runbook scripts, listing, and
//! the interactive session.

mod cli;
mod command;
mod frontend;
mod info;
mod list;
mod metrics;
mod net;
mod output;
mod pid_filter;
mod repl;
mod run;
mod signals;
mod stdout;
mod verbose;

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
    flowtrace_runtime::pods::configure(flowtrace_runtime::pods::Config { pod_log_dir: cli.pod_logs.clone(), ..Default::default() });
    if cli.list {
        return list::run(&cli);
    }
    if cli.info {
        return info::run(&cli);
    }
    if cli.cleanup_stale && cli.program.is_none() && cli.file.is_none() {
        return cleanup_stale_filters();
    }
    if cli.interactive || (cli.program.is_none() && cli.file.is_none()) {
        return repl::run(&cli);
    }
    if let Some(Err(msg)) = cli.command.as_deref().map(command::check) {
        eprintln!("flowtrace: error: {msg}");
        return ExitCode::from(1);
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
    let mut typed = match frontend::check(&cli, &source, &kernel) {
        Ok(t) => t,
        Err(frontend::Reported) => return ExitCode::from(1),
    };
    if typed.probes.is_empty() && !cli.dry_run && cli.dump.is_empty() {
        // bpftrace refuses this too; otherwise the run would wait forever.
        eprintln!("flowtrace: error: the program has no probes: nothing to attach");
        return ExitCode::from(1);
    }
    if cli.dry_run || (!cli.dump.is_empty() && cli.dump.iter().all(|d| matches!(d, cli::DumpStage::Ast | cli::DumpStage::Types))) {
        return ExitCode::SUCCESS;
    }
    if let Some(pid) = cli.pid {
        // An iterator runs in flowtrace's own task (its `pid` is ours), so
        // the usual `pid == PID` predicate would drop every object.
        // Only task iterators can be restricted to a process.
        if let Some(probe) = typed.probes.iter().find(|p| p.attach.kind.iterator().is_some() && !p.attach.kind.iterates_tasks()) {
            eprintln!(
                "flowtrace: error: -p PID does not apply to '{}': only the task iterators (task, task_file, task_vma) \
                 can be restricted to a process",
                probe.attach.raw
            );
            return ExitCode::from(1);
        }
        pid_filter::apply(&mut typed, pid);
    }
    let compiled = match run::compile_program(&cli, &source, &typed) {
        Ok(c) => c,
        Err(frontend::Reported) => return ExitCode::from(1),
    };
    if !cli.dump.is_empty() {
        return ExitCode::SUCCESS;
    }
    let program = run::Program { source: &source, typed: &typed, compiled: &compiled, kernel: &kernel };
    match run::run(&cli, &program) {
        Ok(status) => ExitCode::from(status),
        Err(frontend::Reported) => ExitCode::from(1),
    }
}

/// `flowtrace --cleanup-stale` alone: remove tc filters left by a flowtrace
/// that was killed (SIGKILL) on the clsact path, and say what was removed.
fn cleanup_stale_filters() -> ExitCode {
    let text = match flowtrace_runtime::tc::cleanup_stale() {
        Ok(removed) if removed.is_empty() => "no stale flowtrace tc filters found\n".to_string(),
        Ok(removed) => removed.iter().map(|f| format!("removed stale filter {f}\n")).collect(),
        Err(e) => {
            eprintln!("flowtrace: error: cannot remove stale tc filters: {e}");
            return ExitCode::from(1);
        }
    };
    match stdout::print(&text) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failed) => failed.report(),
    }
}
