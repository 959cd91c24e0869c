// Redis 7.0 functions against a real redis-server: FUNCTION LOAD (metadata and registration
// errors, REPLACE), FCALL/FCALL_RO (keys and arguments, flags, errors naming the function),
// FUNCTION LIST/STATS/DELETE/FLUSH, FUNCTION DUMP payloads and RDB snapshots with libraries
// crossing both ways, at 1 and 4 worker threads.
import Foundation
import Testing
import TestSupport

let functionScripts: [Script] = multiline([
    script("loading libraries", """
    function flush
    function load "#!lua name=lib1\\nredis.register_function('f1', function(keys, args) return {keys[1], args[1]} end)"
    function load "#!lua name=lib1\\nredis.register_function('f1', function() return 1 end)"
    function load replace "#!lua name=lib1\\nredis.register_function('f1', function(keys, args) return #keys + #args end)"
    fcall f1 2 a b c
    fcall f1 0
    function load "return 1"
    function load "#!lua"
    function load "#!lua name=lib2 foo=bar\\nreturn 1"
    function load "#!lua name=lib2 name=lib3\\nreturn 1"
    function load "#!lua name=a-b\\nreturn 1"
    function load "#!lua name=\\nreturn 1"
    function load "#!lua name=lib2"
    function load "#!js name=lib2\\nreturn 1"
    function load "#!lua name=lib2\\nreturn 1"
    function load "#!lua name=lib2\\nreturn 1 +"
    function load "#!lua name=lib2\\nerror('boom')"
    function load "#!lua name=lib2\\nredis.register_function('f1', function() return 2 end)"
    function load "#!lua name=lib2\\nredis.register_function('f-x', function() return 2 end)"
    function load "#!lua name=lib2\\nredis.register_function('g', function() return 2 end)\\nredis.register_function('g', function() return 3 end)"
    function load "#!lua name=lib2\\nredis.register_function('g')"
    function load "#!lua name=lib2\\nredis.register_function(1, 2)"
    function load "#!lua name=lib2\\nredis.register_function{function_name='g', callback=function() return 'named' end, flags={'no-writes'}, description='desc'}"
    function load "#!lua name=lib3\\nredis.register_function{function_name='h', callback=function() return 1 end, flags={'bogus'}}"
    function load "#!lua name=lib3\\nredis.register_function{function_name='h'}"
    function load "#!lua name=lib3\\nredis.register_function{callback=function() return 1 end}"
    function load "#!lua name=lib3\\nredis.register_function{function_name='h', callback=function() return 1 end, what=1}"
    function load "#!lua name=lib3\\nredis.register_function('h', function() return 1 end, 3)"
    function load "#!lua name=lib3\\nredis.call('set','x',1)"
    function load "#!lua name=lib3\\nlocal a = 1 while 1 do a = a + 1 end"
    function load "#!lua name=lib3\\nwhile true do pcall(function() while true do end end) end"
    function load "#!lua name=lib3\\nlocal f = loadstring(string.dump(function() return 1 end)) return f()"
    function load bogus "#!lua name=lib3\\nreturn 1"
    fcall g 0
    fcall_ro g 0
    function list libraryname lib2
    function list libraryname lib2 withcode
    function list libraryname nomatch
    function list libraryname
    function list bogus
    function stats
    function delete lib2
    function delete lib2
    fcall g 0
    function list
    function flush bogus
    function flush sync
    function list
    """),
    script("calling functions", """
    function load "#!lua name=calls\\nredis.register_function('setget', function(keys, args) redis.call('set', keys[1], args[1]) return redis.call('get', keys[1]) end)\\nredis.register_function{function_name='ro', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}\\nredis.register_function{function_name='rowrite', callback=function(keys) return redis.call('set', keys[1], 'x') end, flags={'no-writes'}}\\nredis.register_function('fail', function() return redis.call('nosuch') end)\\nredis.register_function('err', function() error('custom') end)\\nredis.register_function('other', function() return redis.call('incr', 'undeclared') end)\\nredis.register_function('reg', function() redis.register_function('x', function() end) end)"
    fcall setget 1 k v1
    fcall_ro setget 1 k v2
    fcall ro 1 k
    fcall_ro ro 1 k
    fcall rowrite 1 k
    fcall fail 0
    fcall err 0
    fcall other 0
    fcall other 0
    fcall reg 0
    fcall nosuch 0
    fcall setget x
    fcall setget 3 a
    fcall setget -1
    get k
    """),
    script("dump and restore", """
    function load "#!lua name=d1\\nredis.register_function('d1f', function() return 'one' end)"
    function restore bogus
    function restore bogus bogus
    function restore bogus append extra
    function flush
    function list
    """),
])

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct FunctionDifferentialTests {
    @Test(arguments: [1, 4]) func functionsMatchRedis(threads: Int) throws {
        #expect(try expectMatchesRedis(functionScripts, threads: threads) > 60)
    }

    /// A FUNCTION DUMP from either server restores on the other, with the same libraries.
    @Test func dumpsCrossBothWays() throws {
        let swiftlet = try ServerProcess.swiftlet(["--server-threads", "2"])
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        let ours = try RespClient(port: swiftlet.port), theirs = try RespClient(port: redis.port)
        let library = "#!lua name=crossing\nredis.register_function('cross', function(keys, args) return 'crossed ' .. args[1] end)\n-- padding so the code is long enough to compress: " + String(repeating: "abc", count: 40)
        for (from, to) in [(ours, theirs), (theirs, ours)] {
            _ = try from.call("FUNCTION", "FLUSH")
            _ = try to.call("FUNCTION", "FLUSH")
            #expect(try from.call("FUNCTION", "LOAD", library) == .bulk(Array("crossing".utf8)))
            guard case .bulk(let payload) = try from.call("FUNCTION", "DUMP") else {
                Issue.record("FUNCTION DUMP gave no bulk")
                continue
            }
            #expect(try restore(to, payload) == .simple("OK"))
            #expect(try to.call("FCALL", "cross", "0", "ok") == .bulk(Array("crossed ok".utf8)))
            #expect(try restore(to, payload) == .error("ERR Library crossing already exists"))
            #expect(try restore(to, payload, policy: "REPLACE") == .simple("OK"))
            // The LZF encoders differ, so the payloads may too; the libraries they carry do not.
            #expect(try to.call("FUNCTION", "LIST", "WITHCODE") == from.call("FUNCTION", "LIST", "WITHCODE"))
            // An empty dump (no libraries) restored with FLUSH removes every library.
            _ = try from.call("FUNCTION", "FLUSH")
            guard case .bulk(let empty) = try from.call("FUNCTION", "DUMP") else { continue }
            #expect(try restore(to, empty, policy: "FLUSH") == .simple("OK"))
            #expect(try to.call("FUNCTION", "LIST") == .array([]))
        }
    }

    /// Libraries saved in the RDB snapshot (opcode function2) load in either server, and
    /// DEBUG RELOAD keeps them.
    @Test func snapshotFilesCarryLibraries() throws {
        let swiftlet = try ServerProcess.swiftlet(["--server-threads", "2"])
        defer { swiftlet.stop() }
        let redis = try ServerProcess.redis()
        defer { redis.stop() }
        let ours = try RespClient(port: swiftlet.port), theirs = try RespClient(port: redis.port)
        let library = "#!lua name=saved\nredis.register_function('saved', function(keys) return redis.call('get', keys[1]) end)"
        for (from, fromServer, to, toServer) in [(ours, swiftlet, theirs, redis), (theirs, redis, ours, swiftlet)] {
            _ = try from.call("FLUSHALL")
            _ = try from.call("FUNCTION", "FLUSH")
            _ = try from.call("FUNCTION", "LOAD", library)
            _ = try from.call("SET", "k", "value")
            #expect(try from.call("DEBUG", "RELOAD") == .simple("OK"))
            #expect(try from.call("FCALL", "saved", "1", "k") == .bulk(Array("value".utf8)))
            #expect(try from.call("SAVE") == .simple("OK"))
            let target = toServer.directory.appendingPathComponent("dump.rdb")
            try? FileManager.default.removeItem(at: target)
            try FileManager.default.copyItem(at: fromServer.directory.appendingPathComponent("dump.rdb"), to: target)
            #expect(try to.call("DEBUG", "RELOAD", "NOSAVE") == .simple("OK"))
            #expect(try to.call("FCALL", "saved", "1", "k") == .bulk(Array("value".utf8)))
            #expect(try to.call("FUNCTION", "LIST", "WITHCODE") == from.call("FUNCTION", "LIST", "WITHCODE"))
        }
    }

    private func restore(_ client: RespClient, _ payload: [UInt8]?, policy: String? = nil) throws -> RespValue {
        try client.send(bytes: [Array("FUNCTION".utf8), Array("RESTORE".utf8), payload ?? []] + (policy.map { [Array($0.utf8)] } ?? []))
        return try client.readReply().value
    }
}
