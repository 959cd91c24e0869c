// Bitmap commands in-process: WRONGTYPE against a collection (no collection command exists on
// this branch, so the entry is planted directly), in-place edits of raw strings, the encoding
// changes SETBIT causes, and the write counts SETBIT and BITFIELD add to `dirty`.
@testable import Commands
import Storage
import Testing

private final class PlantedList: CollectionObject {
    static var kind: ValueKind { .list }
    var encodingName: String { "listpack" }
    var count: Int { 1 }
    var memoryUsage: Int { 0 }
    func duplicate() -> Self { self }
}

struct BitmapCommandTests {
    private func plantList(_ harness: Harness, _ name: String) {
        let key = Array(name.utf8)
        key.withUnsafeBytes { raw in
            let shard = harness.server.keyspace.shard(for: raw)
            let entry = Entry.make(key: raw, payload: .collection(PlantedList()), expireAt: nil, rawEncoding: false,
                                   accessClock: 0)
            shard.withLock { shard.store(db: 0, entry, hash: KeyHash.hash(raw), replacing: nil) }
        }
    }

    @Test func wrongTypeEverywhere() {
        let h = Harness()
        plantList(h, "l")
        h.run("set", "s", "x")
        let wrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"
        for command in [["setbit", "l", "0", "1"], ["getbit", "l", "0"], ["bitcount", "l"], ["bitcount", "l", "0", "1"],
                        ["bitpos", "l", "1"], ["bitfield", "l", "get", "u8", "0"], ["bitfield", "l", "set", "u8", "0", "1"],
                        ["bitfield_ro", "l", "get", "u8", "0"], ["bitop", "and", "d", "s", "l"], ["bitop", "not", "s", "l"],
                        ["setrange", "l", "0", "x"]] {
            #expect(h.run(command.map { Array($0.utf8) }) == wrongType, "\(command)")
        }
        // A list destination is simply overwritten.
        #expect(h.run("bitop", "or", "l", "s") == ":1\r\n")
        #expect(h.run("get", "l") == "$1\r\nx\r\n")
        // Argument errors come before the type check, as in Redis.
        #expect(h.run("setbit", "l", "-1", "1") == "-ERR bit offset is not an integer or out of range\r\n")
        #expect(h.run("bitpos", "s", "2") == "-ERR The bit argument must be 1 or 0.\r\n")
    }

    @Test func setbitEncodingsAndInPlaceEdits() {
        let h = Harness()
        h.run("set", "n", "7")
        #expect(h.run("setbit", "n", "6", "0") == ":1\r\n")
        #expect(h.run("get", "n") == "$1\r\n5\r\n")
        #expect(h.run("object", "encoding", "n") == "$3\r\nraw\r\n")
        h.run("set", "e", "ab")
        #expect(h.run("object", "encoding", "e") == "$6\r\nembstr\r\n")
        #expect(h.run("setbit", "e", "15", "1") == ":0\r\n")
        #expect(h.run("get", "e") == "$2\r\nac\r\n")
        #expect(h.run("object", "encoding", "e") == "$3\r\nraw\r\n")
        #expect(h.run("setrange", "e", "1", "z") == ":2\r\n")
        #expect(h.run("bitfield", "e", "set", "u8", "#0", "65", "incrby", "u8", "#1", "1") == "*2\r\n:97\r\n:123\r\n")
        #expect(h.run("get", "e") == "$2\r\nA{\r\n")
        h.run("set", "t", "x", "ex", "100")
        h.run("setbit", "t", "100", "1")
        #expect(h.run("ttl", "t") == ":100\r\n")
    }

    @Test func writesCountOnlyChanges() {
        let h = Harness()
        let dirty = { h.server.keyspace.shards.reduce(0) { $0 + $1.stats.dirty } }
        let start = dirty()
        h.run("setbit", "a", "0", "0")
        h.run("bitfield", "b", "set", "i5", "0", "0")
        #expect(dirty() == start + 2)
        h.run("setbit", "a", "0", "0")
        h.run("bitfield", "b", "set", "i5", "0", "0")
        #expect(dirty() == start + 2)
        h.run("setbit", "a", "0", "1")
        h.run("bitfield", "b", "set", "i5", "0", "1", "set", "i5", "0", "2", "get", "u8", "0")
        #expect(dirty() == start + 5)
        h.run("setbit", "a", "90", "0")
        h.run("bitfield", "b", "overflow", "fail", "incrby", "u8", "8", "1000", "set", "u4", "8", "0")
        #expect(dirty() == start + 7)
    }
}
