// Blocking list commands on a live server: a client blocked on one worker is served by a
// push from another, blocked clients are served first come first served, timeouts fire on
// time, CLIENT UNBLOCK and disconnects end the wait, pipelined input behind a blocked
// command runs once it is served, and concurrent pushers and blocking poppers on 4 workers
// neither lose nor duplicate an element.
import Foundation
import Testing
import TestSupport

@Suite(.serialized)
struct BlockingListTests {
    private func bulks(_ values: String...) -> RespValue { .array(values.map { .bulk(Array($0.utf8)) }) }

    /// A pusher's pipelined batch pauses after the push until the woken client's retry on
    /// another worker ends; the rest of the batch, and a command still arriving after it,
    /// then run as sent (the batch was parsed ahead, the last command only part way).
    @Test(arguments: [1, 4])
    func pipelineBehindAPushThatWakesAnotherWorkerRunsIntact(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let clients = try (0..<4).map { _ in try RespClient(port: server.port) }
        let blocked = clients[1], pusher = clients[2]
        for round in 0..<20 {
            try blocked.send(["BLPOP", "list", "0"])
            #expect(try server.waitForBlockedClients(1))
            let last = RespClient.encode(["SET", "k", "v\(round)"].map { Array($0.utf8) })
            let cut = last.count - 3
            try pusher.send(raw: RespClient.encode([Array("RPUSH".utf8), Array("list".utf8), Array("x".utf8)])
                + RespClient.encode([Array("GET".utf8), Array("k".utf8)]) + last[..<cut])
            #expect(try pusher.readReply().value == .integer(1))
            #expect(try pusher.readReply().value == (round == 0 ? .bulk(nil) : .bulk(Array("v\(round - 1)".utf8))))
            usleep(20_000)
            try pusher.send(raw: Array(last[cut...]))
            #expect(try pusher.readReply().value == .simple("OK"))
            #expect(try blocked.readReply().value == bulks("list", "x"))
        }
    }

    @Test(arguments: [1, 4])
    func pushFromAnotherWorkerServesBlockedClientAndItsPipelinedInput(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        // Connections are handed to workers round-robin: these land on different workers.
        let clients = try (0..<4).map { _ in try RespClient(port: server.port) }
        let blocked = clients[1], pusher = clients[2]
        try blocked.send(["BLPOP", "list", "0"])
        try blocked.send(["PING"])
        #expect(try server.waitForBlockedClients(1))
        #expect(try pusher.call("RPUSH", "list", "x", "y") == .integer(2))
        #expect(try blocked.readReply().value == bulks("list", "x"))
        #expect(try blocked.readReply().value == .simple("PONG"))
        #expect(try pusher.call("LRANGE", "list", "0", "-1") == bulks("y"))
        #expect(try server.waitForBlockedClients(0))
        // Its replies were written: CLIENT LIST shows no pending output for it (once its own
        // worker has finished the write the client already read from, another thread's read).
        guard case .integer(let id) = try blocked.call("CLIENT", "ID") else { Issue.record("no CLIENT ID"); return }
        var listing = ""
        let deadline = Date().addingTimeInterval(5)
        repeat {
            listing = try pusher.call("CLIENT", "LIST", "ID", String(id)).text ?? ""
        } while !listing.contains(" obl=0 ") && Date() < deadline
        #expect(listing.contains(" obl=0 "), "\(listing)")
    }

    @Test(arguments: [1, 4])
    func sortedSetPopsAreServedByZaddFromAnotherWorker(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let clients = try (0..<4).map { _ in try RespClient(port: server.port) }
        try clients[1].send(["BZPOPMIN", "board", "0"])
        #expect(try server.waitForBlockedClients(1))
        try clients[2].send(["BZMPOP", "0", "2", "none", "board", "MAX", "COUNT", "2"])
        #expect(try server.waitForBlockedClients(2))
        #expect(try clients[3].call("ZADD", "board", "1", "a", "2", "b", "3", "c", "4", "d") == .integer(4))
        #expect(try clients[1].readReply().value == bulks("board", "a", "1"))
        #expect(try clients[2].readReply().value
                == .array([.bulk(Array("board".utf8)), .array([bulks("d", "4"), bulks("c", "3")])]))
        #expect(try clients[3].call("ZRANGE", "board", "0", "-1") == bulks("b"))
    }

    /// A transaction that creates the awaited key and leaves it holding another type wakes
    /// the waiters onto a key they cannot pop: as in Redis, they keep waiting (no WRONGTYPE).
    @Test(arguments: [1, 4])
    func waitersWokenOntoAnotherTypeKeepWaiting(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let clients = try (0..<4).map { _ in try RespClient(port: server.port) }
        let writer = clients[3]
        for (command, create) in [(["BLPOP", "k", "0"], ["LPUSH", "k", "a"]),
                                  (["BZPOPMIN", "k", "0"], ["ZADD", "k", "0", "a"]),
                                  (["BZMPOP", "0", "1", "k", "MIN"], ["ZADD", "k", "0", "a"])] {
            try clients[1].send(command)
            #expect(try server.waitForBlockedClients(1))
            for step in [["MULTI"], create, ["DEL", "k"], ["SET", "k", "string"], ["EXEC"]] {
                _ = try writer.call(step)
            }
            #expect(try server.waitForBlockedClients(1), "\(command[0]) stays blocked")
            _ = try writer.call("DEL", "k")
            _ = try writer.call(create.map { $0 == "a" ? "b" : $0 })
            let reply = try clients[1].readReply().value
            #expect(reply.description.contains("\"b\""), "\(command[0]): \(reply)")
        }
    }

    @Test(arguments: [1, 4])
    func blockedClientsAreServedInArrivalOrder(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let clients = try (0..<4).map { _ in try RespClient(port: server.port) }
        for (position, client) in clients.prefix(3).enumerated() {
            try client.send(["BRPOP", "other", "queue", "0"])
            #expect(try server.waitForBlockedClients(position + 1))
        }
        #expect(try clients[3].call("LPUSH", "queue", "first", "second", "third") == .integer(3))
        #expect(try clients[0].readReply().value == bulks("queue", "first"))
        #expect(try clients[1].readReply().value == bulks("queue", "second"))
        #expect(try clients[2].readReply().value == bulks("queue", "third"))
        #expect(try clients[3].call("EXISTS", "queue") == .integer(0))
    }

    /// A client woken by a push is served before another client's command on the key runs,
    /// whichever worker that command arrives on: a pop sent right after the push finds the
    /// list already served (empty), never the element the woken client waits for.
    @Test(arguments: [1, 4])
    func wokenClientIsServedBeforeAnotherClientTakesTheData(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let clients = try (0..<4).map { _ in try RespClient(port: server.port, timeoutSeconds: 3) }
        let blocked = clients[1], pusher = clients[2], taker = clients[3]
        for round in 0..<300 {
            try blocked.send(["BLPOP", "list", "0"])
            #expect(try server.waitForBlockedClients(1))
            try pusher.send(["LPUSH", "list", "v\(round)"])
            try taker.send(["LPOP", "list"])
            try #require(try taker.readReply().value == .bulk(nil), "round \(round): the pop took the element")
            #expect(try pusher.readReply().value == .integer(1))
            #expect(try blocked.readReply().value == bulks("list", "v\(round)"))
        }
    }

    /// Redis's "BRPOPLPUSH with multiple blocked clients": the first waiter, whose destination
    /// has the wrong type, gets WRONGTYPE and leaves the element to the client behind it, even
    /// when that client's command reaches a worker only as the push lands. Fresh connections
    /// each round, assigned to workers in turn: with 2 threads the two waiters share one
    /// (the competing command then runs the woken client's retry itself), with 4 they do not.
    @Test(arguments: [1, 2, 4])
    func failedWokenClientLeavesTheElementToTheNextClient(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let setup = try RespClient(port: server.port)
        #expect(try setup.call("SET", "wrong", "string") == .simple("OK"))
        for round in 0..<60 {
            let first = try RespClient(port: server.port, timeoutSeconds: 3)
            let pusher = try RespClient(port: server.port, timeoutSeconds: 3)
            let second = try RespClient(port: server.port, timeoutSeconds: 3)
            try first.send(["BRPOPLPUSH", "list", "wrong", "0"])
            #expect(try server.waitForBlockedClients(1))
            try pusher.send(["LPUSH", "list", "v\(round)"])
            try second.send(["BRPOPLPUSH", "list", "target", "0"])
            let reply = try first.readReply().value
            try #require(reply.description.contains("WRONGTYPE"), "round \(round): \(reply)")
            #expect(try second.readReply().value == .bulk(Array("v\(round)".utf8)))
            #expect(try pusher.readReply().value == .integer(1))
        }
        #expect(try setup.call("LLEN", "target") == .integer(60))
    }

    /// Redis serves blocked clients before the writer's next command; across workers the
    /// writer waits for the retries it caused, chains included (Redis's "Circular BRPOPLPUSH").
    @Test(arguments: [1, 4])
    func writersNextCommandSeesTheClientsItWokeServed(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let clients = try (0..<4).map { _ in try RespClient(port: server.port) }
        for round in 0..<20 {
            try clients[1].send(["BRPOPLPUSH", "list1", "list2", "0"])
            #expect(try server.waitForBlockedClients(1))
            try clients[2].send(["BRPOPLPUSH", "list2", "list1", "0"])
            #expect(try server.waitForBlockedClients(2))
            try clients[3].send(["RPUSH", "list1", "foo\(round)"])
            try clients[3].send(["LRANGE", "list1", "0", "-1"])
            try clients[3].send(["LRANGE", "list2", "0", "-1"])
            #expect(try clients[3].readReply().value == .integer(1))
            #expect(try clients[3].readReply().value == bulks("foo\(round)"))
            #expect(try clients[3].readReply().value == .array([]))
            #expect(try clients[1].readReply().value == .bulk(Array("foo\(round)".utf8)))
            #expect(try clients[2].readReply().value == .bulk(Array("foo\(round)".utf8)))
            _ = try clients[3].call("DEL", "list1")
        }
    }

    @Test(arguments: [1, 4])
    func timeoutsFireOnTime(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        for command in [["BLPOP", "none", "0.3"], ["BLMOVE", "none", "dst", "LEFT", "RIGHT", "0.3"],
                        ["BLMPOP", "0.3", "1", "none", "LEFT"]] {
            let started = Date()
            try client.send(command)
            let reply = try client.readReply()
            let elapsed = Date().timeIntervalSince(started)
            #expect(reply.raw == Array("*-1\r\n".utf8), "\(command)")
            // Never early; the bound on lateness leaves room for a debug build on a loaded
            // two-core machine.
            #expect(elapsed >= 0.29 && elapsed < 0.6, "\(command) took \(elapsed)s")
        }
        _ = try client.call("HELLO", "3")
        try client.send(["BRPOP", "none", "0.05"])
        #expect(try client.readReply().raw == Array("_\r\n".utf8))
    }

    @Test(arguments: [1, 4])
    func clientUnblockEndsTheWait(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let blocked = try RespClient(port: server.port), other = try RespClient(port: server.port)
        guard case .integer(let id) = try blocked.call("CLIENT", "ID") else {
            Issue.record("no client id")
            return
        }
        #expect(try other.call("CLIENT", "UNBLOCK", String(id)) == .integer(0))
        try blocked.send(["BLPOP", "k", "0"])
        #expect(try server.waitForBlockedClients(1))
        #expect(try other.call("CLIENT", "LIST", "ID", String(id)).text?.contains("flags=b ") == true)
        #expect(try other.call("CLIENT", "UNBLOCK", String(id)) == .integer(1))
        #expect(try blocked.readReply().raw == Array("*-1\r\n".utf8))
        try blocked.send(["BLMOVE", "k", "d", "LEFT", "LEFT", "0"])
        #expect(try server.waitForBlockedClients(1))
        #expect(try other.call("CLIENT", "UNBLOCK", String(id), "ERROR") == .integer(1))
        #expect(try blocked.readReply().value == .error("UNBLOCKED client unblocked via CLIENT UNBLOCK"))
        #expect(try other.call("CLIENT", "UNBLOCK", String(id), "MAYBE") == .error("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"))
        #expect(try blocked.call("PING") == .simple("PONG"))
    }

    @Test(arguments: [1, 4])
    func swapdbAndRenameServeBlockedClients(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        let blocked = try RespClient(port: server.port), other = try RespClient(port: server.port)
        _ = try blocked.call("SELECT", "9")
        try blocked.send(["BRPOP", "k", "5"])
        #expect(try server.waitForBlockedClients(1))
        _ = try other.call("SELECT", "1")
        _ = try other.call("RPUSH", "k", "hello")
        #expect(try other.call("SWAPDB", "1", "9") == .simple("OK"))
        #expect(try blocked.readReply().value == bulks("k", "hello"))
        try blocked.send(["BLPOP", "target", "5"])
        #expect(try server.waitForBlockedClients(1))
        _ = try other.call("SELECT", "9")
        _ = try other.call("RPUSH", "source", "moved")
        #expect(try other.call("RENAME", "source", "target") == .simple("OK"))
        #expect(try blocked.readReply().value == bulks("target", "moved"))
    }

    @Test(arguments: [1, 4])
    func disconnectedBlockedClientLeavesTheQueue(threads: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { server.stop() }
        var gone: RespClient? = try RespClient(port: server.port)
        let waiting = try RespClient(port: server.port), pusher = try RespClient(port: server.port)
        try gone?.send(["BLPOP", "k", "0"])
        #expect(try server.waitForBlockedClients(1))
        try waiting.send(["BLPOP", "k", "0"])
        #expect(try server.waitForBlockedClients(2))
        gone = nil
        #expect(try server.waitForBlockedClients(1))
        #expect(try pusher.call("RPUSH", "k", "a", "b") == .integer(2))
        #expect(try waiting.readReply().value == bulks("k", "a"))
        #expect(try pusher.call("LRANGE", "k", "0", "-1") == bulks("b"))
    }

    @Test func concurrentPushersAndBlockingPoppersLoseAndDuplicateNothing() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        let pushers = 4, poppers = 4, perPusher = 400
        let keys = ["q0", "q1", "q2", "{q}3"]
        let lock = NSLock()
        var popped: [String] = []
        DispatchQueue.concurrentPerform(iterations: pushers + poppers) { worker in
            guard let client = try? RespClient(port: server.port) else { return }
            if worker < pushers {
                for index in 0..<perPusher {
                    let key = keys[(worker + index) % keys.count]
                    let element = "p\(worker)-\(index)"
                    _ = index % 2 == 0 ? try? client.call("LPUSH", key, element) : try? client.call("RPUSH", key, element)
                }
            } else {
                var mine: [String] = []
                while true {
                    let command = worker % 2 == 0 ? ["BLPOP"] + keys + ["1"] : ["BLMPOP", "1", "4"] + keys + ["RIGHT", "COUNT", "3"]
                    guard let reply = try? client.call(command), case .array(let pair?) = reply, pair.count == 2 else { break }
                    switch pair[1] {
                    case .bulk(let element?): mine.append(String(decoding: element, as: UTF8.self))
                    case .array(let elements?): mine += elements.compactMap(\.text)
                    default: break
                    }
                }
                lock.lock()
                popped += mine
                lock.unlock()
            }
        }
        #expect(popped.count == pushers * perPusher)
        #expect(Set(popped).count == pushers * perPusher)
        let probe = try RespClient(port: server.port)
        #expect(try probe.call(["EXISTS"] + keys) == .integer(0))
    }
}
