"""BGSAVE under write load for Swiftlet and redis-server (see scripts/bench-snapshot)."""
import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True, text=True).stdout.strip()


def info_field(port, section, field):
    text = cli(port, "info", section)
    return text.split(field + ":")[1].split()[0]


def pss(pid):
    """PSS of the server and its children (Redis's saving child)."""
    pids = [pid]
    try:
        pids += [int(child) for child in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        pass
    total = 0
    for process in pids:
        try:
            for line in open(f"/proc/{process}/smaps_rollup"):
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def cpu_seconds(pid):
    """User + system time of the server and its reaped children."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def measure(name, binary, keys):
    directory = tempfile.mkdtemp(prefix=f"snapshot-bench-{name}-")
    port = free_port()
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory,
                               "--enable-debug-command", "yes"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 15
        while cli(port, "ping") != "PONG" and time.time() < deadline:
            time.sleep(0.05)
        cli(port, "debug", "populate", str(keys), "key", "32")
        before = pss(server.pid)
        load = subprocess.Popen(["redis-benchmark", "-p", str(port), "-t", "set", "-r", str(keys), "-n", "1000000000",
                                 "-P", "16", "-c", "50", "-d", "32", "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        cpu_start = cpu_seconds(server.pid)
        commands_start = int(info_field(port, "stats", "total_commands_processed"))
        started = time.time()
        cli(port, "bgsave")
        peak = before
        while True:
            peak = max(peak, pss(server.pid))
            if info_field(port, "persistence", "rdb_bgsave_in_progress") == "0":
                break
            time.sleep(0.02)
        elapsed = time.time() - started
        commands = int(info_field(port, "stats", "total_commands_processed")) - commands_start
        time.sleep(0.3)  # let Redis reap its child, so its CPU time is counted
        cpu = cpu_seconds(server.pid) - cpu_start
        load.terminate()
        load.wait()
        status = info_field(port, "persistence", "rdb_last_bgsave_status")
        size = os.path.getsize(os.path.join(directory, "dump.rdb"))
        print(f"{name:9s} keys={keys:,} snapshot={elapsed:.2f}s status={status} file={size / 1e6:.1f}MB "
              f"pss_before={before / 1e6:.0f}MB peak={peak / 1e6:.0f}MB ({peak / before:.2f}x) "
              f"writes_during={commands / elapsed:,.0f}/s per_cpu_s={commands / max(cpu, 0.01):,.0f}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(directory, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--swiftlet", required=True)
    parser.add_argument("keys", nargs="?", type=int, default=1_000_000)
    options = parser.parse_args()
    measure("swiftlet", options.swiftlet, options.keys)
    measure("redis", shutil.which("redis-server") or "/usr/bin/redis-server", options.keys)


if __name__ == "__main__":
    main()
