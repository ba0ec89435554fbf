//! Tab completion. [`complete`] decides from the text before the cursor what
//! is being typed — a command, an attach point, a struct name, a member after
//! `->`/`.`, a map, a variable, a builtin — and asks a [`Vocabulary`] for the
//! candidates; [`KernelVocabulary`] answers from BTF and tracefs, tests answer
//! with a fake. [`ReplHelper`] plugs this into rustyline together with the
//! validator that keeps an entry open while its braces are.

use super::commands::COMMANDS;
use flowtrace_kernel::btf::Kind;
use flowtrace_kernel::kernel_info::KernelInfo;
use flowtrace_lang::kernel::{KernelTypes, TypeKeyword};
use flowtrace_lang::types::Type;
use flowtrace_stdlib::provider::{Target, PROVIDERS};
use std::cell::OnceCell;

/// What completion may offer; answers are not filtered by the caller.
pub trait Vocabulary {
    /// Every tracepoint as (category, name).
    fn tracepoints(&self) -> &[(String, String)];
    fn functions(&self, prefix: &str) -> Vec<String>;
    fn structs(&self, prefix: &str) -> Vec<String>;
    /// Members of the record reached from `struct NAME` through `path`
    /// (pointers followed); empty when the path does not lead to a record.
    fn members(&self, struct_name: &str, path: &[&str]) -> Vec<String>;
    fn tracepoint_fields(&self, category: &str, name: &str) -> Vec<String>;
    fn interfaces(&self) -> Vec<String>;
}

#[derive(Debug, PartialEq, Eq)]
pub enum Completion {
    /// Replace from this byte offset with one of these.
    Words(usize, Vec<String>),
    /// A file name (`.load`, `.save`).
    File,
}

const TOP_LEVEL: &[&str] = &["print(", "clear(", "zero(", "delete(", "let "];

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '@' | '$' | ':' | '*')
}

fn keep(prefix: &str, words: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = words.into_iter().filter(|w| w.starts_with(prefix)).collect();
    out.sort();
    out.dedup();
    out
}

pub fn complete(line: &str, pos: usize, vocab: &dyn Vocabulary, maps: &[String]) -> Completion {
    let before = &line[..pos.min(line.len())];
    let start = before.rfind(|c: char| !is_word_char(c)).map_or(0, |i| i + before[i..].chars().next().map_or(1, char::len_utf8));
    let word = &before[start..];
    let head = &before[..start];
    if before.trim_start().starts_with('.') {
        return command(before, start, word, maps);
    }
    if head.ends_with("->") || (head.ends_with('.') && !head.ends_with("..")) {
        return Completion::Words(start, keep(word, member_candidates(line, head, vocab)));
    }
    if head.trim_end().ends_with("struct") && head.ends_with(char::is_whitespace) {
        return Completion::Words(start, vocab.structs(word));
    }
    // Names written elsewhere in the entry, not the one being typed.
    let others = format!("{head} {}", &line[before.len()..]);
    if word.starts_with('@') {
        let mut names: Vec<String> = maps.iter().map(|m| format!("@{m}")).collect();
        names.extend(sigiled(&others, '@'));
        return Completion::Words(start, keep(word, names));
    }
    if word.starts_with('$') {
        return Completion::Words(start, keep(word, sigiled(&others, '$')));
    }
    if let Some((provider, rest)) = word.split_once(':') {
        return Completion::Words(start, attach_point(provider, rest, vocab));
    }
    let words: Vec<String> = if depth(head) == 0 {
        providers().chain(TOP_LEVEL.iter().map(|s| s.to_string())).collect()
    } else {
        let builtins = flowtrace_stdlib::builtins().map(|b| b.name.to_string());
        builtins.chain(flowtrace_stdlib::funcs().map(|f| format!("{}(", f.name))).collect()
    };
    Completion::Words(start, keep(word, words))
}

fn command(before: &str, start: usize, word: &str, maps: &[String]) -> Completion {
    let trimmed = before.trim_start();
    if !trimmed.contains(char::is_whitespace) {
        let dot = before.len() - trimmed.len();
        return Completion::Words(dot, keep(trimmed, COMMANDS.iter().map(|c| c.0.to_string())));
    }
    let name = trimmed.split_whitespace().next().unwrap_or("");
    match name {
        ".load" | ".save" => Completion::File,
        ".watch" => Completion::Words(start, keep(word, maps.iter().map(|m| format!("@{m}")))),
        ".detach" => Completion::Words(start, keep(word, ["all".to_string()])),
        _ => Completion::Words(start, Vec::new()),
    }
}

/// Every provider's canonical name, with a `:` where a target follows.
fn providers() -> impl Iterator<Item = String> {
    PROVIDERS.iter().map(|p| match p.target {
        Target::Nothing => p.name.to_string(),
        _ => format!("{}:", p.name),
    })
}

/// Targets for `provider:rest` (the provider as typed, alias or not).
fn attach_point(provider: &str, rest: &str, vocab: &dyn Vocabulary) -> Vec<String> {
    let with = |p: &str, items: Vec<String>| keep(&format!("{provider}:{rest}"), items.into_iter().map(|i| format!("{p}:{i}")));
    let Some(row) = flowtrace_stdlib::provider::provider(provider) else { return Vec::new() };
    match row.target {
        Target::Tracepoint => {
            let tps = vocab.tracepoints();
            match rest.split_once(':') {
                None => with(provider, tps.iter().map(|(c, _)| format!("{c}:")).collect()),
                Some((cat, _)) => with(provider, tps.iter().filter(|(c, _)| c == cat).map(|(c, n)| format!("{c}:{n}")).collect()),
            }
        }
        Target::KernelFunction => {
            if rest.len() < 2 {
                return Vec::new(); // tens of thousands: wait for a prefix
            }
            with(provider, vocab.functions(rest))
        }
        Target::RawTracepoint => with(provider, crate::list::raw_tracepoints(vocab.tracepoints())),
        Target::Period => with(provider, ["s:1", "ms:100", "us:", "hz:"].iter().map(|s| s.to_string()).collect()),
        Target::Interface => {
            let ifaces = vocab.interfaces();
            with(provider, ifaces.iter().flat_map(|i| [format!("{i}:ingress"), format!("{i}:egress")]).collect())
        }
        // Few enough to offer at once; the usual ones (the kernel's list
        // is for `flowtrace -l 'iter:*'`).
        Target::Iterator => with(provider, ["task", "task_file", "task_vma", "tcp", "udp"].iter().map(|s| s.to_string()).collect()),
        // A path comes first: the shell's file completion is the better tool.
        Target::Nothing | Target::UserFunction | Target::Usdt | Target::PerfEvent => Vec::new(),
    }
}

/// `$x`/`@m` names written anywhere in the entry.
fn sigiled(text: &str, sigil: char) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices(sigil) {
        let name: String = text[i + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            out.push(format!("{sigil}{name}"));
        }
    }
    out
}

/// Bracket depth at the end of `text` (strings ignored roughly).
fn depth(text: &str) -> i32 {
    let mut d = 0;
    let mut in_str = false;
    for c in text.chars() {
        match c {
            '"' => in_str = !in_str,
            '{' | '(' | '[' if !in_str => d += 1,
            '}' | ')' | ']' if !in_str => d -= 1,
            _ => {}
        }
    }
    d
}

/// `$sk->__sk_common.` → base `$sk`, path [`__sk_common`].
fn member_chain(head: &str) -> Option<(&str, Vec<&str>)> {
    let mut path = Vec::new();
    let mut rest = head;
    loop {
        rest = rest.strip_suffix("->").or_else(|| rest.strip_suffix('.'))?;
        let start = rest.rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$')).map_or(0, |i| i + 1);
        let name = &rest[start..];
        if name.is_empty() {
            return None;
        }
        rest = &rest[..start];
        if !(rest.ends_with("->") || rest.ends_with('.')) {
            path.reverse();
            return Some((name, path));
        }
        path.push(name);
    }
}

/// `$var = (struct NAME *)` in the entry: the struct the variable points to.
fn cast_struct<'a>(text: &'a str, var: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(i) = text[from..].find(var) {
        let after = &text[from + i + var.len()..];
        from += i + var.len();
        let Some(rhs) = after.trim_start().strip_prefix('=') else { continue };
        let Some(inner) = rhs.trim_start().strip_prefix('(') else { continue };
        let Some(name) = inner.trim_start().strip_prefix("struct") else { continue };
        let name = name.trim_start();
        let end = name.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(name.len());
        if end > 0 && name[end..].trim_start().starts_with('*') {
            return Some(&name[..end]);
        }
    }
    None
}

/// The attach point of the probe the cursor is in: the first word of the
/// last top-level item before the cursor.
fn current_tracepoint(head: &str) -> Option<(&str, &str)> {
    let mut d = 0;
    let mut item_start = 0;
    for (i, c) in head.char_indices() {
        match c {
            '{' => d += 1,
            '}' => {
                d -= 1;
                if d == 0 {
                    item_start = i + 1;
                }
            }
            _ => {}
        }
    }
    let point = head[item_start..].split(|c: char| c.is_whitespace() || c == '{' || c == ',' || c == '/').find(|w| !w.is_empty())?;
    let (provider, rest) = point.split_once(':')?;
    let row = flowtrace_stdlib::provider::provider(provider)?;
    (row.target == Target::Tracepoint).then(|| rest.split_once(':')).flatten()
}

fn member_candidates(line: &str, head: &str, vocab: &dyn Vocabulary) -> Vec<String> {
    let Some((base, path)) = member_chain(head) else { return Vec::new() };
    if base == "args" && path.is_empty() {
        return current_tracepoint(head).map(|(c, n)| vocab.tracepoint_fields(c, n)).unwrap_or_default();
    }
    match base.strip_prefix('$').and_then(|_| cast_struct(line, base)) {
        Some(name) => vocab.members(name, &path),
        None => Vec::new(),
    }
}

/// Answers from the kernel's BTF and tracefs.
pub struct KernelVocabulary<'k> {
    kernel: &'k KernelInfo,
    tracepoints: OnceCell<Vec<(String, String)>>,
}

impl<'k> KernelVocabulary<'k> {
    pub fn new(kernel: &'k KernelInfo) -> Self {
        KernelVocabulary { kernel, tracepoints: OnceCell::new() }
    }
}

fn peel(ty: &Type) -> Option<&flowtrace_lang::types::RecordType> {
    match ty {
        Type::Record(r) => Some(r),
        Type::Pointer(inner, _) => peel(inner),
        _ => None,
    }
}

impl Vocabulary for KernelVocabulary<'_> {
    fn tracepoints(&self) -> &[(String, String)] {
        self.tracepoints.get_or_init(|| self.kernel.match_tracepoints("*", "*"))
    }

    fn functions(&self, prefix: &str) -> Vec<String> {
        let clean: String = prefix.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        keep(prefix, self.kernel.match_functions(&format!("{clean}*")))
    }

    fn structs(&self, prefix: &str) -> Vec<String> {
        let btf = self.kernel.btf();
        let names = btf.ids_of_kind(Kind::Struct).filter_map(|id| btf.get(id)).map(|t| t.name()).filter(|n| n.starts_with(prefix));
        keep(prefix, names.map(str::to_string))
    }

    fn members(&self, struct_name: &str, path: &[&str]) -> Vec<String> {
        let Some(Type::Record(mut record)) = self.kernel.find_type(TypeKeyword::Struct, struct_name) else { return Vec::new() };
        for step in path {
            let Some(next) = self.kernel.member(&record, step).and_then(|m| peel(&m.ty).cloned()) else { return Vec::new() };
            record = next;
        }
        self.kernel.member_names(&record)
    }

    fn tracepoint_fields(&self, category: &str, name: &str) -> Vec<String> {
        let fields = self.kernel.tracepoint_fields(category, name).unwrap_or_default();
        fields.into_iter().map(|f| f.name).filter(|n| !n.starts_with("common_")).collect()
    }

    fn interfaces(&self) -> Vec<String> {
        let dir = std::fs::read_dir("/sys/class/net").into_iter().flatten().flatten();
        dir.map(|e| e.file_name().to_string_lossy().into_owned()).collect()
    }
}

#[cfg(test)]
#[path = "completion_tests.rs"]
mod tests;
