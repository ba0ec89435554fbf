//! Names userspace gives to numbers the probe sends: `username` is the
//! uid, named here through the C library (getpwuid_r, as bpftrace's
//! /etc/passwd lookup but also seeing NSS users); `strerror(n)` is the error
//! number, named by the C library's message; `syscall_name(n)` by the x86_64
//! syscall table, `signal_name(n)` by the C library's strsignal(3).

use std::ffi::CStr;

/// The name of user `uid`, or the number when no user has it.
pub fn user_name(uid: u32) -> String {
    let mut buf = vec![0u8; 4096];
    // SAFETY: passwd is plain data filled by getpwuid_r; buf outlives the
    // use of the pointers it holds; result is checked before reading.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr().cast(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return uid.to_string();
    }
    // SAFETY: pw_name points into buf, NUL-terminated by getpwuid_r.
    unsafe { CStr::from_ptr(pwd.pw_name) }.to_string_lossy().into_owned()
}

/// The C library's message for error number `code` (strerror(3), as
/// bpftrace prints `strerror()`): "No such file or directory" for 2,
/// "Unknown error N" for a number it does not know.
pub fn error_message(code: i64) -> String {
    let unknown = || format!("Unknown error {code}");
    let Ok(errnum) = i32::try_from(code) else { return unknown() };
    let mut buf = [0 as libc::c_char; 256];
    // SAFETY: the buffer is writable for its whole length, which is passed;
    // the XSI strerror_r writes a NUL-terminated message into it.
    let rc = unsafe { libc::strerror_r(errnum, buf.as_mut_ptr(), buf.len()) };
    // SAFETY: zero-initialised and written NUL-terminated within its length.
    let text = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned();
    if rc != 0 && text.is_empty() {
        return unknown();
    }
    text
}

/// The name of x86_64 system call `nr` (`read` for 0), or bpftrace's
/// "Unknown syscall" for a number none has (and on other architectures,
/// whose tables flowtrace does not carry).
pub fn syscall_name(nr: i64) -> String {
    let known = if cfg!(target_arch = "x86_64") {
        usize::try_from(nr).ok().and_then(|i| super::syscalls_x86_64::NAMES.get(i)).filter(|n| !n.is_empty())
    } else {
        None
    };
    known.map_or_else(|| "Unknown syscall".to_string(), |n| n.to_string())
}

/// strsignal(3)'s description of signal `sig` ("Killed" for 9, "Real-time
/// signal 0" for 34), as bpftrace's table has them; "N/A" outside 0-64.
pub fn signal_name(sig: i64) -> String {
    static STRSIGNAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let Some(sig) = i32::try_from(sig).ok().filter(|s| (0..=64).contains(s)) else { return "N/A".to_string() };
    // strsignal may reuse a static buffer: one caller at a time.
    let _one = STRSIGNAL.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: strsignal returns a NUL-terminated string valid until the
    // next call, copied out before the lock is released.
    let text = unsafe { libc::strsignal(sig) };
    if text.is_null() {
        return "N/A".to_string();
    }
    // SAFETY: non-null, NUL-terminated (above).
    unsafe { CStr::from_ptr(text) }.to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_unknown_users() {
        assert_eq!(user_name(0), "root");
        assert_eq!(user_name(4_000_000_000), "4000000000");
    }

    #[test]
    fn syscall_and_signal_numbers_are_named() {
        assert_eq!(syscall_name(0), "read");
        assert_eq!(syscall_name(257), "openat");
        assert_eq!(syscall_name(462), "mseal");
        assert_eq!(syscall_name(335), "Unknown syscall");
        assert_eq!(syscall_name(-1), "Unknown syscall");
        assert_eq!(signal_name(9), "Killed");
        assert_eq!(signal_name(2), "Interrupt");
        assert_eq!(signal_name(34), "Real-time signal 0");
        assert_eq!(signal_name(65), "N/A");
    }

    #[test]
    fn error_numbers_read_as_the_c_library_says() {
        assert_eq!(error_message(2), "No such file or directory");
        assert_eq!(error_message(libc::ECONNREFUSED as i64), "Connection refused");
        assert_eq!(error_message(-2), "Unknown error -2");
        assert_eq!(error_message(1 << 40), format!("Unknown error {}", 1i64 << 40));
    }
}
