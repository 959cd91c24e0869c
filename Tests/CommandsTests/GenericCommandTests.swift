// Keyspace commands in-process: deletion, renaming, copying, expiry rules, SCAN and the
// dispatcher's unknown-command and arity errors.
import Testing
@testable import Commands

@Suite struct GenericCommandTests {
    let h = Harness()

    @Test func dispatcherErrors() {
        #expect(h.run("NOPE", "a", "b") == "-ERR unknown command 'NOPE', with args beginning with: 'a' 'b' \r\n")
        #expect(h.run("GET") == "-ERR wrong number of arguments for 'get' command\r\n")
        #expect(h.run("CLIENT") == "-ERR wrong number of arguments for 'client' command\r\n")
        #expect(h.run("CLIENT", "BOGUS") == "-ERR unknown subcommand 'BOGUS'. Try CLIENT HELP.\r\n")
        #expect(h.run("get", "x") == "$-1\r\n")
    }

    @Test func deleteExistsAndType() {
        h.run("MSET", "a", "1", "b", "2")
        #expect(h.run("EXISTS", "a", "a", "zz") == ":2\r\n")
        #expect(h.run("TYPE", "a") == "+string\r\n")
        #expect(h.run("TYPE", "zz") == "+none\r\n")
        #expect(h.run("DEL", "a", "a", "b", "zz") == ":2\r\n")
        #expect(h.run("DBSIZE") == ":0\r\n")
    }

    @Test func renameMoveCopy() {
        h.run("SET", "src", "v", "EX", "100")
        #expect(h.run("RENAME", "src", "dst") == "+OK\r\n")
        #expect(h.run("TTL", "dst") == ":100\r\n")
        #expect(h.run("RENAME", "src", "dst") == "-ERR no such key\r\n")
        h.run("SET", "other", "x")
        #expect(h.run("RENAMENX", "dst", "other") == ":0\r\n")
        #expect(h.run("COPY", "dst", "copy") == ":1\r\n")
        #expect(h.run("COPY", "dst", "copy") == ":0\r\n")
        #expect(h.run("COPY", "dst", "copy", "REPLACE") == ":1\r\n")
        #expect(h.run("COPY", "dst", "dst") == "-ERR source and destination objects are the same\r\n")
        #expect(h.run("MOVE", "copy", "1") == ":1\r\n")
        #expect(h.run("MOVE", "copy", "99") == "-ERR DB index is out of range\r\n")
        #expect(h.run("MOVE", "dst", "0") == "-ERR source and destination objects are the same\r\n")
        #expect(h.run("SELECT", "1") == "+OK\r\n")
        #expect(h.run("GET", "copy") == "$1\r\nv\r\n")
        #expect(h.run("SELECT", "16") == "-ERR DB index is out of range\r\n")
        #expect(h.run("SELECT", "x") == "-ERR value is not an integer or out of range\r\n")
    }

    @Test func expireOptions() {
        h.run("SET", "k", "v")
        #expect(h.run("EXPIRE", "k", "100", "XX") == ":0\r\n")
        #expect(h.run("EXPIRE", "k", "100", "NX") == ":1\r\n")
        #expect(h.run("EXPIRE", "k", "50", "GT") == ":0\r\n")
        #expect(h.run("EXPIRE", "k", "50", "LT") == ":1\r\n")
        #expect(h.run("EXPIRE", "k", "50", "NX", "XX") == "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n")
        #expect(h.run("EXPIRE", "k", "50", "GT", "LT") == "-ERR GT and LT options at the same time are not compatible\r\n")
        #expect(h.run("EXPIRE", "k", "50", "FOO") == "-ERR Unsupported option FOO\r\n")
        #expect(h.run("PERSIST", "k") == ":1\r\n")
        #expect(h.run("PERSIST", "k") == ":0\r\n")
        #expect(h.run("TTL", "missing") == ":-2\r\n")
        #expect(h.run("EXPIRETIME", "k") == ":-1\r\n")
        #expect(h.run("PEXPIREAT", "k", "1000") == ":1\r\n")
        #expect(h.run("EXISTS", "k") == ":0\r\n")
        // The overflow check comes before the key lookup, as in Redis.
        #expect(h.run("EXPIRE", "k", "9223372036854775807") == "-ERR invalid expire time in 'expire' command\r\n")
    }

    @Test func scanReturnsEveryKeyOnce() {
        for i in 0..<300 { h.run("SET", "key:\(i)", "v") }
        h.run("SET", "other", "v")
        var cursor = "0"
        var seen: [String] = []
        repeat {
            let reply = h.run("SCAN", cursor, "MATCH", "key:*", "COUNT", "20")
            let lines = reply.split(separator: "\r\n").map(String.init)
            cursor = lines[2]
            var index = 5
            while index < lines.count { seen.append(lines[index]); index += 2 }
        } while cursor != "0"
        #expect(Set(seen).count == 300)
        #expect(!seen.contains("other"))
        #expect(h.run("SCAN", "abc") == "-ERR invalid cursor\r\n")
        #expect(h.run("SCAN", "0", "COUNT", "0") == "-ERR syntax error\r\n")
    }

    @Test func keysAndRandomKey() {
        #expect(h.run("RANDOMKEY") == "$-1\r\n")
        h.run("MSET", "foo", "1", "fob", "2", "bar", "3")
        let keys = h.run("KEYS", "fo?")
        #expect(keys.hasPrefix("*2\r\n") && keys.contains("foo") && keys.contains("fob"))
        #expect(["$3\r\nfoo\r\n", "$3\r\nfob\r\n", "$3\r\nbar\r\n"].contains(h.run("RANDOMKEY")))
    }

    @Test func helloNegotiatesResp3() {
        #expect(h.run("HELLO", "4") == "-NOPROTO unsupported protocol version\r\n")
        let reply = h.run("HELLO", "3", "SETNAME", "app")
        #expect(reply.hasPrefix("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"))
        #expect(reply.contains("$5\r\nproto\r\n:3\r\n"))
        #expect(h.run("CLIENT", "GETNAME") == "$3\r\napp\r\n")
        #expect(h.run("GET", "missing") == "_\r\n")
        #expect(h.run("CLIENT", "SETNAME", "a b") == "-ERR Client names cannot contain spaces, newlines or special characters.\r\n")
        #expect(h.run("HELLO", "3", "FOO") == "-ERR Syntax error in HELLO option 'FOO'\r\n")
    }

    @Test func clientReplyModes() {
        #expect(h.run("CLIENT", "REPLY", "OFF") == "")
        #expect(h.run("SET", "a", "1") == "")
        #expect(h.run("CLIENT", "REPLY", "ON") == "+OK\r\n")
        #expect(h.run("CLIENT", "REPLY", "SKIP") == "")
        #expect(h.run("GET", "a") == "")
        #expect(h.run("GET", "a") == "$1\r\n1\r\n")
    }
}
