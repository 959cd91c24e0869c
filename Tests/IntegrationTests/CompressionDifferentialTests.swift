// Value compression is invisible to clients: every string and bitmap command on values that
// Swiftlet stores zlib-compressed (threshold 0, so anything that compresses by an eighth is)
// replies byte for byte as a real redis-server does, and the string, bitmap and SORT scripts
// of the other differential suites still match with compression on. A second suite checks
// what only Swiftlet has: the INFO memory counters, the threshold and `CONFIG SET`.
import Foundation
import Testing
import TestSupport

/// Text-like values that compress well.
private let text = String(repeating: "swiftlet-compression-", count: 300)
private let json = (0..<200).map { "{\"id\":\($0),\"name\":\"user\($0)\"}" }.joined(separator: ",")
/// Letters from a 64-character alphabet in a fixed pseudo-random order: compresses a little.
private let noisy: String = {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
    var state: UInt64 = 0x2545_F491_4F6C_DD1D
    return String((0..<5000).map { _ -> Character in
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return alphabet[Int(state >> 58)]
    })
}()
/// Values long enough to compress, short enough for LCS's quadratic table.
private let lcsLeft = String(repeating: "ohmytext", count: 140)
private let lcsRight = String(repeating: "mynewtext", count: 125)

let compressionScripts: [Script] = [
    script("compressed reads", """
    set t \(text)
    get t
    strlen t
    object encoding t
    getrange t 0 99
    getrange t -50 -1
    getrange t 6000 7000
    getrange t 100 50
    getrange t -7000 10
    getrange t 6299 6299
    getrange t 6299 9999
    getrange t 0 0
    getbit t 0
    getbit t 50391
    getbit t 50392
    getbit t 99999999
    substr t 20 40
    set j \(json)
    set n \(noisy)
    mget t j n nosuch
    strlen n
    getrange n 4990 -1
    incr t
    incrby t 5
    decr t
    incrbyfloat t 1.5
    lpush t x
    hget t f
    setnx t other
    exists t j n
    type t
    """),
    script("compressed writes", """
    set t \(text)
    append t tail
    strlen t
    getrange t -10 -1
    setrange t 3 XYZ
    getrange t 0 10
    setrange t 7000 end
    strlen t
    get t
    object encoding t
    getset t \(json)
    get t
    set t \(text) get
    set t \(json) get
    set t \(noisy) get
    getex t ex 100
    ttl t
    getex t persist
    ttl t
    set t \(text) ex 100
    setrange t 0 head
    ttl t
    getrange t 0 20
    append t \(json)
    strlen t
    getdel t
    getdel t
    exists t
    msetnx m1 \(text) m2 \(json)
    mget m1 m2
    append fresh \(text)
    get fresh
    object encoding fresh
    set e aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
    object encoding e
    get e
    append e b
    object encoding e
    get e
    setrange e 1 c
    get e
    """),
    script("compressed keys", """
    set a \(text)
    copy a a2
    get a2
    object encoding a2
    copy a a2
    copy a a2 replace
    rename a2 a3
    get a3
    renamenx a3 a
    renamenx a3 a4
    get a4
    move a4 1
    select 1
    get a4
    select 0
    set b \(noisy) px 100000
    copy b b2
    ttl b2
    get b2
    rename b2 a
    get a
    del a b a3
    dbsize
    """),
    script("compressed bitmaps", """
    set bm \(text)
    bitcount bm
    bitcount bm 10 100
    bitcount bm 5 50 bit
    bitcount bm -100 -1
    bitpos bm 1
    bitpos bm 0 100
    bitpos bm 1 7000
    getbit bm 12345
    setbit bm 12345 1
    getbit bm 12345
    get bm
    bitfield bm get u16 800 set i8 #3 -5 incrby u32 1000 7 get i64 0
    bitfield_ro bm get u8 8 get i32 #100
    set other \(json)
    bitop and dest bm other
    get dest
    bitop or dest bm other
    bitcount dest
    bitop xor dest bm other n
    strlen dest
    bitop not dest2 bm
    strlen dest2
    bitcount dest2
    setbit zeros 800000 1
    strlen zeros
    bitcount zeros
    bitpos zeros 1
    getbit zeros 800000
    setbit zeros 12 1
    bitcount zeros
    bitpos zeros 1 2
    object encoding zeros
    bitfield zeros set u32 400000 123456 get u32 400000
    getrange zeros 49990 50010
    """),
    script("compressed lcs and sort", """
    set l1 \(lcsLeft)
    set l2 \(lcsRight)
    lcs l1 l2 len
    lcs l1 l2 idx minmatchlen 4
    lcs l1 l2
    rpush ids 1 2 3
    set w_1 \(text)c
    set w_2 \(text)a
    set w_3 \(text)b
    set d_1 \(json)1
    set d_2 \(json)2
    set d_3 \(json)3
    sort ids by w_* alpha
    sort ids by w_* alpha desc get d_* get #
    sort ids by nosort get d_*
    sort ids by w_*
    sort ids get w_* limit 1 1
    """),
    script("compressed resp3", """
    hello 3
    set t \(text)
    get t
    mget t nosuch t
    getex t persist
    getdel t
    get t
    set bm \(json)
    bitfield bm get u8 0
    lcs bm bm len
    hello 2
    """),
]

/// The other suites' string, bitmap and SORT scripts, which compression must not change.
private let stringCommandScripts = scripts.filter { ["strings", "encodings", "counters", "keys", "expire", "resp3"].contains($0.name) }
    + bitmapScripts + [generatedBitmapScript()] + sortScripts

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct CompressionDifferentialTests {
    @Test(arguments: [1, 4])
    func compressedValuesMatchRedis(threads: Int) throws {
        #expect(try expectMatchesRedis(compressionScripts, threads: threads,
                                       swiftletArguments: ["--value-compression-threshold", "0"]) > 150)
        // The default threshold: only the longer values are compressed.
        #expect(try expectMatchesRedis(compressionScripts, threads: threads) > 150)
    }

    @Test(arguments: [1, 4])
    func stringScriptsMatchRedisWithCompression(threads: Int) throws {
        #expect(try expectMatchesRedis(stringCommandScripts, threads: threads,
                                       swiftletArguments: ["--value-compression", "yes", "--value-compression-threshold", "0"]) > 700)
    }
}

@Suite(.serialized)
struct CompressionCounterTests {
    private static func memoryField(_ client: RespClient, _ name: String) throws -> Int {
        let info = try #require(try client.call("INFO", "memory").text)
        let line = try #require(info.split(separator: "\r\n").first { $0.hasPrefix(name + ":") })
        return try #require(Int(line.dropFirst(name.count + 1)))
    }

    @Test func infoMemoryCountsCompressedValues() throws {
        let server = try ServerProcess.swiftlet(["--value-compression-threshold", "1000"])
        defer { server.stop() }
        let client = try RespClient(port: server.port)
        #expect(try Self.memoryField(client, "compressed_values") == 0)
        #expect(try client.call("CONFIG", "GET", "value-compression*")
            == .array([.bulk(Array("value-compression".utf8)), .bulk(Array("yes".utf8)),
                       .bulk(Array("value-compression-threshold".utf8)), .bulk(Array("1000".utf8))]))

        let usedBefore = try Self.memoryField(client, "used_memory")
        _ = try client.call("SET", "big", text)
        #expect(try Self.memoryField(client, "compressed_values") == 1)
        let saved = try Self.memoryField(client, "compressed_bytes_saved")
        #expect(saved > text.utf8.count * 3 / 4)
        #expect(try Self.memoryField(client, "used_memory") - usedBefore < text.utf8.count / 4)
        #expect(try client.call("STRLEN", "big") == .integer(Int64(text.utf8.count)))
        // DEBUG OBJECT describes the original string.
        let debug = try #require(try client.call("DEBUG", "OBJECT", "big").text)
        #expect(debug.contains("encoding:raw serializedlength:\(text.utf8.count + 1) "))

        // At the threshold, and incompressible bytes above it, stay plain.
        _ = try client.call("SET", "edge", String(repeating: "a", count: 1000))
        var random = SystemRandomNumberGenerator()
        let noise = (0..<20_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        try client.send(bytes: [Array("SET".utf8), Array("noise".utf8), noise])
        _ = try client.readReply()
        #expect(try Self.memoryField(client, "compressed_values") == 1)
        try client.send(bytes: [Array("GET".utf8), Array("noise".utf8)])
        #expect(try client.readReply().value == .bulk(noise))

        // Copies are counted; overwriting and deleting uncount.
        _ = try client.call("COPY", "big", "big2")
        _ = try client.call("SET", "small", String(repeating: "b", count: 1001))
        #expect(try Self.memoryField(client, "compressed_values") == 3)
        #expect(try Self.memoryField(client, "compressed_bytes_saved") > 2 * saved)
        _ = try client.call("SET", "big2", "short")
        _ = try client.call("DEL", "small")
        #expect(try Self.memoryField(client, "compressed_values") == 1)
        #expect(try Self.memoryField(client, "compressed_bytes_saved") == saved)

        // Turning compression off affects new writes only.
        #expect(try client.call("CONFIG", "SET", "value-compression", "no") == .simple("OK"))
        _ = try client.call("SET", "later", text)
        #expect(try Self.memoryField(client, "compressed_values") == 1)
        #expect(try client.call("GET", "big") == .bulk(Array(text.utf8)))
        #expect(try client.call("GET", "later") == .bulk(Array(text.utf8)))
        #expect(try client.call("CONFIG", "SET", "value-compression-threshold", "x")
            == .error("ERR CONFIG SET failed (possibly related to argument 'value-compression-threshold') - argument must be a memory value"))
        _ = try client.call("FLUSHALL")
        #expect(try Self.memoryField(client, "compressed_values") == 0)
        #expect(try Self.memoryField(client, "compressed_bytes_saved") == 0)
    }

    /// Every worker thread compresses and inflates with its own zlib streams: clients on
    /// different workers writing and reading compressed values at once see only their bytes.
    @Test func concurrentClientsReadTheirOwnValues() throws {
        let server = try ServerProcess.swiftlet(["--server-threads", "4", "--value-compression-threshold", "64"])
        defer { server.stop() }
        let lock = NSLock()
        var mismatches = 0, checks = 0
        DispatchQueue.concurrentPerform(iterations: 8) { client in
            guard let connection = try? RespClient(port: server.port) else { return }
            for round in 0..<150 {
                let value = String(repeating: "client \(client) round \(round);", count: 10 + (round * 37 + client * 11) % 400)
                let key = "k\(client):\(round % 10)"
                _ = try? connection.call("SET", key, value)
                let read = try? connection.call("GET", key)
                let prefix = try? connection.call("GETRANGE", key, "0", "20")
                lock.lock()
                checks += 1
                if read != .bulk(Array(value.utf8)) || prefix != .bulk(Array(value.utf8.prefix(21))) { mismatches += 1 }
                lock.unlock()
            }
        }
        #expect(checks == 8 * 150)
        #expect(mismatches == 0)
        let info = try #require(try RespClient(port: server.port).call("INFO", "memory").text)
        #expect(info.contains("compressed_values:80\r\n"))
    }
}
