"""Which BPF programs a process owns, and their kernel run statistics.

A program belongs to a tool if the tool's process holds a file descriptor for
it: a program fd, or a BPF link fd whose fdinfo names the program. This is
exact even when other tracers (or other test runs) have programs with similar
names loaded at the same time. The statistics themselves come from
`bpftool prog show id N -j` (run_time_ns, run_cnt), which the kernel keeps
only while kernel.bpf_stats_enabled is 1.
"""

import json
import os
import subprocess

BPF_PROG_TYPE_TRACEPOINT = 5
STATS_SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"


def _fdinfo(pid, fd):
    fields = {}
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def owned_prog_ids(pid):
    """Ids of the BPF programs `pid` holds through a program or link fd."""
    ids = set()
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return ids
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target in ("anon_inode:bpf-prog", "anon_inode:bpf_link"):
            prog_id = _fdinfo(pid, fd).get("prog_id")
            if prog_id:
                ids.add(int(prog_id))
    return ids


def prog_info(prog_id):
    out = subprocess.run(["bpftool", "prog", "show", "id", str(prog_id), "-j"],
                         capture_output=True, text=True, timeout=10)
    if out.returncode != 0:
        return None
    return json.loads(out.stdout)


def tracepoint_stats(pid):
    """Summed (run_time_ns, run_cnt, [names]) over `pid`'s tracepoint programs."""
    time_ns = count = 0
    names = []
    for prog_id in sorted(owned_prog_ids(pid)):
        info = prog_info(prog_id)
        if not info or info.get("type") != "tracepoint":
            continue
        time_ns += info.get("run_time_ns", 0)
        count += info.get("run_cnt", 0)
        names.append(info.get("name", "?"))
    return time_ns, count, names


class StatsEnabled:
    """Turns kernel.bpf_stats_enabled on and restores the old value on exit."""

    def __enter__(self):
        with open(STATS_SYSCTL) as f:
            self.old = f.read().strip()
        with open(STATS_SYSCTL, "w") as f:
            f.write("1")
        return self

    def __exit__(self, *exc):
        with open(STATS_SYSCTL, "w") as f:
            f.write(self.old)
        return False
