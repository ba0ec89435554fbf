//! Name matching shared by probe wildcards and "did you mean" hints:
//! `*`/`?` globs and a bounded edit distance.

/// Whether `text` matches `pattern`, where `*` matches any run of characters
/// (including none) and `?` exactly one. Everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    glob_match_bytes(pattern.as_bytes(), text.as_bytes())
}

/// [`glob_match`] on bytes: kernel names are ASCII, and this runs over ~60k
/// function names for one `kprobe:tcp_*`, so it must not allocate or decode.
pub fn glob_match_bytes(p: &[u8], t: &[u8]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it currently swallows up to.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || (p[pi] != b'*' && p[pi] == t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            // Let the last `*` swallow one more character and retry.
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

/// Whether `pattern` has any wildcard (a plain name can be looked up directly).
pub fn is_glob(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// Levenshtein distance between `a` and `b`, or `None` once it must exceed
/// `max` (cheap rejection: most candidates fail on length alone).
pub fn edit_distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        let mut row_min = cur[0];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
            row_min = row_min.min(cur[j + 1]);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= max).then_some(d)
}

/// Up to `limit` of `candidates` that look like a misspelling of `name`:
/// within an edit distance that grows with the name's length, or containing
/// it / contained in it (`ESTABLISHED` → `TCP_ESTABLISHED`). Closest first.
pub fn closest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    limit: usize,
) -> Vec<String> {
    let max = (name.chars().count() / 4).clamp(1, 3);
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter(|c| *c != name && !c.is_empty())
        .filter_map(|c| {
            if let Some(d) = edit_distance(name, c, max) {
                return Some((d, c));
            }
            let related = name.len() >= 3 && (c.contains(name) || name.contains(c) && c.len() >= 3);
            related.then(|| (max + 1 + c.len().abs_diff(name.len()), c))
        })
        .collect();
    scored.sort();
    scored.dedup();
    scored
        .into_iter()
        .take(limit)
        .map(|(_, c)| c.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("tcp_*", "tcp_sendmsg"));
        assert!(glob_match("tcp_*", "tcp_"));
        assert!(!glob_match("tcp_*", "udp_sendmsg"));
        assert!(glob_match("*sendmsg", "tcp_sendmsg"));
        assert!(glob_match("*send*", "inet_sendmsg_x"));
        assert!(glob_match("tcp_?endmsg", "tcp_sendmsg"));
        assert!(!glob_match("tcp_?endmsg", "tcp_endmsg"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a*b*c", "aXXbYYbc"));
        assert!(!glob_match("a*b*c", "aXXbYYb"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(is_glob("tcp_*") && is_glob("a?") && !is_glob("tcp_sendmsg"));
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("skc_daddr", "skc_daddr", 2), Some(0));
        assert_eq!(edit_distance("skc_dadr", "skc_daddr", 2), Some(1));
        assert_eq!(edit_distance("kitten", "sitting", 3), Some(3));
        assert_eq!(edit_distance("kitten", "sitting", 2), None);
        assert_eq!(edit_distance("a", "abcdef", 2), None);
    }

    #[test]
    fn closest_names() {
        let names = ["TCP_ESTABLISHED", "TCP_SYN_SENT", "TCP_CLOSE", "UDP_X"];
        assert_eq!(closest("TCP_ESTABLISHE", names, 5), vec!["TCP_ESTABLISHED"]);
        assert_eq!(closest("ESTABLISHED", names, 5), vec!["TCP_ESTABLISHED"]);
        assert_eq!(closest("TCP_CLOSED", names, 5), vec!["TCP_CLOSE"]);
        assert!(closest("zzz", names, 5).is_empty());
    }
}
