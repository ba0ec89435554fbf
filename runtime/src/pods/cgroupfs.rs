//! The mounted cgroup hierarchies and the id → path walk. A cgroup's id (what
//! `bpf_get_current_cgroup_id`/`bpf_skb_cgroup_id` return) is its kernfs node
//! id, which on 64-bit kernels is also the directory's inode number, so the
//! walk needs only `lstat`.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// One mounted hierarchy, named as bpftrace names them: `unified` for cgroup
/// v2, the mount directory's name (`cpu`, `memory`, `systemd`) for v1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    pub name: String,
    pub mount: PathBuf,
}

impl Hierarchy {
    pub fn is_unified(&self) -> bool {
        self.name == UNIFIED
    }
}

pub const UNIFIED: &str = "unified";

/// The cgroup mounts listed in `/proc/self/mountinfo` text. A mount point
/// listed twice keeps its last entry (the one on top, e.g. a container's host
/// cgroupfs mounted over its own); v2 sorts first, then v1 by name, the
/// order bpftrace prints them in.
pub fn parse_mountinfo(text: &str) -> Vec<Hierarchy> {
    let mut by_mount: Vec<Hierarchy> = Vec::new();
    for line in text.lines() {
        let Some((fields, after)) = line.split_once(" - ") else { continue };
        let Some(mount) = fields.split(' ').nth(4) else { continue };
        let mount = PathBuf::from(unescape(mount));
        let name = match after.split(' ').next() {
            Some("cgroup2") => UNIFIED.to_string(),
            Some("cgroup") => mount.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            _ => continue,
        };
        by_mount.retain(|h| h.mount != mount);
        by_mount.push(Hierarchy { name, mount });
    }
    // One entry per name: a hierarchy bind-mounted twice names the same cgroups.
    let mut unique: Vec<Hierarchy> = Vec::new();
    for h in by_mount {
        if !unique.iter().any(|u| u.name == h.name) {
            unique.push(h);
        }
    }
    unique.sort_by(|a, b| (!a.is_unified(), &a.name).cmp(&(!b.is_unified(), &b.name)));
    unique
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b.get(i + 1..i + 4).filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every cgroup under `mount`, by id, as a path from the hierarchy's root
/// (`/` for the root itself). Unreadable directories are skipped: a cgroup
/// removed during the walk is simply not found.
pub fn walk(mount: &Path) -> HashMap<u64, String> {
    let mut found = HashMap::new();
    let mut stack = vec![(mount.to_path_buf(), String::new())];
    while let Some((dir, rel)) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&dir) else { continue };
        found.insert(meta.ino(), if rel.is_empty() { "/".to_string() } else { rel.clone() });
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                let name = entry.file_name().to_string_lossy().into_owned();
                stack.push((entry.path(), format!("{rel}/{name}")));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hybrid_and_unified_mounts() {
        let text = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:40 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
60 23 0:41 / /mnt/with\\040space rw - ext4 /dev/sda1 rw
";
        let names: Vec<_> = parse_mountinfo(text).into_iter().map(|h| (h.name, h.mount)).collect();
        assert_eq!(
            names,
            [
                ("unified".to_string(), PathBuf::from("/sys/fs/cgroup/unified")),
                ("cpu".to_string(), PathBuf::from("/sys/fs/cgroup/cpu")),
                ("systemd".to_string(), PathBuf::from("/sys/fs/cgroup/systemd")),
            ]
        );
        assert_eq!(unescape("/a\\040b\\134c"), "/a b\\c");
    }

    #[test]
    fn walk_names_directories_by_inode() {
        let root = std::env::temp_dir().join(format!("ft-walk-{}", std::process::id()));
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        let found = walk(&root);
        let ino = |p: &Path| std::fs::metadata(p).unwrap().ino();
        assert_eq!(found.get(&ino(&root)).map(String::as_str), Some("/"));
        assert_eq!(found.get(&ino(&root.join("a/b"))).map(String::as_str), Some("/a/b"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
