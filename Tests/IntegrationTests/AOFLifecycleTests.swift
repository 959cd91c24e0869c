// The append-only file across restarts: a truncated last command is dropped (and the file
// cut) under aof-load-truncated, a corrupt file refuses to start, BGREWRITEAOF under
// concurrent writes loses nothing (function libraries included) with an RDB or a RESP base,
// CONFIG SET appendonly yes writes the data as a new base, and the crash tests: under
// appendfsync always every acknowledged write survives SIGKILL at random moments, and with
// RDB alone a restart always finds a complete, loadable snapshot.
import Foundation
import Testing
import TestSupport

@Suite(.serialized) struct AOFLifecycleTests {
    private func start(_ directory: URL, _ arguments: [String] = []) throws -> ServerProcess {
        try ServerProcess.swiftlet(["--appendonly", "yes", "--dir", directory.path] + arguments)
    }

    private func incrementalFile(_ directory: URL, seq: Int = 1) -> URL {
        directory.appendingPathComponent("appendonlydir/appendonly.aof.\(seq).incr.aof")
    }

    @Test func truncatedLastCommandIsDroppedAndTheFileCut() throws {
        let directory = try makeAOFTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try start(directory)
        _ = try RespClient(port: first.port).call("set", "kept", "1")
        first.stop()
        let file = incrementalFile(directory)
        let intact = try Data(contentsOf: file)
        let handle = try FileHandle(forWritingTo: file)
        handle.seekToEndOfFile()
        handle.write(Data("*3\r\n$3\r\nSET\r\n$4\r\nlost".utf8))
        handle.closeFile()

        let second = try start(directory)
        defer { second.stop() }
        #expect(try RespClient(port: second.port).call("get", "kept") == .bulk(Array("1".utf8)))
        #expect(second.logs("!!! Truncating the AOF appendonly.aof.1.incr.aof at offset \(intact.count) !!!"))
        #expect(second.logs("AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is enabled"))
        #expect(try Data(contentsOf: file).count == intact.count)
    }

    /// While DEBUG LOADAOF replays a script that runs past busy-reply-threshold, other
    /// clients are told LOADING (not BUSY), as Redis tells them.
    @Test func clientsGetLoadingWhileAnAOFScriptRunsLong() throws {
        let directory = try makeAOFTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try start(directory)
        _ = try RespClient(port: first.port).call("set", "kept", "1")
        first.stop()
        let script = "redis.call('set',KEYS[1],'y'); for i=1,300000 do redis.call('ping') end return 'ok'"
        let handle = try FileHandle(forWritingTo: incrementalFile(directory))
        handle.seekToEndOfFile()
        handle.write(Data(RespClient.encode(["eval", script, "1", "x"].map { Array($0.utf8) })))
        handle.closeFile()

        let server = try start(directory, ["--busy-reply-threshold", "1"])
        defer { server.stop() }
        let loader = try RespClient(port: server.port, timeoutSeconds: 60)
        let other = try RespClient(port: server.port)
        try loader.send(["DEBUG", "LOADAOF"])
        var reply = try other.call("PING")
        let deadline = Date().addingTimeInterval(20)
        while reply == .simple("PONG") && Date() < deadline { reply = try other.call("PING") }
        #expect(reply.description == "-LOADING Redis is loading the dataset in memory")
        #expect(try loader.readReply().value == .simple("OK"))
        #expect(try other.call("GET", "x") == .bulk(Array("y".utf8)))
        #expect(try other.call("GET", "kept") == .bulk(Array("1".utf8)))
    }

    @Test func truncatedFileRefusesToStartWithoutAofLoadTruncated() throws {
        let directory = try makeAOFTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try start(directory)
        _ = try RespClient(port: first.port).call("set", "kept", "1")
        first.stop()
        let handle = try FileHandle(forWritingTo: incrementalFile(directory))
        handle.seekToEndOfFile()
        handle.write(Data("*3\r\n$3\r\nSET".utf8))
        handle.closeFile()
        #expect(throws: ServerProcess.Failure.self) { try start(directory, ["--aof-load-truncated", "no"]) }
    }

    @Test func corruptMiddleRefusesToStart() throws {
        let directory = try makeAOFTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try start(directory)
        _ = try RespClient(port: first.port).call("set", "a", "1")
        first.stop()
        let handle = try FileHandle(forWritingTo: incrementalFile(directory))
        handle.seekToEndOfFile()
        handle.write(Data("garbage\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n".utf8))
        handle.closeFile()
        #expect(throws: ServerProcess.Failure.self) { try start(directory) }
    }

    /// With either base format (an RDB, or RESP commands under aof-use-rdb-preamble no).
    @Test(arguments: ["yes", "no"]) func rewriteUnderConcurrentWritesLosesNothing(preamble: String) throws {
        let directory = try makeAOFTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try start(directory, ["--server-threads", "4", "--aof-use-rdb-preamble", preamble])
        let control = try RespClient(port: server.port)
        let writers = 3, writesEach = 1500
        let group = DispatchGroup()
        for writer in 0..<writers {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                guard let client = try? RespClient(port: server.port) else { return }
                for index in 0..<writesEach {
                    _ = try? client.call("set", "w\(writer):\(index)", String(index))
                    _ = try? client.call("incr", "counter")
                    _ = try? client.call("rpush", "list\(writer)", String(index))
                }
            }
        }
        var rewrites = 0
        while group.wait(timeout: .now() + .milliseconds(150)) == .timedOut {
            let reply = try control.call("bgrewriteaof")
            if reply.text?.hasPrefix("Background append only file rewriting") == true { rewrites += 1 }
            try waitForAOFRewrite(control)
        }
        try waitForAOFRewrite(control)
        #expect(rewrites >= 1)
        #expect(try control.call("get", "counter") == .bulk(Array(String(writers * writesEach).utf8)))
        let digest = try control.call("debug", "digest")
        let manifest = try String(contentsOf: directory.appendingPathComponent("appendonlydir/appendonly.aof.manifest"), encoding: .utf8)
        #expect(manifest.split(separator: "\n").count == 2, "\(manifest)")
        #expect(try aofBaseFile(in: directory)?.pathExtension == (preamble == "yes" ? "rdb" : "aof"), "\(manifest)")
        server.stop()

        let restarted = try start(directory)
        defer { restarted.stop() }
        let client = try RespClient(port: restarted.port)
        #expect(try client.call("debug", "digest") == digest)
        #expect(try client.call("dbsize") == .integer(Int64(writers * writesEach + writers + 1)))
    }

    /// A rewrite's base file carries the function libraries (in its RDB, or as FUNCTION LOAD
    /// commands), and the writes a script makes after it land in the new incremental file.
    @Test(arguments: ["yes", "no"]) func rewriteKeepsFunctionLibraries(preamble: String) throws {
        let directory = try makeAOFTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try start(directory, ["--aof-use-rdb-preamble", preamble])
        let client = try RespClient(port: server.port)
        let library = "#!lua name=kept\nredis.register_function('add', function(keys, args) return redis.call('incrby', keys[1], args[1]) end)"
        #expect(try client.call("function", "load", library) == .bulk(Array("kept".utf8)))
        _ = try client.call("fcall", "add", "1", "total", "5")
        _ = try client.call("bgrewriteaof")
        try waitForAOFRewrite(client)
        #expect(try client.call("fcall", "add", "1", "total", "2") == .integer(7))
        let libraries = try client.call("function", "list", "withcode")
        server.stop()

        let restarted = try start(directory)
        defer { restarted.stop() }
        let reloaded = try RespClient(port: restarted.port)
        #expect(try reloaded.call("function", "list", "withcode") == libraries)
        #expect(try reloaded.call("get", "total") == .bulk(Array("7".utf8)))
    }

    /// Swiftlet's own writes whose replay would not repeat them (CL.THROTTLE reads the clock,
    /// CACHE.FILL's token and the tags are gone after a restart) reach the file as the SETs and
    /// DELs they made, and a restart finds their data.
    @Test func swiftletCommandsPropagateWhatTheyChanged() throws {
        let directory = try makeAOFTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try start(directory, ["--appendfsync", "always"])
        let client = try RespClient(port: server.port)
        guard case .array(let decision?) = try client.call("cl.throttle", "limit", "5", "10", "60"),
              case .array(let fill?) = try client.call("cache.get", "cached", "lock", "1000"), fill.count == 2,
              let token = fill[1].text else {
            Issue.record("unexpected CL.THROTTLE or CACHE.GET reply")
            return
        }
        #expect(decision.first == .integer(0))
        #expect(try client.call("cache.fill", "cached", token, "value", "ex", "100") == .simple("OK"))
        _ = try client.call("mset", "a", "1", "b", "2", "c", "3")
        _ = try client.call("tag.add", "t", "a", "b")
        #expect(try client.call("tag.invalidate", "t") == .integer(2))
        let state = try client.call("get", "limit")
        let file = try String(contentsOf: incrementalFile(directory), encoding: .utf8).lowercased()
        for verbatim in ["cl.throttle", "cache.fill", "tag.invalidate"] { #expect(!file.contains(verbatim), "\(file)") }
        #expect(file.contains("pxat"))
        server.stop()

        let restarted = try start(directory)
        defer { restarted.stop() }
        let reloaded = try RespClient(port: restarted.port)
        #expect(try reloaded.call("get", "limit") == state)
        #expect(try reloaded.call("get", "cached") == .bulk(Array("value".utf8)))
        guard case .integer(let ttl) = try reloaded.call("ttl", "cached") else { Issue.record("no TTL"); return }
        #expect(ttl > 90 && ttl <= 100)
        #expect(try reloaded.call("exists", "a", "b", "c") == .integer(1))
    }

    @Test(arguments: ["yes", "no"]) func configSetAppendonlyWritesTheDataAsABase(preamble: String) throws {
        let directory = try makeAOFTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try ServerProcess.swiftlet(["--dir", directory.path, "--aof-use-rdb-preamble", preamble])
        let client = try RespClient(port: server.port)
        _ = try client.call("set", "before", "1")
        #expect(try persistenceInfo(client, "aof_enabled") == "0")
        #expect(try client.call("config", "set", "appendonly", "yes") == .simple("OK"))
        try waitForAOFRewrite(client)
        #expect(try persistenceInfo(client, "aof_enabled") == "1")
        _ = try client.call("set", "after", "2")
        let digest = try client.call("debug", "digest")
        server.stop()
        let restarted = try start(directory)
        defer { restarted.stop() }
        #expect(try RespClient(port: restarted.port).call("debug", "digest") == digest)
    }

    /// Writes until the server dies (killed by `killer` after a random delay); the keys whose
    /// SET was acknowledged, and the last acknowledged value of the counter.
    private func writeUntilKilled(_ server: ServerProcess, from first: Int, bgsaveEvery: Int? = nil) -> (keys: Range<Int>, counter: Int64) {
        let delay = Int.random(in: 20...150)
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(delay)) { server.signal(SIGKILL) }
        guard let client = try? RespClient(port: server.port) else { return (first..<first, 0) }
        var next = first, counter: Int64 = 0
        while true {
            guard (try? client.call("set", "key:\(next)", String(next))) == .simple("OK") else { break }
            next += 1
            guard case .integer(let value)? = try? client.call("incr", "counter") else { break }
            counter = value
            if let bgsaveEvery, next % bgsaveEvery == 0 { _ = try? client.call("bgsave") }
        }
        return (first..<next, counter)
    }

    @Test func everyAcknowledgedWriteSurvivesSigkillUnderAppendfsyncAlways() throws {
        let directory = try makeAOFTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var acknowledged = 0..<0
        var counter: Int64 = 0
        for cycle in 0..<20 {
            let server = try start(directory, ["--appendfsync", "always"])
            let client = try RespClient(port: server.port)
            if !acknowledged.isEmpty {
                let keys = acknowledged.map { "key:\($0)" }
                #expect(try client.call(["exists"] + keys) == .integer(Int64(keys.count)), "cycle \(cycle)")
                guard case .bulk(let value?)? = try? client.call("get", "counter"), let stored = Int64(String(decoding: value, as: UTF8.self)) else {
                    Issue.record("no counter after cycle \(cycle)")
                    server.stop()
                    return
                }
                #expect(stored >= counter, "cycle \(cycle)")
                counter = stored
            }
            let written = writeUntilKilled(server, from: acknowledged.upperBound)
            acknowledged = 0..<written.keys.upperBound
            counter = max(counter, written.counter)
            _ = server.waitForExit(seconds: 5)
            server.stop()
        }
        #expect(acknowledged.count > 20)
    }

    @Test func rdbAloneAlwaysRestartsFromACompleteSnapshot() throws {
        let directory = try makeAOFTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var next = 0
        var loads = 0
        for cycle in 0..<20 {
            let server = try ServerProcess.swiftlet(["--dir", directory.path, "--save", "1 1"])
            let dump = directory.appendingPathComponent("dump.rdb").path
            if FileManager.default.fileExists(atPath: dump) {
                let check = try ChildProcess.run("/usr/bin/redis-check-rdb", [dump])
                #expect(check.status == 0 && check.output.contains("RDB looks OK"), "cycle \(cycle): \(check.output)")
                #expect(server.logs("DB loaded from disk"), "cycle \(cycle)")
                loads += 1
            }
            next = writeUntilKilled(server, from: next, bgsaveEvery: 40).keys.upperBound
            _ = server.waitForExit(seconds: 5)
            server.stop()
        }
        #expect(loads >= 15)
    }
}
