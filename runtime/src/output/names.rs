//! Names userspace gives to numbers the probe sends: `username` is the
//! uid, named here through the C library (getpwuid_r, as bpftrace's
//! /etc/passwd lookup but also seeing NSS users); `strerror(n)` is the error
//! number, named by the C library's message.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_unknown_users() {
        assert_eq!(user_name(0), "root");
        assert_eq!(user_name(4_000_000_000), "4000000000");
    }
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

#[cfg(test)]
mod error_tests {
    use super::error_message;

    #[test]
    fn error_numbers_read_as_the_c_library_says() {
        assert_eq!(error_message(2), "No such file or directory");
        assert_eq!(error_message(libc::ECONNREFUSED as i64), "Connection refused");
        assert_eq!(error_message(-2), "Unknown error -2");
        assert_eq!(error_message(1 << 40), format!("Unknown error {}", 1i64 << 40));
    }
}
