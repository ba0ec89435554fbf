//! Front-end time for the seed scripts: open the kernel's BTF, parse, check.
//!
//! This is a plain timing harness (`harness = false`), not criterion: what we
//! want is one figure per script (the median of a fixed number of runs) to set
//! against a 10 ms budget, and criterion's ~40 extra crates would roughly double
//! the bench's build time on a 2-core machine for statistics we do not use.
//!
//! It prints figures and never fails on a slow run: budgets are for people to
//! read, not for CI to flake on. `--tsv` adds machine-readable lines
//! (`frontend\tSCRIPT\tTOTAL\tBTF\tPARSE\tCHECK`, milliseconds) that
//! `benches/bench.py` collects into the summary table.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_lang::{CheckOptions, Source};

const SEEDS: [&str; 3] = ["seed_flows.ft", "seed_ratio.ft", "seed_retransmits.ft"];
const WARMUP: usize = 3;
const RUNS: usize = 30;

/// One run's phases.
struct Phases {
    btf: Duration,
    parse: Duration,
    check: Duration,
}

fn main() {
    let tsv = std::env::args().any(|a| a == "--tsv");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/corpus/valid");
    println!("front end (BTF open + parse + check), median of {RUNS} runs after {WARMUP} warm-up runs");
    println!("{:<22} {:>9} {:>9} {:>9} {:>9} {:>9}", "script", "total ms", "min ms", "btf ms", "parse ms", "check ms");
    for name in SEEDS {
        match bench_script(&corpus.join(name)) {
            Ok(runs) => report(name, &runs, tsv),
            Err(msg) => println!("{name:<22} error: {msg}"),
        }
    }
}

fn bench_script(path: &PathBuf) -> Result<Vec<Phases>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let source = Source::new(path.display().to_string(), text);
    let mut runs = Vec::with_capacity(RUNS);
    for i in 0..WARMUP + RUNS {
        let phases = run_once(&source)?;
        if i >= WARMUP {
            runs.push(phases);
        }
    }
    Ok(runs)
}

/// What the binary does before code generation, through the public APIs.
fn run_once(source: &Source) -> Result<Phases, String> {
    let start = Instant::now();
    let kernel = KernelInfo::open_default().map_err(|e| format!("BTF: {e}"))?;
    let opened = Instant::now();
    let ast = flowtrace_lang::parse(source).map_err(|d| first_error("parse", &d))?;
    let parsed = Instant::now();
    let typed = flowtrace_lang::check(&ast, &kernel, &CheckOptions::default())
        .map_err(|d| first_error("check", &d))?;
    let checked = Instant::now();
    // Keep the result alive until the clock has stopped, so dropping it
    // (which the binary also does, but later) is not part of "check".
    std::hint::black_box(&typed);
    Ok(Phases { btf: opened - start, parse: parsed - opened, check: checked - parsed })
}

fn first_error(stage: &str, diags: &[flowtrace_lang::Diagnostic]) -> String {
    let first = diags.first().map_or("", |d| d.message.as_str());
    format!("{stage}: {} diagnostics, first: {first}", diags.len())
}

fn report(name: &str, runs: &[Phases], tsv: bool) {
    let total = median(runs.iter().map(|p| p.btf + p.parse + p.check));
    let min = runs.iter().map(|p| p.btf + p.parse + p.check).min().unwrap_or_default();
    let btf = median(runs.iter().map(|p| p.btf));
    let parse = median(runs.iter().map(|p| p.parse));
    let check = median(runs.iter().map(|p| p.check));
    println!(
        "{name:<22} {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3}",
        ms(total), ms(min), ms(btf), ms(parse), ms(check)
    );
    if tsv {
        println!("frontend\t{name}\t{:.3}\t{:.3}\t{:.3}\t{:.3}", ms(total), ms(btf), ms(parse), ms(check));
    }
}

fn median(values: impl Iterator<Item = Duration>) -> Duration {
    let mut v: Vec<Duration> = values.collect();
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
