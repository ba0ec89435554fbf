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
pub const TC_ACT_REDIRECT: i32 = 7;

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

/// `mov64 dst, imm` encoded.
fn mov_imm(dst: u8, imm: i32) -> [u8; 8] {
    let i = imm.to_le_bytes();
    [0xb7, dst, 0, 0, i[0], i[1], i[2], i[3]]
}

const EXIT: [u8; 8] = [0x95, 0, 0, 0, 0, 0, 0, 0];
/// `bpf_redirect(ifindex, flags)`: returns TC_ACT_REDIRECT on success.
const HELPER_REDIRECT: i32 = 23;

impl Pinned {
    pub fn verdict(verdict: i32, name: &str) -> Pinned {
        Pinned::load([mov_imm(0, verdict), EXIT].concat(), name)
    }

    /// `return bpf_redirect(ifindex, 0);`: every packet leaves through the
    /// egress of `ifindex` instead (TC_ACT_REDIRECT).
    pub fn redirect(ifindex: u32, name: &str) -> Pinned {
        let call = [0x85, 0, 0, 0].into_iter().chain(HELPER_REDIRECT.to_le_bytes()).collect::<Vec<u8>>();
        Pinned::load([&mov_imm(1, ifindex as i32)[..], &mov_imm(2, 0), &call, &EXIT].concat(), name)
    }

    fn load(insns: Vec<u8>, name: &str) -> Pinned {
        let license = CString::new("GPL").unwrap();
        let mut a = [0u8; 128];
        a[0..4].copy_from_slice(&PROG_TYPE_SCHED_CLS.to_le_bytes());
        a[4..8].copy_from_slice(&((insns.len() / 8) as u32).to_le_bytes());
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
