// What Redis's Tcl suite needs to start Swiftlet itself (internal mode, see scripts/redis-tcl
// --internal): a config file with the directives of the suite's tests/assets/default.conf and
// the per-server additions (dir, port, unixsocket), a banner on stdout naming " PID: <pid>",
// and "Ready to accept connections" once it serves.
import Foundation
import Testing
import TestSupport

@Suite(.serialized)
struct TclHarnessTests {
    /// The suite's default.conf directives (its `save 900 1` included), one per line.
    static let harnessDirectives = """
        always-show-logo yes
        notify-keyspace-events KEA
        daemonize no
        timeout 0
        loglevel verbose
        logfile ''
        databases 16
        latency-monitor-threshold 1
        repl-diskless-sync-delay 0
        save 900 1
        rdbcompression yes
        dbfilename dump.rdb
        slave-serve-stale-data yes
        appendonly no
        appendfsync everysec
        no-appendfsync-on-rewrite no
        activerehashing yes
        enable-protected-configs yes
        enable-debug-command yes
        enable-module-command yes
        propagation-error-behavior panic

        """

    @Test func startsFromTheHarnessConfigAndAnnouncesItsPID() throws {
        let binary = try #require(ServerProcess.swiftletBinary)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-tcl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("redis.conf")
        let extra = "pidfile \(directory.path)/redis.pid\nunixsocket \(directory.path)/socket\n"
        try (TclHarnessTests.harnessDirectives + extra).write(to: file, atomically: true, encoding: .utf8)
        let server = try ServerProcess(binary: binary, arguments: [file.path])
        defer { server.stop() }
        #expect(server.logs(" PID: \(server.pid)\n"))
        #expect(server.logs("Ready to accept connections"))
        let client = try RespClient(port: server.port)
        #expect(try client.call("CONFIG", "GET", "propagation-error-behavior")
                == .array([.bulk(Array("propagation-error-behavior".utf8)), .bulk(Array("panic".utf8))]))
        // Overrides unit/maxmemory sets at run time.
        #expect(try client.call("CONFIG", "SET", "maxmemory-clients", "3mb") == .simple("OK"))
        #expect(try client.call("CONFIG", "SET", "client-output-buffer-limit", "replica 100000000 100000000 300") == .simple("OK"))
        #expect(try client.call("CONFIG", "SET", "repl-backlog-size", "10240") == .simple("OK"))
    }

    @Test func withoutTheLogoOneLineNamesPortAndThreads() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "2"])
        defer { server.stop() }
        #expect(server.logs("Running mode=standalone, port=\(server.port), server-threads=2."))
        #expect(!server.log.contains(" PID: "))
    }
}
