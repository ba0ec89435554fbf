//! Reading a BPF ring buffer from userspace through mmap (test-only).

#![allow(dead_code)]

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

/// All committed records currently in the ring buffer `fd` of `size` bytes.
pub fn drain(fd: &OwnedFd, size: usize) -> Vec<Vec<u8>> {
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    unsafe {
        let cons = libc::mmap(std::ptr::null_mut(), page, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd.as_raw_fd(), 0);
        assert_ne!(cons, libc::MAP_FAILED, "mmap consumer page");
        let prod = libc::mmap(std::ptr::null_mut(), page + 2 * size, libc::PROT_READ, libc::MAP_SHARED, fd.as_raw_fd(), page as i64);
        assert_ne!(prod, libc::MAP_FAILED, "mmap producer pages");
        let cons_pos = &*(cons as *const AtomicU64);
        let prod_pos = &*(prod as *const AtomicU64);
        let data = (prod as *const u8).add(page);
        let mut out = Vec::new();
        let mut at = cons_pos.load(Ordering::Acquire);
        let end = prod_pos.load(Ordering::Acquire);
        while at < end {
            let hdr = data.add((at as usize) & (size - 1)) as *const u32;
            let len = std::ptr::read_volatile(hdr);
            if len & (1 << 31) != 0 {
                break; // still being written
            }
            let n = (len & 0x3fff_ffff) as usize;
            if len & (1 << 30) == 0 {
                let body = std::slice::from_raw_parts((hdr as *const u8).add(8), n);
                out.push(body.to_vec());
            }
            at += ((n + 8).div_ceil(8) * 8) as u64;
        }
        cons_pos.store(at, Ordering::Release);
        libc::munmap(cons, page);
        libc::munmap(prod, page + 2 * size);
        out
    }
}
