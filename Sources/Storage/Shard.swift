// A shard: one lock-striped slice of the keyspace holding, for every database, the keys whose
// cluster slot maps here. All access happens with the shard's mutex held; commands on keys
// sharing a hash tag share a shard and so take one lock. Expired keys are removed lazily on
// access (masters only) and actively by the expiry cycle.
#if canImport(Glibc)
import Glibc
#endif
import CSystem

public struct ShardStats {
    public var keyspaceHits = 0
    public var keyspaceMisses = 0
    public var expiredKeys = 0
    /// Writes since the last successful save (Redis's `dirty`).
    public var dirty = 0
}

/// What one expiry sample of a shard saw: keys with a TTL checked, how many of them had
/// expired (and were deleted), and the sum of the remaining TTLs (ms) of the others.
public struct ExpirySample {
    public var sampled = 0
    public var expired = 0
    public var ttlSum: Int64 = 0
}

public final class Shard {
    /// One cache-aligned block holds the mutex (first line) and database 0's table, so taking
    /// the lock and reaching the table touch memory that sits together.
    private let block: UnsafeMutableRawPointer
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    public let dicts: DatabaseTables
    /// Where the tables of databases 1 and up lie (shared by the keyspace's shards).
    private let region: DatabaseTableRegion
    public let databaseCount: Int
    /// Bytes of entries, bucket arrays and fill records held by this shard.
    public private(set) var usedMemory = 0
    /// The server-wide total this shard reports its changes to while a limit is set.
    private let tally: MemoryTally
    /// The keyspace's record of databases holding keys, told of each insert.
    private let occupied: OccupiedDatabases
    /// Compressed string values held by this shard, and the bytes compression saves on them.
    public private(set) var compressedValues = 0
    public private(set) var compressedBytesSaved = 0
    public var stats = ShardStats()
    /// CACHE.* single-flight state by database (FillTable.swift); empty in most shards.
    var fillTables: [Int: FillTable] = [:]
    /// Tag membership by database (TagIndex.swift); empty unless keys here are tagged.
    var tagIndexes: [Int: TagIndex] = [:]
    /// Told of each key this shard deletes because its time has come (lazily on access or by
    /// the expiry cycle), with the shard locked and before the entry is freed: the upper
    /// layers raise their "expired" events from it. Set once at start-up (`Keyspace`).
    var expiredKeyHook: ExpiredKeyHook?

    /// A shard whose tables of databases 1 and up are `region`'s tables `index`,
    /// `index + stride`... (the keyspace's region, one database after another); nil: the
    /// shard maps its own.
    init(databases: Int, tally: MemoryTally = MemoryTally(), occupied: OccupiedDatabases = OccupiedDatabases(),
         region: DatabaseTableRegion? = nil, index: Int = 0, stride: Int = 1) {
        self.tally = tally
        self.occupied = occupied
        block = .allocate(byteCount: 64 + MemoryLayout<Dict>.stride, alignment: 64)
        mutex = block.bindMemory(to: pthread_mutex_t.self, capacity: 1)
        // Recursive: EXEC and scripts hold the shards of all their keys while the commands
        // inside lock them again.
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
        databaseCount = databases
        let first = (block + 64).bindMemory(to: Dict.self, capacity: 1)
        first.initialize(to: Dict())
        self.region = region ?? DatabaseTableRegion(tables: databases - 1)
        dicts = DatabaseTables(first: first, others: self.region.base + index, stride: stride)
    }

    deinit {
        for db in 0..<databaseCount { dicts[db].removeAll { $0.free() } }
        pthread_mutex_destroy(mutex)
        block.deallocate()
    }

    /// Where the mutex of the shard whose tables start at `tables` lies (the block's first line).
    @inline(__always)
    static func lockAddress(tables: UnsafeMutablePointer<Dict>) -> UnsafeRawPointer {
        UnsafeRawPointer(tables) - 64
    }

    // Inlinable: the other modules lock shards on every command, and an unspecialized call to
    // the generic `withLock` costs more than the lock.
    @inlinable @inline(__always) public func lock() { pthread_mutex_lock(mutex) }
    @inlinable @inline(__always) public func unlock() { pthread_mutex_unlock(mutex) }
    @inlinable @inline(__always) public func tryLock() -> Bool { pthread_mutex_trylock(mutex) == 0 }

    @inlinable @inline(__always)
    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }

    /// Records a change in the bytes this shard holds.
    @inline(__always)
    func account(_ delta: Int) {
        usedMemory += delta
        if tally.isEnabled { tally.add(delta) }
    }

    // MARK: Access with lazy expiry (shard locked by the caller)

    @inline(__always)
    static func isExpired(_ entry: Entry, now: Int64) -> Bool {
        guard let when = entry.expireAt else { return false }
        return when <= now
    }

    /// Whether the key has not reached its expire time (replicas use this to hide expired keys).
    @inline(__always)
    public static func isLive(_ entry: Entry, now: Int64) -> Bool { !isExpired(entry, now: now) }

    /// Deletes the expired entry at `link`, counting it and telling `expiredKeyHook`.
    private func removeExpired(db: Int, at link: EntryLink, hash: UInt64) {
        let entry = detach(db: db, at: link, hash: hash)
        stats.expiredKeys += 1
        expiredKeyHook?(db, entry.key)
        entry.free()
    }

    /// The link of a live key, deleting it first if it has expired (when `expireKeys`).
    /// Replicas pass `expireKeys: false`: they report expired keys missing but keep them
    /// until the master's DEL arrives.
    public func link(db: Int, key: UnsafeRawBufferPointer, hash: UInt64, now: Int64,
                     expireKeys: Bool = true) -> EntryLink? {
        guard let link = dicts[db].link(key, hash: hash) else { return nil }
        if Shard.isExpired(Entry(link.pointee!), now: now) {
            if expireKeys { removeExpired(db: db, at: link, hash: hash) }
            return nil
        }
        return link
    }

    /// Whether `key` is in the table at all, and whether it has expired, without deleting it
    /// (WATCH bookkeeping needs keys that expired but are still there).
    public func presence(db: Int, key: UnsafeRawBufferPointer, hash: UInt64, now: Int64) -> (exists: Bool, expired: Bool) {
        guard let link = dicts[db].link(key, hash: hash) else { return (false, false) }
        return (true, Shard.isExpired(Entry(link.pointee!), now: now))
    }

    public func find(db: Int, key: UnsafeRawBufferPointer, hash: UInt64, now: Int64,
                     expireKeys: Bool = true) -> Entry? {
        guard let link = link(db: db, key: key, hash: hash, now: now, expireKeys: expireKeys) else { return nil }
        return Entry(link.pointee!)
    }

    /// Stores `entry` for its key: replaces the entry at `link` when given, else inserts. A
    /// replaced key keeps its tags only with `keepTags` (the value was modified, as by APPEND
    /// or INCR, rather than replaced by a whole new one, as by SET).
    public func store(db: Int, _ entry: Entry, hash: UInt64, replacing link: EntryLink?, keepTags: Bool = false) {
        let bucketsBefore = dicts[db].bucketBytes
        if let link {
            let old = dicts[db].replace(at: link, with: entry)
            if old.isTagged {
                if keepTags { entry.isTagged = true } else { dropTags(db: db, of: old) }
            }
            account(-old.allocationSize)
            countCompression(of: old, -1)
            old.free()
        } else {
            dicts[db].insert(entry, hash: hash)
            occupied.note(db)
        }
        account(entry.allocationSize + dicts[db].bucketBytes - bucketsBefore)
        countCompression(of: entry, 1)
        stats.dirty += 1
    }

    /// Sizes database `db`'s empty table for `capacity` keys about to be stored.
    public func reserve(db: Int, capacity: Int) {
        let bucketsBefore = dicts[db].bucketBytes
        dicts[db].reserve(capacity)
        account(dicts[db].bucketBytes - bucketsBefore)
    }

    /// Adds (`sign` 1) or removes (-1) a compressed entry from the compression counters.
    @inline(__always)
    private func countCompression(of entry: Entry, _ sign: Int) {
        guard entry.isCompressed else { return }
        compressedValues += sign
        compressedBytesSaved += sign * entry.compressionSavings
    }

    /// Records a change in the size of a stored collection (its mutations happen in place).
    @inline(__always)
    public func collectionResized(by delta: Int) {
        account(delta)
        stats.dirty += 1
    }

    /// Unlinks and frees the entry at `link`; with a `freer`, a large value is freed in the
    /// background (UNLINK).
    public func remove(db: Int, at link: EntryLink, hash: UInt64, freer: LazyFreer? = nil) {
        let entry = detach(db: db, at: link, hash: hash)
        if let freer { entry.free(deferringTo: freer) } else { entry.free() }
    }

    /// Unlinks the entry at `link` without freeing it (RENAME/MOVE hand it on) and drops its
    /// tags: tags belong to the key where it was, they do not follow it.
    @discardableResult
    public func detach(db: Int, at link: EntryLink, hash: UInt64) -> Entry {
        let bucketsBefore = dicts[db].bucketBytes
        let entry = dicts[db].remove(at: link, hash: hash)
        dropTags(db: db, of: entry)
        account(dicts[db].bucketBytes - bucketsBefore - entry.allocationSize)
        countCompression(of: entry, -1)
        stats.dirty += 1
        return entry
    }

    /// Drops every key of `db`, returning how many there were; with a `freer`, the detached
    /// table is freed in the background (FLUSHDB ASYNC).
    @discardableResult
    public func clear(db: Int, freer: LazyFreer? = nil) -> Int {
        dicts[db].finishCapture()
        let count = dicts[db].count
        var freed = dicts[db].bucketBytes
        if let freer, count > 0 {
            // Only sizes are read under the lock; the frees happen in the background.
            dicts[db].forEach { entry in
                freed += entry.allocationSize
                countCompression(of: entry, -1)
            }
            var detached = dicts[db]
            dicts[db] = Dict()
            freer.submit(objects: count) { detached.removeAll { $0.free() } }
        } else {
            dicts[db].removeAll { entry in
                freed += entry.allocationSize
                countCompression(of: entry, -1)
                entry.free()
            }
        }
        account(-freed)
        clearFillRecords(db: db)
        clearTags(db: db)
        dicts[db].expiryCursor = 0
        stats.dirty += count
        return count
    }

    /// Exchanges the contents of two databases (SWAPDB).
    public func swap(_ a: Int, _ b: Int) {
        // A snapshot in progress saves both as they were, under their old numbers.
        dicts[a].finishCapture()
        dicts[b].finishCapture()
        let first = dicts[a]
        dicts[a] = dicts[b]
        dicts[b] = first
        occupied.note(a)
        occupied.note(b)
        let firstFills = fillTables[a]
        fillTables[a] = fillTables[b]
        fillTables[b] = firstFills
        let firstTags = tagIndexes[a]
        tagIndexes[a] = tagIndexes[b]
        tagIndexes[b] = firstTags
    }

    // MARK: Hints for eviction's next sample (read without the lock: a stale value only
    // makes a useless prefetch, never a fault)

    /// Starts loading the table header of the first database.
    public func prefetchTables() { swiftlet_prefetch(dicts.first) }

    /// Starts loading the buckets a sample from `start` will read first in `databases`.
    public func prefetchSampleBuckets(start: UInt64, databases: UnsafeBufferPointer<Int>) {
        for db in databases { Dict.prefetchBucket(of: dicts.pointer(db), hash: start) }
    }

    /// Starts loading the entries those buckets point to. Reading a bucket needs the lock
    /// (the table could be freed meanwhile), so nothing happens when the shard is busy.
    public func prefetchSampleEntries(start: UInt64, databases: UnsafeBufferPointer<Int>) {
        guard tryLock() else { return }
        for db in databases { dicts[db].prefetchSampleEntries(start: start) }
        unlock()
    }

    // MARK: Background upkeep (cron)

    /// One sample of the active expiry cycle: checks up to `keys` keys of `db` that have a
    /// TTL, resuming the table scan where the previous sample stopped and visiting at most
    /// 20 buckets per wanted key (keys without a TTL share the table), and deletes those
    /// past their time. `doomed` is scratch space reused between calls.
    public func expireSample(db: Int, now: Int64, keys: Int, doomed: inout [Entry]) -> ExpirySample {
        var sample = ExpirySample()
        let wanted = min(keys, dicts[db].volatileCount)
        guard wanted > 0 else { return sample }
        var cursor = dicts[db].expiryCursor
        var buckets = 0
        doomed.removeAll(keepingCapacity: true)
        repeat {
            cursor = dicts[db].scan(cursor: cursor) { entry in
                guard let when = entry.expireAt else { return }
                sample.sampled += 1
                if when <= now { doomed.append(entry) } else { sample.ttlSum += when - now }
            }
            buckets += 1
        } while cursor != 0 && sample.sampled < wanted && buckets < wanted * 20
        dicts[db].expiryCursor = cursor
        sample.expired = doomed.count
        for entry in doomed {
            let hash = KeyHash.hash(entry.key)
            if let link = dicts[db].link(entry.key, hash: hash) { removeExpired(db: db, at: link, hash: hash) }
        }
        return sample
    }

    /// Incremental rehashing and shrinking of sparse tables.
    public func tidyTables(rehashSteps: Int) {
        for db in 0..<databaseCount {
            let before = dicts[db].bucketBytes
            dicts[db].shrinkIfSparse()
            dicts[db].rehash(steps: rehashSteps)
            account(dicts[db].bucketBytes - before)
        }
    }
}
