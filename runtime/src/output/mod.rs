//! Output: decoded values to bpftrace-compatible text or JSON.
//!
//! Two formatters over the same values (as in bpftrace): [`Text`] and
//! [`Json`], each turning one event (a map dump, a `printf` line, …) into a
//! string. A [`Printer`] owns the destination (stdout or `-o FILE`) and the
//! chosen formatter, and is what the rest of the runtime calls.
//!
//! Formatting is pure and needs no kernel; the tests compare against output
//! captured from bpftrace 0.17 on the development host.

pub mod actions;
pub mod hist;
pub mod names;
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
mod syscalls_x86_64;
pub mod json;
pub mod order;
pub mod printf;
pub mod text;
pub mod time;
pub mod tseries;

use std::io::{self, Write};
use std::time::SystemTime;

use crate::values::{MapSnapshot, Value};
use flowtrace_stdlib::printf::Format;

pub use json::Json;
pub use printf::{render as render_printf, RenderError};
pub use text::Text;
pub use time::DEFAULT_TIME_FORMAT;

/// One output style. Each method returns the complete text of one event,
/// including its trailing newline(s).
pub trait Formatter {
    /// `print(@m, top, div)` and the maps printed at exit. `top` 0 = all,
    /// `div` 0 = 1.
    fn map(&self, map: &MapSnapshot, top: u64, div: u64) -> String;
    /// `print(value)` of a non-map value.
    fn value(&self, v: &Value) -> String;
    /// An already formatted `printf` result.
    fn printf(&self, text: &str) -> String;
    /// An already formatted `time()` result.
    fn time(&self, text: &str) -> String;
    fn attached_probes(&self, n: u64) -> String;
    fn lost_events(&self, n: u64) -> String;
    /// Our addition: updates a full map could not take (bpftrace is silent).
    fn map_full(&self, map: &MapSnapshot) -> String;
    /// Our addition: keys an LRU map evicted to make room (silent in the kernel).
    fn map_evicted(&self, map: &MapSnapshot) -> String;
    /// Our addition: `kstack`/`ustack` the kernel did not record (bpftrace
    /// prints those stacks empty, silently).
    fn stacks_lost(&self, n: u64) -> String;
    /// What comes before the maps printed at exit.
    fn exit_banner(&self) -> String;
}

/// The `-f` option.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

impl OutputFormat {
    pub fn formatter(self) -> Box<dyn Formatter + Send + Sync> {
        match self {
            OutputFormat::Text => Box::new(Text),
            OutputFormat::Json => Box::new(Json),
        }
    }
}

impl std::str::FromStr for OutputFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(OutputFormat::Text),
            "json" => Ok(OutputFormat::Json),
            other => Err(format!("unknown output format `{other}`: expected `text` or `json`")),
        }
    }
}

/// Writes formatted events to a destination.
pub struct Printer<W: Write> {
    out: W,
    formatter: Box<dyn Formatter + Send + Sync>,
    /// `-k`: where a failed helper is reported (helper, errno, source span);
    /// `None` drops them.
    helper_errors: Option<HelperErrorReport>,
}

/// Reports one failed helper call: helper id, negative errno, source span.
pub type HelperErrorReport = Box<dyn FnMut(i32, i64, flowtrace_lang::span::Span) + Send>;

impl<W: Write> Printer<W> {
    pub fn new(out: W, format: OutputFormat) -> Self {
        Printer { out, formatter: format.formatter(), helper_errors: None }
    }

    /// `-k`: report failed helpers through `report`.
    pub fn on_helper_error(&mut self, report: HelperErrorReport) {
        self.helper_errors = Some(report);
    }

    pub fn helper_error(&mut self, helper: i32, errno: i64, span: flowtrace_lang::span::Span) {
        if let Some(report) = &mut self.helper_errors {
            report(helper, errno, span);
        }
    }

    pub fn attached_probes(&mut self, n: u64) -> io::Result<()> {
        let s = self.formatter.attached_probes(n);
        self.emit(&s)
    }

    /// `printf(fmt, args…)`; the format was parsed and checked with the
    /// script, so only a decoder bug can make the arguments not fit.
    pub fn printf(&mut self, format: &Format, args: &[Value]) -> io::Result<()> {
        let text = printf::render(format, args).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        let s = self.formatter.printf(&text);
        self.emit(&s)
    }

    /// `time(fmt)`: the current local time.
    pub fn time(&mut self, fmt: &str) -> io::Result<()> {
        let now = time::format_local_time(fmt, SystemTime::now());
        let s = self.formatter.time(&now);
        self.emit(&s)
    }

    /// Output of `cat`, `system` and `join`, as it came.
    pub fn text(&mut self, text: &str) -> io::Result<()> {
        let s = self.formatter.printf(text);
        self.emit(&s)
    }

    pub fn value(&mut self, v: &Value) -> io::Result<()> {
        let s = self.formatter.value(v);
        self.emit(&s)
    }

    pub fn lost_events(&mut self, n: u64) -> io::Result<()> {
        let s = self.formatter.lost_events(n);
        self.emit(&s)
    }

    pub fn stacks_lost(&mut self, n: u64) -> io::Result<()> {
        let s = self.formatter.stacks_lost(n);
        self.emit(&s)
    }

    /// `print(@m, top, div)`, followed by the map-full notice if updates were lost.
    pub fn map(&mut self, map: &MapSnapshot, top: u64, div: u64) -> io::Result<()> {
        let map = &as_shown(map);
        let mut s = self.formatter.map(map, top, div);
        s.push_str(&self.notices(map));
        self.emit(&s)
    }

    /// Every map at exit, sorted by name as bpftrace prints them.
    pub fn exit_maps(&mut self, maps: &[MapSnapshot]) -> io::Result<()> {
        let mut sorted: Vec<&MapSnapshot> = maps.iter().collect();
        sorted.sort_by(|a, b| a.name.cmp(&b.name));
        // Written piece by piece with one flush at the end: still one
        // event, without copying a million-entry map's text into another
        // buffer first.
        let banner = self.formatter.exit_banner();
        self.out.write_all(banner.as_bytes())?;
        for map in sorted {
            let map = &as_shown(map);
            let text = self.formatter.map(map, 0, 0);
            self.out.write_all(text.as_bytes())?;
            drop(text);
            self.out.write_all(self.notices(map).as_bytes())?;
        }
        self.out.flush()
    }

    /// What the kernel did not keep of a map: updates refused because it was
    /// full, keys an LRU map evicted. Empty when nothing was lost.
    fn notices(&self, map: &MapSnapshot) -> String {
        let mut s = String::new();
        if map.dropped_updates > 0 {
            s.push_str(&self.formatter.map_full(map));
        }
        if map.evicted > 0 {
            s.push_str(&self.formatter.map_evicted(map));
        }
        s
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// One event per write, flushed, so output interleaves correctly with
    /// other writers and reaches a pipe as soon as it happens.
    fn emit(&mut self, s: &str) -> io::Result<()> {
        if s.is_empty() {
            return Ok(());
        }
        self.out.write_all(s.as_bytes())?;
        self.out.flush()
    }
}

/// bpftrace shows a keyless `count()` map that holds nothing (never hit,
/// cleared or deleted) as `@m: 0`, in text and JSON; every other empty map
/// prints as empty.
fn as_shown(map: &MapSnapshot) -> std::borrow::Cow<'_, MapSnapshot> {
    use crate::values::{AggValue, MapEntry, ValueKind};
    if map.entries.is_empty() && map.keyless && map.kind == ValueKind::Count {
        let mut shown = map.clone();
        shown.entries.push(MapEntry { key: None, value: AggValue::Count(0) });
        std::borrow::Cow::Owned(shown)
    } else {
        std::borrow::Cow::Borrowed(map)
    }
}
