#!/usr/bin/python3
"""Checks deploy/ as Kubernetes objects: each YAML document validates against
tests/deploy/k8s-subset.schema.json (the API fields deploy/ uses, strict), and
the objects agree with each other, with examples/fleet.ft and with the tables
in docs/fleet.md (mounts, capabilities). Prints one line per check; exits 1
with every failure listed.

Usage: check_manifests.py REPO [--daemonset FILE] [--configmap FILE] [--docs FILE]
(the overrides let the test feed broken copies and see them rejected)."""

import argparse
import json
import re
import sys
from pathlib import Path

import jsonschema
import yaml

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def load_docs(path):
    with open(path) as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def md_table(text, marker):
    """Rows (lists of cells, backticks stripped) of the table after `<!-- marker`."""
    at = text.find("<!-- " + marker)
    if at < 0:
        return None
    rows = []
    for line in text[at:].splitlines()[1:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if set("".join(cells)) <= set("-: "):
            continue
        rows.append(cells)
    return rows[1:]  # without the header


def validate(schema, kind, obj, name):
    validator = jsonschema.Draft7Validator({**schema, "$ref": "#/definitions/" + kind})
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
    for e in errors:
        where = "/".join(str(p) for p in e.path)
        print(f"     {name}: {where}: {e.message}")
    check(not errors, f"{name}: {kind} matches the schema")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("repo", type=Path)
    ap.add_argument("--daemonset", type=Path)
    ap.add_argument("--configmap", type=Path)
    ap.add_argument("--docs", type=Path)
    a = ap.parse_args()
    repo = a.repo
    schema = json.loads((repo / "tests/deploy/k8s-subset.schema.json").read_text())
    ds_path = a.daemonset or repo / "deploy/daemonset.yaml"
    cm_path = a.configmap or repo / "deploy/configmap.yaml"
    ns_path = repo / "deploy/namespace.yaml"
    docs = (a.docs or repo / "docs/fleet.md").read_text()

    objects = {}
    for path in (ns_path, cm_path, ds_path):
        for doc in load_docs(path):
            kind = doc.get("kind")
            check(kind in schema["definitions"], f"{path.name}: kind {kind!r} is one deploy/ may hold")
            if kind in schema["definitions"]:
                validate(schema, kind, doc, path.name)
                objects[kind] = doc
    for kind in ("Namespace", "ConfigMap", "DaemonSet"):
        check(kind in objects, f"deploy/ has a {kind}")
    if failures:
        return
    ns, cm, ds = objects["Namespace"], objects["ConfigMap"], objects["DaemonSet"]
    pod = ds["spec"]["template"]
    spec = pod["spec"]
    c = spec["containers"][0]

    name = ns["metadata"]["name"]
    check(cm["metadata"].get("namespace") == name and ds["metadata"].get("namespace") == name,
          f"ConfigMap and DaemonSet live in namespace {name}")
    sel = ds["spec"]["selector"]["matchLabels"]
    check(all(pod["metadata"]["labels"].get(k) == v for k, v in sel.items()), "the selector matches the pod template's labels")

    # The runbook: the ConfigMap holds examples/fleet.ft, mounted where args point.
    fleet = (repo / "examples/fleet.ft").read_text()
    check(cm.get("data", {}).get("fleet.ft") == fleet, "ConfigMap data fleet.ft equals examples/fleet.ft")
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
    check(set(mounts) == set(volumes), "every volume is mounted, every mount has a volume")
    cm_vols = [n for n, v in volumes.items() if v.get("configMap", {}).get("name") == cm["metadata"]["name"]]
    runbook_dirs = [mounts[n]["mountPath"] for n in cm_vols if n in mounts]
    check(any(c["args"][-1] == d + "/fleet.ft" for d in runbook_dirs), "the container runs the runbook from the mounted ConfigMap")

    # Metrics: --metrics ADDR:PORT, the port, the scrape annotations and the liveness probe agree.
    args = c.get("args", [])
    addr = args[args.index("--metrics") + 1] if "--metrics" in args[:-1] else ""
    port = int(addr.rsplit(":", 1)[1]) if ":" in addr else None
    ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
    check(port is not None and port in ports.values(), f"--metrics {addr} is a declared container port")
    ann = pod["metadata"].get("annotations", {})
    check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port") == str(port)
          and ann.get("prometheus.io/path") == "/metrics", "prometheus.io annotations scrape /metrics on that port")
    live = c.get("livenessProbe", {}).get("httpGet", {})
    live_port = ports.get(live.get("port"), live.get("port"))
    check(live.get("path") == "/healthz" and live_port == port, "liveness probe is GET /healthz on the metrics port")

    # Node-wide: host network, every node, bounded resources.
    check(spec.get("hostNetwork") is True, "hostNetwork (tc: probes attach to the node's interfaces)")
    check(any(t.get("operator") == "Exists" and "key" not in t and "effect" not in t for t in spec.get("tolerations", [])),
          "a toleration of every taint (runs on every node)")
    res = c.get("resources", {})
    check({"cpu", "memory"} <= set(res.get("requests", {})) and {"cpu", "memory"} <= set(res.get("limits", {})),
          "cpu and memory requests and limits")

    # Mounts: exactly the docs' table, all read-only but flowtrace's own bpffs
    # directory (the loader pins there for a moment without CAP_SYS_ADMIN).
    table = md_table(docs, "mounts")
    check(table is not None, "docs/fleet.md has the mounts table")
    host = {volumes[n]["hostPath"]["path"]: (mounts[n]["mountPath"], mounts[n].get("readOnly") is True)
            for n in volumes if "hostPath" in volumes[n] and n in mounts}
    documented = {r[0]: (r[1], r[2] == "yes") for r in table or []}
    check(host == documented, f"host mounts {sorted(host)} are the ones docs/fleet.md lists, with the same paths and read-only flags")
    writable = {h for h, (_, ro) in host.items() if not ro}
    check(writable <= {"/sys/fs/bpf/flowtrace"} and all(m.get("readOnly") or volumes[n].get("hostPath", {}).get("path") in writable
                                                          for n, m in mounts.items()),
          "every mount is read-only but /sys/fs/bpf/flowtrace")

    # Capabilities: drop ALL, add exactly the documented ones, never privileged.
    sc = c.get("securityContext", {})
    caps = sc.get("capabilities", {})
    doc_caps = {r[0] for r in md_table(docs, "capabilities") or []}
    check(caps.get("drop") == ["ALL"], "capabilities: drop ALL")
    check(set(caps.get("add", [])) == doc_caps and doc_caps, f"capabilities added {caps.get('add')} are the ones docs/fleet.md explains")
    check(sc.get("privileged") is False and sc.get("allowPrivilegeEscalation") is False, "not privileged, no privilege escalation")
    check(sc.get("readOnlyRootFilesystem") is True, "read-only root filesystem")

    # The image: multi-stage, the final stage minimal.
    dockerfile = (repo / "deploy/Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", dockerfile, re.M)
    check(len(stages) >= 2 and stages[-1] == "scratch", f"Dockerfile is multi-stage and ends on scratch: {stages}")
    check("COPY --from=build" in dockerfile and "--target x86_64-unknown-linux-musl" in dockerfile,
          "Dockerfile copies a static (musl) binary from the build stage")


main()
if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
