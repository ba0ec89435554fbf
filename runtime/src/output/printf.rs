//! `printf` format strings: parsing (shared with the checker, which must
//! reject bad strings before anything is loaded) and rendering of decoded
//! arguments with C `printf` semantics, as bpftrace does by handing each
//! piece to `snprintf`.
//!
//! Integers follow C's argument rules, not the value's width: a bare `%d`
//! reads an `int`, so bpftrace prints the low 32 bits of a 64-bit value
//! (`printf("%d", 0x200000005)` prints `5`); `%ld`/`%lld` print all 64.
//! Scripts that want full values must say `%ld`, exactly as with bpftrace.
//!
//! The parser belongs in `flowtrace-stdlib` once the checker needs it (the
//! runtime cannot be a dependency of `flowtrace-lang`); it has no runtime
//! dependencies so it can move as is.

use std::fmt;
use std::ops::Range;

use crate::values::Value;

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

/// C length modifiers; they decide how many bits of an integer are printed.
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
    fn bits(self) -> u32 {
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
}

/// What kind of argument a conversion expects (for the checker).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    Integer,
    /// Strings, and anything userspace renders as text (`inet`, probe names).
    Text,
}

impl Conversion {
    pub fn arg_kind(self) -> ArgKind {
        match self {
            Conversion::Str => ArgKind::Text,
            _ => ArgKind::Integer,
        }
    }
}

/// One `%…` conversion in a format string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    /// Byte range of the conversion in the format string (for diagnostics).
    pub range: Range<usize>,
    pub flags: Flags,
    pub width: Option<usize>,
    pub precision: Option<usize>,
    pub length: Length,
    pub conv: Conversion,
}

/// A format string split into literal text and conversions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Text to copy, with `%%` already turned into `%`.
    Literal(String),
    Conv(ConvSpec),
}

/// A bad format string, with the byte range to underline.
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

/// Largest width or precision accepted: enough for any table, small enough
/// that a typo cannot make the tracer allocate gigabytes per event.
pub const MAX_WIDTH: usize = 4096;

/// Split `fmt` into pieces, rejecting unknown conversions.
pub fn parse_printf(fmt: &str) -> Result<Vec<Piece>, FormatError> {
    let bytes = fmt.as_bytes();
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let mut at = 0;
    while at < bytes.len() {
        let Some(rel) = fmt[at..].find('%') else {
            literal.push_str(&fmt[at..]);
            break;
        };
        literal.push_str(&fmt[at..at + rel]);
        let start = at + rel;
        if bytes.get(start + 1) == Some(&b'%') {
            literal.push('%');
            at = start + 2;
            continue;
        }
        let spec = parse_spec(fmt, start)?;
        at = spec.range.end;
        if !literal.is_empty() {
            pieces.push(Piece::Literal(std::mem::take(&mut literal)));
        }
        pieces.push(Piece::Conv(spec));
    }
    if !literal.is_empty() {
        pieces.push(Piece::Literal(literal));
    }
    Ok(pieces)
}

/// The conversions of `fmt`, in order; what the checker matches arguments against.
pub fn validate_printf(fmt: &str) -> Result<Vec<ConvSpec>, FormatError> {
    Ok(parse_printf(fmt)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Conv(c) => Some(c),
            Piece::Literal(_) => None,
        })
        .collect())
}

/// Parse the conversion starting at the `%` at byte `start`.
fn parse_spec(fmt: &str, start: usize) -> Result<ConvSpec, FormatError> {
    let bytes = fmt.as_bytes();
    let mut i = start + 1;
    let mut flags = Flags::default();
    while let Some(&b) = bytes.get(i) {
        match b {
            b'-' => flags.left = true,
            b'0' => flags.zero = true,
            b'+' => flags.plus = true,
            b' ' => flags.space = true,
            b'#' => flags.alt = true,
            _ => break,
        }
        i += 1;
    }
    let width = parse_number(bytes, &mut i);
    let precision = if bytes.get(i) == Some(&b'.') {
        i += 1;
        Some(parse_number(bytes, &mut i).unwrap_or(0))
    } else {
        None
    };
    let length = parse_length(bytes, &mut i);
    let error = |end: usize, message: String| FormatError { range: start..end, message };
    let Some(&c) = bytes.get(i) else {
        return Err(error(i, "printf: incomplete conversion at the end of the format string".into()));
    };
    let conv = match c {
        b'd' | b'i' => Conversion::Signed,
        b'u' => Conversion::Unsigned,
        b'o' => Conversion::Octal,
        b'x' => Conversion::HexLower,
        b'X' => Conversion::HexUpper,
        b'c' => Conversion::Char,
        b's' => Conversion::Str,
        b'p' => Conversion::Pointer,
        _ => {
            // Step over a whole (possibly multi-byte) character for the range.
            let end = i + fmt[i..].chars().next().map_or(1, char::len_utf8);
            return Err(error(end, format!("printf: Unknown format string token: {}", &fmt[start..end])));
        }
    };
    if width.max(precision).unwrap_or(0) > MAX_WIDTH {
        return Err(error(i + 1, format!("printf: width or precision above {MAX_WIDTH} in {}", &fmt[start..i + 1])));
    }
    let length_ok = matches!(conv, Conversion::Signed | Conversion::Unsigned | Conversion::Octal
        | Conversion::HexLower | Conversion::HexUpper | Conversion::Pointer)
        || length == Length::Int;
    if !length_ok {
        return Err(error(i + 1, format!("printf: Unknown format string token: {}", &fmt[start..i + 1])));
    }
    Ok(ConvSpec { range: start..i + 1, flags, width, precision, length, conv })
}

fn parse_number(bytes: &[u8], i: &mut usize) -> Option<usize> {
    let begin = *i;
    let mut n: usize = 0;
    while let Some(d) = bytes.get(*i).filter(|b| b.is_ascii_digit()) {
        // Saturate: a width of 10^20 is silly, not a reason to panic.
        n = n.saturating_mul(10).saturating_add((d - b'0') as usize);
        *i += 1;
    }
    (*i > begin).then_some(n)
}

fn parse_length(bytes: &[u8], i: &mut usize) -> Length {
    let two = bytes.get(*i..*i + 2);
    if two == Some(b"hh") || two == Some(b"ll") {
        *i += 2;
        return if two == Some(b"hh") { Length::Char } else { Length::Long };
    }
    let length = match bytes.get(*i) {
        Some(b'h') => Length::Short,
        Some(b'l' | b'j' | b'z' | b't') => Length::Long,
        _ => return Length::Int,
    };
    *i += 1;
    length
}

/// Render `fmt` with `args` the way bpftrace's `printf` would.
///
/// Never fails: a format error is printed in place of the output, a missing
/// argument prints as nothing, and an argument of the wrong kind is shown in
/// its text form (the checker rejects both before a program runs).
pub fn format_printf(fmt: &str, args: &[Value]) -> String {
    let pieces = match parse_printf(fmt) {
        Ok(p) => p,
        Err(e) => return e.message,
    };
    let mut out: Vec<u8> = Vec::new();
    let mut args = args.iter();
    for piece in &pieces {
        match piece {
            Piece::Literal(text) => out.extend_from_slice(text.as_bytes()),
            Piece::Conv(spec) => {
                if let Some(arg) = args.next() {
                    format_one(&mut out, spec, arg);
                }
            }
        }
    }
    // `%c` and `%.Ns` work on bytes, as in C; show any broken UTF-8 as U+FFFD.
    String::from_utf8_lossy(&out).into_owned()
}

/// Render one argument under one conversion, appending to `out`.
pub fn format_one(out: &mut Vec<u8>, spec: &ConvSpec, arg: &Value) {
    match spec.conv {
        Conversion::Str => format_text(out, spec, super::text::value_text(arg).as_bytes()),
        Conversion::Char => match as_integer(arg) {
            Some(v) => {
                let spec = ConvSpec { precision: None, ..spec.clone() };
                format_text(out, &spec, &[v as u8]);
            }
            None => format_text(out, spec, super::text::value_text(arg).as_bytes()),
        },
        Conversion::Pointer => match as_integer(arg) {
            Some(0) => format_text(out, &ConvSpec { precision: None, ..spec.clone() }, b"(nil)"),
            Some(v) => {
                // glibc prints a pointer as `%#lx`, keeping `+` and ` `.
                let digits = format!("{v:x}");
                pad_number(out, spec, sign_of(false, spec.flags), "0x", &digits);
            }
            None => format_text(out, spec, super::text::value_text(arg).as_bytes()),
        },
        _ => match as_integer(arg) {
            Some(v) => format_integer(out, spec, v),
            None => format_text(out, spec, super::text::value_text(arg).as_bytes()),
        },
    }
}

/// The 64 bits an integer conversion receives, or `None` for text values.
fn as_integer(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => Some(*i as u64),
        Value::UInt(u) => Some(*u),
        Value::Bool(b) => Some(u64::from(*b)),
        _ => None,
    }
}

fn format_text(out: &mut Vec<u8>, spec: &ConvSpec, text: &[u8]) {
    let shown = match spec.precision {
        Some(p) if p < text.len() => &text[..p],
        _ => text,
    };
    let pad = spec.width.unwrap_or(0).saturating_sub(shown.len());
    if !spec.flags.left {
        out.resize(out.len() + pad, b' ');
    }
    out.extend_from_slice(shown);
    if spec.flags.left {
        out.resize(out.len() + pad, b' ');
    }
}

fn sign_of(negative: bool, flags: Flags) -> &'static str {
    if negative {
        "-"
    } else if flags.plus {
        "+"
    } else if flags.space {
        " "
    } else {
        ""
    }
}

fn format_integer(out: &mut Vec<u8>, spec: &ConvSpec, raw: u64) {
    let bits = spec.length.bits();
    let unsigned = if bits == 64 { raw } else { raw & ((1u64 << bits) - 1) };
    let (negative, magnitude) = if spec.conv == Conversion::Signed {
        // Sign-extend from the conversion's width, as C's argument promotion does.
        let shift = 64 - bits;
        let signed = ((unsigned << shift) as i64) >> shift;
        (signed < 0, signed.unsigned_abs())
    } else {
        (false, unsigned)
    };
    let mut digits = match spec.conv {
        Conversion::Octal => format!("{magnitude:o}"),
        Conversion::HexLower => format!("{magnitude:x}"),
        Conversion::HexUpper => format!("{magnitude:X}"),
        _ => magnitude.to_string(),
    };
    if spec.precision == Some(0) && magnitude == 0 {
        digits.clear();
    }
    let sign = if spec.conv == Conversion::Signed { sign_of(negative, spec.flags) } else { "" };
    let prefix = match spec.conv {
        Conversion::HexLower if spec.flags.alt && magnitude != 0 => "0x",
        Conversion::HexUpper if spec.flags.alt && magnitude != 0 => "0X",
        _ => "",
    };
    if spec.conv == Conversion::Octal && spec.flags.alt {
        // `#o` guarantees a leading zero, counted inside the precision.
        let precision = spec.precision.unwrap_or(0);
        if !digits.starts_with('0') && precision <= digits.len() {
            digits.insert(0, '0');
        }
    }
    pad_number(out, spec, sign, prefix, &digits);
}

/// Lay out `sign prefix zeros digits` within the width.
fn pad_number(out: &mut Vec<u8>, spec: &ConvSpec, sign: &str, prefix: &str, digits: &str) {
    let flags = spec.flags;
    let precision_zeros = spec.precision.unwrap_or(0).saturating_sub(digits.len());
    let body = sign.len() + prefix.len() + precision_zeros + digits.len();
    let pad = spec.width.unwrap_or(0).saturating_sub(body);
    // C ignores `0` when the field is left-justified or has a precision.
    let zero_pad = flags.zero && !flags.left && spec.precision.is_none();
    if !flags.left && !zero_pad {
        out.resize(out.len() + pad, b' ');
    }
    out.extend_from_slice(sign.as_bytes());
    out.extend_from_slice(prefix.as_bytes());
    if zero_pad {
        out.resize(out.len() + pad, b'0');
    }
    out.resize(out.len() + precision_zeros, b'0');
    out.extend_from_slice(digits.as_bytes());
    if flags.left {
        out.resize(out.len() + pad, b' ');
    }
}
