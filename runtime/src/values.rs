//! Values as userspace sees them after decoding map entries and ring-buffer
//! records. The output layer formats these (text or JSON); nothing here knows
//! about bytes or the kernel.

use std::net::IpAddr;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A signed integer (from a signed type).
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A pointer: printed as `0x…`, as today's bpftrace prints it.
    Ptr(u64),
    Bool(bool),
    Str(String),
    Inet(IpAddr),
    Tuple(Vec<Value>),
    /// An array that is not text: printed `[1,2,3]`, as bpftrace prints it.
    Array(Vec<Value>),
    /// A struct or union, field by field: printed `{ .a = 1, .b = x }`, as
    /// today's bpftrace prints it.
    Record(Vec<(String, Value)>),
    /// A probe or function name resolved in userspace.
    Probe(String),
    /// `buf()`'s bytes: printed with `\\xNN` escapes (see `BufferForm`).
    Buffer(Vec<u8>),
    /// `kstack`/`ustack`: one line per frame, innermost first. `padded`
    /// frames (bpftrace mode) are indented where printed: 4 spaces in a map
    /// key, 8 elsewhere; perf and raw mode lines are printed as they are.
    Stack { frames: Vec<String>, padded: bool },
}

/// A map's value after merging every CPU's copy.
#[derive(Clone, Debug, PartialEq)]
pub enum AggValue {
    Count(u64),
    Sum(i64),
    Min(i64),
    Max(i64),
    Avg { sum: i64, count: u64 },
    Stats { sum: i64, count: u64 },
    /// `codegen::layout::HIST_BUCKETS` counters: negative, zero, then one
    /// per power of two; `sum` of the values seen (for metrics' `_sum`).
    Hist { buckets: Vec<u64>, sum: i64 },
    /// Below `min`, one per step, then at-or-above `max`.
    Lhist { min: i64, max: i64, step: i64, buckets: Vec<u64>, sum: i64 },
    /// A value stored with `@m[k] = v`.
    Plain(Value),
    /// `tseries()`: (epoch, value) of each interval held, oldest first; an
    /// epoch is wall-clock nanoseconds / `interval_ns`.
    Tseries { interval_ns: u64, intervals: u32, points: Vec<(u64, i64)> },
}

#[derive(Clone, Debug, PartialEq)]
pub struct MapEntry {
    /// `None` for a scalar map (`@m = …`); a `Value::Tuple` for several keys.
    pub key: Option<Value>,
    pub value: AggValue,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MapSnapshot {
    /// With the `@`: `@retransmits`, or `@` for the anonymous map.
    pub name: String,
    /// In the order the kernel iterated them; the output layer sorts.
    pub entries: Vec<MapEntry>,
    /// Updates the kernel could not make because the map was full.
    pub dropped_updates: u64,
    /// Keys an LRU map dropped to make room for new ones (0 for other maps).
    pub evicted: u64,
    pub max_entries: u32,
    /// What the map holds, known even when it is empty (bpftrace prints an
    /// empty avg/stats map differently from other empty maps).
    pub kind: ValueKind,
    /// A map written without a key (`@m = count()`).
    pub keyless: bool,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ValueKind {
    /// Values stored with `@m[k] = v`.
    #[default]
    Plain,
    Count,
    Sum,
    Min,
    Max,
    Avg,
    Stats,
    Hist,
    Lhist,
    Tseries,
}
