// maxmemory and eviction: under a 50 MB limit and each policy, writers on two connections
// (two worker threads) write five times the limit while used memory is checked all along,
// and what survives is what the policy promises: LRU keeps a recently read hot set, LFU a
// frequently read one, volatile-* policies never touch keys without a TTL, volatile-ttl
// drops the nearest expiry first, noeviction refuses writes with Redis's OOM error while
// reads and deletes keep working. The OOM reply itself is compared with a real redis-server.
import Foundation
import Testing
import TestSupport

let evictionScripts: [Script] = [
    script("oomUnderNoeviction", """
    set before 1
    config set maxmemory-policy noeviction
    config set maxmemory 1
    set a b
    incr before
    lpush list x
    get before
    exists before
    del before
    config set maxmemory 0
    set a b
    """),
]

@Suite(.serialized)
struct EvictionTests {
    static let limit = 50 * 1024 * 1024
    /// Over the limit we allow one in-flight write per connection plus allocator rounding.
    static let margin = 512 * 1024
    static let valueSize = 20_000
    static let value = String(repeating: "v", count: valueSize)

    @Test(.enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
    func oomReplyMatchesRedis() throws {
        #expect(try expectMatchesRedis(evictionScripts, threads: 2) == 11)
    }

    /// Starts a server limited to 50 MB under `policy` (values stored as written: compression
    /// would shrink the repeated bytes of the test values to almost nothing).
    private func limitedServer(_ policy: String) throws -> ServerProcess {
        try ServerProcess.swiftlet(["--server-threads", "2", "--maxmemory", "50mb", "--maxmemory-policy", policy,
                                    "--value-compression", "no"])
    }

    private func infoField(_ client: RespClient, _ section: String, _ name: String) throws -> Int {
        guard case .bulk(let bytes?) = try client.call("INFO", section) else { return -1 }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\r\n") where line.hasPrefix(name + ":") {
            return Int(line.dropFirst(name.count + 1)) ?? -1
        }
        return -1
    }

    /// Sends `commands` in pipelined batches of 10 and returns the replies.
    @discardableResult
    private func pipeline(_ client: RespClient, _ commands: [[String]]) throws -> [RespValue] {
        var replies: [RespValue] = []
        for start in stride(from: 0, to: commands.count, by: 10) {
            let batch = commands[start..<min(start + 10, commands.count)]
            for command in batch { try client.send(command) }
            for _ in batch { replies.append(try client.readReply().value) }
        }
        return replies
    }

    /// Two writers each write 2.5× the limit in rounds (`round` runs between them, e.g. reads
    /// of a hot set); used memory is read after every round and must stay within the limit.
    private func fill(_ server: ServerProcess, prefix: String, ttl: Bool, round: (() throws -> Void)? = nil) throws {
        let checker = try RespClient(port: server.port)
        let writers = try (0..<2).map { _ in try RespClient(port: server.port) }
        let perRound = 250, rounds = 5 * EvictionTests.limit / EvictionTests.valueSize / perRound
        var worst = 0
        for roundIndex in 0..<rounds {
            let failures = NSLock()
            var errors: [String] = []
            DispatchQueue.concurrentPerform(iterations: writers.count) { writer in
                let commands = (0..<perRound / writers.count).map { index -> [String] in
                    let key = "\(prefix):\(roundIndex):\(writer):\(index)"
                    return ttl ? ["SET", key, EvictionTests.value, "EX", "100000"] : ["SET", key, EvictionTests.value]
                }
                do {
                    for reply in try pipeline(writers[writer], commands) where reply != .simple("OK") {
                        failures.lock(); errors.append(reply.description); failures.unlock()
                    }
                } catch {
                    failures.lock(); errors.append("\(error)"); failures.unlock()
                }
            }
            #expect(errors.isEmpty, "round \(roundIndex): \(errors.prefix(3))")
            try round?()
            worst = max(worst, try infoField(checker, "memory", "used_memory"))
        }
        #expect(worst > 0 && worst <= EvictionTests.limit + EvictionTests.margin, "worst used_memory \(worst)")
        #expect(try infoField(checker, "stats", "evicted_keys") > 0)
    }

    @Test(arguments: ["allkeys-lru", "allkeys-lfu", "allkeys-random", "volatile-lru", "volatile-lfu",
                      "volatile-random", "volatile-ttl"])
    func memoryStaysWithinTheLimit(policy: String) throws {
        let server = try limitedServer(policy)
        defer { server.stop() }
        try fill(server, prefix: "fill", ttl: policy.hasPrefix("volatile"))
        let client = try RespClient(port: server.port)
        guard case .integer(let keys) = try client.call("DBSIZE") else { Issue.record("DBSIZE"); return }
        // 250 MB were written; about 50 MB of them fit.
        #expect(keys > 1000 && keys < 2800, "\(keys) keys left")
    }

    @Test(arguments: ["allkeys-lru", "allkeys-random"])
    func evictsFromWhicheverDatabaseHoldsTheKeys(policy: String) throws {
        let server = try limitedServer(policy)
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        #expect(try client.call("SELECT", "7") == .simple("OK"))
        let writes = 3 * EvictionTests.limit / EvictionTests.valueSize
        let replies = try pipeline(client, (0..<writes).map { ["SET", "k\($0)", EvictionTests.value] })
        #expect(replies.allSatisfy { $0 == .simple("OK") })
        #expect(try infoField(client, "memory", "used_memory") <= EvictionTests.limit + EvictionTests.margin)
        guard case .integer(let keys) = try client.call("DBSIZE") else { Issue.record("DBSIZE"); return }
        #expect(keys > 1000 && keys < writes / 2, "\(keys) keys left in db 7")
    }

    /// Evicting keys read by tracking clients sends them invalidations; the output buffers
    /// those take, once written, must not count as used memory and make eviction go on until
    /// the database is empty (Redis's "client tracking don't cause eviction feedback loop").
    @Test(arguments: [1, 2])
    func invalidationsOfEvictedKeysDoNotDrainTheDatabase(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads), "--maxmemory-policy", "allkeys-lru",
                                                 "--maxmemory-eviction-tenacity", "100", "--latency-tracking", "no"])
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        let trackers = try (0..<10).map { _ in try RespClient(port: server.port) }
        for tracker in trackers {
            _ = try tracker.call("HELLO", "3")
            _ = try tracker.call("CLIENT", "TRACKING", "on")
        }
        for index in 0..<300 {
            let key = String(index) + String(repeating: "x", count: 1000)
            _ = try client.call("SET", key, "x")
            for tracker in trackers { _ = try tracker.call("GET", key) }
        }
        Thread.sleep(forTimeInterval: 1.1)
        let used = try infoField(client, "memory", "used_memory")
        #expect(try client.call("CONFIG", "SET", "maxmemory", String(used - 40_000)) == .simple("OK"))
        _ = try client.call("PING")
        let evicted = try infoField(client, "stats", "evicted_keys")
        guard case .integer(let keys) = try client.call("DBSIZE") else { Issue.record("no DBSIZE"); return }
        #expect((200...300).contains(keys), "\(keys) keys left, \(evicted) evicted")
        #expect((10...50).contains(evicted), "\(evicted) evicted")
    }

    @Test func noevictionRefusesWritesButServesReads() throws {
        let server = try limitedServer("noeviction")
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        var written = 0
        var refusal: RespValue?
        while refusal == nil && written < 5 * EvictionTests.limit / EvictionTests.valueSize {
            let reply = try client.call("SET", "k\(written)", EvictionTests.value)
            if reply == .simple("OK") { written += 1 } else { refusal = reply }
        }
        #expect(refusal == .error("OOM command not allowed when used memory > 'maxmemory'."))
        #expect(try infoField(client, "memory", "used_memory") <= EvictionTests.limit + EvictionTests.margin)
        #expect(try client.call("DBSIZE") == .integer(Int64(written)))
        #expect(try client.call("STRLEN", "k0") == .integer(Int64(EvictionTests.valueSize)))
        #expect(try infoField(client, "stats", "evicted_keys") == 0)
        // Deleting is allowed and makes room again.
        #expect(try client.call("DEL", "k0", "k1", "k2") == .integer(3))
        #expect(try client.call("SET", "small", "1") == .simple("OK"))
    }

    /// Reads every hot key; returns how many are still there.
    private func readHotSet(_ client: RespClient, count: Int) throws -> Int {
        try pipeline(client, (0..<count).map { ["GET", "hot:\($0)"] }).filter { $0 != .bulk(nil) }.count
    }

    @Test(arguments: ["allkeys-lru", "allkeys-lfu"])
    func recencyAndFrequencyPoliciesKeepTheHotSet(policy: String) throws {
        let server = try limitedServer(policy)
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        let hot = 200
        try pipeline(client, (0..<hot).map { ["SET", "hot:\($0)", EvictionTests.value] })
        // LFU counters grow with reads; LRU only needs the reads between rounds.
        for _ in 0..<(policy.hasSuffix("lfu") ? 20 : 1) { _ = try readHotSet(client, count: hot) }
        try fill(server, prefix: "cold", ttl: false) {
            _ = try readHotSet(client, count: hot)
            // The LRU clock counts seconds (as Redis's): spread the fill over several, so the
            // cold keys age behind the hot set instead of tying with it.
            if policy.hasSuffix("lru") { usleep(250_000) }
        }
        let survivors = try readHotSet(client, count: hot)
        // Random eviction would keep about a fifth (50 MB of 250 MB); the approximated
        // policies keep nearly all.
        #expect(survivors >= hot * 9 / 10, "\(survivors) of \(hot) hot keys kept under \(policy)")
    }

    @Test(arguments: ["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl"])
    func volatilePoliciesNeverEvictPersistentKeys(policy: String) throws {
        let server = try limitedServer(policy)
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        let persistent = 300
        try pipeline(client, (0..<persistent).map { ["SET", "keep:\($0)", EvictionTests.value] })
        try fill(server, prefix: "volatile", ttl: true)
        let kept = try pipeline(client, (0..<persistent).map { ["EXISTS", "keep:\($0)"] }).filter { $0 == .integer(1) }.count
        #expect(kept == persistent)
    }

    @Test func volatileTTLEvictsTheNearestExpiryFirst() throws {
        let server = try limitedServer("volatile-ttl")
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        // Written first, so recency would pick them first; their expiry is the furthest.
        let late = 300
        try pipeline(client, (0..<late).map { ["SET", "late:\($0)", EvictionTests.value, "EX", "9000000"] })
        try fill(server, prefix: "soon", ttl: true)
        let kept = try pipeline(client, (0..<late).map { ["EXISTS", "late:\($0)"] }).filter { $0 == .integer(1) }.count
        #expect(kept >= late * 9 / 10, "\(kept) of \(late) far-expiry keys kept")
    }
}
