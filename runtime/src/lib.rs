//! flowtrace runtime: load, attach, maps, events, output, cleanup.
//!
//! [`Loaded::load`] turns a `CompiledProgram` into kernel objects, probes are
//! attached per kind ([`attach`]), user maps are read into [`values`] through
//! [`maps::Maps`], ring-buffer records become [`events::Event`]s. A
//! [`Session`] puts these together for the `flowtrace` command: a script is
//! a session of one entry, the interactive session one of many. All bpf(2)
//! calls aya does not make for us live in [`sys`].

mod attach;
pub mod decode;
pub mod error;
pub mod events;
pub mod inspect;
pub mod load;
pub mod maps;
pub mod metrics;
pub mod output;
pub mod pods;
mod rawload;
pub mod session;
pub mod symbols;
pub mod sys;
mod sys_links;
pub mod tc;
pub mod tseries;
pub mod values;

pub use attach::{capabilities, kprobes_available};
pub use error::{AttachError, RuntimeError, VerifierError};
pub use events::{Event, EventSink, Events, Flow};
pub use load::{LoadTimings, Loaded, DETACH_PROGRESS};
pub use session::Session;
