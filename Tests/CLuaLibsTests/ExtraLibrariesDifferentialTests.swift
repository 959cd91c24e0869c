// The extra script libraries against a live redis-server 7.0.15: every recorded snippet is
// rerun through EVAL and here, and compared byte for byte (which also catches recordings
// that no longer match Redis), then the unpacker fuzz runs on both and must agree.
import Testing
import TestSupport

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct ExtraLibrariesDifferentialTests {
    private func redisReply(_ client: RespClient, _ script: String) throws -> [UInt8] {
        let reply = try client.call("EVAL", script, "0")
        guard case .bulk(let bytes?) = reply else { return Array("unexpected reply \(reply)".utf8) }
        return bytes
    }

    @Test func snippetsMatchLiveRedis() throws {
        let server = try ServerProcess.redis()
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        let lua = ScriptState()
        for snippet in structSnippets + cmsgpackSnippets + cjsonSnippets + bitSnippets {
            let theirs = try redisReply(client, snippet.script)
            #expect(lua.run(snippet.script) == theirs, "\(snippet.lua)")
            #expect(String(decoding: theirs, as: UTF8.self) == snippet.redisReply, "recorded reply is stale: \(snippet.lua)")
        }
    }

    @Test func fuzzedInputGivesRedisResults() throws {
        let server = try ServerProcess.redis()
        defer { server.stop() }
        let client = try RespClient(port: server.port, timeoutSeconds: 60)
        let script = luaPrelude + "\n" + unpackerFuzzScript(iterations: 1500)
        #expect(ScriptState().run(script) == (try redisReply(client, script)))
    }
}
