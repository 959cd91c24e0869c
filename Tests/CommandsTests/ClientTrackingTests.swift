// The client-tracking registry against a simple model: RESP3 clients in default or BCAST
// mode (with prefixes and NOLOOP) read and change random keys; each change must reach exactly
// the clients the model predicts (default mode: readers since the key's last change; BCAST:
// batched per prefix at the next broadcast, in key order), and the INFO counters must agree.
import Testing
import Support
@testable import Commands

/// A client that records the invalidations it is pushed.
private final class InvalidationRecorder: PushTarget {
    var received: [[String]?] = []
    func push(_ message: PushMessage) {
        guard case .invalidate(let keys) = message else { return }
        received.append(keys?.map { String(decoding: $0, as: UTF8.self) })
    }
}

struct ClientTrackingTests {
    private func key(_ text: String, _ body: (UnsafeRawBufferPointer) -> Void) {
        Array(text.utf8).withUnsafeBytes(body)
    }

    @Test func randomReadsAndWritesMatchAModel() {
        let tracking = ClientTracking()
        let sessions = (1...5).map { Session(id: $0, peerAddress: "", localAddress: "", fd: -1, now: 0) }
        let targets = sessions.map { _ in InvalidationRecorder() }
        for (session, target) in zip(sessions, targets) {
            session.protocolVersion = 3
            tracking.connected(session, target: target)
        }
        // Clients 0-2 track reads; 3 broadcasts prefixes "a" and "b" with NOLOOP; 4 broadcasts all.
        tracking.enable(sessions[0], redirect: 0, flags: [], prefixes: [])
        tracking.enable(sessions[1], redirect: 0, flags: [.noloop], prefixes: [])
        tracking.enable(sessions[2], redirect: 0, flags: [], prefixes: [])
        tracking.enable(sessions[3], redirect: 0, flags: [.bcast, .noloop], prefixes: [Array("a".utf8), Array("b".utf8)])
        tracking.enable(sessions[4], redirect: 0, flags: [.bcast], prefixes: [])
        #expect(tracking.trackingClients == 5 && tracking.totalPrefixes == 3)

        var readers: [String: Set<Int>] = [:]
        var expected = [[[String]?]](repeating: [], count: sessions.count)
        var batch: [String: [String: Int]] = [:]   // prefix → key → last writer
        let keys = ["a1", "a2", "b1", "c1", "c2", "ab"]
        var random = Xorshift64(seed: 7)
        func broadcast() {
            tracking.sendBroadcasts()
            for prefix in batch.keys.sorted() {
                let changed = batch[prefix]!.sorted { $0.key < $1.key }
                for client in [3, 4] where client == 4 ? prefix == "" : prefix != "" {
                    let sent = changed.filter { client != 3 || $0.value != 3 }.map(\.key)
                    if !sent.isEmpty { expected[client].append(sent) }
                }
            }
            batch = [:]
        }
        for _ in 0..<2000 {
            let client = Int(random.next() % 5)
            let name = keys[Int(random.next() % UInt64(keys.count))]
            switch random.next() % 3 {
            case 0 where client < 3:
                tracking.remember([Array(name.utf8)], by: sessions[client].id, maxKeys: 0)
                readers[name, default: []].insert(client)
            case 0, 1:
                key(name) { tracking.keyModified($0, by: sessions[client]) }
                for reader in readers.removeValue(forKey: name) ?? [] where reader != client {
                    expected[reader].append([name])
                }
                for prefix in ["", "a", "b"] where name.hasPrefix(prefix) { batch[prefix, default: [:]][name] = client }
                // The writer's own invalidation waits for its reply (NOLOOP: never sent).
                let pending = sessions[client].pendingInvalidations
                #expect(pending.isEmpty || (client != 1 && pending == [Array(name.utf8)]))
                tracking.sendPending(sessions[client])
                if !pending.isEmpty { expected[client].append([name]) }
            default:
                broadcast()
            }
            #expect(tracking.totalKeys == readers.count)
            #expect(tracking.totalItems == readers.values.reduce(0) { $0 + $1.count })
        }
        broadcast()
        for index in sessions.indices { #expect(targets[index].received == expected[index], "client \(index)") }

        tracking.flushed(by: nil)
        #expect(tracking.totalKeys == 0 && tracking.totalItems == 0)
        for index in sessions.indices { #expect(targets[index].received.last! == nil) }
        for session in sessions { tracking.disconnected(session) }
        #expect(tracking.trackingClients == 0 && tracking.totalPrefixes == 0)
    }
}
