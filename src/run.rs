//! Running a checked program: compile, load, attach, print events as they
//! come, and on exit (probe `exit()`, `-c` command ended, `--timeout`, SIGINT,
//! SIGTERM) run END, print every map and detach everything.

use crate::cli::{Cli, DumpStage};
use crate::frontend::Reported;
use crate::signals;
use flowtrace_codegen::compile::{compile, dump_ir, CompileOptions};
use flowtrace_codegen::object::CompiledProgram;
use flowtrace_lang::diag::{render_all, Diagnostic};
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
    let options = CompileOptions {
        map_keys: cli.map_keys,
        start_ns: monotonic_ns(),
        possible_cpus: possible_cpus(),
        bpf_loop: flowtrace_runtime::capabilities::bpf_loop_available(),
        ..CompileOptions::default()
    };
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
        for_kernel.program
    } else {
        compile(typed, &options).map_err(|diags| report(render(&diags)))?
    };
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
    crate::output::Output::open(cli.output.as_deref()).map(|o| Box::new(o) as Box<dyn Write>)
}

/// Why tracing stopped.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    ExitCalled,
    Signal,
    Timeout,
    CommandEnded,
}

/// A script is a session of one entry: what the interactive session runs too.
type Script = Session<Printer<Box<dyn Write>>>;

/// Runs the script; `Ok` holds the exit status `exit(code)` asked for (0 otherwise).
pub fn run(cli: &Cli, source: &Source, compiled: &CompiledProgram) -> Result<u8, Reported> {
    let out = open_output(cli).map_err(|msg| report(format!("flowtrace: error: {msg}\n")))?;
    let printer = Printer::new(out, output_format(cli.format));
    let render = |e| report(render_runtime_error(e, compiled, &|diags: &[Diagnostic]| render_all(diags, source)));
    let mut session = Session::script(printer).map_err(render)?;
    session.tc = tc_options(cli);
    signals::install();

    // Counted as bpftrace counts them: every concrete attach point, so a
    // wildcard served by one grouped program counts each function it matched.
    let probes: usize = compiled.programs.iter().map(|p| p.members.len().max(1)).sum();
    let all: Vec<usize> = (0..compiled.programs.len()).collect();
    match session.add(compiled, &all, Run::Attach) {
        Ok(_) => {}
        Err(AddError::Runtime(e)) => return Err(render(e)),
        Err(AddError::Conflict(c)) => return Err(report(format!("flowtrace: error: {}\n", c.why))),
    }
    // Printed once everything is attached (bpftrace prints it just before),
    // so whoever waits for this line knows events from now on are seen.
    let _ = session.sink().attached_probes(probes as u64);
    let started = Instant::now();
    let mut child = match &cli.command {
        Some(cmd) => Some(spawn(cmd).map_err(|msg| {
            session.detach(None);
            report(format!("flowtrace: error: {msg}\n"))
        })?),
        None => None,
    };
    let result = trace_loop(cli, &mut session, &mut child, started);
    // Whatever happened, END runs and the maps are printed after detaching,
    // as bpftrace does; then nothing of ours stays attached.
    let finish = signals::report_detach_progress(|| finish(&mut session));
    if let Some(mut c) = child {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = session.sink().flush();
    // The low byte, as a shell reports `exit(code)` of any process.
    let status = session.exit_code().map_or(0, |code| code as u8);
    result.and(finish).map(|()| status).map_err(render)
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

fn trace_loop(cli: &Cli, session: &mut Script, child: &mut Option<Child>, started: Instant) -> Result<Stop, RuntimeError> {
    let deadline = cli.timeout.map(|s| started + Duration::from_secs_f64(s.max(0.0)));
    loop {
        if session.drain()? == Flow::Exit {
            return Ok(Stop::ExitCalled);
        }
        if signals::received() {
            return Ok(Stop::Signal);
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
        session.wait(Duration::from_millis(50))?;
    }
}

/// END, what it sent, then every map (the session's documented order).
fn finish(session: &mut Script) -> Result<(), RuntimeError> {
    let last = session.finish();
    let warnings = session.take_warnings();
    let last = last?;
    // Output that cannot be written is an error (exit 1), never silent.
    let out = |error| RuntimeError::Kernel { what: "writing the maps at exit".into(), error };
    session.sink().exit_maps(&last.maps).map_err(out)?;
    if last.lost_events > 0 {
        session.sink().lost_events(last.lost_events).map_err(out)?;
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

/// `-c CMD`: run through the shell, so quoting works as typed.
fn spawn(cmd: &str) -> Result<Child, String> {
    Command::new("/bin/sh").arg("-c").arg(cmd).spawn().map_err(|e| format!("cannot run '{cmd}': {e}"))
}
