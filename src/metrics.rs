//! `--metrics ADDR`: a script as a Prometheus exporter, and SIGHUP reload of
//! its file (docs/metrics.md). The runtime's [`Exporter`] serves; this file
//! decides what it serves and when the script changes.

use crate::cli::Cli;
use crate::frontend::{self, Reported};
use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_lang::typed::TypedProgram;
use flowtrace_runtime::events::EventSink;
use flowtrace_runtime::metrics::plan::{plan, MapPlan};
use flowtrace_runtime::metrics::{Exporter, Options};
use flowtrace_runtime::session::AddError;
use flowtrace_runtime::Session;
use std::path::PathBuf;

pub struct Metrics {
    exporter: Exporter,
    plans: Vec<MapPlan>,
    /// The script file SIGHUP reloads (`None` for `-e` and stdin).
    file: Option<PathBuf>,
}

impl Metrics {
    /// Starts serving (nothing yet: [`Metrics::publish`] once probes are
    /// attached) if `--metrics` was given.
    pub fn start(cli: &Cli) -> Result<Option<Metrics>, String> {
        let Some(addr) = &cli.metrics else { return Ok(None) };
        let options = Options { max_series: cli.metrics_max_series, version: env!("CARGO_PKG_VERSION").to_string() };
        let exporter = Exporter::start(addr, options).map_err(|e| e.to_string())?;
        let file = cli.file.clone().filter(|f| cli.program.is_none() && f.as_os_str() != "-");
        Ok(Some(Metrics { exporter, plans: Vec::new(), file }))
    }

    /// The program whose maps are served (the next [`Metrics::publish`]
    /// uses it): a script, or everything typed in the interactive session.
    pub fn set_program(&mut self, source: &str, typed: &TypedProgram) {
        self.plans = plans(source, typed);
    }

    /// Whether SIGHUP reloads (a script file) rather than ending the script.
    pub fn reloads(&self) -> bool {
        self.file.is_some()
    }

    /// What scrapes read from now on: the session's maps and programs.
    pub fn publish<S: EventSink>(&self, session: &Session<S>) {
        match session.metrics_target(self.plans.clone()) {
            Ok(target) => self.exporter.publish(Some(target)),
            Err(e) => eprintln!("flowtrace: metrics: {e}"),
        }
    }

    /// Probes are being detached: `/healthz` fails, `/metrics` shows only flowtrace's own series.
    pub fn stop(&self) {
        self.exporter.publish(None);
    }

    /// SIGHUP: the file again, checked and compiled; if that works its
    /// programs replace the running ones (new attached first), else the
    /// old script runs on and the failure is logged and counted.
    pub fn reload<S: EventSink>(&mut self, cli: &Cli, kernel: &KernelInfo, session: &mut Session<S>) {
        let Some(path) = &self.file else { return };
        let path = path.display().to_string();
        eprintln!("flowtrace: SIGHUP: reloading {path}");
        let loaded = frontend::read_source(cli).map_err(|msg| eprintln!("flowtrace: error: {msg}")).ok();
        let checked = loaded.and_then(|source| {
            let typed = frontend::check(cli, &source, kernel).ok()?;
            let compiled = crate::run::compile_program(cli, &source, &typed).ok()?;
            Some((source, typed, compiled))
        });
        let Some((source, typed, compiled)) = checked else {
            return self.failed(&path, "it does not compile (see above)");
        };
        if typed.probes.is_empty() {
            return self.failed(&path, "it has no probes");
        }
        match session.replace(&compiled) {
            Ok(replaced) => {
                for c in replaced.restarted {
                    eprintln!("flowtrace: reload: @{} restarts from empty: {}", c.map, c.why);
                }
                self.set_program(&source.text, &typed);
                self.publish(session);
                self.exporter.count_reload(true);
                eprintln!("flowtrace: reloaded {path} ({} unchanged probe(s) kept running)", replaced.kept);
            }
            Err(AddError::Runtime(e)) => self.failed(&path, &e.to_string()),
            Err(AddError::Conflict(c)) => self.failed(&path, &c.why),
        }
        for w in session.take_warnings() {
            eprintln!("flowtrace: warning: {w}");
        }
    }

    fn failed(&self, path: &str, why: &str) {
        eprintln!("flowtrace: reload of {path} failed, the running script is kept: {why}");
        self.exporter.count_reload(false);
    }
}

/// The metric plan of a checked program; directive problems are warnings.
fn plans(source: &str, typed: &TypedProgram) -> Vec<MapPlan> {
    let (plans, warnings) = plan(typed, source);
    for w in warnings {
        eprintln!("flowtrace: warning: {w}");
    }
    plans
}

/// `Reported` after printing `msg` as an error.
pub fn report(msg: String) -> Reported {
    eprintln!("flowtrace: error: {msg}");
    Reported
}
