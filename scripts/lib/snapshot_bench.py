"""BGSAVE under write load for Swiftlet and redis-server (see scripts/bench-snapshot)."""
import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time


# Seconds from the BGSAVE over which writes are also counted (longer than either save).
WINDOW = 12.0


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
    """User + system time of the server itself and of its reaped children (Redis's saving child)."""
    fields = [int(value) for value in open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[11:15]]
    ticks = os.sysconf("SC_CLK_TCK")
    return (fields[0] + fields[1]) / ticks, (fields[2] + fields[3]) / ticks


def populate(port, keys):
    """Writes the keys redis-benchmark -r KEYS names (key:%012d), 32-byte values, so that
    the write load overwrites them instead of growing the dataset during the snapshot."""
    value = b"x" * 32
    commands = b"".join(b"*3\r\n$3\r\nSET\r\n$16\r\nkey:%012d\r\n$32\r\n%s\r\n" % (index, value)
                        for index in range(keys))
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=commands, stdout=subprocess.DEVNULL, check=True)


def start(binary, directory):
    """Starts a server on `directory` and waits until it answers PING (after loading a
    dump.rdb found there); the process, its port and the seconds it took."""
    port = free_port()
    started = time.time()
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory,
                               "--enable-debug-command", "yes"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while cli(port, "ping") != "PONG" and time.time() < deadline:
        time.sleep(0.01)
    return server, port, time.time() - started


def measure(name, binary, keys, keep):
    """BGSAVE under write load; the dump.rdb is copied to `keep`."""
    directory = tempfile.mkdtemp(prefix=f"snapshot-bench-{name}-")
    server, port, _ = start(binary, directory)
    try:
        populate(port, keys)
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
        cpu_end = cpu_seconds(server.pid)
        time.sleep(0.3)  # let Redis reap its child, so its CPU time is counted
        # The server's own time up to the end of the save, its child's once reaped.
        cpu = cpu_end[0] - cpu_start[0] + cpu_seconds(server.pid)[1] - cpu_start[1]
        # The same figures over a fixed window from the BGSAVE on (the save included), so a
        # short snapshot is not measured only over the moments it holds writers up.
        time.sleep(max(0.0, started + WINDOW - time.time()))
        window_commands = int(info_field(port, "stats", "total_commands_processed")) - commands_start
        window_cpu = sum(cpu_seconds(server.pid)) - sum(cpu_start)
        window = time.time() - started
        load.terminate()
        load.wait()
        status = info_field(port, "persistence", "rdb_last_bgsave_status")
        size = os.path.getsize(os.path.join(directory, "dump.rdb"))
        shutil.copy(os.path.join(directory, "dump.rdb"), keep)
        print(f"{name:9s} keys={keys:,} snapshot={elapsed:.2f}s status={status} file={size / 1e6:.1f}MB "
              f"pss_before={before / 1e6:.0f}MB peak={peak / 1e6:.0f}MB ({peak / before:.2f}x) "
              f"writes_during={commands / elapsed:,.0f}/s per_cpu_s={commands / max(cpu, 0.01):,.0f}; "
              f"over {window:.0f}s from BGSAVE: {window_commands / window:,.0f}/s per_cpu_s={window_commands / window_cpu:,.0f}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(directory, ignore_errors=True)


def compare(swiftlet, keys):
    """BGSAVE under write load on both servers, then start-up on Redis's file."""
    binaries = {"swiftlet": swiftlet, "redis": shutil.which("redis-server") or "/usr/bin/redis-server"}
    files = tempfile.mkdtemp(prefix="snapshot-bench-files-")
    try:
        for name, binary in binaries.items():
            measure(name, binary, keys, os.path.join(files, f"{name}.rdb"))
        # Start-up time on the same file (Redis's dump), best of three per server.
        for name, binary in binaries.items():
            times = []
            for _ in range(3):
                directory = tempfile.mkdtemp(prefix=f"snapshot-bench-load-{name}-", dir=files)
                shutil.copy(os.path.join(files, "redis.rdb"), os.path.join(directory, "dump.rdb"))
                server, port, seconds = start(binary, directory)
                loaded = cli(port, "dbsize")
                server.terminate()
                server.wait()
                times.append(seconds)
            print(f"{name:9s} loads redis-server's dump.rdb ({loaded} keys) in {min(times):.2f}s (best of 3, until PING answers)")
    finally:
        shutil.rmtree(files, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--swiftlet", required=True)
    parser.add_argument("keys", nargs="?", type=int, default=1_000_000)
    options = parser.parse_args()
    compare(options.swiftlet, options.keys)


if __name__ == "__main__":
    main()
