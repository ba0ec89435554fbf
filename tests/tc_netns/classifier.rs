//! Tiny cls_bpf programs for observer-only tests, loaded with bpf(2) and
//! pinned so tc(8) can attach them (`bpf da object-pinned PATH`): this kernel
//! has no gact, so "drop" and "pass" filters are BPF programs too.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

const BPF_PROG_LOAD: i64 = 5;
const BPF_OBJ_PIN: i64 = 6;
const PROG_TYPE_SCHED_CLS: u32 = 3;

pub const TC_ACT_OK: i32 = 0;
pub const TC_ACT_SHOT: i32 = 2;

/// A loaded `return VERDICT;` classifier pinned at `path`; unpinned on drop
/// (the program lives on while a filter uses it).
pub struct Pinned {
    pub path: String,
    dir: String,
    _fd: OwnedFd,
}

fn bpf(cmd: i64, attr: &mut [u8; 128]) -> std::io::Result<i64> {
    // SAFETY: attr is a zeroed 128-byte prefix of union bpf_attr.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr.as_mut_ptr(), attr.len()) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// A bpffs of our own outside /sys: `ip netns exec` mounts a fresh sysfs,
/// which hides /sys/fs/bpf from tc(8) run inside the namespace.
fn mount_bpffs(dir: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let status = std::process::Command::new("mount").args(["-t", "bpf", "bpf", dir]).status().unwrap();
    assert!(status.success(), "cannot mount bpffs on {dir}");
}

impl Pinned {
    pub fn verdict(verdict: i32, name: &str) -> Pinned {
        // mov64 r0, verdict; exit
        let mut insns = Vec::new();
        insns.extend([0xb7, 0x00, 0, 0]);
        insns.extend(verdict.to_le_bytes());
        insns.extend([0x95, 0, 0, 0, 0, 0, 0, 0]);
        let license = CString::new("GPL").unwrap();
        let mut a = [0u8; 128];
        a[0..4].copy_from_slice(&PROG_TYPE_SCHED_CLS.to_le_bytes());
        a[4..8].copy_from_slice(&2u32.to_le_bytes());
        a[8..16].copy_from_slice(&(insns.as_ptr() as u64).to_le_bytes());
        a[16..24].copy_from_slice(&(license.as_ptr() as u64).to_le_bytes());
        let n = name.len().min(15);
        a[48..48 + n].copy_from_slice(&name.as_bytes()[..n]);
        let fd = bpf(BPF_PROG_LOAD, &mut a).unwrap_or_else(|e| panic!("loading {name}: {e}"));
        // SAFETY: a fresh fd from BPF_PROG_LOAD.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        let dir = format!("/tmp/ft_bpffs_{name}_{}", std::process::id());
        mount_bpffs(&dir);
        let path = format!("{dir}/{name}");
        let cpath = CString::new(path.clone()).unwrap();
        let mut a = [0u8; 128];
        a[0..8].copy_from_slice(&(cpath.as_ptr() as u64).to_le_bytes());
        a[8..12].copy_from_slice(&(fd.as_raw_fd() as u32).to_le_bytes());
        bpf(BPF_OBJ_PIN, &mut a).unwrap_or_else(|e| panic!("pinning {path}: {e}"));
        Pinned { path, dir, _fd: fd }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::process::Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}
