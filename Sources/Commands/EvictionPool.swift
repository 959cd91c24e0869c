// The eviction pool: the best candidates sampled so far, ascending by score, in fixed slots
// whose key buffers are kept from one candidate to the next (Redis caches short key copies
// in its pool the same way). Offering a sample and taking the best neither allocates nor
// retains, where an array of candidates holding their keys as arrays cost an allocation, a
// few array shifts and a dozen retain/release pairs per eviction. Used under the evictor's
// lock only.
import Storage

struct EvictionPool {
    static let capacity = 16
    /// Key bytes a slot holds before its buffer grows to fit a longer key.
    static let initialKeyCapacity = 64

    /// Slot numbers: the first `count` are the pooled candidates, ascending by score; the
    /// rest are free. Slot `capacity` is a scratch slot outside the pool (random victims).
    private let order: UnsafeMutablePointer<Int>
    private let scores: UnsafeMutablePointer<UInt64>
    /// The address of the entry each candidate was copied from: a key sampled again while
    /// pooled is the same entry, found without comparing key bytes (an address reused by
    /// another key only makes that key wait for a later sample).
    private let entries: UnsafeMutablePointer<UnsafeRawPointer?>
    private let databases: UnsafeMutablePointer<Int>
    private let shards: UnsafeMutablePointer<Int>
    private let keys: UnsafeMutablePointer<UnsafeMutableRawPointer>
    private let keyLengths: UnsafeMutablePointer<Int>
    private let keyCapacities: UnsafeMutablePointer<Int>
    private(set) var count = 0

    /// A candidate's key (valid until the pool next changes), database and shard.
    struct Victim {
        let key: UnsafeRawBufferPointer
        let db: Int
        let shard: Int
    }

    init() {
        let slots = EvictionPool.capacity + 1
        order = .allocate(capacity: EvictionPool.capacity)
        for index in 0..<EvictionPool.capacity { order[index] = index }
        scores = .allocate(capacity: slots)
        scores.initialize(repeating: 0, count: slots)
        entries = .allocate(capacity: slots)
        entries.initialize(repeating: nil, count: slots)
        databases = .allocate(capacity: slots)
        databases.initialize(repeating: 0, count: slots)
        shards = .allocate(capacity: slots)
        shards.initialize(repeating: 0, count: slots)
        keyLengths = .allocate(capacity: slots)
        keyLengths.initialize(repeating: 0, count: slots)
        keyCapacities = .allocate(capacity: slots)
        keyCapacities.initialize(repeating: EvictionPool.initialKeyCapacity, count: slots)
        keys = .allocate(capacity: slots)
        for slot in 0..<slots {
            (keys + slot).initialize(to: .allocate(byteCount: EvictionPool.initialKeyCapacity, alignment: 8))
        }
    }

    func deallocate() {
        for slot in 0...EvictionPool.capacity { keys[slot].deallocate() }
        keys.deallocate()
        keyLengths.deallocate()
        keyCapacities.deallocate()
        databases.deallocate()
        shards.deallocate()
        scores.deallocate()
        entries.deallocate()
        order.deallocate()
    }

    var isEmpty: Bool { count == 0 }

    /// Inserts a sample in score order, before the candidates of equal score, dropping the
    /// weakest when full (whose slot it takes). A key already pooled has the same score, so
    /// only candidates of equal score are checked for it.
    mutating func offer(_ entry: Entry, db: Int, shard: Int, score: UInt64) {
        if count == EvictionPool.capacity && score <= scores[order[0]] { return }
        var low = 0, high = count
        while low < high {
            let middle = (low + high) / 2
            if scores[order[middle]] < score { low = middle + 1 } else { high = middle }
        }
        var position = low
        let identity = UnsafeRawPointer(entry.pointer)
        for index in position..<count {
            let slot = order[index]
            if scores[slot] != score { break }
            if entries[slot] == identity && databases[slot] == db { return }
        }
        let slot: Int
        if count == EvictionPool.capacity {
            // The weakest leaves: everything below the new position moves down one.
            slot = order[0]
            position -= 1
            order.update(from: order + 1, count: position)
        } else {
            slot = order[count]
            (order + position + 1).update(from: order + position, count: count - position)
            count += 1
        }
        order[position] = slot
        store(entry.key, db: db, shard: shard, score: score, in: slot)
        entries[slot] = identity
    }

    /// Takes the best candidate (highest score) out of the pool.
    mutating func popBest() -> Victim? {
        guard count > 0 else { return nil }
        count -= 1
        return victim(in: order[count])
    }

    /// Copies `key` into the scratch slot (a victim chosen without the pool).
    func scratchVictim(_ key: UnsafeRawBufferPointer, db: Int, shard: Int) -> Victim {
        store(key, db: db, shard: shard, score: 0, in: EvictionPool.capacity)
        return victim(in: EvictionPool.capacity)
    }

    private func victim(in slot: Int) -> Victim {
        Victim(key: UnsafeRawBufferPointer(start: keys[slot], count: keyLengths[slot]), db: databases[slot],
               shard: shards[slot])
    }

    private func store(_ key: UnsafeRawBufferPointer, db: Int, shard: Int, score: UInt64, in slot: Int) {
        if key.count > keyCapacities[slot] {
            keys[slot].deallocate()
            keys[slot] = .allocate(byteCount: key.count, alignment: 8)
            keyCapacities[slot] = key.count
        }
        if let source = key.baseAddress { keys[slot].copyMemory(from: source, byteCount: key.count) }
        keyLengths[slot] = key.count
        databases[slot] = db
        shards[slot] = shard
        scores[slot] = score
    }
}
