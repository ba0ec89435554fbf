//! What the kubelet's naming conventions say about a cgroup: pure parsers over
//! path text and directory names, so they are tested without a cluster.
//!
//! Layouts (cgroup v2 paths, relative to the hierarchy's root, possibly under
//! a prefix such as `/kubelet.slice` or a kind node's own cgroup):
//! - systemd driver: `kubepods.slice/kubepods-burstable.slice/
//!   kubepods-burstable-pod<uid with _ for ->.slice/cri-containerd-<id>.scope`
//!   (`crio-<id>.scope` for CRI-O, `docker-<id>.scope` for cri-dockerd);
//!   guaranteed pods sit directly under `kubepods.slice` as `kubepods-pod<uid>.slice`.
//! - cgroupfs driver: `kubepods/burstable/pod<uid>/<id>` (`kubepods/pod<uid>/<id>`
//!   for guaranteed pods).

/// The pod (and container, when the cgroup is a container's) a cgroup path
/// belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodCgroup {
    /// The pod UID in its usual dashed form.
    pub uid: String,
    /// The container id, `None` for the pod's own cgroup.
    pub container: Option<String>,
}

/// Reads a cgroup path from its root; `None` when it is not under a pod.
pub fn parse_cgroup_path(path: &str) -> Option<PodCgroup> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    // The innermost pod component wins: a kind node's own cgroup may itself
    // sit inside an outer kubepods tree.
    let (at, uid) = parts.iter().enumerate().rev().find_map(|(i, p)| pod_uid(p).map(|u| (i, u)))?;
    let container = parts.get(at + 1).and_then(|c| container_id(c));
    Some(PodCgroup { uid, container })
}

/// `kubepods-burstable-pod<uid_underscored>.slice` or `pod<uid>`.
fn pod_uid(component: &str) -> Option<String> {
    if let Some(slice) = component.strip_suffix(".slice") {
        let (_, uid) = slice.rsplit_once("-pod")?;
        let uid = uid.replace('_', "-");
        return is_uid(&uid).then_some(uid);
    }
    let uid = component.strip_prefix("pod")?;
    is_uid(uid).then(|| uid.to_string())
}

/// `cri-containerd-<id>.scope`, `crio-<id>.scope`, `docker-<id>.scope`, or a
/// bare `<id>` (cgroupfs). CRI-O's `crio-conmon-<id>.scope` is its monitor
/// process, not the container, so it names no container.
fn container_id(component: &str) -> Option<String> {
    let id = match component.strip_suffix(".scope") {
        Some(scope) => scope.rsplit_once('-').map(|(_, id)| id)?,
        None => component,
    };
    let is_hex = id.len() >= 12 && id.bytes().all(|b| b.is_ascii_hexdigit());
    (is_hex && !component.starts_with("crio-conmon-")).then(|| id.to_string())
}

/// A pod UID: 36 characters of hex digits and dashes (a UUID). Static pods
/// use a hash of their manifest instead, 32 hex digits.
fn is_uid(s: &str) -> bool {
    let hex_or_dash = s.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    hex_or_dash && (s.len() == 36 || s.len() == 32)
}

/// A pod's namespace and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodName {
    pub namespace: String,
    pub name: String,
}

/// A pod log directory entry, `<namespace>_<name>_<uid>`: namespaces and pod
/// names are DNS names, which never contain `_`, so the split is unambiguous.
pub fn parse_log_dir_entry(entry: &str) -> Option<(String, PodName)> {
    let (rest, uid) = entry.rsplit_once('_')?;
    let (namespace, name) = rest.split_once('_')?;
    if namespace.is_empty() || name.is_empty() || !is_uid(uid) {
        return None;
    }
    Some((uid.to_string(), PodName { namespace: namespace.to_string(), name: name.to_string() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
    const CID: &str = "5f2e9a0b7c1d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f";

    fn pod(container: Option<&str>) -> Option<PodCgroup> {
        Some(PodCgroup { uid: UID.into(), container: container.map(String::from) })
    }

    #[test]
    fn systemd_driver_containerd_and_crio() {
        let under = UID.replace('-', "_");
        let slice = format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{under}.slice");
        assert_eq!(parse_cgroup_path(&format!("{slice}/cri-containerd-{CID}.scope")), pod(Some(CID)));
        assert_eq!(parse_cgroup_path(&format!("{slice}/crio-{CID}.scope")), pod(Some(CID)));
        assert_eq!(parse_cgroup_path(&format!("{slice}/crio-conmon-{CID}.scope")), pod(None));
        assert_eq!(parse_cgroup_path(&slice), pod(None));
        let guaranteed = format!("/kubepods.slice/kubepods-pod{under}.slice/docker-{CID}.scope");
        assert_eq!(parse_cgroup_path(&guaranteed), pod(Some(CID)));
    }

    #[test]
    fn cgroupfs_driver_and_prefixes() {
        assert_eq!(parse_cgroup_path(&format!("/kubepods/burstable/pod{UID}/{CID}")), pod(Some(CID)));
        assert_eq!(parse_cgroup_path(&format!("/kubepods/pod{UID}/{CID}")), pod(Some(CID)));
        assert_eq!(parse_cgroup_path(&format!("/kubepods/besteffort/pod{UID}")), pod(None));
        assert_eq!(parse_cgroup_path(&format!("/ft-test-7/kubepods/besteffort/pod{UID}/{CID}/")), pod(Some(CID)));
    }

    #[test]
    fn other_cgroups_are_not_pods() {
        for path in ["/", "/system.slice/sshd.service", "/kubepods.slice", "/kubepods/burstable", "/user.slice/podman.slice", "/pod/x", "/kubepods-podxyz.slice"] {
            assert_eq!(parse_cgroup_path(path), None, "{path}");
        }
    }

    #[test]
    fn log_dir_entries() {
        let (uid, name) = parse_log_dir_entry(&format!("default_payment-7d9f_{UID}")).unwrap();
        assert_eq!(uid, UID);
        assert_eq!(name, PodName { namespace: "default".into(), name: "payment-7d9f".into() });
        assert!(parse_log_dir_entry("default_payment").is_none());
        assert!(parse_log_dir_entry(&format!("_x_{UID}")).is_none());
        assert!(parse_log_dir_entry("kube-system_coredns_not-a-uid").is_none());
    }
}
