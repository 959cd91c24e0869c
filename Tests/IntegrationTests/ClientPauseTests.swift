// CLIENT PAUSE on a live server, with clients on different workers: WRITE holds back what
// may write or replicate (scripts by their shebang, EXEC by what it queued) and lets reads
// run, ALL holds back everything, a pause ends on UNPAUSE or by itself, commands a pause held
// back count as blocked clients, and no key expires while the pause lasts.
import Foundation
import Testing
import TestSupport

@Suite(.serialized)
struct ClientPauseTests {
    private func ok() -> RespValue { .simple("OK") }

    private func expiredKeys(_ client: RespClient) throws -> String? {
        try client.call("INFO", "stats").text?.split(separator: "\r\n")
            .first { $0.hasPrefix("expired_keys:") }.map { String($0.dropFirst(13)) }
    }

    @Test(arguments: [1, 4])
    func writePauseHoldsBackWritesAndLetsReadsRun(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let clients = try (0..<5).map { _ in try RespClient(port: server.port) }
        let admin = clients[0], writer = clients[1], publisher = clients[2], scripter = clients[3], reader = clients[4]
        #expect(try writer.call("CLIENT", "SETNAME", "writer") == ok())
        #expect(try admin.call("CLIENT", "PAUSE", "60000", "WRITE") == ok())
        try writer.send(["SET", "k", "v"])
        try publisher.send(["PUBLISH", "channel", "message"])
        try scripter.send(["EVAL", "return redis.call('INCR', 'evals')", "0"])
        #expect(try server.waitForBlockedClients(3))
        let writerLine = try admin.call("CLIENT", "LIST").text?.split(separator: "\n").first { $0.contains(" name=writer ") }
        #expect(writerLine?.contains(" flags=b ") == true && writerLine?.contains(" cmd=set ") == true,
                "held back: flag b and its command, as in Redis (\(writerLine ?? "no line"))")
        #expect(try reader.call("GET", "k") == .bulk(nil))
        #expect(try reader.call("EVAL", "#!lua flags=no-writes\nreturn 1", "0") == .integer(1))
        #expect(try reader.call("EVAL_RO", "return 2", "0") == .integer(2))
        try reader.send(["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() return 3 end)"])
        #expect(try server.waitForBlockedClients(4))
        #expect(try admin.call("CLIENT", "UNPAUSE") == ok())
        #expect(try writer.readReply().value == ok())
        #expect(try publisher.readReply().value == .integer(0))
        // Released together, the three run in any order across workers (as clients that sent
        // at the same time may be served): each checks only its own effect.
        #expect(try scripter.readReply().value == .integer(1))
        #expect(try reader.readReply().value == .bulk(Array("lib".utf8)))
        #expect(try server.waitForBlockedClients(0))
    }

    @Test(arguments: [1, 4])
    func pauseEndsByItselfAndAllHoldsBackReadsToo(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let admin = try RespClient(port: server.port), other = try RespClient(port: server.port)
        for (mode, command) in [("WRITE", ["SET", "k", "v"]), ("ALL", ["GET", "k"])] {
            let started = Date()
            #expect(try admin.call("CLIENT", "PAUSE", "300", mode) == ok())
            _ = try other.call(command)
            let waited = Date().timeIntervalSince(started)
            #expect(waited >= 0.25 && waited < 3, "\(mode): \(waited) s")
        }
    }

    /// Redis checks the pause before queueing: a write sent inside MULTI waits, and EXEC
    /// waits when it queued a write, not when it queued only reads or no-writes scripts.
    @Test(arguments: [1, 4])
    func transactionsArePausedByWhatTheyQueue(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let clients = try (0..<4).map { _ in try RespClient(port: server.port) }
        let admin = clients[0], writing = clients[1], reading = clients[2], queueing = clients[3]
        #expect(try writing.call("MULTI") == ok())
        #expect(try writing.call("SET", "k", "v") == .simple("QUEUED"))
        #expect(try admin.call("CLIENT", "PAUSE", "60000", "WRITE") == ok())
        try writing.send(["EXEC"])
        #expect(try server.waitForBlockedClients(1))
        #expect(try reading.call("MULTI") == ok())
        #expect(try reading.call("GET", "k") == .simple("QUEUED"))
        #expect(try reading.call("EVAL", "#!lua flags=no-writes\nreturn 5", "0") == .simple("QUEUED"))
        #expect(try reading.call("EXEC") == .array([.bulk(nil), .integer(5)]))
        #expect(try queueing.call("MULTI") == ok())
        try queueing.send(["INCR", "counter"])
        #expect(try server.waitForBlockedClients(2))
        #expect(try admin.call("CLIENT", "UNPAUSE") == ok())
        #expect(try writing.readReply().value == .array([ok()]))
        #expect(try queueing.readReply().value == .simple("QUEUED"))
        #expect(try queueing.call("EXEC") == .array([.integer(1)]))
    }

    @Test func keysDoNotExpireWhilePaused() throws {
        let server = try ServerProcess.swiftlet()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        #expect(try client.call("SET", "k", "v", "PX", "50") == ok())
        let before = try expiredKeys(client)
        #expect(try client.call("CLIENT", "PAUSE", "60000", "WRITE") == ok())
        usleep(300_000)
        #expect(try client.call("GET", "k") == .bulk(nil), "expired: reads as missing")
        #expect(try client.call("DBSIZE") == .integer(1), "but neither the active cycle nor the read deleted it")
        #expect(try expiredKeys(client) == before)
        #expect(try client.call("CLIENT", "UNPAUSE") == ok())
        #expect(try client.call("GET", "k") == .bulk(nil))
        #expect(try client.call("DBSIZE") == .integer(0))
        #expect(try expiredKeys(client) == before.map { String(Int($0)! + 1) })
    }
}
