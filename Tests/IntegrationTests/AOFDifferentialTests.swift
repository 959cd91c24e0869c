// The append-only file against a real redis-server 7.0.15: the incremental file Swiftlet
// writes for a list of commands is the one Redis writes (timestamps aside), a Swiftlet
// appendonlydir passes redis-check-aof and loads into Redis with the same digest, and Redis's
// loads into Swiftlet with the same digest. Redis's files are the reference throughout.
import Foundation
import Testing
import TestSupport

/// Writes whose propagated forms differ from the commands: relative TTLs, float increments,
/// pops, blocking commands served at once, deletions by GETDEL/GETEX/EXPIRE, transactions,
/// database changes and commands that change nothing (which propagate nothing).
private let propagationCommands: [[String]] = [
    ["set", "a", "1"], ["set", "b", "2", "ex", "100"], ["set", "b2", "2", "px", "100000", "nx"],
    ["setex", "c", "100", "x"], ["psetex", "c2", "100000", "x"], ["set", "g", "v", "get"],
    ["set", "a", "9", "nx"], ["del", "missing"], ["incr", "counter"],
    ["incrbyfloat", "f", "1.5"], ["hincrbyfloat", "h", "f", "2.5"], ["expire", "a", "1000"],
    ["pexpire", "a", "2000000", "gt"], ["expireat", "g", "4000000000"], ["pexpireat", "g", "4000000000000"],
    ["getex", "c", "ex", "50"], ["getex", "c", "persist"], ["getdel", "b"], ["expire", "c2", "-1"],
    ["sadd", "s", "x"], ["spop", "s"], ["sadd", "t", "a"], ["spop", "t", "5"],
    ["rpush", "l", "1", "2", "3", "4", "5"], ["lpop", "l"], ["blpop", "l", "0"], ["brpop", "l", "0"],
    ["lmpop", "1", "l", "left", "count", "1"], ["blmpop", "0", "1", "l", "right"],
    ["rpush", "l", "a", "b"], ["brpoplpush", "l", "l2", "0"], ["blmove", "l", "l2", "left", "right", "0"],
    ["zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d"], ["bzpopmin", "z", "0"], ["bzpopmax", "z", "0"],
    ["zmpop", "1", "z", "min", "count", "5"], ["multi"], ["incr", "n"], ["incr", "n"], ["exec"],
    ["multi"], ["incr", "n"], ["get", "n"], ["exec"], ["select", "3"], ["set", "x", "y"], ["flushdb"],
    ["set", "q", "w"], ["swapdb", "0", "3"], ["select", "0"], ["flushall"],
    ["geoadd", "geo", "CH", "13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania"],
    ["geoadd", "geo", "13.361389", "38.115556", "Palermo"], ["geoadd", "geo", "xx", "14", "38", "Palermo", "1", "1", "nope"],
    ["georadius", "geo", "15", "37", "200", "km", "STOREDIST", "near"], ["georadius", "geo", "0", "0", "1", "km", "STORE", "near"],
    ["geosearchstore", "found", "geo", "FROMMEMBER", "Palermo", "BYRADIUS", "300", "km"],
    ["set", "end", "1"],
]

@Suite(.serialized) struct AOFDifferentialTests {
    private static let aofArguments = ["--appendonly", "yes", "--appendfsync", "always"]

    /// The incremental file's text with 10- and 13-digit timestamps masked.
    private func incrementalText(_ server: ServerProcess) throws -> String {
        let directory = server.directory.appendingPathComponent("appendonlydir")
        let bytes = try Data(contentsOf: directory.appendingPathComponent("appendonly.aof.1.incr.aof"))
        let text = String(decoding: bytes, as: UTF8.self)
        return text.replacingOccurrences(of: "\\$1[03]\r\n[0-9]{10,13}\r\n", with: "$TIME\r\n", options: .regularExpression)
    }

    @Test func incrementalFileMatchesRedisCommandByCommand() throws {
        let swiftlet = try ServerProcess.swiftlet(Self.aofArguments)
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis(Self.aofArguments)
        defer { redis.stop() }
        let ours = try RespClient(port: swiftlet.port)
        let theirs = try RespClient(port: redis.port)
        for command in propagationCommands {
            #expect(try ours.call(command).description == (try theirs.call(command)).description, "\(command)")
        }
        let expected = try incrementalText(redis)
        #expect(expected.contains("PXAT"))
        #expect(try incrementalText(swiftlet) == expected)
    }

    /// Blocking commands served by a later push propagate after it, as their plain forms.
    @Test func blockedCommandsServedLaterMatchRedis() throws {
        let swiftlet = try ServerProcess.swiftlet(Self.aofArguments)
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis(Self.aofArguments)
        defer { redis.stop() }
        let waits = [["blpop", "l", "0"], ["blmove", "src", "dst", "right", "left", "0"], ["brpoplpush", "src2", "dst", "0"],
                     ["bzpopmin", "z", "0"], ["blmpop", "0", "1", "l2", "left", "count", "3"]]
        let pushes = [["rpush", "l", "a", "b"], ["rpush", "src", "x"], ["rpush", "src2", "y"], ["zadd", "z", "1", "m"],
                      ["rpush", "l2", "1", "2"]]
        for server in [swiftlet, redis] {
            let writer = try RespClient(port: server.port)
            var waiters: [RespClient] = []
            for wait in waits {
                let waiter = try RespClient(port: server.port)
                try waiter.send(wait)
                waiters.append(waiter)
            }
            #expect(try server.waitForBlockedClients(waits.count))
            for push in pushes { _ = try writer.call(push) }
            for waiter in waiters { _ = try waiter.readReply() }
        }
        #expect(try incrementalText(swiftlet) == (try incrementalText(redis)))
    }

    @Test func lazyExpiryPropagatesAsDel() throws {
        let swiftlet = try ServerProcess.swiftlet(Self.aofArguments + ["--hz", "1"])
        defer { swiftlet.stop() }
        let client = try RespClient(port: swiftlet.port)
        _ = try client.call("debug", "set-active-expire", "0")
        _ = try client.call("set", "soon", "v", "px", "20")
        usleep(50_000)
        #expect(try client.call("get", "soon") == .bulk(nil))
        let text = try incrementalText(swiftlet)
        #expect(text.hasSuffix("*2\r\n$3\r\nDEL\r\n$4\r\nsoon\r\n"), "\(text)")
    }

    /// SPOP with a count propagates one SREM per member it took, in a MULTI/EXEC (Redis's shape).
    @Test func randomPopsPropagateTheMembersTheyRemoved() throws {
        let swiftlet = try ServerProcess.swiftlet(Self.aofArguments)
        defer { swiftlet.stop() }
        let client = try RespClient(port: swiftlet.port)
        _ = try client.call(["sadd", "u"] + (1...10).map(String.init))
        guard case .array(let popped?) = try client.call("spop", "u", "3") else { Issue.record("no reply"); return }
        let srems = popped.compactMap(\.text).map { "*3\r\n$4\r\nSREM\r\n$1\r\nu\r\n$\($0.utf8.count)\r\n\($0)\r\n" }
        #expect(srems.count == 3)
        let text = try incrementalText(swiftlet)
        #expect(text.hasSuffix("*1\r\n$5\r\nMULTI\r\n" + srems.joined() + "*1\r\n$4\r\nEXEC\r\n"), "\(text)")
    }

    /// Scripts propagate the writes they made (several wrapped in MULTI/EXEC, none for a
    /// read-only run, none while redis.set_repl leaves REPL_AOF out), functions propagate
    /// FUNCTION LOAD/DELETE/FLUSH/RESTORE as themselves, and Swiftlet started on the
    /// directory gets the same libraries and data back (the key written unrecorded is deleted
    /// first, so the data is all in the file).
    @Test func scriptsAndFunctionsPropagateLikeRedis() throws {
        let swiftlet = try ServerProcess.swiftlet(Self.aofArguments + ["--server-threads", "2"])
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis(Self.aofArguments)
        defer { redis.stop() }
        let library = "#!lua name=lib\nredis.register_function('bump', function(keys) redis.call('incr', keys[1]) return redis.call('incr', keys[1]) end)"
        let other = "#!lua name=other\nredis.register_function('noop', function() return 1 end)"
        let commands: [[String]] = [
            ["eval", "redis.call('set', KEYS[1], 'v') return redis.call('incr', KEYS[2])", "2", "k1", "k2"],
            ["eval", "return redis.call('set', KEYS[1], ARGV[1])", "1", "k3", "one"],
            ["eval", "return redis.call('expire', KEYS[1], 100)", "1", "k3"],
            ["eval", "return redis.call('get', KEYS[1])", "1", "k3"],
            ["eval", "redis.call('set', KEYS[1], 'w') return redis.call('sinterstore', KEYS[2], KEYS[3])", "3", "k4", "dest", "none"],
            ["eval", "redis.set_repl(redis.REPL_NONE) redis.call('set', KEYS[1], 'hidden') redis.set_repl(redis.REPL_ALL) return redis.call('set', KEYS[2], 'shown')", "2", "k5", "k6"],
            ["del", "k5"],
            ["eval", "redis.call('set', KEYS[1], 'kept') error('after the write')", "1", "k7"],
            ["multi"], ["eval", "return redis.call('incr', KEYS[1])", "1", "k2"], ["set", "k8", "x"], ["exec"],
            ["function", "load", library], ["fcall", "bump", "1", "counter"], ["fcall_ro", "bump", "1", "counter"],
            ["function", "load", "replace", library], ["function", "load", other], ["function", "delete", "other"],
            ["function", "delete", "missing"], ["function", "flush"], ["function", "load", library],
            ["select", "2"], ["eval", "return redis.call('set', KEYS[1], 'db2')", "1", "k9"], ["select", "0"],
        ]
        let ours = try RespClient(port: swiftlet.port)
        let theirs = try RespClient(port: redis.port)
        for command in commands {
            #expect(try ours.call(command).description == (try theirs.call(command)).description, "\(command)")
        }
        let dump = try theirs.call("function", "dump")
        for client in [ours, theirs] {
            _ = try client.call("function", "flush")
            guard case .bulk(let payload?) = dump else { Issue.record("no FUNCTION DUMP payload"); return }
            try client.send(bytes: ["FUNCTION", "RESTORE"].map { Array($0.utf8) } + [payload])
            #expect(try client.readReply().value == .simple("OK"))
        }
        #expect(try incrementalText(swiftlet) == (try incrementalText(redis)))

        let copy = try copyAppendOnlyDirectory(of: swiftlet)
        defer { try? FileManager.default.removeItem(at: copy) }
        let restarted = try ServerProcess.swiftlet(Self.aofArguments + ["--dir", copy.path])
        defer { restarted.stop() }
        let reloaded = try RespClient(port: restarted.port)
        #expect(try reloaded.call("debug", "digest") == ours.call("debug", "digest"))
        #expect(try reloaded.call("function", "list", "withcode") == theirs.call("function", "list", "withcode"))
        #expect(try reloaded.call("fcall", "bump", "1", "counter") == theirs.call("fcall", "bump", "1", "counter"))
    }

    @Test func appendOnlyDirectoriesCrossBothWays() throws {
        let swiftlet = try ServerProcess.swiftlet(Self.aofArguments)
        let redis = try ServerProcess.redis(Self.aofArguments)
        defer { swiftlet.stop(); redis.stop() }
        for server in [swiftlet, redis] {
            let client = try RespClient(port: server.port)
            for command in propagationCommands.dropLast(3) { _ = try client.call(command) }
            _ = try client.call("rpush", "list", "a", "b", "c")
            _ = try client.call("hset", "hash", "f", "v")
            _ = try client.call("zadd", "zset", "1.5", "m")
        }
        let check = try ChildProcess.run("/usr/bin/redis-check-aof",
                                         [swiftlet.directory.appendingPathComponent("appendonlydir/appendonly.aof.manifest").path])
        #expect(check.status == 0 && check.output.contains("All AOF files and manifest are valid"), "\(check.output)")
        let ourDigest = try RespClient(port: swiftlet.port).call("debug", "digest")
        let theirDigest = try RespClient(port: redis.port).call("debug", "digest")
        #expect(ourDigest == theirDigest)

        // Each directory, copied while its server still runs, loads into the other server.
        let redisLoads: ([String]) throws -> ServerProcess = { try ServerProcess.redis($0) }
        let swiftletLoads: ([String]) throws -> ServerProcess = { try ServerProcess.swiftlet($0) }
        for (source, loadsInto, digest) in [(swiftlet, redisLoads, ourDigest), (redis, swiftletLoads, theirDigest)] {
            let copy = try copyAppendOnlyDirectory(of: source)
            defer { try? FileManager.default.removeItem(at: copy) }
            let loaded = try loadsInto(Self.aofArguments + ["--dir", copy.path])
            defer { loaded.stop() }
            #expect(try RespClient(port: loaded.port).call("debug", "digest") == digest)
        }
    }
}
