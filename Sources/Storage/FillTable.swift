// Single-flight state of the CACHE.* commands, kept per shard beside the keys it describes
// and guarded by the same shard lock: for a key, the fill token that lets one client
// recompute a missing (or soon-expiring) value and its deadline, and the recompute time
// ("delta") the last fill reported, which probabilistic early refresh (XFetch) needs.
// Records are bounded: a token dies at its deadline, a delta dies with the key version it
// was recorded for (the key's expire time at the fill), and the cron sweep drops both, so no
// record outlives its key by more than one tick. Their estimated size counts in usedMemory.

public struct FillRecord: Equatable {
    /// The current fill token; 0 when nobody holds one.
    public var token: UInt64 = 0
    /// Wall-clock ms at which the token lapses.
    public var tokenDeadline: Int64 = 0
    /// Recompute time in ms reported by the last fill; 0 when none.
    public var delta: Int64 = 0
    /// The key's expire time when `delta` was recorded: the delta belongs to that version.
    public var deltaExpireAt: Int64 = 0

    public init() {}

    /// The token, when one is held and has not lapsed at `now`.
    public func liveToken(now: Int64) -> UInt64? {
        token != 0 && tokenDeadline > now ? token : nil
    }

    /// The recorded delta when it belongs to a key that expires at `expireAt`.
    public func delta(forKeyExpiringAt expireAt: Int64?) -> Int64? {
        delta > 0 && expireAt == deltaExpireAt ? delta : nil
    }

    var isEmpty: Bool { token == 0 && delta == 0 }
}

/// The fill records of one database of one shard.
public struct FillTable {
    var records = ByteTable<FillRecord>()

    /// Estimated bytes one record holds: its slot (hash, link, key array reference, record)
    /// and the key array's heap block.
    static func memoryUsage(keyLength: Int) -> Int { 112 + (keyLength + 15) & ~15 }
}

extension Shard {
    /// Whether any database of this shard has a fill record (the cron skips shards without).
    public var hasFillRecords: Bool { !fillTables.isEmpty }

    public func fillRecord(db: Int, key: UnsafeRawBufferPointer) -> FillRecord? {
        guard let table = fillTables[db], let slot = table.records.slot(of: key) else { return nil }
        return table.records.value(at: slot)
    }

    /// Stores `record` for `key`, or drops the key's record when `record` holds nothing.
    public func setFillRecord(_ record: FillRecord, db: Int, key: UnsafeRawBufferPointer) {
        if record.isEmpty { return removeFillRecord(db: db, key: key) }
        var table = fillTables.removeValue(forKey: db) ?? FillTable()
        if table.records.insert(key, record) == nil { usedMemory += FillTable.memoryUsage(keyLength: key.count) }
        fillTables[db] = table
    }

    public func removeFillRecord(db: Int, key: UnsafeRawBufferPointer) {
        guard var table = fillTables.removeValue(forKey: db) else { return }
        if table.records.remove(key) != nil { usedMemory -= FillTable.memoryUsage(keyLength: key.count) }
        if table.records.count > 0 { fillTables[db] = table }
    }

    /// Drops lapsed tokens and deltas whose key is gone or has changed expire time; returns
    /// the (db, key) pairs whose token lapsed, so their waiters can take over the fill.
    public func sweepFillRecords(now: Int64) -> [(db: Int, key: [UInt8])] {
        var lapsed: [(db: Int, key: [UInt8])] = []
        for (db, table) in fillTables {
            var changes: [([UInt8], FillRecord)] = []
            table.records.forEach { slot in
                let key = table.records.key(at: slot)
                var record = table.records.value(at: slot)
                let original = record
                if record.token != 0 && record.tokenDeadline <= now {
                    record.token = 0
                    lapsed.append((db, key))
                }
                if record.delta > 0 {
                    let expireAt = key.withUnsafeBytes { bytes in
                        dicts[db].link(bytes, hash: KeyHash.hash(bytes)).flatMap { Entry($0.pointee!).expireAt }
                    }
                    if record.delta(forKeyExpiringAt: expireAt) == nil || record.deltaExpireAt <= now {
                        record.delta = 0
                    }
                }
                if record != original { changes.append((key, record)) }
            }
            for (key, record) in changes {
                key.withUnsafeBytes { setFillRecord(record, db: db, key: $0) }
            }
        }
        return lapsed
    }

    /// Drops every fill record of `db` (FLUSHDB/FLUSHALL).
    func clearFillRecords(db: Int) {
        guard let table = fillTables.removeValue(forKey: db) else { return }
        table.records.forEach { slot in
            usedMemory -= FillTable.memoryUsage(keyLength: table.records.key(at: slot).count)
        }
    }
}
