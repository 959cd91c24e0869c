// Scripts under concurrency on 4 worker threads: a flash sale (100 units, 2000 buyers from 50
// connections, each a check-and-decrement script) sells exactly the stock and never goes
// negative; a sliding-log rate limiter (ZREMRANGEBYSCORE/ZCARD/ZADD in one script) never lets
// more than N through from 50 clients; a script that touches undeclared keys still runs
// atomically; and a busy script gets other clients BUSY replies until SCRIPT KILL ends it.
import Foundation
import Testing
import TestSupport

@Suite(.serialized)
struct ScriptingConcurrencyTests {
    /// `clients` connections × `attempts` tries of `attempt`; returns how many succeeded.
    private func contend(_ port: Int, clients: Int = 50, attempts: Int, _ attempt: @escaping (RespClient) -> Bool) -> Int {
        let lock = NSLock()
        var succeeded = 0
        DispatchQueue.concurrentPerform(iterations: clients) { _ in
            guard let client = try? RespClient(port: port) else { return }
            for _ in 0..<attempts where attempt(client) {
                lock.lock(); succeeded += 1; lock.unlock()
            }
        }
        return succeeded
    }

    @Test func flashSaleSellsExactlyTheStock() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        let admin = try RespClient(port: server.port)
        _ = try admin.call("SET", "stock", "100")
        let buy = "local s=tonumber(redis.call('GET',KEYS[1])) if s and s>0 then redis.call('DECR',KEYS[1]) return 1 end return 0"
        let sold = contend(server.port, attempts: 40) { client in
            (try? client.call("EVAL", buy, "1", "stock")) == .integer(1)
        }
        #expect(sold == 100)
        #expect(try admin.call("GET", "stock") == .bulk(Array("0".utf8)))
    }

    @Test func slidingLogLimiterNeverExceedsTheLimit() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        // At most 25 requests per 60-second window; ARGV: now (ms), window (ms), limit, member.
        let limiter = """
        redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, tonumber(ARGV[1]) - tonumber(ARGV[2]))
        if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
        redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return 1
        """
        let counter = NSLock()
        var sequence = 0
        let allowed = contend(server.port, attempts: 10) { client in
            counter.lock(); sequence += 1; let member = String(sequence); counter.unlock()
            let now = String(Int64(Date().timeIntervalSince1970 * 1000))
            return (try? client.call("EVAL", limiter, "1", "log:api", now, "60000", "25", member)) == .integer(1)
        }
        #expect(allowed == 25)
        let admin = try RespClient(port: server.port)
        #expect(try admin.call("ZCARD", "log:api") == .integer(25))
    }

    @Test func undeclaredKeysStayAtomic() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        // The keys are built in Lua, not declared: the script holds every shard and moves one
        // unit between two counters; the sum seen by other scripts never changes.
        let move = "local a = 'acct:' .. ARGV[1] local b = 'acct:' .. ARGV[2] redis.call('DECR', a) redis.call('INCR', b) return 1"
        let sum = "return tonumber(redis.call('GET','acct:x') or 0) + tonumber(redis.call('GET','acct:y') or 0)"
        let wrong = contend(server.port, clients: 20, attempts: 50) { client in
            if Bool.random() {
                _ = try? client.call("EVAL", move, "0", "x", "y")
                return false
            }
            return (try? client.call("EVAL", sum, "0")) != .integer(0)
        }
        #expect(wrong == 0)
    }

    @Test(arguments: [1, 4]) func busyScriptAnswersBusyUntilKilled(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads), "--busy-reply-threshold", "100"])
        defer { server.stop() }
        let runner = try RespClient(port: server.port, timeoutSeconds: 20)
        let other = try RespClient(port: server.port)
        #expect(try other.call("SCRIPT", "KILL") == .error("NOTBUSY No scripts in execution right now."))
        try runner.send(["EVAL", "local i = 0 while true do i = i + 1 end", "0"])
        var reply = RespValue.integer(0)
        for _ in 0..<50 {
            reply = try other.call("PING")
            if reply != .simple("PONG") { break }
            usleep(50_000)
        }
        #expect(reply == .error("BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."))
        #expect(try other.call("SCRIPT", "KILL") == .simple("OK"))
        let killed = try runner.readReply().value
        guard case .error(let message) = killed else { Issue.record("script not killed: \(killed)"); return }
        #expect(message.hasPrefix("ERR Script killed by user with SCRIPT KILL..."))
        #expect(try other.call("PING") == .simple("PONG"))
        // A script that wrote cannot be killed.
        try runner.send(["EVAL", "redis.call('SET','w','1') local i = 0 while i < 3e8 do i = i + 1 end return 1", "0"])
        for _ in 0..<50 {
            reply = try other.call("SCRIPT", "KILL")
            if case .error(let text) = reply, text.hasPrefix("UNKILLABLE") { break }
            usleep(50_000)
        }
        guard case .error(let text) = reply else { Issue.record("no UNKILLABLE: \(reply)"); return }
        #expect(text.hasPrefix("UNKILLABLE Sorry the script already executed write commands against the dataset."))
        #expect(try runner.readReply().value == .integer(1))
    }
}
