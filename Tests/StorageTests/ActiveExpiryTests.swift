// The active expiry cycle against a keyspace of many shards: stale keys nobody reads are
// removed (and only those), a cycle keeps sweeping while samples are mostly stale, stops at
// the first mostly-live sample, respects its time limit, and keeps Redis's statistics.
import Testing
@testable import Storage

private func add(_ keyspace: Keyspace, db: Int = 0, _ key: String, expireAt: Int64?) {
    Array(key.utf8).withUnsafeBytes { raw in
        let hash = KeyHash.hash(raw)
        let shard = keyspace.shard(for: raw)
        shard.withLock {
            let entry = Entry.make(key: raw, payload: .integer(1), expireAt: expireAt, rawEncoding: false, accessClock: 0)
            shard.store(db: db, entry, hash: hash, replacing: nil)
        }
    }
}

private func contains(_ keyspace: Keyspace, db: Int = 0, _ key: String) -> Bool {
    Array(key.utf8).withUnsafeBytes { raw in
        let shard = keyspace.shard(for: raw)
        return shard.withLock { shard.dicts[db].find(raw, hash: KeyHash.hash(raw)) != nil }
    }
}

/// A clock that only moves when told to: cycles never run out of time unless a test says so.
private final class FakeClock {
    var micros: Int64 = 1_000_000
    var step: Int64 = 0
    func read() -> Int64 { micros += step; return micros }
}

private let now: Int64 = 1_700_000_000_000

@Test func slowCyclesRemoveEveryStaleKeyAndNoLiveOne() {
    let keyspace = Keyspace(databases: 4, shardCount: 64)
    let expiry = ActiveExpiry(keyspace: keyspace)
    let clock = FakeClock()
    for i in 0..<5000 { add(keyspace, "stale:\(i)", expireAt: now - 1) }
    for i in 0..<500 { add(keyspace, "live:\(i)", expireAt: now + 60_000) }
    for i in 0..<500 { add(keyspace, "forever:\(i)", expireAt: nil) }
    add(keyspace, db: 3, "stale-in-db3", expireAt: now - 5)
    // With an unbounded clock one cycle sweeps while samples are mostly stale, i.e. nearly
    // all of it; a few more cycles pick up the tail.
    expiry.run(.slow, hz: 10, effort: 1, now: now, clock: clock.read)
    #expect(keyspace.keyCount(db: 0) < 1500)
    for _ in 0..<200 where keyspace.keyCount(db: 0) > 1000 {
        expiry.run(.slow, hz: 10, effort: 1, now: now, clock: clock.read)
    }
    #expect(keyspace.keyCount(db: 0) == 1000)
    #expect(keyspace.keyCount(db: 3) == 0)
    #expect(keyspace.volatileCount(db: 0) == 500)
    for i in stride(from: 0, to: 500, by: 37) {
        #expect(contains(keyspace, "live:\(i)"))
        #expect(contains(keyspace, "forever:\(i)"))
    }
    #expect(keyspace.aggregateStats().expiredKeys == 5001)
    #expect(expiry.stats.staleRatio > 0)
    #expect(expiry.stats.timeCapReachedCount == 0)
    // Live keys feed the TTL estimate: about a minute.
    let averageTTL = expiry.averageTTL(db: 0)
    #expect(averageTTL > 59_000 && averageTTL <= 60_000)
}

@Test func aMostlyLiveSampleEndsTheCycle() {
    let keyspace = Keyspace(databases: 1, shardCount: 16)
    let expiry = ActiveExpiry(keyspace: keyspace)
    let clock = FakeClock()
    for i in 0..<2000 { add(keyspace, "live:\(i)", expireAt: now + 10_000) }
    for i in 0..<20 { add(keyspace, "stale:\(i)", expireAt: now - 1) }
    expiry.run(.slow, hz: 10, effort: 1, now: now, clock: clock.read)
    // The first sample (20 keys of one shard, about 1% stale) is acceptable: the cycle stops
    // after it, having looked at a handful of keys, not the 2020.
    #expect(keyspace.keyCount(db: 0) > 2000)
    #expect(expiry.stats.staleRatio < 0.05)
}

@Test func theTimeLimitStopsTheCycleAndAsksForFastCycles() {
    let keyspace = Keyspace(databases: 1, shardCount: 16)
    let expiry = ActiveExpiry(keyspace: keyspace)
    let clock = FakeClock()
    for i in 0..<3000 { add(keyspace, "stale:\(i)", expireAt: now - 1) }
    // Each clock read advances 1 ms; a slow cycle at hz 10 may run 25 ms.
    clock.step = 1000
    expiry.run(.slow, hz: 10, effort: 1, now: now, clock: clock.read)
    let left = keyspace.keyCount(db: 0)
    #expect(left > 2000 && left < 3000)
    #expect(expiry.stats.timeCapReachedCount == 1)
    #expect(expiry.wantsFastCycles)
    // A fast cycle may run 1 ms: one sample (20 keys, or a few more when the last bucket
    // visited holds a chain).
    expiry.run(.fast, hz: 10, effort: 1, now: now, clock: clock.read)
    #expect((left - 25...left - 20).contains(keyspace.keyCount(db: 0)))
    #expect(expiry.stats.timeCapReachedCount == 2)
    #expect(expiry.stats.cycleMicroseconds > 25_000)
    clock.step = 0
    for _ in 0..<100 where keyspace.keyCount(db: 0) > 0 {
        expiry.run(.slow, hz: 10, effort: 1, now: now, clock: clock.read)
    }
    #expect(keyspace.keyCount(db: 0) == 0)
    #expect(!expiry.wantsFastCycles)
    // Without a time-limited cycle before it, a fast cycle does nothing.
    add(keyspace, "stale", expireAt: now - 1)
    expiry.run(.fast, hz: 10, effort: 1, now: now, clock: clock.read)
    #expect(contains(keyspace, "stale"))
    expiry.resetStats()
    #expect(expiry.stats.timeCapReachedCount == 0 && expiry.stats.cycleMicroseconds == 0)
}

@Test func effortScalesLikeRedis() {
    let low = ActiveExpiry.Tuning(effort: 1), high = ActiveExpiry.Tuning(effort: 10)
    #expect(low.keysPerSample == 20 && low.acceptableStalePercent == 10 && low.slowTimePercent == 25)
    #expect(high.keysPerSample == 65 && high.acceptableStalePercent == 1 && high.slowTimePercent == 43)
    #expect(low.timeLimitMicros(.slow, hz: 10) == 25_000 && low.timeLimitMicros(.fast, hz: 10) == 1000)
    #expect(high.fastDurationMicros == 3250)
}
