"""Side-by-side benchmark of swiftlet-server and redis-server (see scripts/bench).

Each server runs on a free loopback port; CPU time is read from /proc/<pid>/stat
(utime + stime) before and after every redis-benchmark run, so the figure that matters,
ops per server CPU-second, does not depend on how busy the shared machine is.
"""
import argparse
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class Server:
    def __init__(self, name, argv, workdir):
        self.name = name
        self.port = free_port()
        self.proc = subprocess.Popen(
            argv + ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                    "--dir", workdir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.cli("PING") == "PONG":
                return
            time.sleep(0.05)
        raise SystemExit(f"{name} did not start")

    def cli(self, *args):
        result = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True, text=True)
        return result.stdout.strip()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def run_benchmark(server, test, pipeline, requests):
    before = cpu_seconds(server.proc.pid)
    out = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-t", test, "-n", str(requests),
         "-c", "50", "-P", str(pipeline), "-r", "100000", "--csv"],
        capture_output=True, text=True, check=True).stdout
    cpu = cpu_seconds(server.proc.pid) - before
    row = next(r for r in csv.DictReader(io.StringIO(out)) if r["test"].startswith(test.upper()))
    return {"rps": float(row["rps"]), "p50": float(row["p50_latency_ms"]), "p99": float(row["p99_latency_ms"]),
            "cpu": cpu, "per_cpu": requests / cpu if cpu > 0 else float("inf")}


def memory_per_key(server):
    """RSS growth per key of a freshly started server loaded with ~1M keys."""
    before = rss_bytes(server.proc.pid)
    subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-t", "set", "-r", "1000000",
                    "-n", "3000000", "-d", "3", "-P", "16", "-c", "50", "-q"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    keys = int(server.cli("DBSIZE"))
    return keys, (rss_bytes(server.proc.pid) - before) / keys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--swiftlet", required=True)
    parser.add_argument("--quick", action="store_true", help="small request counts, for a smoke run")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="swiftlet server-threads")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs per test and server, alternating servers; the median counts")
    args = parser.parse_args()
    redis_binary = shutil.which("redis-server")
    if not redis_binary:
        raise SystemExit("redis-server is not installed")
    workdir = tempfile.mkdtemp(prefix="swiftlet-bench-")
    servers = [Server("swiftlet", [args.swiftlet, "--server-threads", str(args.threads)], workdir),
               Server("redis", [redis_binary], workdir)]
    try:
        print(f"median of {args.rounds} alternating runs; swiftlet-server (server-threads {args.threads}) vs redis-server {servers[1].cli('INFO', 'server').split('redis_version:')[1].split()[0]}, "
              f"redis-benchmark -c 50 -r 100000, loopback, {os.cpu_count()} cores\n")
        header = f"{'test':<6} {'-P':>3}  {'server':<9} {'ops/s':>11} {'p50 ms':>7} {'p99 ms':>7} {'cpu s':>6} {'ops/cpu-s':>11}"
        print(header)
        print("-" * len(header))
        ratios = []
        for test in ["set", "get", "incr", "mset"]:
            for pipeline in [1, 16]:
                requests = (20000 if pipeline == 1 else 200000) if args.quick else (200000 if pipeline == 1 else 2000000)
                runs = {server.name: [] for server in servers}
                for _ in range(args.rounds):
                    for server in servers:
                        runs[server.name].append(run_benchmark(server, test, pipeline, requests))
                results = {}
                for server in servers:
                    # The run with the median ops per CPU-second represents the server.
                    ordered = sorted(runs[server.name], key=lambda r: r["per_cpu"])
                    r = results[server.name] = ordered[len(ordered) // 2]
                    print(f"{test.upper():<6} {pipeline:>3}  {server.name:<9} {r['rps']:>11,.0f} {r['p50']:>7.3f} {r['p99']:>7.3f} "
                          f"{r['cpu']:>6.2f} {r['per_cpu']:>11,.0f}")
                ratio = results["swiftlet"]["per_cpu"] / results["redis"]["per_cpu"]
                p99 = results["swiftlet"]["p99"] / results["redis"]["p99"] if results["redis"]["p99"] else 0
                ratios.append((test, pipeline, ratio, p99))
                print(f"{'':<6} {'':>3}  ratio     ops/cpu-s x{ratio:.2f}   p99 x{p99:.2f}\n")
        print("Summary (swiftlet / redis): ops per server CPU-second, p99 latency")
        for test, pipeline, ratio, p99 in ratios:
            print(f"  {test.upper():<5} -P {pipeline:<3} ops/cpu-s x{ratio:.2f}   p99 x{p99:.2f}")
        if not args.skip_memory:
            print("\nMemory: redis-benchmark -t set -r 1000000 -n 3000000 -d 3 -P 16 (16-byte keys, 3-byte values)")
            for server in servers:
                server.stop()
            fresh = [Server("swiftlet", [args.swiftlet, "--server-threads", str(args.threads)], workdir),
                     Server("redis", [redis_binary], workdir)]
            servers += fresh
            for server in fresh:
                keys, per_key = memory_per_key(server)
                print(f"  {server.name:<9} {keys:>8,} keys  {per_key:6.1f} bytes of RSS per key")
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
