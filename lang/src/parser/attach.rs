//! Attach points: `provider:target…` as one raw token, split and checked here
//! so that each mistake gets its own message and hint.

use super::literal::parse_int;
use crate::ast::perf_event::{self, PerfEventName};
use crate::ast::{AttachKind, AttachPoint, Period, TcDir, UserTarget};
use crate::diag::{did_you_mean_hint, Diagnostic};
use crate::span::Span;
use flowtrace_stdlib::provider::{provider_names, PROVIDERS};
use flowtrace_stdlib::ProbeKind;

/// One `:`-separated part of the raw text, with its span.
struct Part<'a> {
    text: &'a str,
    span: Span,
}

pub(crate) fn parse_attach_point(raw: &str, span: Span) -> Result<AttachPoint, Diagnostic> {
    let mut parts = Vec::new();
    let mut offset = span.start as usize;
    for text in raw.split(':') {
        parts.push(Part { text, span: Span::new(offset, offset + text.len()) });
        offset += text.len() + 1;
    }
    let (provider, args) = parts.split_first().expect("split yields at least one part");
    let Some(row) = flowtrace_stdlib::provider::provider(provider.text) else {
        return Err(unknown_provider(provider.text, provider.span));
    };
    let canonical = row.name;
    let kernel_function = || function(provider, args, canonical);
    let kind = match row.kind {
        ProbeKind::Begin => no_args(provider, args, AttachKind::Begin)?,
        ProbeKind::End => no_args(provider, args, AttachKind::End)?,
        ProbeKind::Kprobe => {
            let (module, func) = kernel_function()?;
            AttachKind::Kprobe { module, func }
        }
        ProbeKind::Kretprobe => {
            let (module, func) = kernel_function()?;
            AttachKind::Kretprobe { module, func }
        }
        ProbeKind::Fentry => {
            let (module, func) = kernel_function()?;
            AttachKind::Fentry { module, func }
        }
        ProbeKind::Fexit => {
            let (module, func) = kernel_function()?;
            AttachKind::Fexit { module, func }
        }
        ProbeKind::Tracepoint => tracepoint(provider, args)?,
        ProbeKind::RawTracepoint => match args {
            [name] => AttachKind::RawTracepoint { name: name_part(name, "tracepoint name")? },
            _ => return Err(shape(span, canonical, &format!("'{canonical}:NAME'"))),
        },
        ProbeKind::Interval => AttachKind::Interval { period: interval(provider, args, span, canonical)? },
        ProbeKind::Profile => AttachKind::Profile { period: interval(provider, args, span, canonical)? },
        ProbeKind::Software => {
            let (event, count) = perf_event(provider, args, span, canonical, perf_event::SOFTWARE)?;
            AttachKind::Software { event, count }
        }
        ProbeKind::Hardware => {
            let (event, count) = perf_event(provider, args, span, canonical, perf_event::HARDWARE)?;
            AttachKind::Hardware { event, count }
        }
        ProbeKind::Tc => tc(args, span)?,
        ProbeKind::Uprobe => {
            let (binary, target) = user_function(provider, args, canonical)?;
            AttachKind::Uprobe { binary, target }
        }
        ProbeKind::Uretprobe => {
            let (binary, target) = user_function(provider, args, canonical)?;
            if matches!(target, UserTarget::Function { offset: 1.., .. }) {
                return Err(Diagnostic::error(args[1].span, "a uretprobe fires at the function's return; it takes no offset"));
            }
            AttachKind::Uretprobe { binary, target }
        }
        ProbeKind::Usdt => usdt(provider, args)?,
        ProbeKind::Iter => iterator(provider, args)?,
    };
    Ok(AttachPoint { kind, raw: raw.to_string(), span })
}

/// "valid providers: BEGIN, END, kprobe (k), …": each name with its
/// aliases, leaving out the ones that differ only in case (`begin`).
fn provider_list() -> String {
    let names: Vec<String> = PROVIDERS
        .iter()
        .map(|p| {
            let aliases: Vec<&str> = p.aliases.iter().copied().filter(|a| !a.eq_ignore_ascii_case(p.name)).collect();
            if aliases.is_empty() {
                p.name.to_string()
            } else {
                format!("{} ({})", p.name, aliases.join(", "))
            }
        })
        .collect();
    format!("valid providers: {}", names.join(", "))
}

fn unknown_provider(name: &str, span: Span) -> Diagnostic {
    if let Some(planned) = flowtrace_stdlib::provider::planned_provider(name) {
        let called = if planned.name == name { String::new() } else { format!(" ('{name}')") };
        return Diagnostic::error(span, format!("the {} provider{called} is not supported by flowtrace yet", planned.name))
            .with_hint(provider_list());
    }
    let message = if name.is_empty() {
        "missing probe provider".to_string()
    } else {
        format!("unknown probe provider '{name}'")
    };
    let mut diag = Diagnostic::error(span, message);
    if let Some(hint) = did_you_mean_hint(name, provider_names()) {
        diag = diag.with_hint(hint);
    }
    diag.with_hint(provider_list())
}

fn shape(span: Span, provider: &str, form: &str) -> Diagnostic {
    Diagnostic::error(span, format!("malformed {provider} attach point")).with_hint(format!("write it as {form}"))
}

fn no_args(provider: &Part, args: &[Part], kind: AttachKind) -> Result<AttachKind, Diagnostic> {
    match args.first() {
        None => Ok(kind),
        Some(first) => Err(Diagnostic::error(
            first.span.to(args[args.len() - 1].span),
            format!("'{}' takes no arguments", provider.text),
        )),
    }
}

/// A function, module or tracepoint name; `*` and `?` wildcards are allowed,
/// and `.` for compiler clones such as `tcp_foo.isra.0`.
fn name_part(part: &Part, what: &str) -> Result<String, Diagnostic> {
    if part.text.is_empty() {
        return Err(Diagnostic::error(part.span, format!("missing {what}")));
    }
    let bad = part.text.char_indices().find(|(_, c)| !(c.is_ascii_alphanumeric() || "_*?.".contains(*c)));
    if let Some((i, c)) = bad {
        let at = part.span.start as usize + i;
        return Err(Diagnostic::error(Span::new(at, at + c.len_utf8()), format!("unexpected '{c}' in {what}")));
    }
    Ok(part.text.to_string())
}

/// `F` or `MODULE:F`.
fn function(provider: &Part, args: &[Part], canonical: &str) -> Result<(Option<String>, String), Diagnostic> {
    match args {
        [func] => Ok((None, name_part(func, "function name")?)),
        [module, func] => Ok((Some(name_part(module, "module name")?), name_part(func, "function name")?)),
        [] => Err(Diagnostic::error(provider.span, format!("'{}' needs a function name", provider.text))
            .with_hint(format!("write it as '{canonical}:FUNCTION' or '{canonical}:MODULE:FUNCTION'"))),
        [.., last] => Err(shape(provider.span.to(last.span), canonical, &format!("'{canonical}:FUNCTION' or '{canonical}:MODULE:FUNCTION'"))),
    }
}

/// `iter:NAME`. bpftrace's `iter:NAME:PIN` (pin the iterator on bpffs
/// instead of running it) is not supported: flowtrace runs it and ends.
fn iterator(provider: &Part, args: &[Part]) -> Result<AttachKind, Diagnostic> {
    match args {
        [name] => {
            let name = name_part(name, "iterator name")?;
            if name.contains(['*', '?']) {
                return Err(Diagnostic::error(args[0].span, "iter probes do not take wildcards")
                    .with_hint("name one iterator, e.g. 'iter:task'; `flowtrace -l 'iter:*'` lists them"));
            }
            Ok(AttachKind::Iter { name, pid: None })
        }
        [_, pin, ..] => Err(Diagnostic::error(pin.span.to(args[args.len() - 1].span), "pinning an iterator ('iter:NAME:PIN') is not supported by flowtrace")
            .with_hint("write 'iter:NAME': flowtrace runs the iterator once and prints what it found")),
        [] => Err(Diagnostic::error(provider.span, format!("'{}' needs an iterator name", provider.text))
            .with_hint("write it as 'iter:NAME', e.g. 'iter:task' or 'iter:tcp'; `flowtrace -l 'iter:*'` lists them")),
    }
}

fn tracepoint(provider: &Part, args: &[Part]) -> Result<AttachKind, Diagnostic> {
    match args {
        [category, name] => Ok(AttachKind::Tracepoint {
            category: name_part(category, "tracepoint category")?,
            name: name_part(name, "tracepoint name")?,
        }),
        _ => {
            let span = args.last().map_or(provider.span, |last| provider.span.to(last.span));
            Err(shape(span, "tracepoint", "'tracepoint:CATEGORY:NAME', e.g. 'tracepoint:tcp:tcp_retransmit_skb'"))
        }
    }
}

/// `interval:s:N` (also `ms`, `us`, `hz`) or `interval:N<unit>` / `interval:N` (nanoseconds);
/// `profile:` periods alike.
fn interval(provider: &Part, args: &[Part], span: Span, canonical: &str) -> Result<Period, Diagnostic> {
    let p = canonical;
    let hint = format!("write it as '{p}:s:N', '{p}:ms:N', '{p}:us:N', '{p}:hz:N' or '{p}:1s'");
    let hint = hint.as_str();
    let period = match args {
        [unit, count] => {
            // The unit is already given: `interval:s:5ms` is a mistake.
            if !count.text.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
                return Err(Diagnostic::error(count.span, format!("expected a plain number of {}, found '{}'", unit.text, count.text))
                    .with_hint(hint));
            }
            let n = interval_count(count)?;
            let scale = match unit.text {
                "s" => 1_000_000_000,
                "ms" => 1_000_000,
                "us" => 1_000,
                "ns" => 1,
                "hz" => return nonzero(Period::Hz(n), count.span),
                other => {
                    return Err(Diagnostic::error(unit.span, format!("unknown interval unit '{other}'"))
                        .with_hint("units are s, ms, us, ns and hz"))
                }
            };
            let nanos = n.checked_mul(scale).ok_or_else(|| too_long(count.span))?;
            Period::Nanos(nanos)
        }
        [spec] => match spec.text.strip_suffix("hz") {
            Some(rate) => Period::Hz(interval_count(&Part { text: rate, span: spec.span })?),
            None => Period::Nanos(interval_count(spec)?),
        },
        [] => return Err(Diagnostic::error(provider.span, format!("'{p}' needs a period")).with_hint(hint)),
        _ => return Err(shape(span, p, &format!("'{p}:s:N' or '{p}:1s'"))),
    };
    let last = args.last().map_or(span, |p| p.span);
    nonzero(period, last)
}

/// `software:EVENT[:COUNT]` / `hardware:EVENT[:COUNT]`: an event of
/// `table` by name or alias; without COUNT, bpftrace's default for it.
fn perf_event(
    provider: &Part,
    args: &[Part],
    span: Span,
    canonical: &str,
    table: &'static [PerfEventName],
) -> Result<(&'static PerfEventName, u64), Diagnostic> {
    let form = format!("'{canonical}:EVENT' or '{canonical}:EVENT:COUNT', e.g. '{canonical}:{}:1000'", table[0].name);
    let (name, count) = match args {
        [name] => (name, None),
        [name, count] => (name, Some(count)),
        [] => return Err(Diagnostic::error(provider.span, format!("'{canonical}' needs an event name")).with_hint(format!("write it as {form}"))),
        _ => return Err(shape(span, canonical, &form)),
    };
    let Some(event) = perf_event::lookup(table, name.text) else {
        let mut diag = Diagnostic::error(name.span, format!("unknown {canonical} event '{}'", name.text));
        if let Some(hint) = did_you_mean_hint(name.text, perf_event::names(table)) {
            diag = diag.with_hint(hint);
        }
        let all: Vec<&str> = perf_event::names(table).collect();
        return Err(diag.with_hint(format!("{canonical} events: {}", all.join(", "))));
    };
    let count = match count {
        None => event.default_count,
        Some(part) => interval_count(part)?,
    };
    if count == 0 {
        return Err(Diagnostic::error(args[1].span, "the count must be greater than zero"));
    }
    Ok((event, count))
}

fn interval_count(part: &Part) -> Result<u64, Diagnostic> {
    if part.text.is_empty() {
        return Err(Diagnostic::error(part.span, "missing interval count"));
    }
    parse_int(part.text).map_err(|e| {
        let diag = Diagnostic::error(part.span, e.message);
        match e.hint {
            Some(h) => diag.with_hint(h),
            None => diag,
        }
    })
}

fn nonzero(period: Period, span: Span) -> Result<Period, Diagnostic> {
    match period {
        Period::Nanos(0) | Period::Hz(0) => Err(Diagnostic::error(span, "an interval must be longer than zero")),
        Period::Hz(hz) if hz > 1_000_000_000 => Err(too_long(span)),
        _ => Ok(period),
    }
}

fn too_long(span: Span) -> Diagnostic {
    Diagnostic::error(span, "interval is out of range")
}

/// A binary: an absolute path, or a library name the checker looks up.
fn binary_part(part: &Part) -> Result<String, Diagnostic> {
    if part.text.is_empty() {
        return Err(Diagnostic::error(part.span, "missing binary path").with_hint("write an absolute path, e.g. /usr/bin/bash, or a library name such as libc"));
    }
    Ok(part.text.to_string())
}

/// `BINARY:FUNC`, `BINARY:FUNC+OFFSET` or `BINARY:0xADDRESS`.
fn user_function(provider: &Part, args: &[Part], canonical: &str) -> Result<(String, UserTarget), Diagnostic> {
    let form = format!("'{canonical}:/path/to/binary:FUNCTION', '…:FUNCTION+OFFSET' or '…:0xADDRESS'");
    let [binary, place] = args else {
        let span = args.last().map_or(provider.span, |last| provider.span.to(last.span));
        return Err(shape(span, canonical, &form));
    };
    let binary = binary_part(binary)?;
    if place.text.starts_with("0x") || place.text.bytes().all(|b| b.is_ascii_digit()) && !place.text.is_empty() {
        let address = parse_int(place.text).map_err(|e| Diagnostic::error(place.span, e.message))?;
        return Ok((binary, UserTarget::Address(address)));
    }
    let (name, offset) = match place.text.split_once('+') {
        Some((name, off)) => {
            let at = place.span.start as usize + name.len() + 1;
            let off_span = Span::new(at, at + off.len());
            let offset = parse_int(off).map_err(|e| Diagnostic::error(off_span, format!("bad offset: {}", e.message)))?;
            (name, offset)
        }
        None => (place.text, 0),
    };
    let name_span = Span::new(place.span.start as usize, place.span.start as usize + name.len());
    let name = name_part(&Part { text: name, span: name_span }, "function name")?;
    if offset != 0 && (name.contains('*') || name.contains('?')) {
        return Err(Diagnostic::error(place.span, "an offset needs one function, not a wildcard"));
    }
    Ok((binary, UserTarget::Function { name, offset }))
}

/// `usdt:BINARY:NAME` or `usdt:BINARY:PROVIDER:NAME` (globs in both names).
fn usdt(provider: &Part, args: &[Part]) -> Result<AttachKind, Diagnostic> {
    let (binary, probe_provider, name) = match args {
        [binary, name] => (binary, None, name),
        [binary, p, name] => (binary, Some(name_part(p, "USDT provider")?), name),
        _ => {
            let span = args.last().map_or(provider.span, |last| provider.span.to(last.span));
            return Err(shape(span, "usdt", "'usdt:/path/to/binary:PROVIDER:NAME' or 'usdt:/path/to/binary:NAME'"));
        }
    };
    Ok(AttachKind::Usdt { binary: binary_part(binary)?, provider: probe_provider, name: name_part(name, "USDT probe name")?, site: None })
}

/// `tc:IFACE:ingress|egress`; IFACE may be a glob (`veth*`, `*`) and may hold
/// `.` and `-` (`eth0.100`, `lxc-abc`).
fn tc(args: &[Part], span: Span) -> Result<AttachKind, Diagnostic> {
    let [iface, dir] = args else {
        return Err(shape(span, "tc", "'tc:IFACE:ingress' or 'tc:IFACE:egress'"));
    };
    if iface.text.is_empty() {
        return Err(Diagnostic::error(iface.span, "missing interface name").with_hint("use '*' for every interface"));
    }
    let bad = iface.text.char_indices().find(|(_, c)| !(c.is_ascii_alphanumeric() || "_.-*?[]@".contains(*c)));
    if let Some((i, c)) = bad {
        let at = iface.span.start as usize + i;
        return Err(Diagnostic::error(Span::new(at, at + c.len_utf8()), format!("unexpected '{c}' in interface name")));
    }
    let dir = match dir.text {
        "ingress" => TcDir::Ingress,
        "egress" => TcDir::Egress,
        other => {
            let mut diag = Diagnostic::error(dir.span, format!("unknown tc direction '{other}'"));
            if let Some(hint) = did_you_mean_hint(other, ["ingress", "egress"]) {
                diag = diag.with_hint(hint);
            }
            return Err(diag.with_hint("the direction is 'ingress' or 'egress'"));
        }
    };
    Ok(AttachKind::Tc { iface: iface.text.to_string(), dir })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(raw: &str) -> AttachKind {
        parse_attach_point(raw, Span::new(0, raw.len())).expect(raw).kind
    }

    fn error(raw: &str) -> Diagnostic {
        parse_attach_point(raw, Span::new(0, raw.len())).expect_err(raw)
    }

    #[test]
    fn providers_and_aliases() {
        assert_eq!(kind("BEGIN"), AttachKind::Begin);
        assert_eq!(kind("end"), AttachKind::End);
        assert_eq!(kind("k:tcp_*"), AttachKind::Kprobe { module: None, func: "tcp_*".into() });
        assert_eq!(kind("kprobe:nf_conntrack:nf_ct_delete"), AttachKind::Kprobe { module: Some("nf_conntrack".into()), func: "nf_ct_delete".into() });
        assert_eq!(kind("kretfunc:tcp_sendmsg"), AttachKind::Fexit { module: None, func: "tcp_sendmsg".into() });
        assert_eq!(kind("t:tcp:*"), AttachKind::Tracepoint { category: "tcp".into(), name: "*".into() });
        assert_eq!(kind("rt:kfree_skb"), AttachKind::RawTracepoint { name: "kfree_skb".into() });
        assert_eq!(kind("tc:eth0.100:egress"), AttachKind::Tc { iface: "eth0.100".into(), dir: TcDir::Egress });
        assert_eq!(kind("tc:veth*:ingress"), AttachKind::Tc { iface: "veth*".into(), dir: TcDir::Ingress });
    }

    #[test]
    fn user_space_forms() {
        let f = |name: &str, offset| UserTarget::Function { name: name.into(), offset };
        assert_eq!(kind("u:/bin/bash:readline"), AttachKind::Uprobe { binary: "/bin/bash".into(), target: f("readline", 0) });
        assert_eq!(kind("uprobe:libc:malloc+8"), AttachKind::Uprobe { binary: "libc".into(), target: f("malloc", 8) });
        assert_eq!(kind("uprobe:/b:0x1234"), AttachKind::Uprobe { binary: "/b".into(), target: UserTarget::Address(0x1234) });
        assert_eq!(kind("ur:/b:SSL_*"), AttachKind::Uretprobe { binary: "/b".into(), target: f("SSL_*", 0) });
        assert_eq!(
            kind("usdt:/b:prov:name"),
            AttachKind::Usdt { binary: "/b".into(), provider: Some("prov".into()), name: "name".into(), site: None }
        );
        assert_eq!(kind("U:/b:name"), AttachKind::Usdt { binary: "/b".into(), provider: None, name: "name".into(), site: None });
        assert_eq!(error("uprobe:/b").message, "malformed uprobe attach point");
        assert_eq!(error("uretprobe:/b:f+4").message, "a uretprobe fires at the function's return; it takes no offset");
        assert_eq!(error("uprobe:/b:f*+4").message, "an offset needs one function, not a wildcard");
    }

    #[test]
    fn interval_forms() {
        let nanos = |raw| match kind(raw) {
            AttachKind::Interval { period } => period,
            other => panic!("{other:?}"),
        };
        assert_eq!(nanos("interval:s:60"), Period::Nanos(60_000_000_000));
        assert_eq!(nanos("i:ms:100"), Period::Nanos(100_000_000));
        assert_eq!(nanos("interval:us:10"), Period::Nanos(10_000));
        assert_eq!(nanos("interval:hz:99"), Period::Hz(99));
        assert_eq!(nanos("interval:1s"), Period::Nanos(1_000_000_000));
        assert_eq!(nanos("interval:100ms"), Period::Nanos(100_000_000));
        assert_eq!(nanos("interval:5hz"), Period::Hz(5));
        assert_eq!(nanos("interval:1000"), Period::Nanos(1000));
        assert_eq!(kind("profile:hz:99"), AttachKind::Profile { period: Period::Hz(99) });
        assert_eq!(kind("p:ms:10"), AttachKind::Profile { period: Period::Nanos(10_000_000) });
    }

    #[test]
    fn perf_event_forms() {
        let sw = |name| perf_event::lookup(perf_event::SOFTWARE, name).unwrap();
        let hw = |name| perf_event::lookup(perf_event::HARDWARE, name).unwrap();
        assert_eq!(kind("software:cpu-clock:100000"), AttachKind::Software { event: sw("cpu-clock"), count: 100_000 });
        assert_eq!(kind("s:cs"), AttachKind::Software { event: sw("context-switches"), count: 1000 });
        assert_eq!(kind("h:cycles:5"), AttachKind::Hardware { event: hw("cpu-cycles"), count: 5 });
        let e = error("software:cpu-clok:1");
        assert_eq!((e.message.as_str(), e.span), ("unknown software event 'cpu-clok'", Span::new(9, 17)));
        assert_eq!(e.hints[0], "did you mean 'cpu-clock'?");
        assert_eq!(error("hardware:cycles:0").span, Span::new(16, 17));
        assert_eq!(error("software").message, "'software' needs an event name");
        assert_eq!(error("profile").message, "'profile' needs a period");
    }

    #[test]
    fn errors_point_at_the_bad_part() {
        let e = error("kprobex:tcp_sendmsg");
        assert_eq!(e.message, "unknown probe provider 'kprobex'");
        assert_eq!(e.span, Span::new(0, 7));
        assert_eq!(e.hints[0], "did you mean one of 'kprobe', 'uprobe'?");
        assert_eq!(
            e.hints[1],
            "valid providers: BEGIN, END, kprobe (k), kretprobe (kr), tracepoint (t), rawtracepoint (rt), \
             fentry (f, kfunc), fexit (fr, kretfunc), interval (i), profile (p), software (s), hardware (h), tc, uprobe (u), uretprobe (ur), usdt (U), iter (it)"
        );
        assert_eq!(error("iter:task:pinned").message, "pinning an iterator ('iter:NAME:PIN') is not supported by flowtrace");
        assert_eq!(error("iter:t*").span, Span::new(5, 7));
        assert_eq!(error("interval:s:0").message, "an interval must be longer than zero");
        assert_eq!(error("interval:min:1").span, Span::new(9, 12));
        assert_eq!(error("tracepoint:tcp").message, "malformed tracepoint attach point");
        assert_eq!(error("tc:eth0:ingres").hints[0], "did you mean 'ingress'?");
        assert_eq!(error("kprobe:").message, "missing function name");
        assert_eq!(error("BEGIN:x").message, "'BEGIN' takes no arguments");
        assert_eq!(error("interval:s:5ms").message, "expected a plain number of s, found '5ms'");
    }
}
