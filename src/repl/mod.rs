//! `flowtrace` with no program (or `-i`): the interactive session.
//!
//! Probes typed at the prompt are attached at once and keep running while
//! the engineer types; their maps persist and are shared with later entries
//! exactly as in one script ([`session`]). Statements at the top level run
//! once ([`input`]); dot-commands inspect and manage the session
//! ([`commands`]). A background thread prints what probes send without
//! wrecking the prompt ([`background`], [`shared`]).

/// print!/eprint! that never panic: after the terminal hangs up, writes
/// fail, and the session must still detach everything and exit cleanly.
macro_rules! out {
    ($($t:tt)*) => {{ use std::io::Write as _; let _ = write!(std::io::stdout(), $($t)*); }};
}
macro_rules! outln {
    ($($t:tt)*) => {{ use std::io::Write as _; let _ = writeln!(std::io::stdout(), $($t)*); }};
}
macro_rules! err {
    ($($t:tt)*) => {{ use std::io::Write as _; let _ = write!(std::io::stderr(), $($t)*); }};
}
macro_rules! errln {
    ($($t:tt)*) => {{ use std::io::Write as _; let _ = writeln!(std::io::stderr(), $($t)*); }};
}

mod assemble;
mod background;
mod commands;
mod completion;
mod helper;
mod history;
mod input;
mod lookup;
mod save;
mod session;
mod shared;
mod watch;

use crate::cli::Cli;
use assemble::Piece;
use background::{Background, SavedTerminal};
use commands::{Command, Which};
use flowtrace_codegen::compile::CompileOptions;
use flowtrace_codegen::object::{MapRole, MapValue};
use flowtrace_lang::Source;
use flowtrace_runtime::output::Printer;
use input::InputKind;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::Editor;
use session::{Kind, Outcome, Session};
use shared::{lock, Out, OutWriter, Shared};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

type ReplEditor<'k> = Editor<helper::ReplHelper<'k>, DefaultHistory>;

pub fn run(cli: &Cli) -> ExitCode {
    match session_main(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            errln!("flowtrace: error: {msg}");
            ExitCode::from(1)
        }
    }
}

fn session_main(cli: &Cli) -> Result<(), String> {
    let kernel = crate::frontend::open_kernel(cli)?;
    background::install_signals();
    let terminal = SavedTerminal::capture();
    // rustyline is the vendored one (vendor/rustyline/PATCHED.md): the
    // published reader kept keys that arrived together in a buffer its
    // `select` could not see and dropped it after each line, so pastes lost
    // input and keys lagged. It now reads byte by byte; the terminal stays
    // quiet between prompts (`SavedTerminal::quiet`) and an accepted text is
    // split into its entries (`input::split_entries`). See docs/repl.md.
    let mut editor: ReplEditor = Editor::new().map_err(|e| format!("cannot start the line editor: {e}"))?;
    editor.set_helper(Some(helper::ReplHelper::new(completion::KernelVocabulary::new(&kernel))));
    let mut history = history::HistoryFile::in_home();
    match history.as_mut().map(|h| h.load()) {
        Some(Ok(entries)) => {
            for entry in entries {
                let _ = editor.add_history_entry(entry);
            }
        }
        Some(Err(warning)) => errln!("{warning}"),
        None => {}
    }
    let external = editor.create_external_printer().ok();
    let out = Out::new(external.map(|p| Box::new(p) as Box<dyn rustyline::ExternalPrinter + Send>));

    let compile_opts = CompileOptions {
        map_keys: cli.map_keys,
        start_ns: monotonic_ns(),
        possible_cpus: crate::run::possible_cpus(),
        wall_offset_ns: flowtrace_runtime::output::time::wall_minus_boot_ns(),
        bpf_loop: flowtrace_runtime::capabilities::bpf_loop_available(),
        // The session keeps maps across reloads by name, one BPF map each.
        fuse: false,
        ..CompileOptions::default()
    };
    let printer = Printer::new(OutWriter::new(out.clone()), crate::run::output_format(cli.format));
    let mut probes = flowtrace_runtime::Session::interactive(printer).map_err(|e| e.to_string())?;
    probes.tc = crate::run::tc_options(cli);
    // Event counts for `.probes`; the kernel counts while the session lives.
    probes.count_runs();
    let mut shared = Shared::new(probes, out);
    shared.metrics = crate::metrics::Metrics::start(cli)?;
    let shared = Arc::new(Mutex::new(shared));
    let mut background = Background::start(shared.clone(), terminal);
    let mut session = Session::new(&kernel, compile_opts, shared.clone());

    // From here on nothing returns early: the end of this function restores the terminal.
    terminal.quiet();
    outln!("flowtrace interactive session: type a probe to attach it, .help for help, Ctrl-D to quit.");
    // `-i` with a program or script: its probes are the first entries.
    if let Some(program) = &cli.program {
        submit(&mut session, Piece::verbatim("-e", program.as_str()), program.trim().to_string(), Kind::Items);
    }
    if let Some(file) = cli.file.as_ref().filter(|f| f.as_os_str() != "-") {
        load_file(&mut session, file);
    }
    prompt_loop(&mut editor, &mut session, history.as_mut());
    let gone = lock(&shared).detach(None);
    let out = lock(&shared).out.clone();
    out.flush(); // END blocks' output first
    background.stop();
    terminal.restore();
    outln!("detached {} probe(s)", gone.len());
    Ok(())
}

/// Reads and handles entries until `.quit`, Ctrl-D or an input error. (An
/// `exit()` ends the session from the background thread: [`background`].)
fn prompt_loop(editor: &mut ReplEditor, session: &mut Session, mut history: Option<&mut history::HistoryFile>) {
    let shared = session.shared.clone();
    loop {
        let text = match read_entry(editor) {
            Ok(t) => t,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => return,
            Err(e) => return errln!("flowtrace: error: reading input: {e}"),
        };
        if !text.trim().is_empty() {
            let _ = editor.add_history_entry(text.trim_end());
            if let Err(warning) = history.as_mut().map_or(Ok(()), |h| h.save(editor.history().iter())) {
                errln!("{warning}");
            }
        }
        let mut next = Next::Continue;
        lock(&shared).busy = true;
        for entry in input::split_entries(&text) {
            next = handle(session, &entry);
            let out = lock(&shared).out.clone();
            out.flush();
            // After exit() the rest of a paste is not run: the session ends.
            if next == Next::Quit || lock(&shared).session.exit_called() {
                break;
            }
        }
        lock(&shared).busy = false;
        if next == Next::Quit {
            return;
        }
        if let Some(h) = editor.helper_mut() {
            h.maps = map_names(session);
        }
    }
}

/// `bpf_ktime_get_ns()`'s clock, so `elapsed` counts from the session start.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// One entry: more lines while braces are open. On a terminal the validator
/// already did that inside one `readline`; this covers piped input.
fn read_entry(editor: &mut ReplEditor) -> rustyline::Result<String> {
    let mut text = editor.readline("ft> ")?;
    while !input::is_complete(&text) {
        match editor.readline("..> ") {
            Ok(more) => {
                text.push('\n');
                text.push_str(&more);
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e),
        }
    }
    Ok(text)
}

#[derive(PartialEq, Eq)]
enum Next {
    Continue,
    Quit,
}

fn handle(session: &mut Session, text: &str) -> Next {
    match input::classify(text) {
        InputKind::Empty => {}
        InputKind::Command => {
            let line = text.trim();
            match commands::parse(line) {
                Ok(c) => return command(session, c),
                Err(d) => err!("{}", d.render(&Source::new("<input>", line))),
            }
        }
        InputKind::Items => {
            submit(session, Piece::verbatim("<input>", text), text.trim().to_string(), Kind::Items);
        }
        InputKind::Statements => match input::wrap_statements(text) {
            Ok(w) => {
                let piece = Piece { label: "<input>".into(), generated: w.generated.clone(), typed: text.to_string(), map: w.map };
                submit(session, piece, w.generated, Kind::Statements { only_bare_maps: w.only_bare_maps });
            }
            Err(diags) => err!("{}", flowtrace_lang::diag::render_all(&diags, &Source::new("<input>", text))),
        },
    }
    Next::Continue
}

/// Submits an entry and reports the outcome; `false` if it failed.
fn submit(session: &mut Session, piece: Piece, saved: String, kind: Kind) -> bool {
    let mut warnings = String::new();
    let result = session.submit(piece, saved, kind, &mut warnings);
    err!("{warnings}");
    match result {
        Ok(Outcome::Attached { id, attach }) => {
            let mut shown: Vec<&str> = attach.iter().map(String::as_str).take(3).collect();
            let more = format!("and {} more", attach.len().saturating_sub(3));
            if attach.len() > 3 {
                shown.push(&more);
            }
            outln!("probe {id} attached: {}", shown.join(", "));
            true
        }
        Ok(Outcome::Declared | Outcome::Ran | Outcome::Printed) => true,
        Err(msg) => {
            err!("{msg}");
            false
        }
    }
}

fn command(session: &mut Session, c: Command) -> Next {
    match c {
        Command::Quit => return Next::Quit,
        Command::Help => out!("{}", commands::help_text()),
        Command::Probes => out!("{}", probes_table(&session.shared)),
        Command::Maps => out!("{}", maps_table(&session.shared)),
        Command::Detach(which) => detach(session, which),
        Command::Watch { map, secs, top } => {
            if let Err(msg) = watch::run(&session.shared, &map, secs, top) {
                errln!("flowtrace: error: {msg}");
            }
        }
        Command::Load(path) => load_file(session, &path),
        Command::Save(path) => save_file(session, &path),
        Command::Net(args) => match crate::net::repl_report(&args) {
            Ok(text) => out!("{text}"),
            Err(msg) => errln!("flowtrace: error: {msg}"),
        },
    }
    Next::Continue
}

fn detach(session: &mut Session, which: Which) {
    let ids = match which {
        Which::All => None,
        Which::Entry(n) => Some(vec![n]),
    };
    let gone = lock(&session.shared).detach(ids.as_deref());
    session.mark_detached(&gone);
    match (which, gone.is_empty()) {
        (Which::Entry(n), true) => errln!("flowtrace: error: no attached probe {n} (see .probes)"),
        _ => {
            let list: Vec<String> = gone.iter().map(u32::to_string).collect();
            outln!("detached {} probe(s){}{}", gone.len(), if list.is_empty() { "" } else { ": " }, list.join(", "));
        }
    }
}

fn probes_table(shared: &Arc<Mutex<Shared>>) -> String {
    let probes = lock(shared).session.probes();
    if probes.is_empty() {
        return "no probes attached\n".to_string();
    }
    let mut out = format!("{:>4}  {:>10}  probe\n", "id", "events");
    for p in &probes {
        let events = p.events.map_or_else(|| "-".to_string(), |n| n.to_string());
        out.push_str(&format!("{:>4}  {:>10}  {}\n", p.id, events, p.attach.join(", ")));
    }
    out
}

fn maps_table(shared: &Arc<Mutex<Shared>>) -> String {
    let s = lock(shared);
    let maps = s.session.maps();
    let mut out = String::new();
    for spec in maps.specs() {
        let MapRole::User { id, name, keys, value, .. } = &spec.role else { continue };
        let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        let value = match value {
            MapValue::Plain(t) => t.to_string(),
            MapValue::Agg(a) => a.func_name().to_string(),
        };
        let key = if keys.is_empty() { String::new() } else { format!("[{}]", keys.join(", ")) };
        match maps.snapshot(*id) {
            Ok(snap) => out.push_str(&format!("@{name}{key}: {value}, {} of {} entries\n", snap.entries.len(), spec.max_entries)),
            // Declared, and no probe has used it yet.
            Err(_) => out.push_str(&format!("@{name}: declared ({} entries), not used yet\n", spec.max_entries)),
        }
    }
    let lost = maps.lost_events();
    if lost > 0 {
        out.push_str(&format!("{lost} events lost (ring buffer full)\n"));
    }
    if out.is_empty() {
        out.push_str("no maps yet\n");
    }
    out
}

fn map_names(session: &Session) -> Vec<String> {
    let shared = lock(&session.shared);
    let Some(c) = shared.session.accepted() else { return Vec::new() };
    c.maps
        .iter()
        .filter_map(|s| match &s.role {
            MapRole::User { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect()
}

/// `.load FILE`: each probe or declaration of the script becomes one entry
/// (so each can be detached alone). Diagnostics keep the file's line numbers:
/// an entry's text is the file with everything but that item blanked.
fn load_file(session: &mut Session, path: &Path) {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return errln!("flowtrace: error: cannot read {}: {e}", path.display()),
    };
    let label = path.display().to_string();
    let ast = match flowtrace_lang::parse(&Source::new(label.clone(), text.clone())) {
        Ok(ast) => ast,
        Err(diags) => return err!("{}", flowtrace_lang::diag::render_all(&diags, &Source::new(label, text))),
    };
    for item in &ast.items {
        let span = match item {
            flowtrace_lang::ast::Item::Probe(p) => p.span,
            flowtrace_lang::ast::Item::MapDecl(d) => d.span,
            flowtrace_lang::ast::Item::Config(c) => c.span,
            flowtrace_lang::ast::Item::Record(r) => r.span,
            flowtrace_lang::ast::Item::Enum(e) => e.span,
        };
        let blanked: String = text
            .char_indices()
            .map(|(i, c)| if span.range().contains(&i) || c == '\n' { c } else { ' ' })
            .collect();
        if !submit(session, Piece::verbatim(label.clone(), blanked), text[span.range()].to_string(), Kind::Items) {
            errln!("flowtrace: stopped loading {label}; the entries before this one stay attached");
            return;
        }
    }
}

fn save_file(session: &Session, path: &Path) {
    let text = save::render(&session.entries);
    if let Err(e) = std::fs::write(path, &text) {
        return errln!("flowtrace: error: cannot write {}: {e}", path.display());
    }
    let probes = session.entries.iter().filter(|e| e.live).count();
    outln!("saved {probes} probe(s) to {}", path.display());
    // A live probe may read a map only a detached one wrote.
    if let Err(diags) = session.check_script(&path.display().to_string(), &text) {
        err!("flowtrace: warning: the saved script does not check on its own:\n{diags}");
    }
}
