//! `BEGIN` / `END`: raw-tracepoint programs that are never attached, only run
//! once with `BPF_PROG_TEST_RUN` (kernel ≥ 5.10 for raw tracepoints). The
//! kernel runs them synchronously on the calling CPU, so everything they write
//! (maps, ring-buffer records) is visible when [`run`] returns.

use super::Failure;
use aya::programs::{Program, RawTracePoint, RawTracePointRunOptions, TestRun};

pub(crate) fn run(prog: &mut Program) -> Result<u32, Failure> {
    let p: &mut RawTracePoint = prog.try_into()?;
    let result = p.test_run(RawTracePointRunOptions::new())?;
    Ok(result.return_value)
}
