//! BPF objects for `flowtrace net` tests and its bench: tiny programs that
//! reference a map (so the map shows up as the program's), TCX links made
//! inside a network namespace, and a private bpffs to pin programs in for
//! tc(8) and ip(8). Built with the runtime's raw bpf(2) layer; nothing here
//! goes through the code under test (`flowtrace_runtime::inspect`).

#![allow(dead_code)]

use flowtrace_runtime::sys;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

pub const PROG_SCHED_CLS: u32 = 3;
pub const PROG_XDP: u32 = 6;
pub const MAP_HASH: u32 = 1;
pub const MAP_LRU_HASH: u32 = 9;
pub const TCX_INGRESS: u32 = 46;
pub const TCX_EGRESS: u32 = 47;
/// TC_ACT_UNSPEC (TCX_NEXT): an observer's verdict, leaves the packet to others.
pub const TC_NEXT: i32 = -1;
pub const XDP_PASS: i32 = 2;

fn insn(code: u8, regs: u8, off: i16, imm: i32) -> [u8; 8] {
    let o = off.to_le_bytes();
    let i = imm.to_le_bytes();
    [code, regs, o[0], o[1], i[0], i[1], i[2], i[3]]
}

/// `r1 = &map` (when given), `r0 = verdict`, `exit`: the map becomes one of
/// the program's maps (`bpf_prog_info.map_ids`) without the program doing
/// anything with it.
pub fn program(name: &str, prog_type: u32, map: Option<BorrowedFd<'_>>, verdict: i32) -> OwnedFd {
    let mut code = Vec::new();
    if let Some(m) = map {
        // ld_imm64 r1, map fd (src_reg = BPF_PSEUDO_MAP_FD).
        code.extend(insn(0x18, 0x10 | 1, 0, m.as_raw_fd()));
        code.extend(insn(0, 0, 0, 0));
    }
    code.extend(insn(0xb7, 0, 0, verdict)); // mov64 r0, verdict
    code.extend(insn(0x95, 0, 0, 0)); // exit
    sys::prog_load(name, prog_type, &code).unwrap_or_else(|e| panic!("loading {name}: {}\n{}", e.error, e.log))
}

pub fn map(name: &str, map_type: u32, max_entries: u32) -> OwnedFd {
    sys::map_create(name, map_type, 4, 8, max_entries).unwrap_or_else(|e| panic!("creating map {name}: {e}"))
}

/// Inserts keys `from..to` (u32) with zero values.
pub fn fill(map: BorrowedFd<'_>, from: u32, to: u32) {
    for k in from..to {
        sys::map_update(map, &k.to_ne_bytes(), &[0u8; 8], sys::BPF_ANY).unwrap_or_else(|e| panic!("update key {k}: {e}"));
    }
}

pub fn id(fd: BorrowedFd<'_>) -> u32 {
    sys::object_id(fd).unwrap()
}

/// Runs `work` on a thread that entered network namespace `/run/netns/NS`.
pub fn in_netns<T: Send>(ns: &str, work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            let f = File::open(format!("/run/netns/{ns}")).unwrap_or_else(|e| panic!("netns {ns}: {e}"));
            // SAFETY: setns on a namespace fd we hold; it changes only this thread.
            assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "setns {ns}");
            work()
        })
        .join()
        .unwrap()
    })
}

/// `union bpf_attr` for BPF_LINK_CREATE with the tcx member (append).
#[repr(C)]
#[derive(Default)]
struct TcxLinkAttr {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
    relative_fd: u32,
    _pad: u32,
    expected_revision: u64,
}

/// A TCX link (appended) on interface `dev` of namespace `ns`; closing
/// the fd detaches it.
pub fn tcx_link(ns: &str, dev: &str, prog: BorrowedFd<'_>, attach_type: u32) -> OwnedFd {
    let prog_fd = prog.as_raw_fd() as u32;
    in_netns(ns, || {
        let name = CString::new(dev).unwrap();
        // SAFETY: if_nametoindex reads a NUL-terminated name (in this thread's namespace).
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert_ne!(ifindex, 0, "no {dev} in {ns}");
        let mut attr = TcxLinkAttr { prog_fd, target_ifindex: ifindex, attach_type, ..Default::default() };
        // SAFETY: attr is a valid BPF_LINK_CREATE prefix of union bpf_attr.
        let fd = unsafe { libc::syscall(libc::SYS_bpf, 28, &mut attr as *mut TcxLinkAttr, std::mem::size_of::<TcxLinkAttr>()) };
        assert!(fd >= 0, "tcx link on {ns}/{dev}: {}", std::io::Error::last_os_error());
        use std::os::fd::FromRawFd;
        // SAFETY: a fresh fd from BPF_LINK_CREATE.
        unsafe { OwnedFd::from_raw_fd(fd as i32) }
    })
}

/// A bpffs of our own under /tmp (`ip netns exec` remounts /sys, hiding
/// /sys/fs/bpf from tc run inside a namespace); unmounted on drop.
pub struct Bpffs {
    pub dir: String,
}

impl Bpffs {
    pub fn mount(tag: &str) -> Bpffs {
        let dir = format!("/tmp/ft_{tag}_bpffs_{}", std::process::id());
        std::fs::create_dir_all(&dir).unwrap();
        let ok = std::process::Command::new("mount").args(["-t", "bpf", "bpf", &dir]).status().unwrap().success();
        assert!(ok, "cannot mount bpffs on {dir}");
        Bpffs { dir }
    }

    /// Pins `fd` as NAME; returns the path.
    pub fn pin(&self, fd: BorrowedFd<'_>, name: &str) -> String {
        let path = format!("{}/{name}", self.dir);
        let c = CString::new(path.clone()).unwrap();
        let mut attr = [0u64; 3];
        attr[0] = c.as_ptr() as u64;
        attr[1] = fd.as_raw_fd() as u64;
        // SAFETY: BPF_OBJ_PIN (6) with pathname and bpf_fd; the name outlives the call.
        let r = unsafe { libc::syscall(libc::SYS_bpf, 6, attr.as_mut_ptr(), 24usize) };
        assert!(r == 0, "pin {path}: {}", std::io::Error::last_os_error());
        path
    }
}

impl Drop for Bpffs {
    fn drop(&mut self) {
        // Unmounting drops every pin in it; programs live on while attached.
        let _ = std::process::Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}
