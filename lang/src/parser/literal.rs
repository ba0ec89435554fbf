//! Integer and string literals, decoded the way bpftrace reads them.
//!
//! Integers: decimal, `0x`/`0X` hex, `0b`/`0B` binary, C-style octal with a
//! leading `0` (`0755`; `08` stays decimal, as in bpftrace), `_` separators
//! anywhere after the first digit, scientific `<1-9>e<N>` (integers only),
//! C suffixes `u ul ull l ll` (any case; they only bound the value) and the
//! duration suffixes `ns us ms s m h d`, which scale the value to nanoseconds.
//!
//! Strings: `\n \t \r \\ \"`, octal `\N`…`\NNN` and hex `\xN`/`\xNN`.

use crate::span::Span;

/// A decoding error: a message and the byte range, relative to the literal,
/// that it is about.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LitError {
    pub message: String,
    pub hint: Option<String>,
    pub at: Option<(usize, usize)>,
}

impl LitError {
    fn new(message: String) -> LitError {
        LitError { message, hint: None, at: None }
    }

    /// The error's span inside a literal that starts at `lit`.
    pub fn span_in(&self, lit: Span) -> Span {
        match self.at {
            Some((s, e)) => Span::new(lit.start as usize + s, lit.start as usize + e),
            None => lit,
        }
    }
}

/// Upper bound and nanosecond multiplier of each suffix.
fn suffix_rule(suffix: &str) -> Option<(u64, u64)> {
    let lower = suffix.to_ascii_lowercase();
    let int_rule = match lower.as_str() {
        "" | "ul" | "ull" => Some((u64::MAX, 1)),
        "u" => Some((u32::MAX as u64, 1)),
        "l" | "ll" => Some((i64::MAX as u64, 1)),
        _ => None,
    };
    int_rule.or(match suffix {
        "ns" => Some((u64::MAX, 1)),
        "us" => Some((u64::MAX, 1_000)),
        "ms" => Some((u64::MAX, 1_000_000)),
        "s" => Some((u64::MAX, 1_000_000_000)),
        "m" => Some((u64::MAX, 60_000_000_000)),
        "h" => Some((u64::MAX, 3_600_000_000_000)),
        "d" => Some((u64::MAX, 86_400_000_000_000)),
        _ => None,
    })
}

/// Decode an integer literal as written (`0x1f`, `1_000`, `1e6`, `10ms`).
pub(crate) fn parse_int(text: &str) -> Result<u64, LitError> {
    let digits: String = text.chars().filter(|&c| c != '_').collect();
    let (radix, body) = match digits.as_bytes() {
        [b'0', b'x' | b'X', ..] => (16, &digits[2..]),
        [b'0', b'b' | b'B', ..] => (2, &digits[2..]),
        [b'0', b'0'..=b'7', ..] => (8, &digits[1..]),
        _ => (10, digits.as_str()),
    };
    let end = body.find(|c: char| !c.is_digit(radix)).unwrap_or(body.len());
    if end == 0 {
        return Err(LitError::new(format!("invalid integer literal '{text}'")));
    }
    let too_big = || LitError::new(format!("integer literal '{text}' does not fit in 64 bits"));
    let mut value = u64::from_str_radix(&body[..end], radix).map_err(|_| too_big())?;
    let mut rest = &body[end..];
    if radix == 10 {
        if let Some((scaled, after)) = scientific(value, rest, text)? {
            value = scaled;
            rest = after;
        }
    }
    let Some((max, scale)) = suffix_rule(rest) else {
        return Err(LitError {
            hint: Some("integer suffixes are u, l, ul, ll, ull and the durations ns, us, ms, s, m, h, d".into()),
            ..LitError::new(format!("invalid suffix '{rest}' on integer literal '{text}'"))
        });
    };
    if value > max / scale {
        return Err(LitError::new(format!("integer literal '{text}' is out of range (at most {})", max / scale)));
    }
    Ok(value * scale)
}

/// `<m>e<n>`: `m` must be 1…9 and the result an integer that fits.
fn scientific<'t>(coefficient: u64, rest: &'t str, text: &str) -> Result<Option<(u64, &'t str)>, LitError> {
    let bytes = rest.as_bytes();
    if !(matches!(bytes.first(), Some(b'e' | b'E')) && matches!(bytes.get(1), Some(b'1'..=b'9'))) {
        return Ok(None);
    }
    if !(1..=9).contains(&coefficient) {
        return Err(LitError::new(format!(
            "the coefficient of scientific literal '{text}' must be 1-9"
        )));
    }
    let exp_end = rest[1..].find(|c: char| !c.is_ascii_digit()).map_or(rest.len(), |i| i + 1);
    let too_big = || LitError::new(format!("integer literal '{text}' does not fit in 64 bits"));
    let exponent: u32 = rest[1..exp_end].parse().map_err(|_| too_big())?;
    let value = 10u64.checked_pow(exponent).and_then(|p| p.checked_mul(coefficient)).ok_or_else(too_big)?;
    Ok(Some((value, &rest[exp_end..])))
}

/// Decode the body of a string literal (between the quotes).
pub(crate) fn parse_string(body: &str) -> Result<String, LitError> {
    let mut out = String::with_capacity(body.len());
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some((_, esc)) = chars.next() else {
            return Err(escape_error(i, i + 1, "'\\' at the end of a string".into()));
        };
        let decoded = match esc {
            'n' => '\n',
            't' => '\t',
            'r' => '\r',
            '\\' => '\\',
            '"' => '"',
            '0'..='7' => {
                let mut digits = String::from(esc);
                while digits.len() < 3 && chars.peek().is_some_and(|(_, d)| matches!(d, '0'..='7')) {
                    digits.push(chars.next().map_or('0', |(_, d)| d));
                }
                let end = i + 1 + digits.len();
                let value = u32::from_str_radix(&digits, 8).unwrap_or(u32::MAX);
                byte_char(value, i, end, &body[i..end])?
            }
            'x' | 'X' => {
                let mut digits = String::new();
                while digits.len() < 2 && chars.peek().is_some_and(|(_, d)| d.is_ascii_hexdigit()) {
                    digits.push(chars.next().map_or('0', |(_, d)| d));
                }
                let end = i + 2 + digits.len();
                if digits.is_empty() {
                    return Err(escape_error(i, end, "'\\x' needs one or two hex digits".into()));
                }
                let value = u32::from_str_radix(&digits, 16).unwrap_or(u32::MAX);
                byte_char(value, i, end, &body[i..end])?
            }
            other => {
                let end = i + 1 + other.len_utf8();
                return Err(LitError {
                    hint: Some("supported escapes: \\n \\t \\r \\\\ \\\" \\NNN (octal) \\xNN (hex)".into()),
                    ..escape_error(i, end, format!("unknown escape sequence '\\{other}'"))
                });
            }
        };
        out.push(decoded);
    }
    Ok(out)
}

fn escape_error(start: usize, end: usize, message: String) -> LitError {
    // +1: the offsets are inside the body, the span starts at the quote.
    LitError { message, hint: None, at: Some((start + 1, end + 1)) }
}

/// Strings are UTF-8 text (the AST holds a `String`), so a byte escape must
/// be ASCII: `\xff` would otherwise silently become two bytes.
fn byte_char(value: u32, start: usize, end: usize, written: &str) -> Result<char, LitError> {
    if value > 0x7f {
        return Err(LitError {
            hint: Some("escapes must be ASCII (at most \\x7f or \\177)".into()),
            ..escape_error(start, end, format!("escape '{written}' is not an ASCII character"))
        });
    }
    Ok(char::from(value as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_every_base() {
        assert_eq!(parse_int("42"), Ok(42));
        assert_eq!(parse_int("0x1F"), Ok(31));
        assert_eq!(parse_int("0b101"), Ok(5));
        assert_eq!(parse_int("0755"), Ok(0o755));
        assert_eq!(parse_int("08"), Ok(8));
        assert_eq!(parse_int("0"), Ok(0));
        assert_eq!(parse_int("1_000_000"), Ok(1_000_000));
        assert_eq!(parse_int("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn suffixes_and_scientific() {
        assert_eq!(parse_int("123UL"), Ok(123));
        assert_eq!(parse_int("7u"), Ok(7));
        assert_eq!(parse_int("1e6"), Ok(1_000_000));
        assert_eq!(parse_int("2E3"), Ok(2000));
        assert_eq!(parse_int("10ms"), Ok(10_000_000));
        assert_eq!(parse_int("1m"), Ok(60_000_000_000));
        assert_eq!(parse_int("1s"), Ok(1_000_000_000));
    }

    #[test]
    fn integer_errors() {
        assert!(parse_int("18446744073709551616").unwrap_err().message.contains("does not fit"));
        assert!(parse_int("4294967296u").unwrap_err().message.contains("out of range"));
        assert!(parse_int("12abc").unwrap_err().message.contains("invalid suffix 'abc'"));
        assert!(parse_int("10e3").unwrap_err().message.contains("coefficient"));
        assert!(parse_int("1e30").unwrap_err().message.contains("does not fit"));
        assert!(parse_int("0x").unwrap_err().message.contains("invalid integer"));
        assert!(parse_int("20000000d").unwrap_err().message.contains("out of range"));
    }

    #[test]
    fn string_escapes() {
        assert_eq!(parse_string(r#"a\tb\n\\\"\r"#), Ok("a\tb\n\\\"\r".to_string()));
        assert_eq!(parse_string(r"\0\101\x41\x9"), Ok("\0AA\t".to_string()));
        let e = parse_string(r"ab\q").unwrap_err();
        assert_eq!((e.message.as_str(), e.at), ("unknown escape sequence '\\q'", Some((3, 5))));
        assert!(parse_string(r"\xff").unwrap_err().message.contains("not an ASCII"));
        assert!(parse_string(r"\x").unwrap_err().message.contains("hex digits"));
    }
}
