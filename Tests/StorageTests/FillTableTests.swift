// The CACHE.* fill records of a shard (tokens and recompute times) checked against a
// dictionary model under random operations (memory accounting included), and the cron
// sweep's bounds: lapsed tokens are reported and dropped, a recompute time dies with its key
// or its key's expire time, and each sweep visits a bounded part of the recompute times.
import Storage
import Testing

struct FillTableTests {
    private func record(token: UInt64 = 0, deadline: Int64 = 0, delta: Int64 = 0, expireAt: Int64 = 0) -> FillRecord {
        var record = FillRecord()
        record.token = token
        record.tokenDeadline = deadline
        record.delta = delta
        record.deltaExpireAt = expireAt
        return record
    }

    private func set(_ shard: Shard, _ record: FillRecord, db: Int = 0, _ key: [UInt8]) {
        key.withUnsafeBytes { shard.setFillRecord(record, db: db, key: $0) }
    }

    private func get(_ shard: Shard, db: Int = 0, _ key: [UInt8]) -> FillRecord? {
        key.withUnsafeBytes { shard.fillRecord(db: db, key: $0) }
    }

    @Test func randomOperationsMatchModelAndMemoryReturnsToBaseline() {
        let shard = Keyspace(databases: 4, shardCount: 1).shards[0]
        let baseline = shard.usedMemory
        var model: [[Int]: FillRecord] = [:]
        for _ in 0..<5000 {
            let db = Int.random(in: 0..<4)
            let key = Array("key:\(Int.random(in: 0..<64))".utf8)
            let modelKey = [db] + key.map(Int.init)
            switch Int.random(in: 0..<3) {
            case 0:
                let token = Bool.random() ? UInt64.random(in: 1...1000) : 0
                let delta = Bool.random() ? Int64.random(in: 1...1000) : 0
                let value = record(token: token, deadline: token == 0 ? 0 : 100, delta: delta, expireAt: delta == 0 ? 0 : 50)
                set(shard, value, db: db, key)
                model[modelKey] = value == FillRecord() ? nil : value
            case 1:
                let empty = FillRecord()
                set(shard, empty, db: db, key)
                model[modelKey] = nil
            default:
                key.withUnsafeBytes { shard.removeFillRecord(db: db, key: $0) }
                model[modelKey] = nil
            }
            #expect(get(shard, db: db, key) == model[modelKey])
            #expect(shard.hasFillRecords == !model.isEmpty)
        }
        #expect(shard.usedMemory > baseline || model.isEmpty)
        for modelKey in model.keys {
            let key = modelKey.dropFirst().map { UInt8($0) }
            key.withUnsafeBytes { shard.removeFillRecord(db: modelKey[0], key: $0) }
        }
        #expect(shard.usedMemory == baseline)
        #expect(!shard.hasFillRecords)
    }

    @Test func liveTokenDeltaAndPruningFollowDeadlineAndExpireTime() {
        let value = record(token: 7, deadline: 1000, delta: 50, expireAt: 5000)
        #expect(value.liveToken(now: 999) == 7)
        #expect(value.liveToken(now: 1000) == nil)
        #expect(value.delta(forKeyExpiringAt: 5000) == 50)
        #expect(value.delta(forKeyExpiringAt: 5001) == nil)
        #expect(value.delta(forKeyExpiringAt: nil) == nil)
        var pruned = value
        pruned.prune(now: 999, keyExpireAt: 5000)
        #expect(pruned == value)
        pruned.prune(now: 1000, keyExpireAt: 5000)
        #expect(pruned == record(delta: 50, expireAt: 5000))
        pruned.prune(now: 1000, keyExpireAt: 4000)
        #expect(pruned == FillRecord())
    }

    @Test func sweepDropsLapsedTokensAndDeltasOfChangedOrMissingKeys() {
        let keyspace = Keyspace(databases: 2, shardCount: 1)
        let shard = keyspace.shards[0]
        let live = Array("live".utf8), changed = Array("changed".utf8), gone = Array("gone".utf8)
        let locked = Array("locked".utf8), lapsed = Array("lapsed".utf8)
        for (key, expireAt) in [(live, Int64(9000)), (changed, 9500)] {
            key.withUnsafeBytes { bytes in
                shard.store(db: 1, Entry.make(key: bytes, payload: .integer(1), expireAt: expireAt, rawEncoding: false,
                                              accessClock: 0),
                            hash: KeyHash.hash(bytes), replacing: nil)
            }
        }
        let entriesMemory = shard.usedMemory
        set(shard, record(delta: 10, expireAt: 9000), db: 1, live)
        set(shard, record(delta: 10, expireAt: 9000), db: 1, changed)
        set(shard, record(delta: 10, expireAt: 9000), db: 1, gone)
        set(shard, record(token: 1, deadline: 2000), db: 1, locked)
        set(shard, record(token: 2, deadline: 1000), db: 1, lapsed)
        let swept = shard.sweepFillRecords(now: 1000)
        #expect(swept.map { $0.db } == [1])
        #expect(swept.map { $0.key } == [lapsed])
        #expect(get(shard, db: 1, live) == record(delta: 10, expireAt: 9000))
        #expect(get(shard, db: 1, locked) == record(token: 1, deadline: 2000))
        #expect(get(shard, db: 1, changed) == nil)
        #expect(get(shard, db: 1, gone) == nil)
        #expect(get(shard, db: 1, lapsed) == nil)
        // Past the key's expire time the delta goes too, and the remaining token lapses.
        #expect(shard.sweepFillRecords(now: 9000).map { $0.key } == [locked])
        #expect(get(shard, db: 1, live) == nil)
        #expect(!shard.hasFillRecords)
        #expect(shard.usedMemory == entriesMemory)
        set(shard, record(token: 3, deadline: 9999), db: 1, live)
        shard.clear(db: 1)
        #expect(!shard.hasFillRecords)
        #expect(get(shard, db: 1, live) == nil)
    }

    @Test func sweepWalksRecomputeTimesIncrementally() {
        let shard = Keyspace(databases: 1, shardCount: 1).shards[0]
        let before = shard.usedMemory
        for index in 0..<1000 { set(shard, record(delta: 5, expireAt: 9000), Array("orphan:\(index)".utf8)) }
        var sweeps = 0
        while shard.hasFillRecords && sweeps < 1000 {
            _ = shard.sweepFillRecords(now: 1, deltaBuckets: 4)
            sweeps += 1
        }
        #expect(sweeps > 10)
        #expect(!shard.hasFillRecords)
        #expect(shard.usedMemory == before)
    }
}
