// Compressed string storage: values of random sizes and contents survive the round trip
// through a compressed entry (read whole or a prefix, copied, renamed, duplicated), incompressible data is
// refused so it stays plain, and the shard's compression counters follow stores and removals.
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Storage
import Support

/// Text-like bytes from a small alphabet with repeats: compresses well, like JSON or HTML.
private func compressible<G: RandomNumberGenerator>(_ count: Int, _ random: inout G) -> [UInt8] {
    let words: [[UInt8]] = ["\"name\":", "\"id\":", "<div class=", "value", " ", "{", "}", ",", "1234"].map { Array($0.utf8) }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(count + 16)
    while bytes.count < count { bytes += words[Int.random(in: 0..<words.count, using: &random)] }
    return Array(bytes.prefix(count))
}

private func randomBytes<G: RandomNumberGenerator>(_ count: Int, _ random: inout G) -> [UInt8] {
    (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
}

/// A compressed entry for `value`, or nil when compression refuses it.
private func compressedEntry(_ key: [UInt8], _ value: [UInt8], expireAt: Int64? = nil) -> Entry? {
    value.withUnsafeBytes { raw -> Entry? in
        guard let stream = ValueCompression.compress(raw) else { return nil }
        defer { free(stream.baseAddress) }
        return key.withUnsafeBytes { k in
            Entry.make(key: k, payload: .compressed(UnsafeRawBufferPointer(stream), originalLength: value.count),
                       expireAt: expireAt, rawEncoding: true, accessClock: 7)
        }
    }
}

private func contents(_ entry: Entry) -> [UInt8] {
    entry.withStringBytes { Array($0) }
}

private func copied(_ entry: Entry) -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: entry.stringLength) { buffer, count in
        entry.copyString(prefix: entry.stringLength, to: UnsafeMutableRawPointer(buffer.baseAddress!))
        count = entry.stringLength
    }
}

@Test func compressibleValuesRoundTrip() throws {
    var random = Xorshift64(seed: 5)
    for _ in 0..<200 {
        let size = [200, 4096, 65536, 300_000][Int.random(in: 0..<4, using: &random)] + Int.random(in: 0..<50, using: &random)
        let value = compressible(size, &random)
        let key = Array("key\(size)".utf8)
        let entry = try #require(compressedEntry(key, value, expireAt: 99))
        #expect(entry.isCompressed)
        #expect(entry.kind == .string)
        #expect(entry.stringLength == value.count)
        #expect(entry.compressionSavings >= value.count / 8)
        #expect(entry.compressionSavings == value.count - entry.valueLength)
        #expect(contents(entry) == value)
        #expect(copied(entry) == value)
        let prefix = Int.random(in: 0...value.count, using: &random)
        #expect(entry.withStringBytes(prefix: prefix) { Array($0) } == Array(value.prefix(prefix)))
        #expect(entry.withStringBytes(prefix: value.count + 10) { Array($0) } == value)
        #expect(Array(entry.key) == key)
        #expect(entry.expireAt == 99)
        let renamed = Array("other".utf8).withUnsafeBytes { entry.copy(key: $0, expireAt: nil) }
        let duplicate = Array("dup".utf8).withUnsafeBytes { entry.duplicate(key: $0) }
        entry.free()
        for other in [renamed, duplicate] {
            #expect(other.isCompressed)
            #expect(other.flags.contains(.rawEncoding))
            #expect(contents(other) == value)
            other.free()
        }
    }
}

@Test func incompressibleValuesStayPlain() {
    var random = Xorshift64(seed: 11)
    for size in [0, 1, 15, 16, 64, 1000, 4097, 70_000] {
        let value = randomBytes(size, &random)
        #expect(compressedEntry(Array("k".utf8), value) == nil, "random \(size) bytes")
    }
    // Too short to save an eighth once the stored length is counted, however repetitive.
    #expect(compressedEntry(Array("k".utf8), Array(repeating: 65, count: 4)) == nil)
    #expect(compressedEntry(Array("k".utf8), Array(repeating: 65, count: 5)) == nil)
    // Long enough, a repetitive value pays even when short.
    #expect(compressedEntry(Array("k".utf8), Array(repeating: 65, count: 40)) != nil)
}

@Test func compressedEntriesAreNeverOverwrittenInPlace() throws {
    var random = Xorshift64(seed: 3)
    let value = compressible(5000, &random)
    let entry = try #require(compressedEntry(Array("k".utf8), value))
    let plain = Array(repeating: UInt8(66), count: entry.valueLength)
    let overwritten = plain.withUnsafeBytes {
        entry.overwrite(with: .bytes($0), expireAt: nil, rawEncoding: true, accessClock: 0)
    }
    #expect(!overwritten)
    #expect(contents(entry) == value)
    entry.free()
}

@Test func shardCountsCompressedValues() throws {
    var random = Xorshift64(seed: 9)
    let shard = Shard(databases: 2)
    var expectedSaved = 0
    var keys: [[UInt8]] = []
    for index in 0..<50 {
        let key = Array("key:\(index)".utf8)
        let value = index % 5 == 0 ? randomBytes(3000, &random) : compressible(3000 + index, &random)
        let entry = try value.withUnsafeBytes { raw -> Entry in
            if let compressed = compressedEntry(key, value) { return compressed }
            return key.withUnsafeBytes { Entry.make(key: $0, payload: .bytes(raw), expireAt: nil, rawEncoding: true, accessClock: 0) }
        }
        expectedSaved += entry.compressionSavings
        key.withUnsafeBytes { shard.store(db: index % 2, entry, hash: KeyHash.hash($0), replacing: nil) }
        keys.append(key)
    }
    #expect(shard.compressedValues == 40)
    #expect(shard.compressedBytesSaved == expectedSaved)
    // Replacing a compressed value with a plain one drops it from the counters.
    let replaced = keys[1]
    let saved = try #require(replaced.withUnsafeBytes { shard.find(db: 1, key: $0, hash: KeyHash.hash($0), now: 0) })
        .compressionSavings
    replaced.withUnsafeBytes { key in
        let hash = KeyHash.hash(key)
        let link = shard.link(db: 1, key: key, hash: hash, now: 0)
        let entry = Entry.make(key: key, payload: .integer(1), expireAt: nil, rawEncoding: false, accessClock: 0)
        shard.store(db: 1, entry, hash: hash, replacing: link)
    }
    #expect(shard.compressedValues == 39)
    #expect(shard.compressedBytesSaved == expectedSaved - saved)
    let removed = keys[2]
    removed.withUnsafeBytes { key in
        let hash = KeyHash.hash(key)
        shard.remove(db: 0, at: shard.link(db: 0, key: key, hash: hash, now: 0)!, hash: hash)
    }
    #expect(shard.compressedValues == 38)
    shard.clear(db: 0)
    shard.clear(db: 1)
    #expect(shard.compressedValues == 0)
    #expect(shard.compressedBytesSaved == 0)
}
