// BGREWRITEAOF with `aof-use-rdb-preamble no` against a real redis-server 7.0.15: the base
// file is the RESP commands Redis's rewrite writes for the same data (every type in its small
// and large encodings, expires, two databases, a function library), compared per key since
// the servers visit keys in different orders; redis-check-aof accepts the directory, Redis
// and Swiftlet started on copies of it have the same data and libraries, and the setting
// switches live between an RDB base and a RESP one.
import Foundation
import Testing
import TestSupport

/// Keys named "ordered:..." hold encodings both servers walk in the same order (strings,
/// lists, intsets, listpacks); the others are hashtables and skiplists.
private let dataset: [[String]] = {
    var commands: [[String]] = [
        ["set", "ordered:int", "12345"], ["set", "ordered:negative", "-7"], ["set", "ordered:embstr", "hello"],
        ["set", "ordered:raw", String(repeating: "r", count: 100)], ["set", "ordered:float", "1.5"],
        ["rpush", "ordered:list"] + (1...150).map { $0 % 3 == 0 ? "e\($0)" : String($0) },
        ["rpush", "ordered:shortlist", "a", "b", "1"],
        ["sadd", "ordered:intset"] + (1...130).map { String($0 * 7 - 300) },
        ["sadd", "set"] + (1...140).map { "member\($0)" },
        ["zadd", "ordered:zset", "1", "a", "2.5", "b", "0.1", "c", "-3", "d", "inf", "e", "-inf", "f", "1e300", "g", "7", "100"],
        ["hset", "ordered:hash", "f1", "v1", "f2", "2", "3", "three"],
        ["pexpireat", "ordered:int", "4000000000000"], ["set", "ordered:ttl", "v", "pxat", "4100000000000"],
        ["expireat", "ordered:zset", "4200000000"],
        ["function", "load", "#!lua name=rewritelib\nredis.register_function('hello', function() return 'hi' end)"],
        ["select", "1"], ["set", "ordered:db1", "x"], ["rpush", "ordered:db1list", "a", "b"], ["select", "0"],
    ]
    var zadd = ["zadd", "zset"], hset = ["hset", "hash"]
    for index in 1...150 { zadd += [String(Double(index) * 0.5 + 0.1), "m\(index)"] }
    for index in 1...600 { hset += ["field\(index)", index % 2 == 0 ? String(index) : "value\(index)"] }
    commands += [zadd, hset, ["pexpireat", "hash", "4300000000000"]]
    return commands
}()

@Suite(.serialized) struct AOFRewriteTests {
    private static let arguments = ["--appendonly", "yes", "--appendfsync", "always", "--aof-use-rdb-preamble", "no"]

    /// Each key's rewrite commands: their names and sizes in order, and their items (after the
    /// key; pairs for ZADD and HMSET) in order for "ordered:" keys, sorted for the others.
    /// FUNCTION LOADs are grouped under "function".
    private func rewriteByKey(_ commands: [(db: Int, args: [String])]) -> [String: [String]] {
        var shapes: [String: [String]] = [:], items: [String: [String]] = [:]
        for (db, args) in commands {
            let name = args[0].uppercased()
            let key = name == "FUNCTION" ? "function" : "\(db)/\(args[1])"
            shapes[key, default: []].append("\(name) \(args.count)")
            let rest = Array(args.dropFirst(2))
            let width = name == "ZADD" || name == "HMSET" ? 2 : 1
            items[key, default: []] += stride(from: 0, to: rest.count, by: width).map { rest[$0..<$0 + width].joined(separator: " ") }
        }
        return shapes.reduce(into: [:]) { result, element in
            let kept = items[element.key] ?? []
            result[element.key] = element.value + (element.key.contains("/ordered:") ? kept : kept.sorted())
        }
    }

    @Test func respBaseMatchesRedisAndLoadsIntoBoth() throws {
        let swiftlet = try ServerProcess.swiftlet(Self.arguments + ["--server-threads", "2"])
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis(Self.arguments)
        defer { redis.stop() }
        let ours = try RespClient(port: swiftlet.port)
        let theirs = try RespClient(port: redis.port)
        for command in dataset {
            #expect(try ours.call(command).description == (try theirs.call(command)).description, "\(command)")
        }
        for (key, encoding) in [("ordered:list", "quicklist"), ("ordered:intset", "intset"), ("set", "hashtable"),
                                ("ordered:zset", "listpack"), ("zset", "skiplist"), ("ordered:hash", "listpack"),
                                ("hash", "hashtable"), ("ordered:int", "int"), ("ordered:embstr", "embstr"), ("ordered:raw", "raw")] {
            #expect(try ours.call("object", "encoding", key) == .bulk(Array(encoding.utf8)), "\(key)")
        }
        let digest = try theirs.call("debug", "digest")
        #expect(try ours.call("debug", "digest") == digest)
        for client in [ours, theirs] {
            #expect(try client.call("bgrewriteaof") == .simple("Background append only file rewriting started"))
            try waitForAOFRewrite(client)
        }

        // (a) The same manifest, and a RESP base with the same commands per key.
        #expect(try aofManifest(in: swiftlet.directory) == (try aofManifest(in: redis.directory)))
        let ourBase = try #require(try aofBaseFile(in: swiftlet.directory))
        #expect(ourBase.lastPathComponent == "appendonly.aof.2.base.aof")
        let ourCommands = try #require(try aofCommands(ourBase))
        let theirBase = try #require(try aofBaseFile(in: redis.directory))
        let theirCommands = try #require(try aofCommands(theirBase))
        #expect(ourCommands.first?.args.first == "FUNCTION", "function libraries come first")
        let expected = rewriteByKey(theirCommands)
        #expect(expected.count == Set(dataset.dropFirst().compactMap { $0.count > 1 && $0[0] != "select" ? $0[1] : nil }).count)
        #expect(rewriteByKey(ourCommands) == expected)

        // (b) redis-check-aof accepts the directory.
        let check = try ChildProcess.run("/usr/bin/redis-check-aof",
                                         [swiftlet.directory.appendingPathComponent("appendonlydir/appendonly.aof.manifest").path])
        #expect(check.status == 0 && check.output.contains("BASE AOF appendonly.aof.2.base.aof is valid")
                && check.output.contains("All AOF files and manifest are valid"), "\(check.output)")

        // (c, d) Redis and Swiftlet started on copies of it find the same data and libraries.
        let libraries = try theirs.call("function", "list", "withcode")
        let redisLoads: ([String]) throws -> ServerProcess = { try ServerProcess.redis($0) }
        let swiftletLoads: ([String]) throws -> ServerProcess = { try ServerProcess.swiftlet($0) }
        for loads in [redisLoads, swiftletLoads] {
            let copy = try copyAppendOnlyDirectory(of: swiftlet)
            defer { try? FileManager.default.removeItem(at: copy) }
            let loaded = try loads(Self.arguments + ["--dir", copy.path])
            defer { loaded.stop() }
            let client = try RespClient(port: loaded.port)
            #expect(try client.call("debug", "digest") == digest)
            #expect(try client.call("function", "list", "withcode") == libraries)
            #expect(try client.call("fcall", "hello", "0") == .bulk(Array("hi".utf8)))
        }
    }

    /// CONFIG SET aof-use-rdb-preamble switches the next rewrite's base between an RDB and
    /// RESP commands (the old base goes), and either restarts with the data.
    @Test func preambleSettingSwitchesTheBaseLive() throws {
        let directory = try makeAOFTestDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let server = try ServerProcess.swiftlet(["--appendonly", "yes", "--dir", directory.path])
        let client = try RespClient(port: server.port)
        for command in dataset { _ = try client.call(command) }
        let digest = try client.call("debug", "digest")
        for (seq, preamble) in [(2, "no"), (3, "yes"), (4, "no")] {
            #expect(try client.call("config", "set", "aof-use-rdb-preamble", preamble) == .simple("OK"))
            #expect(try client.call("config", "get", "aof-use-rdb-preamble") == .array([.bulk(Array("aof-use-rdb-preamble".utf8)),
                                                                                         .bulk(Array(preamble.utf8))]))
            _ = try client.call("bgrewriteaof")
            try waitForAOFRewrite(client)
            let base = try #require(try aofBaseFile(in: directory))
            #expect(base.lastPathComponent == "appendonly.aof.\(seq).base.\(preamble == "yes" ? "rdb" : "aof")")
            #expect(try aofCommands(base) == nil ? preamble == "yes" : preamble == "no")
            let files = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("appendonlydir").path)
            #expect(files.sorted() == [base.lastPathComponent, "appendonly.aof.\(seq).incr.aof", "appendonly.aof.manifest"])
        }
        #expect(!server.log.contains("aof-use-rdb-preamble"), "no inert-setting warning")
        server.stop()
        let restarted = try ServerProcess.swiftlet(["--appendonly", "yes", "--dir", directory.path])
        defer { restarted.stop() }
        #expect(try RespClient(port: restarted.port).call("debug", "digest") == digest)
    }
}
