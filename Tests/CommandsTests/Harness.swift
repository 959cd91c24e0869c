// Runs commands in-process through the dispatcher, without sockets, and returns the raw
// reply bytes as text. Each harness has its own keyspace (16 shards to keep it small) and its
// own directory for the files commands write (FLUSHALL saves a snapshot under the default
// save points), removed with the harness.
import Commands
import Config
import Foundation
import RESP

final class Harness {
    let server: ServerContext
    let context: CommandContext
    private let directory: URL

    init() {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlet-harness-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = ServerConfig()
        config.dir = directory.path
        server = ServerContext(config: config, shardCount: 16)
        let session = Session(id: 1, peerAddress: "127.0.0.1:50000", localAddress: "127.0.0.1:6379", fd: -1,
                              now: Clock.milliseconds())
        context = CommandContext(server: server, session: session, stats: server.makeWorkerStats())
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Runs one command and returns its reply exactly as it would go on the wire.
    @discardableResult
    func run(_ words: String...) -> String { run(words.map { Array($0.utf8) }) }

    func run(_ words: [[UInt8]]) -> String {
        var storage: [UInt8] = []
        var slices: [ArgSlice] = []
        for word in words {
            slices.append(ArgSlice(offset: storage.count, length: word.count))
            storage += word
        }
        storage.append(0)
        context.reply.buffer.count = 0
        storage.withUnsafeBytes { raw in
            slices.withUnsafeBufferPointer { pointer in
                context.args = CommandArgs(base: raw.baseAddress!, slices: pointer.baseAddress!, count: words.count)
                Dispatcher.execute(context)
            }
        }
        return String(decoding: context.reply.buffer.bytes, as: UTF8.self)
    }
}
