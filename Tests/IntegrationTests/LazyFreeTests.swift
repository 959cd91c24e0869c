// Background freeing (UNLINK, FLUSHDB/FLUSHALL ASYNC, lazyfree-lazy-user-del/flush): the same
// steps against Swiftlet and a real redis-server must end with the same INFO
// lazyfreed_objects count once lazyfree_pending_objects drops to 0.
import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

private func memoryField(_ client: RespClient, _ name: String) throws -> Int {
    guard case .bulk(let bytes?) = try client.call("INFO", "memory") else { return -1 }
    let prefix = name + ":"
    let line = String(decoding: bytes, as: UTF8.self).split(separator: "\r\n").first { $0.hasPrefix(prefix) }
    return line.flatMap { Int($0.dropFirst(prefix.count)) } ?? -1
}

/// lazyfreed_objects after each step, once nothing is pending.
private func lazyFreeCounts(port: Int) throws -> [Int] {
    let client = try RespClient(port: port)
    func bigSet(_ key: String, members: Int) throws {
        _ = try client.call(["SADD", key] + (0..<members).map { "member:\($0)" })
    }
    func settled() throws -> Int {
        let deadline = Date().addingTimeInterval(5)
        while try memoryField(client, "lazyfree_pending_objects") != 0 && Date() < deadline { usleep(10_000) }
        return try memoryField(client, "lazyfreed_objects")
    }
    var counts: [Int] = []
    _ = try client.call("CONFIG", "RESETSTAT")
    try bigSet("big", members: 1000)
    _ = try client.call("UNLINK", "big")
    counts.append(try settled())
    try bigSet("small", members: 10)
    _ = try client.call("UNLINK", "small")
    counts.append(try settled())
    try bigSet("big", members: 1000)
    _ = try client.call("DEL", "big")
    counts.append(try settled())
    _ = try client.call("CONFIG", "SET", "lazyfree-lazy-user-del", "yes")
    try bigSet("big", members: 1000)
    _ = try client.call("DEL", "big")
    counts.append(try settled())
    _ = try client.call("CONFIG", "SET", "lazyfree-lazy-user-del", "no")
    for i in 0..<50 { _ = try client.call("SET", "key:\(i)", "v") }
    _ = try client.call("FLUSHDB", "ASYNC")
    counts.append(try settled())
    for i in 0..<30 { _ = try client.call("SET", "key:\(i)", "v") }
    _ = try client.call("FLUSHALL", "SYNC")
    counts.append(try settled())
    _ = try client.call("CONFIG", "SET", "lazyfree-lazy-user-flush", "yes")
    for i in 0..<20 { _ = try client.call("SET", "key:\(i)", "v") }
    _ = try client.call("SELECT", "3")
    for i in 0..<5 { _ = try client.call("SET", "key:\(i)", "v") }
    _ = try client.call("FLUSHALL")
    counts.append(try settled())
    _ = try client.call("CONFIG", "RESETSTAT")
    counts.append(try settled())
    return counts
}

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct LazyFreeTests {
    @Test func lazyfreedObjectsCountLikeRedis() throws {
        let swiftlet = try ServerProcess.swiftlet()
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        let ours = try lazyFreeCounts(port: swiftlet.port)
        #expect(ours == [1, 1, 1, 2, 52, 52, 77, 0])
        #expect(ours == (try lazyFreeCounts(port: redis.port)))
    }
}
