// The pub/sub registry against a simple model: random subscribes and unsubscribes of several
// clients to channels, patterns and shard channels, then every PUBLISH's receiver count and
// the exact messages each client was handed must match what the model predicts; forgetting
// a client (RESET, disconnection) leaves no trace in the counts.
import Testing
import Support
@testable import Commands

/// A client that records what it is pushed.
private final class RecordingTarget: PushTarget {
    var received: [String] = []
    func push(_ message: PushMessage) {
        guard case .pubsub(let frame) = message else { return }
        let text = [frame.pattern, frame.channel, frame.payload].compactMap { $0.map { String(decoding: $0, as: UTF8.self) } }
        received.append("\(frame.kind) " + text.joined(separator: " "))
    }
}

private struct ModelClient {
    var channels = Set<String>()
    var patterns: [String] = []
    var shardChannels = Set<String>()
}

struct PubSubRegistryTests {
    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func randomOperationsMatchAModel() {
        let registry = PubSubRegistry(keyEvents: KeyEvents())
        let sessions = (1...4).map { Session(id: $0, peerAddress: "", localAddress: "", fd: -1, now: 0) }
        let targets = sessions.map { _ in RecordingTarget() }
        var model = [ModelClient](repeating: ModelClient(), count: sessions.count)
        var expected = [[String]](repeating: [], count: sessions.count)
        let names = ["a", "b", "ab", "news.uk", "news.fr", "x"]
        let patterns = ["a*", "news.*", "?b", "*", "[ax]"]
        var random = Xorshift64(seed: 42)
        for step in 0..<3000 {
            let client = Int(random.next() % UInt64(sessions.count))
            let session = sessions[client]
            let roll = random.next() % 8
            let name = names[Int(random.next() % UInt64(names.count))]
            let pattern = patterns[Int(random.next() % UInt64(patterns.count))]
            switch roll {
            case 0:
                let added = bytes(name).withUnsafeBytes { registry.subscribe(session, target: targets[client], to: $0, .channel) }
                #expect(added == model[client].channels.insert(name).inserted)
            case 1:
                let removed = bytes(name).withUnsafeBytes { registry.unsubscribe(session, from: $0, .channel) }
                #expect(removed == (model[client].channels.remove(name) != nil))
            case 2:
                let added = bytes(pattern).withUnsafeBytes { registry.subscribe(session, target: targets[client], to: $0, .pattern) }
                #expect(added == !model[client].patterns.contains(pattern))
                if added { model[client].patterns.append(pattern) }
            case 3:
                let removed = bytes(pattern).withUnsafeBytes { registry.unsubscribe(session, from: $0, .pattern) }
                #expect(removed == model[client].patterns.contains(pattern))
                model[client].patterns.removeAll { $0 == pattern }
            case 4:
                let added = bytes(name).withUnsafeBytes { registry.subscribe(session, target: targets[client], to: $0, .shardChannel) }
                #expect(added == model[client].shardChannels.insert(name).inserted)
            case 5 where step % 50 == 0:
                registry.forget(session)
                model[client] = ModelClient()
            default:
                let shard = roll == 7
                let payload = "m\(step)"
                var receivers = 0
                for (index, state) in model.enumerated() {
                    if shard {
                        if state.shardChannels.contains(name) {
                            expected[index].append("smessage \(name) \(payload)")
                            receivers += 1
                        }
                        continue
                    }
                    if state.channels.contains(name) {
                        expected[index].append("message \(name) \(payload)")
                        receivers += 1
                    }
                }
                if !shard {
                    // Registry order across patterns is hash order: compare pmessages sorted.
                    for (index, state) in model.enumerated() {
                        for pattern in state.patterns where Glob.matches(pattern: bytes(pattern), string: bytes(name)) {
                            expected[index].append("pmessage \(pattern) \(name) \(payload)")
                            receivers += 1
                        }
                    }
                }
                let count = bytes(name).withUnsafeBytes { channel in
                    bytes(payload).withUnsafeBytes { registry.publish(channel, $0, shard: shard) }
                }
                #expect(count == receivers, "step \(step)")
            }
            let counts = session.subscriptionCounts
            #expect(counts.channels == model[client].channels.count)
            #expect(counts.patterns == model[client].patterns.count)
            #expect(counts.shardChannels == model[client].shardChannels.count)
        }
        for index in sessions.indices {
            #expect(targets[index].received.sorted() == expected[index].sorted())
        }
        let totals = registry.counts
        #expect(totals.channels == Set(model.flatMap(\.channels)).count)
        #expect(totals.patterns == Set(model.flatMap(\.patterns)).count)
        #expect(totals.shardChannels == Set(model.flatMap(\.shardChannels)).count)
        for session in sessions { registry.forget(session) }
        #expect(registry.counts == (0, 0, 0))
        #expect(bytes("a").withUnsafeBytes { registry.publish($0, $0) } == 0)
    }

    @Test func introspectionListsAndCounts() {
        let registry = PubSubRegistry(keyEvents: KeyEvents())
        let first = Session(id: 1, peerAddress: "", localAddress: "", fd: -1, now: 0)
        let second = Session(id: 2, peerAddress: "", localAddress: "", fd: -1, now: 0)
        // Each client has a connection of its own.
        let targets = [1: RecordingTarget(), 2: RecordingTarget()]
        for (session, name) in [(first, "alpha"), (second, "alpha"), (first, "beta")] {
            _ = bytes(name).withUnsafeBytes { registry.subscribe(session, target: targets[session.id]!, to: $0, .channel) }
        }
        #expect(Set(registry.channelNames(matching: nil, shard: false)) == [bytes("alpha"), bytes("beta")])
        #expect(bytes("a*").withUnsafeBytes { registry.channelNames(matching: $0, shard: false) } == [bytes("alpha")])
        #expect(bytes("alpha").withUnsafeBytes { registry.subscriberCount($0, shard: false) } == 2)
        #expect(bytes("alpha").withUnsafeBytes { registry.subscriberCount($0, shard: true) } == 0)
        registry.forget(first)
        #expect(bytes("alpha").withUnsafeBytes { registry.subscriberCount($0, shard: false) } == 1)
        #expect(registry.channelNames(matching: nil, shard: false) == [bytes("alpha")])
    }
}
