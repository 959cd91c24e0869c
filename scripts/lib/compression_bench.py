"""CPU cost and memory saving of value compression (see scripts/bench-compression).

For each value size, a single-threaded swiftlet-server is started twice, with
value-compression off and on; a pipelined load of SETs and then GETs of JSON-like values
(realistic records with varying numbers and names, compressing about 3-4x) runs against it,
and the server's user+sys CPU time (from /proc/<pid>/stat) gives ops per CPU-second, which
does not depend on how fast this Python client is. used_memory per key comes from INFO.
"""
import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
from bench import Server, cpu_seconds  # noqa: E402


def json_value(size, rng):
    records = []
    length = 0
    while length < size:
        n = rng.randrange(100000)
        record = ('{"id":%d,"name":"user_%d","email":"user_%d@example.com","score":%.4f,'
                  '"active":%s,"tags":["cache","swift","%s"]}' %
                  (n, n, rng.randrange(100000), rng.random(), rng.choice(["true", "false"]),
                   rng.choice(["red", "green", "blue", "violet"])))
        records.append(record)
        length += len(record) + 1
    return ("[" + ",".join(records) + "]").encode()[:size]


def command(*args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


class Connection:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def exchange(self, payload, expected_bytes):
        """Sends a pipeline and drains `expected_bytes` of replies (their exact total size)."""
        self.sock.sendall(payload)
        remaining = expected_bytes
        while remaining > 0:
            chunk = self.sock.recv(min(remaining, 1 << 20))
            if not chunk:
                raise SystemExit("server closed the connection")
            remaining -= len(chunk)


def run(binary, size, compression, threshold, keys, rounds, pipeline, workdir):
    server = Server("swiftlet", [binary, "--server-threads", "1", "--value-compression", compression,
                                 "--value-compression-threshold", str(threshold)], workdir)
    try:
        rng = random.Random(size)
        values = [json_value(size, rng) for _ in range(16)]
        conn = Connection(server.port)
        before_memory = int(info(server, "used_memory"))
        # SET: every round rewrites all keys (so the last round leaves `keys` keys stored).
        cpu = cpu_seconds(server.proc.pid)
        for round_ in range(rounds):
            for start in range(0, keys, pipeline):
                batch = range(start, min(start + pipeline, keys))
                payload = b"".join(command(b"SET", b"key:%d" % i, values[(i + round_) % 16]) for i in batch)
                conn.exchange(payload, 5 * len(batch))
        set_cpu = cpu_seconds(server.proc.pid) - cpu
        set_ops = rounds * keys
        memory_per_key = (int(info(server, "used_memory")) - before_memory) / keys
        compressed = int(info(server, "compressed_values"))
        # GET: the values of the last round.
        cpu = cpu_seconds(server.proc.pid)
        for _ in range(rounds):
            for start in range(0, keys, pipeline):
                batch = range(start, min(start + pipeline, keys))
                payload = b"".join(command(b"GET", b"key:%d" % i) for i in batch)
                expected = sum(len(b"$%d\r\n" % size) + size + 2 for _ in batch)
                conn.exchange(payload, expected)
        get_cpu = cpu_seconds(server.proc.pid) - cpu
        get_ops = rounds * keys
        return {"set": set_ops / set_cpu if set_cpu > 0 else float("inf"),
                "get": get_ops / get_cpu if get_cpu > 0 else float("inf"),
                "memory": memory_per_key, "compressed": compressed}
    finally:
        server.stop()


def info(server, field):
    for line in server.cli("INFO", "memory").splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    raise SystemExit(f"INFO memory has no {field}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--swiftlet", required=True)
    parser.add_argument("--sizes", default="4096,65536")
    parser.add_argument("--threshold", type=int, default=1024)
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pipeline", type=int, default=16)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp()
    print(f"{'value':>8} {'compression':>11} {'SET ops/CPU-s':>14} {'GET ops/CPU-s':>14} {'used_memory/key':>16} {'compressed':>10}")
    for size in (int(s) for s in args.sizes.split(",")):
        keys = args.keys if size <= 8192 else max(200, args.keys // 16)
        for compression in ("no", "yes"):
            r = run(args.swiftlet, size, compression, args.threshold, keys, args.rounds, args.pipeline, workdir)
            print(f"{size:>8} {compression:>11} {r['set']:>14.0f} {r['get']:>14.0f} {r['memory']:>16.0f} {r['compressed']:>10}")


if __name__ == "__main__":
    main()
