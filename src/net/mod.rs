//! `flowtrace net [IFACE-GLOB]`: what is attached to this node's interfaces,
//! what looks stale, how full the maps are. The inspection and the judgement
//! live in `flowtrace_runtime::inspect`; this module parses the subcommand's
//! arguments and renders the report as text or JSON.
//!
//! Exit status: 0 no findings, 2 findings, 1 error (also for bad
//! arguments, so a health check can tell "unhealthy" from "could not look").

mod json;
mod text;

use clap::Parser;
use flowtrace_runtime::inspect::{self, CountBudget, Finding, NodeReport, Options};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "flowtrace net",
    about = "List the eBPF programs on this node's interfaces (XDP, tc clsact, TCX, netkit), their maps and how full they are, with findings",
    after_help = "Exit status: 0 no findings, 2 findings, 1 error.\n\
                  A script file named `net` runs as `flowtrace ./net`."
)]
pub struct NetCli {
    /// Only interfaces whose name matches this glob (e.g. 'lxc*'); shown even with nothing attached.
    #[arg(value_name = "IFACE-GLOB")]
    pub interfaces: Option<String>,

    /// Walk every network namespace: named ones (/run/netns) and those processes hold.
    #[arg(long)]
    pub all_netns: bool,

    /// Output format.
    #[arg(short = 'f', value_enum, default_value = "text")]
    pub format: crate::cli::OutputFormat,

    /// Time budget for counting one map's entries, in milliseconds (all maps: 4x that).
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub count_ms: u64,
}

impl NetCli {
    pub fn options(&self) -> Options {
        let per_map = Duration::from_millis(self.count_ms);
        Options { all_netns: self.all_netns, interfaces: self.interfaces.clone(), count: CountBudget { per_map, total: per_map * 4 } }
    }
}

/// `flowtrace net …`; `args` are the words after `net`.
pub fn main(args: &[String]) -> ExitCode {
    let argv = std::iter::once("flowtrace net".to_string()).chain(args.iter().cloned());
    let cli = match NetCli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // clap's own code for usage errors is 2, which here means "findings".
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let report = match inspect::inspect(&cli.options()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("flowtrace: error: {e}");
            return ExitCode::from(1);
        }
    };
    let findings = inspect::findings(&report);
    let out = match cli.format {
        crate::cli::OutputFormat::Text => text::render(&report, &findings, now_unix()),
        crate::cli::OutputFormat::Json => json::render(&report, &findings),
    };
    print!("{out}");
    for e in &report.errors {
        eprintln!("flowtrace: warning: {e}");
    }
    ExitCode::from(if findings.is_empty() { 0 } else { 2 })
}

/// `.net [IFACE-GLOB] [--all-netns]` in the interactive session: the text
/// report, or the error.
pub fn repl_report(args: &[String]) -> Result<String, String> {
    let argv = std::iter::once("flowtrace net".to_string()).chain(args.iter().cloned());
    let cli = NetCli::try_parse_from(argv).map_err(|e| e.to_string().trim_end().to_string())?;
    let report: NodeReport = inspect::inspect(&cli.options()).map_err(|e| e.to_string())?;
    let findings: Vec<Finding> = inspect::findings(&report);
    Ok(text::render(&report, &findings, now_unix()))
}

fn now_unix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
