//! flowtrace's test kit: what the tests of every crate share, in one place.
//! It is only ever a dev-dependency.
//!
//! - [`gate`]: THE root-test gate. A test that needs root calls
//!   [`gate::root_tests_enabled`] first; it runs only as euid 0 with
//!   `FLOWTRACE_ROOT_TESTS=1`, and otherwise prints a `!!! SKIPPED` line that
//!   libtest cannot hide. Test files holding such tests are named `root_*`.
//! - [`corpus`]: the `.ft` corpus and examples, and their `// params:` line.
//! - [`traffic`]: deterministic loopback TCP/UDP traffic.
//! - [`process`]: a flowtrace process a test started (its `Attaching` line).
//! - [`objects`] (feature `kernel`): what flowtrace has in the kernel, asked
//!   of the kernel (no `ft_` program or map may be left).
//! - [`program`] (feature `kernel`): programs compiled from source against
//!   the host kernel and loaded with the production loader
//!   (`flowtrace_runtime::Loaded`), their maps read back as raw bytes.

pub mod corpus;
pub mod gate;
#[cfg(feature = "kernel")]
pub mod objects;
#[cfg(feature = "kernel")]
pub mod program;
pub mod process;
pub mod traffic;

pub use gate::root_tests_enabled;
