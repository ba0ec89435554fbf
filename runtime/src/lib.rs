//! flowtrace runtime: load, attach, maps, events, output, cleanup.

pub mod output;
pub mod values;
