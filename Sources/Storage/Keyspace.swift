// The whole dataset: `databases` logical databases split over a power-of-two number of
// shards. A key's shard is its cluster hash slot modulo the shard count. Whole-keyspace
// operations lock every shard in ascending order, the one order all code uses, so they
// never deadlock with multi-key commands.

import CSystem

/// Called with a database and key the server deleted because the key expired (shard locked).
public typealias ExpiredKeyHook = (_ db: Int, _ key: UnsafeRawBufferPointer) -> Void

public final class Keyspace {
    public let shards: [Shard]
    /// The same shards without reference counting, for the per-command path: the keyspace
    /// owns them for its whole life, so borrowing them needs no retain/release.
    public let unownedShards: UnsafeMutablePointer<Unmanaged<Shard>>
    /// Each shard's tables (one per database), by shard index: prefetching reaches a table
    /// header from here without first loading the shard's object.
    let shardTables: UnsafeMutablePointer<DatabaseTables>
    public let databaseCount: Int
    public let shardMask: Int
    /// Total bytes held by all shards, kept while a memory limit needs it.
    public let memoryTally: MemoryTally
    /// The databases that may hold keys (OccupiedDatabases.swift).
    public let occupiedDatabases = OccupiedDatabases()

    public init(databases: Int, shardCount: Int = 1024) {
        precondition(shardCount > 0 && shardCount & (shardCount - 1) == 0, "shard count must be a power of two")
        databaseCount = databases
        shardMask = shardCount - 1
        let tally = MemoryTally()
        memoryTally = tally
        let occupied = occupiedDatabases
        // The tables of databases 1 and up of every shard (DatabaseTables.swift).
        let region = DatabaseTableRegion(tables: (databases - 1) * shardCount)
        shards = (0..<shardCount).map { index in
            Shard(databases: databases, tally: tally, occupied: occupied, region: region, index: index, stride: shardCount)
        }
        unownedShards = .allocate(capacity: shardCount)
        shardTables = .allocate(capacity: shardCount)
        for (index, shard) in shards.enumerated() {
            unownedShards[index] = .passUnretained(shard)
            shardTables.advanced(by: index).initialize(to: shard.dicts)
        }
    }

    deinit {
        unownedShards.deallocate()
        shardTables.deallocate()
    }

    public var shardCount: Int { shards.count }

    /// Forgets the databases that hold no key any more (a scan of every shard's tables).
    public func recountOccupiedDatabases() {
        occupiedDatabases.recount(shards, databaseCount: databaseCount)
    }

    /// Installs the hook every shard calls when it deletes an expired key (only at start-up,
    /// before any command runs).
    public func onKeyExpired(_ hook: @escaping ExpiredKeyHook) {
        for shard in shards { shard.expiredKeyHook = hook }
    }

    @inline(__always)
    public func shardIndex(for key: UnsafeRawBufferPointer) -> Int {
        Keyspace.shardIndex(for: key, mask: shardMask)
    }

    /// The shard of `key` in a keyspace whose shard mask is `mask` (its cluster slot's low bits).
    @inline(__always)
    public static func shardIndex(for key: UnsafeRawBufferPointer, mask: Int) -> Int {
        HashSlot.of(key) & mask
    }

    @inline(__always)
    public func shard(for key: UnsafeRawBufferPointer) -> Shard {
        shards[shardIndex(for: key)]
    }

    /// The stages of prefetching what a later lookup of a key will touch, run as passes over
    /// a pipelined batch so the cache misses of its keys overlap instead of queueing one
    /// after another: each pass reads only what the previous one requested.
    public enum PrefetchStage: CaseIterable {
        /// The shard's object (statistics), its lock and its table header for the database.
        case shard
        /// The bucket the key hashes to (reads the table header).
        case bucket
        /// The first entry in that bucket (reads the bucket; needs the shard lock, so it is
        /// skipped while another thread holds it).
        case entry
    }

    /// Runs one prefetch `stage` for a key in the shard at `shardIndex` with table hash
    /// `hash`. The table header is read without the lock: a stale value makes a useless
    /// hint, never a fault.
    @inline(__always)
    public func prefetch(_ stage: PrefetchStage, db: Int, shardIndex: Int, hash: UInt64) {
        let table = shardTables[shardIndex].pointer(db)
        switch stage {
        case .shard:
            let object = unownedShards[shardIndex].toOpaque()
            swiftlet_prefetch(object)
            swiftlet_prefetch(object + 64)
            swiftlet_prefetch(Shard.lockAddress(tables: shardTables[shardIndex].first))
            swiftlet_prefetch(table)
        case .bucket:
            Dict.prefetchBucket(of: table, hash: hash)
        case .entry:
            unownedShards[shardIndex]._withUnsafeGuaranteedRef { shard in
                guard shard.tryLock() else { return }
                Dict.prefetchEntry(of: table, hash: hash)
                shard.unlock()
            }
        }
    }

    /// Runs `body` with every shard locked (ascending order).
    public func withAllShardsLocked<T>(_ body: () throws -> T) rethrows -> T {
        for shard in shards { shard.lock() }
        defer { for shard in shards.reversed() { shard.unlock() } }
        return try body()
    }

    public func keyCount(db: Int) -> Int {
        var total = 0
        for shard in shards { shard.withLock { total += shard.dicts[db].count } }
        return total
    }

    public func volatileCount(db: Int) -> Int {
        var total = 0
        for shard in shards { shard.withLock { total += shard.dicts[db].volatileCount } }
        return total
    }

    /// For each database, whether any of its keys may have a TTL. Only occupied databases
    /// are looked at, and their counts are read without the shard locks (a stale answer only
    /// steers the expiry cycle, which checks again under them): every cron tick asks.
    public func databasesWithVolatileKeys() -> [Bool] {
        var found = Array(repeating: false, count: databaseCount)
        for db in OccupiedDatabases.databases(in: occupiedDatabases.mask, count: databaseCount) {
            found[db] = shards.contains { $0.dicts[db].volatileCount > 0 }
        }
        return found
    }

    /// Starts or stops keeping `memoryTally` (with every shard locked, so it starts exact).
    public func trackMemoryTotal(_ enabled: Bool) {
        withAllShardsLocked {
            guard enabled != memoryTally.isEnabled else { return }
            memoryTally.reset(to: enabled ? shards.reduce(0) { $0 + $1.usedMemory } : 0)
            memoryTally.isEnabled = enabled
        }
    }

    public var usedMemory: Int {
        var total = 0
        for shard in shards { shard.withLock { total += shard.usedMemory } }
        return total
    }

    /// Compressed string values and the bytes compression saves on them, over all shards.
    public var compressionTotals: (values: Int, bytesSaved: Int) {
        var values = 0, saved = 0
        for shard in shards {
            shard.withLock {
                values += shard.compressedValues
                saved += shard.compressedBytesSaved
            }
        }
        return (values, saved)
    }

    public func aggregateStats() -> ShardStats {
        var total = ShardStats()
        for shard in shards {
            shard.withLock {
                total.keyspaceHits += shard.stats.keyspaceHits
                total.keyspaceMisses += shard.stats.keyspaceMisses
                total.expiredKeys += shard.stats.expiredKeys
                total.dirty += shard.stats.dirty
            }
        }
        return total
    }

    public func resetStats() {
        for shard in shards {
            shard.withLock {
                let dirty = shard.stats.dirty
                shard.stats = ShardStats()
                shard.stats.dirty = dirty
            }
        }
    }
}
