// Differential command fuzzing: seeded random calls of every data command both servers have,
// with arguments drawn from each command's own tokens (COMMAND DOCS of the real Redis), a few
// typed keys and awkward values (huge and negative numbers, nan, inf, empty, long), sent to
// swiftlet-server and redis-server alike: plainly in RESP2 and RESP3, queued in MULTI/EXEC,
// and through redis.call in a script. Replies must match (arrays compared as sorted lists:
// Redis leaves set and hash order to its hash tables), and the server must stay up. This
// found a crash (a key count near Int64.max in a queued command) and several error texts.
import Foundation
import Testing
import TestSupport

/// SplitMix64: a seedable generator, so a failure replays from its seed.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Commands left out: blocking ones, connection and server state, replies that depend on time,
/// randomness, hash-table layout or memory layout (DUMP's LZF and encodings, MEMORY, OBJECT),
/// cursors, and PFSELFTEST (seconds of work on a debug build; HyperLogLogDifferentialTests
/// runs it once).
private let excludedCommands: Set<String> = Set("""
    blpop brpop blmove brpoplpush blmpop bzpopmin bzpopmax bzmpop wait waitaof xread xreadgroup
    subscribe psubscribe ssubscribe unsubscribe punsubscribe sunsubscribe monitor sync psync
    shutdown debug config client acl save bgsave bgrewriteaof lastsave replicaof slaveof failover
    cluster module script function eval evalsha eval_ro evalsha_ro fcall fcall_ro info time
    randomkey spop srandmember hrandfield zrandmember object memory latency slowlog command hello
    reset quit auth migrate scan hscan sscan zscan multi exec watch discard unwatch
    lolwut replconf publish spublish pubsub ttl pttl expiretime pexpiretime
    dump pfselftest
    """.split(whereSeparator: \.isWhitespace).map(String.init))

/// Typed keys the set-up creates (small and large encodings) and one that never exists.
private let fuzzKeys = ["s", "n", "l", "h", "st", "z", "missing", "bits", "is", "bl", "bh", "bz", "bs", "bi", "hll"]

/// No small positive numbers: as a TTL they would expire a key mid-run, at a moment that
/// differs between the two servers by the time between their calls.
private let fuzzValues = ["0", "-1", "3.5", "-inf", "+inf", "inf", "nan", "abc", "", "9223372036854775807",
                          "-9223372036854775808", "9223372036854775808", "99999999999999999999", "1e400", "*", "a*",
                          "0x10", " 7", "7.0", "-0", "100000", "(7", "[a", "-", "+", "(", "[", "1e3", "0.5",
                          String(repeating: "x", count: 70)]

private let fuzzSetUp: [[String]] = [
    ["SET", "s", "hello"], ["SET", "n", "42"], ["RPUSH", "l", "a", "b", "c", "-1", "0"],
    ["HSET", "h", "f1", "v1", "f2", "0"], ["SADD", "st", "a", "b", "c"], ["SADD", "is", "0", "-1", "100000"],
    ["ZADD", "z", "0", "a", "3.5", "b", "100000", "c"], ["SETBIT", "bits", "7", "1"],
    ["RPUSH", "bl"] + (0..<200).map(String.init),
    ["HSET", "bh"] + (0..<200).flatMap { ["f\($0)", String($0)] },
    ["ZADD", "bz"] + (0..<200).flatMap { [String($0 % 17), "m\($0)"] },
    ["SADD", "bs"] + (0..<200).map { "m\($0)" },
    ["SADD", "bi"] + (0..<600).map(String.init),
    ["PFADD", "hll", "a", "b", "c"],
]

/// Every token (keyword) among `arguments` of a COMMAND DOCS entry, nested ones included.
private func tokens(in arguments: [RespValue]) -> [String] {
    arguments.flatMap { argument -> [String] in
        guard case .array(let fields?) = argument else { return [] }
        var found: [String] = []
        for index in stride(from: 0, to: fields.count - 1, by: 2) {
            switch (fields[index].text, fields[index + 1]) {
            case ("token", .bulk(let word?)): found.append(String(decoding: word, as: UTF8.self))
            case ("arguments", .array(let nested?)): found += tokens(in: nested)
            default: break
            }
        }
        return found
    }
}

/// Command names with their tokens, from `client`'s COMMAND DOCS (RESP2).
private func commandTokens(_ client: RespClient) throws -> [String: [String]] {
    guard case .array(let entries?) = try client.call("COMMAND", "DOCS") else { return [:] }
    var result: [String: [String]] = [:]
    for index in stride(from: 0, to: entries.count - 1, by: 2) {
        guard let name = entries[index].text, case .array(let fields?) = entries[index + 1] else { continue }
        var words: [String] = []
        for field in stride(from: 0, to: fields.count - 1, by: 2) where fields[field].text == "arguments" {
            if case .array(let arguments?) = fields[field + 1] { words = tokens(in: arguments) }
        }
        result[name.lowercased()] = words
    }
    return result
}

private func commandNames(_ client: RespClient) throws -> Set<String> {
    guard case .array(let names?) = try client.call("COMMAND", "LIST") else { return [] }
    return Set(names.compactMap { $0.text?.lowercased() })
}

/// A reply with every aggregate's elements sorted, so hash order does not count.
private func canonical(_ value: RespValue) -> String {
    switch value {
    case .array(let items?): return "*[" + items.map(canonical).sorted().joined(separator: ",") + "]"
    case .other(let type, let items, let text) where !items.isEmpty:
        return "\(type)\(text)[" + items.map(canonical).sorted().joined(separator: ",") + "]"
    default: return value.description
    }
}

enum FuzzMode: String, CaseIterable { case resp2, resp3, transaction, script }

private func randomCall(_ name: String, tokens: [String], using generator: inout SeededGenerator) -> [String] {
    var call = [name]
    for _ in 0..<Int.random(in: 0...7, using: &generator) {
        let pick = Double.random(in: 0..<1, using: &generator)
        if pick < 0.35 {
            call.append(fuzzKeys.randomElement(using: &generator)!)
        } else if pick < 0.6, let token = tokens.randomElement(using: &generator) {
            call.append(token)
        } else if pick < 0.65 {
            call.append(["a", "b", "c", "f1", "f2", "m3"].randomElement(using: &generator)!)
        } else {
            call.append(fuzzValues.randomElement(using: &generator)!)
        }
    }
    return call
}

struct CommandFuzzDifferentialTests {
    @Test(arguments: FuzzMode.allCases)
    func randomCommandsMatchRedis(mode: FuzzMode) throws {
        let swiftlet = try ServerProcess.swiftlet(["--server-threads", "2"])
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        let ours = try RespClient(port: swiftlet.port)
        let theirs = try RespClient(port: redis.port)
        let docs = try commandTokens(theirs)
        let names = try commandNames(ours).intersection(commandNames(theirs)).subtracting(excludedCommands).sorted()
        #expect(names.count > 100, "only \(names.count) commands to fuzz")
        if mode == .resp3 {
            _ = try ours.call("HELLO", "3")
            _ = try theirs.call("HELLO", "3")
        }
        var generator = SeededGenerator(state: 0x5EED_0000 + UInt64(FuzzMode.allCases.firstIndex(of: mode)!))
        var mismatches = 0
        for index in 0..<2500 where mismatches < 10 {
            if index % 20 == 0 {
                for call in [["FLUSHALL"]] + fuzzSetUp {
                    _ = try ours.call(call)
                    _ = try theirs.call(call)
                }
            }
            let name = names.randomElement(using: &generator)!
            var call = randomCall(name, tokens: docs[name] ?? [], using: &generator)
            switch mode {
            case .resp2, .resp3: break
            case .script: call = ["EVAL", "return redis.call(unpack(ARGV))", "0"] + call
            case .transaction:
                _ = try ours.call("MULTI")
                _ = try theirs.call("MULTI")
                let queued = (try ours.call(call), try theirs.call(call))
                #expect(queued.0 == queued.1, "[\(mode)] queued \(call)")
                call = ["EXEC"]
            }
            let mine: RespValue
            do { mine = try ours.call(call) } catch {
                Issue.record("[\(mode)] swiftlet-server dropped the connection (or died) on \(call): \(error)")
                return
            }
            let reference = try theirs.call(call)
            if canonical(mine) != canonical(reference) {
                mismatches += 1
                Issue.record("[\(mode)] \(call.map { $0.count > 20 ? String($0.prefix(20)) + "…" : $0 })\n  swiftlet: \(mine)\n  redis:    \(reference)")
            }
        }
        #expect(try RespClient(port: swiftlet.port).call("PING") == .simple("PONG"))
    }
}
