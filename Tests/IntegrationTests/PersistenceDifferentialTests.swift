// Persistence against a real redis-server 7.0.15: DUMP payloads byte for byte (without LZF,
// whose matches may differ, and with it for values too short to compress), RESTORE's option
// and error handling, DEBUG DIGEST/DIGEST-VALUE and DEBUG RELOAD keeping values and
// encodings; then interop through files and payloads: a Swiftlet dump.rdb passes
// redis-check-rdb and loads into Redis with the same digest, a Redis dump.rdb (all types,
// small and large encodings, expires) loads into Swiftlet with the same digest, and DUMP
// payloads RESTORE across both ways.
import Foundation
import Testing
import TestSupport

/// Keys of every type in both encodings (thresholds lowered so the large forms stay small).
private let fillCommands = """
config set hash-max-listpack-entries 4
config set zset-max-listpack-entries 4
config set set-max-intset-entries 4
set str hello
set int 12345
set negative -98765432101
set wide 9223372036854775807
set long aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
set empty ""
rpush list a b c 1 -2 300 70000 -9000000000
sadd intset 1 2 -3 70000
sadd intset-big 1 2 3 4 5
sadd set a b c
zadd zset 1 a 2.5 b -3 c inf d
zadd zset-big 1 a 2 b 3 c 4 d 5 e -inf f 0.1 g
hset hash f1 v1 f2 2 f3 -3
hset hash-big a 1 b 2 c 3 d 4 e 5
set volatile v
pexpireat volatile 4000000000000
select 2
set other-db x
select 0
"""

let persistenceScripts: [Script] = [
    script("dumpPayloads", fillCommands + """
    config set rdbcompression no
    dump str
    dump int
    dump negative
    dump wide
    dump long
    dump empty
    dump list
    dump intset
    dump intset-big
    dump zset
    dump zset-big
    dump hash
    dump volatile
    dump missing
    dump
    dump a b
    config set rdbcompression yes
    dump long
    dump list
    dump str
    """),
    script("restoreErrors", """
    set present x
    restore present 0 payload
    restore newkey 0 payload
    restore newkey -1 payload
    restore newkey abc payload
    restore newkey 0 ""
    restore newkey 0 payload replace absttl
    restore newkey 0 payload idletime -1
    restore newkey 0 payload idletime abc
    restore newkey 0 payload freq 256
    restore newkey 0 payload freq -1
    restore newkey 0 payload idletime 10 freq 5
    restore newkey 0 payload freq 5 idletime 10
    restore newkey 0 payload bogus
    restore newkey 0 payload replace idletime
    restore newkey 0
    exists newkey
    """),
    script("digests", fillCommands + """
    debug digest-value str int list intset intset-big set zset zset-big hash hash-big volatile missing
    debug digest-value
    debug digest
    del volatile
    debug digest
    flushall
    debug digest
    """),
    script("reload", fillCommands + """
    debug digest
    save
    debug reload
    debug digest
    object encoding int
    object encoding long
    object encoding intset
    object encoding intset-big
    object encoding zset
    object encoding zset-big
    object encoding hash
    object encoding hash-big
    object encoding list
    pttl volatile
    select 2
    get other-db
    select 0
    config set zset-max-listpack-entries 128
    config set hash-max-listpack-entries 128
    debug reload
    object encoding zset-big
    object encoding hash-big
    debug digest
    debug reload bogus
    debug reload nosave noflush merge
    debug digest
    dbsize
    config set maxmemory-policy allkeys-lfu
    config set lfu-log-factor 0
    set counted value
    get counted
    get counted
    get counted
    get counted
    object freq counted
    debug reload
    object freq counted
    config set maxmemory-policy noeviction
    """),
    script("saveCommands", """
    set k v
    save
    save extra
    bgsave extra
    bgsave schedule extra
    lastsave extra
    """),
]

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct PersistenceDifferentialTests {
    @Test(arguments: [1, 4])
    func persistenceMatchesRedis(threads: Int) throws {
        #expect(try expectMatchesRedis(persistenceScripts, threads: threads) > 140)
    }

    /// Runs the fill script on a fresh connection.
    private func fill(_ client: RespClient) throws {
        for line in fillCommands.split(separator: "\n") {
            let words = line.split(separator: " ").map { $0 == "\"\"" ? "" : String($0) }
            _ = try client.call(words)
        }
        // Large encodings for real: more elements than Redis's default thresholds.
        for index in 0..<300 {
            _ = try client.call("rpush", "biglist", "element-\(index)")
            _ = try client.call("zadd", "bigzset", String(Double(index) * 0.5), "member-\(index)")
            _ = try client.call("hset", "bighash", "field-\(index)", String(index))
            _ = try client.call("sadd", "bigset", "member-\(index)")
            _ = try client.call("sadd", "bigints", String(index * 1000))
        }
    }

    private func digest(_ client: RespClient) throws -> String {
        try client.call("debug", "digest").description
    }

    /// Copies `from`'s dump.rdb into `to`'s directory and reloads it there.
    private func transfer(from: ServerProcess, to: ServerProcess, client: RespClient) throws {
        let source = from.directory.appendingPathComponent("dump.rdb")
        let target = to.directory.appendingPathComponent("dump.rdb")
        try? FileManager.default.removeItem(at: target)
        try FileManager.default.copyItem(at: source, to: target)
        #expect(try client.call("debug", "reload", "nosave").description == "+OK")
    }

    @Test func snapshotFilesCrossBothWays() throws {
        let swiftlet = try ServerProcess.swiftlet()
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        let ours = try RespClient(port: swiftlet.port)
        let theirs = try RespClient(port: redis.port)
        try fill(ours)
        #expect(try ours.call("save").description == "+OK")
        let file = swiftlet.directory.appendingPathComponent("dump.rdb").path
        let (status, report) = try ChildProcess.run("/usr/bin/redis-check-rdb", [file])
        #expect(status == 0 && report.contains("RDB looks OK"), "\(report)")

        try transfer(from: swiftlet, to: redis, client: theirs)
        let swiftletDigest = try digest(ours)
        #expect(swiftletDigest != "+" + String(repeating: "0", count: 40))
        #expect(try digest(theirs) == swiftletDigest)

        // Redis's own file, with an already expired key it must skip, back into Swiftlet.
        _ = try theirs.call("set", "soon-gone", "x", "px", "1")
        _ = try theirs.call("config", "set", "rdbcompression", "yes")
        _ = try theirs.call("flushall")
        try fill(theirs)
        _ = try theirs.call("set", "soon-gone", "x", "px", "1")
        Thread.sleep(forTimeInterval: 0.01)
        #expect(try theirs.call("save").description == "+OK")
        try transfer(from: redis, to: swiftlet, client: ours)
        // Redis's digest counts a key that has expired but was not reclaimed yet; reading it
        // reclaims it, so both digests cover the same keys.
        #expect(try theirs.call("exists", "soon-gone").description == ":0")
        #expect(try digest(ours) == (try digest(theirs)))
        for key in ["bigzset", "bighash", "bigset", "bigints", "biglist", "zset", "hash", "intset"] {
            #expect(try ours.call("object", "encoding", key).description == (try theirs.call("object", "encoding", key)).description, "\(key)")
        }
        #expect(try ours.call("exists", "soon-gone").description == ":0")
    }

    @Test func dumpPayloadsCrossBothWays() throws {
        let swiftlet = try ServerProcess.swiftlet()
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        let ours = try RespClient(port: swiftlet.port)
        let theirs = try RespClient(port: redis.port)
        try fill(ours)
        try fill(theirs)
        guard case .array(let keys?) = try theirs.call("keys", "*") else { Issue.record("no keys"); return }
        #expect(keys.count > 15)
        for case .bulk(let key?) in keys {
            for (source, target) in [(theirs, ours), (ours, theirs)] {
                try source.send(bytes: [Array("dump".utf8), key])
                guard case .bulk(let payload?) = try source.readReply().value else { Issue.record("no dump"); continue }
                let copy = Array("copy-".utf8) + key
                try target.send(bytes: [Array("restore".utf8), copy, Array("0".utf8), payload, Array("replace".utf8)])
                #expect(try target.readReply().value.description == "+OK")
                try source.send(bytes: [Array("debug".utf8), Array("digest-value".utf8), key])
                let original = try source.readReply().value.description
                try target.send(bytes: [Array("debug".utf8), Array("digest-value".utf8), copy])
                let restored = try target.readReply().value.description
                // The TTL is not part of a payload: compare without the expire marker.
                if String(decoding: key, as: UTF8.self) != "volatile" {
                    #expect(restored == original, "\(String(decoding: key, as: UTF8.self))")
                }
            }
        }
        // A corrupted payload is refused by its checksum.
        try ours.send(bytes: [Array("dump".utf8), Array("bigzset".utf8)])
        guard case .bulk(var payload?) = try ours.readReply().value else { Issue.record("no dump"); return }
        payload[payload.count / 2] ^= 1
        for client in [ours, theirs] {
            try client.send(bytes: [Array("restore".utf8), Array("corrupt".utf8), Array("0".utf8), payload])
            #expect(try client.readReply().value.description == "-ERR DUMP payload version or checksum are wrong")
        }
    }
}

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct LegacyRDBLoadingTests {
    @Test func filesFromOlderRedisVersionsLoadAlike() throws {
        let swiftlet = try ServerProcess.swiftlet()
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        let servers = [(swiftlet, try RespClient(port: swiftlet.port)), (redis, try RespClient(port: redis.port))]
        for file in legacyRDBFiles {
            let bytes = try #require(Data(base64Encoded: file.base64.replacingOccurrences(of: "\n", with: "")))
            var results: [String] = []
            for (server, client) in servers {
                try bytes.write(to: server.directory.appendingPathComponent("dump.rdb"))
                let reload = try client.call("debug", "reload", "nosave").description
                let size = try client.call("dbsize").description
                let digest = try client.call("debug", "digest").description
                results.append("\(reload) \(size) \(digest)")
            }
            #expect(results[0] == results[1], "\(file.name)")
            #expect(results[0].hasPrefix("+OK"), "\(file.name)")
        }
    }

    @Test func aNewerVersionOrACorruptFileIsRefused() throws {
        let swiftlet = try ServerProcess.swiftlet()
        defer { swiftlet.stop() }
        let client = try RespClient(port: swiftlet.port)
        _ = try client.call("set", "kept", "1")
        let path = swiftlet.directory.appendingPathComponent("dump.rdb")
        #expect(try client.call("save").description == "+OK")
        var file = try Data(contentsOf: path)
        file[8] = UInt8(ascii: "1")
        try file.write(to: path)
        #expect(try client.call("debug", "reload", "nosave").description == "-ERR Error trying to load the RDB dump")
        // The dataset in memory is untouched by a file that could not be read.
        #expect(try client.call("get", "kept").description == "\"1\"")
        #expect(swiftlet.logs("Can't handle RDB format version 11"))
    }
}
