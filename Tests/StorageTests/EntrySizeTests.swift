// Memory accounting computes an entry's block size from its request instead of asking the
// allocator: check the formula against glibc's malloc_usable_size for every request size up
// to the limit where it is used, and on real entries of every shape (whose figure is the whole
// chunk: the usable size plus glibc's 8-byte size field). A reused free chunk may be up to 16
// bytes larger than a freshly carved one (glibc does not split off less than its 32-byte
// minimum chunk), so the figure may fall short of glibc's by that much, never more.
#if canImport(Glibc)
import Glibc
#endif
import Testing
import CSystem
@testable import Storage

@Test func computedUsableSizeMatchesGlibc() {
    var mismatches: [Int] = []
    for size in 1..<Entry.computedSizeLimit {
        let block = malloc(size)!
        let actual = malloc_usable_size(block), computed = Entry.usableSize(forRequest: size)
        if computed < size || computed > actual || actual - computed > 16 { mismatches.append(size) }
        free(block)
    }
    #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(5))")
}

@Test func entryAllocationSizeIsCloseToTheAllocatorsFigure() {
    for keyLength in [0, 1, 16, 200] {
        for valueLength in [0, 3, 100, 5000, 70_000] {
            for expireAt in [nil, Int64(1_900_000_000_000)] as [Int64?] {
                let key = [UInt8](repeating: 107, count: keyLength)
                let value = [UInt8](repeating: 118, count: valueLength)
                let entry = key.withUnsafeBytes { k in
                    value.withUnsafeBytes { v in
                        Entry.make(key: k, payload: .bytes(v), expireAt: expireAt, rawEncoding: true, accessClock: 0)
                    }
                }
                let actual = malloc_usable_size(entry.pointer) + Entry.chunkSizeField
                #expect(entry.allocationSize <= actual && actual - entry.allocationSize <= 16,
                        "key \(keyLength), value \(valueLength): \(entry.allocationSize) vs \(actual)")
                entry.free()
            }
        }
    }
}
