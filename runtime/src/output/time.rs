//! `time(fmt)`: the wall-clock time when userspace handles the event, in
//! local time, through the C library's `strftime` (as bpftrace does, so every
//! specifier and the `TZ` handling are the platform's own).

use flowtrace_lang::types::TimestampClock;
use std::ffi::CString;
use std::time::{SystemTime, UNIX_EPOCH};

/// The format `time()` uses without an argument.
pub const DEFAULT_TIME_FORMAT: &str = "%H:%M:%S\n";

/// Longest output we accept; bpftrace stops at 64 bytes, we allow more.
const MAX_LEN: usize = 4096;

/// `now` in local time, formatted with `strftime(fmt)`.
pub fn format_local_time(fmt: &str, now: SystemTime) -> String {
    let secs = seconds_since_epoch(now);
    // SAFETY: `tm` is plain data; localtime_r fills it or returns null.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let filled = unsafe { libc::localtime_r(&secs, &mut tm) };
    if filled.is_null() {
        return String::new();
    }
    format_tm(fmt, &tm)
}

/// `secs` since the epoch in UTC (for tests and for `TZ`-independent output).
pub fn format_utc_time(fmt: &str, secs: i64) -> String {
    let secs = secs as libc::time_t;
    // SAFETY: as above, with gmtime_r.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let filled = unsafe { libc::gmtime_r(&secs, &mut tm) };
    if filled.is_null() {
        return String::new();
    }
    format_tm(fmt, &tm)
}

/// `strftime(fmt, ns)`: `ns` on `clock` as local wall-clock time. Boot
/// nanoseconds are moved to the epoch by the boot time (realtime − boottime,
/// read now, as bpftrace reads it at start). bpftrace's extensions `%f`
/// (microseconds, 6 digits), `%k` (nanoseconds, 9) and `%l` (milliseconds,
/// 3) are replaced before strftime(3) sees the format.
pub fn format_timestamp(fmt: &str, ns: u64, clock: TimestampClock) -> String {
    let epoch_ns = match clock {
        TimestampClock::Epoch => u128::from(ns),
        TimestampClock::Boot => {
            let boot = clock_ns(libc::CLOCK_REALTIME).saturating_sub(clock_ns(libc::CLOCK_BOOTTIME));
            boot + u128::from(ns)
        }
    };
    let secs = (epoch_ns / 1_000_000_000) as libc::time_t;
    let sub = (epoch_ns % 1_000_000_000) as u64;
    let fmt = expand_subsecond(fmt, sub);
    // SAFETY: `tm` is plain data; localtime_r fills it or returns null.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
        return String::new();
    }
    format_tm(&fmt, &tm)
}

/// `%f`, `%k`, `%l` replaced by the sub-second part; `%%` left for strftime.
fn expand_subsecond(fmt: &str, sub_ns: u64) -> String {
    let mut out = String::with_capacity(fmt.len() + 8);
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('f') => out.push_str(&format!("{:06}", sub_ns / 1000)),
            Some('k') => out.push_str(&format!("{sub_ns:09}")),
            Some('l') => out.push_str(&format!("{:03}", sub_ns / 1_000_000)),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// CLOCK_REALTIME − CLOCK_BOOTTIME now, in nanoseconds: what turns a boot
/// time stamp into wall-clock time (`tseries()` intervals start on it).
pub fn wall_minus_boot_ns() -> u64 {
    clock_ns(libc::CLOCK_REALTIME).saturating_sub(clock_ns(libc::CLOCK_BOOTTIME)) as u64
}

fn clock_ns(clock: libc::clockid_t) -> u128 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid, writable timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128
}

fn seconds_since_epoch(t: SystemTime) -> libc::time_t {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as libc::time_t,
        Err(e) => -(e.duration().as_secs() as libc::time_t),
    }
}

fn format_tm(fmt: &str, tm: &libc::tm) -> String {
    // A NUL would end the C string early; the parser never produces one from
    // a string literal, but drop it rather than fail.
    let Ok(cfmt) = CString::new(fmt.replace('\0', "")) else {
        return String::new();
    };
    if fmt.is_empty() {
        return String::new();
    }
    // strftime returns 0 both for "did not fit" and for an empty result, so
    // grow the buffer until it fits or is clearly too big.
    let mut cap = 128;
    while cap <= MAX_LEN {
        let mut buf = vec![0u8; cap];
        // SAFETY: buf has `cap` writable bytes; cfmt is NUL-terminated; tm is valid.
        let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), cap, cfmt.as_ptr(), tm) };
        if n > 0 {
            buf.truncate(n);
            return String::from_utf8_lossy(&buf).into_owned();
        }
        cap *= 4;
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-26 01:19:00 UTC, a Thursday, day 330 of the year.
    const T: i64 = 1_795_655_940;

    #[test]
    fn default_format_is_hours_minutes_seconds() {
        assert_eq!(format_utc_time(DEFAULT_TIME_FORMAT, T), "01:19:00\n");
    }

    #[test]
    fn common_specifiers() {
        // Reference: bpftrace -e 'BEGIN { time("%Y-%m-%d %H:%M:%S %a %b %j %Z %z %%|"); exit(); }'
        // on this host (TZ=UTC) printed `2026-11-26 01:19:00 Thu Nov 330 UTC +0000 %|`.
        assert_eq!(
            format_utc_time("%Y-%m-%d %H:%M:%S %a %b %j %Z %z %%|", T),
            "2026-11-26 01:19:00 Thu Nov 330 GMT +0000 %|"
        );
    }

    #[test]
    fn subsecond_extensions() {
        assert_eq!(expand_subsecond("%H:%M:%S.%f", 123_456_789), "%H:%M:%S.123456");
        assert_eq!(expand_subsecond("%k|%l|%%f", 5_000_007), "005000007|005|%%f");
        // An epoch timestamp prints with its own microseconds.
        let t = format_timestamp("%f", 1_795_655_940_000_042_000, TimestampClock::Epoch);
        assert_eq!(t, "000042");
    }

    #[test]
    fn empty_and_long_formats() {
        assert_eq!(format_utc_time("", T), "");
        let long = "%Y".repeat(200);
        assert_eq!(format_utc_time(&long, T), "2026".repeat(200));
    }
}
