//! tc attachment, kept safe for a production node: flowtrace only observes
//! (its programs return `TC_ACT_UNSPEC`), and it never leaves anything behind
//! nor removes anything that is not its own.
//!
//! - **TCX** (Linux ≥ 6.6): a BPF link at the head (`--tc-order first`) or the
//!   tail of the interface's chain. Links belong to the process: they go away
//!   on exit, even after SIGKILL.
//! - **clsact + cls_bpf** (older kernels, or `FLOWTRACE_TC_MODE=clsact`): the
//!   clsact qdisc is created only if missing; our filters use a dedicated
//!   priority and handle and carry the name `flowtrace/PID/PROGRAM`; on exit we
//!   delete exactly those filters, and the qdisc only if we created it and no
//!   filter is left on it. A SIGKILLed run leaves its filters: the next run
//!   finds them ([`find_stale`]) and says how to remove them, or removes them
//!   when asked (`--cleanup-stale`, [`remove_stale`]).

mod clsact;
mod interfaces;
pub(crate) mod netlink;
mod stale;

pub use clsact::ClsactFilter;
pub use interfaces::{interfaces, resolve, Interface};
pub use stale::{cleanup_stale, find_stale, remove_stale, StaleFilter};
pub(crate) use stale::running_flowtrace;

/// Where flowtrace's program goes among the interface's tc programs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TcOrder {
    /// Before every other program, so packets are seen before anything else
    /// drops or redirects them (the default).
    #[default]
    First,
    /// After the others (only packets they pass on).
    Last,
}

/// Which kernel interface attaches tc programs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TcMode {
    /// TCX where the kernel has it, clsact otherwise. The environment
    /// variable `FLOWTRACE_TC_MODE=tcx|clsact` overrides it (tests use it to
    /// exercise the fallback on a TCX kernel).
    #[default]
    Auto,
    Tcx,
    Clsact,
}

/// The runtime's tc settings (`--tc-order`, `--cleanup-stale`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcOptions {
    pub order: TcOrder,
    pub mode: TcMode,
    /// Remove filters left by flowtrace runs that no longer exist before
    /// attaching (otherwise they are only reported).
    pub cleanup_stale: bool,
}

impl TcOptions {
    /// `mode`, with the environment override applied to `Auto`.
    pub fn effective_mode(&self) -> TcMode {
        if self.mode != TcMode::Auto {
            return self.mode;
        }
        match std::env::var("FLOWTRACE_TC_MODE").as_deref() {
            Ok("clsact") => TcMode::Clsact,
            Ok("tcx") => TcMode::Tcx,
            _ => TcMode::Auto,
        }
    }
}

/// The two clsact hooks, as the kernel calls them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hook {
    Ingress,
    Egress,
}

impl Hook {
    pub fn name(self) -> &'static str {
        match self {
            Hook::Ingress => "ingress",
            Hook::Egress => "egress",
        }
    }

    pub(crate) fn parent(self) -> u32 {
        match self {
            Hook::Ingress => netlink::CLSACT_INGRESS,
            Hook::Egress => netlink::CLSACT_EGRESS,
        }
    }

    pub(crate) fn from_parent(parent: u32) -> Option<Hook> {
        match parent {
            netlink::CLSACT_INGRESS => Some(Hook::Ingress),
            netlink::CLSACT_EGRESS => Some(Hook::Egress),
            _ => None,
        }
    }
}

/// The `TCA_BPF_NAME` flowtrace gives its filters: it names the process, so
/// a later run can tell a live flowtrace's filter from a dead one's.
pub(crate) fn filter_name(program: &str) -> String {
    format!("flowtrace/{}/{program}", std::process::id())
}

/// The pid in a name made by [`filter_name`].
pub(crate) fn filter_owner(name: &str) -> Option<u32> {
    name.strip_prefix("flowtrace/")?.split('/').next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_names_carry_the_pid() {
        let name = filter_name("ft_tc_eth0_in");
        assert!(name.ends_with("/ft_tc_eth0_in"));
        assert_eq!(filter_owner(&name), Some(std::process::id()));
        assert_eq!(filter_owner("cilium-ingress"), None);
        assert_eq!(filter_owner("flowtrace/x/y"), None);
    }
}
