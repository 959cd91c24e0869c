// Bad input never takes the server down: malformed RESP gets Redis's exact protocol error and
// closes only that connection (checked against a real redis-server), and thousands of random
// and truncated frames over many connections leave other clients served correctly.
import Foundation
import Testing
import TestSupport

@Suite(.serialized)
struct ProtocolRobustnessTests {
    static let malformedFrames: [String] = [
        "*abc\r\n",
        "*3000000000\r\n",
        "*1\r\n+foo\r\n",
        "*1\r\n$-2\r\n",
        "*1\r\n$abc\r\n",
        "*1\r\n$600000000\r\n",
        "*2\r\n$3\r\nGET\r\n:1\r\n",
        "set \"a b\r\n",
        "set 'a\r\n",
        "set \"a\"b\r\n",
    ]

    @Test(.enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
    func malformedFramesGetRedisErrorsAndClose() throws {
        let swiftlet = try ServerProcess.swiftlet()
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        for frame in ProtocolRobustnessTests.malformedFrames {
            var replies: [String] = []
            for port in [swiftlet.port, redis.port] {
                let client = try RespClient(port: port)
                try client.send(raw: Array(frame.utf8))
                let reply = try client.readReply()
                replies.append(String(decoding: reply.raw, as: UTF8.self))
                #expect(client.isClosedByPeer(), "connection stays open after \(frame.debugDescription) on port \(port)")
            }
            #expect(replies[0] == replies[1], "frame \(frame.debugDescription)")
        }
        // The server still serves new clients afterwards.
        #expect(try RespClient(port: swiftlet.port).call("PING") == .simple("PONG"))
    }

    @Test func commandsBeforeAProtocolErrorStillRun() throws {
        let swiftlet = try ServerProcess.swiftlet()
        defer { swiftlet.stop() }
        let client = try RespClient(port: swiftlet.port)
        try client.send(raw: Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$x\r\n".utf8))
        #expect(try client.readReply().value == .simple("OK"))
        #expect(try client.readReply().value == .error("ERR Protocol error: invalid bulk length"))
        #expect(try RespClient(port: swiftlet.port).call("GET", "k") == .bulk(Array("v".utf8)))
    }

    @Test func randomAndTruncatedFramesDoNotDisturbOtherClients() throws {
        let swiftlet = try ServerProcess.swiftlet(["--server-threads", "2"])
        defer { swiftlet.stop() }
        let steady = try RespClient(port: swiftlet.port)
        var generator = SystemRandomNumberGenerator()
        let valid = Array("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n".utf8)
        for round in 0..<3000 {
            var frame: [UInt8]
            switch round % 4 {
            case 0: frame = (0..<Int.random(in: 1...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            case 1: frame = Array(valid.prefix(Int.random(in: 1..<valid.count, using: &generator)))
            case 2:
                frame = valid
                frame[Int.random(in: 0..<valid.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            default: frame = Array("*\(Int.random(in: -5...5, using: &generator))\r\n$\(Int.random(in: -3...99999999, using: &generator))\r\n".utf8)
            }
            // Every 50 frames: a fresh connection, so thousands of frames reach the server.
            if round % 50 == 0 {
                let attacker = try RespClient(port: swiftlet.port, timeoutSeconds: 1)
                for _ in 0..<50 { try? attacker.send(raw: frame) }
            } else {
                let attacker = try RespClient(port: swiftlet.port, timeoutSeconds: 1)
                try? attacker.send(raw: frame)
            }
            if round % 100 == 0 {
                let value = "v\(round)"
                #expect(try steady.call("SET", "steady", value) == .simple("OK"))
                #expect(try steady.call("GET", "steady") == .bulk(Array(value.utf8)))
            }
        }
        #expect(try steady.call("PING") == .simple("PONG"))
        #expect(try RespClient(port: swiftlet.port).call("ECHO", "alive") == .bulk(Array("alive".utf8)))
    }
}
