"""Printing big maps (section 12 of `bash scripts/bench`).

A helper process makes exactly N getpgrp(2) calls; the script keys a map by
`nsecs` on them, so the map holds N keys. Figure: SIGINT -> exit with the
map printed to a file (detach included: one tracepoint, which flowtrace
releases in the background and bpftrace waits ~70 ms for). Interleaved
rounds, medians:
- a 100 000-key hash map, flowtrace vs bpftrace (goal <= 0.5x);
- a 1 000 000-key `lruhash`, flowtrace alone (goal < 1 s; bpftrace 0.17 has
  no map declarations), and `print(@m, 10)` of it in END with
  `print_maps_on_exit = false` (every value is 1, so every key ties for the
  top 10: the worst case for picking them). With `--bpftrace-1m`, bpftrace
  printing a 1 000 000-key hash map (the nearest it can do) for reference
  (it had not finished 300 s after SIGINT on the development host; given 60 s).
Prints figures, never fails because one missed its goal. Run as root.
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

ROOT = Path(__file__).resolve().parent.parent
HELPER = "import os, sys\nsys.stdin.readline()\nfor _ in range(int(sys.argv[1])): os.getpgrp()\nprint('done', flush=True)\nsys.stdin.readline()\n"
PROBE = "tracepoint:syscalls:sys_enter_getpgrp /pid == $1/ { @m[nsecs] = count(); }\n"


def one(argv, n, tmp, env=None, limit=300):
    """(seconds SIGINT -> exit, keys printed) for one run of argv + [helper pid];
    (inf, 0) if it has not exited `limit` seconds after SIGINT (it is killed)."""
    helper = subprocess.Popen([sys.executable, "-c", HELPER, str(n)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    out = Path(tmp) / "out"
    try:
        with open(out, "w") as o:
            proc = subprocess.Popen(argv + [str(helper.pid)], stdout=o, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while "Attaching" not in out.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} did not attach: {out.read_text(errors='replace')[:400]}")
            time.sleep(0.05)
        time.sleep(1.0)  # bpftrace prints "Attaching" before it attaches
        helper.stdin.write("go\n")
        helper.stdin.flush()
        helper.stdout.readline()
        start = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return float("inf"), 0
        took = time.perf_counter() - start
        keys = sum(1 for line in out.read_text(errors="replace").splitlines() if line.startswith("@m["))
        return took, keys
    finally:
        helper.kill()
        helper.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--flowtrace", default=str(ROOT / "target" / "release" / "flowtrace"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bpftrace-1m", action="store_true", help="also time bpftrace printing a 1M-key hash map")
    args = parser.parse_args()
    n, big = 100_000, 1_000_000
    ft, bt, lru, top, bt_big = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        hash_script = Path(tmp) / "hash.ft"
        hash_script.write_text(PROBE)
        lru_script = Path(tmp) / "lru.ft"
        lru_script.write_text(f"let @m = lruhash({big});\n" + PROBE)
        top_script = Path(tmp) / "top.ft"
        top_script.write_text("config = { print_maps_on_exit = false }\n"
                              f"let @m = lruhash({big});\n" + PROBE + "END { print(@m, 10); }\n")
        env = dict(os.environ, BPFTRACE_MAP_KEYS_MAX=str(n + 1000))
        big_env = dict(os.environ, BPFTRACE_MAP_KEYS_MAX=str(big + 1000))
        for _ in range(args.rounds):
            ft.append(one([args.flowtrace, "--map-keys", str(n + 1000), str(hash_script)], n, tmp))
            bt.append(one(["bpftrace", str(hash_script)], n, tmp, env))
            lru.append(one([args.flowtrace, str(lru_script)], big, tmp))
            top.append(one([args.flowtrace, str(top_script)], big, tmp))
            if args.bpftrace_1m:
                # bpftrace 0.17 had not printed a million keys 300 s after SIGINT here.
                bt_big.append(one(["bpftrace", str(hash_script)], big, tmp, big_env, limit=60))
    med = lambda runs: statistics.median(t for t, _ in runs)
    ratio = med(ft) / med(bt)
    print(f"print a {n:,}-key hash map at exit, median of {args.rounds}: flowtrace {med(ft) * 1000:.0f} ms, "
          f"bpftrace {med(bt) * 1000:.0f} ms, ratio {ratio:.2f}x (goal <= 0.5x: {'met' if ratio <= 0.5 else 'NOT met'}); "
          f"keys printed: flowtrace {[k for _, k in ft]}, bpftrace {[k for _, k in bt]}")
    print(f"print a {big:,}-key lruhash at exit, median of {args.rounds}: flowtrace {med(lru) * 1000:.0f} ms "
          f"(goal < 1000 ms: {'met' if med(lru) < 1.0 else 'NOT met'}); keys printed {[k for _, k in lru]}")
    print(f"print(@m, 10) of that {big:,}-key lruhash in END, median of {args.rounds}: flowtrace {med(top) * 1000:.0f} ms "
          f"(ratio to printing every key {med(top) / med(lru):.2f}x); lines printed {[k for _, k in top]}")
    if bt_big:
        print(f"bpftrace printing a {big:,}-key hash map at exit, median of {args.rounds}: {med(bt_big) * 1000:.0f} ms "
              f"(flowtrace's lruhash / this: {med(lru) / med(bt_big):.2f}x); keys printed {[k for _, k in bt_big]}")


if __name__ == "__main__":
    sys.exit(main())
