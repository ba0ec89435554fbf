//! `.save FILE.ft`: the session as a runbook script. It holds the map
//! declarations, the statements that created maps (as `BEGIN` blocks) and
//! the probes attached at the time, in the order they were entered, so
//! `flowtrace FILE.ft` runs what the session was running.

use super::session::{Entry, EntryKind};

pub fn render(entries: &[Entry]) -> String {
    let mut out = String::from("// Saved from a flowtrace interactive session: the probes attached at the\n// time, in the order they were entered. Run with `flowtrace FILE`.\n");
    for e in entries {
        let keep = match e.kind {
            EntryKind::Probes => e.live,
            EntryKind::Declarations | EntryKind::State => true,
        };
        if keep {
            out.push('\n');
            out.push_str(e.saved.trim_end());
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repl::assemble::Piece;

    fn entry(id: u32, kind: EntryKind, text: &str, live: bool) -> Entry {
        Entry { id, kind, piece: Piece::verbatim("<input>", text), saved: text.to_string(), live }
    }

    #[test]
    fn saves_declarations_state_and_live_probes_in_order() {
        let entries = vec![
            entry(0, EntryKind::Declarations, "let @flows = lruhash(100);", false),
            entry(1, EntryKind::Probes, "tracepoint:tcp:tcp_send_reset {\n  @flows[pid] = count();\n}\n\n", false),
            entry(0, EntryKind::State, "BEGIN { @limit = 10; }", false),
            entry(2, EntryKind::Probes, "interval:s:1 { print(@flows); }", true),
        ];
        assert_eq!(
            render(&entries),
            "// Saved from a flowtrace interactive session: the probes attached at the\n\
             // time, in the order they were entered. Run with `flowtrace FILE`.\n\
             \nlet @flows = lruhash(100);\n\
             \nBEGIN { @limit = 10; }\n\
             \ninterval:s:1 { print(@flows); }\n"
        );
    }
}
