// The `hashtable` encoding of hashes and sets: a chained hash table of byte-string keys (each
// with a value: the field's value for hashes, nothing for sets) over power-of-two buckets,
// keyed by the process-seeded KeyHash. Like Redis's dict it offers a SCAN cursor that stays
// valid when the table grows or shrinks between calls, and a uniform random pick for
// HRANDFIELD/SRANDMEMBER/SPOP. Entries live in one array of slots (hash, chain link, key and
// value side by side, so walking a chain touches one cache line per entry); freed slots are
// reused, and every resize rebuilds the array compactly.

public struct ByteTable<Value> {
    private struct Slot {
        var hash: UInt64
        /// Next slot in the chain, -1 at the end.
        var link: Int32
        var key: [UInt8]
        /// nil for a freed slot.
        var value: Value?
    }

    /// First slot of each bucket's chain, -1 when empty.
    private var heads: [Int32]
    private var slots: [Slot] = []
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

    /// The slot holding `key` whose hash is `hash`, if present.
    private func slot(of key: UnsafeRawBufferPointer, hash: UInt64) -> Int? {
        var slot = heads[bucket(hash)]
        while slot >= 0 {
            let index = Int(slot)
            if slots[index].hash == hash && slots[index].key.elementsEqual(key) { return index }
            slot = slots[index].link
        }
        return nil
    }

    /// The slot holding `key`, if present.
    public func slot(of key: UnsafeRawBufferPointer) -> Int? { slot(of: key, hash: KeyHash.hash(key)) }

    public func key(at slot: Int) -> [UInt8] { slots[slot].key }
    public func value(at slot: Int) -> Value { slots[slot].value! }

    /// Calls `body` with every occupied slot, bucket by bucket.
    public func forEach(_ body: (Int) -> Void) {
        for head in heads {
            var slot = head
            while slot >= 0 {
                body(Int(slot))
                slot = slots[Int(slot)].link
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
            slot = slots[Int(slot)].link
        }
        return ScanCursor.advance(cursor, mask: UInt64(mask))
    }

    /// A uniformly chosen occupied slot (the table must not be empty). Slots are compact
    /// after every resize and a sparse table shrinks, so few draws land on freed slots.
    public func randomSlot() -> Int {
        while true {
            let slot = Int.random(in: 0..<slots.count)
            if slots[slot].value != nil { return slot }
        }
    }

    // MARK: Writing

    /// Runs `body` on the value at an occupied `slot` in place (no copy of a value that is
    /// itself a table).
    public mutating func modifyValue<Result>(at slot: Int, _ body: (inout Value) -> Result) -> Result {
        body(&slots[slot].value!)
    }

    /// Sets `key` to `value`; returns the value it replaced, nil when the key is new.
    @discardableResult
    public mutating func insert(_ key: UnsafeRawBufferPointer, _ value: Value) -> Value? {
        let hash = KeyHash.hash(key)
        if let slot = slot(of: key, hash: hash) {
            let old = slots[slot].value
            slots[slot].value = value
            return old
        }
        if count >= heads.count { resize(to: heads.count * 2) }
        let head = bucket(hash)
        let entry = Slot(hash: hash, link: heads[head], key: Array(key), value: value)
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = Int(free)
            slots[slot] = entry
        } else {
            slot = slots.count
            slots.append(entry)
        }
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
            if slots[index].hash == hash && slots[index].key.elementsEqual(key) {
                if previous < 0 { heads[head] = slots[index].link } else { slots[Int(previous)].link = slots[index].link }
                let old = slots[index].value
                slots[index].key = []
                slots[index].value = nil
                freeSlots.append(slot)
                count -= 1
                if heads.count > ByteTable.minimumBuckets && count * 8 < heads.count {
                    resize(to: ByteTable.bucketCount(for: count))
                }
                return old
            }
            previous = slot
            slot = slots[index].link
        }
        return nil
    }

    /// Rebuilds the table with `size` buckets and a compact slot array.
    private mutating func resize(to size: Int) {
        var rebuilt = ByteTable(minimumCapacity: size)
        rebuilt.slots.reserveCapacity(count)
        forEach { slot in
            var entry = slots[slot]
            let head = rebuilt.bucket(entry.hash)
            entry.link = rebuilt.heads[head]
            rebuilt.heads[head] = Int32(rebuilt.slots.count)
            rebuilt.slots.append(entry)
        }
        rebuilt.count = count
        self = rebuilt
    }
}
