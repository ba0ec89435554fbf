//! What the prompt and the background event reader share: the ring buffer
//! and what its records mean, the session's maps, the attached entries and
//! the printer. One mutex guards it all; the reader holds it only while it
//! drains, so a new entry is loaded between two drains and never sees a
//! record decoded with the wrong event table.

use flowtrace_codegen::object::EventKind;
use flowtrace_lang::typed::MapId;
use flowtrace_runtime::decode::ProbeNames;
use flowtrace_runtime::events::decode_record;
use flowtrace_runtime::maps::Maps;
use flowtrace_runtime::output::Printer;
use flowtrace_runtime::values::MapSnapshot;
use flowtrace_runtime::{Event, Loaded, RuntimeError};
use aya::maps::{MapData, RingBuf};
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
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
    /// Answered once everything sent before it is printed.
    Flush(mpsc::Sender<()>),
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
}

/// The forwarding thread: every text waiting is printed in one go (each
/// print redraws the prompt, so one per line could not keep up with a busy
/// probe).
fn forward(mut printer: Box<dyn rustyline::ExternalPrinter + Send>, rx: mpsc::Receiver<Message>, dropped: &AtomicU64) {
    while let Ok(first) = rx.recv() {
        let mut text = String::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next {
            match message {
                Message::Text(t) => text.push_str(&t),
                Message::Flush(done) => flushes.push(done),
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

/// The session's user maps, plus each entry's own stats map: a program's
/// stats slots are laid out for the maps it was compiled with (slot = map
/// id then, lost events after the last), so every entry gets its own stats
/// map and the counts are summed here by map name.
pub struct SessionMaps {
    pub maps: Option<Maps>,
    /// (stats map, user map names by id when its programs were compiled).
    pub stats: Vec<(OwnedFd, Vec<String>)>,
    cpus: usize,
}

impl SessionMaps {
    pub fn new() -> SessionMaps {
        let cpus = flowtrace_runtime::sys::possible_cpus().unwrap_or(1).max(1);
        SessionMaps { maps: None, stats: Vec::new(), cpus }
    }

    fn maps(&self) -> Result<&Maps, RuntimeError> {
        self.maps.as_ref().ok_or_else(|| RuntimeError::Load("no maps yet".into()))
    }

    fn name_of(&self, id: MapId) -> Option<&str> {
        self.maps.as_ref()?.specs().iter().find_map(|s| match &s.role {
            flowtrace_codegen::object::MapRole::User { id: i, name, .. } if *i == id => Some(name.as_str()),
            _ => None,
        })
    }

    /// A user map's id by name (without `@`).
    pub fn find(&self, name: &str) -> Option<MapId> {
        let maps = self.maps.as_ref()?;
        maps.specs().iter().find_map(|s| match &s.role {
            flowtrace_codegen::object::MapRole::User { id, name: n, .. } if n == name => Some(*id),
            _ => None,
        })
    }

    pub fn snapshot(&self, id: MapId) -> Result<MapSnapshot, RuntimeError> {
        let mut snap = self.maps()?.snapshot(id)?;
        let name = self.name_of(id).unwrap_or_default();
        snap.dropped_updates = self.stats_sum(|names| names.iter().position(|n| n == name).map(|i| i as u32));
        if snap.evicted > 0 || self.is_lru(id) {
            // Each entry counts the keys it created in its own stats map.
            let created = self.stats_sum(|names| {
                let at = names.iter().position(|n| n == name)?;
                Some(flowtrace_codegen::object::stats_inserts_slot(names.len() as u32, MapId(at as u32)))
            });
            let removed = self.maps()?.removed_keys(id);
            snap.evicted = flowtrace_runtime::maps::evictions(created, snap.entries.len() as u64, removed);
        }
        Ok(snap)
    }

    fn is_lru(&self, id: MapId) -> bool {
        use flowtrace_codegen::object::{BpfMapType, MapRole};
        let Some(maps) = self.maps.as_ref() else { return false };
        maps.specs().iter().any(|s| {
            matches!(&s.role, MapRole::User { id: i, .. } if *i == id)
                && matches!(s.map_type, BpfMapType::LruHash | BpfMapType::LruPercpuHash)
        })
    }

    pub fn clear(&self, id: MapId) -> Result<(), RuntimeError> {
        self.maps()?.clear(id)
    }

    pub fn zero(&self, id: MapId) -> Result<(), RuntimeError> {
        self.maps()?.zero(id)
    }

    /// Ring-buffer records lost because it was full, over every entry.
    pub fn lost_events(&self) -> u64 {
        self.stats_sum(|names| Some(names.len() as u32 + flowtrace_codegen::object::STATS_LOST_EVENTS))
    }

    /// Sum over the entries' stats maps of one slot each (`slot` of the
    /// entry's map names; `None` to skip that entry).
    fn stats_sum(&self, slot: impl Fn(&[String]) -> Option<u32>) -> u64 {
        let mut total = 0u64;
        let mut buf = vec![0u8; 8 * self.cpus];
        for (fd, names) in &self.stats {
            let Some(slot) = slot(names) else { continue };
            if let Ok(true) = flowtrace_runtime::sys::map_lookup(fd.as_fd(), &slot.to_le_bytes(), &mut buf) {
                total += buf.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).sum::<u64>();
            }
        }
        total
    }
}

/// One attached entry.
pub struct LiveEntry {
    pub id: u32,
    pub loaded: Loaded,
    /// The attach points, as written.
    pub attach: Vec<String>,
}

/// How readers make sense of records and maps: swapped in as one.
pub struct View {
    pub maps: Option<Maps>,
    pub kinds: Vec<EventKind>,
    pub probe_names: ProbeNames,
}

pub struct Shared {
    pub ring: RingBuf<MapData>,
    /// What each event id means: the accepted entries' table.
    pub kinds: Vec<EventKind>,
    pub probe_names: ProbeNames,
    pub maps: SessionMaps,
    pub live: Vec<LiveEntry>,
    pub printer: Printer<OutWriter>,
    pub out: Out,
    exit_noted: bool,
}

impl Shared {
    pub fn new(ring: RingBuf<MapData>, printer: Printer<OutWriter>, out: Out) -> Shared {
        Shared {
            ring,
            kinds: Vec::new(),
            probe_names: ProbeNames::default(),
            maps: SessionMaps::new(),
            live: Vec::new(),
            printer,
            out,
            exit_noted: false,
        }
    }

    /// Installs `view`, returning the one it replaces.
    pub fn swap_view(&mut self, view: View) -> View {
        View {
            maps: std::mem::replace(&mut self.maps.maps, view.maps),
            kinds: std::mem::replace(&mut self.kinds, view.kinds),
            probe_names: std::mem::replace(&mut self.probe_names, view.probe_names),
        }
    }

    /// Handles every pending record: output is printed, `clear`/`zero`
    /// applied. A record that cannot be decoded is reported and skipped.
    pub fn drain(&mut self) {
        let Shared { ring, kinds, probe_names, maps, printer, out, exit_noted, .. } = self;
        let mut record = Vec::new();
        while let Some(item) = ring.next() {
            record.clear();
            record.extend_from_slice(&item);
            drop(item);
            let event = match decode_record(kinds, probe_names, &record) {
                Ok(e) => e,
                Err(e) => {
                    out.text(&format!("flowtrace: warning: {e}\n"));
                    continue;
                }
            };
            let done = match event {
                Event::Printf { format, args } => printer.printf(format, &args).map_err(RuntimeError::from_io),
                Event::PrintValue(v) => printer.value(&v).map_err(RuntimeError::from_io),
                Event::Time { format } => printer.time(format).map_err(RuntimeError::from_io),
                Event::PrintMap { map, top, div } => {
                    maps.snapshot(map).and_then(|s| printer.map(&s, top, div).map_err(RuntimeError::from_io))
                }
                Event::Clear { map } => maps.clear(map),
                Event::Zero { map } => maps.zero(map),
                Event::Exit => {
                    if !*exit_noted {
                        out.text("flowtrace: exit() does nothing in the interactive session; use .detach or .quit\n");
                        *exit_noted = true;
                    }
                    Ok(())
                }
            };
            if let Err(e) = done {
                out.text(&format!("flowtrace: warning: {e}\n"));
            }
        }
    }

    /// Detaches the entries `ids` (every one for `None`): all of them stop
    /// firing first, then their END blocks run, then their output is printed.
    /// Returns the ids detached.
    pub fn detach(&mut self, ids: Option<&[u32]>) -> Vec<u32> {
        let (gone, kept): (Vec<LiveEntry>, Vec<LiveEntry>) =
            std::mem::take(&mut self.live).into_iter().partition(|e| ids.is_none_or(|ids| ids.contains(&e.id)));
        self.live = kept;
        let mut gone = gone;
        for e in &mut gone {
            e.loaded.detach_all();
        }
        for e in &mut gone {
            if let Err(err) = e.loaded.run_end() {
                self.out.text(&format!("flowtrace: warning: END of probe {}: {err}\n", e.id));
            }
        }
        self.drain();
        gone.iter().map(|e| e.id).collect()
    }
}

/// The lock, even if a thread panicked while holding it: the state is
/// still the kernel's objects, usable for detaching.
pub fn lock(shared: &Arc<Mutex<Shared>>) -> std::sync::MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

trait FromIo {
    fn from_io(e: io::Error) -> RuntimeError;
}

impl FromIo for RuntimeError {
    fn from_io(error: io::Error) -> RuntimeError {
        RuntimeError::Kernel { what: "writing output".into(), error }
    }
}
