// Pipelined batches against a real redis-server: before running a buffered batch, a
// connection notes the shard and hash of each command's keys (and prefetches their memory);
// the commands then take those from its notes. Batches that mix single-key, multi-key and
// script commands over keys in many shards, hash tags, repeated and missing keys, read and
// write, must give Redis's replies byte for byte, at 1 and 4 worker threads.
import Testing
import TestSupport

/// A reproducible stream of commands over a small key space (so keys repeat within a batch).
private struct CommandMix {
    var state: UInt64

    mutating func next(_ bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(bound))
    }

    mutating func key() -> String {
        let n = next(40)
        switch next(4) {
        case 0: return "{tag}:\(n)"
        case 1: return "n:\(n)"
        default: return "k:\(n)"
        }
    }

    mutating func command() -> [String] {
        switch next(14) {
        case 0: return ["SET", key(), String(next(1000))]
        case 1: return ["GET", key()]
        case 2: return ["INCR", key()]
        case 3: return ["MSET", key(), "a", key(), String(next(9)), key(), "c"]
        case 4: return ["MGET", key(), key(), key(), key()]
        case 5: return ["DEL", key(), key()]
        case 6: return ["EXISTS", key(), key(), key()]
        case 7: return ["EVAL", "return {redis.call('incr', KEYS[1]), redis.call('get', KEYS[2])}", "2", key(), key()]
        case 8: return ["APPEND", key(), "x"]
        case 9: return ["LPUSH", key(), "v"]
        case 10: return ["TYPE", key()]
        case 11: return ["RENAME", key(), key()]
        case 12: return ["SELECT", String(next(2))]
        default: return ["STRLEN", key()]
        }
    }
}

@Suite struct PipelineDifferentialTests {
    /// Sends `batches` of pipelined commands to both servers and returns the first batch
    /// whose replies differ (nil when every reply matched byte for byte).
    private func firstDifference(threads: Int, batches: Int, batchSize: Int) throws -> String? {
        let swiftlet = try ServerProcess.swiftlet(["--server-threads", String(threads)])
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        let clients = [try RespClient(port: swiftlet.port), try RespClient(port: redis.port)]
        var mix = CommandMix(state: 42)
        for batch in 0..<batches {
            let commands = (0..<batchSize).map { _ in mix.command() }
            let bytes = commands.flatMap { RespClient.encode($0.map { Array($0.utf8) }) }
            var replies: [[[UInt8]]] = []
            for client in clients {
                try client.send(raw: bytes)
                replies.append(try commands.map { _ in try client.readReply().raw })
            }
            for (index, command) in commands.enumerated() where replies[0][index] != replies[1][index] {
                return "batch \(batch), \(command): \(String(decoding: replies[0][index], as: UTF8.self)) "
                    + "vs Redis \(String(decoding: replies[1][index], as: UTF8.self))"
            }
        }
        return nil
    }

    @Test(arguments: [1, 4]) func pipelinedBatchesMatchRedis(threads: Int) throws {
        #expect(try firstDifference(threads: threads, batches: 40, batchSize: 100) == nil)
        // Several parsed-ahead batches of 64 in one read, one after another.
        #expect(try firstDifference(threads: threads, batches: 10, batchSize: 300) == nil)
    }

    /// A batch is parsed before it runs; a command that changes the parsing limits (RESET
    /// ending authentication, CONFIG SET proto-max-bulk-len) must have the rest of the batch
    /// read under the new limits, as Redis reads each command only when it gets to it.
    @Test func commandsAfterALimitChangeInTheSameBatchMeetTheNewLimit() throws {
        let swiftlet = try ServerProcess.swiftlet()
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        let elevenArguments = ["MSET"] + (0..<5).flatMap { ["k\($0)", "v"] }
        // Only the header of a 1.5 MB value: the limit refuses it there (sending the value too
        // could meet a connection already closed).
        let bigValueHeader = Array("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$1500000\r\n".utf8)
        let batches: [(setup: [[String]], batch: [[String]], tail: [UInt8])] = [
            ([["CONFIG", "SET", "requirepass", "secret"], ["AUTH", "secret"]], [["RESET"], elevenArguments], []),
            ([], [["CONFIG", "SET", "proto-max-bulk-len", "1mb"]], bigValueHeader),
        ]
        for (setup, batch, tail) in batches {
            var replies: [[[UInt8]]] = []
            for server in [swiftlet, redis] {
                let client = try RespClient(port: server.port)
                for command in setup { _ = try client.call(command) }
                try client.send(raw: batch.flatMap { RespClient.encode($0.map { Array($0.utf8) }) } + tail)
                replies.append(try (0..<(batch.count + (tail.isEmpty ? 0 : 1))).map { _ in try client.readReply().raw })
                let admin = try RespClient(port: server.port)
                if !setup.isEmpty { _ = try admin.call("AUTH", "secret") }
                _ = try admin.call("CONFIG", "SET", "requirepass", "")
                _ = try admin.call("CONFIG", "SET", "proto-max-bulk-len", "512mb")
            }
            #expect(String(decoding: replies[0].joined(), as: UTF8.self) == String(decoding: replies[1].joined(), as: UTF8.self))
            #expect(String(decoding: replies[0].last ?? [], as: UTF8.self).hasPrefix("-ERR Protocol error"))
        }
    }
}
