//! The user-space parts of attach points: where in a binary a uprobe goes
//! (`FUNC`, `FUNC+OFF`, `0xADDR`) and a USDT probe site as read from the
//! binary's `.note.stapsdt` notes (address, semaphore, argument specs).
//! Pure data: the checker fills in the sites (through
//! `crate::kernel::HostFacts`), code generation reads the argument specs,
//! the runtime turns addresses into file offsets and attaches.

/// Where in the binary a `uprobe:`/`uretprobe:` fires.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UserTarget {
    /// A function symbol (a glob before expansion) and a byte offset into it.
    Function { name: String, offset: u64 },
    /// A virtual address as the ELF file gives it (`uprobe:BIN:0x1234`).
    Address(u64),
}

impl UserTarget {
    /// As written in a canonical attach point: `f`, `f+8`, `0x1234`.
    pub fn text(&self) -> String {
        match self {
            UserTarget::Function { name, offset: 0 } => name.clone(),
            UserTarget::Function { name, offset } => format!("{name}+{offset}"),
            UserTarget::Address(a) => format!("{a:#x}"),
        }
    }
}

/// One place a USDT probe is compiled in (a probe may have several).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UsdtSite {
    /// The probe's virtual address in the ELF file, prelink-adjusted.
    pub address: u64,
    /// The semaphore's virtual address, 0 when the probe has none.
    pub semaphore: u64,
    pub args: Vec<UsdtArg>,
}

/// One argument of a USDT probe, from a spec like `-4@%edi`, `8@-16(%rbp)`
/// or `4@$5`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UsdtArg {
    /// 1, 2, 4 or 8 bytes.
    pub size: u8,
    pub signed: bool,
    pub location: UsdtLocation,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UsdtLocation {
    /// `$N`: a constant.
    Constant(i64),
    /// `%reg`: a register, named as the assembler writes it (`edi`, `rax`).
    Register(String),
    /// `OFF(%reg)`: memory at the register's value plus an offset;
    /// `OFF(%reg,%index,SCALE)`: plus the index register times the scale.
    Memory { register: String, offset: i64, index: Option<(String, u8)> },
}

/// Parses one argument spec (`-4@%edi`, `8@-16(%rbp)`, `8@8(%rax,%rbx,4)`,
/// `4@$5`), the shapes GCC's `asm` operands give on x86-64 (a base register
/// is required).
pub fn parse_usdt_arg(spec: &str) -> Result<UsdtArg, String> {
    let bad = || format!("unsupported USDT argument spec '{spec}'");
    let (size, loc) = match spec.split_once('@') {
        Some((n, loc)) => (n.parse::<i8>().map_err(|_| bad())?, loc),
        // No size: systemtap means a long.
        None => (8, spec),
    };
    let signed = size < 0;
    let size = size.unsigned_abs();
    if ![1, 2, 4, 8].contains(&size) {
        return Err(bad());
    }
    let location = if let Some(n) = loc.strip_prefix('$') {
        UsdtLocation::Constant(parse_signed(n).ok_or_else(bad)?)
    } else if let Some(reg) = loc.strip_prefix('%') {
        UsdtLocation::Register(reg.to_string())
    } else if let Some((off, rest)) = loc.split_once('(') {
        let inner = rest.strip_suffix(')').ok_or_else(bad)?;
        let mut parts = inner.split(',');
        let register = parts.next().and_then(|r| r.strip_prefix('%')).filter(|r| !r.is_empty()).ok_or_else(bad)?;
        let index = match (parts.next(), parts.next(), parts.next()) {
            (None, _, _) => None,
            (Some(index), scale, None) => {
                let index = index.strip_prefix('%').ok_or_else(bad)?;
                let scale = match scale {
                    None => 1,
                    Some(s) => s.parse::<u8>().ok().filter(|s| [1, 2, 4, 8].contains(s)).ok_or_else(bad)?,
                };
                Some((index.to_string(), scale))
            }
            _ => return Err(bad()),
        };
        let offset = if off.is_empty() { 0 } else { parse_signed(off).ok_or_else(bad)? };
        UsdtLocation::Memory { register: register.to_string(), offset, index }
    } else {
        return Err(bad());
    };
    Ok(UsdtArg { size, signed, location })
}

fn parse_signed(text: &str) -> Option<i64> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    let value = match digits.strip_prefix("0x") {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<i64>().ok()?,
    };
    Some(if neg { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argument_specs() {
        let arg = |s| parse_usdt_arg(s).unwrap();
        assert_eq!(arg("-4@%edi"), UsdtArg { size: 4, signed: true, location: UsdtLocation::Register("edi".into()) });
        assert_eq!(
            arg("8@-16(%rbp)"),
            UsdtArg { size: 8, signed: false, location: UsdtLocation::Memory { register: "rbp".into(), offset: -16, index: None } }
        );
        assert_eq!(arg("2@(%rax)").location, UsdtLocation::Memory { register: "rax".into(), offset: 0, index: None });
        assert_eq!(
            arg("-4@8(%rax,%rbx,4)").location,
            UsdtLocation::Memory { register: "rax".into(), offset: 8, index: Some(("rbx".into(), 4)) }
        );
        assert_eq!(arg("-8@$-5").location, UsdtLocation::Constant(-5));
        assert_eq!(arg("4@$0x10").location, UsdtLocation::Constant(16));
        assert!(parse_usdt_arg("8@(%rax,%rbx,3)").is_err());
        assert!(parse_usdt_arg("8@(,%rbx,8)").is_err());
        assert!(parse_usdt_arg("3@%eax").is_err());
    }

    #[test]
    fn target_text() {
        assert_eq!(UserTarget::Function { name: "f".into(), offset: 8 }.text(), "f+8");
        assert_eq!(UserTarget::Address(0x1234).text(), "0x1234");
    }
}
