// Keyspace hits and misses per key prefix (the bytes before a key's first ':'), for INFO's
// Cachestats section. The number of distinct prefixes is unbounded, so each worker keeps a
// Space-Saving summary (Metwally et al.): a fixed set of counters; a prefix not monitored
// takes over the counter with the smallest count and inherits that count as its possible
// overestimate. Any prefix seen more often than total/capacity times is guaranteed to be
// monitored. Recording is lock-free (one worker writes); the mutex only keeps a reader on
// another thread (INFO) off storage that is being replaced (resize and reset).
#if canImport(Glibc)
import Glibc
#endif

public final class PrefixStats {
    /// Prefixes longer than this are kept (and reported) truncated to it.
    public static let maxPrefixLength = 64
    /// The `length` of the bucket of keys that have no ':' at all.
    static let noPrefix = -1

    struct Counter {
        var hash: UInt64
        /// Accesses while monitored plus the inherited overestimate (the Space-Saving count).
        var count: UInt64
        var hits: UInt64
        var misses: UInt64
        var length: Int
    }

    /// One summarised prefix, as `snapshot` reports it.
    public struct Row {
        /// nil for keys without ':'.
        public var prefix: [UInt8]?
        public var count: UInt64
        public var hits: UInt64
        public var misses: UInt64
    }

    /// The owner's reset count this summary belongs to (a newer one empties it on the next record).
    public private(set) var generation = -1
    public private(set) var capacity = 0
    private var used = 0
    private var counters: UnsafeMutablePointer<Counter>
    private var prefixBytes: UnsafeMutablePointer<UInt8>
    /// Open-addressed index from prefix hash to counter position (-1: empty).
    private var index: UnsafeMutablePointer<Int32>
    private var indexMask = 0
    /// The counter the last lookup landed on (-1: none): keys in a row often share a prefix,
    /// and checking that one first skips hashing and probing.
    private var lastPosition = -1
    private var lock = pthread_mutex_t()

    public init() {
        counters = .allocate(capacity: 1)
        prefixBytes = .allocate(capacity: 1)
        index = .allocate(capacity: 1)
        pthread_mutex_init(&lock, nil)
    }

    deinit {
        counters.deallocate()
        prefixBytes.deallocate()
        index.deallocate()
        pthread_mutex_destroy(&lock)
    }

    /// Empties the summary and gives it room for `capacity` prefixes (0 turns tracking off).
    public func rebuild(capacity newCapacity: Int, generation newGeneration: Int) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        if newCapacity != capacity {
            counters.deallocate()
            prefixBytes.deallocate()
            index.deallocate()
            var indexSize = 4
            while indexSize < newCapacity * 2 { indexSize *= 2 }
            counters = .allocate(capacity: max(newCapacity, 1))
            prefixBytes = .allocate(capacity: max(newCapacity, 1) * PrefixStats.maxPrefixLength)
            index = .allocate(capacity: indexSize)
            indexMask = indexSize - 1
            capacity = newCapacity
        }
        index.initialize(repeating: -1, count: indexMask + 1)
        used = 0
        lastPosition = -1
        generation = newGeneration
    }

    /// Counts one keyspace lookup of `key`, first emptying (and resizing) the summary when
    /// the owner's `generation` or `capacity` changed since the last call.
    @inline(__always)
    public func record(_ key: UnsafeRawBufferPointer, hit: Bool, generation expected: Int, capacity wanted: Int) {
        if generation != expected || capacity != wanted { rebuild(capacity: wanted, generation: expected) }
        guard capacity > 0 else { return }
        if lastPosition >= 0 && sharesLastPrefix(key) { return count(at: lastPosition, hit: hit) }
        // One pass finds the ':' and hashes the bytes before it (FNV-1a); only a key with no
        // ':' in its first maxPrefixLength bytes needs a search of the rest.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var length = PrefixStats.noPrefix
        let scanned = min(key.count, PrefixStats.maxPrefixLength)
        var position = 0
        while position < scanned {
            let byte = key[position]
            if byte == 58 { length = position; break }
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            position += 1
        }
        if length < 0 && key.count > scanned && memchr(key.baseAddress! + scanned, 58, key.count - scanned) != nil {
            length = scanned
        }
        if length < 0 { hash = 0 }
        hash ^= UInt64(bitPattern: Int64(length)) &* 0x9E37_79B9_7F4A_7C15
        record(prefix: UnsafeRawBufferPointer(start: key.baseAddress, count: max(length, 0)), length: length,
               hash: hash ^ (hash >> 29), hit: hit)
    }

    private func record(prefix: UnsafeRawBufferPointer, length: Int, hash: UInt64, hit: Bool) {
        var slot = Int(truncatingIfNeeded: hash) & indexMask
        while true {
            let position = Int(index[slot])
            if position < 0 { break }
            if matches(position, prefix: prefix, length: length, hash: hash) { return count(at: position, hit: hit) }
            slot = (slot + 1) & indexMask
        }
        var inherited: UInt64 = 0
        let position: Int
        if used < capacity {
            position = used
            used += 1
        } else {
            position = smallestCounter()
            inherited = counters[position].count
            unindex(position)
        }
        counters[position] = Counter(hash: hash, count: inherited + 1, hits: hit ? 1 : 0, misses: hit ? 0 : 1, length: length)
        if length > 0 { memcpy(prefixBytes + position * PrefixStats.maxPrefixLength, prefix.baseAddress!, length) }
        var free = Int(truncatingIfNeeded: hash) & indexMask
        while index[free] >= 0 { free = (free + 1) & indexMask }
        index[free] = Int32(position)
        lastPosition = position
    }

    @inline(__always)
    private func count(at position: Int, hit: Bool) {
        counters[position].count &+= 1
        if hit { counters[position].hits &+= 1 } else { counters[position].misses &+= 1 }
        lastPosition = position
    }

    /// Whether `key`'s prefix is the one counted at `lastPosition`: its bytes, then the ':'
    /// (they hold none, so that is the key's first). Only prefixes of a ':' key qualify.
    @inline(__always)
    private func sharesLastPrefix(_ key: UnsafeRawBufferPointer) -> Bool {
        let length = counters[lastPosition].length
        guard length > 0, key.count > length, key[length] == 58 else { return false }
        return memcmp(prefixBytes + lastPosition * PrefixStats.maxPrefixLength, key.baseAddress!, length) == 0
    }

    @inline(__always)
    private func matches(_ position: Int, prefix: UnsafeRawBufferPointer, length: Int, hash: UInt64) -> Bool {
        let counter = counters[position]
        guard counter.hash == hash, counter.length == length else { return false }
        return length <= 0 || memcmp(prefixBytes + position * PrefixStats.maxPrefixLength, prefix.baseAddress!, length) == 0
    }

    private func smallestCounter() -> Int {
        var smallest = 0
        for position in 1..<used where counters[position].count < counters[smallest].count { smallest = position }
        return smallest
    }

    /// Removes counter `position` from the index, shifting later entries of its probe run back
    /// so that lookups never stop early at the hole.
    private func unindex(_ position: Int) {
        var hole = Int(truncatingIfNeeded: counters[position].hash) & indexMask
        while Int(index[hole]) != position { hole = (hole + 1) & indexMask }
        var next = hole
        while true {
            next = (next + 1) & indexMask
            let occupant = Int(index[next])
            if occupant < 0 { break }
            let home = Int(truncatingIfNeeded: counters[occupant].hash) & indexMask
            // The occupant may move into the hole unless its home lies cyclically in (hole, next].
            let homeBetween = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next)
            if !homeBetween {
                index[hole] = index[next]
                hole = next
            }
        }
        index[hole] = -1
    }

    /// The monitored prefixes, if the summary still belongs to `generation` (else none).
    public func snapshot(generation expected: Int) -> [Row] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard generation == expected else { return [] }
        return (0..<min(used, capacity)).map { position in
            let counter = counters[position]
            let prefix = counter.length < 0 ? nil
                : Array(UnsafeBufferPointer(start: prefixBytes + position * PrefixStats.maxPrefixLength, count: counter.length))
            return Row(prefix: prefix, count: counter.count, hits: counter.hits, misses: counter.misses)
        }
    }

    /// Sums the rows of several summaries by prefix and returns the `limit` with the highest
    /// counts (ties by prefix bytes, keys without ':' last, so the order is stable).
    public static func top(_ limit: Int, of summaries: [[Row]]) -> [Row] {
        var merged: [[UInt8]?: Row] = [:]
        for rows in summaries {
            for row in rows {
                if var existing = merged[row.prefix] {
                    existing.count += row.count
                    existing.hits += row.hits
                    existing.misses += row.misses
                    merged[row.prefix] = existing
                } else {
                    merged[row.prefix] = row
                }
            }
        }
        let ordered = merged.values.sorted { a, b in
            if a.count != b.count { return a.count > b.count }
            switch (a.prefix, b.prefix) {
            case let (first?, second?): return first.lexicographicallyPrecedes(second)
            case (_?, nil): return true
            default: return false
            }
        }
        return Array(ordered.prefix(limit))
    }
}
