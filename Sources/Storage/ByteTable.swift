// The `hashtable` encoding of hashes and sets: a chained hash table of byte-string keys (each
// with a value: the field's value for hashes, nothing for sets) over power-of-two buckets,
// keyed by the process-seeded KeyHash. Like Redis's dict it offers a SCAN cursor that stays
// valid when the table grows or shrinks between calls, and a uniform random pick for
// HRANDFIELD/SRANDMEMBER/SPOP. Entries live in parallel arrays indexed by slot; freed
// slots are reused, and every resize rebuilds the arrays compactly.

public struct ByteTable<Value> {
    /// First slot of each bucket's chain, -1 when empty.
    private var heads: [Int32]
    /// Next slot in the chain, -1 at the end.
    private var links: [Int32] = []
    private var hashes: [UInt64] = []
    private var keys: [[UInt8]] = []
    private var values: [Value?] = []
    private var freeSlots: [Int32] = []
    public private(set) var count = 0

    private static var minimumBuckets: Int { 4 }

    public init(minimumCapacity: Int = 0) {
        heads = Array(repeating: -1, count: ByteTable.bucketCount(for: minimumCapacity))
    }

    private static func bucketCount(for count: Int) -> Int {
        var size = minimumBuckets
        while size < count { size *= 2 }
        return size
    }

    private var mask: Int { heads.count - 1 }

    @inline(__always)
    private func bucket(_ hash: UInt64) -> Int { Int(truncatingIfNeeded: hash) & mask }

    // MARK: Reading

    /// The slot holding `key`, if present.
    public func slot(of key: UnsafeRawBufferPointer) -> Int? {
        let hash = KeyHash.hash(key)
        var slot = heads[bucket(hash)]
        while slot >= 0 {
            let index = Int(slot)
            if hashes[index] == hash && keys[index].elementsEqual(key) { return index }
            slot = links[index]
        }
        return nil
    }

    public func key(at slot: Int) -> [UInt8] { keys[slot] }
    public func value(at slot: Int) -> Value { values[slot]! }

    /// Calls `body` with every occupied slot, bucket by bucket.
    public func forEach(_ body: (Int) -> Void) {
        for head in heads {
            var slot = head
            while slot >= 0 {
                body(Int(slot))
                slot = links[Int(slot)]
            }
        }
    }

    /// One SCAN step: visits the slots of the bucket at `cursor` and returns the next cursor
    /// (0 once every bucket has been visited).
    public func scan(cursor: UInt64, _ visit: (Int) -> Void) -> UInt64 {
        if count == 0 { return 0 }
        var slot = heads[Int(cursor & UInt64(mask))]
        while slot >= 0 {
            visit(Int(slot))
            slot = links[Int(slot)]
        }
        return ScanCursor.advance(cursor, mask: UInt64(mask))
    }

    /// A uniformly chosen occupied slot (the table must not be empty). Slots are compact
    /// after every resize and a sparse table shrinks, so few draws land on freed slots.
    public func randomSlot() -> Int {
        while true {
            let slot = Int.random(in: 0..<keys.count)
            if values[slot] != nil { return slot }
        }
    }

    // MARK: Writing

    /// Sets `key` to `value`; returns the value it replaced, nil when the key is new.
    @discardableResult
    public mutating func insert(_ key: UnsafeRawBufferPointer, _ value: Value) -> Value? {
        if let slot = slot(of: key) {
            let old = values[slot]
            values[slot] = value
            return old
        }
        if count >= heads.count { resize(to: heads.count * 2) }
        let hash = KeyHash.hash(key)
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = Int(free)
            hashes[slot] = hash
            keys[slot] = Array(key)
            values[slot] = value
        } else {
            slot = keys.count
            hashes.append(hash)
            keys.append(Array(key))
            values.append(value)
            links.append(-1)
        }
        let head = bucket(hash)
        links[slot] = heads[head]
        heads[head] = Int32(slot)
        count += 1
        return nil
    }

    /// Removes `key`, returning its value when it was present. A table left sparse shrinks.
    @discardableResult
    public mutating func remove(_ key: UnsafeRawBufferPointer) -> Value? {
        let hash = KeyHash.hash(key)
        let head = bucket(hash)
        var previous: Int32 = -1
        var slot = heads[head]
        while slot >= 0 {
            let index = Int(slot)
            if hashes[index] == hash && keys[index].elementsEqual(key) {
                if previous < 0 { heads[head] = links[index] } else { links[Int(previous)] = links[index] }
                let old = values[index]
                keys[index] = []
                values[index] = nil
                freeSlots.append(slot)
                count -= 1
                if heads.count > ByteTable.minimumBuckets && count * 8 < heads.count {
                    resize(to: ByteTable.bucketCount(for: count))
                }
                return old
            }
            previous = slot
            slot = links[index]
        }
        return nil
    }

    /// Rebuilds the table with `size` buckets and compact slot arrays.
    private mutating func resize(to size: Int) {
        var rebuilt = ByteTable(minimumCapacity: size)
        rebuilt.hashes.reserveCapacity(count)
        rebuilt.keys.reserveCapacity(count)
        rebuilt.values.reserveCapacity(count)
        rebuilt.links.reserveCapacity(count)
        forEach { slot in
            let newSlot = rebuilt.keys.count
            let head = rebuilt.bucket(hashes[slot])
            rebuilt.hashes.append(hashes[slot])
            rebuilt.keys.append(keys[slot])
            rebuilt.values.append(values[slot])
            rebuilt.links.append(rebuilt.heads[head])
            rebuilt.heads[head] = Int32(newSlot)
        }
        rebuilt.count = count
        self = rebuilt
    }
}
