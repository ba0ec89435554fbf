"""What the kernel alone charges for detaching a program from a tracepoint.

Both tools' start->exit time includes closing their tracepoint attachment.
For a perf-event tracepoint (what bpftrace 0.17 and flowtrace use) the kernel
waits for an RCU grace period in perf_trace_event_unreg when the last perf
user of any tracepoint goes away; for a raw tracepoint (BPF_RAW_TRACEPOINT_OPEN)
the release is deferred and close() returns at once. This module loads a
two-instruction program (r0 = 0; exit) through raw bpf(2) calls, attaches it
both ways to tcp:tcp_retransmit_skb, and times the close().
"""

import ctypes
import os
import struct
import time

SYS_BPF, SYS_PERF_EVENT_OPEN = 321, 298  # x86_64
BPF_PROG_LOAD, BPF_RAW_TRACEPOINT_OPEN, BPF_LINK_CREATE = 5, 17, 28
PROG_TRACEPOINT, PROG_RAW_TRACEPOINT = 5, 17
BPF_PERF_EVENT = 41
PERF_TYPE_TRACEPOINT, PERF_FLAG_FD_CLOEXEC = 2, 8
ATTR_SIZE = 160  # larger than every bpf_attr member used here

_libc = ctypes.CDLL(None, use_errno=True)
_insns = ctypes.create_string_buffer(struct.pack("<BBhi", 0xb7, 0, 0, 0) + struct.pack("<BBhi", 0x95, 0, 0, 0))
_license = ctypes.create_string_buffer(b"GPL")


def _bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, ATTR_SIZE)
    fd = _libc.syscall(SYS_BPF, cmd, buf, ATTR_SIZE)
    if fd < 0:
        raise OSError(ctypes.get_errno(), f"bpf({cmd})")
    return fd


def _load(prog_type):
    # prog_type, insn_cnt, insns, license; the rest (log, version, flags) zero
    return _bpf(BPF_PROG_LOAD, struct.pack("<IIQQ", prog_type, 2, ctypes.addressof(_insns),
                                           ctypes.addressof(_license)))


def _timed_close(*fds):
    start = time.perf_counter()
    for fd in fds:
        os.close(fd)
    return (time.perf_counter() - start) * 1000


def raw_tracepoint_ms(name):
    prog = _load(PROG_RAW_TRACEPOINT)
    tp_name = ctypes.create_string_buffer(name.encode())
    link = _bpf(BPF_RAW_TRACEPOINT_OPEN, struct.pack("<QI", ctypes.addressof(tp_name), prog))
    return _timed_close(link, prog)


def perf_tracepoint_ms(category, name):
    tp_id = int(open(f"/sys/kernel/tracing/events/{category}/{name}/id").read())
    prog = _load(PROG_TRACEPOINT)
    # perf_event_attr: type, size, config; everything else zero
    attr = ctypes.create_string_buffer(struct.pack("<IIQ", PERF_TYPE_TRACEPOINT, 128, tp_id), 128)
    event = _libc.syscall(SYS_PERF_EVENT_OPEN, attr, -1, 0, -1, PERF_FLAG_FD_CLOEXEC)
    if event < 0:
        os.close(prog)
        raise OSError(ctypes.get_errno(), "perf_event_open")
    link = _bpf(BPF_LINK_CREATE, struct.pack("<IIII", prog, event, BPF_PERF_EVENT, 0))
    os.close(event)
    return _timed_close(link, prog)


def measure(rounds=5):
    """Median close() time in ms: (perf-event tracepoint, raw tracepoint)."""
    perf = sorted(perf_tracepoint_ms("tcp", "tcp_retransmit_skb") for _ in range(rounds))
    raw = sorted(raw_tracepoint_ms("tcp_retransmit_skb") for _ in range(rounds))
    return perf[rounds // 2], raw[rounds // 2]


if __name__ == "__main__":
    perf_ms, raw_ms = measure()
    print(f"detach (close): perf-event tracepoint {perf_ms:.2f} ms, raw tracepoint {raw_ms:.2f} ms")
