// Popping the lowest or highest scored members: ZPOPMIN, ZPOPMAX and ZMPOP. The pop itself
// (`pop`) takes an already locked set and writes the reply, so the blocking variants can
// reuse it when an element arrives.
import RESP
import Storage
import Support

extension ZSetFamily {
    static func zpopmin(_ c: CommandContext) { popMinMax(c, fromMax: false) }
    static func zpopmax(_ c: CommandContext) { popMinMax(c, fromMax: true) }

    static func popMinMax(_ c: CommandContext, fromMax: Bool) {
        if c.args.count > 3 { return c.error(RedisError.syntax) }
        var count: Int?
        if c.args.count == 3 {
            guard let value = Numbers.parseInt64(c.args[2]), value >= 0 else { return c.error(RedisError.mustBePositive) }
            count = Int(value)
        }
        c.withKey(1) { shard, key, hash in
            c.modifyCollection(shard, key, hash, ZSetValue.self, missing: { c.reply.arrayHeader(0) }) { zset in
                pop(c, zset, key: nil, fromMax: fromMax, count: count)
                if count != 0 { poppedEvent(c, key, fromMax: fromMax) }
            }
        }
    }

    /// Removes up to `count` (nil: one, replied flat) lowest or highest elements of `zset` and
    /// writes the reply of ZPOPMIN/ZPOPMAX, or with `key` the [key, [[member, score]...]]
    /// reply of ZMPOP. The caller deletes the key if the set ends empty; blocking variants
    /// reuse this once an element is available.
    static func pop(_ c: CommandContext, _ zset: ZSetValue, key: UnsafeRawBufferPointer?, fromMax: Bool, count: Int?) {
        if count == 0 && key == nil { return c.reply.arrayHeader(0) }
        let taken = min(count ?? 1, zset.count)
        let nested = key != nil || (c.reply.resp3 && count != nil)
        if let key {
            c.reply.arrayHeader(2)
            c.reply.bulk(key)
            c.reply.arrayHeader(taken)
        } else {
            c.reply.arrayHeader(nested ? taken : taken * 2)
        }
        let ranks = fromMax ? zset.count - taken..<zset.count : 0..<taken
        zset.forEach(ranks: ranks, reverse: fromMax) { member, score in
            if nested { c.reply.arrayHeader(2) }
            c.reply.bulk(member)
            c.reply.double(score)
        }
        zset.removeRanks(ranks)
    }

    /// ZMPOP and the blocking pops propagate as ZPOPMIN/ZPOPMAX of what they took (Redis 7.0).
    static func propagateAsPop(_ c: CommandContext, _ key: UnsafeRawBufferPointer, fromMax: Bool, count: Int?) {
        c.rewritePropagated { command in
            command.add(fromMax ? "ZPOPMAX" : "ZPOPMIN")
            command.add(key)
            if let count { command.add(Int64(count)) }
        }
    }

    /// The key events of members popped from `key` (a key left empty also gets "del", from
    /// `modifyCollection`).
    static func poppedEvent(_ c: CommandContext, _ key: UnsafeRawBufferPointer, fromMax: Bool) {
        c.keyChanged(key, .zset, fromMax ? "zpopmax" : "zpopmin")
    }

    static func zmpop(_ c: CommandContext) {
        guard let (keys, fromMax, count) = multiPopArguments(c, numkeysIndex: 1) else { return }
        c.withKeys(keys) {
            if !popFirstNonEmpty(c, keys: keys, fromMax: fromMax, count: count) { c.reply.nullArray() }
        }
    }

    /// Parses `numkeys key [key ...] MIN|MAX [COUNT count]` starting at `numkeysIndex`
    /// (ZMPOP, BZMPOP), replying Redis's errors.
    static func multiPopArguments(_ c: CommandContext, numkeysIndex: Int) -> (keys: Range<Int>, fromMax: Bool, count: Int)? {
        guard let numKeys = Numbers.parseInt64(c.args[numkeysIndex]), numKeys >= 1 else {
            c.error(RedisError.numkeysPositive)
            return nil
        }
        let firstKey = numkeysIndex + 1
        let whereIndex = numKeys >= Int64(c.args.count) ? c.args.count : firstKey + Int(numKeys)
        guard whereIndex < c.args.count else {
            c.error(RedisError.syntax)
            return nil
        }
        let fromMax: Bool
        if c.args.equals(whereIndex, "min") { fromMax = false }
        else if c.args.equals(whereIndex, "max") { fromMax = true }
        else {
            c.error(RedisError.syntax)
            return nil
        }
        var count: Int?
        var j = whereIndex + 1
        while j < c.args.count {
            guard count == nil, c.args.equals(j, "count"), j + 1 < c.args.count else {
                c.error(RedisError.syntax)
                return nil
            }
            guard let value = Numbers.parseInt64(c.args[j + 1]), value >= 1 else {
                c.error(RedisError.countPositive)
                return nil
            }
            count = Int(value)
            j += 2
        }
        return (firstKey..<whereIndex, fromMax, count ?? 1)
    }

    /// Pops from the first existing sorted set among `keys` (shards locked), replying with
    /// ZMPOP's shape; false when none exists and nothing was replied. A key of another type
    /// ends the search with WRONGTYPE (true).
    static func popFirstNonEmpty(_ c: CommandContext, keys: Range<Int>, fromMax: Bool, count: Int) -> Bool {
        for position in keys {
            let key = c.args[position]
            if passedOverWhileRetrying(c, key) { continue }
            var keyMissing = false
            let popped: Void? = c.modifyCollection(c.keyspace.shard(for: key), key, KeyHash.hash(key), ZSetValue.self,
                                                   missing: { keyMissing = true }) { zset in
                propagateAsPop(c, key, fromMax: fromMax, count: min(count, zset.count))
                pop(c, zset, key: key, fromMax: fromMax, count: count)
                poppedEvent(c, key, fromMax: fromMax)
            }
            if popped != nil || !keyMissing { return true }
        }
        return false
    }

    /// Retrying a blocked pop, a key that now holds another type is passed over and the
    /// client keeps waiting, as Redis serves BZPOP*/BZMPOP waiters from sorted sets only
    /// (MULTI; ZADD k; DEL k; SET k v; EXEC wakes them onto a string).
    static func passedOverWhileRetrying(_ c: CommandContext, _ key: UnsafeRawBufferPointer) -> Bool {
        guard c.isRetryingBlocked,
              let link = c.lookupWrite(c.keyspace.shard(for: key), key, KeyHash.hash(key)) else { return false }
        return Entry(link.pointee!).kind != .zset
    }
}
