//! The session's dot-commands: parsing and help. A malformed command is a
//! diagnostic with a caret under the part that is wrong, like any other
//! input error.

use flowtrace_lang::diag::Diagnostic;
use flowtrace_lang::Span;
use std::path::PathBuf;

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Probes,
    Detach(Which),
    Maps,
    /// `.watch @m [SECS [TOP]]`: the map name without `@`; `top` 0 prints
    /// every entry, else the TOP largest (as `print(@m, TOP)`).
    Watch { map: String, secs: f64, top: u64 },
    Load(PathBuf),
    Save(PathBuf),
    /// `.net [IFACE-GLOB] [--all-netns]`: the words after `.net`.
    Net(Vec<String>),
    Help,
    Quit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    All,
    Entry(u32),
}

/// Name, arguments and what it does, for `.help` and completion.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (".probes", "", "list the attached probes with their ids and event counts"),
    (".detach", "N|all", "detach probe N (running its END), or every probe"),
    (".maps", "", "list the maps with their types and sizes"),
    (".watch", "@map [SECS [TOP]]", "print @map (its TOP largest entries) every SECS seconds until Enter or Ctrl-C"),
    (".load", "FILE.ft", "attach the probes of a script, one entry per probe"),
    (".save", "FILE.ft", "write the attached probes and map declarations as a script"),
    (".net", "[IFACE-GLOB] [--all-netns]", "what is attached to the interfaces, with findings (as `flowtrace net`)"),
    (".help", "", "this list"),
    (".quit", "", "detach everything and leave (also Ctrl-D)"),
];

pub fn help_text() -> String {
    let mut out = String::from(
        "Type a probe (e.g. `tracepoint:tcp:tcp_retransmit_skb { @n = count(); }`) to attach it; it\n\
         keeps running while you type. Braces left open continue on the next line.\n\
         At the top level, `print(@m)`, `print(@m, 10)`, `clear(@m)`, `zero(@m)`, `delete(@m[k])`\n\
         run at once, and a bare `@m` prints it. Tab completes probes, functions, structs, members.\n\n",
    );
    for (name, args, what) in COMMANDS {
        let usage = if args.is_empty() { name.to_string() } else { format!("{name} {args}") };
        out.push_str(&format!("  {usage:<20} {what}\n"));
    }
    out
}

/// Words of `line` with their byte spans.
fn words(line: &str) -> Vec<(Span, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices().chain(std::iter::once((line.len(), ' '))) {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((Span::new(s, i), &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    out
}

fn usage(span: Span, name: &str) -> Diagnostic {
    let (args, _) = COMMANDS.iter().find(|c| c.0 == name).map_or(("", ""), |c| (c.1, c.2));
    Diagnostic::error(span, format!("usage: {name} {args}"))
}

/// Parses a line starting with `.`; spans in the diagnostic are into `line`.
pub fn parse(line: &str) -> Result<Command, Diagnostic> {
    let words = words(line);
    let Some(&(name_span, name)) = words.first() else {
        return Err(Diagnostic::error(Span::new(0, line.len()), "empty command"));
    };
    let args = &words[1..];
    let whole = Span::new(name_span.start as usize, line.trim_end().len());
    let no_args = |c: Command| match args.first() {
        None => Ok(c),
        Some(&(span, _)) => Err(Diagnostic::error(span, format!("{name} takes no arguments"))),
    };
    match name {
        ".probes" => no_args(Command::Probes),
        ".maps" => no_args(Command::Maps),
        ".help" | ".h" | ".?" => no_args(Command::Help),
        ".quit" | ".q" | ".exit" => no_args(Command::Quit),
        ".detach" => match args {
            [(_, "all")] => Ok(Command::Detach(Which::All)),
            [(span, n)] => n.parse().map(|n| Command::Detach(Which::Entry(n))).map_err(|_| {
                Diagnostic::error(*span, format!("'{n}' is not a probe id")).with_hint("see the ids with .probes, or use `.detach all`")
            }),
            _ => Err(usage(whole, ".detach")),
        },
        ".watch" => match args {
            [(map_span, map), rest @ ..] if rest.len() <= 2 => {
                let Some(map) = map.strip_prefix('@') else {
                    return Err(Diagnostic::error(*map_span, "expected a map name like @counts"));
                };
                let secs = match rest.first() {
                    None => 1.0,
                    Some((span, s)) => match s.parse::<f64>() {
                        Ok(v) if v > 0.0 && v.is_finite() => v,
                        _ => return Err(Diagnostic::error(*span, format!("'{s}' is not a positive number of seconds"))),
                    },
                };
                let top = match rest.get(1) {
                    None => 0,
                    Some((span, s)) => match s.parse::<u64>() {
                        Ok(v) if v > 0 => v,
                        _ => return Err(Diagnostic::error(*span, format!("'{s}' is not a positive number of entries"))),
                    },
                };
                Ok(Command::Watch { map: map.to_string(), secs, top })
            }
            _ => Err(usage(whole, ".watch")),
        },
        ".net" => Ok(Command::Net(args.iter().map(|a| a.1.to_string()).collect())),
        ".load" | ".save" => match args {
            [(_, path)] => {
                let path = PathBuf::from(path);
                Ok(if name == ".load" { Command::Load(path) } else { Command::Save(path) })
            }
            _ => Err(usage(whole, name)),
        },
        other => {
            let known: Vec<&str> = COMMANDS.iter().map(|c| c.0).collect();
            let close = known.iter().find(|k| k.starts_with(&other[..other.len().min(3)]));
            let mut d = Diagnostic::error(name_span, format!("unknown command '{other}'"));
            d = match close {
                Some(k) => d.with_hint(format!("did you mean '{k}'? (.help lists the commands)")),
                None => d.with_hint(".help lists the commands"),
            };
            Err(d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(parse(".probes"), Ok(Command::Probes));
        assert_eq!(parse("  .maps  "), Ok(Command::Maps));
        assert_eq!(parse(".detach 3"), Ok(Command::Detach(Which::Entry(3))));
        assert_eq!(parse(".detach all"), Ok(Command::Detach(Which::All)));
        assert_eq!(parse(".watch @flows 2.5"), Ok(Command::Watch { map: "flows".into(), secs: 2.5, top: 0 }));
        assert_eq!(parse(".watch @flows"), Ok(Command::Watch { map: "flows".into(), secs: 1.0, top: 0 }));
        assert_eq!(parse(".watch @flows 1 10"), Ok(Command::Watch { map: "flows".into(), secs: 1.0, top: 10 }));
        assert_eq!(parse(".save /tmp/x.ft"), Ok(Command::Save("/tmp/x.ft".into())));
        assert_eq!(parse(".load x.ft"), Ok(Command::Load("x.ft".into())));
        assert_eq!(parse(".quit"), Ok(Command::Quit));
        assert_eq!(parse(".q"), Ok(Command::Quit));
        assert_eq!(parse(".net"), Ok(Command::Net(vec![])));
        assert_eq!(parse(".net veth* --all-netns"), Ok(Command::Net(vec!["veth*".into(), "--all-netns".into()])));
    }

    #[test]
    fn bad_commands_point_at_the_bad_word() {
        let e = parse(".detach x").unwrap_err();
        assert_eq!((e.span.start, e.span.end), (8, 9));
        assert_eq!(e.message, "'x' is not a probe id");
        let e = parse(".watch flows 2").unwrap_err();
        assert_eq!((e.span.start, e.span.end), (7, 12));
        let e = parse(".watch @f -1").unwrap_err();
        assert_eq!(e.message, "'-1' is not a positive number of seconds");
        let e = parse(".watch @f 1 ten").unwrap_err();
        assert_eq!((e.span.start, e.span.end, e.message.as_str()), (12, 15, "'ten' is not a positive number of entries"));
        assert_eq!(parse(".watch @f 1 2 3").unwrap_err().message, "usage: .watch @map [SECS [TOP]]");
        let e = parse(".prob").unwrap_err();
        assert_eq!(e.message, "unknown command '.prob'");
        assert_eq!(e.hints, vec!["did you mean '.probes'? (.help lists the commands)".to_string()]);
        let e = parse(".probes 1").unwrap_err();
        assert_eq!(e.message, ".probes takes no arguments");
        assert_eq!(parse(".save").unwrap_err().message, "usage: .save FILE.ft");
    }

    #[test]
    fn help_lists_every_command() {
        let h = help_text();
        for (name, _, _) in COMMANDS {
            assert!(h.contains(name), "{name} missing from help");
        }
    }
}
