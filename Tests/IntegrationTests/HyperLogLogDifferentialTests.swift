// Differential tests of the HyperLogLog commands against a real redis-server: the sketch's
// bytes after every kind of change (GET shows them), sparse to dense promotion at
// hll-sparse-max-bytes, the cached count, unions, PFDEBUG, type errors and sketches corrupted
// through SETRANGE and APPEND, and a generated run of adds and merges over sketches of many
// sizes.
import Testing
import TestSupport

let hyperLogLogScripts: [Script] = [
    script("addCountMerge", """
    pfadd h a b c d e
    get h
    pfcount h
    get h
    pfadd h a
    pfadd h f
    get h
    pfcount h
    pfdebug encoding h
    pfdebug decode h
    pfadd h2
    get h2
    pfadd h2
    pfadd h2 ""
    pfcount h2 h missing
    pfmerge m h h2
    get m
    pfcount m
    pfmerge m
    get m
    pfmerge fresh
    get fresh
    pfdebug getreg h
    get h
    pfdebug todense h
    pfdebug todense h
    pfdebug encoding h
    pfdebug decode h
    pfadd h g
    get h
    pfmerge m2 h h2
    pfdebug encoding m2
    pfcount m2
    object encoding h
    pfadd ttl a
    expire ttl 100
    pfadd ttl b
    ttl ttl
    pfmerge ttl h
    ttl ttl
    pfcount ttl
    ttl ttl
    """),
    script("errors", """
    set s hello
    pfadd s a
    pfcount s
    pfcount h s
    pfmerge s
    pfmerge d s
    exists d
    set i 12345678901234567
    pfadd i a
    lpush l a
    pfadd l a
    pfcount l
    pfcount missing l
    pfmerge d l
    pfdebug encoding l
    pfadd h a
    pfdebug foo h
    pfdebug foo missing
    pfdebug encoding missing
    pfdebug encoding
    pfdebug getreg h extra
    pfselftest x
    pfadd
    pfcount
    pfmerge
    pfadd c a b c
    setrange c 4 x
    pfcount c
    pfadd c a
    pfadd c2 a b c
    setrange c2 0 HYLX
    pfcount c2
    pfadd c3 a b c
    append c3 zz
    pfcount c3
    pfadd c3 d e f g
    get c3
    pfmerge c4 c3
    pfcount c3 h
    pfdebug getreg c3
    pfdebug decode c3
    pfadd big 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30
    pfdebug todense big
    append big x
    pfcount big
    pfadd big y
    """),
    script("sparseLimit", """
    config set hll-sparse-max-bytes 40
    pfadd small a b c d e f g h i j k l m n o p
    pfdebug encoding small
    get small
    pfcount small
    config set hll-sparse-max-bytes 0
    pfadd zero a
    pfdebug encoding zero
    config set hll-sparse-max-bytes 3000
    config get hll-sparse-max-bytes
    config set hll-sparse-max-bytes -1
    config set hll-sparse-max-bytes 1kb
    config get hll-sparse-max-bytes
    config set hll-sparse-max-bytes 3000
    """),
]

/// Sketches of every size from a fixed seed, so a failure reproduces: batches of adds with
/// repeats (which change nothing), counts (filling the cache), the bytes after each step,
/// unions and merges, under the default sparse limit and a small one.
func generatedHyperLogLogScript() -> Script {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    func next(_ bound: Int) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int((state >> 33) % UInt64(bound))
    }
    var lines: [String] = []
    for (round, limit) in [3000, 200].enumerated() {
        lines.append("config set hll-sparse-max-bytes \(limit)")
        for key in 0..<12 {
            let name = "r\(round)k\(key)"
            let size = [0, 1, 3, 20, 100, 400, 1500, 6000][next(8)]
            var added = 0
            while added < size || added == 0 {
                let batch = min(max(size - added, 1), 1 + next(200))
                lines.append("pfadd \(name) " + (0..<batch).map { _ in "e\(next(max(size, 1) * 2))" }.joined(separator: " "))
                added += batch
                if next(3) == 0 { lines.append("pfcount \(name)") }
            }
            lines += ["get \(name)", "pfcount \(name)", "get \(name)", "pfdebug encoding \(name)"]
        }
        for _ in 0..<8 {
            let sources = (0..<1 + next(4)).map { _ in "r\(round)k\(next(12))" }
            lines.append("pfcount " + sources.joined(separator: " "))
            let destination = next(2) == 0 ? "r\(round)k\(next(12))" : "r\(round)m\(next(4))"
            lines += ["pfmerge \(destination) " + sources.joined(separator: " "), "get \(destination)", "pfcount \(destination)"]
        }
    }
    lines.append("config set hll-sparse-max-bytes 3000")
    return script("generated", lines.joined(separator: "\n"))
}

@Suite(.serialized, .enabled(if: ServerProcess.redisAvailable, "needs Debian's redis-server"))
struct HyperLogLogDifferentialTests {
    @Test(arguments: [1, 4])
    func hyperLogLogScriptsMatchRedis(threads: Int) throws {
        #expect(try expectMatchesRedis(hyperLogLogScripts + [generatedHyperLogLogScript()], threads: threads) > 400)
    }

    /// PFSELFTEST: random dense registers read back, and ten million adds to a sparse and a
    /// dense sketch that must agree and stay within six standard errors.
    @Test func selfTestPasses() throws {
        let server = try ServerProcess.swiftlet([])
        defer { server.stop() }
        // Seconds on a debug build, more beside the rest of the suite.
        let client = try RespClient(port: server.port, timeoutSeconds: 180)
        #expect(try client.call("PFSELFTEST") == .simple("OK"))
    }
}
