"""`--metrics` at scale (section 9 of `bash scripts/bench`, docs/benchmarks.md):
scrape time of a 10k- and a 100k-series map, against bpftrace printing the
same map at exit, and flowtrace's RSS while it serves them.

The map is `@m[nsecs] = count()` on getpgrp(2) of one helper process, which
makes exactly N calls: N keys. Both tools run the same script. bpftrace has
no exporter, so its figure is the time from SIGINT to its exit with the map
printed to a file (which includes detaching one tracepoint); flowtrace's
exit is measured the same way for comparison. Prints figures, never fails
because one missed its goal. Run as root; traffic stays on loopback.
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = "tracepoint:syscalls:sys_enter_getpgrp /pid == $1/ { @m[nsecs] = count(); }\n"
HELPER = "import os, sys\nsys.stdin.readline()\nfor _ in range(int(sys.argv[1])): os.getpgrp()\nprint('done', flush=True)\nsys.stdin.readline()\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port, path):
    """(status, body bytes, seconds) of one GET over a fresh connection."""
    start = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        chunks = []
        while True:
            data = s.recv(1 << 20)
            if not data:
                break
            chunks.append(data)
    took = time.perf_counter() - start
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head else 0
    return status, body, took


def rss_kib(pid):
    """(VmRSS, VmHWM) in KiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields.get("VmRSS", 0), fields.get("VmHWM", 0)


def wait_until(what, limit):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if what():
            return True
        time.sleep(0.05)
    return False


def fill(helper):
    helper.stdin.write("go\n")
    helper.stdin.flush()
    helper.stdout.readline()


def exit_print_seconds(proc, out_path):
    """SIGINT → exit, the map printed to `out_path`; (seconds, bytes)."""
    start = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=300)
    return time.perf_counter() - start, Path(out_path).stat().st_size


def flowtrace_round(flowtrace, n, tmp):
    helper = subprocess.Popen([sys.executable, "-c", HELPER, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = free_port()
    script = Path(tmp) / "m.ft"
    script.write_text(SCRIPT)
    out = Path(tmp) / "flowtrace.out"
    args = [str(flowtrace), "--metrics", f"127.0.0.1:{port}", "--metrics-max-series", str(n),
            "--map-keys", str(n + 1000), str(script), str(helper.pid)]
    with open(out, "w") as o:
        proc = subprocess.Popen(args, stdout=o, stderr=subprocess.DEVNULL)
    try:
        if not wait_until(lambda: _healthy(port), 60):
            return None
        rss_idle = rss_kib(proc.pid)[0]
        fill(helper)
        wait_until(lambda: b'map="@m"} ' + str(n).encode() in http_get(port, "/metrics")[1], 30)
        times, size = [], 0
        for _ in range(5):
            status, body, took = http_get(port, "/metrics")
            if status == 200:
                times.append(took)
                size = len(body)
        rss, hwm = rss_kib(proc.pid)
        exit_s, printed = exit_print_seconds(proc, out)
        return {"scrape": statistics.median(times) if times else float("nan"), "bytes": size,
                "rss_idle": rss_idle, "rss": rss, "hwm": hwm, "exit": exit_s, "printed": printed}
    finally:
        if proc.poll() is None:
            proc.kill()
        helper.kill()


def _healthy(port):
    try:
        return http_get(port, "/healthz")[0] == 200
    except OSError:
        return False


def bpftrace_round(n, tmp):
    helper = subprocess.Popen([sys.executable, "-c", HELPER, str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    out = Path(tmp) / "bpftrace.out"
    env = dict(os.environ, BPFTRACE_MAP_KEYS_MAX=str(n + 1000))
    with open(out, "w") as o:
        proc = subprocess.Popen(["bpftrace", "-e", SCRIPT, str(helper.pid)], stdout=o, stderr=subprocess.DEVNULL, env=env)
    try:
        if not wait_until(lambda: "Attaching" in out.read_text(), 60):
            return None
        time.sleep(1.0)  # bpftrace prints "Attaching" before it attaches
        fill(helper)
        exit_s, printed = exit_print_seconds(proc, out)
        keys = sum(1 for line in out.read_text().splitlines() if line.startswith("@m["))
        return {"exit": exit_s, "printed": printed, "keys": keys}
    finally:
        if proc.poll() is None:
            proc.kill()
        helper.kill()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--flowtrace", default=str(ROOT / "target" / "release" / "flowtrace"))
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    print("\n== 9. --metrics: scrape of an N-series map vs bpftrace printing it; RSS while serving")
    for n in [int(s) for s in args.sizes.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            ft = flowtrace_round(args.flowtrace, n, tmp)
            bt = bpftrace_round(n, tmp)
        if ft is None:
            print(f"  {n:>7} series: flowtrace did not come up")
            continue
        print(f"  {n:>7} series: flowtrace scrape {ft['scrape'] * 1000:8.1f} ms ({ft['bytes'] / 1e6:.1f} MB of text), "
              f"RSS serving {ft['rss'] / 1024:.1f} MiB (idle {ft['rss_idle'] / 1024:.1f}, peak {ft['hwm'] / 1024:.1f}); "
              f"exit with the map printed: flowtrace {ft['exit'] * 1000:.0f} ms", end="")
        if bt is None:
            print(", bpftrace did not attach")
        else:
            print(f", bpftrace {bt['exit'] * 1000:.0f} ms ({bt['keys']} keys printed)")


if __name__ == "__main__":
    main()
