// redis-py against Swiftlet's pub/sub: Python/pubsub_check.py subscribes, publishes, matches
// patterns and shard channels and checks get_message() shapes, in RESP2 and RESP3, with the
// publisher and the subscriber on different workers. It needs redis-py 5 (RESP3 support):
// scripts/test creates a venv with it under .build/redis-py-venv; $SWIFTLET_REDIS_PY names
// another interpreter that has it.
import Foundation
import Testing
import TestSupport

enum RedisPy {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// A Python interpreter with redis-py 5 importable, if there is one.
    static let interpreter: String? = {
        let candidates: [String?] = [ProcessInfo.processInfo.environment["SWIFTLET_REDIS_PY"],
                                     packageRoot.appendingPathComponent(".build/redis-py-venv/bin/python").path]
        return candidates.compactMap { $0 }.first { (path: String) -> Bool in
            guard FileManager.default.isExecutableFile(atPath: path) else { return false }
            return (try? ChildProcess.run(path, ["-c", "import redis, sys; sys.exit(0 if int(redis.__version__.split('.')[0]) >= 5 else 1)"]))?.status == 0
        }
    }()

    static var available: Bool { interpreter != nil }
}

@Suite(.serialized, .enabled(if: RedisPy.available, "needs redis-py 5 (scripts/test creates .build/redis-py-venv)"))
struct PubSubRedisPyTests {
    @Test(arguments: [2, 3])
    func redisPyPubSubWorks(protocolVersion: Int) throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4"])
        defer { server.stop() }
        let script = RedisPy.packageRoot.appendingPathComponent("Tests/IntegrationTests/Python/pubsub_check.py").path
        let result = try ChildProcess.run(RedisPy.interpreter!, [script, String(server.port), String(protocolVersion)])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.hasSuffix("ok\n"))
    }
}
