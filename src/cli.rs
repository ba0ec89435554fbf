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
                  flowtrace examples/tcp-states.ft\n  flowtrace -l 'tracepoint:tcp:*'      flowtrace -lv 'struct sock'\n  \
                  flowtrace net --all-netns        (what is attached to the node's interfaces; see flowtrace net --help)"
)]
pub struct Cli {
    /// Program text to run.
    #[arg(short = 'e', value_name = "PROGRAM")]
    pub program: Option<String>,

    /// Script file to run, then its positional parameters ($1, $2, …).
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Program parameters: positional ($1, …), and `--name=VALUE` or
    /// `--name` for getopt() (after `--` with -e).
    #[arg(value_name = "ARGS", trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,

    /// Add DIR to the directories `#include "…"` searches (after the script's own).
    #[arg(short = 'I', value_name = "DIR")]
    pub include_dirs: Vec<PathBuf>,

    /// Include FILE before the script, as `#include "FILE"` would.
    #[arg(long = "include", value_name = "FILE")]
    pub pre_includes: Vec<String>,

    /// Run CMD and exit when it exits.
    #[arg(short = 'c', value_name = "CMD")]
    pub command: Option<String>,

    /// Stop after SECS seconds, printing maps as at exit.
    #[arg(long, value_name = "SECS", value_parser = parse_timeout)]
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

    /// List probes: those matching the pattern given as FILE (a glob, e.g.
    /// 'tracepoint:tcp:*', or 'struct NAME'), or those a program (-e, or a
    /// FILE that exists) would attach; everything when neither is given.
    /// With -v, each probe's arguments and each struct's members.
    #[arg(short = 'l', long = "list")]
    pub list: bool,

    /// Verbose: with -l, arguments and struct members; when running, what
    /// was compiled and loaded (programs, instructions, maps).
    #[arg(short = 'v')]
    pub verbose: bool,

    /// Quiet: no "Attaching N probes..." line; with --metrics, nothing on standard output (the exporter is the output).
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,

    /// Output buffering: line (default), full or none.
    #[arg(short = 'B', value_enum, default_value = "line", value_name = "MODE")]
    pub buffering: Buffering,

    /// Suppress warnings and notes about the program.
    #[arg(long, conflicts_with = "helper_warnings")]
    pub no_warnings: bool,

    /// Trace only process PID (a predicate on probes that run in a task),
    /// and stop when it exits.
    #[arg(short = 'p', long = "pid", value_name = "PID", conflicts_with = "command", value_parser = parse_pid)]
    pub pid: Option<u32>,

    /// Print what this kernel offers flowtrace (BTF, program and map types,
    /// helpers), then exit.
    #[arg(long)]
    pub info: bool,

    /// Warn when a probe read fails at run time, with the kernel's error
    /// (bpftrace's -k).
    #[arg(short = 'k', long = "warnings", id = "helper_warnings")]
    pub helper_warnings: bool,

    /// Maximum keys of a map without a `let` declaration.
    #[arg(long, value_name = "N", env = "FLOWTRACE_MAP_KEYS", default_value_t = DEFAULT_MAP_KEYS, value_parser = parse_map_keys)]
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

    /// Serve the maps as Prometheus metrics on ADDR (e.g. 127.0.0.1:9464) at /metrics, with /healthz;
    /// SIGHUP then reloads a script FILE (docs/metrics.md).
    #[arg(long, value_name = "ADDR", value_parser = parse_metrics_addr)]
    pub metrics: Option<String>,

    /// Series per map on /metrics at most; the largest values are kept.
    #[arg(long, value_name = "N", default_value_t = flowtrace_runtime::metrics::DEFAULT_MAX_SERIES, value_parser = parse_max_series)]
    pub metrics_max_series: usize,

    /// The kubelet's pod log directory, where `pod()` finds pod names (`<namespace>_<name>_<uid>` entries).
    #[arg(long, value_name = "DIR", env = "FLOWTRACE_POD_LOGS", default_value = "/var/log/pods")]
    pub pod_logs: PathBuf,

    /// Allow builtins that act on the system: system(), signal().
    #[arg(long = "unsafe")]
    pub unsafe_mode: bool,
}

/// `--metrics ADDR`: `HOST:PORT`, `[V6]:PORT` or `:PORT` (every address),
/// refused here, before anything loads, when it is none of those.
fn parse_metrics_addr(text: &str) -> Result<String, String> {
    let port = text.rsplit_once(':').map(|(host, port)| (host, port.parse::<u16>()));
    match port {
        Some((host, Ok(_))) if !host.contains(':') || (host.starts_with('[') && host.ends_with(']')) => Ok(text.to_string()),
        _ => Err(format!("'{text}' is not an address to listen on: HOST:PORT or :PORT (e.g. 127.0.0.1:9464)")),
    }
}

/// `--metrics-max-series N`: at least one series, at most what a map can hold.
fn parse_max_series(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n @ 1..) if n <= MAX_MAP_KEYS as usize => Ok(n),
        Ok(_) => Err(format!("a map shows 1 to {MAX_MAP_KEYS} series")),
        Err(_) => Err(format!("'{text}' is not a number of series")),
    }
}

/// `--map-keys` unless given; a script's `max_map_keys` replaces only this.
pub const DEFAULT_MAP_KEYS: u32 = 4096;

/// The longest `--timeout`: far beyond any trace, and far from where adding it
/// to a clock reading could overflow.
const MAX_TIMEOUT_SECS: f64 = 1e9;

/// `--timeout SECS`, refused here, before anything loads, unless it is a
/// finite number of seconds in range: NaN, infinities and huge values used to
/// reach the clock arithmetic after the probes were attached.
fn parse_timeout(text: &str) -> Result<f64, String> {
    let secs: f64 = text.trim().parse().map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if secs.is_nan() || secs < 0.0 {
        return Err(format!("'{text}' is not a number of seconds (0 or more)"));
    }
    if secs > MAX_TIMEOUT_SECS {
        return Err(format!("'{text}' is too long: at most {MAX_TIMEOUT_SECS:e} seconds"));
    }
    Ok(secs)
}

/// The largest `--map-keys`. The kernel refuses hash maps past 2^28 entries
/// (E2BIG), and long before that a map of wide keys costs gigabytes of kernel
/// memory and a long wait while exit prints every key.
const MAX_MAP_KEYS: u32 = 1 << 24;

/// `--map-keys N`, checked here so that an impossible size is an error with
/// a way out rather than the errno of map creation.
fn parse_map_keys(text: &str) -> Result<u32, String> {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    let keys = text.parse::<u64>().ok().filter(|_| digits);
    match keys {
        Some(n @ 1..) if n <= u64::from(MAX_MAP_KEYS) => Ok(n as u32),
        _ if digits => Err(format!(
            "a map holds 1 to {MAX_MAP_KEYS} keys; to follow more flows than fit, \
             declare the map 'let @m = lruhash(N);', which evicts the oldest keys"
        )),
        _ => Err(format!("'{text}' is not a number of keys")),
    }
}

/// `-p PID`: a process id, which must name a running process (bpftrace
/// refuses one that does not exist rather than wait for nothing).
fn parse_pid(text: &str) -> Result<u32, String> {
    let pid: u32 = text.trim().parse().ok().filter(|&p| p > 0 && p <= i32::MAX as u32).ok_or_else(|| format!("'{text}' is not a process id"))?;
    if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
        return Err(format!("no process with PID {pid}"));
    }
    Ok(pid)
}

/// `-B`: how output is buffered before it reaches stdout or `-o FILE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Buffering {
    /// Written at each newline (bpftrace's default).
    Line,
    /// Written when the buffer fills, and at exit.
    Full,
    /// Every print is written at once.
    None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_addresses_need_a_port() {
        for good in ["127.0.0.1:9464", ":9464", "[::1]:9464", "localhost:0", "0.0.0.0:65535"] {
            assert_eq!(parse_metrics_addr(good).as_deref(), Ok(good));
        }
        for bad in ["nonsense", "9464", "127.0.0.1", "127.0.0.1:65536", "::1:9464", "host:port"] {
            assert!(parse_metrics_addr(bad).unwrap_err().contains("HOST:PORT"), "{bad}");
        }
        assert_eq!(parse_max_series("1"), Ok(1));
        assert!(parse_max_series("0").is_err());
    }

    #[test]
    fn timeouts_are_finite_seconds_in_range() {
        assert_eq!(parse_timeout("1.5"), Ok(1.5));
        assert_eq!(parse_timeout("0"), Ok(0.0));
        for bad in ["nan", "NaN", "inf", "-inf", "1e300", "18446744073709551616", "-1", "", "5s"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn map_keys_stay_within_what_a_kernel_map_holds() {
        assert_eq!(parse_map_keys("4096"), Ok(4096));
        assert_eq!(parse_map_keys("16777216"), Ok(1 << 24));
        for bad in ["0", "16777217", "4294967295", "99999999999999999999999"] {
            assert!(parse_map_keys(bad).unwrap_err().contains("1 to 16777216 keys"), "{bad}");
        }
        assert!(parse_map_keys("-1").unwrap_err().contains("not a number"));
    }
}
