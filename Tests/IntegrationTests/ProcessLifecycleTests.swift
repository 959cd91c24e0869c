// The server as an operator sees it: command-line and config-file errors worded and exited
// like redis-server, --version, clean SIGTERM shutdown, systemd notification (READY=1 /
// STOPPING=1 on $NOTIFY_SOCKET), the process title `ps` shows (proc-title-template), and
// redis-cli / redis-benchmark talking to it, and its heap on huge pages.
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized)
struct ProcessLifecycleTests {
    @Test func versionLineCarriesTheEmulatedRedisVersion() throws {
        let binary = try #require(ServerProcess.swiftletBinary)
        let result = try ChildProcess.run(binary, ["--version"])
        #expect(result.status == 0)
        #expect(result.output.hasPrefix("Redis server v=7.0.15 "))
    }

    @Test(.enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
    func configErrorsMatchRedis() throws {
        let binary = try #require(ServerProcess.swiftletBinary)
        let redis = try #require(ServerProcess.redisBinary)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-conf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cases: [(String, [String])] = [
            ("port 6379\nbogus-directive 1\n", []),
            ("port abc\n", []),
            ("maxmemory 10zb\n", []),
            ("loglevel loud\n", []),
            ("appendonly maybe\n", []),
            ("port 1 2\n", []),
            ("save 10\n", []),
            ("set \"a b\n", []),
            ("", ["--no-such-option", "1"]),
            ("", ["--port", "abc"]),
            ("proc-title-template \"{no-such-variable}\"\n", []),
        ]
        for (index, (contents, extra)) in cases.enumerated() {
            let file = directory.appendingPathComponent("case\(index).conf")
            try contents.write(to: file, atomically: true, encoding: .utf8)
            let ours = try ChildProcess.run(binary, [file.path] + extra)
            let theirs = try ChildProcess.run(redis, [file.path] + extra)
            #expect(ours.status == 1 && theirs.status == 1)
            #expect(ours.output == theirs.output, "config \(contents.debugDescription) \(extra)")
        }
        let missing = try ChildProcess.run(binary, ["/nonexistent/swiftlet.conf"])
        #expect(missing.status == 1)
        #expect(missing.output.contains("Fatal error, can't open config file '/nonexistent/swiftlet.conf'"))
        // Port 0 is no TCP listener, and with no Unix socket either there is nothing to serve.
        for server in [binary, redis] {
            let nowhere = try ChildProcess.run(server, ["--port", "0", "--save", "", "--dir", directory.path])
            #expect(nowhere.status == 1 && nowhere.output.contains("Configured to not listen anywhere, exiting."), "\(server)")
        }
    }

    /// What /proc/PID/cmdline shows, up to the first NUL, with the server's own executable
    /// path and port replaced by placeholders.
    private func processTitle(of server: ServerProcess, executable: String) throws -> String {
        let bytes = try #require(FileManager.default.contents(atPath: "/proc/\(server.pid)/cmdline"))
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            .replacingOccurrences(of: executable, with: "EXECUTABLE")
            .replacingOccurrences(of: String(server.port), with: "PORT")
    }

    @Test(.enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
    func processTitleFollowsTheTemplateLikeRedis() throws {
        let swiftlet = try ServerProcess.swiftlet()
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        let servers = [(swiftlet, try #require(ServerProcess.swiftletBinary)), (redis, try #require(ServerProcess.redisBinary))]
        func titles() throws -> [String] { try servers.map { try processTitle(of: $0.0, executable: $0.1) } }
        let defaultTitles = try titles()
        #expect(defaultTitles[0] == defaultTitles[1])
        #expect(defaultTitles[0].hasPrefix("EXECUTABLE ") && defaultTitles[0].hasSuffix(":PORT"), "\(defaultTitles[0])")
        for template in ["TEST {title} {listen-addr} {port} {tls-port} {server-mode} {{braces}", "  {port}  ",
                         "{no-such-variable}", "{server-mode}", "{title", "plain"] {
            let replies = try servers.map { try RespClient(port: $0.0.port).call("config", "set", "proc-title-template", template) }
            #expect(replies[0] == replies[1], "\(template)")
            let shown = try titles()
            #expect(shown[0] == shown[1], "\(template)")
        }
        #expect(try titles()[0] == "plain")
    }

    @Test func includeAndOverridesApplyInOrder() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-inc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("conf.d"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "maxmemory 1mb\n".write(to: directory.appendingPathComponent("conf.d/a.conf"), atomically: true, encoding: .utf8)
        try "maxmemory-samples 7\n".write(to: directory.appendingPathComponent("conf.d/b.conf"), atomically: true, encoding: .utf8)
        let main = directory.appendingPathComponent("main.conf")
        try "hz 20\ninclude \(directory.path)/conf.d/*.conf\ninclude \(directory.path)/empty.d/*.conf\nmaxmemory 2mb\n"
            .write(to: main, atomically: true, encoding: .utf8)
        let binary = try #require(ServerProcess.swiftletBinary)
        let server = try ServerProcess(binary: binary, arguments: [main.path, "--hz", "15"])
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        #expect(try client.call("CONFIG", "GET", "maxmemory") == .array([.bulk(Array("maxmemory".utf8)), .bulk(Array("2097152".utf8))]))
        #expect(try client.call("CONFIG", "GET", "maxmemory-samples") == .array([.bulk(Array("maxmemory-samples".utf8)), .bulk(Array("7".utf8))]))
        #expect(try client.call("CONFIG", "GET", "hz") == .array([.bulk(Array("hz".utf8)), .bulk(Array("15".utf8))]))
        #expect(try client.call("CONFIG", "SET", "maxmemory-samples", "9") == .simple("OK"))
        #expect(try client.call("CONFIG", "REWRITE") == .simple("OK"))
        let rewritten = try String(contentsOf: main, encoding: .utf8)
        #expect(rewritten.contains("maxmemory-samples 9"))
        #expect(rewritten.contains("include \(directory.path)/conf.d/*.conf"))
    }

    /// Debian's stock /etc/redis/redis.conf (installed with redis-server) loads unchanged,
    /// directives for features Swiftlet leaves out included (repl-diskless-sync,
    /// stream-node-max-entries, ...), with only what a test must own overridden.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/etc/redis/redis.conf"), "needs Debian's redis.conf"))
    func debiansStockRedisConfLoads() throws {
        let binary = try #require(ServerProcess.swiftletBinary)
        let pidfile = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-\(UUID().uuidString).pid").path
        defer { unlink(pidfile) }
        let server = try ServerProcess(binary: binary, arguments: ["/etc/redis/redis.conf", "--daemonize", "no", "--logfile", "",
                                                                   "--pidfile", pidfile])
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        #expect(try client.call("CONFIG", "GET", "repl-diskless-sync") == .array([.bulk(Array("repl-diskless-sync".utf8)), .bulk(Array("yes".utf8))]))
        #expect(!server.log.contains("has no effect"), "\(server.log)")
    }

    /// CONFIG REWRITE of Debian's redis.conf writes the file Redis writes: lines trimmed,
    /// runs of empty lines joined, memory in units, strings quoted, save rules one per line.
    /// Lines naming this run's port, directory and pidfile differ by design, and Redis adds
    /// its ACL user; the appended block is compared as a set (Redis orders it by its table).
    @Test(.enabled(if: ServerProcess.redisAvailable && FileManager.default.fileExists(atPath: "/etc/redis/redis.conf"),
                   "needs Debian's redis-server and redis.conf"))
    func configRewriteOfDebiansFileMatchesRedis() throws {
        let stock = try String(contentsOfFile: "/etc/redis/redis.conf", encoding: .utf8)
        func rewritten(_ binary: String) throws -> [String] {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-rw-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let file = directory.appendingPathComponent("redis.conf")
            try stock.write(to: file, atomically: true, encoding: .utf8)
            let server = try ServerProcess(binary: binary, arguments: [file.path, "--daemonize", "no", "--logfile", "",
                                                                       "--pidfile", directory.appendingPathComponent("pid").path])
            defer { server.stop() }
            let client = try RespClient(port: server.port)
            #expect(try client.call("CONFIG", "SET", "maxmemory", "10mb", "hll-sparse-max-bytes", "4kb") == .simple("OK"))
            #expect(try client.call("CONFIG", "REWRITE") == .simple("OK"))
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
                .map(String.init).filter { line in !["port ", "dir ", "pidfile ", "user "].contains { line.hasPrefix($0) } }
            guard let marker = lines.firstIndex(of: "# Generated by CONFIG REWRITE") else { return lines }
            return Array(lines[...marker]) + lines[(marker + 1)...].sorted()
        }
        let ours = try rewritten(try #require(ServerProcess.swiftletBinary))
        let theirs = try rewritten(try #require(ServerProcess.redisBinary))
        #expect(ours.count == theirs.count)
        for (index, pair) in zip(ours, theirs).enumerated() where pair.0 != pair.1 {
            Issue.record("line \(index + 1): swiftlet '\(pair.0)', redis '\(pair.1)'")
        }
    }

    /// A directive for a left-out feature set away from Redis's default is accepted and
    /// named in a start-up warning.
    @Test func inertDirectivesAwayFromTheirDefaultAreWarnedAbout() throws {
        let server = try ServerProcess.swiftlet(["--repl-diskless-sync", "no", "--stream-node-max-entries", "100"])
        defer { server.stop() }
        #expect(server.logs("WARNING: repl-diskless-sync (replication is not implemented); the setting is accepted but has no effect."))
        #expect(!server.log.contains("stream-node-max-entries ("))
        #expect(try RespClient(port: server.port).call("CONFIG", "GET", "repl-diskless-sync")
                == .array([.bulk(Array("repl-diskless-sync".utf8)), .bulk(Array("no".utf8))]))
    }

    /// oom-score-adj writes /proc/PID/oom_score_adj as Redis does: relative to the score the
    /// process started with, absolute, and back to that score when turned off.
    @Test func oomScoreAdjustsTheProcess() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        func score() throws -> Int {
            let text = try String(contentsOfFile: "/proc/\(server.pid)/oom_score_adj", encoding: .utf8)
            return try #require(Int(text.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        let client = try RespClient(port: server.port)
        let base = try score()
        #expect(try client.call("CONFIG", "SET", "oom-score-adj-values", "10 20 30") == .simple("OK"))
        #expect(try score() == base)
        #expect(try client.call("CONFIG", "SET", "oom-score-adj", "yes") == .simple("OK"))
        #expect(try score() == min(base + 10, 1000))
        #expect(try client.call("CONFIG", "SET", "oom-score-adj-values", "15 20 30") == .simple("OK"))
        #expect(try score() == min(base + 15, 1000))
        #expect(try client.call("CONFIG", "SET", "oom-score-adj", "absolute") == .simple("OK"))
        #expect(try score() == 15)
        #expect(try client.call("CONFIG", "SET", "oom-score-adj", "no") == .simple("OK"))
        #expect(try score() == base)
    }

    @Test func sigtermStopsCleanlyAndSystemdIsNotified() throws {
        let socketPath = FileManager.default.temporaryDirectory.appendingPathComponent("notify-\(UUID().uuidString).sock").path
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd); unlink(socketPath) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in socketPath.utf8.enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        #expect(bound == 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        func receive() -> String {
            var buffer = [UInt8](repeating: 0, count: 512)
            let count = recv(fd, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : ""
        }

        let server = try ServerProcess.swiftlet(["--supervised", "systemd"], environment: ["NOTIFY_SOCKET": socketPath])
        var messages = [receive(), receive()]
        #expect(messages.contains { $0.contains("READY=1") })
        server.signal(SIGTERM)
        #expect(server.waitForExit(seconds: 10) == 0)
        messages.append(receive())
        #expect(messages.contains { $0.contains("STOPPING=1") })
        #expect(server.logs("Received SIGTERM scheduling shutdown..."))
        server.stop()
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-cli"), "needs redis-tools"))
    func redisCliAndBenchmarkWork() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "2"])
        defer { server.stop() }
        let port = String(server.port)
        #expect(try ChildProcess.run("/usr/bin/redis-cli", ["-p", port, "set", "greeting", "hello"]).output == "OK\n")
        #expect(try ChildProcess.run("/usr/bin/redis-cli", ["-p", port, "get", "greeting"]).output == "hello\n")
        let bench = try ChildProcess.run("/usr/bin/redis-benchmark", ["-p", port, "-t", "ping,set,get,incr,mset", "-n", "2000", "-c", "10", "-P", "16", "-q"])
        #expect(bench.status == 0)
        for test in ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET (10 keys)"] {
            #expect(bench.output.contains("\(test): "), "redis-benchmark output lacks \(test)")
        }
        #expect(!bench.output.contains("WARNING: Could not fetch server CONFIG"))
    }

    /// The whole of a /proc file of `server` (Foundation's one-call readers stop at the first
    /// read of files that report no size).
    private func procFile(_ name: String, of server: ServerProcess) throws -> [UInt8] {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/\(server.pid)/\(name)"))
        defer { try? handle.close() }
        return Array(try handle.readToEnd() ?? Data())
    }

    /// The GLIBC_TUNABLES the server runs with (from /proc/PID/environ), if any.
    private func glibcTunables(of server: ServerProcess) throws -> String? {
        let bytes = try procFile("environ", of: server)
        let prefix = "GLIBC_TUNABLES="
        return bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            .first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
    }

    /// Bytes of the server's memory backed by transparent huge pages.
    private func hugePageBytes(of server: ServerProcess) throws -> Int {
        let rollup = String(decoding: try procFile("smaps_rollup", of: server), as: UTF8.self)
        let line = try #require(rollup.split(separator: "\n").first { $0.hasPrefix("AnonHugePages:") })
        return (Int(line.split(separator: " ")[1]) ?? 0) * 1024
    }

    /// Anonymous mappings starting on a 64 MB boundary (glibc's thread heaps) that are
    /// advised for huge pages ("hg" in their VmFlags).
    private func advisedThreadHeaps(of server: ServerProcess) throws -> Int {
        let smaps = String(decoding: try procFile("smaps", of: server), as: UTF8.self)
        var count = 0, threadHeap = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ")
            if let range = fields.first, range.contains("-"), let start = UInt(range.split(separator: "-")[0], radix: 16) {
                threadHeap = fields.count == 5 && start % (64 << 20) == 0
            } else if line.hasPrefix("VmFlags:"), threadHeap, fields.contains("hg") {
                count += 1
            }
        }
        return count
    }

    @Test func heapUsesHugePagesWhenTheKernelLeavesThemToMalloc() throws {
        let mode = (try? String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)) ?? ""
        // One worker: the connection's allocations come from the main heap, which the tunable
        // covers as it grows.
        let server = try ServerProcess.swiftlet(["--server-threads", "1"], environment: ["GLIBC_TUNABLES": ""])
        defer { server.stop() }
        guard mode.contains("[madvise]") else {
            #expect(try glibcTunables(of: server) == "")
            return
        }
        // Same process (the harness checked INFO's process_id), executed again with the tunable.
        #expect(try glibcTunables(of: server) == "glibc.malloc.hugetlb=1")
        let client = try RespClient(port: server.port)
        let value = String(repeating: "v", count: 1000)
        for batch in 0..<20 {
            let commands = (0..<1000).map { RespClient.encode([Array("SET".utf8), Array("key:\(batch):\($0)".utf8), Array(value.utf8)]) }
            try client.send(raw: Array(commands.joined()))
            for _ in 0..<1000 { _ = try client.readReply() }
        }
        #expect(try hugePageBytes(of: server) > 0)

        // The other workers' thread heaps are advised by their cron.
        let threaded = try ServerProcess.swiftlet(["--server-threads", "3"], environment: ["GLIBC_TUNABLES": ""])
        defer { threaded.stop() }
        let deadline = Date().addingTimeInterval(10)
        while try advisedThreadHeaps(of: threaded) < 2 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(try advisedThreadHeaps(of: threaded) >= 2)

        let optedOut = try ServerProcess.swiftlet(environment: ["GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"])
        defer { optedOut.stop() }
        #expect(try glibcTunables(of: optedOut) == "glibc.malloc.hugetlb=0")
    }
}
