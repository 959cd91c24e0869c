// Keeps used memory at or under `maxmemory` the way Redis's performEvictions does: before
// each command, on whichever worker runs it, while memory is over the limit, sample keys
// the policy may evict, keep the best candidates in a pool of 16 (highest idle time,
// lowest LFU counter or nearest expire time first) and delete the best, until enough is
// freed or the time slice of `maxmemory-eviction-tenacity` is spent (then the command runs
// anyway and the next command, or cron, goes on evicting). One worker evicts at a time;
// the pool is shared, so the samples of every worker improve the next choice.
#if canImport(Glibc)
import Glibc
#endif
import Config
import Storage
import Support

public enum EvictionResult {
    /// Memory is within the limit.
    case ok
    /// Over the limit, but the time slice ran out while keys were still being freed.
    case running
    /// Over the limit and nothing (more) can be evicted: denyoom commands get OOM.
    case failed
}

public final class Evictor {
    /// Where a sample will be taken: a shard and a random starting bucket.
    private struct Probe {
        var shard: Int
        var start: UInt64
    }

    private var mutex = pthread_mutex_t()
    /// Best candidates seen so far (the best is evicted first).
    private var pool = EvictionPool()
    /// Position in `databasesInUse` the random policies try next (Redis rotates databases too).
    private var nextRandomDB = 0
    private var random = Xorshift64()
    /// The next three sample positions, chosen ahead so that their memory loads while other
    /// work runs: the shard's tables three samples ahead, the first buckets two ahead, and
    /// the entries those buckets point to one ahead (each step reads what the previous one
    /// brought into cache).
    private var upcoming: (Probe, Probe, Probe)
    /// Databases that may hold keys (the keyspace's OccupiedDatabases, read before each
    /// eviction, recounted when sampling them finds nothing): sampling and prefetching visit
    /// only these tables instead of all 16 of every shard they touch.
    private var databasesInUse: [Int] = [0]
    private var databasesInUseMask: Int64 = 1
    public private(set) var evictedKeys = 0
    /// When memory last went over the limit (µs on the tick clock), 0 while within it.
    private var overLimitSince: Int64 = 0
    private var exceededMicroseconds: Int64 = 0

    init() {
        upcoming = (Probe(shard: 0, start: 0), Probe(shard: 0, start: 0), Probe(shard: 0, start: 0))
        pthread_mutex_init(&mutex, nil)
    }

    deinit { pool.deallocate() }

    /// Milliseconds spent over the limit in total and in the current stretch (INFO stats).
    public func exceededTime() -> (total: Int64, current: Int64) {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let current = overLimitSince == 0 ? 0 : Evictor.microseconds() - overLimitSince
        return ((exceededMicroseconds + current) / 1000, current / 1000)
    }

    public func resetStats() {
        pthread_mutex_lock(&mutex)
        evictedKeys = 0
        exceededMicroseconds = 0
        if overLimitSince != 0 { overLimitSince = Evictor.microseconds() }
        pthread_mutex_unlock(&mutex)
    }

    /// Evicts keys until used memory is within `maxmemory` or the time slice is spent.
    public func makeRoom(_ server: ServerContext) -> EvictionResult {
        let config = server.config
        let limit = config.maxmemory
        // Like Redis's default replica-ignore-maxmemory: a replica leaves that to its master;
        // and nothing is evicted while CLIENT PAUSE holds clients back.
        guard limit > 0, server.deletesKeysOnItsOwn else { return .ok }
        if server.usedMemoryForEviction <= limit {
            if overLimitSince != 0 { noteWithinLimit() }
            return .ok
        }
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        let used = server.usedMemoryForEviction
        guard used > limit else {
            stopOverLimitClock()
            return .ok
        }
        let started = Evictor.microseconds()
        defer {
            server.latencyMonitor.record("eviction-cycle", milliseconds: Int(Evictor.microseconds() - started) / 1000,
                                         threshold: config.latencyMonitorThreshold)
        }
        if overLimitSince == 0 { overLimitSince = started }
        _ = updateDatabasesInUse(server.keyspace)
        let policy = config.maxmemoryPolicy
        if policy == .noeviction { return .failed }
        let timeLimit = Evictor.timeLimitMicroseconds(tenacity: config.maxmemoryEvictionTenacity)
        var freed = 0, attempts = 0
        while freed < used - limit {
            guard let victim = selectVictim(server, policy: policy) else { return .failed }
            if let bytes = delete(victim, server, volatileOnly: policy.isVolatile) {
                freed += bytes
                evictedKeys += 1
            }
            attempts += 1
            if attempts % 16 == 0 && Evictor.microseconds() - started > timeLimit { return .running }
        }
        if server.usedMemoryForEviction <= limit { stopOverLimitClock() }
        return .ok
    }

    /// Microseconds on the cycle counter: eviction reads the time at least twice per command
    /// while memory is over the limit, and clock_gettime showed in profiles there.
    private static func microseconds() -> Int64 {
        Int64(Clock.microseconds(ticks: Clock.ticks()))
    }

    /// Redis's evictionTimeLimitUs: 0–500 µs linearly up to tenacity 10, then +15% a step;
    /// 100 means no limit.
    static func timeLimitMicroseconds(tenacity: Int) -> Int64 {
        if tenacity <= 10 { return Int64(50 * tenacity) }
        if tenacity < 100 { return Int64(500 * pow(1.15, Double(tenacity - 10))) }
        return .max
    }

    private func noteWithinLimit() {
        pthread_mutex_lock(&mutex)
        stopOverLimitClock()
        pthread_mutex_unlock(&mutex)
    }

    private func stopOverLimitClock() {
        guard overLimitSince != 0 else { return }
        exceededMicroseconds += Evictor.microseconds() - overLimitSince
        overLimitSince = 0
    }

    // MARK: Choosing a key

    private func selectVictim(_ server: ServerContext, policy: MaxmemoryPolicy) -> EvictionPool.Victim? {
        if policy.isRandom { return randomVictim(server, volatileOnly: policy.isVolatile) }
        while true {
            if !populatePool(server, policy: policy) && pool.isEmpty { return nil }
            // Entries may be stale (deleted or changed since sampled): the caller re-checks.
            if let best = pool.popBest() { return best }
        }
    }

    /// Samples `maxmemory-samples` keys of one shard into the pool; false when no shard has
    /// a key the policy may evict. Random shards are tried first, then (rarely, with a
    /// nearly empty keyspace) every shard in turn.
    private func populatePool(_ server: ServerContext, policy: MaxmemoryPolicy) -> Bool {
        let planned = nextProbe(server.keyspace)
        if sample(shard: planned.shard, server, policy: policy, start: planned.start) > 0 { return true }
        return withCurrentDatabases(server) {
            probeShards(count: server.keyspace.shardCount) { sample(shard: $0, server, policy: policy, start: random.next()) > 0 }
                ? true : nil
        } ?? false
    }

    /// Runs `attempt`; when it finds nothing, recounts the databases holding keys (some may
    /// have emptied, others filled since the list was made) and, if they changed, tries again.
    private func withCurrentDatabases<Found>(_ server: ServerContext, _ attempt: () -> Found?) -> Found? {
        if let found = attempt() { return found }
        server.keyspace.recountOccupiedDatabases()
        return updateDatabasesInUse(server.keyspace) ? attempt() : nil
    }

    /// Takes the keyspace's databases in use if they changed; returns whether they did.
    private func updateDatabasesInUse(_ keyspace: Keyspace) -> Bool {
        let mask = keyspace.occupiedDatabases.mask
        guard mask != databasesInUseMask else { return false }
        databasesInUseMask = mask
        databasesInUse = OccupiedDatabases.databases(in: mask, count: keyspace.databaseCount)
        return true
    }

    /// The planned probe, planning (and prefetching for) the ones after it.
    private func nextProbe(_ keyspace: Keyspace) -> Probe {
        let due = upcoming.0
        upcoming = (upcoming.1, upcoming.2, Probe(shard: Int(random.next() % UInt64(keyspace.shardCount)), start: random.next()))
        let shards = keyspace.unownedShards
        shards[upcoming.2.shard]._withUnsafeGuaranteedRef { $0.prefetchTables() }
        databasesInUse.withUnsafeBufferPointer { databases in
            shards[upcoming.1.shard]._withUnsafeGuaranteedRef {
                $0.prefetchSampleBuckets(start: upcoming.1.start, databases: databases)
            }
            shards[upcoming.0.shard]._withUnsafeGuaranteedRef {
                $0.prefetchSampleEntries(start: upcoming.0.start, databases: databases)
            }
        }
        return due
    }

    /// Offers shard indexes to `found` until it returns true: 32 random ones, then every
    /// shard from a random start, so a nearly empty keyspace is still searched completely
    /// before giving up. Returns whether `found` succeeded.
    private func probeShards(count: Int, found: (Int) -> Bool) -> Bool {
        let start = Int(random.next() % UInt64(count))
        for attempt in 0..<count {
            let index = attempt < 32 ? Int(random.next() % UInt64(count)) : (start + attempt) % count
            if found(index) { return true }
        }
        return false
    }

    /// Adds the samples of every database in use of `shard` to the pool; returns how many it saw.
    private func sample(shard shardIndex: Int, _ server: ServerContext, policy: MaxmemoryPolicy, start: UInt64) -> Int {
        let samples = server.config.maxmemorySamples
        var seen = 0
        server.keyspace.unownedShards[shardIndex]._withUnsafeGuaranteedRef { shard in
            shard.withLock {
                for db in databasesInUse {
                    let dict = shard.dicts[db]
                    guard policy.isVolatile ? dict.volatileCount > 0 : dict.count > 0 else { continue }
                    dict.sample(count: samples, maxBuckets: samples * 10, start: start) { entry in
                        if policy.isVolatile && !entry.hasExpire { return false }
                        seen += 1
                        pool.offer(entry, db: db, shard: shardIndex, score: score(of: entry, server, policy: policy))
                        return true
                    }
                }
            }
        }
        return seen
    }

    /// How much `policy` wants `entry` gone: idle time, inverse frequency or nearness of expiry.
    private func score(of entry: Entry, _ server: ServerContext, policy: MaxmemoryPolicy) -> UInt64 {
        if policy.isLFU { return 255 - UInt64(server.decayedFrequency(entry)) }
        if policy == .volatileTTL { return UInt64.max - UInt64(max(entry.expireAt ?? 0, 0)) }
        return UInt64(server.idleSeconds(entry))
    }

    private func randomVictim(_ server: ServerContext, volatileOnly: Bool) -> EvictionPool.Victim? {
        let shards = server.keyspace.shards
        return withCurrentDatabases(server) {
            var victim: EvictionPool.Victim?
            _ = probeShards(count: shards.count) { index in
                victim = shards[index].withLock {
                    for offset in 0..<databasesInUse.count {
                        let db = databasesInUse[(nextRandomDB + offset) % databasesInUse.count]
                        var pick: EvictionPool.Victim?
                        shards[index].dicts[db].sample(count: 1, maxBuckets: 64, start: random.next()) { entry in
                            guard !volatileOnly || entry.hasExpire else { return false }
                            pick = pool.scratchVictim(entry.key, db: db, shard: index)
                            return true
                        }
                        if let pick {
                            nextRandomDB = (nextRandomDB + offset + 1) % databasesInUse.count
                            return pick
                        }
                    }
                    return nil
                }
                return victim != nil
            }
            return victim
        }
    }

    // MARK: Deleting

    /// Deletes the candidate if it is still there (and still volatile when the policy
    /// requires it); returns the bytes freed.
    private func delete(_ victim: EvictionPool.Victim, _ server: ServerContext, volatileOnly: Bool) -> Int? {
        let key = victim.key, db = victim.db
        let hash = KeyHash.hash(key)
        return server.keyspace.unownedShards[victim.shard]._withUnsafeGuaranteedRef { shard in
            shard.withLock {
                guard let link = shard.dicts[db].link(key, hash: hash) else { return nil }
                if volatileOnly && !Entry(link.pointee!).hasExpire { return nil }
                let before = shard.usedMemory
                shard.remove(db: db, at: link, hash: hash)
                let freed = before - shard.usedMemory
                if server.propagation.isActive { server.propagation.deleted(key, db: db) }
                let observed = server.keyModificationsObserved
                Unmanaged.passUnretained(server.keyEvents)._withUnsafeGuaranteedRef { events in
                    events.modified(key, db: db, by: nil, gatesOpen: observed)
                    events.notify(.evicted, "evicted", key, db: db)
                }
                return freed
            }
        }
    }
}

extension ServerContext {
    /// Used memory as eviction counts it (Redis's used_memory minus what it does not count
    /// for eviction, of which we have none yet): the dataset, start-up heap and client buffers.
    public var usedMemoryForEviction: Int { usedMemory(dataset: keyspace.memoryTally.bytes) }

    /// Used memory with `dataset` bytes of keys and values: plus the start-up heap and client
    /// buffers (INFO passes the shards' exact sum, eviction the running total).
    public func usedMemory(dataset: Int) -> Int { dataset + baselineMemory + clientBufferBytes }

    /// Called when `maxmemory` changed: keep the total eviction needs only while a limit is set.
    public func maxmemoryChanged() {
        keyspace.trackMemoryTotal(config.maxmemory > 0)
    }
}
