// Redis's reverse-binary SCAN cursor, shared by the keyspace Dict and the collection
// ByteTable: the cursor's bits are incremented from the top, so buckets are visited in an
// order that stays valid when a power-of-two table grows or shrinks between calls.

enum ScanCursor {
    /// The cursor that follows `cursor` in a table whose bucket index mask is `mask`.
    @inline(__always)
    static func advance(_ cursor: UInt64, mask: UInt64) -> UInt64 {
        reverse(reverse(cursor | ~mask) &+ 1)
    }

    @inline(__always)
    static func reverse(_ v: UInt64) -> UInt64 {
        var x = v
        x = ((x >> 1) & 0x5555_5555_5555_5555) | ((x & 0x5555_5555_5555_5555) << 1)
        x = ((x >> 2) & 0x3333_3333_3333_3333) | ((x & 0x3333_3333_3333_3333) << 2)
        x = ((x >> 4) & 0x0F0F_0F0F_0F0F_0F0F) | ((x & 0x0F0F_0F0F_0F0F_0F0F) << 4)
        return x.byteSwapped
    }
}
