//! bpftrace's config variables: the script's `config = { key = value; … }`
//! block and the `BPFTRACE_*` environment variables, which take precedence
//! over it (as in bpftrace).
//!
//! Each key is one [`Key`]; what flowtrace does with it is one row of
//! [`support`]: honoured (a [`Settings`] field the binary and the checker
//! read), without effect here (a warning, as the feature it tunes does not
//! exist in flowtrace), or refused with the reason.

use crate::ast::{ConfigBlock, ConfigValue};
use crate::diag::{did_you_mean_hint, Diagnostic};

/// What a script (or the environment) asked for; `None`: flowtrace's default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// `str()` buffer size without an explicit length, NUL included.
    pub max_strlen: Option<u32>,
    /// Keys of a map without a `let` declaration.
    pub max_map_keys: Option<u32>,
    /// `false`: maps are not printed at exit.
    pub print_maps_on_exit: Option<bool>,
    /// Pages of the event ring buffer.
    pub perf_rb_pages: Option<u32>,
    /// What a probe that does not exist (no such tracepoint, a wildcard
    /// matching nothing, fentry on a function without BTF) does.
    pub missing_probes: MissingProbes,
    /// Appended to strings printed cut; `None`: today's bpftrace's "..".
    pub str_trunc_trailer: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingProbes {
    #[default]
    Error,
    Warn,
    Ignore,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    MaxStrlen,
    MaxMapKeys,
    PrintMapsOnExit,
    PerfRbPages,
    StrTruncTrailer,
    MissingProbes,
    License,
    LogSize,
    MaxBpfProgs,
    MaxCatBytes,
    MaxProbes,
    OnStackLimit,
    StackMode,
    CacheUserSymbols,
    CppDemangle,
    LazySymbolication,
    ShowDebugInfo,
    UnstableTseries,
    UnstableDwUstack,
}

const KEYS: [(&str, Key); 19] = [
    ("max_strlen", Key::MaxStrlen),
    ("max_map_keys", Key::MaxMapKeys),
    ("print_maps_on_exit", Key::PrintMapsOnExit),
    ("perf_rb_pages", Key::PerfRbPages),
    ("str_trunc_trailer", Key::StrTruncTrailer),
    ("missing_probes", Key::MissingProbes),
    ("license", Key::License),
    ("log_size", Key::LogSize),
    ("max_bpf_progs", Key::MaxBpfProgs),
    ("max_cat_bytes", Key::MaxCatBytes),
    ("max_probes", Key::MaxProbes),
    ("on_stack_limit", Key::OnStackLimit),
    ("stack_mode", Key::StackMode),
    ("cache_user_symbols", Key::CacheUserSymbols),
    ("cpp_demangle", Key::CppDemangle),
    ("lazy_symbolication", Key::LazySymbolication),
    ("show_debug_info", Key::ShowDebugInfo),
    ("unstable_tseries", Key::UnstableTseries),
    ("unstable_dw_ustack", Key::UnstableDwUstack),
];

/// The longest `str()` buffer: strings are built on the 512-byte BPF stack.
pub const MAX_STRLEN: u64 = 256;

/// A key as bpftrace spells it: `max_strlen`, `MAX_STRLEN` or `BPFTRACE_MAX_STRLEN`.
pub fn key_named(name: &str) -> Option<Key> {
    let lower = name.to_ascii_lowercase();
    let bare = lower.strip_prefix("bpftrace_").unwrap_or(&lower);
    KEYS.iter().find(|(n, _)| *n == bare).map(|(_, k)| *k)
}

fn key_name(key: Key) -> &'static str {
    KEYS.iter().find(|(_, k)| *k == key).map_or("?", |(n, _)| n)
}

/// A value as written: in a config block it has a kind; from the
/// environment it is always text, read as the key needs.
#[derive(Clone, Debug, PartialEq)]
pub enum Raw<'a> {
    Block(&'a ConfigValue),
    Env(&'a str),
}

impl Raw<'_> {
    fn int(&self) -> Option<u64> {
        match self {
            Raw::Block(ConfigValue::Int(n)) => Some(*n),
            Raw::Env(t) => t.trim().parse().ok(),
            _ => None,
        }
    }

    fn bool(&self) -> Option<bool> {
        match self {
            Raw::Block(ConfigValue::Bool(b)) => Some(*b),
            Raw::Block(ConfigValue::Int(n @ 0..=1)) => Some(*n == 1),
            Raw::Env(t) => Self::bool_text(t),
            Raw::Block(ConfigValue::Word(t) | ConfigValue::Str(t)) => Self::bool_text(t),
            _ => None,
        }
    }

    fn bool_text(t: &str) -> Option<bool> {
        match t.trim() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        }
    }

    /// A string or a bare word (`missing_probes = warn`).
    fn text(&self) -> Option<&str> {
        match self {
            Raw::Block(ConfigValue::Str(t) | ConfigValue::Word(t)) => Some(t),
            Raw::Env(t) => Some(t),
            _ => None,
        }
    }
}

/// What happened to one setting.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// Accepted, but it tunes something flowtrace does not have.
    NoEffect(String),
}

/// Apply `key = value` to `settings`; an error says why it is refused.
pub fn apply(settings: &mut Settings, key: Key, value: &Raw) -> Result<Outcome, String> {
    let name = key_name(key);
    let int_in = |lo: u64, hi: u64| -> Result<u32, String> {
        match value.int() {
            Some(n) if (lo..=hi).contains(&n) => Ok(n as u32),
            _ => Err(format!("{name} must be an integer from {lo} to {hi}")),
        }
    };
    let no_effect = |why: &str| Ok(Outcome::NoEffect(format!("{name} has no effect in flowtrace: {why}")));
    match key {
        Key::MaxStrlen => settings.max_strlen = Some(int_in(1, MAX_STRLEN)?),
        Key::MaxMapKeys => settings.max_map_keys = Some(int_in(1, 1 << 24)?),
        Key::PerfRbPages => settings.perf_rb_pages = Some(int_in(1, 4096)?),
        Key::PrintMapsOnExit => {
            settings.print_maps_on_exit = Some(value.bool().ok_or(format!("{name} must be true or false"))?)
        }
        Key::StrTruncTrailer => match value.text() {
            Some(text) => settings.str_trunc_trailer = Some(text.to_string()),
            None => return Err(format!("{name} must be a string")),
        },
        Key::MissingProbes => {
            settings.missing_probes = match value.text() {
                Some("error") => MissingProbes::Error,
                Some("warn") => MissingProbes::Warn,
                Some("ignore") => MissingProbes::Ignore,
                _ => return Err(format!("{name} must be one of error, warn, ignore")),
            }
        }
        Key::License => match value.text() {
            Some("GPL" | "GPL v2" | "GPL and additional rights" | "Dual BSD/GPL" | "Dual MIT/GPL" | "Dual MPL/GPL") => {
                return no_effect("its programs are always loaded as \"GPL\", which every GPL-compatible license allows")
            }
            _ => return Err(format!("{name}: flowtrace's programs use GPL-only helpers and need a GPL-compatible license")),
        },
        Key::StackMode | Key::CacheUserSymbols | Key::CppDemangle | Key::LazySymbolication | Key::ShowDebugInfo => {
            return no_effect("it has no kstack/ustack output yet")
        }
        Key::LogSize | Key::MaxBpfProgs | Key::MaxProbes | Key::OnStackLimit | Key::MaxCatBytes => {
            return no_effect("this limit belongs to bpftrace's code generator")
        }
        Key::UnstableTseries | Key::UnstableDwUstack => return no_effect("the feature it gates does not exist in flowtrace"),
    }
    Ok(Outcome::Applied)
}

/// The script's config block, then the environment's `BPFTRACE_*` values
/// over it. Problems in the block are diagnostics at the key or value;
/// problems in the environment are messages naming the variable.
pub fn resolve(block: Option<&ConfigBlock>, env: &[(String, String)]) -> (Settings, Vec<Diagnostic>, Vec<String>) {
    let mut settings = Settings::default();
    let mut diags = Vec::new();
    for entry in block.map_or(&[][..], |b| &b.entries) {
        let Some(key) = key_named(&entry.key.name) else {
            let names = KEYS.iter().map(|(n, _)| *n);
            let mut diag = Diagnostic::error(entry.key.span, format!("unknown config variable '{}'", entry.key.name));
            if let Some(hint) = did_you_mean_hint(&entry.key.name.to_ascii_lowercase(), names) {
                diag = diag.with_hint(hint);
            }
            diags.push(diag);
            continue;
        };
        match apply(&mut settings, key, &Raw::Block(&entry.value)) {
            Ok(Outcome::Applied) => {}
            Ok(Outcome::NoEffect(why)) => diags.push(Diagnostic::warning(entry.key.span, why)),
            Err(why) => diags.push(Diagnostic::error(entry.value_span, why)),
        }
    }
    let mut env_errors = Vec::new();
    for (var, value) in env {
        let Some(key) = key_named(var) else { continue };
        match apply(&mut settings, key, &Raw::Env(value)) {
            Ok(_) => {}
            Err(why) => env_errors.push(format!("{var}={value}: {why}")),
        }
    }
    (settings, diags, env_errors)
}

/// The `BPFTRACE_*` variables of this process that name a config key.
pub fn env_vars() -> Vec<(String, String)> {
    std::env::vars().filter(|(k, _)| k.starts_with("BPFTRACE_") && key_named(k).is_some()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_as_bpftrace_spells_them() {
        for name in ["max_strlen", "MAX_STRLEN", "BPFTRACE_MAX_STRLEN"] {
            assert_eq!(key_named(name), Some(Key::MaxStrlen));
        }
        assert_eq!(key_named("BPFTRACE_BTF"), None);
    }

    #[test]
    fn environment_wins_over_the_block_and_is_checked() {
        let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let (s, d, e) = resolve(None, &env(&[("BPFTRACE_MAX_STRLEN", "32"), ("BPFTRACE_PRINT_MAPS_ON_EXIT", "false")]));
        assert_eq!((s.max_strlen, s.print_maps_on_exit, d.len(), e.len()), (Some(32), Some(false), 0, 0));
        let (_, _, e) = resolve(None, &env(&[("BPFTRACE_MAX_STRLEN", "lots"), ("BPFTRACE_MISSING_PROBES", "sometimes")]));
        assert_eq!(e[0], format!("BPFTRACE_MAX_STRLEN=lots: max_strlen must be an integer from 1 to {MAX_STRLEN}"));
        assert_eq!(e[1], "BPFTRACE_MISSING_PROBES=sometimes: missing_probes must be one of error, warn, ignore");
        let (s, _, _) = resolve(None, &env(&[("BPFTRACE_MISSING_PROBES", "ignore")]));
        assert_eq!(s.missing_probes, MissingProbes::Ignore);
    }
}
