"""Side-by-side benchmark of swiftlet-server and redis-server (see scripts/bench).

Each server runs on a free loopback port; CPU time is read from /proc/<pid>/stat
(utime + stime) before and after every redis-benchmark run, so the figure that matters,
ops per server CPU-second, does not depend on how busy the shared machine is.
"""
import argparse
import bisect
import csv
import io
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import snapshot_bench

TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_times(pid):
    """The process's user and kernel CPU seconds so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICKS, int(fields[12]) / TICKS


def cpu_seconds(pid):
    return sum(cpu_times(pid))


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
        self.start(argv + ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                           "--dir", workdir], answer="PONG")

    def start(self, argv, answer):
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.cli("PING") == answer:
                return
            time.sleep(0.05)
        raise SystemExit(f"{self.name} did not start")

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


class BuiltReference(Server):
    """A reference server from a C file beside this one, built here with cc."""

    def __init__(self, name, source, workdir, answer):
        self.name = name
        self.port = free_port()
        binary = os.path.join(workdir, source.removesuffix(".c"))
        subprocess.run(["cc", "-O2", "-o", binary, os.path.join(os.path.dirname(os.path.abspath(__file__)), source)],
                       check=True)
        self.start([binary, str(self.port)], answer=answer)


class LoopbackFloor(BuiltReference):
    """loopback_floor.c: a responder that answers "+OK" without doing any work. Its ops per
    CPU-second are what the kernel's loopback TCP path alone allows, so its ratio to
    redis-server is the ceiling of any server's ratio at that pipeline depth."""

    def __init__(self, workdir):
        super().__init__("floor", "loopback_floor.c", workdir, answer="OK")


class MinimalKeyValue(BuiltReference):
    """minimal_kv.c: GET, SET, INCR and MSET on a hash table with nothing else (no expiry,
    statistics, eviction or locks). Its ratio to redis-server bounds what a server that parses
    and looks up every request can reach, before any of the bookkeeping Redis does."""

    def __init__(self, workdir):
        super().__init__("minimal", "minimal_kv.c", workdir, answer="PONG")


def measure(server, requests, options, pick=lambda rows: rows[0]):
    """One redis-benchmark run (-c 50) with `options`; the CSV row `pick` chooses, with the
    server's CPU time over the run."""
    user_before, kernel_before = cpu_times(server.proc.pid)
    out = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-n", str(requests), "-c", "50", "--csv",
         *options], capture_output=True, text=True, check=True).stdout
    user_after, kernel_after = cpu_times(server.proc.pid)
    user, kernel = user_after - user_before, kernel_after - kernel_before
    cpu = user + kernel
    row = pick(list(csv.DictReader(io.StringIO(out))))
    return {"rps": float(row["rps"]), "p50": float(row["p50_latency_ms"]), "p99": float(row["p99_latency_ms"]),
            "cpu": cpu, "per_cpu": requests / cpu if cpu > 0 else float("inf"),
            "user_us": user / requests * 1e6, "kernel_us": kernel / requests * 1e6}


def run_benchmark(server, test, pipeline, requests, keyspace=100000, value_size=3):
    return measure(server, requests, ["-t", test, "-P", str(pipeline), "-r", str(keyspace), "-d", str(value_size)],
                   pick=lambda rows: next(r for r in rows if r["test"].startswith(test.upper())))


def median_run(runs):
    """The run with the median ops per CPU-second."""
    ordered = sorted(runs, key=lambda r: r["per_cpu"])
    return ordered[len(ordered) // 2]


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def kernel_neutral_ratios(runs, names, reference="redis"):
    """Each server's ratio to `reference` with the kernel's share of a request set equal for
    all: the median kernel time per request over every run of the comparison, plus each
    server's own user time per request over all its runs (the kernel's clock ticks split CPU
    time into user and kernel by sampling, so one run's user time is too coarse). Every server
    here makes the same system calls per request (one read and one write, one epoll_wait per
    pass), so the kernel's work is the same for all of them, but how long it takes swings by a
    fifth from run to run on this shared machine; at -P 1 that swing, not the servers, decides
    a ratio measured from one run each."""
    kernel = median([run["kernel_us"] for name in names for run in runs[name]])
    user = {name: sum(run["user_us"] for run in runs[name]) / len(runs[name]) for name in names}
    return kernel, user, {name: (kernel + user[reference]) / (kernel + user[name]) for name in names}


# A small script for EVALSHA, and the GCRA of CL.THROTTLE (redis-cell's arithmetic, in
# microseconds) as a Lua script: what a Redis user without the module runs instead.
INCR_SCRIPT = "return redis.call('incr', KEYS[1])"
GCRA_SCRIPT = """
local burst, rate, period = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local quantity = tonumber(ARGV[4] or '1')
local clock = redis.call('TIME')
local now = clock[1] * 1000000 + clock[2]
local emission = period * 1000000 / rate
local tolerance = emission * (burst + 1)
local increment = emission * quantity
local tat = tonumber(redis.call('GET', KEYS[1])) or now
local new_tat = math.max(now, tat) + increment
local allow_at = new_tat - tolerance
local limited, retry, ttl = 0, -1, new_tat - now
if now < allow_at then
  limited, ttl = 1, tat - now
  if increment <= tolerance then retry = math.ceil((allow_at - now) / 1000000) end
end
local remaining = 0
if tolerance - ttl > -emission then remaining = math.floor((tolerance - ttl) / emission) end
if limited == 0 then redis.call('SET', KEYS[1], new_tat, 'PX', math.max(1, math.ceil(ttl / 1000))) end
return {limited, burst + 1, remaining, retry, math.ceil(ttl / 1000000)}
"""


def scripting(args, servers, floor):
    """EVALSHA of a small script on both servers, and CL.THROTTLE on Swiftlet against the
    GCRA script through EVALSHA on Redis (and on Swiftlet, for reference); the floor
    responder, sent Redis's command line, gives each comparison's ceiling."""
    swiftlet, redis = servers
    sha = {server.name: (server.cli("SCRIPT", "LOAD", INCR_SCRIPT), server.cli("SCRIPT", "LOAD", GCRA_SCRIPT))
           for server in servers}
    limiter = ["u:__rand_int__", "15", "30", "60", "1"]
    redis_incr = ["EVALSHA", sha["redis"][0], "1", "k:__rand_int__"]
    redis_gcra = ["EVALSHA", sha["redis"][1], "1"] + limiter
    cases = [("EVALSHA incr", [(swiftlet, ["EVALSHA", sha["swiftlet"][0], "1", "k:__rand_int__"]),
                               (redis, redis_incr), (floor, redis_incr)]),
             ("GCRA: CL.THROTTLE vs EVALSHA", [(swiftlet, ["CL.THROTTLE"] + limiter), (redis, redis_gcra),
                                               (swiftlet, ["EVALSHA", sha["swiftlet"][1], "1"] + limiter),
                                               (floor, redis_gcra)])]
    print("\nScripting and rate limiting: redis-benchmark -c 50 -r 100000 with the command line shown")
    header = f"{'test':<30} {'-P':>3}  {'server, command':<24} {'ops/s':>11} {'p99 ms':>7} {'cpu s':>6} {'ops/cpu-s':>11}"
    print(header)
    print("-" * len(header))
    for label, pairs in cases:
        for pipeline in [1, 16]:
            requests = (20000 if pipeline == 1 else 200000) if args.quick else (200000 if pipeline == 1 else 1000000)
            runs = [[] for _ in pairs]
            for _ in range(args.rounds):
                for index, (server, command) in enumerate(pairs):
                    runs[index].append(measure(server, requests, ["-P", str(pipeline), "-r", "100000", *command]))
            results = [median_run(r) for r in runs]
            for (server, command), r in zip(pairs, results):
                print(f"{label:<30} {pipeline:>3}  {server.name + ', ' + command[0]:<24} {r['rps']:>11,.0f} "
                      f"{r['p99']:>7.3f} {r['cpu']:>6.2f} {r['per_cpu']:>11,.0f}")
            print(f"{'':<30} {'':>3}  ratio (first / second)   ops/cpu-s x{results[0]['per_cpu'] / results[1]['per_cpu']:.2f}"
                  f"   ceiling (floor / second) x{results[-1]['per_cpu'] / results[1]['per_cpu']:.2f}\n")


class Pipeline:
    """A minimal RESP client that sends commands in batches and reads the replies."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buffer = b""

    def _line(self):
        while b"\r\n" not in self.buffer:
            self.buffer += self.sock.recv(1 << 20)
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _bulk(self, length):
        while len(self.buffer) < length + 2:
            self.buffer += self.sock.recv(1 << 20)
        data, self.buffer = self.buffer[:length], self.buffer[length + 2:]
        return data

    def run(self, commands):
        self.sock.sendall(b"".join(b"*%d\r\n" % len(c) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in c)
                                   for c in commands))
        replies = []
        for _ in commands:
            line = self._line()
            if line[:1] == b"$":
                length = int(line[1:])
                replies.append(None if length < 0 else self._bulk(length))
            elif line[:1] == b"-":
                raise SystemExit(f"server error: {line.decode()}")
            else:
                replies.append(line[1:])
        return replies


def zipf_keys(count, keyspace, exponent, seed):
    """`count` key numbers drawn from a Zipf distribution over `keyspace` keys (rank 1 most
    popular), the same sequence for every server; ranks are scattered over the key names."""
    weights = [1 / (rank ** exponent) for rank in range(1, keyspace + 1)]
    cumulative, total = [], 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    generator = random.Random(seed)
    names = list(range(keyspace))
    generator.shuffle(names)
    return [names[bisect.bisect_left(cumulative, generator.random() * total)] for _ in range(count)]


def cache_aside(server, keys, value, batch=256):
    """Cache-aside over `keys`: GET each; on a miss, SET it. Returns (hit ratio, ops per CPU-s)
    of the second half (the first half warms the cache)."""
    client = Pipeline(server.port)
    half = len(keys) // 2
    hits = misses = operations = 0
    cpu_before = 0.0
    for start in range(0, len(keys), batch):
        if start == half:
            cpu_before = cpu_seconds(server.proc.pid)
            hits = misses = operations = 0
        chunk = keys[start:start + batch]
        replies = client.run([(b"GET", b"key:%d" % k) for k in chunk])
        missing = [k for k, reply in zip(chunk, replies) if reply is None]
        if missing:
            client.run([(b"SET", b"key:%d" % k, value) for k in missing])
        hits += len(chunk) - len(missing)
        misses += len(missing)
        operations += len(chunk) + len(missing)
    cpu = cpu_seconds(server.proc.pid) - cpu_before
    return hits / (hits + misses), operations / cpu if cpu > 0 else float("inf")


def hit_ratio_simulation(args, redis_binary, workdir, floor):
    """Both servers at the same maxmemory under allkeys-lru and allkeys-lfu: Zipf-distributed
    cache-aside traffic over a keyspace 10x larger than fits (hit ratio, ops per CPU-second),
    for small and 100-byte values, then redis-benchmark SET over 10M random keys (every
    write evicts), at -P 1 and -P 16."""
    megabytes = 8 if args.quick else 32
    maxmemory = megabytes << 20
    requests = 300_000 if args.quick else 2_000_000
    print(f"\nCache simulation at maxmemory {megabytes}mb: Zipf 0.99 cache-aside (GET, SET on a miss) over "
          f"a keyspace of 10x {megabytes}mb of values, {requests:,} requests (second half measured); "
          f"then redis-benchmark SET -r 10000000 -d 100 -c 50 (every write evicts)")
    print(f"  {'policy':<12} {'workload':<19} {'server':<9} {'hit ratio':>9} {'ops/cpu-s':>11} {'evicted':>9}")
    argv = {"swiftlet": [args.swiftlet, "--server-threads", str(args.threads)], "redis": [redis_binary]}
    for policy in ["allkeys-lru", "allkeys-lfu"]:
        servers = [Server(name, command + ["--maxmemory", str(maxmemory), "--maxmemory-policy", policy], workdir)
                   for name, command in argv.items()]
        try:
            for value_size in [16, 100]:
                keyspace = 10 * maxmemory // value_size
                keys = zipf_keys(requests, keyspace, 0.99, seed=value_size)
                results = {}
                for server in servers:
                    server.cli("FLUSHALL")
                    server.cli("CONFIG", "RESETSTAT")
                    results[server.name] = cache_aside(server, keys, b"x" * value_size)
                    evicted = server.cli("INFO", "stats").split("evicted_keys:")[1].split()[0]
                    print(f"  {policy:<12} {f'Zipf, {value_size}-byte values':<19} {server.name:<9} "
                          f"{results[server.name][0]:>9.4f} {results[server.name][1]:>11,.0f} {evicted:>9}")
                print(f"  {'':<12} {'':<19} ratio     hit ratio {results['swiftlet'][0] - results['redis'][0]:+.4f}   "
                      f"ops/cpu-s x{results['swiftlet'][1] / results['redis'][1]:.2f}")
            for pipeline in [1, 16]:
                requests_set = (50_000 if pipeline == 1 else 300_000) if args.quick else (200_000 if pipeline == 1 else 2_000_000)
                runs = {server.name: [] for server in servers + [floor]}
                for _ in range(args.rounds):
                    for server in servers + [floor]:
                        runs[server.name].append(run_benchmark(server, "set", pipeline, requests_set,
                                                               keyspace=10_000_000, value_size=100)["per_cpu"])
                median = {name: sorted(values)[len(values) // 2] for name, values in runs.items()}
                for server in servers:
                    evicted = server.cli("INFO", "stats").split("evicted_keys:")[1].split()[0]
                    print(f"  {policy:<12} {f'SET -P {pipeline}, 100 bytes':<19} {server.name:<9} {'':>9} "
                          f"{median[server.name]:>11,.0f} {evicted:>9}")
                print(f"  {'':<12} {'':<19} ratio     ops/cpu-s x{median['swiftlet'] / median['redis']:.2f}   "
                      f"ceiling (floor / redis) x{median['floor'] / median['redis']:.2f}")
        finally:
            for server in servers:
                server.stop()


def pubsub_fanout(server, messages, subscribers=50, payload=b"x" * 64, batch=200):
    """PUBLISH fan-out: one pipelined publisher, `subscribers` clients on one channel, each
    drained by a reader thread. Returns messages delivered and delivered per server CPU-second."""
    import selectors
    import threading
    server.cli("CONFIG", "SET", "client-output-buffer-limit", "pubsub 0 0 0")
    frame = b"*3\r\n$7\r\nmessage\r\n$5\r\nfanout\r\n$%d\r\n%s\r\n" % (len(payload), payload)
    confirmation = b"*3\r\n$9\r\nsubscribe\r\n$6\r\nfanout\r\n:1\r\n"
    sockets = []
    for _ in range(subscribers):
        sock = socket.create_connection(("127.0.0.1", server.port))
        sock.sendall(b"*2\r\n$9\r\nSUBSCRIBE\r\n$6\r\nfanout\r\n")
        got = b""
        while len(got) < len(confirmation):
            got += sock.recv(len(confirmation) - len(got))
        sock.setblocking(False)
        sockets.append(sock)
    expected = len(frame) * messages
    received = {sock: 0 for sock in sockets}

    def drain():
        selector = selectors.DefaultSelector()
        for sock in sockets:
            selector.register(sock, selectors.EVENT_READ)
        pending = len(sockets)
        while pending:
            for key, _ in selector.select(timeout=10):
                data = key.fileobj.recv(1 << 20)
                received[key.fileobj] += len(data)
                if received[key.fileobj] >= expected:
                    selector.unregister(key.fileobj)
                    pending -= 1
    reader = threading.Thread(target=drain)
    reader.start()
    publisher = Pipeline(server.port)
    before = cpu_seconds(server.proc.pid)
    for sent in range(0, messages, batch):
        count = min(batch, messages - sent)
        publisher.run([[b"PUBLISH", b"fanout", payload]] * count)
    reader.join()
    cpu = cpu_seconds(server.proc.pid) - before
    for sock in sockets:
        sock.close()
    publisher.sock.close()
    delivered = messages * subscribers
    return delivered, delivered / cpu if cpu > 0 else float("inf"), cpu


def memory_per_connection(server, count=1000):
    """RSS growth per idle client: `count` connections that each sent PING (measured after the
    keys are loaded, so that freed connection memory cannot flatter the per-key figure)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 100 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (count + 100, hard))
    before = rss_bytes(server.proc.pid)
    sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(count)]
    for sock in sockets:
        sock.sendall(b"PING\r\n")
    for sock in sockets:
        sock.recv(16)
    per_connection = (rss_bytes(server.proc.pid) - before) / count
    for sock in sockets:
        sock.close()
    return per_connection


def memory_per_key(server):
    """RSS growth per key of a freshly started server loaded with ~1M keys."""
    before = rss_bytes(server.proc.pid)
    subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(server.port), "-t", "set", "-r", "1000000",
                    "-n", "3000000", "-d", "3", "-P", "16", "-c", "50", "-q"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    keys = int(server.cli("DBSIZE"))
    return keys, (rss_bytes(server.proc.pid) - before) / keys


def snapshot(args):
    """BGSAVE of 5M keys (500k with --quick) while redis-benchmark writes at full speed
    (snapshot_bench.py, also run alone by scripts/bench-snapshot)."""
    keys = 500_000 if args.quick else 5_000_000
    print(f"\nSnapshot: BGSAVE of {keys:,} keys while redis-benchmark SETs them at -P 16 -c 50")
    sys.stdout.flush()
    snapshot_bench.compare(args.swiftlet, keys)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--swiftlet", required=True)
    parser.add_argument("--quick", action="store_true", help="small request counts, for a smoke run")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="swiftlet server-threads")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-cache", action="store_true", help="skip the hit-ratio simulation")
    parser.add_argument("--only-cache", action="store_true", help="run only the hit-ratio simulation")
    parser.add_argument("--skip-pubsub", action="store_true", help="skip the PUBLISH fan-out run")
    parser.add_argument("--only-pubsub", action="store_true", help="run only the PUBLISH fan-out")
    parser.add_argument("--skip-scripting", action="store_true", help="skip EVALSHA and CL.THROTTLE")
    parser.add_argument("--only-scripting", action="store_true", help="run only EVALSHA and CL.THROTTLE")
    parser.add_argument("--skip-snapshot", action="store_true", help="skip BGSAVE under write load")
    parser.add_argument("--only-snapshot", action="store_true", help="run only BGSAVE under write load")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs per test and server, alternating servers; the median counts")
    args = parser.parse_args()
    redis_binary = shutil.which("redis-server")
    if not redis_binary:
        raise SystemExit("redis-server is not installed")
    if args.only_snapshot:
        return snapshot(args)
    workdir = tempfile.mkdtemp(prefix="swiftlet-bench-")
    # One floor responder serves every comparison of the run (PUBLISH fan-out has none).
    floor = None if args.only_pubsub else LoopbackFloor(workdir)
    if args.only_cache:
        try:
            return hit_ratio_simulation(args, redis_binary, workdir, floor)
        finally:
            floor.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    servers, minimal = [], None
    try:
        servers = [Server("swiftlet", [args.swiftlet, "--server-threads", str(args.threads)], workdir),
                   Server("redis", [redis_binary], workdir)]
        print(f"median of {args.rounds} alternating runs; swiftlet-server (server-threads {args.threads}) vs redis-server {servers[1].cli('INFO', 'server').split('redis_version:')[1].split()[0]}, "
              f"redis-benchmark -c 50 -r 100000, loopback, {os.cpu_count()} cores\n")
        header = (f"{'test':<6} {'-P':>3}  {'server':<9} {'ops/s':>11} {'p50 ms':>7} {'p99 ms':>7} {'cpu s':>6} "
                  f"{'user us':>7} {'kern us':>7} {'ops/cpu-s':>11}")
        only_one = args.only_pubsub or args.only_scripting
        if not only_one:
            minimal = MinimalKeyValue(workdir)
            print(header)
            print("-" * len(header))
        ratios = []
        if only_one:
            args.skip_memory = args.skip_cache = True
            args.skip_pubsub = not args.only_pubsub
            args.skip_scripting = not args.only_scripting
        for test in ([] if only_one else ["set", "get", "incr", "mset"]):
            for pipeline in [1, 16]:
                requests = (20000 if pipeline == 1 else 200000) if args.quick else (200000 if pipeline == 1 else 2000000)
                measured = servers + [minimal, floor]
                runs = {server.name: [] for server in measured}
                for _ in range(args.rounds):
                    for server in measured:
                        runs[server.name].append(run_benchmark(server, test, pipeline, requests))
                results = {}
                for server in measured:
                    # The run with the median ops per CPU-second represents the server.
                    r = results[server.name] = median_run(runs[server.name])
                    print(f"{test.upper():<6} {pipeline:>3}  {server.name:<9} {r['rps']:>11,.0f} {r['p50']:>7.3f} {r['p99']:>7.3f} "
                          f"{r['cpu']:>6.2f} {r['user_us']:>7.2f} {r['kernel_us']:>7.2f} {r['per_cpu']:>11,.0f}")
                ratio = results["swiftlet"]["per_cpu"] / results["redis"]["per_cpu"]
                bound = results["minimal"]["per_cpu"] / results["redis"]["per_cpu"]
                ceiling = results["floor"]["per_cpu"] / results["redis"]["per_cpu"]
                p99 = results["swiftlet"]["p99"] / results["redis"]["p99"] if results["redis"]["p99"] else 0
                kernel, user, neutral = kernel_neutral_ratios(runs, [server.name for server in measured])
                ratios.append((test, pipeline, ratio, p99, bound, ceiling, neutral))
                print(f"{'':<6} {'':>3}  ratio     ops/cpu-s x{ratio:.2f}   p99 x{p99:.2f}   "
                      f"minimal / redis x{bound:.2f}   ceiling (floor / redis) x{ceiling:.2f}")
                # The user time per request at which a server would show 1.1x at that kernel time.
                needed = (kernel + user["redis"]) / 1.1 - kernel
                print(f"{'':<6} {'':>3}  kernel-neutral (each request's kernel time {kernel:.2f} us for all): "
                      f"swiftlet x{neutral['swiftlet']:.2f}   minimal x{neutral['minimal']:.2f}   "
                      f"ceiling x{neutral['floor']:.2f}")
                print(f"{'':<6} {'':>3}  user us per request, mean: " +
                      "   ".join(f"{name} {user[name]:.2f}" for name in user) + f"   (1.1x needs {needed:.2f})\n")
        if ratios:
            print("Summary (swiftlet / redis): ops per server CPU-second, p99 latency; 'minimal' is a server doing "
                  "only the parse, lookup and reply (minimal_kv.c), the ceiling a responder doing no work "
                  "(loopback_floor.c); kernel-neutral: the same with every server's kernel time per request "
                  "set to the comparison's median")
        for test, pipeline, ratio, p99, bound, ceiling, neutral in ratios:
            print(f"  {test.upper():<5} -P {pipeline:<3} ops/cpu-s x{ratio:.2f}   p99 x{p99:.2f}   minimal x{bound:.2f}   "
                  f"ceiling x{ceiling:.2f}   kernel-neutral: swiftlet x{neutral['swiftlet']:.2f} minimal "
                  f"x{neutral['minimal']:.2f} ceiling x{neutral['floor']:.2f}")
        if not args.skip_scripting:
            scripting(args, servers, floor)
        if not args.skip_pubsub:
            messages = 20000 if args.quick else 200000
            print(f"\nPUBLISH fan-out: 1 pipelined publisher, 50 subscribers, 64-byte messages, {messages:,} published")
            fanout = {}
            for server in servers:
                runs = sorted((pubsub_fanout(server, messages) for _ in range(args.rounds)), key=lambda r: r[1])
                delivered, per_cpu, cpu = fanout[server.name] = runs[len(runs) // 2]
                print(f"  {server.name:<9} {delivered:>11,} delivered  {cpu:6.2f} cpu s  {per_cpu:>13,.0f} delivered/cpu-s")
            print(f"  ratio     delivered/cpu-s x{fanout['swiftlet'][1] / fanout['redis'][1]:.2f}")
        if not args.skip_memory:
            print("\nMemory: redis-benchmark -t set -r 1000000 -n 3000000 -d 3 -P 16 (16-byte keys, 3-byte values)")
            for server in servers:
                server.stop()
            fresh = [Server("swiftlet", [args.swiftlet, "--server-threads", str(args.threads)], workdir),
                     Server("redis", [redis_binary], workdir)]
            servers += fresh
            for server in fresh:
                keys, per_key = memory_per_key(server)
                per_connection = memory_per_connection(server)
                print(f"  {server.name:<9} {keys:>8,} keys  {per_key:6.1f} bytes of RSS per key"
                      f"  {per_connection / 1024:5.1f} KB of RSS per idle connection (1,000 clients)")
        if not args.skip_cache:
            hit_ratio_simulation(args, redis_binary, workdir, floor)
        if not (args.skip_snapshot or only_one):
            snapshot(args)
    finally:
        for server in servers + [reference for reference in (minimal, floor) if reference]:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
