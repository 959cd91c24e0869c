// Rate limiting over the wire, on 4 worker threads with 50 concurrent clients: CL.THROTTLE
// (redis-cell's reply and errors) never allows more than the burst in one window, and the
// classic fixed-window pattern (INCR + EXPIRE NX in MULTI) never lets more than N through.
import Foundation
import Testing
import TestSupport

@Suite(.serialized)
struct RateLimitTests {
    private func integers(_ value: RespValue) -> [Int64] {
        guard case .array(let items?) = value else { return [] }
        return items.compactMap { if case .integer(let number) = $0 { return number } else { return nil } }
    }

    @Test func throttleRepliesAsRedisCell() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        // 5 requests at once (burst 4), then 1 per 60 s.
        for remaining in stride(from: 4, through: 0, by: -1) {
            let reply = integers(try client.call("CL.THROTTLE", "user:1", "4", "1", "60"))
            #expect(reply.count == 5)
            #expect(Array(reply.prefix(3)) == [0, 5, Int64(remaining)])
            #expect(reply[3] == -1)
        }
        let refused = integers(try client.call("CL.THROTTLE", "user:1", "4", "1", "60"))
        #expect(Array(refused.prefix(3)) == [1, 5, 0])
        #expect((59...60).contains(refused[3]))
        #expect((299...300).contains(refused[4]))
        // The key holds the TAT with redis-cell's TTL.
        if case .integer(let ttl) = try client.call("PTTL", "user:1") { #expect((298_000...300_000).contains(ttl)) }
        #expect(try client.call("CL.THROTTLE", "user:1", "4", "0", "60") == .error("Cell error: Zero rates are not supported"))
        #expect(try client.call("CL.THROTTLE", "user:1", "x", "1", "60") == .error("Cell error: Couldn't parse as integer: x"))
        #expect(try client.call("CL.THROTTLE", "user:1", "4", "1", "60", "1", "extra")
                == .error("Cell error: Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]"))
        #expect(try client.call("CL.THROTTLE", "user:1", "4") == .error("ERR wrong number of arguments for 'cl.throttle' command"))
        _ = try client.call("LPUSH", "alist", "x")
        #expect(try client.call("CL.THROTTLE", "alist", "4", "1", "60")
                == .error("WRONGTYPE Operation against a key holding the wrong kind of value"))
        // Quantity 0 peeks without using the allowance.
        #expect(Array(integers(try client.call("CL.THROTTLE", "fresh", "4", "1", "60", "0")).prefix(3)) == [0, 5, 5])
        #expect(try client.call("EXISTS", "fresh") == .integer(0))
    }

    /// 50 clients × 10 attempts against one limit; returns how many were allowed.
    private func contend(_ port: Int, attempt: @escaping (RespClient) -> Bool) -> Int {
        let lock = NSLock()
        var allowed = 0
        DispatchQueue.concurrentPerform(iterations: 50) { _ in
            guard let client = try? RespClient(port: port) else { return }
            for _ in 0..<10 where attempt(client) {
                lock.lock(); allowed += 1; lock.unlock()
            }
        }
        return allowed
    }

    @Test func throttleNeverExceedsTheBurstAcrossThreads() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        // 100 at once (burst 99), then 1 per hour: exactly 100 of 500 attempts pass.
        let allowed = contend(server.port) { client in
            guard case .array(let reply?)? = try? client.call("CL.THROTTLE", "api", "99", "1", "3600") else { return false }
            return reply.first == .integer(0)
        }
        #expect(allowed == 100)
    }

    @Test func fixedWindowInMultiNeverExceedsTheLimit() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        // Limit 120 per 60-second window: INCR and EXPIRE NX run atomically in one EXEC.
        let allowed = contend(server.port) { client in
            _ = try? client.call("MULTI")
            _ = try? client.call("INCR", "window:1")
            _ = try? client.call("EXPIRE", "window:1", "60", "NX")
            guard case .array(let replies?)? = try? client.call("EXEC"), case .integer(let count)? = replies.first else {
                return false
            }
            return count <= 120
        }
        #expect(allowed == 120)
        let client = try RespClient(port: server.port)
        #expect(try client.call("GET", "window:1") == .bulk(Array("500".utf8)))
        if case .integer(let ttl) = try client.call("TTL", "window:1") { #expect((58...60).contains(ttl)) }
    }
}
