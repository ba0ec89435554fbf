//! `printf(fmt, args…)`: the format string stays in userspace; the probe only
//! sends the argument values. The format is parsed once here, for the checker
//! (argument count and kinds) and for the runtime (rendering).

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

pub(crate) const FUNCS: &[FuncInfo] = &[FuncInfo {
    func: Func::Printf,
    name: "printf",
    min_args: 1,
    max_args: usize::MAX,
    role: FuncRole::Statement,
    signature: "printf(string format, args…)",
    doc: "formatted output: %d %i %u %x %X %o %c %p %s with flags, width, precision, hh/h/l/ll",
    unsupported: None,
}];

/// What kind of argument a conversion consumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// `%d %i %u %x %X %o %c %p`: integers (and pointers, booleans).
    Integer,
    /// `%s`: strings and values that print as text (addresses, probe names).
    Text,
}

/// `hh`, `h`, (none), `l`, `ll`, `j`, `z`, `t`: the width the value is
/// truncated to before printing, as C does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Length {
    Char,
    Short,
    Default,
    Long,
    LongLong,
    Max,
    Size,
    Ptrdiff,
}

/// One `%…` conversion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conversion {
    /// Flag characters as written (`-`, `0`, `+`, ` `, `#`).
    pub flags: String,
    pub width: Option<u32>,
    pub precision: Option<u32>,
    pub length: Length,
    /// The conversion character: one of `d i u x X o c p s`.
    pub conv: char,
    /// Byte range of the whole conversion in the format string.
    pub start: usize,
    pub end: usize,
}

impl Conversion {
    pub fn arg_kind(&self) -> ArgKind {
        if self.conv == 's' {
            ArgKind::Text
        } else {
            ArgKind::Integer
        }
    }

    pub fn is_signed(&self) -> bool {
        matches!(self.conv, 'd' | 'i')
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Literal text (`%%` already turned into `%`).
    Text(String),
    Conv(Conversion),
}

/// A format string error at byte `offset` of the format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    pub offset: usize,
    pub message: String,
}

/// Split a format string into text and conversions.
pub fn parse_format(fmt: &str) -> Result<Vec<Piece>, FormatError> {
    let bytes = fmt.as_bytes();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < bytes.len() {
        let Some(rel) = fmt[i..].find('%') else {
            text.push_str(&fmt[i..]);
            break;
        };
        text.push_str(&fmt[i..i + rel]);
        let start = i + rel;
        if bytes.get(start + 1) == Some(&b'%') {
            text.push('%');
            i = start + 2;
            continue;
        }
        let conv = parse_conversion(fmt, start)?;
        i = conv.end;
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Conv(conv));
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// The conversions only, in order.
pub fn conversions(fmt: &str) -> Result<Vec<Conversion>, FormatError> {
    Ok(parse_format(fmt)?
        .into_iter()
        .filter_map(|p| match p {
            Piece::Conv(c) => Some(c),
            Piece::Text(_) => None,
        })
        .collect())
}

fn parse_conversion(fmt: &str, start: usize) -> Result<Conversion, FormatError> {
    let bytes = fmt.as_bytes();
    let mut i = start + 1;
    let flags_start = i;
    while i < bytes.len() && b"-0+ #".contains(&bytes[i]) {
        i += 1;
    }
    let flags = fmt[flags_start..i].to_string();
    let (width, next) = digits(fmt, i);
    i = next;
    let mut precision = None;
    if bytes.get(i) == Some(&b'.') {
        let (p, next) = digits(fmt, i + 1);
        precision = Some(p.unwrap_or(0));
        i = next;
    }
    let (length, next) = length_modifier(fmt, i);
    i = next;
    let Some(conv) = fmt[i..].chars().next() else {
        return Err(FormatError { offset: start, message: "incomplete conversion at the end of the format".into() });
    };
    if !"diuxXocps".contains(conv) {
        let spec = &fmt[start..i + conv.len_utf8()];
        return Err(FormatError { offset: start, message: format!("unknown conversion '{spec}'") });
    }
    if conv == 's' && length != Length::Default {
        return Err(FormatError { offset: start, message: "a length modifier cannot be used with %s".into() });
    }
    Ok(Conversion { flags, width, precision, length, conv, start, end: i + conv.len_utf8() })
}

fn digits(fmt: &str, from: usize) -> (Option<u32>, usize) {
    let len = fmt[from..].bytes().take_while(u8::is_ascii_digit).count();
    let value = fmt[from..from + len].parse().ok();
    (value, from + len)
}

fn length_modifier(fmt: &str, at: usize) -> (Length, usize) {
    let rest = &fmt[at..];
    let table = [
        ("hh", Length::Char),
        ("h", Length::Short),
        ("ll", Length::LongLong),
        ("l", Length::Long),
        ("j", Length::Max),
        ("z", Length::Size),
        ("t", Length::Ptrdiff),
    ];
    for (text, len) in table {
        if rest.starts_with(text) {
            return (len, at + text.len());
        }
    }
    (Length::Default, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags_width_length() {
        let convs = conversions("%-10s %5d %08x %llu %hhu %% %p").unwrap();
        let summary: Vec<(String, Option<u32>, Length, char)> =
            convs.iter().map(|c| (c.flags.clone(), c.width, c.length, c.conv)).collect();
        assert_eq!(
            summary,
            vec![
                ("-".into(), Some(10), Length::Default, 's'),
                ("".into(), Some(5), Length::Default, 'd'),
                ("0".into(), Some(8), Length::Default, 'x'),
                ("".into(), None, Length::LongLong, 'u'),
                ("".into(), None, Length::Char, 'u'),
                ("".into(), None, Length::Default, 'p'),
            ]
        );
    }

    #[test]
    fn percent_percent_is_text() {
        assert_eq!(parse_format("100%% done\n").unwrap(), vec![Piece::Text("100% done\n".into())]);
    }

    #[test]
    fn rejects_unknown_and_incomplete() {
        assert_eq!(parse_format("a %q").unwrap_err().message, "unknown conversion '%q'");
        assert_eq!(parse_format("%5").unwrap_err().offset, 0);
        assert!(parse_format("%ls").is_err());
    }
}
