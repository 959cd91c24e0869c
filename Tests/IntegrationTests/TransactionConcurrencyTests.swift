// Transactions under concurrency on several worker threads: EXEC is atomic across shards
// (a reader's MULTI/GET/GET/EXEC never sees one INCR of a pair without the other), and WATCH
// makes check-and-set loops lose no update however many clients race.
import Foundation
import Testing
import TestSupport

@Suite(.serialized)
struct TransactionConcurrencyTests {
    /// Two keys in different shards, bumped together in every transaction.
    private static let pair = ["left", "right"]

    @Test func execIsAtomicAcrossShards() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        let lock = NSLock()
        var reads = 0, tornReads = 0, committed = 0
        DispatchQueue.concurrentPerform(iterations: 6) { worker in
            guard let client = try? RespClient(port: server.port) else { return }
            for _ in 0..<300 {
                _ = try? client.call("MULTI")
                if worker < 3 {
                    for key in Self.pair { _ = try? client.call("INCR", key) }
                    if case .array(let replies?)? = try? client.call("EXEC"), replies.count == 2 {
                        lock.lock(); committed += 1; lock.unlock()
                    }
                } else {
                    for key in Self.pair { _ = try? client.call("GET", key) }
                    guard case .array(let values?)? = try? client.call("EXEC") else { continue }
                    lock.lock()
                    reads += 1
                    if values.count != 2 || values[0] != values[1] { tornReads += 1 }
                    lock.unlock()
                }
            }
        }
        #expect(committed == 900)
        #expect(reads == 900)
        #expect(tornReads == 0)
        let client = try RespClient(port: server.port)
        #expect(try client.call("GET", "left") == .bulk(Array("900".utf8)))
        #expect(try client.call("GET", "right") == .bulk(Array("900".utf8)))
    }

    @Test func watchedCheckAndSetLosesNoUpdate() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        let clients = 8, increments = 200
        DispatchQueue.concurrentPerform(iterations: clients) { _ in
            guard let client = try? RespClient(port: server.port) else { return }
            var done = 0
            while done < increments {
                _ = try? client.call("WATCH", "balance")
                var current = 0
                if case .bulk(let bytes?)? = try? client.call("GET", "balance") {
                    current = Int(String(decoding: bytes, as: UTF8.self)) ?? 0
                }
                _ = try? client.call("MULTI")
                _ = try? client.call("SET", "balance", String(current + 1))
                // A rival's write between WATCH and EXEC aborts it (nil): read and try again.
                if case .array(let replies?)? = try? client.call("EXEC"), !replies.isEmpty { done += 1 }
            }
        }
        let total = try RespClient(port: server.port).call("GET", "balance")
        #expect(total == .bulk(Array(String(clients * increments).utf8)))
    }
}
