//! Format string → [`Format`]: the only printf parser.

use super::{BufferForm, ConvSpec, Conversion, Flags, Format, FormatError, Length, Piece, MAX_WIDTH};

impl Format {
    /// Split `fmt` into literal text and conversions, rejecting anything the
    /// renderer could not print.
    ///
    /// `%%` follows bpftrace 0.17, which hands each conversion with the text
    /// before it to `snprintf` but copies the text after the last conversion
    /// unchanged: `%%` prints `%` when a conversion follows it, and `%%`
    /// after the last conversion (or in a format without any).
    pub fn parse(fmt: &str) -> Result<Format, FormatError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut at = 0;
        let mut tail_start = 0;
        while at < fmt.len() {
            let Some(rel) = fmt[at..].find('%') else {
                literal.push_str(&fmt[at..]);
                break;
            };
            literal.push_str(&fmt[at..at + rel]);
            let start = at + rel;
            if fmt[start + 1..].starts_with('%') {
                literal.push('%');
                at = start + 2;
                continue;
            }
            let spec = parse_spec(fmt, start)?;
            at = spec.range.end;
            tail_start = at;
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(&mut literal)));
            }
            pieces.push(Piece::Conv(spec));
        }
        if !literal.is_empty() {
            // The tail holds no conversion (the loop checked), so copying it
            // as written only keeps its `%%` doubled, as bpftrace does.
            pieces.push(Piece::Literal(fmt[tail_start..].to_string()));
        }
        Ok(Format { text: fmt.to_string(), pieces })
    }
}

/// Parse the conversion starting at the `%` at byte `start`.
fn parse_spec(fmt: &str, start: usize) -> Result<ConvSpec, FormatError> {
    let bytes = fmt.as_bytes();
    let mut i = start + 1;
    let flags = parse_flags(bytes, &mut i);
    let width = parse_number(bytes, &mut i);
    let precision = if bytes.get(i) == Some(&b'.') {
        i += 1;
        Some(parse_number(bytes, &mut i).unwrap_or(0))
    } else {
        None
    };
    let length = parse_length(bytes, &mut i);
    let error = |end: usize, message: String| FormatError { range: start..end, message };
    let Some(c) = fmt[i..].chars().next() else {
        return Err(error(i, "incomplete conversion at the end of the format".into()));
    };
    let mut end = i + c.len_utf8();
    // `%r` takes an optional form letter: `%rx` (all hex), `%rh` (spaced hex).
    let buffer_form = match (c, bytes.get(end)) {
        ('r', Some(b'x')) => Some(BufferForm::Hex),
        ('r', Some(b'h')) => Some(BufferForm::SpacedHex),
        ('r', _) => Some(BufferForm::Escaped),
        _ => None,
    };
    if matches!(buffer_form, Some(BufferForm::Hex | BufferForm::SpacedHex)) {
        end += 1;
    }
    let spec = &fmt[start..end];
    let conv = match c {
        'd' | 'i' => Conversion::Signed,
        'u' => Conversion::Unsigned,
        'o' => Conversion::Octal,
        'x' => Conversion::HexLower,
        'X' => Conversion::HexUpper,
        'c' => Conversion::Char,
        's' => Conversion::Str,
        'p' => Conversion::Pointer,
        'r' => Conversion::Buffer(buffer_form.unwrap_or(BufferForm::Escaped)),
        _ => return Err(error(end, format!("unknown conversion '{spec}'"))),
    };
    if width.max(precision).unwrap_or(0) > MAX_WIDTH {
        return Err(error(end, format!("width or precision above {MAX_WIDTH} in '{spec}'")));
    }
    if length != Length::Int && !conv.takes_length() {
        return Err(error(end, format!("a length modifier cannot be used with %{c} ('{spec}')")));
    }
    Ok(ConvSpec { range: start..end, flags, width, precision, length, conv })
}

fn parse_flags(bytes: &[u8], i: &mut usize) -> Flags {
    let mut flags = Flags::default();
    while let Some(&b) = bytes.get(*i) {
        match b {
            b'-' => flags.left = true,
            b'0' => flags.zero = true,
            b'+' => flags.plus = true,
            b' ' => flags.space = true,
            b'#' => flags.alt = true,
            _ => break,
        }
        *i += 1;
    }
    flags
}

fn parse_number(bytes: &[u8], i: &mut usize) -> Option<usize> {
    let begin = *i;
    let mut n: usize = 0;
    while let Some(d) = bytes.get(*i).filter(|b| b.is_ascii_digit()) {
        // Saturate: a width of 10^20 is an error to report, not a panic.
        n = n.saturating_mul(10).saturating_add((d - b'0') as usize);
        *i += 1;
    }
    (*i > begin).then_some(n)
}

fn parse_length(bytes: &[u8], i: &mut usize) -> Length {
    let (length, len) = match bytes.get(*i..).unwrap_or(&[]) {
        [b'h', b'h', ..] => (Length::Char, 2),
        [b'l', b'l', ..] => (Length::Long, 2),
        [b'h', ..] => (Length::Short, 1),
        [b'l' | b'j' | b'z' | b't', ..] => (Length::Long, 1),
        _ => (Length::Int, 0),
    };
    *i += len;
    length
}
