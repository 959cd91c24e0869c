// Where the keys of a pipelined batch live. While prefetching, the connection finds each
// buffered command's keys in its input buffer and computes their shard (a CRC16 for the
// cluster slot) and table hash once; the command that then runs on those very bytes (same
// address, same length) takes both from here instead of computing them again. Lookups
// arrive in buffer order, so a cursor keeps them O(1).
import Storage

public struct KeyLocations {
    public struct Location {
        let address: UnsafeRawPointer
        let length: Int
        public let shardIndex: Int
        public let hash: UInt64
    }

    public private(set) var entries: [Location] = []
    private var cursor = 0

    public init() {}

    /// Forgets the batch: its buffer may move or be reused once the connection reads again.
    public mutating func clear() {
        entries.removeAll(keepingCapacity: true)
        cursor = 0
    }

    /// Notes the location of `key`, whose bytes lie in the input buffer after those of every
    /// key noted before.
    public mutating func append(_ key: UnsafeRawBufferPointer, shardIndex: Int, hash: UInt64) {
        guard let address = key.baseAddress else { return }
        entries.append(Location(address: address, length: key.count, shardIndex: shardIndex, hash: hash))
    }

    /// The location noted for these very bytes, if any. Entries before `key` in the buffer
    /// are done with (commands run in buffer order) and are skipped for good.
    @inline(__always)
    public mutating func find(_ key: UnsafeRawBufferPointer) -> Location? {
        guard let address = key.baseAddress else { return nil }
        while cursor < entries.count {
            let entry = entries[cursor]
            if entry.address < address {
                cursor += 1
                continue
            }
            return entry.address == address && entry.length == key.count ? entry : nil
        }
        return nil
    }
}
