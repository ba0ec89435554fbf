//! Ring-buffer records → [`Event`]s. Every record starts with a u64 event id
//! indexing `CompiledProgram::events`; the rest is that event's arguments in
//! the [`flowtrace_codegen::layout`] layout.

use crate::decode::{self, ProbeNames};
use crate::error::RuntimeError;
use crate::values::{MapSnapshot, Value};
use aya::maps::{Map, MapData, RingBuf};
use flowtrace_codegen::object::EventKind;
use flowtrace_lang::typed::MapId;
use flowtrace_stdlib::printf::Format;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

/// One decoded record.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<'a> {
    Printf { format: &'a Format, args: Vec<Value> },
    PrintMap { map: MapId, top: u64, div: u64 },
    PrintValue(Value),
    Clear { map: MapId },
    Zero { map: MapId },
    Time { format: &'a str },
    Exit,
    /// `exit(code)`.
    ExitCode(i64),
    /// `cat(fmt, …)`: the file's path, formatted.
    Cat { path: String },
    /// `system(fmt, …)`: the command, formatted.
    System { command: String },
    /// `join(argv, sep)`: the joined line.
    Join { line: String },
    /// `-k`: helper `helper` failed with `-errno` at `span`.
    HelperError { helper: i32, errno: i64, span: flowtrace_lang::span::Span },
}

/// What the output layer implements to receive events, in the order the
/// probes sent them. `clear`/`zero` never reach it: the runtime applies them
/// to the maps itself, in order with the prints around them.
pub trait EventSink {
    fn printf(&mut self, format: &Format, args: &[Value]) -> io::Result<()>;
    fn print_map(&mut self, map: &MapSnapshot, top: u64, div: u64) -> io::Result<()>;
    fn print_value(&mut self, value: &Value) -> io::Result<()>;
    fn time(&mut self, format: &str) -> io::Result<()>;
    /// Text produced in userspace for `cat`, `system` and `join`.
    fn text(&mut self, text: &str) -> io::Result<()>;
    /// `-k`: a BPF helper failed in a probe. Ignored unless the sink shows
    /// it (the script runner renders it as a warning against the source).
    fn helper_error(&mut self, _helper: i32, _errno: i64, _span: flowtrace_lang::span::Span) -> io::Result<()> {
        Ok(())
    }
}

/// What [`drain`] needs of the maps: the loaded program's own
/// ([`crate::maps::Maps`]) or a session's ([`crate::session::SessionMaps`]).
pub(crate) trait MapAccess {
    /// What `print(@m, top)` needs: at least the `top` largest entries.
    fn snapshot_top(&self, id: MapId, top: u64) -> Result<MapSnapshot, RuntimeError>;
    fn clear(&self, id: MapId) -> Result<(), RuntimeError>;
    fn zero(&self, id: MapId) -> Result<(), RuntimeError>;
}

impl MapAccess for crate::maps::Maps {
    fn snapshot_top(&self, id: MapId, top: u64) -> Result<MapSnapshot, RuntimeError> {
        crate::maps::Maps::snapshot_top(self, id, top).map(|(snap, _)| snap)
    }
    fn clear(&self, id: MapId) -> Result<(), RuntimeError> {
        crate::maps::Maps::clear(self, id)
    }
    fn zero(&self, id: MapId) -> Result<(), RuntimeError> {
        crate::maps::Maps::zero(self, id)
    }
}

/// Handles every pending record: prints go to `sink` (maps snapshotted at
/// that moment), `clear`/`zero` are applied to `maps`. Stops early at
/// `exit()`, and at the first record that fails (it is consumed, so calling
/// again goes on with the next).
pub(crate) fn drain(events: &mut Events, maps: &dyn MapAccess, sink: &mut dyn EventSink) -> Result<Flow, RuntimeError> {
    let out = |error| RuntimeError::Kernel { what: "writing output".into(), error };
    while let Some(event) = events.next()? {
        match event {
            Event::Printf { format, args } => sink.printf(format, &args).map_err(out)?,
            Event::PrintValue(v) => sink.print_value(&v).map_err(out)?,
            Event::Time { format } => sink.time(format).map_err(out)?,
            Event::PrintMap { map, top, div } => {
                let snapshot = maps.snapshot_top(map, top)?;
                sink.print_map(&snapshot, top, div).map_err(out)?;
            }
            Event::Clear { map } => maps.clear(map)?,
            Event::Zero { map } => maps.zero(map)?,
            Event::Exit => return Ok(Flow::Exit),
            Event::ExitCode(code) => {
                // The first exit() decides the status; later ones (from other
                // CPUs before detaching) do not change it.
                events.exit_code.get_or_insert(code);
                return Ok(Flow::Exit);
            }
            Event::Cat { path } => sink.text(&crate::output::actions::cat(&path)).map_err(out)?,
            Event::System { command } => sink.text(&crate::output::actions::system(&command)).map_err(out)?,
            Event::Join { line } => sink.text(&line).map_err(out)?,
            Event::HelperError { helper, errno, span } => sink.helper_error(helper, errno, span).map_err(out)?,
        }
    }
    Ok(Flow::Continue)
}

/// Whether a probe asked to stop (`exit()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Exit,
}

pub struct Events {
    ring: RingBuf<MapData>,
    kinds: Vec<EventKind>,
    probes: ProbeNames,
    /// The current record, copied out so the ring slot is released at once.
    record: Vec<u8>,
    /// The code of the first `exit(code)` seen.
    exit_code: Option<i64>,
}

/// Decodes one record (pure; tested without a kernel).
pub fn decode_record<'k>(kinds: &'k [EventKind], probes: &ProbeNames, record: &[u8]) -> Result<Event<'k>, RuntimeError> {
    let id_bytes: [u8; 8] = record
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| RuntimeError::Load(format!("ring-buffer record of {} bytes has no event id", record.len())))?;
    let id = u64::from_le_bytes(id_bytes);
    let kind = kinds
        .get(id as usize)
        .ok_or_else(|| RuntimeError::Load(format!("ring-buffer record with unknown event id {id}")))?;
    let args = &record[8..];
    Ok(match kind {
        EventKind::Printf { format, args: types } => {
            Event::Printf { format, args: decode::fields(types, args, probes) }
        }
        EventKind::PrintMap { map, top, div } => Event::PrintMap { map: *map, top: *top, div: *div },
        EventKind::PrintValue { ty } => Event::PrintValue(decode::value(ty, args, probes)),
        EventKind::Clear { map } => Event::Clear { map: *map },
        EventKind::Zero { map } => Event::Zero { map: *map },
        EventKind::Time { format } => Event::Time { format },
        EventKind::Exit => Event::Exit,
        EventKind::ExitCode => {
            let code: [u8; 8] = args
                .get(..8)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| RuntimeError::Load(format!("exit record of {} bytes has no code", record.len())))?;
            Event::ExitCode(i64::from_le_bytes(code))
        }
        EventKind::Cat { format, args: types } => Event::Cat { path: formatted(format, types, args, probes)? },
        EventKind::System { format, args: types } => Event::System { command: formatted(format, types, args, probes)? },
        EventKind::Join { sep } => Event::Join { line: joined(args, sep) },
        EventKind::HelperError { helper, span } => {
            let errno = args.get(..8).and_then(|b| b.try_into().ok()).map_or(0, i64::from_le_bytes);
            Event::HelperError { helper: *helper, errno, span: *span }
        }
    })
}

/// The text a `cat`/`system` format makes of its arguments.
fn formatted(format: &Format, types: &[flowtrace_lang::types::Type], args: &[u8], probes: &ProbeNames) -> Result<String, RuntimeError> {
    crate::output::printf::render(format, &decode::fields(types, args, probes)).map_err(|e| RuntimeError::Load(e.to_string()))
}

/// A `join` record: a u64 count, then that many strings of
/// `JOIN_ITEM_SIZE` bytes, joined by `sep` into one line.
fn joined(args: &[u8], sep: &str) -> String {
    use flowtrace_lang::typed::{JOIN_ITEM_SIZE, JOIN_MAX_ITEMS};
    let count = args.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map_or(0, u64::from_le_bytes);
    let items: Vec<String> = (0..count.min(u64::from(JOIN_MAX_ITEMS)) as usize)
        .map(|i| {
            let at = 8 + i * JOIN_ITEM_SIZE as usize;
            let item = args.get(at..at + JOIN_ITEM_SIZE as usize).unwrap_or(&[]);
            let end = item.iter().position(|&b| b == 0).unwrap_or(item.len());
            String::from_utf8_lossy(&item[..end]).into_owned()
        })
        .collect();
    format!("{}\n", items.join(sep))
}

impl Events {
    pub(crate) fn new(ring: RingBuf<MapData>, kinds: Vec<EventKind>, probes: ProbeNames) -> Events {
        Events { ring, kinds, probes, record: Vec::new(), exit_code: None }
    }

    /// A reader of the ring buffer `fd` (created with
    /// [`crate::load::create_map`]).
    pub(crate) fn from_fd(fd: OwnedFd, kinds: Vec<EventKind>, probes: ProbeNames) -> Result<Events, RuntimeError> {
        let ring = MapData::from_fd(fd)
            .and_then(Map::from_map_data)
            .map_err(|e| RuntimeError::Load(format!("ring buffer: {e}")))
            .and_then(|m| {
                RingBuf::try_from(m).map_err(|e| RuntimeError::Load(format!("ring buffer: {}", crate::attach::error_chain(&e))))
            })?;
        Ok(Events::new(ring, kinds, probes))
    }

    /// Decodes later records with `kinds` and `probes`; returns the table
    /// it replaces. (A session's table grows with each entry.)
    pub(crate) fn set_table(&mut self, kinds: Vec<EventKind>, probes: ProbeNames) -> (Vec<EventKind>, ProbeNames) {
        (std::mem::replace(&mut self.kinds, kinds), std::mem::replace(&mut self.probes, probes))
    }

    /// The code given to the first `exit(code)`, if one was.
    pub fn exit_code(&self) -> Option<i64> {
        self.exit_code
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.ring.as_fd()
    }

    /// Blocks until a record may be available or `timeout` passes; `Ok(true)`
    /// if the ring buffer signalled. A signal (`EINTR`, e.g. Ctrl-C) returns
    /// `Ok(false)` so the caller can check its stop flag.
    pub fn wait(&self, timeout: Duration) -> io::Result<bool> {
        let mut pfd = libc::pollfd { fd: self.ring.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) };
        }
        Ok(n > 0)
    }

    /// The next record, decoded; `Ok(None)` when the ring buffer is empty.
    pub fn next(&mut self) -> Result<Option<Event<'_>>, RuntimeError> {
        match self.ring.next() {
            None => return Ok(None),
            Some(item) => {
                self.record.clear();
                self.record.extend_from_slice(&item);
            }
        }
        decode_record(&self.kinds, &self.probes, &self.record).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowtrace_lang::types::Type;

    #[test]
    fn records_decode_by_event_id() {
        let format = Format::parse("%d %s\n").unwrap();
        let kinds = vec![
            EventKind::Exit,
            EventKind::Printf { format: format.clone(), args: vec![Type::I64, Type::Str { cap: 8 }] },
            EventKind::PrintMap { map: MapId(2), top: 5, div: 1 },
        ];
        let mut rec = 1u64.to_le_bytes().to_vec();
        rec.extend((-4i64).to_le_bytes());
        rec.extend(b"hi\0\0\0\0\0\0");
        assert_eq!(
            decode_record(&kinds, &ProbeNames::default(), &rec).unwrap(),
            Event::Printf { format: &format, args: vec![Value::Int(-4), Value::Str("hi".into())] }
        );
        assert_eq!(decode_record(&kinds, &ProbeNames::default(), &0u64.to_le_bytes()).unwrap(), Event::Exit);
        assert_eq!(
            decode_record(&kinds, &ProbeNames::default(), &2u64.to_le_bytes()).unwrap(),
            Event::PrintMap { map: MapId(2), top: 5, div: 1 }
        );
    }

    #[test]
    fn bad_records_are_errors_not_panics() {
        assert!(decode_record(&[], &ProbeNames::default(), &[1, 2]).is_err());
        assert!(decode_record(&[], &ProbeNames::default(), &9u64.to_le_bytes()).is_err());
    }
}
