//! Input as people deliver it to the interactive session: runbooks pasted
//! with and without bracketed paste, in one write or in random pieces, and
//! keys that arrive together (Enter in the same read as the key before it),
//! also while probes print above the prompt. What the terminal shows is
//! checked through a terminal emulator (`vt100`): no stray characters.
//!
//! Root only: they run when FLOWTRACE_ROOT_TESTS=1, otherwise each prints a
//! loud SKIPPED line (like tests/root_cli.rs).

mod repl_pty;

use flowtrace_testkit::root_tests_enabled as enabled;
use repl_pty::*;
use std::time::{Duration, Instant};

/// A three-probe runbook of 25 lines for traffic on `port`, with comments,
/// blank lines and indentation as people write them (spaces: a Tab in a
/// paste without brackets is the completion key, in any readline).
fn runbook(port: u16) -> String {
    format!(
        "// runbook: TCP connections on port {port}
// 1. every state transition

tracepoint:sock:inet_sock_set_state
/args.sport == {port} || args.dport == {port}/
{{
    @s[args.oldstate, args.newstate] = count();
}}

/* 2. who closed: the server (the
      listener's port) or the client */
tracepoint:sock:inet_sock_set_state
/args.newstate == 7 && (args.sport == {port} || args.dport == {port})/
{{
    @closed[args.sport == {port} ? \"server\" : \"client\"] =
        count();
}}

// 3. connections established by clients
tracepoint:sock:inet_sock_set_state
/args.newstate == 1 && args.dport == {port}/
{{
    @est = count();
}}
"
    )
}

#[derive(Clone, Copy, Debug)]
enum Delivery {
    /// tmux paste-buffer, a serial console: the text as typed keys, one write.
    OneWrite,
    /// The same in random pieces with pauses.
    Chunks,
    /// A terminal with bracketed paste on, its paste in random pieces.
    Bracketed,
}

/// Pastes the runbook 20 times into one session (detaching between), and
/// checks each time: 3 probes attached, exact counts, and a screen showing
/// the runbook's lines and the three "attached" lines and nothing else.
fn paste_runbook_20_times(delivery: Delivery) {
    let home = temp_home(&format!("paste-{delivery:?}"));
    let before = ours_in_kernel();
    let mut repl = Repl::spawn(&home);
    repl.expect(PROMPT);
    let mut session_objects = Vec::new();
    for rep in 0..20u64 {
        let port = free_port();
        let text = runbook(port);
        repl.settle();
        let start = repl.raw.len();
        match delivery {
            Delivery::OneWrite => repl.send(&text.replace('\n', "\r")),
            Delivery::Chunks => repl.send_in_chunks(text.replace('\n', "\r").as_bytes(), rep),
            Delivery::Bracketed => repl.send_in_chunks(format!("\x1b[200~{text}\x1b[201~").as_bytes(), rep),
        }
        let out = repl.expect(&format!("probe {} attached: tracepoint:sock:inet_sock_set_state", rep * 3 + 3));
        repl.expect(PROMPT);
        repl.settle();
        let attached = out.matches(" attached: tracepoint:sock:inet_sock_set_state").count();
        assert_eq!(attached, 3, "{delivery:?} rep {rep}: {out}");
        assert_screen_shows_only(&repl.raw[start..], &text, delivery, rep);

        let conns = 1 + rep as u32 % 3;
        tcp_cycles(port, conns as usize);
        let out = repl.run("print(@s); print(@closed); print(@est)");
        assert_eq!(map_lines(&out, "@s["), transitions(conns, 1), "{delivery:?} rep {rep}: {out}");
        let closed = vec![format!("@closed[client]: {conns}"), format!("@closed[server]: {}", conns + 1)];
        assert_eq!(map_lines(&out, "@closed["), closed, "{delivery:?} rep {rep}: {out}");
        assert_eq!(map_lines(&out, "@est:"), vec![format!("@est: {conns}")], "{delivery:?} rep {rep}: {out}");
        let out = repl.run(".probes");
        assert_eq!(out.matches("tracepoint:sock:inet_sock_set_state").count(), 3, "{delivery:?} rep {rep}: {out}");
        if rep == 0 {
            session_objects = loaded_since(&before);
        }
        let out = repl.run(".detach all");
        assert!(out.contains("detached 3 probe(s)"), "{delivery:?} rep {rep}: {out}");
        repl.run("clear(@s); clear(@closed); clear(@est)");
    }
    repl.line(".quit");
    assert!(repl.wait().success());
    assert_gone(&session_objects);
    let _ = std::fs::remove_dir_all(&home);
}

/// The screen after a paste, prompts taken off, blank rows and the
/// "probe N attached" rows left out, must be the runbook's non-blank lines
/// in order: a lost, doubled or echoed character shows as a difference.
fn assert_screen_shows_only(raw: &[u8], text: &str, delivery: Delivery, rep: u64) {
    let mut shown = b"ft> ".to_vec();
    shown.extend_from_slice(raw);
    let rows = screen(&shown);
    let seen: Vec<&str> = rows
        .iter()
        .map(|r| if r == "ft>" { "" } else { r.strip_prefix("ft> ").unwrap_or(r) })
        .filter(|r| !r.trim().is_empty())
        .filter(|r| !(r.starts_with("probe ") && r.contains(" attached: ")))
        .collect();
    let expected: Vec<&str> = text.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
    assert_eq!(seen, expected, "{delivery:?} rep {rep}: the screen shows\n{}", rows.join("\n"));
    assert_eq!(rows.last().map(String::as_str), Some("ft>"), "{delivery:?} rep {rep}: ends at a prompt");
}

#[test]
fn root_repl_pasted_runbook_in_one_write_attaches_3_probes_20_times() {
    if enabled("root_repl_pasted_runbook_in_one_write_attaches_3_probes_20_times") {
        paste_runbook_20_times(Delivery::OneWrite);
    }
}

#[test]
fn root_repl_pasted_runbook_in_random_chunks_attaches_3_probes_20_times() {
    if enabled("root_repl_pasted_runbook_in_random_chunks_attaches_3_probes_20_times") {
        paste_runbook_20_times(Delivery::Chunks);
    }
}

#[test]
fn root_repl_bracketed_paste_of_a_runbook_attaches_3_probes_20_times() {
    if enabled("root_repl_bracketed_paste_of_a_runbook_attaches_3_probes_20_times") {
        paste_runbook_20_times(Delivery::Bracketed);
    }
}

/// Waits (bounded) for `needle` in what the session printed after `from`,
/// without sending anything: the entry must run on the keys already sent.
fn printed_without_another_key(repl: &mut Repl, from: usize, needle: &str, what: &str) {
    let found = |raw: &[u8]| clean(&raw[from..]).contains(needle);
    let ok = repl.read_until(Instant::now() + Duration::from_secs(20), found);
    assert!(ok, "{what}: no {needle:?} without another key; the screen:\n{}", screen(&repl.raw).join("\n"));
}

#[test]
fn root_repl_runs_an_entry_whose_enter_came_in_the_same_read() {
    if !enabled("root_repl_runs_an_entry_whose_enter_came_in_the_same_read") {
        return;
    }
    let home = temp_home("enter");
    let mut repl = Repl::spawn(&home);
    repl.expect(PROMPT);
    repl.settle();

    // `x` and Enter in one write: the entry runs (an error, with a caret).
    let from = repl.raw.len();
    repl.send("x\r");
    printed_without_another_key(&mut repl, from, "error", "x + Enter in one write");
    repl.expect(PROMPT);
    repl.settle();
    // In two writes, the second right after the first.
    let from = repl.raw.len();
    repl.send("x");
    repl.send("\r");
    printed_without_another_key(&mut repl, from, "error", "x, then Enter");
    repl.expect(PROMPT);

    // While a probe prints above the prompt ten times a second.
    let out = repl.run("interval:ms:100 { printf(\"tick\\n\"); }");
    assert!(out.contains("probe 1 attached"), "{out}");
    for round in 0..10 {
        repl.settle();
        let from = repl.raw.len();
        repl.send(".probes\r");
        printed_without_another_key(&mut repl, from, "interval:ms:100", &format!("round {round}, with ticks"));
    }
    // Nothing typed was lost or doubled: every .probes ran exactly once.
    let text = clean(&repl.raw);
    assert_eq!(text.matches("  id      events  probe").count(), 10, "{text}");
    repl.line(".quit");
    assert!(repl.wait().success());
    let _ = std::fs::remove_dir_all(&home);
}
