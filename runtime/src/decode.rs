//! Bytes → [`Value`]s, by the layouts in [`flowtrace_codegen::layout`]. Pure
//! functions over byte slices: the kernel-facing code reads the bytes, this
//! module gives them meaning.

use crate::values::{AggValue, Value};
use flowtrace_codegen::layout;
use flowtrace_codegen::object::CompiledProgram;
use flowtrace_lang::types::{AggKind, IntType, Rendered, Type};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Address families as the kernel numbers them.
const AF_INET: u64 = 2;
const AF_INET6: u64 = 10;

/// The strings `probe`/`func` values stand for: the value indexes
/// `CompiledProgram::probe_names`. Kept behind this type so the encoding can
/// change in one place.
///
/// It also carries what names stacks and symbols (the program's stack maps,
/// the symbol tables), when the program has any.
#[derive(Clone, Debug, Default)]
pub struct ProbeNames {
    names: Vec<String>,
    /// The fields of printed structs and unions (they travel with the names:
    /// both are what user space needs to give a value's bytes meaning).
    records: flowtrace_lang::types::RecordLayouts,
    symbols: Option<std::sync::Arc<crate::symbols::Symbolizer>>,
    /// `str_trunc_trailer`: appended to a string that fills its whole
    /// buffer without a NUL (bpftrace's sign of a cut string).
    trailer: String,
}

impl ProbeNames {
    pub fn of(compiled: &CompiledProgram) -> ProbeNames {
        ProbeNames { names: compiled.probe_names.clone(), records: compiled.records.clone(), trailer: compiled.str_trunc_trailer.clone(), symbols: None }
    }

    pub fn from_names(names: Vec<String>) -> ProbeNames {
        ProbeNames { names, records: Default::default(), trailer: String::new(), symbols: None }
    }

    /// With the stack maps among `fds` (indexed like `compiled.maps`) to
    /// read stacks from; symbols are looked up lazily, on first use.
    pub fn with_stacks(mut self, compiled: &CompiledProgram, fds: &[Option<std::os::fd::BorrowedFd<'_>>]) -> ProbeNames {
        let mut stacks = std::collections::HashMap::new();
        for (spec, fd) in compiled.maps.iter().zip(fds) {
            if let (flowtrace_codegen::object::MapRole::Stacks { limit }, Some(fd)) = (&spec.role, fd) {
                if let Ok(own) = fd.try_clone_to_owned() {
                    stacks.insert(*limit, own);
                }
            }
        }
        self.symbols = Some(std::sync::Arc::new(crate::symbols::Symbolizer::new(stacks)));
        self
    }

    fn symbols(&self) -> std::sync::Arc<crate::symbols::Symbolizer> {
        self.symbols.clone().unwrap_or_default()
    }

    fn get(&self, v: u64) -> String {
        let found = usize::try_from(v).ok().and_then(|i| self.names.get(i));
        found.cloned().unwrap_or_else(|| format!("<probe {v}>"))
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(src) = bytes.get(at..at + 8) {
        b.copy_from_slice(src);
    }
    u64::from_le_bytes(b)
}

/// An integer widened to 8 bytes. Only the declared width is trusted, so a
/// program that stored a 32-bit value without sign-extending it still reads
/// back right.
fn int(raw: u64, t: IntType) -> Value {
    let bits = u32::from(t.bits).clamp(8, 64);
    let shift = 64 - bits;
    if t.signed {
        Value::Int(((raw << shift) as i64) >> shift)
    } else {
        Value::UInt((raw << shift) >> shift)
    }
}

/// Decodes one value of type `ty` from the start of `bytes`. Short input reads
/// as zeros rather than failing: a record the kernel truncated must not stop
/// the tracer.
pub fn value(ty: &Type, bytes: &[u8], probes: &ProbeNames) -> Value {
    match ty {
        Type::Int(t) => int(u64_at(bytes, 0), *t),
        Type::Bool => Value::Bool(u64_at(bytes, 0) != 0),
        Type::Pointer(..) => Value::Ptr(u64_at(bytes, 0)),
        Type::Str { cap } => Value::Str(text(bytes, *cap as usize, probes)),
        Type::Inet => inet(bytes),
        Type::ProbeName => Value::Probe(probes.get(u64_at(bytes, 0))),
        // Named now, not when the event happened: bpftrace's cgroup_path too.
        Type::CgroupName(view) => Value::Str(crate::pods::name(view, u64_at(bytes, 0))),
        Type::Tuple(items) => Value::Tuple(fields(items, bytes, probes)),
        Type::Array { elem, len } => array(elem, *len, bytes, probes),
        Type::Record(r) => match probes.records.get(&r.btf_id) {
            Some(fields) if !fields.is_empty() => record(fields, bytes, probes),
            _ => Value::Str(format!("<{} bytes of {}>", r.size, ty)),
        },
        Type::Agg(_) | Type::Void | Type::Args => Value::Tuple(Vec::new()),
        Type::Rendered(r) => rendered(r, bytes, probes),
    }
}

/// A struct or union field by field; a bitfield is shifted out and masked
/// (little-endian bit order, as BTF's bit offsets count on x86-64 and arm64).
fn record(fields: &[flowtrace_lang::types::RecordField], bytes: &[u8], probes: &ProbeNames) -> Value {
    let field = |f: &flowtrace_lang::types::RecordField| match (f.bitfield_bits, &f.ty) {
        (Some(bits), Type::Int(t)) => {
            let (byte, shift) = ((f.offset_bits / 8) as usize, f.offset_bits % 8);
            let mut b = [0u8; 16];
            if let Some(src) = bytes.get(byte..) {
                let n = src.len().min(16);
                b[..n].copy_from_slice(&src[..n]);
            }
            let raw = (u128::from_le_bytes(b) >> shift) as u64;
            let mask = if bits >= 64 { u64::MAX } else { (1u64 << bits) - 1 };
            int(raw & mask, IntType { bits: bits.max(8), signed: t.signed && bits >= 8 })
        }
        // At its own width: a last field may end the bytes before 8 more.
        (None, Type::Int(t)) => {
            let at = (f.offset_bits / 8) as usize;
            let width = t.bytes() as usize;
            let mut b = [0u8; 8];
            if let Some(src) = bytes.get(at..at + width) {
                b[..width].copy_from_slice(src);
            }
            int(u64::from_le_bytes(b), *t)
        }
        _ => value(&f.ty, bytes.get((f.offset_bits / 8) as usize..).unwrap_or(&[]), probes),
    };
    Value::Record(fields.iter().map(|f| (f.name.clone(), field(f))).collect())
}

/// Values printed by their own rule (see `Rendered`): resolved to text
/// here, when userspace handles them, as bpftrace does.
fn rendered(r: &Rendered, bytes: &[u8], probes: &ProbeNames) -> Value {
    match r {
        Rendered::Stack(stack) => probes.symbols().stack(stack, u64_at(bytes, 0)),
        Rendered::EnumName { variants, .. } => {
            // The field's own width is at most 8 bytes; enums are 32-bit but
            // for the rare enum64, so the low 32 bits decide.
            let raw = u64_at(bytes, 0) as i64;
            let v32 = raw as i32 as i64;
            match variants.iter().find(|(v, _)| *v == raw || *v == v32 || *v == raw & 0xffff_ffff) {
                Some((_, name)) => Value::Str(name.clone()),
                None => Value::Int(v32),
            }
        }
        Rendered::Ksym => Value::Str(probes.symbols().ksym_text(u64_at(bytes, 0), false)),
        Rendered::Strerror => Value::Str(crate::output::names::error_message(u64_at(bytes, 0) as i64)),
        Rendered::SyscallName => Value::Str(crate::output::names::syscall_name(u64_at(bytes, 0) as i64)),
        Rendered::SignalName => Value::Str(crate::output::names::signal_name(u64_at(bytes, 0) as i64)),
        Rendered::Usym => Value::Str(probes.symbols().usym_text(u64_at(bytes, 0), u64_at(bytes, 8) as u32, false, false)),
        Rendered::Username => Value::Str(crate::output::names::user_name(u64_at(bytes, 0) as u32)),
        Rendered::Timestamp { format, clock } => {
            Value::Str(crate::output::time::format_timestamp(format, u64_at(bytes, 0), *clock))
        }
        Rendered::MacAddr => {
            let mac: Vec<String> = (0..6).map(|i| format!("{:02X}", bytes.get(i).copied().unwrap_or(0))).collect();
            Value::Str(mac.join(":"))
        }
        Rendered::Buffer { cap } => {
            let n = (u64_at(bytes, 0) as usize).min(*cap as usize);
            Value::Buffer(bytes.get(8..8 + n).unwrap_or(&[]).to_vec())
        }
    }
}

/// Values laid out one after another (a tuple, a multi-key, printf arguments).
pub fn fields(types: &[Type], bytes: &[u8], probes: &ProbeNames) -> Vec<Value> {
    let (offsets, _) = layout::offsets(types);
    types
        .iter()
        .zip(offsets)
        .map(|(t, at)| value(t, bytes.get(at as usize..).unwrap_or(&[]), probes))
        .collect()
}

/// A string value: up to its NUL; with the trailer when no NUL is in the
/// whole buffer, bpftrace's rule ("a string that exactly fits its buffer,
/// NUL included, is taken as truncated").
fn text(bytes: &[u8], cap: usize, probes: &ProbeNames) -> String {
    let mut s = c_string(bytes, cap);
    if s.len() == cap && cap > 0 && !probes.trailer.is_empty() {
        s.push_str(&probes.trailer);
    }
    s
}

fn c_string(bytes: &[u8], cap: usize) -> String {
    let buf = &bytes[..cap.min(bytes.len())];
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn inet(bytes: &[u8]) -> Value {
    let addr = |n: usize| bytes.get(8..8 + n);
    match u64_at(bytes, 0) {
        AF_INET => match addr(4) {
            Some(a) => Value::Inet(IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))),
            None => Value::Str(String::new()),
        },
        AF_INET6 => match addr(16).and_then(|a| <[u8; 16]>::try_from(a).ok()) {
            Some(a) => Value::Inet(IpAddr::V6(Ipv6Addr::from(a))),
            None => Value::Str(String::new()),
        },
        // An unset address (family 0) prints as nothing, as bpftrace's ntop does.
        _ => Value::Str(String::new()),
    }
}

/// Kernel arrays are packed at their declared element width. Character arrays
/// (`char[N]`, `int8[N]`: 8-bit signed, as BTF's `char` reads) are text, as
/// today's bpftrace documents ("all BTF char arrays (char[] or int8[]) are
/// converted to a string"); the others, `uint8[N]` (`unsigned char`, `u8`,
/// `pton()`) included, are lists, as bpftrace 0.17 and today's print them.
fn array(elem: &Type, len: u32, bytes: &[u8], probes: &ProbeNames) -> Value {
    if let Type::Int(t) = elem {
        if t.bits == 8 && t.signed {
            return Value::Str(text(bytes, len as usize, probes));
        }
        let width = t.bytes() as usize;
        let items = (0..len as usize)
            .map(|i| {
                let mut b = [0u8; 8];
                if let Some(src) = bytes.get(i * width..(i + 1) * width) {
                    b[..width].copy_from_slice(src);
                }
                int(u64::from_le_bytes(b), *t)
            })
            .collect();
        return Value::Array(items);
    }
    let size = layout::size_of(elem) as usize;
    let items = (0..len as usize)
        .map(|i| value(elem, bytes.get(i * size..).unwrap_or(&[]), probes))
        .collect();
    Value::Array(items)
}

/// A map key: `None` for a scalar map, the value for one key, a tuple for
/// several. Keys have their own compact layout (`layout::key_offsets`).
pub fn key(keys: &[Type], bytes: &[u8], probes: &ProbeNames) -> Option<Value> {
    KeyDecoder::new(keys).decode(bytes, probes)
}

/// [`key`] for every key of one map: the layout worked out once, not per
/// key (a million keys made a million offset vectors).
pub struct KeyDecoder<'a> {
    keys: &'a [Type],
    offsets: Vec<u32>,
}

impl<'a> KeyDecoder<'a> {
    pub fn new(keys: &'a [Type]) -> KeyDecoder<'a> {
        KeyDecoder { keys, offsets: layout::key_offsets(keys).0 }
    }

    pub fn decode(&self, bytes: &[u8], probes: &ProbeNames) -> Option<Value> {
        let field = |(t, &at): (&Type, &u32)| key_field(t, bytes.get(at as usize..).unwrap_or(&[]), probes);
        match self.keys {
            [] => None,
            [one] => Some(field((one, &self.offsets[0]))),
            _ => Some(Value::Tuple(self.keys.iter().zip(&self.offsets).map(field).collect())),
        }
    }
}

/// One key field (`layout::key_field_size`): integers at their declared
/// width, `inet` as address then family byte, the rest as in values.
fn key_field(ty: &Type, bytes: &[u8], probes: &ProbeNames) -> Value {
    let width = layout::key_field_size(ty) as usize;
    let narrow = || {
        let mut b = [0u8; 8];
        if let Some(src) = bytes.get(..width.min(8)) {
            b[..src.len()].copy_from_slice(src);
        }
        u64::from_le_bytes(b)
    };
    match ty {
        Type::Int(t) => int(narrow(), *t),
        Type::Bool => Value::Bool(narrow() != 0),
        Type::Inet => {
            let family = bytes.get(layout::KEY_INET_FAMILY as usize).copied().unwrap_or(0);
            let mut as_value = u64::from(family).to_le_bytes().to_vec();
            as_value.extend_from_slice(bytes.get(..16).unwrap_or(&[]));
            inet(&as_value)
        }
        other => value(other, bytes, probes),
    }
}

/// Merges the per-CPU copies of an aggregation. `stride` is the distance
/// between CPUs' copies (the value size rounded up to 8, as the kernel lays
/// them out); `cpus` is the number of possible CPUs.
pub fn aggregate(agg: AggKind, bytes: &[u8], stride: usize, cpus: usize) -> AggValue {
    let per_cpu = |cpu: usize| bytes.get(cpu * stride..(cpu + 1) * stride).unwrap_or(&[]);
    let sum_at = |at: usize| (0..cpus).fold(0u64, |acc, c| acc.wrapping_add(u64_at(per_cpu(c), at)));
    match agg {
        AggKind::Count => AggValue::Count(sum_at(0)),
        AggKind::Sum { .. } => AggValue::Sum(sum_at(0) as i64),
        AggKind::Min { signed } => AggValue::Min(extreme(per_cpu, cpus, signed, false)),
        AggKind::Max { signed } => AggValue::Max(extreme(per_cpu, cpus, signed, true)),
        AggKind::Avg { .. } => AggValue::Avg { sum: sum_at(0) as i64, count: sum_at(8) },
        AggKind::Stats { .. } => AggValue::Stats { sum: sum_at(0) as i64, count: sum_at(8) },
        AggKind::Hist => AggValue::Hist {
            buckets: buckets(layout::HIST_BUCKETS, sum_at),
            sum: sum_at(layout::hist_sum_offset(agg) as usize) as i64,
        },
        AggKind::Lhist { min, max, step } => AggValue::Lhist {
            min,
            max,
            step,
            buckets: buckets(layout::lhist_buckets(agg), sum_at),
            sum: sum_at(layout::hist_sum_offset(agg) as usize) as i64,
        },
        AggKind::Tseries { interval_ns, intervals, agg, signed } => {
            AggValue::Tseries { interval_ns, intervals, points: crate::tseries::merge(per_cpu, cpus, intervals, agg, signed) }
        }
    }
}

/// The number `output::order::sort_value` gives [`aggregate`]'s result,
/// read straight from the bytes (a histogram's buckets summed, not
/// collected): how `print(@m, top)` picks the entries it shows before
/// decoding any. `None` for `tseries`, which is decoded to be ranked.
pub fn aggregate_rank(agg: AggKind, bytes: &[u8], stride: usize, cpus: usize) -> Option<i128> {
    let per_cpu = |cpu: usize| bytes.get(cpu * stride..(cpu + 1) * stride).unwrap_or(&[]);
    let sum_at = |at: usize| (0..cpus).fold(0u64, |acc, c| acc.wrapping_add(u64_at(per_cpu(c), at)));
    let buckets_total = |n: u32| (0..n as usize).map(|i| sum_at(i * 8) as i128).sum();
    Some(match agg {
        AggKind::Count => sum_at(0) as i128,
        AggKind::Sum { .. } => sum_at(0) as i64 as i128,
        AggKind::Min { signed } => extreme(per_cpu, cpus, signed, false) as i128,
        AggKind::Max { signed } => extreme(per_cpu, cpus, signed, true) as i128,
        AggKind::Avg { .. } | AggKind::Stats { .. } => crate::output::order::average(sum_at(0) as i64, sum_at(8)) as i128,
        AggKind::Hist => buckets_total(layout::HIST_BUCKETS),
        AggKind::Lhist { .. } => buckets_total(layout::lhist_buckets(agg)),
        AggKind::Tseries { .. } => return None,
    })
}

fn buckets(n: u32, sum_at: impl Fn(usize) -> u64) -> Vec<u64> {
    (0..n as usize).map(|i| sum_at(i * 8)).collect()
}

/// min/max over the CPUs that saw a value: each copy is (value, has_value).
/// No CPU with a value gives 0, as bpftrace prints for an untouched min/max.
fn extreme<'a>(per_cpu: impl Fn(usize) -> &'a [u8], cpus: usize, signed: bool, max: bool) -> i64 {
    let seen = (0..cpus).map(&per_cpu).filter(|b| u64_at(b, 8) != 0).map(|b| u64_at(b, 0));
    let best = if signed {
        let vals = seen.map(|v| v as i64);
        if max { vals.max() } else { vals.min() }
    } else if max {
        seen.max().map(|v| v as i64)
    } else {
        seen.min().map(|v| v as i64)
    };
    best.unwrap_or(0)
}

/// Reads a value stored with `@m = v` (not per-CPU).
pub fn plain(ty: &Type, bytes: &[u8], probes: &ProbeNames) -> AggValue {
    AggValue::Plain(value(ty, bytes, probes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le(vals: &[u64]) -> Vec<u8> {
        vals.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn integers_respect_their_declared_width() {
        let no_probes = ProbeNames::default();
        assert_eq!(value(&Type::Int(IntType::I32), &le(&[0xffff_ffff]), &no_probes), Value::Int(-1));
        assert_eq!(value(&Type::Int(IntType::U16), &le(&[0x1_0005]), &no_probes), Value::UInt(5));
        assert_eq!(value(&Type::I64, &le(&[u64::MAX]), &no_probes), Value::Int(-1));
        assert_eq!(value(&Type::Bool, &le(&[2]), &no_probes), Value::Bool(true));
    }

    #[test]
    fn strings_inets_and_tuples() {
        let probes = ProbeNames::from_names(vec!["tracepoint:sock:inet_sock_set_state".into(), "inet_sock_set_state".into()]);
        let mut rec = le(&[AF_INET]);
        rec.extend_from_slice(&[127, 0, 0, 1]);
        rec.resize(24, 0);
        rec.extend_from_slice(b"curl\0xyz");
        rec.extend(le(&[0]));
        rec.extend(le(&[1]));
        let ty = [Type::Inet, Type::Str { cap: 8 }, Type::ProbeName, Type::ProbeName];
        assert_eq!(
            fields(&ty, &rec, &probes),
            [
                Value::Inet("127.0.0.1".parse().unwrap()),
                Value::Str("curl".into()),
                Value::Probe("tracepoint:sock:inet_sock_set_state".into()),
                Value::Probe("inet_sock_set_state".into()),
            ]
        );
        let mut v6 = le(&[AF_INET6]);
        v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        assert_eq!(value(&Type::Inet, &v6, &probes), Value::Inet("::1".parse().unwrap()));
        assert_eq!(value(&Type::Inet, &[0; 24], &probes), Value::Str(String::new()));
        let key_types = [Type::U64, Type::Int(IntType::I8)];
        assert_eq!(
            key(&key_types, &le(&[7, 0xff]), &probes),
            Some(Value::Tuple(vec![Value::UInt(7), Value::Int(-1)]))
        );
        // Compact: an inet (16 address bytes, family byte) then a u16 port at 18.
        let mut k = vec![0u8; 24];
        k[..4].copy_from_slice(&[10, 0, 0, 1]);
        k[16] = AF_INET as u8;
        k[18..20].copy_from_slice(&443u16.to_le_bytes());
        k[20] = 0xff; // beyond the u16: not part of the port
        assert_eq!(
            key(&[Type::Inet, Type::Int(IntType::U16)], &k, &probes),
            Some(Value::Tuple(vec![Value::Inet("10.0.0.1".parse().unwrap()), Value::UInt(443)]))
        );
        assert_eq!(key(&[], &le(&[0]), &probes), None);
    }

    #[test]
    fn short_input_reads_as_zero() {
        assert_eq!(value(&Type::U64, &[1, 0], &ProbeNames::default()), Value::UInt(0));
        assert_eq!(value(&Type::Str { cap: 16 }, b"ab", &ProbeNames::default()), Value::Str("ab".into()));
    }

    #[test]
    fn char_arrays_read_as_strings() {
        let ty = Type::Array { elem: Box::new(Type::Int(IntType::I8)), len: 16 };
        assert_eq!(value(&ty, b"bash\0\0\0\0\0\0\0\0\0\0\0\0", &ProbeNames::default()), Value::Str("bash".into()));
        let ty = Type::Array { elem: Box::new(Type::Int(IntType::U16)), len: 2 };
        assert_eq!(value(&ty, &[1, 0, 2, 0], &ProbeNames::default()), Value::Array(vec![Value::UInt(1), Value::UInt(2)]));
        // uint8 arrays are numbers (`pton()`, `unsigned char[N]`), not text.
        let ty = Type::Array { elem: Box::new(Type::Int(IntType::U8)), len: 2 };
        assert_eq!(value(&ty, b"ab", &ProbeNames::default()), Value::Array(vec![Value::UInt(97), Value::UInt(98)]));
    }

    #[test]
    fn records_print_field_by_field_with_bitfields() {
        use flowtrace_lang::types::{RecordField, RecordType};
        let field = |name: &str, ty: Type, offset_bits: u32, bitfield_bits: Option<u8>| RecordField { name: name.into(), ty, offset_bits, bitfield_bits };
        let fields = vec![
            field("a", Type::Int(IntType::U16), 0, None),
            field("low", Type::Int(IntType::U32), 16, Some(3)),
            field("high", Type::Int(IntType::U32), 19, Some(5)),
            field("name", Type::Array { elem: Box::new(Type::Int(IntType::I8)), len: 2 }, 32, None),
        ];
        let mut probes = ProbeNames::default();
        probes.records.insert(7, fields);
        let ty = Type::Record(RecordType { btf_id: 7, name: "s".into(), size: 6, is_union: false });
        // low = 0b101 = 5, high = 0b10110 = 22: byte 2 = 0b10110_101.
        let v = value(&ty, &[3, 0, 0b1011_0101, 0, b'o', b'k'], &probes);
        assert_eq!(crate::output::text::value_text(&v), "{ .a = 3, .low = 5, .high = 22, .name = ok }");
    }

    #[test]
    fn per_cpu_aggregations_merge() {
        // Two CPUs, 16-byte values: (value, has_value) / (sum, count).
        let two = le(&[5, 1, 9, 1]);
        assert_eq!(aggregate(AggKind::Min { signed: false }, &two, 16, 2), AggValue::Min(5));
        assert_eq!(aggregate(AggKind::Max { signed: false }, &two, 16, 2), AggValue::Max(9));
        let one_seen = le(&[0, 0, (-3i64) as u64, 1]);
        assert_eq!(aggregate(AggKind::Min { signed: true }, &one_seen, 16, 2), AggValue::Min(-3));
        assert_eq!(aggregate(AggKind::Max { signed: true }, &one_seen, 16, 2), AggValue::Max(-3));
        assert_eq!(aggregate(AggKind::Avg { signed: true }, &two, 16, 2), AggValue::Avg { sum: 14, count: 2 });
        assert_eq!(aggregate(AggKind::Count, &le(&[3, 4]), 8, 2), AggValue::Count(7));
        let neg = le(&[(-2i64) as u64, 1]);
        assert_eq!(aggregate(AggKind::Sum { signed: true }, &neg, 8, 2), AggValue::Sum(-1));
    }

    #[test]
    fn histograms_add_buckets() {
        let n = layout::HIST_BUCKETS as usize;
        let mut bytes = vec![0u64; n * 2];
        bytes[1] = 2;
        bytes[n + 1] = 3;
        bytes[n + 5] = 1;
        match aggregate(AggKind::Hist, &le(&bytes), n * 8, 2) {
            AggValue::Hist { buckets: b, .. } => {
                assert_eq!(b.len(), n);
                assert_eq!((b[1], b[5], b.iter().sum::<u64>()), (5, 1, 6));
            }
            other => panic!("expected a hist, got {other:?}"),
        }
        let lh = AggKind::Lhist { min: 0, max: 100, step: 10 };
        // 12 buckets = 96 bytes per CPU.
        let mut bytes = vec![0u64; 24];
        bytes[11] = 1;
        bytes[12 + 11] = 2;
        match aggregate(lh, &le(&bytes), 96, 2) {
            AggValue::Lhist { buckets, min: 0, max: 100, step: 10, .. } => assert_eq!(buckets[11], 3),
            other => panic!("expected an lhist, got {other:?}"),
        }
    }

    /// Ranks read from bytes are the ranks of the decoded values, for every
    /// aggregation, on one CPU and several, with negative and wrapping sums.
    #[test]
    fn aggregate_rank_is_the_sort_value_of_the_decoded_aggregate() {
        use crate::output::order::sort_value;
        let aggs = [
            AggKind::Count,
            AggKind::Sum { signed: true },
            AggKind::Min { signed: true },
            AggKind::Max { signed: false },
            AggKind::Avg { signed: true },
            AggKind::Stats { signed: true },
            AggKind::Hist,
            AggKind::Lhist { min: 0, max: 100, step: 10 },
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for agg in aggs {
            let words = layout::round_up(layout::agg_size(agg)) as usize / 8;
            for cpus in [1, 3] {
                for _ in 0..50 {
                    let vals: Vec<u64> = (0..words * cpus)
                        .map(|_| {
                            seed ^= seed << 13;
                            seed ^= seed >> 7;
                            seed ^= seed << 17;
                            // Small, negative and huge numbers, and (min/max) unset flags.
                            [seed % 7, (seed % 50).wrapping_neg(), seed][(seed % 3) as usize]
                        })
                        .collect();
                    let bytes = le(&vals);
                    let decoded = sort_value(&aggregate(agg, &bytes, words * 8, cpus));
                    assert_eq!(aggregate_rank(agg, &bytes, words * 8, cpus), decoded, "{agg:?} on {cpus} CPUs: {vals:?}");
                }
            }
        }
    }
}
