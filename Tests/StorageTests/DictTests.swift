// The keyspace hash table: insert/find/remove through growth and shrinking, random sampling,
// and the SCAN guarantee that every key present for the whole scan is returned. Also the key
// hash and the cluster slot against their plain, byte-by-byte definitions.
import Testing
@testable import Storage

private func entry(_ key: String, _ value: Int64) -> (Entry, UInt64) {
    let bytes = Array(key.utf8)
    return bytes.withUnsafeBytes { raw in
        (Entry.make(key: raw, payload: .integer(value), expireAt: nil, rawEncoding: false, accessClock: 0),
         KeyHash.hash(raw))
    }
}

private func find(_ dict: Dict, _ key: String) -> Entry? {
    Array(key.utf8).withUnsafeBytes { dict.find($0, hash: KeyHash.hash($0)) }
}

@Test func insertFindRemoveAcrossGrowth() {
    var dict = Dict()
    for i in 0..<5000 {
        let (e, h) = entry("key:\(i)", Int64(i))
        dict.insert(e, hash: h)
    }
    #expect(dict.count == 5000)
    for i in stride(from: 0, to: 5000, by: 7) { #expect(find(dict, "key:\(i)")?.integer == Int64(i)) }
    #expect(find(dict, "missing") == nil)
    for i in 0..<4990 {
        let key = Array("key:\(i)".utf8)
        key.withUnsafeBytes { raw in
            let hash = KeyHash.hash(raw)
            let link = dict.link(raw, hash: hash)!
            dict.remove(at: link, hash: hash).free()
        }
        if i % 100 == 0 { dict.shrinkIfSparse(); dict.rehash(steps: 50) }
    }
    #expect(dict.count == 10)
    for i in 4990..<5000 { #expect(find(dict, "key:\(i)") != nil) }
    dict.removeAll { $0.free() }
    #expect(dict.count == 0)
}

@Test func scanVisitsEveryStableKeyDespiteGrowth() {
    var dict = Dict()
    for i in 0..<200 {
        let (e, h) = entry("stable:\(i)", 0)
        dict.insert(e, hash: h)
    }
    var seen = Set<String>()
    var cursor: UInt64 = 0
    var added = 0
    repeat {
        cursor = dict.scan(cursor: cursor) { seen.insert(String(decoding: $0.key, as: UTF8.self)) }
        // Grow the table in the middle of the scan.
        for _ in 0..<50 where added < 2000 {
            let (e, h) = entry("extra:\(added)", 0)
            dict.insert(e, hash: h)
            added += 1
        }
    } while cursor != 0
    for i in 0..<200 { #expect(seen.contains("stable:\(i)")) }
    dict.removeAll { $0.free() }
}

@Test func randomEntryReturnsMembers() {
    var dict = Dict()
    #expect(dict.randomEntry() == nil)
    for i in 0..<100 {
        let (e, h) = entry("r:\(i)", Int64(i))
        dict.insert(e, hash: h)
    }
    for _ in 0..<50 {
        let picked = dict.randomEntry()!
        #expect(String(decoding: picked.key, as: UTF8.self).hasPrefix("r:"))
    }
    dict.removeAll { $0.free() }
}

@Test func entriesKeepTheirFields() {
    let key = Array("k\u{0}ey".utf8)
    let value: [UInt8] = [0, 1, 2, 255]
    let made = key.withUnsafeBytes { k in
        value.withUnsafeBytes { v in
            Entry.make(key: k, payload: .bytes(v), expireAt: 1234, rawEncoding: true, accessClock: 0xABCDEF)
        }
    }
    #expect(Array(made.key) == key)
    #expect(Array(made.plainStringBytes) == value)
    #expect(made.expireAt == 1234)
    #expect(made.flags.contains(.rawEncoding))
    #expect(made.accessClock == 0xABCDEF)
    made.updateExpire(99)
    #expect(made.expireAt == 99)
    made.free()
}

@Test func hashSlotsFollowRedisClusterRules() {
    // Known Redis Cluster slots (CLUSTER KEYSLOT).
    #expect(Array("foo".utf8).withUnsafeBytes { HashSlot.of($0) } == 12182)
    #expect(Array("{user1000}.following".utf8).withUnsafeBytes { HashSlot.of($0) }
            == Array("user1000".utf8).withUnsafeBytes { HashSlot.of($0) })
    #expect(Array("123456789".utf8).withUnsafeBytes { HashSlot.crc16($0.baseAddress!, $0.count) } == 0x31C3)
    #expect(Array("foo{}{bar}".utf8).withUnsafeBytes { HashSlot.of($0) }
            == Array("foo{}{bar}".utf8).withUnsafeBytes { Int(HashSlot.crc16($0.baseAddress!, $0.count) & 0x3FFF) })
}

@Test func sliceBy8CRC16MatchesBitwiseDefinition() {
    func bitwise(_ bytes: [UInt8]) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }
    for length in 0..<70 {
        for _ in 0..<20 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255) }
            #expect(bytes.withUnsafeBytes { HashSlot.crc16($0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, $0.count) } == bitwise(bytes))
        }
    }
}

@Test func keyHashMatchesItsBytewiseDefinition() {
    // The key hash with its last bytes gathered one at a time, as the fast path's
    // overlapping loads must reproduce for every length.
    let p0: UInt64 = 0xa076_1d64_78bd_642f, p1: UInt64 = 0xe703_7ed1_a0b4_28db
    func bytewise(_ bytes: [UInt8]) -> UInt64 {
        func word(_ at: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[at + $1]) << UInt64(8 * $1) } }
        var h = KeyHash.seed ^ KeyHash.mix(UInt64(bytes.count) ^ p0, p1)
        var index = 0
        while bytes.count - index >= 16 {
            h = KeyHash.mix(word(index) ^ p0 ^ h, word(index + 8) ^ p1)
            index += 16
        }
        if bytes.count - index >= 8 {
            h = KeyHash.mix(word(index) ^ p0, h ^ p1)
            index += 8
        }
        var tail: UInt64 = 0
        for (shift, byte) in bytes[index...].enumerated() { tail |= UInt64(byte) << UInt64(8 * shift) }
        return KeyHash.mix(h ^ tail ^ p1, p0 ^ UInt64(bytes.count))
    }
    for length in 0..<70 {
        for _ in 0..<20 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255) }
            #expect(bytes.withUnsafeBytes { KeyHash.hash($0) } == bytewise(bytes), "length \(length)")
        }
    }
}
