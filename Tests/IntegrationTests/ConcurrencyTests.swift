// Multi-threaded correctness: with several worker threads, commands on one key from many
// connections must not lose updates, and multi-key commands must stay atomic across shards
// (a concurrent MGET never sees half of an MSET).
import Foundation
import Testing
import TestSupport

@Suite(.serialized)
struct ConcurrencyTests {
    @Test func concurrentIncrementsAreNotLost() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        let clients = 8, increments = 500
        DispatchQueue.concurrentPerform(iterations: clients) { _ in
            guard let client = try? RespClient(port: server.port) else { return }
            for _ in 0..<increments { _ = try? client.call("INCR", "counter") }
        }
        let total = try RespClient(port: server.port).call("GET", "counter")
        #expect(total == .bulk(Array(String(clients * increments).utf8)))
    }

    @Test func msetIsAtomicForConcurrentReaders() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        // Keys chosen to live in different shards (different hash slots).
        let keys = ["alpha", "bravo", "charlie", "delta"]
        _ = try RespClient(port: server.port).call(["MSET"] + keys.flatMap { [$0, "start"] })
        let torn = NSLock()
        var tornReads = 0
        var reads = 0
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            guard let client = try? RespClient(port: server.port) else { return }
            for round in 0..<400 {
                if worker < 2 {
                    let value = "\(worker)-\(round)"
                    _ = try? client.call(["MSET"] + keys.flatMap { [$0, value] })
                } else if case .array(let values?)? = try? client.call(["MGET"] + keys) {
                    let distinct = Set(values.map(\.description))
                    torn.lock()
                    reads += 1
                    if distinct.count != 1 { tornReads += 1 }
                    torn.unlock()
                }
            }
        }
        #expect(reads == 800)
        #expect(tornReads == 0)
    }
}
