// Differential tests of MEMORY's argument checks and reply shapes, and of the latency
// tracking configs, against a real redis-server. MEMORY USAGE/STATS figures depend on each
// server's memory layout, so only what must agree is compared byte for byte: errors, nulls
// for missing keys, and (in a test of its own) STATS's field names, order, nesting and types.
// MEMORY HELP's text is our own, so only its arity error is compared.
import Testing
import TestSupport

let memoryScripts: [Script] = [
    script("memoryErrors", """
    memory
    memory foo
    memory foo bar
    memory usage
    memory usage nokey
    memory usage nokey samples 5
    memory usage nokey samples 0
    memory usage nokey samples x
    memory usage nokey samples -1
    memory usage nokey samples
    memory usage nokey bar
    memory usage nokey samples 1 samples 2
    memory usage nokey samples 1 bar
    memory usage nokey samples 99999999999999999999
    set foo bar
    memory usage foo samples
    memory usage foo samples -1
    memory usage foo samples x
    memory usage foo SAMPLES 1 extra
    memory usage foo extra
    memory stats x
    memory doctor x
    memory malloc-stats x
    memory purge x
    memory purge
    memory help x
    memory HELP extra
    hello 3
    memory usage nokey
    memory usage nokey samples 3
    memory purge
    memory stats x
    """),
    script("latencyConfigs", unorderedPairs: ["config"], """
    config get latency-tracking
    config set latency-tracking no
    config get latency-tracking
    config set latency-tracking maybe
    config set latency-tracking yes
    config get latency-tracking-info-percentiles
    config set latency-tracking-info-percentiles "0.0 50.0 100.0"
    config get latency-tracking-info-percentiles
    config set latency-tracking-info-percentiles "99.99 12.5 1e1"
    config get latency-tracking-info-percentiles
    config set latency-tracking-info-percentiles "10.0 50.0 a"
    config get latency-tracking-info-percentiles
    config set latency-tracking-info-percentiles "10.0 50.0 101.0"
    config set latency-tracking-info-percentiles "-1"
    config set latency-tracking-info-percentiles "50  99"
    config set latency-tracking-info-percentiles " 50"
    config set latency-tracking-info-percentiles "nan"
    config set latency-tracking-info-percentiles "inf"
    config set latency-tracking-info-percentiles "0x10"
    config get latency-tracking-info-percentiles
    config set latency-tracking-info-percentiles ""
    config get latency-tracking-info-percentiles
    config set latency-tracking-info-percentiles 50
    config get latency-tracking-info-percentiles
    config set latency-tracking-info-percentiles "50 99 99.9"
    config get latency-tracking-info-percentiles
    config get latency-tracking*
    config set latency-tracking-info-percentiles "1" latency-tracking no
    config get latency-tracking*
    config set latency-tracking-info-percentiles "50 99 99.9" latency-tracking yes
    """),
]

/// The shape of a reply with every number replaced by its type, so that two servers'
/// MEMORY STATS compare on field names, order and nesting only.
private func shape(_ value: RespValue) -> String {
    switch value {
    case .integer: return "integer"
    case .array(let items?): return "[" + items.map(shape).joined(separator: ",") + "]"
    case .other(let type, let items, _) where type == "%" || type == "*":
        return String(type) + "[" + items.map(shape).joined(separator: ",") + "]"
    case .other(let type, _, _) where type == ",": return "double"
    case .bulk(let bytes?):
        let text = String(decoding: bytes, as: UTF8.self)
        return text.first.map { $0.isLetter } == true ? text : "number"
    default: return value.description
    }
}

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct MemoryDifferentialTests {
    @Test(arguments: [1, 4])
    func memoryScriptsMatchRedis(threads: Int) throws {
        #expect(try expectMatchesRedis(memoryScripts, threads: threads) > 60)
    }

    /// MEMORY STATS lists Redis's fields in Redis's order, with a db.N map for each database
    /// holding keys, in RESP2 (flat array) and RESP3 (maps, doubles) alike.
    @Test func memoryStatsHasRedisShape() throws {
        let swiftlet = try ServerProcess.swiftlet()
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        for server in [swiftlet, redis] {
            let client = try RespClient(port: server.port)
            _ = try client.call("SET", "a", "1")
            _ = try client.call("SELECT", "3")
            _ = try client.call("HSET", "h", "f", "v")
        }
        for protocolVersion in ["2", "3"] {
            let ours = try RespClient(port: swiftlet.port)
            let theirs = try RespClient(port: redis.port)
            _ = try ours.call("HELLO", protocolVersion)
            _ = try theirs.call("HELLO", protocolVersion)
            let mine = shape(try ours.call("MEMORY", "STATS"))
            let reference = shape(try theirs.call("MEMORY", "STATS"))
            #expect(mine == reference, "RESP\(protocolVersion)")
            #expect(mine.contains("db.0") && mine.contains("db.3") && !mine.contains("db.1,"))
        }
    }
}
