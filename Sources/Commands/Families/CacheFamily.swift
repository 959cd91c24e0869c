// Swiftlet's own cache-stampede commands (not in Redis): single-flight fills for cache-aside
// clients. CACHE.GET returns a string value when present; on a miss the first caller gets a
// fill token, the others get "filling" or wait (WAIT) until the value is stored. CACHE.FILL
// stores the value only for the current token; CACHE.RELEASE gives a token up. A hit may
// advise an early refresh (XFetch, Vattani et al. 2015) when the key's remaining TTL is small
// against the recompute time (DELTA) the last fill reported. The lock state lives in the
// key's shard (Storage/FillTable.swift); waiters block like BLPOP (Blocking.swift) and any
// string write of the key (CACHE.FILL, SET, MSET...) wakes them. A token that lapses without
// a fill is swept by the cron, which wakes one waiter to take the fill over.
#if canImport(Glibc)
import Glibc
#endif
import RESP
import Storage
import Support

public enum CacheFamily {
    public static let specs: [CommandSpec] = [
        CommandSpec("cache.get", arity: -4, flags: [.write, .noscript, .blocking], acl: [.string],
                    keys: [KeySpec([.RW, .access], .index(1), .range(lastKey: 0, step: 1, limit: 0),
                                   notes: "RW because a miss or refresh takes the key's fill lock")],
                    group: .string, since: ServerIdentity.swiftletVersion,
                    summary: "Read a cached string value; on a miss hand one caller a fill token and make the others wait or back off.",
                    complexity: "O(1)",
                    arguments: [.key(), CommandArgument("milliseconds", .integer, token: "LOCK"),
                                CommandArgument("timeout", .double, token: "WAIT", flags: .optional),
                                CommandArgument("beta", .double, token: "BETA", flags: .optional)],
                    handler: get),
        CommandSpec("cache.fill", arity: -4, flags: [.write, .denyoom], acl: [.string],
                    keys: [KeySpec.single([.OW, .update])],
                    group: .string, since: ServerIdentity.swiftletVersion,
                    summary: "Store the value computed under a fill token, if the token is still current, and wake the waiters.",
                    complexity: "O(1)",
                    arguments: [.key(), CommandArgument("token", .string), CommandArgument("value", .string),
                                CommandArgument("expiration", .oneof, flags: .optional, [
                                    CommandArgument("seconds", .integer, token: "EX"),
                                    CommandArgument("milliseconds", .integer, token: "PX")]),
                                CommandArgument("recompute-milliseconds", .integer, token: "DELTA", flags: .optional)],
                    handler: fill),
        CommandSpec("cache.release", arity: 3, flags: [.write, .fast], acl: [.string],
                    keys: [KeySpec.single([.RW])],
                    group: .string, since: ServerIdentity.swiftletVersion,
                    summary: "Give up a fill token so that a waiting client can take the fill over.",
                    complexity: "O(1)",
                    arguments: [.key(), CommandArgument("token", .string)],
                    handler: release),
    ]

    // MARK: CACHE.GET key LOCK milliseconds [WAIT timeout] [BETA beta]

    private struct GetOptions {
        var lockMilliseconds: Int64?
        /// Wall-clock deadline of WAIT (0: forever); nil without WAIT.
        var waitDeadline: Int64?
        var beta = 1.0
    }

    private static func parseGetOptions(_ c: CommandContext) -> GetOptions? {
        var options = GetOptions()
        var seenBeta = false
        var j = 2
        while j < c.args.count {
            guard j + 1 < c.args.count else {
                c.error(RedisError.syntax)
                return nil
            }
            if c.args.equals(j, "lock") && options.lockMilliseconds == nil {
                guard let milliseconds = c.integer(j + 1) else { return nil }
                guard milliseconds > 0 && milliseconds <= Int64.max - c.now else {
                    c.error(RedisError.invalidExpireTime("cache.get"))
                    return nil
                }
                options.lockMilliseconds = milliseconds
            } else if c.args.equals(j, "wait") && options.waitDeadline == nil {
                guard let deadline = c.blockingDeadline(j + 1) else { return nil }
                options.waitDeadline = deadline
            } else if c.args.equals(j, "beta") && !seenBeta {
                guard let beta = Numbers.parseDouble(c.args[j + 1]), beta >= 0 else {
                    c.error(RedisError.betaNotNonNegative)
                    return nil
                }
                options.beta = beta
                seenBeta = true
            } else {
                c.error(RedisError.syntax)
                return nil
            }
            j += 2
        }
        guard options.lockMilliseconds != nil else {
            c.error(RedisError.syntax)
            return nil
        }
        return options
    }

    static func get(_ c: CommandContext) {
        guard let options = parseGetOptions(c), let lockMilliseconds = options.lockMilliseconds else { return }
        c.withKey(1) { shard, key, hash in
            let stored = shard.fillRecord(db: c.session.db, key: key) ?? FillRecord()
            let entry = c.lookupRead(shard, key, hash)
            var record = stored
            record.prune(now: c.now, keyExpireAt: entry?.expireAt)
            if record != stored { shard.setFillRecord(record, db: c.session.db, key: key) }
            if let entry {
                if c.rejectNonString(entry) { return }
                guard record.token == 0, let delta = record.delta(forKeyExpiringAt: entry.expireAt),
                      refreshAdvised(now: c.now, delta: delta, beta: options.beta, expireAt: entry.expireAt!) else {
                    c.reply.arrayHeader(2)
                    c.reply.bulk("hit")
                    return c.replyValue(entry)
                }
                let token = takeToken(&record, now: c.now, lockMilliseconds: lockMilliseconds)
                shard.setFillRecord(record, db: c.session.db, key: key)
                c.reply.arrayHeader(3)
                c.reply.bulk("hit-refresh")
                c.replyValue(entry)
                return replyToken(c, token)
            }
            if record.token != 0 {
                guard let deadline = options.waitDeadline else {
                    c.reply.arrayHeader(2)
                    c.reply.bulk("filling")
                    return c.reply.integer(record.tokenDeadline - c.now)
                }
                if c.canBlock {
                    c.block(keysAt: [1], deadline: deadline, wakesOnStrings: true)
                } else {
                    c.reply.nullArray()
                }
                return
            }
            let token = takeToken(&record, now: c.now, lockMilliseconds: lockMilliseconds)
            shard.setFillRecord(record, db: c.session.db, key: key)
            c.reply.arrayHeader(2)
            c.reply.bulk("fill")
            replyToken(c, token)
        }
    }

    /// XFetch's test: refresh when `now - delta * beta * ln(u)`, u uniform in (0, 1], reaches
    /// the expire time. The earlier a hit comes before expiry relative to delta * beta, the
    /// less likely it advises a refresh.
    static func refreshAdvised(now: Int64, delta: Int64, beta: Double, expireAt: Int64) -> Bool {
        guard beta > 0 else { return false }
        let uniform = 1 - Double.random(in: 0..<1)
        return Double(now) - Double(delta) * beta * log(uniform) >= Double(expireAt)
    }

    private static func takeToken(_ record: inout FillRecord, now: Int64, lockMilliseconds: Int64) -> UInt64 {
        record.token = UInt64.random(in: 1...UInt64.max)
        record.tokenDeadline = now + lockMilliseconds
        return record.token
    }

    // MARK: Tokens: 16 lowercase hex digits

    private static let hexDigits = Array("0123456789abcdef".utf8)

    private static func replyToken(_ c: CommandContext, _ token: UInt64) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { text in
            for index in 0..<16 { text[index] = hexDigits[Int((token >> UInt64(60 - 4 * index)) & 15)] }
            c.reply.bulk(UnsafeRawBufferPointer(text))
        }
    }

    /// The token an argument names, or nil when it is not 16 hex digits (it then matches none).
    static func parseToken(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
        guard bytes.count == 16 else { return nil }
        var token: UInt64 = 0
        for byte in bytes {
            guard let digit = hexDigits.firstIndex(of: ASCII.lowercase(byte)) else { return nil }
            token = token << 4 | UInt64(digit)
        }
        return token
    }

    // MARK: CACHE.FILL key token value [EX seconds | PX milliseconds] [DELTA milliseconds]

    static func fill(_ c: CommandContext) {
        var expireArgument = 0, expireInSeconds = true
        var delta: Int64?
        var j = 4
        while j < c.args.count {
            guard j + 1 < c.args.count else { return c.error(RedisError.syntax) }
            if expireArgument == 0 && (c.args.equals(j, "ex") || c.args.equals(j, "px")) {
                expireArgument = j + 1
                expireInSeconds = c.args.equals(j, "ex")
            } else if delta == nil && c.args.equals(j, "delta") {
                guard let value = c.integer(j + 1) else { return }
                guard value >= 0 else { return c.error(RedisError.deltaNegative) }
                delta = value
            } else {
                return c.error(RedisError.syntax)
            }
            j += 2
        }
        var expireAt: Int64?
        if expireArgument > 0 {
            guard let when = StringFamily.expireTime(c, argument: expireArgument, seconds: expireInSeconds,
                                                     absolute: false, command: "cache.fill") else { return }
            expireAt = when
        }
        if delta != nil && expireAt == nil { return c.error(RedisError.deltaNeedsExpire) }
        c.withKey(1) { shard, key, hash in
            guard var record = currentRecord(c, shard, key) else { return c.reply.nullBulk() }
            c.storeString(shard, key: key, hash: hash, replacing: c.lookupWrite(shard, key, hash), value: c.args[3],
                          encoding: .automatic, expireAt: expireAt)
            StringFamily.stored(c, key, expiring: expireAt != nil)
            // The token is gone on replay: the AOF records the value as SET does.
            StringFamily.propagateAsSet(c, key, valueIndex: 3, expireAt: expireAt)
            record.token = 0
            record.delta = delta ?? 0
            record.deltaExpireAt = expireAt ?? 0
            shard.setFillRecord(record, db: c.session.db, key: key)
            c.reply.ok()
        }
    }

    // MARK: CACHE.RELEASE key token

    static func release(_ c: CommandContext) {
        c.withKey(1) { shard, key, _ in
            guard var record = currentRecord(c, shard, key) else { return c.reply.integer(0) }
            record.token = 0
            shard.setFillRecord(record, db: c.session.db, key: key)
            c.signalStringWritten(key)
            c.reply.integer(1)
        }
    }

    /// The key's fill record when argument 2 names its live token (shard locked).
    private static func currentRecord(_ c: CommandContext, _ shard: Shard, _ key: UnsafeRawBufferPointer) -> FillRecord? {
        guard let token = parseToken(c.args[2]), let record = shard.fillRecord(db: c.session.db, key: key),
              record.liveToken(now: c.now) == token else { return nil }
        return record
    }
}

extension ServerContext {
    /// Cron: drops lapsed fill tokens and stale recompute times in every shard, waking one
    /// waiter of each lapsed key so that it takes the fill over.
    public func sweepFillLocks(now: Int64) {
        for shard in keyspace.shards {
            shard.withLock {
                guard shard.hasFillRecords else { return }
                for (db, key) in shard.sweepFillRecords(now: now) {
                    key.withUnsafeBytes { blocking.signalStringWaiter(db: db, key: $0, waker: nil) }
                }
            }
        }
    }
}
