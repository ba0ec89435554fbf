//! deploy/ as Kubernetes objects: tests/deploy/check_manifests.py validates
//! the Namespace, ConfigMap and DaemonSet against a strict schema of the API
//! fields they use, and checks them against each other, examples/fleet.ft
//! and docs/fleet.md's tables. It runs under Debian's python3 with the
//! python3-yaml and python3-jsonschema packages (scripts/setup installs them).
//! Broken copies must be rejected, so the checker is shown to bite.

use std::path::{Path, PathBuf};
use std::process::Command;

const PYTHON: &str = "/usr/bin/python3";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the checker with `overrides` (`--daemonset FILE`, …); exit success and output.
fn check(overrides: &[(&str, &Path)]) -> (bool, String) {
    let mut cmd = Command::new(PYTHON);
    cmd.arg(repo().join("tests/deploy/check_manifests.py")).arg(repo());
    for (flag, path) in overrides {
        cmd.arg(flag).arg(path);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("{PYTHON}: {e} (run bash scripts/setup)"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!text.contains("ModuleNotFoundError"), "{text}\nrun bash scripts/setup (python3-yaml, python3-jsonschema)");
    (out.status.success(), text)
}

/// A copy of `file` (relative to the repository) with `from` replaced by `to`.
fn broken(file: &str, from: &str, to: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo().join(file)).unwrap();
    assert!(text.contains(from), "{file} no longer contains {from:?}: update this test");
    let name = Path::new(file).file_name().unwrap().to_str().unwrap();
    let path = std::env::temp_dir().join(format!("ft-deploy-{}-{}-{name}", std::process::id(), from.len()));
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
    path
}

#[test]
fn manifests_are_valid_kubernetes_objects_and_match_the_docs() {
    let (ok, out) = check(&[]);
    assert!(ok, "{out}");
    assert!(out.contains("ok   daemonset.yaml: DaemonSet matches the schema"), "{out}");
    assert!(out.contains("are the ones docs/fleet.md lists"), "{out}");
}

#[test]
fn broken_manifests_are_rejected() {
    let cases: [(&str, &str, &str, &str, &[&str]); 5] = [
        (
            "--daemonset",
            "deploy/daemonset.yaml",
            "hostNetwork: true",
            "hostNetwrok: true",
            &["daemonset.yaml: DaemonSet matches the schema\n", "spec/template/spec: Additional properties are not allowed ('hostNetwrok' was unexpected)"],
        ),
        (
            "--daemonset",
            "deploy/daemonset.yaml",
            "mountPath: /var/log/pods\n              readOnly: true",
            "mountPath: /var/log/pods\n              readOnly: false",
            &["FAIL every mount is read-only but /sys/fs/bpf/flowtrace", "FAIL host mounts"],
        ),
        ("--daemonset", "deploy/daemonset.yaml", "- operator: Exists", "- operator: Exists\n          key: gpu", &["FAIL a toleration of every taint"]),
        ("--configmap", "deploy/configmap.yaml", "@retransmits[pod(", "@retrans[pod(", &["FAIL ConfigMap data fleet.ft equals examples/fleet.ft"]),
        ("--docs", "docs/fleet.md", "| `NET_ADMIN` |", "| `SYS_ADMIN` |", &["FAIL capabilities added"]),
    ];
    for (flag, file, from, to, expected) in cases {
        // A schema failure stops the cross-checks, so each case breaks one thing.
        let copy = broken(file, from, to);
        let (ok, out) = check(&[(flag, &copy)]);
        let _ = std::fs::remove_file(&copy);
        assert!(!ok, "{file} with {to:?} passed:\n{out}");
        for line in expected {
            assert!(out.contains(line), "{file} with {to:?}: no {line:?} in:\n{out}");
        }
    }
}
