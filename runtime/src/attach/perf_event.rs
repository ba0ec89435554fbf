//! Perf-event probes, all `BPF_PROG_TYPE_PERF_EVENT` programs:
//! `interval:` on a software cpu-clock event on one CPU (cpu 0) only, so an
//! interval fires once per period rather than once per CPU per period;
//! `profile:` on cpu-clock and `software:`/`hardware:` on their event, on
//! every online CPU, as bpftrace attaches them; with `-p PID` those count
//! that task only (perf_event_open's pid: the thread PID names, not its
//! other threads), as bpftrace opens them.

use super::{error_chain, Failure, Link, LoadFailure};
use aya::programs::perf_event::{HardwareEvent, PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent};
use aya::programs::{PerfEvent, Program, ProgramError};
use flowtrace_lang::ast::{AttachKind, AttachPoint};

pub(super) fn load(prog: &mut Program) -> Result<(), LoadFailure> {
    let p: &mut PerfEvent = prog.try_into()?;
    Ok(p.load()?)
}

pub(super) fn attach(prog: &mut Program, point: &AttachPoint, pid: Option<i32>) -> Result<Link, Failure> {
    let p: &mut PerfEvent = prog.try_into()?;
    let (config, sample) = match &point.kind {
        AttachKind::Interval { period } => {
            let cpu0 = PerfEventScope::AllProcessesOneCpu { cpu: 0 };
            let policy = SamplePolicy::Period(period.nanos().max(1));
            let id = p.attach(PerfEventConfig::Software(SoftwareEvent::CpuClock), cpu0, policy, false)?;
            return Ok(Link::PerfEvent(p.take_link(id)?));
        }
        AttachKind::Profile { period } => (PerfEventConfig::Software(SoftwareEvent::CpuClock), period.nanos().max(1)),
        AttachKind::Software { event, count } => (PerfEventConfig::Software(software(event.config)?), *count),
        AttachKind::Hardware { event, count } => (PerfEventConfig::Hardware(hardware(event.config)?), *count),
        _ => return Err(Failure::new("not a perf-event attach point")),
    };
    let cpus = aya::util::online_cpus().map_err(|(path, e)| Failure::new(format!("cannot read {path}: {e}")))?;
    let mut links = Vec::with_capacity(cpus.len());
    for cpu in cpus {
        let scope = match pid.and_then(|p| u32::try_from(p).ok()) {
            Some(pid) => PerfEventScope::OneProcess { pid, cpu: Some(cpu) },
            None => PerfEventScope::AllProcessesOneCpu { cpu },
        };
        // On an error the links made so far drop here, detaching them:
        // nothing stays attached.
        let id = p.attach(config, scope, SamplePolicy::Period(sample), false).map_err(|e| open_failure(point, &e))?;
        links.push(p.take_link(id)?);
    }
    Ok(Link::PerfEvents(links))
}

/// Says which event could not be opened and, for a hardware event on a
/// machine without a hardware PMU (a VM usually has none), why.
fn open_failure(point: &AttachPoint, e: &ProgramError) -> Failure {
    let failure = Failure::new(error_chain(e));
    match &point.kind {
        AttachKind::Hardware { event, .. } if !hardware_pmu_present() => failure.hint(format!(
            "this machine has no hardware performance counters (no 'cpu' PMU in /sys/bus/event_source/devices), \
             so '{}' cannot be counted here; software:cpu-clock or profile:hz: sample by time instead",
            event.name
        )),
        _ => failure,
    }
}

/// Whether the kernel lists a core PMU for `PERF_TYPE_HARDWARE` events.
pub(crate) fn hardware_pmu_present() -> bool {
    ["cpu", "cpu_core", "cpu_atom", "armv8_pmuv3"]
        .iter()
        .any(|pmu| std::path::Path::new("/sys/bus/event_source/devices").join(pmu).exists())
}

fn software(config: u64) -> Result<SoftwareEvent, Failure> {
    use SoftwareEvent as S;
    const ALL: [SoftwareEvent; 11] = [
        S::CpuClock,
        S::TaskClock,
        S::PageFaults,
        S::ContextSwitches,
        S::CpuMigrations,
        S::PageFaultsMin,
        S::PageFaultsMaj,
        S::AlignmentFaults,
        S::EmulationFaults,
        S::Dummy,
        S::BpfOutput,
    ];
    ALL.get(config as usize).copied().ok_or_else(|| Failure::new(format!("unknown software event {config}")))
}

fn hardware(config: u64) -> Result<HardwareEvent, Failure> {
    use HardwareEvent as H;
    const ALL: [HardwareEvent; 10] = [
        H::CpuCycles,
        H::Instructions,
        H::CacheReferences,
        H::CacheMisses,
        H::BranchInstructions,
        H::BranchMisses,
        H::BusCycles,
        H::StalledCyclesFrontend,
        H::StalledCyclesBackend,
        H::RefCpuCycles,
    ];
    ALL.get(config as usize).copied().ok_or_else(|| Failure::new(format!("unknown hardware event {config}")))
}
