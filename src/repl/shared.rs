//! What the prompt and the background event reader share: the runtime
//! [`Session`] (ring buffer and event table, maps, attached entries, the
//! printer) and the terminal's output queue. One mutex guards it all; the
//! reader holds it only while it drains, so a new entry is loaded between
//! two drains and never sees a record decoded with the wrong event table.

use flowtrace_runtime::output::Printer;
use flowtrace_runtime::Session;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

/// Where asynchronous output goes: rustyline's external printer, which
/// redraws the prompt below the text, or plain stdout when the session does
/// not run on a terminal.
///
/// The external printer can block (its queue holds one message, emptied only
/// while `readline` runs), so a forwarding thread owns it: a reader holding
/// the session lock never waits on the prompt, which may be waiting on that
/// lock. Text queued while no prompt is shown appears at the next one.
#[derive(Clone)]
pub struct Out {
    to_printer: Option<mpsc::SyncSender<Message>>,
    /// Texts dropped because the queue was full: the terminal could not
    /// keep up. Reported with the next text that gets through.
    dropped: Arc<AtomicU64>,
}

enum Message {
    Text(String),
    /// Answered once everything sent before it is handed to the printer.
    Flush(mpsc::Sender<()>),
    /// Answered once everything sent before it is on the screen.
    Drawn(mpsc::Sender<()>),
}

/// Texts waiting for the terminal; beyond this they are dropped (and
/// counted) rather than held in memory or blocking the reader.
const QUEUE: usize = 4096;

impl Out {
    pub fn new(printer: Option<Box<dyn rustyline::ExternalPrinter + Send>>) -> Out {
        let dropped = Arc::new(AtomicU64::new(0));
        let to_printer = printer.map(|printer| {
            let (tx, rx) = mpsc::sync_channel::<Message>(QUEUE);
            let dropped = dropped.clone();
            std::thread::spawn(move || forward(printer, rx, &dropped));
            tx
        });
        Out { to_printer, dropped }
    }

    pub fn text(&self, s: &str) {
        if s.is_empty() {
            return;
        }
        match &self.to_printer {
            Some(tx) => match tx.try_send(Message::Text(s.to_string())) {
                Ok(()) => {}
                Err(mpsc::TrySendError::Full(_)) => {
                    self.dropped.fetch_add(1, Ordering::Relaxed);
                }
                Err(mpsc::TrySendError::Disconnected(_)) => stdout_text(s),
            },
            None => stdout_text(s),
        }
    }

    /// Waits (a bounded time) until what was sent so far is printed, so the
    /// output of an entry comes before the next prompt.
    pub fn flush(&self) {
        let Some(tx) = &self.to_printer else { return };
        let (done, wait) = mpsc::channel();
        if tx.send(Message::Flush(done)).is_ok() {
            let _ = wait.recv_timeout(std::time::Duration::from_secs(2));
        }
    }

    /// Waits (a bounded time) until what was sent so far is on the screen,
    /// before the process exits under a prompt that is still reading.
    pub fn flush_drawn(&self) {
        let Some(tx) = &self.to_printer else { return };
        let (done, wait) = mpsc::channel();
        if tx.send(Message::Drawn(done)).is_ok() {
            let _ = wait.recv_timeout(std::time::Duration::from_secs(5));
        }
    }
}

/// The forwarding thread: every text waiting is printed in one go (each
/// print redraws the prompt, so one per line could not keep up with a busy
/// probe).
fn forward(mut printer: Box<dyn rustyline::ExternalPrinter + Send>, rx: mpsc::Receiver<Message>, dropped: &AtomicU64) {
    while let Ok(first) = rx.recv() {
        let mut text = String::new();
        let mut flushes = Vec::new();
        let mut drawn = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Text(t) => text.push_str(&t),
                Message::Flush(done) => flushes.push(done),
                Message::Drawn(done) => drawn.push(done),
            }
            next = rx.try_recv().ok();
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            text.push_str(&format!("flowtrace: {lost} outputs dropped: the terminal could not keep up\n"));
        }
        if !text.is_empty() && printer.print(text.clone()).is_err() {
            stdout_text(&text);
        }
        for done in flushes {
            let _ = done.send(());
        }
        if !drawn.is_empty() {
            // rustyline's printer queue holds one message and the prompt
            // takes them in order, drawing each before taking the next: once
            // a second empty message is taken, the text before it is drawn.
            for _ in 0..2 {
                let _ = printer.print(String::new());
            }
            for done in drawn {
                let _ = done.send(());
            }
        }
    }
}

fn stdout_text(s: &str) {
    let mut stdout = io::stdout().lock();
    let _ = stdout.write_all(s.as_bytes());
    let _ = stdout.flush();
}

/// `Printer` destination: collects one event's text, hands it over on flush
/// (the printer flushes after every event).
pub struct OutWriter {
    out: Out,
    buf: Vec<u8>,
}

impl OutWriter {
    pub fn new(out: Out) -> OutWriter {
        OutWriter { out, buf: Vec::new() }
    }
}

impl Write for OutWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        self.out.text(&text);
        Ok(())
    }
}

/// The interactive session's runtime half: the probes' session (event
/// reader, maps, attached entries, the printer) and where messages go.
pub struct Shared {
    pub session: Session<Printer<OutWriter>>,
    pub out: Out,
    /// `--metrics`: serves the session's maps, republished as entries come and go.
    pub metrics: Option<crate::metrics::Metrics>,
    /// The prompt's thread is handling an entry (not waiting in `readline`).
    pub busy: bool,
}

impl Shared {
    pub fn new(session: Session<Printer<OutWriter>>, out: Out) -> Shared {
        Shared { session, out, metrics: None, busy: false }
    }

    /// What `/metrics` serves from now on: the maps of `typed` (everything
    /// typed so far) and the attached programs.
    pub fn publish_metrics(&mut self, source: &str, typed: &flowtrace_lang::typed::TypedProgram) {
        if let Some(m) = &mut self.metrics {
            m.set_program(source, typed);
            m.publish(&self.session);
        }
    }

    /// Prints every pending event; what could not be handled is reported
    /// and skipped. An `exit()` is remembered by the session
    /// ([`Shared::should_exit`]).
    pub fn drain(&mut self) {
        self.session.drain_all();
        self.report_warnings();
    }

    /// A probe called `exit()` and the prompt waits for typing: the session
    /// ends now. (While an entry is handled its output may still wait for
    /// the prompt to be printed, so the end waits for the prompt.)
    pub fn should_exit(&self) -> bool {
        self.session.exit_called() && !self.busy
    }

    /// The end a script has at `exit()`: every probe detached (END run,
    /// its output printed), then every map printed. Returns how many
    /// probes were detached.
    pub fn finish_as_at_exit(&mut self) -> usize {
        let attached = self.session.probes().len();
        let last = self.session.finish();
        self.report_warnings();
        match last {
            Ok(last) => {
                let sink = self.session.sink();
                let _ = sink.exit_maps(&last.maps);
                if last.lost_events > 0 {
                    let _ = sink.lost_events(last.lost_events);
                }
                let _ = sink.flush();
            }
            Err(e) => self.out.text(&format!("flowtrace: error: reading the maps at exit: {e}\n")),
        }
        attached
    }

    pub fn report_warnings(&mut self) {
        for w in self.session.take_warnings() {
            self.out.text(&format!("flowtrace: warning: {w}\n"));
        }
    }

    /// Detaches the entries `ids` (every one for `None`), running their
    /// END blocks and printing what those sent. Returns the ids detached.
    pub fn detach(&mut self, ids: Option<&[u32]>) -> Vec<u32> {
        let gone = self.session.detach(ids);
        self.drain();
        if let Some(m) = &self.metrics {
            match ids {
                None => m.stop(),
                Some(_) => m.publish(&self.session),
            }
        }
        gone
    }
}

/// The lock, even if a thread panicked while holding it: the state is
/// still the kernel's objects, usable for detaching.
pub fn lock(shared: &Arc<Mutex<Shared>>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}
