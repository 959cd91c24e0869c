// Value serialization round trips for every type and encoding (through DUMP payloads and a
// whole RDB file), Redis's listpack and legacy blob decoders, and refusal of bad input.
import Testing
#if canImport(Glibc)
import Glibc
#endif
import Storage
import Support
@testable import Persistence

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

private func entry(_ key: String, _ value: LoadedValue, expireAt: Int64? = nil) -> Entry {
    bytes(key).withUnsafeBytes { ValueCodec.makeEntry(key: $0, value: value, expireAt: expireAt, accessClock: 0) }
}

/// A description of a value independent of its encoding, for comparisons.
private func describe(_ entry: Entry) -> String {
    switch entry.kind {
    case .string: return "string:" + entry.withStringBytes { String(decoding: $0, as: UTF8.self) }
    case .integer: return "int:\(entry.integer)"
    case .list:
        var items: [String] = []
        entry.collection(as: ListValue.self).walk(fromTail: false) { items.append(String(decoding: $1, as: UTF8.self)); return true }
        return "list:" + items.joined(separator: ",")
    case .set:
        var items: [String] = []
        entry.collection(as: SetValue.self).forEach { items.append(String(decoding: $0, as: UTF8.self)) }
        return "set:" + items.sorted().joined(separator: ",")
    case .zset:
        let zset = entry.collection(as: ZSetValue.self)
        var items: [String] = []
        zset.forEach(ranks: 0..<zset.count, reverse: false) { items.append(String(decoding: $0, as: UTF8.self) + "=\($1)") }
        return "zset:" + items.joined(separator: ",")
    case .hash:
        var items: [String] = []
        entry.collection(as: HashValue.self).forEach { items.append(String(decoding: $0, as: UTF8.self) + "=" + String(decoding: $1, as: UTF8.self)) }
        return "hash:" + items.sorted().joined(separator: ",")
    }
}

private func sampleValues() -> [(String, LoadedValue)] {
    var values: [(String, LoadedValue)] = [
        ("small-int", .string(bytes("12"))), ("negative", .string(bytes("-40000"))), ("wide-int", .string(bytes("9223372036854775807"))),
        ("empty", .string([])), ("text", .string(bytes("hello"))), ("padded-int", .string(bytes("007"))),
        ("long", .string(Array(repeating: 97, count: 500))),
        ("binary", .string((0..<300).map { UInt8($0 % 256) })),
    ]
    for (name, size) in [("list-small", 5), ("list-large", 3000)] {
        let list = ListValue(fill: -2)
        for index in 0..<size { bytes(index % 3 == 0 ? "\(index * 1000 - 7)" : "item-\(index)").withUnsafeBytes { list.pushBack($0) } }
        values.append((name, .collection(list)))
    }
    for (name, size, prefix) in [("intset", 100, ""), ("set-large", 1000, ""), ("set-text", 10, "m")] {
        let set = SetValue()
        for index in 0..<size {
            let member = bytes("\(prefix)\(index * 70_001 - 5000)")
            member.withUnsafeBytes { _ = set.add($0, integer: Numbers.parseInt64($0), maxIntsetEntries: 512) }
        }
        values.append((name, .collection(set)))
    }
    for (name, size) in [("zset-small", 10), ("zset-large", 500)] {
        let zset = ZSetValue(maxListpackEntries: 128, maxListpackValue: 64)
        for index in 0..<size {
            let score: Double = index == 0 ? -.infinity : index == 1 ? .infinity : Double(index) * 1.5 - 3
            bytes("member-\(index)").withUnsafeBytes { zset.insert($0, score: score, maxListpackEntries: 128, maxListpackValue: 64) }
        }
        values.append((name, .collection(zset)))
    }
    for (name, size) in [("hash-small", 10), ("hash-large", 300)] {
        let hash = HashValue()
        for index in 0..<size {
            bytes("field-\(index)").withUnsafeBytes { field in
                _ = bytes(index % 2 == 0 ? "\(index)" : "value-\(index)").withUnsafeBytes { hash.set(field, $0, maxEntries: 128, maxValue: 64) }
            }
        }
        values.append((name, .collection(hash)))
    }
    return values
}

@Test(arguments: [true, false])
func dumpPayloadsRoundTrip(compression: Bool) throws {
    for (name, value) in sampleValues() {
        let original = entry(name, value)
        defer { original.free() }
        let payload = DumpPayload.make(original, compression: compression)
        #expect(payload.withUnsafeBytes { DumpPayload.verify($0) })
        let decoded = try #require(payload.withUnsafeBytes { DumpPayload.decode($0, limits: EncodingLimits()) })
        let copy = entry(name, decoded)
        defer { copy.free() }
        #expect(describe(copy) == describe(original), "\(name)")
        if original.kind.isCollection { #expect(copy.collection.encodingName == original.collection.encodingName, "\(name)") }
        // A flipped bit anywhere fails the checksum.
        var corrupted = payload
        corrupted[payload.count / 2] ^= 1
        #expect(!corrupted.withUnsafeBytes { DumpPayload.verify($0) })
    }
}

@Test func restoreReadsARedisStringPayload() throws {
    #expect(redisStringDump.withUnsafeBytes { DumpPayload.verify($0) })
    let value = try #require(redisStringDump.withUnsafeBytes { DumpPayload.decode($0, limits: EncodingLimits()) })
    guard case .string(let text) = value else { Issue.record("not a string"); return }
    #expect(String(decoding: text, as: UTF8.self) == redisStringValue)
}

@Test func listpackEncodesIntegersAsRedisDoes() throws {
    let elements = ["0", "127", "128", "-1", "-4096", "4095", "4096", "-32768", "32767", "8388607", "-8388608",
                    "2147483647", "-2147483648", "2147483648", "-9223372036854775808", "01", "text", String(repeating: "x", count: 70),
                    String(repeating: "y", count: 5000)].map(bytes)
    let blob = RedisListpack.encode(elements.count) { visit in elements.forEach { $0.withUnsafeBytes(visit) } }
    #expect(try RedisListpack.elements(blob) == elements)
    // 0 and 127 take one byte each, plus one back-length byte.
    #expect(Array(blob[6..<10]) == [0x00, 0x01, 0x7F, 0x01])
    var truncated = blob
    truncated.removeLast(3)
    #expect(throws: RDBError.self) { try RedisListpack.elements(truncated) }
}

@Test func ziplistAndIntsetBlobsDecode() throws {
    // A ziplist of "a", 5 (immediate), 300 (int16): header 10 bytes, entries, 0xFF.
    var ziplist: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0x00, 0x01, 0x61, 0x03, 0xF6, 0x02, 0xC0, 0x2C, 0x01, 0xFF]
    ziplist[0] = UInt8(ziplist.count)
    #expect(try LegacyEncodings.ziplistElements(ziplist) == ["a", "5", "300"].map(bytes))
    let intset = LegacyEncodings.intsetBlob(width: 4, count: 3) { [-70000, 1, 70000][$0] }
    #expect(try LegacyEncodings.intsetValues(intset) == [-70000, 1, 70000])
    // zipmap: count, "f" -> "vv" with one free byte, end.
    #expect(try LegacyEncodings.zipmapPairs([1, 1, 0x66, 2, 1, 0x76, 0x76, 0, 0xFF]) == ["f", "vv"].map(bytes))
}

@Test func snapshotFileRoundTrips() throws {
    let keyspace = Keyspace(databases: 16, shardCount: 8)
    let values = sampleValues()
    for (index, (name, value)) in values.enumerated() {
        let db = index % 3
        let made = entry(name, value, expireAt: index % 4 == 0 ? 4_000_000_000_000 : nil)
        let shard = keyspace.shard(for: made.key)
        shard.withLock { shard.store(db: db, made, hash: KeyHash.hash(made.key), replacing: nil) }
    }
    let path = "/tmp/swiftlet-rdb-test-\(UInt32.random(in: 0...UInt32.max)).rdb"
    defer { _ = path.withCString { unlink($0) } }
    var options = KeyspaceSnapshot.Options()
    options.auxFields = [("ctime", "1700000000")]
    let snapshot = KeyspaceSnapshot(keyspace: keyspace, options: options)
    snapshot.begin()
    try snapshot.write(to: path)
    let file = try #require(try RDBLoader.readFile(path))
    #expect(Array(file.prefix(9)) == bytes("REDIS0010"))
    let dataset = try RDBLoader.load(file, options: LoadOptions())
    defer { dataset.discard() }
    #expect(dataset.keyCount == values.count)
    var described: [String: String] = [:]
    for (db, entries) in dataset.databases.enumerated() {
        for loaded in entries {
            let name = String(decoding: loaded.key, as: UTF8.self)
            described[name] = "\(db) \(loaded.expireAt ?? 0) " + describe(loaded)
        }
    }
    for (index, (name, value)) in values.enumerated() {
        let original = entry(name, value)
        defer { original.free() }
        #expect(described[name] == "\(index % 3) \(index % 4 == 0 ? 4_000_000_000_000 : 0) " + describe(original))
    }
    // Truncation anywhere and a newer version are refused.
    for cut in [5, 20, file.count / 2, file.count - 3] {
        #expect(throws: RDBError.self) { try RDBLoader.load(Array(file.prefix(cut)), options: LoadOptions()) }
    }
    var newer = file
    newer[8] = UInt8(ascii: "1")
    #expect(throws: RDBError.unsupportedVersion(11)) { try RDBLoader.load(newer, options: LoadOptions()) }
    var flipped = file
    flipped[file.count / 2] ^= 0x40
    #expect(throws: RDBError.self) { try RDBLoader.load(flipped, options: LoadOptions()) }
}

@Test func hostilePayloadsAreRefusedNotTrusted() {
    func read(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            var input = RDBInput(UnsafeRawBufferPointer(rebasing: raw[1...]))
            return (try? ValueCodec.read(type: raw[0], from: &input, limits: EncodingLimits())) != nil
        }
    }
    // A hash claiming 2^62 fields (64-bit length) in a few bytes.
    #expect(!read([RDBType.hash.rawValue, 0x81, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x61]))
    // A sorted set naming the same member twice.
    var duplicate = RDBOutput(compression: false)
    duplicate.append(RDBType.zset2.rawValue)
    duplicate.appendLength(2)
    for score in [1.0, 2.0] {
        duplicate.appendString("m")
        duplicate.appendBinaryDouble(score)
    }
    #expect(!read(duplicate.bytes))
    // NaN scores are refused as Redis refuses them.
    var nan = RDBOutput(compression: false)
    nan.append(RDBType.zset2.rawValue)
    nan.appendLength(1)
    nan.appendString("m")
    nan.appendBinaryDouble(.nan)
    #expect(!read(nan.bytes))
}
