// CACHE.* in-process: where a command may not block, WAIT answers at once as a timed-out
// BLPOP does; tokens are 16 hex digits matched case-insensitively; a FLUSHALL or SWAPDB
// takes the fill state along with the keys.
import Testing
@testable import Commands

@Suite struct CacheInProcessTests {
    let h = Harness()

    /// The token of a `*2 fill token` reply.
    private func token(_ reply: String) -> String {
        #expect(reply.utf8.count == 37 && reply.hasPrefix("*2\r\n$4\r\nfill\r\n$16\r\n"), "\(reply)")
        return String(decoding: reply.utf8.dropFirst(19).prefix(16), as: UTF8.self)
    }

    @Test func waitWithoutAConnectionAnswersAsATimeout() {
        let first = token(h.run("CACHE.GET", "k", "LOCK", "10000"))
        #expect(h.run("CACHE.GET", "k", "LOCK", "10000", "WAIT", "0") == "*-1\r\n")
        #expect(h.run("CACHE.GET", "k", "LOCK", "10000").hasPrefix("*2\r\n$7\r\nfilling\r\n:"))
        #expect(h.run("CACHE.FILL", "k", first.uppercased(), "v") == "+OK\r\n")
        #expect(h.run("CACHE.GET", "k", "LOCK", "10000", "WAIT", "0") == "*2\r\n$3\r\nhit\r\n$1\r\nv\r\n")
    }

    @Test func tokensAreSixteenHexDigits() {
        for (text, expected) in [("00000000000000ff", UInt64(255)), ("FFFFFFFFFFFFFFFF", UInt64.max),
                                 ("0123456789abcdef", UInt64(0x0123_4567_89ab_cdef))] {
            #expect(Array(text.utf8).withUnsafeBytes { CacheFamily.parseToken($0) } == expected)
        }
        for text in ["", "ff", "0123456789abcdeg", "0123456789abcdef0", "-123456789abcdef"] {
            #expect(Array(text.utf8).withUnsafeBytes { CacheFamily.parseToken($0) } == nil)
        }
    }

    @Test func flushallAndSwapdbCarryTheFillState() {
        let first = token(h.run("CACHE.GET", "k", "LOCK", "10000"))
        #expect(h.run("SWAPDB", "0", "1") == "+OK\r\n")
        _ = token(h.run("CACHE.GET", "k", "LOCK", "10000"))
        #expect(h.run("SELECT", "1") == "+OK\r\n")
        #expect(h.run("CACHE.GET", "k", "LOCK", "10000").hasPrefix("*2\r\n$7\r\nfilling\r\n"))
        #expect(h.run("FLUSHALL") == "+OK\r\n")
        #expect(h.run("CACHE.FILL", "k", first, "v") == "$-1\r\n")
        _ = token(h.run("CACHE.GET", "k", "LOCK", "10000"))
    }
}
