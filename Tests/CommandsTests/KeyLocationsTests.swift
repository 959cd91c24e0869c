// KeyLocations: the shard and hash noted for keys of a pipelined batch are found again by
// the address of their bytes, whether commands look them up in order, go over their keys a
// second time (MSET), or ask for bytes that were never noted.
import Testing
@testable import Commands

@Test func notedKeysAreFoundInAnyOrderAndOthersAreNot() {
    let buffer = Array("key:0 key:1 key:2 key:3 key:4 other".utf8)
    buffer.withUnsafeBytes { bytes in
        func key(_ n: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: bytes[(n * 6)..<(n * 6 + 5)]) }
        var locations = KeyLocations()
        for n in 0..<5 { locations.append(key(n), shardIndex: n, hash: UInt64(100 + n)) }
        for order in [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [1, 3, 1, 3, 0, 4, 2, 2]] {
            for n in order {
                let found = locations.find(key(n))
                #expect(found?.shardIndex == n && found?.hash == UInt64(100 + n), "key \(n)")
            }
        }
        // Bytes never noted: another range, a prefix of a noted key, an empty buffer.
        #expect(locations.find(UnsafeRawBufferPointer(rebasing: bytes[30..<35])) == nil)
        #expect(locations.find(UnsafeRawBufferPointer(rebasing: bytes[6..<9])) == nil)
        #expect(locations.find(UnsafeRawBufferPointer(start: nil, count: 0)) == nil)
        #expect(locations.find(key(2))?.shardIndex == 2)
        locations.clear()
        #expect(locations.find(key(2)) == nil)
    }
}
