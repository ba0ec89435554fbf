//! Strings: `str(ptr[, len])` reads a NUL-terminated string from kernel
//! memory; `strncmp(a, b, n)` compares two strings.

use crate::registry::{FuncInfo, FuncRole};
use crate::Func;

pub(crate) const FUNCS: &[FuncInfo] = &[
    FuncInfo {
        func: Func::Str,
        name: "str",
        min_args: 1,
        max_args: 2,
        role: FuncRole::Value,
        signature: "string str(char *ptr [, int len])",
        doc: "read a NUL-terminated string (at most `len` bytes, NUL included) from kernel memory",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Strncmp,
        name: "strncmp",
        min_args: 3,
        max_args: 3,
        role: FuncRole::Value,
        signature: "uint64 strncmp(string a, string b, int n)",
        doc: "0 when the first `n` bytes of both strings are equal, else non-zero",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Strcontains,
        name: "strcontains",
        min_args: 2,
        max_args: 2,
        role: FuncRole::Value,
        signature: "bool strcontains(string haystack, string needle)",
        doc: "whether `needle` occurs in `haystack`",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Strerror,
        name: "strerror",
        min_args: 1,
        max_args: 1,
        role: FuncRole::Value,
        signature: "strerror_t strerror(int errno)",
        doc: "the C library's message for error number `errno` (`No such file or directory` for 2), named in user space; printed with %s",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Buf,
        name: "buf",
        min_args: 1,
        max_args: 2,
        role: FuncRole::Value,
        signature: "buffer buf(void *data | array [, int length])",
        doc: "`length` raw bytes (at most 64) read from `data`; printed with `%r` (`%rx`, `%rh`) or print()",
        unsupported: None,
    },
    FuncInfo {
        func: Func::Path,
        name: "path",
        min_args: 1,
        max_args: 2,
        role: FuncRole::Value,
        signature: "string path(struct path *p [, int size])",
        doc: "the file path of a `struct path` (bpf_d_path; fentry/fexit of allow-listed functions only)",
        unsupported: None,
    },
];
