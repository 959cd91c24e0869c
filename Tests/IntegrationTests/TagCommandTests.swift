// TAG.* on a live server (1 and 4 worker threads): reply shapes in RESP2 and RESP3, errors,
// tagging only existing keys, invalidation across shards; membership dropped on every way a
// key goes away or gets a whole new value (DEL, UNLINK, GETDEL, a list emptied, SET, MSET,
// RENAME onto it and away from it, MOVE, COPY REPLACE, SORT STORE, FLUSHDB, FLUSHALL, lazy
// and active expiry, eviction under maxmemory) and kept on edits (APPEND, INCR, SETRANGE,
// SETBIT, HSET, LPUSH, EXPIRE, PERSIST); many clients tagging, untagging, deleting and
// invalidating at once leave an index that matches the keys exactly; the index's memory is
// accounted and returned.
import Foundation
import Testing
import TestSupport

@Suite(.serialized)
struct TagCommandTests {
    private func raw(_ client: RespClient, _ args: String...) throws -> String {
        String(decoding: try client.rawCall(args), as: UTF8.self)
    }

    private func strings(_ value: RespValue) -> Set<String> {
        guard case .array(let items?) = value else { return [] }
        return Set(items.compactMap(\.text))
    }

    private func info(_ client: RespClient, _ section: String, _ name: String) throws -> Int {
        guard case .bulk(let bytes?) = try client.call("INFO", section) else { return -1 }
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\r\n") where line.hasPrefix(name + ":") {
            return Int(line.dropFirst(name.count + 1)) ?? -1
        }
        return -1
    }

    private func server(threads: Int, _ extra: [String] = []) throws -> ServerProcess {
        try ServerProcess.swiftlet(["--server-threads", String(threads)] + extra)
    }

    @Test func replyShapesAndErrors() throws {
        let server = try server(threads: 1)
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        #expect(try raw(client, "MSET", "a", "1", "b", "2") == "+OK\r\n")
        #expect(try raw(client, "TAG.ADD", "t", "a", "missing", "a") == ":1\r\n")
        #expect(try raw(client, "TAG.ADD", "t", "a", "b") == ":1\r\n")
        #expect(try raw(client, "TAG.ADD", "u", "a") == ":1\r\n")
        for protocolVersion in ["2", "3"] {
            _ = try client.call("HELLO", protocolVersion)
            let header = protocolVersion == "2" ? "*" : "~"
            #expect(try raw(client, "TAG.TAGS", "b") == header + "1\r\n$1\r\nt\r\n")
            #expect(try raw(client, "TAG.TAGS", "missing") == header + "0\r\n")
            #expect(try raw(client, "TAG.KEYS", "none") == header + "0\r\n")
            let keys = try raw(client, "TAG.KEYS", "t")
            #expect(keys == header + "2\r\n$1\r\na\r\n$1\r\nb\r\n" || keys == header + "2\r\n$1\r\nb\r\n$1\r\na\r\n")
        }
        _ = try client.call("HELLO", "2")
        #expect(strings(try client.call("TAG.TAGS", "a")) == ["t", "u"])
        #expect(try raw(client, "TAG.COUNT", "t") == ":2\r\n")
        #expect(try raw(client, "TAG.COUNT", "none") == ":0\r\n")
        #expect(try raw(client, "TAG.REM", "t", "a", "missing", "b", "b") == ":2\r\n")
        #expect(try raw(client, "TAG.REM", "t", "a") == ":0\r\n")
        #expect(try raw(client, "TAG.INVALIDATE", "t", "none") == ":0\r\n")
        #expect(try raw(client, "TAG.INVALIDATE", "u", "u") == ":1\r\n")
        #expect(try raw(client, "EXISTS", "a", "b") == ":1\r\n")
        for (command, args) in [("tag.add", ["t"]), ("tag.rem", ["t"]), ("tag.keys", []), ("tag.keys", ["a", "b"]),
                                ("tag.count", []), ("tag.tags", []), ("tag.invalidate", [])] {
            let reply = String(decoding: try client.rawCall([command.uppercased()] + args), as: UTF8.self)
            #expect(reply == "-ERR wrong number of arguments for '\(command)' command\r\n")
        }
        // Tags are per database.
        #expect(try raw(client, "SET", "a", "x") == "+OK\r\n")
        #expect(try raw(client, "TAG.ADD", "t", "a") == ":1\r\n")
        _ = try client.call("SELECT", "1")
        #expect(try raw(client, "TAG.COUNT", "t") == ":0\r\n")
        #expect(try raw(client, "TAG.INVALIDATE", "t") == ":0\r\n")
        _ = try client.call("SELECT", "0")
        #expect(try raw(client, "TAG.INVALIDATE", "t") == ":1\r\n")
        // COMMAND knows them.
        #expect(try raw(client, "COMMAND", "GETKEYS", "TAG.ADD", "t", "k1", "k2") == "*2\r\n$2\r\nk1\r\n$2\r\nk2\r\n")
        guard case .array(let docs?) = try client.call("COMMAND", "DOCS", "TAG.INVALIDATE") else {
            Issue.record("COMMAND DOCS gave no array")
            return
        }
        #expect(docs.count == 2)
    }

    @Test(arguments: [1, 4])
    func invalidateDeletesKeysAcrossShards(threads: Int) throws {
        let server = try server(threads: threads)
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        for n in 0..<300 { _ = try client.call("SET", "user:\(n)", "v") }
        for n in 0..<300 { _ = try client.call("TAG.ADD", n % 2 == 0 ? "even" : "odd", "user:\(n)") }
        #expect(try client.call("TAG.COUNT", "even") == .integer(150))
        #expect(strings(try client.call("TAG.KEYS", "odd")) == Set((0..<150).map { "user:\($0 * 2 + 1)" }))
        #expect(try client.call("TAG.INVALIDATE", "even") == .integer(150))
        #expect(try client.call("DBSIZE") == .integer(150))
        #expect(try client.call("EXISTS", "user:1", "user:2") == .integer(1))
        #expect(try info(client, "tags", "tagged_keys") == 150)
        #expect(try client.call("TAG.INVALIDATE", "odd") == .integer(150))
        #expect(try client.call("DBSIZE") == .integer(0))
        #expect(try info(client, "tags", "tagged_keys") == 0 && info(client, "tags", "tag_memory") == 0)
    }

    /// Each write in `steps` that must drop (false) or keep (true) the tag of key `k`.
    private static let writes: [(commands: [[String]], keeps: Bool)] = [
        ([["DEL", "k"]], false), ([["UNLINK", "k"]], false), ([["GETDEL", "k"]], false),
        ([["SET", "k", "other"]], false), ([["SET", "k", "v"]], false), ([["MSET", "k", "w"]], false),
        ([["SET", "src", "x"], ["RENAME", "src", "k"]], false), ([["RENAME", "k", "moved"]], false),
        ([["MOVE", "k", "1"]], false), ([["SET", "src", "x"], ["COPY", "src", "k", "REPLACE"]], false),
        ([["RPUSH", "src", "3", "1"], ["SORT", "src", "STORE", "k"]], false),
        ([["FLUSHDB"]], false), ([["FLUSHALL"]], false),
        ([["APPEND", "k", "x"]], true), ([["INCR", "n"]], true), ([["SETRANGE", "k", "5", "x"]], true),
        ([["SETBIT", "k", "100", "1"]], true), ([["EXPIRE", "k", "100"]], true),
        ([["EXPIRE", "k", "100"], ["PERSIST", "k"]], true), ([["INCRBYFLOAT", "n", "1.5"]], true),
        ([["GETEX", "k", "PX", "100000"]], true),
    ]

    @Test(arguments: [1, 4])
    func wholeValueWritesDropTagsEditsKeepThem(threads: Int) throws {
        let server = try server(threads: threads)
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        for (commands, keeps) in TagCommandTests.writes {
            _ = try client.call("FLUSHALL")
            _ = try client.call("SET", "k", "value")
            _ = try client.call("SET", "n", "10")
            #expect(try client.call("TAG.ADD", "t", "k", "n") == .integer(2))
            for command in commands { _ = try client.call(command) }
            let flushed = commands[0][0].hasPrefix("FLUSH")
            let remaining = strings(try client.call("TAG.KEYS", "t"))
            #expect(remaining == (keeps ? ["k", "n"] : flushed ? [] : ["n"]), "\(commands)")
            if !keeps {
                #expect(try client.call("TAG.TAGS", "k") == .array([]), "\(commands)")
                #expect(try client.call("TAG.TAGS", "moved") == .array([]), "\(commands)")
            }
            _ = try client.call("SELECT", "1")
            #expect(try client.call("TAG.TAGS", "k") == .array([]), "\(commands)")
            _ = try client.call("SELECT", "0")
            #expect(try info(client, "tags", "tagged_keys") == remaining.count, "\(commands)")
        }
    }

    @Test(arguments: [1, 4])
    func collectionsKeepTagsUntilEmptied(threads: Int) throws {
        let server = try server(threads: threads)
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        _ = try client.call("RPUSH", "list", "a")
        _ = try client.call("HSET", "hash", "f", "v")
        #expect(try client.call("TAG.ADD", "t", "list", "hash") == .integer(2))
        _ = try client.call("LPUSH", "list", "b")
        _ = try client.call("HSET", "hash", "g", "w")
        _ = try client.call("HDEL", "hash", "f")
        #expect(strings(try client.call("TAG.KEYS", "t")) == ["list", "hash"])
        _ = try client.call("LPOP", "list", "2")
        #expect(strings(try client.call("TAG.KEYS", "t")) == ["hash"])
        _ = try client.call("RPUSH", "list", "again")
        #expect(try client.call("TAG.TAGS", "list") == .array([]))
        _ = try client.call("HDEL", "hash", "g")
        #expect(try info(client, "tags", "tagged_keys") == 0)
    }

    @Test(arguments: [1, 4])
    func expiryDropsTagsLazilyAndActively(threads: Int) throws {
        let server = try server(threads: threads)
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        _ = try client.call("SET", "lazy", "v", "PX", "50")
        for n in 0..<50 { _ = try client.call("SET", "active:\(n)", "v", "PX", "50") }
        #expect(try client.call(["TAG.ADD", "t", "lazy"] + (0..<50).map { "active:\($0)" }) == .integer(51))
        // Expired but not yet deleted keys are not listed.
        usleep(100_000)
        #expect(try client.call("TAG.COUNT", "t") == .integer(0))
        #expect(try client.call("GET", "lazy") == .bulk(nil))
        #expect(try client.call("TAG.TAGS", "lazy") == .array([]))
        var tagged = -1
        for _ in 0..<60 {
            tagged = try info(client, "tags", "tagged_keys")
            if tagged == 0 { break }
            usleep(50_000)
        }
        #expect(tagged == 0)
        #expect(try info(client, "tags", "tag_memory") == 0)
    }

    @Test(arguments: [1, 4])
    func evictionDropsTags(threads: Int) throws {
        let server = try server(threads: threads, ["--value-compression", "no"])
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        let value = String(repeating: "v", count: 1000)
        for n in 0..<2000 {
            _ = try client.call("SET", "page:\(n)", value)
            _ = try client.call("TAG.ADD", "site", "page:\(n)")
            _ = try client.call("TAG.ADD", "section:\(n % 10)", "page:\(n)")
        }
        let used = try info(client, "memory", "used_memory")
        _ = try client.call("CONFIG", "SET", "maxmemory-policy", "allkeys-random")
        _ = try client.call("CONFIG", "SET", "maxmemory", String(used * 2 / 3))
        for n in 0..<20 { _ = try client.call("SET", "fresh:\(n)", "x") }
        _ = try client.call("CONFIG", "SET", "maxmemory", "0")
        // Another worker's eviction cycle may still be finishing under the old limit: count
        // once evictions have stopped.
        var evicted = try info(client, "stats", "evicted_keys")
        for _ in 0..<50 {
            usleep(100_000)
            let now = try info(client, "stats", "evicted_keys")
            if now == evicted { break }
            evicted = now
        }
        guard case .integer(let keys) = try client.call("DBSIZE"),
              case .integer(let fresh) = try client.call(["EXISTS"] + (0..<20).map { "fresh:\($0)" }) else { return }
        let pages = Int(keys - fresh)
        #expect(pages < 2000)
        guard case .integer(let siteCount) = try client.call("TAG.COUNT", "site") else { return }
        let site = Int(siteCount)
        #expect(site == pages && site > 0)
        #expect(try info(client, "tags", "tagged_keys") == site)
        #expect(try info(client, "tags", "tag_memberships") == 2 * site)
        for key in strings(try client.call("TAG.KEYS", "site")) { #expect(try client.call("EXISTS", key) == .integer(1)) }
        #expect(try client.call("TAG.INVALIDATE", "site") == .integer(siteCount))
        #expect(try info(client, "tags", "tag_memory") == 0)
    }

    @Test(arguments: [1, 4])
    func memoryIsAccountedAndReturned(threads: Int) throws {
        let server = try server(threads: threads)
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        for n in 0..<1000 { _ = try client.call("SET", "key:\(n)", "v") }
        let before = try info(client, "memory", "used_memory")
        for n in 0..<1000 { _ = try client.call("TAG.ADD", "tag:\(n % 7)", "key:\(n)") }
        let tagMemory = try info(client, "tags", "tag_memory")
        #expect(tagMemory > 1000 * 100)
        let tagged = try info(client, "memory", "used_memory")
        #expect(tagged - before > tagMemory / 2)
        for n in 0..<1000 { _ = try client.call("TAG.REM", "tag:\(n % 7)", "key:\(n)") }
        #expect(try info(client, "tags", "tag_memory") == 0)
        #expect(abs(try info(client, "memory", "used_memory") - before) < 64 * 1024)
        for n in 0..<1000 { _ = try client.call("TAG.ADD", "tag:\(n % 7)", "key:\(n)") }
        #expect(try client.call(["TAG.INVALIDATE"] + (0..<7).map { "tag:\($0)" }) == .integer(1000))
        #expect(try info(client, "tags", "tag_memory") == 0)
        #expect(try info(client, "memory", "used_memory") < before)
    }

    @Test(arguments: [1, 4])
    func concurrentTaggingAndInvalidationLeaveAConsistentIndex(threads: Int) throws {
        let server = try server(threads: threads)
        defer { server.stop() }
        let clients = try (0..<8).map { _ in try RespClient(port: server.port) }
        let failures = FailureLog()
        let done = DispatchGroup()
        for (index, client) in clients.enumerated() {
            done.enter()
            Thread {
                defer { done.leave() }
                var random = SystemRandomNumberGenerator()
                do {
                    for step in 0..<400 {
                        let key = "k:\(Int.random(in: 0..<100, using: &random))"
                        let tag = "t:\(Int.random(in: 0..<6, using: &random))"
                        switch (step + index) % 7 {
                        case 0, 1: _ = try client.call("SET", key, "v")
                        case 2, 3: _ = try client.call("TAG.ADD", tag, key, "k:\(Int.random(in: 0..<100, using: &random))")
                        case 4: _ = try client.call("TAG.REM", tag, key)
                        case 5: _ = try client.call("TAG.INVALIDATE", tag)
                        default: _ = try Bool.random(using: &random) ? client.call("DEL", key) : client.call("APPEND", key, "x")
                        }
                    }
                } catch {
                    failures.record("\(error)")
                }
            }.start()
        }
        #expect(done.wait(timeout: .now() + 60) == .success)
        #expect(failures.messages.isEmpty)
        let client = clients[0]
        var memberships = 0
        var tagged = 0
        for n in 0..<100 {
            let key = "k:\(n)"
            let tags = strings(try client.call("TAG.TAGS", key))
            if !tags.isEmpty {
                tagged += 1
                #expect(try client.call("EXISTS", key) == .integer(1))
            }
            memberships += tags.count
            for tag in tags { #expect(strings(try client.call("TAG.KEYS", tag)).contains(key)) }
        }
        for n in 0..<6 {
            for key in strings(try client.call("TAG.KEYS", "t:\(n)")) {
                #expect(strings(try client.call("TAG.TAGS", key)).contains("t:\(n)"))
            }
        }
        #expect(try info(client, "tags", "tagged_keys") == tagged)
        #expect(try info(client, "tags", "tag_memberships") == memberships)
        guard case .integer(let keysBefore) = try client.call("DBSIZE") else { return }
        #expect(try client.call(["TAG.INVALIDATE"] + (0..<6).map { "t:\($0)" }) == .integer(Int64(tagged)))
        #expect(try client.call("DBSIZE") == .integer(keysBefore - Int64(tagged)))
        #expect(try info(client, "tags", "tagged_keys") == 0)
        #expect(try info(client, "tags", "tag_memory") == 0)
    }
}

/// Whether the built server has pub/sub and client tracking (the pubsub and tracking work of
/// issue 6), which the end-to-end invalidation test needs to observe TAG.INVALIDATE's events.
private let invalidationObservable: Bool = {
    guard let server = try? ServerProcess.swiftlet() else { return false }
    defer { server.stop() }
    guard let client = try? RespClient(port: server.port),
          case .array(let infos?)? = try? client.call("COMMAND", "INFO", "PSUBSCRIBE", "CLIENT|TRACKING") else { return false }
    return infos.allSatisfy { $0 != .array(nil) && $0 != .bulk(nil) }
}()

@Suite(.serialized, .enabled(if: invalidationObservable, "needs PSUBSCRIBE and CLIENT TRACKING in the server"))
struct TagInvalidationEventTests {
    /// TAG.INVALIDATE on one worker reaches a keyspace-event subscriber and a tracking client
    /// (RESP3 pushes) on other workers, one "del" event and one invalidation per deleted key.
    @Test(arguments: [1, 4])
    func invalidationNotifiesSubscribersAndTrackingClients(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let writer = try RespClient(port: server.port)
        let subscriber = try RespClient(port: server.port)
        let tracker = try RespClient(port: server.port)
        #expect(try writer.call("CONFIG", "SET", "notify-keyspace-events", "Eg") == .simple("OK"))
        _ = try writer.call("MSET", "a", "1", "b", "2", "c", "3")
        #expect(try writer.call("TAG.ADD", "t", "a", "b") == .integer(2))
        _ = try subscriber.call("PSUBSCRIBE", "__keyevent@0__:*")
        _ = try tracker.call("HELLO", "3")
        #expect(try tracker.call("CLIENT", "TRACKING", "ON") == .simple("OK"))
        _ = try tracker.call("MGET", "a", "b", "c")
        #expect(try writer.call("TAG.INVALIDATE", "t") == .integer(2))
        var deleted = Set<String>()
        for _ in 0..<2 {
            guard case .array(let message?) = try subscriber.readReply().value, message.count == 4 else {
                Issue.record("no pmessage")
                return
            }
            #expect(message[2].text == "__keyevent@0__:del")
            if let key = message[3].text { deleted.insert(key) }
        }
        #expect(deleted == ["a", "b"])
        var invalidated = Set<String>()
        while invalidated.count < 2 {
            guard case .other(">", let push, _) = try tracker.readReply().value, push.count == 2,
                  push[0].text == "invalidate", case .array(let keys?) = push[1] else {
                Issue.record("no invalidate push")
                return
            }
            for key in keys { if let key = key.text { invalidated.insert(key) } }
        }
        #expect(invalidated == ["a", "b"])
        #expect(try tracker.call("GET", "c") == .bulk(Array("3".utf8)))
    }
}

private final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func record(_ message: String) { lock.withLock { list.append(message) } }
    var messages: [String] { lock.withLock { list } }
}
