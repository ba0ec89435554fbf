"""printf events: kernel ns/event, flowtrace vs bpftrace (section 11 of `bash scripts/bench`).

Both tools run `printf("hit %d\\n", pid)` on sys_enter_getppid, filtered to
this process, attached at the same time. This process then makes 100 000
getppid(2) calls at about 100 000 a second (batches of 1000 every 10 ms).
With kernel.bpf_stats_enabled on (restored after), each tool's tracepoint
programs report run_time_ns / run_cnt: the kernel cost per event, wake-ups
included. Both outputs go to files; the printed lines plus the lost events
each tool reported must make 100 000. Issue 14's goal: <= 0.25x bpftrace with
no lost events. Prints figures, never fails because one missed its goal.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bpfstats  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EVENTS = 100_000


def start(argv, out_path):
    out = open(out_path, "w")
    proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "Attaching" not in Path(out_path).read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{argv[0]} did not attach: {Path(out_path).read_text(errors='replace')[:500]}")
        time.sleep(0.05)
    return proc


def counted(out_path):
    """(printed lines, lost events reported)."""
    hits = lost = 0
    for line in Path(out_path).read_text(errors="replace").splitlines():
        if line.startswith("hit "):
            hits += 1
        elif line.startswith("Lost ") and line.endswith(" events"):
            lost += int(line.split()[1])
    return hits, lost


def round_(flowtrace, tmp, tools=("flowtrace", "bpftrace")):
    script = f'tracepoint:syscalls:sys_enter_getppid /pid == {os.getpid()}/ {{ printf("hit %d\\n", pid); }}'
    argv = {"flowtrace": [flowtrace, "-e", script], "bpftrace": ["bpftrace", "-e", script]}
    outs = {tool: str(Path(tmp) / f"{tool}.out") for tool in tools}
    procs = {tool: start(argv[tool], outs[tool]) for tool in tools}
    time.sleep(1.0)  # bpftrace prints "Attaching" before it attaches
    begin = {tool: bpfstats.tracepoint_stats(p.pid) for tool, p in procs.items()}
    t0 = time.monotonic()
    for batch in range(EVENTS // 1000):
        for _ in range(1000):
            os.getppid()
        delay = t0 + 0.01 * (batch + 1) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    rate = EVENTS / (time.monotonic() - t0)
    end = {tool: bpfstats.tracepoint_stats(p.pid) for tool, p in procs.items()}
    time.sleep(0.3)
    for p in procs.values():
        p.send_signal(signal.SIGINT)
    for p in procs.values():
        p.wait(timeout=60)
    figures = {}
    for tool in procs:
        ns = end[tool][0] - begin[tool][0]
        runs = end[tool][1] - begin[tool][1]
        figures[tool] = (ns / runs if runs else float("nan"), runs, *counted(outs[tool]))
    return rate, figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--flowtrace", default=str(ROOT / "target" / "release" / "flowtrace"))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    per_tool = {"flowtrace": [], "bpftrace": []}
    with bpfstats.StatsEnabled(), tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            rate, figures = round_(args.flowtrace, tmp)
            for tool, fig in figures.items():
                per_tool[tool].append(fig)
            print(f"  round at {rate:,.0f} events/s: " + "; ".join(
                f"{tool} {ns:.0f} ns/event over {runs} runs, {hits} lines, {lost} lost"
                for tool, (ns, runs, hits, lost) in figures.items()))
        # bpftrace's ~10 us per event slows the calls below 100k/s when both
        # are attached: the lost-events check at full rate runs flowtrace alone.
        solo_rate, solo = round_(args.flowtrace, tmp, ("flowtrace",))
    ns, runs, hits, lost = solo["flowtrace"]
    print(f"  flowtrace alone at {solo_rate:,.0f} events/s: {ns:.0f} ns/event, {hits} lines, {lost} lost")
    per_tool["flowtrace"].append((float("nan"), runs, hits, lost))
    med = {tool: statistics.median(f[0] for f in figs[:args.rounds]) for tool, figs in per_tool.items()}
    ratio = med["flowtrace"] / med["bpftrace"]
    complete = all(hits + lost == EVENTS for hits, lost in ((f[2], f[3]) for f in per_tool["flowtrace"]))
    no_loss = all(f[3] == 0 for f in per_tool["flowtrace"])
    print(f"printf kernel ns/event, median of {args.rounds}: flowtrace {med['flowtrace']:.0f}, "
          f"bpftrace {med['bpftrace']:.0f}, ratio {ratio:.2f}x (goal <= 0.25x with no lost events: "
          f"{'met' if ratio <= 0.25 and no_loss else 'NOT met'}); flowtrace lines + lost == {EVENTS} "
          f"in every round: {complete}")


if __name__ == "__main__":
    sys.exit(main())
