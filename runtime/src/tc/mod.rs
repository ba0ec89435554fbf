//! tc attachment, kept safe for a production node: flowtrace only observes
//! (its programs return `TC_ACT_UNSPEC`), and it never leaves anything behind
//! nor removes anything that is not its own.
//!
//! - **TCX** (Linux ≥ 6.6): a BPF link at the head (`--tc-order first`) or the
//!   tail of the interface's chain. Links belong to the process: they go away
//!   on exit, even after SIGKILL.
//! - **clsact + cls_bpf** (older kernels, or `FLOWTRACE_TC_MODE=clsact`): the
//!   clsact qdisc is created only if missing; our filters use a dedicated
//!   priority and handle and carry the name `flowtrace/OWNER/PROGRAM`, where
//!   OWNER names an abstract socket the run holds (see `owner.rs`: it tells a
//!   live run from a dead one across PID namespaces); on exit we delete
//!   exactly those filters, and the qdisc only if we created it and no filter
//!   is left on it. A SIGKILLed run leaves its filters: the next run finds
//!   them ([`find_stale`]) and says how to remove them, or removes them when
//!   asked (`--cleanup-stale`, [`remove_stale`]).

mod clsact;
mod interfaces;
pub(crate) mod netlink;
pub(crate) mod owner;
mod stale;

pub use clsact::ClsactFilter;
pub use interfaces::{interfaces, resolve, Interface};
pub use stale::{cleanup_stale, find_stale, remove_stale, StaleFilter};

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
