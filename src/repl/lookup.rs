//! A bare `@m[k]` with literal keys, answered in userspace. Statements
//! otherwise run in the kernel, but there a read of an aggregation sees
//! only the running CPU's share of a per-CPU map; the snapshot sums every
//! CPU, so the entry is picked out of it by comparing decoded keys with the
//! typed literals.

use flowtrace_runtime::values::{MapSnapshot, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Literal {
    Int(i128),
    Str(String),
}

fn int(text: &str) -> Option<i128> {
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, text),
    };
    let value = match digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        Some(hex) => i128::from_str_radix(hex, 16).ok()?,
        None => digits.parse::<i128>().ok()?,
    };
    Some(if neg { -value } else { value })
}

fn string(text: &str) -> Option<String> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                c @ ('\\' | '"') => out.push(c),
                _ => return None,
            },
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Splits at commas outside strings.
fn split_keys(inner: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut in_str, mut escaped) = (0, false, false);
    for (i, c) in inner.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_str => escaped = true,
            '"' => in_str = !in_str,
            ',' if !in_str => {
                parts.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(inner[start..].trim());
    parts
}

/// `@name[lit, …]` (a trailing `;` allowed): the name without `@` and the
/// keys; `None` for anything else.
pub fn literal_lookup(text: &str) -> Option<(String, Vec<Literal>)> {
    let t = text.trim().trim_end_matches(';').trim_end();
    let rest = t.strip_prefix('@')?;
    let open = rest.find('[')?;
    let name = &rest[..open];
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let inner = rest[open + 1..].strip_suffix(']')?;
    let keys = split_keys(inner)
        .into_iter()
        .map(|k| int(k).map(Literal::Int).or_else(|| string(k).map(Literal::Str)))
        .collect::<Option<Vec<_>>>()?;
    Some((name.to_string(), keys))
}

fn value_is(v: &Value, lit: &Literal) -> bool {
    match (v, lit) {
        (Value::Int(i), Literal::Int(l)) => i128::from(*i) == *l,
        (Value::UInt(u), Literal::Int(l)) => i128::from(*u) == *l,
        (Value::Bool(b), Literal::Int(l)) => i128::from(*b) == *l,
        (Value::Str(s), Literal::Str(l)) => s == l,
        _ => false,
    }
}

pub fn key_matches(key: &Option<Value>, lits: &[Literal]) -> bool {
    match (key, lits) {
        (Some(Value::Tuple(items)), _) if lits.len() > 1 => {
            items.len() == lits.len() && items.iter().zip(lits).all(|(v, l)| value_is(v, l))
        }
        (Some(v), [lit]) => value_is(v, lit),
        _ => false,
    }
}

/// The snapshot with only the entry for `lits`.
pub fn pick(mut snapshot: MapSnapshot, lits: &[Literal]) -> MapSnapshot {
    snapshot.entries.retain(|e| key_matches(&e.key, lits));
    snapshot
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtrace_runtime::values::{AggValue, MapEntry};

    #[test]
    fn literal_keys_parse() {
        assert_eq!(literal_lookup("@s[1, 4]"), Some(("s".into(), vec![Literal::Int(1), Literal::Int(4)])));
        assert_eq!(literal_lookup(" @c[\"a,b\\\"\"]; "), Some(("c".into(), vec![Literal::Str("a,b\"".into())])));
        assert_eq!(literal_lookup("@x[-3, 0x10]"), Some(("x".into(), vec![Literal::Int(-3), Literal::Int(16)])));
        assert_eq!(literal_lookup("@m[pid]"), None, "not a literal");
        assert_eq!(literal_lookup("@m"), None);
        assert_eq!(literal_lookup("@m[1] = 2"), None);
        assert_eq!(literal_lookup("print(@m[1])"), None);
    }

    #[test]
    fn entries_are_picked_by_decoded_key() {
        let entry = |key, n| MapEntry { key: Some(key), value: AggValue::Count(n) };
        let mut entries = vec![
            entry(Value::Tuple(vec![Value::Int(1), Value::Int(4)]), 10),
            entry(Value::Tuple(vec![Value::Int(4), Value::Int(1)]), 3),
        ];
        let keys = [Literal::Int(1), Literal::Int(4)];
        entries.retain(|e| key_matches(&e.key, &keys));
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].value, AggValue::Count(10));
        assert!(key_matches(&Some(Value::Str("sshd".into())), &[Literal::Str("sshd".into())]));
        assert!(key_matches(&Some(Value::UInt(7)), &[Literal::Int(7)]));
        assert!(!key_matches(&Some(Value::UInt(7)), &[Literal::Int(7), Literal::Int(1)]));
        assert!(!key_matches(&None, &[Literal::Int(7)]));
    }
}
