// CACHE.GET / CACHE.FILL / CACHE.RELEASE on a live server: every reply shape in RESP2 and
// RESP3, single flight under 50 concurrent clients on 4 workers, waiters woken by a fill, a
// plain SET or a release, token expiry with one waiter taking the fill over, stale tokens
// refused, WAIT timeouts, XFetch's statistics, errors, extreme arguments, memory accounting
// of the fill state, and the commands' COMMAND entries.
import Foundation
import Testing
import TestSupport

@Suite(.serialized)
struct CacheCommandTests {
    private func text(_ value: RespValue) -> String? {
        if case .bulk(let bytes?) = value { return String(decoding: bytes, as: UTF8.self) }
        return nil
    }

    private func bulks(_ values: String...) -> RespValue { .array(values.map { .bulk(Array($0.utf8)) }) }

    /// The token of a ["fill", token] or ["hit-refresh", value, token] reply.
    private func token(_ reply: RespValue, kind: String = "fill") -> String? {
        guard case .array(let items?) = reply, let first = items.first, text(first) == kind,
              let last = items.last, let token = text(last), token.count == 16 else { return nil }
        return token
    }

    private func raw(_ client: RespClient, _ args: String...) throws -> String {
        String(decoding: try client.rawCall(args), as: UTF8.self)
    }

    @Test func replyShapesInResp2AndResp3() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        for protocolVersion in ["2", "3"] {
            _ = try client.call("HELLO", protocolVersion)
            let key = "shape:" + protocolVersion
            let fill = try raw(client, "CACHE.GET", key, "LOCK", "1000")
            #expect(fill.hasPrefix("*2\r\n$4\r\nfill\r\n$16\r\n") && fill.utf8.count == 4 + 10 + 5 + 18)
            let token = String(decoding: fill.utf8.dropFirst(19).prefix(16), as: UTF8.self)
            let filling = try raw(client, "CACHE.GET", key, "LOCK", "1000")
            #expect(filling.hasPrefix("*2\r\n$7\r\nfilling\r\n:"))
            let left = Int(String(decoding: filling.utf8.dropFirst(18).dropLast(2), as: UTF8.self)) ?? -1
            #expect(left > 0 && left <= 1000)
            let null = protocolVersion == "2" ? "$-1\r\n" : "_\r\n"
            #expect(try raw(client, "CACHE.FILL", key, "0123456789abcdef", "v") == null)
            #expect(try raw(client, "CACHE.GET", key, "LOCK", "1000", "WAIT", "0.05")
                    == (protocolVersion == "2" ? "*-1\r\n" : "_\r\n"))
            #expect(try raw(client, "CACHE.FILL", key, token.uppercased(), "42") == "+OK\r\n")
            #expect(try raw(client, "CACHE.FILL", key, token, "again") == null)
            #expect(try raw(client, "CACHE.GET", key, "LOCK", "1000") == "*2\r\n$3\r\nhit\r\n$2\r\n42\r\n")
            #expect(try raw(client, "CACHE.RELEASE", key, token) == ":0\r\n")
            #expect(try raw(client, "GET", key) == "$2\r\n42\r\n")
            #expect(try raw(client, "OBJECT", "ENCODING", key) == "$3\r\nint\r\n")
            #expect(try raw(client, "TTL", key) == ":-1\r\n")
        }
        _ = try client.call("HELLO", "2")
        // A hit that advises a refresh carries the value and a token.
        let token = try #require(self.token(try client.call("CACHE.GET", "soon", "LOCK", "1000")))
        #expect(try client.call("CACHE.FILL", "soon", token, "old", "PX", "1000", "DELTA", "100000") == .simple("OK"))
        let refresh = try raw(client, "CACHE.GET", "soon", "LOCK", "1000", "BETA", "1000")
        #expect(refresh.hasPrefix("*3\r\n$11\r\nhit-refresh\r\n$3\r\nold\r\n$16\r\n") && refresh.utf8.count == 4 + 18 + 9 + 5 + 18)
        let pttl = try client.call("PTTL", "soon")
        #expect(pttl != .integer(-1) && pttl != .integer(-2))
    }

    @Test(arguments: [1, 4])
    func exactlyOneOfFiftyConcurrentClientsFills(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let clients = try (0..<50).map { _ in try RespClient(port: server.port) }
        let tally = Tally()
        let done = DispatchGroup()
        for client in clients {
            done.enter()
            Thread {
                defer { done.leave() }
                do {
                    let reply = try client.call("CACHE.GET", "page", "LOCK", "5000", "WAIT", "10")
                    if let token = self.token(reply) {
                        // Fill only once every other client is waiting.
                        #expect(try server.waitForBlockedClients(49))
                        let stored = try client.call("CACHE.FILL", "page", token, "rendered", "EX", "60")
                        tally.record(stored == .simple("OK") ? "fill" : "\(stored)")
                    } else {
                        tally.record(reply == self.bulks("hit", "rendered") ? "hit" : "\(reply)")
                    }
                } catch {
                    tally.record("\(error)")
                }
            }.start()
        }
        #expect(done.wait(timeout: .now() + 30) == .success)
        #expect(tally.counts == ["fill": 1, "hit": 49])
        #expect(try server.waitForBlockedClients(0))
    }

    @Test(arguments: [1, 4])
    func lapsedTokenHandsTheFillToTheFirstWaiter(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let clients = try (0..<3).map { _ in try RespClient(port: server.port) }
        let first = try #require(token(try clients[0].call("CACHE.GET", "k", "LOCK", "200")))
        try clients[1].send(["CACHE.GET", "k", "LOCK", "5000", "WAIT", "5"])
        #expect(try server.waitForBlockedClients(1))
        try clients[2].send(["CACHE.GET", "k", "LOCK", "5000", "WAIT", "5"])
        #expect(try server.waitForBlockedClients(2))
        let started = Date()
        let second = try #require(token(try clients[1].readReply().value))
        #expect(Date().timeIntervalSince(started) < 2)
        #expect(second != first)
        #expect(try server.waitForBlockedClients(1))
        #expect(try clients[0].call("CACHE.FILL", "k", first, "late") == .bulk(nil))
        #expect(try clients[1].call("CACHE.FILL", "k", second, "fresh") == .simple("OK"))
        #expect(try clients[2].readReply().value == bulks("hit", "fresh"))
    }

    @Test(arguments: [1, 4])
    func releaseAndPlainWritesWakeWaiters(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let clients = try (0..<4).map { _ in try RespClient(port: server.port) }
        // RELEASE: the first waiter takes the fill over.
        let token = try #require(self.token(try clients[0].call("CACHE.GET", "r", "LOCK", "60000")))
        try clients[1].send(["CACHE.GET", "r", "LOCK", "60000", "WAIT", "0"])
        #expect(try server.waitForBlockedClients(1))
        #expect(try clients[0].call("CACHE.RELEASE", "r", token) == .integer(1))
        #expect(self.token(try clients[1].readReply().value) != nil)
        #expect(try clients[0].call("CACHE.RELEASE", "r", token) == .integer(0))
        // A plain SET, SETEX or MSET by a cache-aside client serves every waiter.
        for (index, write) in [["SET", "s0", "v"], ["SETEX", "s1", "100", "v"], ["MSET", "x", "1", "s2", "v"]].enumerated() {
            let key = "s\(index)"
            #expect(self.token(try clients[0].call("CACHE.GET", key, "LOCK", "60000")) != nil)
            try clients[1].send(["CACHE.GET", key, "LOCK", "60000", "WAIT", "0"])
            #expect(try server.waitForBlockedClients(1))
            try clients[2].send(["CACHE.GET", key, "LOCK", "60000", "WAIT", "0"])
            #expect(try server.waitForBlockedClients(2))
            _ = try clients[3].call(write)
            #expect(try clients[1].readReply().value == bulks("hit", "v"))
            #expect(try clients[2].readReply().value == bulks("hit", "v"))
        }
        // A waiter on a key that becomes a list answers WRONGTYPE; BLPOP ignores string writes.
        #expect(self.token(try clients[0].call("CACHE.GET", "l", "LOCK", "60000")) != nil)
        try clients[1].send(["CACHE.GET", "l", "LOCK", "60000", "WAIT", "0"])
        try clients[2].send(["BLPOP", "b", "0"])
        #expect(try server.waitForBlockedClients(2))
        _ = try clients[3].call("RPUSH", "l", "x")
        #expect(try clients[1].readReply().value.text?.hasPrefix("WRONGTYPE") == true)
        _ = try clients[3].call("SET", "b", "string")
        _ = try clients[3].call("DEL", "b")
        _ = try clients[3].call("RPUSH", "b", "item")
        #expect(try clients[2].readReply().value == bulks("b", "item"))
    }

    @Test func waitTimesOutLikeBlpop() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        #expect(token(try client.call("CACHE.GET", "t", "LOCK", "60000")) != nil)
        let started = Date()
        #expect(try client.call("CACHE.GET", "t", "LOCK", "1000", "WAIT", "0.2") == .array(nil))
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed >= 0.15 && elapsed < 2)
        #expect(try client.call("INFO", "clients").text?.contains("blocked_clients:0\r\n") == true)
    }

    /// XFetch: with a recompute time far above the remaining TTL nearly every hit advises a
    /// refresh (P = exp(-ttl / (delta * beta)) ≈ 0.9 here); with a long TTL, or once the
    /// key's expire time changed, none does.
    @Test func earlyRefreshFollowsXFetchOdds() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        func fill(_ key: String, _ options: String...) throws {
            let token = try #require(self.token(try client.call("CACHE.GET", key, "LOCK", "1000")))
            #expect(try client.call(["CACHE.FILL", key, token, "v"] + options) == .simple("OK"))
        }
        func advised(_ key: String, trials: Int, beta: String = "1") throws -> Int {
            var count = 0
            for _ in 0..<trials {
                let reply = try client.call("CACHE.GET", key, "LOCK", "1000", "BETA", beta)
                if let token = self.token(reply, kind: "hit-refresh") {
                    count += 1
                    #expect(try client.call("CACHE.RELEASE", key, token) == .integer(1))
                } else {
                    #expect(reply == bulks("hit", "v"))
                }
            }
            return count
        }
        try fill("near", "PX", "5000", "DELTA", "50000")
        #expect(try advised("near", trials: 200) > 150)
        // While a refresh token is out, other hits are plain hits.
        let token = try #require(self.token(try client.call("CACHE.GET", "near", "LOCK", "1000", "BETA", "1e9"),
                                            kind: "hit-refresh"))
        #expect(try client.call("CACHE.GET", "near", "LOCK", "1000", "BETA", "1e9") == bulks("hit", "v"))
        #expect(try client.call("CACHE.FILL", "near", token, "v", "EX", "3600", "DELTA", "10") == .simple("OK"))
        #expect(try advised("near", trials: 200) == 0)
        #expect(try advised("near", trials: 50, beta: "0") == 0)
        try fill("changed", "PX", "5000", "DELTA", "50000")
        #expect(try client.call("PEXPIRE", "changed", "4000") == .integer(1))
        #expect(try advised("changed", trials: 100, beta: "1000") == 0)
        try fill("nodelta", "PX", "5000")
        #expect(try advised("nodelta", trials: 100, beta: "1000") == 0)
    }

    @Test func errorsAndWrongTypes() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        _ = try client.call("HSET", "h", "f", "v")
        let cases: [([String], String)] = [
            (["CACHE.GET", "h", "LOCK", "100"], "WRONGTYPE Operation against a key holding the wrong kind of value"),
            (["CACHE.GET", "k", "LOCK"], "ERR wrong number of arguments for 'cache.get' command"),
            (["CACHE.FILL", "k", "t"], "ERR wrong number of arguments for 'cache.fill' command"),
            (["CACHE.RELEASE", "k"], "ERR wrong number of arguments for 'cache.release' command"),
            (["CACHE.RELEASE", "k", "t", "x"], "ERR wrong number of arguments for 'cache.release' command"),
            (["CACHE.GET", "k", "WAIT", "1"], "ERR syntax error"),
            (["CACHE.GET", "k", "LOCK", "100", "WAIT"], "ERR syntax error"),
            (["CACHE.GET", "k", "LOCK", "100", "LOCK", "100"], "ERR syntax error"),
            (["CACHE.GET", "k", "LOCK", "100", "NOPE", "1"], "ERR syntax error"),
            (["CACHE.GET", "k", "LOCK", "abc"], "ERR value is not an integer or out of range"),
            (["CACHE.GET", "k", "LOCK", "0"], "ERR invalid expire time in 'cache.get' command"),
            (["CACHE.GET", "k", "LOCK", "100", "WAIT", "x"], "ERR timeout is not a float or out of range"),
            (["CACHE.GET", "k", "LOCK", "100", "WAIT", "-1"], "ERR timeout is negative"),
            (["CACHE.GET", "k", "LOCK", "100", "BETA", "-1"], "ERR beta is not a non-negative float"),
            (["CACHE.GET", "k", "LOCK", "100", "BETA", "nan"], "ERR beta is not a non-negative float"),
            (["CACHE.FILL", "k", "t", "v", "EX", "0"], "ERR invalid expire time in 'cache.fill' command"),
            (["CACHE.FILL", "k", "t", "v", "EX", "x"], "ERR value is not an integer or out of range"),
            (["CACHE.FILL", "k", "t", "v", "EX", "1", "PX", "1"], "ERR syntax error"),
            (["CACHE.FILL", "k", "t", "v", "EX"], "ERR syntax error"),
            (["CACHE.FILL", "k", "t", "v", "DELTA", "5"], "ERR DELTA needs an expire time (EX or PX)"),
            (["CACHE.FILL", "k", "t", "v", "EX", "5", "DELTA", "-5"], "ERR delta is negative"),
            (["CACHE.FILL", "k", "t", "v", "EX", "5", "DELTA", "x"], "ERR value is not an integer or out of range"),
        ]
        for (command, error) in cases {
            #expect(try client.call(command) == .error(error), "\(command)")
        }
        // No lock was taken by the failed calls; a fill may overwrite a key of another type.
        let token = try #require(self.token(try client.call("CACHE.GET", "k", "LOCK", "100")))
        #expect(try client.call("CACHE.RELEASE", "h", token) == .integer(0))
        #expect(try client.call("CACHE.FILL", "k", "not-a-token", "v") == .bulk(nil))
        #expect(try client.call("CACHE.FILL", "k", token, "v", "EX", "100", "DELTA", "0") == .simple("OK"))
        #expect(try client.call("GET", "k") == .bulk(Array("v".utf8)))
    }

    /// Extreme LOCK, BETA, EX and DELTA values answer without trapping (ExtremeArgumentTests
    /// skips blocking commands such as CACHE.GET).
    @Test func extremeArgumentsAnswer() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        let values = ["9223372036854775807", "-9223372036854775808", "9223372036854775808", "-1", "0", "1",
                      "inf", "-inf", "nan", "1e400", "-0", "", "abc"]
        for value in values {
            for command in [["CACHE.GET", "x:" + value, "LOCK", value], ["CACHE.GET", "y", "LOCK", "10", "BETA", value],
                            ["CACHE.FILL", "z", "0000000000000000", "v", "EX", value],
                            ["CACHE.FILL", "z", "0000000000000000", "v", "PX", "10", "DELTA", value]] {
                _ = try client.call(command)
            }
        }
        _ = try client.call("CACHE.RELEASE", "y", "x")
        let token = try #require(self.token(try client.call("CACHE.GET", "big", "LOCK", "1000")))
        #expect(try client.call("CACHE.FILL", "big", token, "v", "PX", "1", "DELTA", "9223372036854775807") == .simple("OK"))
        for beta in ["inf", "1e300", "0"] { _ = try client.call("CACHE.GET", "big", "LOCK", "1000", "BETA", beta) }
        #expect(try client.call("PING") == .simple("PONG"))
    }

    /// Fill state counts in used_memory; lapsed tokens are swept and FLUSHALL drops the rest.
    @Test func fillStateIsAccountedAndBounded() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        func usedMemory() throws -> Int {
            let info = try client.call("INFO", "memory").text ?? ""
            let line = info.split(separator: "\r\n").first { $0.hasPrefix("used_memory:") } ?? ""
            return Int(line.dropFirst("used_memory:".count)) ?? -1
        }
        // Client buffers count too, refreshed each tick: let this connection's settle first.
        _ = try usedMemory()
        usleep(300_000)
        let before = try usedMemory()
        for index in 0..<1000 { _ = try client.call("CACHE.GET", "short:\(index)", "LOCK", "100") }
        let withTokens = try usedMemory()
        #expect(withTokens - before >= 1000 * 96)
        var swept = withTokens
        for _ in 0..<100 where swept > before {
            usleep(50_000)
            swept = try usedMemory()
        }
        #expect(swept <= before)
        for index in 0..<1000 { _ = try client.call("CACHE.GET", "long:\(index)", "LOCK", "600000") }
        #expect(try usedMemory() - before >= 1000 * 96)
        _ = try client.call("FLUSHALL")
        #expect(try usedMemory() <= before)
    }

    @Test func commandTableDescribesTheCacheCommands() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        #expect(try client.call("COMMAND", "GETKEYS", "CACHE.GET", "k1", "LOCK", "10", "WAIT", "1")
                == bulks("k1"))
        #expect(try client.call("COMMAND", "GETKEYS", "CACHE.FILL", "k2", "t", "v", "EX", "1") == bulks("k2"))
        #expect(try client.call("COMMAND", "GETKEYS", "CACHE.RELEASE", "k3", "t") == bulks("k3"))
        let info = try raw(client, "COMMAND", "INFO", "cache.get", "cache.fill", "cache.release")
        #expect(info.contains("$9\r\ncache.get\r\n:-4\r\n*3\r\n+write\r\n+noscript\r\n+blocking\r\n"))
        #expect(info.contains("$10\r\ncache.fill\r\n:-4\r\n*2\r\n+write\r\n+denyoom\r\n"))
        #expect(info.contains("$13\r\ncache.release\r\n:3\r\n*2\r\n+write\r\n+fast\r\n"))
        #expect(info.contains("+@write\r\n+@string\r\n+@slow\r\n+@blocking\r\n"))
        let docs = try raw(client, "COMMAND", "DOCS", "cache.get")
        for word in ["summary", "arguments", "LOCK", "WAIT", "BETA"] { #expect(docs.contains(word), "\(word)") }
        #expect(try raw(client, "COMMAND", "DOCS", "cache.fill").contains("DELTA"))
    }
}

/// Outcomes of concurrent clients, counted under a lock.
private final class Tally: @unchecked Sendable {
    private let lock = NSLock()
    private var outcomes: [String: Int] = [:]

    func record(_ outcome: String) { lock.withLock { outcomes[outcome, default: 0] += 1 } }
    var counts: [String: Int] { lock.withLock { outcomes } }
}
