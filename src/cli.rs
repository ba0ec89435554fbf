//! Command-line options (bpftrace's flags where bpftrace has one).

use clap::{Parser, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "flowtrace",
    version,
    about = "bpftrace-compatible probe language for network flows, with its own eBPF code generator",
    after_help = "With no program, flowtrace starts an interactive session (REPL).\n\
                  Examples:\n  flowtrace -e 'tracepoint:sock:inet_sock_set_state { @[args.newstate] = count(); }'\n  \
                  flowtrace examples/tcp-states.ft\n  flowtrace -l 'tracepoint:tcp:*'\n  \
                  flowtrace net --all-netns        (what is attached to the node's interfaces; see flowtrace net --help)"
)]
pub struct Cli {
    /// Program text to run.
    #[arg(short = 'e', value_name = "PROGRAM")]
    pub program: Option<String>,

    /// Script file to run, then its positional parameters ($1, $2, …).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    #[arg(value_name = "ARGS", trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,

    /// Run CMD and exit when it exits.
    #[arg(short = 'c', value_name = "CMD")]
    pub command: Option<String>,

    /// Stop after SECS seconds, printing maps as at exit.
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,

    /// Output format.
    #[arg(short = 'f', value_enum, default_value = "text")]
    pub format: OutputFormat,

    /// Write output to FILE instead of standard output.
    #[arg(short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Dump a compilation stage instead of (or before) running: ast, types, ir, bpf.
    #[arg(short = 'd', value_enum, value_name = "STAGE")]
    pub dump: Vec<DumpStage>,

    /// Parse and type-check only; print diagnostics.
    #[arg(long)]
    pub dry_run: bool,

    /// List tracepoints and kernel functions matching PATTERN (a glob, e.g. 'tracepoint:tcp:*').
    #[arg(short = 'l', value_name = "PATTERN", num_args = 0..=1, default_missing_value = "*")]
    pub list: Option<String>,

    /// Maximum keys of a map without a `let` declaration.
    #[arg(long, value_name = "N", env = "FLOWTRACE_MAP_KEYS", default_value_t = 4096)]
    pub map_keys: u32,

    /// Kernel BTF file to resolve types with (default: /sys/kernel/btf/vmlinux).
    #[arg(long, value_name = "FILE", env = "FLOWTRACE_BTF")]
    pub btf: Option<PathBuf>,

    /// Start the interactive session even when other options are given.
    #[arg(short = 'i')]
    pub interactive: bool,

    /// Where flowtrace's tc programs go in the TCX chain.
    #[arg(long, value_enum, default_value = "first")]
    pub tc_order: TcOrder,

    /// Remove tc filters left by a flowtrace that was killed (SIGKILL) before it could clean up.
    #[arg(long)]
    pub cleanup_stale: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DumpStage {
    Ast,
    Types,
    Ir,
    Bpf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TcOrder {
    First,
    Last,
}
