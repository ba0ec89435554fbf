//! `printf(fmt, args…)`: the one home of format-string facts.
//!
//! The format string stays in userspace; the probe only sends the argument
//! values. [`Format::parse`] runs once, in the checker, and decides
//! everything: which conversions exist, which flags, widths and length
//! modifiers they take, what kind of argument each consumes, and how `%%`
//! prints. The checked [`Format`] travels in the typed program and the
//! compiled event to the runtime, which renders each event from these pieces
//! with [`ConvSpec::write_integer`] and [`ConvSpec::write_text`] — it never
//! parses a format, so a format the checker accepts cannot fail at run time.

mod parse;
mod render;

use std::fmt;
use std::ops::Range;

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

pub(crate) const FUNCS: &[FuncInfo] = &[FuncInfo {
    func: Func::Printf,
    name: "printf",
    min_args: 1,
    max_args: usize::MAX,
    role: FuncRole::Statement,
    signature: "printf(string format, args…)",
    doc: "formatted output: %d %i %u %x %X %o %c %p %s (and %r %rx %rh for buf()) with flags, width, precision, hh/h/l/ll",
    unsupported: None,
}];

/// Largest width or precision accepted: enough for any table, small enough
/// that a typo cannot make the tracer allocate gigabytes per event. Larger
/// ones are compile-time errors (bpftrace has no limit).
pub const MAX_WIDTH: usize = 4096;

/// A checked format string: the text as written (for dumps) and its pieces,
/// which are all a renderer needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    pub text: String,
    pub pieces: Vec<Piece>,
}

/// A format string split into literal text and conversions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Text printed as is: `%%` is already `%` where bpftrace prints `%`
    /// and still `%%` where it prints that (see [`Format::parse`]).
    Literal(String),
    Conv(ConvSpec),
}

/// One `%…` conversion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    /// Byte range of the conversion in the format string (for diagnostics).
    pub range: Range<usize>,
    pub flags: Flags,
    /// At most [`MAX_WIDTH`].
    pub width: Option<usize>,
    /// At most [`MAX_WIDTH`]; `%.d` is precision 0, as in C.
    pub precision: Option<usize>,
    pub length: Length,
    pub conv: Conversion,
}

/// Flags between `%` and the width.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// `-`: pad on the right.
    pub left: bool,
    /// `0`: pad numbers with zeros.
    pub zero: bool,
    /// `+`: always print a sign on signed conversions.
    pub plus: bool,
    /// ` `: a space where a `+` would go.
    pub space: bool,
    /// `#`: `0x` for hex, a leading `0` for octal.
    pub alt: bool,
}

/// C length modifiers, by how many bits of an integer they print. Every
/// 64-bit one (`l ll j z t`) is [`Length::Long`]: BPF targets are LP64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    /// No modifier: 32 bits (`int`).
    Int,
    /// `hh`: 8 bits.
    Char,
    /// `h`: 16 bits.
    Short,
    /// `l`, `ll`, `j`, `z`, `t`: 64 bits.
    Long,
}

impl Length {
    pub fn bits(self) -> u32 {
        match self {
            Length::Int => 32,
            Length::Char => 8,
            Length::Short => 16,
            Length::Long => 64,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// `%d`, `%i`
    Signed,
    /// `%u`
    Unsigned,
    /// `%o`
    Octal,
    /// `%x`
    HexLower,
    /// `%X`
    HexUpper,
    /// `%c`
    Char,
    /// `%s`
    Str,
    /// `%p`
    Pointer,
    /// `%r`, `%rx`, `%rh`: a `buf()` value.
    Buffer(BufferForm),
}

/// How `%r` prints a buffer's bytes (bpftrace's three forms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferForm {
    /// `%r`: printable ASCII as is, other bytes as `\xNN`.
    Escaped,
    /// `%rx`: every byte as `\xNN`.
    Hex,
    /// `%rh`: every byte as two hex digits, separated by spaces.
    SpacedHex,
}

impl BufferForm {
    /// `bytes` in this form.
    pub fn render(self, bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len() * 4);
        for (i, &b) in bytes.iter().enumerate() {
            match self {
                BufferForm::Escaped if (32..=126).contains(&b) => out.push(b as char),
                BufferForm::Escaped | BufferForm::Hex => out.push_str(&format!("\\x{b:02x}")),
                BufferForm::SpacedHex => {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(&format!("{b:02x}"));
                }
            }
        }
        out
    }
}

/// What kind of argument a conversion consumes (bpftrace's rule).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// `%d %i %u %x %X %o %c %p`: integers, pointers and booleans.
    Integer,
    /// `%s`: strings, and values userspace prints as text (`inet`, probe names).
    Text,
    /// `%r`: a `buf()` value.
    Buffer,
}

impl Conversion {
    pub fn arg_kind(self) -> ArgKind {
        match self {
            Conversion::Str => ArgKind::Text,
            Conversion::Buffer(_) => ArgKind::Buffer,
            _ => ArgKind::Integer,
        }
    }

    /// Whether `hh h l ll j z t` may precede it: C defines them for the
    /// integer conversions only (`%lc` and `%ls` mean wide characters).
    pub fn takes_length(self) -> bool {
        !matches!(self, Conversion::Char | Conversion::Str | Conversion::Buffer(_))
    }
}

/// A bad format string, with the byte range of the format to underline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    pub range: Range<usize>,
    pub message: String,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FormatError {}

impl Format {
    /// The conversions, in order: what the arguments are matched against.
    pub fn conversions(&self) -> impl Iterator<Item = &ConvSpec> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Conv(c) => Some(c),
            Piece::Literal(_) => None,
        })
    }
}
