// Single-flight state of the CACHE.* commands, kept per shard beside the keys it describes
// and guarded by the same shard lock: for a key, the fill token that lets one client
// recompute a missing (or soon-expiring) value and its deadline, and the recompute time
// ("delta") the last fill reported, which probabilistic early refresh (XFetch) needs.
// Records are bounded: a token dies at its deadline, a delta dies with the key version it
// was recorded for (the key's expire time at the fill), and the cron sweep drops both: every
// lapsed token at each tick, stale deltas a few buckets per tick (like active expiry). Their
// estimated size counts in usedMemory.

/// A key's fill state as CACHE.* sees it: its token part and its recompute-time part.
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

    /// Drops a token lapsed at `now` and a delta that does not belong to the key's current
    /// version (lazy cleanup on access; the cron sweep does the rest).
    public mutating func prune(now: Int64, keyExpireAt: Int64?) {
        if liveToken(now: now) == nil { token = 0; tokenDeadline = 0 }
        if delta(forKeyExpiringAt: keyExpireAt) == nil { delta = 0; deltaExpireAt = 0 }
    }

    var isEmpty: Bool { token == 0 && delta == 0 }
}

/// The fill records of one database of one shard. Tokens are few and short-lived (one per
/// fill in flight), so the sweep checks them all every tick; recompute times can exist for
/// every cached key, so the sweep walks them a few buckets per tick.
struct FillTable {
    struct Token {
        var token: UInt64
        var deadline: Int64
    }

    struct Delta {
        var delta: Int64
        var expireAt: Int64
    }

    var tokens = ByteTable<Token>()
    var deltas = ByteTable<Delta>()
    /// Where the sweep of `deltas` resumes.
    var deltaCursor: UInt64 = 0

    var isEmpty: Bool { tokens.count == 0 && deltas.count == 0 }

    /// Estimated bytes one table row holds: its slot (hash, link, key array reference, value)
    /// and the key array's heap block.
    static func memoryUsage(keyLength: Int) -> Int { 96 + (keyLength + 15) & ~15 }
}

extension Shard {
    /// Whether any database of this shard has a fill record (the cron skips shards without).
    public var hasFillRecords: Bool { !fillTables.isEmpty }

    public func fillRecord(db: Int, key: UnsafeRawBufferPointer) -> FillRecord? {
        guard let table = fillTables[db] else { return nil }
        var record = FillRecord()
        if let slot = table.tokens.slot(of: key) {
            let token = table.tokens.value(at: slot)
            record.token = token.token
            record.tokenDeadline = token.deadline
        }
        if let slot = table.deltas.slot(of: key) {
            let delta = table.deltas.value(at: slot)
            record.delta = delta.delta
            record.deltaExpireAt = delta.expireAt
        }
        return record.isEmpty ? nil : record
    }

    /// Stores `record` for `key`: its token part when it holds a token, its delta part when it
    /// holds a delta; an absent part is removed.
    public func setFillRecord(_ record: FillRecord, db: Int, key: UnsafeRawBufferPointer) {
        var table = fillTables.removeValue(forKey: db) ?? FillTable()
        let rowSize = FillTable.memoryUsage(keyLength: key.count)
        if record.token != 0 {
            if table.tokens.insert(key, .init(token: record.token, deadline: record.tokenDeadline)) == nil { account(rowSize) }
        } else if table.tokens.remove(key) != nil {
            account(-rowSize)
        }
        if record.delta > 0 {
            if table.deltas.insert(key, .init(delta: record.delta, expireAt: record.deltaExpireAt)) == nil { account(rowSize) }
        } else if table.deltas.remove(key) != nil {
            account(-rowSize)
        }
        if !table.isEmpty { fillTables[db] = table }
    }

    public func removeFillRecord(db: Int, key: UnsafeRawBufferPointer) {
        setFillRecord(FillRecord(), db: db, key: key)
    }

    /// Drops lapsed tokens, and visits up to `deltaBuckets` buckets of recompute times per
    /// database dropping those whose key is gone, has expired or has changed expire time;
    /// returns the (db, key) pairs whose token lapsed, so their waiters can take the fill over.
    public func sweepFillRecords(now: Int64, deltaBuckets: Int = 16) -> [(db: Int, key: [UInt8])] {
        var lapsed: [(db: Int, key: [UInt8])] = []
        for db in Array(fillTables.keys) {
            var table = fillTables.removeValue(forKey: db)!
            var doomedTokens: [[UInt8]] = []
            table.tokens.forEach { slot in
                if table.tokens.value(at: slot).deadline <= now { doomedTokens.append(table.tokens.key(at: slot)) }
            }
            var doomedDeltas: [[UInt8]] = []
            var steps = 0
            repeat {
                table.deltaCursor = table.deltas.scan(cursor: table.deltaCursor) { slot in
                    let key = table.deltas.key(at: slot)
                    let delta = table.deltas.value(at: slot)
                    let keyExpireAt = key.withUnsafeBytes { bytes in
                        dicts[db].link(bytes, hash: KeyHash.hash(bytes)).flatMap { Entry($0.pointee!).expireAt }
                    }
                    if keyExpireAt != delta.expireAt || delta.expireAt <= now { doomedDeltas.append(key) }
                }
                steps += 1
            } while table.deltaCursor != 0 && steps < deltaBuckets
            for key in doomedTokens {
                key.withUnsafeBytes { _ = table.tokens.remove($0) }
                account(-FillTable.memoryUsage(keyLength: key.count))
                lapsed.append((db, key))
            }
            for key in doomedDeltas {
                key.withUnsafeBytes { _ = table.deltas.remove($0) }
                account(-FillTable.memoryUsage(keyLength: key.count))
            }
            if !table.isEmpty { fillTables[db] = table }
        }
        return lapsed
    }

    /// Drops every fill record of `db` (FLUSHDB/FLUSHALL).
    func clearFillRecords(db: Int) {
        guard let table = fillTables.removeValue(forKey: db) else { return }
        table.tokens.forEach { account(-FillTable.memoryUsage(keyLength: table.tokens.key(at: $0).count)) }
        table.deltas.forEach { account(-FillTable.memoryUsage(keyLength: table.deltas.key(at: $0).count)) }
    }
}
