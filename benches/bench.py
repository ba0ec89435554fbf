"""flowtrace vs bpftrace: the figures printed by `bash scripts/bench`.

Sections (docs/benchmarks.md explains each):
  1. front end: parse + check (BTF loading included) of the seed scripts
  2. start -> probes attached -> exit, wall time
  3. peak RSS of the same runs
  4. per-event cost of the generated programs (kernel bpf stats)
  5. binary sizes
Every figure is printed, never asserted: this is a measurement, not a test.
Run as root; traffic stays on 127.0.0.1.
"""

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import bpfstats
import detach
import traffic

ROOT = Path(__file__).resolve().parent.parent
FLOWTRACE = ROOT / "target" / "release" / "flowtrace"
SEEDS = ["seed_flows.ft", "seed_ratio.ft", "seed_retransmits.ft"]
RETRANSMITS = ("tracepoint:tcp:tcp_retransmit_skb { $sk = (struct sock *)args->skaddr; "
               "@retransmits[ntop(2, $sk->__sk_common.skc_daddr)] = count(); }")
START_EXIT = RETRANSMITS + " BEGIN { exit(); }"
STATES = "tracepoint:sock:inet_sock_set_state { @[args->oldstate, args->newstate] = count(); }"
STATES_NTOP = ("tracepoint:sock:inet_sock_set_state { $sk = (struct sock *)args->skaddr; "
               "@[ntop(2, $sk->__sk_common.skc_daddr)] = count(); }")
RETRANSMIT_TP_ID = Path("/sys/kernel/tracing/events/tcp/tcp_retransmit_skb/id")


def tools(script):
    return {"flowtrace": [str(FLOWTRACE), "-e", script], "bpftrace": ["bpftrace", "-e", script]}


def median(values):
    return statistics.median(values) if values else float("nan")


def fmt(value, digits=2):
    return "n/a" if value != value else f"{value:.{digits}f}"


# ---- 1. front end ----------------------------------------------------------

def frontend(tsv_path, runs):
    """In-process figures from lang/benches/frontend.rs, plus the whole
    `flowtrace --dry-run` process (exec, BTF, parse, check, exit)."""
    print("\n== 1. front end: parse + check, BTF loading included (budget < 10 ms)")
    in_process = {}
    if tsv_path and Path(tsv_path).exists():
        for line in Path(tsv_path).read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 6 and parts[0] == "frontend":
                in_process[parts[1]] = [float(p) for p in parts[2:]]
    rows = {}
    for seed in SEEDS:
        path = ROOT / "tests" / "corpus" / "valid" / seed
        walls, err = [], None
        for _ in range(runs + 2):
            wall, _, rc, stderr = run_measured([str(FLOWTRACE), "--dry-run", str(path)])
            if rc != 0:
                err = stderr.strip()
                break
            walls.append(wall)
        total = in_process.get(seed, [float("nan")] * 4)
        rows[seed] = (total[0], median(walls[2:]), err)
        print(f"  {seed:<22} in-process {fmt(total[0], 3)} ms "
              f"(btf {fmt(total[1], 3)}, parse {fmt(total[2], 3)}, check {fmt(total[3], 3)}); "
              f"`--dry-run` process {fmt(median(walls[2:]), 2)} ms (min {fmt(min(walls[2:], default=float('nan')), 2)})"
              + (f"  ERROR: {err}" if err else ""))
    return rows


# ---- 2 + 3. start -> attached -> exit, peak RSS -------------------------------

def run_measured(argv, timeout=60):
    """Wall time (ms) and peak RSS (KiB) of one run.

    The peak RSS comes from GNU time (`%M`, the child's ru_maxrss), not from
    our own wait4: Linux carries the high-water mark of the address space a
    process had before exec into ru_maxrss, and a child forked from this
    Python process starts with Python's ~16 MiB. GNU time's own image is
    ~2 MiB, below both tools' figures."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(mode="r", suffix=".rss") as rss:
        start = time.perf_counter()
        proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", rss.name] + argv,
                                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        # Popen.wait(timeout) polls with sleeps of up to 50 ms, which would
        # land in the figure; a blocking wait stops the clock when the child
        # is reaped, and the timer only fires for a hung run.
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        proc.wait()
        killer.cancel()
        wall = (time.perf_counter() - start) * 1000
        err.seek(0)
        out.seek(0)
        text = out.read().decode(errors="replace") + err.read().decode(errors="replace")
        # GNU time writes "Command exited with non-zero status N" before %M.
        lines = rss.read().split()
        peak_kib = int(lines[-1]) if lines and lines[-1].isdigit() else 0
        return wall, peak_kib, proc.returncode, text


def startup(runs, warmup=2):
    print(f"\n== 2+3. start -> tracepoint attached -> exit, and peak RSS ({runs} runs each, "
          f"{warmup} warm-up, alternating tools)\n  script: {START_EXIT}")
    results = {name: {"wall": [], "rss": [], "error": None} for name in tools(START_EXIT)}
    for i in range(warmup + runs):
        order = list(tools(START_EXIT).items())
        if i % 2:
            order.reverse()
        for name, argv in order:
            if results[name]["error"]:
                continue
            wall, rss, rc, text = run_measured(argv)
            if rc != 0 or "Attaching" not in text:
                results[name]["error"] = f"exit {rc}: {text.strip()[:400]}"
            elif i >= warmup:
                results[name]["wall"].append(wall)
                results[name]["rss"].append(rss)
    for name, r in results.items():
        if r["error"]:
            print(f"  {name:<10} ERROR {r['error']}")
        else:
            print(f"  {name:<10} wall median {fmt(median(r['wall']), 1)} ms "
                  f"(min {fmt(min(r['wall']), 1)}, max {fmt(max(r['wall']), 1)}); "
                  f"peak RSS median {median(r['rss']) / 1024:.1f} MiB")
    for name, argv in tools(START_EXIT).items():
        verdict, detach_ms = verify_attach(argv)
        print(f"  attach check ({name}, one extra run under strace): {verdict}; "
              f"slowest close() {fmt(detach_ms, 1)} ms (detach: see docs/benchmarks.md)")
    try:
        perf_ms, raw_ms = detach.measure()
        results["detach"] = (perf_ms, raw_ms)
        print(f"  kernel alone, closing a 2-insn program's attachment to the same tracepoint: "
              f"perf-event tracepoint {perf_ms:.1f} ms, raw tracepoint {raw_ms:.2f} ms")
    except OSError as err:
        print(f"  kernel detach cost not measured: {err}")
    return results


def verify_attach(argv):
    """Runs `argv` once under strace and says whether it opened a perf event
    on tcp:tcp_retransmit_skb and attached a program to it (ioctl SET_BPF or
    BPF_LINK_CREATE on that fd) before exiting. Also returns the slowest
    close() in ms: the kernel's detach, which both tools pay before exiting."""
    if not shutil.which("strace"):
        return "not checked (strace missing)", float("nan")
    tp_id = RETRANSMIT_TP_ID.read_text().strip()
    with tempfile.NamedTemporaryFile(mode="r", suffix=".strace") as log:
        subprocess.run(["strace", "-f", "-T", "-o", log.name, "-e", "trace=perf_event_open,bpf,ioctl,close"] + argv,
                       capture_output=True, timeout=60)
        trace = log.read()
    closes = [float(t) * 1000 for t in re.findall(r"close\(\d+\)\s+= 0 <([\d.]+)>", trace)]
    detach_ms = max(closes, default=float("nan"))
    fds = re.findall(rf"perf_event_open\(\{{type=PERF_TYPE_TRACEPOINT[^}}]*config={tp_id},.*= (\d+) <[\d.]+>$",
                     trace, re.M)
    for fd in fds:
        if re.search(rf"ioctl\({fd}, PERF_EVENT_IOC_SET_BPF, \d+\) = 0 ", trace):
            return f"yes: perf_event_open(tracepoint id {tp_id}) = {fd}, ioctl SET_BPF", detach_ms
        if re.search(rf"BPF_LINK_CREATE, \{{link_create=\{{prog_fd=\d+, target_fd={fd},.*= \d+ <[\d.]+>$", trace, re.M):
            return f"yes: perf_event_open(tracepoint id {tp_id}) = {fd}, BPF_LINK_CREATE", detach_ms
    return f"NO attach of tracepoint id {tp_id} seen ({len(fds)} perf events opened)", detach_ms


# ---- 4. per-event cost ---------------------------------------------------------

def per_event(rounds, conns):
    cases = [
        ("inet_sock_set_state, (oldstate,newstate) key", STATES, lambda: traffic.connections(conns)),
        ("inet_sock_set_state, cast + ntop key", STATES_NTOP, lambda: traffic.connections(conns)),
        ("tcp_retransmit_skb (seed), 1/5 drops", RETRANSMITS, lambda: traffic.bulk_with_drops(16, 1 << 20)),
    ]
    print(f"\n== 4. per-event cost: both tools attached at once, same traffic, "
          f"kernel.bpf_stats_enabled=1, {rounds} rounds, median")
    results = []
    with bpfstats.StatsEnabled():
        for label, script, drive in cases:
            per_round = [one_round(script, drive, "flowtrace" if i % 2 == 0 else "bpftrace")
                         for i in range(rounds)]
            good = [r for r in per_round if "error" not in r]
            for r in per_round:
                if "error" in r:
                    print(f"  {label}: round ERROR {r['error']}")
            ft = median([r["flowtrace"] for r in good])
            bt = median([r["bpftrace"] for r in good])
            ratio = median([r["flowtrace"] / r["bpftrace"] for r in good])
            events = median([r["events"] for r in good])
            by_order = "; ".join(
                f"{first} attached first: {fmt(median([r['flowtrace'] / r['bpftrace'] for r in good if r['first'] == first]))}x"
                for first in ("flowtrace", "bpftrace"))
            print(f"  {label:<46} flowtrace {fmt(ft, 1)} ns/event, bpftrace {fmt(bt, 1)} ns/event, "
                  f"ratio {fmt(ratio)}x  (median {events:.0f} events/round; {by_order})")
            results.append((label, ft, bt, ratio, events))
    return results


def one_round(script, drive, first):
    """One round: `first` attaches first, then the other tool. The kernel runs
    the programs of one tracepoint in attach order, and the first one pays
    the cache misses on the traced objects (the `sk` that both read), so
    rounds alternate the order."""
    procs, logs = {}, {}
    argvs = tools(script)
    order = [first] + [name for name in argvs if name != first]
    try:
        for name in order:
            logs[name] = tempfile.TemporaryFile()
            procs[name] = subprocess.Popen(argvs[name], stdout=logs[name], stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL)
            if not wait_loaded(procs, timeout=30):
                return {"error": "a tool did not load its program: " + tool_output(procs, logs)}
            time.sleep(1.0)  # loading precedes attaching by milliseconds; leave ample room
        before = {name: bpfstats.tracepoint_stats(p.pid) for name, p in procs.items()}
        drive()
        time.sleep(0.2)
        after = {name: bpfstats.tracepoint_stats(p.pid) for name, p in procs.items()}
    finally:
        stop(procs)
    result = {"first": first}
    counts = {}
    for name in procs:
        dt, dn = after[name][0] - before[name][0], after[name][1] - before[name][1]
        counts[name] = dn
        if dn <= 0:
            return {"error": f"{name} counted no events: " + tool_output(procs, logs)}
        result[name] = dt / dn
    if counts["flowtrace"] != counts["bpftrace"]:
        print(f"    note: event counts differ: {counts}")
    result["events"] = counts["flowtrace"]
    for log in logs.values():
        log.close()
    return result


def wait_loaded(procs, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs.values()):
            return False
        if all(bpfstats.tracepoint_stats(p.pid)[2] for p in procs.values()):
            return True
        time.sleep(0.1)
    return False


def stop(procs):
    for p in procs.values():
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs.values():
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def tool_output(procs, logs):
    parts = []
    for name, log in logs.items():
        log.seek(0)
        parts.append(f"[{name} exit {procs[name].poll()}] {log.read().decode(errors='replace').strip()[:400]}")
    return " ".join(parts)


# ---- 5. sizes ------------------------------------------------------------------

def sizes():
    print("\n== 5. sizes on disk")
    ft = FLOWTRACE.stat().st_size
    described = subprocess.run(["file", "-L", str(FLOWTRACE)], capture_output=True,
                               text=True).stdout if shutil.which("file") else ""
    if "not stripped" in described:
        with tempfile.TemporaryDirectory() as d:
            copy = Path(d) / "flowtrace"
            shutil.copy(FLOWTRACE, copy)
            subprocess.run(["strip", str(copy)], check=True)
            ft = copy.stat().st_size
    bpftrace = Path(os.path.realpath(shutil.which("bpftrace")))
    libs = {}
    ldd = subprocess.run(["ldd", str(bpftrace)], capture_output=True, text=True).stdout
    for match in re.finditer(r"(/\S+) \(0x", ldd):
        real = os.path.realpath(match.group(1))
        libs[real] = os.path.getsize(real)
    llvm = sum(size for path, size in libs.items() if re.search(r"lib(LLVM|clang)", path))
    total = bpftrace.stat().st_size + sum(libs.values())
    mib = 1 << 20
    print(f"  flowtrace (stripped; Rust crates linked in, only libc and libgcc_s shared): {ft / mib:.1f} MiB")
    print(f"  bpftrace binary {bpftrace.stat().st_size / mib:.1f} MiB + {len(libs)} shared libraries "
          f"{sum(libs.values()) / mib:.1f} MiB (of which LLVM/clang {llvm / mib:.1f} MiB) "
          f"= {total / mib:.1f} MiB")
    return ft, total, llvm


# ---- summary -------------------------------------------------------------------

def summary(front, start, events, size):
    print("\n== summary (medians; goals in brackets)")
    print("| figure | flowtrace | bpftrace | ratio |")
    print("|---|---|---|---|")
    for seed, (in_proc, process, err) in front.items():
        print(f"| front end {seed} (in-process; `--dry-run` process) [< 10 ms] | "
              f"{fmt(in_proc, 2)} ms; {fmt(process, 1)} ms | | |" if not err else
              f"| front end {seed} | error: {err[:80]} | | |")
    ft, bt = (start["flowtrace"], start["bpftrace"]) if start else ({"error": 1}, {"error": 1})
    if not ft["error"] and not bt["error"]:
        fw, bw = median(ft["wall"]), median(bt["wall"])
        fr, br = median(ft["rss"]) / 1024, median(bt["rss"]) / 1024
        print(f"| start -> attached -> exit [ratio <= 0.10] | {fw:.1f} ms | {bw:.1f} ms | {fw / bw:.3f} |")
        print(f"| peak RSS, same runs [ratio <= 0.20] | {fr:.1f} MiB | {br:.1f} MiB | {fr / br:.3f} |")
    if start and "detach" in start:
        perf_ms, raw_ms = start["detach"]
        print(f"| of start->exit: kernel detach of a perf-event tracepoint (raw tracepoint: {raw_ms:.2f} ms) "
              f"| {perf_ms:.1f} ms | {perf_ms:.1f} ms | |")
    for label, f, b, ratio, _ in events:
        print(f"| per event: {label} [ratio <= 1.0] | {fmt(f, 1)} ns | {fmt(b, 1)} ns | {fmt(ratio)} |")
    if not size:
        return
    ft_size, bt_size, llvm = size
    print(f"| size on disk (bpftrace: binary + ldd libraries; LLVM/clang {llvm / (1 << 20):.0f} MiB) | "
          f"{ft_size / (1 << 20):.1f} MiB | {bt_size / (1 << 20):.1f} MiB | {ft_size / bt_size:.3f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed runs per tool for start-up and front end")
    parser.add_argument("--rounds", type=int, default=6,
                        help="rounds of the per-event benchmark (even: each tool attaches first in half)")
    parser.add_argument("--sections", default="12345", help="which sections to run, e.g. 4 or 235")
    parser.add_argument("--conns", type=int, default=2000, help="loopback connections per round")
    parser.add_argument("--frontend-tsv", help="output of `cargo bench -p flowtrace-lang --bench frontend -- --tsv`")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench.py: needs root (loads BPF programs, adds an nftables rule)")
    load = os.getloadavg()[0]
    print(f"flowtrace benchmarks, {time.strftime('%Y-%m-%d %H:%M %Z')}, kernel {os.uname().release}, "
          f"{os.cpu_count()} CPUs, load average {load:.2f}")
    if load > 0.5:
        print("note: the machine is busy (load average > 0.5); wall-clock figures will be noisy")
    front = frontend(args.frontend_tsv, args.runs) if "1" in args.sections else {}
    start = startup(args.runs) if "2" in args.sections or "3" in args.sections else None
    events = per_event(args.rounds, args.conns) if "4" in args.sections else []
    size = sizes() if "5" in args.sections else None
    summary(front, start, events, size)


if __name__ == "__main__":
    main()
