// Every command in the table, fed extreme and malformed arguments (integer limits, infinities,
// NaN, range markers, keys of every type), must answer and keep the server alive: numeric
// overflow or a bad index in any handler would trap and take every client down with it.
import Foundation
import Testing
import TestSupport

@Suite(.serialized)
struct ExtremeArgumentTests {
    /// Commands that wait, stop, reconfigure or disconnect by design, and PFSELFTEST, which
    /// takes no arguments and seconds of work on a debug build.
    static let excluded: Set<String> = ["shutdown", "debug", "quit", "reset", "config", "client", "hello", "auth",
                                        "monitor", "sync", "psync", "replicaof", "slaveof", "failover",
                                        "subscribe", "psubscribe", "ssubscribe", "pfselftest"]
    static let values = ["9223372036854775807", "-9223372036854775808", "9223372036854775808", "-1", "0", "1",
                         "4294967296", "inf", "-inf", "+inf", "nan", "1e400", "-0", "(1", "[a", "+", "-", "(",
                         "", "abc", "limit", "count", "withscores", "by", "store", "get", "#", "*", "rev",
                         "s", "l", "st", "z", "h", "missing"]

    @Test func extremeArgumentsNeverStopTheServer() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "2"])
        defer { server.stop() }
        let setup = try RespClient(port: server.port)
        guard case .array(let names?) = try setup.call("COMMAND", "LIST") else {
            Issue.record("COMMAND LIST did not return an array")
            return
        }
        var flags: [String: Bool] = [:]
        for case .bulk(let bytes?) in names {
            let name = String(decoding: bytes, as: UTF8.self)
            guard case .array(let info?) = try setup.call("COMMAND", "INFO", name), case .array(let entry?)? = info.first,
                  case .array(let commandFlags?) = entry[2] else { continue }
            flags[name] = commandFlags.contains(.simple("blocking"))
        }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func random(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        var client = try RespClient(port: server.port, timeoutSeconds: 5)
        var sent = 0
        for name in flags.keys.sorted() where !(flags[name] ?? true) {
            let words = name.split(separator: "|").map(String.init)
            // COMMAND LIST names subcommands too ("client|pause"): the container decides.
            if ExtremeArgumentTests.excluded.contains(words[0]) { continue }
            for round in 0..<60 {
                if round % 20 == 0 {
                    for command in [["FLUSHALL"], ["SET", "s", "12"], ["RPUSH", "l", "1", "b", "3"], ["SADD", "st", "1", "x"],
                                    ["ZADD", "z", "1", "a", "2", "b"], ["HSET", "h", "f", "1"]] {
                        _ = try client.call(command)
                    }
                }
                let extra = (0..<random(7)).map { _ in ExtremeArgumentTests.values[random(ExtremeArgumentTests.values.count)] }
                try client.send(words + extra)
                sent += 1
                do {
                    _ = try client.readReply()
                } catch {
                    #expect(try RespClient(port: server.port).call("PING") == .simple("PONG"),
                            "server gone after \((words + extra).joined(separator: " "))")
                    client = try RespClient(port: server.port, timeoutSeconds: 5)
                }
            }
        }
        #expect(sent > 5000)
        // Replies whose length the client picks stop at proto-max-bulk-len (here 1mb) and
        // close only that connection, instead of allocating without bound.
        _ = try setup.call("CONFIG", "SET", "proto-max-bulk-len", "1mb")
        // The random commands may have overwritten the keys (a STORE destination named "h").
        for command in [["FLUSHALL"], ["SADD", "st", "1", "x"], ["ZADD", "z", "1", "a", "2", "b"], ["HSET", "h", "f", "1"]] {
            _ = try setup.call(command)
        }
        for command in [["HRANDFIELD", "h", "-9223372036854775807"], ["SRANDMEMBER", "st", "-9223372036854775807"],
                        ["ZRANDMEMBER", "z", "-9223372036854775807"]] {
            let victim = try RespClient(port: server.port)
            try victim.send(command)
            #expect(victim.isClosedByPeer(), "\(command[0]) with a huge negative count kept the connection")
        }
        #expect(try RespClient(port: server.port).call("PING") == .simple("PONG"))
    }
}
