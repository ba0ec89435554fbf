//! Finding every network namespace on the node and entering each in turn.
//!
//! Namespaces come from three places: the one flowtrace runs in, the names
//! under /run/netns (`ip netns add`), and those processes hold
//! (/proc/PID/ns/net: a pod's pause process, a container). Each counts
//! once, by the namespace file's (device, inode). They are entered with
//! setns(2) on one dedicated thread — setns changes only the calling
//! thread's namespace — which returns to its own namespace at the end.

use super::model::NetnsLabel;
use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Netns {
    pub label: NetnsLabel,
    /// A file that refers to the namespace (for setns).
    pub path: PathBuf,
    pub inode: u64,
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// The namespace this process runs in, named if /run/netns has a name for it.
pub(super) fn current() -> io::Result<Netns> {
    let path = PathBuf::from("/proc/self/ns/net");
    let (_, inode) = std::fs::metadata(&path).map(|m| (m.dev(), m.ino()))?;
    let named = named().into_iter().find(|n| n.inode == inode);
    Ok(Netns { label: named.map_or(NetnsLabel::Current, |n| n.label), path, inode })
}

fn named() -> Vec<Netns> {
    let Ok(dir) = std::fs::read_dir("/run/netns") else { return Vec::new() };
    let mut out: Vec<Netns> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let path = e.path();
            let (_, inode) = identity(&path)?;
            Some(Netns { label: NetnsLabel::Named(e.file_name().to_string_lossy().into_owned()), path, inode })
        })
        .collect();
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn pids() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    let mut pids: Vec<u32> = dir.filter_map(Result::ok).filter_map(|e| e.file_name().to_str()?.parse().ok()).collect();
    pids.sort_unstable();
    pids
}

/// Every namespace once: the current one first, then the named ones, then
/// those only processes hold (labelled by the lowest such pid).
pub(super) fn all() -> io::Result<Vec<Netns>> {
    let mut out = vec![current()?];
    let mut seen: HashSet<(u64, u64)> = out.iter().filter_map(|n| identity(&n.path)).collect();
    for n in named() {
        if identity(&n.path).is_some_and(|id| seen.insert(id)) {
            out.push(n);
        }
    }
    for pid in pids() {
        let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
        // Kernel threads have no namespace to stat; a process may exit meanwhile.
        let Some(id) = identity(&path) else { continue };
        if seen.insert(id) {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default().trim().to_string();
            out.push(Netns { label: NetnsLabel::HeldBy { pid, comm }, path, inode: id.1 });
        }
    }
    Ok(out)
}

fn setns(file: &File) -> io::Result<()> {
    // SAFETY: setns on a namespace fd we hold; it changes only this thread.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `work` inside each namespace, on one thread of its own; a namespace
/// that cannot be entered (gone meanwhile) gives its error instead.
pub(super) fn in_each<T: Send>(list: &[Netns], work: impl Fn(&Netns) -> io::Result<T> + Sync) -> io::Result<Vec<io::Result<T>>> {
    std::thread::scope(|s| {
        s.spawn(|| {
            let home = File::open("/proc/thread-self/ns/net")?;
            let results = list
                .iter()
                .map(|ns| {
                    let file = File::open(&ns.path).map_err(|e| io::Error::new(e.kind(), format!("netns {}: {e}", ns.label)))?;
                    setns(&file).map_err(|e| io::Error::new(e.kind(), format!("entering netns {}: {e}", ns.label)))?;
                    work(ns)
                })
                .collect();
            // The thread ends right after, but leave it where it started so
            // nothing it might still run lands in a foreign namespace.
            setns(&home)?;
            Ok(results)
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the namespace walker panicked")))
    })
}
