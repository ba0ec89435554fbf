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
use flowtrace_runtime::values::{MapSnapshot, Value};
use flowtrace_runtime::{EventSink, Flow, Loaded, RuntimeError};
use flowtrace_stdlib::printf::Format;
use std::io::{self, Write};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub fn compile_program(cli: &Cli, source: &Source, typed: &TypedProgram) -> Result<CompiledProgram, Reported> {
    let options = CompileOptions { map_keys: cli.map_keys, start_ns: monotonic_ns(), ..CompileOptions::default() };
    if cli.dump.contains(&DumpStage::Ir) {
        match dump_ir(typed, &options) {
            Ok(text) => print!("{text}"),
            Err(diags) => return Err(report(&diags, source)),
        }
    }
    let compiled = compile(typed, &options).map_err(|diags| report(&diags, source))?;
    let compiled = if cli.dump.is_empty() { adapt_to_kernel(typed, &options, compiled, source)? } else { compiled };
    if cli.dump.contains(&DumpStage::Bpf) {
        for p in &compiled.programs {
            println!("{} ({}):", p.attach.raw, p.name);
            print!("{}", flowtrace_codegen::disasm::disassemble(&p.insns, &p.comments));
        }
    }
    Ok(compiled)
}

/// kprobe/fentry probes on this kernel: kept, rebuilt as fentry/fexit (no
/// kprobes here, after a one-line notice), or refused with the reason and a
/// tracepoint to use instead — before BEGIN runs or anything is loaded.
fn adapt_to_kernel(
    typed: &TypedProgram,
    options: &CompileOptions,
    compiled: CompiledProgram,
    source: &Source,
) -> Result<CompiledProgram, Reported> {
    let plan = flowtrace_runtime::capabilities::plan(&compiled).map_err(|e| runtime_error(e, &compiled, source))?;
    if let Some(notice) = &plan.notice {
        eprintln!("{notice}");
    }
    if !plan.kprobes_as_fentry {
        return Ok(compiled);
    }
    let options = CompileOptions { kprobes_as_fentry: true, ..options.clone() };
    compile(typed, &options).map_err(|diags| report(&diags, source))
}

fn report(diags: &[Diagnostic], source: &Source) -> Reported {
    eprint!("{}", render_all(diags, source));
    Reported
}

/// `bpf_ktime_get_ns()`'s clock, so `elapsed` counts from now.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Output destination: standard output or `-o FILE`.
fn open_output(cli: &Cli) -> Result<Box<dyn Write>, String> {
    match &cli.output {
        Some(path) => std::fs::File::create(path)
            .map(|f| Box::new(io::BufWriter::new(f)) as Box<dyn Write>)
            .map_err(|e| format!("cannot write {}: {e}", path.display())),
        None => Ok(Box::new(io::stdout())),
    }
}

struct Sink<'a> {
    printer: &'a mut Printer<Box<dyn Write>>,
}

impl EventSink for Sink<'_> {
    fn printf(&mut self, format: &Format, args: &[Value]) -> io::Result<()> {
        self.printer.printf(format, args)
    }
    fn print_map(&mut self, map: &MapSnapshot, top: u64, div: u64) -> io::Result<()> {
        self.printer.map(map, top, div)
    }
    fn print_value(&mut self, value: &Value) -> io::Result<()> {
        self.printer.value(value)
    }
    fn time(&mut self, format: &str) -> io::Result<()> {
        self.printer.time(format)
    }
}

/// Why tracing stopped.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    ExitCalled,
    Signal,
    Timeout,
    CommandEnded,
}

pub fn run(cli: &Cli, source: &Source, compiled: &CompiledProgram) -> Result<(), Reported> {
    let out = open_output(cli).map_err(|msg| {
        eprintln!("flowtrace: error: {msg}");
        Reported
    })?;
    let format = match cli.format {
        crate::cli::OutputFormat::Text => OutputFormat::Text,
        crate::cli::OutputFormat::Json => OutputFormat::Json,
    };
    let mut printer = Printer::new(out, format);
    signals::install();

    let mut loaded = Loaded::load(compiled).map_err(|e| runtime_error(e, compiled, source))?;
    loaded.tc = flowtrace_runtime::tc::TcOptions { order: if cli.tc_order == crate::cli::TcOrder::Last { flowtrace_runtime::tc::TcOrder::Last } else { flowtrace_runtime::tc::TcOrder::First }, cleanup_stale: cli.cleanup_stale, ..Default::default() };
    // Counted as bpftrace counts them: every concrete attach point, so a
    // wildcard served by one grouped program counts each function it matched.
    let probes: usize = compiled.programs.iter().map(|p| p.members.len().max(1)).sum();
    // bpftrace's order: BEGIN runs before the other probes attach, END after
    // they are detached.
    if let Err(e) = loaded.run_begin().and_then(|()| loaded.attach_all()) {
        loaded.detach_all();
        return Err(runtime_error(e, compiled, source));
    }
    // Printed once everything is attached (bpftrace prints it just before),
    // so whoever waits for this line knows events from now on are seen.
    let _ = printer.attached_probes(probes as u64);
    let started = Instant::now();
    let mut child = match &cli.command {
        Some(cmd) => Some(spawn(cmd).map_err(|msg| {
            loaded.detach_all();
            eprintln!("flowtrace: error: {msg}");
            Reported
        })?),
        None => None,
    };
    let result = trace_loop(cli, &mut loaded, &mut printer, &mut child, started);
    // Whatever happened, END runs and the maps are printed before detaching,
    // as bpftrace does; then nothing of ours stays attached.
    loaded.detach_all();
    let finish = finish(&mut loaded, &mut printer);
    if let Some(mut c) = child {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = printer.flush();
    result.and(finish).map_err(|e| runtime_error(e, compiled, source))
}

fn trace_loop(
    cli: &Cli,
    loaded: &mut Loaded,
    printer: &mut Printer<Box<dyn Write>>,
    child: &mut Option<Child>,
    started: Instant,
) -> Result<Stop, RuntimeError> {
    let deadline = cli.timeout.map(|s| started + Duration::from_secs_f64(s.max(0.0)));
    loop {
        if loaded.drain_events(&mut Sink { printer })? == Flow::Exit {
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
                loaded.drain_events(&mut Sink { printer })?;
                return Ok(Stop::CommandEnded);
            }
        }
        loaded.wait_events(Duration::from_millis(50))?;
    }
}

fn finish(loaded: &mut Loaded, printer: &mut Printer<Box<dyn Write>>) -> Result<(), RuntimeError> {
    loaded.run_end()?;
    let _ = loaded.drain_events(&mut Sink { printer })?;
    let mut snapshots = Vec::new();
    for id in loaded.maps().user_maps() {
        // Every map, empty ones too, as bpftrace prints them at exit.
        snapshots.push(loaded.maps().snapshot(id)?);
    }
    let _ = printer.exit_maps(&snapshots);
    let lost = loaded.maps().lost_events()?;
    if lost > 0 {
        let _ = printer.lost_events(lost);
    }
    Ok(())
}

/// `-c CMD`: run through the shell, so quoting works as typed.
fn spawn(cmd: &str) -> Result<Child, String> {
    Command::new("/bin/sh").arg("-c").arg(cmd).spawn().map_err(|e| format!("cannot run '{cmd}': {e}"))
}

/// Renders a runtime failure against the source where it can be located.
fn runtime_error(e: RuntimeError, compiled: &CompiledProgram, source: &Source) -> Reported {
    match e {
        RuntimeError::Verifier(v) => {
            let program = &compiled.programs[v.program.min(compiled.programs.len() - 1)];
            let span = v.insn.and_then(|i| program.spans.get(i)).copied().unwrap_or(program.attach.span);
            let mut d = Diagnostic::error(
                span,
                format!("the kernel verifier rejected the program for '{}' ({})", program.attach.raw, v.errno),
            );
            if let Some(i) = v.insn {
                d = d.with_hint(format!("the verifier stopped at instruction {i}; see `-d bpf`"));
            }
            eprint!("{}", d.render(source));
            eprintln!("verifier log (last lines):");
            for line in v.tail(12) {
                eprintln!("  {line}");
            }
        }
        RuntimeError::Attach(a) => {
            let span = compiled.programs.get(a.program).map(|p| p.attach.span).unwrap_or_default();
            let mut d = Diagnostic::error(span, format!("cannot attach '{}': {}", a.probe, a.reason));
            if let Some(h) = a.hint {
                d = d.with_hint(h);
            }
            eprint!("{}", d.render(source));
        }
        other => eprintln!("flowtrace: error: {other}"),
    }
    Reported
}
