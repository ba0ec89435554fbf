//! `printf` events: the checker's parsed [`Format`] applied to decoded
//! arguments. Parsing and the meaning of every flag live in
//! `flowtrace_stdlib::printf`; this file only decides which primitive a
//! [`Value`] is for its conversion (an integer's 64 bits, or text).

use std::fmt;

use flowtrace_stdlib::printf::{ArgKind, ConvSpec, Conversion, Format, Piece};

use crate::values::Value;

/// Arguments that do not fit the format. The checker makes this
/// unreachable for compiled programs (one argument per conversion, of its
/// kind); it is an error rather than a guess so a broken decoder is loud.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RenderError {
    ArgumentCount { expected: usize, given: usize },
    NotAnInteger { conversion: String, value: String },
    NotABuffer { conversion: String, value: String },
}

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RenderError::ArgumentCount { expected, given } => {
                write!(f, "printf: {given} arguments for a format with {expected} conversions")
            }
            RenderError::NotAnInteger { conversion, value } => write!(f, "printf: {conversion} given the non-integer {value}"),
            RenderError::NotABuffer { conversion, value } => write!(f, "printf: {conversion} given the non-buffer {value}"),
        }
    }
}

impl std::error::Error for RenderError {}

/// Render `format` with `args` the way bpftrace's `printf` would.
pub fn render(format: &Format, args: &[Value]) -> Result<String, RenderError> {
    let expected = format.conversions().count();
    if expected != args.len() {
        return Err(RenderError::ArgumentCount { expected, given: args.len() });
    }
    let mut out: Vec<u8> = Vec::new();
    let mut args = args.iter();
    for piece in &format.pieces {
        match piece {
            Piece::Literal(text) => out.extend_from_slice(text.as_bytes()),
            Piece::Conv(spec) => {
                let arg = args.next().expect("one argument per conversion, counted above");
                render_one(&mut out, spec, &format.text, arg)?;
            }
        }
    }
    // `%c` and `%.Ns` work on bytes, as in C; show any broken UTF-8 as U+FFFD.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Render one argument under one conversion of `text`, appending to `out`.
fn render_one(out: &mut Vec<u8>, spec: &ConvSpec, text: &str, arg: &Value) -> Result<(), RenderError> {
    match spec.conv.arg_kind() {
        // `%s` prints any value's text form: strings, addresses, probe names.
        ArgKind::Text => spec.write_text(out, super::text::value_text(arg).as_bytes()),
        ArgKind::Buffer => {
            let (Conversion::Buffer(form), Value::Buffer(bytes)) = (spec.conv, arg) else {
                let conversion = text.get(spec.range.clone()).unwrap_or("%r").to_string();
                return Err(RenderError::NotABuffer { conversion, value: super::text::value_text(arg) });
            };
            spec.write_text(out, form.render(bytes).as_bytes())
        }
        ArgKind::Integer => match as_integer(arg) {
            Some(v) => spec.write_integer(out, v),
            None => {
                let conversion = text.get(spec.range.clone()).unwrap_or("%?").to_string();
                return Err(RenderError::NotAnInteger { conversion, value: super::text::value_text(arg) });
            }
        },
    }
    Ok(())
}

/// The 64 bits an integer conversion receives, or `None` for text values.
fn as_integer(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => Some(*i as u64),
        Value::UInt(u) | Value::Ptr(u) => Some(*u),
        Value::Bool(b) => Some(u64::from(*b)),
        _ => None,
    }
}
