//! A lazy reader for kernel BTF (`/sys/kernel/btf/vmlinux`).
//!
//! Opening does one linear pass over the type section, recording where each
//! variable-length type record starts and its kind; nothing else is decoded
//! until asked for. Name lookups are linear scans over the records of one kind
//! (a few hundred microseconds on a 126k-type vmlinux), which beats building a
//! name index for the handful of lookups a script makes.
//!
//! The format is described in the kernel's `Documentation/bpf/btf.rst`. Only
//! BTF in the host's byte order is accepted (the kernel always exposes that).
//!
//! Layout of the module:
//! - [`types`]: typed views of one record (ints, members, enum values, params);
//! - [`lookup`]: finding types, functions and enumerators by name;
//! - [`resolve`]: BTF types → the checker's [`flowtrace_lang::types::Type`],
//!   member lookup through anonymous members and bitfields;
//! - [`write`]: writing BTF blobs: the program BTF that callback
//!   subprograms need at load time, test fixtures and hand-built BTF;
//! - [`subset`] (feature `fixture-writer`): the vmlinux subset fixture
//!   generator; the binary does not need it.

pub mod cdecl;
pub mod lookup;
pub mod resolve;
#[cfg(feature = "fixture-writer")]
pub mod subset;
pub mod types;
pub mod write;

use std::fmt;
use std::fs::File;
use std::ops::Deref;
use std::path::Path;

pub use types::{IntEncoding, Kind, RawMember, TypeView};

/// A BTF type id; 0 is `void`.
pub type TypeId = u32;

const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;
/// `name_off`, `info`, `size`/`type`: the part every record starts with.
const RECORD_HEAD: usize = 12;

#[derive(Debug)]
pub enum BtfError {
    Io {
        path: String,
        err: std::io::Error,
    },
    /// The blob is not BTF or is damaged; the string says where.
    Malformed(String),
}

impl fmt::Display for BtfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtfError::Io { path, err } => write!(f, "cannot read BTF from {path}: {err}"),
            BtfError::Malformed(why) => write!(f, "malformed BTF: {why}"),
        }
    }
}

impl std::error::Error for BtfError {}

fn malformed<T>(why: impl Into<String>) -> Result<T, BtfError> {
    Err(BtfError::Malformed(why.into()))
}

/// The bytes of a BTF blob: mapped from a file or owned.
enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// A parsed BTF blob.
pub struct Btf {
    data: Bytes,
    types_start: usize,
    strings_start: usize,
    strings_len: usize,
    /// `offsets[id]`: byte offset of type `id`'s record in `data`; index 0
    /// (void) is unused.
    offsets: Vec<u32>,
    /// `kinds[id]`: the raw kind number, so scans for one kind never touch the
    /// records of the others.
    kinds: Vec<u8>,
}

impl Btf {
    /// Reads a BTF file. vmlinux BTF is mapped, not copied: sysfs supports a
    /// private read-only mmap of it since 6.16. Older kernels fall back to a
    /// read, which sysfs serves a page per syscall (~3 ms for vmlinux).
    pub fn from_file(path: &Path) -> Result<Btf, BtfError> {
        let io = |err| BtfError::Io {
            path: path.display().to_string(),
            err,
        };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the mapping is read-only and vmlinux BTF never changes while
        // the kernel runs; a regular file changed under us could at worst make
        // lookups fail (every access is bounds-checked), not break memory safety
        // of anything but the bytes themselves.
        // MAP_PRIVATE: the kernel refuses shared mappings of vmlinux BTF (EACCES).
        let mapped = unsafe { memmap2::MmapOptions::new().map_copy_read_only(&file) };
        let data = match mapped {
            Ok(m) if !m.is_empty() => Bytes::Mapped(m),
            _ => Bytes::Owned(std::fs::read(path).map_err(io)?),
        };
        Btf::parse(data)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Btf, BtfError> {
        Btf::parse(Bytes::Owned(bytes))
    }

    fn parse(data: Bytes) -> Result<Btf, BtfError> {
        if data.len() < HEADER_LEN {
            return malformed("shorter than the BTF header");
        }
        let magic = u16::from_ne_bytes([data[0], data[1]]);
        if magic == MAGIC.swap_bytes() {
            return malformed("BTF in the other byte order is not supported");
        }
        if magic != MAGIC {
            return malformed(format!("bad magic {magic:#06x}"));
        }
        let word = |at: usize| read_u32(&data, at).unwrap_or(0) as usize;
        let hdr_len = word(4);
        let (type_off, type_len, str_off, str_len) = (word(8), word(12), word(16), word(20));
        let types_start = hdr_len + type_off;
        let types_end = types_start + type_len;
        let strings_start = hdr_len + str_off;
        if hdr_len < HEADER_LEN || types_end > data.len() || strings_start + str_len > data.len() {
            return malformed("section offsets point outside the blob");
        }
        let (offsets, kinds) = index_records(&data, types_start, types_end)?;
        Ok(Btf {
            data,
            types_start,
            strings_start,
            strings_len: str_len,
            offsets,
            kinds,
        })
    }

    /// Number of type ids, void included (valid ids are `1..len()`).
    pub fn len(&self) -> u32 {
        self.offsets.len() as u32
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.len() <= 1
    }

    /// The record of type `id`; `None` for void (0) and ids out of range.
    pub fn get(&self, id: TypeId) -> Option<TypeView<'_>> {
        if id == 0 {
            return None;
        }
        let off = *self.offsets.get(id as usize)? as usize;
        Some(TypeView::new(self, id, off))
    }

    /// The raw kind number of `id` (0 for void or out of range).
    pub fn kind_of(&self, id: TypeId) -> u8 {
        self.kinds.get(id as usize).copied().unwrap_or(0)
    }

    /// Ids of every type of kind `kind`, in id order.
    pub fn ids_of_kind(&self, kind: Kind) -> impl Iterator<Item = TypeId> + '_ {
        let want = kind as u8;
        self.kinds
            .iter()
            .enumerate()
            .filter(move |(_, k)| **k == want)
            .map(|(id, _)| id as TypeId)
    }

    /// The NUL-terminated string at `off` in the string section; "" when the
    /// offset is out of range or the bytes are not UTF-8.
    pub fn string(&self, off: u32) -> &str {
        std::str::from_utf8(self.string_bytes(off)).unwrap_or("")
    }

    /// Like [`Self::string`], without the UTF-8 check (for fast comparisons).
    pub fn string_bytes(&self, off: u32) -> &[u8] {
        let off = off as usize;
        if off >= self.strings_len {
            return &[];
        }
        let section = &self.data[self.strings_start..self.strings_start + self.strings_len];
        let tail = &section[off..];
        let end = tail.iter().position(|b| *b == 0).unwrap_or(tail.len());
        &tail[..end]
    }

    /// Whether the string at `off` is exactly `want`, without scanning for
    /// its end first (most candidates differ in the first byte).
    pub fn string_is(&self, off: u32, want: &[u8]) -> bool {
        let start = self.strings_start + off as usize;
        let end = self.strings_start + self.strings_len;
        start + want.len() < end
            && &self.data[start..start + want.len()] == want
            && self.data[start + want.len()] == 0
    }

    fn u32_at(&self, at: usize) -> u32 {
        read_u32(&self.data, at).unwrap_or(0)
    }

    /// The raw bytes of the type section (for [`subset`]).
    fn record_bytes(&self, at: usize, len: usize) -> &[u8] {
        self.data.get(at..at + len).unwrap_or(&[])
    }

    /// Start of the type section, for error messages and tests.
    pub fn types_start(&self) -> usize {
        self.types_start
    }
}

fn read_u32(data: &[u8], at: usize) -> Option<u32> {
    let b = data.get(at..at + 4)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// The one linear pass: every record's start and kind.
fn index_records(data: &[u8], start: usize, end: usize) -> Result<(Vec<u32>, Vec<u8>), BtfError> {
    // vmlinux records average ~25 bytes; reserving avoids regrowing 600 KiB.
    let guess = (end - start) / 24 + 1;
    let mut offsets = Vec::with_capacity(guess);
    let mut kinds = Vec::with_capacity(guess);
    offsets.push(0);
    kinds.push(0);
    let mut at = start;
    while at < end {
        let Some(info) = read_u32(data, at + 4) else {
            return malformed(format!("record at byte {at} is cut off"));
        };
        let kind = ((info >> 24) & 0x1f) as u8;
        let vlen = (info & 0xffff) as usize;
        let Some(extra) = types::trailing_len(kind, vlen) else {
            return malformed(format!("unknown kind {kind} at byte {at}"));
        };
        let next = at + RECORD_HEAD + extra;
        if next > end {
            return malformed(format!("record at byte {at} runs past the type section"));
        }
        offsets.push(at as u32);
        kinds.push(kind);
        at = next;
    }
    Ok((offsets, kinds))
}
