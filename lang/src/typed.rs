//! The checked program: names resolved, every expression typed, struct member
//! accesses turned into offsets, one [`TProbe`] per concrete attach point.
//! This is what code generation consumes (and what `-d types` prints).

use crate::ast::{AttachPoint, BinOp, MapKind, UnOp};
use crate::diag::Diagnostic;
use crate::span::Span;
use crate::types::{AggKind, Type};
use flowtrace_stdlib::printf::Format;
use flowtrace_stdlib::{Builtin, Func};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MapId(pub u32);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VarId(pub u32);

#[derive(Clone, Debug)]
pub struct TypedProgram {
    /// Indexed by [`MapId`].
    pub maps: Vec<MapInfo>,
    pub probes: Vec<TProbe>,
    /// Notes and warnings (errors make checking fail instead).
    pub warnings: Vec<Diagnostic>,
    /// The field name of each `Member`, `TracepointArg` and `FuncArg`
    /// expression, by the expression's span (for `-d types` and messages;
    /// code generation needs only the offsets).
    pub field_names: std::collections::BTreeMap<Span, String>,
    /// The config block and `BPFTRACE_*` environment, resolved: what the
    /// binary must apply (map sizes, ring buffer, printing at exit).
    pub settings: crate::config::Settings,
    /// The fields of every struct or union a value of the program prints
    /// (`print(*$p)`, a map or tuple holding one), by the record's BTF id:
    /// user space prints them as `{ .a = 1, .b = 2 }`.
    pub records: crate::types::RecordLayouts,
}

#[derive(Clone, Debug)]
pub struct MapInfo {
    /// Without `@`; empty for the anonymous map.
    pub name: String,
    /// Key types, one per key expression; empty for a scalar map `@m`.
    pub key: Vec<Type>,
    /// `Type::Agg(…)` for aggregation maps; otherwise the stored value type.
    pub value: Type,
    /// From `let @m = lruhash(N);`, if declared.
    pub declared: Option<(MapKind, u64)>,
    /// First use (or the declaration).
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct TProbe {
    /// Concrete: wildcards expanded, aliases resolved.
    pub attach: AttachPoint,
    /// Index of the source probe in the program (several `TProbe`s share one
    /// when it has several or wildcard attach points).
    pub source_probe: usize,
    pub predicate: Option<TExpr>,
    pub body: Vec<TStmt>,
    /// Indexed by [`VarId`]: the probe's `$variables`.
    pub vars: Vec<VarInfo>,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct VarInfo {
    pub name: String,
    pub ty: Type,
}

#[derive(Clone, Debug)]
pub struct TStmt {
    pub kind: TStmtKind,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum TStmtKind {
    /// Evaluated for its side effects (`$x++`), value dropped.
    Expr(TExpr),
    AssignVar { var: VarId, value: TExpr },
    /// `@m[k] = v` (non-aggregation value).
    MapStore { map: MapId, key: Option<TExpr>, value: TExpr },
    /// `@m[k] OP= v`, `@m[k]++` (`op` Add, value 1): read-modify-write.
    MapUpdate { map: MapId, key: Option<TExpr>, op: BinOp, value: TExpr },
    /// `@m[k] = count()` etc.; `arg` is the value for everything but count.
    Aggregate { map: MapId, key: Option<TExpr>, agg: AggKind, arg: Option<TExpr> },
    If { cond: TExpr, then: Vec<TStmt>, otherwise: Vec<TStmt> },
    While { cond: TExpr, body: Vec<TStmt> },
    /// `for ($i : start..end)`: `$i` (`var`) runs from `start` up to, not
    /// including, `end`; both are evaluated once, before the first round.
    ForRange { var: VarId, start: TExpr, end: TExpr, body: Vec<TStmt> },
    /// `for ($kv : @map)`: `var` is `(key, value)` for each entry (the key a
    /// tuple for a map with several keys; an aggregation's value is its
    /// total over CPUs).
    ForMap { var: VarId, map: MapId, body: Vec<TStmt> },
    /// Leave the innermost `while`/`for`.
    Break,
    /// Go on with the innermost loop's next round.
    Continue,
    /// `let $x;`: the variable starts at zero (an empty string, a zeroed
    /// tuple) each time the declaration runs.
    ZeroVar { var: VarId },
    Return,
    /// `printf(fmt, args…)`: the format, parsed once here, stays in
    /// userspace; one argument per conversion, of the kind it prints.
    Printf { format: Format, args: Vec<TExpr> },
    /// `time(fmt)`.
    Time { format: String },
    /// `print(@m)`, `print(@m, top)`, `print(@m, top, div)`.
    PrintMap { map: MapId, top: u64, div: u64 },
    /// `print(value)` for a non-map value.
    PrintValue { value: TExpr },
    Clear { map: MapId },
    Zero { map: MapId },
    Delete { map: MapId, key: Option<TExpr> },
    /// `exit()`, `exit(code)`: flowtrace's exit status is `code` (an integer).
    Exit { code: Option<TExpr> },
    /// `cat`, `system`, `join`, `signal`: act outside the probe, on `args`.
    Action { action: Action, args: Vec<TExpr> },
}

/// What an [`TStmtKind::Action`] does with its arguments.
#[derive(Clone, Debug)]
pub enum Action {
    /// `cat(fmt, args…)`: userspace prints the file the format names.
    Cat { format: Format },
    /// `system(fmt, args…)`: userspace runs the command (`--unsafe`).
    System { format: Format },
    /// `join(argv[, sep])`: `args[0]` is the pointer array; the probe reads
    /// up to [`JOIN_MAX_ITEMS`] strings of [`JOIN_ITEM_SIZE`] bytes.
    Join { sep: String },
    /// `signal(SIG)`: `args[0]` is the signal number (`--unsafe`).
    Signal,
}

/// `join()` reads at most this many strings (bpftrace's limit is 16 too).
pub const JOIN_MAX_ITEMS: u32 = 16;
/// … each cut to this many bytes, NUL included.
pub const JOIN_ITEM_SIZE: u32 = 64;

#[derive(Clone, Debug)]
pub struct TExpr {
    pub kind: TExprKind,
    pub ty: Type,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub enum TExprKind {
    /// The bits of an integer of type `ty` (negative values sign-extended).
    Int(u64),
    Str(String),
    Builtin(Builtin),
    Var(VarId),
    /// `@m[k]`: 0 (or an empty value) when the key is absent.
    MapRead { map: MapId, key: Option<Box<TExpr>> },
    Unary { op: UnOp, expr: Box<TExpr> },
    Binary { op: BinOp, lhs: Box<TExpr>, rhs: Box<TExpr> },
    /// `&&` and `||` are `Binary` with short-circuit lowering.
    Ternary { cond: Box<TExpr>, then: Box<TExpr>, otherwise: Box<TExpr> },
    /// Integer/pointer conversion to `ty`.
    Cast { expr: Box<TExpr> },
    /// Kernel memory at `address(base) + offset`, of type `ty`. `base` is
    /// either a pointer value or a `Record`/`Array`-typed place (whose value is
    /// its address). When `ty` is itself a record or array the result is a
    /// place (no read happens); otherwise the value is read with
    /// `bpf_probe_read_kernel` (and for a bitfield shifted by
    /// `bit_offset % 8` … masked to `bits`, see `bitfield`).
    Member { base: Box<TExpr>, offset: u32, bitfield: Option<Bitfield> },
    /// `base[index]` on a pointer or array place; element type is `ty`.
    Index { base: Box<TExpr>, index: Box<TExpr>, elem_size: u32 },
    /// A field of the tracepoint context (`args.oldstate`), read directly
    /// from the context at `offset`.
    TracepointArg { offset: u32, size: u32, data_loc: bool },
    /// `args.NAME` in fentry/fexit: the `index`-th argument slot.
    FuncArg { index: u8 },
    Tuple(Vec<TExpr>),
    /// `$x++`, `--@m[k]`; `target` is a `Var` or `MapRead` expression.
    IncDec { target: Box<TExpr>, increment: bool, prefix: bool },
    /// Value-producing builtin functions: `str`, `ntop`, `strncmp`, `ksym`, …
    Call { func: Func, args: Vec<TExpr> },
    /// `{ stmts; value }`: the statements run, then `value` is the result.
    Block { stmts: Vec<TStmt>, value: Box<TExpr> },
    /// A string resolved in userspace by index (`probe`, `func` when known
    /// at compile time).
    ProbeName(String),
    /// Constant bytes (`pton("10.0.0.1")`), of an array type.
    Bytes(Vec<u8>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bitfield {
    /// Bit offset of the field within the byte at `offset`, 0..8.
    pub bit_offset: u8,
    /// Width in bits.
    pub bits: u8,
}
