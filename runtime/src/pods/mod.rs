//! Cgroup ids → names, in user space, when a value is printed or exported:
//! `cgroup_path()` (bpftrace's text: `unified:/a/b,cpu:/,…`), `pod()`
//! (`namespace/name`) and `container()` (the container id). The kernel keeps
//! only the u64 id, so a map keyed by `pod(cgroup)` costs what a map keyed by
//! `cgroup` costs.
//!
//! The chain is: id → directory in each mounted hierarchy (one walk of the
//! tree fills the cache for every cgroup) → pod UID and container id from the
//! kubelet's directory names ([`kubelet`]) → namespace and name from the
//! kubelet's pod log directory (`/var/log/pods/<namespace>_<name>_<uid>`).
//! Both caches are refreshed when an id or UID is not in them, at most once
//! per [`Config::min_refresh`]; an id a walk did not find is remembered as
//! gone, so ids of removed cgroups (or 0, no cgroup) cannot turn every print
//! into a walk of the whole tree.
//!
//! The printer and the exporter share [`name`] (one process-wide resolver),
//! so a label value is the text the map printer shows.

pub mod cgroupfs;
pub mod kubelet;

use cgroupfs::Hierarchy;
use flowtrace_lang::types::CgroupView;
use kubelet::PodName;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Gone ids remembered at most (8 bytes each); past it the set starts over.
const MAX_GONE: usize = 65536;

/// The kubelet's default `--pod-logs` directory.
pub const DEFAULT_POD_LOG_DIR: &str = "/var/log/pods";
/// Overrides [`DEFAULT_POD_LOG_DIR`] (the `--pod-logs` flag wins over it).
pub const POD_LOG_DIR_ENV: &str = "FLOWTRACE_POD_LOGS";

#[derive(Clone, Debug)]
pub struct Config {
    /// Where the kubelet keeps `<namespace>_<name>_<uid>` directories.
    pub pod_log_dir: PathBuf,
    /// The mount table naming the cgroup hierarchies.
    pub mountinfo: PathBuf,
    /// The shortest time between two refreshes of a cache.
    pub min_refresh: Duration,
}

impl Default for Config {
    fn default() -> Config {
        let pod_log_dir = std::env::var_os(POD_LOG_DIR_ENV).map_or_else(|| PathBuf::from(DEFAULT_POD_LOG_DIR), PathBuf::from);
        Config { pod_log_dir, mountinfo: PathBuf::from("/proc/self/mountinfo"), min_refresh: Duration::from_secs(1) }
    }
}

/// The caches. Not thread-safe by itself; [`name`] serialises the shared one.
#[derive(Debug)]
pub struct Resolver {
    config: Config,
    /// `(hierarchy, its id → path)`, v2 first.
    hierarchies: Vec<(Hierarchy, HashMap<u64, String>)>,
    walked_at: Option<Instant>,
    /// Ids a walk made after they were seen did not find: their cgroup is
    /// gone, and kernfs ids are not reused, so they never need a walk again.
    gone: HashSet<u64>,
    pods: HashMap<String, PodName>,
    scanned_at: Option<Instant>,
}

impl Resolver {
    pub fn new(config: Config) -> Resolver {
        Resolver { config, hierarchies: Vec::new(), walked_at: None, gone: HashSet::new(), pods: HashMap::new(), scanned_at: None }
    }

    /// The text a value of `view` prints as.
    pub fn name(&mut self, view: &CgroupView, id: u64) -> String {
        match view {
            CgroupView::Path { filter } => self.cgroup_path(id, filter),
            CgroupView::Pod => self.pod(id),
            CgroupView::Container => self.container(id),
        }
    }

    /// bpftrace's `cgroup_path` text: `hierarchy:path` for every hierarchy
    /// whose name matches the wildcard `filter` and holds the id, joined by
    /// `,`; empty when none does.
    pub fn cgroup_path(&mut self, id: u64, filter: &str) -> String {
        self.refresh_paths_for(id);
        let found = self.hierarchies.iter().filter(|(h, _)| flowtrace_kernel::glob::glob_match(filter, &h.name));
        let parts: Vec<String> = found.filter_map(|(h, ids)| ids.get(&id).map(|p| format!("{}:{p}", h.name))).collect();
        parts.join(",")
    }

    /// `namespace/name` of the pod whose cgroup (or a container's in it) has
    /// this id; the pod UID when the log directory does not list the pod yet;
    /// "" when the cgroup is not a pod's.
    pub fn pod(&mut self, id: u64) -> String {
        let Some(pod) = self.pod_cgroup(id) else { return String::new() };
        if !self.pods.contains_key(&pod.uid) && self.may_refresh(self.scanned_at) {
            self.scan_pod_logs();
        }
        match self.pods.get(&pod.uid) {
            Some(p) => format!("{}/{}", p.namespace, p.name),
            None => pod.uid,
        }
    }

    /// The container id, "" when the cgroup is not a container's.
    pub fn container(&mut self, id: u64) -> String {
        self.pod_cgroup(id).and_then(|p| p.container).unwrap_or_default()
    }

    fn pod_cgroup(&mut self, id: u64) -> Option<kubelet::PodCgroup> {
        self.refresh_paths_for(id);
        let (_, unified) = self.hierarchies.iter().find(|(h, _)| h.is_unified())?;
        kubelet::parse_cgroup_path(unified.get(&id)?)
    }

    fn may_refresh(&self, last: Option<Instant>) -> bool {
        last.is_none_or(|t| t.elapsed() >= self.config.min_refresh)
    }

    fn refresh_paths_for(&mut self, id: u64) {
        let known = |r: &Resolver| r.hierarchies.iter().any(|(_, ids)| ids.contains_key(&id));
        // Id 0 is "no cgroup" (a tc: packet without a socket).
        if id == 0 || known(self) || self.gone.contains(&id) || !self.may_refresh(self.walked_at) {
            return;
        }
        let mounts = std::fs::read_to_string(&self.config.mountinfo).unwrap_or_default();
        let mut old = std::mem::take(&mut self.hierarchies);
        for h in cgroupfs::parse_mountinfo(&mounts) {
            let mut ids = cgroupfs::walk(&h.mount);
            if let Some((_, before)) = old.iter_mut().find(|(o, _)| *o == h) {
                keep_recent_past(&mut ids, std::mem::take(before));
            }
            self.hierarchies.push((h, ids));
        }
        self.walked_at = Some(Instant::now());
        if !known(self) {
            if self.gone.len() >= MAX_GONE {
                self.gone.clear();
            }
            self.gone.insert(id);
        }
    }

    fn scan_pod_logs(&mut self) {
        let before = std::mem::replace(&mut self.pods, read_pod_log_dir(&self.config.pod_log_dir));
        keep_recent_past(&mut self.pods, before);
        self.scanned_at = Some(Instant::now());
    }
}

/// Adds to a fresh reading the entries of the one before that are gone now,
/// so a pod or cgroup that ended between its events and the print is still
/// named. Bounded: when the past outgrows the present, it is dropped.
fn keep_recent_past<K: std::hash::Hash + Eq, V>(now: &mut HashMap<K, V>, before: HashMap<K, V>) {
    if before.len() <= 2 * now.len() + 1024 {
        for (k, v) in before {
            now.entry(k).or_insert(v);
        }
    }
}

/// The pods the kubelet keeps logs for, by UID. A missing directory (not a
/// Kubernetes node) is no pods.
pub fn read_pod_log_dir(dir: &Path) -> HashMap<String, PodName> {
    let Ok(entries) = std::fs::read_dir(dir) else { return HashMap::new() };
    entries.flatten().filter_map(|e| kubelet::parse_log_dir_entry(&e.file_name().to_string_lossy())).collect()
}

static SHARED: Mutex<Option<Resolver>> = Mutex::new(None);

/// Sets up the shared resolver (the CLI's `--pod-logs`); without it the
/// first [`name`] uses [`Config::default`].
pub fn configure(config: Config) {
    *SHARED.lock().unwrap_or_else(|e| e.into_inner()) = Some(Resolver::new(config));
}

/// The text a cgroup id prints as, from the shared resolver: the map printer,
/// printf and the exporter all call this.
pub fn name(view: &CgroupView, id: u64) -> String {
    let mut shared = SHARED.lock().unwrap_or_else(|e| e.into_inner());
    shared.get_or_insert_with(|| Resolver::new(Config::default())).name(view, id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    /// A fake cgroup hierarchy (a plain directory tree named by a fake
    /// mountinfo) and pod log directory: the whole chain without root.
    #[test]
    fn resolves_a_fake_node() {
        let base = std::env::temp_dir().join(format!("ft-pods-{}", std::process::id()));
        let uid = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
        let cid = "5f2e9a0b7c1d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f";
        let pod_dir = base.join(format!("cg/kubepods/burstable/pod{uid}"));
        std::fs::create_dir_all(pod_dir.join(cid)).unwrap();
        std::fs::create_dir_all(base.join("cg/system.slice")).unwrap();
        std::fs::create_dir_all(base.join(format!("logs/default_payment-7d9f_{uid}"))).unwrap();
        let mountinfo = base.join("mountinfo");
        let line = format!("41 31 0:38 / {} rw - cgroup2 cgroup2 rw\n", base.join("cg").display());
        std::fs::write(&mountinfo, line).unwrap();
        let config = Config { pod_log_dir: base.join("logs"), mountinfo, min_refresh: Duration::ZERO };
        let mut r = Resolver::new(config);
        let ino = |p: PathBuf| std::fs::metadata(p).unwrap().ino();
        let container = ino(pod_dir.join(cid));
        assert_eq!(r.pod(container), "default/payment-7d9f");
        assert_eq!(r.container(container), cid);
        assert_eq!(r.pod(ino(pod_dir.clone())), "default/payment-7d9f");
        assert_eq!(r.container(ino(pod_dir.clone())), "");
        let other = ino(base.join("cg/system.slice"));
        assert_eq!((r.pod(other), r.container(other)), (String::new(), String::new()));
        assert_eq!(r.cgroup_path(other, "*"), "unified:/system.slice");
        assert_eq!(r.cgroup_path(other, "cpu"), "");
        assert_eq!(r.cgroup_path(u64::MAX, "*"), "");
        // A pod whose logs are not there (yet) is named by its UID.
        std::fs::remove_dir(base.join(format!("logs/default_payment-7d9f_{uid}"))).unwrap();
        let fresh = Resolver::new(Config { min_refresh: Duration::ZERO, ..r.config.clone() });
        // One that knew the pod before keeps its name; a new one cannot know it.
        r.scan_pod_logs();
        assert_eq!(r.pod(container), "default/payment-7d9f");
        let mut r = fresh;
        assert_eq!(r.pod(container), uid);
        std::fs::remove_dir_all(&base).unwrap();
    }

    /// An unknown id walks the tree again only once `min_refresh` has passed.
    #[test]
    fn refreshes_are_rate_bounded() {
        let base = std::env::temp_dir().join(format!("ft-pods-rate-{}", std::process::id()));
        std::fs::create_dir_all(base.join("cg")).unwrap();
        let mountinfo = base.join("mountinfo");
        std::fs::write(&mountinfo, format!("41 31 0:38 / {} rw - cgroup2 cgroup2 rw\n", base.join("cg").display())).unwrap();
        let config = |min_refresh| Config { pod_log_dir: base.join("logs"), mountinfo: mountinfo.clone(), min_refresh };
        let mut slow = Resolver::new(config(Duration::from_secs(3600)));
        let mut eager = Resolver::new(config(Duration::ZERO));
        assert_eq!(slow.cgroup_path(u64::MAX, "*"), "");
        assert_eq!(eager.cgroup_path(u64::MAX, "*"), "");
        std::fs::create_dir(base.join("cg/late")).unwrap();
        let late = std::fs::metadata(base.join("cg/late")).unwrap().ino();
        assert_eq!(slow.cgroup_path(late, "*"), "", "walked again within min_refresh");
        assert_eq!(eager.cgroup_path(late, "*"), "unified:/late");
        // Looked up and not found by a later walk: gone, not walked for again.
        assert!(eager.gone.contains(&u64::MAX));
        let walked = eager.walked_at;
        assert_eq!(eager.cgroup_path(u64::MAX, "*"), "");
        assert_eq!(eager.walked_at, walked);
        assert_eq!(eager.cgroup_path(0, "*"), "");
        assert_eq!(eager.walked_at, walked);
        // A removed cgroup keeps the path it had when a later walk finds it gone.
        std::fs::remove_dir(base.join("cg/late")).unwrap();
        assert_eq!(eager.cgroup_path(u64::MAX - 1, "*"), "");
        assert!(eager.walked_at != walked);
        assert_eq!(eager.cgroup_path(late, "*"), "unified:/late");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
