//! One conversion applied to one primitive value, with C `printf` semantics
//! (bpftrace hands each piece to glibc's `snprintf`). The runtime decides
//! which primitive a decoded value is; what the flags, width, precision and
//! length do to it is written here, next to the parser that accepted them.
//!
//! Integers follow C's argument rules, not the value's width: a bare `%d`
//! reads an `int`, so bpftrace prints the low 32 bits of a 64-bit value
//! (`printf("%d", 0x200000005)` prints `5`); `%ld`/`%lld` print all 64.

use super::{ConvSpec, Conversion, Flags};

impl ConvSpec {
    /// Append the 64 bits of an integer argument under `%d %i %u %o %x %X %c %p`.
    pub fn write_integer(&self, out: &mut Vec<u8>, raw: u64) {
        // C ignores the precision of `%c` and of `%p`'s `(nil)`.
        let no_precision = || ConvSpec { precision: None, ..self.clone() };
        match self.conv {
            Conversion::Char => no_precision().write_text(out, &[raw as u8]),
            Conversion::Pointer if raw == 0 => no_precision().write_text(out, b"(nil)"),
            // glibc prints a pointer as `%#lx`, keeping `+` and ` `.
            Conversion::Pointer => pad_number(out, self, sign_of(false, self.flags), "0x", &format!("{raw:x}")),
            Conversion::Str => self.write_text(out, raw.to_string().as_bytes()),
            _ => self.write_number(out, raw),
        }
    }

    /// Append a text argument under `%s` (bytes, as C counts the precision).
    pub fn write_text(&self, out: &mut Vec<u8>, text: &[u8]) {
        let shown = match self.precision {
            Some(p) if p < text.len() => &text[..p],
            _ => text,
        };
        let pad = self.width.unwrap_or(0).saturating_sub(shown.len());
        if !self.flags.left {
            out.resize(out.len() + pad, b' ');
        }
        out.extend_from_slice(shown);
        if self.flags.left {
            out.resize(out.len() + pad, b' ');
        }
    }

    fn write_number(&self, out: &mut Vec<u8>, raw: u64) {
        let bits = self.length.bits();
        let unsigned = if bits == 64 { raw } else { raw & ((1u64 << bits) - 1) };
        let signed_conv = self.conv == Conversion::Signed;
        let (negative, magnitude) = if signed_conv {
            // Sign-extend from the conversion's width, as C's argument promotion does.
            let shift = 64 - bits;
            let signed = ((unsigned << shift) as i64) >> shift;
            (signed < 0, signed.unsigned_abs())
        } else {
            (false, unsigned)
        };
        let mut digits = match self.conv {
            Conversion::Octal => format!("{magnitude:o}"),
            Conversion::HexLower => format!("{magnitude:x}"),
            Conversion::HexUpper => format!("{magnitude:X}"),
            _ => magnitude.to_string(),
        };
        if self.precision == Some(0) && magnitude == 0 {
            digits.clear();
        }
        let sign = if signed_conv { sign_of(negative, self.flags) } else { "" };
        let prefix = match self.conv {
            Conversion::HexLower if self.flags.alt && magnitude != 0 => "0x",
            Conversion::HexUpper if self.flags.alt && magnitude != 0 => "0X",
            _ => "",
        };
        if self.conv == Conversion::Octal && self.flags.alt {
            // `#o` guarantees a leading zero, counted inside the precision.
            let precision = self.precision.unwrap_or(0);
            if !digits.starts_with('0') && precision <= digits.len() {
                digits.insert(0, '0');
            }
        }
        pad_number(out, self, sign, prefix, &digits);
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
