//! The two steps a script and an interactive entry share between checking
//! and running: compiling for this kernel (kprobe → fentry, or a refusal
//! with a hint) and rendering a run-time failure against the source.

use crate::attach::capabilities;
use crate::error::RuntimeError;
use flowtrace_codegen::compile::{compile, CompileOptions};
use flowtrace_codegen::object::CompiledProgram;
use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::typed::TypedProgram;

/// A program compiled for the running kernel.
pub struct ForKernel {
    pub program: CompiledProgram,
    /// One line for stderr when the plan changed (kprobes run as fentry).
    pub notice: Option<String>,
    /// Programs left out because this kernel cannot run them
    /// (`missing_probes = "warn"`/`"ignore"`), and the warnings to print.
    pub left_out: Vec<usize>,
    pub warnings: Vec<String>,
}

impl ForKernel {
    /// The programs to load and attach: all but those left out.
    pub fn runnable(&self) -> Vec<usize> {
        (0..self.program.programs.len()).filter(|i| !self.left_out.contains(i)).collect()
    }
}

/// Why a checked program cannot run here.
pub enum CompileFailure {
    /// The compiler refused it (too many instructions, stack, …).
    Diagnostics(Vec<Diagnostic>),
    /// This kernel cannot run one of its probes; rendered against `program`.
    Kernel { error: RuntimeError, program: Box<CompiledProgram> },
}

impl CompileFailure {
    /// The failure as the user reads it; `render` puts diagnostics against
    /// the source (a script's text, or an interactive entry's).
    pub fn render(self, render: &dyn Fn(&[Diagnostic]) -> String) -> String {
        match self {
            CompileFailure::Diagnostics(diags) => render(&diags),
            CompileFailure::Kernel { error, program } => render_runtime_error(error, &program, render),
        }
    }
}

/// Compiles `typed`, then asks the kernel's capabilities
/// ([`capabilities::plan`]) how its kprobe/fentry probes can run: as
/// written, rebuilt as fentry/fexit (no kprobes here), or not at all —
/// decided before BEGIN runs or anything is loaded.
pub fn compile_for_kernel(typed: &TypedProgram, options: &CompileOptions) -> Result<ForKernel, CompileFailure> {
    let program = compile(typed, options).map_err(CompileFailure::Diagnostics)?;
    let plan = match capabilities::plan(&program) {
        Ok(plan) => plan,
        Err(error) => return Err(CompileFailure::Kernel { error, program: Box::new(program) }),
    };
    let program = if plan.kprobes_as_fentry {
        let options = CompileOptions { kprobes_as_fentry: true, ..options.clone() };
        compile(typed, &options).map_err(CompileFailure::Diagnostics)?
    } else {
        program
    };
    Ok(ForKernel { program, notice: plan.notice, left_out: plan.left_out, warnings: plan.warnings })
}

/// Lines of the verifier's log shown under a rejection: where its reason is.
const VERIFIER_TAIL: usize = 12;

/// A load or attach failure as the user reads it: a verifier rejection at
/// the source construct of the instruction it stopped at, an attach failure
/// at the attach point with its hint; anything else as one line.
pub fn render_runtime_error(e: RuntimeError, compiled: &CompiledProgram, render: &dyn Fn(&[Diagnostic]) -> String) -> String {
    match e {
        RuntimeError::Verifier(v) => {
            let Some(program) = compiled.programs.get(v.program) else { return format!("flowtrace: error: {}\n", RuntimeError::Verifier(v)) };
            let span = v.insn.and_then(|i| program.spans.get(i)).copied().unwrap_or(program.attach.span);
            let mut d = Diagnostic::error(
                span,
                format!("the kernel verifier rejected the program for '{}' ({})", program.attach.raw, v.reason()),
            );
            if let Some(i) = v.insn {
                d = d.with_hint(format!("the verifier stopped at instruction {i}; see `-d bpf`"));
            }
            let mut out = render(&[d]);
            out.push_str("verifier log (last lines):\n");
            for line in v.tail(VERIFIER_TAIL) {
                out.push_str(&format!("  {line}\n"));
            }
            out
        }
        RuntimeError::Attach(a) => {
            let span = compiled.programs.get(a.program).map(|p| p.attach.span).unwrap_or_default();
            let mut d = Diagnostic::error(span, format!("cannot attach '{}': {}", a.probe, a.reason));
            if let Some(h) = a.hint {
                d = d.with_hint(h);
            }
            render(&[d])
        }
        other => format!("flowtrace: error: {other}\n"),
    }
}
