//! A bare `@m[k]` with constant keys, answered in userspace. Statements
//! otherwise run in the kernel, but there a read of an aggregation sees
//! only the running CPU's share of a per-CPU map; the session's snapshot
//! sums every CPU, so the entry is picked out of it. The keys are what the
//! front end made of the typed text (`0b1`, `1_000`, `"x"`, a tuple):
//! constants of the checked program, compared with the decoded keys.

use flowtrace_lang::typed::{MapId, TExpr, TExprKind, TProbe, TStmtKind};
use flowtrace_runtime::values::{MapSnapshot, Value};

/// A key the checker reduced to a constant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Constant {
    /// The bits of an integer (negative values sign-extended).
    Int(u64),
    Str(String),
    Tuple(Vec<Constant>),
}

/// One `print(@m[k])` a bare `@m[k]` became, with `k` constant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lookup {
    pub map: MapId,
    pub key: Constant,
}

fn constant(e: &TExpr) -> Option<Constant> {
    match &e.kind {
        TExprKind::Int(bits) => Some(Constant::Int(*bits)),
        TExprKind::Str(s) => Some(Constant::Str(s.clone())),
        TExprKind::Cast { expr } => constant(expr),
        TExprKind::Unary { op: flowtrace_lang::ast::UnOp::Neg, expr } => match constant(expr)? {
            Constant::Int(bits) => Some(Constant::Int(bits.wrapping_neg())),
            _ => None,
        },
        TExprKind::Tuple(items) => items.iter().map(constant).collect::<Option<_>>().map(Constant::Tuple),
        _ => None,
    }
}

/// The lookups of the one-shot probe a statement entry became, if every
/// statement is a keyed map read with constant keys.
pub fn lookups(probe: &TProbe) -> Option<Vec<Lookup>> {
    probe
        .body
        .iter()
        .map(|stmt| match &stmt.kind {
            TStmtKind::PrintValue { value } => map_read(value),
            _ => None,
        })
        .collect()
}

/// `@m[k]` with a constant `k`, under the conversions the checker added
/// (an aggregation is printed as its integer value).
fn map_read(e: &TExpr) -> Option<Lookup> {
    match &e.kind {
        TExprKind::MapRead { map, key: Some(key) } => Some(Lookup { map: *map, key: constant(key)? }),
        TExprKind::Cast { expr } => map_read(expr),
        _ => None,
    }
}

fn matches(v: &Value, c: &Constant) -> bool {
    match (v, c) {
        (Value::Int(i), Constant::Int(bits)) => *i as u64 == *bits,
        (Value::UInt(u), Constant::Int(bits)) => u == bits,
        (Value::Bool(b), Constant::Int(bits)) => u64::from(*b) == *bits,
        (Value::Str(s), Constant::Str(c)) => s == c,
        (Value::Tuple(items), Constant::Tuple(cs)) => items.len() == cs.len() && items.iter().zip(cs).all(|(v, c)| matches(v, c)),
        _ => false,
    }
}

/// The snapshot with only the entry for `key`.
pub fn pick(mut snapshot: MapSnapshot, key: &Constant) -> MapSnapshot {
    snapshot.entries.retain(|e| e.key.as_ref().is_some_and(|k| matches(k, key)));
    snapshot
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtrace_lang::kernel::{EnumConstant, FuncProto, KernelTypes, Member, TracepointField, TypeKeyword};
    use flowtrace_lang::types::{RecordType, Type};
    use flowtrace_lang::{CheckOptions, Source};
    use flowtrace_runtime::values::{AggValue, MapEntry};

    #[test]
    fn entries_are_picked_by_decoded_key() {
        let entry = |key, n| MapEntry { key: Some(key), value: AggValue::Count(n) };
        let snapshot = MapSnapshot {
            name: "@s".into(),
            entries: vec![
                entry(Value::Tuple(vec![Value::Int(1), Value::Int(4)]), 10),
                entry(Value::Tuple(vec![Value::Int(4), Value::Int(1)]), 3),
            ],
            dropped_updates: 0,
            evicted: 0,
            max_entries: 10,
            kind: flowtrace_runtime::values::ValueKind::Count,
            keyless: false,
        };
        let picked = pick(snapshot, &Constant::Tuple(vec![Constant::Int(1), Constant::Int(4)]));
        assert_eq!(picked.entries.len(), 1);
        assert_eq!(picked.entries[0].value, AggValue::Count(10));
        assert!(matches(&Value::Str("sshd".into()), &Constant::Str("sshd".into())));
        assert!(matches(&Value::UInt(7), &Constant::Int(7)));
        assert!(matches(&Value::Int(-3), &Constant::Int(-3i64 as u64)));
        assert!(!matches(&Value::UInt(7), &Constant::Tuple(vec![Constant::Int(7), Constant::Int(1)])));
    }

    /// Enough of a kernel for `BEGIN` probes, which need no kernel types.
    struct NoKernel;

    impl KernelTypes for NoKernel {
        fn find_type(&self, _: TypeKeyword, _: &str) -> Option<Type> {
            None
        }
        fn member(&self, _: &RecordType, _: &str) -> Option<Member> {
            None
        }
        fn member_names(&self, _: &RecordType) -> Vec<String> {
            Vec::new()
        }
        fn enum_constant(&self, _: &str) -> Option<EnumConstant> {
            None
        }
        fn similar_enum_constants(&self, _: &str) -> Vec<String> {
            Vec::new()
        }
        fn tracepoint_fields(&self, _: &str, _: &str) -> Result<Vec<TracepointField>, String> {
            Err("no tracepoints here".into())
        }
        fn match_tracepoints(&self, _: &str, _: &str) -> Vec<(String, String)> {
            Vec::new()
        }
        fn function(&self, _: &str) -> Option<FuncProto> {
            None
        }
        fn match_functions(&self, _: &str) -> Vec<String> {
            Vec::new()
        }
    }

    /// The lookups the front end makes of `typed`, after maps set up as
    /// earlier entries would.
    fn lookups_of(typed: &str) -> Option<Vec<Constant>> {
        let setup = "BEGIN { @s[1, 4] = count(); @c[\"a\"] = count(); @x[-3, 16] = count(); @m[1] = count(); }";
        let w = crate::repl::input::wrap_statements(typed).unwrap();
        let source = Source::new("t", format!("{setup}\n{}", w.generated));
        let ast = flowtrace_lang::parse(&source).unwrap();
        let checked = flowtrace_lang::check(&ast, &NoKernel, &CheckOptions::default()).unwrap();
        lookups(checked.probes.last().unwrap()).map(|ls| ls.into_iter().map(|l| l.key).collect())
    }

    #[test]
    fn constant_keys_come_from_the_front_end() {
        use Constant::{Int, Str, Tuple};
        assert_eq!(lookups_of("@s[1, 4]"), Some(vec![Tuple(vec![Int(1), Int(4)])]));
        assert_eq!(lookups_of(" @c[\"a,b\\\"\"]; "), Some(vec![Str("a,b\"".into())]));
        assert_eq!(lookups_of("@x[-3, 0x10]"), Some(vec![Tuple(vec![Int(-3i64 as u64), Int(16)])]));
        assert_eq!(lookups_of("@m[0b1]; @m[1_000]"), Some(vec![Int(1), Int(1000)]));
        assert_eq!(lookups_of("@m[pid]"), None, "not a constant");
        assert_eq!(lookups_of("@m"), None, "a whole map is printed by the kernel's event");
    }
}
