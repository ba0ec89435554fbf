//! Running a checked program: compile, load, attach, print events as they
//! come, and on exit (probe `exit()`, `-c` command ended, `--timeout`, SIGINT,
//! SIGTERM) run END, print every map and detach everything.

use crate::cli::{Buffering, Cli, DumpStage};
use crate::frontend::Reported;
use crate::metrics::Metrics;
use crate::signals;
use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_codegen::compile::{compile, dump_ir, CompileOptions};
use flowtrace_codegen::object::CompiledProgram;
use flowtrace_lang::diag::{render_all, Diagnostic};
use flowtrace_lang::config::Settings;
use flowtrace_lang::typed::TypedProgram;
use flowtrace_lang::Source;
use flowtrace_runtime::output::{OutputFormat, Printer};
use flowtrace_runtime::session::{compile_for_kernel, render_runtime_error, AddError, Run};
use flowtrace_runtime::tc::{TcOptions, TcOrder};
use flowtrace_runtime::{Flow, RuntimeError, Session};
use std::io::Write;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub fn compile_program(cli: &Cli, source: &Source, typed: &TypedProgram) -> Result<CompiledProgram, Reported> {
    let options = compile_options(cli, &typed.settings);
    let render = |diags: &[Diagnostic]| render_all(diags, source);
    if cli.dump.contains(&DumpStage::Ir) {
        match dump_ir(typed, &options) {
            Ok(text) => crate::stdout::print_or_report(&text)?,
            Err(diags) => return Err(report(render(&diags))),
        }
    }
    let compiled = if cli.dump.is_empty() {
        // kprobe/fentry probes on this kernel: kept, rebuilt as fentry/fexit
        // (after a one-line notice), or refused with a tracepoint to use.
        let for_kernel = compile_for_kernel(typed, &options).map_err(|f| report(f.render(&render)))?;
        if let Some(notice) = &for_kernel.notice {
            eprintln!("{notice}");
        }
        for warning in &for_kernel.warnings {
            eprintln!("{warning}");
        }
        // Probes this kernel cannot run, left out by `missing_probes`: not
        // loaded at all (nothing refers to a program by its position).
        let runnable = for_kernel.runnable();
        let mut program = for_kernel.program;
        if runnable.len() < program.programs.len() {
            program.programs = runnable.into_iter().map(|i| program.programs[i].clone()).collect();
        }
        program
    } else {
        compile(typed, &options).map_err(|diags| report(render(&diags)))?
    };
    if cli.verbose {
        eprint!("{}", crate::verbose::compiled(&compiled));
    }
    if cli.dump.contains(&DumpStage::Bpf) {
        for p in &compiled.programs {
            let text = format!("{} ({}):\n{}", p.attach.raw, p.name, flowtrace_codegen::disasm::disassemble(&p.insns, &p.comments));
            crate::stdout::print_or_report(&text)?;
        }
    }
    Ok(compiled)
}

/// How many per-CPU copies an aggregation read in a probe adds up; 0 (the
/// code generator's own bound) if sysfs does not say.
pub fn possible_cpus() -> u32 {
    flowtrace_runtime::sys::possible_cpus().map_or(0, |n| u32::try_from(n).unwrap_or(0))
}

/// `--map-keys` (or FLOWTRACE_MAP_KEYS) is the most explicit; otherwise the
/// script's `max_map_keys` (or BPFTRACE_MAX_MAP_KEYS) applies.
fn compile_options(cli: &Cli, settings: &Settings) -> CompileOptions {
    let defaults = CompileOptions::default();
    let map_keys = match settings.max_map_keys {
        Some(keys) if cli.map_keys == crate::cli::DEFAULT_MAP_KEYS => keys,
        _ => cli.map_keys,
    };
    // bpftrace counts the ring buffer in 4 KiB pages (its docs presume them).
    let ringbuf_bytes = settings.perf_rb_pages.map_or(defaults.ringbuf_bytes, |pages| pages * 4096);
    CompileOptions {
        map_keys,
        ringbuf_bytes,
        start_ns: monotonic_ns(),
        possible_cpus: possible_cpus(),
        wall_offset_ns: flowtrace_runtime::output::time::wall_minus_boot_ns(),
        helper_warnings: cli.helper_warnings,
        bpf_loop: flowtrace_runtime::capabilities::bpf_loop_available(),
        // FLOWTRACE_NO_FUSE=1: every map its own BPF map, to compare output.
        fuse: std::env::var_os("FLOWTRACE_NO_FUSE").is_none_or(|v| v.is_empty() || v == "0"),
        ..defaults
    }
}

fn report(text: String) -> Reported {
    eprint!("{text}");
    Reported
}

/// `bpf_ktime_get_ns()`'s clock, so `elapsed` counts from now.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Output destination: standard output or `-o FILE`, never holding up a
/// stop signal ([`crate::output`]).
fn open_output(cli: &Cli) -> Result<Box<dyn Write>, String> {
    // -q with --metrics: the exporter is the output, nothing is printed.
    if cli.quiet && cli.metrics.is_some() {
        return Ok(Box::new(std::io::sink()));
    }
    let out = crate::output::Output::open(cli.output.as_deref())?;
    Ok(match cli.buffering {
        // The printer flushes after every print, so each one is written
        // when made: what `none` asks, and `line` for newline-ended prints.
        Buffering::Line | Buffering::None => Box::new(out),
        Buffering::Full => Box::new(crate::output::FullBuffer::new(out)),
    })
}

/// Why tracing stopped.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    ExitCalled,
    Signal,
    Timeout,
    CommandEnded,
    /// `-p PID`'s process exited.
    TracedExited,
    /// An `iter:` probe went over every object (the script's whole run).
    IterationDone,
}

/// A script is a session of one entry: what the interactive session runs too.
type Script = Session<Printer<Box<dyn Write>>>;

/// The program as checked and compiled, and the kernel it was checked
/// against (a reload checks the file again).
pub struct Program<'a> {
    pub source: &'a Source,
    pub typed: &'a TypedProgram,
    pub compiled: &'a CompiledProgram,
    pub kernel: &'a KernelInfo,
}

/// Runs the script; `Ok` holds the exit status `exit(code)` asked for (0 otherwise).
pub fn run(cli: &Cli, program: &Program<'_>) -> Result<u8, Reported> {
    let (source, compiled) = (program.source, program.compiled);
    // `print_maps_on_exit = false` in the script's config: nothing is printed at exit.
    let print_maps = program.typed.settings.print_maps_on_exit.unwrap_or(true);
    let out = open_output(cli).map_err(|msg| report(format!("flowtrace: error: {msg}\n")))?;
    let mut printer = Printer::new(out, output_format(cli.format));
    if cli.helper_warnings {
        printer.on_helper_error(helper_warning(source.clone()));
    }
    let render = |e| report(render_runtime_error(e, compiled, &|diags: &[Diagnostic]| render_all(diags, source)));
    // Bound before anything loads: a busy port fails fast, with nothing attached.
    let mut metrics = Metrics::start(cli).map_err(crate::metrics::report)?;
    if let Some(m) = &mut metrics {
        m.set_program(&source.text, program.typed);
    }
    let mut session = Session::script(printer).map_err(render)?;
    session.tc = tc_options(cli);
    session.uprobe_pid = cli.pid.map(|p| p as i32);
    match &metrics {
        Some(m) if m.reloads() => signals::install_with_reload(),
        _ => signals::install(),
    }
    if metrics.is_some() {
        // flowtrace_probe_runs_total and _run_seconds_total need the kernel's counting.
        session.count_runs();
    }

    // Counted as bpftrace counts them: every concrete attach point, so a
    // wildcard served by one grouped program counts each function it matched.
    let probes: usize = compiled.programs.iter().map(|p| p.members.len().max(1)).sum();
    let all: Vec<usize> = (0..compiled.programs.len()).collect();
    let loading_since = crate::verbose::boottime_ns();
    match session.add(compiled, &all, Run::Attach) {
        Ok(_) => {}
        Err(AddError::Runtime(e)) => return Err(render(e)),
        Err(AddError::Conflict(c)) => return Err(report(format!("flowtrace: error: {}\n", c.why))),
    }
    // Printed once everything is attached (bpftrace prints it just before),
    // so whoever waits for this line knows events from now on are seen.
    if cli.verbose {
        eprint!("{}", crate::verbose::loaded(compiled, loading_since));
    }
    if !cli.quiet {
        let _ = session.sink().attached_probes(probes as u64);
    }
    if let Some(m) = &metrics {
        m.publish(&session);
    }
    let started = Instant::now();
    let mut child = match &cli.command {
        Some(cmd) => Some(spawn(cmd).map_err(|msg| {
            session.detach(None);
            report(format!("flowtrace: error: {msg}\n"))
        })?),
        None => None,
    };
    // An iterator script runs its iteration once and ends, as bpftrace's
    // does (the checker allows no other probes beside it but BEGIN/END).
    let result = if session.has_iterators() {
        session.run_iterators(&signals::received).map(|flow| match flow {
            flowtrace_runtime::Flow::Exit => Stop::ExitCalled,
            flowtrace_runtime::Flow::Continue => Stop::IterationDone,
        })
    } else {
        trace_loop(cli, program.kernel, &mut session, &mut metrics, &mut child, started)
    };
    if let Some(m) = &metrics {
        m.stop();
    }
    // Whatever happened, END runs and the maps are printed after detaching,
    // as bpftrace does; then nothing of ours stays attached.
    let finish = signals::report_detach_progress(|| finish(&mut session, print_maps));
    if let Some(mut c) = child {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = session.sink().flush();
    // The low byte, as a shell reports `exit(code)` of any process.
    let status = session.exit_code().map_or(0, |code| code as u8);
    result.and(finish).map(|()| status).map_err(render)
}

/// `-k`: a failed helper as bpftrace words it ("Failed to probe_read_kernel:
/// Bad address (-14)"), as a warning on stderr pointing at the statement
/// that made the call.
fn helper_warning(source: Source) -> flowtrace_runtime::output::HelperErrorReport {
    Box::new(move |helper, errno, span| {
        let os = std::io::Error::from_raw_os_error(errno.unsigned_abs().min(i32::MAX as u64) as i32).to_string();
        let text = os.split(" (os error").next().unwrap_or(&os).to_string();
        let name = flowtrace_codegen::ir::helper_name(helper);
        let warning = Diagnostic::warning(span, format!("Failed to {name}: {text} ({errno})"));
        eprint!("{}", render_all(&[warning], &source));
    })
}

/// `-f text|json` as the printer knows it.
pub fn output_format(format: crate::cli::OutputFormat) -> OutputFormat {
    match format {
        crate::cli::OutputFormat::Text => OutputFormat::Text,
        crate::cli::OutputFormat::Json => OutputFormat::Json,
    }
}

/// `--tc-order`, `--cleanup-stale` as the runtime knows them.
pub fn tc_options(cli: &Cli) -> TcOptions {
    let order = match cli.tc_order {
        crate::cli::TcOrder::First => TcOrder::First,
        crate::cli::TcOrder::Last => TcOrder::Last,
    };
    TcOptions { order, cleanup_stale: cli.cleanup_stale, ..Default::default() }
}

fn trace_loop(
    cli: &Cli,
    kernel: &KernelInfo,
    session: &mut Script,
    metrics: &mut Option<Metrics>,
    child: &mut Option<Child>,
    started: Instant,
) -> Result<Stop, RuntimeError> {
    let deadline = cli.timeout.map(|s| started + Duration::from_secs_f64(s.max(0.0)));
    loop {
        if session.drain()? == Flow::Exit {
            return Ok(Stop::ExitCalled);
        }
        if signals::received() {
            return Ok(Stop::Signal);
        }
        if let Some(m) = metrics.as_mut().filter(|_| signals::take_reload()) {
            m.reload(cli, kernel, session);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Stop::Timeout);
        }
        if let Some(c) = child {
            if matches!(c.try_wait(), Ok(Some(_))) {
                // Let events the command caused reach the ring buffer first.
                std::thread::sleep(Duration::from_millis(20));
                session.drain()?;
                return Ok(Stop::CommandEnded);
            }
        }
        if cli.pid.is_some_and(|pid| !process_alive(pid)) {
            session.drain()?;
            return Ok(Stop::TracedExited);
        }
        session.wait(Duration::from_millis(50))?;
    }
}

/// END, what it sent, then every map (the session's documented order).
fn finish(session: &mut Script, print_maps: bool) -> Result<(), RuntimeError> {
    let last = if print_maps { session.finish() } else { session.finish_without_maps() };
    let warnings = session.take_warnings();
    let last = last?;
    // Output that cannot be written is an error (exit 1), never silent.
    let out = |error| RuntimeError::Kernel { what: "writing the maps at exit".into(), error };
    if print_maps {
        session.sink().exit_maps(&last.maps).map_err(out)?;
    }
    if last.lost_events > 0 {
        session.sink().lost_events(last.lost_events).map_err(out)?;
    }
    if last.stacks_lost > 0 {
        session.sink().stacks_lost(last.stacks_lost).map_err(out)?;
    }
    if last.loops_cut > 0 {
        // A note, not output: the maps above are what the probes computed.
        eprintln!(
            "flowtrace: warning: {} for-loop range(s) stopped after {} rounds before reaching their end",
            last.loops_cut,
            flowtrace_codegen::lower::loops::round_cap(flowtrace_runtime::capabilities::bpf_loop_available())
        );
    }
    session.sink().flush().map_err(out)?;
    warnings.into_iter().next().map_or(Ok(()), Err)
}

/// Whether `-p PID` is still running: a zombie has exited (only its parent
/// has yet to collect it), so it counts as gone.
fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the `(comm)` field, which may itself hold ')'.
        Ok(stat) => stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next()).is_some_and(|state| !matches!(state, "Z" | "X")),
        Err(_) => false,
    }
}

/// `-c CMD`: run through the shell, so quoting works as typed.
fn spawn(cmd: &str) -> Result<Child, String> {
    Command::new("/bin/sh").arg("-c").arg(cmd).spawn().map_err(|e| format!("cannot run '{cmd}': {e}"))
}
