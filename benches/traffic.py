"""Fixed amounts of loopback TCP traffic for the per-event benchmark.

Everything here talks to 127.0.0.1 only and every loop is bounded: a fixed
number of connections, a fixed number of bytes, socket timeouts on every
blocking call. The retransmit traffic needs an nftables rule that drops a
random fifth of the packets to one port; `drop_rule` adds it and always
deletes its table again.
"""

import contextlib
import socket
import subprocess
import threading

HOST = "127.0.0.1"
TIMEOUT_S = 5.0
NFT_TABLE = "flowtrace_bench"


class Server:
    """A listener that accepts, reads until EOF and closes, on its own thread."""

    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, port))
        self.sock.listen(512)
        # Short, so that close() does not wait long for the accept loop.
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        workers = []
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            worker = threading.Thread(target=self._drain, args=(conn,), daemon=True)
            worker.start()
            workers.append(worker)
        for worker in workers:
            worker.join(TIMEOUT_S)

    def _drain(self, conn):
        conn.settimeout(TIMEOUT_S * 4)
        with conn:
            try:
                while True:
                    data = conn.recv(65536)
                    if not data:
                        break
                    self.received += len(data)
            except OSError:
                pass

    def close(self):
        self._stop = True
        self._thread.join(TIMEOUT_S * 2)
        self.sock.close()


def connections(count, payload=b"x" * 100):
    """`count` short connections, one after another: connect, send, close.
    Each one makes about ten sock:inet_sock_set_state events (both ends)."""
    server = Server()
    made = 0
    try:
        for _ in range(count):
            with socket.create_connection((HOST, server.port), timeout=TIMEOUT_S) as client:
                client.sendall(payload)
            made += 1
    finally:
        server.close()
    return made


def bulk_with_drops(streams, bytes_per_stream):
    """`streams` parallel connections that each send `bytes_per_stream` bytes
    through a rule dropping a random fifth of the packets, so the kernel
    retransmits (tcp:tcp_retransmit_skb fires)."""
    server = Server()
    errors = []
    try:
        with drop_rule(server.port):
            threads = [
                threading.Thread(target=_send_bulk, args=(server.port, bytes_per_stream, errors))
                for _ in range(streams)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(TIMEOUT_S * 12)
    finally:
        server.close()
    return streams - len(errors)


def _send_bulk(port, total, errors):
    chunk = b"r" * 16384
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
            # Loopback's 64 KiB MTU would put 1 MiB in ~16 segments; a small
            # MSS makes enough packets for the drops to cause hundreds of
            # retransmits per round.
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 1000)
            client.settimeout(TIMEOUT_S * 4)
            client.connect((HOST, port))
            sent = 0
            while sent < total:
                client.sendall(chunk)
                sent += len(chunk)
    except OSError as err:
        errors.append(err)


@contextlib.contextmanager
def drop_rule(port):
    """Drop one packet in five to `port` on input (loopback only), for the
    duration of the block."""
    rules = [
        ["nft", "add", "table", "inet", NFT_TABLE],
        ["nft", "add", "chain", "inet", NFT_TABLE, "in",
         "{ type filter hook input priority 0; }"],
        ["nft", "add", "rule", "inet", NFT_TABLE, "in", "iif", "lo",
         "tcp", "dport", str(port), "numgen", "random", "mod", "5", "==", "0", "drop"],
    ]
    try:
        for rule in rules:
            subprocess.run(rule, check=True, capture_output=True, timeout=10)
        yield
    finally:
        subprocess.run(["nft", "delete", "table", "inet", NFT_TABLE],
                       capture_output=True, timeout=10)
