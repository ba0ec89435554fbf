//! flowtrace's front end: source text → [`ast::Program`] (with spans) →
//! [`typed::TypedProgram`] (names resolved and types checked against kernel BTF),
//! or diagnostics that point at the source.

pub mod ast;
pub mod check;
pub mod config;
pub mod diag;
pub mod dump_types;
pub mod dump_ast;
pub mod kernel;
mod macros;
pub mod parser;
pub mod preprocess;
pub mod span;
pub mod typed;
pub mod types;

pub use diag::Diagnostic;
pub use parser::parse;
pub use span::{Source, Span};
pub use check::{check, CheckOptions};
