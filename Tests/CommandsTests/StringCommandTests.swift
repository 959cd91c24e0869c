// String commands in-process: replies, encodings, errors and expiry options.
import Testing
@testable import Commands

@Suite struct StringCommandTests {
    let h = Harness()

    @Test func setGetAndOptions() {
        #expect(h.run("SET", "k", "v") == "+OK\r\n")
        #expect(h.run("GET", "k") == "$1\r\nv\r\n")
        #expect(h.run("SET", "k", "w", "NX") == "$-1\r\n")
        #expect(h.run("SET", "k", "w", "XX", "GET") == "$1\r\nv\r\n")
        #expect(h.run("SET", "absent", "w", "XX") == "$-1\r\n")
        #expect(h.run("SET", "k", "v", "NX", "XX") == "-ERR syntax error\r\n")
        #expect(h.run("SET", "k", "v", "EX", "0") == "-ERR invalid expire time in 'set' command\r\n")
        #expect(h.run("SET", "k", "v", "EX", "x") == "-ERR value is not an integer or out of range\r\n")
        #expect(h.run("SET", "k", "v", "EX", "10", "KEEPTTL") == "-ERR syntax error\r\n")
        #expect(h.run("SET", "k", "v", "PX", "100000") == "+OK\r\n")
        #expect(h.run("TTL", "k") == ":100\r\n")
        #expect(h.run("SET", "k", "v2", "KEEPTTL") == "+OK\r\n")
        let pttl = h.run("PTTL", "k")
        #expect(pttl.hasPrefix(":9") || pttl == ":100000\r\n")
        #expect(h.run("SET", "k", "v3") == "+OK\r\n")
        #expect(h.run("TTL", "k") == ":-1\r\n")
    }

    @Test func encodingsFollowRedis() {
        h.run("SET", "i", "12345")
        h.run("SET", "e", "hello")
        h.run("SET", "r", String(repeating: "x", count: 45))
        h.run("SET", "lead", "0123")
        #expect(h.run("OBJECT", "ENCODING", "i") == "$3\r\nint\r\n")
        #expect(h.run("OBJECT", "ENCODING", "e") == "$6\r\nembstr\r\n")
        #expect(h.run("OBJECT", "ENCODING", "r") == "$3\r\nraw\r\n")
        #expect(h.run("OBJECT", "ENCODING", "lead") == "$6\r\nembstr\r\n")
        h.run("APPEND", "e", "!")
        #expect(h.run("OBJECT", "ENCODING", "e") == "$3\r\nraw\r\n")
        h.run("INCRBYFLOAT", "f", "1")
        #expect(h.run("OBJECT", "ENCODING", "f") == "$6\r\nembstr\r\n")
        #expect(h.run("GET", "f") == "$1\r\n1\r\n")
    }

    @Test func countersAndOverflow() {
        #expect(h.run("INCR", "n") == ":1\r\n")
        #expect(h.run("INCRBY", "n", "41") == ":42\r\n")
        #expect(h.run("DECRBY", "n", "2") == ":40\r\n")
        #expect(h.run("DECR", "n") == ":39\r\n")
        h.run("SET", "big", "9223372036854775807")
        #expect(h.run("INCR", "big") == "-ERR increment or decrement would overflow\r\n")
        #expect(h.run("DECRBY", "n", "-9223372036854775808") == "-ERR decrement would overflow\r\n")
        h.run("SET", "s", "abc")
        #expect(h.run("INCR", "s") == "-ERR value is not an integer or out of range\r\n")
        #expect(h.run("INCRBYFLOAT", "fl", "10.5") == "$4\r\n10.5\r\n")
        #expect(h.run("INCRBYFLOAT", "fl", "0.1") == "$4\r\n10.6\r\n")
        #expect(h.run("INCRBYFLOAT", "fl", "nan") == "-ERR value is not a valid float\r\n")
        // Long doubles go far beyond 1e308; only their own range overflows.
        h.run("SET", "huge", "1.7e308")
        #expect(h.run("INCRBYFLOAT", "huge", "1.7e308").hasPrefix("$309\r\n34000000000000000000"))
        h.run("SET", "huge", "1e4932")
        #expect(h.run("INCRBYFLOAT", "huge", "1e4932") == "-ERR increment would produce NaN or Infinity\r\n")
        #expect(h.run("INCRBYFLOAT", "other", "1e4933") == "-ERR value is not a valid float\r\n")
    }

    @Test func rangesAndInPlaceEdits() {
        h.run("SET", "s", "Hello World")
        #expect(h.run("GETRANGE", "s", "0", "4") == "$5\r\nHello\r\n")
        #expect(h.run("GETRANGE", "s", "-5", "-1") == "$5\r\nWorld\r\n")
        #expect(h.run("GETRANGE", "s", "5", "3") == "$0\r\n\r\n")
        #expect(h.run("GETRANGE", "missing", "0", "-1") == "$0\r\n\r\n")
        #expect(h.run("SETRANGE", "s", "6", "Redis") == ":11\r\n")
        #expect(h.run("GET", "s") == "$11\r\nHello Redis\r\n")
        #expect(h.run("SETRANGE", "pad", "3", "x") == ":4\r\n")
        #expect(h.run("GET", "pad") == "$4\r\n\u{0}\u{0}\u{0}x\r\n")
        #expect(h.run("SETRANGE", "s", "-1", "x") == "-ERR offset is out of range\r\n")
        #expect(h.run("SETRANGE", "s", "536870911", "xx") == "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n")
        #expect(h.run("APPEND", "a", "12") == ":2\r\n")
        #expect(h.run("APPEND", "a", "34") == ":4\r\n")
        #expect(h.run("STRLEN", "a") == ":4\r\n")
        #expect(h.run("STRLEN", "nope") == ":0\r\n")
    }

    @Test func multiKeyCommands() {
        #expect(h.run("MSET", "a", "1", "b", "2") == "+OK\r\n")
        #expect(h.run("MGET", "a", "b", "c") == "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n")
        #expect(h.run("MSETNX", "c", "3", "a", "9") == ":0\r\n")
        #expect(h.run("MSETNX", "c", "3", "d", "4") == ":1\r\n")
        #expect(h.run("MSET", "a") == "-ERR wrong number of arguments for 'mset' command\r\n")
        #expect(h.run("MSET", "a", "1", "b") == "-ERR wrong number of arguments for 'mset' command\r\n")
    }

    @Test func getVariants() {
        h.run("SET", "k", "v")
        #expect(h.run("GETSET", "k", "w") == "$1\r\nv\r\n")
        #expect(h.run("GETDEL", "k") == "$1\r\nw\r\n")
        #expect(h.run("EXISTS", "k") == ":0\r\n")
        h.run("SET", "k", "v")
        #expect(h.run("GETEX", "k", "EX", "100") == "$1\r\nv\r\n")
        #expect(h.run("TTL", "k") == ":100\r\n")
        #expect(h.run("GETEX", "k", "PERSIST") == "$1\r\nv\r\n")
        #expect(h.run("TTL", "k") == ":-1\r\n")
        #expect(h.run("GETEX", "k", "EX", "1", "PERSIST") == "-ERR syntax error\r\n")
        #expect(h.run("GETEX", "k", "PXAT", "1") == "$1\r\nv\r\n")
        #expect(h.run("EXISTS", "k") == ":0\r\n")
    }

    @Test func lcsMatchesRedisExamples() {
        h.run("MSET", "key1", "ohmytext", "key2", "mynewtext")
        #expect(h.run("LCS", "key1", "key2") == "$6\r\nmytext\r\n")
        #expect(h.run("LCS", "key1", "key2", "LEN") == ":6\r\n")
        #expect(h.run("LCS", "key1", "key2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN")
                == "*4\r\n$7\r\nmatches\r\n*1\r\n*3\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n:4\r\n$3\r\nlen\r\n:6\r\n")
        #expect(h.run("LCS", "key1", "key2", "LEN", "IDX") == "-ERR If you want both the length and indexes, please just use IDX.\r\n")
    }
}
