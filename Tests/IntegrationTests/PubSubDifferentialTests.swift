// Pub/sub differential tests: scripts drive several connections per server (subscribers and
// publishers, which land on different workers when Swiftlet runs 4 threads) against
// swiftlet-server and a real redis-server, and compare every byte each connection receives
// after each line: confirmations, messages, errors, RESP2 and RESP3 framing. After a line,
// each connection is sent a PING barrier and read up to its answer, so pushed messages that
// crossed workers are collected too. Also: cross-worker ordering of many messages, a stalled
// subscriber cut off at its output-buffer limit, and keyspace notifications.
import Foundation
import Testing
import TestSupport

/// A multi-connection script: lines `a: command ...` run on connection a (b, c likewise); a
/// leading `~` compares the elements of that line's array replies sorted (Redis lists
/// channels in hash order).
struct ConversationScript {
    let name: String
    let lines: [(connection: Int, sorted: Bool, command: [String])]
}

func conversation(_ name: String, _ text: String) -> ConversationScript {
    let lines = text.split(separator: "\n").compactMap { raw -> (Int, Bool, [String])? in
        var line = raw.trimmingCharacters(in: .whitespaces)
        guard !line.isEmpty else { return nil }
        let sorted = line.hasPrefix("~")
        if sorted { line.removeFirst() }
        let connection = Int(line.unicodeScalars.first!.value) - 97
        let command = script("", String(line.dropFirst(2))).commands.first ?? []
        return (connection, sorted, command)
    }
    return ConversationScript(name: name, lines: lines)
}

private let barrierToken = "__pubsub_barrier__"

/// Reads `client`'s frames up to the answer to a PING barrier (in any protocol or mode).
/// With `sorted`, an array's elements are listed sorted (Redis replies in hash order).
private func framesBeforeBarrier(_ client: RespClient, sorted: Bool) throws -> [String] {
    try client.send(["PING", barrierToken])
    var frames: [String] = []
    while true {
        let (value, raw) = try client.readReply()
        if case .bulk(let bytes?) = value, bytes == Array(barrierToken.utf8) { return frames }
        if case .array(let items?) = value, items.count == 2, case .bulk(let last?) = items[1],
           last == Array(barrierToken.utf8) { return frames }
        if sorted, case .array(let items?) = value {
            frames.append(items.map(\.description).sorted().joined(separator: "\n"))
        } else {
            frames.append(String(decoding: raw, as: UTF8.self))
        }
    }
}

/// HELLO's reply with its connection id (which differs between any two servers) zeroed.
private func withoutConnectionID(_ frame: String) -> String {
    guard frame.hasPrefix("%7\r\n") || frame.hasPrefix("*14\r\n"),
          let range = frame.range(of: "$2\r\nid\r\n:") else { return frame }
    let digits = frame[range.upperBound...].prefix { $0.isNumber }
    return frame.replacingCharacters(in: range.upperBound..<digits.endIndex, with: "0")
}

/// Waits until `client` is the server's only connection: the previous script's connections
/// close asynchronously, and one still subscribed would show in PUBSUB NUMPAT or NUMSUB.
private func waitUntilOnlyConnection(_ client: RespClient) throws {
    let deadline = Date().addingTimeInterval(10)
    var listing: [UInt8] = []
    while Date() < deadline {
        if case .bulk(let text?) = try client.call("CLIENT", "LIST") { listing = text }
        if listing.split(separator: UInt8(ascii: "\n")).count == 1 { return }
        Thread.sleep(forTimeInterval: 0.01)
    }
    Issue.record("other connections were still open after 10 s:\n\(String(decoding: listing, as: UTF8.self))")
}

/// What every connection received for each line of `script` on the server at `port`.
private func transcript(_ script: ConversationScript, port: Int) throws -> [[[String]]] {
    let setup = try RespClient(port: port)
    try waitUntilOnlyConnection(setup)
    _ = try setup.call("FLUSHALL")
    _ = try setup.call("CONFIG", "SET", "notify-keyspace-events", "")
    let connections = try (0..<3).map { _ in try RespClient(port: port) }
    var result: [[[String]]] = []
    for line in script.lines {
        let client = connections[line.connection]
        try client.send(line.command)
        // The issuing connection first: once its command has answered, whatever it published
        // has been handed to the other connections, and their barriers come after it.
        var perConnection = [[String]](repeating: [], count: connections.count)
        for index in [line.connection] + connections.indices.filter({ $0 != line.connection }) {
            perConnection[index] = try framesBeforeBarrier(connections[index], sorted: line.sorted).map(withoutConnectionID)
        }
        result.append(perConnection)
    }
    return result
}

/// Runs every script on Swiftlet (`threads` workers) and Redis; returns the lines compared.
func expectConversationsMatchRedis(_ scripts: [ConversationScript], threads: Int) throws -> Int {
    let swiftlet = try ServerProcess.swiftlet(["--server-threads", String(threads)])
    defer { swiftlet.stop() }
    let redis = try ServerProcess.redis()
    defer { redis.stop() }
    var compared = 0
    for script in scripts {
        let ours = try transcript(script, port: swiftlet.port)
        let theirs = try transcript(script, port: redis.port)
        for (index, line) in script.lines.enumerated() {
            let text = ["a", "b", "c"][line.connection] + ": " + line.command.joined(separator: " ")
            #expect(ours[index] == theirs[index], "[\(script.name), \(threads) threads] \(text)")
            compared += 1
        }
    }
    return compared
}

let pubsubScripts: [ConversationScript] = [
    conversation("channels", """
    a: subscribe news sport
    b: publish news hello
    b: publish sport ""
    b: publish weather nobody
    a: subscribe news
    a: unsubscribe sport
    b: publish sport gone
    a: unsubscribe sport nosuch
    a: unsubscribe
    a: unsubscribe
    b: publish news after
    a: subscribe
    b: publish
    b: publish a b c
    """),
    conversation("patterns", """
    a: psubscribe news.* h?llo [abc]x
    b: publish news.uk hi
    b: publish hello world
    b: publish hallo again
    b: publish bx one
    b: publish dx none
    c: psubscribe news.*
    b: pubsub numpat
    b: publish news.fr salut
    a: subscribe news.fr
    b: publish news.fr both
    a: punsubscribe news.* nosuch
    a: punsubscribe
    a: punsubscribe
    c: punsubscribe news.*
    b: pubsub numpat
    a: psubscribe *
    b: publish anything "with space"
    a: reset
    b: publish anything again
    """),
    conversation("subscribed mode", """
    a: subscribe ch
    a: get k
    a: set k v
    a: client list
    a: hello 3
    a: ping
    a: ping hi
    a: ping a b
    a: subscribe
    a: psubscribe p
    a: ssubscribe s
    a: unsubscribe ch
    a: get k
    a: punsubscribe
    a: get k
    a: sunsubscribe
    a: get k
    a: set k v
    a: ping
    """),
    conversation("shard channels", """
    a: ssubscribe orders {orders}eu
    b: spublish orders o1
    b: publish orders not-shard
    c: psubscribe *
    b: spublish {orders}eu o2
    b: pubsub shardnumsub orders {orders}eu none
    b: pubsub shardnumsub
    b: pubsub numsub orders
    a: subscribe orders
    b: publish orders classic
    b: spublish orders shard
    a: sunsubscribe orders
    a: sunsubscribe orders
    a: unsubscribe
    a: sunsubscribe
    a: sunsubscribe
    b: pubsub shardchannels
    b: spublish
    """),
    conversation("introspection", """
    a: subscribe alpha beta gamma
    c: subscribe alpha
    c: ssubscribe shard1
    ~b: pubsub channels
    b: pubsub channels a*
    ~b: pubsub channels *a
    ~b: pubsub channels [ab]*
    b: pubsub channels nomatch
    b: pubsub channels a b
    b: pubsub numsub alpha beta nosuch
    b: pubsub numsub
    b: pubsub numpat
    b: pubsub numpat x
    b: pubsub shardchannels
    b: pubsub shardchannels s*
    b: pubsub shardchannels x y
    b: pubsub bogus
    b: pubsub
    b: pubsub channels ALPHA
    """),
    conversation("resp3", """
    a: hello 3
    a: subscribe news
    a: psubscribe n*
    a: ssubscribe s
    b: publish news hi
    b: spublish s shard
    a: get k
    a: set k v
    a: publish news self
    a: ping
    a: unsubscribe news
    a: punsubscribe
    a: sunsubscribe
    a: unsubscribe
    a: punsubscribe
    a: sunsubscribe
    a: hello 2
    a: subscribe x
    a: get k
    a: hello 3
    """),
    conversation("keyspace notifications", """
    a: psubscribe __key*__:*
    b: config set notify-keyspace-events KEA
    b: publish __keyspace@0__:manual hand-made
    b: config set notify-keyspace-events ""
    b: set k v
    """),
]

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct PubSubDifferentialTests {
    @Test(arguments: [1, 4])
    func conversationsMatchRedis(threads: Int) throws {
        #expect(try expectConversationsMatchRedis(pubsubScripts, threads: threads) > 100)
    }

    @Test func commandRepliesMatchRedis() throws {
        let single: [Script] = [script("pubsub errors", """
        publish
        publish ch
        spublish ch
        pubsub numsub
        pubsub numpat
        pubsub help x
        pubsub channels
        pubsub shardnumsub a
        info bogus
        """)]
        #expect(try expectMatchesRedis(single, threads: 4) > 5)
    }
}

/// Reads exactly `count` bytes from a socket.
private struct ShortRead: Error {}

private func readExactly(_ fd: Int32, _ count: Int) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    var filled = 0
    while filled < count {
        let got = bytes[filled...].withUnsafeMutableBytes { read(fd, $0.baseAddress, count - filled) }
        guard got > 0 else { throw ShortRead() }
        filled += got
    }
    return bytes
}

/// Reads a subscriber's `message` frames straight from its socket (a frame is seven CRLF
/// lines; the last is the payload "publisher:sequence") and checks that each publisher's
/// messages arrive complete and in order. Returns the first problem, or nil.
private func readMessagesInOrder(_ fd: Int32, publishers: Int, each: Int) -> String? {
    var next = [Int](repeating: 0, count: publishers)
    var pending: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var received = 0, line = 0, lineStart = 0, scanned = 0
    while received < publishers * each {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return "connection ended after \(received) messages" }
        pending.append(contentsOf: chunk[0..<count])
        while scanned + 1 < pending.count {
            guard pending[scanned] == 13 && pending[scanned + 1] == 10 else { scanned += 1; continue }
            line += 1
            if line == 7 {
                let text = String(decoding: pending[lineStart..<scanned], as: UTF8.self)
                let parts = text.split(separator: ":").compactMap { Int($0) }
                guard parts.count == 2, parts[0] < publishers, parts[1] == next[parts[0]] else {
                    return "got \(text), expected one of \(next)"
                }
                next[parts[0]] += 1
                received += 1
                line = 0
            }
            scanned += 2
            lineStart = scanned
        }
        pending.removeFirst(lineStart)
        scanned -= lineStart
        lineStart = 0
    }
    return nil
}

/// Failures recorded from several reader threads.
private final class FailureLog: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [String] = []
    func add(_ failure: String) { lock.withLock { recorded.append(failure) } }
    var entries: [String] { lock.withLock { recorded } }
}

@Suite(.serialized)
struct PubSubDeliveryTests {
    /// Publishers on several workers, subscribers on every worker: 1M messages, and each
    /// subscriber receives each publisher's messages complete and in order.
    @Test func messagesCrossWorkersInOrder() throws {
        // Without output limits: the readers parse more slowly than publishers send, and the
        // default 32mb pubsub limit would (rightly) cut them off.
        let server = try ServerProcess.swiftlet(["--server-threads", "4", "--client-output-buffer-limit", "pubsub 0 0 0"])
        defer { server.stop() }
        let subscribers = try (0..<4).map { _ in try RespClient(port: server.port, timeoutSeconds: 60) }
        for subscriber in subscribers {
            try subscriber.send(["SUBSCRIBE", "feed"])
            _ = try subscriber.readReply()
        }
        let publisherCount = 4, perPublisher = 250_000
        let publishers = try (0..<publisherCount).map { _ in try RespClient(port: server.port, timeoutSeconds: 30) }
        let group = DispatchGroup()
        for (index, publisher) in publishers.enumerated() {
            DispatchQueue.global().async(group: group) {
                // Pipelined in batches so the test stays fast.
                var batch: [UInt8] = []
                for sequence in 0..<perPublisher {
                    batch += RespClient.encode([Array("PUBLISH".utf8), Array("feed".utf8), Array("\(index):\(sequence)".utf8)])
                    if batch.count > 32_000 || sequence == perPublisher - 1 {
                        try? publisher.send(raw: batch)
                        batch.removeAll(keepingCapacity: true)
                    }
                }
                for _ in 0..<perPublisher { _ = try? publisher.readReply() }
            }
        }
        let failures = FailureLog()
        let readers = DispatchGroup()
        for (number, subscriber) in subscribers.enumerated() {
            DispatchQueue.global().async(group: readers) {
                if let failure = readMessagesInOrder(subscriber.fd, publishers: publisherCount, each: perPublisher) {
                    failures.add("subscriber \(number): \(failure)")
                }
            }
        }
        group.wait()
        readers.wait()
        #expect(failures.entries.isEmpty, "\(failures.entries.prefix(4))")
    }

    /// A subscriber that never reads is disconnected once its pending output passes the
    /// pubsub hard limit, while another subscriber keeps receiving; the server's memory stays
    /// bounded.
    @Test func stalledSubscriberIsCutOffAtTheHardLimit() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4",
                                                 "--client-output-buffer-limit", "pubsub 256kb 0 0"])
        defer { server.stop() }
        let stalled = try RespClient(port: server.port)
        var small: Int32 = 4096
        setsockopt(stalled.fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        try stalled.send(["SUBSCRIBE", "flood"])
        _ = try stalled.readReply()
        let healthy = try RespClient(port: server.port, timeoutSeconds: 30)
        try healthy.send(["SUBSCRIBE", "flood"])
        _ = try healthy.readReply()
        let publisher = try RespClient(port: server.port, timeoutSeconds: 30)
        let payload = Array(String(repeating: "x", count: 1000).utf8)
        let command = RespClient.encode([Array("PUBLISH".utf8), Array("flood".utf8), payload])
        let frame = RespClient.encode([Array("message".utf8), Array("flood".utf8), payload])
        // Raw reads keep the test fast: 10 MB of messages, 100 at a time.
        var firstReplies: [UInt8] = [], lastReplies: [UInt8] = []
        for round in 0..<100 {
            try publisher.send(raw: Array([[UInt8]](repeating: command, count: 100).joined()))
            let replies = try readExactly(publisher.fd, 400)
            if round == 0 { firstReplies = replies }
            lastReplies = replies
            guard try readExactly(healthy.fd, 100 * frame.count) == Array([[UInt8]](repeating: frame, count: 100).joined()) else {
                Issue.record("healthy subscriber lost a message in round \(round)")
                return
            }
        }
        // The stalled client was cut off after a few MB (kernel buffers take some), so the
        // last messages reached only the healthy subscriber.
        #expect(firstReplies == Array(String(repeating: ":2\r\n", count: 100).utf8))
        #expect(lastReplies == Array(String(repeating: ":1\r\n", count: 100).utf8))
        let pubsubClients = try publisher.call("CLIENT", "LIST", "TYPE", "pubsub").text ?? ""
        #expect(pubsubClients.split(separator: "\n").count == 1, "\(pubsubClients)")
        let info = try publisher.call("INFO", "memory").text ?? ""
        let used = info.split(separator: "\r\n").first { $0.hasPrefix("used_memory:") }.flatMap { Int($0.dropFirst(12)) } ?? 0
        #expect(used > 0 && used < 64 << 20, "used_memory \(used)")
        #expect(server.logs("scheduled to be closed ASAP for overcoming of output buffer limits"))
    }
}
