//! `/proc/PID/maps`: which file each user address is mapped from.

/// One file-backed mapping.
#[derive(Clone, Debug, PartialEq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    /// Offset in the file of the byte at `start`.
    pub offset: u64,
    pub path: String,
}

/// The file-backed mappings of a maps listing (`[heap]`, `[vdso]` and
/// anonymous ones left out: no ELF file to read symbols from).
pub fn parse(text: &str) -> Vec<Mapping> {
    text.lines().filter_map(line).collect()
}

/// `7f1c2a000000-7f1c2a028000 r--p 00000000 08:01 1234  /usr/lib/libc.so.6`
fn line(l: &str) -> Option<Mapping> {
    let mut parts = l.splitn(6, ' ');
    let (range, _perms, offset, _dev, _inode) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let path = parts.next()?.trim_start();
    if !path.starts_with('/') {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        offset: u64::from_str_radix(offset, 16).ok()?,
        // A file replaced since it was mapped still resolves through it.
        path: path.trim_end_matches(" (deleted)").to_string(),
    })
}

/// The mapping holding `addr`.
pub fn find(maps: &[Mapping], addr: u64) -> Option<&Mapping> {
    maps.iter().find(|m| (m.start..m.end).contains(&addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_backed_mappings_only() {
        let text = "\
5640b2b5b000-5640b2b5c000 r--p 00000000 08:01 131 /tmp/busy
5640b2b5c000-5640b2b5d000 r-xp 00001000 08:01 131 /tmp/busy
5640b3000000-5640b3021000 rw-p 00000000 00:00 0                          [heap]
7ff275100000-7ff275126000 r-xp 00026000 08:01 77                         /usr/lib/x86_64-linux-gnu/libc.so.6
7ff275200000-7ff275201000 rw-p 00000000 00:00 0 
";
        let maps = parse(text);
        assert_eq!(maps.len(), 3);
        assert_eq!(maps[1], Mapping { start: 0x5640b2b5c000, end: 0x5640b2b5d000, offset: 0x1000, path: "/tmp/busy".into() });
        assert_eq!(find(&maps, 0x7ff275116829).map(|m| m.path.as_str()), Some("/usr/lib/x86_64-linux-gnu/libc.so.6"));
        assert_eq!(find(&maps, 0x5640b3000010), None);
    }
}
