//! Tracepoint formats from tracefs (`events/CAT/NAME/format`): finding the
//! mounted tracefs, listing events, and turning each `field:` line into a
//! [`TracepointField`]. Parsing is pure (tests feed it text); the C type of a
//! field is mapped with a caller-supplied resolver so pointers to `struct sock`
//! can become pointers to the BTF record.
//!
//! Field mapping:
//! - integers: by the line's `size` and `signed` (the kernel's own view);
//! - `char NAME[N]` → `Str { cap: N }`; other arrays → `Array` of integers of
//!   `size / N` bytes;
//! - `__data_loc char[] NAME` → `Str { cap: DATA_LOC_CAP }` with `data_loc`;
//!   other `__data_loc T[]` → `Array` of `DATA_LOC_CAP` bytes' worth of T;
//! - pointers → `Pointer` to the named struct/union/enum/typedef when the
//!   resolver knows it, `int8` for `char *`, else `Void` (`const void *`);
//! - `__rel_loc` fields (offset relative to the field's end) are left as their
//!   raw `u32`: nothing in the network tracepoints uses them.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use flowtrace_lang::kernel::{TracepointField, TypeKeyword};
use flowtrace_lang::types::{IntType, Type};

use crate::glob::{closest, glob_match};

/// Bytes read for a `__data_loc` field: the data's length is only known at run
/// time, and 64 is bpftrace's default string size.
pub const DATA_LOC_CAP: u32 = 64;

/// What tracing asks of the user, said wherever a lack of it shows.
pub const NEEDS_ROOT: &str = "needs root (or CAP_BPF + CAP_PERFMON)";

/// Where tracefs lives when nothing else is said; the second is the old
/// debugfs location (the kernel mounts tracefs there on first access).
pub const DEFAULT_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Location {
    Inline,
    /// `__data_loc`: the field is a u32 `offset | len << 16` from the record start.
    DataLoc,
    /// `__rel_loc`: like `__data_loc`, offset from the end of the field.
    RelLoc,
}

/// One `field:` line of a format file, before type mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatField {
    /// The C type with the name and any `[N]` removed: `const void *`, `__u8`.
    pub c_type: String,
    pub name: String,
    /// `Some(N)` for `NAME[N]`; `Some(0)` for `[]` or a length that is not a number.
    pub array_len: Option<u32>,
    pub offset: u32,
    pub size: u32,
    pub signed: bool,
    pub location: Location,
}

/// The fields of a format file, without the `common_*` header fields.
pub fn parse_format(text: &str) -> Vec<FormatField> {
    text.lines()
        .filter_map(parse_field_line)
        .filter(|f| !f.name.starts_with("common_"))
        .collect()
}

/// `field:TYPE NAME[N];\toffset:O;\tsize:S;\tsigned:X;`
fn parse_field_line(line: &str) -> Option<FormatField> {
    let rest = line.trim().strip_prefix("field:")?;
    let mut parts = rest.split(';').map(str::trim);
    let decl = parts.next()?;
    let (mut offset, mut size, mut signed) = (None, None, false);
    for part in parts {
        if let Some(v) = part.strip_prefix("offset:") {
            offset = v.parse().ok();
        } else if let Some(v) = part.strip_prefix("size:") {
            size = v.parse().ok();
        } else if let Some(v) = part.strip_prefix("signed:") {
            signed = v == "1";
        }
    }
    let (c_type, name, array_len) = split_decl(decl)?;
    let (location, c_type) = if let Some(t) = c_type.strip_prefix("__data_loc ") {
        (Location::DataLoc, t)
    } else if let Some(t) = c_type.strip_prefix("__rel_loc ") {
        (Location::RelLoc, t)
    } else {
        (Location::Inline, c_type.as_str())
    };
    // `__data_loc char[] name`: the `[]` sits on the type, not the name.
    let (c_type, array_len) = match c_type.trim_end().strip_suffix("[]") {
        Some(t) => (t.trim_end().to_owned(), Some(0)),
        None => (c_type.trim_end().to_owned(), array_len),
    };
    Some(FormatField {
        c_type,
        name,
        array_len,
        offset: offset?,
        size: size?,
        signed,
        location,
    })
}

/// `TYPE NAME[N]` → (`TYPE`, `NAME`, `Some(N)`).
fn split_decl(decl: &str) -> Option<(String, String, Option<u32>)> {
    let decl = decl.trim();
    let (head, array_len) = match decl.strip_suffix(']') {
        Some(inner) => {
            let open = inner.rfind('[')?;
            (
                &inner[..open],
                Some(inner[open + 1..].trim().parse().unwrap_or(0)),
            )
        }
        None => (decl, None),
    };
    let head = head.trim_end();
    let name_start = head
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let name = &head[name_start..];
    if name.is_empty() {
        return None;
    }
    Some((
        head[..name_start].trim().to_owned(),
        name.to_owned(),
        array_len,
    ))
}

/// Looks up a named C type (the kernel's BTF, in practice).
pub type Resolver<'a> = &'a dyn Fn(TypeKeyword, &str) -> Option<Type>;

/// The checker's field for one format line.
pub fn tracepoint_field(f: &FormatField, resolve: Resolver<'_>) -> TracepointField {
    let ty = field_type(f, resolve);
    TracepointField {
        name: f.name.clone(),
        ty,
        offset: f.offset,
        size: f.size,
        data_loc: f.location == Location::DataLoc,
        enum_name: match record_keyword(&strip_qualifiers(&f.c_type)) {
            Some((TypeKeyword::Enum, name)) if f.array_len.is_none() && f.location == Location::Inline => Some(name.to_string()),
            _ => None,
        },
    }
}

fn field_type(f: &FormatField, resolve: Resolver<'_>) -> Type {
    let base = strip_qualifiers(&f.c_type);
    match (f.location, f.array_len) {
        (Location::RelLoc, _) => Type::Int(IntType::U32),
        (Location::DataLoc, _) if base == "char" => Type::Str { cap: DATA_LOC_CAP },
        (Location::DataLoc, _) => {
            let elem_bytes = named_size(&base, resolve).unwrap_or(1).max(1);
            let elem = sized_int(elem_bytes, f.signed).unwrap_or(Type::Int(IntType::U8));
            Type::Array {
                elem: Box::new(elem),
                len: DATA_LOC_CAP / elem_bytes,
            }
        }
        (Location::Inline, Some(len)) => array_type(f, &base, len, resolve),
        (Location::Inline, None) if base.contains('*') => pointer_type(&base, resolve),
        (Location::Inline, None) => {
            scalar_or_record(&base, f.size, f.signed, resolve).unwrap_or_else(|| bytes(f.size))
        }
    }
}

fn array_type(f: &FormatField, base: &str, len: u32, resolve: Resolver<'_>) -> Type {
    if base == "char" {
        return Type::Str {
            cap: if len > 0 { len } else { f.size },
        };
    }
    let len = if len > 0 {
        len
    } else {
        f.size / named_size(base, resolve).unwrap_or(1).max(1)
    };
    let elem_size = f.size.checked_div(len).unwrap_or(0);
    match scalar_or_record(base, elem_size, f.signed, resolve) {
        Some(elem) => Type::Array {
            elem: Box::new(elem),
            len,
        },
        None => bytes(f.size),
    }
}

/// An integer of `size` bytes, or the record `struct X` names.
fn scalar_or_record(base: &str, size: u32, signed: bool, resolve: Resolver<'_>) -> Option<Type> {
    if let Some((keyword, name)) = record_keyword(base) {
        if let Some(t) = resolve(keyword, name) {
            return Some(t);
        }
    }
    sized_int(size, signed)
}

fn pointer_type(base: &str, resolve: Resolver<'_>) -> Type {
    let depth = base.matches('*').count();
    let pointee = base.replace('*', " ");
    let pointee = strip_qualifiers(&pointee);
    let mut ty = match pointee.as_str() {
        "void" => Type::Void,
        "char" | "signed char" => Type::Int(IntType::I8),
        "unsigned char" => Type::Int(IntType::U8),
        other => match record_keyword(other) {
            Some((keyword, name)) => resolve(keyword, name),
            None => resolve(TypeKeyword::Typedef, other),
        }
        .unwrap_or(Type::Void),
    };
    for _ in 0..depth {
        ty = Type::ptr(ty);
    }
    ty
}

fn record_keyword(base: &str) -> Option<(TypeKeyword, &str)> {
    let (kw, name) = base.split_once(' ')?;
    let keyword = match kw {
        "struct" => TypeKeyword::Struct,
        "union" => TypeKeyword::Union,
        "enum" => TypeKeyword::Enum,
        _ => return None,
    };
    Some((keyword, name.trim()))
}

/// Size in bytes of a named element type (`u16`, `__be32`, `struct in6_addr`).
fn named_size(base: &str, resolve: Resolver<'_>) -> Option<u32> {
    let ty = match record_keyword(base) {
        Some((keyword, name)) => resolve(keyword, name)?,
        None => resolve(TypeKeyword::Typedef, base)?,
    };
    match ty {
        Type::Int(i) => Some(i.bytes()),
        Type::Record(r) if r.size > 0 => Some(r.size),
        _ => None,
    }
}

/// `const struct sock *` → `struct sock *`; collapses whitespace.
fn strip_qualifiers(c_type: &str) -> String {
    let words: Vec<&str> = c_type
        .split_whitespace()
        .filter(|w| !matches!(*w, "const" | "volatile" | "restrict" | "__user" | "__rcu"))
        .collect();
    words
        .join(" ")
        .replace(" *", "*")
        .replace('*', " *")
        .trim()
        .to_owned()
}

fn sized_int(size: u32, signed: bool) -> Option<Type> {
    matches!(size, 1 | 2 | 4 | 8).then(|| {
        Type::Int(IntType {
            bits: (size * 8) as u8,
            signed,
        })
    })
}

fn bytes(size: u32) -> Type {
    Type::Array {
        elem: Box::new(Type::Int(IntType::U8)),
        len: size,
    }
}

/// A tracefs mount, found on first use.
#[derive(Clone, Debug, Default)]
pub struct Tracefs {
    /// Set explicitly (tests, unusual mounts); otherwise [`DEFAULT_ROOTS`].
    configured: Option<PathBuf>,
}

impl Tracefs {
    pub fn new(configured: Option<PathBuf>) -> Self {
        Tracefs { configured }
    }

    /// The mounted tracefs root, or a message saying how to mount it — or,
    /// when it is mounted but this user may not look inside (it is mode 0700
    /// root), that tracing needs privileges.
    pub fn root(&self) -> Result<PathBuf, String> {
        let candidates: Vec<PathBuf> = match &self.configured {
            Some(root) => vec![root.clone()],
            None => DEFAULT_ROOTS.iter().map(PathBuf::from).collect(),
        };
        let mut denied = None;
        for root in &candidates {
            match std::fs::metadata(root.join("events")) {
                Ok(m) if m.is_dir() => return Ok(root.clone()),
                Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                    denied.get_or_insert(root);
                }
                _ => {}
            }
        }
        if let Some(root) = denied {
            return Err(format!(
                "cannot read tracefs at {}: permission denied; tracing {NEEDS_ROOT}",
                root.display()
            ));
        }
        Err(format!(
            "tracefs is not mounted at {0}: run `mount -t tracefs tracefs {0}`",
            candidates[0].display()
        ))
    }

    /// The text of `events/CAT/NAME/format`, or why it cannot be had.
    pub fn read_format(&self, category: &str, name: &str) -> Result<String, String> {
        let root = self.root()?;
        let unknown = || self.no_such_tracepoint(category, name);
        if !is_path_component(category) || !is_path_component(name) {
            return Err(unknown());
        }
        let path = root.join("events").join(category).join(name).join("format");
        std::fs::read_to_string(&path).map_err(|err| match err.kind() {
            ErrorKind::NotFound => unknown(),
            ErrorKind::PermissionDenied => {
                format!(
                    "cannot read {}: permission denied; tracing {NEEDS_ROOT}",
                    path.display()
                )
            }
            _ => format!("cannot read {}: {err}", path.display()),
        })
    }

    fn no_such_tracepoint(&self, category: &str, name: &str) -> String {
        let mut msg = format!("tracepoint `{category}:{name}` does not exist");
        let events = self.events().unwrap_or_default();
        let mut hints: Vec<String> = events
            .iter()
            .filter(|(c, n)| n == name && c != category)
            .map(|(c, n)| format!("{c}:{n}"))
            .collect();
        let full: Vec<String> = events.iter().map(|(c, n)| format!("{c}:{n}")).collect();
        hints.extend(closest(
            &format!("{category}:{name}"),
            full.iter().map(String::as_str),
            5,
        ));
        hints.dedup();
        hints.truncate(5);
        if !hints.is_empty() {
            let list: Vec<String> = hints.iter().map(|h| format!("`{h}`")).collect();
            msg.push_str(&format!("; did you mean {}?", list.join(", ")));
        }
        msg
    }

    /// Every event as (category, name), sorted: from `available_events` (one
    /// read), else by walking `events/`.
    pub fn events(&self) -> Result<Vec<(String, String)>, String> {
        let root = self.root()?;
        let mut out: Vec<(String, String)> =
            match std::fs::read_to_string(root.join("available_events")) {
                Ok(text) => text
                    .lines()
                    .filter_map(|l| l.trim().split_once(':'))
                    .map(|(c, n)| (c.to_owned(), n.to_owned()))
                    .collect(),
                Err(_) => walk_events(&root.join("events")),
            };
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Events whose category and name match the globs.
    pub fn matching(&self, category: &str, name: &str) -> Vec<(String, String)> {
        let events = self.events().unwrap_or_default();
        events
            .into_iter()
            .filter(|(c, n)| glob_match(category, c) && glob_match(name, n))
            .collect()
    }
}

fn walk_events(events: &Path) -> Vec<(String, String)> {
    let dirs = |p: &Path| -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(p) else {
            return Vec::new();
        };
        rd.filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect()
    };
    let mut out = Vec::new();
    for category in dirs(events) {
        for name in dirs(&events.join(&category)) {
            if events.join(&category).join(&name).join("format").is_file() {
                out.push((category.clone(), name));
            }
        }
    }
    out
}

/// A user-supplied name is used as one path component, never more.
fn is_path_component(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\0'])
}
