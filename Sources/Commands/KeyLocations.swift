// Where the keys of a pipelined batch live. While prefetching, the connection finds each
// buffered command's keys in its input buffer and computes their shard (a CRC16 for the
// cluster slot) and table hash once; the command that then runs on those very bytes (same
// address, same length) takes both from here instead of computing them again. Lookups
// mostly arrive in buffer order, so a cursor keeps them O(1).
import Storage
import Support

public struct KeyLocations {
    public struct Location: BitwiseCopyable {
        let address: UnsafeRawPointer
        let length: Int
        public let shardIndex: Int
        public let hash: UInt64

        /// Where the bytes of `key` live (nil for an empty buffer without an address).
        init?(_ key: UnsafeRawBufferPointer, shardIndex: Int, hash: UInt64) {
            guard let address = key.baseAddress else { return nil }
            self.address = address
            length = key.count
            self.shardIndex = shardIndex
            self.hash = hash
        }
    }

    public private(set) var entries = ReusableList<Location>()
    private var cursor = 0

    public init() {}

    /// Forgets the batch: its buffer may move or be reused once the connection reads again.
    public mutating func clear() {
        entries.removeAll()
        cursor = 0
    }

    /// Notes the location of `key`, whose bytes lie in the input buffer after those of every
    /// key noted before.
    public mutating func append(_ key: UnsafeRawBufferPointer, shardIndex: Int, hash: UInt64) {
        guard let location = Location(key, shardIndex: shardIndex, hash: hash) else { return }
        entries.append(location)
    }

    /// The location noted for these very bytes, if any. Lookups mostly go forward through the
    /// buffer (commands run in its order), so the last match and the entry after it are tried
    /// first; anything else (a command going over its keys again, a key not noted) takes a
    /// binary search, and only a match moves the cursor.
    @inline(__always)
    public mutating func find(_ key: UnsafeRawBufferPointer) -> Location? {
        guard let address = key.baseAddress else { return nil }
        var index = cursor
        if index >= entries.count || entries[index].address != address {
            index = index + 1 < entries.count && entries[index + 1].address == address
                ? index + 1 : firstIndex(notBefore: address)
        }
        guard index < entries.count, entries[index].address == address, entries[index].length == key.count else {
            return nil
        }
        cursor = index
        return entries[index]
    }

    /// The index of the first entry whose key does not lie before `address` (entries are in
    /// buffer order).
    private func firstIndex(notBefore address: UnsafeRawPointer) -> Int {
        var low = 0, high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].address < address { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
