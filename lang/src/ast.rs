//! The syntax tree, as written. Every node carries the span of its source text.
//! Names are not resolved here: `comm`, `AF_INET` and `TCP_ESTABLISHED` are all
//! [`ExprKind::Ident`]; the type checker decides what each one is.

use crate::span::Span;

mod attach;
mod user;
pub mod perf_event;
pub use attach::{AttachKind, AttachPoint, Period, TcDir};
pub use perf_event::PerfEventName;
pub use user::{parse_usdt_arg, UsdtArg, UsdtLocation, UsdtSite, UserTarget};

#[derive(Clone, Debug, PartialEq)]
pub struct Program {
    pub items: Vec<Item>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    Probe(Probe),
    /// `let @flows = lruhash(1024);`
    MapDecl(MapDecl),
    /// `config = { max_strlen = 128; print_maps_on_exit = false }`
    Config(ConfigBlock),
    /// `struct flow { u32 saddr; … };` (or `union`).
    Record(RecordDef),
    /// `enum state { IDLE, BUSY = 5 };`
    Enum(EnumDef),
}

#[derive(Clone, Debug, PartialEq)]
pub struct RecordDef {
    pub name: Ident,
    pub is_union: bool,
    pub fields: Vec<FieldDef>,
    pub span: Span,
}

/// One field: `char name[16]` is type `char`, name `name`, dims `[16]`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldDef {
    /// The written type with the declarator's `*`s.
    pub ty: TypeName,
    pub name: Ident,
    pub dims: Vec<u32>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EnumDef {
    pub name: Option<Ident>,
    /// Each enumerator with its value as written, if any.
    pub variants: Vec<(Ident, Option<i64>)>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConfigBlock {
    pub entries: Vec<ConfigEntry>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConfigEntry {
    pub key: Ident,
    pub value: ConfigValue,
    pub value_span: Span,
}

/// A config value as written; [`crate::config`] reads it as its key needs.
#[derive(Clone, Debug, PartialEq)]
pub enum ConfigValue {
    Int(u64),
    Str(String),
    Bool(bool),
    /// A bare word: `missing_probes = warn`.
    Word(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct MapDecl {
    /// Without the `@`; empty for the anonymous map `@`.
    pub name: String,
    pub name_span: Span,
    pub kind: MapKind,
    pub kind_span: Span,
    pub max_entries: u64,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MapKind {
    Hash,
    LruHash,
    PercpuHash,
    PercpuLruHash,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub attach: Vec<AttachPoint>,
    pub predicate: Option<Expr>,
    pub body: Block,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    pub stmts: Vec<Stmt>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// An expression for its effect: a call (`printf(…)`, `delete(@m[k])`,
    /// `exit()`), or `$x++` / `@m--`.
    Expr(Expr),
    /// `$x = e;` or `$x OP= e;` (`op` is then the binary operator).
    AssignVar { var: Ident, op: Option<BinOp>, value: Expr },
    /// `@m = e;`, `@m[k1, k2] = e;`, `@m OP= e;`.
    AssignMap { map: MapRef, op: Option<BinOp>, value: Expr },
    /// `if (c) { … } else if (d) { … } else { … }`; an `else if` is an `else`
    /// block holding one `If` statement.
    If { cond: Expr, then: Block, otherwise: Option<Block> },
    /// `while (c) { … }` (bounded by the verifier).
    While { cond: Expr, body: Block },
    /// `unroll(N) { … }`.
    Unroll { count: u64, body: Block },
    /// `for ($i : a..b) { … }` / `for ($kv : @m) { … }`.
    For { var: Ident, iter: ForIter, body: Block },
    /// `let $x;`, `let $x: TYPE = e;`: declares `$x` in the enclosing block.
    Let { var: Ident, ty: Option<LetType>, value: Option<Expr> },
    Break,
    Continue,
    Return,
    /// A nested `{ … }`.
    Block(Block),
}

/// What a `for` loop walks.
#[derive(Clone, Debug, PartialEq)]
pub enum ForIter {
    /// `start..end`: `start` inclusive, `end` exclusive, both evaluated once.
    Range { start: Expr, end: Expr },
    /// `@m`: every (key, value) of the map.
    Map(MapRef),
}

/// The type written in `let $x: TYPE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LetType {
    /// A C-like type, as in a cast: `uint16`, `struct sock *`.
    Type(TypeName),
    /// A bare name: `string`, or one flowtrace does not know (reported by the checker).
    Name(Ident),
}

/// An identifier with its span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// `@name` or `@name[k1, k2]`. `keys` is empty for a scalar map.
#[derive(Clone, Debug, PartialEq)]
pub struct MapRef {
    /// Without the `@`; empty for the anonymous map.
    pub name: String,
    pub name_span: Span,
    pub keys: Vec<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// Integer literal, value after suffix and `_` removal.
    Int(u64),
    /// String literal with escapes already decoded.
    Str(String),
    /// `true` / `false`.
    Bool(bool),
    /// A bare name: builtin (`comm`), constant (`AF_INET`), BTF enum constant.
    Ident(String),
    /// `$name`.
    Var(String),
    /// `$1`, `$2`, …
    Positional(u32),
    /// `$#`.
    PositionalCount,
    /// `@m` or `@m[k]`, read.
    Map(MapRef),
    /// `f(a, b)`.
    Call { func: Ident, args: Vec<Expr> },
    Unary { op: UnOp, expr: Box<Expr> },
    Binary { op: BinOp, lhs: Box<Expr>, rhs: Box<Expr> },
    Ternary { cond: Box<Expr>, then: Box<Expr>, otherwise: Box<Expr> },
    /// `(struct sock *)arg0`, `(uint32)x`.
    Cast { ty: TypeName, expr: Box<Expr> },
    /// `e.f` or `e->f` (both dereference a pointer, as bpftrace ≥ 0.25 does).
    Field { expr: Box<Expr>, field: Ident, arrow: bool },
    /// `e[i]`.
    Index { expr: Box<Expr>, index: Box<Expr> },
    /// `(a, b)`.
    Tuple(Vec<Expr>),
    /// `{ stmt; …; value }`: the statements run in a scope of their own,
    /// then the block is worth `value`.
    Block { stmts: Vec<Stmt>, value: Box<Expr> },
    /// `$x++`, `--@m[k]`: target is a `Var` or `Map` expression.
    IncDec { target: Box<Expr>, increment: bool, prefix: bool },
    /// A type written as a call's argument: `sizeof(struct sock)`.
    TypeArg(TypeName),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnOp {
    /// `-e`
    Neg,
    /// `!e`
    Not,
    /// `~e`
    BitNot,
    /// `*e`
    Deref,
    /// `&e`
    AddrOf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    Mul,
    Div,
    Mod,
    Add,
    Sub,
    Shl,
    Shr,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    BitAnd,
    BitXor,
    BitOr,
    And,
    Or,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Mod => "%",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Shl => "<<",
            BinOp::Shr => ">>",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::BitAnd => "&",
            BinOp::BitXor => "^",
            BinOp::BitOr => "|",
            BinOp::And => "&&",
            BinOp::Or => "||",
        }
    }

    pub fn is_comparison(self) -> bool {
        matches!(self, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne)
    }
}

/// A type as written in a cast: `struct sock *`, `uint32`, `int8`, `u64`,
/// `unsigned int`, `struct tcphdr`, `sk_buff_data_t`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeName {
    pub base: TypeBase,
    /// Number of `*`.
    pub pointer_depth: u8,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeBase {
    /// `int8`…`int64`, `uint8`…`uint64`, `u8`…`u64`, `s8`…`s64`, `i8`…`i64`,
    /// `char`, `short`, `int`, `long`, `unsigned …`, `bool`.
    Int { bits: u8, signed: bool },
    Void,
    Struct(String),
    Union(String),
    Enum(String),
    /// A bare name: a BTF typedef (`sk_buff_data_t`).
    Named(String),
}
