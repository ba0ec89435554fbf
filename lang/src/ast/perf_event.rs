//! The perf events `software:` and `hardware:` probes name: bpftrace's event
//! names and aliases, the `perf_event_attr.config` each one is, and the
//! sample period used when the script gives none (bpftrace's defaults).
//! The parser looks names up here and the runtime reads `config` from the
//! same row, so a name and its number have one home.

/// One named perf event.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PerfEventName {
    /// The canonical name, as `probe` shows it.
    pub name: &'static str,
    pub alias: Option<&'static str>,
    /// `perf_event_attr.config` (`PERF_COUNT_SW_*` / `PERF_COUNT_HW_*`).
    pub config: u64,
    /// Events between samples when the attach point gives no count.
    pub default_count: u64,
}

const fn ev(name: &'static str, alias: Option<&'static str>, config: u64, default_count: u64) -> PerfEventName {
    PerfEventName { name, alias, config, default_count }
}

/// `PERF_TYPE_SOFTWARE` events, by `enum perf_sw_ids`.
pub const SOFTWARE: &[PerfEventName] = &[
    ev("cpu-clock", Some("cpu"), 0, 1_000_000),
    ev("task-clock", None, 1, 1_000_000),
    ev("page-faults", Some("faults"), 2, 100),
    ev("context-switches", Some("cs"), 3, 1_000),
    ev("cpu-migrations", None, 4, 1),
    ev("minor-faults", None, 5, 100),
    ev("major-faults", None, 6, 1),
    ev("alignment-faults", None, 7, 1),
    ev("emulation-faults", None, 8, 1),
    ev("dummy", None, 9, 1),
    ev("bpf-output", None, 10, 1),
];

/// `PERF_TYPE_HARDWARE` events, by `enum perf_hw_id`.
pub const HARDWARE: &[PerfEventName] = &[
    ev("cpu-cycles", Some("cycles"), 0, 1_000_000),
    ev("instructions", None, 1, 1_000_000),
    ev("cache-references", None, 2, 1_000_000),
    ev("cache-misses", None, 3, 1_000_000),
    ev("branch-instructions", Some("branches"), 4, 100_000),
    ev("branch-misses", None, 5, 100_000),
    ev("bus-cycles", None, 6, 100_000),
    ev("frontend-stalls", None, 7, 1_000_000),
    ev("backend-stalls", None, 8, 1_000_000),
    ev("ref-cycles", None, 9, 1_000_000),
];

/// The event of `table` called `name` (its name or alias).
pub fn lookup(table: &'static [PerfEventName], name: &str) -> Option<&'static PerfEventName> {
    table.iter().find(|e| e.name == name || e.alias == Some(name))
}

/// Every name and alias of `table`, for "did you mean" and `-l`.
pub fn names(table: &'static [PerfEventName]) -> impl Iterator<Item = &'static str> {
    table.iter().flat_map(|e| std::iter::once(e.name).chain(e.alias))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_find_their_event() {
        assert_eq!(lookup(SOFTWARE, "cs").map(|e| e.name), Some("context-switches"));
        assert_eq!(lookup(SOFTWARE, "faults").map(|e| e.config), Some(2));
        assert_eq!(lookup(HARDWARE, "branches").map(|e| e.config), Some(4));
        assert_eq!(lookup(HARDWARE, "cycles").map(|e| e.default_count), Some(1_000_000));
        assert!(lookup(HARDWARE, "cpu-clock").is_none());
        // The configs are the kernel enums' values, in order.
        for table in [SOFTWARE, HARDWARE] {
            for (i, e) in table.iter().enumerate() {
                assert_eq!(e.config, i as u64, "{}", e.name);
            }
        }
    }
}
