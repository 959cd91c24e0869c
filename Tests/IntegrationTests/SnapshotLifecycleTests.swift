// Snapshots over a server's life: a restart loads what SHUTDOWN SAVE or SIGTERM (with save
// rules) wrote, a corrupt dump.rdb stops the server from starting, BGSAVE is point in time
// while writers keep changing keys, and a failed background save turns writes (and PING)
// into MISCONF until saving works again or stop-writes-on-bgsave-error is off; a snapshot whose
// shards writers captured out of order, across databases, is still a file real Redis loads,
// and idle times under an LRU policy survive a reload (ours and Redis's).
import Foundation
import Testing
import TestSupport

@Suite(.serialized)
struct SnapshotLifecycleTests {
    private func makeDirectory() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-rdb-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    private func info(_ client: RespClient, _ field: String) throws -> String? {
        let text = try client.call("info", "persistence").description
        return text.split(whereSeparator: \.isNewline).first { $0.hasPrefix(field + ":") }
            .map { String($0.dropFirst(field.count + 1)) }
    }

    private func waitForBackgroundSave(_ client: RespClient) throws {
        let deadline = Date().addingTimeInterval(30)
        while try info(client, "rdb_bgsave_in_progress") == "1" && Date() < deadline { usleep(10_000) }
    }

    @Test func restartsLoadWhatShutdownAndSigtermSaved() throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try ServerProcess.swiftlet(["--dir", directory.path])
        let client = try RespClient(port: first.port)
        _ = try client.call("set", "kept", "value")
        _ = try client.call("rpush", "list", "a", "b", "c")
        _ = try client.call("set", "ttl", "x", "ex", "1000")
        // SHUTDOWN replies nothing when it succeeds: the connection just closes.
        try client.send(["shutdown", "save"])
        #expect(first.waitForExit(seconds: 10) == 0)
        first.stop()

        let second = try ServerProcess.swiftlet(["--dir", directory.path, "--save", "3600 1"])
        defer { second.stop() }
        let again = try RespClient(port: second.port)
        #expect(second.logs("DB loaded from disk:"))
        #expect(try again.call("get", "kept").description == "\"value\"")
        #expect(try again.call("lrange", "list", "0", "-1").description == "[\"a\", \"b\", \"c\"]")
        guard case .integer(let ttl) = try again.call("ttl", "ttl") else { Issue.record("no ttl"); return }
        #expect(ttl > 990 && ttl <= 1000)
        #expect(try info(again, "rdb_last_load_keys_loaded") == "3")
        _ = try again.call("set", "added", "after-restart")
        second.signal(SIGTERM)
        #expect(second.waitForExit(seconds: 10) == 0)
        #expect(second.logs("Saving the final RDB snapshot before exiting."))

        let third = try ServerProcess.swiftlet(["--dir", directory.path])
        defer { third.stop() }
        let last = try RespClient(port: third.port)
        #expect(try last.call("get", "added").description == "\"after-restart\"")
        // With save rules, FLUSHALL writes the empty dataset at once.
        _ = try last.call("config", "set", "save", "3600 1")
        _ = try last.call("flushall")
        #expect(try last.call("debug", "reload", "nosave").description == "+OK")
        #expect(try last.call("dbsize").description == ":0")
    }

    @Test func aCorruptFileStopsTheStart() throws {
        let directory = try makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data("REDIS0010\u{FA}garbage".utf8).write(to: directory.appendingPathComponent("dump.rdb"))
        let server = try ServerProcess(binary: try #require(ServerProcess.swiftletBinary),
                                       arguments: ["--save", "", "--dir", directory.path], waitUntilReady: false)
        defer { server.stop() }
        let status = server.waitForExit(seconds: 10)
        #expect(status != nil && status != 0)
        #expect(server.logs("Fatal error loading the DB"))
    }

    @Test func backgroundSavesArePointInTime() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        let keys = 100_000
        for start in stride(from: 0, to: keys, by: 1000) {
            for index in start..<start + 1000 { try client.send(["set", "key:\(index)", "old-\(index)"]) }
            for _ in 0..<1000 { _ = try client.readReply() }
        }
        _ = try client.call("rpush", "list", "first")
        #expect(try client.call("bgsave").description == "+Background saving started")
        // Writers keep going while the snapshot runs; none of this may reach the file.
        for start in stride(from: 0, to: keys, by: 1000) {
            for index in start..<start + 1000 { try client.send(["set", "key:\(index)", "new"]) }
            try client.send(["set", "created:\(start)", "x"])
            try client.send(["rpush", "list", "later"])
            for _ in 0..<1002 { _ = try client.readReply() }
        }
        try waitForBackgroundSave(client)
        #expect(try info(client, "rdb_last_bgsave_status") == "ok")
        #expect(try client.call("debug", "reload", "nosave").description == "+OK")
        #expect(try client.call("dbsize").description == ":\(keys + 1)")
        #expect(try client.call("lrange", "list", "0", "-1").description == "[\"first\"]")
        for index in stride(from: 0, to: keys, by: 997) {
            #expect(try client.call("get", "key:\(index)").description == "\"old-\(index)\"")
        }
    }

    @Test(.enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
    func shardsCapturedOutOfOrderMakeAFileRedisLoads() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        for db in 0..<4 {
            _ = try client.call("select", String(db))
            _ = try client.call("debug", "populate", "5000", "db\(db)")
            _ = try client.call("set", "volatile:\(db)", "v", "ex", "1000")
        }
        let before = try client.call("debug", "digest").description
        // A slow save, so that writers in every database capture shards well before it
        // reaches them.
        _ = try client.call("config", "set", "rdb-key-save-delay", "20")
        #expect(try client.call("bgsave").description == "+Background saving started")
        for round in 0..<200 {
            for db in 0..<4 {
                try client.send(["select", String(db)])
                try client.send(["set", "db\(db):\(round * 25 % 5000)", "changed"])
                try client.send(["set", "new:\(round)", "x"])
            }
            for _ in 0..<12 { _ = try client.readReply() }
        }
        try waitForBackgroundSave(client)
        #expect(try info(client, "rdb_last_bgsave_status") == "ok")
        let file = server.directory.appendingPathComponent("dump.rdb").path
        let (status, report) = try ChildProcess.run("/usr/bin/redis-check-rdb", [file])
        #expect(status == 0 && report.contains("RDB looks OK"), "\(report)")

        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        try FileManager.default.copyItem(at: server.directory.appendingPathComponent("dump.rdb"),
                                         to: redis.directory.appendingPathComponent("dump.rdb"))
        let theirs = try RespClient(port: redis.port)
        #expect(try theirs.call("debug", "reload", "nosave").description == "+OK")
        #expect(try theirs.call("debug", "digest").description == before)
        #expect(try client.call("debug", "reload", "nosave").description == "+OK")
        #expect(try client.call("debug", "digest").description == before)
    }

    /// Under an LRU policy a snapshot keeps each key's idle time. Idle times count whole
    /// seconds, so a reload that straddles a tick may add one; that is why this is not a
    /// byte-for-byte differential case.
    @Test(.enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
    func idleTimesSurviveAReloadAndReachRedis() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        _ = try client.call("config", "set", "maxmemory-policy", "allkeys-lru")
        _ = try client.call("set", "source", "value")
        guard case .bulk(let payload?) = try client.call("dump", "source") else {
            Issue.record("DUMP gave no payload")
            return
        }
        try client.send(bytes: [Array("restore".utf8), Array("idle".utf8), Array("0".utf8), payload,
                             Array("idletime".utf8), Array("1000".utf8)])
        #expect(try client.readReply().value == .simple("OK"))
        #expect(try client.call("debug", "reload").description == "+OK")
        let idleRange = 1000...1002
        guard case .integer(let ours) = try client.call("object", "idletime", "idle") else {
            Issue.record("OBJECT IDLETIME gave no integer")
            return
        }
        #expect(idleRange.contains(Int(ours)), "idle \(ours) after reload")

        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        try FileManager.default.copyItem(at: server.directory.appendingPathComponent("dump.rdb"),
                                         to: redis.directory.appendingPathComponent("dump.rdb"))
        let theirs = try RespClient(port: redis.port)
        _ = try theirs.call("config", "set", "maxmemory-policy", "allkeys-lru")
        #expect(try theirs.call("debug", "reload", "nosave").description == "+OK")
        guard case .integer(let redisIdle) = try theirs.call("object", "idletime", "idle") else {
            Issue.record("Redis's OBJECT IDLETIME gave no integer")
            return
        }
        #expect(idleRange.contains(Int(redisIdle)), "Redis read idle \(redisIdle) from our file")
    }

    @Test func aSlowBackgroundSaveIsExclusiveAndFlushallCancelsIt() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        #expect(try client.call("debug", "populate", "2000").description == "+OK")
        #expect(try client.call("debug", "populate", "-1").description == "-ERR value is out of range, must be positive")
        _ = try client.call("config", "set", "rdb-key-save-delay", "1000")
        #expect(try client.call("bgsave").description == "+Background saving started")
        #expect(try client.call("bgsave").description == "-ERR Background save already in progress")
        #expect(try client.call("bgsave", "schedule").description == "-ERR Background save already in progress")
        #expect(try client.call("save").description == "-ERR Background save already in progress")
        #expect(try info(client, "rdb_bgsave_in_progress") == "1")
        // Writers are not held up by the slow snapshot.
        #expect(try client.call("set", "key:1", "changed").description == "+OK")
        #expect(try client.call("flushall").description == "+OK")
        #expect(try info(client, "rdb_bgsave_in_progress") == "0")
        #expect(try info(client, "rdb_last_bgsave_status") == "ok")
        guard case .integer(let changes) = try client.call("dbsize") else { Issue.record("no dbsize"); return }
        #expect(changes == 0)
        #expect(Int(try info(client, "rdb_changes_since_last_save") ?? "0")! > 2000)
        #expect(server.logs("Background saving terminated by signal"))
    }

    @Test func aFailedBackgroundSaveStopsWrites() throws {
        let directory = try makeDirectory()
        let server = try ServerProcess.swiftlet(["--dir", directory.path, "--save", "3600 1"])
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        _ = try client.call("set", "k", "v")
        try FileManager.default.removeItem(at: directory)
        #expect(try client.call("bgsave").description == "+Background saving started")
        try waitForBackgroundSave(client)
        #expect(try info(client, "rdb_last_bgsave_status") == "err")
        let misconf = "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error."
        #expect(try client.call("set", "k", "w").description == misconf)
        #expect(try client.call("ping").description == misconf)
        #expect(try client.call("get", "k").description == "\"v\"")
        _ = try client.call("config", "set", "stop-writes-on-bgsave-error", "no")
        #expect(try client.call("set", "k", "w").description == "+OK")
        _ = try client.call("config", "set", "stop-writes-on-bgsave-error", "yes")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try client.call("bgsave").description == "+Background saving started")
        try waitForBackgroundSave(client)
        #expect(try info(client, "rdb_last_bgsave_status") == "ok")
        #expect(try client.call("set", "k", "x").description == "+OK")
        #expect(try info(client, "rdb_changes_since_last_save") == "1")
    }
}
