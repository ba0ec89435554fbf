//! Kernel symbols from /proc/kallsyms: parsed once, sorted by address, and
//! looked up by binary search (the kernel's own list is not sorted across
//! modules). Loaded only when a script prints a kernel stack or `ksym()`.

/// A sorted table of (address, name).
#[derive(Debug, Default)]
pub struct Kallsyms {
    symbols: Vec<(u64, String)>,
}

impl Kallsyms {
    /// Reads /proc/kallsyms. An unprivileged reader sees every address as
    /// zero: that table is empty, and every address prints as hex.
    pub fn load() -> std::io::Result<Kallsyms> {
        Ok(Kallsyms::parse(&std::fs::read_to_string("/proc/kallsyms")?))
    }

    /// `ffffffff81000000 T _stext` lines, modules' with `\t[module]` after
    /// the name. Zero addresses and lines that do not parse are skipped.
    pub fn parse(text: &str) -> Kallsyms {
        let mut symbols: Vec<(u64, String)> = text
            .lines()
            .filter_map(|line| {
                let mut parts = line.split_whitespace();
                let addr = u64::from_str_radix(parts.next()?, 16).ok().filter(|a| *a != 0)?;
                let kind = parts.next()?;
                let name = parts.next()?;
                // Absolute symbols (`A`, per-CPU offsets) are not code: they
                // would shadow the functions at low addresses.
                (!kind.eq_ignore_ascii_case("a")).then(|| (addr, name.to_string()))
            })
            .collect();
        symbols.sort_by_key(|(addr, _)| *addr);
        Kallsyms { symbols }
    }

    /// The symbol at or before `addr` and the offset into it.
    pub fn lookup(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self.symbols.partition_point(|(a, _)| *a <= addr);
        let (start, name) = self.symbols.get(i.checked_sub(1)?)?;
        Some((name.as_str(), addr - start))
    }

    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
ffffffff82094eb0 T tcp_v4_rcv
0000000000000000 A fixed_percpu_data
ffffffff81e94f80 T sk_skb_reason_drop
ffffffff81e95100 t kfree_skb_list_reason
ffffffffc0a01000 t nf_ct_delete\t[nf_conntrack]
ffffffff81000000 T _stext
garbage
";

    #[test]
    fn lookups_find_the_symbol_holding_the_address() {
        let k = Kallsyms::parse(SAMPLE);
        assert_eq!(k.lookup(0xffffffff81e95010), Some(("sk_skb_reason_drop", 144)));
        assert_eq!(k.lookup(0xffffffff82094f49), Some(("tcp_v4_rcv", 153)));
        assert_eq!(k.lookup(0xffffffff81e95100), Some(("kfree_skb_list_reason", 0)));
        assert_eq!(k.lookup(0xffffffffc0a01004), Some(("nf_ct_delete", 4)));
        assert_eq!(k.lookup(0xffffffff80ffffff), None);
        assert_eq!(k.lookup(0), None);
    }

    #[test]
    fn zero_addresses_make_an_empty_table() {
        let k = Kallsyms::parse("0000000000000000 T tcp_v4_rcv\n0000000000000000 t x\n");
        assert!(k.is_empty());
        assert_eq!(k.lookup(0xffffffff82094f49), None);
    }
}
