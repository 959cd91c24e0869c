// The RESP base an AOF rewrite writes with `aof-use-rdb-preamble no`, byte for byte: function
// libraries first, SELECT per database, SET with integers in decimal, RPUSH in commands of
// at most 64 items, ZADD scores as "%.17g", HMSET pairs, PEXPIREAT after a key with an expire.
import Testing
#if canImport(Glibc)
import Glibc
#endif
import Storage
import Support
@testable import Persistence

private func resp(_ args: [String]) -> String {
    "*\(args.count)\r\n" + args.map { "$\($0.utf8.count)\r\n\($0)\r\n" }.joined()
}

private func store(_ keyspace: Keyspace, db: Int, _ key: String, _ value: LoadedValue, expireAt: Int64? = nil) {
    let made = Array(key.utf8).withUnsafeBytes { ValueCodec.makeEntry(key: $0, value: value, expireAt: expireAt, accessClock: 0) }
    let shard = keyspace.shard(for: made.key)
    shard.withLock { shard.store(db: db, made, hash: KeyHash.hash(made.key), replacing: nil) }
}

@Test func commandSnapshotWritesRedisRewriteCommands() throws {
    // One shard: keys of a database come out in one piece, after one SELECT.
    let keyspace = Keyspace(databases: 16, shardCount: 1)
    let list = ListValue(fill: -2)
    for index in 0..<130 { Array("e\(index)".utf8).withUnsafeBytes { list.pushBack($0) } }
    store(keyspace, db: 0, "list", .collection(list))
    let zset = ZSetValue(maxListpackEntries: 128, maxListpackValue: 64)
    for (member, score) in [("a", 0.1), ("b", 2.0), ("c", -Double.infinity), ("d", 1e300)] {
        Array(member.utf8).withUnsafeBytes { zset.insert($0, score: score, maxListpackEntries: 128, maxListpackValue: 64) }
    }
    store(keyspace, db: 3, "zset", .collection(zset), expireAt: 4_000_000_000_000)
    let hash = HashValue()
    for (field, value) in [("f", "v"), ("n", "12")] {
        Array(field.utf8).withUnsafeBytes { field in _ = Array(value.utf8).withUnsafeBytes { hash.set(field, $0, maxEntries: 128, maxValue: 64) } }
    }
    store(keyspace, db: 3, "hash", .collection(hash))
    let path = "/tmp/swiftlet-aof-base-test-\(UInt32.random(in: 0...UInt32.max)).aof"
    defer { _ = path.withCString { unlink($0) } }
    var options = KeyspaceSnapshot.Options()
    options.format = .commands
    options.functionCodes = [Array("#!lua name=lib\nredis.register_function('f', function() return 1 end)".utf8)]
    let snapshot = KeyspaceSnapshot(keyspace: keyspace, options: options)
    snapshot.begin()
    let size = try snapshot.write(to: path)
    let text = String(decoding: try #require(try RDBLoader.readFile(path)), as: UTF8.self)
    #expect(size == text.utf8.count)

    let elements = (0..<130).map { "e\($0)" }
    var expected = resp(["FUNCTION", "LOAD", "#!lua name=lib\nredis.register_function('f', function() return 1 end)"])
    expected += resp(["SELECT", "0"]) + resp(["RPUSH", "list"] + elements[0..<64]) + resp(["RPUSH", "list"] + elements[64..<128])
        + resp(["RPUSH", "list"] + elements[128...])
    let zadd = resp(["ZADD", "zset", "-inf", "c", "0.10000000000000001", "a", "2", "b", "1.0000000000000001e+300", "d"])
        + resp(["PEXPIREAT", "zset", "4000000000000"])
    let hmset = resp(["HMSET", "hash", "f", "v", "n", "12"])
    let db3 = [expected + resp(["SELECT", "3"]) + zadd + hmset, expected + resp(["SELECT", "3"]) + hmset + zadd]
    #expect(db3.contains(text), "\(text)")
}
